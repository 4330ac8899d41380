"""Each head's own options: one small dataclass per head family (a head names its class in
``Head.options_class``). :mod:`nlpdiff.config` re-exports them and puts the right one in
``TrainParams.options``; nothing here imports the configuration (``params`` is duck-typed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nlpdiff.checks import _is_int, _is_number, positive_int  # noqa: F401
from nlpdiff.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    from nlpdiff.config import TrainParams


@dataclass
class HeadOptions:
    """Base of the options of one head family. Field names are unique across all option classes,
    so that a flat parameter dict maps to exactly one of them."""

    def validate(self, params: "TrainParams") -> None:
        """Check the options (``params`` is the run's loop configuration); raise :class:`ParameterError`."""


@dataclass
class NoOptions(HeadOptions):
    """A head with no options of its own (fine-tuned classification)."""


@dataclass
class QAOptions(HeadOptions):
    """Extractive question answering: window stride over long contexts and the longest answer span."""

    doc_stride: int = 64
    max_answer_length: int = 30

    def validate(self, params: "TrainParams") -> None:
        positive_int("doc_stride", self.doc_stride)
        positive_int("max_answer_length", self.max_answer_length)
        if self.doc_stride >= params.max_length:
            raise ParameterError("doc_stride", self.doc_stride, f"an integer < max_length ({params.max_length})")


@dataclass
class SummarizationOptions(HeadOptions):
    """Summarization: the reference summary's token budget and the generation length at evaluation."""

    max_target_length: int = 64
    generation_max_tokens: int = 48
    #: when held-out summaries are generated for ROUGE (the costly part of an evaluation; the
    #: held-out loss is computed at every evaluation): "ends" = before training and at the last
    #: checkpoint, "every" = also at every checkpoint between
    rouge_at: str = "ends"

    def validate(self, params: "TrainParams") -> None:
        positive_int("max_target_length", self.max_target_length)
        positive_int("generation_max_tokens", self.generation_max_tokens)
        if self.rouge_at not in ("ends", "every"):
            raise ParameterError("rouge_at", self.rouge_at, '"ends" (before training and at the last checkpoint) '
                                 'or "every" (at every checkpoint)')


@dataclass
class ProbeOptions(HeadOptions):
    """Probe backbone (frozen encoder, cached features, small MLP).

    ``probe_hidden``: hidden width; ``probe_dropout`` in [0, 1); ``probe_feature_batch_size``:
    encoder batch size for feature extraction (None: 64 for classification, 32 for QA);
    ``probe_cache_scope``: ``"texts"`` (cache the run's own texts) or ``"split"`` (cache the whole
    split once, then pick the run's rows: cheaper across data seeds).
    """

    probe_hidden: int = 256
    probe_dropout: float = 0.1
    probe_feature_batch_size: int | None = None
    probe_cache_scope: str = "texts"

    def validate(self, params: "TrainParams") -> None:
        positive_int("probe_hidden", self.probe_hidden)
        if not _is_number(self.probe_dropout) or not 0 <= self.probe_dropout < 1:
            raise ParameterError("probe_dropout", self.probe_dropout, "a number in [0, 1)")
        if self.probe_feature_batch_size is not None:
            positive_int("probe_feature_batch_size", self.probe_feature_batch_size, also="or None")
        if self.probe_cache_scope not in ("texts", "split"):
            raise ParameterError("probe_cache_scope", self.probe_cache_scope, "'texts' or 'split'")


@dataclass
class ScratchOptions(HeadOptions):
    """Scratch backbone (hashed n-gram bag): hash buckets, embedding width, n-gram order, hidden width (0: none)."""

    scratch_buckets: int = 2**18
    scratch_dim: int = 64
    scratch_ngrams: int = 2
    scratch_hidden: int = 0

    def validate(self, params: "TrainParams") -> None:
        for name, low, high in (("scratch_buckets", 1, 2**32), ("scratch_dim", 1, None),
                                ("scratch_ngrams", 1, 5), ("scratch_hidden", 0, None)):
            value = getattr(self, name)
            if not _is_int(value) or value < low or (high is not None and value > high):
                raise ParameterError(name, value, f"an integer >= {low}" + (f" and <= {high}" if high else ""))


@dataclass
class ProbeQAOptions(QAOptions, ProbeOptions):
    """Extractive QA on the probe backbone: the options of both (windows and span length; the probe's)."""

    def validate(self, params: "TrainParams") -> None:
        QAOptions.validate(self, params)
        ProbeOptions.validate(self, params)


#: every option class, to map a flat key to its class in error messages
OPTION_CLASSES: tuple[type[HeadOptions], ...] = (QAOptions, SummarizationOptions, ProbeOptions, ScratchOptions)
