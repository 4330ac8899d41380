"""The names of what a run records: one list, read by the recorder, the heads, the run folder and the scores.

A leaf module (it imports nothing of the package), so that every stage can read it without an
upward import.
"""

from __future__ import annotations

#: Statistics every head records per sample and checkpoint.
BASE_STATS = ("loss", "gold_prob", "correct", "margin", "entropy")
#: Statistics of classification runs: the base ones and the error norm (EL2N).
CLASSIFICATION_STATS = (*BASE_STATS, "el2n")
#: Extras of sequence heads (summarization): the summed token loss and the number of target tokens.
SEQUENCE_STATS = ("loss_sum", "n_tokens")
#: Columns of ``dynamics.parquet`` that index the rows rather than hold per-sample values.
KEY_COLUMNS = ("sample_id", "checkpoint", "pass", "step", "epoch")
#: Columns every ``dynamics.parquet`` has (task-specific extras come in addition), in the order written.
DYNAMICS_COLUMNS = ("sample_id", "checkpoint", "epoch", "step", "pass", *BASE_STATS)
#: The value columns the scores know by name (the base statistics and the common extras); any other
#: numeric column of ``dynamics.parquet`` (QA's ``f1``) is kept under its own name.
VALUE_COLUMNS = (*CLASSIFICATION_STATS, *SEQUENCE_STATS)
#: Columns every ``samples.parquet`` has (the task's own fields come in addition).
SAMPLES_COLUMNS = ("sample_id", "label", "original_label", "is_corrupted")
#: The files every finished run folder holds.
RUN_FILES = ("run.json", "samples.parquet", "dynamics.parquet", "scores.parquet", "metrics.json")

__all__ = ["BASE_STATS", "CLASSIFICATION_STATS", "SEQUENCE_STATS", "KEY_COLUMNS", "DYNAMICS_COLUMNS", "VALUE_COLUMNS",
           "SAMPLES_COLUMNS", "RUN_FILES"]
