"""The model-size study: the same detection questions at two model sizes (MiniLM and MPNet-base).

Computed in parts (``params/grids/model_size.yaml``): ``nlpdiff grid model_size PART`` trains, or
reuses under ``runs/model_size/``, every model x seed run of the part with
:func:`nlpdiff_study.mislabel.run_grid` (the mislabel chapter's runner: the same detection rows, costs
and memorisation columns) and writes, under ``results/model_size/PART/``:

- ``<model>/summary.csv`` and ``<model>/cost.csv``: one part of the mislabel grid per model;
- ``learning.csv``: each run's held-out accuracy beside the held-out majority class (does it learn?);
- ``agreement.csv``: Spearman correlation of every score between two runs on the same samples, for
  every pair of runs, labelled ``within`` (two seeds of one model) or ``across`` (two models);
- ``part.json``: the part's configuration and wall time (written by :func:`nlpdiff_study.grid.run_part`).

Every run of a part scores the same samples (a fixed ``data_seed``), so ranks compare across seeds and
sizes. The page (``notebooks/model_size.py``) reads these tables.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from nlpdiff.errors import ParameterError
from nlpdiff_study import mislabel

RESULTS = Path("results/model_size")


def check_part(name: str, part: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The part's grid, one checked mislabel grid part per model (``{model_label: part}``).

    Each model's part is the shared ``params`` updated by the model's own changes; a fixed
    ``data_seed`` is required (the runs must score the same samples)."""
    part = dict(part)
    models = part.pop("models", None)
    if not isinstance(models, dict) or len(models) < 2 or not all(isinstance(v, dict) for v in models.values()):
        raise ParameterError(f"{name}.models", models, "a mapping of at least two model labels to parameter changes")
    if part.get("data_seed") is None:
        raise ParameterError(f"{name}.data_seed", None, "an integer >= 0: every run must score the same samples")
    return {str(label): mislabel.check_part(f"{name}.{label}", {**part, "kind": "grid",
                                                                "params": {**part.get("params", {}), **changes}})
            for label, changes in models.items()}


def agreement(runs: dict[tuple[str, int], pd.DataFrame]) -> pd.DataFrame:
    """Spearman correlation of each score between every two runs on the same samples.

    ``runs`` maps ``(model, seed)`` to the run's score table (``sample_id`` and one column per score).
    One row per pair of runs and score: ``score``, ``kind`` (``within``: one model, two seeds;
    ``across``: two models), ``model_a``, ``seed_a``, ``model_b``, ``seed_b``, ``spearman``, ``n``.
    Scores absent or not finite in either run are left out of that pair."""
    rows = []
    for (ka, a), (kb, b) in itertools.combinations(sorted(runs.items()), 2):
        m = a.merge(b, on="sample_id", suffixes=("_a", "_b"))
        if len(m) < 3:
            raise ParameterError("runs", f"{ka} and {kb} share {len(m)} samples", "runs that score the same samples")
        for score in sorted(set(a.columns) & set(b.columns) - {"sample_id"}):
            x, y = m[f"{score}_a"].to_numpy(float), m[f"{score}_b"].to_numpy(float)
            if not (np.isfinite(x).all() and np.isfinite(y).all()) or x.std() == 0 or y.std() == 0:
                continue
            rows.append({"score": score, "kind": "within" if ka[0] == kb[0] else "across",
                         "model_a": ka[0], "seed_a": ka[1], "model_b": kb[0], "seed_b": kb[1],
                         "spearman": float(stats.spearmanr(x, y).statistic), "n": len(m)})
    return pd.DataFrame(rows)


