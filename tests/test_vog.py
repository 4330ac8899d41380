"""VoG: the online (Welford) accumulator against hand-worked numbers and the two-pass variance, the
recording pass on a model with an embedding LayerNorm, the loop's vog.parquet and VoG score, and the
per-sample gradient of the finetune classification head.

Definition (Agarwal et al. 2022, adapted to text as in book/references.md): S_t(x) = d z_{t,y}(x) / d e(x),
the gradient of the gold logit w.r.t. the input word embeddings, one value per element (token position,
embedding dimension); VoG(x) = mean over the elements (over the D dimensions of each real token, then over
the tokens) of sqrt(population variance over checkpoints of that element); the score is the class-normalised
VoG. No reduction comes before the variance: the mean over the embedding dimension is zero behind a LayerNorm.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from nlpdiff import recording
from nlpdiff.config import TrainParams
from nlpdiff.dynamics import train
from nlpdiff.recording import VogAccumulator, VogPass
from nlpdiff.errors import ParameterError

PAD = 99.0  # garbage at padded positions: the mask must keep it out


def feed(acc: VogAccumulator, batches) -> None:
    """One checkpoint: ``batches`` = [(idx, grads (B, L, D), mask (B, L)), ...], as the loop does it."""
    acc.count += 1
    for idx, grads, mask in batches:
        acc.update(np.asarray(idx), np.asarray(grads, dtype=np.float32), np.asarray(mask, dtype=bool), acc.count)


# Gradient elements of three samples over three checkpoints (real tokens only), D = 2 per token:
# dimension 0 is below, dimension 1 is constant (std 0). Sample 0: 2 tokens, sample 1: 3, sample 2: 1.
HAND = {
    0: [[0.0, 2.0], [0.0, 2.0], [3.0, 2.0]],
    1: [[0.0, 1.0, -1.0], [6.0, 1.0, 1.0], [0.0, 1.0, -1.0]],
    2: [[5.0], [1.0], [3.0]],
}
CONST = {0: [7.0, -1.0], 1: [0.5, 0.5, 2.0], 2: [-3.0]}


def _batch(ids, t, length):
    """Batch of samples ``ids`` at checkpoint t, padded to ``length`` with PAD."""
    grads = np.full((len(ids), length, 2), PAD, dtype=np.float32)
    mask = np.zeros((len(ids), length), dtype=bool)
    for row, i in enumerate(ids):
        real = HAND[i][t]
        grads[row, :len(real), 0] = real
        grads[row, :len(real), 1] = CONST[i]
        mask[row, :len(real)] = True
    return np.array(ids), grads, mask


def hand_accumulator() -> VogAccumulator:
    acc = VogAccumulator(lengths=[2, 3, 1])
    # checkpoint 1: samples 2 and 0 together (padded to 2), then sample 1 alone (3)
    feed(acc, [_batch([2, 0], 0, 2), _batch([1], 0, 3)])
    # checkpoint 2: all three in one batch, another order, padded to 3
    feed(acc, [_batch([1, 2, 0], 1, 3)])
    # checkpoint 3: samples 1 and 2 (padded to 3), then sample 0 alone (2)
    feed(acc, [_batch([1, 2], 2, 3), _batch([0], 2, 2)])
    return acc


def test_vog_by_hand():
    acc = hand_accumulator()
    # dimension 0 (dimension 1 is constant: std 0, so each token's mean over D is std_0 / 2):
    # sample 0: token 0 = (0, 0, 3): mean 1, var = (1 + 1 + 4) / 3 = 2, std = sqrt(2)
    #           token 1 = (2, 2, 2): std 0            -> VoG = (sqrt(2)/2 + 0) / 2 = 0.35355339
    # sample 1: token 0 = (0, 6, 0): mean 2, var = (4 + 16 + 4) / 3 = 8, std = 2 sqrt(2)
    #           token 1 = (1, 1, 1): std 0
    #           token 2 = (-1, 1, -1): mean -1/3, var = (4/9 + 16/9 + 4/9) / 3 = 8/9, std = 2 sqrt(2) / 3
    #           -> VoG = (sqrt(2) + 0 + sqrt(2) / 3) / 3 = 4 sqrt(2) / 9 = 0.62853936
    # sample 2: token 0 = (5, 1, 3): mean 3, var = (4 + 4 + 0) / 3 = 8/3, std = 1.63299316 -> VoG = 0.81649658
    expected = [math.sqrt(2) / 4, 4 * math.sqrt(2) / 9, math.sqrt(8 / 3) / 2]
    assert expected == pytest.approx([0.35355339, 0.62853936, 0.81649658], abs=1e-8)
    assert acc.vog() == pytest.approx(expected, rel=1e-6)
    assert list(acc.n_tokens) == [2, 3, 1]
    # memory: 6 tokens x 2 dimensions x (mean, m2) x 4 bytes, whatever the number of checkpoints
    assert acc.nbytes == 6 * 2 * 2 * 4
    assert acc.describe()["bytes_held"] == 96 and acc.describe()["checkpoints"] == 3


def test_welford_equals_two_pass_variance():
    """Random gradients, lengths, batch orders and paddings: the online VoG == the two-pass np.var over
    stored arrays (mean over checkpoints first, then the mean squared deviation), in float64."""
    rng = np.random.default_rng(0)
    n, max_len, T, D = 23, 9, 6, 5
    lengths = rng.integers(1, max_len + 1, size=n)
    # per-sample scale and a large common offset: the variance is small next to the mean
    stored = [(3.0 + rng.normal(size=(T, L, D)) * rng.uniform(0.1, 10)).astype(np.float32) for L in lengths]
    acc = VogAccumulator(lengths)
    for t in range(T):
        order = rng.permutation(n)
        acc.count += 1
        for start in range(0, n, 4):
            idx = order[start:start + 4]
            width = min(max_len, int(lengths[idx].max()) + int(rng.integers(0, 2)))  # sometimes wider than needed
            grads = rng.normal(size=(len(idx), width, D)).astype(np.float32) * 1e3  # garbage in padding
            mask = np.zeros((len(idx), width), dtype=bool)
            for row, i in enumerate(idx):
                grads[row, :lengths[i]] = stored[i][t]
                mask[row, :lengths[i]] = True
            acc.update(idx, grads, mask, acc.count)
    two_pass = []
    for s in stored:
        x = s.astype(np.float64)
        var = ((x - x.mean(axis=0)) ** 2).mean(axis=0)  # (L, D): per element, over checkpoints
        two_pass.append(np.sqrt(var).mean(axis=1).mean())  # mean over D per token, then over tokens
    np.testing.assert_allclose(acc.vog(), two_pass, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acc.m2 / acc.count, np.concatenate([s.astype(np.float64).var(axis=0) for s in stored]),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("checkpoints", [0, 1])
def test_vog_needs_two_checkpoints(checkpoints):
    acc = VogAccumulator([3, 3, 3])
    for t in range(checkpoints):
        feed(acc, [_batch([0, 1, 2], t, 3)])
    with pytest.raises(ParameterError, match="2 checkpoints"):
        acc.vog()


def test_vog_refuses_more_tokens_than_room():
    acc = VogAccumulator([2, 1, 1])
    acc.count += 1
    with pytest.raises(ParameterError, match="at most its length 1"):
        acc.update(*_batch([1], 0, 3), acc.count)  # sample 1 has 3 real tokens, room for 1


# --- a model with an embedding LayerNorm (tiny BERT): the VoG recording pass as defined --------------------


class _TinyBertHead:
    """The part of a head that VogPass uses: ``model`` and ``gold_output(idx)``, on a tiny random BERT."""

    def __init__(self, n: int = 6, seed: int = 0):
        from transformers import BertConfig, BertForSequenceClassification

        torch.manual_seed(seed)
        config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=32, max_position_embeddings=16, num_labels=2,
                            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        self.model = BertForSequenceClassification(config)
        gen = torch.Generator().manual_seed(seed)
        self.lengths = np.array([3, 7, 5, 2, 7, 4][:n], dtype=np.int64)
        self.ids = [torch.randint(1, 40, (int(k),), generator=gen) for k in self.lengths]
        self.labels = torch.tensor([0, 1, 1, 0, 1, 0][:n])

    def gold_output(self, idx):
        width = int(self.lengths[idx].max())
        ids = torch.zeros((len(idx), width), dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            ids[row, :self.lengths[i]] = self.ids[i]
            mask[row, :self.lengths[i]] = 1
        embeds = self.model.get_input_embeddings()(ids).detach().requires_grad_(True)
        logits = self.model(inputs_embeds=embeds, attention_mask=mask).logits
        return logits.gather(1, self.labels[idx][:, None]).squeeze(1), embeds, mask

    def alone(self, i: int) -> np.ndarray:
        """The gradient of sample i's gold logit w.r.t. its own word embeddings, computed alone: (tokens, D)."""
        gold, embeds, _ = self.gold_output(np.array([i]))
        (grad,) = torch.autograd.grad(gold.sum(), embeds)
        return grad[0].double().numpy()


