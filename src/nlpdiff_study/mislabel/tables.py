"""Analysis of the committed mislabel tables: cells, paired tests, real against synthetic noise,
cost and cleaning tables (they train nothing)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from nlpdiff import stats
from nlpdiff_study.comparisons import not_baselines
from nlpdiff_study.mislabel.parts import METRICS, NOISE_SHORT, TESTED

CELL = ["part", "task", "backbone", "length", "noise_rate", "noise_type"]


def cells(summary: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Mean and 95 % t-interval over seeds of every metric, per cell and score, with chance levels and
    the mean memorisation of the cell."""
    by = [c for c in (by or CELL) if c in summary.columns]
    out = []
    for key, g in summary.groupby(by + ["score"], dropna=False):
        row = dict(zip(by + ["score"], key))
        row["n_seeds"] = int(g["seed"].nunique()) if "seed" in g else len(g)
        for m in METRICS:
            row[f"{m}_mean"], row[f"{m}_lo"], row[f"{m}_hi"] = stats.seed_interval(g[m].to_numpy(float))
            row[f"chance_{m}"] = float(g[f"chance_{m}"].mean())
        for m in ("final_train_acc_corrupted", "heldout_accuracy", "heldout_value"):
            if m in g:
                row[f"{m}_mean"] = float(g[m].mean())
        out.append(row)
    return pd.DataFrame(out)


def threshold_cells(table: pd.DataFrame) -> pd.DataFrame:
    """Per cell, over seeds, of ``aum_threshold.csv`` rows (:func:`threshold_row`): the AUM cut-off's
    flags (how many, precision with its 95 % interval, recall; chance = the corrupted share), and the
    precision of the action score's and the ordinary run's AUM top-k with k = the number flagged,
    with a paired t test over seeds of action top-k minus the flags (Holm over the table)."""
    by = [c for c in ("part", "task", "backbone", "length", "noise_rate", "noise_type") if c in table.columns]
    out = []
    for key, g in table.groupby(by, dropna=False):
        row = dict(zip(by, key))
        row["n_seeds"] = int(g["seed"].nunique())
        row["n_judged_mean"] = float(g["n_judged"].mean())
        row["n_flagged_mean"] = float(g["n_flagged"].mean())
        row["n_corrupted_mean"] = float(g["n_corrupted"].mean())
        row["precision_mean"], row["precision_lo"], row["precision_hi"] = stats.seed_interval(
            g["precision"].to_numpy(float))
        row["recall_mean"] = float(g["recall"].mean())
        row["chance_precision"] = float(g["chance_precision"].mean())
        row["action_precision_at_k_mean"] = float(g["action_precision_at_k"].mean())
        row["aum_precision_at_k_mean"] = float(g["aum_precision_at_k"].mean())
        t = stats.paired_seed_test(g["action_precision_at_k"].to_numpy(float), g["precision"].to_numpy(float))
        row["action_minus_flags"], row["p"] = t["mean_diff"], t["p"]
        out.append(row)
    df = pd.DataFrame(out)
    if len(df):
        df["p_holm"] = stats.holm(df["p"].to_numpy(float))
    return df


def paired_tests(summary: pd.DataFrame, metric: str = "roc_auc", tested: Iterable[str] = TESTED,
                 by: list[str] | None = None) -> pd.DataFrame:
    """Per cell: each tested score against the cell's best baseline (best mean ``metric`` outside
    :data:`ACTION_FAMILY` and off the ambiguity axis), a paired t test over seeds (:func:`nlpdiff.stats.paired_seed_test`) and the
    per-seed DeLong p values (largest of them; Holm over the table on the paired test)."""
    by = [c for c in (by or CELL) if c in summary.columns]
    rows = []
    for key, g in summary.groupby(by, dropna=False):
        means = g.groupby("score")[metric].mean()
        base = means.drop(index=[s for s in not_baselines() if s in means.index]).idxmax()
        piv = g.pivot_table(index="seed", columns="score", values=metric)
        for t in tested:
            if t not in piv:
                continue
            pair = piv[[t, base]].dropna()
            test = stats.paired_seed_test(pair[t].to_numpy(), pair[base].to_numpy()) if len(pair) >= 2 else {
                "mean_diff": float((pair[t] - pair[base]).mean()), "low": np.nan, "high": np.nan, "p": np.nan,
                "n": len(pair)}
            dl = g[g["score"] == base].get(f"delong_p_{t}")
            rows.append({**dict(zip(by, key)), "score": t, "baseline": base, f"{metric}_score": means[t],
                         f"{metric}_baseline": means[base], "diff": test["mean_diff"], "diff_lo": test["low"],
                         "diff_hi": test["high"], "p_seeds": test["p"], "n_seeds": test["n"],
                         "delong_p_max": float(dl.max()) if dl is not None and len(dl) else np.nan,
                         "delong_p_min": float(dl.min()) if dl is not None and len(dl) else np.nan})
    out = pd.DataFrame(rows)
    if len(out):
        out["p_holm"] = stats.holm(out["p_seeds"].to_numpy(float))  # nan p stay nan and are not counted
    return out


