"""The wide container of one pass of a run's dynamics (:class:`Dynamics`) and the blocked row reductions the scores use."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from nlpdiff import schema
from nlpdiff.errors import ParameterError


#: The two passes the training engine records.
PASSES = ("eval", "train")

#: What a score measures: ``"difficulty"`` (higher = harder; ranked, compared and used to detect
#: label errors) or ``"ambiguity"`` (higher = more ambiguous, the x axis of a data map; shown
#: beside the difficulty scores, never ranked among them).
AXES = ("difficulty", "ambiguity")

#: The value columns every head records (:data:`nlpdiff.rundir.DYNAMICS_COLUMNS` and the common
#: extras). They are attributes of :class:`Dynamics` that are ``None`` when not recorded; any
#: other numeric column of ``dynamics.parquet`` (QA's ``f1``, or anything a head adds) is kept
#: too, under its own name (see :meth:`Dynamics.get`).
VALUE_COLUMNS = schema.VALUE_COLUMNS

#: Columns of ``dynamics.parquet`` that index the rows rather than hold per-sample values.
KEY_COLUMNS = schema.KEY_COLUMNS

#: Names accepted for the checkpoint-time arrays (the frame's column, or the attribute).
_TIME_ALIASES = {"step": "steps", "steps": "steps", "epoch": "epochs", "epochs": "epochs"}

#: Rows per block in the blocked reductions (bounds temporaries to a few MB per block).
_BLOCK_ROWS = 1 << 15


# ---------------------------------------------------------------------------------------------
# The wide container
# ---------------------------------------------------------------------------------------------


class Dynamics:
    """One pass of a run's recorded dynamics, pivoted to wide ``(N, T)`` arrays.

    Rows are samples sorted by ``sample_id``; columns are checkpoints sorted in time. Every value
    column is optional; a score that needs an absent column raises
    :class:`~nlpdiff.errors.ParameterError`, and :func:`compute_scores` skips it.

    Attributes:
        sample_ids: ``(N,)`` int64, sorted ascending, unique.
        checkpoints: ``(T,)`` checkpoint ids, ascending (the ``checkpoint`` column).
        pass_: ``"eval"`` or ``"train"``.
        steps: global optimiser step of each checkpoint, ``(T,)``; or ``(N, T)`` when it differs
            per sample (the training pass: the step at which the sample was seen). ``None`` if not
            recorded.
        epochs: fraction of training epochs done at each checkpoint, ``(T,)`` (or ``(N, T)``).
        values: every recorded value column, name -> ``(N, T)`` array (any float dtype; ``correct``
            may also be bool).
        loss, gold_prob, correct, margin, entropy, el2n, loss_sum, n_tokens: the standard columns
            (:data:`VALUE_COLUMNS`) as attributes, ``None`` when not recorded. Any other column
            is an attribute too (``dyn.f1``) and is read safely with ``dyn.get("f1")``.

    Build it with :meth:`from_frame` from the long ``dynamics.parquet`` table (which keeps every
    numeric column), or directly from arrays, ``Dynamics(ids, ckpts, loss=..., f1=...)`` (the
    constructor checks shapes only; call :meth:`validate` to check finiteness). Read-only.
    """

    __slots__ = ("sample_ids", "checkpoints", "pass_", "steps", "epochs", "values")

    def __init__(
        self,
        sample_ids: Any,
        checkpoints: Any,
        pass_: str = "eval",
        steps: Any = None,
        epochs: Any = None,
        values: Mapping[str, Any] | None = None,
        **columns: Any,
    ) -> None:
        sample_ids = np.asarray(sample_ids)
        checkpoints = np.asarray(checkpoints)
        if pass_ not in PASSES:
            raise ParameterError("pass_", pass_, f"one of {PASSES}")
        if sample_ids.ndim != 1:
            raise ParameterError("sample_ids", sample_ids.shape, "a 1-D array")
        if checkpoints.ndim != 1 or checkpoints.size == 0:
            raise ParameterError("checkpoints", checkpoints.shape, "a non-empty 1-D array")
        n, t = sample_ids.shape[0], checkpoints.shape[0]
        merged: dict[str, np.ndarray] = {}
        for name, value in list((values or {}).items()) + list(columns.items()):
            if not isinstance(name, str) or not name.isidentifier() or name in KEY_COLUMNS or name in self.__slots__:
                raise ParameterError("Dynamics column", name, f"an identifier other than {KEY_COLUMNS + self.__slots__}")
            if value is None:
                continue
            value = np.asarray(value)
            if value.shape != (n, t):
                raise ParameterError(name, f"array of shape {value.shape}", f"shape (N, T) = {(n, t)}")
            merged[name] = value
        times = {}
        for name, value in (("steps", steps), ("epochs", epochs)):
            if value is not None:
                value = np.asarray(value)
                if value.shape not in ((t,), (n, t)):
                    raise ParameterError(name, f"array of shape {value.shape}", f"shape (T,) = {(t,)} or (N, T) = {(n, t)}")
            times[name] = value
        # standard columns first (in VALUE_COLUMNS order), then the others in the order given
        ordered = {c: merged[c] for c in VALUE_COLUMNS if c in merged}
        ordered.update((c, v) for c, v in merged.items() if c not in ordered)
        for name, value in (("sample_ids", sample_ids), ("checkpoints", checkpoints), ("pass_", pass_),
                            ("steps", times["steps"]), ("epochs", times["epochs"]),
                            ("values", MappingProxyType(ordered))):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Dynamics is read-only (cannot set {name!r})")

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: a value column by name
        if name == "values" or name.startswith("__"):
            raise AttributeError(name)
        values = object.__getattribute__(self, "values")
        if name in values:
            return values[name]
        if name in VALUE_COLUMNS:
            return None
        raise AttributeError(f"Dynamics of the {self.pass_!r} pass has no column {name!r} (recorded: "
                             f"{', '.join(values) or 'none'})")

    def __reduce__(self):
        return (_rebuild_dynamics, (self.sample_ids, self.checkpoints, self.pass_, self.steps, self.epochs, dict(self.values)))

    def __repr__(self) -> str:
        return (f"Dynamics(pass_={self.pass_!r}, N={self.n_samples}, T={self.n_checkpoints}, "
                f"columns={list(self.columns)})")

    # -- basic properties -----------------------------------------------------------------------

    @property
    def n_samples(self) -> int:
        return int(self.sample_ids.shape[0])

    @property
    def n_checkpoints(self) -> int:
        return int(self.checkpoints.shape[0])

    @property
    def columns(self) -> tuple[str, ...]:
        """The value columns recorded: the standard ones (:data:`VALUE_COLUMNS` order), then any other."""
        return tuple(self.values)

    @property
    def checkpoint_steps(self) -> np.ndarray | None:
        """Alias of :attr:`steps` (``(T,)`` for the eval pass, possibly ``(N, T)`` for the train pass)."""
        return self.steps

    def get(self, name: str, default: Any = None) -> Any:
        """The ``(N, T)`` array of a value column (or ``steps``/``step``, ``epochs``/``epoch``); ``default`` if absent."""
        if name in _TIME_ALIASES:
            value = object.__getattribute__(self, _TIME_ALIASES[name])
            return default if value is None else value
        return self.values.get(name, default)

    def require(self, *names: str) -> None:
        """Raise :class:`ParameterError` unless every named column (or ``steps``) is present."""
        for name in names:
            if self.get(name) is None:
                raise ParameterError(
                    f"dynamics.{name}",
                    None,
                    f"a recorded '{name}' column in the {self.pass_!r} pass",
                    hint=f"present: {', '.join(self.columns) or 'none'}",
                )

    def validate(self) -> "Dynamics":
        """Check that every present column is finite; the error names the sample and checkpoint."""
        for name, value in list(self.values.items()) + [("steps", self.steps), ("epochs", self.epochs)]:
            if value is None or value.dtype == bool:
                continue
            _check_finite(name, value, self.sample_ids, self.checkpoints, self.pass_)
        return self

    # -- construction from the long table -------------------------------------------------------

    @classmethod
    def from_frame(cls, df: pd.DataFrame, pass_: str = "eval") -> "Dynamics":
        """Pivot the long ``dynamics.parquet`` table (one row per sample, checkpoint, pass) to wide arrays.

        Only the rows of ``pass_`` are used (a frame without a ``pass`` column is taken as all
        ``"eval"``). Every numeric or boolean column other than :data:`KEY_COLUMNS` becomes a
        value column (the standard :data:`VALUE_COLUMNS` and whatever a head adds, such as QA's
        ``f1``); text columns are ignored. Vectorised: ``np.unique`` + scatter, no loop over
        samples.

        A value column that is entirely null within the pass is treated as not recorded. Raises
        :class:`ParameterError` when the pass has no rows, when a (sample, checkpoint) pair is
        missing or duplicated, or when a recorded column holds NaN / inf at some (sample,
        checkpoint); the message names the sample_id, the checkpoint and the pass.
        """
        df = _rows_of_pass(df, pass_)
        sample_ids, checkpoints, flat = _positions(df, pass_)
        n, t = sample_ids.size, checkpoints.size

        def pivot(col: str) -> np.ndarray | None:
            if col not in df.columns:
                return None
            values = df[col].to_numpy(dtype=np.float64, na_value=np.nan)
            if np.isnan(values).all():
                return None
            wide = np.empty(n * t, dtype=np.float64)
            wide[flat] = values
            return wide.reshape(n, t)

        names = [c for c in df.columns if isinstance(c, str) and c not in KEY_COLUMNS and _is_value_column(df[c])]
        arrays = {}
        for col in names:
            wide = pivot(col)
            if wide is not None:
                _check_finite(col, wide, sample_ids, checkpoints, pass_)
                arrays[col] = wide
        steps = pivot("step")
        epochs = pivot("epoch")
        for name, wide in (("step", steps), ("epoch", epochs)):
            if wide is not None:
                _check_finite(name, wide, sample_ids, checkpoints, pass_)
        return cls(
            sample_ids=sample_ids.astype(np.int64, copy=False),
            checkpoints=checkpoints,
            pass_=pass_,
            steps=_collapse(steps),
            epochs=_collapse(epochs),
            values=arrays,
        )


def _rows_of_pass(df: pd.DataFrame, pass_: str) -> pd.DataFrame:
    """The rows of ``pass_`` in a long dynamics table (all rows when it has no ``pass`` column and
    ``pass_ == "eval"``), after checking the table's shape; never empty."""
    if pass_ not in PASSES:
        raise ParameterError("pass_", pass_, f"one of {PASSES}")
    if not isinstance(df, pd.DataFrame):
        raise ParameterError("dynamics_df", type(df).__name__, "a pandas DataFrame")
    for col in ("sample_id", "checkpoint"):
        if col not in df.columns:
            raise ParameterError("dynamics_df.columns", list(df.columns), f"a '{col}' column")
    if "pass" in df.columns:
        unknown = set(map(str, df["pass"].unique())) - set(PASSES)
        if unknown:
            raise ParameterError("dynamics.pass", sorted(unknown), f"values in {PASSES}")
        df = df.loc[(df["pass"] == pass_).to_numpy(dtype=bool, na_value=False)]
    elif pass_ != "eval":
        df = df.iloc[:0]
    if len(df) == 0:
        raise ParameterError("pass_", pass_, "a pass with recorded rows in the dynamics table")
    return df


