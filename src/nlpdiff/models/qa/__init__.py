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


from nlpdiff.models.qa.encoding import (
    Features,
    answer_token_span,
    best_spans,
    check_max_length,
    encode_features,
    load_qa_model,
    qa_stats,
)
from nlpdiff.models.qa.head import ExtractiveQAHead
from nlpdiff.models.qa.pages import (
    context_excerpt,
    questions_markdown,
    readable_questions,
)

__all__ = [
    "Features", "ExtractiveQAHead", "answer_token_span", "best_spans", "context_excerpt",
    "encode_features", "load_qa_model", "qa_stats", "questions_markdown", "readable_questions",
]

