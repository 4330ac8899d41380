"""Tasks: the study's datasets described by column roles, their loading, and users' own data.

Every dataset is one :class:`TaskSpec`. A spec says what each column *is* — its **roles** — and
the models read roles, never literal column names:

================  ==========================================  =========================================
kind              roles (required, *optional*)                 other declarations
================  ==========================================  =========================================
classification    ``text``, *``text_pair``*, ``label``        ``label_names`` (any number of classes;
                                                              ``num_labels`` is their count)
extractive_qa     ``question``, ``context``, ``answers``
summarization     ``document``, ``summary``                   ``prompt`` for causal language models
================  ==========================================  =========================================

The study's datasets are registered in :data:`TASKS`. A task loads either

* from the Hugging Face hub, by its hub id and config (``datasets.load_dataset(hub_id, config,
  split=...)``), the default on a machine with internet, or
* from a local folder of parquet copies in the hub schemas, ``<data_dir>/<folder>/<split>.parquet``,
  when a ``data_dir`` parameter is given or the environment variable ``NLPDIFF_DATA_DIR`` is set
  (``datasets.load_dataset("parquet", data_files={split: path}, split=split)``).

Both sources then follow one code path: the same conversion to a :class:`pandas.DataFrame` and the
same checks of columns and labels. Every frame returned by :func:`load_split` carries a column
``row_idx``: the row's position in its split (0-based), kept by :func:`subsample`, so that any sample
can be traced back to its source row.

**Users' own data.** :func:`from_frame` (a DataFrame or a ``datasets.Dataset``) and :func:`from_csv`
turn labelled texts into a classification :class:`TaskSpec` that holds its data in memory; string
labels become ids (the mapping is ``spec.label_names``), a stratified held-out split is carved
from the data when none is given, and every input problem (missing column, empty text, missing
label, one class only) raises :class:`~nlpdiff.errors.ParameterError` at once. After
:func:`register_task` the task is trained and scored by name like a built-in one::

    from nlpdiff import tasks
    from nlpdiff.config import from_flat
    from nlpdiff.dynamics import train
    spec = tasks.register_task(tasks.from_csv("reviews.csv", text="review", label="stars"))
    run = train(from_flat({"task": spec.name, "train_size": None, "output_dir": "runs/reviews"}))

Every spec carries a ``source``: a small JSON-able dict saying where its data comes from
(``{"kind": "hub" | "local" | "csv" | "frame" | "dataset", ...}``), recorded with each run.

:func:`prepare_training_data` draws the training samples of a run: deterministic (seeded) subsets
by :func:`subsample`, stratified by label for classification so that class proportions are kept,
and, on request, corrupted labels by :func:`inject_noise` (uniform or class-conditional noise),
recording which samples it corrupted.

Local copies (``../shared/data``) differ from the hub in a few places, recorded per task in
:attr:`TaskSpec.description`: SST-2's local ``test`` split carries gold labels (the hub's are -1),
the local SQuAD ``train`` split is an 11,877-question subset, and the local CNN/DailyMail and XSum
copies are 1,000-row subsets of one split each. Some tasks (``imdb_label_errors``,
``rt_human_ratings``, ``tweets_human_ratings``, ChaosNLI, ``noisy_agnews`` and ``noisy_agnews_clean``)
have no hub copy and need a data dir.

**Real label errors.** ``noisy_agnews`` (NoisyAG-News) trains on the majority label of three human
annotators and records ``is_corrupted = label != clean_label`` (the original AG-News label) as the truth
(:attr:`TaskSpec.clean_label`); no noise is injected. ``noisy_agnews_clean`` is the same texts on their
clean labels, to corrupt synthetically at the same rate: ``uniform``, or ``empirical``, the
class-conditional noise of the human errors' own confusion matrix (:func:`error_confusion`).

**Adding a dataset.** A single-text (or text-pair) classification dataset needs one new entry in
``_SPECS`` below: its roles, label names, splits, columns and row counts. The tests iterate over
:data:`TASKS` and write tiny test data from these declarations.

The package holds one idea per module: a task's declaration (:mod:`nlpdiff.tasks.spec`), the study's
datasets and the registry of users' tasks (:mod:`nlpdiff.tasks.catalogue`), loading
(:mod:`nlpdiff.tasks.loading`), seeded subsets (:mod:`nlpdiff.tasks.sampling`), synthetic noise
(:mod:`nlpdiff.tasks.noise`), users' own data (:mod:`nlpdiff.tasks.users`, files: :mod:`nlpdiff.tasks.user_files`) and a run's training data
(:mod:`nlpdiff.tasks.prepare`); everything is importable from ``nlpdiff.tasks``.
"""

from __future__ import annotations

from nlpdiff.tasks.spec import (  # noqa: F401
    DATA_DIR_ENV,
    DEFAULT_HELDOUT_FRACTION,
    KINDS,
    NOISE_KINDS,
    ROLES,
    ROW_INDEX,
    SENTIMENT_LABELS,
    TaskSpec,
    data_source,
    resolve_data_dir,
)
from nlpdiff.tasks.catalogue import (  # noqa: F401
    AGNEWS_LABELS,
    TASKS,
    _REGISTERED,
    _SPECS,
    get_task,
    register_task,
    registered_tasks,
    unregister_task,
)
from nlpdiff.tasks.loading import (  # noqa: F401
    _load_dataset,
    load_imdb_cleanlab_pred_probs,
    load_split,
    split_path,
)
from nlpdiff.tasks.sampling import (  # noqa: F401
    _allocate,
    subsample,
)
from nlpdiff.tasks.noise import (  # noqa: F401
    NoiseResult,
    TargetNoiseResult,
    corrupt_targets,
    error_confusion,
    inject_noise,
)
from nlpdiff.tasks.users import (  # noqa: F401
    from_frame,
    is_empty_text,
)
from nlpdiff.tasks.user_files import SEPARATORS, from_csv  # noqa: F401
from nlpdiff.tasks.prepare import (  # noqa: F401
    MIN_HELDOUT_PER_CLASS,
    PreparedData,
    check_heldout_rows,
    check_task_data,
    prepare_training_data,
    resolve_splits,
)

__all__ = [
    "DATA_DIR_ENV",
    "DEFAULT_HELDOUT_FRACTION",
    "KINDS",
    "NOISE_KINDS",
    "ROLES",
    "ROW_INDEX",
    "TASKS",
    "NoiseResult",
    "PreparedData",
    "TaskSpec",
    "check_heldout_rows",
    "check_task_data",
    "from_csv",
    "from_frame",
    "get_task",
    "inject_noise",
    "corrupt_targets",
    "error_confusion",
    "is_empty_text",
    "load_imdb_cleanlab_pred_probs",
    "load_split",
    "prepare_training_data",
    "register_task",
    "registered_tasks",
    "resolve_data_dir",
    "split_path",
    "subsample",
    "unregister_task",
    "data_source",
    "resolve_splits",
    "SEPARATORS",
]
