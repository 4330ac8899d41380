"""A run's training data: the splits it uses, the input checks before any training, and :func:`prepare_training_data`."""

from __future__ import annotations

import os
from typing import Iterable, NamedTuple

import numpy as np
import pandas as pd

from nlpdiff.errors import ParameterError
from nlpdiff.tasks.spec import ROW_INDEX, TaskSpec  # noqa: F401
from nlpdiff.tasks.catalogue import get_task  # noqa: F401
from nlpdiff.tasks.loading import _check_split, load_split, resolve_data_dir, split_path  # noqa: F401
from nlpdiff.tasks.sampling import subsample  # noqa: F401
from nlpdiff.tasks.noise import corrupt_targets, error_confusion, inject_noise  # noqa: F401
from nlpdiff.tasks.users import _check_texts  # noqa: F401


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


def _check_classification_sample(spec: TaskSpec, train: pd.DataFrame, train_split: str, train_size, batch_size) -> None:
    """The checks of a classification training sample, before anything trains: texts, two classes, a batch."""
    for role in spec.input_roles:
        _check_texts(train, spec.column(role), role, f"the {train_split!r} split of task {spec.name!r}")
    present = np.unique(train[spec.label_field].to_numpy())
    if len(present) < 2:
        raise ParameterError("train_size", train_size, "a training sample with at least two classes",
                             hint=f"every sampled row has label {spec.label_names[int(present[0])]!r}")
    if batch_size is not None and len(train) < batch_size:
        raise ParameterError("batch_size", batch_size, f"at most the number of training rows ({len(train)})",
                             hint="lower batch_size or train on more rows")


def _real_error_labels(spec: TaskSpec, train: pd.DataFrame, samples: pd.DataFrame, noise_rate: float) -> None:
    """A task with real annotator errors: the given labels are trained on, the true ones are the truth."""
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


def _noisy_class_labels(spec: TaskSpec, train: pd.DataFrame, samples: pd.DataFrame, pool: pd.DataFrame,
                        noise_rate: float, noise_type: str, data_seed: int) -> None:
    """Class labels with synthetic noise (:func:`inject_noise`, seed ``data_seed + 1``; ``empirical`` noise
    follows the human errors measured on the whole training split)."""
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


def _noisy_targets(spec: TaskSpec, train: pd.DataFrame, samples: pd.DataFrame, noise_rate: float, noise_type: str,
                   data_seed: int) -> None:
    """Targets that are not classes (answers, summaries), optionally corrupted (:func:`corrupt_targets`)."""
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


def _heldout(spec: TaskSpec, pool: pd.DataFrame, train: pd.DataFrame, train_split: str, eval_split: str | None,
             eval_size, data_seed: int, stratify: str | None, data_dir) -> pd.DataFrame:
    """The held-out rows (an empty frame with the task's columns when there is no held-out split)."""
    if eval_split is None:
        return train.iloc[:0]
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
    return heldout


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
        _check_classification_sample(spec, train, train_split, train_size, batch_size)
    samples = train.copy()
    samples.insert(0, "sample_id", np.arange(len(train), dtype=np.int64))
    if classification and spec.clean_label is not None:
        _real_error_labels(spec, train, samples, noise_rate)
    elif classification:
        _noisy_class_labels(spec, train, samples, pool, noise_rate, noise_type, data_seed)
    else:
        _noisy_targets(spec, train, samples, noise_rate, noise_type, data_seed)
    heldout = _heldout(spec, pool, train, train_split, eval_split, eval_size, data_seed, stratify, data_dir)
    return PreparedData(spec, samples, heldout.reset_index(drop=True))