def real_vs_synthetic(summary: pd.DataFrame, metric: str = "roc_auc",
                      against: Iterable[str] = ("uniform", "empirical")) -> pd.DataFrame:
    """Per backbone, length and score of a part with real errors (``noise_source`` in its summary):
    ``metric`` on the real errors minus on each synthetic noise of the same texts, paired over seeds
    (:func:`nlpdiff.stats.paired_seed_test`; the same seed draws the same model initialisation and
    data order), with the means of both, Holm-adjusted over the table. Negative: the score finds real
    errors worse than synthetic ones."""
    by = [c for c in ("part", "backbone", "length") if c in summary.columns]
    rows = []
    for key, g in summary.groupby([*by, "score"], dropna=False):
        piv = g.pivot_table(index="seed", columns="noise_type", values=metric)
        if "real" not in piv:
            continue
        for other in against:
            if other not in piv:
                continue
            pair = piv[["real", other]].dropna()
            if len(pair) < 2:
                continue
            t = stats.paired_seed_test(pair["real"].to_numpy(), pair[other].to_numpy())
            rows.append({**dict(zip([*by, "score"], key)), "against": other, f"{metric}_real": float(pair["real"].mean()),
                         f"{metric}_synthetic": float(pair[other].mean()), "diff": t["mean_diff"], "diff_lo": t["low"],
                         "diff_hi": t["high"], "p": t["p"], "n_seeds": t["n"]})
    out = pd.DataFrame(rows)
    if len(out):
        out["p_holm"] = stats.holm(out["p"].to_numpy(float))
    return out


def cost_table(cost: pd.DataFrame) -> pd.DataFrame:
    """Mean training runs and wall seconds per method (and part), with the ratio to one dynamics run."""
    g = cost.groupby(["part", "method"], dropna=False).agg(runs=("run", "count"), training_runs=("training_runs", "mean"),
                                                            wall_s_mean=("wall_s", "mean")).reset_index()
    one = g[g["method"].str.startswith("dynamics")].set_index("part")["wall_s_mean"]
    g["x_one_run"] = g["wall_s_mean"] / g["part"].map(one)
    return g


def cleaning_cells(table: pd.DataFrame) -> pd.DataFrame:
    """Held-out accuracy (mean, 95 % interval over seeds) per method and fraction, corrupted samples removed."""
    rows = []
    for (method, f), g in table.groupby(["method", "fraction"], dropna=False):
        mean, lo, hi = stats.seed_interval(g["heldout_accuracy"].to_numpy(float))
        rows.append({"method": method, "fraction": f, "n_seeds": len(g), "heldout_accuracy_mean": mean,
                     "heldout_accuracy_lo": lo, "heldout_accuracy_hi": hi,
                     "corrupted_removed_mean": float(g["corrupted_removed"].mean()),
                     "n_removed_mean": float((g["n_train"] - g["n_kept"]).mean()),
                     "score": ",".join(sorted(set(map(str, g["score"].dropna())) - {""}))})
    return pd.DataFrame(rows)


def cleaning_tests(table: pd.DataFrame, against: Iterable[str] = ("best_baseline", "random")) -> pd.DataFrame:
    """Per fraction removed: held-out accuracy after removing by the action score minus after removing by each
    of ``against``, paired over seeds (:func:`nlpdiff.stats.paired_seed_test`), Holm-adjusted over the table."""
    rows = []
    piv = table.pivot_table(index=["fraction", "seed"], columns="method", values="heldout_accuracy")
    for f, g in piv.groupby(level="fraction"):
        for other in against:
            if "action" not in g or other not in g:
                continue
            pair = g[["action", other]].dropna()
            if len(pair) < 2:
                continue
            t = stats.paired_seed_test(pair["action"].to_numpy(), pair[other].to_numpy())
            rows.append({"fraction": f, "action_minus": other, "diff": t["mean_diff"], "diff_lo": t["low"],
                         "diff_hi": t["high"], "p": t["p"], "n_seeds": t["n"]})
    out = pd.DataFrame(rows)
    if len(out):
        out["p_holm"] = stats.holm(out["p"].to_numpy(float))
    return out


