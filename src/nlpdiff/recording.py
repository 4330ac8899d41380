"""What a run records, as handlers of the training loop (:mod:`nlpdiff.engine`).

Per training sample and checkpoint, the statistics every difficulty score needs:

* ``pass == "eval"`` (:class:`EvalPass`): a separate forward pass over the whole training set in
  eval mode (dropout off, weights frozen) at the checkpoint, as in the action-score code of
  Arriaga et al. (2023);
* ``pass == "train"`` (:class:`TrainPass`): the same statistics taken from the sample's own
  training forward pass (dropout on, weights moving within the epoch), as dataset cartography logs
  them (Swayamdipta et al. 2020). For these rows ``step`` is the optimiser step at which the sample
  was trained and ``checkpoint`` is the checkpoint that closes the epoch in which it was trained.

Statistics: ``loss``, ``gold_prob``, ``correct``, ``margin``, ``entropy`` and the head's extras.
:class:`VogPass` accumulates, online (Welford), the mean and variance over checkpoints of every
element of the gradient of the gold output with respect to the input word embeddings (token
position x embedding dimension): each sample's un-normalised VoG is the mean over those elements of
their standard deviation over checkpoints (Agarwal et al. 2022).
:class:`HeldoutEvaluation` measures held-out quality at each checkpoint. All of them fill a
:class:`Recorder` (preallocated arrays) or the checkpoint's metrics row; the run writer
(:class:`nlpdiff.rundir.RunWriter`) turns them into files.
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import pandas as pd

from nlpdiff.engine import Handler, State, padding_pieces, progress_bar
from nlpdiff.errors import ParameterError
from nlpdiff.schema import CLASSIFICATION_STATS

#: Statistics of classification runs (other heads record BASE_STATS and their own extras): :mod:`nlpdiff.schema`.
STAT_COLUMNS = CLASSIFICATION_STATS


class Recorder:
    """Preallocated arrays of every statistic: eval pass (checkpoints x samples), train pass
    (epochs x samples); the train rows' checkpoint is the one that closes their epoch.

    :meth:`add_checkpoint` grows the eval arrays when a recorder made for an unknown number of
    checkpoints (``n_checkpoints=0``, as in :class:`nlpdiff.callback.DynamicsCallback`) needs more.
    """

    def __init__(self, n_samples: int, n_checkpoints: int, n_epochs: int, columns: tuple[str, ...]):
        self.n = n_samples
        self.columns = columns
        self.eval = {c: np.full((n_checkpoints, n_samples), np.nan, dtype=np.float32) for c in columns}
        self.train = {c: np.full((n_epochs, n_samples), np.nan, dtype=np.float32) for c in columns}
        self.train_step = np.full((n_epochs, n_samples), -1, dtype=np.int64)
        self.checkpoint_step = np.zeros(n_checkpoints, dtype=np.int64)
        self.checkpoint_epoch = np.zeros(n_checkpoints, dtype=np.float64)
        self.epoch_checkpoint = np.zeros(n_epochs, dtype=np.int64)
        self.n_recorded = 0

    def add_checkpoint(self, k: int, step: int, epoch: float, stats: dict[str, np.ndarray]) -> None:
        """Store the eval-pass statistics of checkpoint ``k`` (growing the arrays if needed)."""
        if k >= len(self.checkpoint_step):
            grow = max(k + 1, 2 * len(self.checkpoint_step))
            for c in self.columns:
                extra = np.full((grow - self.eval[c].shape[0], self.n), np.nan, dtype=np.float32)
                self.eval[c] = np.concatenate([self.eval[c], extra])
            self.checkpoint_step = np.concatenate([self.checkpoint_step,
                                                   np.zeros(grow - len(self.checkpoint_step), np.int64)])
            self.checkpoint_epoch = np.concatenate([self.checkpoint_epoch,
                                                    np.zeros(grow - len(self.checkpoint_epoch), np.float64)])
        for c in self.columns:
            self.eval[c][k] = stats[c]
        self.checkpoint_step[k] = step
        self.checkpoint_epoch[k] = epoch
        self.n_recorded = max(self.n_recorded, k + 1)

    def frame(self) -> pd.DataFrame:
        """The long-format dynamics table of the run-directory contract."""
        ids = np.arange(self.n, dtype=np.int64)
        parts = []
        for pass_name, stats in (("eval", self.eval), ("train", self.train)):
            t_idx, s_idx = np.nonzero(np.isfinite(stats["loss"]))
            if pass_name == "eval":
                checkpoint = t_idx
                steps = self.checkpoint_step[t_idx]
            else:
                checkpoint = self.epoch_checkpoint[t_idx]
                steps = self.train_step[t_idx, s_idx]
            part = pd.DataFrame({
                "sample_id": ids[s_idx],
                "checkpoint": checkpoint.astype(np.int64),
                "epoch": self.checkpoint_epoch[checkpoint],
                "step": steps,
                "pass": pass_name,
            })
            for c in self.columns:
                part[c] = stats[c][t_idx, s_idx]
            parts.append(part)
        frame = pd.concat(parts, ignore_index=True)
        if set(np.unique(frame["correct"])) <= {0.0, 1.0}:
            frame["correct"] = frame["correct"].astype(bool)
        return frame.sort_values(["pass", "checkpoint", "sample_id"], kind="stable", ignore_index=True)


class VogAccumulator:
    """Welford mean and variance over checkpoints of every element of each sample's input gradient.

    VoG as Agarwal et al. (CVPR 2022) define it: the gradient ``S_t`` of the gold output with
    respect to the input (here each input word embedding, ``(tokens, D)`` per sample) is taken at
    every checkpoint t; each *element* (token position, embedding dimension) gets its own
    population variance over the checkpoints; ``VoG(x)`` is the mean over the elements of the
    square root of that variance (mean over the D dimensions of each token, then over the sample's
    real tokens).

    No gradient is reduced before the variance: the mean over the embedding dimension that an
    earlier version took first is exactly zero (up to float rounding) for a model whose embedding
    sum goes through a LayerNorm (BERT, MiniLM), because a LayerNorm's output does not change when
    a constant is added to its input, so every gradient through it sums to zero over the dimension.

    Memory: two float32 arrays of ``sum(lengths) x D`` (each sample's real tokens stored back to
    back, allocated at the first :meth:`update`, when D is known) and the count; it does not grow
    with the number of checkpoints and never holds a raw gradient of an earlier checkpoint
    (:attr:`nbytes` says how much it holds). ``lengths[i]`` is the room for sample i's tokens
    (:meth:`nlpdiff.models.base.Head.lengths`): a gradient with more real tokens raises.
    """

    def __init__(self, lengths: np.ndarray):
        lengths = np.asarray(lengths, dtype=np.int64)
        if lengths.ndim != 1 or (lengths.size and lengths.min() < 0):
            raise ParameterError("lengths", f"array of shape {lengths.shape}", "non-negative token counts, one per sample")
        self.count = 0
        self.lengths = lengths
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self.n_tokens = np.zeros(len(lengths), dtype=np.int64)
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        return len(self.lengths)

    @property
    def nbytes(self) -> int:
        """Bytes held by the running statistics (0 before the first update)."""
        return 0 if self.mean is None else int(self.mean.nbytes + self.m2.nbytes)

    def describe(self) -> dict:
        """What the accumulator costs, for ``run.json``."""
        return {"reduction": "per element (token x embedding dimension), Welford over checkpoints",
                "elements": 0 if self.mean is None else int(self.mean.size),
                "embedding_dim": 0 if self.mean is None else int(self.mean.shape[1]),
                "bytes_held": self.nbytes, "checkpoints": int(self.count)}

    def update(self, idx: np.ndarray, grads: np.ndarray, mask: np.ndarray, count: int) -> None:
        """Add checkpoint number ``count`` (1-based) for samples ``idx``: ``grads`` (B, L, D), ``mask`` (B, L).

        The real tokens of row r are ``grads[r][mask[r]]``, in order; padding never enters.
        """
        idx = np.asarray(idx, dtype=np.int64)
        grads = np.asarray(grads)
        mask = np.asarray(mask, dtype=bool)
        if grads.ndim != 3 or mask.shape != grads.shape[:2] or len(idx) != grads.shape[0]:
            raise ParameterError("grads", f"array of shape {grads.shape} with mask {mask.shape}",
                                 "gradients (B, L, D) with a mask (B, L) for the B samples of idx")
        if self.mean is None:
            total = int(self.offsets[-1])
            self.mean = np.zeros((total, grads.shape[2]), dtype=np.float32)
            self.m2 = np.zeros((total, grads.shape[2]), dtype=np.float32)
        elif grads.shape[2] != self.mean.shape[1]:
            raise ParameterError("grads", f"embedding dimension {grads.shape[2]}", f"{self.mean.shape[1]} as before")
        counts = mask.sum(axis=1)
        over = counts > self.lengths[idx]
        if over.any():
            r = int(np.flatnonzero(over)[0])
            raise ParameterError("mask", f"{int(counts[r])} real tokens for sample {int(idx[r])}",
                                 f"at most its length {int(self.lengths[idx[r]])}")
        real = grads[mask].astype(np.float32, copy=False)  # (sum(counts), D), row by row, in token order
        firsts = np.cumsum(counts) - counts
        within = np.arange(len(real)) - np.repeat(firsts, counts)
        rows = np.repeat(self.offsets[idx], counts) + within
        mean = self.mean[rows]
        delta = real - mean
        mean += delta / count
        self.m2[rows] += delta * (real - mean)
        self.mean[rows] = mean
        self.n_tokens[idx] = counts

    def vog(self, block: int = 1 << 16) -> np.ndarray:
        """``VoG(x)`` = mean over the sample's real tokens of the mean over D of sqrt(population variance)."""
        if self.count < 2:
            raise ParameterError("vog", True, "at least 2 checkpoints to measure a variance over them")
        total = int(self.offsets[-1])
        owner = np.repeat(np.arange(self.n_samples), self.lengths)
        within = np.arange(total) - self.offsets[owner]
        per_token = np.zeros(total, dtype=np.float64)
        if self.m2 is not None:
            for start in range(0, total, block):  # bounded temporaries
                m2 = self.m2[start:start + block].astype(np.float64)
                per_token[start:start + block] = np.sqrt(np.maximum(m2 / self.count, 0.0)).mean(axis=1)
        real = within < self.n_tokens[owner]
        sums = np.bincount(owner, weights=per_token * real, minlength=self.n_samples)
        return sums / np.maximum(self.n_tokens, 1)


