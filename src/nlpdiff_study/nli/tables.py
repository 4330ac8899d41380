"""The NLI page's tables: every score of a run against ChaosNLI's human signals (:func:`chaosnli_table`),
the paired comparisons with predictive entropy, the summaries over seeds and the declared comparison
pooled over runs (:func:`pooled_agreement`). See :mod:`nlpdiff_study.nli`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from nlpdiff.errors import ParameterError


def _scores_on(scores: pd.DataFrame, signals: pd.DataFrame, columns: Sequence[str] | None) -> tuple[pd.DataFrame, list[str]]:
    from nlpdiff.compare import score_columns

    merged = signals.merge(scores, on="sample_id", how="inner")
    if len(merged) < 3:
        raise ParameterError("signals", f"{len(merged)} samples in common with the scores",
                             "at least 3 ChaosNLI pairs among the run's samples")
    cols = list(columns) if columns is not None else score_columns(scores)
    cols = [c for c in cols if c in merged and np.isfinite(merged[c].to_numpy(float)).all()
            and np.ptp(merged[c].to_numpy(float)) > 0]
    if not cols:
        raise ParameterError("columns", columns, "score columns with finite, non-constant values on the pairs")
    return merged, cols


def _row_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``a`` with the same row of ``b`` (nan for a constant row)."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))


def chaosnli_table(scores: pd.DataFrame, signals: pd.DataFrame, columns: Sequence[str] | None = None,
                   length_column: str | None = "length_words", n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Every score of a run against ChaosNLI's human signals, one row per score.

    ``scores``: a run's scores table (``sample_id`` and score columns, higher = harder);
    ``signals``: :func:`chaosnli_signals`. Columns of the result:

    * ``spearman_entropy`` with its 95 % percentile bootstrap interval over pairs
      (``spearman_entropy_lo``/``_hi``) and ``partial_spearman_given_length`` (rank partial
      correlation controlling for the pair's length; :func:`nlpdiff.compare.partial_spearman`);
    * ``roc_auc`` (with a 95 % bootstrap interval on the same resamples) and ``average_precision``
      at ranking the ``gold_differs`` pairs first, and their chance levels ``chance_roc_auc`` (0.5)
      and ``chance_average_precision`` (the share of ``gold_differs`` pairs);
    * ``n`` pairs and ``n_gold_differs``.

    With ``length_column`` the length itself is the last row (``score`` = the column), a reference:
    how much a score's agreement could come from length alone. ``n_boot=0`` skips the intervals
    (nan), for runs summarised over seeds (:func:`seed_summary`).
    """
    from scipy.stats import rankdata

    from nlpdiff import compare, stats

    merged, cols = _scores_on(scores, signals, columns)
    ent = merged["entropy"].to_numpy(float)
    y = merged["gold_differs"].to_numpy(bool)
    n = len(merged)
    # the same resamples for every score, computed for all resamples at once (rank-based formulas:
    # Spearman = Pearson of the ranks, ROC AUC = Mann-Whitney U / (m n))
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ParameterError("n_boot", n_boot, "an integer >= 0 (0: no intervals)")
    idx = np.random.default_rng(seed).integers(0, n, (max(int(n_boot), 1), n))
    ent_ranks = rankdata(ent[idx], axis=1)
    yb = y[idx]
    m_pos = yb.sum(axis=1).astype(float)
    m_neg = n - m_pos
    length = merged[length_column].to_numpy(float) if length_column else None
    rows = []
    for c in [*cols, *([length_column] if length_column else [])]:
        v = merged[c].to_numpy(float)
        boot_rho = boot_auc = np.full(1, np.nan)
        if n_boot:
            ranks = rankdata(v[idx], axis=1)
            with compare._quiet_resamples():
                boot_rho = _row_pearson(ranks, ent_ranks)
                boot_auc = ((ranks * yb).sum(axis=1) - m_pos * (m_pos + 1) / 2) / (m_pos * m_neg)
        rows.append({
            "score": c, "n": n, "n_gold_differs": int(y.sum()),
            "spearman_entropy": stats.spearman(v, ent),
            "spearman_entropy_lo": float(np.nanquantile(boot_rho, 0.025)),
            "spearman_entropy_hi": float(np.nanquantile(boot_rho, 0.975)),
            "partial_spearman_given_length": (compare.partial_spearman(v, ent, length)
                                              if length is not None and c != length_column else np.nan),
            "roc_auc": stats.roc_auc(v, y),
            "roc_auc_lo": float(np.nanquantile(boot_auc, 0.025)), "roc_auc_hi": float(np.nanquantile(boot_auc, 0.975)),
            "average_precision": stats.average_precision(v, y),
            "chance_roc_auc": 0.5, "chance_average_precision": float(y.mean()),
            "reference": c == length_column,
        })
    return pd.DataFrame(rows)