def _positions(df: pd.DataFrame, pass_: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sorted sample ids, sorted checkpoints, each row's position in the flattened samples x checkpoints
    grid), after checking that every (sample, checkpoint) pair has exactly one row."""
    sid_raw = df["sample_id"].to_numpy()
    ckpt_raw = df["checkpoint"].to_numpy()
    if pd.isna(sid_raw).any() or pd.isna(ckpt_raw).any():
        raise ParameterError("dynamics.sample_id/checkpoint", "null", "no null sample_id or checkpoint")
    sample_ids, s_idx = np.unique(sid_raw, return_inverse=True)
    checkpoints, c_idx = np.unique(ckpt_raw, return_inverse=True)
    n, t = sample_ids.size, checkpoints.size
    flat = s_idx.astype(np.int64) * t + c_idx
    counts = np.bincount(flat, minlength=n * t)
    if (counts != 1).any():
        bad = np.flatnonzero(counts != 1)
        first = int(bad[0])
        sid, ck = sample_ids[first // t], checkpoints[first % t]
        if counts[first] == 0:
            n_bad = int((counts == 0).sum())
            raise ParameterError(
                "dynamics.checkpoint",
                "missing",
                f"a row for every (sample_id, checkpoint) of the {pass_!r} pass "
                f"(checkpoints {_short(checkpoints)})",
                hint=f"sample_id={_item(sid)} has no row for checkpoint={_item(ck)} in pass {pass_!r}; "
                f"{n_bad} (sample_id, checkpoint) pair(s) missing in total",
            )
        raise ParameterError(
            "dynamics.checkpoint",
            "duplicated",
            f"exactly one row per (sample_id, checkpoint) in the {pass_!r} pass",
            hint=f"sample_id={_item(sid)}, checkpoint={_item(ck)} has {int(counts[first])} rows",
        )
    return sample_ids, checkpoints, flat


def _rebuild_dynamics(sample_ids, checkpoints, pass_, steps, epochs, values) -> Dynamics:
    return Dynamics(sample_ids, checkpoints, pass_, steps, epochs, values)


def _is_value_column(series: pd.Series) -> bool:
    """Numeric or boolean (also an object column of numbers/bools with nulls); not text, not dates."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return True
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return not pd.api.types.is_timedelta64_dtype(dtype)
    if dtype == object:
        kind = pd.api.types.infer_dtype(series, skipna=True)
        return kind in ("boolean", "integer", "floating", "mixed-integer-float", "decimal", "empty")
    return False


