"""The mislabel-detection study: a grid of label-noise runs computed in parts, real label errors, cleaning.

``python -m nlpdiff_study.mislabel PART [--config params/mislabel.yaml] [--runs-dir runs/mislabel]
[--out results/mislabel]`` computes one *part* of ``params/mislabel.yaml`` and writes its small
summary tables under ``results/mislabel/<part>/`` (committed, so the chapter
``notebooks/mislabel.py`` is rebuilt from them without rerunning any part). A part is
one of three kinds:

``grid``
    One task and backbone, noise rates x noise types x seeds x training lengths. Each run is one
    :func:`nlpdiff.dynamics.load_or_train` call (``data_seed = seed``, so the seeds differ in which
    samples are drawn and which labels corrupted as well as in the model). Writes
    ``summary.csv`` (one row per run and score: ROC AUC, average precision, precision at k with
    k = the number of corrupted samples, their chance levels, the run's memorisation and held-out
    accuracy, per-seed DeLong tests of the action scores against every other score) and
    ``cost.csv`` (one row per run and method: training runs and wall seconds from ``run.json``:
    every dynamics score comes from one run; confident learning, :func:`nlpdiff.detection.
    confident_learning` with K folds on the same backbone, needs K).
``cleaning``
    Under one noise cell: remove the top fractions by the action score, by the best baseline and at
    random, retrain on the rest (:class:`nlpdiff.samplers.SubsetSampler`) and record held-out
    accuracy, beside the clean-data and the no-removal runs. Writes ``cleaning.csv`` and ``cost.csv``.
``imdb``
    Runs on the IMDB test split; every score is evaluated against the crowd-checked label errors of
    Northcutt et al. 2021 (among the 1,310 candidates, and on every scored review). Writes
    ``summary.csv`` and ``cost.csv``.

The analysis functions (:func:`cells`, :func:`paired_tests`, :func:`cost_table`,
:func:`cleaning_cells`) turn the committed tables into what the chapter shows; they train nothing.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from nlpdiff import stats
from nlpdiff.errors import ParameterError
from nlpdiff_study.comparisons import action_family, not_baselines

CONFIG = Path("params/mislabel.yaml")
PART_KINDS = ("grid", "cleaning", "imdb")
#: the action family (the registry's "action" family: the action score and its variants; ``mean_loss`` ranks
#: exactly as ``action``); the "best baseline" of a cell is the best score outside it
ACTION_FAMILY = action_family()
TESTED = ("action", "action_train")
METRICS = ("roc_auc", "average_precision", "precision_at_k")
NOISE_SHORT = {"uniform": "u", "class_conditional": "cc", "empirical": "emp", "real": "real"}


# ------------------------------------------------------------------------------------------------
# configuration
# ------------------------------------------------------------------------------------------------


def load_config(path: str | Path = CONFIG) -> dict[str, Any]:
    """``params/mislabel.yaml`` as a dict (``parts``: name -> part)."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise ParameterError("config", str(path), "an existing mislabel configuration file (params/mislabel.yaml)")
    cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(cfg.get("parts"), dict) or not cfg["parts"]:
        raise ParameterError("parts", cfg.get("parts"), "a mapping of part names to parts")
    return cfg


