"""Label-error detection baselines that need more than one training run.

Confident learning (Northcutt, Jiang and Chuang, JAIR 2021) ranks samples by how unlikely their
given label is under *out-of-sample* predicted probabilities. Those come from K-fold
cross-validation: K training runs of the same engine, each on K-1 folds, predicting the held-out
fold. :func:`confident_learning` runs them and writes a folder:

=============================  ===============================================================
``run.json``                   kind ``confident_learning``, parameters, K, per-fold and total
                               wall time (the cost to compare with one action-score run)
``pred_probs.parquet``         sample_id, label, one column ``p_<class>`` per class, fold
``scores.parquet``             sample_id, ``confident_learning`` (1 - cleanlab label quality;
                               higher = more likely mislabelled = harder)
``folds/fold_<i>/``            each fold's own complete run directory
=============================  ===============================================================

The sample ids are those of a run with the same :class:`~nlpdiff.dynamics.TrainParams` (same
task, size, seed and noise), so the scores join that run's ``scores.parquet`` on ``sample_id``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from nlpdiff import rundir, tasks
from nlpdiff.dynamics import TrainParams, prepare_data, train
from nlpdiff.errors import ParameterError
from nlpdiff.scores import confident_learning_score, kfold_indices


def confident_learning(params: TrainParams, k: int = 5, output_dir: str | None = None,
                       progress: bool = True) -> pd.DataFrame:
    """K-fold out-of-sample predicted probabilities and cleanlab's label-quality score.

    ``params`` describes the training run (classification only); each fold trains with it on
    K-1 folds. Returns the scores frame (sample_id, confident_learning). ``output_dir`` defaults to
    ``<params.output_dir>_cl<k>``.
    """
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 2:
        raise ParameterError("k", k, "an integer >= 2 (number of cross-validation folds)")
    params.validate()
    spec = tasks.get_task(params.task)
    if spec.kind != "classification":
        raise ParameterError("task", params.task, "a classification task for confident learning")
    out = Path(output_dir or f"{params.output_dir}_cl{k}")
    rundir.begin_run(out)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    _, samples, _ = prepare_data(params)
    labels = samples["label"].to_numpy()
    if np.bincount(labels, minlength=spec.num_labels).min() < k:
        raise ParameterError("k", k, f"at most the size of the smallest class ({np.bincount(labels).min()})")
    folds = kfold_indices(len(samples), k, seed=params.seed, labels=labels)
    probs = np.full((len(samples), spec.num_labels), np.nan)
    fold_of = np.full(len(samples), -1, dtype=np.int64)
    fold_times = []
    for i, (train_idx, held_idx) in enumerate(folds):
        t = time.perf_counter()
        fold_params = replace(params, output_dir=str(out / "folds" / f"fold_{i}"))
        run = train(fold_params, progress=progress, heldout=False, subset=train_idx)
        texts, pairs = run.head.inputs(samples.iloc[held_idx])
        probs[held_idx] = run.head.predict_proba(texts, pairs, batch_size=params.eval_batch_size)
        fold_of[held_idx] = i
        fold_times.append(time.perf_counter() - t)
        del run
    scores = pd.DataFrame({
        "sample_id": samples["sample_id"].to_numpy(),
        "confident_learning": confident_learning_score(labels, probs),
    })
    pred = pd.DataFrame({"sample_id": samples["sample_id"].to_numpy(), "label": labels, "fold": fold_of})
    for c in range(spec.num_labels):
        pred[f"p_{c}"] = probs[:, c]
    rundir.write_parquet(pred, out / "pred_probs.parquet")
    rundir.write_parquet(scores, out / "scores.parquet")
    rundir.finish_run(out, {
        "kind": "confident_learning",
        "params": asdict(params),
        "k": int(k),
        "n_train": int(len(samples)),
        "n_trainings": int(k),
        "versions": rundir.package_versions(),
        "hardware": rundir.hardware(),
        "wall_time_s": {"folds": [round(x, 3) for x in fold_times], "total": round(time.perf_counter() - t0, 3)},
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    return scores


def load_confident_learning(path: str | Path) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """``(run_info, pred_probs, scores)`` of a finished :func:`confident_learning` folder."""
    path = Path(path)
    info_path = path / "run.json"
    if not info_path.exists():
        raise rundir.RunDirError(f"{str(path)!r} has no run.json: the confident-learning run did not finish")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    if info.get("kind") != "confident_learning" or info.get("status") != "complete":
        raise rundir.RunDirError(f"{str(path)!r} is not a complete confident-learning run")
    return info, pd.read_parquet(path / "pred_probs.parquet"), pd.read_parquet(path / "scores.parquet")
