"""Parts of the mislabel grid: the check of a part, the grid and IMDB runners and what every runner shares
(training or reusing a run, its cost row, confident learning, the tables' writer). Cleaning parts:
:mod:`.cleaning`; one part of any kind: :func:`nlpdiff_study.mislabel.run.compute`, run by
``nlpdiff grid mislabel PART`` (:mod:`nlpdiff_study.grid`)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from nlpdiff import stats
from nlpdiff.errors import ParameterError
from nlpdiff_study.comparisons import action_family

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


#: Cleaning methods that are not a score column: the oracle's best other score, random removal, relabelling
#: by the action score, and removal by confident learning (K = 5 more trainings of the noisy run's recipe).
CLEANING_METHODS = ("best_baseline", "random", "relabel", "confident_learning")
#: The methods of a cleaning part that names none.
DEFAULT_CLEANING_METHODS = ("action", "best_baseline", "random")


def check_part(name: str, part: dict[str, Any]) -> dict[str, Any]:
    """One part (an entry of ``params/grids/mislabel.yaml``, read by :func:`nlpdiff_study.grid.load_part`),
    checked: its kind, its base parameters and the lists it needs."""
    part = dict(part)
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
        from nlpdiff.scores import difficulty_scores

        allowed = [*CLEANING_METHODS, *difficulty_scores()]
        for m in part.get("methods", DEFAULT_CLEANING_METHODS):
            if m not in allowed:
                raise ParameterError(f"{name}.methods", m, f"one of {CLEANING_METHODS} or a difficulty score's name")
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


def _train(params: dict[str, Any], output_dir: Path, progress: bool, sampler=None, handlers=()):
    """Train one run (or reuse the finished one in ``output_dir`` made with the same parameters, data and,
    with a ``sampler``, the same subset size: :func:`nlpdiff.dynamics.finished_run`); ``handlers`` join the
    training of a new run (:func:`nlpdiff.dynamics.train`)."""
    from nlpdiff import rundir
    from nlpdiff.config import from_flat
    from nlpdiff.dynamics import finished_run, train

    p = from_flat({**params, "output_dir": str(output_dir)})
    p.validate()
    subset = len(sampler.positions()) if sampler is not None else None
    run = finished_run(p, resolved={"subset_size": subset} if sampler is not None else None)
    if run is not None:
        return run
    train(p, progress=progress, sampler=sampler, handlers=handlers)
    return rundir.load_run(output_dir)


def run_grid(name: str, part: dict[str, Any], runs_dir: Path, out_dir: Path, progress: bool = False,
             max_runs: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train (or reuse) every run of a grid part; write ``summary.csv`` and ``cost.csv``."""
    from nlpdiff.config import from_flat

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
            cl_scores, info = _confident_learning(job["params"], runs_dir / name / job["run"], progress, k=cl_k)
            scores = scores.merge(cl_scores, on="sample_id", how="left")
            costs.append(cost_row(job["run"], f"confident_learning (K={cl_k})", info, cl_k, **_cell(base)))
        thr = part.get("aum_threshold") or {}
        if thr and job["length"] in thr.get("lengths", [next(iter(part["lengths"]))]) and job["noise_rate"] in thr.get(
                "rates", part["rates"]) and job["seed"] in thr.get("seeds", part["seeds"]):
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


def _confident_learning(params: dict[str, Any], run_folder: Path, progress: bool, k: int = 5) -> tuple[pd.DataFrame, dict]:
    """Confident learning (K = ``k``) of the run trained with ``params`` in ``run_folder``: its scores and run
    information, reused from ``<run_folder>_cl<k>`` when that holds the same parameters."""
    from nlpdiff import rundir
    from nlpdiff.config import from_flat
    from nlpdiff.detection import confident_learning, load_confident_learning

    p = from_flat({**params, "output_dir": str(run_folder)})
    cl_dir = Path(f"{run_folder}_cl{k}")
    try:
        info, _, cl_scores = load_confident_learning(cl_dir)
        if rundir.recorded_params(info) != p.flat():
            raise FileNotFoundError
    except Exception:  # noqa: BLE001 - missing or other parameters: compute it
        cl_scores = confident_learning(p, k=k, output_dir=str(cl_dir), progress=progress)
        info = json.loads((cl_dir / "run.json").read_text())
    return cl_scores, info


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
    """Each table as ``<name>.csv`` in ``out_dir``, written to a temporary file first: a cut never leaves a
    half-written table."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for fname, df in tables.items():
        tmp = out_dir / f".{fname}.csv.tmp"
        df.to_csv(tmp, index=False, float_format="%.6g")
        tmp.replace(out_dir / f"{fname}.csv")
