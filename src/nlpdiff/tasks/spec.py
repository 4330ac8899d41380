"""A task's declaration (:class:`TaskSpec`: kind, column roles, labels, splits, where its data come from) and the constants every part of the package reads."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import pandas as pd

from nlpdiff.errors import ParameterError


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


def _spec_from_kwargs(kwargs: dict[str, Any]) -> TaskSpec:
    return TaskSpec(**kwargs)
