"""What the training loop trains on at each step: one replaceable *sampler* object.

A sampler decides the order, the subset and the pacing of the training samples. The loop
(:func:`nlpdiff.engine.fit`) asks it, for each epoch, how many batches there will be and then for
the batches themselves; it never shuffles or subsets on its own.

The protocol (:class:`Sampler`) has two methods:

* ``num_batches(epoch) -> int``: how many optimiser steps epoch ``epoch`` (0-based) has. The loop
  asks for every epoch before training, to size the learning-rate schedule and the recording
  arrays and to place the checkpoints (``checkpoints_per_epoch`` cut points spread over *that*
  epoch's batches, so a sampler whose epochs have different lengths still gets its checkpoints);
* ``batches(epoch) -> iterable of int arrays``: the batches of epoch ``epoch``, each an array of
  sample *positions* (0 .. n-1 into the training samples), exactly ``num_batches(epoch)`` of them.
  A sample may appear in no batch of an epoch (a subset, or a curriculum that has not reached
  it yet); its training-pass row for that epoch is then absent. The eval pass still records every
  sample at every checkpoint, so the eval-pass scores are unaffected; the training-pass scores
  (``action_train`` and the like) need one row per sample and epoch and are skipped, with the
  reason in ``run.json`` (``resolved.skipped_scores``), when a sample misses an epoch it was not
  left out of entirely.

Samplers here:

* :class:`ShuffledSampler`: every sample once per epoch, in a fresh random order drawn from its
  own generator seeded with the run's ``seed`` (the study's default);
* :class:`SubsetSampler`: a fixed subset of positions, shuffled the same way (the K folds of
  confident learning, data cleaning);
* :class:`LengthGroupedSampler`: the shuffled order cut into mega-batches whose samples are sorted by
  length before they are cut into batches (``TrainParams.length_grouped``; as ``transformers``'
  ``group_by_length``): far less padding per batch, so faster steps, at the price of batches of
  similar lengths.

A curriculum schedule is a sampler too: order the positions by a difficulty score and yield, at
epoch ``e``, batches drawn from the easiest fraction ``pace(e)`` (its ``num_batches`` then grows
with ``e``).
"""

from __future__ import annotations

import math
from typing import Iterable, Protocol, runtime_checkable

import numpy as np

from nlpdiff.errors import ParameterError


@runtime_checkable
class Sampler(Protocol):
    """The sampler protocol (see the module docstring)."""

    def num_batches(self, epoch: int) -> int:
        """Number of batches (optimiser steps) in epoch ``epoch``."""

    def batches(self, epoch: int) -> Iterable[np.ndarray]:
        """The batches of epoch ``epoch``: arrays of sample positions."""


class ShuffledSampler:
    """Every sample once per epoch, reshuffled each epoch, in batches of ``batch_size``.

    The order of epoch ``e`` is the ``e``-th ``torch.randperm(n)`` of one generator seeded with
    ``seed`` (so epochs must be asked for in order, as the loop does); the last batch of an epoch
    may be smaller.
    """

    def __init__(self, n: int, batch_size: int, seed: int):
        if n < 1:
            raise ParameterError("train_size", n, "at least one training sample")
        self.n, self.batch_size, self.seed = int(n), int(batch_size), int(seed)
        self._generator = None
        self._next_epoch = 0

    def positions(self) -> np.ndarray:
        """The positions this sampler draws from."""
        return np.arange(self.n)

    def num_batches(self, epoch: int) -> int:
        return math.ceil(len(self.positions()) / self.batch_size)

    def _order(self, epoch: int) -> np.ndarray:
        import torch

        if self._generator is None:
            self._generator = torch.Generator().manual_seed(self.seed)
        if epoch != self._next_epoch:
            raise ValueError(f"{type(self).__name__}: epoch {epoch} asked for, expected epoch {self._next_epoch}")
        self._next_epoch += 1
        positions = self.positions()
        return positions[torch.randperm(len(positions), generator=self._generator).numpy()]

    def batches(self, epoch: int) -> list[np.ndarray]:
        order = self._order(epoch)
        return [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]


class SubsetSampler(ShuffledSampler):
    """Only the samples at ``positions`` (each once per epoch), shuffled each epoch as :class:`ShuffledSampler`."""

    def __init__(self, n: int, positions, batch_size: int, seed: int):
        positions = np.asarray(positions, dtype=np.int64)
        if positions.ndim != 1 or len(positions) == 0 or positions.min() < 0 or positions.max() >= n:
            raise ParameterError("subset", f"{len(positions)} positions", f"distinct positions in [0, {n})")
        if len(np.unique(positions)) != len(positions):
            raise ParameterError("subset", "repeated positions", "distinct positions")
        super().__init__(n, batch_size, seed)
        self._positions = positions

    def positions(self) -> np.ndarray:
        return self._positions


class LengthGroupedSampler(ShuffledSampler):
    """Every sample once per epoch in batches of similar length: the epoch's shuffled order (as
    :class:`ShuffledSampler`) cut into mega-batches of ``megabatch`` batches, each sorted by ``lengths``
    (longest first, stable) and cut into batches; the batches then go in a random order of their own
    (same generator), so long and short batches alternate over the epoch."""

    def __init__(self, lengths, batch_size: int, seed: int, megabatch: int = 50):
        lengths = np.asarray(lengths)
        super().__init__(len(lengths), batch_size, seed)
        if not isinstance(megabatch, (int, np.integer)) or megabatch < 1:
            raise ParameterError("megabatch", megabatch, "an integer >= 1 (batches per mega-batch)")
        self.lengths, self.megabatch = lengths, int(megabatch)

    def batches(self, epoch: int) -> list[np.ndarray]:
        import torch

        order = self._order(epoch)
        size = self.megabatch * self.batch_size
        out = []
        for i in range(0, len(order), size):
            mega = order[i:i + size]
            mega = mega[np.argsort(-self.lengths[mega], kind="stable")]
            out.extend(mega[j:j + self.batch_size] for j in range(0, len(mega), self.batch_size))
        return [out[k] for k in torch.randperm(len(out), generator=self._generator).numpy()]


def checkpoint_cuts(num_batches: int, per_epoch: int) -> list[int]:
    """The batch numbers (1-based) of an epoch after which a checkpoint is recorded.

    ``per_epoch`` cut points spread evenly over the epoch's ``num_batches``; the last batch is
    always one. With fewer batches than ``per_epoch``, fewer (distinct) checkpoints.
    """
    return sorted({max(1, round(num_batches * (i + 1) / per_epoch)) for i in range(per_epoch)})


__all__ = ["LengthGroupedSampler", "Sampler", "ShuffledSampler", "SubsetSampler", "checkpoint_cuts"]