def get_part(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    """One part, checked: its kind, its base parameters and the lists it needs."""
    parts = cfg["parts"]
    if name not in parts:
        raise ParameterError("part", name, f"one of {sorted(parts)}")
    part = dict(parts[name])
    kind = part.get("kind", "grid")
    if kind not in PART_KINDS:
        raise ParameterError(f"{name}.kind", kind, f"one of {list(PART_KINDS)}")
    part["kind"] = kind
    if not isinstance(part.get("params"), dict) or "task" not in part["params"]:
        raise ParameterError(f"{name}.params", part.get("params"), "a mapping of flat training parameters with a task")
    seeds = part.get("seeds", [0, 1, 2])
    if not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise ParameterError(f"{name}.seeds", seeds, "a non-empty list of integers >= 0")
    part["seeds"] = list(seeds)
    data_seed = part.get("data_seed")
    if data_seed is not None and not (isinstance(data_seed, int) and data_seed >= 0):
        raise ParameterError(f"{name}.data_seed", data_seed, "an integer >= 0 (the same samples for every seed) "
                             "or absent (data_seed = seed)")
    if kind == "grid":
        for key in ("rates", "noise_types"):
            if not part.get(key) and not (part.get("real") and part.get(key) == []):  # a real-errors-only part
                raise ParameterError(f"{name}.{key}", part.get(key), "a non-empty list (or [] with real errors)")
        for r in part["rates"]:
            if not isinstance(r, (int, float)) or not 0 < r < 1:
                raise ParameterError(f"{name}.rates", r, "noise rates in (0, 1)")
        lengths = part.get("lengths") or {"usual": {}}
        if not isinstance(lengths, dict):
            raise ParameterError(f"{name}.lengths", lengths, "a mapping of length names to parameter changes")
        part["lengths"] = lengths
    real = part.get("real")
    if kind in ("grid", "cleaning") and real is not None:
        if not isinstance(real, dict) or not isinstance(real.get("task"), str) or not isinstance(
                real.get("rate"), (int, float)) or not 0 < real["rate"] < 1:
            raise ParameterError(f"{name}.real", real, "a mapping {task: a task whose labels carry real errors, "
                                 "rate: its error rate in (0, 1)}")
    if kind == "cleaning":
        fr = part.get("fractions")
        if not fr or not all(isinstance(f, (int, float)) and 0 < f < 1 for f in fr):
            raise ParameterError(f"{name}.fractions", fr, "a non-empty list of fractions in (0, 1)")
    return part


def grid_jobs(name: str, part: dict[str, Any]) -> list[dict[str, Any]]:
    """Every training run of a grid part, seed-major (a cut budget loses whole seeds, not cells).

    ``data_seed`` is the seed (each seed draws other samples and corrupts other labels) unless the part
    fixes it (``data_seed: N``: every seed scores the same samples, so scores compare across seeds)."""
    jobs = []
    real = part.get("real")
    for seed in part["seeds"]:
        data_seed = seed if part.get("data_seed") is None else int(part["data_seed"])
        for length, changes in part["lengths"].items():
            if real:  # the real errors of the same texts: no injected noise, the task's own truth
                params = {**part["params"], **(changes or {}), "task": real["task"], "noise_rate": 0.0,
                          "noise_type": "uniform", "seed": seed, "data_seed": data_seed}
                jobs.append({"run": f"{name}_real_{length}_s{seed}", "length": length,
                             "noise_rate": float(real["rate"]), "noise_type": "real", "seed": seed, "params": params})
            for rate in part["rates"]:
                for kind in part["noise_types"]:
                    run = f"{name}_n{round(rate * 100):02d}{NOISE_SHORT.get(kind, kind)}_{length}_s{seed}"
                    params = {**part["params"], **(changes or {}), "noise_rate": float(rate), "noise_type": kind,
                              "seed": seed, "data_seed": data_seed}
                    jobs.append({"run": run, "length": length, "noise_rate": float(rate), "noise_type": kind,
                                 "seed": seed, "params": params})
    return jobs


# ------------------------------------------------------------------------------------------------
# per-run measurements
# ------------------------------------------------------------------------------------------------


def detection_rows(scores: pd.DataFrame, y: np.ndarray, tested: Iterable[str] = TESTED) -> list[dict[str, Any]]:
    """ROC AUC, average precision, precision at k (k = positives) and chance levels, one row per score.

    ``scores`` has ``sample_id`` and one column per score (higher = more suspect), rows aligned with
    the boolean ``y``. Each row also carries the per-run DeLong p value of each ``tested`` score
    against this one (``delong_p_<tested>``; nan for itself). Scores with non-finite values are left out.
    """
    y = np.asarray(y, dtype=bool)
    n, k = len(y), int(y.sum())
    if k == 0 or k == n:
        raise ParameterError("y", f"{k} positives of {n}", "both positives and negatives")
    cols = [c for c in scores.columns if c != "sample_id" and np.isfinite(scores[c].to_numpy(float)).all()]
    rows = []
    for name in cols:
        s = scores[name].to_numpy(float)
        top = np.argsort(-s, kind="stable")[:k]
        row = {"score": name, "n": n, "n_positive": k, "roc_auc": stats.roc_auc(s, y),
               "average_precision": stats.average_precision(s, y), "precision_at_k": float(y[top].mean()),
               "chance_roc_auc": 0.5, "chance_average_precision": k / n, "chance_precision_at_k": k / n}
        for t in tested:
            if t in cols and t != name:
                row[f"delong_p_{t}"] = stats.delong(scores[t].to_numpy(float), s, y)["p"]
            else:
                row[f"delong_p_{t}"] = float("nan")
        rows.append(row)
    return rows


def memorisation(run) -> dict[str, float]:
    """Training accuracy (eval pass, against the labels trained on) on the corrupted and clean samples.

    ``final_train_acc_corrupted`` at the last checkpoint (> 0.5: the model memorised the corrupted
    labels), ``max_train_acc_corrupted`` over checkpoints, ``first_epoch_memorised`` (the first
    checkpoint's epoch where it passed 0.5; nan when never) and ``final_train_acc_clean``.
    """
    d = run.dynamics
    d = d[d["pass"] == "eval"]
    cor = run.samples.set_index("sample_id")["is_corrupted"].astype(bool)
    d = d.assign(corrupted=cor.reindex(d["sample_id"]).to_numpy())
    by = d.groupby(["checkpoint", "corrupted"])["correct"].mean().unstack()
    epochs = d.groupby("checkpoint")["epoch"].first()
    acc_c = by.get(True, pd.Series(np.nan, index=by.index))
    passed = acc_c[acc_c > 0.5]
    return {"final_train_acc_corrupted": float(acc_c.iloc[-1]), "max_train_acc_corrupted": float(acc_c.max()),
            "first_epoch_memorised": float(epochs.loc[passed.index[0]]) if len(passed) else float("nan"),
            "final_train_acc_clean": float(by[False].iloc[-1])}


def _wall(info: dict) -> float:
    return float(info.get("wall_time_s", {}).get("total", np.nan))


def _heldout(run) -> float:
    final = run.metrics.get("final", {})
    return float(final.get("heldout_accuracy", np.nan))


def _heldout_metric(run) -> dict[str, Any]:
    """The head's own held-out metric at the end (accuracy; F1 for QA, percent; ROUGE-L for summaries)."""
    name = run.metrics.get("metric")
    return {"heldout_metric": name, "heldout_value": float(run.metrics.get("final", {}).get(name, np.nan))}


def cost_row(run_name: str, method: str, info: dict, training_runs: int, **extra: Any) -> dict[str, Any]:
    """One cost row: training runs, wall seconds and torch threads of the machine (from ``run.json``)."""
    hw = info.get("hardware", {})
    return {"run": run_name, "method": method, "training_runs": int(training_runs), "wall_s": _wall(info),
            "torch_threads": hw.get("torch_threads"), "cpu_count": hw.get("cpu_count"),
            "accelerator": hw.get("accelerator"), **extra}


# ------------------------------------------------------------------------------------------------
# the parts
# ------------------------------------------------------------------------------------------------


def _train(params: dict[str, Any], output_dir: Path, progress: bool, sampler=None):
    """Train one run (or reuse the finished one in ``output_dir`` made with the same parameters, data and,
    with a ``sampler``, the same subset size: :func:`nlpdiff.dynamics.finished_run`)."""
    from nlpdiff import rundir
    from nlpdiff.config import from_flat
    from nlpdiff.dynamics import finished_run, train

    p = from_flat({**params, "output_dir": str(output_dir)})
    p.validate()
    subset = len(sampler.positions()) if sampler is not None else None
    run = finished_run(p, resolved={"subset_size": subset} if sampler is not None else None)
    if run is not None:
        return run
    train(p, progress=progress, sampler=sampler)
    return rundir.load_run(output_dir)


def run_grid(name: str, part: dict[str, Any], runs_dir: Path, out_dir: Path, progress: bool = False,
             max_runs: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train (or reuse) every run of a grid part; write ``summary.csv`` and ``cost.csv``."""
    from nlpdiff import rundir
    from nlpdiff.config import from_flat
    from nlpdiff.detection import confident_learning, load_confident_learning

    cl = part.get("confident_learning") or {}
    cl_k = int(cl.get("k", 5))
    rows, costs, thr_rows = [], [], []

    audit_rows: list[dict[str, Any]] = []

    def tables() -> dict[str, pd.DataFrame]:
        return {"summary": pd.DataFrame(rows), "cost": pd.DataFrame(costs),
                **({"aum_threshold": pd.DataFrame(thr_rows)} if thr_rows else {}),
                **({"audit_top": pd.DataFrame(audit_rows)} if audit_rows else {})}

    jobs = grid_jobs(name, part)[:max_runs]
    for i, job in enumerate(jobs):
        t0 = time.perf_counter()
        run = _train(job["params"], runs_dir / name / job["run"], progress)
        y = run.samples.set_index("sample_id").loc[run.scores["sample_id"], "is_corrupted"].to_numpy(bool)
        scores = run.scores
        mem = memorisation(run)
        base = {"part": name, "run": job["run"], "task": job["params"]["task"],
                "backbone": job["params"].get("backbone", "finetune"), "length": job["length"],
                "epochs": run.params.get("epochs"), "noise_rate": job["noise_rate"], "noise_type": job["noise_type"],
                "seed": job["seed"], "heldout_accuracy": _heldout(run), **_heldout_metric(run), **mem}
        if part.get("real"):  # real against synthetic noise: the measured share of wrong labels of each run
            base["noise_source"] = "real" if job["noise_type"] == "real" else "synthetic"
            base["actual_noise_rate"] = float(y.mean())
        costs.append(cost_row(job["run"], "dynamics (every score)", run.info, 1, **_cell(base)))
        if cl and job["length"] in cl.get("lengths", [next(iter(part["lengths"]))]) and job["noise_rate"] in cl.get(
                "rates", part["rates"]) and job["seed"] in cl.get("seeds", part["seeds"]) and job["noise_type"] in cl.get(
                "noise_types", [job["noise_type"]]):
            cl_dir = runs_dir / name / f"{job['run']}_cl{cl_k}"
            try:
                info, _, cl_scores = load_confident_learning(cl_dir)
                if rundir.recorded_params(info) != from_flat({**job["params"], "output_dir": str(runs_dir / name / job["run"])}).flat():
                    raise FileNotFoundError
            except Exception:  # noqa: BLE001 - missing or other parameters: compute it
                p = from_flat({**job["params"], "output_dir": str(runs_dir / name / job["run"])})
                cl_scores = confident_learning(p, k=cl_k, output_dir=str(cl_dir), progress=progress)
                info = json.loads((cl_dir / "run.json").read_text())
            scores = scores.merge(cl_scores, on="sample_id", how="left")
            costs.append(cost_row(job["run"], f"confident_learning (K={cl_k})", info, cl_k, **_cell(base)))
        thr = part.get("aum_threshold") or {}
        if thr and job["length"] in thr.get("lengths", [next(iter(part["lengths"]))]) and job["noise_rate"] in thr.get(
                "rates", part["rates"]):
            from nlpdiff.detection import aum_threshold

            p = from_flat({**job["params"], "output_dir": str(runs_dir / name / job["run"])})
            info, flags = aum_threshold(p, output_dir=str(runs_dir / name / f"{job['run']}_aumthr"),
                                        percentile=float(thr.get("percentile", 99.0)), progress=progress)
            thr_rows.append({**base, **threshold_row(info, flags, run.scores, run.samples)})
            costs.append(cost_row(job["run"], "AUM threshold samples", info["run_info"], 1, **_cell(base)))
        for r in detection_rows(scores, y):
            rows.append({**base, **r})
        if part.get("audit_top"):  # the audit table's first rows, as `nlpdiff score` writes them
            audit_rows.extend({**_cell(base), **r} for r in audit_top_rows(run, part["audit_top"], seed=job["seed"]))
        print(f"[{i + 1}/{len(jobs)}] {job['run']}: {time.perf_counter() - t0:.1f} s, action ROC AUC "
              f"{next(r['roc_auc'] for r in rows[::-1] if r['score'] == 'action' and r['run'] == job['run']):.3f}, "
              f"train acc. on corrupted {mem['final_train_acc_corrupted']:.2f}", flush=True)
        _write(out_dir, **tables())  # after every run: a cut keeps what ran
    out = tables()
    _write(out_dir, **out)
    return out["summary"], out["cost"]


def audit_top_rows(run, tops: Iterable[int] = (50, 100, 200), seed: int = 0) -> list[dict[str, Any]]:
    """How many of the first rows of the run's audit table (:func:`nlpdiff.audit.audit_table`, what
    ``nlpdiff score`` writes as ``audit.csv``: hardest first by the action score) are wrong labels, per
    ``top``; beside as many rows drawn at random (seeded) and the chance level (the wrong-label share)."""
    from nlpdiff import audit

    table = audit.audit_table(run)
    wrong = run.samples.set_index("sample_id")["is_corrupted"].astype(bool)
    y = wrong.reindex(table["sample_id"]).to_numpy(bool)
    rng = np.random.default_rng(seed)
    rows = []
    for top in tops:
        top = min(int(top), len(y))
        rows.append({"top": top, "wrong_in_top": int(y[:top].sum()), "precision": float(y[:top].mean()),
                     "random_precision": float(y[rng.choice(len(y), size=top, replace=False)].mean()),
                     "chance_precision": float(y.mean())})
    return rows


def threshold_row(info: dict[str, Any], flags: pd.DataFrame, scores: pd.DataFrame,
                  samples: pd.DataFrame) -> dict[str, Any]:
    """One row of ``aum_threshold.csv``: how the AUM cut-off's flags (:func:`nlpdiff.detection.aum_threshold`)
    find the corrupted samples among the samples it can judge (not the threshold samples), beside the
    action score's and the plain AUM's top-k of the ordinary run on the same samples, with k the
    number flagged (precision at equal list length; chance: the corrupted share)."""
    judged = flags[~flags["is_threshold"]].merge(samples[["sample_id", "is_corrupted"]], on="sample_id")
    judged = judged.merge(scores[["sample_id", "action", "aum"]].rename(columns={"aum": "aum_score"}), on="sample_id")
    y = judged["is_corrupted"].to_numpy(bool)
    k = int(judged["flagged"].sum())
    tp = int((judged["flagged"].to_numpy() & y).sum())

    def top_k_precision(col: str) -> float:
        if k == 0:
            return float("nan")
        order = np.argsort(-judged[col].to_numpy(float), kind="stable")[:k]
        return float(y[order].mean())

    return {"n_judged": int(len(judged)), "n_threshold": info["n_threshold"], "cutoff": info["cutoff"],
            "percentile": info["percentile"], "n_flagged": k, "n_corrupted": int(y.sum()),
            "precision": tp / k if k else float("nan"), "recall": tp / int(y.sum()) if y.any() else float("nan"),
            "chance_precision": float(y.mean()), "action_precision_at_k": top_k_precision("action"),
            "aum_precision_at_k": top_k_precision("aum_score"),
            "threshold_run_roc_auc": stats.roc_auc(-judged["aum"].to_numpy(float), y),
            "threshold_run_wall_s": info["wall_s"]}


def _cell(base: dict[str, Any]) -> dict[str, Any]:
    return {k: base[k] for k in ("part", "task", "backbone", "length", "noise_rate", "noise_type", "seed") if k in base}


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


def run_cleaning(name: str, part: dict[str, Any], runs_dir: Path, out_dir: Path,
                 progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Noisy run, clean run, then retrain without the top fractions (action, best baseline, random).

    With ``real: {task: T}`` the noisy runs train task ``T`` (labels with real errors, no injected noise)
    and the clean run the part's own task on the true labels of the same samples (for NoisyAG-News:
    ``noisy_agnews`` and ``noisy_agnews_clean``); the held-out split is the task's (clean) one either way."""
    from nlpdiff.samplers import SubsetSampler

    rows, costs = [], []
    methods = part.get("methods", ["action", "best_baseline", "random"])
    real = part.get("real")
    for seed in part["seeds"]:
        params = {**part["params"], "seed": seed, "data_seed": seed}
        clean_params = {**params, "noise_rate": 0.0}
        if real:
            params = {**params, "task": real["task"], "noise_rate": 0.0, "noise_type": "uniform"}
        noisy = _train(params, runs_dir / name / f"noisy_s{seed}", progress)
        clean = _train(clean_params, runs_dir / name / f"clean_s{seed}", progress)
        samples = noisy.samples.set_index("sample_id")
        y = samples.loc[noisy.scores["sample_id"], "is_corrupted"].to_numpy(bool)
        baseline = best_baseline(noisy.scores, y)
        n = len(noisy.scores)
        common = {"part": name, "seed": seed, "noise_rate": float(y.mean()) if real else params.get("noise_rate"),
                  "noise_type": "real" if real else params.get("noise_type", "uniform"), "n_train": n,
                  "n_corrupted": int(y.sum())}
        for label, r in (("no removal", noisy), ("clean labels", clean)):
            rows.append({**common, "method": label, "score": "", "fraction": 0.0, "n_kept": n,
                         "corrupted_removed": 0, "heldout_accuracy": _heldout(r), "run": r.path.name})
            costs.append(cost_row(r.path.name, label, r.info, 1, **common))
        for method in methods:
            score = baseline if method == "best_baseline" else method
            for f in part["fractions"]:
                if method == "random":
                    keep = removal_positions(np.zeros(n), f, np.random.default_rng(1000 * seed + int(f * 1000)))
                else:
                    keep = removal_positions(noisy.scores[score].to_numpy(float), f)
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


def imdb_truth(data_dir: str | Path) -> pd.DataFrame:
    """One row per IMDB test review, in the split's row order (the published probabilities are in that
    order too): ``id``, ``label`` (given), ``p_neg``, ``p_pos`` (published cross-validated probabilities),
    ``published_score`` (1 - probability of the given label), ``candidate`` (one of the crowd-checked
    candidates) and ``confirmed`` (``votes_guessed >= 3``). Joined by position, not id: a few ids repeat."""
    data_dir = Path(data_dir)
    test = pd.read_parquet(data_dir / "imdb" / "test.parquet", columns=["id", "label"])
    probs = pd.read_parquet(data_dir / "imdb_label_errors" / "cleanlab_cv_pred_probs.parquet")
    if len(test) != len(probs) or not (test["id"].to_numpy() == probs["id"].to_numpy()).all():
        raise ParameterError("data_dir", str(data_dir), "IMDB test rows in the order of cleanlab_cv_pred_probs.parquet")
    cand = pd.read_parquet(data_dir / "imdb_label_errors" / "test.parquet")
    out = test.assign(p_neg=probs["p_neg"].to_numpy(), p_pos=probs["p_pos"].to_numpy())
    out["published_score"] = 1.0 - np.where(out["label"] == 1, out["p_pos"], out["p_neg"])
    out["candidate"] = out["id"].isin(cand["id"])
    return out.assign(confirmed=out["id"].isin(cand.loc[cand["votes_guessed"] >= 3, "id"]))


def published_check(data_dir: str | Path) -> dict[str, Any]:
    """The circularity of the published IMDB baseline, measured: are the 1,310 candidates exactly the
    reviews that the published cross-validated probabilities rank highest (1 - probability of the given
    label)? And the ROC AUC of that published score at finding the confirmed errors among all 25,000 test
    reviews and among the candidates only."""
    truth = imdb_truth(data_dir)
    s = truth["published_score"].to_numpy()
    n_cand = int(truth["candidate"].sum())
    top = np.argsort(-s, kind="stable")[:n_cand]
    cand = truth["candidate"].to_numpy()
    y = truth["confirmed"].to_numpy()
    return {"n_test": len(truth), "n_candidates": n_cand, "n_confirmed": int(y.sum()),
            "top_is_candidates": float(cand[top].mean()),
            "roc_auc_all": stats.roc_auc(s, y), "roc_auc_candidates": stats.roc_auc(s[cand], y[cand]),
            "chance_average_precision_candidates": float(y[cand].mean())}


def run_imdb(name: str, part: dict[str, Any], runs_dir: Path, out_dir: Path,
             progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Runs on IMDB test; every score (and the published cleanlab probabilities) against the confirmed
    label errors, among the 1,310 candidates (main) and on every scored review (secondary)."""
    import os

    data_dir = part["params"].get("data_dir") or os.environ.get("NLPDIFF_DATA_DIR")
    if not data_dir:
        raise ParameterError("data_dir", None, "a data folder with imdb and imdb_label_errors (NLPDIFF_DATA_DIR)")
    truth = imdb_truth(data_dir)
    rows, costs = [], []
    for seed in part["seeds"]:
        params = {**part["params"], "seed": seed, "data_seed": seed}
        run = _train(params, runs_dir / name / f"s{seed}", progress)
        pos = run.samples.set_index("sample_id").loc[run.scores["sample_id"], "row_idx"].to_numpy()
        t = truth.iloc[pos]
        if (t["label"].to_numpy() != run.samples.set_index("sample_id").loc[run.scores["sample_id"], "label"]).any():
            raise ParameterError("row_idx", "labels differ", "the run's rows of the IMDB test split")
        scores = run.scores.assign(published_confident_learning=t["published_score"].to_numpy())
        base = {"part": name, "seed": seed, "task": params["task"], "backbone": params.get("backbone"),
                "epochs": params.get("epochs"), "max_length": params.get("max_length"),
                "heldout_accuracy": _heldout(run)}
        for subset, mask in (("candidates", t["candidate"].to_numpy()), ("all", np.ones(len(t), bool))):
            yy = t["confirmed"].to_numpy()[mask]
            for r in detection_rows(scores[mask].reset_index(drop=True), yy):
                rows.append({**base, "subset": subset, **r})
        costs.append(cost_row(f"s{seed}", "dynamics (every score)", run.info, 1, part=name, seed=seed))
        print(f"IMDB seed {seed}: done", flush=True)
        _write(out_dir, summary=pd.DataFrame(rows), cost=pd.DataFrame(costs))
    summary, cost = pd.DataFrame(rows), pd.DataFrame(costs)
    _write(out_dir, summary=summary, cost=cost)
    return summary, cost


def _write(out_dir: Path, **tables: pd.DataFrame) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for fname, df in tables.items():
        df.to_csv(out_dir / f"{fname}.csv", index=False, float_format="%.6g")


def run_part(name: str, config: str | Path = CONFIG, runs_dir: str | Path = "runs/mislabel",
             out: str | Path = "results/mislabel", progress: bool = False, max_runs: int | None = None):
    """Compute one part of the configuration; returns its tables (also written to ``<out>/<name>/``)."""
    cfg = load_config(config)
    part = get_part(cfg, name)
    runs_dir, out_dir = Path(runs_dir), Path(out) / name
    t = time.perf_counter()
    if part["kind"] == "grid":
        res = run_grid(name, part, runs_dir, out_dir, progress, max_runs)
    elif part["kind"] == "cleaning":
        res = run_cleaning(name, part, runs_dir, out_dir, progress)
    else:
        res = run_imdb(name, part, runs_dir, out_dir, progress)
    (out_dir / "part.json").write_text(json.dumps({"part": name, "config": part, "wall_s": round(time.perf_counter() - t, 1),
                                                   "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                                                  indent=1, default=str) + "\n")
    return res


# ------------------------------------------------------------------------------------------------
# analysis of the committed tables
# ------------------------------------------------------------------------------------------------

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


def grid_summaries(parts: dict[str, dict[str, pd.DataFrame]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The grid parts' summaries (not IMDB's, not cleaning), with their ``part`` column, split in two:
    the label-noise grid (classification tasks: flipped labels) and the parts whose targets are not
    classes (extractive QA: moved answers; summarization: swapped summaries; :func:`nlpdiff.tasks.corrupt_targets`).
    Either frame may be empty."""
    frames = [v["summary"].assign(part=k) for k, v in parts.items()
              if "summary" in v and "subset" not in v["summary"].columns
              and "noise_source" not in v["summary"].columns]  # real-against-synthetic parts: real_vs_synthetic
    if not frames:
        return pd.DataFrame(), pd.DataFrame()
    every = pd.concat(frames, ignore_index=True)
    cls = every["task"].map(_is_classification).astype(bool)
    return every[cls].reset_index(drop=True), every[~cls].reset_index(drop=True)


#: What corrupting a target means, per task kind of the non-classification parts.
TARGET_NOISE = {"squad": "answers moved to another span of the same context",
                "samsum": "reference summaries swapped between dialogues"}


def targets_sentence(tests: pd.DataFrame, cells_df: pd.DataFrame, alpha: float = 0.05) -> str:
    """One sentence on the parts whose targets are not classes: per part, the action score's ROC AUC
    (mean and 95 % interval over seeds), the best other score's, and the Holm-adjusted paired test."""
    act = tests[tests["score"] == "action"] if len(tests) else tests
    if not len(act):
        return ""
    key = [k for k in CELL if k in act.columns and k in cells_df.columns]  # one cell: part, task, rate, ...
    c = cells_df[cells_df["score"] == "action"].set_index(key)
    bits = []
    for r in act.itertuples():
        row = c.loc[tuple(getattr(r, k) for k in key)]
        verdict = ("not significantly different" if not r.p_holm < alpha else
                   "significantly better" if r.diff > 0 else "significantly worse")
        what = TARGET_NOISE.get(r.task, "targets corrupted")
        bits.append(f"{r.task} ({r.noise_rate:.0%} {what}; {r.backbone}, {int(row['n_seeds'])} seed{'s' if int(row['n_seeds']) != 1 else ''}): action "
                    f"{row['roc_auc_mean']:.3f} [{row['roc_auc_lo']:.3f}, {row['roc_auc_hi']:.3f}] against "
                    f"{r.roc_auc_baseline:.3f} for `{r.baseline}`, {verdict} (Holm p {r.p_holm:.2g})")
    return ("Where the target is not a class label, corrupted targets are ranked first with ROC AUC: "
            + "; ".join(bits) + " (chance 0.5).")


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


def interval_chart(cells_df: pd.DataFrame, scores: Iterable[str], metric: str = "roc_auc", facet: str = "cell",
                   highlight: str = "action", columns: int = 2, title: str | None = None):
    """Mean and 95 % interval over seeds of ``metric`` per score (rows), one panel per ``facet`` value
    (``columns`` panels per row: two fit the book's column), with the chance level as a tick (Altair;
    render with :func:`nlpdiff.plots.enable_offline`). The metrics are on [0, 1] (ROC AUC, average
    precision, precision at k): an interval reaching past them (a t-interval over 3 seeds) is drawn cut."""
    import altair as alt

    scores = list(scores)
    d = cells_df[cells_df["score"].isin(scores)][[facet, "score", f"{metric}_mean", f"{metric}_lo", f"{metric}_hi",
                                                   f"chance_{metric}"]].copy()
    d.columns = [facet, "score", "mean", "lo", "hi", "chance"]
    d["lo"], d["hi"] = d["lo"].fillna(d["mean"]).clip(0, 1), d["hi"].fillna(d["mean"]).clip(0, 1)
    name = metric.replace("_", " ")
    base = alt.Chart().encode(y=alt.Y("score:N", sort=scores, title=None))
    rules = base.mark_rule().encode(x=alt.X("lo:Q", title=f"{name} (mean, 95% interval over seeds)",
                                            scale=alt.Scale(zero=False)), x2="hi:Q")
    points = base.mark_point(filled=True, size=45).encode(
        x="mean:Q", color=alt.condition(alt.datum.score == highlight, alt.value("#D55E00"), alt.value("#0072B2")),
        tooltip=[facet, "score", alt.Tooltip("mean:Q", format=".3f"), alt.Tooltip("lo:Q", format=".3f"),
                 alt.Tooltip("hi:Q", format=".3f"), alt.Tooltip("chance:Q", format=".3f")])
    chance = base.mark_tick(color="#888", thickness=2, size=14).encode(x="chance:Q")
    chart = alt.layer(rules, points, chance, data=d).properties(width=240, height=16 * len(scores)).facet(
        facet=alt.Facet(f"{facet}:N", title=None), columns=columns)
    return chart.properties(title=title) if title else chart


def pooled_chart(pooled: pd.DataFrame, width: int = 560):
    """The pre-declared comparisons as one small chart: per baseline, the action score's ROC AUC minus the
    baseline's, pooled over the grid (:func:`nlpdiff_study.comparisons.pooled_detection`), with its 95 %
    interval; the grey band is the equivalence margin, the rule at 0 no difference (Altair)."""
    import altair as alt

    d = pooled[["baseline", "estimate", "low", "high", "verdict", "n_cells"]].copy()
    margin = float(pooled["margin"].iloc[0])
    order = list(d.sort_values("estimate", ascending=False)["baseline"])
    y = alt.Y("baseline:N", sort=order, title=None)
    x_title = "action minus baseline, ROC AUC (pooled, 95 % interval)"
    band = alt.Chart(pd.DataFrame({"lo": [-margin], "hi": [margin]})).mark_rect(color="#ddd").encode(
        x=alt.X("lo:Q", title=x_title), x2="hi:Q")
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="#888").encode(x="x:Q")
    rules = alt.Chart(d).mark_rule(strokeWidth=2).encode(y=y, x="low:Q", x2="high:Q")
    points = alt.Chart(d).mark_point(filled=True, size=70, color="#D55E00").encode(
        y=y, x="estimate:Q", tooltip=["baseline", "verdict", "n_cells", alt.Tooltip("estimate:Q", format="+.3f"),
                                      alt.Tooltip("low:Q", format="+.3f"), alt.Tooltip("high:Q", format="+.3f")])
    return alt.layer(band, zero, rules, points).properties(width=width, height=alt.Step(26))


def _range(v: Iterable[float], f: str = "{:.3f}") -> str:
    v = [x for x in v if np.isfinite(x)]
    lo, hi = min(v), max(v)
    return f.format(lo) if f.format(lo) == f.format(hi) else f"{f.format(lo)} to {f.format(hi)}"


def opening(tests: pd.DataFrame, cells_df: pd.DataFrame, cost: pd.DataFrame | None = None,
            published: dict | None = None, cleaning: pd.DataFrame | None = None, imdb: pd.DataFrame | None = None,
            bench: pd.DataFrame | None = None, alpha: float = 0.05, target_tests: pd.DataFrame | None = None,
            target_cells: pd.DataFrame | None = None, pooled: pd.DataFrame | None = None,
            split: bool = False) -> str | tuple[str, str]:
    """The chapter's answer, every number read from the tables given (markdown); the parts whose
    targets are not classes (``target_tests`` / ``target_cells``) add one sentence. With ``pooled``
    (:func:`nlpdiff_study.comparisons.pooled_detection`), it opens with the pre-declared comparisons.
    ``split=True`` returns ``(lead, bullets)`` instead: the page shows its key figure between them (the
    lead is empty without ``pooled``)."""
    act = tests[tests["score"] == "action"]
    if act.empty:
        return "*No grid part to summarise yet.*"
    head = []
    if pooled is not None and len(pooled):
        words = {"better": "higher than", "worse": "lower than", "equivalent": "equivalent (within the margin) to",
                 "not shown to differ": "not shown to differ from"}
        items = []
        for r in pooled.to_dict("records"):
            sign = lambda x: f"{x:+.3f}".replace("-0.000", "+0.000")  # noqa: E731  (never "-0.000")
            item = (f"{words[r['verdict']]} `{r['baseline']}` ({sign(r['estimate'])}, 95 % interval "
                    f"{sign(r['low'])} to {sign(r['high'])}")
            if r["verdict"] == "not shown to differ":
                item += f"; minimum detectable difference {r['mdd']:.3f}"
            items.append(item + (f"; {r['n_cells']} cells)" if r["n_cells"] < pooled["n_cells"].max() else ")"))
        head.append(f"**Against the baselines declared in Methods, pooled over the {int(pooled['n_cells'].max())} "
                    f"cells of the grid and their seeds, the action score's ROC AUC is " + "; ".join(items)
                    + f".** (Two-stage cluster bootstrap; Holm over the {len(pooled)} baselines; equivalence margin "
                    f"{pooled['margin'].iloc[0]:g} ROC AUC.)")
    sig = act["p_holm"] < alpha
    better, worse = int((sig & (act["diff"] > 0)).sum()), int((sig & (act["diff"] < 0)).sum())
    raw_better = int(((act["p_seeds"] < alpha) & (act["diff"] > 0)).sum())
    raw_worse = int(((act["p_seeds"] < alpha) & (act["diff"] < 0)).sum())
    ft = act["part"].str.startswith("gpu_")
    within = int((act["diff"].abs() <= 0.01).sum())
    n_seeds = act["n_seeds"].astype(int) if "n_seeds" in act else pd.Series([3])
    seeds = f"{n_seeds.min()}" if n_seeds.min() == n_seeds.max() else f"{n_seeds.min()} to {n_seeds.max()}"
    verdict = ("not shown to differ, cell by cell, from" if better == 0 and worse == 0 else
               "better than" if worse == 0 else "worse than" if better == 0 else "sometimes better, sometimes worse than")
    out = [*head, f"*Exploratory:* as a ranking of suspect labels from one training run, the action score is {verdict} "
           f"the best other score of the same run, chosen after the fact on the same seeds (which favours the "
           f"baseline). Over the {len(act)} cells of the grid ({int((~ft).sum())} with the cheap "
           f"backbones, {int(ft.sum())} fine-tuned; a cell is a task, backbone, training length, noise rate and "
           f"type, {seeds} seeds each) its ROC AUC minus that of the cell's best baseline is "
           f"{_range(act['diff'], '{:+.3f}')} (mean over seeds; within 0.01 in {within} cells); after Holm's adjustment "
           f"it is significantly better in {better} and worse in {worse} of them (before adjustment: {raw_better} and "
           f"{raw_worse}; a paired t test over so few seeds has little power, which is why the pooled comparison "
           f"above is the answer)."]
    fin = cells_df.pivot_table(index=["part", "length", "noise_rate", "noise_type"], columns="score",
                               values="roc_auc_mean")
    mem = cells_df[cells_df["score"] == "action"].set_index(["part", "length", "noise_rate", "noise_type"]).get(
        "final_train_acc_corrupted_mean", pd.Series(dtype=float))
    if {"action", "final_loss"} <= set(fin.columns) and mem.notna().any():
        gain = (fin["action"] - fin["final_loss"]).dropna()
        m = mem.reindex(gain.index)
        hi, lo = gain[m > 0.5], gain[m <= 0.5]
        if len(hi) and len(lo):
            bb = cells_df[cells_df["score"] == "action"].set_index(["part", "length", "noise_rate", "noise_type"])[
                "backbone"].reindex(hi.index)
            per = "; ".join(f"{b} {hi[bb == b].median():+.3f} ({int((bb == b).sum())} cells)"
                            for b in sorted(bb.dropna().unique()))
            out.append(f"Against the loss at the last checkpoint: in the {len(hi)} cells where the model memorises "
                       f"the corrupted labels (training accuracy on them above 0.5 at the end) the action's ROC AUC "
                       f"minus the last loss's has median {hi.median():+.3f} (range {_range(hi, '{:+.3f}')}; median by "
                       f"backbone: {per}), in the {len(lo)} where it does not, median {lo.median():+.3f} (range "
                       f"{_range(lo, '{:+.3f}')}).")
    if cost is not None and len(cost) and "confident_learning" in set(cells_df["score"]):
        ct = cost_table(cost)
        clr = ct[ct["method"].str.startswith("confident")]
        key = ["part", "length", "noise_rate", "noise_type"]
        both = cells_df[cells_df["score"].isin(["action", "confident_learning"])].pivot_table(
            index=key, columns="score", values="roc_auc_mean").dropna()
        if len(clr) and len(both):
            d = both["action"] - both["confident_learning"]
            out.append(f"Confident learning (K = 5 folds, same backbone) costs {_range(clr['x_one_run'], '{:.1f}')} "
                       f"times one run here; action minus confident learning, ROC AUC {_range(d, '{:+.3f}')} in the "
                       f"{len(d)} cells where both were computed.")
    if bench is not None and len(bench):
        b = bench.iloc[0]
        out.append(f"At equal cost ({int(b['k'])} seeds of the action, averaged, against {int(b['k'])}-fold confident "
                   f"learning; {b['task']}, {b['backbone']}, {b['noise_rate']:.0%} {b['noise_type']} noise; confident "
                   f"learning took {b['cost_ratio_wall']:.2f} times the wall time of the {int(b['k'])} runs): ROC AUC "
                   f"{b['roc_auc_action_averaged']:.3f} against {b['roc_auc_confident_learning']:.3f} (DeLong p "
                   f"{b['delong_p']:.2g}; one action run alone {b['roc_auc_action_one_run']:.3f}).")
    if published:
        out.append(f"On real errors, the published baseline's headline is circular: the {published['n_candidates']:,} "
                   f"IMDB reviews the crowd checked are the {published['n_candidates']:,} that the published confident "
                   f"learning ranks highest (share {published['top_is_candidates']:.3f}), so its ROC AUC of "
                   f"{published['roc_auc_all']:.3f} on all {published['n_test']:,} reviews holds by construction; "
                   f"among the candidates it is {published['roc_auc_candidates']:.3f}.")
    if imdb is not None and len(imdb):
        ic = cells(imdb, by=["subset"]).set_index(["subset", "score"])
        if ("candidates", "action") in ic.index and ("candidates", "published_confident_learning") in ic.index:
            def f(score, subset="candidates"):
                r = ic.loc[(subset, score)]
                return f"{r['roc_auc_mean']:.3f} [{r['roc_auc_lo']:.3f}, {r['roc_auc_hi']:.3f}]"
            n = int(ic.loc[("candidates", "action"), "n_seeds"])
            n_c = int(imdb.loc[imdb["subset"] == "candidates", "n"].iloc[0])
            out.append(f"Among the {n_c:,} candidates, this study's cheapest runs (scratch on all IMDB test reviews, {n} "
                       f"seed{'s' if n > 1 else ''}) rank the confirmed errors with ROC AUC {f('action')} (action), "
                       f"{f('action_train')} (training-pass action) and {f('final_loss')} (last loss), against "
                       f"{f('published_confident_learning')} for the published probabilities (chance 0.5).")
    if cleaning is not None and len(cleaning):
        cc = cleaning_cells(cleaning).set_index(["method", "fraction"])
        clean, noisy = cc.loc[("clean labels", 0.0)], cc.loc[("no removal", 0.0)]
        parts = []
        for method in ("action", "best_baseline", "random"):
            if method in cc.index.get_level_values(0):
                parts.append(f"{method.replace('_', ' ')} {_range(cc.loc[method]['heldout_accuracy_mean'])}")
        out.append(f"Cleaning under 20 % noise (removing the top 1 to 20 % and retraining): held-out accuracy "
                   f"{'; '.join(parts)}, against {noisy['heldout_accuracy_mean']:.3f} with no removal and "
                   f"{clean['heldout_accuracy_mean']:.3f} with clean labels (means over seeds).")
    if target_tests is not None and target_cells is not None and len(target_tests):
        out.append(targets_sentence(target_tests, target_cells, alpha))
    # the pooled comparison is the lead; every other finding is one bullet (not one paragraph of numbers)
    lead, rest = (out[0], out[1:]) if head else (None, out)
    if split:
        return lead or "", "\n".join(f"- {x}" for x in rest)
    return ((lead + "\n\n") if lead else "") + "\n".join(f"- {x}" for x in rest)


# -- reading the top suspects by eye ----------------------------------------------------------------

#: committed blind readings (``python -m nlpdiff_study.mislabel NAME --reading-from RUN_DIR``), one folder each
READINGS = Path("results/readings")


def prepare_reading(run_dir: str | Path, folder: str | Path, top: int = 50, n_random: int = 50,
                    seed: int = 0) -> Path:
    """Write the files of a blind reading of a run's top suspects into ``folder``:

    ``sheet.csv``: the reading sheet to fill (:func:`nlpdiff.audit.blind_sheet`: the ``top`` suspects
    by the action score and ``n_random`` others, shuffled, without ranks or scores); ``key.csv``:
    the same rows with their group, rank, scores, prediction and "why" (not to be opened before the
    sheet is filled); ``top.csv``: the ``top`` suspects in rank order with ``is_corrupted`` (known
    injected noise, when the run had any); ``run.json``: the run's record (parameters, versions,
    hardware, time). A folder with a filled sheet is refused (a reading is never overwritten).
    """
    import shutil

    from nlpdiff import audit, rundir

    folder = Path(folder)
    sheet_path = folder / "sheet.csv"
    if sheet_path.exists() and audit.read_sheet(sheet_path)["judgement"].notna().any():
        raise ParameterError("folder", str(folder), "a folder without a filled reading sheet (a reading is kept)")
    run = rundir.load_run(run_dir)
    table = audit.audit_table(run)
    groups = audit.blind_groups(table, top, n_random, seed)
    sheet = audit.blind_sheet(table, top, n_random, seed)
    ranked = table.head(top).merge(run.samples[["sample_id", "is_corrupted"]], on="sample_id", how="left")
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in (("sheet", sheet), ("key", groups), ("top", ranked)):
        rundir.atomic_write(folder / f"{name}.csv", lambda tmp, f=frame: f.to_csv(tmp, index=False))
    shutil.copyfile(Path(run.path) / "run.json", folder / "run.json")
    return folder


def load_reading(folder: str | Path) -> dict[str, Any]:
    """A committed reading (:func:`prepare_reading`, sheet filled): ``key``, ``sheet``, ``top``
    (the top suspects in rank order, with the reader's judgement), ``info`` (the run's
    ``run.json``), ``summary`` (:func:`nlpdiff.audit.reading_summary`) and ``notes`` (the folder's
    ``README.md``: who read, how)."""
    from nlpdiff import audit

    folder = Path(folder)
    key = pd.read_csv(folder / "key.csv")
    sheet = audit.read_sheet(folder / "sheet.csv")
    top = pd.read_csv(folder / "top.csv")
    text_cols = [c for c in sheet.columns if c not in ("item", "given_label", "judgement", "note")]
    judged = sheet[[*text_cols, "given_label", "judgement", "note"]].drop_duplicates(subset=[*text_cols, "given_label"])
    top = top.astype({"given_label": str}).merge(judged.astype({"given_label": str}), how="left",
                                                  on=[*text_cols, "given_label"])
    readme = folder / "README.md"
    return {"key": key, "sheet": sheet, "top": top, "info": json.loads((folder / "run.json").read_text()),
            "summary": audit.reading_summary(key, sheet), "notes": readme.read_text() if readme.exists() else "",
            "text_columns": text_cols}


def cell_label(df: pd.DataFrame) -> pd.Series:
    """``"20% u, usual"``-style labels of the grid cells."""
    return ((df["noise_rate"] * 100).round().astype(int).astype(str) + "% "
            + df["noise_type"].map(NOISE_SHORT).fillna(df["noise_type"]) + ", " + df["length"].astype(str))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m nlpdiff_study.mislabel", description=__doc__.split("\n\n")[0])
    ap.add_argument("part")
    ap.add_argument("--config", default=str(CONFIG))
    ap.add_argument("--runs-dir", default="runs/mislabel")
    ap.add_argument("--out", default="results/mislabel")
    ap.add_argument("--max-runs", type=int, default=None)
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--reading-from", metavar="RUN_DIR",
                    help="instead of a part: write a blind reading sheet of RUN_DIR's top suspects into "
                         "results/readings/PART/ (prepare_reading)")
    ap.add_argument("--top", type=int, default=50, help="with --reading-from: top suspects (and as many random)")
    a = ap.parse_args(argv)
    if a.reading_from:
        folder = prepare_reading(a.reading_from, READINGS / a.part, top=a.top, n_random=a.top)
        from nlpdiff.audit import JUDGEMENTS

        print(f"fill the judgement column of {folder / 'sheet.csv'} ({', '.join(JUDGEMENTS)}) "
              f"before opening key.csv or top.csv")
        return
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    run_part(a.part, a.config, a.runs_dir, a.out, a.progress, a.max_runs)


if __name__ == "__main__":
    main()