def _item(x: Any) -> Any:
    return x.item() if hasattr(x, "item") else x


def _short(values: np.ndarray, k: int = 6) -> str:
    vals = [str(_item(v)) for v in values[:k]]
    return ", ".join(vals) + (", ..." if len(values) > k else "")


def _collapse(wide: np.ndarray | None) -> np.ndarray | None:
    """(N, T) -> (T,) when every sample has the same value at each checkpoint."""
    if wide is None:
        return None
    if wide.shape[0] == 0 or (wide == wide[:1]).all():
        return wide[0].copy() if wide.shape[0] else np.empty(wide.shape[1])
    return wide


def _check_finite(name: str, values: np.ndarray, sample_ids: np.ndarray, checkpoints: np.ndarray, pass_: str) -> None:
    bad_total = 0
    first: tuple[int, int] | None = None
    for start, stop in _blocks(values.shape[0] if values.ndim == 2 else 1):
        block = values[start:stop] if values.ndim == 2 else values[None, :]
        bad = ~np.isfinite(block)
        if bad.any():
            count = int(bad.sum())
            if first is None:
                i, j = np.argwhere(bad)[0]
                first = (start + int(i), int(j))
            bad_total += count
    if first is not None:
        i, j = first
        value = values[i, j] if values.ndim == 2 else values[j]
        where = f"sample_id={_item(sample_ids[i])}, " if values.ndim == 2 else ""
        raise ParameterError(
            f"dynamics.{name}",
            float(value),
            "a finite number at every (sample_id, checkpoint)",
            hint=f"{where}checkpoint={_item(checkpoints[j])}, pass {pass_!r}; "
            f"{bad_total} non-finite value(s) in '{name}' in total",
        )


