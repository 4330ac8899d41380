"""Users' own data as tasks: a data frame of labelled texts (:func:`from_frame`; a delimited file:
:func:`from_csv` in :mod:`nlpdiff.tasks.user_files`)."""

from __future__ import annotations

import hashlib
import re
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from nlpdiff.errors import ParameterError
from nlpdiff.tasks.spec import DEFAULT_HELDOUT_FRACTION, ROW_INDEX, TaskSpec  # noqa: F401
from nlpdiff.tasks.loading import _to_frame  # noqa: F401
from nlpdiff.tasks.sampling import _check_seed, subsample  # noqa: F401


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


def _roles(text, label, text_pair) -> dict[str, str]:
    """The column roles of :func:`from_frame`, each a column name, the text columns and the label distinct."""
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
    return roles


def _given_heldout(heldout, roles: dict[str, str], names, label_names, integer_labels: bool) -> pd.DataFrame:
    """Held-out rows given by the user, checked like the data and labelled with the data's class ids."""
    label = roles["label"]
    held, _ = _as_frame(heldout, "heldout")
    _check_columns(held, {"text": roles["text"], "text_pair": roles.get("text_pair"), "label": label},
                   "the held-out data")
    for role in ("text", "text_pair"):
        if role in roles:
            _check_texts(held, roles[role], role, "the held-out data")
    held_ids = _heldout_ids(held[label], names, label_names, integer_labels, label) if len(held) else \
        np.zeros(0, dtype=np.int64)
    held[label] = held_ids
    held.insert(0, ROW_INDEX, np.arange(len(held), dtype=np.int64))
    return held


def _check_fraction(heldout_fraction) -> float:
    if (isinstance(heldout_fraction, (bool, np.bool_)) or not isinstance(heldout_fraction, (int, float, np.number))
            or not 0 <= heldout_fraction < 1):
        raise ParameterError("heldout_fraction", heldout_fraction, "a number in [0, 1)")
    return float(heldout_fraction)


def _carve_heldout(frame: pd.DataFrame, fraction: float, seed: int, label: str):
    """(held-out rows or None, training rows): ``fraction`` of the rows (at least one when > 0), stratified by label."""
    n_held = int(np.floor(fraction * len(frame) + 0.5))
    if fraction > 0 and n_held == 0:
        n_held = 1
    if not n_held:
        return None, frame
    chosen = subsample(frame, n_held, seed=seed, stratify=label, param="heldout_fraction")[ROW_INDEX]
    is_held = np.zeros(len(frame), dtype=bool)
    is_held[chosen.to_numpy()] = True
    return frame[is_held].reset_index(drop=True), frame[~is_held].reset_index(drop=True)


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
    roles = _roles(text, label, text_pair)
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
        held = _given_heldout(heldout, roles, names, label_names, integer_labels)
        train, fraction = frame, None
    else:
        fraction = _check_fraction(heldout_fraction)
        held, train = _carve_heldout(frame, fraction, seed, label)
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

