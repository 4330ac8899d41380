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

Each fold trains on K-1 folds through a :class:`~nlpdiff.samplers.SubsetSampler`, with the head
built on the whole training set, so a fold's run directory holds every sample (its eval-pass rows
cover the held-out fold too; train-pass rows exist for the fold's training samples only) and the
probe backbone extracts its frozen features once for all folds. The sample ids are those of a run
with the same parameters (same task, size, seed and noise), so the scores join that run's
``scores.parquet`` on ``sample_id``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from nlpdiff import rundir, tasks
from nlpdiff.config import TrainParams
from nlpdiff.dynamics import data_source, prepare_data, train
from nlpdiff.errors import ParameterError
from nlpdiff.samplers import SubsetSampler
from nlpdiff.scores import confident_learning_score, kfold_indices


def confident_learning(params: TrainParams, k: int = 5, output_dir: str | None = None,
                       progress: bool = True, overwrite: bool = False) -> pd.DataFrame:
    """K-fold out-of-sample predicted probabilities and cleanlab's label-quality score.

    ``params`` describes the training run (classification only); each fold trains with it on
    K-1 folds. Returns the scores frame (sample_id, confident_learning). ``output_dir`` defaults to
    ``<params.output_dir>_cl<k>``. A folder holding a finished confident-learning run made with other
    parameters, data or K is refused before any training unless ``overwrite=True`` (the folds of the
    run being written are part of it and are replaced with it).
    """
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 2:
        raise ParameterError("k", k, "an integer >= 2 (number of cross-validation folds)")
    params.validate()
    spec = tasks.get_task(params.task)
    if spec.kind != "classification":
        raise ParameterError("task", params.task, "a classification task for confident learning")
    folder = Path(output_dir or f"{params.output_dir}_cl{k}")
    if not overwrite:
        try:
            info, _, _ = load_confident_learning(folder)
        except rundir.RunDirError:
            info = None
        if info is not None and (rundir.recorded_params(info) != params.flat() or info.get("k") != k
                                 or info.get("data") != data_source(params)):
            raise ParameterError("overwrite", False, f"overwrite=True to replace the finished confident-learning "
                                 f"run in {folder}", hint="it was made with other parameters, data or K")
    writer = rundir.RunWriter(folder)
    out = writer.begin()
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
        fold_params = params.replace(output_dir=str(out / "folds" / f"fold_{i}"))
        sampler = SubsetSampler(len(samples), train_idx, params.batch_size, params.seed)
        run = train(fold_params, progress=progress, heldout=False, sampler=sampler, overwrite=True)
        probs[held_idx] = run.head.predict_proba_positions(held_idx, batch_size=params.eval_batch_size)
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
    writer.table("pred_probs", pred)
    writer.table("scores", scores)
    writer.finish("confident_learning", params.flat(), data=data_source(params),
                  timings={"folds": [round(x, 3) for x in fold_times]},
                  k=int(k), n_train=int(len(samples)), n_trainings=int(k))
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