def test_vog_pass_on_a_layernorm_model_is_the_per_element_definition(one_torch_thread):
    """On a BERT (embedding LayerNorm), the recorded VoG is the per-element definition and far above float
    noise; the gradient's mean over the embedding dimension, which the old recorder kept, is ~0 by construction.
    (Fails on the old recorder: its VoG of per-token means was ~1e-9, the definition here is ~1e-1.)"""
    head = _TinyBertHead()
    n = len(head.lengths)
    vog_pass = VogPass(head.lengths, batch_size=4)
    state = SimpleNamespace(head=head, progress=False, n_checkpoints=3, checkpoint=0)
    vog_pass.on_fit_start(state)
    gen = torch.Generator().manual_seed(1)
    raw = []
    for t in range(3):
        if t:  # "training" between checkpoints: move every weight a little
            with torch.no_grad():
                for p in head.model.parameters():
                    p.add_(0.05 * torch.randn(p.shape, generator=gen))
        state.checkpoint = t
        vog_pass.on_checkpoint(state)
        raw.append([head.alone(i) for i in range(n)])
    for i in range(n):
        g = np.stack([raw[t][i] for t in range(3)])  # (T, tokens, D)
        scale = np.abs(g).mean()
        assert np.abs(g.mean(axis=-1)).max() < 1e-5 * scale  # LayerNorm: zero mean over D
    definition = np.array([np.sqrt(np.stack([raw[t][i] for t in range(3)]).var(axis=0)).mean() for i in range(n)])
    assert (definition > 1e-3).all()
    got = vog_pass.accumulator.vog()
    np.testing.assert_allclose(got, definition, rtol=1e-4)
    assert list(vog_pass.accumulator.n_tokens) == list(head.lengths)
    assert vog_pass.accumulator.nbytes == 2 * 4 * int(head.lengths.sum()) * 16


