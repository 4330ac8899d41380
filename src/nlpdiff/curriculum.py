"""Curriculum samplers: train on an order of the samples, easy first, paced over the run.

Samplers of the engine's :class:`~nlpdiff.samplers.Sampler` protocol (pass one to
:func:`nlpdiff.dynamics.train` as ``sampler=``) that pace training over an *order* of the training
positions (easy to hard):

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

Orders (:func:`difficulty_order`): positions sorted by a difficulty score (higher = harder), from a
*separate* scoring run (another seed; a run should not order its data by its own dynamics), easy first,
or reversed (anti-curriculum). :func:`make_sampler` builds the sampler of a schedule name
(:data:`SCHEDULES`) or of a control (:data:`CONTROLS`). The study's curriculum grid
(``nlpdiff_study.curriculum``) is built on these.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from nlpdiff.errors import ParameterError
from nlpdiff.samplers import ShuffledSampler, SubsetSampler

SCHEDULES = ("competence", "baby_steps", "annealing")
CONTROLS = ("shuffled", "prune")


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
