"""Analyses that more than one notebook needs: data maps, extremes, label-error detection.

Pure functions of run-directory tables (pandas in, pandas out).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nlpdiff.errors import ParameterError


def cartography_map(dynamics: pd.DataFrame, pass_: str = "train") -> pd.DataFrame:
    """Per-sample dataset-cartography coordinates in their original orientation (for data maps).

    ``confidence`` = mean_t p_t(y), ``variability`` = population std_t p_t(y), ``correctness`` =
    mean_t 1[correct] (Swayamdipta et al. 2020), from ``pass_`` (their logging uses the training
    pass). Low confidence = hard-to-learn; high variability = ambiguous. The difficulty *scores*
    with higher = harder live in :mod:`nlpdiff.scores`.
    """
    from nlpdiff.scores import Dynamics, cartography_stats

    if pass_ not in set(dynamics["pass"].unique()):
        raise ParameterError("pass_", pass_, f"one of the recorded passes {sorted(dynamics['pass'].unique())}")
    return cartography_stats(Dynamics.from_frame(dynamics, pass_=pass_)).reset_index()


def extremes(samples: pd.DataFrame, scores: pd.DataFrame, score: str, k: int = 10,
             columns: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``k`` hardest and ``k`` easiest samples under ``score`` (higher = harder).

    Returns two frames (hardest first; easiest first) with ``columns`` of ``samples`` and the score.
    Ties are broken by ``sample_id`` so the tables are deterministic.
    """
    if score not in scores.columns:
        raise ParameterError("score", score, f"one of {[c for c in scores.columns if c != 'sample_id']}")
    table = samples.merge(scores[["sample_id", score]], on="sample_id", how="inner")
    if columns is not None:
        table = table[["sample_id", *[c for c in columns if c != "sample_id"], score]]
    hardest = table.sort_values([score, "sample_id"], ascending=[False, True]).head(k)
    easiest = table.sort_values([score, "sample_id"], ascending=[True, True]).head(k)
    return hardest.reset_index(drop=True), easiest.reset_index(drop=True)


def detection_table(scores: pd.DataFrame, is_corrupted: pd.Series | np.ndarray,
                    sample_ids: pd.Series | np.ndarray | None = None,
                    include_ambiguity: bool = False) -> pd.DataFrame:
    """How well each difficulty score ranks corrupted samples first: ROC AUC and average precision.

    ``is_corrupted`` is aligned with ``sample_ids`` (default: ``scores.sample_id`` order). Higher
    score = flagged first. Also reports precision among the top-k, with k = number of corrupted
    samples (the fraction of the k highest-scored samples that are corrupted). Returns one row per
    score, best average precision first; the chance level of average precision is the noise rate
    (``attrs["chance_average_precision"]``; ROC AUC's is 0.5).

    Only difficulty scores are ranked: scores registered on the ambiguity axis (cartography
    variability, :data:`nlpdiff.scores.AXES`) are left out and listed in ``attrs["excluded"]``,
    unless ``include_ambiguity=True``. Columns that are not registered scores are kept.
    """
    from nlpdiff.scores import score_axis

    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(is_corrupted, dtype=bool)
    if sample_ids is not None:
        order = pd.Series(np.arange(len(y)), index=np.asarray(sample_ids))
        scores = scores.set_index("sample_id").loc[order.index].reset_index()
    if len(y) != len(scores):
        raise ParameterError("is_corrupted", f"{len(y)} values", f"one per scored sample ({len(scores)})")
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == len(y):
        raise ParameterError("is_corrupted", f"{n_pos} corrupted of {len(y)}", "both corrupted and clean samples")
    rows = []
    excluded = [c for c in scores.columns if c != "sample_id" and not include_ambiguity
                and score_axis(c) not in (None, "difficulty")]
    for name in [c for c in scores.columns if c != "sample_id" and c not in excluded]:
        s = scores[name].to_numpy(dtype=float)
        if not np.all(np.isfinite(s)):
            continue
        top = np.argsort(-s, kind="stable")[:n_pos]
        rows.append({
            "score": name,
            "roc_auc": roc_auc_score(y, s),
            "average_precision": average_precision_score(y, s),
            "precision_at_k": float(y[top].mean()),
        })
    table = pd.DataFrame(rows).sort_values("average_precision", ascending=False, ignore_index=True)
    table.attrs["chance_average_precision"] = n_pos / len(y)
    table.attrs["excluded"] = excluded
    return table


def rank_agreement(scores: pd.DataFrame, a: str, b: str) -> dict[str, float]:
    """Spearman and Kendall rank correlations between two score columns (scipy.stats)."""
    from scipy import stats

    x = scores[a].to_numpy(dtype=float)
    y = scores[b].to_numpy(dtype=float)
    rho = stats.spearmanr(x, y)
    tau = stats.kendalltau(x, y)
    return {"spearman": float(rho.statistic), "kendall": float(tau.statistic), "n": int(len(x))}
