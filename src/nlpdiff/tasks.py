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
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd

from nlpdiff.errors import ParameterError

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
]

#: Environment variable naming the folder of local parquet copies (``<folder>/<split>.parquet``).
DATA_DIR_ENV = "NLPDIFF_DATA_DIR"
#: Name of the column that keeps each row's position in its split.
ROW_INDEX = "row_idx"
#: The kinds of task.
KINDS = ("classification", "extractive_qa", "summarization")
#: The kinds of label noise that :func:`inject_noise` knows (``empirical``: the class-conditional noise of
#: a measured confusion matrix, e.g. of real annotator errors, see :func:`error_confusion`).
NOISE_KINDS = ("uniform", "class_conditional", "empirical")
#: kind -> (input roles in model input order, target role, optional roles).
ROLES: Mapping[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = MappingProxyType({
    "classification": (("text", "text_pair"), "label", ("text_pair",)),
    "extractive_qa": (("question", "context"), "answers", ()),
    "summarization": (("document",), "summary", ()),
})
#: Fraction of a user's data held out for evaluation when no held-out data is given (stratified).
DEFAULT_HELDOUT_FRACTION = 0.2

SENTIMENT_LABELS = ("negative", "positive")


@dataclass(frozen=True)
class TaskSpec:
    """One dataset and how to read it.

    Attributes:
        name: registry key (``"sst2"``).
        kind: one of :data:`KINDS`.
        roles: role -> column, e.g. ``{"text": "sentence", "label": "label"}`` (see :data:`ROLES`).
        label_names: class names by label id (classification), else None. Any number >= 2.
        prompt: for summarization with a causal language model, the text around the document, with
            ``{document}`` where the (left-truncated) document goes; None for the other kinds.
        hub_id: Hugging Face hub id, or None when the data exists only as a local file or in memory.
        hub_config: hub config name, or None.
        folder: sub-folder of the data dir holding ``<split>.parquet`` (default: ``name``).
        splits: the splits of the local copies (and the ones the study uses).
        train_split: split to train on, or None.
        eval_split: held-out split, or None.
        description, license, citation: provenance.
        columns: every column that a loaded split must have (the hub schema).
        local_rows: documented row count of each local split, as ``((split, rows), ...)``.
        hub_splits: splits that exist on the hub (a superset of ``splits`` for some tasks).
        obtain: for local-only tasks, where to get the files.
        clean_label: for a task whose training labels carry real (human) errors, the column of the
            true labels: :func:`prepare_training_data` records ``is_corrupted = label != clean label``
            as the truth and injects no noise (``noisy_agnews``); None otherwise.
        human_label: for a task that trains on the true labels of such data, the column of the
            human labels; ``noise_type="empirical"`` corrupts the true labels with the confusion
            matrix of the human errors (:func:`error_confusion`; ``noisy_agnews_clean``); None otherwise.
        data_source: for data given by a user (:func:`from_frame`, :func:`from_csv`), where it came
            from; None for the registry's tasks (see :attr:`source`).
        data: for data given by a user, split -> frame (held in memory); None otherwise.
    """

    name: str
    kind: str
    roles: Mapping[str, str] = field(default_factory=dict, hash=False)
    label_names: tuple[str, ...] | None = None
    prompt: str | None = None
    hub_id: str | None = None
    hub_config: str | None = None
    folder: str = ""
    splits: tuple[str, ...] = ()
    train_split: str | None = None
    eval_split: str | None = None
    description: str = ""
    license: str = ""
    citation: str = ""
    columns: tuple[str, ...] = ()
    local_rows: tuple[tuple[str, int], ...] = ()
    hub_splits: tuple[str, ...] = ()
    obtain: str = ""
    clean_label: str | None = None
    human_label: str | None = None
    data_source: Mapping[str, Any] | None = field(default=None, hash=False, compare=False)
    data: Mapping[str, pd.DataFrame] | None = field(default=None, hash=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ParameterError("kind", self.kind, "one of " + ", ".join(map(repr, KINDS)))
        inputs, target, optional = ROLES[self.kind]
        unknown = sorted(set(self.roles) - set(inputs) - {target})
        if unknown:
            raise ParameterError("roles", dict(self.roles),
                                 f"roles of a {self.kind} task: {', '.join(inputs + (target,))}",
                                 hint=f"unknown: {unknown}")
        if target not in self.roles:
            raise ParameterError("roles", dict(self.roles), f"a {target!r} role for a {self.kind} task")
        if self.kind == "classification":
            if self.label_names is None or len(self.label_names) < 2:
                raise ParameterError("label_names", self.label_names, "at least two class names")
            object.__setattr__(self, "label_names", tuple(str(n) for n in self.label_names))
        elif self.label_names is not None:
            raise ParameterError("label_names", self.label_names, f"None for a {self.kind} task")
        for attr in ("clean_label", "human_label"):
            if getattr(self, attr) is not None and (self.kind != "classification" or not isinstance(getattr(self, attr), str)):
                raise ParameterError(attr, getattr(self, attr), "None, or (classification) a column name")
        if self.prompt is not None and (self.kind != "summarization" or self.prompt.count("{document}") != 1):
            raise ParameterError("prompt", self.prompt,
                                 "None, or (summarization) a text with '{document}' once")
        object.__setattr__(self, "roles", MappingProxyType(dict(self.roles)))
        if not self.folder:
            object.__setattr__(self, "folder", self.name)
        if self.data is not None:
            object.__setattr__(self, "data", MappingProxyType(dict(self.data)))

    def __reduce__(self):
        """Pickle and copy through the constructor (the read-only mappings are rebuilt)."""
        kwargs = {f.name: getattr(self, f.name) for f in fields(self)}
        kwargs["roles"] = dict(self.roles)
        if self.data is not None:
            kwargs["data"] = dict(self.data)
        return (_spec_from_kwargs, (kwargs,))

    # -- roles -------------------------------------------------------------------------------------
    def column(self, role: str) -> str:
        """The column holding ``role`` (e.g. ``spec.column("text")``); a clear error if the task has none."""
        if role not in self.roles:
            raise ParameterError("role", role, f"a role of task {self.name!r}: {', '.join(self.roles)}")
        return self.roles[role]

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def input_roles(self) -> tuple[str, ...]:
        """The task's input roles in model input order (``("text", "text_pair")`` for a pair task)."""
        return tuple(r for r in ROLES[self.kind][0] if r in self.roles)

    @property
    def target_role(self) -> str:
        """``label``, ``answers`` or ``summary``."""
        return ROLES[self.kind][1]

    @property
    def text_fields(self) -> tuple[str, ...]:
        """The input columns in model input order (the columns of :attr:`input_roles`)."""
        return tuple(self.roles[r] for r in self.input_roles)

    @property
    def label_field(self) -> str:
        """The target column: class label, answers or reference summary."""
        return self.roles[self.target_role]

    @property
    def is_pair(self) -> bool:
        """True for a text-pair classification task (a ``text_pair`` role)."""
        return "text_pair" in self.roles

    @property
    def num_labels(self) -> int | None:
        """Number of classes (classification), else None."""
        return len(self.label_names) if self.label_names is not None else None

    @property
    def is_classification(self) -> bool:
        return self.kind == "classification"

    def prompt_parts(self) -> tuple[str, str]:
        """``(prefix, suffix)`` of :attr:`prompt` around the document (``("", "")`` without a prompt)."""
        if self.prompt is None:
            return "", ""
        prefix, suffix = self.prompt.split("{document}")
        return prefix, suffix

    # -- data ----------------------------------------------------------------------------------------
    def rows(self, split: str) -> int | None:
        """Documented number of rows of a local split (None when unknown)."""
        return dict(self.local_rows).get(split)

    def available_splits(self, local: bool) -> tuple[str, ...]:
        """Splits that can be loaded from a local folder (``local=True``) or from the hub."""
        if local or not self.hub_splits or self.data is not None:
            return self.splits
        return tuple(dict.fromkeys(self.splits + self.hub_splits))

    @property
    def source(self) -> dict[str, Any]:
        """Where the data comes from, as a JSON-able dict (see :func:`data_source`)."""
        return data_source(self)


def _spec_from_kwargs(kwargs: dict[str, Any]) -> TaskSpec:
    return TaskSpec(**kwargs)


def data_source(spec: TaskSpec, data_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Where ``spec``'s data is read from, as a small JSON-able dict.

    Users' data: the dict recorded by :func:`from_frame` / :func:`from_csv` (``kind`` ``"csv"``,
    ``"frame"`` or ``"dataset"``, with a SHA-256 of the content). Registry tasks: ``{"kind":
    "local", "path": <data_dir>/<folder>}`` when a data dir applies (the ``data_dir`` argument, else
    ``$NLPDIFF_DATA_DIR``), else ``{"kind": "hub", "hub_id": ..., "hub_config": ...}``.
    """
    if spec.data_source is not None:
        return dict(spec.data_source)
    root = resolve_data_dir(data_dir)
    if root is not None:
        return {"kind": "local", "path": str((root / spec.folder).resolve())}
    return {"kind": "hub", "hub_id": spec.hub_id, "hub_config": spec.hub_config}


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
_NLI_LABELS = ("entailment", "neutral", "contradiction")
_CHAOSNLI_COLUMNS = ("uid", "premise", "hypothesis", "label", "old_labels", "chaos_label", "label_count", "entropy")
_CHAOSNLI_CITATION = (
    "Nie, Zhou and Bansal, What Can We Learn from Collective Human Opinions on Natural Language "
    "Inference Data?, EMNLP 2020."
)
AGNEWS_LABELS = ("World", "Sports", "Business", "Sci/Tech")
_NOISY_AGNEWS_COLUMNS = ("text", "label")  # train also has clean_label and source_group
_NOISY_AGNEWS_CITATION = (
    "NoisyAG-News (hhf-hd/NoisyAG-News, MIT): AG-News relabelled by three groups of human annotators; "
    "Zhang, Zhao and LeCun, Character-level Convolutional Networks for Text Classification, NeurIPS 2015 (AG-News)."
)
_NOISY_AGNEWS_OBTAIN = (
    "the GitHub repository hhf-hd/NoisyAG-News (not on the Hugging Face hub), converted to parquet as "
    "<data_dir>/noisy_agnews/train.parquet (text, label, clean_label, source_group) and test.parquet "
    "(text, label)"
)
#: The causal-LM prompt of dialogue summarization (SAMSum).
DIALOGUE_PROMPT = "Summarize the dialogue.\n{document}\nSummary:"
#: The causal-LM prompt of news summarization.
ARTICLE_PROMPT = "Summarize the article.\n{document}\nSummary:"

_SPECS = (
    TaskSpec(
        name="sst2",
        kind="classification",
        roles={"text": "sentence", "label": "label"},
        label_names=SENTIMENT_LABELS,
        hub_id="stanfordnlp/sst2",
        splits=("train", "validation", "test"),
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
        kind="classification",
        roles={"text": "text", "label": "label"},
        label_names=SENTIMENT_LABELS,
        hub_id="stanfordnlp/imdb",
        hub_config="plain_text",
        splits=("train", "test"),
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
        kind="classification",
        roles={"label": "given_label"},  # no text: join to `imdb` test on `id`
        label_names=SENTIMENT_LABELS,
        splits=("test",),
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
        kind="extractive_qa",
        roles={"question": "question", "context": "context", "answers": "answers"},
        hub_id="rajpurkar/squad",
        hub_config="plain_text",
        splits=("train", "validation"),
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
        kind="summarization",
        roles={"document": "dialogue", "summary": "summary"},
        prompt=DIALOGUE_PROMPT,
        hub_id="knkarthick/samsum",
        splits=("train", "validation", "test"),
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
        kind="summarization",
        roles={"document": "article", "summary": "highlights"},
        prompt=ARTICLE_PROMPT,
        hub_id="abisee/cnn_dailymail",
        hub_config="3.0.0",
        splits=("validation",),
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
        kind="summarization",
        roles={"document": "document", "summary": "summary"},
        prompt=ARTICLE_PROMPT,
        hub_id="EdinburghNLP/xsum",
        splits=("test",),
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
        name="snli",
        kind="classification",
        roles={"text": "premise", "text_pair": "hypothesis", "label": "label"},
        label_names=("entailment", "neutral", "contradiction"),
        hub_id="stanfordnlp/snli",
        splits=("validation",),
        eval_split="validation",
        description=(
            "SNLI 1.0 natural language inference (premise/hypothesis pairs, 3 classes). The local copy "
            "is the dev split's 9,831 pairs with a gold label (the hub's -1 rows dropped); no training "
            "split is available offline, so a run trains on it (`train_split=\"validation\"`), with "
            "a held-out part carved from it or given. It is the pool that ChaosNLI re-annotated "
            "(1,507 of ChaosNLI's 1,514 SNLI pairs are in it). The hub also has train and test."
        ),
        license="CC BY-SA 4.0",
        citation=(
            "Bowman, Angeli, Potts and Manning, A large annotated corpus for learning natural "
            "language inference, EMNLP 2015."
        ),
        columns=("premise", "hypothesis", "label"),
        local_rows=(("validation", 9831),),
        hub_splits=("train", "validation", "test"),
    ),
    TaskSpec(
        name="rt_human_ratings",
        kind="classification",
        roles={"text": "text", "label": "label"},
        label_names=SENTIMENT_LABELS,
        splits=("train",),
        train_split="train",
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
        kind="classification",
        roles={"text": "text", "label": "label"},
        label_names=SENTIMENT_LABELS,
        splits=("train",),
        train_split="train",
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
    # --- real annotator errors: NoisyAG-News (issue 24) ----------------------------------------
    TaskSpec(
        name="noisy_agnews",
        kind="classification",
        roles={"text": "text", "label": "label"},
        label_names=AGNEWS_LABELS,
        splits=("train", "test"),
        train_split="train",
        eval_split="test",
        description=(
            "NoisyAG-News: 10,000 AG-News items whose training `label` is the majority of three "
            "independent human annotators; `clean_label` is the original AG-News label. The human "
            "label is wrong on 1,975 rows (19.75 %): real, instance-dependent annotator errors, "
            "mostly World/Business/Sci-Tech confusions. A run trains on the human labels and records "
            "is_corrupted = (label != clean_label) as the truth; no noise is injected. `test` is the "
            "clean 7,600-item AG-News test split. Local only: not on the Hugging Face hub."
        ),
        license="MIT",
        citation=_NOISY_AGNEWS_CITATION,
        columns=_NOISY_AGNEWS_COLUMNS,
        local_rows=(("train", 10000), ("test", 7600)),
        obtain=_NOISY_AGNEWS_OBTAIN,
        clean_label="clean_label",
    ),
    TaskSpec(
        name="noisy_agnews_clean",
        kind="classification",
        roles={"text": "text", "label": "clean_label"},
        label_names=AGNEWS_LABELS,
        folder="noisy_agnews",
        splits=("train", "test"),
        train_split="train",
        eval_split="test",
        description=(
            "The same 10,000 NoisyAG-News texts with their original (clean) AG-News labels, to corrupt "
            "synthetically on the same texts: noise_type 'uniform', or 'empirical' (class-conditional "
            "with the confusion matrix of the human errors, measured on the whole training split). "
            "The test split is the clean AG-News test split (its column `label`)."
        ),
        license="MIT",
        citation=_NOISY_AGNEWS_CITATION,
        columns=(*_NOISY_AGNEWS_COLUMNS, "clean_label"),  # the test split's `label` is copied to it on loading
        local_rows=(("train", 10000), ("test", 7600)),
        obtain=_NOISY_AGNEWS_OBTAIN,
        human_label="label",
    ),
    # --- natural language inference: ChaosNLI (issue 9) -----------------------------------------
    *(
        TaskSpec(
            name=f"chaosnli_{source}",
            kind="classification",
            roles={"text": "premise", "text_pair": "hypothesis", "label": "label"},
            label_names=_NLI_LABELS,
            splits=("validation",),
            train_split="validation",
            description=(
                f"ChaosNLI v1.0, {what}: {rows:,} {pool} dev pairs, each with 100 new crowd labels. They "
                "were chosen for low agreement of the original annotators: on every pair exactly 3 of "
                "the original 5 agree, so the 5 `old_labels` carry no graded signal and the 100 new "
                "labels do. `label` is the original gold label (majority of `old_labels`); "
                "`label_count` counts the 100 new labels as [entailment, neutral, contradiction]; "
                "`entropy` (bits) of that distribution is the human-disagreement signal; "
                "`chaos_label` is the majority of the 100. These columns travel into a run's "
                "samples.parquet. Local only: no Hugging Face hub copy exists."
            ),
            license="CC BY-NC 4.0 (research use)",
            citation=_CHAOSNLI_CITATION,
            columns=_CHAOSNLI_COLUMNS,
            local_rows=(("validation", rows),),
            obtain=(
                "the ChaosNLI v1.0 release (https://github.com/easonnie/ChaosNLI, "
                f"chaosNLI_{source}.jsonl), converted to parquet as <data_dir>/chaosnli_{source}/validation.parquet"
            ),
        )
        for source, what, pool, rows in (("snli", "SNLI part", "SNLI", 1514),
                                         ("mnli", "MNLI part", "MNLI matched", 1599))
    ),
)

#: The registry of the study's datasets: task name -> :class:`TaskSpec`.
TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in _SPECS}
#: Tasks registered at run time by :func:`register_task` (users' own data).
_REGISTERED: dict[str, TaskSpec] = {}


def get_task(name: str | TaskSpec) -> TaskSpec:
    """The :class:`TaskSpec` registered under ``name`` (a TaskSpec is returned as is).

    Looks in the study's registry (:data:`TASKS`), then among the tasks added by
    :func:`register_task`.
    """
    if isinstance(name, TaskSpec):
        return name
    if isinstance(name, str) and name in TASKS:
        return TASKS[name]
    if isinstance(name, str) and name in _REGISTERED:
        return _REGISTERED[name]
    known = list(TASKS) + list(_REGISTERED)
    raise ParameterError("task", name, "one of " + ", ".join(repr(k) for k in known),
                         hint="or a task of your own data registered with nlpdiff.tasks.register_task")


def register_task(spec: TaskSpec, replace: bool = False) -> TaskSpec:
    """Make ``spec`` known by its name, so that ``TrainParams(task=spec.name)`` trains on it.

    A study task's name cannot be taken. Registering a second, different spec under a name already
    registered raises :class:`ParameterError` unless ``replace=True`` (the same spec again is fine).
    Returns ``spec``.
    """
    if not isinstance(spec, TaskSpec):
        raise ParameterError("spec", type(spec).__name__, "a TaskSpec (from nlpdiff.tasks.from_frame or from_csv)")
    if spec.name in TASKS:
        raise ParameterError("name", spec.name, f"a name that is not a study task ({', '.join(TASKS)})")
    old = _REGISTERED.get(spec.name)
    if old is not None and not replace and not (old == spec and old.data_source == spec.data_source):
        raise ParameterError("name", spec.name, "a name not registered yet, or replace=True",
                             hint=f"{spec.name!r} already holds data from {old.data_source}")
    _REGISTERED[spec.name] = spec
    return spec


def unregister_task(name: str) -> None:
    """Forget a task added by :func:`register_task` (no error if it is not registered)."""
    _REGISTERED.pop(name, None)


def registered_tasks() -> dict[str, TaskSpec]:
    """The tasks added by :func:`register_task`, by name."""
    return dict(_REGISTERED)


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
        hint = f"{path} does not exist"
        if spec.hub_id is None and spec.obtain:  # a local-only task (ChaosNLI, the label errors, ...)
            hint += (f"; task {spec.name!r} exists only as a local folder (the Hugging Face hub has no "
                     f"copy): get it from {spec.obtain}")
        raise ParameterError(
            "data_dir",
            str(data_dir),
            f"a folder containing {spec.folder}/{split}.parquet for task {spec.name!r}",
            hint=hint,
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
    if spec.data is not None:
        raise ParameterError("task", spec.name, "a task read from files (this one holds its data in memory)")
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
    required = list(dict.fromkeys(spec.roles.values()))
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

    A task of a user's data (:func:`from_frame`) returns its split from memory. Otherwise reads
    ``<data_dir>/<folder>/<split>.parquet`` when a data dir is given or ``NLPDIFF_DATA_DIR``
    is set (see :func:`resolve_data_dir`), else the hub id. Both go through ``datasets`` and the same
    conversion and checks. Classification labels are int64 (``-1`` = unlabelled, hub SST-2 test).
    List and struct cells (SQuAD ``answers``, rating lists) are plain Python lists and dicts.
    """
    spec = get_task(task)
    if spec.data is not None:  # a user's data, held in memory (from_frame, from_csv)
        _check_split(spec, split, local=True)
        return spec.data[split].copy()
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
    frame = _to_frame(dataset)
    if spec.human_label is not None and spec.label_field not in frame.columns and spec.human_label in frame.columns:
        # a split with one label column only is a clean split (NoisyAG-News test: the AG-News test labels)
        frame[spec.label_field] = frame[spec.human_label]
    return _validate_frame(frame, spec, split, source)


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


@dataclass(frozen=True)
class TargetNoiseResult:
    """Targets after :func:`corrupt_targets` (extractive QA and summarization).

    Attributes:
        targets: the targets to train on (answers dicts or summaries), corrupted where ``corrupted``.
        corrupted: boolean mask of the corrupted samples.
        rate: the requested rate.
        kind: ``"moved_answer"`` (QA) or ``"swapped_summary"`` (summarization).
        seed: the seed used.
    """

    targets: list
    corrupted: np.ndarray
    rate: float
    kind: str
    seed: int = 0

    @property
    def n_corrupted(self) -> int:
        return int(self.corrupted.sum())


_WORD = re.compile(r"\S+")


def _moved_answer(context: str, answers: Any, rng: np.random.Generator) -> dict | None:
    """Another span of ``context`` with as many words as the first answer and no overlap with any
    given answer; None when the context has no such span."""
    texts = [str(t) for t in list(answers.get("text", []))] if answers is not None else []
    starts = [int(s) for s in list(answers.get("answer_start", []))] if answers is not None else []
    if not texts:
        return None
    words = [(m.start(), m.end()) for m in _WORD.finditer(context)]
    n_words = max(1, len(texts[0].split()))
    taken = [(s, s + len(t)) for s, t in zip(starts, texts)]
    candidates = [
        i for i in range(len(words) - n_words + 1)
        if all(words[i + n_words - 1][1] <= a or words[i][0] >= b for a, b in taken)
    ]
    if not candidates:
        return None
    i = int(rng.choice(candidates))
    start, end = words[i][0], words[i + n_words - 1][1]
    span = context[start:end]
    if span in texts:
        return None
    return {"text": [span], "answer_start": [start]}


def corrupt_targets(frame: pd.DataFrame, spec: TaskSpec, rate: float, seed: int = 0) -> TargetNoiseResult:
    """Corrupt the targets of an exact number of QA or summarization samples, deterministically by seed.

    The counterpart of :func:`inject_noise` for the tasks whose target is not a class:

    * ``extractive_qa`` (``moved_answer``): ``round(rate * N)`` questions, chosen uniformly, get as
      their only answer another span of the same context, with as many words as the first given
      answer and overlapping none of the given answers (a plausible-looking but wrong span). A
      question whose context has no such span is passed over for the next one drawn.
    * ``summarization`` (``swapped_summary``): ``round(rate * N)`` pairs (at least 2), chosen
      uniformly, swap their reference summaries along a random cycle, so each gets the summary of
      another dialogue of the chosen set.

    Args:
        frame: the training rows, with the task's context/answers or summary columns.
        spec: the task (its kind and column roles).
        rate: the noise rate, in [0, 1).
        seed: seed of the numpy Generator (>= 0).
    """
    if spec.kind not in ("extractive_qa", "summarization"):
        raise ParameterError("spec", spec.name, "an extractive_qa or summarization task (for classes: inject_noise)")
    rate = _check_rate(rate)
    seed = _check_seed(seed)
    rng = np.random.default_rng(seed)
    n = len(frame)
    k = _round_half_up(rate * n)
    corrupted = np.zeros(n, dtype=bool)
    if spec.kind == "extractive_qa":
        targets = list(frame[spec.column("answers")])
        contexts = [str(c) for c in frame[spec.column("context")]]
        moved = 0
        for i in rng.permutation(n):
            if moved == k:
                break
            new = _moved_answer(contexts[i], targets[i], rng)
            if new is not None:
                targets[i], corrupted[i] = new, True
                moved += 1
        if moved < k:
            raise ParameterError("noise_rate", rate, f"at most {moved / max(n, 1):.3f} for these {n} questions",
                                 hint="only that many contexts have another span to move the answer to")
        return TargetNoiseResult(targets, corrupted, rate, "moved_answer", seed)
    targets = [str(t) for t in frame[spec.column("summary")]]
    if 0 < k < 2:
        raise ParameterError("noise_rate", rate, f"0 or at least {2 / n:.3f} for {n} pairs",
                             hint="swapping summaries needs at least two corrupted pairs")
    if k:
        chosen = rng.choice(n, size=k, replace=False)
        given = [targets[i] for i in chosen]
        for j, i in enumerate(chosen):
            targets[i] = given[(j + 1) % k]
        corrupted[chosen] = [targets[i] != given[j] for j, i in enumerate(chosen)]
    return TargetNoiseResult(targets, corrupted, rate, "swapped_summary", seed)


def _check_rate(rate: Any) -> float:
    """A noise rate in [0, 1) as a float (not a bool), or a :class:`ParameterError` naming ``rate``."""
    if (
        isinstance(rate, (bool, np.bool_))
        or not isinstance(rate, (int, float, np.integer, np.floating))
        or not np.isfinite(rate)
        or not 0 <= rate < 1
    ):
        raise ParameterError("rate", rate, "a number in [0, 1)")
    return float(rate)


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
    * ``empirical``: ``confusion`` is a ``num_classes`` x ``num_classes`` matrix of counts (true class
      in rows, given label in columns; :func:`error_confusion`), e.g. of real annotator errors. Cell
      (i, j), i != j, gets a share of the ``round(rate * N)`` corrupted samples proportional to
      ``n_i * confusion[i, j] / confusion[i].sum()`` (largest remainder), with ``n_i`` the samples of
      class i here; the samples of each class are chosen uniformly. On the data the matrix was
      measured on, at its own error rate, this reproduces its off-diagonal counts exactly, with
      instance-independent choices of which samples.
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
    rate = _check_rate(rate)
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

    if kind == "empirical" and confusion is None:
        raise ParameterError("confusion", None, "a num_classes x num_classes count matrix for kind='empirical' "
                             "(tasks.error_confusion)")
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
    elif kind == "empirical":
        matrix = _check_matrix(confusion, num_classes)
        k = _round_half_up(round(rate * len(original), 9))  # 0.1975 * 10000 is 1974.9999999999998 in floats
        n_class = np.bincount(original, minlength=num_classes).astype(float)
        rows = matrix.sum(axis=1)
        weights = np.where(rows[:, None] > 0, matrix / np.where(rows > 0, rows, 1)[:, None], 0.0) * n_class[:, None]
        np.fill_diagonal(weights, 0.0)
        if k and weights.sum() == 0:
            raise ParameterError("confusion", _short(confusion), "a matrix with off-diagonal counts in classes present here")
        quota = weights.ravel() * k / weights.sum() if k else np.zeros(weights.size)
        cells = np.floor(quota).astype(np.int64)
        cells[np.argsort(-(quota - cells), kind="stable")[: k - int(cells.sum())]] += 1  # largest remainder
        cells = cells.reshape(num_classes, num_classes)
        per_class = cells.sum(axis=1)
        if (per_class > n_class).any():
            raise ParameterError("rate", rate, f"a rate that leaves each class enough samples to corrupt (here at most "
                                 f"{(n_class / np.maximum(per_class, 1) * rate).min():.3f})")
        for src in range(num_classes):
            if not per_class[src]:
                continue
            members = np.flatnonzero(original == src)
            picked = rng.choice(members, size=int(per_class[src]), replace=False)
            targets = np.repeat(np.arange(num_classes), cells[src])
            new[picked] = rng.permutation(targets)
            corrupted[picked] = True
        conf_used = {int(i): tuple(int(j) for j in np.flatnonzero(cells[i])) for i in range(num_classes) if per_class[i]}
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


def error_confusion(given: Sequence[int] | np.ndarray | pd.Series, true: Sequence[int] | np.ndarray | pd.Series,
                    num_classes: int) -> np.ndarray:
    """The confusion matrix of labelling errors: counts with the true class in rows and the given
    (e.g. human) label in columns, ``num_classes`` x ``num_classes`` int64. Its off-diagonal cells are
    the errors; ``inject_noise(kind="empirical", confusion=...)`` corrupts true labels with the same
    class-conditional pattern."""
    if isinstance(num_classes, (bool, np.bool_)) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ParameterError("num_classes", num_classes, "an integer >= 2")
    g, t = np.asarray(given), np.asarray(true)
    if g.ndim != 1 or g.shape != t.shape:
        raise ParameterError("given", f"shape {g.shape} against true {t.shape}", "two 1-d label arrays of one length")
    for name, a in (("given", g), ("true", t)):
        if a.size and (not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() >= num_classes):
            raise ParameterError(name, _short(a.tolist()), f"integer labels in 0..{num_classes - 1}")
    out = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(out, (t.astype(np.int64), g.astype(np.int64)), 1)
    return out


def _check_matrix(confusion: Any, num_classes: int) -> np.ndarray:
    allowed = f"a {num_classes} x {num_classes} matrix of counts >= 0 (true class in rows; tasks.error_confusion)"
    try:
        m = np.asarray(confusion, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError("confusion", _short(confusion), allowed) from None
    if m.shape != (num_classes, num_classes) or not np.isfinite(m).all() or (m < 0).any():
        raise ParameterError("confusion", _short(confusion), allowed)
    return m


def _short(value: Any, limit: int = 60) -> Any:
    """A value short enough for an error message."""
    text = repr(value)
    return value if len(text) <= limit else text[: limit - 3] + "..."


# ------------------------------------------------------------------------------ users' own data


def is_empty_text(value: Any) -> bool:
    """True for a cell that cannot be a text: missing (None, NaN, ``pd.NA``) or only whitespace."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return True
    return isinstance(value, str) and not value.strip()


def _rows_hint(rows: np.ndarray, what: str) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
    return f"{len(rows)} {what}, at row(s) {shown} (0-based positions in the data)"


def _as_frame(data: Any, param: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A DataFrame copy of ``data`` and what identifies the container (``kind`` and, for a
    ``datasets.Dataset``, its fingerprint and features)."""
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True).copy(), {"kind": "frame"}
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is a dependency
        datasets = None
    if datasets is not None and isinstance(data, datasets.Dataset):
        info = {"kind": "dataset", "fingerprint": getattr(data, "_fingerprint", None)}
        return _to_frame(data), info
    raise ParameterError(param, type(data).__name__, "a pandas DataFrame or a datasets.Dataset",
                         hint="for a CSV file use nlpdiff.tasks.from_csv")


def _frame_sha256(df: pd.DataFrame) -> str:
    """SHA-256 of a frame's columns and values (row order included)."""
    digest = hashlib.sha256(repr(list(map(str, df.columns))).encode())
    digest.update(pd.util.hash_pandas_object(df.astype(str), index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _check_columns(df: pd.DataFrame, columns: Mapping[str, Any], where: str) -> None:
    for param, column in columns.items():
        if column is None:
            continue
        if column not in df.columns:
            raise ParameterError(param, column, f"a column of {where}: " + ", ".join(map(repr, map(str, df.columns))))
    if ROW_INDEX in df.columns:
        raise ParameterError("data", f"a column named {ROW_INDEX!r}", f"data without a {ROW_INDEX!r} column",
                             hint=f"nlpdiff adds {ROW_INDEX!r} (each row's position); rename yours")


def _check_texts(df: pd.DataFrame, column: str, param: str, where: str) -> None:
    values = df[column]
    empty = np.flatnonzero([is_empty_text(v) for v in values])
    if len(empty):
        raise ParameterError(param, column, f"a column of {where} with a non-empty text in every row",
                             hint=_rows_hint(empty, "empty cells (missing — NaN/None/an empty CSV cell — "
                                                    "or only whitespace)"))
    not_text = np.flatnonzero([not isinstance(v, str) for v in values])
    if len(not_text):
        kind = type(values.iloc[not_text[0]]).__name__
        raise ParameterError(param, column, f"a column of {where} holding texts (str)",
                             hint=_rows_hint(not_text, f"cells that are not text (e.g. {kind})"))


def _is_integer_like(values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values):
        return False
    if pd.api.types.is_integer_dtype(values):
        return True
    if pd.api.types.is_float_dtype(values):
        return bool(np.all(values.to_numpy() == np.round(values.to_numpy())))
    return all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values)


def _label_ids(values: pd.Series, label_names: Sequence[Any] | None, column: str,
               where: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class ids (int64) of ``values`` and the class names by id.

    Without ``label_names`` the classes are the sorted distinct values (numbers sorted as numbers,
    strings as strings) and their names are the values as text. With ``label_names``, string labels
    are looked up in it and integer labels must be ids ``0..len(label_names)-1``.
    """
    missing = np.flatnonzero(values.isna().to_numpy())
    if len(missing):
        raise ParameterError("label", column, f"a column of {where} with a label in every row",
                             hint=_rows_hint(missing, "missing labels"))
    integer = _is_integer_like(values)
    if not integer and not all(isinstance(v, str) for v in values):
        kinds = sorted({type(v).__name__ for v in values})
        raise ParameterError("label", column, f"a column of {where} of integer or string labels",
                             hint=f"found values of type(s) {kinds}")
    if integer:
        values = values.astype(np.int64)
    if label_names is None:
        classes = np.array(sorted(pd.unique(values)), dtype=object)
        names = tuple(str(c) for c in classes)
        lookup = {c: i for i, c in enumerate(classes.tolist())}
        ids = np.array([lookup[v] for v in values.tolist()], dtype=np.int64)
        return ids, names
    names = tuple(str(n) for n in label_names)
    if len(names) < 2 or len(set(names)) != len(names):
        raise ParameterError("label_names", list(label_names), "at least two distinct class names")
    if integer:
        ids = values.to_numpy().astype(np.int64)
        bad = sorted(set(ids[(ids < 0) | (ids >= len(names))].tolist()))
        if bad:
            raise ParameterError("label", column, f"integer labels in 0..{len(names) - 1} (ids of label_names "
                                 f"{list(names)})", hint=f"found {bad[:10]}")
        return ids, names
    lookup = {n: i for i, n in enumerate(names)}
    unknown = sorted({v for v in values if v not in lookup})
    if unknown:
        raise ParameterError("label", column, f"labels among label_names {list(names)}",
                             hint=f"found {unknown[:10]}")
    return np.array([lookup[v] for v in values], dtype=np.int64), names


def _heldout_ids(values: pd.Series, names: tuple[str, ...], label_names: Sequence[Any] | None,
                 integer_labels: bool, column: str) -> np.ndarray:
    """Class ids of given held-out labels, with the classes found in the training data."""
    if label_names is not None:
        return _label_ids(values, label_names, column, "the held-out data")[0]
    _label_ids(values, None, column, "the held-out data")  # the same checks (missing, types)
    lookup = {(int(n) if integer_labels else n): i for i, n in enumerate(names)}
    raw = values.astype(np.int64).tolist() if integer_labels else values.tolist()
    unknown = sorted({v for v in raw if v not in lookup})
    if unknown:
        raise ParameterError("label", column, f"held-out labels among those of the data: {list(names)}",
                             hint=f"found {unknown[:10]}")
    return np.array([lookup[v] for v in raw], dtype=np.int64)


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def from_frame(
    data: Any,
    text: str,
    label: str,
    text_pair: str | None = None,
    name: str = "my_data",
    label_names: Sequence[Any] | None = None,
    heldout: Any = None,
    heldout_fraction: float = DEFAULT_HELDOUT_FRACTION,
    seed: int = 0,
    description: str = "",
    _source: Mapping[str, Any] | None = None,
) -> TaskSpec:
    """A classification task of your own labelled texts (a DataFrame or a ``datasets.Dataset``).

    Every input problem raises :class:`~nlpdiff.errors.ParameterError` here, before anything
    trains: a column that does not exist; an empty text (a missing cell — None, NaN, an empty CSV
    cell — or one of only whitespace) or a cell that is not a string; a missing label; a single
    class; a held-out split that leaves a class out of training.

    Args:
        data: the rows, one sample each.
        text: the column of texts.
        label: the column of labels: strings (``"pos"``, ``"4 stars"``) or integers.
        text_pair: optionally, the column of second texts of a text pair (e.g. the hypothesis of a
            premise/hypothesis pair); the two are encoded together.
        name: the task's name (letters, digits, ``_ . -``), used by :func:`register_task`.
        label_names: class names by id. Without it, the classes are the sorted distinct labels
            (numbers as numbers, strings as strings). With it, string labels are looked up in it and
            integer labels are taken as ids ``0..len(label_names)-1``.
        heldout: held-out rows (a DataFrame or Dataset with the same columns), or None to carve them
            from ``data``.
        heldout_fraction: without ``heldout``, the fraction of rows held out for evaluation, drawn
            stratified by label with ``seed`` (default :data:`DEFAULT_HELDOUT_FRACTION`, 0.2; 0 for
            no held-out evaluation). Every class keeps at least one training row.
        seed: seed of the held-out draw (an integer >= 0).
        description: free text recorded in the spec.

    Returns:
        A :class:`TaskSpec` holding its splits in memory: ``train`` and, unless
        ``heldout_fraction=0``, ``heldout``. Each row keeps ``row_idx``, its position in ``data`` (or
        in ``heldout`` for given held-out rows), and the label column holds the class ids; the
        mapping is ``spec.label_names``. ``spec.source`` records where the data came from and a
        SHA-256 of its content.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ParameterError("name", name, "a name of letters, digits, '_', '.' or '-' (starting with a letter or digit)")
    seed = _check_seed(seed)
    frame, container = _as_frame(data, "data")
    roles = {"text": text, "label": label}
    if text_pair is not None:
        roles["text_pair"] = text_pair
    for param, value in (("text", text), ("label", label), ("text_pair", text_pair)):
        if value is not None and not isinstance(value, str):
            raise ParameterError(param, value, "a column name (str)")
    if text_pair is not None and text_pair == text:
        raise ParameterError("text_pair", text_pair, f"a column other than text ({text!r})")
    if label in (text, text_pair):
        raise ParameterError("label", label, "a column other than the text column(s)")
    _check_columns(frame, {"text": text, "text_pair": text_pair, "label": label}, "the data")
    if len(frame) == 0:
        raise ParameterError("data", "0 rows", "at least one row per class")
    for role in ("text", "text_pair"):
        if role in roles:
            _check_texts(frame, roles[role], role, "the data")
    if label_names is None and container["kind"] == "dataset":
        feature = data.features.get(label)
        if getattr(feature, "names", None):  # a ClassLabel: its names are the classes
            label_names = list(feature.names)
    integer_labels = _is_integer_like(frame[label].dropna())
    ids, names = _label_ids(frame[label], label_names, label, "the data")
    present = np.unique(ids)
    if len(present) < 2:
        raise ParameterError("label", label, "a column with at least two classes",
                             hint=f"every row has the label {names[int(present[0])]!r}")
    frame[label] = ids
    frame.insert(0, ROW_INDEX, np.arange(len(frame), dtype=np.int64))

    if heldout is not None:
        held, _ = _as_frame(heldout, "heldout")
        _check_columns(held, {"text": text, "text_pair": text_pair, "label": label}, "the held-out data")
        for role in ("text", "text_pair"):
            if role in roles:
                _check_texts(held, roles[role], role, "the held-out data")
        held_ids = _heldout_ids(held[label], names, label_names, integer_labels, label) if len(held) else \
            np.zeros(0, dtype=np.int64)
        held[label] = held_ids
        held.insert(0, ROW_INDEX, np.arange(len(held), dtype=np.int64))
        train = frame
        fraction = None
    else:
        if (isinstance(heldout_fraction, (bool, np.bool_)) or not isinstance(heldout_fraction, (int, float, np.number))
                or not 0 <= heldout_fraction < 1):
            raise ParameterError("heldout_fraction", heldout_fraction, "a number in [0, 1)")
        fraction = float(heldout_fraction)
        n_held = int(np.floor(fraction * len(frame) + 0.5))
        if fraction > 0 and n_held == 0:
            n_held = 1
        if n_held:
            chosen = subsample(frame, n_held, seed=seed, stratify=label, param="heldout_fraction")[ROW_INDEX]
            is_held = np.zeros(len(frame), dtype=bool)
            is_held[chosen.to_numpy()] = True
            held, train = frame[is_held].reset_index(drop=True), frame[~is_held].reset_index(drop=True)
        else:
            held, train = None, frame
    train_classes = set(np.unique(train[label]).tolist())
    left = [names[i] for i in present.tolist() if i not in train_classes]
    if left:  # only a carved held-out split can take a class's every row
        raise ParameterError("heldout_fraction", heldout_fraction,
                             "a fraction that leaves every class some training rows",
                             hint=f"no training row left of class(es) {left}")
    data_splits = {"train": train}
    if held is not None and len(held):
        data_splits["heldout"] = held
    source = dict(_source) if _source is not None else {**container, "sha256": _frame_sha256(frame)}
    if heldout is not None and "heldout_path" not in source:
        source["heldout_sha256"] = _frame_sha256(held)
    source.update({
        "rows": int(len(frame)),
        "roles": dict(roles),
        "label_names": list(names),
        "heldout": "given" if heldout is not None else {"fraction": fraction, "seed": seed, "stratified_by": label},
    })
    return TaskSpec(
        name=name,
        kind="classification",
        roles=roles,
        label_names=names,
        splits=tuple(data_splits),
        train_split="train",
        eval_split="heldout" if "heldout" in data_splits else None,
        description=description or f"Your data ({source['kind']}): {len(frame):,} rows, {len(names)} classes.",
        columns=tuple(str(c) for c in frame.columns if c != ROW_INDEX),
        local_rows=tuple((s, len(f)) for s, f in data_splits.items()),
        data_source=source,
        data=data_splits,
    )


_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")


#: Field separators :func:`from_csv` recognises, with the words its messages use for them.
SEPARATORS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _sep_flag(sep: str) -> str:
    return "--sep '\\t'" if sep == "\t" else f"--sep '{sep}'"


def _decode_csv(file: Path, encoding: str | None, param: str) -> tuple[str, str]:
    """The text of ``file`` and the encoding it was read with.

    ``encoding=None``: UTF-8, without a leading byte-order mark (``utf-8-sig``). A file that is not
    valid UTF-8 is refused with a hint naming the likely encoding (Latin-1 / Windows-1252, UTF-16),
    never read with a guess.
    """
    raw = file.read_bytes()
    if encoding is None or str(encoding).lower().replace("_", "-") in ("utf-8", "utf8"):
        if raw.startswith(_UTF16_BOMS) and encoding is None:
            raise ParameterError("encoding", "utf-8", "the file's encoding",
                                 hint=f"{file.name} starts with a UTF-16 byte-order mark: pass --encoding utf-16 "
                                      "(encoding='utf-16')")
        try:
            return raw.decode("utf-8-sig"), "utf-8-sig" if raw.startswith(_UTF8_BOM) else "utf-8"
        except UnicodeDecodeError as exc:
            line = raw[:exc.start].count(b"\n") + 1
            hint = (f"{file.name} is not UTF-8: byte 0x{raw[exc.start]:02x} in line {line}")
            try:
                raw.decode("cp1252")
                hint += ("; it reads as Latin-1 / Windows-1252: pass --encoding latin-1 "
                         "(or cp1252; encoding='latin-1')")
            except UnicodeDecodeError:
                hint += "; pass its encoding with --encoding (encoding=...), e.g. latin-1"
            raise ParameterError("encoding", encoding or "utf-8",
                                 "the file's encoding", hint=hint) from exc
    import codecs

    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError) as exc:
        raise ParameterError("encoding", encoding, "an encoding Python knows, such as utf-8, latin-1, cp1252 "
                             "or utf-16") from exc
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ParameterError("encoding", encoding, "the file's encoding",
                             hint=f"byte 0x{raw[exc.start]:02x} in line {line} of {file.name} is not {encoding}; "
                                  "UTF-8 files need no --encoding") from exc
    return text.lstrip("\ufeff"), encoding


def _header(text: str, sep: str) -> list[str]:
    """The first record of ``text`` split at ``sep`` (quotes honoured)."""
    import csv
    import io

    try:
        return [c.strip() for c in next(csv.reader(io.StringIO(text[:65536]), delimiter=sep), [])]
    except csv.Error:
        return []


def _guess_sep(text: str, file: Path, columns: Sequence[str]) -> str:
    """The field separator of a delimited text: ``.tsv``/``.tab`` files are tab-separated; otherwise
    the first of :func:`csv.Sniffer`'s guess, comma, tab, semicolon and pipe whose header row holds
    every column in ``columns``; else the sniffer's guess, else a comma."""
    import csv

    candidates = list(SEPARATORS)
    if file.suffix.lower() in (".tsv", ".tab"):
        candidates = ["\t", *candidates]
    sniffed = None
    try:
        sample = "\n".join(text[:65536].splitlines()[:50])
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(SEPARATORS)).delimiter
        candidates.insert(0 if file.suffix.lower() not in (".tsv", ".tab") else 1, sniffed)
    except csv.Error:
        pass
    wanted = [c for c in columns if c]
    for sep in dict.fromkeys(candidates):
        if all(c in _header(text, sep) for c in wanted):
            return sep
    if file.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    return sniffed or ","


def _sep_hint(text: str, sep: str, columns: Sequence[str]) -> str | None:
    """ "the file looks tab-separated: pass --sep '\\t'" when another separator than ``sep`` splits the
    header into the wanted ``columns`` (or into more fields), else None."""
    wanted = [c for c in columns if c]
    here = _header(text, sep)
    for other, word in SEPARATORS.items():
        if other == sep:
            continue
        fields = _header(text, other)
        if (wanted and all(c in fields for c in wanted)) or (not wanted and len(fields) > max(len(here), 1)):
            return f"the file looks {word}-separated: pass {_sep_flag(other)} (sep={other!r})"
    return None


def from_csv(
    path: str | os.PathLike,
    text: str,
    label: str,
    text_pair: str | None = None,
    name: str | None = None,
    label_names: Sequence[Any] | None = None,
    heldout: str | os.PathLike | pd.DataFrame | None = None,
    heldout_fraction: float = DEFAULT_HELDOUT_FRACTION,
    seed: int = 0,
    sep: str | None = None,
    encoding: str | None = None,
    **read_csv: Any,
) -> TaskSpec:
    """A classification task of a CSV file of labelled texts (see :func:`from_frame`).

    The file is read with :func:`pandas.read_csv` with every column as text and only an empty
    cell counting as missing (``"NA"`` or ``"None"`` stay texts); a label column whose every value
    is an integer (``1`` .. ``5`` stars) is read as integers, so its classes sort as numbers.

    ``sep``: the field separator; None guesses it (:func:`_guess_sep`: a ``.tsv`` file is
    tab-separated, else :class:`csv.Sniffer` and the header row, which must name the ``text`` and
    ``label`` columns: comma, tab, semicolon or pipe). ``encoding``: None reads UTF-8 with or without
    a byte-order mark; a file that is not UTF-8 is refused with a hint (Latin-1: ``encoding="latin-1"``).
    A file that does not parse, or whose header lacks the columns, gets an error naming the likely
    cause ("the file looks tab-separated: pass --sep '\\t'"). ``read_csv`` passes further options.
    ``name`` defaults to the file's stem. ``heldout`` may be a second CSV file (read the same way).
    ``spec.source`` records the file's absolute path and SHA-256, and the separator and encoding
    when they are not comma and UTF-8 (``utf-8-sig``: UTF-8 with a byte-order mark).
    """
    import io

    if not isinstance(path, (str, os.PathLike)):
        raise ParameterError("path", path, "the path of a CSV file")
    file = Path(path).expanduser()
    if not file.is_file():
        raise ParameterError("path", str(path), "an existing CSV file", hint=f"{file.resolve()} does not exist")
    if sep is not None and (not isinstance(sep, str) or not sep or sep == "\n"):
        raise ParameterError("sep", sep, "a field separator such as ',', ';', '\\t' or '|'")
    if name is None:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", file.stem).strip("_.-") or "my_data"
    columns = [text, label, *([text_pair] if text_pair else [])]

    def read(f: Path, param: str) -> pd.DataFrame:
        content, used_encoding = _decode_csv(f, encoding, param)
        used = sep if sep is not None else _guess_sep(content, f, columns)
        options = {"dtype": str, "keep_default_na": False, "na_values": [""], "sep": used, **read_csv}
        try:
            df = pd.read_csv(io.StringIO(content), **options)
        except (ValueError, pd.errors.ParserError) as exc:
            first = str(exc).strip().splitlines()[0]
            why = _sep_hint(content, used, columns)
            if why is None and "Expected" in first and "fields" in first:
                why = (f"a row has more fields than the header: a text with an unquoted "
                       f"{SEPARATORS.get(used, repr(used))}? quote such texts, or pass the file's separator "
                       "with --sep")
            raise ParameterError(param, str(f), f"a readable {SEPARATORS.get(used, repr(used))}-separated file",
                                 hint=f"{first}; {why}" if why else first) from exc
        df.columns = [c.strip() if isinstance(c, str) else c for c in df.columns]
        missing = [c for c in columns if c not in df.columns]
        if missing:
            why = _sep_hint(content, used, columns)
            if why:
                raise ParameterError("sep", used, f"the separator of {f.name}",
                                     hint=f"with it the header is {list(df.columns)[:5]}; {why}")
        if label in df.columns:
            col = df[label]
            if len(col.dropna()) and all(_INTEGER.match(v) for v in col.dropna()) and not col.isna().any():
                df[label] = col.astype(np.int64)
        df.attrs.update(sep=used, encoding=used_encoding)
        return df

    frame = read(file, "path")
    held = heldout
    if isinstance(heldout, (str, os.PathLike)):
        held_file = Path(heldout).expanduser()
        if not held_file.is_file():
            raise ParameterError("heldout", str(heldout), "an existing CSV file or None")
        held = read(held_file, "heldout")
    source = {"kind": "csv", "path": str(file.resolve()),
              "sha256": hashlib.sha256(file.read_bytes()).hexdigest()}
    if isinstance(heldout, (str, os.PathLike)):
        source["heldout_path"] = str(Path(heldout).expanduser().resolve())
    if frame.attrs["sep"] != ",":  # recorded when not the default, so that runs of comma files stay comparable
        source["sep"] = frame.attrs["sep"]
    if frame.attrs["encoding"] != "utf-8":  # utf-8-sig: UTF-8 that starts with a byte-order mark
        source["encoding"] = frame.attrs["encoding"]
    return from_frame(frame, text=text, label=label, text_pair=text_pair, name=name, label_names=label_names,
                      heldout=held, heldout_fraction=heldout_fraction, seed=seed, _source=source)


# ------------------------------------------------------------------------ a run's training data


def resolve_splits(task: str | TaskSpec, train_split: str | None = None,
                   eval_split: str | None = "default") -> tuple[str, str | None]:
    """The (training, held-out) splits of a run: ``train_split=None`` means the task's training
    split, ``eval_split="default"`` the task's held-out split, None no held-out evaluation. A
    held-out split equal to the training split is carved from the rows not drawn for training
    (:func:`prepare_training_data`)."""
    spec = get_task(task)
    train = train_split or spec.train_split
    held = spec.eval_split if eval_split == "default" else eval_split
    return train, held


def check_task_data(task: str | TaskSpec, splits: Iterable[str | None],
                    data_dir: str | os.PathLike | None = None, train_size: int | None = None,
                    batch_size: int | None = None) -> None:
    """Check, without loading anything, that every split in ``splits`` can be read.

    A user's task (in memory) must have the splits, and its training split (the first of
    ``splits``) at least ``train_size`` rows and, for the run's sample, at least ``batch_size``
    rows. A registry task read from a local data dir (the ``data_dir`` argument, else
    ``$NLPDIFF_DATA_DIR``) must have the files. From the hub nothing is checked here (the
    download reports its own errors); :func:`prepare_training_data` checks the rest.
    """
    spec = get_task(task)
    splits = list(splits)
    for split in splits:
        if split is None:
            continue
        if spec.data is not None:
            _check_split(spec, split, local=True)
        elif resolve_data_dir(data_dir) is not None:
            split_path(spec, split, data_dir)
    if spec.data is not None and splits and splits[0] is not None:
        rows = len(spec.data[splits[0]])
        if isinstance(train_size, (int, np.integer)) and not isinstance(train_size, bool) and train_size > rows:
            raise ParameterError("train_size", train_size, f"at most {rows} (the rows of the {splits[0]!r} split "
                                 f"of task {spec.name!r}), or None for every row")
        n = min(train_size, rows) if isinstance(train_size, (int, np.integer)) else rows
        if batch_size is not None and n < batch_size:
            raise ParameterError("batch_size", batch_size, f"at most the number of training rows ({n})",
                                 hint="lower batch_size or give more rows")
        held = splits[1] if len(splits) > 1 else None
        if held is not None and spec.kind == "classification":
            check_heldout_rows(spec, held, len(spec.data[held]))


#: A user's held-out split needs at least this many rows per class (so that its accuracy means something).
MIN_HELDOUT_PER_CLASS = 2


def check_heldout_rows(spec: TaskSpec, split: str, rows: int) -> None:
    """Refuse a held-out split of a user's classification task too small to evaluate on:
    fewer than :data:`MIN_HELDOUT_PER_CLASS` rows per class."""
    need = MIN_HELDOUT_PER_CLASS * (spec.num_labels or 2)
    if rows < need:
        raise ParameterError("eval_split", split, f"a held-out split of at least {need} rows "
                             f"({MIN_HELDOUT_PER_CLASS} per class) to measure how well the model learned",
                             hint=f"task {spec.name!r} holds {rows}: give more rows, a larger heldout_fraction, "
                                  "or eval_split=None for no held-out evaluation")


class PreparedData(NamedTuple):
    """``(spec, samples, heldout)`` of :func:`prepare_training_data`."""

    spec: TaskSpec
    samples: pd.DataFrame
    heldout: pd.DataFrame


def prepare_training_data(
    task: str | TaskSpec,
    train_split: str | None = None,
    eval_split: str | None = "default",
    train_size: int | str | None = None,
    eval_size: int | str | None = None,
    data_seed: int = 0,
    noise_rate: float = 0.0,
    noise_type: str = "uniform",
    data_dir: str | os.PathLike | None = None,
    batch_size: int | None = None,
) -> PreparedData:
    """Load, subsample and (for classification, optionally) corrupt the training data of a run.

    The training split (``train_split``, default the task's) is subsampled to ``train_size`` rows
    with ``data_seed`` (stratified by label for classification; by the true label for a task with
    real errors, :attr:`TaskSpec.clean_label`); the held-out split (``eval_split``:
    ``"default"`` the task's, None none) to ``eval_size``. With ``noise_rate`` > 0 the labels of
    ``round(noise_rate * n)`` training samples are corrupted (:func:`inject_noise`, seed
    ``data_seed + 1``). When the two splits are the same split, the held-out rows are drawn from the
    rows not drawn for training (disjoint by ``row_idx``).

    For classification it also checks, before anything trains, that every training text is
    non-empty, that the training samples hold at least two classes and, when ``batch_size`` is
    given, at least ``batch_size`` rows.

    Returns:
        ``(spec, samples, heldout)``. ``samples`` has ``sample_id``, the task's columns and, for
        classification, ``label`` (the id used in training), ``original_label`` and
        ``is_corrupted``; for the other kinds ``is_corrupted`` is False and ``label`` /
        ``original_label`` are the task's target (answers or summary). ``heldout`` is an empty frame
        with the task's columns when there is no held-out split.
    """
    spec = get_task(task)
    train_split, eval_split = resolve_splits(spec, train_split, eval_split)
    if train_split is None:
        raise ParameterError("train_split", None, f"a split of task {spec.name!r} to train on: {list(spec.splits)}",
                             hint=f"task {spec.name!r} has no training split of its own")
    classification = spec.kind == "classification"
    pool = load_split(spec, train_split, data_dir=data_dir)
    stratify = spec.label_field if classification else None
    # a task with real errors is stratified by its true labels, as the same texts on their clean labels
    # are (noisy_agnews and noisy_agnews_clean draw the same rows for the same data_seed)
    train = subsample(pool, train_size, seed=data_seed, stratify=(spec.clean_label or stratify) if classification
                      else None, param="train_size").reset_index(drop=True)
    if classification:
        for role in spec.input_roles:
            _check_texts(train, spec.column(role), role, f"the {train_split!r} split of task {spec.name!r}")
        present = np.unique(train[spec.label_field].to_numpy())
        if len(present) < 2:
            raise ParameterError("train_size", train_size, "a training sample with at least two classes",
                                 hint=f"every sampled row has label {spec.label_names[int(present[0])]!r}")
        if batch_size is not None and len(train) < batch_size:
            raise ParameterError("batch_size", batch_size, f"at most the number of training rows ({len(train)})",
                                 hint="lower batch_size or train on more rows")
    samples = train.copy()
    samples.insert(0, "sample_id", np.arange(len(train), dtype=np.int64))
    if classification and spec.clean_label is not None:
        # real annotator errors: the given labels are trained on, the true ones are the truth
        if noise_rate:
            raise ParameterError("noise_rate", noise_rate, f"0 for task {spec.name!r}, whose labels carry real errors",
                                 hint="for synthetic noise on the same texts train a task on the clean labels "
                                      "(noisy_agnews_clean)")
        if spec.clean_label not in train.columns:
            raise ParameterError("task", spec.name, f"a training split with the column {spec.clean_label!r} (true labels)")
        given = train[spec.label_field].to_numpy().astype(np.int64)
        samples["original_label"] = train[spec.clean_label].to_numpy().astype(np.int64)
        samples["label"] = given
        samples["is_corrupted"] = given != samples["original_label"].to_numpy()
    elif classification:
        labels = train[spec.label_field].to_numpy().astype(np.int64)
        confusion = None
        if noise_type == "empirical" and noise_rate:
            if spec.human_label is None or spec.human_label not in pool.columns:
                raise ParameterError("noise_type", noise_type, "'uniform' or 'class_conditional' for task "
                                     f"{spec.name!r}; 'empirical' needs a task with human labels beside the true "
                                     "ones (noisy_agnews_clean)")
            # measured on the whole training split, not on the run's sample
            confusion = error_confusion(pool[spec.human_label].to_numpy().astype(np.int64),
                                        pool[spec.label_field].to_numpy().astype(np.int64), spec.num_labels)
        noise = inject_noise(labels, noise_rate, kind=noise_type if confusion is not None or noise_type != "empirical"
                             else "uniform", num_classes=spec.num_labels, seed=data_seed + 1, confusion=confusion)
        samples["original_label"] = noise.original_labels
        samples["label"] = noise.labels
        samples["is_corrupted"] = noise.corrupted
    else:
        samples["original_label"] = train[spec.label_field]
        samples["is_corrupted"] = False
        if noise_rate:
            if noise_type != "uniform":
                raise ParameterError("noise_type", noise_type, f"'uniform' for a {spec.kind} task",
                                     hint="its samples to corrupt are drawn uniformly; class-conditional noise needs classes")
            noise = corrupt_targets(train, spec, noise_rate, seed=data_seed + 1)
            samples[spec.label_field] = noise.targets
            samples["is_corrupted"] = noise.corrupted
        samples["label"] = samples[spec.label_field]
    heldout = train.iloc[:0]  # no held-out split: an empty frame with the task's columns
    if eval_split is not None:
        if eval_split == train_split:
            # one split for both (SNLI offline has only its dev split): the held-out rows are drawn from
            # the rows not drawn for training, so a held-out figure never scores a training sample
            heldout = pool[~pool[ROW_INDEX].isin(train[ROW_INDEX])]
            if len(heldout) == 0:
                raise ParameterError("eval_size", eval_size, f"held-out rows left in split {eval_split!r}",
                                     hint="train_size takes every row of it; lower train_size or set eval_split=None")
        else:
            heldout = load_split(spec, eval_split, data_dir=data_dir)
        if eval_size is not None:
            heldout = subsample(heldout, eval_size, seed=data_seed, stratify=stratify, param="eval_size")
    return PreparedData(spec, samples, heldout.reset_index(drop=True))
