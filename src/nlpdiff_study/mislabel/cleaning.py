"""Cleaning parts of the mislabel study: train on noisy labels, remove (or relabel) the top fractions by a
method, retrain on the rest, and measure held-out accuracy beside the no-removal and clean-label runs
(``cleaning.csv``, ``cost.csv`` under ``results/mislabel/<part>/``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nlpdiff.audit import SavePredictions
from nlpdiff_study.comparisons import not_baselines
from nlpdiff_study.mislabel.parts import (DEFAULT_CLEANING_METHODS, _confident_learning, _heldout, _train, _write,
                                          cost_row, detection_rows)


def best_baseline(scores: pd.DataFrame, y: np.ndarray, metric: str = "roc_auc") -> str:
    """The difficulty score outside :data:`ACTION_FAMILY` with the best ``metric`` on these samples (an oracle
    choice: it uses the ground truth, which favours the baseline)."""
    rows = pd.DataFrame(detection_rows(scores, y, tested=()))
    rows = rows[~rows["score"].isin(not_baselines())]
    return str(rows.sort_values(metric, ascending=False)["score"].iloc[0])


def removal_positions(values: np.ndarray, fraction: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Positions kept after removing the top ``fraction`` by ``values`` (higher = removed first), or at
    random when ``rng`` is given (``values`` then only gives the size)."""
    n = len(values)
    m = int(round(fraction * n))
    order = rng.permutation(n) if rng is not None else np.argsort(-np.asarray(values, float), kind="stable")
    return np.sort(order[m:])


def noisy_predictions(params: dict[str, Any], folder: Path, progress: bool = False) -> pd.DataFrame:
    """The final model's predicted class of every training sample of the run in ``folder`` (trained with
    ``params``): its ``predictions.parquet`` (:func:`nlpdiff.audit.write_predictions`; a cleaning part that
    relabels trains its noisy runs with the :class:`~nlpdiff.audit.SavePredictions` handler), or, for a run
    finished before without one, by training it again with that handler (same parameters and data: the same
    run, now with its predictions)."""
    from nlpdiff import rundir
    from nlpdiff.audit import PREDICTIONS_FILE
    from nlpdiff.config import from_flat
    from nlpdiff.dynamics import train

    file = folder / PREDICTIONS_FILE
    if not file.exists() or not (folder / "run.json").exists():
        p = from_flat({**params, "output_dir": str(folder)})
        train(p, progress=progress, handlers=[SavePredictions(folder)])
        rundir.load_run(folder)  # complete, or raise
    return pd.read_parquet(file)


def _relabel_rows(name: str, part: dict[str, Any], params: dict[str, Any], noisy, y: np.ndarray,
                  common: dict[str, Any], runs_dir: Path, seed: int, progress: bool):
    """Relabel instead of remove: the top fractions by the action score get the noisy run's predicted class
    as their label (:func:`nlpdiff.detection.train_relabelled`); one retraining per fraction."""
    from nlpdiff.config import from_flat
    from nlpdiff.detection import train_relabelled

    pred = noisy_predictions(params, noisy.path, progress).set_index("sample_id")["predicted"]
    given = noisy.samples.set_index("sample_id")["label"]
    truth = noisy.samples.set_index("sample_id")["original_label"]
    ids = noisy.scores["sample_id"].to_numpy()  # sample_id order = the prepared samples' positions
    n = len(ids)
    rows, costs = [], []
    for f in part["fractions"]:
        flagged = np.setdiff1d(np.arange(n), removal_positions(noisy.scores["action"].to_numpy(float), f))
        new = pred.loc[ids[flagged]].to_numpy()
        tag = f"relabel_{round(f * 100):02d}_s{seed}"
        p = from_flat({**params, "output_dir": str(runs_dir / name / tag)})
        r = train_relabelled(p, flagged, new, str(runs_dir / name / tag), progress=progress)
        changed = new != given.loc[ids[flagged]].to_numpy()
        rows.append({**common, "method": "relabel", "score": "action", "fraction": f, "n_kept": n,
                     "corrupted_removed": int(y[flagged].sum()), "labels_changed": int(changed.sum()),
                     "labels_fixed": int((changed & (new == truth.loc[ids[flagged]].to_numpy())).sum()),
                     "labels_broken": int((changed & ~y[flagged]).sum()),
                     "heldout_accuracy": _heldout(r), "run": tag})
        costs.append(cost_row(tag, "retrain (relabel)", r.info, 1, **common))
    return rows, costs


