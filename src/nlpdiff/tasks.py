"""Tasks: a registry of the study's datasets, their loading, subsampling and label noise.

Every dataset of the study is one :class:`TaskSpec` in :data:`TASKS`. A task loads either

* from the Hugging Face hub, by its hub id and config (``datasets.load_dataset(hub_id, config,
  split=...)``), the default on a machine with internet, or
* from a local folder of parquet copies in the hub schemas, ``<data_dir>/<folder>/<split>.parquet``,
  when a ``data_dir`` parameter is given or the environment variable ``NLPDIFF_DATA_DIR`` is set
  (``datasets.load_dataset("parquet", data_files={split: path}, split=split)``).

Both sources then follow one code path: the same conversion to a :class:`pandas.DataFrame` and the
same checks of columns and labels. Every frame returned by :func:`load_split` carries a column
``row_idx``: the row's position in its split (0-based), kept by :func:`subsample`, so that any sample
can be traced back to its source row.

:func:`subsample` draws deterministic (seeded) subsets, stratified by a label column when asked so
that class proportions are kept. :func:`inject_noise` corrupts an exact number of classification
labels (uniform or class-conditional noise) and returns which samples it corrupted
(:class:`NoiseResult`).

Local copies (``../shared/data``) differ from the hub in a few places, recorded per task in
:attr:`TaskSpec.description`: SST-2's local ``test`` split carries gold labels (the hub's are -1),
the local SQuAD ``train`` split is an 11,877-question subset, and the local CNN/DailyMail and XSum
copies are 1,000-row subsets of one split each. Three tasks (``imdb_label_errors``,
``rt_human_ratings``, ``tweets_human_ratings``) have no hub copy and need a data dir.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from nlpdiff.errors import ParameterError

__all__ = [
    "DATA_DIR_ENV",
    "KINDS",
    "NOISE_KINDS",
    "ROW_INDEX",
    "TASKS",
    "NoiseResult",
    "TaskSpec",
    "get_task",
    "inject_noise",
    "load_imdb_cleanlab_pred_probs",
    "load_split",
    "resolve_data_dir",
    "split_path",
    "subsample",
]

#: Environment variable naming the folder of local parquet copies (``<folder>/<split>.parquet``).
DATA_DIR_ENV = "NLPDIFF_DATA_DIR"
#: Name of the column that keeps each row's position in its split.
ROW_INDEX = "row_idx"
#: The kinds of task.
KINDS = ("classification", "extractive_qa", "summarization")
#: The kinds of label noise that :func:`inject_noise` knows.
NOISE_KINDS = ("uniform", "class_conditional")

SENTIMENT_LABELS = ("negative", "positive")


@dataclass(frozen=True)
class TaskSpec:
    """One dataset of the study and how to read it.

    Attributes:
        name: registry key (``"sst2"``).
        hub_id: Hugging Face hub id, or None when the data exists only as a local file.
        hub_config: hub config name, or None.
        folder: sub-folder of the data dir holding ``<split>.parquet``.
        kind: one of :data:`KINDS`.
        splits: the splits of the local copies (and the ones the study uses).
        text_fields: input text column(s), in model input order.
        label_field: label column (classification) or target column (``answers``, ``summary``).
        label_names: class names by label id, or None (not classification).
        num_labels: number of classes, or None.
        train_split: split to train on, or None.
        eval_split: held-out split, or None.
        description, license, citation: provenance.
        columns: every column that a loaded split must have.
        local_rows: documented row count of each local split, as ``((split, rows), ...)``.
        hub_splits: splits that exist on the hub (a superset of ``splits`` for some tasks).
        obtain: for local-only tasks, where to get the files.
    """

    name: str
    hub_id: str | None
    hub_config: str | None
    folder: str
    kind: str
    splits: tuple[str, ...]
    text_fields: tuple[str, ...]
    label_field: str
    label_names: tuple[str, ...] | None
    num_labels: int | None
    train_split: str | None
    eval_split: str | None
    description: str = ""
    license: str = ""
    citation: str = ""
    columns: tuple[str, ...] = ()
    local_rows: tuple[tuple[str, int], ...] = ()
    hub_splits: tuple[str, ...] = field(default=())
    obtain: str = ""

    def rows(self, split: str) -> int | None:
        """Documented number of rows of a local split (None when unknown)."""
        return dict(self.local_rows).get(split)

    @property
    def is_classification(self) -> bool:
        return self.kind == "classification"

    def available_splits(self, local: bool) -> tuple[str, ...]:
        """Splits that can be loaded from a local folder (``local=True``) or from the hub."""
        if local or not self.hub_splits:
            return self.splits
        return tuple(dict.fromkeys(self.splits + self.hub_splits))


_SST_CITATION = (
    "Socher et al., Recursive Deep Models for Semantic Compositionality Over a Sentiment "
    "Treebank, EMNLP 2013; Wang et al., GLUE, ICLR 2019."
)
_IMDB_CITATION = "Maas et al., Learning Word Vectors for Sentiment Analysis, ACL 2011."
_VADER_CITATION = (
    "Hutto and Gilbert, VADER: A Parsimonious Rule-based Model for Sentiment Analysis of Social "
    "Media Text, ICWSM 2014."
)
_RATINGS_COLUMNS = ("id", "text", "label", "mean_rating", "rating_std", "ratings")

_SPECS = (
    TaskSpec(
        name="sst2",
        hub_id="stanfordnlp/sst2",
        hub_config=None,
        folder="sst2",
        kind="classification",
        splits=("train", "validation", "test"),
        text_fields=("sentence",),
        label_field="label",
        label_names=SENTIMENT_LABELS,
        num_labels=2,
        train_split="train",
        eval_split="validation",
        description=(
            "GLUE SST-2 binary sentence sentiment. The local `test` split carries the gold labels of "
            "the sentence-level SST test set; the hub's test labels are -1 (unlabelled)."
        ),
        license="unknown (GLUE / SST)",
        citation=_SST_CITATION,
        columns=("idx", "sentence", "label"),
        local_rows=(("train", 67349), ("validation", 872), ("test", 1821)),
    ),
    TaskSpec(
        name="imdb",
        hub_id="stanfordnlp/imdb",
        hub_config="plain_text",
        folder="imdb",
        kind="classification",
        splits=("train", "test"),
        text_fields=("text",),
        label_field="label",
        label_names=SENTIMENT_LABELS,
        num_labels=2,
        train_split="train",
        eval_split="test",
        description=(
            "IMDB movie review sentiment (full aclImdb train and test). Local rows carry `id`, the "
            "original file stem; local test rows are in the order of `imdb_label_errors`' "
            "cleanlab arrays. The hub copy has no `id` column and also an `unsupervised` split."
        ),
        license="unknown (aclImdb, research use)",
        citation=_IMDB_CITATION,
        columns=("text", "label"),
        local_rows=(("train", 25000), ("test", 25000)),
    ),
    TaskSpec(
        name="imdb_label_errors",
        hub_id=None,
        hub_config=None,
        folder="imdb_label_errors",
        kind="classification",
        splits=("test",),
        text_fields=(),
        label_field="given_label",
        label_names=SENTIMENT_LABELS,
        num_labels=2,
        train_split=None,
        eval_split="test",
        description=(
            "Crowd-verified candidate label errors of the IMDB test split (5 workers each; "
            "votes_guessed >= 3 confirms an error). No text: join to `imdb` test on `id`. "
            "`cleanlab_cv_pred_probs.parquet` (see load_imdb_cleanlab_pred_probs) holds the "
            "cross-validated predicted probabilities for all 25,000 IMDB test rows. Local only: "
            "get the files from https://github.com/cleanlab/label-errors."
        ),
        license="Apache-2.0",
        citation=(
            "Northcutt, Athalye and Mueller, Pervasive Label Errors in Test Sets Destabilize Machine "
            "Learning Benchmarks, NeurIPS Datasets and Benchmarks 2021."
        ),
        columns=(
            "id",
            "given_label",
            "guessed_label",
            "votes_given",
            "votes_guessed",
            "votes_neutral",
            "votes_off_topic",
        ),
        local_rows=(("test", 1310),),
        obtain="the label-errors release of https://github.com/cleanlab/label-errors (IMDB test)",
    ),
    TaskSpec(
        name="squad",
        hub_id="rajpurkar/squad",
        hub_config="plain_text",
        folder="squad",
        kind="extractive_qa",
        splits=("train", "validation"),
        text_fields=("question", "context"),
        label_field="answers",
        label_names=None,
        num_labels=None,
        train_split="train",
        eval_split="validation",
        description=(
            "SQuAD v1.1 extractive QA. `answers` is {'text': [...], 'answer_start': [...]}; "
            "validation has all annotator answers. The local train split is a 44-article, "
            "11,877-question subset (Du et al. 2017 held-out split); the hub train has 87,599."
        ),
        license="CC BY-SA 4.0",
        citation=(
            "Rajpurkar et al., SQuAD: 100,000+ Questions for Machine Comprehension of Text, "
            "EMNLP 2016."
        ),
        columns=("id", "title", "context", "question", "answers"),
        local_rows=(("train", 11877), ("validation", 10570)),
    ),
    TaskSpec(
        name="samsum",
        hub_id="knkarthick/samsum",
        hub_config=None,
        folder="samsum",
        kind="summarization",
        splits=("train", "validation", "test"),
        text_fields=("dialogue",),
        label_field="summary",
        label_names=None,
        num_labels=None,
        train_split="train",
        eval_split="validation",
        description="SAMSum dialogue summarization (local train lacks one empty dialogue).",
        license="CC BY-NC-ND 4.0 (research use)",
        citation=(
            "Gliwa et al., SAMSum Corpus: A Human-annotated Dialogue Dataset for Abstractive "
            "Summarization, Workshop on New Frontiers in Summarization 2019."
        ),
        columns=("id", "dialogue", "summary"),
        local_rows=(("train", 14731), ("validation", 818), ("test", 819)),
    ),
    TaskSpec(
        name="cnn_dailymail",
        hub_id="abisee/cnn_dailymail",
        hub_config="3.0.0",
        folder="cnn_dailymail",
        kind="summarization",
        splits=("validation",),
        text_fields=("article",),
        label_field="highlights",
        label_names=None,
        num_labels=None,
        train_split=None,
        eval_split="validation",
        description=(
            "CNN/DailyMail news summarization. The local copy is the first 1,000 rows of the "
            "validation split; the hub also has train and test."
        ),
        license="Apache-2.0",
        citation=(
            "See et al., Get To The Point: Summarization with Pointer-Generator Networks, ACL 2017; "
            "Hermann et al., NeurIPS 2015."
        ),
        columns=("article", "highlights", "id"),
        local_rows=(("validation", 1000),),
        hub_splits=("train", "validation", "test"),
    ),
    TaskSpec(
        name="xsum",
        hub_id="EdinburghNLP/xsum",
        hub_config=None,
        folder="xsum",
        kind="summarization",
        splits=("test",),
        text_fields=("document",),
        label_field="summary",
        label_names=None,
        num_labels=None,
        train_split=None,
        eval_split="test",
        description=(
            "XSum extreme summarization. The local copy is a 1,000-row sample of the test split; "
            "the hub also has train and validation."
        ),
        license="unknown (BBC articles, research use)",
        citation=(
            "Narayan, Cohen and Lapata, Don't Give Me the Details, Just the Summary!, EMNLP 2018."
        ),
        columns=("document", "summary", "id"),
        local_rows=(("test", 1000),),
        hub_splits=("train", "validation", "test"),
    ),
    TaskSpec(
        name="rt_human_ratings",
        hub_id=None,
        hub_config=None,
        folder="rt_human_ratings",
        kind="classification",
        splits=("train",),
        text_fields=("text",),
        label_field="label",
        label_names=SENTIMENT_LABELS,
        num_labels=2,
        train_split="train",
        eval_split=None,
        description=(
            "VADER ground truth for Rotten Tomatoes sentences (the source of SST): label = 1 if "
            "mean_rating > 0; `rating_std` over 15-99 raters is a human-disagreement signal; "
            "37 rows have mean_rating == 0 (no polarity, label 0). Local only: build the parquet "
            "from the vaderSentiment 3.3.2 source distribution "
            "(movieReviewSnippets_GroundTruth.txt, with the raw ratings)."
        ),
        license="MIT",
        citation=_VADER_CITATION,
        columns=_RATINGS_COLUMNS,
        local_rows=(("train", 10605),),
        obtain=(
            "movieReviewSnippets_GroundTruth.txt and its raw ratings in the vaderSentiment 3.3.2 "
            "source distribution (PyPI sdist), converted to parquet"
        ),
    ),
    TaskSpec(
        name="tweets_human_ratings",
        hub_id=None,
        hub_config=None,
        folder="tweets_human_ratings",
        kind="classification",
        splits=("train",),
        text_fields=("text",),
        label_field="label",
        label_names=SENTIMENT_LABELS,
        num_labels=2,
        train_split="train",
        eval_split=None,
        description=(
            "VADER ground truth for tweets: label = 1 if mean_rating > 0; `rating_std` is a "
            "human-disagreement signal; 4 rows have mean_rating == 0. Local only: build the parquet "
            "from the vaderSentiment 3.3.2 source distribution (tweets_GroundTruth.txt, with the "
            "raw ratings)."
        ),
        license="MIT",
        citation=_VADER_CITATION,
        columns=_RATINGS_COLUMNS,
        local_rows=(("train", 4200),),
        obtain=(
            "tweets_GroundTruth.txt and its raw ratings in the vaderSentiment 3.3.2 source "
            "distribution (PyPI sdist), converted to parquet"
        ),
    ),
)

#: The registry: task name -> :class:`TaskSpec`.
TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in _SPECS}


def get_task(name: str | TaskSpec) -> TaskSpec:
    """The :class:`TaskSpec` registered under ``name`` (a TaskSpec is returned as is)."""
    if isinstance(name, TaskSpec):
        return name
    if not isinstance(name, str) or name not in TASKS:
        raise ParameterError("task", name, "one of " + ", ".join(repr(k) for k in TASKS))
    return TASKS[name]


# --------------------------------------------------------------------------------------- loading


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The local data folder to read from, or None to use the hub.

    The ``data_dir`` parameter wins, else the environment variable ``NLPDIFF_DATA_DIR`` (when set
    and not empty), else None. A folder that does not exist raises :class:`ParameterError`.
    """
    source = "data_dir"
    if data_dir is None or (isinstance(data_dir, str) and not data_dir.strip()):
        env = os.environ.get(DATA_DIR_ENV, "").strip()
        if not env:
            return None
        data_dir, source = env, f"data_dir (from ${DATA_DIR_ENV})"
    if not isinstance(data_dir, (str, os.PathLike)):
        raise ParameterError("data_dir", data_dir, "a path to a folder, or None to use the hub")
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise ParameterError(
            source,
            str(data_dir),
            "an existing folder holding <task folder>/<split>.parquet",
            hint="or unset it to load from the Hugging Face hub",
        )
    return path


