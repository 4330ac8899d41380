"""The summarization head (backbone ``finetune``): encoding, forward passes, held-out generation and ROUGE
(see :mod:`nlpdiff.models.summarization`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nlpdiff.errors import ParameterError
from nlpdiff.models.base import Head, register_head
from nlpdiff.models.options import SummarizationOptions
from nlpdiff.models.summarization.loading import _eos_id, load_summarizer
from nlpdiff.models.summarization.stats import (
    ROUGE_TYPES,
    rouge_scores,
    sequence_losses,
    sequence_stats,
)

#: File of the run directory holding the held-out generations of the last evaluation.
GENERATIONS_FILE = "generations.parquet"
#: At most this many sequences per forward pass outside training (recording pass, held-out loss).
_EVAL_ROWS = 16



# ------------------------------------------------------------------------------------------------
# The head
# ------------------------------------------------------------------------------------------------


def _is_empty(x) -> bool:
    return x is None or (isinstance(x, float) and np.isnan(x)) or not str(x).strip()


@register_head
class FinetuneSummarizationHead(Head):
    """Abstractive summarization: any seq2seq or causal LM, every weight trained (see module doc).

    Encoded data: ``self.train_src`` / ``self.held_src`` (lists of input token ids: encoder input
    for seq2seq, prompt for causal LMs) and ``self.train_tgt`` / ``self.held_tgt`` (summary token
    ids ending with the end-of-sequence token). ``lengths()`` is the number of input tokens:
    encoder tokens (seq2seq), prompt + summary tokens (causal, the whole sequence the model reads).
    """

    kind = "summarization"
    backbone = "finetune"
    pads_to_longest = True
    extra_stats = ("loss_sum", "n_tokens")
    options_class = SummarizationOptions
    heldout_metric = "rougeL"
    evaluate_before_training = True  # fine-tuning must beat the instruction-tuned starting model

    def build(self, samples: pd.DataFrame, heldout: pd.DataFrame) -> pd.DataFrame:
        loaded = load_summarizer(self.params.model)
        self.model = loaded.model.to(self.device)
        self.tokenizer = loaded.tokenizer
        self.source = loaded.source
        self.is_seq2seq = loaded.is_seq2seq
        self.note = loaded.note
        self.eos_id = _eos_id(self.model, self.tokenizer)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_id
        doc, ref = self.spec.column("document"), self.spec.column("summary")
        field = "label" if "label" in samples.columns else ref
        keep = self._keep(samples[doc], samples[field], prefix="")
        samples = samples[keep].reset_index(drop=True)
        self.train_src, self.train_tgt, self.train_truncated = self._encode(list(samples[doc]), list(samples[field]))
        self.heldout = pd.DataFrame(columns=[doc, ref])
        if len(heldout):
            hkeep = self._keep(heldout[doc], heldout[ref], prefix="heldout_")
            self.heldout = heldout[hkeep].reset_index(drop=True)
        self.held_src, self.held_tgt, self.held_truncated = self._encode(list(self.heldout[doc]),
                                                                         list(self.heldout[ref]))
        self.last_generations: pd.DataFrame | None = None
        self._generations: list[pd.DataFrame] = []  # every evaluation's, in order
        self._n_evaluations = 0
        stale = Path(self.params.output_dir) / GENERATIONS_FILE
        if stale.exists():
            stale.unlink()
        return samples

    def _keep(self, docs: pd.Series, refs: pd.Series, prefix: str) -> np.ndarray:
        empty_doc = np.array([_is_empty(x) for x in docs], dtype=bool)
        empty_ref = np.array([_is_empty(x) for x in refs], dtype=bool) & ~empty_doc
        for name, mask in (("empty_document", empty_doc), ("empty_summary", empty_ref)):
            if mask.any():
                self.skipped[prefix + name] = self.skipped.get(prefix + name, 0) + int(mask.sum())
        return ~(empty_doc | empty_ref)

    # -- encoding ------------------------------------------------------------------------------
    def _encode(self, docs: list[str], refs: list[str]) -> tuple[list[list[int]], list[list[int]], np.ndarray]:
        """Input and summary token ids, and whether each input was cut to fit ``max_length``."""
        tok = self.tokenizer
        p = self.params
        docs = [str(d).replace("\r\n", "\n") for d in docs]
        tgt_ids = tok([(" " if not self.is_seq2seq else "") + str(r).strip() for r in refs],
                      add_special_tokens=False)["input_ids"] if refs else []
        tgt = [list(t[: self.options.max_target_length - 1]) + [self.eos_id] for t in tgt_ids]
        if self.is_seq2seq:
            full = tok(docs)["input_ids"] if docs else []
            cut = np.array([len(s) > p.max_length for s in full], dtype=bool)
            src = tok(docs, truncation=True, max_length=p.max_length)["input_ids"] if docs else []
            return [list(s) for s in src], tgt, cut
        bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
        prefix, suffix = self.spec.prompt_parts()  # the task's prompt around the document
        pre = bos + (tok(prefix, add_special_tokens=False)["input_ids"] if prefix else [])
        suf = tok(suffix, add_special_tokens=False)["input_ids"] if suffix else []
        budget = p.max_length - len(pre) - len(suf)
        if budget < 1:
            raise ParameterError("max_length", p.max_length,
                                 f"an integer > {len(pre) + len(suf)} (the prompt's fixed tokens) for a causal LM")
        doc_ids = tok(docs, add_special_tokens=False)["input_ids"] if docs else []
        src = [pre + list(d[-budget:]) + suf for d in doc_ids]  # left-truncated document
        return src, tgt, np.array([len(d) > budget for d in doc_ids], dtype=bool)

    # -- batches --------------------------------------------------------------------------------
    def _seq2seq_batch(self, src, tgt, idx):
        import torch

        n_src = max(len(src[i]) for i in idx)
        n_tgt = max(len(tgt[i]) for i in idx)
        input_ids = torch.full((len(idx), n_src), self.pad_id, dtype=torch.long)
        attn = torch.zeros((len(idx), n_src), dtype=torch.long)
        labels = torch.full((len(idx), n_tgt), -100, dtype=torch.long)
        for r, i in enumerate(idx):
            input_ids[r, :len(src[i])] = torch.tensor(src[i])
            attn[r, :len(src[i])] = 1
            labels[r, :len(tgt[i])] = torch.tensor(tgt[i])
        start = self.model.config.decoder_start_token_id
        dec = torch.cat([torch.full((len(idx), 1), start, dtype=torch.long), labels[:, :-1]], dim=1)
        dec = dec.masked_fill(dec == -100, self.pad_id)
        dev = self.device
        return input_ids.to(dev), attn.to(dev), dec.to(dev), labels.to(dev)

    def _causal_batch(self, src, tgt, idx, left: bool):
        """Prompt + summary; labels mark the summary tokens (shifted: label t is token t+1)."""
        import torch

        seqs = [src[i] + tgt[i] for i in idx]
        n = max(len(s) for s in seqs)
        input_ids = torch.full((len(idx), n), self.pad_id, dtype=torch.long)
        attn = torch.zeros((len(idx), n), dtype=torch.long)
        labels = torch.full((len(idx), n), -100, dtype=torch.long)
        for r, (i, s) in enumerate(zip(idx, seqs)):
            off = n - len(s) if left else 0
            input_ids[r, off:off + len(s)] = torch.tensor(s)
            attn[r, off:off + len(s)] = 1
            # logits at position j predict token j + 1
            lab = [-100] * (len(src[i]) - 1) + list(tgt[i]) + [-100]
            labels[r, off:off + len(s)] = torch.tensor(lab)
        pos = (attn.cumsum(dim=1) - 1).clamp(min=0)
        dev = self.device
        return input_ids.to(dev), attn.to(dev), pos.to(dev), labels.to(dev)

    def _logits_labels(self, src, tgt, idx):
        """Teacher-forced logits aligned with labels, for samples ``idx`` of an encoded set."""
        if self.is_seq2seq:
            input_ids, attn, dec, labels = self._seq2seq_batch(src, tgt, idx)
            out = self.model(input_ids=input_ids, attention_mask=attn, decoder_input_ids=dec)
            return out.logits, labels
        # left padding: every summary ends at the last position, so only the last k logits are needed
        input_ids, attn, pos, labels = self._causal_batch(src, tgt, idx, left=True)
        k = max(len(tgt[i]) for i in idx) + 1
        try:
            out = self.model(input_ids=input_ids, attention_mask=attn, position_ids=pos, logits_to_keep=k)
        except TypeError:  # a model without logits_to_keep
            out = self.model(input_ids=input_ids, attention_mask=attn, position_ids=pos)
        logits = out.logits
        return logits, labels[:, -logits.shape[1]:]

    def forward(self, idx, train):
        if not train and len(idx) > _EVAL_ROWS:
            # the recording pass: chunks bound the (rows x tokens x vocabulary) temporaries
            parts = [self.forward(idx[i:i + _EVAL_ROWS], False) for i in range(0, len(idx), _EVAL_ROWS)]
            import torch

            stats = {k: np.concatenate([p[1][k] for p in parts]) for k in parts[0][1]}
            return torch.cat([p[0] for p in parts]), stats
        logits, labels = self._logits_labels(self.train_src, self.train_tgt, idx)
        losses, _, _ = sequence_losses(logits, labels)
        return losses, sequence_stats(logits, labels)

    # -- held-out quality -----------------------------------------------------------------------
    def generate(self, src: list[list[int]], idx) -> list[str]:
        """Greedy summaries (at most ``generation_max_tokens`` new tokens) of encoded inputs ``idx``."""
        import torch

        n = max(len(src[i]) for i in idx)
        input_ids = torch.full((len(idx), n), self.pad_id, dtype=torch.long)
        attn = torch.zeros((len(idx), n), dtype=torch.long)
        for r, i in enumerate(idx):
            s = src[i]
            if self.is_seq2seq:
                input_ids[r, :len(s)] = torch.tensor(s)
                attn[r, :len(s)] = 1
            else:  # left padding for decoder-only generation
                input_ids[r, n - len(s):] = torch.tensor(s)
                attn[r, n - len(s):] = 1
        kwargs = dict(max_new_tokens=self.options.generation_max_tokens, do_sample=False, num_beams=1,
                      pad_token_id=self.pad_id, eos_token_id=self.eos_id)
        if self.is_seq2seq:
            kwargs["decoder_start_token_id"] = self.model.config.decoder_start_token_id
        out = self.model.generate(input_ids=input_ids.to(self.device), attention_mask=attn.to(self.device),
                                  **kwargs)
        if not self.is_seq2seq:
            out = out[:, n:]
        return [t.strip() for t in self.tokenizer.batch_decode(out, skip_special_tokens=True)]

    def evaluate(self, point: str = "checkpoint") -> dict[str, float]:
        """Held-out mean token loss, and ROUGE of greedy summaries when ``rouge_at`` asks for it at this point."""
        import torch

        n = len(self.held_src)
        if n == 0:
            return {**{k: float("nan") for k in ROUGE_TYPES}, "loss": float("nan")}
        generate = self.options.rouge_at == "every" or point in ("before", "last")
        order = np.argsort([len(s) for s in self.held_src], kind="stable")
        bs = min(self.params.eval_batch_size, _EVAL_ROWS)
        loss = np.empty(n)
        gens: list[str] = [""] * n
        with torch.no_grad():
            for i in range(0, n, bs):
                idx = order[i:i + bs]
                logits, labels = self._logits_labels(self.held_src, self.held_tgt, idx)
                loss[idx] = sequence_stats(logits, labels)["loss"]
                if generate:
                    for j, text in zip(idx, self.generate(self.held_src, idx)):
                        gens[j] = text
        doc, ref = self.spec.column("document"), self.spec.column("summary")
        refs = [str(r) for r in self.heldout[ref]]
        if generate:
            rouge = rouge_scores(gens, refs)
        else:
            rouge = pd.DataFrame({k: np.full(n, np.nan) for k in ROUGE_TYPES})
        frame = pd.DataFrame({
            "heldout_row": np.arange(n), doc: list(self.heldout[doc]), "reference": refs,
            "generated": gens if generate else [None] * n,
            **{k: rouge[k].to_numpy() for k in ROUGE_TYPES}, "loss": loss,
            "truncated": self.held_truncated,
        })
        frame.insert(0, "evaluation", self._n_evaluations)
        frame.insert(1, "point", point)
        self._n_evaluations += 1
        self._generations.append(frame)
        if generate:
            self.last_generations = frame
        out = {k: float(rouge[k].mean()) for k in ROUGE_TYPES}
        out["loss"] = float(loss.mean())
        out["generated_words"] = float(np.mean([len(g.split()) for g in gens])) if generate else float("nan")
        return out

    def extra_tables(self) -> dict[str, pd.DataFrame]:
        """Every evaluation's generations, for the run writer (``generations.parquet``), so that a reused run
        can still show them."""
        if not self._generations:
            return {}
        return {Path(GENERATIONS_FILE).stem: pd.concat(self._generations, ignore_index=True)}

    # -- VoG and bookkeeping --------------------------------------------------------------------
    def gold_output(self, idx):
        """Gold-sequence log-likelihood ``sum_i log p(y_i | x, y_<i)`` from the input embeddings.

        Seq2seq: ``embeds`` are the encoder input's word embeddings and ``mask`` its real tokens.
        Causal: ``embeds`` cover the whole prompt + summary (right-padded) and ``mask`` marks every
        real token of it (prompt and summary), matching :meth:`lengths`.
        """
        emb = self.model.get_input_embeddings()
        if self.is_seq2seq:
            input_ids, attn, dec, labels = self._seq2seq_batch(self.train_src, self.train_tgt, idx)
            embeds = emb(input_ids).detach().requires_grad_(True)
            logits = self.model(inputs_embeds=embeds, attention_mask=attn, decoder_input_ids=dec).logits
        else:
            input_ids, attn, pos, labels = self._causal_batch(self.train_src, self.train_tgt, idx, left=False)
            embeds = emb(input_ids).detach().requires_grad_(True)
            logits = self.model(inputs_embeds=embeds, attention_mask=attn, position_ids=pos).logits
        _, loss_sum, _ = sequence_losses(logits, labels)
        return -loss_sum, embeds, attn

    def lengths(self) -> np.ndarray:
        if self.is_seq2seq:
            return np.array([len(s) for s in self.train_src], dtype=np.int64)
        return np.array([len(s) + len(t) for s, t in zip(self.train_src, self.train_tgt)], dtype=np.int64)

    def sample_columns(self) -> dict[str, np.ndarray]:
        return {
            "n_input_tokens": np.array([len(s) for s in self.train_src], dtype=np.int64),
            "n_target_tokens": np.array([len(t) for t in self.train_tgt], dtype=np.int64),
            # the input was cut to max_length: its loss is that of a dialogue the model only partly saw
            "truncated": np.asarray(self.train_truncated, dtype=bool),
        }

    def describe(self) -> dict[str, Any]:
        out = {**super().describe(), "model_source": self.source,
               "architecture": "encoder-decoder" if self.is_seq2seq else "decoder-only",
               "n_truncated": int(np.sum(self.train_truncated)),
               "n_heldout_truncated": int(np.sum(self.held_truncated))}
        if self.note:
            out["model_note"] = self.note
        return out


