r"""Difficulty scores: pure functions from a run's recorded dynamics to one number per sample.

Convention, for every score: **higher = harder**. Every score sits on an *axis*
(:data:`AXES`): ``"difficulty"`` (the default) or ``"ambiguity"``. Cartography variability is the
one ambiguity score: high variability marks the "ambiguous" region of a data map, which is not
monotone in difficulty (never-learned samples vary little), so it is reported beside the difficulty
scores, not among them: :func:`difficulty_scores` lists the difficulty axis, and the analyses that
rank samples by difficulty (:func:`nlpdiff.compare.score_columns`,
:func:`nlpdiff.analysis.detection_table`) leave the ambiguity axis out unless asked. Each score function takes the wide container :class:`Dynamics` (one pass of
``dynamics.parquet`` pivoted to ``(N, T)`` arrays, with every numeric column a head recorded) plus
its parameters, and returns a float64 array of shape ``(N,)`` aligned with ``Dynamics.sample_ids``.

A score is registered once, where it is defined, with the :func:`score` decorator (or a
:func:`register` call for a second variant of the same function)::

    @score("mean_loss", needs=("eval.loss",), formula=r"$\tfrac{1}{T}\sum_t L_t(x)$",
           description="Mean loss over checkpoints, eval pass.", reference="Baseline",
           orientation="Higher average loss = harder.")
    def mean_loss_score(dyn): ...

The registration states what the score needs (columns of one pass, or the VoG table, class
labels, the number of classes, K-fold probabilities), its formula, its reference and its
orientation. :data:`SCORES` holds them in registration order, which is the column order of
``scores.parquet``; :func:`compute_scores` computes every registered score whose inputs are present
and records why it skipped the others; :func:`score_table` and :func:`score_table_markdown` render
the registry (the latter is the table of the book's Methods page, ``book/score_table.md``).

Notation (as on the book's Methods page): N samples, checkpoints ``t = 0..T-1`` in time order,
per-sample loss ``L_t`` (cross-entropy; mean token NLL for sequences), gold-label probability
``p_t``, margin ``M_t`` (gold logit minus the largest other logit), predictive entropy ``H_t``,
correctness ``c_t`` (bool for classification, token-accuracy fraction for sequences). The
references are listed in full in ``book/references.md``.

Every score is a per-sample function of that sample's own rows only (VoG's class normalisation and
AUM's threshold cut-off are the documented exceptions), so the scores do not depend on the order of
samples or rows. The work is vectorised with numpy over blocks of rows (no Python loop over
samples), which bounds the temporary memory to a few blocks whatever N is.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from nlpdiff import schema
from nlpdiff.errors import ParameterError

__all__ = [
    "Dynamics",
    "ScoreSpec",
    "SCORES",
    "PASSES",
    "VALUE_COLUMNS",
    "KEY_COLUMNS",
    "SPECIAL_NEEDS",
    "CITATIONS",
    "AXES",
    "difficulty_scores",
    "score_axis",
    "score_family",
    "family_members",
    "register",
    "score",
    "unregister",
    "compute_scores",
    "run_score_table",
    "score_table",
    "score_table_markdown",
    "write_score_table",
    # action score and loss baselines
    "action_score",
    "action_trapezoid_score",
    "early_action_score",
    "action_token_sum_score",
    "mean_loss_score",
    "final_loss_score",
    # dataset cartography
    "cartography_stats",
    "cartography_confidence_score",
    "cartography_variability_score",
    "cartography_correctness_score",
    # others
    "forgetting_events_score",
    "aum_score",
    "aum_threshold_samples",
    "aum_cutoff",
    "aum_flags",
    "el2n_score",
    "vog_score",
    "mean_entropy_score",
    "final_entropy_score",
    "learning_speed_score",
    "confident_learning_score",
    "kfold_indices",
]

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


# ---------------------------------------------------------------------------------------------
# The registry: one registration per score
# ---------------------------------------------------------------------------------------------

#: Inputs a score can declare in ``needs`` besides ``"<pass>.<column>"`` (a column of one pass of
#: ``dynamics.parquet``, e.g. ``"eval.loss"``, ``"train.step"``, ``"eval.f1"``).
SPECIAL_NEEDS = {
    "vog": "the per-sample VoG table (``vog.parquet``, written when a run is trained with ``vog=True``)",
    "labels": "class labels (the VoG table's or ``samples.parquet``'s ``label`` column)",
    "num_classes": "the number of classes (``compute_scores(num_classes=...)``)",
    "kfold_pred_probs": "out-of-sample predicted probabilities from K trainings (never in compute_scores)",
}

#: Short citations of the works in ``book/references.md``, by the key of their label there
#: (``(ref-<key>)=``); a score's ``cites`` use these keys and the book links them.
CITATIONS = {
    "arriaga2023": "Arriaga et al. 2023",
    "angelov2025": "Angelov et al. 2025",
    "swayamdipta2020": "Swayamdipta et al. 2020",
    "agarwal2022": "Agarwal et al. 2022",
    "pleiss2020": "Pleiss et al. 2020",
    "toneva2019": "Toneva et al. 2019",
    "paul2021": "Paul et al. 2021",
    "northcutt2021cl": "Northcutt et al. 2021",
    "chong2022": "Chong et al. 2022",
}


class _Unavailable(Exception):
    """A score's inputs are absent from the run (compute_scores skips it)."""


@dataclass(frozen=True, eq=False)
class ScoreSpec:
    """One registered score (made by :func:`register` or the :func:`score` decorator).

    Attributes:
        name: the column name in ``scores.parquet``.
        func: the public function that computes it.
        description: one line, for the notebooks' ``score_table()``.
        formula: the formula in MyST/LaTeX math, for the book's table (notation of the Methods page).
        reference: the reference in words (authors, venue; and what is this study's variant).
        cites: keys of :data:`CITATIONS` (labels of ``book/references.md``) the book links to.
        orientation: why higher = harder, or, when the score is registered as is, the reason.
        needs: what the score reads: ``"<pass>.<column>"`` (a column of one pass of the dynamics)
            and keys of :data:`SPECIAL_NEEDS`.
        params: fixed keyword arguments passed to ``func`` (e.g. the pass-independent column).
        min_checkpoints: fewer recorded checkpoints than this and the score is skipped.
        axis: one of :data:`AXES`: ``"difficulty"`` (higher = harder) or ``"ambiguity"``.
        family: the family of scores it belongs to, for pages that compare families (``"action"``: the
            action score and its variants, which the mean loss ranks like); by default its own name.
        compute: for a score whose inputs are not one pass of the dynamics: ``compute(ctx)``
            returns ``(sample_ids, values)`` or raises ``_Unavailable(reason)``; ``None`` for the
            default, ``func(Dynamics of the pass, **params)``.
    """

    name: str
    func: Callable[..., np.ndarray]
    description: str
    reference: str
    orientation: str
    needs: tuple[str, ...]
    formula: str = ""
    cites: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    min_checkpoints: int = 1
    compute: Callable[["_Context"], tuple[np.ndarray, np.ndarray]] | None = field(default=None, repr=False)
    axis: str = "difficulty"
    family: str = ""

    @property
    def dynamics_needs(self) -> list[tuple[str, str]]:
        """The ``(pass, column)`` pairs among :attr:`needs`."""
        out = []
        for need in self.needs:
            pass_, dot, column = need.partition(".")
            if dot and pass_ in PASSES:
                out.append((pass_, column))
        return out

    def run(self, ctx: "_Context") -> tuple[np.ndarray, np.ndarray]:
        """Compute the score on one run's inputs; raise ``_Unavailable`` when they are absent."""
        if self.compute is not None:
            return self.compute(ctx)
        pairs = self.dynamics_needs
        pass_ = pairs[0][0]
        d = ctx.dyn(pass_, *(c for _, c in pairs))
        if d.n_checkpoints < self.min_checkpoints:
            raise _Unavailable(f"fewer than {self.min_checkpoints} checkpoints")
        return d.sample_ids, self.func(d, **self.params)


