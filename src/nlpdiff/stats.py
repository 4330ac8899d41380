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
1993 (percentile intervals); Field and Welsh, "Bootstrapping clustered data", JRSS B 2007 (resampling
clusters, then units within them: :func:`cluster_bootstrap`); Schuirmann, "A comparison of the two
one-sided tests procedure and the power approach for assessing the equivalence of average
bioavailability", J. Pharmacokinetics and Biopharmaceutics 1987 (TOST: :func:`equivalence_verdict`).

A pooled estimate across the cells of a grid uses :func:`cluster_bootstrap` (cells are clusters, the
seeds of a cell its units); a claim of "no difference" needs :func:`equivalence_verdict` at a margin
declared before the results, else it says "not shown to differ" with the minimum detectable difference.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy import stats as _st

from nlpdiff.errors import ParameterError

__all__ = ["spearman", "roc_auc", "average_precision", "seed_interval", "paired_bootstrap", "delong", "holm",
           "paired_seed_test", "bounded_seed_interval", "cluster_bootstrap", "equivalence_verdict"]


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


def bounded_seed_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and a ``confidence`` interval of a probability-scale metric (ROC AUC, accuracy) over seeds that
    stays inside [0, 1]: the Student-t interval of the logits, mapped back (values are clipped to
    [1e-6, 1 - 1e-6] first). The mean is the plain mean of the values."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size and ((v < 0) | (v > 1)).any():
        raise ParameterError("values", f"range [{v.min():.3g}, {v.max():.3g}]", "values in [0, 1]")
    mean = float(v.mean()) if v.size else float("nan")
    if v.size < 2:
        return mean, float("nan"), float("nan")
    logit = np.log(np.clip(v, 1e-6, 1 - 1e-6) / (1 - np.clip(v, 1e-6, 1 - 1e-6)))
    _, lo, hi = seed_interval(logit, confidence)
    if not np.isfinite(lo):  # constant logits: the interval is the value itself
        lo = hi = float(logit[0])
    expit = lambda x: float(1 / (1 + np.exp(-x)))  # noqa: E731
    return mean, expit(lo), expit(hi)


def cluster_bootstrap(diffs: Sequence[float], clusters: Sequence, n_boot: int = 4000, seed: int = 0,
                      margin: float | None = None) -> dict:
    """Pooled mean of paired differences nested in clusters (grid cells), with a two-stage bootstrap.

    ``diffs[i]`` is one paired difference (e.g. one seed's ROC AUC of score A minus score B), from
    cluster ``clusters[i]``. Each replicate draws the clusters with replacement, then the units of each
    drawn cluster with replacement, and takes the mean of each cluster's mean (every cell weighs the
    same, however many seeds it has). Returns ``estimate`` (the mean of cluster means), the 95 %
    percentile interval ``low``/``high``, the 90 % interval ``low90``/``high90`` (the two one-sided
    tests at level 0.05), the bootstrap standard error ``se``, a two-sided bootstrap ``p`` for "no
    difference", the minimum detectable difference ``mdd`` (2.8 x se: 80 % power at level 0.05),
    ``n_clusters`` and ``n_units``; with ``margin``, also ``p_equivalence`` (the larger of the two
    one-sided bootstrap p values against -margin and +margin).
    """
    d = np.asarray(diffs, float)
    c = np.asarray(clusters)
    if d.shape != c.shape:
        raise ParameterError("clusters", f"{c.size} labels", f"one cluster label per difference ({d.size})")
    ok = np.isfinite(d)
    d, c = d[ok], c[ok]
    if d.size == 0:
        raise ParameterError("diffs", "no finite value", "at least one finite paired difference")
    groups = [d[c == k] for k in dict.fromkeys(c.tolist())]
    estimate = float(np.mean([g.mean() for g in groups]))
    rng = np.random.default_rng(seed)
    reps = np.empty(n_boot)
    for b in range(n_boot):
        picked = rng.integers(0, len(groups), len(groups))
        reps[b] = np.mean([groups[k][rng.integers(0, len(groups[k]), len(groups[k]))].mean() for k in picked])
    low, high, low90, high90 = np.percentile(reps, [2.5, 97.5, 5, 95])
    p = float(min(1.0, 2 * min((reps <= 0).mean(), (reps >= 0).mean())))
    se = float(reps.std(ddof=1))
    out = {"estimate": estimate, "low": float(low), "high": float(high), "low90": float(low90),
           "high90": float(high90), "se": se, "p": p, "mdd": 2.8 * se, "n_clusters": len(groups),
           "n_units": int(d.size)}
    if margin is not None:
        out["p_equivalence"] = float(max((reps <= -margin).mean(), (reps >= margin).mean()))
    return out


def equivalence_verdict(result: dict, margin: float, alpha: float = 0.05, p_difference: float | None = None,
                        p_equivalence: float | None = None) -> str:
    """One of ``better``, ``worse``, ``equivalent`` or ``not shown to differ`` for a pooled difference.

    ``better``/``worse``: the difference test rejects (``p_difference``, default ``result["p"]``, below
    ``alpha``; pass a Holm-adjusted p for a family). ``equivalent``: the two one-sided tests reject at
    ``margin`` (``p_equivalence``, default ``result["p_equivalence"]``, below ``alpha``), i.e. the 90 %
    interval lies inside (-margin, margin). Otherwise ``not shown to differ``: the sentence must then give
    the minimum detectable difference, never "no difference".
    """
    if margin <= 0:
        raise ParameterError("margin", margin, "a positive equivalence margin, declared before the results")
    p_diff = result["p"] if p_difference is None else p_difference
    p_eq = result.get("p_equivalence") if p_equivalence is None else p_equivalence
    if p_diff < alpha:
        return "better" if result["estimate"] > 0 else "worse"
    if p_eq is not None and p_eq < alpha:
        return "equivalent"
    return "not shown to differ"
