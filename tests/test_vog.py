"""VoG: the online (Welford) accumulator against hand-worked numbers and a direct numpy computation,
the loop's vog.parquet and VoG score, and the per-sample gradient of the finetune classification head.

Definition (Agarwal et al. 2022, adapted to text as in book/references.md): S_t(x) = d z_{t,y}(x) / d e(x),
the gradient of the gold logit w.r.t. the input word embeddings, reduced per token by the mean over
the embedding dimension; VoG(x) = mean over real tokens of sqrt(population variance over checkpoints
of S_t); the score is the class-normalised VoG.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from nlpdiff import recording
from nlpdiff.config import TrainParams
from nlpdiff.dynamics import train
from nlpdiff.recording import VogAccumulator
from nlpdiff.errors import ParameterError

PAD = 99.0  # garbage at padded positions: the mask must keep it out


def feed(acc: VogAccumulator, batches) -> None:
    """One checkpoint: ``batches`` = [(idx, grads (B, L), mask (B, L)), ...], as the loop does it."""
    acc.count += 1
    for idx, grads, mask in batches:
        acc.update(np.asarray(idx), np.asarray(grads, dtype=np.float32), np.asarray(mask, dtype=bool), acc.count)


# Per-token reduced gradients of three samples over three checkpoints (real tokens only):
# sample 0 (2 tokens), sample 1 (3 tokens), sample 2 (1 token).
HAND = {
    0: [[0.0, 2.0], [0.0, 2.0], [3.0, 2.0]],
    1: [[0.0, 1.0, -1.0], [6.0, 1.0, 1.0], [0.0, 1.0, -1.0]],
    2: [[5.0], [1.0], [3.0]],
}


def _batch(ids, t, length):
    """Batch of samples ``ids`` at checkpoint t, padded to ``length`` with PAD."""
    grads = np.full((len(ids), length), PAD, dtype=np.float32)
    mask = np.zeros((len(ids), length), dtype=bool)
    for row, i in enumerate(ids):
        real = HAND[i][t]
        grads[row, :len(real)] = real
        mask[row, :len(real)] = True
    return np.array(ids), grads, mask


def hand_accumulator() -> VogAccumulator:
    acc = VogAccumulator(n_samples=3, max_tokens=3)
    # checkpoint 1: samples 2 and 0 together (padded to 2), then sample 1 alone (3)
    feed(acc, [_batch([2, 0], 0, 2), _batch([1], 0, 3)])
    # checkpoint 2: all three in one batch, another order, padded to 3
    feed(acc, [_batch([1, 2, 0], 1, 3)])
    # checkpoint 3: samples 1 and 2 (padded to 3), then sample 0 alone (2)
    feed(acc, [_batch([1, 2], 2, 3), _batch([0], 2, 2)])
    return acc


def test_vog_by_hand():
    acc = hand_accumulator()
    # sample 0: token 0 = (0, 0, 3): mean 1, var = (1 + 1 + 4) / 3 = 2, std = sqrt(2)
    #           token 1 = (2, 2, 2): std 0            -> VoG = (sqrt(2) + 0) / 2 = 0.70710678
    # sample 1: token 0 = (0, 6, 0): mean 2, var = (4 + 16 + 4) / 3 = 8, std = 2 sqrt(2)
    #           token 1 = (1, 1, 1): std 0
    #           token 2 = (-1, 1, -1): mean -1/3, var = (4/9 + 16/9 + 4/9) / 3 = 8/9, std = 2 sqrt(2) / 3
    #           -> VoG = (2 sqrt(2) + 0 + 2 sqrt(2) / 3) / 3 = 8 sqrt(2) / 9 = 1.25707872
    # sample 2: token 0 = (5, 1, 3): mean 3, var = (4 + 4 + 0) / 3 = 8/3, std = 1.63299316 -> VoG = 1.63299316
    expected = [math.sqrt(2) / 2, 8 * math.sqrt(2) / 9, math.sqrt(8 / 3)]
    assert expected == pytest.approx([0.70710678, 1.25707872, 1.63299316], abs=1e-8)
    assert acc.vog() == pytest.approx(expected, rel=1e-6)
    assert list(acc.n_tokens) == [2, 3, 1]


def test_vog_matches_numpy_on_stored_arrays():
    """Random gradients, lengths, batch orders and paddings: Welford == np.std over stored arrays."""
    rng = np.random.default_rng(0)
    n, max_len, T = 23, 9, 5
    lengths = rng.integers(1, max_len + 1, size=n)
    stored = [rng.normal(size=(T, L)).astype(np.float32) * rng.uniform(0.1, 10) for L in lengths]
    acc = VogAccumulator(n, max_len)
    for t in range(T):
        order = rng.permutation(n)
        acc.count += 1
        for start in range(0, n, 4):
            idx = order[start:start + 4]
            width = min(max_len, int(lengths[idx].max()) + int(rng.integers(0, 2)))  # sometimes wider than needed
            grads = rng.normal(size=(len(idx), width)).astype(np.float32) * 1e3  # garbage in padding
            mask = np.zeros((len(idx), width), dtype=bool)
            for row, i in enumerate(idx):
                grads[row, :lengths[i]] = stored[i][t]
                mask[row, :lengths[i]] = True
            acc.update(idx, grads, mask, acc.count)
    direct = np.array([np.sqrt(np.var(s.astype(np.float64), axis=0)).mean() for s in stored])
    np.testing.assert_allclose(acc.vog(), direct, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("checkpoints", [0, 1])
def test_vog_needs_two_checkpoints(checkpoints):
    acc = VogAccumulator(3, 3)
    for t in range(checkpoints):
        feed(acc, [_batch([0, 1, 2], t, 3)])
    with pytest.raises(ParameterError, match="2 checkpoints"):
        acc.vog()


class _StoringAccumulator(VogAccumulator):
    """The loop's accumulator, also keeping the raw per-token gradients (for the test only)."""

    instances: list["_StoringAccumulator"] = []

    def __init__(self, n_samples, max_tokens):
        super().__init__(n_samples, max_tokens)
        self.raw: dict[tuple[int, int], np.ndarray] = {}
        _StoringAccumulator.instances.append(self)

    def update(self, idx, grads, mask, count):
        for row, i in enumerate(idx):
            self.raw[(count, int(i))] = grads[row][mask[row]].astype(np.float64)
        super().update(idx, grads, mask, count)


