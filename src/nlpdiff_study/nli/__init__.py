"""Natural language inference: difficulty scores against ChaosNLI's 100-annotator disagreement.

ChaosNLI (Nie, Zhou and Bansal, EMNLP 2020) gave each of 1,514 SNLI-dev and 1,599 MNLI-dev pairs 100
new crowd labels. Its pairs were *chosen* for low agreement among the original annotators: on every
one, exactly 3 of the original 5 agree. The original 5 labels therefore carry no graded signal on
these pairs (they are all "3 of 5"); the 100 new labels do: their entropy (``entropy``, bits) is
the human-disagreement signal, and their majority (``chaos_label``) may differ from the original
gold label (the majority of the 5), which happens on 378 SNLI and 508 MNLI pairs.

This module

* builds the SNLI training pool of the study (:func:`snli_pool`, :func:`register_snli_pool`): SNLI
  dev has no training split offline, so a run trains on every ChaosNLI pair that is in SNLI dev
  (matched by premise and hypothesis text) plus other dev pairs, and holds out dev pairs outside
  ChaosNLI for accuracy; the ChaosNLI columns travel with the pairs into ``samples.parquet``;
* reads a run's human signals (:func:`chaosnli_signals`): ``entropy``, ``gold_differs`` (the
  original gold label differs from the majority of the 100) and the pair's length in words;
* measures every score of a run against them (:func:`chaosnli_table`): Spearman with the entropy,
  with a 95 % bootstrap interval and the partial Spearman given length, and ROC AUC and average
  precision at ranking the ``gold_differs`` pairs first, with their chance levels;
* compares the action score with predictive entropy as Angelov et al. (TrustNLP 2025) do, with
  paired tests (:func:`entropy_comparison`): a paired bootstrap of the difference of the Spearman
  correlations with the human entropy, DeLong's test of the difference of the ROC AUCs, Holm's
  adjustment across the table.

A caution on circularity, which the tables cannot remove: the action score is a sum of losses *of
the gold label*, while predictive entropy ignores the label. "Gold differs from the majority of 100"
is defined through the gold label too, so a loss-based score is favoured on that target by
construction (a pair whose gold label the model does not predict has a high loss, and such a pair is
more often one where the crowd disagrees with gold). The human entropy does not involve the gold
label, so the Spearman comparison with entropy is the label-free, fairer one.

Modules: :mod:`.pool` (the training pool and the page's runs), :mod:`.tables` (the tables and comparisons),
:mod:`.summary` (the committed summary, ``python -m nlpdiff_study.nli RUN_DIR``). Every name is importable
from this package.
"""

from nlpdiff.compare import chaosnli_signals  # noqa: F401  (the library's; this page's helpers use it)
from nlpdiff_study.nli.pool import (  # noqa: F401
    CHAOS_COLUMNS, LABEL_NAMES, POOL_TASK, register_snli_pool, run_summary, snli_pool, study_runs, with_chaos_columns,
)
from nlpdiff_study.nli.summary import main, page_runs, write_pooled  # noqa: F401
from nlpdiff_study.nli.tables import (  # noqa: F401
    chaosnli_table, entropy_comparison, interval_chart, pooled_agreement, seed_comparison, seed_summary,
)

__all__ = [
    "CHAOS_COLUMNS",
    "LABEL_NAMES",
    "POOL_TASK",
    "chaosnli_signals",
    "chaosnli_table",
    "entropy_comparison",
    "interval_chart",
    "pooled_agreement",
    "register_snli_pool",
    "run_summary",
    "seed_comparison",
    "seed_summary",
    "snli_pool",
    "study_runs",
    "with_chaos_columns",
    "page_runs",
    "write_pooled",
]