def learning_table(parts: dict[str, dict[str, Any]], summaries: list[pd.DataFrame]) -> pd.DataFrame:
    """Does each model learn? Per run: held-out accuracy beside the held-out majority class's share,
    and training accuracy (eval pass, final checkpoint) on the clean and on the wrong labels."""
    from nlpdiff.config import from_flat
    from nlpdiff.dynamics import prepare_data

    rows = []
    for (label, part), summary in zip(parts.items(), summaries):
        p = from_flat({**part["params"], "data_seed": part["data_seed"], "output_dir": "unused"})
        if p.eval_split is not None and p.head_class().kind == "classification":
            spec, _, held = prepare_data(p)
            majority = float(held[spec.column("label")].value_counts(normalize=True).max())
        else:
            majority = float("nan")
        runs = summary.drop_duplicates("run")
        for _, r in runs.iterrows():
            rows.append({"model": label, "run": r["run"], "seed": int(r["seed"]), "noise_type": r["noise_type"],
                         "heldout_accuracy": r["heldout_accuracy"], "heldout_majority": majority,
                         "final_train_acc_clean": r["final_train_acc_clean"],
                         "final_train_acc_corrupted": r["final_train_acc_corrupted"]})
    return pd.DataFrame(rows)


def compute(name: str, parts: dict[str, dict[str, Any]], runs_dir: Path, out_dir: Path,
            progress: bool = False) -> dict[str, pd.DataFrame]:
    """Train (or reuse) every model x seed run of one checked part (:func:`check_part`); write its tables
    under ``out_dir``; return them. Run by ``nlpdiff grid model_size PART`` (:mod:`nlpdiff_study.grid`)."""
    from nlpdiff import rundir

    runs_dir, out_dir = Path(runs_dir), Path(out_dir)
    summaries, scores = [], {}
    for label, part in parts.items():
        grid = f"{name}_{label}"
        summary, _ = mislabel.run_grid(grid, part, runs_dir, out_dir / label, progress)
        summaries.append(summary.assign(model=label))
        for job in mislabel.grid_jobs(grid, part):
            scores[(label, job["seed"])] = rundir.load_run(runs_dir / grid / job["run"]).scores
    agree = agreement(scores)
    mislabel._write(out_dir, agreement=agree, learning=learning_table(parts, summaries))
    return {"summary": pd.concat(summaries, ignore_index=True), "agreement": agree}


# ------------------------------------------------------------------------------------------------
# analysis of the committed tables
# ------------------------------------------------------------------------------------------------


def load_part(name: str, root: str | Path = RESULTS) -> dict[str, pd.DataFrame]:
    """A computed part's tables: ``summary`` (every model's, with a ``model`` column), ``cost`` and ``agreement``."""
    folder = Path(root) / name
    if not (folder / "agreement.csv").exists():
        raise ParameterError("part", name, f"a computed part (no {folder / 'agreement.csv'}; run "
                             f"nlpdiff grid model_size {name})")
    summ, cost = [], []
    for sub in sorted(p for p in folder.iterdir() if (p / "summary.csv").exists()):
        summ.append(pd.read_csv(sub / "summary.csv").assign(model=sub.name))
        cost.append(pd.read_csv(sub / "cost.csv").assign(model=sub.name))
    return {"summary": pd.concat(summ, ignore_index=True), "cost": pd.concat(cost, ignore_index=True),
            "agreement": pd.read_csv(folder / "agreement.csv"), "learning": pd.read_csv(folder / "learning.csv")}


def agreement_summary(agree: pd.DataFrame) -> pd.DataFrame:
    """Per score: mean Spearman within a model (each model's seed pairs) and across models (every pair
    of one run of each model), with the number of pairs and the gap across - within (both models'
    within-pairs pooled)."""
    rows = []
    for score, g in agree.groupby("score"):
        row = {"score": score}
        for model, w in g[g["kind"] == "within"].groupby("model_a"):
            row[f"within_{model}"] = float(w["spearman"].mean())
        within, across = g[g["kind"] == "within"]["spearman"], g[g["kind"] == "across"]["spearman"]
        row.update({"within": float(within.mean()), "across": float(across.mean()),
                    "across_minus_within": float(across.mean() - within.mean()),
                    "n_within": len(within), "n_across": len(across)})
        rows.append(row)
    return pd.DataFrame(rows)


