"""Summarise one device call of gpu/run_batch.py into the committed, compact results the book reads.

    python gpu/summarize.py SRC [SRC ...] [--dest results/gpu] [--data-dir ../shared/data]

Each SRC is the folder where one call's files were unpacked (``batch.json`` and one folder per group:
``sst2_full/``, ``squad/``, ``detection/`` and, optional, ``detection_dynamics/`` for the first call;
``snli_chaos/``, ``snli_detection/`` and ``snli_detection_dynamics/`` for the SNLI call). Every
summary is rebuilt from all the SRCs given (the rows of each run depend on its own files only).
Writes under ``--dest``:

* ``<group>/<run>/``: ``run.json``, ``metrics.json``, ``job.json``, ``memorisation.csv`` (noise runs),
  ``scores.parquet`` (float32, the columns of :data:`COMMIT_SCORES`) and ``samples.parquet`` (ids, labels and corruption flags; no texts:
  ``row_idx`` is each sample's row in its split, so its text is one join away);
* ``batch.json`` (the first call), ``batch_snli.json`` (the SNLI call): hardware, versions, speed
  benchmark and job states;
* ``summary_runs.csv``: one row per run (task, sizes, held-out metric, GPU wall time, hardware);
* ``summary_detection.csv`` (column ``task``: ``sst2`` or ``snli_chaos``): one row per noise run and score (ROC AUC, average precision,
  precision at k, chance levels, memorisation);
* ``summary_detection_cells.csv``: per task, noise cell and score, mean and 95 % t-interval over seeds;
* ``summary_detection_by_checkpoint.csv``: per noise run, checkpoint k and score family, ROC AUC of
  the action score summed over checkpoints 0..k and of the loss at checkpoint k alone (from the eval
  pass dynamics, when they came back);
* ``summary_speed.csv``: the CPU -> GPU speed-up per training example;
* ``summary_snli_chaosnli.csv``: for the clean SNLI run, per score, over the ChaosNLI pairs (every one a
  training sample): ROC AUC and average precision at ranking first the pairs whose original gold label
  differs from the majority of ChaosNLI's 100 crowd labels, with chance levels, and the Spearman
  correlation with ChaosNLI's label entropy, each with a 95 % bootstrap interval over pairs;
* ``heldout_curves.csv``: held-out quality at every checkpoint of every run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

SAMPLE_KEEP = ("sample_id", "row_idx", "id", "label", "original_label", "is_corrupted", "n_tokens",
               "answer_start", "n_windows", "snli_row", "chaos_uid")
#: groups of run folders, in the order of the summaries; the noise-grid groups
GROUPS = ("sst2_full", "detection", "squad", "snli_chaos", "snli_detection")
DETECTION_GROUPS = ("detection", "snli_detection")
#: bootstrap resamples of the ChaosNLI intervals
N_BOOT = 1000
#: score columns committed per run (the summaries are computed from every score, before this cut;
#: the complete files stay in the returned archives): the action score, its training-pass and early
#: variants, and the strongest or most used baselines. Keeps results/gpu at a few MB, so that the
#: working tree still fits the 64 MiB transfer to a GPU machine with the model weights beside it.
COMMIT_SCORES = ("action", "action_train", "early_action", "final_loss", "cartography_confidence", "aum")


def _t975(df: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, df)) if df > 0 else float("nan")


def compact_run(src: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("run.json", "metrics.json", "job.json", "memorisation.csv"):
        if (src / name).exists():
            shutil.copy(src / name, dest / name)
    scores = pd.read_parquet(src / "scores.parquet")
    scores = scores[["sample_id", *[c for c in COMMIT_SCORES if c in scores.columns]]].copy()
    for c in scores.columns:
        if c != "sample_id" and scores[c].dtype.kind == "f":
            scores[c] = scores[c].astype(np.float32)
    scores.to_parquet(dest / "scores.parquet", compression="zstd", index=False)
    samples = pd.read_parquet(src / "samples.parquet")
    samples = samples[[c for c in SAMPLE_KEEP if c in samples.columns]]
    if samples["label"].dtype == object:  # QA: the answers are in the dev/train split, by row_idx
        samples = samples.drop(columns=[c for c in ("label", "original_label") if c in samples])
    samples.to_parquet(dest / "samples.parquet", compression="zstd", index=False)


def run_row(run_dir: Path, batch: dict) -> dict:
    info = json.loads((run_dir / "run.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    job = json.loads((run_dir / "job.json").read_text()) if (run_dir / "job.json").exists() else {}
    p, r = info["params"], info["resolved"]
    final = metrics["final"]
    row = {
        "run": run_dir.name, "task": p["task"], "backbone": p["backbone"], "model": "all-MiniLM-L6-v2 (fp16-rounded weights)",
        "n_train": r["n_train"], "n_heldout": r["n_heldout"], "epochs": p["epochs"],
        "checkpoints": r["n_checkpoints"], "batch_size": p["batch_size"], "learning_rate": p["learning_rate"],
        "max_length": p["max_length"], "noise_rate": p["noise_rate"], "noise_type": p["noise_type"],
        "seed": p["seed"], "data_seed": p["data_seed"], "n_corrupted": r["n_corrupted"],
        "heldout_metric": metrics["metric"],
    }
    for k, v in final.items():
        if k.startswith("heldout_"):
            row[f"final_{k}"] = v
    row["final_train_correct"] = final.get("train_correct")
    row["final_train_acc_corrupted"] = job.get("final_train_acc_corrupted")
    row["wall_s_run"] = info["wall_time_s"]["total"]
    for phase in ("build", "train", "eval_pass", "heldout"):
        row[f"wall_s_{phase}"] = info["wall_time_s"].get(phase)
    row["train_s_per_example_epoch"] = info["wall_time_s"]["train"] / (r["n_train"] * p["epochs"])
    row["concurrent_jobs"] = batch.get("workers")
    row["accelerator"] = info["hardware"].get("accelerator")
    row["cpu_count"] = info["hardware"].get("cpu_count")
    row["torch"] = info["versions"].get("torch")
    row["transformers"] = info["versions"].get("transformers")
    row["bf16_autocast"] = r.get("bf16_autocast")
    row["finished_at"] = info["finished_at"]
    return row


def detection_rows(run_dir: Path, run: dict) -> list[dict]:
    """Detection metrics of every score of one noise run (``run_dir``: the complete returned files)."""
    from nlpdiff import analysis

    scores = pd.read_parquet(run_dir / "scores.parquet")
    samples = pd.read_parquet(run_dir / "samples.parquet")
    table = analysis.detection_table(scores, samples["is_corrupted"].to_numpy(), samples["sample_id"].to_numpy())
    chance = table.attrs["chance_average_precision"]
    rows = []
    for rec in table.to_dict("records"):
        rows.append({
            "run": run["run"], "task": run["task"], "noise_rate": run["noise_rate"], "noise_type": run["noise_type"],
            "seed": run["seed"], "n_train": run["n_train"], "n_corrupted": run["n_corrupted"], **rec,
            "chance_roc_auc": 0.5, "chance_average_precision": chance, "chance_precision_at_k": chance,
            "final_train_acc_corrupted": run["final_train_acc_corrupted"],
            "memorised": bool(run["final_train_acc_corrupted"] > 0.5),
            "final_heldout_accuracy": run.get("final_heldout_accuracy"), "epochs": run["epochs"],
            "accelerator": run["accelerator"], "wall_s_run": run["wall_s_run"],
        })
    return rows


def cells(det: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (task, rate, kind, score), g in det.groupby(["task", "noise_rate", "noise_type", "score"], sort=True):
        row = {"task": task, "noise_rate": rate, "noise_type": kind, "score": score, "n_seeds": len(g)}
        for m in ("roc_auc", "average_precision", "precision_at_k", "final_train_acc_corrupted"):
            v = g[m].to_numpy(dtype=float)
            half = _t975(len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan")
            row[f"{m}_mean"] = v.mean()
            row[f"{m}_lo"] = v.mean() - half
            row[f"{m}_hi"] = v.mean() + half
        row["chance_roc_auc"] = 0.5
        row["chance_average_precision"] = g["chance_average_precision"].mean()
        row["memorised_all_seeds"] = bool(g["memorised"].all())
        out.append(row)
    return pd.DataFrame(out)


def by_checkpoint(dyn_dir: Path, det_runs: list[dict], res_dir: Path) -> pd.DataFrame:
    """ROC AUC of the action summed to checkpoint k and of the loss at k, per noise run and k."""
    from sklearn.metrics import roc_auc_score

    rows = []
    for run in det_runs:
        f = dyn_dir / run["run"] / "dynamics_eval.parquet"
        if not f.exists():
            continue
        dyn = pd.read_parquet(f)
        samples = pd.read_parquet(res_dir / run["run"] / "samples.parquet")
        loss = dyn.pivot(index="sample_id", columns="checkpoint", values="loss").sort_index()
        y = samples.set_index("sample_id").loc[loss.index, "is_corrupted"].to_numpy()
        mem = pd.read_csv(res_dir / run["run"] / "memorisation.csv").set_index("checkpoint")
        cum = loss.to_numpy().cumsum(axis=1)
        for j, k in enumerate(loss.columns):
            rows.append({
                "run": run["run"], "task": run["task"], "noise_rate": run["noise_rate"], "noise_type": run["noise_type"], "seed": run["seed"],
                "checkpoint": int(k), "epoch": float(mem.loc[k, "epoch"]),
                "train_acc_corrupted": float(mem.loc[k, "train_acc_corrupted"]),
                "roc_auc_action_to_k": roc_auc_score(y, cum[:, j]),
                "roc_auc_loss_at_k": roc_auc_score(y, loss.to_numpy()[:, j]),
            })
    return pd.DataFrame(rows)


def _auroc(y: np.ndarray, s: np.ndarray) -> float:
    from scipy.stats import rankdata

    r = rankdata(s)
    n1 = y.sum()
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * (len(y) - n1)))


def chaosnli_rows(run_dir: Path, data_dir: Path, n_boot: int = N_BOOT, seed: int = 0) -> pd.DataFrame:
    """Every score of one clean SNLI run against ChaosNLI (``run_dir``: the complete returned files).

    Over the ChaosNLI pairs among the run's training samples (joined on ``chaos_uid``): ROC AUC and
    average precision at ranking first the pairs whose original gold label differs from the majority
    of the 100 crowd labels (``label != chaos_label``), with their chance levels, and the Spearman
    correlation of the score with the entropy of the 100 labels; 95 % percentile bootstrap intervals
    over pairs (``n_boot`` resamples, the same resamples for every score), and paired intervals of each
    score's difference from the action score (``*_minus_action_lo/hi``: an interval that excludes 0
    says the two differ on these pairs).
    """
    from scipy.stats import spearmanr
    from sklearn.metrics import average_precision_score

    sys.path.insert(0, str(ROOT / "gpu"))
    import snli_chaos

    chaos = snli_chaos.load_chaos(data_dir)[["uid", "label", "chaos_label", "entropy"]]
    scores = pd.read_parquet(run_dir / "scores.parquet")
    samples = pd.read_parquet(run_dir / "samples.parquet")
    df = samples.loc[samples["chaos_uid"] != "", ["sample_id", "chaos_uid", "label"]].merge(
        chaos.rename(columns={"uid": "chaos_uid", "label": "gold"}), on="chaos_uid").merge(scores, on="sample_id")
    if not (df["label"] == df["gold"]).all():
        raise ValueError("a ChaosNLI pair's SNLI label differs from ChaosNLI's gold label")
    y = (df["gold"] != df["chaos_label"]).to_numpy()
    ent = df["entropy"].to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    boot = [rng.integers(0, len(df), len(df)) for _ in range(n_boot)]
    rows, boot_of = [], {}
    names = [c for c in scores.columns if c != "sample_id"]
    for name in ["action"] + [n for n in names if n != "action"]:
        s = df[name].to_numpy(dtype=float)
        if not np.all(np.isfinite(s)):
            continue
        b_auc, b_ap, b_rho = [], [], []
        for idx in boot:
            yb, sb = y[idx], s[idx]
            b_auc.append(_auroc(yb, sb))
            b_ap.append(average_precision_score(yb, sb))
            b_rho.append(spearmanr(sb, ent[idx]).statistic)
        row = {"score": name, "n_pairs": len(df), "n_gold_differs": int(y.sum()),
               "roc_auc": _auroc(y, s), "average_precision": float(average_precision_score(y, s)),
               "spearman_entropy": float(spearmanr(s, ent).statistic)}
        boot_of[name] = {"roc_auc": np.array(b_auc), "spearman_entropy": np.array(b_rho)}
        for m, b in (("roc_auc", b_auc), ("average_precision", b_ap), ("spearman_entropy", b_rho)):
            row[f"{m}_lo"], row[f"{m}_hi"] = (float(v) for v in np.nanpercentile(b, [2.5, 97.5]))
        for m in ("roc_auc", "spearman_entropy"):
            d = boot_of[name][m] - boot_of["action"][m]
            row[f"{m}_minus_action_lo"], row[f"{m}_minus_action_hi"] = (float(v) for v in np.nanpercentile(d, [2.5, 97.5]))
        row["chance_roc_auc"] = 0.5
        row["chance_average_precision"] = float(y.mean())
        row["run"] = run_dir.name
        rows.append(row)
    return pd.DataFrame(rows).sort_values("roc_auc", ascending=False, ignore_index=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", nargs="+")
    ap.add_argument("--dest", default=str(ROOT / "results" / "gpu"))
    ap.add_argument("--data-dir", default=os.environ.get("NLPDIFF_DATA_DIR", str(ROOT.parent / "shared" / "data")),
                    help="local data (ChaosNLI, for the SNLI call)")
    args = ap.parse_args(argv)
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)

    runs, det_runs, curves, by_ck, chaos_rows, speed = [], [], [], [], [], []
    for src in map(Path, args.src):
        batch = json.loads((src / "batch.json").read_text())
        batch["argv"] = [a if not a.startswith("/root/") else "$OUT" for a in batch["argv"]]
        snli = any((src / g).is_dir() for g in GROUPS if g.startswith("snli"))
        (dest / ("batch_snli.json" if snli else "batch.json")).write_text(json.dumps(batch, indent=1))
        speed.extend(batch.get("speed", []))
        for group in GROUPS:
            if not (src / group).is_dir():
                continue
            group_det = []
            for run_src in sorted(p for p in (src / group).iterdir() if p.is_dir()):
                compact_run(run_src, dest / group / run_src.name)
                row = run_row(dest / group / run_src.name, batch)
                row["group"] = group
                runs.append(row)
                if group in DETECTION_GROUPS:
                    group_det.append(row)
                    det_runs.append((run_src, row))
                if group == "snli_chaos":
                    chaos_rows.append(chaosnli_rows(run_src, Path(args.data_dir)))
                metrics = json.loads((run_src / "metrics.json").read_text())
                for ck in metrics["checkpoints"]:
                    curves.append({"run": run_src.name, "group": group, "task": row["task"], **ck})
            if group_det and (src / f"{group}_dynamics").is_dir():
                by_ck.append(by_checkpoint(src / f"{group}_dynamics", group_det, dest / group))
    runs_df = pd.DataFrame(runs)
    runs_df.to_csv(dest / "summary_runs.csv", index=False)
    pd.DataFrame(curves).to_csv(dest / "heldout_curves.csv", index=False)
    if det_runs:
        det = pd.DataFrame([r for run_src, run in det_runs for r in detection_rows(run_src, run)])
        det.to_csv(dest / "summary_detection.csv", index=False)
        cells(det).to_csv(dest / "summary_detection_cells.csv", index=False)
    if by_ck:
        pd.concat(by_ck, ignore_index=True).to_csv(dest / "summary_detection_by_checkpoint.csv", index=False)
    if chaos_rows:
        pd.concat(chaos_rows, ignore_index=True).to_csv(dest / "summary_snli_chaosnli.csv", index=False)
    speed = pd.DataFrame(speed)
    if len(speed):
        speed.to_csv(dest / "summary_speed.csv", index=False)
    print(runs_df[["run", "n_train", "heldout_metric", "wall_s_run"]].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
