"""The loop (nlpdiff.engine.fit), its events, and the samplers (nlpdiff.samplers), on a toy head."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nlpdiff.engine import Handler, adamw, fit, linear_warmup, plan_state
from nlpdiff.errors import ParameterError
from nlpdiff.recording import EvalPass, MetricsRows, Recorder, TrainPass
from nlpdiff.samplers import LengthGroupedSampler, Sampler, ShuffledSampler, SubsetSampler, checkpoint_cuts


class ToyHead:
    """A linear model on fixed random features: enough to drive the loop."""

    stat_columns = ("loss", "gold_prob", "correct", "margin", "entropy")

    def __init__(self, n: int = 20):
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 4, generator=gen)
        self.y = (self.x[:, 0] > 0).long()
        self.model = torch.nn.Linear(4, 2)

    def parameters(self):
        return list(self.model.parameters())

    def forward(self, idx, train):
        idx = torch.as_tensor(np.asarray(idx))
        logits = self.model(self.x[idx])
        losses = torch.nn.functional.cross_entropy(logits, self.y[idx], reduction="none")
        p = logits.detach().softmax(-1)
        gold = p.gather(1, self.y[idx][:, None]).squeeze(1)
        stats = {"loss": losses.detach().numpy(), "gold_prob": gold.numpy(),
                 "correct": (p.argmax(1) == self.y[idx]).float().numpy(), "margin": (2 * gold - 1).numpy(),
                 "entropy": -(p * p.log()).sum(1).numpy()}
        return losses, stats


class Log(Handler):
    def __init__(self):
        self.events = []

    def on_fit_start(self, state):
        self.events.append(("fit_start",))

    def on_epoch_start(self, state):
        self.events.append(("epoch_start", state.epoch))

    def on_checkpoint(self, state):
        self.events.append(("checkpoint", state.checkpoint, state.step))

    def on_epoch_end(self, state):
        self.events.append(("epoch_end", state.epoch))

    def on_fit_end(self, state):
        self.events.append(("fit_end", state.step))


def _run(head, sampler, epochs, per_epoch, handlers):
    state = plan_state(head, sampler, epochs, per_epoch, len(head.y), progress=False)
    opt = adamw(head, 1e-2, 0.0)
    fit(state, sampler, opt, linear_warmup(opt, 0.0, state.total_steps), handlers)
    return state


def test_shuffled_sampler_is_todays_order():
    s = ShuffledSampler(10, batch_size=4, seed=7)
    gen = torch.Generator().manual_seed(7)
    for epoch in range(3):
        order = torch.randperm(10, generator=gen).numpy()
        batches = s.batches(epoch)
        assert s.num_batches(epoch) == 3 == len(batches)
        np.testing.assert_array_equal(np.concatenate(batches), order)
    assert isinstance(s, Sampler)


def test_subset_sampler_trains_on_its_positions_only():
    positions = np.array([1, 4, 5, 8])
    s = SubsetSampler(10, positions, batch_size=3, seed=0)
    for epoch in range(2):
        got = np.concatenate(s.batches(epoch))
        assert sorted(got) == list(positions) and s.num_batches(epoch) == 2
    with pytest.raises(ParameterError, match="subset"):
        SubsetSampler(10, [3, 12], batch_size=3, seed=0)
    with pytest.raises(ParameterError, match="subset"):
        SubsetSampler(10, [], batch_size=3, seed=0)


def test_checkpoint_cuts():
    assert checkpoint_cuts(10, 1) == [10]
    assert checkpoint_cuts(10, 2) == [5, 10]
    assert checkpoint_cuts(2, 4) == [1, 2]  # fewer batches than checkpoints: fewer checkpoints


def test_events_in_order_and_recording():
    head = ToyHead()
    log, rec = Log(), None
    sampler = ShuffledSampler(20, batch_size=5, seed=0)
    state = plan_state(head, sampler, 2, 2, 20, progress=False)
    rec = Recorder(20, state.n_checkpoints, 2, head.stat_columns)
    rows = MetricsRows()
    opt = adamw(head, 1e-2, 0.0)
    fit(state, sampler, opt, linear_warmup(opt, 0.0, state.total_steps),
        [log, TrainPass(rec), EvalPass(rec, np.ones(20, dtype=int), 8), rows])
    assert log.events == [("fit_start",), ("epoch_start", 0), ("checkpoint", 0, 2), ("checkpoint", 1, 4),
                          ("epoch_end", 0), ("epoch_start", 1), ("checkpoint", 2, 6), ("checkpoint", 3, 8),
                          ("epoch_end", 1), ("fit_end", 8)]
    frame = rec.frame()
    assert len(frame[frame["pass"] == "eval"]) == 4 * 20 and len(frame[frame["pass"] == "train"]) == 2 * 20
    assert [r["checkpoint"] for r in rows.rows] == [0, 1, 2, 3] and "train_loss" in rows.rows[0]
    assert state.timings["eval_pass"] > 0


def test_one_dispatcher_for_the_loop_and_for_adapters():
    """engine.checkpoint is what fit runs at each checkpoint and what DynamicsCallback calls at the
    Trainer's: the row it starts, the handlers in order, their time under their timing_key, the count."""
    from nlpdiff.engine import State, checkpoint, fire

    class Adds(Handler):
        timing_key = "adds"

        def on_checkpoint(self, state):
            state.checkpoint_row["n"] = state.checkpoint

    class Reads(Handler):
        def on_checkpoint(self, state):
            state.checkpoint_row["seen"] = state.checkpoint_row["n"] + 1

    state = State(head=ToyHead(), n_samples=20, epochs=0, plan=[], cuts=[], progress=False)
    state.step = 7
    row = checkpoint(state, [Adds(), Reads()], 1.5)
    assert row == {"checkpoint": 0, "epoch": 1.5, "step": 7, "n": 0, "seen": 1}
    assert state.checkpoint == 1 and state.checkpoint_epoch == 1.5 and state.timings["adds"] >= 0
    assert checkpoint(state, [Adds()], 2.0)["checkpoint"] == 1
    with pytest.raises(ValueError, match="event='on_step'"):
        fire([Adds()], "on_step", state)


