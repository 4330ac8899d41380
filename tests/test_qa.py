"""Extractive question answering: the SQuAD metric, the feature mapping, the head in the training loop."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nlpdiff import rundir, tasks
from nlpdiff.config import QAOptions, TrainParams, from_flat
from nlpdiff.dynamics import train
from nlpdiff.errors import ParameterError
from nlpdiff.models import get_head
from nlpdiff.models.qa import (
    ExtractiveQAHead, answer_token_span, best_spans, context_excerpt, encode_features, load_qa_model,
    questions_markdown, readable_questions,
)
from nlpdiff.squad_metric import exact_match, f1, normalize_answer, squad_scores


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from nlpdiff.models.hub import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model("minilm"))


# ---------------------------------------------------------------------------------------------
# The official SQuAD v1.1 metric
# ---------------------------------------------------------------------------------------------


def test_normalize_answer():
    assert normalize_answer("The Cat!") == "cat"
    assert normalize_answer("  An   apple, a DAY ") == "apple day"
    assert normalize_answer("theater") == "theater"  # articles are whole words only
    assert normalize_answer("the-end") == "theend"  # punctuation removed before the articles
    assert normalize_answer("") == ""


def test_exact_match_known_cases():
    assert exact_match("The Cat!", ["cat"]) == 1.0
    assert exact_match("cat", "the cat") == 1.0
    assert exact_match("a cat", ["dog", "The  cat."]) == 1.0
    assert exact_match("cats", ["cat"]) == 0.0
    assert exact_match("", [""]) == 1.0
    assert exact_match("", ["cat"]) == 0.0


def test_f1_worked_by_hand():
    # prediction tokens: [denver, broncos, won]; gold: [denver, broncos] -> overlap 2
    # precision 2/3, recall 2/2 -> F1 = 2 * (2/3) * 1 / (2/3 + 1) = 0.8
    assert f1("the Denver Broncos won", ["Denver Broncos"]) == pytest.approx(0.8)
    # bag of tokens: pred [a1, a1, b] (after normalisation "x x y"), gold [x, y, z]: overlap {x:1, y:1} = 2
    # precision 2/3, recall 2/3 -> 2/3
    assert f1("x x y", ["x y z"]) == pytest.approx(2 / 3)
    # maximum over gold answers
    assert f1("Santa Clara", ["California", "Santa Clara, California"]) == pytest.approx(2 * (1 * 2 / 3) / (1 + 2 / 3))
    assert f1("Paris", ["London"]) == 0.0
    # SQuAD v1.1: no token on either side gives 0 (even when both are empty)
    assert f1("", [""]) == 0.0
    assert f1("the", ["cat"]) == 0.0
    with pytest.raises(ParameterError, match="golds"):
        f1("cat", [])


def test_squad_scores_percent_and_missing_predictions():
    refs = {"q1": ["cat"], "q2": ["Denver Broncos", "Broncos"], "q3": ["8"]}
    preds = {"q1": "The cat", "q2": "the Denver Broncos won", "extra": "ignored"}
    out = squad_scores(preds, refs)
    assert out["exact_match"] == pytest.approx(100 / 3)
    assert out["f1"] == pytest.approx(100 * (1 + 0.8 + 0) / 3)  # q3 has no prediction: 0
    with pytest.raises(ParameterError, match="references"):
        squad_scores(preds, {})


# ---------------------------------------------------------------------------------------------
# Features: windows over long contexts, answer positions, skipped questions
# ---------------------------------------------------------------------------------------------

FILLER = ("The museum opened its doors to visitors from many countries in the early spring. "
          "Its halls display paintings, sculptures and old maps of the region. ")
LONG_CONTEXT = FILLER * 3 + "The oldest map was drawn by Gerardus Mercator in 1569. " + FILLER


def test_answer_in_the_second_window(tokenizer):
    answer = "Gerardus Mercator"
    start = LONG_CONTEXT.index(answer)
    feats = encode_features(tokenizer, ["Who drew the oldest map?"], [LONG_CONTEXT], max_length=48, doc_stride=16)
    assert len(feats) > 2 and (feats.question == 0).all()
    holders = [f for f in range(len(feats))
               if answer_token_span(feats.offsets[f], feats.context_mask[f], start, start + len(answer))]
    assert holders and holders[0] >= 1  # not in the first window
    f = holders[0]
    s, e = answer_token_span(feats.offsets[f], feats.context_mask[f], start, start + len(answer))
    assert LONG_CONTEXT[feats.offsets[f][s, 0]:feats.offsets[f][e, 1]] == answer
    assert tokenizer.decode(feats.input["input_ids"][f][s:e + 1]).replace(" ", "").lower() == "gerardusmercator"
    assert feats.context_mask[f][s] and feats.context_mask[f][e]
    # windows overlap by the stride: consecutive windows share context characters
    assert feats.offsets[1][feats.context_mask[1]][0, 0] < feats.offsets[0][feats.context_mask[0]][-1, 1]


def test_best_span_respects_context_order_and_length():
    import torch

    start = torch.tensor([[9.0, 0.0, 1.0, 5.0, 0.0, 0.0]])
    end = torch.tensor([[9.0, 4.0, 0.0, 0.0, 2.0, 3.0]])
    ctx = torch.tensor([[False, True, True, True, True, True]])  # position 0 is not context
    _, s, e = best_spans(start, end, ctx, max_answer_length=30)
    assert (int(s), int(e)) == (3, 5)  # end 1 scores higher but comes before start 3
    _, s, e = best_spans(start, end, ctx, max_answer_length=2)
    assert (int(s), int(e)) == (3, 4)  # length-limited: 3..5 is 3 tokens


def _head(tokenizer, tmp_path, **kw):
    params = TrainParams(task="squad", max_length=48, output_dir=str(tmp_path), options=QAOptions(doc_stride=16), **kw)
    head = ExtractiveQAHead(tasks.get_task("squad"), params, device=None)
    head.tokenizer = tokenizer
    return head


def test_skipped_questions_are_counted(tokenizer, tmp_path):
    answer = "Gerardus Mercator"
    long_answer = (FILLER * 2).strip()  # longer than a window's context part
    good = LONG_CONTEXT.index(answer)
    rows = [
        ("q0", "Who drew the oldest map?", LONG_CONTEXT, answer, good),
        ("q1", "Who drew the oldest map?", LONG_CONTEXT, answer, good + 3),  # offset mismatch
        ("q2", "What does the museum say?", LONG_CONTEXT, long_answer, LONG_CONTEXT.index(long_answer)),
        ("q3", "When was the map drawn?", LONG_CONTEXT, "1569", LONG_CONTEXT.index("1569")),
    ]
    samples = pd.DataFrame({
        "sample_id": range(len(rows)), "id": [r[0] for r in rows], "question": [r[1] for r in rows],
        "context": [r[2] for r in rows],
        "answers": [{"text": [r[3]], "answer_start": [r[4]]} for r in rows],
    })
    head = _head(tokenizer, tmp_path)
    kept, skipped, feat = head._encode_train(samples)
    assert list(kept["id"]) == ["q0", "q3"]
    assert skipped == {"offset_mismatch": 1, "answer_truncated": 1, "no_answer": 0}
    for (s, e), f, i in zip(head.train_feat_gold, feat, kept.index):
        offs = head.train_features.offsets[f]
        text = samples.loc[i, "answers"]["text"][0]
        assert LONG_CONTEXT[offs[s, 0]:offs[e, 1]] == text
    # the first feature that holds the answer is the one used
    assert feat[0] > 0


def test_context_excerpt_and_readable_table():
    start = LONG_CONTEXT.index("Gerardus Mercator")
    text = context_excerpt(LONG_CONTEXT, start, "Gerardus Mercator", width=80)
    assert "**Gerardus Mercator**" in text and text.startswith("…") and text.endswith("…")
    assert len(text) <= 80 + 6
    assert context_excerpt("short one", 0, "short", 200) == "**short** one"
    table = pd.DataFrame({"sample_id": [0], "question": ["Who?"], "context": [LONG_CONTEXT],
                          "answer_text": ["Gerardus Mercator"], "answer_start": [start], "action": [1.5]})
    out = readable_questions(table, width=80)
    assert list(out.columns) == ["sample_id", "question", "answer", "context_excerpt", "action"]
    with pytest.raises(ParameterError):
        readable_questions(table.drop(columns=["context"]))
    # Markdown: the text is escaped so that only the answer is bold ($ would start MathJax)
    assert context_excerpt("It cost $5 *then*.", 9, "5", 200, markdown=True) == "It cost \\$**5** \\*then\\*."
    md = questions_markdown(table.assign(question="Who drew *the* map?"), "action", width=80)
    assert md.startswith("1. **Who drew \\*the\\* map?** — answer: *Gerardus Mercator* (action 1.5)")
    assert "**Gerardus Mercator**" in md


# ---------------------------------------------------------------------------------------------
# The head in the training loop
# ---------------------------------------------------------------------------------------------


def test_head_is_registered():
    assert get_head("extractive_qa", "finetune") is ExtractiveQAHead


@pytest.fixture(scope="module")
def qa_run(tiny_data_dir, tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("qa") / "run"
    params = from_flat(dict(task="squad", train_size=8, eval_size=6, epochs=2, max_length=96, doc_stride=32,
                         batch_size=4, checkpoints_per_epoch=1, data_dir=str(tiny_data_dir), output_dir=str(out)))
    return train(params, progress=False)


def test_end_to_end_run_directory(qa_run):
    run = rundir.load_run(qa_run.path)
    assert len(run.samples) == 8
    for col in ("question", "context", "answers", "n_tokens", "answer_text", "answer_start"):
        assert col in run.samples.columns
    ev = run.dynamics[run.dynamics["pass"] == "eval"]
    assert ev.groupby("checkpoint")["sample_id"].nunique().to_dict() == {0: 8, 1: 8}
    assert len(ev) == 16
    for col in ("loss", "gold_prob", "correct", "margin", "entropy", "f1"):
        assert run.dynamics[col].notna().all(), col
    assert (run.dynamics["gold_prob"].between(0, 1)).all()
    # loss = -(log p_s + log p_e) / 2 and gold_prob = p_s p_e
    assert np.allclose(run.dynamics["loss"], -np.log(run.dynamics["gold_prob"]) / 2, rtol=1e-3, atol=1e-4)
    assert (run.dynamics[run.dynamics["correct"]]["f1"] == 1).all()
    assert len(run.metrics["checkpoints"]) == 2
    for row in run.metrics["checkpoints"]:
        assert 0 <= row["heldout_exact_match"] <= 100 and 0 <= row["heldout_f1"] <= 100
        assert row["heldout_exact_match"] <= row["heldout_f1"] + 1e-9
        assert np.isfinite(row["heldout_loss"])
    assert run.metrics["metric"] == "heldout_f1"
    info = json.loads((run.path / "run.json").read_text())
    assert info["resolved"]["skipped"] == {"offset_mismatch": 0, "answer_truncated": 0, "no_answer": 0}
    assert "action" in run.scores.columns and run.scores["action"].notna().all()


def test_gold_output_for_vog(qa_run):
    import torch

    head = qa_run.head
    gold, embeds, mask = head.gold_output(np.arange(4))
    assert gold.shape == (4,) and embeds.shape[:2] == mask.shape
    (grad,) = torch.autograd.grad(gold.sum(), embeds)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert (grad[mask == 0] == 0).all() or mask.all()


def test_offset_mismatch_in_a_run_is_skipped(tiny_data_dir, tmp_path):
    bad = tmp_path / "data"
    (bad / "squad").mkdir(parents=True)
    for split in ("train", "validation"):
        df = pd.read_parquet(tiny_data_dir / "squad" / f"{split}.parquet")
        if split == "train":
            df.at[0, "answers"] = {"text": ["Denver Broncos"], "answer_start": [7]}
            df = df.iloc[:4]
        else:
            df = df.iloc[:2]
        df.to_parquet(bad / "squad" / f"{split}.parquet")
    run = train(from_flat(dict(task="squad", train_size=4, eval_size=2, epochs=1, max_length=64, doc_stride=16,
                            batch_size=4, data_dir=str(bad), output_dir=str(tmp_path / "run"))), progress=False)
    assert len(run.samples) == 3 and "train-0000" not in set(run.samples["id"])
    assert run.info["resolved"]["skipped"]["offset_mismatch"] == 1
    assert run.info["resolved"]["n_loaded"] == 4


def test_not_a_qa_model_is_a_parameter_error(tmp_path):
    from transformers import ViTConfig

    folder = tmp_path / "vit"
    ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37).save_pretrained(folder)
    with pytest.raises(ParameterError, match="question-answering") as err:
        load_qa_model(str(folder), seed=0)
    assert err.value.param == "model"


def test_stride_leaving_no_room_for_the_question(tokenizer):
    with pytest.raises(ParameterError, match="doc_stride"):
        encode_features(tokenizer, ["q"], ["c"], max_length=20, doc_stride=17)


def test_all_questions_skipped_is_a_clear_error(tiny_data_dir, tmp_path):
    bad = tmp_path / "data"
    (bad / "squad").mkdir(parents=True)
    for split in ("train", "validation"):
        df = pd.read_parquet(tiny_data_dir / "squad" / f"{split}.parquet").iloc[:2]
        if split == "train":
            df["answers"] = [{"text": ["nowhere"], "answer_start": [0]}] * 2
        df.to_parquet(bad / "squad" / f"{split}.parquet")
    with pytest.raises(ParameterError, match="offset_mismatch"):
        train(from_flat(dict(task="squad", train_size=2, eval_size=2, epochs=1, max_length=64, doc_stride=16,
                          data_dir=str(bad), output_dir=str(tmp_path / "run"))), progress=False)