def _split_file(spec: TaskSpec, split: str, data_dir: Path) -> Path:
    path = data_dir / spec.folder / f"{split}.parquet"
    if not path.is_file():
        raise ParameterError(
            "data_dir",
            str(data_dir),
            f"a folder containing {spec.folder}/{split}.parquet for task {spec.name!r}",
            hint=f"{path} does not exist",
        )
    return path


def split_path(
    task: str | TaskSpec, split: str, data_dir: str | os.PathLike | None = None
) -> Path:
    """The local file ``<data_dir>/<folder>/<split>.parquet`` of a task's split, checked to exist.

    Use it to validate a data dir before any work starts. The data dir resolves as in
    :func:`resolve_data_dir`; with no data dir at all a :class:`ParameterError` names ``data_dir``.
    """
    spec = get_task(task)
    root = resolve_data_dir(data_dir)
    if root is None:
        raise ParameterError(
            "data_dir", None, f"a folder containing {spec.folder}/{split}.parquet",
            hint=f"pass data_dir= or set ${DATA_DIR_ENV}",
        )
    _check_split(spec, split, local=True)
    return _split_file(spec, split, root)


def _check_split(spec: TaskSpec, split: str, local: bool) -> None:
    allowed = spec.available_splits(local)
    if split not in allowed:
        raise ParameterError(
            "split",
            split,
            f"one of {', '.join(repr(s) for s in allowed)} for task {spec.name!r}",
        )


