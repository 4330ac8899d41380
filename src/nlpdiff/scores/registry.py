"""The registry of scores: one registration per score (:func:`register`, :func:`score`), its queries, and :func:`compute_scores`, which computes every registered score whose inputs a run recorded."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from nlpdiff.errors import ParameterError
from nlpdiff.scores.container import _TIME_ALIASES, AXES, PASSES, Dynamics, _item, _rebuild_dynamics  # noqa: F401


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