class _StoringAccumulator(VogAccumulator):
    """The loop's accumulator, also keeping the raw per-token gradients (for the test only)."""

    instances: list["_StoringAccumulator"] = []

    def __init__(self, lengths):
        super().__init__(lengths)
        self.raw: dict[tuple[int, int], np.ndarray] = {}
        _StoringAccumulator.instances.append(self)

    def update(self, idx, grads, mask, count):
        for row, i in enumerate(idx):
            self.raw[(count, int(i))] = grads[row][mask[row]].astype(np.float64)  # (tokens, D)
        super().update(idx, grads, mask, count)


@pytest.fixture(scope="module")
def vog_run(tiny_data_dir, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    _StoringAccumulator.instances.clear()
    mp.setattr(recording, "VogAccumulator", _StoringAccumulator)
    try:
        params = TrainParams(task="sst2", train_size=32, eval_size=20, epochs=3, checkpoints_per_epoch=1, batch_size=16, max_length=24,
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
        s = np.stack([acc.raw[(t, i)] for t in (1, 2, 3)])  # (T, tokens, D)
        assert s.shape[1] == run.samples.loc[i, "n_tokens"] and s.shape[2] == 384
        direct.append(np.sqrt(s.var(axis=0)).mean())  # per element, then the mean over D and tokens
    np.testing.assert_allclose(table["vog"].to_numpy(), direct, rtol=1e-4, atol=1e-9)
    # MiniLM's embedding LayerNorm: the old per-token reduction (mean over D) is float noise
    assert table["vog"].min() > 1e-6
    assert run.info["resolved"]["vog"]["bytes_held"] == 2 * 4 * 384 * int(run.samples["n_tokens"].sum())

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
        # the embedding LayerNorm makes each token's gradient sum to zero over the dimension
        assert np.abs(alone[0].mean(-1).numpy()).max() < 1e-5 * np.abs(alone[0].numpy()).mean()
    model.zero_grad(set_to_none=True)