#: The registry, in registration order (= the column order of ``scores.parquet``).
SCORES: dict[str, ScoreSpec] = {}


def register(
    name: str,
    func: Callable[..., np.ndarray],
    *,
    needs: Sequence[str],
    description: str,
    reference: str,
    orientation: str,
    formula: str = "",
    cites: Sequence[str] = (),
    params: Mapping[str, Any] | None = None,
    min_checkpoints: int = 1,
    compute: Callable[["_Context"], tuple[np.ndarray, np.ndarray]] | None = None,
    replace: bool = False,
    axis: str = "difficulty",
    family: str | None = None,
) -> ScoreSpec:
    """Register a difficulty score; :func:`compute_scores` then computes it on every run whose inputs it finds.

    The default way to compute it is ``func(dyn, **params)`` with ``dyn`` the :class:`Dynamics` of
    the one pass named in ``needs`` (every ``"<pass>.<column>"`` need must then name the same
    pass); when a needed column is not recorded the score is skipped, with the reason in
    ``compute_scores(...).attrs["skipped"]``. A score that needs anything else (the VoG table,
    the number of classes, K trainings) passes ``compute``. See :class:`ScoreSpec` for the fields;
    ``replace=True`` replaces a score of the same name (otherwise a duplicate name raises).
    ``axis="ambiguity"`` registers a score that is not a difficulty score (see :data:`AXES`);
    ``family`` groups variants of one score (:func:`family_members`; default: the score's own name).

    Example, a score on QA's per-checkpoint token F1 (recorded as the ``f1`` column)::

        register("f1_deficit", lambda d: 1 - d.f1.mean(axis=1), needs=("eval.f1",),
                 description="One minus the mean token F1 of the predicted span.",
                 reference="this study", orientation="Lower F1 through training = harder.")
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ParameterError("name", name, "a score name that is a Python identifier")
    if name in SCORES and not replace:
        raise ParameterError("name", name, "a name not registered yet (or replace=True)")
    if not callable(func):
        raise ParameterError("func", func, "a callable")
    needs = (needs,) if isinstance(needs, str) else tuple(needs)
    if not needs:
        raise ParameterError("needs", needs, "at least one input")
    for text, value in (("description", description), ("reference", reference), ("orientation", orientation)):
        if not isinstance(value, str) or not value.strip() or "\n" in value:
            raise ParameterError(text, value, "a non-empty one-line string")
    cites = (cites,) if isinstance(cites, str) else tuple(cites)
    unknown = [c for c in cites if c not in CITATIONS]
    if unknown:
        raise ParameterError("cites", unknown, f"keys of nlpdiff.scores.CITATIONS: {', '.join(CITATIONS)}")
    if not isinstance(min_checkpoints, int) or min_checkpoints < 1:
        raise ParameterError("min_checkpoints", min_checkpoints, "an integer >= 1")
    if axis not in AXES:
        raise ParameterError("axis", axis, f"one of {', '.join(AXES)}")
    if family is not None and (not isinstance(family, str) or not family.isidentifier()):
        raise ParameterError("family", family, "a family name that is a Python identifier, or None")
    spec = ScoreSpec(name, func, description, reference, orientation, needs, formula, cites,
                     MappingProxyType(dict(params or {})), min_checkpoints, compute, axis, family or name)
    if compute is None:
        passes = {p for p, _ in spec.dynamics_needs}
        others = [n for n in needs if n.partition(".")[0] not in PASSES]
        if len(passes) != 1 or others:
            raise ParameterError(
                "needs", needs, "columns of one pass only, '<pass>.<column>' with pass in "
                f"{PASSES} (a score that needs more passes compute=)",
            )
    else:
        for need in needs:
            head = need.partition(".")[0]
            if head not in PASSES and need not in SPECIAL_NEEDS and " or " not in need:
                raise ParameterError("needs", need, f"'<pass>.<column>' or one of {', '.join(SPECIAL_NEEDS)}")
    SCORES[name] = spec
    return spec


def score(name: str, **fields: Any) -> Callable[[Callable[..., np.ndarray]], Callable[..., np.ndarray]]:
    """Decorator form of :func:`register`: ``@score("action", needs=("eval.loss",), ...)`` over the function."""

    def decorate(func: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        register(name, func, **fields)
        return func

    return decorate


def difficulty_scores() -> list[str]:
    """Names of the registered scores on the difficulty axis (higher = harder), in registration order."""
    return [s.name for s in SCORES.values() if s.axis == "difficulty"]


def score_axis(name: str) -> str | None:
    """The axis of a registered score (:data:`AXES`), or None for a column that is not a registered score."""
    spec = SCORES.get(name)
    return spec.axis if spec is not None else None


def score_family(name: str) -> str | None:
    """The family of a registered score (``"action"`` for the action score and its variants), or None."""
    spec = SCORES.get(name)
    return spec.family if spec is not None else None


def family_members(family: str) -> tuple[str, ...]:
    """The registered scores of one family, in registration order (``family_members("action")``)."""
    return tuple(s.name for s in SCORES.values() if s.family == family)


def unregister(name: str) -> ScoreSpec:
    """Remove a registered score (for tests and experiments); returns its spec."""
    if name not in SCORES:
        raise ParameterError("name", name, f"a registered score: {', '.join(SCORES)}")
    return SCORES.pop(name)


class _Context:
    """The inputs of one compute_scores call; builds each pass's Dynamics lazily."""

    def __init__(self, dynamics_df: pd.DataFrame, samples: pd.DataFrame | None, vog: pd.DataFrame | None, num_classes: int | None):
        self.df = dynamics_df
        self.samples = samples
        self.vog = vog
        self.num_classes = num_classes
        if "pass" in dynamics_df.columns:
            self.passes = set(map(str, dynamics_df["pass"].unique()))
        else:
            self.passes = {"eval"} if len(dynamics_df) else set()
        self._cache: dict[str, Dynamics] = {}
        self.all_sample_ids = np.empty(0, dtype=np.int64)

    def dyn(self, pass_: str, *columns: str) -> Dynamics:
        if pass_ not in self.passes:
            raise _Unavailable(f"no {pass_!r} pass recorded")
        if pass_ not in self._cache:
            try:
                self._cache[pass_] = Dynamics.from_frame(self.df, pass_)
            except ParameterError as exc:
                # A sampler that leaves samples out of some epochs (a curriculum, a pacing schedule)
                # records no training-pass row for them there: the training-pass scores, which need
                # one row per sample and epoch, are then skipped; the eval-pass scores are not affected.
                if pass_ != "train" or exc.param != "dynamics.checkpoint" or exc.value != "missing":
                    raise
                self._cache[pass_] = _Unavailable(f"the 'train' pass lacks rows: {exc}")
        d = self._cache[pass_]
        if isinstance(d, _Unavailable):
            raise d
        missing = [_TIME_ALIASES.get(c, c) for c in columns if d.get(c) is None]
        if missing:
            raise _Unavailable(f"no {', '.join(missing)} recorded in the {pass_!r} pass")
        return d

    @property
    def is_sequence(self) -> bool:
        return any(c in self.df.columns and self.df[c].notna().any() for c in ("loss_sum", "n_tokens"))


