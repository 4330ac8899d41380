"""The numbers of the mislabel chapter's answer, read from the tables of :mod:`.tables`.

Each function returns the numbers of one finding (a dict, or ``None`` when its tables are absent);
the chapter (``notebooks/mislabel.py``) writes the sentences around them. :func:`findings` gathers
every finding in the order the chapter states them.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd

from nlpdiff_study.mislabel.tables import CELL, cells, cleaning_cells, cost_table

#: What corrupting a target means, per task kind of the non-classification parts.
TARGET_NOISE = {"squad": "answers moved to another span of the same context",
                "samsum": "reference summaries swapped between dialogues"}
#: the keys of a grid cell in the cells table
_KEY = ["part", "length", "noise_rate", "noise_type"]


def span(values: Iterable[float]) -> tuple[float, float]:
    """The smallest and largest finite value."""
    v = [x for x in values if np.isfinite(x)]
    return min(v), max(v)


def cell_comparison(act: pd.DataFrame, alpha: float = 0.05) -> dict[str, Any]:
    """The exploratory cell-by-cell comparison of the action score with the best other score of each cell
    (``act``: the action rows of :func:`~.tables.paired_tests`): counts of cells, of significant
    differences after Holm and before, the range of the differences and of the seeds."""
    sig = act["p_holm"] < alpha
    ft = act["part"].str.startswith("gpu_")
    n_seeds = act["n_seeds"].astype(int) if "n_seeds" in act else pd.Series([3])
    return {"n": len(act), "n_cheap": int((~ft).sum()), "n_finetuned": int(ft.sum()),
            "better": int((sig & (act["diff"] > 0)).sum()), "worse": int((sig & (act["diff"] < 0)).sum()),
            "raw_better": int(((act["p_seeds"] < alpha) & (act["diff"] > 0)).sum()),
            "raw_worse": int(((act["p_seeds"] < alpha) & (act["diff"] < 0)).sum()),
            "diff": span(act["diff"]), "within_001": int((act["diff"].abs() <= 0.01).sum()),
            "seeds": (int(n_seeds.min()), int(n_seeds.max()))}


def memorisation_split(cells_df: pd.DataFrame) -> dict[str, Any] | None:
    """Action minus the last loss (ROC AUC), in the cells where the model memorises the corrupted labels
    (training accuracy on them above 0.5 at the end) and where not: medians and ranges, and the median
    per backbone among the memorising cells."""
    fin = cells_df.pivot_table(index=_KEY, columns="score", values="roc_auc_mean")
    mem = cells_df[cells_df["score"] == "action"].set_index(_KEY).get(
        "final_train_acc_corrupted_mean", pd.Series(dtype=float))
    if not ({"action", "final_loss"} <= set(fin.columns) and mem.notna().any()):
        return None
    gain = (fin["action"] - fin["final_loss"]).dropna()
    m = mem.reindex(gain.index)
    hi, lo = gain[m > 0.5], gain[m <= 0.5]
    if not (len(hi) and len(lo)):
        return None
    bb = cells_df[cells_df["score"] == "action"].set_index(_KEY)["backbone"].reindex(hi.index)
    return {"memorising": {"n": len(hi), "median": float(hi.median()), "range": span(hi)},
            "not_memorising": {"n": len(lo), "median": float(lo.median()), "range": span(lo)},
            "by_backbone": [(b, float(hi[bb == b].median()), int((bb == b).sum())) for b in sorted(bb.dropna().unique())]}


def confident_learning_cost(cost: pd.DataFrame, cells_df: pd.DataFrame) -> dict[str, Any] | None:
    """Confident learning's cost in runs of one training (range) and the action's ROC AUC minus its
    (range, cells where both were computed)."""
    ct = cost_table(cost)
    clr = ct[ct["method"].str.startswith("confident")]
    both = cells_df[cells_df["score"].isin(["action", "confident_learning"])].pivot_table(
        index=_KEY, columns="score", values="roc_auc_mean").dropna()
    if not (len(clr) and len(both)):
        return None
    d = both["action"] - both["confident_learning"]
    return {"x_one_run": span(clr["x_one_run"]), "diff": span(d), "n": len(d)}


def imdb_candidates(imdb: pd.DataFrame) -> dict[str, Any] | None:
    """Among the crowd-checked IMDB candidates: ROC AUC (mean, 95 % interval over seeds) of the action,
    training-pass action, last loss and the published probabilities; the candidates and seeds."""
    ic = cells(imdb, by=["subset"]).set_index(["subset", "score"])
    if not (("candidates", "action") in ic.index and ("candidates", "published_confident_learning") in ic.index):
        return None
    roc = {s: tuple(float(ic.loc[("candidates", s)][c]) for c in ("roc_auc_mean", "roc_auc_lo", "roc_auc_hi"))
           for s in ("action", "action_train", "final_loss", "published_confident_learning")}
    return {"n_candidates": int(imdb.loc[imdb["subset"] == "candidates", "n"].iloc[0]),
            "n_seeds": int(ic.loc[("candidates", "action"), "n_seeds"]), "roc_auc": roc}


def cleaning_result(cleaning: pd.DataFrame) -> dict[str, Any]:
    """Held-out accuracy after removing the top fractions (range over the fractions, per method), with no
    removal and with clean labels (means over seeds)."""
    cc = cleaning_cells(cleaning).set_index(["method", "fraction"])
    methods = [(m, span(cc.loc[m]["heldout_accuracy_mean"])) for m in ("action", "best_baseline", "random")
               if m in cc.index.get_level_values(0)]
    return {"methods": methods, "no_removal": float(cc.loc[("no removal", 0.0)]["heldout_accuracy_mean"]),
            "clean": float(cc.loc[("clean labels", 0.0)]["heldout_accuracy_mean"])}


def corrupted_targets(tests: pd.DataFrame, cells_df: pd.DataFrame, alpha: float = 0.05) -> list[dict[str, Any]]:
    """Per cell of the parts whose targets are not classes: the action score's ROC AUC (mean and 95 %
    interval over seeds), the best other score's, and the Holm-adjusted paired test's verdict."""
    act = tests[tests["score"] == "action"] if len(tests) else tests
    if not len(act):
        return []
    key = [k for k in CELL if k in act.columns and k in cells_df.columns]  # one cell: part, task, rate, ...
    c = cells_df[cells_df["score"] == "action"].set_index(key)
    rows = []
    for r in act.itertuples():
        row = c.loc[tuple(getattr(r, k) for k in key)]
        rows.append({"task": r.task, "noise_rate": r.noise_rate, "noise": TARGET_NOISE.get(r.task, "targets corrupted"),
                     "backbone": r.backbone, "n_seeds": int(row["n_seeds"]),
                     "action": (float(row["roc_auc_mean"]), float(row["roc_auc_lo"]), float(row["roc_auc_hi"])),
                     "baseline": r.baseline, "roc_auc_baseline": float(r.roc_auc_baseline), "p_holm": float(r.p_holm),
                     "verdict": ("not significantly different" if not r.p_holm < alpha else
                                 "significantly better" if r.diff > 0 else "significantly worse")})
    return rows


def findings(tests: pd.DataFrame, cells_df: pd.DataFrame, cost: pd.DataFrame | None = None,
             published: dict | None = None, cleaning: pd.DataFrame | None = None, imdb: pd.DataFrame | None = None,
             bench: pd.DataFrame | None = None, alpha: float = 0.05, target_tests: pd.DataFrame | None = None,
             target_cells: pd.DataFrame | None = None, pooled: pd.DataFrame | None = None) -> dict[str, Any] | None:
    """Every finding of the chapter's answer, in the order it states them (``None`` for one whose tables
    are absent; ``None`` in all when no grid part has an action row): ``pooled`` (the pre-declared
    comparisons, :func:`nlpdiff_study.comparisons.pooled_detection`), ``cells``, ``memorisation``,
    ``confident_learning``, ``bench`` (the equal-cost benchmark's row), ``published``, ``imdb``,
    ``cleaning``, ``targets`` (a list, one per cell)."""
    act = tests[tests["score"] == "action"]
    if act.empty:
        return None
    has = lambda df: df is not None and len(df)  # noqa: E731
    return {
        "pooled": pooled if has(pooled) else None,
        "cells": cell_comparison(act, alpha),
        "memorisation": memorisation_split(cells_df),
        "confident_learning": (confident_learning_cost(cost, cells_df)
                               if has(cost) and "confident_learning" in set(cells_df["score"]) else None),
        "bench": bench.iloc[0] if has(bench) else None,
        "published": published or None,
        "imdb": imdb_candidates(imdb) if has(imdb) else None,
        "cleaning": cleaning_result(cleaning) if has(cleaning) else None,
        "targets": (corrupted_targets(target_tests, target_cells, alpha)
                    if has(target_tests) and target_cells is not None else []),
    }
