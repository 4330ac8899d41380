"""Per-sequence statistics under teacher forcing and ROUGE (pure functions; see :mod:`nlpdiff.models.summarization`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")



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


