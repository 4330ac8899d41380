"""The loop (nlpdiff.engine.fit), its events, and the samplers (nlpdiff.samplers), on a toy head."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nlpdiff.engine import Handler, State, adamw, fit, linear_warmup, padding_pieces, plan_state
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


def test_padding_pieces_cut_a_batch_by_length_and_keep_every_row():
    """Every row of the batch is in exactly one piece, pieces ascend in length, equal lengths stay one piece,
    short sentences and one long one are cut in two, and no cutting costs more than the whole padded batch."""
    lengths = np.array([10] * 31 + [60] + [12] * 32)
    cut = padding_pieces(lengths)
    pieces = cut(np.arange(32))
    assert [len(p) for p in pieces] == [31, 1] and list(pieces[1]) == [31]
    assert [len(p) for p in cut(np.arange(32, 64))] == [32]  # equal lengths: one piece
    assert [len(p) for p in padding_pieces(lengths, overhead_tokens=10 ** 6)(np.arange(32))] == [32]
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 60, size=500)
    cut = padding_pieces(lengths)
    for _ in range(20):
        batch = rng.choice(500, size=32, replace=True)  # duplicates too: pieces are rows of the batch
        pieces = cut(batch)
        assert sorted(np.concatenate(pieces).tolist()) == list(range(32))
        longest = [lengths[batch[p]].max() for p in pieces]
        assert longest == sorted(longest)
        cost = sum(64 + len(p) * m for p, m in zip(pieces, longest))
        assert cost <= 64 + 32 * lengths[batch].max()
    assert [list(p) for p in cut(np.array([7]))] == [[0]]
    with pytest.raises(ValueError, match="overhead_tokens=-1"):
        padding_pieces(lengths, overhead_tokens=-1)


class _PieceHead:
    """A head whose forward records the batches it was given and returns per-sample losses of a linear model."""

    def __init__(self):
        self.calls = []
        self.w = torch.nn.Parameter(torch.tensor([0.5, -1.0]))

    def forward(self, idx, train_mode):
        self.calls.append(list(idx))
        x = torch.stack([torch.as_tensor(idx, dtype=torch.float32), torch.ones(len(idx))], 1)
        losses = (x @ self.w) ** 2
        return losses, {"loss": losses.detach().numpy(), "position": np.asarray(idx)}


def test_state_forward_in_pieces_returns_the_batch_order_and_the_same_gradient():
    """With ``pieces`` set, a training forward pass runs the head once per piece and returns losses and statistics
    in the batch's order; the mean loss and its gradient equal the whole batch's; eval passes stay whole."""
    lengths = np.array([3, 40, 4, 41, 5, 3])
    head = _PieceHead()
    state = State(head=head, n_samples=6, epochs=1, plan=[1], cuts=[[1]], pieces=padding_pieces(lengths, 0))
    batch = np.array([5, 1, 0, 3, 2, 4])
    losses, stats = state.forward(batch, True)
    assert len(head.calls) > 1 and sorted(sum(head.calls, [])) == sorted(batch.tolist())
    assert stats["position"].tolist() == batch.tolist()
    losses.mean().backward()
    grad = head.w.grad.clone()
    head.w.grad = None
    whole, whole_stats = State(head=head, n_samples=6, epochs=1, plan=[1], cuts=[[1]]).forward(batch, True)
    whole.mean().backward()
    assert torch.allclose(losses, whole) and torch.allclose(grad, head.w.grad)
    np.testing.assert_allclose(stats["loss"], whole_stats["loss"])
    head.calls.clear()
    state.forward(batch, False)
    assert head.calls == [batch.tolist()]


def test_recording_batches_trimmed_keep_every_sample_once_in_length_order():
    """``length_batches(trim=True)``: the untrimmed batches cut further (every position exactly once, lengths
    ascending batch after batch); without ``trim`` the batches are the plain sorted ones the committed runs used."""
    from nlpdiff.recording import length_batches

    lengths = np.array([5] * 100 + [60] * 3 + [6] * 25)
    plain = length_batches(lengths, 128)
    assert [len(b) for b in plain] == [128]
    trimmed = length_batches(lengths, 128, trim=True)
    assert len(trimmed) > 1 and sorted(np.concatenate(trimmed).tolist()) == list(range(128))
    assert [int(lengths[b].max()) for b in trimmed] == sorted(int(lengths[b].max()) for b in trimmed)
    assert sum(len(b) * lengths[b].max() for b in trimmed) < 128 * 60
