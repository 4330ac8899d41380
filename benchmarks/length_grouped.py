"""What length-grouped training batches save, and what they change in the scores (issue 23's last lever).

``train(length_grouped=True)`` (``nlpdiff score --length-grouped``) cuts padding by batching texts of
similar length (:class:`nlpdiff.samplers.LengthGroupedSampler`); it is the one lever that brings
``train()`` under a plain Trainer's time (``benchmarks/vs_trainer.py``), but it is not the default:
every paper whose score the study reads trains on shuffled batches. This script measures, in one
run, both sides of that choice on the recipe of the model-size study (fine-tuned MiniLM, SST-2,
``--n`` training sentences with 10 % of the labels flipped uniformly, ``data_seed`` 0 so every run
scores the same samples and the same flipped labels, 3 epochs, 2 checkpoints per epoch, batch 32,
max_length 64, 500 held-out sentences), each run on one torch thread, ``--jobs`` runs at a time:

* cost: the process CPU time and wall time of each run, shuffled against grouped (ratio of medians);
* learning: held-out accuracy at the last checkpoint;
* the scores: the action score's ROC AUC at finding the flipped labels (chance 0.5), and its rank
  agreement (Spearman over the training samples) between two seeds of one batching (how much the
  score moves with the seed alone) against the agreement between the two batchings at the same seed
  and at different seeds. Grouping changes the scores no more than a new seed does when the
  across-batching agreement is as high as the within-batching one.

Measured 2026-12-07 on the 2-core development machine (torch 2.13.0+cpu, nothing else running; the
defaults, 8 min 22 s in all): shuffled batches 191.4 CPU s a run (median), grouped 114.6 (0.599x);
held-out accuracy 0.794 against 0.784 (means over the 3 seeds); the action score's ROC AUC at the
flipped labels 0.902 (0.896-0.905) against 0.896 (0.884-0.902); Spearman agreement of the action score
between two seeds 0.970 (shuffled) and 0.960 (grouped), between the two batchings 0.987 at the same seed
and 0.964 at different seeds. Grouping moves the ranking about as much as a new seed does, and costs a
little held-out accuracy and detection (about 0.01 and 0.006 here, 3 seeds, not tested), which is why it
stays an option rather than the default.

    export NLPDIFF_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    python benchmarks/length_grouped.py                      # 1,000 sentences, seeds 0 1 2, 2 jobs
    python benchmarks/length_grouped.py --n 256 --seeds 0 1  # quicker
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def one_run(n: int, seed: int, grouped: bool, root: str) -> dict:
    import torch

    torch.set_num_threads(1)
    from nlpdiff.config import from_flat
    from nlpdiff.dynamics import train

    params = from_flat(dict(task="sst2", model="minilm", train_size=n, eval_size=500, epochs=3, batch_size=32,
                            learning_rate=5e-5, max_length=64, seed=seed, data_seed=0, noise_rate=0.1,
                            noise_type="uniform", length_grouped=grouped, device="cpu",
                            output_dir=str(Path(root) / f"{'grouped' if grouped else 'shuffled'}_s{seed}")))
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    run = train(params, progress=False)
    cpu, wall = time.process_time() - t_cpu, time.perf_counter() - t_wall
    scores = run.scores.set_index("sample_id")["action"] if "sample_id" in run.scores else run.scores["action"]
    flipped = run.samples.set_index("sample_id")["is_corrupted"].reindex(scores.index).astype(bool)
    final = run.metrics_frame().iloc[-1]
    return {"grouped": grouped, "seed": seed, "cpu_s": cpu, "wall_s": wall,
            "heldout_accuracy": float(final["heldout_accuracy"]), "action": scores, "flipped": flipped}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="training sentences")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (one torch thread each)")
    a = ap.parse_args(argv)
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    with tempfile.TemporaryDirectory() as root, ProcessPoolExecutor(a.jobs) as pool:
        jobs = [(a.n, s, g, root) for s in a.seeds for g in (False, True)]  # interleaved
        runs = list(pool.map(one_run, *zip(*jobs)))
    by = {(r["grouped"], r["seed"]): r for r in runs}
    name = {False: "shuffled", True: "grouped"}
    print(f"SST-2, fine-tuned MiniLM, {a.n} sentences (10 % flipped), 3 epochs, seeds {a.seeds}, 1 thread a run")
    print(f"{'batches':>9} {'CPU s (median)':>15} {'wall s':>8} {'held-out acc':>13} {'action ROC AUC':>15}")
    for g in (False, True):
        rs = [by[(g, s)] for s in a.seeds]
        aucs = [roc_auc_score(r["flipped"], r["action"]) for r in rs]
        print(f"{name[g]:>9} {statistics.median(r['cpu_s'] for r in rs):15.1f} "
              f"{statistics.median(r['wall_s'] for r in rs):8.1f} "
              f"{statistics.mean(r['heldout_accuracy'] for r in rs):13.3f} "
              f"{statistics.mean(aucs):8.3f} ({min(aucs):.3f}-{max(aucs):.3f})")
    ratio = (statistics.median(by[(True, s)]["cpu_s"] for s in a.seeds)
             / statistics.median(by[(False, s)]["cpu_s"] for s in a.seeds))
    print(f"grouped / shuffled CPU time: {ratio:.3f}x")

    def rho(x, y):
        return spearmanr(x["action"], y["action"].reindex(x["action"].index)).statistic

    pairs = {
        "shuffled, two seeds": [rho(by[(False, s)], by[(False, t)]) for s, t in itertools.combinations(a.seeds, 2)],
        "grouped, two seeds": [rho(by[(True, s)], by[(True, t)]) for s, t in itertools.combinations(a.seeds, 2)],
        "shuffled vs grouped, same seed": [rho(by[(False, s)], by[(True, s)]) for s in a.seeds],
        "shuffled vs grouped, two seeds": [rho(by[(False, s)], by[(True, t)]) for s in a.seeds for t in a.seeds
                                           if s != t],
    }
    print("rank agreement of the action score (Spearman over the training samples), mean [min, max]:")
    for label, values in pairs.items():
        if values:
            print(f"  {label:>32}: {statistics.mean(values):.3f} [{min(values):.3f}, {max(values):.3f}] "
                  f"({len(values)} pairs)")


if __name__ == "__main__":
    main()
