"""The training loop, and the events it fires to handlers.

:func:`fit` owns the loop: for each epoch it asks the sampler (:mod:`nlpdiff.samplers`) for the
batches, takes one optimiser step per batch and, at the checkpoints, tells the handlers. It knows
nothing about recording, VoG, held-out evaluation or files: those are *handlers*, objects with
some of the methods below, which see the loop's :class:`State` and never drive the loop (as
``transformers.TrainerCallback`` sees ``TrainerState``).

Events, in order:

=====================  ============================================================================
``on_fit_start``       before the first step (``state.plan`` holds every epoch's batch count)
``on_epoch_start``     before the first batch of ``state.epoch``
``on_batch_end``       after each optimiser step; ``state.batch`` = the batch's sample positions,
                       ``state.batch_stats`` = the statistics of its training forward pass
``on_checkpoint``      at each checkpoint (``state.checkpoint``, ``state.checkpoint_epoch``); the
                       handlers add their numbers to ``state.checkpoint_row`` (one row of
                       ``metrics.json``)
``on_epoch_end``       after the last batch of ``state.epoch``
``on_fit_end``         after the last epoch
=====================  ============================================================================

Handlers are called in the order given, so a handler that reads what another one wrote (the run
writer reads the recorder) comes after it. Each handler's time is added to
``state.timings[handler.timing_key]`` when it has that attribute.

The checkpoint schedule: ``checkpoints_per_epoch`` cut points spread over each epoch's batches
(:func:`nlpdiff.samplers.checkpoint_cuts`), computed per epoch from the sampler's own count.

Trimmed padding (``State.pieces``, :func:`padding_pieces`): a head that pads a batch to its longest
sample may compute a training batch in *pieces* of samples of similar length, each padded only to
its own longest sample. The batch, its order, the mean loss over its samples and the one optimiser
step are those of the whole batch (the gradient is the same sum, up to float rounding); only the
dropout masks are drawn piece by piece, so a run differs from the padded one as a rerun with other
dropout draws would.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from nlpdiff.samplers import checkpoint_cuts

EVENTS = ("on_fit_start", "on_epoch_start", "on_batch_end", "on_checkpoint", "on_epoch_end", "on_fit_end")


class Handler:
    """Base class of the loop's handlers: every event method does nothing. Override the ones you need.

    ``timing_key``: the ``run.json`` wall-time entry this handler's time goes to (None: not timed).
    """

    timing_key: str | None = None

    def on_fit_start(self, state: "State") -> None: ...
    def on_epoch_start(self, state: "State") -> None: ...
    def on_batch_end(self, state: "State") -> None: ...
    def on_checkpoint(self, state: "State") -> None: ...
    def on_epoch_end(self, state: "State") -> None: ...
    def on_fit_end(self, state: "State") -> None: ...


@dataclass
class State:
    """What the handlers see of the loop (they may read everything and write ``checkpoint_row``).

    ``plan``: number of batches of each epoch; ``cuts``: each epoch's checkpoint batch numbers
    (1-based); ``n_checkpoints``: their total. ``step`` counts optimiser steps (1 after the first),
    ``checkpoint`` the checkpoints recorded so far (the current one's index during
    ``on_checkpoint``).
    """

    head: Any
    n_samples: int
    epochs: int
    plan: list[int]
    cuts: list[list[int]]
    device: Any = None
    autocast: bool = False
    progress: bool = True
    epoch: int = 0
    batch_number: int = 0
    step: int = 0
    checkpoint: int = 0
    checkpoint_epoch: float = 0.0
    batch: np.ndarray | None = None
    batch_stats: dict[str, np.ndarray] | None = None
    loss: float | None = None
    checkpoint_row: dict[str, Any] = field(default_factory=dict)
    heldout_before: dict[str, float] | None = None  # held-out quality before the first step, if evaluated
    timings: dict[str, float] = field(default_factory=dict)
    #: None, or a function of a training batch's positions that returns its pieces, as arrays of rows of the
    #: batch (:func:`padding_pieces`)
    pieces: Callable[[np.ndarray], list[np.ndarray]] | None = None

    @property
    def n_checkpoints(self) -> int:
        return sum(len(c) for c in self.cuts)

    @property
    def total_steps(self) -> int:
        return sum(self.plan)

    def forward(self, idx, train_mode: bool):
        """The head's forward pass on sample positions ``idx`` (under bf16 autocast on CUDA when enabled).

        In train mode with :attr:`pieces` set, the batch is computed piece by piece and the per-sample
        losses and statistics are put back in the order of ``idx``."""
        if train_mode and self.pieces is not None:
            idx = np.asarray(idx)
            rows = self.pieces(idx)
            if len(rows) > 1:
                return _joined([self._forward(idx[r], train_mode) for r in rows], np.concatenate(rows))
        return self._forward(idx, train_mode)

    def _forward(self, idx, train_mode: bool):
        if self.autocast:
            import torch

            with torch.autocast("cuda", dtype=torch.bfloat16):
                return self.head.forward(idx, train_mode)
        return self.head.forward(idx, train_mode)


def _joined(outputs, rows: np.ndarray) -> tuple[Any, dict[str, np.ndarray]]:
    """The pieces' ``(losses, stats)`` joined and put back in batch order (``rows``: the pieces' rows, joined)."""
    import torch

    back = np.argsort(rows, kind="stable")
    losses = torch.cat([o[0] for o in outputs])[torch.from_numpy(back).to(outputs[0][0].device)]
    stats = {key: np.concatenate([o[1][key] for o in outputs])[back] for key in outputs[0][1]}
    return losses, stats


#: the fixed cost of one more forward and backward call, in padded tokens (measured on a CPU with the
#: packaged MiniLM, one thread: about 75 ms a call against 1.1 ms a token, mostly the embedding matrix's
#: gradient; a larger model costs more per token, so fewer tokens per call)
PIECE_OVERHEAD_TOKENS = 64


def padding_pieces(lengths, overhead_tokens: int = PIECE_OVERHEAD_TOKENS) -> Callable[[np.ndarray], list[np.ndarray]]:
    """A function that cuts a batch into pieces of similar length, for :attr:`State.pieces`.

    ``lengths[i]``: the tokens of sample ``i``. The function takes a batch (sample positions) and
    returns its pieces as arrays of *rows* of the batch (every row in exactly one piece). The batch
    is sorted by length and cut where the cost ``sum over pieces of (overhead_tokens + rows x longest
    length)`` is smallest (an exact dynamic programme over the cut points): a batch of equal lengths
    stays whole, a batch of short sentences and one long one is cut in two.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if not np.isfinite(overhead_tokens) or overhead_tokens < 0:
        raise ValueError(f"overhead_tokens={overhead_tokens} is not allowed: expected a number >= 0")

    def pieces(idx: np.ndarray) -> list[np.ndarray]:
        batch_lengths = lengths[np.asarray(idx, dtype=np.int64)]
        rows = np.argsort(batch_lengths, kind="stable")
        n = len(rows)
        if n < 2:
            return [rows]
        ln = batch_lengths[rows]
        best = np.zeros(n + 1)
        cut = np.zeros(n + 1, dtype=np.int64)
        for j in range(1, n + 1):  # best[j]: the cheapest cutting of the j shortest; the last piece is [i, j)
            costs = best[:j] + overhead_tokens + (j - np.arange(j)) * ln[j - 1]
            cut[j] = int(np.argmin(costs))
            best[j] = costs[cut[j]]
        bounds, j = [], n
        while j > 0:
            bounds.append((int(cut[j]), j))
            j = int(cut[j])
        return [rows[a:b] for a, b in reversed(bounds)]

    return pieces


