"""Benchmark of nlpdiff.scores: every dynamics-based score on 1,000,000 samples x 50 checkpoints.

Builds synthetic wide arrays (loss, gold_prob, correct, margin, entropy, el2n; float32 by default)
directly as a :class:`nlpdiff.scores.Dynamics`, then computes every score that works on one pass of
dynamics (plus VoG's class normalisation on a per-sample vector), pinned to one CPU core. Prints
the wall time of each score and in total, and the peak memory as a multiple of the raw arrays'
size: ``(raw arrays + peak of the allocations traced by tracemalloc while scoring) / raw arrays``,
and the process's peak RSS for reference.

Goals (issue): <= 10 s on one core, <= 3x the raw size.

    PYTHONPATH=src python benchmarks/scores.py               # 1,000,000 x 50, float32
    PYTHONPATH=src python benchmarks/scores.py --n 100000 --dtype float64
"""

from __future__ import annotations

import os

# one core: no multi-threaded BLAS, and pinned to a single CPU where the OS allows it
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

from nlpdiff import scores as S  # noqa: E402


def make_dynamics(n: int, t: int, dtype: str, seed: int = 0) -> S.Dynamics:
    """Synthetic but plausible dynamics, filled block by block (no big temporaries)."""
    rng = np.random.default_rng(seed)
    arrays = {name: np.empty((n, t), dtype=dtype) for name in ("loss", "gold_prob", "correct", "margin", "entropy", "el2n")}
    decay = np.exp(-np.linspace(0, 3, t))  # losses fall over training
    block = 1 << 16
    for start in range(0, n, block):
        stop = min(start + block, n)
        b = stop - start
        hardness = rng.gamma(1.0, 1.0, size=(b, 1))
        loss = hardness * (0.3 + decay) * rng.uniform(0.7, 1.3, size=(b, t))
        p = np.exp(-loss)
        arrays["loss"][start:stop] = loss
        arrays["gold_prob"][start:stop] = p
        arrays["correct"][start:stop] = p > 0.5
        arrays["margin"][start:stop] = np.log(p / (1 - p + 1e-12) + 1e-12)
        arrays["entropy"][start:stop] = rng.uniform(0.0, 0.69, size=(b, t))
        arrays["el2n"][start:stop] = np.sqrt(2.0) * (1 - p)
    steps = np.cumsum(rng.integers(100, 1000, size=t))  # uneven checkpoints
    return S.Dynamics(
        sample_ids=np.arange(n, dtype=np.int64),
        checkpoints=np.arange(t),
        pass_="eval",
        steps=steps,
        epochs=np.arange(1, t + 1, dtype=np.float64),
        **arrays,
    )


def all_scores(dyn: S.Dynamics, vog: np.ndarray, labels: np.ndarray) -> dict[str, tuple[float, np.ndarray]]:
    """Every dynamics-based registered score (one pass; the train-pass variants run the same code)."""
    jobs = {
        "action": lambda: S.action_score(dyn),
        "action_trapezoid": lambda: S.action_trapezoid_score(dyn),
        "early_action": lambda: S.early_action_score(dyn),
        "mean_loss": lambda: S.mean_loss_score(dyn),
        "final_loss": lambda: S.final_loss_score(dyn),
        "cartography_confidence": lambda: S.cartography_confidence_score(dyn),
        "cartography_variability": lambda: S.cartography_variability_score(dyn),
        "cartography_correctness": lambda: S.cartography_correctness_score(dyn),
        "forgetting_events": lambda: S.forgetting_events_score(dyn),
        "aum": lambda: S.aum_score(dyn),
        "el2n": lambda: S.el2n_score(dyn),
        "mean_entropy": lambda: S.mean_entropy_score(dyn),
        "final_entropy": lambda: S.final_entropy_score(dyn),
        "learning_speed": lambda: S.learning_speed_score(dyn),
        "vog": lambda: S.vog_score(vog, labels),
    }
    out = {}
    for name, job in jobs.items():
        t0 = time.perf_counter()
        values = job()
        out[name] = (time.perf_counter() - t0, values)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="samples (default 1,000,000)")
    parser.add_argument("--t", type=int, default=50, help="checkpoints (default 50)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        except OSError:
            pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"

    dyn = make_dynamics(args.n, args.t, args.dtype)
    rng = np.random.default_rng(1)
    vog = rng.gamma(2.0, 1.0, size=args.n)
    labels = rng.integers(0, 2, size=args.n)
    raw = sum(getattr(dyn, c).nbytes for c in dyn.columns)
    print(f"nlpdiff.scores benchmark: N={args.n:,} samples x T={args.t} checkpoints, {args.dtype}, "
          f"{len(dyn.columns)} columns ({', '.join(dyn.columns)}), raw arrays {raw / 2**20:,.0f} MiB, "
          f"{cores} core(s), numpy {np.__version__}, python {sys.version.split()[0]}")

    # 1) wall time, without tracing
    t0 = time.perf_counter()
    timed = all_scores(dyn, vog, labels)
    wall = time.perf_counter() - t0
    for name, (secs, values) in timed.items():
        assert values.shape == (args.n,) and np.isfinite(values).all(), name
        print(f"  {name:<26s} {secs:7.3f} s")
    print(f"wall time, {len(timed)} scores: {wall:.2f} s (goal <= 10 s on one core)")

    # 2) peak memory, traced (tracemalloc sees numpy's allocations); the raw arrays are already allocated
    del timed
    tracemalloc.start()
    tracemalloc.reset_peak()
    traced = all_scores(dyn, vog, labels)
    _, peak_extra = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del traced
    ratio = (raw + peak_extra) / raw
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(f"peak memory while scoring: raw {raw / 2**20:,.0f} MiB + temporaries and results "
          f"{peak_extra / 2**20:,.1f} MiB = {ratio:.3f}x the raw arrays' size (goal <= 3x)")
    print(f"process peak RSS (includes interpreter and data generation): {rss / 2**20:,.0f} MiB = {rss / raw:.2f}x raw")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
