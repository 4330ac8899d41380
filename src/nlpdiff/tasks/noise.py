"""Synthetic label noise and corrupted targets, recording which samples were corrupted and their originals."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from nlpdiff.errors import ParameterError
from nlpdiff.tasks.spec import NOISE_KINDS, TaskSpec  # noqa: F401
from nlpdiff.tasks.sampling import _check_seed  # noqa: F401


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


def _check_labels(labels, num_classes: int) -> np.ndarray:
    """``labels`` as int64 class ids in 0..num_classes-1 (whole floats accepted), or a :class:`ParameterError`."""
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
    return original


def _uniform(original: np.ndarray, rate: float, num_classes: int, rng):
    """``kind="uniform"`` of :func:`inject_noise`: (new labels, corrupted mask, None)."""
    new, corrupted = original.copy(), np.zeros(len(original), dtype=bool)
    k = _round_half_up(rate * len(original))
    chosen = rng.choice(len(original), size=k, replace=False)
    shift = rng.integers(1, num_classes, size=k)
    new[chosen] = (original[chosen] + shift) % num_classes
    corrupted[chosen] = True
    return new, corrupted, None


def _empirical(original: np.ndarray, rate: float, num_classes: int, confusion, rng):
    """``kind="empirical"`` of :func:`inject_noise`: (new labels, corrupted mask, the cells used per class)."""
    matrix = _check_matrix(confusion, num_classes)
    new, corrupted = original.copy(), np.zeros(len(original), dtype=bool)
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
    used = {int(i): tuple(int(j) for j in np.flatnonzero(cells[i])) for i in range(num_classes) if per_class[i]}
    return new, corrupted, used


def _class_conditional(original: np.ndarray, rate: float, conf_used: dict[int, tuple[int, ...]], rng):
    """``kind="class_conditional"`` of :func:`inject_noise`: (new labels, corrupted mask, the map used)."""
    new, corrupted = original.copy(), np.zeros(len(original), dtype=bool)
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
    return new, corrupted, conf_used


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
    original = _check_labels(labels, num_classes)
    rng = np.random.default_rng(seed)

    if kind == "empirical" and confusion is None:
        raise ParameterError("confusion", None, "a num_classes x num_classes count matrix for kind='empirical' "
                             "(tasks.error_confusion)")
    if kind == "uniform":
        if confusion is not None:
            raise ParameterError(
                "confusion", confusion, "None when kind='uniform' (use kind='class_conditional')"
            )
        new, corrupted, conf_used = _uniform(original, rate, num_classes, rng)
    elif kind == "empirical":
        new, corrupted, conf_used = _empirical(original, rate, num_classes, confusion, rng)
    else:
        if confusion is None:
            confusion = {c: c - 1 for c in range(1, num_classes)}
        new, corrupted, conf_used = _class_conditional(original, rate, _check_confusion(confusion, num_classes), rng)

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