_ARRIAGA = "Arriaga, Palacio & Valdenegro-Toro, CVPR Workshops 2023"
_CARTO = "Swayamdipta et al., EMNLP 2020"
_ANGELOV = "Angelov, Tashu & Valdenegro-Toro, TrustNLP 2025"


def _compute_el2n(ctx: _Context) -> tuple[np.ndarray, np.ndarray]:
    d = ctx.dyn("eval")
    if d.el2n is None and not (ctx.num_classes == 2 and d.gold_prob is not None):
        raise _Unavailable("no el2n recorded in the 'eval' pass (and num_classes != 2, so no sqrt(2)(1 - p) fallback)")
    return d.sample_ids, el2n_score(d, 0, ctx.num_classes)


def _compute_vog(ctx: _Context) -> tuple[np.ndarray, np.ndarray]:
    table = ctx.vog
    if table is None:
        raise _Unavailable("no VoG table given")
    for col in ("sample_id", "vog"):
        if col not in table.columns:
            raise ParameterError("vog.columns", list(table.columns), f"a '{col}' column")
    ids = table["sample_id"].to_numpy()
    if pd.Series(ids).duplicated().any():
        dup = _item(pd.Series(ids)[pd.Series(ids).duplicated()].iloc[0])
        raise ParameterError("vog.sample_id", dup, "one row per sample_id", hint="duplicated")
    wanted = ctx.all_sample_ids
    pos = pd.Index(ids).get_indexer(wanted)
    if (pos < 0).any():
        missing = _item(wanted[np.flatnonzero(pos < 0)[0]])
        raise ParameterError("vog.sample_id", missing, "a VoG row for every sample in the dynamics", hint=f"sample_id={missing} has none")
    values = table["vog"].to_numpy(dtype=np.float64, na_value=np.nan)[pos]
    if not np.isfinite(values).all():
        i = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ParameterError("vog.vog", float(values[i]), "a finite VoG", hint=f"sample_id={_item(wanted[i])}")
    labels = None
    if not ctx.is_sequence:
        if "label" in table.columns:
            labels = table["label"].to_numpy()[pos]
        elif ctx.samples is not None and {"sample_id", "label"} <= set(ctx.samples.columns):
            lpos = pd.Index(ctx.samples["sample_id"].to_numpy()).get_indexer(wanted)
            if (lpos >= 0).all():
                labels = ctx.samples["label"].to_numpy()[lpos]
        if labels is not None and pd.isna(labels).any():
            labels = None
    return wanted, vog_score(values, labels)


def _cl_unavailable(ctx: _Context):
    raise _Unavailable("confident learning needs out-of-sample pred_probs from K trainings (kfold_indices + confident_learning_score)")


# ---------------------------------------------------------------------------------------------
# Action score and loss baselines
# ---------------------------------------------------------------------------------------------


@score(
    "action",
    family="action",
    needs=("eval.loss",),
    description="Action score: loss summed over checkpoints, eval pass (sum_t L_t).",
    formula=r"$A(x) = \sum_{t=1}^{T} L_t(x)$, evaluation pass",
    reference=_ARRIAGA,
    cites=("arriaga2023",),
    orientation="Loss that stays high through training accumulates more action: higher = harder.",
)
def action_score(dyn: Dynamics, column: str = "loss") -> np.ndarray:
    r"""Action score: the loss summed over checkpoints.

    ``A(x) = sum_{t=0}^{T-1} L_t(x)``.

    Reference: Arriaga, Palacio and Valdenegro-Toro, "Difficulty Estimation With Action Scores for
    Computer Vision Tasks", CVPR Workshops 2023 (their ``paz`` code sums a separate per-epoch
    forward pass's cross-entropy; no normalisation).

    Orientation: a sample whose loss stays high through training accumulates more action, so
    higher = harder. Which pass the losses come from is the ``Dynamics``' pass (``eval`` is the
    paper's protocol; ``train`` is the variant). For sequences ``loss`` is the mean token NLL
    (length-normalised); use ``column="loss_sum"`` (or :func:`action_token_sum_score`) for the
    summed token NLL. With the same T for every sample the ranking equals that of the mean loss.
    """
    return _row_sum(dyn, column)


register(
    "action_train",
    action_score,
    family="action",
    needs=("train.loss",),
    description="Action score from the training forward pass (dropout on, weights moving within the epoch).",
    formula=r"$\sum_{t=1}^{T} L_t(x)$ over the training-pass losses",
    reference=_ARRIAGA + " (training-pass variant)",
    cites=("arriaga2023",),
    orientation="More loss accumulated in training = harder.",
)


@score(
    "action_trapezoid",
    family="action",
    needs=("eval.loss", "eval.step"),
    min_checkpoints=2,
    description="Action integrated over optimiser steps (trapezoid rule), eval pass; for uneven checkpoints.",
    formula=r"$\sum_{t=2}^{T} \tfrac{1}{2}\,(L_{t-1} + L_t)(s_t - s_{t-1})$ over the optimiser steps $s_t$ of the checkpoints",
    reference=_ARRIAGA + " (per-step integral variant)",
    cites=("arriaga2023",),
    orientation="Larger area under the loss-vs-step curve = harder.",
)
def action_trapezoid_score(dyn: Dynamics, column: str = "loss") -> np.ndarray:
    r"""Action integrated over optimisation steps with the trapezoid rule.

    ``A_trap(x) = sum_{t=1}^{T-1} (s_t - s_{t-1}) (L_t(x) + L_{t-1}(x)) / 2`` where ``s_t`` is the
    global step of checkpoint t (``Dynamics.steps``; per sample for the training pass, where each
    sample is seen at its own step).

    Reference: Arriaga et al. 2023 (the action as the integral of the loss over training time);
    this step-integrated variant is ours, for uneven checkpoints.

    Orientation: as the action score, a larger area under the loss curve = harder. Units are
    loss x steps. Even with evenly spaced checkpoints it differs from :func:`action_score` (the two
    end checkpoints get half weight). Needs ``steps`` and T >= 2.

    On the training pass (``action_train_trapezoid``) the steps are per sample: the step at which
    the shuffled order put the sample in each epoch. The gaps between a sample's steps, and so the
    weights of its losses, then come from the random order (a sample seen first in epoch 1 and
    last in epoch 2 gets a gap of almost two epochs, one seen last then first a gap of one step),
    not from the sample: two runs that differ only in the shuffle give the same losses different
    weights. It is kept as the per-step reading of the training-pass action, with this caveat in
    its registration; ``action_train`` (equal weights) has no such dependence.
    """
    dyn.require(column, "steps")
    t = dyn.n_checkpoints
    if t < 2:
        raise ParameterError("dynamics.checkpoint", t, "at least 2 checkpoints to integrate over steps")
    steps = np.asarray(dyn.steps, dtype=np.float64)
    values = dyn.get(column)
    if steps.ndim == 1:
        if (np.diff(steps) < 0).any():
            raise ParameterError("dynamics.step", _short(steps), "steps non-decreasing with the checkpoint")
        # trapezoid weights: w_0 = (s_1-s_0)/2, w_t = (s_{t+1}-s_{t-1})/2, w_{T-1} = (s_{T-1}-s_{T-2})/2
        w = np.empty(t)
        w[0] = (steps[1] - steps[0]) / 2
        w[-1] = (steps[-1] - steps[-2]) / 2
        w[1:-1] = (steps[2:] - steps[:-2]) / 2
        return _rowwise(lambda b: b.astype(np.float64, copy=False) @ w, values)

    def block_trap(b: np.ndarray, s: np.ndarray) -> np.ndarray:
        ds = np.diff(s, axis=1)
        bf = b.astype(np.float64, copy=False)
        return ((bf[:, 1:] + bf[:, :-1]) * ds).sum(axis=1) / 2

    if (np.diff(steps, axis=1) < 0).any():
        raise ParameterError("dynamics.step", "decreasing", "per-sample steps non-decreasing with the checkpoint")
    return _rowwise(block_trap, values, steps)


