"""The interface between the training loop and a task's model: a *head*.

A head owns one task's model (backbone and output layer), how its samples are encoded, and how a
batch of samples turns into per-sample losses and statistics. The loop (:mod:`nlpdiff.engine`,
composed by :func:`nlpdiff.dynamics.train`) owns everything else (optimiser, sampling, checkpoints,
recording, timing, the run directory), so every task is trained and recorded the same way.

A head's own options (for example ``doc_stride`` for extractive QA) are a dataclass of
:mod:`nlpdiff.config` named by :attr:`Head.options_class`; the head reads them as
``self.options`` and the loop's parameters as ``self.params``. A head does not seed random
generators: the loop seeds once, right before :meth:`Head.build`, so a head must create its new
weights before anything else in ``build`` draws random numbers.

A head is registered for a ``(task kind, backbone)`` pair with :func:`register_head` and found with
:func:`get_head`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from nlpdiff.models.options import HeadOptions, NoOptions
from nlpdiff import schema
from nlpdiff.errors import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from nlpdiff.config import TrainParams
    from nlpdiff.tasks import TaskSpec

#: Statistics every head records per sample and checkpoint (:mod:`nlpdiff.schema`).
BASE_STATS = schema.BASE_STATS

BACKBONES = ("finetune", "probe", "scratch")


class Head(ABC):
    """One task's model, data encoding and per-sample statistics.

    Lifecycle: ``head = Head(spec, params, device)``; ``kept = head.build(samples, heldout)``
    (load the model, encode the data; returns the training samples it kept, see below); then the
    loop calls :meth:`forward` on batches of sample positions, :meth:`evaluate` at each checkpoint
    and, when VoG is on, :meth:`gold_output`.

    ``build`` may drop training samples it cannot use (for example a QA sample whose answer was
    truncated away); it returns the kept rows, and :attr:`skipped` says how many were dropped and
    why, for ``run.json``. Sample positions passed to :meth:`forward` index the kept rows.
    """

    #: task kind of :mod:`nlpdiff.tasks` this head serves
    kind: ClassVar[str] = ""
    #: backbone name (one of :data:`BACKBONES`)
    backbone: ClassVar[str] = ""
    #: statistics returned by :meth:`forward`, besides those of :data:`BASE_STATS`
    extra_stats: ClassVar[tuple[str, ...]] = ()
    #: the held-out metric the learning curve shows first
    heldout_metric: ClassVar[str] = ""
    #: whether :meth:`gold_output` exists (VoG); if not, the reason, for the error message
    supports_vog: ClassVar[bool] = True
    vog_unsupported_reason: ClassVar[str] = ""
    #: whether :meth:`forward` pads a batch to its longest sample, so that ``TrainParams.trim_padding`` computes
    #: training batches in pieces of similar length (:func:`nlpdiff.engine.padding_pieces`)
    pads_to_longest: ClassVar[bool] = False
    #: the dataclass of this head's own options (see :mod:`nlpdiff.config`)
    options_class: ClassVar[type[HeadOptions]] = NoOptions

    def __init__(self, spec: "TaskSpec", params: "TrainParams", device: "torch.device"):
        self.spec = spec
        self.params = params
        self.options = params.options if params.options is not None else self.options_class()
        self.device = device
        self.model: "torch.nn.Module | None" = None
        self.skipped: dict[str, int] = {}

    @property
    def stat_columns(self) -> tuple[str, ...]:
        return BASE_STATS + tuple(self.extra_stats)

    @abstractmethod
    def build(self, samples: pd.DataFrame, heldout: pd.DataFrame) -> pd.DataFrame:
        """Load the model and encode the data; return the training samples kept (see class doc)."""

    @abstractmethod
    def forward(self, idx: np.ndarray, train: bool) -> tuple["torch.Tensor", dict[str, np.ndarray]]:
        """Per-sample losses (shape ``(len(idx),)``, differentiable when ``train``) and statistics.

        The statistics are numpy arrays of length ``len(idx)`` for every name of
        :attr:`stat_columns`. When ``train`` is false the loop has put the model in eval mode and
        disabled gradients.
        """

    #: also evaluate the held-out set before the first training step (``metrics.json``
    #: ``before_training``), so that a page can say whether training improved on the starting model
    evaluate_before_training: bool = False

    @abstractmethod
    def evaluate(self, point: str = "checkpoint") -> dict[str, float]:
        """Held-out quality of the current model (must include :attr:`heldout_metric`).

        ``point`` says when: ``"before"`` (before training), ``"checkpoint"`` or ``"last"`` (the
        last checkpoint); a head may skip costly metrics at some points (their value is nan).
        """

    def lengths(self) -> np.ndarray:
        """Length of each kept training sample (tokens), to batch the recording pass by length."""
        raise NotImplementedError

    def parameters(self):
        """The trainable parameters (default: every parameter of :attr:`model`)."""
        return [p for p in self.model.parameters() if p.requires_grad]

    def gold_output(self, idx: np.ndarray) -> tuple["torch.Tensor", "torch.Tensor", "torch.Tensor"]:
        """For VoG: ``(gold, embeds, mask)``.

        ``gold`` has shape ``(B,)``: the model's output for the gold target (pre-softmax gold logit;
        gold start + end logits; gold-sequence log-likelihood), computed from ``embeds``, the input
        word embeddings ``(B, L, D)`` with ``requires_grad``; ``mask`` ``(B, L)`` marks real tokens.
        """
        raise ParameterError("vog", True, f"a head that supports VoG ({type(self).__name__} does not)")

    def sample_columns(self) -> dict[str, np.ndarray]:
        """Extra per-sample columns for ``samples.parquet`` (for example ``n_tokens``)."""
        return {}

    def extra_tables(self) -> dict[str, pd.DataFrame]:
        """Tables of the head's own that the run writer puts in the run folder (``<name>.parquet``), written
        with the dynamics, before ``run.json``; none by default."""
        return {}

    def describe(self) -> dict[str, Any]:
        """What was built (model source, class, parameter counts) for ``run.json``."""
        n_params = sum(p.numel() for p in self.model.parameters()) if self.model is not None else 0
        n_train = sum(p.numel() for p in self.parameters()) if self.model is not None else 0
        return {"model_class": type(self.model).__name__, "n_parameters": n_params, "n_trainable": n_train}


_HEADS: dict[tuple[str, str], type[Head]] = {}


def register_head(cls: type[Head]) -> type[Head]:
    """Class decorator: register ``cls`` for ``(cls.kind, cls.backbone)``."""
    _HEADS[(cls.kind, cls.backbone)] = cls
    return cls


def get_head(kind: str, backbone: str) -> type[Head]:
    """The head class for a task kind and a backbone, or a :class:`ParameterError`."""
    from nlpdiff import models  # noqa: F401  (imports every head module, which registers them)

    if backbone not in BACKBONES:
        raise ParameterError("backbone", backbone, f"one of {list(BACKBONES)}")
    if (kind, backbone) not in _HEADS:
        allowed = sorted(b for k, b in _HEADS if k == kind)
        raise ParameterError("backbone", backbone, f"a backbone available for {kind} tasks: {allowed}")
    return _HEADS[(kind, backbone)]


def available_heads() -> list[tuple[str, str]]:
    from nlpdiff import models  # noqa: F401

    return sorted(_HEADS)
