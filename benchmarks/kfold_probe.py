"""Cost of confident learning's K folds with the ``probe`` backbone, against one warm run.

Confident learning (:func:`nlpdiff.detection.confident_learning`) trains K times. With the probe
backbone the expensive part is the frozen encoder's feature extraction, cached on disk per text
list (:mod:`nlpdiff.models.cache`). The folds train on subsets through a
:class:`~nlpdiff.samplers.SubsetSampler` while the head is built on the whole training set, so
every fold finds the features of the first run in the cache: K folds should cost about K trainings
of the small head, i.e. ``K-fold time / one warm run`` about K (the issue measured 28-38x before).

Steps, in a fresh feature cache: one cold run (fills the cache), one warm run (timed), then
``confident_learning(k=K)`` (timed). CPU time and wall time are printed; one torch thread.

Measured (``--n 400 --epochs 2``, shared 2-core machine): before the sampler (each fold built its
head on its own subset, a new text list, so re-extracted its features) 72.5x one warm run in CPU
time (70.9x wall); now 8.6x CPU (8.2x wall): the features are extracted once, and each fold costs
about one warm run plus loading the encoder, an eval pass over every sample and its folder.

    export NLPDIFF_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    nice -n 10 python benchmarks/kfold_probe.py                   # 1,000 sentences, 3 epochs, K = 5
    nice -n 10 python benchmarks/kfold_probe.py --n 300 --epochs 2
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--k", type=int, default=5)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="nlpdiff-kfold-"))
    os.environ["NLPDIFF_CACHE_DIR"] = str(tmp / "features")  # a fresh cache: the first run is cold

    from nlpdiff.config import from_flat
    from nlpdiff.detection import confident_learning
    from nlpdiff.dynamics import train

    def params(out):
        return from_flat(dict(task="sst2", backbone="probe", train_size=args.n, eval_size=200, epochs=args.epochs,
                              batch_size=32, learning_rate=1e-3, noise_rate=0.1, seed=0, device="cpu",
                              output_dir=str(tmp / out)))

    def timed(fn):
        c, w = time.process_time(), time.perf_counter()
        fn()
        return time.process_time() - c, time.perf_counter() - w

    cold = timed(lambda: train(params("cold"), progress=False))
    warm = timed(lambda: train(params("warm"), progress=False))
    folds = timed(lambda: confident_learning(params("cl"), k=args.k, progress=False))
    print(f"kfold_probe: probe backbone (MiniLM features), {args.n} SST-2 sentences, {args.epochs} epochs, "
          f"K = {args.k}, 1 torch thread")
    for name, (cpu, wall) in (("cold run (extracts features)", cold), ("warm run (cached features)", warm),
                              (f"confident learning, {args.k} folds", folds)):
        print(f"  {name:36s} CPU {cpu:7.1f} s   wall {wall:7.1f} s")
    print(f"  K-fold / one warm run: {folds[0] / warm[0]:.1f}x CPU, {folds[1] / warm[1]:.1f}x wall "
          f"(about K = {args.k} means the features are extracted once)")


if __name__ == "__main__":
    main()