register(
    "action_train_trapezoid",
    action_trapezoid_score,
    family="action",
    needs=("train.loss", "train.step"),
    min_checkpoints=2,
    description="Action integrated over each sample's own training steps (trapezoid rule), training pass; its weights depend on the random batch order.",
    formula=r"the trapezoid sum over each sample's own training steps $s_t(x)$, training pass; the gaps $s_t(x) - s_{t-1}(x)$ depend on where the random order put the sample in each epoch",
    reference=_ARRIAGA + " (per-step integral, training pass)",
    cites=("arriaga2023",),
    orientation="Larger area under the training-loss-vs-step curve = harder; caution: each sample's weights are its own gaps between training steps, set by the shuffle, not by the sample (same losses, another order, another score).",
)


def _early_k(dyn: Dynamics, k: int | None) -> int:
    t = dyn.n_checkpoints
    if k is None:
        return max(1, math.ceil(t / 4))
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= t:
        raise ParameterError("k", k, f"an integer in [1, {t}] (T = {t} checkpoints) or None")
    return int(k)


@score(
    "early_action",
    family="action",
    needs=("eval.loss",),
    description="Action over the first ceil(T/4) checkpoints only, eval pass.",
    formula=r"$\sum_{t=1}^{k} L_t(x)$, $k = \lceil T/4 \rceil$",
    reference=_ARRIAGA + " (early truncation variant)",
    cites=("arriaga2023",),
    orientation="Loss that is high early in training = learned late = harder.",
)
def early_action_score(dyn: Dynamics, k: int | None = None, column: str = "loss") -> np.ndarray:
    r"""Early action: the action score truncated to the first k checkpoints.

    ``A_k(x) = sum_{t=0}^{k-1} L_t(x)``; default ``k = ceil(T / 4)`` (the first quarter of the
    checkpoints, at least 1).

    Reference: Arriaga et al. 2023 (action score); truncation is the study's variant (what is hard
    early in training, cf. EL2N of Paul et al. 2021).

    Orientation: high loss accumulated early = learned late or not at all = harder.
    """
    k = _early_k(dyn, k)
    return _row_sum(dyn, column, slice(0, k))


@score(
    "action_token_sum",
    family="action",
    needs=("eval.loss_sum",),
    description="Action on the summed token NLL (sequences), instead of the mean token NLL of 'action'.",
    formula=r"$\sum_t \sum_i \ell_{t,i}(x)$ over the reference tokens $i$ (sequences)",
    reference=_ARRIAGA + "; " + _ANGELOV,
    cites=("arriaga2023", "angelov2025"),
    orientation="More total surprisal over training = harder (grows with target length).",
)
def action_token_sum_score(dyn: Dynamics) -> np.ndarray:
    r"""Action score on the summed token NLL (sequences only).

    ``A_sum(x) = sum_t sum_{tokens i} -log p_t(y_i | x, y_<i)`` (the ``loss_sum`` column), in contrast
    to :func:`action_score`, whose ``loss`` for sequences is the mean token NLL (length-normalised).

    Reference: Arriaga et al. 2023; Angelov, Tashu and Valdenegro-Toro, TrustNLP 2025 (action
    scores for summarization).

    Orientation: more total surprisal over training = harder; note that it grows with the target
    length, so long targets rank harder.
    """
    return _row_sum(dyn, "loss_sum")


@score(
    "mean_loss",
    family="action",
    needs=("eval.loss",),
    description="Mean loss over checkpoints, eval pass ((1/T) sum_t L_t).",
    formula=r"$\tfrac{1}{T}\sum_t L_t(x)$",
    reference="Baseline (same ranking as the action score for equal T)",
    orientation="Higher average loss = harder.",
)
def mean_loss_score(dyn: Dynamics) -> np.ndarray:
    r"""Mean loss over checkpoints: ``(1/T) sum_t L_t(x)``.

    Reference: the baseline the action score must beat (same ranking as the plain action score
    when every sample has the same T; Arriaga et al. 2023 sum the loss without normalisation).

    Orientation: higher average loss = harder.
    """
    return _row_mean(dyn, "loss")


@score(
    "final_loss",
    needs=("eval.loss",),
    description="Loss at the last checkpoint, eval pass.",
    formula=r"$L_T(x)$",
    reference="Baseline; Chong, Hong & Manning, EMNLP 2022",
    cites=("chong2022",),
    orientation="The trained model still has high loss = harder.",
)
def final_loss_score(dyn: Dynamics) -> np.ndarray:
    r"""Loss at the last checkpoint: ``L_{T-1}(x)``.

    Reference: the ordinary per-sample loss of the trained model (e.g. Chong, Hong and Manning,
    EMNLP 2022, for label errors with out-of-sample loss).

    Orientation: higher final loss = the trained model still gets it wrong = harder.
    """
    return _column_at(dyn, "loss", -1)


# ---------------------------------------------------------------------------------------------
# Dataset cartography
# ---------------------------------------------------------------------------------------------


def cartography_stats(dyn: Dynamics) -> pd.DataFrame:
    """The three raw cartography coordinates (not oriented), indexed by sample_id.

    ``confidence = mean_t p_t``, ``variability = std_t p_t`` (population, ddof=0),
    ``correctness = mean_t c_t`` (Swayamdipta et al., EMNLP 2020). For plotting the data map.
    """
    dyn.require("gold_prob", "correct")
    return pd.DataFrame(
        {
            "confidence": _row_mean(dyn, "gold_prob"),
            "variability": cartography_variability_score(dyn),
            "correctness": _row_mean(dyn, "correct"),
        },
        index=pd.Index(dyn.sample_ids, name="sample_id"),
    )