def _plain(value: Any) -> Any:
    """Nested numpy arrays (from arrow lists/structs) -> plain Python lists."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _to_frame(dataset: Any) -> pd.DataFrame:
    """A ``datasets.Dataset`` -> DataFrame, with list/struct cells as plain Python lists/dicts."""
    df = dataset.to_pandas()
    if not isinstance(df, pd.DataFrame):  # batched iterator: not requested, but be safe
        df = pd.concat(list(df), ignore_index=True)
    for col in df.columns:
        if df[col].dtype == object:
            first = df[col].dropna()
            if len(first) and isinstance(first.iloc[0], (np.ndarray, dict, list)):
                df[col] = [_plain(v) for v in df[col]]
    return df.reset_index(drop=True)


def _validate_frame(df: pd.DataFrame, spec: TaskSpec, split: str, source: str) -> pd.DataFrame:
    """The checks every loaded split passes, from the hub or from a local folder."""
    where = f"task {spec.name!r}, split {split!r}, loaded from {source}"
    required = list(dict.fromkeys(spec.text_fields + (spec.label_field,)))
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(
            f"{where}: missing column(s) {missing}; found {list(df.columns)}, "
            f"expected the hub schema {list(spec.columns) or required}"
        )
    if ROW_INDEX in df.columns:
        raise ValueError(f"{where}: the source already has a column named {ROW_INDEX!r}")
    if spec.is_classification and spec.num_labels:
        labels = df[spec.label_field]
        if labels.isna().any():
            raise ValueError(f"{where}: column {spec.label_field!r} has missing labels")
        values = set(np.unique(labels.to_numpy()).tolist())
        # -1 marks unlabelled rows (the hub's GLUE test splits)
        bad = sorted(v for v in values if v not in range(spec.num_labels) and v != -1)
        if bad:
            raise ValueError(
                f"{where}: labels {bad[:10]} outside 0..{spec.num_labels - 1} "
                f"({', '.join(spec.label_names or ())})"
            )
        df[spec.label_field] = labels.astype(np.int64)
    df.insert(0, ROW_INDEX, np.arange(len(df), dtype=np.int64))
    return df


def _load_dataset(spec: TaskSpec, split: str, path: Path | None) -> Any:
    import datasets  # heavy import: only when loading

    if path is not None:
        return datasets.load_dataset("parquet", data_files={split: str(path)}, split=split)
    return datasets.load_dataset(spec.hub_id, spec.hub_config, split=split)


def load_split(
    task: str | TaskSpec, split: str, data_dir: str | os.PathLike | None = None
) -> pd.DataFrame:
    """One split of a task as a DataFrame in the hub schema, plus ``row_idx`` (position in split).

    Reads ``<data_dir>/<folder>/<split>.parquet`` when a data dir is given or ``NLPDIFF_DATA_DIR``
    is set (see :func:`resolve_data_dir`), else the hub id. Both go through ``datasets`` and the same
    conversion and checks. Classification labels are int64 (``-1`` = unlabelled, hub SST-2 test).
    List and struct cells (SQuAD ``answers``, rating lists) are plain Python lists and dicts.
    """
    spec = get_task(task)
    root = resolve_data_dir(data_dir)
    _check_split(spec, split, local=root is not None)
    if root is None:
        if spec.hub_id is None:
            raise ParameterError(
                "data_dir",
                None,
                f"a folder containing {spec.folder}/{split}.parquet, because task {spec.name!r} "
                "has no Hugging Face hub copy",
                hint=f"pass data_dir= or set ${DATA_DIR_ENV}; the file comes from {spec.obtain}",
            )
        dataset = _load_dataset(spec, split, None)
        source = f"the hub ({spec.hub_id}" + (f", {spec.hub_config})" if spec.hub_config else ")")
    else:
        path = _split_file(spec, split, root)
        dataset = _load_dataset(spec, split, path)
        source = str(path)
    return _validate_frame(_to_frame(dataset), spec, split, source)


def load_imdb_cleanlab_pred_probs(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Cleanlab's cross-validated predicted probabilities for the 25,000 IMDB test rows.

    Columns ``id``, ``p_neg``, ``p_pos`` and ``row_idx``; row i matches row i of the local
    ``imdb`` test split. Local only (``imdb_label_errors/cleanlab_cv_pred_probs.parquet``).
    """
    spec = TASKS["imdb_label_errors"]
    root = resolve_data_dir(data_dir)
    name = "cleanlab_cv_pred_probs"
    if root is None:
        raise ParameterError(
            "data_dir",
            None,
            f"a folder containing {spec.folder}/{name}.parquet (no hub copy exists)",
            hint=f"pass data_dir= or set ${DATA_DIR_ENV}; get it from "
            "https://github.com/cleanlab/label-errors",
        )
    path = _split_file(spec, name, root)
    import datasets

    df = _to_frame(datasets.load_dataset("parquet", data_files={name: str(path)}, split=name))
    missing = [c for c in ("id", "p_neg", "p_pos") if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(df.columns)}")
    df.insert(0, ROW_INDEX, np.arange(len(df), dtype=np.int64))
    return df