def _paired(b_values: np.ndarray, a_values: np.ndarray, margin: float) -> dict[str, Any]:
    """Mean of ``b - a`` over seeds with its 95 % and 90 % t intervals, the paired t test's p, the minimum
    detectable difference (80 % power at level 0.05 for the paired t test over these seeds:
    (t_0.975 + t_0.8) standard errors with n - 1 degrees of freedom; 2.8 only for many seeds) and a
    verdict: ``better``/``worse`` (p < 0.05),
    ``equivalent`` (the 90 % interval inside (-margin, margin): the two one-sided tests) or ``not shown to
    differ``."""
    from nlpdiff import stats as nstats

    t = nstats.paired_seed_test(b_values, a_values)
    d = np.asarray(b_values, float) - np.asarray(a_values, float)
    _, lo90, hi90 = nstats.seed_interval(d, 0.90)
    if len(d) > 1:
        se = float(stats.sem(d))
        power = float(stats.t.ppf(0.975, len(d) - 1) + stats.t.ppf(0.8, len(d) - 1))
    else:
        se = power = float("nan")
    if t["p"] < 0.05:
        verdict = "better" if t["mean_diff"] > 0 else "worse"
    elif np.isfinite(lo90) and -margin < lo90 and hi90 < margin:
        verdict = "equivalent"
    else:
        verdict = "not shown to differ"
    return {"difference": t["mean_diff"], "lo": t["low"], "hi": t["high"], "lo90": lo90, "hi90": hi90,
            "p": t["p"], "mdd": power * se, "verdict": verdict, "seeds": t["n"]}


def paired_detection(summary: pd.DataFrame, a: str, b: str, metric: str = "roc_auc",
                     scores: list[str] | None = None, margin: float | None = None) -> pd.DataFrame:
    """Per score: model ``b`` minus model ``a`` on ``metric``, paired by seed (the same samples and labels):
    each model's mean and :func:`_paired`'s difference, intervals, p, minimum detectable difference and
    verdict at ``margin`` (default: the study's declared :data:`nlpdiff_study.comparisons.MARGIN_AUC`)."""
    from nlpdiff_study.comparisons import MARGIN_AUC

    margin = MARGIN_AUC if margin is None else margin
    rows = []
    wide = summary.pivot_table(index=["score", "seed"], columns="model", values=metric)
    for score, g in wide.groupby(level="score"):
        if (scores is not None and score not in scores) or a not in g or b not in g:
            continue
        g = g.dropna(subset=[a, b])
        if len(g) < 2:
            continue
        rows.append({"score": score, a: float(g[a].mean()), b: float(g[b].mean()),
                     **_paired(g[b].to_numpy(float), g[a].to_numpy(float), margin)})
    return pd.DataFrame(rows)


def standing(summary: pd.DataFrame, metric: str = "roc_auc", score: str = "action",
             against: list[str] | None = None, margin: float | None = None) -> pd.DataFrame:
    """Per model: ``score`` minus each baseline in ``against`` (default: the study's declared
    :data:`nlpdiff_study.comparisons.PRIMARY_BASELINES` present in the table) on ``metric``, paired by
    seed, with :func:`_paired`'s intervals and verdict, and the score's rank among all scores by mean
    (1 = best)."""
    from nlpdiff_study.comparisons import MARGIN_AUC, PRIMARY_BASELINES

    margin = MARGIN_AUC if margin is None else margin
    rows = []
    for model, g in summary.groupby("model"):
        means = g.groupby("score")[metric].mean().sort_values(ascending=False)
        wide = g.pivot_table(index="seed", columns="score", values=metric)
        for base in against or [b for b in PRIMARY_BASELINES if b in wide]:
            w = wide[[score, base]].dropna()
            if len(w) < 2:
                continue
            rows.append({"model": model, "against": base, score: float(w[score].mean()), "baseline": float(w[base].mean()),
                         "rank": int(list(means.index).index(score) + 1), "n_scores": len(means),
                         **_paired(w[score].to_numpy(float), w[base].to_numpy(float), margin)})
    return pd.DataFrame(rows)