def entropy_comparison(scores: pd.DataFrame, signals: pd.DataFrame, score: str = "action",
                       baselines: Sequence[str] = ("mean_entropy", "final_entropy"), n_boot: int = 2000,
                       seed: int = 0) -> pd.DataFrame:
    """Angelov et al.'s comparison of the action score with predictive entropy, as paired tests.

    For each baseline (default: the mean and the final predictive entropy), two tests on the same
    ChaosNLI pairs:

    * ``spearman_entropy``: the difference of the Spearman correlations with the human entropy,
      ``score`` minus baseline, with a paired bootstrap (:func:`nlpdiff.stats.paired_bootstrap`:
      interval and p value);
    * ``roc_auc_gold_differs``: the difference of the ROC AUCs at ranking the ``gold_differs``
      pairs first, with DeLong's test (:func:`nlpdiff.stats.delong`; the interval is the normal
      one, ``diff +- 1.96 diff / z``).

    ``p_holm`` is Holm-adjusted across every row of the table. A positive ``diff`` favours
    ``score``. Remember the circularity (module docstring): the ROC AUC target is defined through
    the gold label, which the action score sees and predictive entropy ignores.
    """
    from nlpdiff import stats

    merged, cols = _scores_on(scores, signals, [score, *baselines])
    if score not in cols:
        raise ParameterError("score", score, f"a score of the run with finite, non-constant values: {cols}")
    present = [b for b in baselines if b in cols]
    if not present:
        raise ParameterError("baselines", list(baselines), f"scores of the run: {list(scores.columns)}")
    ent = merged["entropy"].to_numpy(float)
    y = merged["gold_differs"].to_numpy(bool)
    a = merged[score].to_numpy(float)
    rows = []
    for b in present:
        vb = merged[b].to_numpy(float)
        boot = stats.paired_bootstrap(stats.spearman, a, vb, ent, n_boot=n_boot, seed=seed)
        rows.append({"score": score, "baseline": b, "metric": "spearman_entropy", "test": "paired bootstrap",
                     "value_score": boot["metric_a"], "value_baseline": boot["metric_b"], "diff": boot["diff"],
                     "low": boot["low"], "high": boot["high"], "p": boot["p"], "n": len(merged)})
        d = stats.delong(a, vb, y)
        half = 1.959963984540054 * abs(d["diff"] / d["z"]) if d["z"] not in (0.0,) and np.isfinite(d["z"]) else np.nan
        rows.append({"score": score, "baseline": b, "metric": "roc_auc_gold_differs", "test": "DeLong",
                     "value_score": d["auc_a"], "value_baseline": d["auc_b"], "diff": d["diff"],
                     "low": d["diff"] - half, "high": d["diff"] + half, "p": d["p"], "n": len(merged)})
    out = pd.DataFrame(rows)
    out["p_holm"] = stats.holm(out["p"].to_numpy(float))
    return out


def seed_summary(tables: dict, metrics: Sequence[str] = ("spearman_entropy", "roc_auc", "average_precision"),
                 confidence: float = 0.95) -> pd.DataFrame:
    """Mean and Student-t interval over seeds of each score's metrics.

    ``tables`` maps a seed (or run label) to a :func:`chaosnli_table` of a run; runs of one backbone
    that scored the same pairs. One row per score: ``n_seeds`` and, per metric, ``<metric>``
    (mean), ``<metric>_lo`` and ``<metric>_hi`` (:func:`nlpdiff.stats.seed_interval`), with the
    chance levels.
    """
    from nlpdiff import stats

    if not tables:
        raise ParameterError("tables", tables, "at least one run's chaosnli_table")
    long = pd.concat([t.assign(run=str(k)) for k, t in tables.items()], ignore_index=True)
    rows = []
    for score, g in long.groupby("score", sort=False):
        row = {"score": score, "n_seeds": len(g)}
        for m in metrics:
            row[m], row[f"{m}_lo"], row[f"{m}_hi"] = stats.seed_interval(g[m].to_numpy(float), confidence)
        row["chance_roc_auc"] = 0.5
        row["chance_average_precision"] = float(g["chance_average_precision"].mean())
        row["reference"] = bool(g["reference"].iloc[0])
        rows.append(row)
    return pd.DataFrame(rows)


