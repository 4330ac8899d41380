"""Summarization head: per-sample sequence statistics, end-to-end runs, the causal-LM path, bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from nlpdiff import rundir  # noqa: E402
from nlpdiff.config import from_flat  # noqa: E402
from nlpdiff.dynamics import train  # noqa: E402
from nlpdiff.errors import ParameterError  # noqa: E402
from nlpdiff.models.summarization import (  # noqa: E402
    excerpt, heldout_change, load_generations, readable_extremes, rouge_scores, sequence_losses, sequence_stats,
)


def _hand_stats(rows):
    """Stats of one sequence worked by hand: rows = [(logits list, gold index), ...]."""
    nll, acc, margin, ent = [], [], [], []
    for z, y in rows:
        m = max(z)
        lse = m + math.log(sum(math.exp(v - m) for v in z))
        p = [math.exp(v - lse) for v in z]
        nll.append(lse - z[y])
        acc.append(float(max(range(len(z)), key=lambda j: z[j]) == y))
        margin.append(z[y] - max(v for j, v in enumerate(z) if j != y))
        ent.append(-sum(pi * math.log(pi) for pi in p))
    n = len(rows)
    return {"loss": sum(nll) / n, "loss_sum": sum(nll), "n_tokens": n, "correct": sum(acc) / n,
            "margin": sum(margin) / n, "entropy": sum(ent) / n, "gold_prob": math.exp(-sum(nll) / n)}


def test_sequence_stats_by_hand_with_pad_masking():
    # two sequences over a 3-token vocabulary; the second has one real token and two pads
    z = [
        [[2.0, 0.0, 0.0], [0.0, 1.0, 3.0], [1.0, 1.0, 0.0]],
        [[0.0, 0.0, math.log(2.0)], [9.0, -9.0, 5.0], [7.0, 7.0, 7.0]],
    ]
    labels = torch.tensor([[0, 1, 0], [2, -100, -100]])
    s = sequence_stats(torch.tensor(z), labels)
    a = _hand_stats([(z[0][0], 0), (z[0][1], 1), (z[0][2], 0)])
    b = _hand_stats([(z[1][0], 2)])
    for k in ("loss", "loss_sum", "n_tokens", "correct", "margin", "entropy", "gold_prob"):
        assert s[k] == pytest.approx([a[k], b[k]], rel=1e-6, abs=1e-6), k
    # concrete numbers for the second row: p = (1/4, 1/4, 1/2)
    assert s["loss"][1] == pytest.approx(math.log(2))
    assert s["gold_prob"][1] == pytest.approx(0.5)
    assert s["correct"][1] == 1.0 and s["margin"][1] == pytest.approx(math.log(2))
    assert s["entropy"][1] == pytest.approx(1.5 * math.log(2))
    # token accuracy of the first row: argmax right at positions 0 and 2 (tie 1,1 -> index 0), wrong at 1
    assert s["correct"][0] == pytest.approx(2 / 3)
    assert s["margin"][0] == pytest.approx((2.0 + (1.0 - 3.0) + 0.0) / 3)
    # the differentiable losses agree and pads do not contribute
    loss, loss_sum, n = sequence_losses(torch.tensor(z, requires_grad=True), labels)
    assert loss.detach().numpy() == pytest.approx(s["loss"]) and n.tolist() == [3, 1]
    loss.sum().backward()


def test_sequence_stats_fully_masked_row_is_nan():
    s = sequence_stats(torch.zeros(1, 2, 4), torch.full((1, 2), -100))
    assert np.isnan(s["loss"][0]) and s["n_tokens"][0] == 0 and s["loss_sum"][0] == 0


def test_rouge_scores_stemmed():
    r = rouge_scores(["Anna is going to the cinema"], ["Anna goes to the cinema"])
    assert 0 < r.loc[0, "rougeL"] < 1
    assert rouge_scores(["cats"], ["cat"]).loc[0, "rouge1"] == 1.0  # Porter stemming


def test_excerpt_is_readable():
    text = "A: hi\r\nB: hello\r\nA: lunch?\r\nB: sure"
    assert excerpt(text, max_lines=2) == "A: hi / B: hello / ... (+2 lines)"
    assert excerpt(text) == "A: hi / B: hello / A: lunch? / B: sure"


def _params(tiny_data_dir, tmp_path, **kw):
    base = dict(task="samsum", model="minilm", train_size=6, eval_size=3, epochs=2, max_length=64,
                max_target_length=24, generation_max_tokens=8, batch_size=3, checkpoints_per_epoch=1,
                data_dir=str(tiny_data_dir),
                output_dir=str(tmp_path / "run"))
    base.update(kw)
    return from_flat(base)


def test_minilm_encoder_decoder_end_to_end(tiny_data_dir, tmp_path):
    run = train(_params(tiny_data_dir, tmp_path), progress=False)
    loaded = rundir.load_run(tmp_path / "run")
    dyn = loaded.dynamics
    assert {"loss_sum", "n_tokens"} <= set(dyn.columns)
    assert set(dyn["pass"]) == {"eval", "train"} and len(dyn) == 6 * 2 * 2
    assert np.allclose(dyn["loss_sum"], dyn["loss"] * dyn["n_tokens"], rtol=1e-4)
    assert np.allclose(dyn["gold_prob"], np.exp(-dyn["loss"]), rtol=1e-4)
    assert dyn["correct"].between(0, 1).all() and (dyn["n_tokens"] >= 2).all()
    final = loaded.metrics["final"]
    for k in ("heldout_rouge1", "heldout_rouge2", "heldout_rougeL", "heldout_loss"):
        assert k in final and np.isfinite(final[k])
    assert loaded.metrics["metric"] == "heldout_rougeL"
    assert {"action", "action_token_sum"} <= set(loaded.scores.columns)
    assert {"n_input_tokens", "n_target_tokens", "summary", "dialogue"} <= set(loaded.samples.columns)
    res = loaded.info["resolved"]
    assert res["architecture"] == "encoder-decoder" and res["n_train"] == 6
    gens = run.head.last_generations
    assert len(gens) == 3 and {"generated", "reference", "rougeL"} <= set(gens.columns)
    # VoG target of the seq2seq path: gold-sequence log-likelihood, differentiable w.r.t. the encoder embeddings
    gold, embeds, mask = run.head.gold_output(np.arange(2))
    (grad,) = torch.autograd.grad(gold.sum(), embeds)
    assert gold.shape == (2,) and (gold < 0).all() and grad.shape[:2] == mask.shape
    assert int(mask.sum(dim=1).max()) <= int(run.head.lengths().max())
    stored = load_generations(tmp_path / "run")  # kept in the run directory for reused runs
    assert stored is not None and (stored["generated"] == gens["generated"]).all()
    # evaluations: 0 before training, 1 the first checkpoint (loss only: rouge_at="ends"), 2 the last
    assert stored["evaluation"].iloc[0] == 2 and (stored["point"] == "last").all()
    every = load_generations(tmp_path / "run", "all")
    assert list(every.groupby("evaluation")["point"].first()) == ["before", "checkpoint", "last"]
    middle = every[every["evaluation"] == 1]
    assert middle["rougeL"].isna().all() and middle["generated"].isna().all() and middle["loss"].notna().all()
    before = loaded.metrics["before_training"]
    assert before["heldout_loss"] == pytest.approx(every[every["evaluation"] == 0]["loss"].mean())
    assert np.isfinite(before["heldout_rougeL"]) and np.isnan(loaded.metrics["checkpoints"][0]["heldout_rougeL"])
    change = heldout_change(every, n_boot=1000)
    assert list(change["metric"]) == ["rougeL", "rouge1", "rouge2", "loss"]
    row = change.set_index("metric").loc["loss"]
    assert row["change"] == pytest.approx(row["after"] - row["before"]) and row["low"] <= row["high"]
    assert row["better"] == "lower" and row["improved"] == (row["high"] < 0)
    with pytest.raises(ParameterError, match="evaluation"):
        load_generations(tmp_path / "run", 7)
    with pytest.raises(ParameterError, match="gens"):
        heldout_change(every[every["point"] != "before"])
    # truncation is flagged, not hidden: every tiny dialogue fits 64 tokens, a 12-token budget cuts them
    assert "truncated" in loaded.samples.columns and res["n_truncated"] == int(loaded.samples["truncated"].sum())


def test_truncated_dialogues_are_flagged_and_left_out_of_the_hardest(tiny_data_dir, tmp_path):
    run = train(_params(tiny_data_dir, tmp_path, max_length=12, epochs=1, eval_size=None), progress=False,
                heldout=False)
    flags = run.samples["truncated"]
    assert flags.dtype == bool and flags.any()
    assert run.info["resolved"]["n_truncated"] == int(flags.sum())
    hard, _ = readable_extremes(run.samples, run.scores, "action", k=3)
    kept = set(run.samples.loc[~flags, "sample_id"])
    assert set(hard["sample_id"]) <= kept
    hard_all, _ = readable_extremes(run.samples, run.scores, "action", k=3, skip_truncated=False)
    assert len(hard_all) == min(3, len(run.samples))


def test_rouge_at_is_checked():
    with pytest.raises(ParameterError, match="rouge_at"):
        from_flat(dict(task="samsum", model="minilm", rouge_at="sometimes"))


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory):
    """A 2-layer randomly initialised GPT-2 with the packaged MiniLM's (BERT) tokenizer."""
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from nlpdiff.models.hub import packaged_minilm_path

    folder = tmp_path_factory.mktemp("tiny_gpt2")
    tok = AutoTokenizer.from_pretrained(str(packaged_minilm_path()))
    cfg = GPT2Config(vocab_size=tok.vocab_size, n_positions=256, n_embd=32, n_layer=2, n_head=2,
                     bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id,
                     pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    GPT2LMHeadModel(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_causal_lm_path(tiny_data_dir, tmp_path, tiny_gpt2):
    params = _params(tiny_data_dir, tmp_path, model=str(tiny_gpt2), max_length=40, learning_rate=1e-3, vog=True)
    run = train(params, progress=False)
    head = run.head
    assert not head.is_seq2seq
    # prompt fits max_length, the document is left-truncated (the prompt's end is kept)
    suffix = head.tokenizer("\nSummary:", add_special_tokens=False)["input_ids"]
    assert all(len(s) <= 40 and s[-len(suffix):] == suffix for s in head.train_src)
    # loss covers the summary tokens only: n_tokens = summary tokens + eos
    dyn = run.dynamics
    n_tgt = run.samples.set_index("sample_id")["n_target_tokens"]
    assert (dyn["n_tokens"].to_numpy() == n_tgt.loc[dyn["sample_id"]].to_numpy()).all()
    # left-padded, logits_to_keep batches give the same losses as one sample at a time
    head.model.eval()
    with torch.no_grad():
        both, _ = head.forward(np.arange(4), False)
        single = torch.cat([head.forward(np.array([i]), False)[0] for i in range(4)])
    assert both.numpy() == pytest.approx(single.numpy(), rel=1e-4)
    assert np.isfinite(run.metrics["final"]["heldout_rougeL"])
    assert run.info["resolved"]["architecture"] == "decoder-only"
    assert "vog" in run.scores.columns


def test_empty_summaries_are_skipped_and_counted(tiny_data_dir, tmp_path, tiny_gpt2):
    from nlpdiff.models.summarization import FinetuneSummarizationHead

    data = tmp_path / "data" / "samsum"
    data.mkdir(parents=True)
    for split in ("train", "validation"):
        df = pd.read_parquet(tiny_data_dir / "samsum" / f"{split}.parquet")
        df.loc[0, "summary"] = "  "
        if split == "train":
            df.loc[1, "dialogue"] = ""
        df.to_parquet(data / f"{split}.parquet")
    params = _params(tmp_path / "data", tmp_path, model=str(tiny_gpt2), train_size=None, eval_size=None, epochs=1,
                     batch_size=6)
    run = train(params, progress=False)
    assert run.info["resolved"]["skipped"] == {"empty_summary": 1, "empty_document": 1, "heldout_empty_summary": 1}
    assert run.info["resolved"]["n_train"] == 10 and len(run.head.last_generations) == 5
    assert FinetuneSummarizationHead.heldout_metric == "rougeL"


def test_classification_only_model_is_rejected(tiny_data_dir, tmp_path):
    from transformers import BertConfig, BertForSequenceClassification

    folder = tmp_path / "bert_cls"
    cfg = BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, architectures=["BertForSequenceClassification"])
    BertForSequenceClassification(cfg).save_pretrained(folder)
    with pytest.raises(ParameterError) as err:
        train(_params(tiny_data_dir, tmp_path, model=str(folder)), progress=False)
    assert err.value.param == "model" and "causal" in str(err.value)


def test_llama_family_trains_across_recording_passes(tiny_data_dir, tmp_path):
    """The cpu profile's summarizer is SmolLM2 (the Llama architecture, rotary position embeddings): a tiny
    random Llama trains through two epochs with a recording pass (``torch.inference_mode``) between them, so
    nothing the recording pass creates (a rotary cache, say) reaches the next training step's autograd."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from nlpdiff.models.hub import packaged_minilm_path

    folder = tmp_path / "tiny_llama"
    tok = AutoTokenizer.from_pretrained(str(packaged_minilm_path()))
    cfg = LlamaConfig(vocab_size=tok.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=256,
                      bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    run = train(_params(tiny_data_dir, tmp_path, model=str(folder), max_length=40, learning_rate=1e-3), progress=False)
    assert run.info["resolved"]["architecture"] == "decoder-only"
    assert run.dynamics["checkpoint"].nunique() == 2 and np.isfinite(run.dynamics["loss"]).all()
