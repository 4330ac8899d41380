"""From a CSV of labelled texts to a ranked audit table, in one call: :func:`score_file`.

:func:`score_file` (and the command ``nlpdiff score my.csv --text review --label stars -o out/``)
reads the file (:func:`nlpdiff.tasks.from_csv`: string or integer labels, 20 % held out, every input
checked before training), trains a run into ``out/run/`` (:func:`nlpdiff.dynamics.train`), then writes

``out/audit.csv``
    one row per training sample, hardest first (:func:`audit_table`). Every column name says which
    way it points (:data:`COLUMNS`, the one place the mapping is written down; the README shows it):
    ``rank`` (1 = hardest, by the action score), ``row`` (the row's 0-based position among the
    CSV's data rows), the text column(s), ``given_label``, ``predicted_label`` and
    ``predicted_prob`` (the final model's probability of its predicted class), ``given_label_prob``
    (probability of the given label at the last checkpoint), then the data map's coordinates in
    their usual meaning (higher = easier): ``confidence`` (mean probability of the given label over
    the checkpoints), ``variability`` (its standard deviation) and ``correct_checkpoints`` (at how
    many of the checkpoints the given label was predicted), and the scores ``action`` (the loss
    accumulated over training: higher = harder; the ranking), ``aum`` (area under the margin, its
    usual sign: low or negative = the model prefers another class) and ``final_loss`` (higher =
    harder), and ``why``: a short reason read from the eval pass at every checkpoint
    (:func:`why_column`). Inside the run folder, ``scores.parquet`` keeps the study's convention
    (every score: higher = harder): there ``cartography_confidence`` = 1 - ``confidence`` and
    ``aum`` = minus the table's ``aum``.
``out/data_map.html``
    the dataset-cartography data map (:func:`nlpdiff.plots.data_map`) as one standalone page that
    works offline: the Vega bundle is inlined, a static SVG shows without JavaScript.

A folder that already holds a finished run with the same parameters and data is reused; with other
parameters or data it is refused unless ``overwrite=True``: no finished run is replaced silently.
The output folder must be writable, checked before training. :func:`report_lines` (what the
command prints) ends with a WARNING when held-out accuracy is at chance level (:func:`chance_check`:
one-sided binomial test against the majority-class share), and the five hardest rows.

:func:`audit_table` serves ``nlpdiff audit RUN_DIR --top 100 -o audit.csv`` too (any finished
classification run; :func:`write_audit` writes ``.csv`` or, for ``.html``, an offline HTML table).

Predicted labels: for a run trained here, the final model's probabilities of every training sample
(``head.predict_proba_positions``) are saved in the run directory as ``predictions.parquet``, so a
reused run gives the same table. For a run directory without that file (made by :func:`nlpdiff.dynamics.train`
directly), the prediction comes from the eval pass at the last checkpoint: exact for two classes
(the other class when the given one is not predicted); with more classes the predicted label is the
given one when it was predicted, else unknown (empty).

Modules: :mod:`.table` (the audit table, its columns, the chance check, the writer), :mod:`.datamap`
(the data map page), :mod:`.score` (:func:`score_file` and what the command prints), :mod:`.blind`
(blind reading sheets). Every public name is importable from this package.
"""

from nlpdiff.audit.table import (  # noqa: F401
    OTHER_SCORES, COLUMNS, SCORES_PARQUET, PREDICTIONS_FILE, audit_table, map_coordinates, CONFIDENT,
    why_column, chance_check, chance_warning, write_audit, audit_html,
)
from nlpdiff.audit.datamap import (  # noqa: F401
    MAP_SIZE, MAP_LABELS, data_map_html,
)
from nlpdiff.audit.score import (  # noqa: F401
    DEFAULTS, AuditResult, SavePredictions, TimeEstimate, token_lengths, Summary, summarize, score_file,
    shorten, report_lines,
)
from nlpdiff.audit.blind import (  # noqa: F401
    JUDGEMENTS, blind_groups, blind_sheet, read_sheet, blind_summary, reading_summary,
)

__all__ = ["AuditResult", "COLUMNS", "DEFAULTS", "JUDGEMENTS", "OTHER_SCORES", "SCORES_PARQUET", "SavePredictions",
           "Summary", "TimeEstimate", "audit_html", "map_coordinates", "shorten", "summarize", "token_lengths",
           "audit_table", "blind_groups",
           "blind_sheet", "blind_summary", "chance_check", "read_sheet", "reading_summary", "chance_warning",
           "data_map_html", "report_lines", "score_file", "why_column", "write_audit"]