def length_batches(lengths: np.ndarray, batch_size: int, trim: bool = False) -> list[np.ndarray]:
    """Positions sorted by length (stable), cut into batches: the recording passes' order.

    ``trim``: each batch is further cut where its padding costs more than another forward call
    (:func:`nlpdiff.engine.padding_pieces` with :data:`EVAL_PIECE_OVERHEAD_TOKENS`), so that the longest
    sentences do not pad the batch of shorter ones they were sorted with. In eval mode a sample's
    statistics do not depend on its batch-mates (up to float rounding)."""
    order = np.argsort(lengths, kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if not trim:
        return batches
    pieces = padding_pieces(lengths, EVAL_PIECE_OVERHEAD_TOKENS)
    return [batch[np.sort(rows)] for batch in batches for rows in pieces(batch)]


#: the fixed cost of one more forward call without gradient, in padded tokens (packaged MiniLM, one CPU
#: thread: about 12 ms a call against 0.35 ms a token)
EVAL_PIECE_OVERHEAD_TOKENS = 32


def eval_pass(batches: Iterable[np.ndarray], forward: Callable, n: int, columns: tuple[str, ...],
              desc: str = "record", progress: bool = False) -> dict[str, np.ndarray]:
    """Statistics of every sample from ``forward(idx) -> (losses, stats)`` over ``batches``, without gradient.

    The caller puts the model in eval mode. The pass runs under ``torch.inference_mode`` (no autograd
    bookkeeping at all; its outputs leave as numpy arrays, so no inference tensor reaches training). A
    non-finite loss raises :class:`FloatingPointError` naming the first such sample.
    """
    import torch

    stats = {c: np.full(n, np.nan, dtype=np.float32) for c in columns}
    with torch.inference_mode():
        for idx in progress_bar(batches, desc=desc, disable=not progress, leave=False):
            _, s = forward(idx)
            for c in columns:
                stats[c][idx] = s[c]
    bad = ~np.isfinite(stats["loss"])
    if bad.any():
        raise FloatingPointError(f"non-finite loss in the recording pass ({desc}) for sample_id "
                                 f"{int(np.flatnonzero(bad)[0])}")
    return stats


class TrainPass(Handler):
    """Keeps each trained sample's statistics from its own training forward pass (``pass == "train"``)."""

    def __init__(self, recorder: Recorder):
        self.recorder = recorder

    def on_batch_end(self, state: State) -> None:
        for c in self.recorder.columns:
            self.recorder.train[c][state.epoch, state.batch] = state.batch_stats[c]
        self.recorder.train_step[state.epoch, state.batch] = state.step

    def on_epoch_end(self, state: State) -> None:
        self.recorder.epoch_checkpoint[state.epoch] = state.checkpoint - 1


class EvalPass(Handler):
    """At each checkpoint, a forward pass over every training sample in eval mode (``pass == "eval"``).

    Samples are batched by length (``lengths``) in batches of ``batch_size``, cut further where padding
    costs more than a call when ``trim`` (:func:`length_batches`; ``TrainParams.trim_padding``). Adds the
    mean loss and accuracy on the training set to the checkpoint's metrics row (``train_loss``,
    ``train_correct``).
    """

    timing_key = "eval_pass"

    def __init__(self, recorder: Recorder, lengths: np.ndarray, batch_size: int, trim: bool = False):
        self.recorder = recorder
        self.batches = length_batches(lengths, batch_size, trim=trim)

    def on_checkpoint(self, state: State) -> None:
        model = state.head.model
        model.eval()
        try:
            stats = eval_pass(self.batches, lambda idx: state.forward(idx, False), self.recorder.n,
                              self.recorder.columns, desc=f"record checkpoint {state.checkpoint}",
                              progress=state.progress)
        finally:
            model.train()
        self.recorder.add_checkpoint(state.checkpoint, state.step, state.checkpoint_epoch, stats)
        state.checkpoint_row.update(train_loss=float(np.mean(stats["loss"])),
                                    train_correct=float(np.mean(stats["correct"])))


class VogPass(Handler):
    """At each checkpoint, the gradient of the gold output with respect to the input embeddings (VoG).

    Every element of the gradient (token position x embedding dimension) goes into the
    :class:`VogAccumulator`; the time spent is ``run.json``'s ``wall_time_s.vog`` and the memory
    held ``resolved.vog.bytes_held``.
    """

    timing_key = "vog"

    def __init__(self, lengths: np.ndarray, batch_size: int):
        self.accumulator = VogAccumulator(lengths)
        self.batches = length_batches(lengths, batch_size)

    def on_fit_start(self, state: State) -> None:
        if state.n_checkpoints < 2:
            raise ParameterError("vog", True, "False, or a run with at least 2 checkpoints",
                                 hint=f"this run has {state.n_checkpoints}")

    def on_checkpoint(self, state: State) -> None:
        import torch

        head, vog = state.head, self.accumulator
        head.model.eval()
        vog.count += 1
        for idx in progress_bar(self.batches, desc=f"VoG checkpoint {state.checkpoint}",
                                disable=not state.progress, leave=False):
            gold, embeds, mask = head.gold_output(idx)
            (grad,) = torch.autograd.grad(gold.float().sum(), embeds)
            vog.update(idx, grad.float().cpu().numpy(), mask.bool().cpu().numpy(), vog.count)
        head.model.zero_grad(set_to_none=True)
        head.model.train()


class HeldoutEvaluation(Handler):
    """At each checkpoint, the head's held-out quality (``heldout_<metric>`` in the metrics row).

    When the head says ``evaluate_before_training``, also once before the first step, into
    ``state.heldout_before`` (the run writer puts it in ``metrics.json`` as ``before_training``).
    """

    timing_key = "heldout"

    @staticmethod
    def _evaluate(state: State, point: str) -> dict[str, float]:
        import torch

        state.head.model.eval()
        with torch.no_grad():
            quality = state.head.evaluate(point=point)
        state.head.model.train()
        return {f"heldout_{k}": v for k, v in quality.items()}

    def on_fit_start(self, state: State) -> None:
        if getattr(state.head, "evaluate_before_training", False):
            state.heldout_before = self._evaluate(state, "before")

    def on_checkpoint(self, state: State) -> None:
        last = state.checkpoint == state.n_checkpoints - 1
        state.checkpoint_row.update(self._evaluate(state, "last" if last else "checkpoint"))


class MetricsRows(Handler):
    """Collects each checkpoint's metrics row (after the handlers that fill it)."""

    def __init__(self):
        self.rows: list[dict] = []

    def on_checkpoint(self, state: State) -> None:
        self.rows.append(dict(state.checkpoint_row))


__all__ = [
    "EvalPass", "HeldoutEvaluation", "MetricsRows", "Recorder", "STAT_COLUMNS", "TrainPass", "VogAccumulator",
    "VogPass", "eval_pass", "length_batches",
]