# ----------------------------------------------------------------------------------- subsampling


def _check_seed(seed: Any) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError("seed", seed, "an integer >= 0")
    return int(seed)


def _allocate(counts: np.ndarray, n: int) -> np.ndarray:
    """Split n over groups in proportion to counts (largest remainder; ties to the earlier group)."""
    quota = counts * n / counts.sum()
    alloc = np.floor(quota).astype(np.int64)
    rest = n - int(alloc.sum())
    if rest:
        order = np.argsort(-(quota - alloc), kind="stable")
        alloc[order[:rest]] += 1
    return np.minimum(alloc, counts)


def subsample(
    df: pd.DataFrame,
    n: int | str | None,
    seed: int = 0,
    stratify: str | None = None,
    *,
    param: str = "n",
) -> pd.DataFrame:
    """A deterministic random subset of ``n`` rows of ``df``.

    Args:
        df: a frame, usually from :func:`load_split`. If it has no ``row_idx`` column one is added
            first (the rows' positions in ``df``), so every sampled row stays traceable.
        n: number of rows (1..len(df)), or None / ``"all"`` for every row.
        seed: seed of the numpy Generator; the same seed gives the same rows.
        stratify: a column (e.g. ``"label"``) whose class proportions the sample keeps: each class
            gets its share of ``n`` by the largest-remainder rule and is sampled within. None for
            plain seeded sampling (summarization, QA).
        param: the name that errors about ``n`` use (e.g. ``"train_size"`` for a caller whose
            user-facing parameter has that name).

    Returns:
        The sampled rows in their original order (sorted by position in ``df``), with a fresh
        RangeIndex.
    """
    if not isinstance(df, pd.DataFrame):
        raise ParameterError("df", type(df).__name__, "a pandas DataFrame")
    seed = _check_seed(seed)
    if stratify is not None and stratify not in df.columns:
        raise ParameterError(
            "stratify", stratify, f"None or a column of the frame: {', '.join(map(str, df.columns))}"
        )
    out = df if ROW_INDEX in df.columns else df.assign(**{ROW_INDEX: np.arange(len(df))})
    total = len(df)
    if n is None or (isinstance(n, str) and n == "all"):
        return out.reset_index(drop=True)
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise ParameterError(param, n, f"an integer in 1..{total}, None or 'all'")
    n = int(n)
    if not 1 <= n <= total:
        raise ParameterError(
            param, n, f"an integer in 1..{total} (the split has {total} rows), None or 'all'"
        )
    rng = np.random.default_rng(seed)
    if stratify is None:
        positions = rng.choice(total, size=n, replace=False)
    else:
        codes, _ = pd.factorize(df[stratify], sort=True, use_na_sentinel=False)
        counts = np.bincount(codes)
        alloc = _allocate(counts, n)
        chosen = []
        for group, k in enumerate(alloc):
            members = np.flatnonzero(codes == group)
            chosen.append(rng.choice(members, size=int(k), replace=False))
        positions = np.concatenate(chosen)
    positions = np.sort(positions)
    return out.iloc[positions].reset_index(drop=True)