def load_results(root: str | Path = "results/mislabel") -> dict[str, dict[str, pd.DataFrame]]:
    """Every committed part: ``{part: {table name: frame}}``."""
    out: dict[str, dict[str, pd.DataFrame]] = {}
    for d in sorted(Path(root).glob("*/")):
        tables = {p.stem: pd.read_csv(p) for p in sorted(d.glob("*.csv"))}
        if tables:
            out[d.name] = tables
    return out


def _is_classification(task: str) -> bool:
    from nlpdiff import tasks

    try:
        return tasks.get_task(task).kind == "classification"
    except Exception:  # noqa: BLE001 - a task this install does not know: read as a class-label task
        return True


def is_real_error_part(tables: dict[str, pd.DataFrame]) -> bool:
    """Whether a part's tables (:func:`load_results`) come from real annotator errors (NoisyAG-News): its
    summary compares them with synthetic noise (a ``noise_source`` column), or its cleaning table was
    computed on them (``noise_type == "real"``). The label-noise grid's tables leave such parts out:
    they have their own page."""
    summary = tables.get("summary")
    if summary is not None and "noise_source" in summary.columns:
        return True
    cleaning = tables.get("cleaning")
    return cleaning is not None and "noise_type" in cleaning.columns and bool((cleaning["noise_type"] == "real").any())


def grid_summaries(parts: dict[str, dict[str, pd.DataFrame]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The grid parts' summaries (not IMDB's, not cleaning), with their ``part`` column, split in two:
    the label-noise grid (classification tasks: flipped labels) and the parts whose targets are not
    classes (extractive QA: moved answers; summarization: swapped summaries; :func:`nlpdiff.tasks.corrupt_targets`).
    Either frame may be empty."""
    frames = [v["summary"].assign(part=k) for k, v in parts.items()
              if "summary" in v and "subset" not in v["summary"].columns
              and not is_real_error_part(v)]  # real-against-synthetic parts: real_vs_synthetic
    if not frames:
        return pd.DataFrame(), pd.DataFrame()
    every = pd.concat(frames, ignore_index=True)
    cls = every["task"].map(_is_classification).astype(bool)
    return every[cls].reset_index(drop=True), every[~cls].reset_index(drop=True)


def gpu_summary(gpu_dir: str | Path = "results/gpu") -> pd.DataFrame:
    """The committed fine-tuned grid (``results/gpu/summary_detection.csv``, SST-2 and SNLI) in this
    module's summary format (part ``gpu_<task>``, backbone ``finetune``, length ``long``: trained to memorise)."""
    path = Path(gpu_dir) / "summary_detection.csv"
    if not path.exists():
        return pd.DataFrame()
    d = pd.read_csv(path)
    task = d["task"].replace({"snli_chaos": "snli"})
    out = d.assign(part="gpu_" + task, task=task, backbone="finetune", length="long",
                   heldout_accuracy=d["final_heldout_accuracy"])
    for col in ("final_train_acc_clean", "delong_p_action", "delong_p_action_train"):
        if col not in out:
            out[col] = np.nan  # not kept by the GPU summaries
    return out


def verdicts(tests: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Per part and tested score: cells where it is better / worse than the best baseline (Holm-adjusted
    paired test over seeds below ``alpha``) or not distinguishable, and the range of the differences."""
    t = tests.assign(verdict=np.where(tests["p_holm"] < alpha, np.where(tests["diff"] > 0, "better", "worse"),
                                      "no difference"))
    rows = []
    for (part, score), g in t.groupby(["part", "score"]):
        rows.append({"part": part, "score": score, "cells": len(g), "better": int((g["verdict"] == "better").sum()),
                     "worse": int((g["verdict"] == "worse").sum()),
                     "no_difference": int((g["verdict"] == "no difference").sum()),
                     "diff_min": float(g["diff"].min()), "diff_max": float(g["diff"].max())})
    return pd.DataFrame(rows)


def cell_label(df: pd.DataFrame) -> pd.Series:
    """``"20% u, usual"``-style labels of the grid cells."""
    return ((df["noise_rate"] * 100).round().astype(int).astype(str) + "% "
            + df["noise_type"].map(NOISE_SHORT).fillna(df["noise_type"]) + ", " + df["length"].astype(str))