def plan_state(head, sampler, epochs: int, checkpoints_per_epoch: int, n_samples: int, **kwargs) -> State:
    """A fresh :class:`State`: each epoch's batch count asked from the sampler, and the checkpoint cut points."""
    plan = [int(sampler.num_batches(e)) for e in range(epochs)]
    cuts = [checkpoint_cuts(b, checkpoints_per_epoch) if b else [] for b in plan]
    return State(head=head, n_samples=n_samples, epochs=epochs, plan=plan, cuts=cuts, **kwargs)


def fire(handlers, event: str, state: State) -> None:
    """Call each handler's ``event`` method (one of :data:`EVENTS`) with ``state``, in order; a handler's
    time goes to ``state.timings[handler.timing_key]`` when it has one. The loop's only dispatcher:
    :func:`fit` and adapters of other loops (:class:`nlpdiff.callback.DynamicsCallback`) call it."""
    if event not in EVENTS:
        raise ValueError(f"event={event!r} is not allowed: expected one of {EVENTS}")
    for h in handlers:
        method = getattr(h, event, None)
        if method is None:
            continue
        key = getattr(h, "timing_key", None)
        if key is None:
            method(state)
        else:
            t = time.perf_counter()
            method(state)
            state.timings[key] = state.timings.get(key, 0.0) + time.perf_counter() - t