# ------------------------------------------------------------------------------------- label noise


@dataclass(frozen=True)
class NoiseResult:
    """Labels after :func:`inject_noise`.

    Attributes:
        labels: the labels to train on (int64), corrupted where ``corrupted`` is True.
        original_labels: the labels as given (int64).
        corrupted: boolean mask of the corrupted samples; ``labels != original_labels`` exactly there.
        rate: the requested rate.
        kind: ``"uniform"`` or ``"class_conditional"``.
        confusion: the confusion map used (class_conditional), else None.
        seed: the seed used.
    """

    labels: np.ndarray
    original_labels: np.ndarray
    corrupted: np.ndarray
    rate: float
    kind: str
    confusion: Mapping[int, tuple[int, ...]] | None = None
    seed: int = 0

    @property
    def n_corrupted(self) -> int:
        return int(self.corrupted.sum())

    @property
    def actual_rate(self) -> float:
        """Fraction of all samples that were corrupted."""
        return self.n_corrupted / len(self.corrupted) if len(self.corrupted) else 0.0


def _round_half_up(x: float) -> int:
    return int(np.floor(x + 0.5))


def _check_confusion(
    confusion: Any, num_classes: int
) -> dict[int, tuple[int, ...]]:
    allowed = (
        f"a mapping {{source class: target class or list of target classes}} with classes in "
        f"0..{num_classes - 1} and each target different from its source, e.g. {{1: 0}}"
    )
    if not isinstance(confusion, Mapping) or not confusion:
        raise ParameterError("confusion", confusion, allowed)

    def is_class(v: Any) -> bool:
        return (
            isinstance(v, (int, np.integer))
            and not isinstance(v, (bool, np.bool_))
            and 0 <= v < num_classes
        )

    out: dict[int, tuple[int, ...]] = {}
    for src, dst in confusion.items():
        targets = tuple(dst) if isinstance(dst, (list, tuple, np.ndarray)) else (dst,)
        if not is_class(src) or not targets or not all(is_class(t) for t in targets):
            raise ParameterError("confusion", confusion, allowed)
        if any(int(t) == int(src) for t in targets):
            raise ParameterError("confusion", confusion, allowed, hint=f"class {src} maps to itself")
        out[int(src)] = tuple(sorted(set(int(t) for t in targets)))
    return out


