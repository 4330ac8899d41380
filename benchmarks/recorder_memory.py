"""Peak memory of the recorder: :class:`nlpdiff.recording.Recorder` for 100,000 samples x 20
checkpoints (eval pass, and a train pass of 20 epochs), filled with synthetic values, then
``frame()`` (the long dynamics table: 4,000,000 rows).

Measured with tracemalloc (numpy and pandas report their buffers to it): the peak of the traced
allocations from an empty start, i.e. Recorder arrays + ``frame()`` temporaries + the frame. With
pandas >= 3 the ``pass`` column is a pyarrow-backed string column, whose buffers live in pyarrow's
own memory pool, which tracemalloc does not see: the pool's peak is added (an upper bound, as the
two peaks need not coincide). The process's peak RSS (``resource.getrusage``) is printed for
reference (it includes the interpreter, numpy, pandas and pyarrow).

Goal (issue): < 1 GiB.

    nice -n 10 python benchmarks/recorder_memory.py                 # the loop's Recorder.frame as it is
    nice -n 10 python benchmarks/recorder_memory.py --proposal      # with the proposed frame() (see below)
    nice -n 10 python benchmarks/recorder_memory.py --n 10000 --t 5
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
import tracemalloc

import numpy as np
import pandas as pd

from nlpdiff.recording import STAT_COLUMNS, Recorder

GIB = 2**30


def proposed_frame(self: Recorder) -> pd.DataFrame:
    """Proposed ``Recorder.frame``: same table (same rows, order, values and dtypes, except that
    ``pass`` is a categorical), built with one preallocated column per field instead of per-pass
    DataFrames + ``concat`` + ``sort_values`` (which copy the whole table twice).

    The rows come out already sorted by (pass, checkpoint, sample_id): ``np.nonzero`` on a
    (T, N) array is row-major, eval rows precede train rows ("eval" < "train"), and a train row's
    checkpoint ``epoch_checkpoint[epoch]`` does not decrease with the epoch.
    """
    ids = np.arange(self.n, dtype=np.int64)
    picked = []
    for pass_name, stats in (("eval", self.eval), ("train", self.train)):
        t_idx, s_idx = np.nonzero(np.isfinite(stats["loss"]))
        if pass_name == "eval":
            checkpoint, steps = t_idx, self.checkpoint_step[t_idx]
        else:
            checkpoint, steps = self.epoch_checkpoint[t_idx], self.train_step[t_idx, s_idx]
        picked.append((pass_name, stats, t_idx, s_idx, checkpoint.astype(np.int64), steps))
    total = sum(len(p[2]) for p in picked)
    cols: dict[str, np.ndarray] = {
        "sample_id": np.empty(total, np.int64), "checkpoint": np.empty(total, np.int64),
        "epoch": np.empty(total, np.float64), "step": np.empty(total, np.int64),
        "pass": np.empty(total, np.int8),
    }
    for c in self.columns:
        cols[c] = np.empty(total, np.float32)
    start = 0
    for code, (pass_name, stats, t_idx, s_idx, checkpoint, steps) in enumerate(picked):
        sl = slice(start, start + len(t_idx))
        cols["sample_id"][sl] = ids[s_idx]
        cols["checkpoint"][sl] = checkpoint
        cols["epoch"][sl] = self.checkpoint_epoch[checkpoint]
        cols["step"][sl] = steps
        cols["pass"][sl] = code
        for c in self.columns:
            cols[c][sl] = stats[c][t_idx, s_idx]
        start = sl.stop
        del t_idx, s_idx, checkpoint, steps
    picked.clear()
    correct = cols["correct"]
    if np.all((correct == 0) | (correct == 1)):
        cols["correct"] = correct.astype(bool)
    cols["pass"] = pd.Categorical.from_codes(cols["pass"], categories=["eval", "train"])
    return pd.DataFrame(cols, copy=False)


def fill(rec: Recorder, seed: int = 0) -> None:
    """Synthetic but plausible values, written row by row (no full-size temporaries)."""
    rng = np.random.default_rng(seed)
    n = rec.n
    for stats in (rec.eval, rec.train):
        for t in range(stats["loss"].shape[0]):
            loss = rng.exponential(1.0 / (t + 1), size=n).astype(np.float32)
            p = np.exp(-loss)
            stats["loss"][t] = loss
            stats["gold_prob"][t] = p
            stats["correct"][t] = p > 0.5
            stats["margin"][t] = np.log(p / (1 - p + 1e-7))
            stats["entropy"][t] = -(p * np.log(p) + (1 - p) * np.log1p(-p + 1e-7))
            stats["el2n"][t] = np.sqrt(2.0) * (1 - p)
    t_n = rec.eval["loss"].shape[0]
    rec.checkpoint_step[:] = np.arange(1, t_n + 1) * 100
    rec.checkpoint_epoch[:] = np.arange(1, t_n + 1, dtype=np.float64)
    rec.epoch_checkpoint[:] = np.arange(rec.train["loss"].shape[0])
    for e in range(rec.train_step.shape[0]):
        rec.train_step[e] = e * 100 + 1 + rng.integers(0, 100, size=n)


def measure(n: int, t: int, frame_fn) -> dict:
    import pyarrow as pa

    gc.collect()
    pool = pa.default_memory_pool()
    pool_base = pa.total_allocated_bytes()
    pool_peak0 = pool.max_memory()
    tracemalloc.start()
    t0 = time.perf_counter()
    rec = Recorder(n, t, t, STAT_COLUMNS)
    fill(rec)
    arrays = tracemalloc.get_traced_memory()[0]
    frame = frame_fn(rec)
    elapsed = time.perf_counter() - t0
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    arrow_peak = max(0, pool.max_memory() - max(pool_base, 0)) if pool.max_memory() > pool_peak0 else 0
    out = {"rows": len(frame), "arrays": arrays, "after": current, "peak": peak + arrow_peak,
           "traced_peak": peak, "arrow_peak": arrow_peak,
           "frame_bytes": int(frame.memory_usage(deep=True).sum()), "seconds": elapsed, "frame": frame}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--t", type=int, default=20)
    ap.add_argument("--proposal", action="store_true", help="measure the proposed frame() instead")
    ap.add_argument("--check", action="store_true", help="also check the proposal gives the same table (small n)")
    args = ap.parse_args(argv)

    if args.check:
        rec = Recorder(1000, 4, 4, STAT_COLUMNS)
        fill(rec)
        rec.eval["loss"][1, ::7] = np.nan  # some missing rows
        a, b = Recorder.frame(rec), proposed_frame(rec)
        b = b.assign(**{"pass": b["pass"].astype(a["pass"].dtype)})
        pd.testing.assert_frame_equal(a, b)
        print("check: proposed frame() == Recorder.frame() on 1000 x 4 (with missing rows): OK")

    fn = proposed_frame if args.proposal else Recorder.frame
    label = "proposed frame()" if args.proposal else "Recorder.frame() as in dynamics.py"
    r = measure(args.n, args.t, fn)
    print(f"recorder: {args.n:,} samples x {args.t} checkpoints (+ {args.t} train epochs), {r['rows']:,} rows; {label}")
    print(f"  recorder arrays            {r['arrays'] / 2**20:9.1f} MiB")
    print(f"  frame (deep)               {r['frame_bytes'] / 2**20:9.1f} MiB")
    print(f"  arrays + frame at the end  {r['after'] / 2**20:9.1f} MiB")
    print(f"  traced peak (tracemalloc)  {r['traced_peak'] / 2**20:9.1f} MiB")
    print(f"  pyarrow pool peak          {r['arrow_peak'] / 2**20:9.1f} MiB  (pandas string column)")
    print(f"  recorder_peak_memory       {r['peak'] / GIB:9.3f} GiB  (sum of both peaks; goal < 1 GiB: "
          f"{'met' if r['peak'] < GIB else 'MISSED'})")
    print(f"  process peak RSS           {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:9.3f} GiB  (reference)")
    print(f"  fill + frame time          {r['seconds']:9.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