# ---------------------------------------------------------------------------------------------
# Blocked row reductions (bounded temporaries, no loop over samples)
# ---------------------------------------------------------------------------------------------


def _blocks(n: int, size: int = _BLOCK_ROWS) -> Iterable[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(start + size, n)


def _rowwise(func: Callable[..., np.ndarray], *arrays: np.ndarray | None) -> np.ndarray:
    """Apply ``func`` to row blocks of the 2-D arrays (1-D arrays are passed whole); concatenate.

    ``func`` must map blocks of ``b`` rows to a ``(b,)`` result.
    """
    two_d = [a for a in arrays if a is not None and np.ndim(a) == 2]
    n = two_d[0].shape[0]
    out = np.empty(n, dtype=np.float64)
    for start, stop in _blocks(n):
        args = [a[start:stop] if (a is not None and np.ndim(a) == 2) else a for a in arrays]
        out[start:stop] = func(*args)
    return out


def _row_sum(dyn: Dynamics, column: str, cols: slice = slice(None)) -> np.ndarray:
    dyn.require(column)
    values = dyn.get(column)
    return _rowwise(lambda b: b[:, cols].sum(axis=1, dtype=np.float64), values)


def _row_mean(dyn: Dynamics, column: str) -> np.ndarray:
    return _row_sum(dyn, column) / dyn.n_checkpoints


def _column_at(dyn: Dynamics, column: str, checkpoint: int) -> np.ndarray:
    dyn.require(column)
    t = dyn.n_checkpoints
    if not isinstance(checkpoint, (int, np.integer)) or not -t <= checkpoint < t:
        raise ParameterError("checkpoint", checkpoint, f"an integer position in [-{t}, {t - 1}] (T = {t} checkpoints)")
    return np.asarray(dyn.get(column)[:, checkpoint], dtype=np.float64)


def _is_correct(block: np.ndarray, threshold: float) -> np.ndarray:
    return block if block.dtype == bool else block >= threshold


def _check_threshold(threshold: float) -> None:
    if not (isinstance(threshold, (int, float, np.floating)) and 0.0 < threshold <= 1.0):
        raise ParameterError("threshold", threshold, "a number in (0, 1]")