def inject_noise(
    labels: Sequence[int] | np.ndarray | pd.Series,
    rate: float,
    kind: str = "uniform",
    num_classes: int = 2,
    seed: int = 0,
    confusion: Mapping[int, int | Iterable[int]] | None = None,
) -> NoiseResult:
    """Corrupt an exact number of classification labels, deterministically by seed.

    * ``uniform``: exactly ``round(rate * N)`` of the N samples (chosen uniformly without
      replacement) get a label drawn uniformly from the OTHER ``num_classes - 1`` classes.
    * ``class_conditional``: only samples whose label is a key of ``confusion`` are eligible;
      exactly ``round(rate * E)`` of the E eligible samples are corrupted, each to its class's target
      (or uniformly to one of its targets when a list is given). ``confusion=None`` means the
      default map ``{c: c - 1 for c in 1..num_classes-1}`` (binary: ``{1: 0}``, positive -> negative).

    ``round`` rounds halves up (``round(0.5) == 1``). Every corrupted label differs from its
    original; every other label is unchanged.

    Args:
        labels: integer labels in 0..num_classes-1.
        rate: the noise rate, in [0, 1).
        kind: one of :data:`NOISE_KINDS`.
        num_classes: number of classes (>= 2).
        seed: seed of the numpy Generator (>= 0).
        confusion: class-conditional map (only with ``kind="class_conditional"``).
    """
    if kind not in NOISE_KINDS:
        raise ParameterError("kind", kind, "one of " + ", ".join(repr(k) for k in NOISE_KINDS))
    if (
        isinstance(num_classes, (bool, np.bool_))
        or not isinstance(num_classes, (int, np.integer))
        or num_classes < 2
    ):
        raise ParameterError("num_classes", num_classes, "an integer >= 2")
    num_classes = int(num_classes)
    if (
        isinstance(rate, (bool, np.bool_))
        or not isinstance(rate, (int, float, np.integer, np.floating))
        or not np.isfinite(rate)
        or not 0 <= rate < 1
    ):
        raise ParameterError("rate", rate, "a number in [0, 1)")
    rate = float(rate)
    seed = _check_seed(seed)

    arr = np.asarray(labels)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        if arr.ndim == 1 and arr.size and np.issubdtype(arr.dtype, np.floating) and np.all(
            arr == np.round(arr)
        ):
            arr = arr.astype(np.int64)
        else:
            raise ParameterError(
                "labels", _short(labels), f"a 1-d sequence of integers in 0..{num_classes - 1}"
            )
    original = arr.astype(np.int64, copy=True)
    bad = original[(original < 0) | (original >= num_classes)]
    if bad.size:
        raise ParameterError(
            "labels",
            _short(labels),
            f"integers in 0..{num_classes - 1} (num_classes={num_classes})",
            hint=f"found {sorted(set(bad.tolist()))[:10]}",
        )

    rng = np.random.default_rng(seed)
    new = original.copy()
    corrupted = np.zeros(len(original), dtype=bool)
    conf_used: dict[int, tuple[int, ...]] | None = None

    if kind == "uniform":
        if confusion is not None:
            raise ParameterError(
                "confusion", confusion, "None when kind='uniform' (use kind='class_conditional')"
            )
        k = _round_half_up(rate * len(original))
        chosen = rng.choice(len(original), size=k, replace=False)
        shift = rng.integers(1, num_classes, size=k)
        new[chosen] = (original[chosen] + shift) % num_classes
        corrupted[chosen] = True
    else:
        if confusion is None:
            confusion = {c: c - 1 for c in range(1, num_classes)}
        conf_used = _check_confusion(confusion, num_classes)
        eligible = np.flatnonzero(np.isin(original, list(conf_used)))
        k = _round_half_up(rate * len(eligible))
        chosen = np.sort(rng.choice(eligible, size=k, replace=False))
        for src, targets in sorted(conf_used.items()):
            rows = chosen[original[chosen] == src]
            if len(targets) == 1:
                new[rows] = targets[0]
            else:
                new[rows] = rng.choice(np.asarray(targets, dtype=np.int64), size=len(rows))
        corrupted[chosen] = True

    return NoiseResult(
        labels=new,
        original_labels=original,
        corrupted=corrupted,
        rate=rate,
        kind=kind,
        confusion=conf_used,
        seed=seed,
    )


def _short(value: Any, limit: int = 60) -> Any:
    """A value short enough for an error message."""
    text = repr(value)
    return value if len(text) <= limit else text[: limit - 3] + "..."
