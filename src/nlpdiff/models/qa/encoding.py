"""Loading a QA model and encoding questions into windows; answers to token positions; spans and
per-feature statistics (see :mod:`nlpdiff.models.qa`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from nlpdiff.errors import ParameterError

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

    from nlpdiff.models.hub import LoadedModel, load_config, resolve_model
    from nlpdiff.runtime import seed_everything

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


