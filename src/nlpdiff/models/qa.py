"""Extractive question answering (SQuAD v1.1) with a fine-tuned encoder (backbone ``finetune``).

Encoding. Each question is tokenized with its context as a pair (question first; a fast tokenizer,
``return_offsets_mapping``, ``truncation="only_second"``, ``max_length = params.max_length``,
``stride = options.doc_stride``, ``return_overflowing_tokens``): a context longer than a window is
split into several *features* that overlap by ``doc_stride`` tokens, each mapped back to its
question. Questions longer than ``max_length - doc_stride - (special tokens) - 1`` tokens are cut
(at a token boundary) so that the windows exist; :meth:`ExtractiveQAHead.describe` counts them.

A sample is a question. Its training feature is the first feature whose context tokens hold the
whole gold answer (the first annotated answer). A training question is skipped (dropped by
``build``, counted in ``skipped``, which the loop writes to ``run.json``) when

* ``offset_mismatch``: ``context[answer_start : answer_start + len(text)] != text``;
* ``answer_truncated``: no feature holds the whole answer (cut away by ``max_length``);
* ``no_answer``: it has no annotated answer.

Statistics per question, on its training feature, with the start and end distributions
``p_s = softmax(z_s)``, ``p_e = softmax(z_e)`` over the feature's real (non-padding) tokens, so that
they do not depend on how a batch is padded:

* ``loss`` = (CE_start + CE_end) / 2 = -(log p_s(gold start) + log p_e(gold end)) / 2;
* ``gold_prob`` = p_s(gold start) * p_e(gold end), the probability of the gold span;
* ``correct`` = 1 if the best span of that feature (maximum z_s(i) + z_e(j) over context tokens
  with i <= j < i + ``max_answer_length``) matches a gold answer exactly after the official SQuAD
  normalisation (:mod:`nlpdiff.squad_metric`). For training questions the prediction is taken from
  the answer-holding feature only (other windows of a long context are not considered), so that
  every statistic of a sample comes from the same forward pass;
* ``margin`` = mean over start and end of (gold logit - largest other logit);
* ``entropy`` = mean over start and end of the entropy (nats) of p_s and p_e;
* ``f1`` (extra) = SQuAD token F1 of that predicted span.

Held-out quality (:meth:`ExtractiveQAHead.evaluate`): SQuAD v1.1 exact match and F1 (percent) over
every held-out question, each predicted from all of its features (best span by start + end logit
across features, length-limited, context tokens only), against all its annotated answers; and the
mean loss of the held-out questions whose first answer lies in some feature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from nlpdiff.models.options import QAOptions
from nlpdiff.errors import ParameterError
from nlpdiff.models.base import Head, register_head
from nlpdiff.squad_metric import exact_match, f1, squad_scores

__all__ = [
    "Features", "ExtractiveQAHead", "answer_token_span", "best_spans", "context_excerpt",
    "encode_features", "load_qa_model", "qa_stats", "questions_markdown", "readable_questions",
]

#: masked logits (padding, non-context positions) are set to this value
_NEG = -1e9


def check_max_length(config, max_length: int) -> None:
    """``max_length`` must fit the model's position embeddings: a :class:`ParameterError` otherwise."""
    limit = getattr(config, "max_position_embeddings", None)
    if limit and max_length > limit:
        raise ParameterError("max_length", max_length, f"an integer <= {limit} (the model's max_position_embeddings)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load_qa_model(model: str | None, seed: int | None = None):
    """Load ``model`` with a (seeded, freshly initialised) extractive-QA head and its fast tokenizer.

    Returns a :class:`nlpdiff.models.hub.LoadedModel`. Raises :class:`ParameterError` naming
    ``model`` when it cannot be loaded, has no question-answering head in transformers
    (``AutoModelForQuestionAnswering``), or has no fast tokenizer (offsets are needed).
    """
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from nlpdiff.runtime import seed_everything
    from nlpdiff.models.hub import LoadedModel, load_config, resolve_model

    source = resolve_model(model)
    config = load_config(model, source)
    if seed is not None:  # a standalone caller; the training loop seeds once before the head builds
        seed_everything(seed)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "newly initialised qa_outputs" notice is expected here
    try:
        net = AutoModelForQuestionAnswering.from_pretrained(source, config=config)
    except (ValueError, KeyError) as exc:
        raise ParameterError(
            "model", model, "a model type with an extractive question-answering head (AutoModelForQuestionAnswering)",
            hint=_first_line(exc),
        ) from exc
    except OSError as exc:
        raise ParameterError(
            "model", model, "a model folder or hub id with weights", hint=_first_line(exc),
        ) from exc
    finally:
        hf_logging.set_verbosity(verbosity)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise ParameterError("model", model, "a model with a tokenizer", hint=_first_line(exc)) from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ParameterError("model", model, "a model with a fast tokenizer (extractive QA needs offset mappings)")
    n_params = sum(p.numel() for p in net.parameters())
    return LoadedModel(model=net, tokenizer=tokenizer, source=source, n_parameters=n_params)


# ---------------------------------------------------------------------------------------------
# Encoding: questions -> features (windows), and answers -> token positions
# ---------------------------------------------------------------------------------------------


@dataclass
class Features:
    """The features (windows) of a list of questions.

    ``input`` maps model input names (``input_ids``, ``attention_mask``, ``token_type_ids``) to
    one list of ints per feature (unpadded); ``offsets[f]`` is an ``(L, 2)`` array of character
    offsets into the question's context (``(-1, -1)`` outside the context); ``context_mask[f]``
    marks the context tokens; ``question[f]`` is the position of the feature's question in the
    encoded list. ``n_question_cut`` counts questions cut to fit the window.
    """

    input: dict[str, list[list[int]]]
    offsets: list[np.ndarray]
    context_mask: list[np.ndarray]
    question: np.ndarray
    n_question_cut: int = 0

    def __len__(self) -> int:
        return len(self.question)

    def length(self, f: int) -> int:
        return len(self.input["input_ids"][f])


def encode_features(tokenizer, questions: Sequence[str], contexts: Sequence[str], max_length: int,
                    doc_stride: int) -> Features:
    """Tokenize question/context pairs into overlapping windows (see the module docstring)."""
    n_special = tokenizer.num_special_tokens_to_add(pair=True)
    q_max = max_length - doc_stride - n_special - 1
    if q_max < 1:
        raise ParameterError(
            "doc_stride", doc_stride,
            f"an integer < max_length - {n_special + 1} (max_length={max_length}), leaving room for the question",
        )
    questions = [str(q).lstrip() for q in questions]
    q_enc = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
    n_cut = 0
    for i, offs in enumerate(q_enc["offset_mapping"]):
        if len(offs) > q_max:
            questions[i] = questions[i][: offs[q_max - 1][1]]
            n_cut += 1
    enc = tokenizer(
        questions, [str(c) for c in contexts], truncation="only_second", max_length=max_length,
        stride=doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True, padding=False,
    )
    names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    mapping = np.asarray(enc["overflow_to_sample_mapping"], dtype=np.int64)
    offsets, masks = [], []
    for f in range(len(mapping)):
        seq = enc.sequence_ids(f)
        mask = np.array([s == 1 for s in seq], dtype=bool)
        offs = np.asarray(enc["offset_mapping"][f], dtype=np.int64).reshape(-1, 2)
        offs = np.where(mask[:, None], offs, -1)
        offsets.append(offs)
        masks.append(mask)
    return Features({k: list(enc[k]) for k in names}, offsets, masks, mapping, n_cut)


def answer_token_span(offsets: np.ndarray, context_mask: np.ndarray, start_char: int,
                      end_char: int) -> tuple[int, int] | None:
    """Token positions ``(start, end)`` (inclusive) of the characters ``[start_char, end_char)``.

    ``None`` when the feature's context tokens do not hold the whole answer.
    """
    ctx = np.flatnonzero(context_mask)
    if len(ctx) == 0 or end_char <= start_char:
        return None
    starts, ends = offsets[ctx, 0], offsets[ctx, 1]
    if starts[0] > start_char or ends[-1] < end_char:
        return None
    s = int(np.searchsorted(starts, start_char, side="right")) - 1  # last token starting at or before
    e = int(np.searchsorted(ends, end_char, side="left"))  # first token ending at or after
    if s < 0 or e >= len(ctx) or e < s:
        return None
    return int(ctx[s]), int(ctx[e])


def best_spans(start_logits, end_logits, context_mask, max_answer_length: int):
    """Best span of each row: argmax of z_s(i) + z_e(j) over context tokens, i <= j < i + max length.

    Tensors of shape ``(B, L)`` (``context_mask`` bool). Returns ``(score, start, end)`` tensors.
    """
    import torch

    s = start_logits.float().masked_fill(~context_mask, _NEG)
    e = end_logits.float().masked_fill(~context_mask, _NEG)
    length = s.shape[1]
    pos = torch.arange(length, device=s.device)
    band = (pos[None, :] >= pos[:, None]) & (pos[None, :] < pos[:, None] + max_answer_length)
    scores = s[:, :, None] + e[:, None, :]
    scores = scores.masked_fill(~band[None], 2 * _NEG)
    flat = scores.view(scores.shape[0], -1)
    best, arg = flat.max(dim=1)
    return best, arg // length, arg % length


def _dist_stats(logits, gold, valid):
    """Per-row log p(gold), margin and entropy of a masked softmax (``valid`` marks real tokens)."""
    import torch

    z = logits.float().masked_fill(~valid, _NEG)
    logp = torch.log_softmax(z, dim=-1)
    p = logp.exp()
    gold_logp = logp.gather(1, gold[:, None]).squeeze(1)
    gold_z = z.gather(1, gold[:, None]).squeeze(1)
    others = z.scatter(1, gold[:, None], float("-inf"))
    margin = gold_z - others.max(dim=1).values
    entropy = -(p * logp).masked_fill(~valid, 0.0).sum(dim=1)
    return gold_logp, margin, entropy


def qa_stats(start_logits, end_logits, attention_mask, gold_start, gold_end):
    """Per-sample loss (differentiable) and the statistics of the module docstring (tensors).

    Returns ``(loss, gold_prob, margin, entropy)``.
    """
    valid = attention_mask.bool()
    ls, ms, hs = _dist_stats(start_logits, gold_start, valid)
    le, me, he = _dist_stats(end_logits, gold_end, valid)
    loss = -(ls + le) / 2
    return loss, (ls + le).exp(), (ms + me) / 2, (hs + he) / 2


def _span_text(context: str, offsets: np.ndarray, s: int, e: int) -> str:
    return context[int(offsets[s, 0]):int(offsets[e, 1])]


# ---------------------------------------------------------------------------------------------
# Helpers for pages
# ---------------------------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    """Escape the characters that Markdown (and MathJax's ``$``) would interpret."""
    return re.sub(r"([\\`*_{}\[\]<>#|$~])", r"\\\1", text)


def context_excerpt(context: str, answer_start: int, answer_text: str, width: int = 200,
                    markdown: bool = False) -> str:
    """About ``width`` characters of ``context`` around the answer, the answer between ``**``.

    Cut at word boundaries where possible, with ``…`` where text was left out. With
    ``markdown=True`` the text itself is escaped for Markdown, so that only the answer is bold.
    """
    esc = _md_escape if markdown else (lambda t: t)
    context = str(context)
    answer_start = int(answer_start)
    end = answer_start + len(answer_text)
    if not 0 <= answer_start <= end <= len(context):
        return esc(" ".join(context[:width].split())) + ("…" if len(context) > width else "")
    room = max(width - len(answer_text), 0)
    lo = max(0, answer_start - room // 2)
    hi = min(len(context), end + (room - (answer_start - lo)))
    lo = max(0, min(lo, hi - width))
    if lo > 0:
        space = context.find(" ", lo, answer_start)
        lo = space + 1 if space != -1 else lo
    if hi < len(context):
        space = context.rfind(" ", end, hi)
        hi = space if space != -1 else hi
    def part(t: str) -> str:
        return esc(t.replace("\n", " "))

    text = part(context[lo:answer_start]) + "**" + part(context[answer_start:end]) + "**" + part(context[end:hi])
    return ("…" if lo > 0 else "") + text + ("…" if hi < len(context) else "")


def readable_questions(table: pd.DataFrame, width: int = 200, markdown: bool = False) -> pd.DataFrame:
    """A table of questions for reading: question, answer, context excerpt, and the other columns.

    ``table`` needs ``question``, ``context``, ``answer_text`` and ``answer_start`` (as written to
    ``samples.parquet`` by the QA head); every other column (scores, ``sample_id``) is kept.
    """
    missing = [c for c in ("question", "context", "answer_text", "answer_start") if c not in table.columns]
    if missing:
        raise ParameterError("table", f"columns {list(table.columns)}", f"columns {missing} too")
    excerpts = [context_excerpt(c, s, a, width, markdown=markdown) for c, s, a in
                zip(table["context"], table["answer_start"], table["answer_text"])]
    out = table.drop(columns=["context", "answer_start"]).rename(columns={"answer_text": "answer"})
    out.insert(list(out.columns).index("answer") + 1, "context_excerpt", excerpts)
    lead = [c for c in ("sample_id", "question", "answer", "context_excerpt") if c in out.columns]
    return out[lead + [c for c in out.columns if c not in lead]]


# ---------------------------------------------------------------------------------------------
# The head
# ---------------------------------------------------------------------------------------------


def _answers(value) -> tuple[list[str], list[int]]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return [], []
    texts = [str(t) for t in list(value.get("text", []))]
    starts = [int(s) for s in list(value.get("answer_start", []))]
    return texts, starts


@register_head
class ExtractiveQAHead(Head):
    """Extractive QA (SQuAD) with any Hugging Face model that has a QA head, every weight trained.

    See the module docstring for the encoding, the skipped questions and the statistics.
    """

    kind = "extractive_qa"
    backbone = "finetune"
    extra_stats = ("f1",)
    options_class = QAOptions
    heldout_metric = "f1"

    # -- build ----------------------------------------------------------------------------------
    def build(self, samples: pd.DataFrame, heldout: pd.DataFrame) -> pd.DataFrame:
        loaded = load_qa_model(self.params.model)
        check_max_length(loaded.model.config, self.params.max_length)
        self.model = loaded.model.to(self.device)
        self.tokenizer = loaded.tokenizer
        self.source = loaded.source
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        return self._encode_data(samples, heldout)

    def _encode_data(self, samples: pd.DataFrame, heldout: pd.DataFrame) -> pd.DataFrame:
        """Windows, gold positions and answers of the training and held-out questions; the kept samples."""
        kept, self.skipped, self.train_feat = self._encode_train(samples)
        self.train_gold = np.array([(g[0], g[1]) for g in self.train_feat_gold], dtype=np.int64).reshape(-1, 2)
        self.train_feat = np.asarray(self.train_feat, dtype=np.int64)
        context, answers = self.spec.column("context"), self.spec.column("answers")
        self.train_contexts = [str(c) for c in kept[context]]
        self.train_golds = [_answers(a)[0] for a in kept[answers]]
        self.train_answer = [(_answers(a)[0][0], _answers(a)[1][0]) for a in kept[answers]]
        self._encode_heldout(heldout)
        return kept

    def _encode_train(self, samples: pd.DataFrame):
        p = self.params
        skipped = {"offset_mismatch": 0, "answer_truncated": 0, "no_answer": 0}
        question_col, context_col = self.spec.column("question"), self.spec.column("context")
        ok_rows, spans = [], []
        for i, (context, value) in enumerate(zip(samples[context_col], samples[self.spec.column("answers")])):
            texts, starts = _answers(value)
            if not texts or not starts:
                skipped["no_answer"] += 1
                continue
            context = str(context)
            if context[starts[0]:starts[0] + len(texts[0])] != texts[0]:
                skipped["offset_mismatch"] += 1
                continue
            ok_rows.append(i)
            spans.append((starts[0], starts[0] + len(texts[0])))
        sub = samples.iloc[ok_rows]
        if not ok_rows:  # nothing usable: the loop reports it (with these counts)
            self.train_features = Features({"input_ids": []}, [], [], np.zeros(0, dtype=np.int64))
            self.n_question_cut = 0
            self.train_feat_gold = []
            return sub, skipped, []
        feats = encode_features(self.tokenizer, list(sub[question_col]), list(sub[context_col]), p.max_length,
                                self.options.doc_stride)
        first: dict[int, tuple[int, int, int]] = {}
        for f in range(len(feats)):
            q = int(feats.question[f])
            if q in first:
                continue
            span = answer_token_span(feats.offsets[f], feats.context_mask[f], *spans[q])
            if span is not None:
                first[q] = (f, *span)
        keep_q = [q for q in range(len(ok_rows)) if q in first]
        skipped["answer_truncated"] = len(ok_rows) - len(keep_q)
        self.train_features = feats
        self.n_question_cut = feats.n_question_cut
        self.train_feat_gold = [first[q][1:] for q in keep_q]
        kept = sub.iloc[keep_q]
        return kept, skipped, [first[q][0] for q in keep_q]

    def _encode_heldout(self, heldout: pd.DataFrame) -> None:
        self.held_features = None
        if heldout is None or len(heldout) == 0:
            return
        p = self.params
        self.held_ids = [str(x) for x in (heldout["id"] if "id" in heldout else range(len(heldout)))]
        answers = self.spec.column("answers")
        self.held_contexts = [str(c) for c in heldout[self.spec.column("context")]]
        self.held_golds = [_answers(a)[0] for a in heldout[answers]]
        feats = encode_features(self.tokenizer, list(heldout[self.spec.column("question")]), self.held_contexts, p.max_length,
                                self.options.doc_stride)
        self.held_features = feats
        # the gold span of the first answer on the first feature holding it (for the held-out loss)
        gold = np.full((len(feats), 2), -1, dtype=np.int64)
        seen: set[int] = set()
        for f in range(len(feats)):
            q = int(feats.question[f])
            texts, starts = _answers(heldout[answers].iloc[q])
            if q in seen or not texts:
                continue
            ctx = self.held_contexts[q]
            if ctx[starts[0]:starts[0] + len(texts[0])] != texts[0]:
                continue
            span = answer_token_span(feats.offsets[f], feats.context_mask[f], starts[0], starts[0] + len(texts[0]))
            if span is not None:
                gold[f] = span
                seen.add(q)
        self.held_gold = gold

    # -- batches --------------------------------------------------------------------------------
    def _batch(self, feats: Features, fidx: Sequence[int]):
        import torch

        lengths = [feats.length(f) for f in fidx]
        width = max(lengths)
        out = {}
        for name, rows in feats.input.items():
            fill = self.pad_id if name == "input_ids" else 0
            arr = np.full((len(fidx), width), fill, dtype=np.int64)
            for r, f in enumerate(fidx):
                arr[r, :lengths[r]] = rows[f]
            out[name] = torch.from_numpy(arr).to(self.device)
        ctx = np.zeros((len(fidx), width), dtype=bool)
        for r, f in enumerate(fidx):
            ctx[r, :lengths[r]] = feats.context_mask[f]
        return out, torch.from_numpy(ctx).to(self.device)

    def _logits(self, batch, embeds=None):
        if embeds is not None:
            batch = {k: v for k, v in batch.items() if k != "input_ids"}
            out = self.model(inputs_embeds=embeds, **batch)
        else:
            out = self.model(**batch)
        return out.start_logits, out.end_logits

    # -- the loop's interface -------------------------------------------------------------------
    def forward(self, idx, train):
        import torch

        idx = np.asarray(idx, dtype=np.int64)
        fidx = self.train_feat[idx]
        batch, ctx_mask = self._batch(self.train_features, fidx)
        start_logits, end_logits = self._logits(batch)
        gold = torch.from_numpy(self.train_gold[idx]).to(start_logits.device)
        loss, gold_prob, margin, entropy = qa_stats(start_logits, end_logits, batch["attention_mask"],
                                                    gold[:, 0], gold[:, 1])
        with torch.no_grad():
            _, s, e = best_spans(start_logits.detach(), end_logits.detach(), ctx_mask, self.options.max_answer_length)
        s, e = s.cpu().numpy(), e.cpu().numpy()
        correct = np.empty(len(idx), dtype=np.float32)
        f1s = np.empty(len(idx), dtype=np.float32)
        for r, (i, f) in enumerate(zip(idx, fidx)):
            pred = _span_text(self.train_contexts[i], self.train_features.offsets[f], s[r], e[r])
            correct[r] = exact_match(pred, self.train_golds[i])
            f1s[r] = f1(pred, self.train_golds[i])
        stats = {
            "loss": loss.detach().cpu().numpy(),
            "gold_prob": gold_prob.detach().cpu().numpy(),
            "correct": correct,
            "margin": margin.detach().cpu().numpy(),
            "entropy": entropy.detach().cpu().numpy(),
            "f1": f1s,
        }
        return loss, stats

    def predict_heldout(self) -> tuple[dict[str, str], float]:
        """Predicted answer text of every held-out question, and the mean held-out loss (NaN if none)."""
        import torch

        feats = self.held_features
        n_q = len(self.held_ids)
        best_score = np.full(n_q, -np.inf)
        best_text = [""] * n_q
        losses = []
        order = np.argsort([feats.length(f) for f in range(len(feats))], kind="stable")
        bs = self.params.eval_batch_size
        with torch.no_grad():
            for i in range(0, len(order), bs):
                fidx = order[i:i + bs]
                batch, ctx_mask = self._batch(feats, fidx)
                start_logits, end_logits = self._logits(batch)
                score, s, e = best_spans(start_logits, end_logits, ctx_mask, self.options.max_answer_length)
                score, s, e = score.float().cpu().numpy(), s.cpu().numpy(), e.cpu().numpy()
                for r, f in enumerate(fidx):
                    q = int(feats.question[f])
                    if score[r] > best_score[q]:
                        best_score[q] = score[r]
                        best_text[q] = _span_text(self.held_contexts[q], feats.offsets[f], s[r], e[r])
                has = self.held_gold[fidx, 0] >= 0
                if has.any():
                    rows = np.flatnonzero(has)
                    gold = torch.from_numpy(self.held_gold[fidx[rows]]).to(start_logits.device)
                    loss, *_ = qa_stats(start_logits[rows], end_logits[rows], batch["attention_mask"][rows],
                                        gold[:, 0], gold[:, 1])
                    losses.extend(loss.float().cpu().numpy().tolist())
        preds = dict(zip(self.held_ids, best_text))
        return preds, float(np.mean(losses)) if losses else float("nan")

    def evaluate(self, point: str = "checkpoint") -> dict[str, float]:
        if self.held_features is None:
            return {"exact_match": float("nan"), "f1": float("nan"), "loss": float("nan")}
        preds, loss = self.predict_heldout()
        refs = {qid: golds for qid, golds in zip(self.held_ids, self.held_golds)}
        out = squad_scores(preds, {k: v for k, v in refs.items() if v})
        return {**out, "loss": loss}

    def gold_output(self, idx):
        idx = np.asarray(idx, dtype=np.int64)
        batch, _ = self._batch(self.train_features, self.train_feat[idx])
        embeds = self.model.get_input_embeddings()(batch["input_ids"]).detach().requires_grad_(True)
        start_logits, end_logits = self._logits(batch, embeds=embeds)
        import torch

        gold = torch.from_numpy(self.train_gold[idx]).to(start_logits.device)
        value = (start_logits.float().gather(1, gold[:, :1]).squeeze(1)
                 + end_logits.float().gather(1, gold[:, 1:]).squeeze(1))
        return value, embeds, batch["attention_mask"]

    def lengths(self) -> np.ndarray:
        return np.array([self.train_features.length(f) for f in self.train_feat], dtype=np.int64)

    def sample_columns(self) -> dict[str, np.ndarray]:
        n_windows = np.bincount(self.train_features.question, minlength=0)
        return {
            "n_tokens": self.lengths(),
            "answer_text": np.array([a[0] for a in self.train_answer], dtype=object),
            "answer_start": np.array([a[1] for a in self.train_answer], dtype=np.int64),
            "n_windows": n_windows[self._kept_positions()] if len(n_windows) else np.zeros(0, dtype=np.int64),
        }

    def _kept_positions(self) -> np.ndarray:
        return self.train_features.question[self.train_feat]

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "model_source": self.source,
            "n_train_features": int(len(self.train_features)),
            "n_heldout_features": int(len(self.held_features)) if self.held_features is not None else 0,
            "n_questions_cut": int(self.n_question_cut),
        }


def questions_markdown(table: pd.DataFrame, score: str | None = None, width: int = 200) -> str:
    """Markdown list of questions for reading: question, gold answer, context excerpt (answer in bold).

    ``table`` has the columns of :func:`readable_questions`' input (``question``, ``context``,
    ``answer_text``, ``answer_start``) and, when given, ``score``.
    """
    rows = readable_questions(table, width=width, markdown=True)
    lines = []
    for i, row in enumerate(rows.itertuples(index=False), start=1):
        head = f"{i}. **{_md_escape(' '.join(str(row.question).split()))}** — answer: *{_md_escape(str(row.answer))}*"
        if score is not None:
            head += f" ({score} {getattr(row, score):.3g})"
        excerpt = row.context_excerpt.replace("\n", " ")
        lines.append(f"{head}  \n   > {excerpt}")
    return "\n".join(lines)
