"""The extractive QA head (backbone ``finetune``; see :mod:`nlpdiff.models.qa`)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from nlpdiff.models.base import Head, register_head
from nlpdiff.models.options import QAOptions
from nlpdiff.models.qa.encoding import (
    Features,
    _span_text,
    answer_token_span,
    best_spans,
    check_max_length,
    encode_features,
    load_qa_model,
    qa_stats,
)
from nlpdiff.squad_metric import exact_match, f1, squad_scores

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
    pads_to_longest = True
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