def relabelled_params(params: TrainParams, labels: np.ndarray, output_dir: str, name: str,
                      label_names: list[str] | None = None, what: str = "with other labels",
                      prepared: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> TrainParams:
    """Parameters of a run with ``params``' recipe on a copy of its training samples that carry ``labels``
    (position ``i``: the ``i``-th prepared training sample, :func:`nlpdiff.dynamics.prepare_data`), registered
    as task ``name`` (:func:`nlpdiff.tasks.from_frame`) with the same held-out set and no injected noise.
    Serves the threshold-sample run (a fake extra class) and relabelling (flagged labels replaced by a
    model's predictions). ``prepared``: the ``(samples, held_out)`` already prepared from ``params``."""
    spec = tasks.get_task(params.task)
    if spec.kind != "classification":
        raise ParameterError("task", params.task, "a classification task to train with other labels")
    samples, held = prepared if prepared is not None else prepare_data(params)[1:]
    labels = np.asarray(labels)
    if len(labels) != len(samples):
        raise ParameterError("labels", f"{len(labels)} labels", f"one label per training sample ({len(samples)})")
    cols = {"text": spec.column("text")}
    if "text_pair" in spec.roles:
        cols["text_pair"] = spec.column("text_pair")

    def frame_of(df: pd.DataFrame, lab: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({**{k: df[v].to_numpy() for k, v in cols.items()}, "label": lab})

    names = label_names or spec.label_names or [str(i) for i in range(spec.num_labels)]
    fake = tasks.from_frame(
        frame_of(samples, labels), text="text", label="label", text_pair=cols.get("text_pair") and "text_pair",
        name=name, label_names=list(names),
        heldout=frame_of(held, held["label"].to_numpy()) if len(held) else None, heldout_fraction=0.0,
        description=f"{spec.name} training samples of data seed {params.data_seed} (noise {params.noise_rate} "
                    f"{params.noise_type}) {what}",
    )
    tasks.register_task(fake, replace=True)
    return params.replace(task=fake.name, train_size=None, eval_size=None, train_split=None,
                          eval_split="default" if len(held) else None, noise_rate=0.0, data_dir=None,
                          output_dir=str(output_dir))


def train_relabelled(params: TrainParams, positions: np.ndarray, new_labels: np.ndarray, output_dir: str,
                     progress: bool = False) -> rundir.Run:
    """Relabel instead of remove: a run with ``params``' recipe on its own training samples with the labels
    at ``positions`` replaced by ``new_labels`` (for example the trained model's predicted classes of the
    samples a score flags), into ``output_dir`` (a finished run with the same parameters and data is
    reused). Returns the run; its held-out accuracy is measured on the task's own held-out set."""
    from nlpdiff.dynamics import load_or_train

    params.validate()
    spec = tasks.get_task(params.task)
    _, samples, held = prepare_data(params)
    positions = np.asarray(positions, dtype=np.int64)
    new_labels = np.asarray(new_labels, dtype=np.int64)
    if len(positions) != len(new_labels):
        raise ParameterError("new_labels", f"{len(new_labels)} labels", f"one per position ({len(positions)})")
    if len(positions) and (positions.min() < 0 or positions.max() >= len(samples)):
        raise ParameterError("positions", f"{positions.min()}..{positions.max()}",
                             f"positions of the {len(samples)} training samples")
    if len(new_labels) and (new_labels.min() < 0 or new_labels.max() >= spec.num_labels):
        raise ParameterError("new_labels", f"{new_labels.min()}..{new_labels.max()}",
                             f"class ids 0..{spec.num_labels - 1}")
    labels = samples["label"].to_numpy().copy()
    labels[positions] = new_labels
    run_params = relabelled_params(params, labels, output_dir, name=f"{spec.name}-relabelled-{Path(output_dir).name}",
                                   what=f"with {len(positions)} labels replaced", prepared=(samples, held))
    return load_or_train(run_params, progress=progress)


# ------------------------------------------------------------------------------------------------
# AUM with threshold samples (Pleiss, Zhang, Elenberg and Weinberger, NeurIPS 2020)
# ------------------------------------------------------------------------------------------------

#: the name of the fake extra class of the threshold-sample run
THRESHOLD_CLASS = "threshold (fake class)"


def aum_threshold(params: TrainParams, output_dir: str | None = None, percentile: float = 99.0,
                  progress: bool = False) -> tuple[dict, pd.DataFrame]:
    """The threshold-sample run of Pleiss et al. 2020 and its AUM cut-off: which samples AUM flags.

    The training samples of ``params`` (same task, size, data seed and injected noise as a run
    with these parameters, so ``sample_id`` joins that run's) are copied; ``floor(n / (c + 1))``
    of them, drawn with ``params.seed`` (:func:`nlpdiff.scores.aum_threshold_samples`), get a fake
    extra class ``c``; a run with the same recipe trains on that copy as a task of its own
    (:func:`nlpdiff.tasks.from_frame`, ``c + 1`` classes, same held-out set) into ``output_dir``
    (default ``<params.output_dir>_aumthr``; a finished run with the same parameters and data is
    reused). The cut-off is the ``percentile``-th percentile of the threshold samples' AUM
    (:func:`nlpdiff.scores.aum_cutoff`); every other sample with a lower AUM is flagged
    (:func:`nlpdiff.scores.aum_flags`). The threshold samples themselves cannot be judged in this
    run (Pleiss et al. run twice with disjoint threshold sets to flag every sample; one run flags
    the others, which is what is measured here).

    Returns ``(info, frame)``: ``info`` has ``cutoff``, ``n_threshold``, ``n_flagged``, ``percentile``
    and the run's wall seconds; ``frame`` has ``sample_id``, ``is_threshold``, ``aum`` (plain, mean
    margin of the assigned label: higher = easier) and ``flagged``.
    """
    from nlpdiff.dynamics import load_or_train
    from nlpdiff.scores import aum_cutoff, aum_flags, aum_threshold_samples

    if not 0.0 < percentile <= 100.0:
        raise ParameterError("percentile", percentile, "a number in (0, 100]")
    params.validate()
    spec = tasks.get_task(params.task)
    if spec.kind != "classification":
        raise ParameterError("task", params.task, "a classification task for AUM threshold samples")
    _, samples, held = prepare_data(params)
    c = spec.num_labels
    positions = aum_threshold_samples(len(samples), c, params.seed)
    labels = samples["label"].to_numpy().copy()
    labels[positions] = c
    folder = output_dir or f"{params.output_dir}_aumthr"
    run_params = relabelled_params(
        params, labels, str(folder), name=f"{spec.name}-aum-threshold-s{params.seed}",
        label_names=[*(spec.label_names or [str(i) for i in range(c)]), THRESHOLD_CLASS],
        what=f"with {len(positions)} threshold samples relabelled to a fake class", prepared=(samples, held))
    run = load_or_train(run_params, progress=progress)
    if len(run.samples) != len(samples):
        raise ParameterError("params", params.task, "a task whose samples are all kept by the head",
                             hint=f"{len(samples) - len(run.samples)} samples were skipped in the threshold run")
    by_row = run.samples.set_index("sample_id")["row_idx"]
    aum = pd.Series(-run.scores.set_index("sample_id")["aum"].to_numpy(),
                    index=by_row.loc[run.scores["sample_id"]].to_numpy()).sort_index().to_numpy()
    is_threshold = np.zeros(len(samples), dtype=bool)
    is_threshold[positions] = True
    cutoff = aum_cutoff(aum, positions, percentile)
    frame = pd.DataFrame({"sample_id": samples["sample_id"].to_numpy(), "is_threshold": is_threshold,
                          "aum": aum, "flagged": aum_flags(aum, positions, percentile)})
    info = {"cutoff": cutoff, "percentile": float(percentile), "n_threshold": int(len(positions)),
            "n_flagged": int(frame["flagged"].sum()), "n": int(len(samples)),
            "wall_s": float(run.info.get("wall_time_s", {}).get("total", np.nan)), "run_dir": str(folder),
            "run_info": run.info}
    return info, frame
