"""The mislabel-detection study: a grid of label-noise runs computed in parts, real label errors, cleaning.

``nlpdiff grid mislabel PART`` (:mod:`nlpdiff_study.grid`) computes one *part* of
``params/grids/mislabel.yaml`` and writes its small summary tables under ``results/mislabel/<part>/`` (committed, so the chapter
``notebooks/mislabel.py`` is rebuilt from them without rerunning any part). A part is
one of three kinds:

``grid``
    One task and backbone, noise rates x noise types x seeds x training lengths. Each run is one
    :func:`nlpdiff.dynamics.load_or_train` call (``data_seed = seed``, so the seeds differ in which
    samples are drawn and which labels corrupted as well as in the model). Writes
    ``summary.csv`` (one row per run and score: ROC AUC, average precision, precision at k with
    k = the number of corrupted samples, their chance levels, the run's memorisation and held-out
    accuracy, per-seed DeLong tests of the action scores against every other score) and
    ``cost.csv`` (one row per run and method: training runs and wall seconds from ``run.json``:
    every dynamics score comes from one run; confident learning, :func:`nlpdiff.detection.
    confident_learning` with K folds on the same backbone, needs K).
``cleaning``
    Under one noise cell (or real errors): remove the top fractions by the action score, by confident
    learning, by a declared baseline, by the best other score (an oracle) or at random, retrain on the rest
    (:class:`nlpdiff.samplers.SubsetSampler`), or relabel the action score's top fractions with the model's
    prediction (:func:`nlpdiff.detection.train_relabelled`), and record held-out accuracy, beside the
    clean-data and the no-removal runs. Writes ``cleaning.csv`` and ``cost.csv``.
``imdb``
    Runs on the IMDB test split; every score is evaluated against the crowd-checked label errors of
    Northcutt et al. 2021 (among the 1,310 candidates, and on every scored review). Writes
    ``summary.csv`` and ``cost.csv``.

Modules: :mod:`.parts` (the check of a part, the grid and IMDB runners and what the runners share),
:mod:`.cleaning` (the cleaning runner), :mod:`.run` (one part of any kind, :func:`compute`), :mod:`.tables` (the analysis functions,
:func:`cells`, :func:`paired_tests`, :func:`cost_table`, :func:`cleaning_cells`: they turn the committed
tables into what the chapter shows and train nothing), :mod:`.page` (the chapter's charts), :mod:`.findings`
(the numbers of the chapter's sentences; the sentences are the chapter's own),
:mod:`.readings` (blind reading sheets). Every public name is importable from this package.
"""

from nlpdiff import stats  # noqa: F401  (pages reach the seed intervals through this package)
from nlpdiff_study.comparisons import not_baselines  # noqa: F401
from nlpdiff_study.mislabel.parts import (  # noqa: F401
    PART_KINDS, ACTION_FAMILY, TESTED, METRICS, NOISE_SHORT, CLEANING_METHODS, check_part,
    grid_jobs, detection_rows, memorisation, cost_row, run_grid, audit_top_rows, threshold_row, imdb_truth,
    published_check, run_imdb, _write,
)
from nlpdiff_study.mislabel.cleaning import (  # noqa: F401
    best_baseline, removal_positions, noisy_predictions, run_cleaning,
)
from nlpdiff_study.mislabel.run import compute  # noqa: F401
from nlpdiff_study.mislabel.tables import (  # noqa: F401
    CELL, cells, threshold_cells, paired_tests, real_vs_synthetic, cost_table, cleaning_cells,
    cleaning_tests, load_results, grid_summaries, gpu_summary, verdicts, cell_label, is_real_error_part,
)
from nlpdiff_study.mislabel.page import interval_chart, pooled_chart  # noqa: F401
from nlpdiff_study.mislabel.findings import (  # noqa: F401
    TARGET_NOISE, findings, cell_comparison, memorisation_split, confident_learning_cost, imdb_candidates,
    cleaning_result, corrupted_targets,
)
from nlpdiff_study.mislabel.readings import (  # noqa: F401
    READINGS, prepare_reading, load_reading,
)
