"""Curriculum learning ordered by a difficulty score, with the controls of Wu, Dyer and Neyshabur (2021).

Three parts:

* **samplers** (the engine's :class:`~nlpdiff.samplers.Sampler` protocol) that pace training over
  an *order* of the training positions (easy to hard):

  - :class:`CompetenceSampler`: competence-based pacing with the square-root competence of
    Platanios et al. (2019), ``c(t) = min(1, sqrt(t (1 - c0^2) / T + c0^2))``; each batch is
    drawn uniformly from the easiest ``c(t)`` fraction; ``T`` is ``ramp`` x the run's steps;
  - :class:`BucketSampler`: baby steps and annealing (as compared by Christopoulou et al. 2022):
    the order is cut into ``n_buckets`` buckets of equal size; training runs in ``n_buckets + 1``
    phases of equal length; in phase ``i < n_buckets`` baby steps trains on buckets ``0..i``,
    annealing on bucket ``i`` plus a ``1 / n_buckets`` share of each earlier bucket; the last phase
    trains on every sample;
  - :class:`PacedSampler`: the machinery of both (batches over a pool of positions that may change
    at every step), also used with a constant pool for the shuffled and pruned controls at a
    limited budget.

  Every sampler takes a *budget*: the total number of optimiser steps, spread over the run's
  epochs (the loop's recording units: checkpoints fall inside each epoch); :func:`budget_steps`
  gives it as a fraction of ordinary training (``epochs x ceil(n / batch_size)``), so the
  learning-rate schedule (``engine.linear_warmup`` over ``State.total_steps``, the sum of the
  sampler's ``num_batches``) counts the sampler's own steps.

* **orders** (:func:`difficulty_order`): positions sorted by a difficulty score (higher = harder),
  from a *separate* scoring run (another seed; a run never orders its data by its own dynamics),
  or by text length (loss-free), or random (the control), or reversed (anti-curriculum).

* **a grid runner** (:func:`run_part`, ``python -m nlpdiff_study.curriculum PART``): a part of
  ``params/curriculum.yaml`` names a task, a backbone, the seeds and the settings (label noise,
  budget); the runner trains the scoring run for each noise setting, then every (schedule x order)
  cell and the controls over the seeds through :func:`nlpdiff.dynamics.train` with held-out
  evaluation at every checkpoint, and writes small tables to ``results/curriculum/<part>/``:
  ``runs.csv`` (one row per run), ``curves.csv`` (held-out metric per checkpoint), ``scoring.csv``
  (the scoring runs and their cost) and ``part.json`` (the part's definition). Run directories are
  reused when they are complete and were made for the same cell, so a part resumes.

:func:`summarize` (mean and 95 % interval over seeds of the final held-out metric and the area
under the held-out learning curve) and :func:`paired_tests` (paired t tests over the same seeds of
each curriculum against random-order pacing and against shuffled training, Holm-adjusted across
the table) turn the tables into the chapter's figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from nlpdiff.errors import ParameterError
from nlpdiff.samplers import ShuffledSampler, SubsetSampler

SCHEDULES = ("competence", "baby_steps", "annealing")
CONTROLS = ("shuffled", "prune")
LOSS_FREE_ORDERS = ("length", "random")
#: held-out metrics that runs record in percent (SQuAD's F1 and exact match); the tables give them as fractions
PERCENT_METRICS = {"heldout_f1": 100.0, "heldout_exact_match": 100.0}


# --------------------------------------------------------------------------------------------- samplers


def competence(step, total: int, c0: float = 0.01):
    """Square-root competence of Platanios et al. (2019) at ``step`` (0-based) of a ramp of ``total`` steps."""
    if total < 1:
        raise ParameterError("total", total, "at least one step")
    if not 0 < c0 <= 1:
        raise ParameterError("c0", c0, "a number in (0, 1]")
    t = np.asarray(step, dtype=float)
    return np.minimum(1.0, np.sqrt(t * (1 - c0**2) / total + c0**2))


def budget_steps(n: int, batch_size: int, epochs: int, budget: float = 1.0) -> int:
    """Total optimiser steps at ``budget`` (a fraction of ordinary training: ``epochs x ceil(n / batch_size)``)."""
    if not (isinstance(budget, (int, float)) and 0 < budget <= 1):
        raise ParameterError("budget", budget, "a fraction of the ordinary training steps in (0, 1]")
    return max(epochs, int(round(budget * epochs * math.ceil(n / batch_size))))


def split_steps(total_steps: int, epochs: int) -> list[int]:
    """``total_steps`` spread over ``epochs`` as evenly as possible (the first epochs get the remainder)."""
    base, extra = divmod(int(total_steps), int(epochs))
    return [base + (e < extra) for e in range(epochs)]


class PacedSampler:
    """Batches of ``batch_size`` drawn from a *pool* of positions that may change with the step.

    ``pool(step) -> (key, positions)`` gives the pool at global step ``step`` (0-based); while the
    key stays the same the sampler walks through one random permutation of the pool (a sample
    comes back only after the whole pool has been seen), and a new key starts a fresh permutation
    of the new pool. With a pool that grows at every step (competence) each batch is thus a uniform
    draw from the current pool. All batches are drawn once, at construction, from a generator seeded
    with ``seed``, so ``batches(epoch)`` can be asked in any order.
    """

    def __init__(self, n: int, pool: Callable[[int], tuple[Any, np.ndarray]], batch_size: int, seed: int,
                 epochs: int, total_steps: int):
        if n < 1:
            raise ParameterError("train_size", n, "at least one training sample")
        if batch_size < 1:
            raise ParameterError("batch_size", batch_size, "an integer >= 1")
        if epochs < 1 or total_steps < epochs:
            raise ParameterError("total_steps", total_steps, f"at least one step per epoch ({epochs})")
        self.n, self.batch_size, self.seed, self.epochs = int(n), int(batch_size), int(seed), int(epochs)
        self.total_steps = int(total_steps)
        self.plan = split_steps(total_steps, epochs)
        rng = np.random.default_rng(seed)
        key, queue, batches, seen = object(), np.empty(0, np.int64), [], np.zeros(n, bool)
        for step in range(self.total_steps):
            new_key, positions = pool(step)
            positions = np.asarray(positions, dtype=np.int64)
            if new_key != key:
                key, queue, current = new_key, rng.permutation(positions), positions
            take = min(self.batch_size, len(current))
            if len(queue) < take:
                queue = np.concatenate([queue, rng.permutation(np.setdiff1d(current, queue))])
            batches.append(queue[:take])
            queue = queue[take:]
            seen[batches[-1]] = True
        self._batches = batches
        self._seen = np.flatnonzero(seen)
        starts = np.concatenate([[0], np.cumsum(self.plan)])
        self._starts = starts

    def positions(self) -> np.ndarray:
        """Every position the sampler trains on at least once."""
        return self._seen

    def num_batches(self, epoch: int) -> int:
        return self.plan[epoch]

    def batches(self, epoch: int) -> list[np.ndarray]:
        return self._batches[self._starts[epoch]:self._starts[epoch + 1]]

    def all_batches(self) -> list[np.ndarray]:
        """Every batch of the run, in order."""
        return list(self._batches)


def _check_order(order, n: int) -> np.ndarray:
    order = np.asarray(order, dtype=np.int64)
    if order.ndim != 1 or len(order) != n or not np.array_equal(np.sort(order), np.arange(n)):
        raise ParameterError("order", f"{len(order)} positions", f"a permutation of the {n} training positions")
    return order


class CompetenceSampler(PacedSampler):
    """Competence-based pacing (Platanios et al. 2019) over ``order`` (easy to hard).

    At step ``t`` a batch is drawn uniformly from ``order[:k(t)]`` with ``k(t) = max(batch_size,
    ceil(c(t) n))`` and ``c`` the square-root :func:`competence`; competence reaches 1 at step
    ``T = ceil(ramp x total_steps)`` (then every sample is in the pool).
    """

    def __init__(self, order, batch_size: int, seed: int, epochs: int, total_steps: int, c0: float = 0.01,
                 ramp: float = 0.5):
        if not 0 < ramp <= 1:
            raise ParameterError("ramp", ramp, "the fraction of the steps over which competence grows, in (0, 1]")
        order = _check_order(order, len(order))
        n = len(order)
        self.order, self.c0, self.ramp = order, float(c0), float(ramp)
        self.ramp_steps = max(1, math.ceil(ramp * total_steps))
        competence(0, self.ramp_steps, c0)  # checks c0

        def pool(step):
            k = self.pool_size(step)
            return k, order[:k]

        super().__init__(n, pool, batch_size, seed, epochs, total_steps)

    def pool_size(self, step: int) -> int:
        """How many of the easiest samples the batch of ``step`` is drawn from."""
        c = float(competence(step, self.ramp_steps, self.c0))
        return int(min(self.n, max(self.batch_size, math.ceil(c * self.n - 1e-9))))


class BucketSampler(PacedSampler):
    """Baby steps or annealing over ``order`` (easy to hard), ``n_buckets`` buckets, ``n_buckets + 1`` phases.

    ``mode="baby_steps"``: phase ``i`` trains on buckets ``0..i``; ``mode="annealing"``: phase ``i``
    trains on bucket ``i`` plus a random ``1 / n_buckets`` share of each earlier bucket (drawn anew
    each phase). The last phase trains on every sample. Phases have equal numbers of steps.
    """

    MODES = ("baby_steps", "annealing")

    def __init__(self, order, batch_size: int, seed: int, epochs: int, total_steps: int, n_buckets: int = 4,
                 mode: str = "baby_steps"):
        if mode not in self.MODES:
            raise ParameterError("mode", mode, f"one of {list(self.MODES)}")
        order = _check_order(order, len(order))
        n = len(order)
        if not (isinstance(n_buckets, int) and 1 <= n_buckets <= n):
            raise ParameterError("n_buckets", n_buckets, f"an integer in [1, {n}]")
        self.order, self.mode, self.n_buckets = order, mode, n_buckets
        self.buckets = np.array_split(order, n_buckets)
        self.n_phases = n_buckets + 1
        share_rng = np.random.default_rng([seed, 1])
        self._pools = []
        for i in range(n_buckets):
            if mode == "baby_steps":
                self._pools.append(np.concatenate(self.buckets[:i + 1]))
            else:
                shares = [share_rng.choice(b, size=max(1, round(len(b) / n_buckets)), replace=False)
                          for b in self.buckets[:i]]
                self._pools.append(np.concatenate([self.buckets[i], *shares]))
        self._pools.append(order.copy())

        def pool(step):
            i = self.phase(step)
            return i, self._pools[i]

        self._total = total_steps
        super().__init__(n, pool, batch_size, seed, epochs, total_steps)

    def phase(self, step: int) -> int:
        """The phase (0-based) of global step ``step``."""
        return min(self.n_phases - 1, step * self.n_phases // self._total)


def difficulty_order(difficulty, seed: int = 0, reverse: bool = False) -> np.ndarray:
    """Positions sorted by ``difficulty`` (easy first; ``reverse``: hard first); ties broken at random (``seed``)."""
    d = np.asarray(difficulty, dtype=float)
    if d.ndim != 1 or not np.all(np.isfinite(d)):
        raise ParameterError("difficulty", "non-finite or not 1-d", "one finite number per training sample")
    tie = np.random.default_rng(seed).random(len(d))
    key = -d if reverse else d
    return np.lexsort((tie, key)).astype(np.int64)


def make_sampler(schedule: str, n: int, batch_size: int, seed: int, epochs: int, budget: float = 1.0,
                 order=None, keep=None, c0: float = 0.01, ramp: float = 0.5, n_buckets: int = 4):
    """The sampler of one grid cell.

    ``schedule``: ``competence``, ``baby_steps``, ``annealing`` (need ``order``), ``shuffled`` (ordinary
    training: the engine's :class:`ShuffledSampler` at the full budget, a constant pool of every sample
    otherwise) or ``prune`` (only the positions ``keep``: :class:`SubsetSampler` at the full budget, a
    constant pool of them otherwise, with the same number of steps as ``shuffled`` at that budget).
    """
    total = budget_steps(n, batch_size, epochs, budget)
    if schedule == "competence":
        return CompetenceSampler(order, batch_size, seed, epochs, total, c0=c0, ramp=ramp)
    if schedule in BucketSampler.MODES:
        return BucketSampler(order, batch_size, seed, epochs, total, n_buckets=n_buckets, mode=schedule)
    if schedule == "shuffled":
        if budget == 1:
            return ShuffledSampler(n, batch_size, seed)
        everything = np.arange(n)
        return PacedSampler(n, lambda step: (0, everything), batch_size, seed, epochs, total)
    if schedule == "prune":
        keep = np.sort(np.asarray(keep, dtype=np.int64))
        if budget == 1:
            return SubsetSampler(n, keep, batch_size, seed)
        return PacedSampler(n, lambda step: (0, keep), batch_size, seed, epochs, total)
    raise ParameterError("schedule", schedule, f"one of {list(SCHEDULES + CONTROLS)}")


# --------------------------------------------------------------------------------------------- parts


@dataclass
class Part:
    """One part of the grid (an entry of ``params/curriculum.yaml``)."""

    name: str
    task: str
    backbone: str
    parameters: dict[str, Any]
    seeds: list[int]
    scoring_seed: int = 0
    noise_rates: list[float] = field(default_factory=lambda: [0.0, 0.2])
    noise_type: str = "uniform"
    budgets: list[float] = field(default_factory=lambda: [1.0, 0.25])
    schedules: dict[str, list[str]] = field(default_factory=lambda: {"competence": ["action", "random"]})
    controls: list[str] = field(default_factory=lambda: ["shuffled", "prune"])
    prune_by: str = "action"
    prune_fraction: float = 0.1
    c0: float = 0.01
    ramp: float = 0.5
    n_buckets: int = 4

    def cells(self) -> list[tuple[str, str]]:
        """Every (schedule, order) of the part, the controls last (``shuffled``'s order is ``none``)."""
        cells = [(s, o) for s, orders in self.schedules.items() for o in orders]
        for c in self.controls:
            cells.append((c, "none" if c == "shuffled" else self.prune_by))
        return cells

    def validate(self, scores: Iterable[str] | None = None) -> "Part":
        from nlpdiff import tasks

        tasks.get_task(self.task)
        if self.scoring_seed in self.seeds:
            raise ParameterError("scoring_seed", self.scoring_seed, f"a seed not among the curriculum seeds {self.seeds}",
                                 hint="a run must not be ordered by its own dynamics")
        if len(set(self.seeds)) != len(self.seeds) or not self.seeds:
            raise ParameterError("seeds", self.seeds, "distinct seeds, at least one")
        for s in self.schedules:
            if s not in SCHEDULES:
                raise ParameterError("schedules", s, f"one of {list(SCHEDULES)}")
        for c in self.controls:
            if c not in CONTROLS:
                raise ParameterError("controls", c, f"one of {list(CONTROLS)}")
        for b in self.budgets:
            budget_steps(1, 1, 1, b)
        for noise in self.noise_rates:  # every run's parameters are valid before any training starts
            _params(self, self.scoring_seed, noise, Path("unused"))
        if not 0 < self.prune_fraction < 1:
            raise ParameterError("prune_fraction", self.prune_fraction, "a fraction in (0, 1)")
        known = set(scores) if scores is not None else None
        for _, orders in self.schedules.items():
            for o in orders:
                base = o[5:] if o.startswith("anti_") else o
                if base in LOSS_FREE_ORDERS:
                    continue
                if known is not None and base not in known:
                    raise ParameterError("orders", o, f"a score of the scoring run, 'anti_<score>', or one of "
                                         f"{list(LOSS_FREE_ORDERS)}", hint=f"scores: {sorted(known)}")
        return self


def load_part(name: str, path: str | Path = "params/curriculum.yaml") -> Part:
    """The part ``name`` of the curriculum file (its ``defaults`` filled in)."""
    import yaml

    raw = yaml.safe_load(Path(path).read_text())
    parts = raw.get("parts", {})
    if name not in parts:
        raise ParameterError("part", name, f"one of {sorted(parts)}", hint=f"the parts of {path}")
    entry = {**raw.get("defaults", {}), **parts[name]}
    entry["parameters"] = {**raw.get("defaults", {}).get("parameters", {}), **parts[name].get("parameters", {})}
    known = {f for f in Part.__dataclass_fields__}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise ParameterError("part", unknown[0], f"a field of a part: {sorted(known - {'name'})}")
    return Part(name=name, **{k: v for k, v in entry.items() if k != "name"})


def _params(part: Part, seed: int, noise_rate: float, output_dir: Path):
    from nlpdiff.config import from_flat

    flat = {**part.parameters, "task": part.task, "backbone": part.backbone, "seed": seed,
            "noise_rate": noise_rate, "noise_type": part.noise_type, "output_dir": str(output_dir)}
    return from_flat(flat)


def _tag(x: float) -> str:
    return f"{x:g}"


def _hardware(info: dict) -> str:
    hw = info.get("hardware", {})
    what = hw.get("accelerator") or f"CPU {hw.get('cpu_count')} cores, {hw.get('torch_threads')} torch threads"
    return f"{what} ({hw.get('machine')})"


def aulc(fraction, metric) -> float:
    """Area under a held-out learning curve: the trapezoid mean of ``metric`` over the training fraction.

    ``fraction``: where each checkpoint falls in the run (step / total steps, increasing); the area is
    divided by the span from the first checkpoint to the last, so it is a mean metric in the metric's
    units (higher = learned sooner and better). One checkpoint: its value.
    """
    x, y = np.asarray(fraction, float), np.asarray(metric, float)
    if len(x) == 1:
        return float(y[0])
    return float(np.trapezoid(y, x) / (x[-1] - x[0]))


def _read_run(run_dir: Path) -> tuple[dict, dict]:
    return json.loads((run_dir / "run.json").read_text()), json.loads((run_dir / "metrics.json").read_text())


def _cell_info(part: Part, noise: float, budget: float, schedule: str, order: str, seed: int) -> dict:
    return {"part": part.name, "noise_rate": noise, "budget": budget, "schedule": schedule, "order": order,
            "seed": seed, "scoring_seed": part.scoring_seed, "c0": part.c0, "ramp": part.ramp,
            "n_buckets": part.n_buckets, "prune_fraction": part.prune_fraction}


def _reusable(run_dir: Path, params, cell: dict) -> bool:
    from nlpdiff.dynamics import finished_run

    marker = run_dir / "curriculum.json"
    return marker.exists() and json.loads(marker.read_text()) == cell and finished_run(params) is not None


def _order_for(order: str, scores: pd.DataFrame, lengths: np.ndarray, seed: int) -> np.ndarray:
    n = len(scores)
    if order == "random":
        return np.random.default_rng([seed, 2]).permutation(n).astype(np.int64)
    reverse = order.startswith("anti_")
    base = order[5:] if reverse else order
    difficulty = lengths if base == "length" else scores[base].to_numpy(float)
    return difficulty_order(difficulty, seed=seed, reverse=reverse)


def text_lengths(samples: pd.DataFrame, task: str) -> np.ndarray:
    """Whitespace words in every input field of each sample (a loss-free difficulty: longer = harder)."""
    from nlpdiff import tasks

    spec = tasks.get_task(task)
    return sum(samples[c].astype(str).str.split().str.len().to_numpy() for c in spec.text_fields).astype(float)


def run_part(part: Part, runs_root: str | Path = "runs/curriculum", results_root: str | Path = "results/curriculum",
             progress: bool = False, log: Callable[[str], None] = print) -> dict[str, pd.DataFrame]:
    """Train every run of ``part`` (reusing finished ones) and write its tables; return them.

    For each noise rate: the scoring run (``scoring_seed``, ordinary shuffled training at the full
    budget) gives the difficulty of every training sample; then for each budget, cell and seed, one
    run with the cell's sampler. The tables go to ``<results_root>/<part.name>/``; the held-out metric
    (``metric`` column) is a fraction in [0, 1] (accuracy, ROUGE-L, or SQuAD F1 / 100).
    """
    from nlpdiff import dynamics

    part.validate()
    runs_root, out = Path(runs_root) / part.name, Path(results_root) / part.name
    rows, curves, scoring_rows = [], [], []
    t_part = time.perf_counter()

    def write(complete: bool) -> dict[str, pd.DataFrame]:
        # after every (noise, budget) setting, so that a part stopped midway still has its finished settings
        tables = {"runs": pd.DataFrame(rows), "curves": pd.DataFrame(curves), "scoring": pd.DataFrame(scoring_rows)}
        out.mkdir(parents=True, exist_ok=True)
        for name, df in tables.items():
            df.to_csv(out / f"{name}.csv", index=False, float_format="%.6g")
        (out / "part.json").write_text(json.dumps({**asdict(part), "complete": complete, "n_runs": len(rows),
                                                    "wall_s": round(time.perf_counter() - t_part, 1)}, indent=1))
        return tables

    for noise in part.noise_rates:
        base = runs_root / f"noise{_tag(noise)}"
        sp = _params(part, part.scoring_seed, noise, base / "scoring")
        t = time.perf_counter()
        scoring = dynamics.load_or_train(sp, progress=progress)
        log(f"[{part.name}] noise {noise}: scoring run ({time.perf_counter() - t:.1f} s)")
        scores = scoring.scores.set_index("sample_id").sort_index() if "sample_id" in scoring.scores else scoring.scores
        part.validate(scores.columns)
        samples = scoring.samples.sort_values("sample_id").reset_index(drop=True)
        lengths = text_lengths(samples, part.task)
        n = len(samples)
        s_info, s_metrics = _read_run(Path(sp.output_dir))
        noisy = samples["is_corrupted"].to_numpy(bool) if "is_corrupted" in samples else np.zeros(n, bool)
        prune_order = _order_for(part.prune_by, scores, lengths, part.scoring_seed)
        n_drop = int(round(part.prune_fraction * n))
        keep = prune_order[:n - n_drop]
        scoring_rows.append({
            "part": part.name, "task": part.task, "backbone": part.backbone, "noise_rate": noise,
            "scoring_seed": part.scoring_seed, "n_train": n, "n_corrupted": int(noisy.sum()),
            "final_heldout": s_metrics["final"].get(s_metrics["metric"]), "metric": s_metrics["metric"],
            "train_s": s_info["wall_time_s"].get("train"), "total_s": s_info["wall_time_s"].get("total"),
            "pruned_corrupted_share": float(noisy[prune_order[n - n_drop:]].mean()) if n_drop else float("nan"),
            "hardware": _hardware(s_info),
        })
        for budget in part.budgets:
            for schedule, order in part.cells():
                for seed in part.seeds:
                    run_dir = base / f"budget{_tag(budget)}" / f"{schedule}-{order}" / f"seed{seed}"
                    params = _params(part, seed, noise, run_dir)
                    cell = _cell_info(part, noise, budget, schedule, order, seed)
                    if not _reusable(run_dir, params, cell):
                        positions = None if schedule in CONTROLS else _order_for(order, scores, lengths, seed)

                        def factory(n_run, schedule=schedule, positions=positions, seed=seed, budget=budget):
                            if n_run != n:
                                raise ParameterError("train_size", n_run, f"the {n} samples of the scoring run",
                                                     hint="the run's head kept other samples than the scoring run's")
                            return make_sampler(schedule, n, params.batch_size, seed, params.epochs, budget,
                                                order=positions, keep=keep, c0=part.c0, ramp=part.ramp,
                                                n_buckets=part.n_buckets)

                        t = time.perf_counter()
                        run = dynamics.train(params, progress=progress, sampler=factory)
                        same = run.samples.sort_values("sample_id")["row_idx"].to_numpy()
                        if not np.array_equal(same, samples["row_idx"].to_numpy()):
                            raise RuntimeError(f"{run_dir}: the run's samples differ from the scoring run's")
                        (run_dir / "curriculum.json").write_text(json.dumps(cell, indent=1))
                        # free the trained head now (it sits in reference cycles); a part stopped for any reason
                        # resumes where it stopped
                        del run
                        gc.collect()
                        log(f"[{part.name}] noise {noise} budget {budget} {schedule}/{order} seed {seed}: "
                            f"{time.perf_counter() - t:.1f} s")
                    info, metrics = _read_run(run_dir)
                    metric = metrics["metric"]
                    ck = pd.DataFrame(metrics["checkpoints"])
                    ck[metric] = ck[metric] / PERCENT_METRICS.get(metric, 1.0)  # every metric as a fraction
                    total = info["resolved"]["total_steps"]
                    ck["fraction"] = ck["step"] / total
                    key = {"part": part.name, "task": part.task, "backbone": part.backbone, "noise_rate": noise,
                           "noise_type": part.noise_type, "budget": budget, "schedule": schedule, "order": order,
                           "seed": seed}
                    rows.append({**key, "metric": metric, "final": float(ck[metric].iloc[-1]),
                                 "aulc": aulc(ck["fraction"], ck[metric]), "total_steps": total,
                                 "n_trained": info["resolved"].get("subset_size") or n,
                                 "train_s": info["wall_time_s"].get("train"), "total_s": info["wall_time_s"].get("total"),
                                 "hardware": _hardware(info)})
                    for r in ck.itertuples(index=False):
                        curves.append({**key, "checkpoint": r.checkpoint, "epoch": r.epoch, "step": r.step,
                                       "fraction": r.fraction, "heldout": getattr(r, metric)})
            write(False)
    tables = write(True)
    log(f"[{part.name}] {len(rows)} runs; tables in {out}")
    return tables


def load_results(results_root: str | Path = "results/curriculum", parts: Iterable[str] | None = None) -> dict:
    """The committed tables of every part (or of ``parts``) concatenated: ``runs``, ``curves``, ``scoring``, ``parts``."""
    root = Path(results_root)
    names = sorted(p.name for p in root.iterdir() if (p / "runs.csv").exists()) if parts is None else list(parts)
    out = {k: [] for k in ("runs", "curves", "scoring")}
    meta = []
    for name in names:
        for k in out:
            out[k].append(pd.read_csv(root / name / f"{k}.csv"))
        meta.append(json.loads((root / name / "part.json").read_text()))
    tables = {k: (pd.concat(v, ignore_index=True) if v else pd.DataFrame()) for k, v in out.items()}
    tables["parts"] = meta
    return tables


# --------------------------------------------------------------------------------------------- statistics

SETTING = ["part", "task", "backbone", "noise_rate", "budget"]


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Per setting and cell: seeds, mean final held-out metric and AULC with 95 % intervals over seeds, train seconds."""
    from nlpdiff.stats import seed_interval

    out = []
    for key, g in runs.groupby([*SETTING, "schedule", "order"], sort=False):
        row = dict(zip([*SETTING, "schedule", "order"], key))
        row["n_seeds"] = len(g)
        for m in ("final", "aulc"):
            row[m], row[f"{m}_low"], row[f"{m}_high"] = seed_interval(g[m].to_numpy())
        row["train_s"] = float(g["train_s"].mean())
        out.append(row)
    return pd.DataFrame(out)


def paired_tests(runs: pd.DataFrame, measures=("final", "aulc")) -> pd.DataFrame:
    """Each curriculum against its controls, over the same seeds (paired t test), Holm-adjusted across the table.

    Comparisons, per setting and measure: every paced cell whose order is not ``random`` against the
    same schedule with a random order (Wu et al.'s control) and against ``shuffled`` training; the
    ``prune`` control against ``shuffled``. ``p_holm`` adjusts every p of the returned table together.
    """
    from nlpdiff.stats import holm, paired_seed_test

    rows = []
    for key, g in runs.groupby(SETTING, sort=False):
        cells = {c: d.set_index("seed") for c, d in g.groupby(["schedule", "order"], sort=False)}
        pairs = []
        for (schedule, order) in cells:
            if schedule in SCHEDULES and order != "random":
                pairs += [((schedule, order), (schedule, "random"), "random order, same pacing"),
                          ((schedule, order), ("shuffled", "none"), "shuffled")]
            elif schedule == "prune":
                pairs.append(((schedule, order), ("shuffled", "none"), "shuffled"))
        for a, b, against in pairs:
            if b not in cells:
                continue
            seeds = sorted(set(cells[a].index) & set(cells[b].index))
            for m in measures:
                t = paired_seed_test(cells[a].loc[seeds, m].to_numpy(), cells[b].loc[seeds, m].to_numpy())
                rows.append({**dict(zip(SETTING, key)), "schedule": a[0], "order": a[1], "against": against,
                             "measure": m, **t})
    df = pd.DataFrame(rows)
    if len(df):
        df["p_holm"] = holm(df["p"].to_numpy(float))  # nan p stay nan and are not counted
    return df


def _chance(task: str) -> float:
    from nlpdiff import tasks

    n = tasks.get_task(task).num_labels
    return 1 / n if n else float("nan")


def settings_that_learn(runs: pd.DataFrame, scoring: pd.DataFrame, margin: float = 0.10) -> pd.DataFrame:
    """The settings (part, noise rate, budget) whose model learns: the part's scoring runs do
    (:func:`learned`) and so does the setting's own shuffled-training control (mean final held-out
    metric over seeds at least ``margin`` above chance). Returns one row per setting of ``runs``:
    the :data:`SETTING` columns, ``chance``, ``shuffled_final`` and ``learns``.
    """
    parts = learned(scoring, margin).set_index("part")["learns"]
    shuf = runs[runs["schedule"] == "shuffled"].groupby(SETTING, sort=False)["final"].mean()
    rows = []
    for key, _ in runs.groupby(SETTING, sort=False):
        s = dict(zip(SETTING, key))
        chance = _chance(s["task"])
        final = float(shuf.get(key, float("nan")))
        ok = bool(parts.get(s["part"], True)) and (not np.isfinite(chance) or final >= chance + margin)
        rows.append({**s, "chance": chance, "shuffled_final": final, "learns": ok})
    return pd.DataFrame(rows)


def learned(scoring: pd.DataFrame, margin: float = 0.10) -> pd.DataFrame:
    """Whether each part's model learns its task: the scoring runs' held-out accuracy against chance.

    ``scoring``: the scoring table of one or more parts. Chance is one over the task's number of
    classes. A part ``learns`` when every scoring run (each noise rate) is at least ``margin`` above
    chance; curricula of a model that does not learn say nothing about the order of the data.
    Returns one row per part: ``task``, ``backbone``, ``chance``, ``min_heldout`` and ``learns``.
    """
    rows = []
    for part, g in scoring.groupby("part", sort=False):
        chance = _chance(g["task"].iloc[0])
        low = float(g["final_heldout"].min())
        rows.append({"part": part, "task": g["task"].iloc[0], "backbone": g["backbone"].iloc[0], "chance": chance,
                     "min_heldout": low, "learns": bool(low >= chance + margin) if np.isfinite(chance) else True})
    return pd.DataFrame(rows)


def action_verdict(tests: pd.DataFrame, order: str = "action", measure: str = "final", alpha: float = 0.05) -> dict:
    """What the paired tests say of the curricula ordered by ``order``, on ``measure``.

    ``tests``: :func:`paired_tests` rows (any number of parts). Returns ``n`` (comparisons of a paced
    schedule with ``order`` against a control), ``better`` and ``worse`` (Holm p below ``alpha`` with a
    positive or negative mean difference), the rows of each, and ``verdict``: ``"helps"`` (some better,
    none worse), ``"hurts"`` (some worse, none better), ``"mixed"`` or ``"no difference"``.
    """
    rows = tests[(tests["order"] == order) & tests["schedule"].isin(SCHEDULES) & (tests["measure"] == measure)]
    sig = rows["p_holm"] < alpha
    better, worse = rows[sig & (rows["mean_diff"] > 0)], rows[sig & (rows["mean_diff"] < 0)]
    verdict = ("mixed" if len(better) and len(worse) else "helps" if len(better) else "hurts" if len(worse)
               else "no difference")
    return {"n": len(rows), "better": better, "worse": worse, "verdict": verdict, "rows": rows}


def curve_bands(curves: pd.DataFrame) -> pd.DataFrame:
    """Held-out learning curves: mean and 95 % interval over seeds at each checkpoint of each cell."""
    from nlpdiff.stats import seed_interval

    rows = []
    for key, g in curves.groupby([*SETTING, "schedule", "order", "checkpoint"], sort=False):
        mean, low, high = seed_interval(g["heldout"].to_numpy())
        rows.append({**dict(zip([*SETTING, "schedule", "order", "checkpoint"], key)),
                     "fraction": float(g["fraction"].mean()), "heldout": mean, "low": low, "high": high})
    return pd.DataFrame(rows)


def cell_label(schedule: str, order: str) -> str:
    """A cell's name in tables and charts: ``competence / action``, ``shuffled``, ``prune 10 % by action``."""
    if schedule == "shuffled":
        return "shuffled (ordinary training)"
    if schedule == "prune":
        return f"prune hardest by {order}"
    return f"{schedule} / {order}"


def setting_label(noise_rate: float, budget: float) -> str:
    """``clean, full budget``, ``20 % noise, 1/4 budget``."""
    noise = "clean" if noise_rate == 0 else f"{noise_rate:.0%} noise"
    return f"{noise}, " + ("full budget" if budget == 1 else f"{budget:g} of the steps")


def difference_chart(rows: pd.DataFrame, width: int = 250):
    """The answer as one chart: each paired comparison of a curriculum with its control (``rows``: the
    ``rows`` of :func:`action_verdict`), curriculum minus control in points of the final held-out
    metric with its 95 % interval over seeds, one panel per setting (two per row), coloured by control;
    the rule at 0 is no difference (Altair)."""
    import altair as alt

    d = rows.copy()
    d["comparison"] = [f"{cell_label(s, o)} vs {a}" for s, o, a in zip(d["schedule"], d["order"], d["against"])]
    d["setting"] = [setting_label(n, b) for n, b in zip(d["noise_rate"], d["budget"])]
    for c in ("mean_diff", "low", "high"):
        d[c] = 100 * d[c]
    d = d[["part", "setting", "comparison", "against", "mean_diff", "low", "high", "p_holm"]]
    y = alt.Y("comparison:N", title=None)
    zero = alt.Chart().mark_rule(color="#888").encode(x=alt.datum(0))
    rules = alt.Chart().mark_rule().encode(
        y=y, x=alt.X("low:Q", title="curriculum minus control, points (95 % interval)"), x2="high:Q",
        color=alt.Color("against:N", title="control", legend=alt.Legend(orient="bottom")))
    points = alt.Chart().mark_point(filled=True, size=50).encode(
        y=y, x="mean_diff:Q", color="against:N",
        tooltip=["part", "setting", "comparison", alt.Tooltip("mean_diff:Q", format="+.2f"),
                 alt.Tooltip("low:Q", format="+.2f"), alt.Tooltip("high:Q", format="+.2f"),
                 alt.Tooltip("p_holm:Q", format=".2g")])
    return alt.layer(zero, rules, points, data=d).properties(width=width, height=alt.Step(14)).facet(
        facet=alt.Facet("setting:N", title=None, sort=list(dict.fromkeys(d["setting"]))), columns=2)


def curve_chart(bands: pd.DataFrame, cells: Iterable[tuple[str, str]] | None = None, title: str | None = None):
    """Held-out learning curves (mean over seeds, 95 % band), one panel per setting, one colour per cell.

    ``bands``: :func:`curve_bands` of one part; ``cells``: the (schedule, order) pairs to draw (default all).
    """
    import altair as alt

    df = bands.copy()
    if cells is not None:
        keep = {tuple(c) for c in cells}
        df = df[[(s, o) in keep for s, o in zip(df["schedule"], df["order"])]]
    df["cell"] = [cell_label(s, o) for s, o in zip(df["schedule"], df["order"])]
    df["setting"] = [setting_label(n, b) for n, b in zip(df["noise_rate"], df["budget"])]
    df = df[["setting", "cell", "fraction", "heldout", "low", "high"]]
    base = alt.Chart().encode(x=alt.X("fraction:Q", title="fraction of the run's steps"),
                              color=alt.Color("cell:N", title=None))
    band = base.mark_area(opacity=0.15).encode(y=alt.Y("low:Q", title="held-out metric", scale=alt.Scale(zero=False)),
                                               y2="high:Q")
    line = base.mark_line(point=True).encode(
        y="heldout:Q", tooltip=["cell:N", alt.Tooltip("fraction:Q", format=".2f"),
                                alt.Tooltip("heldout:Q", format=".4f"), alt.Tooltip("low:Q", format=".4f"),
                                alt.Tooltip("high:Q", format=".4f")])
    chart = alt.layer(band, line, data=df).properties(width=240, height=170).facet(
        facet=alt.Facet("setting:N", title=None, sort=list(dict.fromkeys(df["setting"]))), columns=2)
    return chart.properties(title=title) if title else chart


# --------------------------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m nlpdiff_study.curriculum",
                                     description="Train one part of the curriculum grid and write its tables.")
    parser.add_argument("part", help="a part of the curriculum file (e.g. sst2_probe)")
    parser.add_argument("--params", default="params/curriculum.yaml")
    parser.add_argument("--runs-root", default="runs/curriculum")
    parser.add_argument("--results-root", default="results/curriculum")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    run_part(load_part(args.part, args.params), args.runs_root, args.results_root, progress=args.progress,
             log=lambda line: print(line, flush=True))


__all__ = [
    "BucketSampler", "CompetenceSampler", "PacedSampler", "Part", "aulc", "budget_steps", "cell_label", "competence",
    "curve_bands", "curve_chart", "setting_label", "difficulty_order", "load_part", "load_results", "make_sampler", "paired_tests", "run_part",
    "split_steps", "summarize", "text_lengths",
]

if __name__ == "__main__":
    main()