@pytest.fixture(scope="module")
def vog_run(tiny_data_dir, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    _StoringAccumulator.instances.clear()
    mp.setattr(recording, "VogAccumulator", _StoringAccumulator)
    try:
        params = TrainParams(task="sst2", train_size=32, eval_size=20, epochs=3, batch_size=16, max_length=24,
                             eval_batch_size=16, vog=True, data_dir=str(tiny_data_dir),
                             output_dir=str(tmp_path_factory.mktemp("runs") / "vog"))
        run = train(params, progress=False)
    finally:
        mp.undo()
    (acc,) = _StoringAccumulator.instances
    return run, acc


@pytest.mark.slow
def test_vog_run_writes_vog_and_score(vog_run):
    run, acc = vog_run
    table = pd.read_parquet(run.path / "vog.parquet")
    assert list(table.columns) == ["sample_id", "vog", "label"]
    assert list(table["sample_id"]) == list(range(32))
    assert np.isfinite(table["vog"]).all() and (table["vog"] > 0).all()
    assert (table["label"].to_numpy() == run.samples["label"].to_numpy()).all()

    # the loop's online VoG equals the definition on the raw gradients of its 3 checkpoints
    assert acc.count == 3
    direct = []
    for i in range(32):
        s = np.stack([acc.raw[(t, i)] for t in (1, 2, 3)])  # (T, tokens)
        assert s.shape[1] == run.samples.loc[i, "n_tokens"]
        direct.append(np.sqrt(s.var(axis=0)).mean())
    np.testing.assert_allclose(table["vog"].to_numpy(), direct, rtol=1e-4, atol=1e-7)

    # scores.vog = class-normalised VoG: (v - class mean) / class population std
    v, y = table["vog"].to_numpy(np.float64), table["label"].to_numpy()
    expected = np.empty_like(v)
    for c in np.unique(y):
        sel = y == c
        expected[sel] = (v[sel] - v[sel].mean()) / v[sel].std(ddof=0)
    scores = run.scores.set_index("sample_id").loc[table["sample_id"]]
    np.testing.assert_allclose(scores["vog"].to_numpy(), expected, rtol=1e-6, atol=1e-9)
    for c in np.unique(y):  # each class: mean 0, population std 1
        assert scores["vog"][y == c].mean() == pytest.approx(0.0, abs=1e-9)
        assert scores["vog"][y == c].std(ddof=0) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.slow
def test_vog_gradient_is_per_sample(vog_run):
    """A batched VoG gradient (padding, other samples) equals autograd on the sample alone."""
    run, _ = vog_run
    head = run.head
    model = head.model
    model.eval()
    lengths = head.lengths()
    idx = np.argsort(lengths)[[0, 5, 17, 31]]  # different lengths: the short ones are padded
    assert len(set(lengths[idx])) > 1
    gold, embeds, mask = head.gold_output(idx)
    (grad,) = torch.autograd.grad(gold.float().sum(), embeds)
    for row, i in enumerate(idx):
        text = run.samples.loc[i, "sentence"]
        label = int(run.samples.loc[i, "label"])
        enc = head.tokenizer([text], truncation=True, max_length=24, return_tensors="pt")
        e = model.get_input_embeddings()(enc["input_ids"]).detach().requires_grad_(True)
        logit = model(inputs_embeds=e, attention_mask=enc["attention_mask"],
                      token_type_ids=enc.get("token_type_ids")).logits[0, label]
        (alone,) = torch.autograd.grad(logit, e)
        n_tok = int(lengths[i])
        assert int(mask[row].sum()) == n_tok == alone.shape[1]
        assert gold[row].item() == pytest.approx(logit.item(), abs=1e-4)
        np.testing.assert_allclose(grad[row, :n_tok].numpy(), alone[0].numpy(), rtol=1e-3, atol=1e-6)
        # the per-token reduction the loop stores: mean over the embedding dimension
        np.testing.assert_allclose(grad[row, :n_tok].mean(-1).numpy(), alone[0].mean(-1).numpy(),
                                   rtol=1e-3, atol=1e-7)
    model.zero_grad(set_to_none=True)