class GrowingSampler:
    """A curriculum-like sampler: epoch e trains on the first 5 * (e + 1) positions, in batches of 5."""

    def num_batches(self, epoch):
        return epoch + 1

    def batches(self, epoch):
        return [np.arange(5 * b, 5 * b + 5) for b in range(epoch + 1)]


def test_a_sampler_with_a_different_number_of_batches_per_epoch():
    head, log = ToyHead(), Log()
    state = _run(head, GrowingSampler(), 3, 2, [log])
    assert state.plan == [1, 2, 3] and state.cuts == [[1], [1, 2], [2, 3]]
    assert [e[2] for e in log.events if e[0] == "checkpoint"] == [1, 2, 3, 5, 6]
    assert state.total_steps == 6 and state.step == 6


def test_a_sampler_that_breaks_its_promise_is_caught():
    class Liar(GrowingSampler):
        def num_batches(self, epoch):
            return 4

    with pytest.raises(RuntimeError, match="announcing 4"):
        _run(ToyHead(), Liar(), 1, 1, [])


def test_length_grouped_sampler_groups_lengths_and_keeps_every_sample():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 100, size=103)
    s = LengthGroupedSampler(lengths, batch_size=8, seed=3, megabatch=4)
    assert isinstance(s, Sampler) and s.num_batches(0) == 13
    for epoch in range(2):
        batches = s.batches(epoch)
        assert len(batches) == s.num_batches(epoch)
        assert sorted(np.concatenate(batches).tolist()) == list(range(103))  # every sample once per epoch
        # within a batch lengths are close: the mean spread is far below random batches' spread
        spread = np.mean([np.ptp(lengths[b]) for b in batches if len(b) > 1])
        shuffled = np.mean([np.ptp(lengths[b]) for b in ShuffledSampler(103, 8, 3).batches(0)])
        assert spread < shuffled / 2
    # the same seed gives the same batches; another seed others
    def first(seed):
        return LengthGroupedSampler(lengths, batch_size=8, seed=seed, megabatch=4).batches(0)

    assert all(np.array_equal(a, b) for a, b in zip(first(3), first(3)))
    assert not all(np.array_equal(a, b) for a, b in zip(first(3), first(4)))
    with pytest.raises(ParameterError, match="megabatch"):
        LengthGroupedSampler(lengths, 8, 0, megabatch=0)
