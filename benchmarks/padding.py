"""Two ways to cut padding, what they save and what they change in the scores (issue 23).

A shuffled batch of SST-2 sentences is padded to its longest sentence: most of a step computes padding.
Two levers, measured side by side in one run:

* **trimmed padding** (``TrainParams.trim_padding``, the default for new runs): the same shuffled
  batches, each computed in pieces of similar length (:func:`nlpdiff.engine.padding_pieces`) whose
  gradients add up to the batch's before the one optimiser step; only the dropout draws differ from a
  whole padded batch (``trim_padding=False``, the path of the study's committed parts);
* **length-grouped batches** (``length_grouped=True``, ``nlpdiff score --length-grouped``): batches of
  texts of similar length (:class:`nlpdiff.samplers.LengthGroupedSampler`), so the batches themselves
  change; every paper whose score the study reads trains on shuffled batches, so it stays an option.

The recipe is the model-size study's (fine-tuned MiniLM, SST-2, ``--n`` training sentences with 10 % of
the labels flipped uniformly, ``data_seed`` 0 so every run scores the same samples and the same flipped
labels, 3 epochs, 2 checkpoints per epoch, batch 32, max_length 64, 500 held-out sentences), each run on
one torch thread, ``--jobs`` runs at a time. Printed for each of the three arms (padded, trimmed,
grouped):

* cost: the process CPU time and wall time of a run (median), and each arm's ratio to the padded one;
* learning: held-out accuracy at the last checkpoint (mean over seeds);
* the scores: the action score's ROC AUC at finding the flipped labels (chance 0.5), and its rank
  agreement (Spearman over the training samples) between two seeds of one arm (how much the score moves
  with the seed alone) against the agreement between two arms at the same seed and at different seeds.
  An arm changes the scores no more than a new seed does when its across-arm agreement is as high as
  the within-arm one.

Measured 2026-12-07 on the 2-core development machine (torch 2.13.0+cpu, nothing else running; the
defaults, 715 s in all), CPU s a run (median), held-out accuracy (mean), action ROC AUC at the flipped
labels (mean, range over seeds):

=======  ======  ========  ==========  ===================
arm      CPU s   / padded  accuracy    ROC AUC
=======  ======  ========  ==========  ===================
padded   195.5   1.000x    0.794       0.902 (0.896-0.905)
trimmed  132.5   0.678x    0.790       0.902 (0.894-0.907)
grouped  107.0   0.547x    0.781       0.897 (0.886-0.903)
=======  ======  ========  ==========  ===================

Spearman agreement of the action score: two seeds 0.970 (padded), 0.966 (trimmed), 0.959 (grouped);
padded against trimmed 0.995 at the same seed and 0.968 at different seeds; trimmed against grouped
0.987 and 0.963. Trimming moves the ranking less than a new seed does and keeps the detection, so it is
the default; grouping moves it about as much as a new seed and costs a little accuracy and detection
(3 seeds, not tested), so it stays an option. (Before trimmed padding existed, the same day: padded
191.4 s, grouped 114.6 s.)

    export NLPDIFF_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    python benchmarks/padding.py                      # 1,000 sentences, seeds 0 1 2, 2 jobs
    python benchmarks/padding.py --n 256 --seeds 0 1  # quicker
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

#: arm -> (length_grouped, trim_padding)
ARMS = {"padded": (False, False), "trimmed": (False, True), "grouped": (True, True)}


def one_run(n: int, seed: int, arm: str, root: str) -> dict:
    import torch

    torch.set_num_threads(1)
    from nlpdiff.config import from_flat
    from nlpdiff.dynamics import train

    grouped, trim = ARMS[arm]
    params = from_flat(dict(task="sst2", model="minilm", train_size=n, eval_size=500, epochs=3, batch_size=32,
                            learning_rate=5e-5, max_length=64, seed=seed, data_seed=0, noise_rate=0.1,
                            noise_type="uniform", length_grouped=grouped, trim_padding=trim, device="cpu",
                            output_dir=str(Path(root) / f"{arm}_s{seed}")))
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    run = train(params, progress=False)
    cpu, wall = time.process_time() - t_cpu, time.perf_counter() - t_wall
    scores = run.scores.set_index("sample_id")["action"] if "sample_id" in run.scores else run.scores["action"]
    flipped = run.samples.set_index("sample_id")["is_corrupted"].reindex(scores.index).astype(bool)
    final = run.metrics_frame().iloc[-1]
    return {"arm": arm, "seed": seed, "cpu_s": cpu, "wall_s": wall,
            "heldout_accuracy": float(final["heldout_accuracy"]), "action": scores, "flipped": flipped}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="training sentences")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (one torch thread each)")
    a = ap.parse_args(argv)
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as root, ProcessPoolExecutor(a.jobs) as pool:
        jobs = [(a.n, s, arm, root) for s in a.seeds for arm in ARMS]  # interleaved
        runs = list(pool.map(one_run, *zip(*jobs)))
    by = {(r["arm"], r["seed"]): r for r in runs}
    print(f"SST-2, fine-tuned MiniLM, {a.n} sentences (10 % flipped), 3 epochs, seeds {a.seeds}, 1 thread a run, "
          f"{a.jobs} runs at a time; {time.perf_counter() - t0:.0f} s in all")
    cpu = {arm: statistics.median(by[(arm, s)]["cpu_s"] for s in a.seeds) for arm in ARMS}
    print(f"{'arm':>8} {'CPU s (median)':>15} {'/ padded':>9} {'wall s':>8} {'held-out acc':>13} {'action ROC AUC':>15}")
    for arm in ARMS:
        rs = [by[(arm, s)] for s in a.seeds]
        aucs = [roc_auc_score(r["flipped"], r["action"]) for r in rs]
        print(f"{arm:>8} {cpu[arm]:15.1f} {cpu[arm] / cpu['padded']:8.3f}x "
              f"{statistics.median(r['wall_s'] for r in rs):8.1f} "
              f"{statistics.mean(r['heldout_accuracy'] for r in rs):13.3f} "
              f"{statistics.mean(aucs):8.3f} ({min(aucs):.3f}-{max(aucs):.3f})")

    def rho(x, y):
        return spearmanr(x["action"], y["action"].reindex(x["action"].index)).statistic

    pairs = {f"{arm}, two seeds": [rho(by[(arm, s)], by[(arm, t)]) for s, t in itertools.combinations(a.seeds, 2)]
             for arm in ARMS}
    for x, y in (("padded", "trimmed"), ("trimmed", "grouped")):
        pairs[f"{x} vs {y}, same seed"] = [rho(by[(x, s)], by[(y, s)]) for s in a.seeds]
        pairs[f"{x} vs {y}, two seeds"] = [rho(by[(x, s)], by[(y, t)]) for s in a.seeds for t in a.seeds if s != t]
    print("rank agreement of the action score (Spearman over the training samples), mean [min, max]:")
    for label, values in pairs.items():
        if values:
            print(f"  {label:>32}: {statistics.mean(values):.3f} [{min(values):.3f}, {max(values):.3f}] "
                  f"({len(values)} pairs)")


if __name__ == "__main__":
    main()