def run_cleaning(name: str, part: dict[str, Any], runs_dir: Path, out_dir: Path,
                 progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Noisy run, clean run, then retrain without the top fractions by each of the part's ``methods``: a
    difficulty score's name (``action``, a declared baseline), ``confident_learning`` (K = 5 trainings of the
    noisy run's recipe), ``best_baseline`` (the best score outside the action family, chosen with the truth:
    exploratory), ``random``, or ``relabel`` (keep every sample; the action score's top fraction takes the noisy
    model's predicted class).

    With ``real: {task: T}`` the noisy runs train task ``T`` (labels with real errors, no injected noise)
    and the clean run the part's own task on the true labels of the same samples (for NoisyAG-News:
    ``noisy_agnews`` and ``noisy_agnews_clean``); the held-out split is the task's (clean) one either way."""
    from nlpdiff.samplers import SubsetSampler

    rows, costs = [], []
    methods = list(part.get("methods", DEFAULT_CLEANING_METHODS))
    real = part.get("real")
    for seed in part["seeds"]:
        params = {**part["params"], "seed": seed, "data_seed": seed}
        clean_params = {**params, "noise_rate": 0.0}
        if real:
            params = {**params, "task": real["task"], "noise_rate": 0.0, "noise_type": "uniform"}
        noisy_dir = runs_dir / name / f"noisy_s{seed}"
        # relabelling needs the noisy model's predicted classes: a new noisy run saves them as it ends
        noisy = _train(params, noisy_dir, progress, handlers=[SavePredictions(noisy_dir)] if "relabel" in methods else ())
        clean = _train(clean_params, runs_dir / name / f"clean_s{seed}", progress)
        samples = noisy.samples.set_index("sample_id")
        y = samples.loc[noisy.scores["sample_id"], "is_corrupted"].to_numpy(bool)
        baseline = best_baseline(noisy.scores, y)
        scores = noisy.scores
        if "confident_learning" in methods:  # K = 5 trainings of the noisy run's recipe: out-of-sample labels
            cl_scores, cl_info = _confident_learning(params, runs_dir / name / f"noisy_s{seed}", progress)
            scores = scores.merge(cl_scores, on="sample_id", how="left")
        n = len(noisy.scores)
        common = {"part": name, "seed": seed, "noise_rate": float(y.mean()) if real else params.get("noise_rate"),
                  "noise_type": "real" if real else params.get("noise_type", "uniform"), "n_train": n,
                  "n_corrupted": int(y.sum())}
        for label, r in (("no removal", noisy), ("clean labels", clean)):
            rows.append({**common, "method": label, "score": "", "fraction": 0.0, "n_kept": n,
                         "corrupted_removed": 0, "heldout_accuracy": _heldout(r), "run": r.path.name})
            costs.append(cost_row(r.path.name, label, r.info, 1, **common))
        if "confident_learning" in methods:
            costs.append(cost_row(f"noisy_s{seed}_cl5", "confident_learning (K=5)", cl_info, 5, **common))
        for method in methods:
            if method == "relabel":
                rows_, costs_ = _relabel_rows(name, part, params, noisy, y, common, runs_dir, seed, progress)
                rows.extend(rows_)
                costs.extend(costs_)
                print(f"seed {seed} relabel (action): done", flush=True)
                continue
            score = baseline if method == "best_baseline" else method
            for f in part["fractions"]:
                if method == "random":
                    keep = removal_positions(np.zeros(n), f, np.random.default_rng(1000 * seed + int(f * 1000)))
                else:
                    keep = removal_positions(scores[score].to_numpy(float), f)
                # positions are sample_id order (scores are sorted by sample_id, as the sampler's positions)
                tag = f"{method}_{round(f * 100):02d}_s{seed}"
                sampler = SubsetSampler(n, keep, params.get("batch_size", 32), seed)
                r = _train(params, runs_dir / name / tag, progress, sampler=sampler)
                removed = np.setdiff1d(np.arange(n), keep)
                rows.append({**common, "method": method, "score": score, "fraction": f, "n_kept": len(keep),
                             "corrupted_removed": int(y[removed].sum()), "heldout_accuracy": _heldout(r), "run": tag})
                costs.append(cost_row(tag, f"retrain ({method})", r.info, 1, **common))
            print(f"seed {seed} {method} ({score}): done", flush=True)
    table, cost = pd.DataFrame(rows), pd.DataFrame(costs)
    _write(out_dir, cleaning=table, cost=cost)
    return table, cost