def seed_comparison(tables: dict, score: str = "action", baseline: str = "mean_entropy",
                    metrics: Sequence[str] = ("spearman_entropy", "roc_auc")) -> pd.DataFrame:
    """``score`` against ``baseline`` over seeds: per metric, the paired t test over the same seeds
    (:func:`nlpdiff.stats.paired_seed_test`) of the per-seed :func:`chaosnli_table` values; Holm
    across the metrics (``p_holm``)."""
    from nlpdiff import stats

    rows = []
    for m in metrics:
        a = [float(t.set_index("score").at[score, m]) for t in tables.values()]
        b = [float(t.set_index("score").at[baseline, m]) for t in tables.values()]
        res = stats.paired_seed_test(a, b)
        rows.append({"score": score, "baseline": baseline, "metric": m, "mean_score": float(np.mean(a)),
                     "mean_baseline": float(np.mean(b)), **res})
    out = pd.DataFrame(rows)
    out["p_holm"] = stats.holm(out["p"].to_numpy(float))
    return out


def pooled_agreement(tables: dict, cells: dict, metric: str = "spearman_entropy", baselines=None,
                     margin: float | None = None, n_boot: int = 4000, seed: int = 0) -> pd.DataFrame:
    """The action score against each declared baseline on the human-disagreement question, pooled over runs.

    ``tables`` maps a run name to its :func:`chaosnli_table`; ``cells`` maps the same names to
    ``{"task": ..., "backbone": ..., "seed": ...}``. The paired differences action minus baseline (same run)
    are pooled over the cells (task x backbone) and their seeds by
    :func:`nlpdiff_study.comparisons.pooled_detection` (two-stage cluster bootstrap, Holm over the baselines,
    equivalence verdict); defaults: :data:`~nlpdiff_study.comparisons.NLI_BASELINES` at
    :data:`~nlpdiff_study.comparisons.MARGIN_RHO`, the declared question.
    """
    from nlpdiff_study import comparisons

    missing = sorted(set(tables) - set(cells))
    if missing:
        raise ParameterError("cells", missing, "a task, backbone and seed for every run of tables")
    long = pd.concat([tables[name][["score", metric]].assign(**{k: cells[name][k] for k in ("task", "backbone", "seed")})
                      for name in tables], ignore_index=True)
    return comparisons.pooled_detection(long, comparisons.NLI_BASELINES if baselines is None else baselines,
                                        comparisons.MARGIN_RHO if margin is None else margin, metric=metric,
                                        n_boot=n_boot, seed=seed)


def interval_chart(table: pd.DataFrame, metric: str, chance: float | None = None, title: str = ""):
    """An Altair chart of each score's ``metric`` with its ``<metric>_lo``/``_hi`` interval (one row
    per score, best first), with a vertical rule at ``chance`` when given."""
    import altair as alt

    df = table[["score", metric, f"{metric}_lo", f"{metric}_hi"]].copy()
    df.columns = ["score", "value", "low", "high"]
    order = df.sort_values("value", ascending=False)["score"].tolist()
    y = alt.Y("score:N", sort=order, title=None)
    base = alt.Chart(df)
    chart = base.mark_rule().encode(y=y, x=alt.X("low:Q", title=metric.replace("_", " ")), x2="high:Q") + \
        base.mark_point(filled=True).encode(y=y, x="value:Q", tooltip=["score", alt.Tooltip("value:Q", format=".3f"),
                                                                        alt.Tooltip("low:Q", format=".3f"),
                                                                        alt.Tooltip("high:Q", format=".3f")])
    if chance is not None:
        chart = chart + alt.Chart(pd.DataFrame({"chance": [chance]})).mark_rule(strokeDash=[4, 4], color="gray").encode(
            x="chance:Q")
    return chart.properties(title=title, width=380, height=max(120, 16 * len(df)))
