"""Statistics a reviewer asks for: intervals over seeds, paired tests, multiple-comparison control.

Every comparison of two scores in the book is *paired*: the two scores rank the same samples, so
their agreement with a signal is compared on the same resamples (:func:`paired_bootstrap`) or with
DeLong's test for two correlated ROC curves (:func:`delong`); runs compared over seeds use the same
seeds (:func:`paired_seed_test`). Families of comparisons in one table are Holm-adjusted
(:func:`holm`).

References: DeLong, DeLong and Clarke-Pearson, "Comparing the areas under two or more correlated
receiver operating characteristic curves", Biometrics 1988 (the fast algorithm of Sun and Xu, IEEE
Signal Processing Letters 2014); Holm, "A simple sequentially rejective multiple test procedure",
Scandinavian Journal of Statistics 1979; Efron and Tibshirani, *An Introduction to the Bootstrap*,
1993 (percentile intervals).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy import stats as _st

from nlpdiff.errors import ParameterError

__all__ = ["spearman", "roc_auc", "average_precision", "seed_interval", "paired_bootstrap", "delong", "holm",
           "paired_seed_test"]


def spearman(score: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation of ``score`` with ``y`` (nan when either is constant)."""
    score, y = np.asarray(score, float), np.asarray(y, float)
    if np.ptp(score) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(_st.spearmanr(score, y).statistic)


def roc_auc(score: np.ndarray, y: np.ndarray) -> float:
    """ROC AUC of ``score`` at ranking the positives of binary ``y`` first (Mann-Whitney, ties count half)."""
    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _st.rankdata(np.asarray(score, float))
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(score: np.ndarray, y: np.ndarray) -> float:
    """Average precision of ``score`` for binary ``y`` (scikit-learn's definition); chance = prevalence."""
    from sklearn.metrics import average_precision_score

    y = np.asarray(y).astype(bool)
    if y.sum() == 0:
        return float("nan")
    return float(average_precision_score(y, np.asarray(score, float)))


def seed_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t ``confidence`` interval of ``values`` (one per seed); nan bounds below 2 values."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], float)
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(v.mean())
    if v.size < 2:
        return mean, float("nan"), float("nan")
    half = float(_st.t.ppf(0.5 + confidence / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return mean, mean - half, mean + half


def _check_same_length(**arrays: np.ndarray) -> int:
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ParameterError("arrays", lengths, "arrays of the same length (the same samples)")
    n = next(iter(lengths.values()))
    if n < 3:
        raise ParameterError("arrays", n, "at least 3 samples")
    return n


def paired_bootstrap(metric: Callable[[np.ndarray, np.ndarray], float], a: np.ndarray, b: np.ndarray,
                     y: np.ndarray, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95) -> dict:
    """Paired bootstrap of ``metric(a, y) - metric(b, y)`` over samples.

    Each resample draws the same samples for both scores, so the interval and the p value account
    for their dependence. ``p`` is the two-sided bootstrap p value of "no difference" (twice the
    smaller share of resampled differences on either side of 0, at least ``1 / n_boot``).
    Returns ``diff`` (on the full sample), ``low``, ``high``, ``p``, ``metric_a``, ``metric_b``, ``n_boot``.
    """
    if not isinstance(n_boot, int) or n_boot < 1000:
        raise ParameterError("n_boot", n_boot, "an integer >= 1000")
    a, b, y = np.asarray(a, float), np.asarray(b, float), np.asarray(y)
    n = _check_same_length(a=a, b=b, y=y)
    ma, mb = metric(a, y), metric(b, y)
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    for i in range(n_boot):
        idx = rng.integers(0, n, n)
        diffs[i] = metric(a[idx], y[idx]) - metric(b[idx], y[idx])
    diffs = diffs[np.isfinite(diffs)]
    alpha = (1 - confidence) / 2
    low, high = (np.quantile(diffs, [alpha, 1 - alpha]) if diffs.size else (np.nan, np.nan))
    p = 2 * min((diffs <= 0).mean(), (diffs >= 0).mean()) if diffs.size else np.nan
    p = float(min(1.0, max(p, 1 / n_boot))) if np.isfinite(p) else float("nan")
    return {"metric_a": ma, "metric_b": mb, "diff": ma - mb, "low": float(low), "high": float(high), "p": p,
            "n_boot": n_boot}


def _midrank(x: np.ndarray) -> np.ndarray:
    return _st.rankdata(x)


def delong(a: np.ndarray, b: np.ndarray, y: np.ndarray) -> dict:
    """DeLong's test of two correlated ROC AUCs (scores ``a`` and ``b`` on the same samples, binary ``y``).

    Returns ``auc_a``, ``auc_b``, ``diff`` (a - b), ``z`` and the two-sided ``p``.
    """
    a, b, y = np.asarray(a, float), np.asarray(b, float), np.asarray(y).astype(bool)
    _check_same_length(a=a, b=b, y=y)
    m, n = int(y.sum()), int((~y).sum())
    if m < 2 or n < 2:
        raise ParameterError("y", f"{m} positives, {n} negatives", "at least 2 positives and 2 negatives")
    aucs, v10, v01 = [], [], []
    for s in (a, b):
        pos, neg = s[y], s[~y]
        tx, ty, tz = _midrank(pos), _midrank(neg), _midrank(np.concatenate([pos, neg]))
        aucs.append((tz[:m].sum() - m * (m + 1) / 2) / (m * n))
        v10.append((tz[:m] - tx) / n)
        v01.append(1 - (tz[m:] - ty) / m)
    s10, s01 = np.cov(np.vstack(v10)), np.cov(np.vstack(v01))
    cov = s10 / m + s01 / n
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    diff = aucs[0] - aucs[1]
    if var <= 0:
        z, p = (0.0, 1.0) if diff == 0 else (float("inf") * np.sign(diff), 0.0)
    else:
        z = diff / np.sqrt(var)
        p = 2 * _st.norm.sf(abs(z))
    return {"auc_a": float(aucs[0]), "auc_b": float(aucs[1]), "diff": float(diff), "z": float(z), "p": float(p)}


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p values (same order as given; nan stays nan and is not counted)."""
    p = np.asarray(pvalues, float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok])]
    m = ok.size
    running = 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[j]))
        out[j] = running
    return out


def paired_seed_test(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> dict:
    """Paired t test over seeds of ``a - b`` (``a[i]`` and ``b[i]`` from the same seed).

    Returns ``mean_diff``, its Student-t interval ``low``/``high``, the two-sided ``p`` and ``n``;
    nan p and bounds with fewer than 2 pairs.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        raise ParameterError("b", f"{b.size} values", f"as many values as a ({a.size}), one per seed")
    ok = np.isfinite(a) & np.isfinite(b)
    d = a[ok] - b[ok]
    mean, low, high = seed_interval(d, confidence)
    if d.size < 2:
        p = float("nan")
    elif np.all(d == d[0]):
        p = 1.0 if d[0] == 0 else 0.0
    else:
        p = float(_st.ttest_rel(a[ok], b[ok]).pvalue)
    return {"mean_diff": mean, "low": low, "high": high, "p": p, "n": int(d.size)}
