"""Loading a task's split: from a local folder of parquet files in the hub's schema, or from the Hugging Face hub."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nlpdiff.errors import ParameterError
from nlpdiff.tasks.spec import DATA_DIR_ENV, ROW_INDEX, TaskSpec, data_source, resolve_data_dir  # noqa: F401
from nlpdiff.tasks.catalogue import TASKS, get_task  # noqa: F401


# --------------------------------------------------------------------------------------- loading


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