@score(
    "cartography_confidence",
    needs=("eval.gold_prob",),
    description="One minus cartography confidence: 1 - mean_t p_t(gold), eval pass.",
    formula=r"$1 - \tfrac{1}{T}\sum_t p_{t,y}(x)$",
    reference=_CARTO,
    cites=("swayamdipta2020",),
    orientation="Low confidence = hard-to-learn region; 1 - confidence so higher = harder.",
)
def cartography_confidence_score(dyn: Dynamics) -> np.ndarray:
    r"""Cartography confidence, oriented as hardness: ``1 - (1/T) sum_t p_t(x)``.

    Reference: Swayamdipta et al., "Dataset Cartography", EMNLP 2020 (confidence = mean gold
    probability; their logging uses the training forward pass, pass a ``train`` Dynamics for that).

    Orientation: low confidence = hard-to-learn region = harder; the returned value is one minus
    the confidence, in [0, 1].
    """
    return 1.0 - _row_mean(dyn, "gold_prob")


@score(
    "cartography_variability",
    needs=("eval.gold_prob",),
    description="Cartography variability: population std_t of p_t(gold), eval pass; an ambiguity axis, not a difficulty score.",
    formula=r"$\mathrm{std}_t\, p_{t,y}(x)$ (population)",
    reference=_CARTO,
    cites=("swayamdipta2020",),
    axis="ambiguity",
    orientation="Ambiguity axis, not difficulty: high = the ambiguous region of the data map; never-learned (hardest) samples vary little, so it is left out of difficulty rankings and detection tables.",
)
def cartography_variability_score(dyn: Dynamics) -> np.ndarray:
    r"""Cartography variability: ``sqrt((1/T) sum_t (p_t(x) - mean_t p_t(x))^2)`` (an ambiguity axis).

    Reference: Swayamdipta et al., EMNLP 2020 (population standard deviation of the gold
    probability across epochs).

    Orientation: the **ambiguity** axis, not difficulty (``axis="ambiguity"``). High variability = the
    "ambiguous" region of the data map; it is *not* monotone in difficulty: never-learned samples,
    the hardest ones, have low variability too (on the published QA run it correlated negatively
    with the loss, and it ranked noisy labels below chance). So it is reported as its own axis (the
    data map's x axis) and left out of the difficulty rankings, the score comparisons and the
    label-error detection tables; use confidence or the action score for difficulty.
    """
    dyn.require("gold_prob")

    def block_std(b: np.ndarray) -> np.ndarray:
        bf = b.astype(np.float64, copy=False)
        return bf.std(axis=1)

    return _rowwise(block_std, dyn.gold_prob)


@score(
    "cartography_correctness",
    needs=("eval.correct",),
    description="One minus cartography correctness: 1 - mean_t correct_t, eval pass.",
    formula=r"$1 - \tfrac{1}{T}\sum_t c_t(x)$",
    reference=_CARTO,
    cites=("swayamdipta2020",),
    orientation="Wrong at more checkpoints = harder.",
)
def cartography_correctness_score(dyn: Dynamics) -> np.ndarray:
    r"""Cartography correctness, oriented as hardness: ``1 - (1/T) sum_t c_t(x)``.

    Reference: Swayamdipta et al., EMNLP 2020 (fraction of epochs where the prediction is right).
    For sequences ``c_t`` is the token-accuracy fraction, averaged as is (not thresholded).

    Orientation: wrong at more checkpoints = harder; in [0, 1].
    """
    return 1.0 - _row_mean(dyn, "correct")


# ---------------------------------------------------------------------------------------------
# Forgetting events
# ---------------------------------------------------------------------------------------------


@score(
    "forgetting_events",
    needs=("eval.correct",),
    description="Count of correct -> incorrect transitions; never-correct samples get T.",
    formula=r"$\#\{t : c_{t-1}(x) = 1, c_t(x) = 0\}$; never learned: $T$",
    reference="Toneva et al., ICLR 2019",
    cites=("toneva2019",),
    orientation="More forgetting = harder; never learned = hardest (T > any possible count).",
)
def forgetting_events_score(dyn: Dynamics, threshold: float = 0.5) -> np.ndarray:
    r"""Forgetting events: number of transitions from correct to incorrect.

    ``F(x) = #{t in 1..T-1 : c_{t-1}(x) and not c_t(x)}``; samples never correct at any checkpoint
    get ``T`` (the "infinite forgetting" of never-learned samples, made finite: T is larger than
    any possible count, which is at most floor(T/2)). ``c_t`` is the ``correct`` column; a
    non-bool column (token accuracy for sequences) counts as correct when ``>= threshold``.

    Reference: Toneva et al., "An Empirical Study of Example Forgetting during Deep Neural Network
    Learning", ICLR 2019.

    Orientation: more forgetting = less stable = harder; never learned = hardest.
    """
    dyn.require("correct")
    _check_threshold(threshold)
    t = dyn.n_checkpoints

    def block_forget(b: np.ndarray) -> np.ndarray:
        c = _is_correct(b, threshold)
        events = (c[:, :-1] & ~c[:, 1:]).sum(axis=1)
        return np.where(c.any(axis=1), events, t)

    return _rowwise(block_forget, dyn.correct)


# ---------------------------------------------------------------------------------------------
# Area under the margin
# ---------------------------------------------------------------------------------------------


@score(
    "aum",
    needs=("eval.margin",),
    description="Minus the area under the margin: -mean_t (gold logit - largest other logit).",
    formula=r"$-\tfrac{1}{T}\sum_t m_t(x)$",
    reference="Pleiss et al., NeurIPS 2020",
    cites=("pleiss2020",),
    orientation="Low AUM = model prefers another class = likely mislabelled/hard; minus AUM so higher = harder.",
)
def aum_score(dyn: Dynamics) -> np.ndarray:
    r"""Area under the margin, oriented as hardness: ``-AUM(x) = -(1/T) sum_t M_t(x)``.

    ``M_t = z_{t,y} - max_{j != y} z_{t,j}`` (the ``margin`` column, on logits).

    Reference: Pleiss, Zhang, Elenberg and Weinberger, "Identifying Mislabeled Data using the Area
    Under the Margin Ranking", NeurIPS 2020.

    Orientation: a low (negative) AUM means the model keeps preferring another class = likely
    mislabelled / hard, so the score is minus the AUM. For the threshold-sample cut-off use
    :func:`aum_threshold_samples` and :func:`aum_flags` (they take the plain AUM, ``-aum_score``).
    """
    return -_row_mean(dyn, "margin")