def checkpoint(state: State, handlers, epoch: float) -> dict[str, Any]:
    """A checkpoint at ``state.step``, ``epoch`` epochs into training: the row of ``metrics.json`` it
    starts (``checkpoint``, ``epoch``, ``step``; the handlers add their numbers to it), the handlers'
    ``on_checkpoint`` (:func:`fire`), then the checkpoint count. Returns the row."""
    state.checkpoint_epoch = float(epoch)
    state.checkpoint_row = {"checkpoint": state.checkpoint, "epoch": float(epoch), "step": state.step}
    fire(handlers, "on_checkpoint", state)
    state.checkpoint += 1
    return state.checkpoint_row


def progress_bar(iterable, **kwargs):
    """A tqdm bar on stderr: smooth in a terminal, an update every 5 s at most in a notebook or a log."""
    from tqdm import tqdm

    return tqdm(iterable, mininterval=0.5 if sys.stderr.isatty() else 5.0, file=sys.stderr, **kwargs)


def fit(state: State, sampler, optimizer, scheduler, handlers, clip_norm: float | None = 1.0) -> State:
    """Train ``state.head`` for ``state.epochs`` epochs on the sampler's batches; fire the events.

    One step: forward in train mode, mean of the per-sample losses, backward, gradient clipping
    (``clip_norm``), ``optimizer.step()``, ``scheduler.step()``. A non-finite loss stops the run
    with a :class:`FloatingPointError` naming the epoch and step.
    """
    import torch

    trainable = state.head.parameters()
    state.timings.setdefault("train", 0.0)
    state.head.model.train()
    fire(handlers, "on_fit_start", state)
    for epoch in range(state.epochs):
        state.epoch = epoch
        fire(handlers, "on_epoch_start", state)
        cuts = set(state.cuts[epoch])
        bar = progress_bar(sampler.batches(epoch), total=state.plan[epoch],
                           desc=f"epoch {epoch + 1}/{state.epochs}", disable=not state.progress)
        t_train = time.perf_counter()
        running: list[float] = []
        n_batches = 0
        for b, idx in enumerate(bar, start=1):
            losses, stats = state.forward(idx, True)
            loss = losses.float().mean()
            if not torch.isfinite(loss):
                lr = optimizer.param_groups[0]["lr"]
                raise FloatingPointError(f"non-finite training loss {loss.item()} at epoch {epoch + 1}, "
                                         f"step {state.step + 1}; lower learning_rate (now {lr})")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(trainable, clip_norm)
            optimizer.step()
            scheduler.step()
            state.step += 1
            state.batch_number, state.batch, state.batch_stats = b, idx, stats
            state.loss = loss.item()
            running.append(state.loss)
            if b % 20 == 0:
                bar.set_postfix(loss=f"{np.mean(running[-20:]):.3f}")
            fire(handlers, "on_batch_end", state)
            n_batches = b
            if b in cuts:
                state.timings["train"] += time.perf_counter() - t_train
                checkpoint(state, handlers, epoch + b / state.plan[epoch])
                t_train = time.perf_counter()
        if n_batches != state.plan[epoch]:
            raise RuntimeError(f"the sampler yielded {n_batches} batches in epoch {epoch}, "
                               f"after announcing {state.plan[epoch]}")
        state.timings["train"] += time.perf_counter() - t_train
        bar.close()
        state.batch = state.batch_stats = None
        fire(handlers, "on_epoch_end", state)
    fire(handlers, "on_fit_end", state)
    return state


def adamw(head, learning_rate: float, weight_decay: float, fused: bool | None = None):
    """AdamW over the head's trainable parameters, without weight decay on biases and norm weights.

    ``fused``: torch's implementation choice (None or False: its default path, the single-tensor loop on
    a CPU; True: the fused kernel, as ``transformers.Trainer`` uses). :func:`nlpdiff.dynamics.train`
    passes ``TrainParams.optimizer == "adamw_fused"`` (the default for new runs); the two paths give
    slightly different numbers, so the study's committed parts pin ``optimizer: adamw``.
    """
    import torch

    trainable = head.parameters()
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")
    names = {id(p): nm for nm, p in head.model.named_parameters()}
    groups = [
        {"params": [p for p in trainable if not names.get(id(p), "").endswith(no_decay)],
         "weight_decay": weight_decay},
        {"params": [p for p in trainable if names.get(id(p), "").endswith(no_decay)], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=learning_rate, fused=fused)


def linear_warmup(optimizer, warmup_ratio: float, total_steps: int):
    """Linear warmup over ``warmup_ratio`` of the steps, then linear decay to 0 (transformers' schedule)."""
    from transformers import get_linear_schedule_with_warmup

    return get_linear_schedule_with_warmup(optimizer, int(warmup_ratio * total_steps), total_steps)


__all__ = ["EVENTS", "PIECE_OVERHEAD_TOKENS", "Handler", "State", "adamw", "fit", "linear_warmup", "padding_pieces",
           "plan_state", "progress_bar"]
