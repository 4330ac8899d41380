"""Exact match and F1 of extractive question answering, as the official SQuAD v1.1 script defines them.

Re-implemented from ``evaluate-v1.1.py`` (Rajpurkar et al. 2016), so that it runs offline (the hub's
``evaluate`` metric downloads its code):

* :func:`normalize_answer`: lower case, remove punctuation (``string.punctuation``), remove the
  articles ``a``, ``an``, ``the`` (whole words), collapse whitespace; in that order.
* :func:`exact_match`: 1 if the normalised prediction equals the normalised text of any gold answer.
* :func:`f1`: the maximum over gold answers of the harmonic mean of token precision and recall,
  where tokens are the whitespace-split normalised strings and the overlap counts tokens with
  multiplicity (a bag-of-tokens intersection). As in v1.1, when either side has no token the F1 is
  0 (SQuAD v2.0 would give 1 when both are empty; v1.1 does not).
* :func:`squad_scores`: the means over questions, in percent. A question of ``references`` with no
  prediction counts as 0 (the official script does the same, with a message); predictions for
  questions not in ``references`` are ignored.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Iterable, Mapping

from nlpdiff.errors import ParameterError

__all__ = ["exact_match", "f1", "normalize_answer", "squad_scores"]

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(s: str) -> str:
    """Lower text and remove punctuation, articles and extra whitespace (official SQuAD v1.1)."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _golds(golds: str | Iterable[str]) -> list[str]:
    if isinstance(golds, str):
        return [golds]
    out = [str(g) for g in golds]
    if not out:
        raise ParameterError("golds", out, "at least one gold answer")
    return out


def _f1_one(prediction: str, gold: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    common = Counter(pred_tokens) & Counter(gold_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, golds: str | Iterable[str]) -> float:
    """1.0 if ``normalize_answer(prediction)`` equals that of any gold answer, else 0.0."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in _golds(golds)))


def f1(prediction: str, golds: str | Iterable[str]) -> float:
    """Token-overlap F1 (in [0, 1]) of ``prediction``, maximised over the gold answers."""
    return max(_f1_one(prediction, g) for g in _golds(golds))


def squad_scores(predictions: Mapping[str, str], references: Mapping[str, Iterable[str]]) -> dict[str, float]:
    """``{"exact_match": %, "f1": %}`` over the questions of ``references`` (id -> gold texts).

    ``predictions`` maps question id -> predicted text. Missing predictions count as 0.
    """
    if not references:
        raise ParameterError("references", {}, "at least one question with its gold answers")
    em = total_f1 = 0.0
    for qid, golds in references.items():
        if qid not in predictions:
            continue
        pred = str(predictions[qid])
        em += exact_match(pred, golds)
        total_f1 += f1(pred, golds)
    n = len(references)
    return {"exact_match": 100.0 * em / n, "f1": 100.0 * total_f1 / n}