def aum_threshold_samples(n: int, num_classes: int, seed: int) -> np.ndarray:
    """Positions (sorted, in ``0..n-1``) of the threshold samples of Pleiss et al. 2020.

    ``floor(n / (num_classes + 1))`` samples, drawn uniformly without replacement by
    ``numpy.random.default_rng(seed)``: deterministic given ``(n, num_classes, seed)``. The
    training run relabels them to the fake extra class ``num_classes``; positions refer to the
    samples sorted by sample_id (the order of :class:`Dynamics` and :func:`compute_scores`).
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ParameterError("n", n, "an integer >= 1")
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ParameterError("num_classes", num_classes, "an integer >= 2 (classification)")
    m = int(n) // (int(num_classes) + 1)
    if m < 1:
        raise ParameterError("n", n, f"at least num_classes + 1 = {num_classes + 1} samples to draw threshold samples")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(int(n), size=m, replace=False))


def _threshold_mask(threshold_samples: np.ndarray, n: int) -> np.ndarray:
    ts = np.asarray(threshold_samples)
    if ts.dtype == bool:
        if ts.shape != (n,):
            raise ParameterError("threshold_samples", f"bool array of shape {ts.shape}", f"shape ({n},)")
        mask = ts
    else:
        if ts.ndim != 1 or (ts.size and (ts.min() < 0 or ts.max() >= n)):
            raise ParameterError("threshold_samples", _short(ts), f"positions in [0, {n - 1}] or a bool mask")
        mask = np.zeros(n, dtype=bool)
        mask[ts] = True
    if not mask.any():
        raise ParameterError("threshold_samples", "empty", "at least one threshold sample")
    return mask


def aum_cutoff(aum: np.ndarray, threshold_samples: np.ndarray, percentile: float = 99.0) -> float:
    """The AUM cut-off ``alpha``: the ``percentile``-th percentile of the threshold samples' AUM.

    ``aum`` is the plain AUM (mean margin, higher = easier; i.e. ``-aum_score(dyn)``) of the run in
    which the threshold samples carried the fake label; ``threshold_samples`` is a position array
    (from :func:`aum_threshold_samples`) or a bool mask. Pleiss et al. 2020 use the 99th percentile.
    """
    aum = np.asarray(aum, dtype=np.float64)
    if aum.ndim != 1 or not np.isfinite(aum).all():
        raise ParameterError("aum", f"array of shape {aum.shape}", "a finite 1-D array")
    if not 0.0 <= percentile <= 100.0:
        raise ParameterError("percentile", percentile, "a number in [0, 100]")
    mask = _threshold_mask(threshold_samples, aum.shape[0])
    return float(np.percentile(aum[mask], percentile))


def aum_flags(aum: np.ndarray, threshold_samples: np.ndarray, percentile: float = 99.0) -> np.ndarray:
    """Flag mask of Pleiss et al. 2020: non-threshold samples with AUM strictly below the cut-off.

    ``flags[i] = (aum[i] < aum_cutoff(...)) and i is not a threshold sample`` (the threshold
    samples themselves, which carry a fake label, are never flagged). ``aum`` is the plain AUM
    (``-aum_score(dyn)``), ordered like the samples the threshold positions refer to.
    """
    alpha = aum_cutoff(aum, threshold_samples, percentile)
    mask = _threshold_mask(threshold_samples, len(aum))
    return (np.asarray(aum, dtype=np.float64) < alpha) & ~mask


# ---------------------------------------------------------------------------------------------
# EL2N, VoG, entropy
# ---------------------------------------------------------------------------------------------


@score(
    "el2n",
    needs=("eval.el2n or (eval.gold_prob and num_classes == 2)",),
    compute=_compute_el2n,
    description="EL2N: ||softmax - onehot(label)||_2 at the first checkpoint, eval pass.",
    formula=r"$\lVert p_1(x) - e_y \rVert_2$ at the first checkpoint",
    reference="Paul, Ganguli & Dziugaite, NeurIPS 2021",
    cites=("paul2021",),
    orientation="Larger early error vector = harder.",
)
def el2n_score(dyn: Dynamics, checkpoint: int = 0, num_classes: int | None = None) -> np.ndarray:
    r"""EL2N: ``|| softmax(z_t(x)) - onehot(y) ||_2`` at an early checkpoint (position ``checkpoint``, default the first).

    Uses the recorded ``el2n`` column. Only when it is absent *and* ``num_classes == 2`` it falls
    back to the exact binary identity ``sqrt(2) (1 - p_t(x))`` (softmax ``(p, 1-p)`` against the
    one-hot gives the vector ``(p-1, 1-p)``).

    Reference: Paul, Ganguli and Dziugaite, "Deep Learning on a Data Diet", NeurIPS 2021 (who also
    average over a few seeds: average this score over runs for that). GraNd is not implemented.

    Orientation: a larger error vector early in training = harder.
    """
    if dyn.el2n is not None:
        return _column_at(dyn, "el2n", checkpoint)
    if num_classes == 2 and dyn.gold_prob is not None:
        return math.sqrt(2.0) * (1.0 - _column_at(dyn, "gold_prob", checkpoint))
    dyn.require("el2n")  # raises, naming the missing column
    raise AssertionError  # pragma: no cover


@score(
    "vog",
    needs=("vog", "labels"),
    compute=_compute_vog,
    description="Variance of gradients of the gold logit w.r.t. input embeddings, per element, class-normalised.",
    formula=r"mean over the elements (tokens $i$, embedding dimensions $d$) of $\sqrt{\mathrm{Var}_t\, g_{t,i,d}(x)}$, $g_t$ the gradient of the gold logit w.r.t. the input word embeddings at checkpoint $t$ (population variance over checkpoints, Welford); normalised within each class (raw without labels)",
    reference="Agarwal, D'souza & Hooker, CVPR 2022",
    cites=("agarwal2022",),
    orientation="Gradients that keep changing across checkpoints = atypical/hard; higher = harder within its class (the authors' orientation, kept; on text it also tracks length: shorter inputs, larger per-token gradients).",
)
def vog_score(vog: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    r"""Variance of gradients, class-normalised: ``(VoG(x) - mu_y) / sigma_y``.

    ``VoG(x) = mean over input elements of sqrt((1/T) sum_t (S_t - mean_t S_t)^2)``, with ``S_t``
    the gradient of the gold logit w.r.t. the input word embeddings, one value per element (token
    position, embedding dimension; the mean is over the D dimensions of each real token, then over
    the tokens), as the engine's online (Welford) statistics give it (the ``vog`` column,
    :class:`nlpdiff.recording.VogAccumulator`). No reduction comes before the variance: averaging a
    token's gradient over its dimensions first, as an earlier version did, gives exactly zero behind
    the embedding LayerNorm of BERT-like models (float noise of 1e-11..1e-10 on MiniLM). ``mu_y, sigma_y`` are the
    mean and population std of VoG over the samples of class y; a class whose VoG is constant
    gets 0. With ``labels=None`` (non-classification tasks) the raw VoG is returned.

    Reference: Agarwal, D'souza and Hooker, "Estimating Example Difficulty using Variance of
    Gradients", CVPR 2022.

    Orientation: gradients that keep changing across checkpoints = atypical / hard; higher =
    harder (relative to its class), as its authors orient it. On text the per-token gradient is
    larger in shorter inputs (attention and pooling share the output among fewer tokens), so VoG
    also ranks by length; compare it with length partialled out (``benchmarks/vog_definition.py``
    measures both on a fine-tuned MiniLM run). On the scratch backbone (mean-pooled n-gram bag,
    linear head) every n-gram of a sample gets the same gradient, the gold class's weights over the
    n-gram count, so the class-normalised VoG is a function of the n-gram count alone.
    """
    v = np.asarray(vog, dtype=np.float64)
    if v.ndim != 1:
        raise ParameterError("vog", f"array of shape {v.shape}", "a 1-D array")
    if not np.isfinite(v).all():
        i = int(np.flatnonzero(~np.isfinite(v))[0])
        raise ParameterError("vog", float(v[i]), "finite values", hint=f"position {i}")
    if labels is None:
        return v.copy()
    lab = np.asarray(labels)
    if lab.shape != v.shape:
        raise ParameterError("labels", f"array of shape {lab.shape}", f"shape {v.shape}")
    if pd.isna(lab).any():
        raise ParameterError("labels", "null", "a label for every sample (or labels=None)")
    _, inv = np.unique(lab, return_inverse=True)
    counts = np.bincount(inv).astype(np.float64)
    mean = np.bincount(inv, weights=v) / counts
    centred = v - mean[inv]
    std = np.sqrt(np.bincount(inv, weights=centred**2) / counts)
    s = std[inv]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(s > 0, centred / np.where(s > 0, s, 1.0), 0.0)
    return out


@score(
    "mean_entropy",
    needs=("eval.entropy",),
    description="Mean predictive entropy over checkpoints (nats), eval pass.",
    formula=r"$\tfrac{1}{T}\sum_t H_t(x)$",
    reference=_ANGELOV + " (baseline)",
    cites=("angelov2025",),
    orientation="The model stays uncertain about the sample = harder.",
)
def mean_entropy_score(dyn: Dynamics) -> np.ndarray:
    r"""Mean predictive entropy over checkpoints: ``(1/T) sum_t H_t(x)``, ``H_t = -sum_j q_{t,j} log q_{t,j}`` (nats).

    Reference: the predictive-entropy baseline of Angelov, Tashu and Valdenegro-Toro, "Difficulty
    Estimation in Natural Language Tasks with Action Scores", TrustNLP 2025.

    Orientation: a model that stays uncertain about the sample = harder. Label-free: it does not
    see whether the prediction is right.
    """
    return _row_mean(dyn, "entropy")


@score(
    "final_entropy",
    needs=("eval.entropy",),
    description="Predictive entropy at the last checkpoint (nats), eval pass.",
    formula=r"$H_T(x)$",
    reference=_ANGELOV + " (baseline)",
    cites=("angelov2025",),
    orientation="The trained model is uncertain = harder.",
)
def final_entropy_score(dyn: Dynamics) -> np.ndarray:
    r"""Predictive entropy at the last checkpoint: ``H_{T-1}(x)``.

    Reference: Angelov, Tashu and Valdenegro-Toro, TrustNLP 2025 (entropy of the trained model).

    Orientation: the trained model is uncertain = harder.
    """
    return _column_at(dyn, "entropy", -1)


@score(
    "learning_speed",
    needs=("eval.correct",),
    description="First checkpoint from which the sample stays correct (>= 0.5 for token accuracy); T if never.",
    formula=r"first checkpoint (counted from 0) from which $c_t(x)$ stays 1; never: $T$",
    reference="Toneva et al., ICLR 2019 (iteration learned)",
    cites=("toneva2019",),
    orientation="Learned later = harder; not learned by the end = hardest (T).",
)
def learning_speed_score(dyn: Dynamics, threshold: float = 0.5) -> np.ndarray:
    r"""Learning speed: index of the first checkpoint from which the sample stays correct.

    ``S(x) = min{t : c_u(x) for every u >= t}`` (checkpoint positions 0..T-1); a sample that is not
    correct at the last checkpoint (never learned, or forgotten at the end) gets ``T``. For a
    non-bool ``correct`` (token accuracy for sequences) correct means ``>= threshold`` (0.5).

    Reference: the "iteration learned" of Toneva et al., ICLR 2019 (first epoch after which an
    example stays learned); cf. learning-speed difficulty in curriculum work.

    Orientation: learned later = harder; never learned = hardest (T).
    """
    dyn.require("correct")
    _check_threshold(threshold)
    t = dyn.n_checkpoints

    def block_speed(b: np.ndarray) -> np.ndarray:
        c_rev = _is_correct(b, threshold)[:, ::-1]
        # length of the trailing run of correct checkpoints
        trailing = np.where(c_rev.all(axis=1), t, np.argmin(c_rev, axis=1))
        return t - trailing

    return _rowwise(block_speed, dyn.correct)


# ---------------------------------------------------------------------------------------------
# Confident learning (K-fold, orchestrated elsewhere)
# ---------------------------------------------------------------------------------------------


@score(
    "confident_learning",
    needs=("kfold_pred_probs", "labels"),
    compute=_cl_unavailable,
    description="1 - cleanlab label quality (self-confidence) from K-fold out-of-sample pred_probs.",
    formula=r"$1 - p^{\text{oof}}_{y}(x)$ from $K$-fold out-of-fold probabilities, via `cleanlab`",
    reference="Northcutt, Jiang & Chuang, JAIR 2021 (cleanlab)",
    cites=("northcutt2021cl",),
    orientation="Low probability of the given label out of sample = likely mislabelled = higher.",
)
def confident_learning_score(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    r"""Confident-learning label-issue score: ``1 - get_label_quality_scores(labels, pred_probs)``.

    cleanlab's default "self_confidence" quality is ``pred_probs[i, labels[i]]``, so the score is
    one minus the out-of-sample probability of the given label. ``pred_probs`` must be
    out-of-sample (K-fold cross-validation, see :func:`kfold_indices`); ``labels`` in ``0..K-1``.

    Reference: Northcutt, Jiang and Chuang, "Confident Learning", JAIR 2021; the ``cleanlab``
    package (``cleanlab.rank.get_label_quality_scores``).

    Orientation: a low quality score = the given label is likely wrong = higher score = harder
    (more likely mislabelled). Never computed by :func:`compute_scores` (it needs K trainings).
    """
    from cleanlab.rank import get_label_quality_scores

    lab = np.asarray(labels)
    probs = np.asarray(pred_probs, dtype=np.float64)
    if probs.ndim != 2 or lab.shape != (probs.shape[0],):
        raise ParameterError(
            "pred_probs",
            f"array of shape {probs.shape} with labels of shape {lab.shape}",
            "pred_probs of shape (N, K) and labels of shape (N,)",
        )
    if not np.issubdtype(lab.dtype, np.integer) or (lab.size and (lab.min() < 0 or lab.max() >= probs.shape[1])):
        raise ParameterError("labels", _short(lab), f"integers in [0, {probs.shape[1] - 1}]")
    return 1.0 - np.asarray(get_label_quality_scores(lab, probs), dtype=np.float64)


def kfold_indices(n: int, k: int, seed: int, labels: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Deterministic K-fold split for out-of-sample predicted probabilities.

    Returns ``k`` pairs ``(train_positions, heldout_positions)`` of sorted int arrays over
    ``0..n-1``; each position is held out exactly once. With ``labels`` the folds are stratified
    (``sklearn.model_selection.StratifiedKFold(shuffle=True, random_state=seed)``), otherwise
    ``KFold(shuffle=True, random_state=seed)``. Same ``(n, k, seed, labels)`` = same folds.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ParameterError("n", n, "an integer >= 2")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 2 <= k <= n:
        raise ParameterError("k", k, f"an integer in [2, n={n}]")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError("seed", seed, "a non-negative integer")
    positions = np.zeros((int(n), 1))
    if labels is None:
        splitter = KFold(n_splits=int(k), shuffle=True, random_state=int(seed))
        splits = splitter.split(positions)
    else:
        lab = np.asarray(labels)
        if lab.shape != (n,):
            raise ParameterError("labels", f"array of shape {lab.shape}", f"shape ({n},)")
        _, counts = np.unique(lab, return_counts=True)
        if counts.max() < k:
            raise ParameterError("k", k, f"at most the size of the largest class ({int(counts.max())}) for stratified folds")
        splitter = StratifiedKFold(n_splits=int(k), shuffle=True, random_state=int(seed))
        import warnings

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
            splits = list(splitter.split(positions, lab))
    return [(np.sort(tr).astype(np.int64), np.sort(te).astype(np.int64)) for tr, te in splits]


# ---------------------------------------------------------------------------------------------
# The registry as tables, and compute_scores
# ---------------------------------------------------------------------------------------------


def score_table() -> pd.DataFrame:
    """The registry as a table: name, axis, description, reference, orientation, needs, formula."""
    return pd.DataFrame(
        [
            {
                "name": s.name,
                "axis": s.axis,
                "description": s.description,
                "reference": s.reference,
                "orientation": s.orientation,
                "needs": ", ".join(s.needs),
                "formula": s.formula,
            }
            for s in SCORES.values()
        ],
        columns=["name", "axis", "description", "reference", "orientation", "needs", "formula"],
    )


def run_score_table(run) -> tuple[pd.DataFrame, str | None]:
    """The registry rows of the scores computed for ``run`` (a loaded run directory), and a one-line
    Markdown note naming the registered scores it did not compute with the reason recorded in its
    ``run.json`` (None when every score was computed): what the result pages show under "every score"."""
    computed = [c for c in run.scores.columns if c != "sample_id"]
    table = score_table().query("name in @computed")
    skipped = run.info.get("resolved", {}).get("skipped_scores", {})
    note = ("Registered but not computed for this run: "
            + "; ".join(f"`{name}` ({reason})" for name, reason in skipped.items()) + ".") if skipped else None
    return table, note


#: Where the book's score table lives (included by ``book/methods.md``), relative to the book root.
SCORE_TABLE_PATH = "book/score_table.md"


def score_table_markdown() -> str:
    """The registry as the MyST table that ``book/methods.md`` includes (``book/score_table.md``).

    One row per registered score: its column name, formula (notation of the Methods page),
    orientation, inputs and references (linked to ``book/references.md``). Generated, never
    edited by hand: :func:`write_score_table` writes it, ``nlpdiff book`` runs that before
    building, and a test fails when the committed file differs from the registry.
    """

    def cell(text: str) -> str:
        return " ".join(str(text).split()).replace("|", "\\|")

    lines = [
        "<!-- Generated from the registry nlpdiff.scores.SCORES by nlpdiff.scores.write_score_table();",
        "     do not edit by hand: `nlpdiff book` (or `python -m nlpdiff.scores`) rewrites it. -->",
        "",
        "| score | axis | formula | orientation | needs | reference |",
        "|---|---|---|---|---|---|",
    ]
    for s in SCORES.values():
        refs = "; ".join(f"{{ref}}`{CITATIONS[c]} <ref-{c}>`" for c in s.cites)
        reference = s.reference if not refs else f"{refs}: {s.reference}"
        needs = ", ".join(f"`{n}`" for n in s.needs)
        lines.append(f"| `{s.name}` | {s.axis} | {cell(s.formula or s.description)} | {cell(s.orientation)} | {cell(needs)} | {cell(reference)} |")
    return "\n".join(lines) + "\n"


def write_score_table(root: str | os.PathLike = ".") -> Path:
    """Write :func:`score_table_markdown` to ``<root>/book/score_table.md`` (only if it changed); return the path."""
    path = Path(root) / SCORE_TABLE_PATH
    text = score_table_markdown()
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return path


def _read_table(obj: Any, name: str) -> pd.DataFrame | None:
    if obj is None:
        return None
    if isinstance(obj, pd.DataFrame):
        return obj
    if isinstance(obj, (str, os.PathLike)):
        return pd.read_parquet(obj)
    raise ParameterError(name, type(obj).__name__, "a pandas DataFrame, a parquet path or None")


def compute_scores(
    dynamics_df: pd.DataFrame | str | os.PathLike,
    samples: pd.DataFrame | str | os.PathLike | None = None,
    vog: pd.DataFrame | str | os.PathLike | None = None,
    names: Sequence[str] | None = None,
    num_classes: int | None = None,
) -> pd.DataFrame:
    """Compute every registered score whose inputs are present; one row per sample_id.

    Args:
        dynamics_df: the long ``dynamics.parquet`` table (or its path).
        samples: ``samples.parquet`` (optional): its ``label`` is used for VoG's class
            normalisation when the VoG table has no ``label``.
        vog: the per-sample VoG table (``sample_id``, ``vog``, optional ``label``), or None.
        names: scores to compute (default: all of :data:`SCORES`); unknown names raise
            :class:`ParameterError`.
        num_classes: only used for EL2N's binary fallback (``num_classes == 2``).

    Returns:
        A DataFrame with a ``sample_id`` column (sorted, the union of the samples of the recorded
        passes) and one float column per computed score, higher = harder. Scores whose inputs are
        absent (no training pass, no VoG table, not a sequence task, ...) are skipped, with the
        reason in ``result.attrs["skipped"]`` (``{name: reason}``). ``confident_learning`` is
        never computed here (it needs K trainings). Bad inputs (NaN, missing checkpoints, ...)
        still raise :class:`ParameterError`.
    """
    df = _read_table(dynamics_df, "dynamics_df")
    samples_df = _read_table(samples, "samples")
    vog_df = _read_table(vog, "vog")
    if names is None:
        selected = list(SCORES)
    else:
        if isinstance(names, str):
            names = [names]
        unknown = [n for n in names if n not in SCORES]
        if unknown:
            raise ParameterError("names", unknown, f"registered score names: {', '.join(SCORES)}")
        selected = list(dict.fromkeys(names))
    if num_classes is not None and (not isinstance(num_classes, (int, np.integer)) or num_classes < 2):
        raise ParameterError("num_classes", num_classes, "an integer >= 2 or None")

    ctx = _Context(df, samples_df, vog_df, num_classes)
    # the output rows: the union of the samples of every recorded pass
    ids = [np.unique(df.loc[df["pass"] == p, "sample_id"].to_numpy()) if "pass" in df.columns
           else np.unique(df["sample_id"].to_numpy()) for p in PASSES if p in ctx.passes]
    all_ids = np.unique(np.concatenate(ids)) if ids else np.empty(0, dtype=np.int64)
    ctx.all_sample_ids = all_ids

    out: dict[str, np.ndarray] = {"sample_id": all_ids}
    skipped: dict[str, str] = {}
    for name in selected:
        spec = SCORES[name]
        try:
            sids, values = spec.run(ctx)
        except _Unavailable as exc:
            skipped[name] = str(exc)
            continue
        values = np.asarray(values, dtype=np.float64)
        if sids.shape == all_ids.shape and np.array_equal(sids, all_ids):
            out[name] = values
        else:
            col = np.full(all_ids.shape, np.nan)
            col[np.searchsorted(all_ids, sids)] = values
            out[name] = col
    result = pd.DataFrame(out)
    result.attrs["skipped"] = skipped
    return result


if __name__ == "__main__":  # python -m nlpdiff.scores [ROOT]: rewrite the book's score table
    import sys

    print(write_score_table(sys.argv[1] if len(sys.argv) > 1 else "."))
