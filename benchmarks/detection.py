"""Mislabel detection at equal compute: the action score averaged over K seeds vs K-fold confident learning.

Confident learning (:func:`nlpdiff.detection.confident_learning`) needs K trainings; one training
run gives every dynamics score. At equal cost, the fair comparison is K training runs of the action
score (K model seeds on the same samples and the same corrupted labels), averaged, against K-fold
confident learning on the same backbone. Both sides are measured in this one call: wall time and
CPU time of each side, the cost ratio, and the ROC AUC and average precision of each at ranking the
corrupted samples first (chance: 0.5 and the noise rate), with DeLong's paired test
(:func:`nlpdiff.stats.delong`) of the averaged action against confident learning. The action of
each seed is turned into ranks (0..1) before averaging, so no seed dominates by scale. The single
seed-0 run's action is printed too (the cost of one run).

    export PYTHONPATH=$PWD/src NLPDIFF_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    python benchmarks/detection.py                        # SST-2, probe, 1,000 sentences, 20 % uniform, K = 5
    python benchmarks/detection.py --backbone scratch --epochs 10 --lr 0.02
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="sst2")
    ap.add_argument("--backbone", default="probe")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--noise-rate", type=float, default=0.2)
    ap.add_argument("--noise-type", default="uniform")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="run folders (default: a temporary folder)")
    ap.add_argument("--csv", default=None, help="also write the figures as a one-row CSV (e.g. "
                    "results/mislabel/benchmark_detection/benchmark.csv, read by the mislabel chapter)")
    args = ap.parse_args(argv)

    import numpy as np
    import torch
    from scipy.stats import rankdata

    from nlpdiff import stats
    from nlpdiff.config import from_flat
    from nlpdiff.detection import confident_learning
    from nlpdiff.dynamics import train

    torch.set_num_threads(1)
    out = Path(args.out or tempfile.mkdtemp(prefix="nlpdiff-detection-"))

    def params(seed, name):
        flat = dict(task=args.task, backbone=args.backbone, train_size=args.n, epochs=args.epochs, batch_size=64,
                    learning_rate=args.lr, noise_rate=args.noise_rate, noise_type=args.noise_type, seed=seed,
                    data_seed=args.data_seed, max_length=64, device="cpu", output_dir=str(out / name))
        if args.backbone == "scratch":
            flat["model"] = "scratch"
        if args.task == "sst2":
            flat["eval_size"] = None
        else:
            flat.update(train_split="validation", eval_size=500, max_length=128)
        return from_flat(flat)

    # warm the probe's feature cache first (not counted on either side: both sides read the same features)
    train(params(0, "warmup"), progress=False)

    c0, w0 = time.process_time(), time.perf_counter()
    runs = [train(params(seed, f"action_s{seed}"), progress=False) for seed in range(args.k)]
    action_cpu, action_wall = time.process_time() - c0, time.perf_counter() - w0
    c0, w0 = time.process_time(), time.perf_counter()
    cl = confident_learning(params(0, "cl"), k=args.k, progress=False)
    cl_cpu, cl_wall = time.process_time() - c0, time.perf_counter() - w0

    samples = runs[0].samples.sort_values("sample_id")
    y = samples["is_corrupted"].to_numpy(bool)
    for r in runs[1:]:  # same data seed: the same samples and the same corrupted labels
        assert (r.samples.sort_values("sample_id")["is_corrupted"].to_numpy(bool) == y).all()
    acts = [r.scores.sort_values("sample_id")["action"].to_numpy(float) for r in runs]
    averaged = np.mean([rankdata(a) / len(a) for a in acts], axis=0)
    clv = cl.sort_values("sample_id")["confident_learning"].to_numpy(float)
    test = stats.delong(averaged, clv, y)
    print(f"{args.task}, {args.backbone}, {len(y)} samples, {args.noise_rate:.0%} {args.noise_type} noise "
          f"({int(y.sum())} corrupted), {args.epochs} epochs, K = {args.k}, one torch thread")
    print(f"cost  action x{args.k} seeds: {action_wall:.1f} s wall, {action_cpu:.1f} s CPU | "
          f"confident learning K={args.k}: {cl_wall:.1f} s wall, {cl_cpu:.1f} s CPU | "
          f"ratio CL / action = {cl_wall / action_wall:.2f} (wall), {cl_cpu / action_cpu:.2f} (CPU)")
    print(f"ROC AUC  action (seed 0, one run): {stats.roc_auc(acts[0], y):.3f} | action averaged over "
          f"{args.k} seeds: {stats.roc_auc(averaged, y):.3f} | confident learning: {stats.roc_auc(clv, y):.3f} "
          f"| chance 0.5")
    print(f"AP       action (seed 0): {stats.average_precision(acts[0], y):.3f} | averaged: "
          f"{stats.average_precision(averaged, y):.3f} | confident learning: {stats.average_precision(clv, y):.3f} "
          f"| chance {y.mean():.3f}")
    print(f"DeLong (averaged action - confident learning): diff {test['diff']:+.3f}, z {test['z']:.2f}, "
          f"p {test['p']:.3g}")
    if args.csv:
        import json

        import pandas as pd

        hw = json.loads((out / "action_s0" / "run.json").read_text())["hardware"]
        row = {"task": args.task, "backbone": args.backbone, "n": len(y), "noise_rate": args.noise_rate,
               "noise_type": args.noise_type, "n_corrupted": int(y.sum()), "epochs": args.epochs, "k": args.k,
               "action_wall_s": action_wall, "action_cpu_s": action_cpu, "cl_wall_s": cl_wall, "cl_cpu_s": cl_cpu,
               "cost_ratio_wall": cl_wall / action_wall, "cost_ratio_cpu": cl_cpu / action_cpu,
               "roc_auc_action_one_run": stats.roc_auc(acts[0], y), "roc_auc_action_averaged": stats.roc_auc(averaged, y),
               "roc_auc_confident_learning": stats.roc_auc(clv, y), "chance_roc_auc": 0.5,
               "ap_action_averaged": stats.average_precision(averaged, y),
               "ap_confident_learning": stats.average_precision(clv, y), "chance_ap": float(y.mean()),
               "delong_diff": test["diff"], "delong_p": test["p"], "torch_threads": 1,
               "cpu_count": hw.get("cpu_count"), "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame([row]).to_csv(args.csv, index=False, float_format="%.6g")


if __name__ == "__main__":
    main()
