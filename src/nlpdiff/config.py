"""Configuration of a training run: the loop's parameters, and each head's own options.

A run is described by two typed objects:

* :class:`TrainParams`: what the training loop needs for every task (task, backbone, sizes,
  epochs, batch sizes, optimiser, seeds, splits, label noise, checkpoints, VoG, device, folders);
* its ``options``: the options of the head that serves ``(task kind, backbone)``, one small
  dataclass per head family: :class:`QAOptions` (``doc_stride``, ``max_answer_length``),
  :class:`SummarizationOptions` (``max_target_length``, ``generation_max_tokens``),
  :class:`ProbeOptions` (``probe_*``), :class:`ScratchOptions` (``scratch_*``),
  :class:`ProbeQAOptions` (both QA and probe options), or :class:`NoOptions`. A head names its class in ``Head.options_class``.

Notebooks, the Snakefile and ``run.json`` speak in *flat* parameters (``task=sst2``,
``epochs=2``, ``doc_stride=64``, ``probe_hidden=128``): :func:`from_flat` turns such a dict into
the typed configuration (and names any unknown key), :meth:`TrainParams.flat` turns it back.
:meth:`TrainParams.validate` checks every option, including the head's and the backbone/VoG
combination, before any data is loaded or any weight trained.

The arrows point one way: this module imports the heads' registry and their options
(:mod:`nlpdiff.models`, :mod:`nlpdiff.models.options`); no head imports it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Mapping


from nlpdiff import tasks
from nlpdiff.checks import _is_int, _is_number, positive_int  # noqa: F401  (also re-exported)
from nlpdiff.errors import ParameterError
from nlpdiff.models import get_head
from nlpdiff.models.hub import resolve_model
# each head declares its own options (nlpdiff.models.options); re-exported here, where runs are configured
from nlpdiff.models.options import (OPTION_CLASSES, HeadOptions, NoOptions, ProbeOptions, ProbeQAOptions,  # noqa: F401
                                    QAOptions, ScratchOptions, SummarizationOptions)
from nlpdiff.runtime import pick_device, seed_everything  # noqa: F401  (re-exported)


# -- the loop's parameters --------------------------------------------------------------------------

#: the optimisers a run can use (``TrainParams.optimizer``): name -> what it is
OPTIMIZERS = {
    "adamw_fused": "torch.optim.AdamW(fused=True), the fused kernel (transformers.Trainer's default)",
    "adamw": "torch.optim.AdamW with torch's default path (single-tensor on a CPU, foreach on CUDA)",
}


@dataclass
class TrainParams:
    """Parameters of the training loop, for every task; the head's own options are in ``options``.

    ``seed`` drives the model (initialisation, shuffling, dropout); ``data_seed`` drives which
    samples are drawn and which labels are corrupted, so runs with different ``seed`` and the same
    ``data_seed`` score the same samples. ``train_split`` (default: the task's) and ``eval_split``
    (``"default"``: the task's; ``None``: no held-out evaluation) choose the splits.
    ``options`` is None until :meth:`validate` fills in the head's defaults.
    """

    task: str = "sst2"
    backbone: str = "finetune"
    model: str | None = "minilm"
    train_size: int | None = 2000
    eval_size: int | None = None
    epochs: int = 3
    batch_size: int = 32
    eval_batch_size: int = 128
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    #: "adamw_fused" (torch's fused AdamW kernel, as ``transformers.Trainer`` uses; the default for new
    #: runs, issue 23) or "adamw" (torch's default AdamW path: the single-tensor loop on a CPU, foreach on
    #: CUDA), the path of every run recorded before this field existed and of the study's committed parts
    optimizer: str = "adamw_fused"
    #: True: batches of similar length (:class:`nlpdiff.samplers.LengthGroupedSampler`; less padding, faster
    #: steps); False: the shuffled batches of :class:`~nlpdiff.samplers.ShuffledSampler` (the study's runs)
    length_grouped: bool = False
    #: True (the default for new runs, issue 23): a head that pads each batch to its longest sample (fine-tuned
    #: classification, extractive QA, summarization) computes a training batch in pieces of similar length,
    #: each padded to its own longest sample (:func:`nlpdiff.engine.padding_pieces`): the same batches, mean
    #: loss and optimiser steps, far less padding; the dropout draws differ, as in a rerun. False: one padded
    #: forward pass per batch, the path of every run recorded before this field existed and of the study's
    #: committed parts. No effect on the probe and scratch heads, nor on an accelerator (``dynamics.trims_padding``).
    trim_padding: bool = True
    max_length: int = 64
    seed: int = 0
    data_seed: int = 0
    train_split: str | None = None
    eval_split: str | None = "default"
    noise_rate: float = 0.0
    noise_type: str = "uniform"
    #: 2: the default 3 epochs give 6 checkpoints, enough that scores which coincide by construction
    #: at 3 (EL2N and early action at one checkpoint) differ (issue 9)
    checkpoints_per_epoch: int = 2
    vog: bool = False
    device: str = "auto"
    data_dir: str | None = None
    output_dir: str = "runs/sentiment"
    options: HeadOptions | None = None

    #: names of the loop's own fields (everything but ``options``)
    LOOP_FIELDS: ClassVar[tuple[str, ...]] = ()

    def head_class(self):
        """The head class that serves this run's task kind and backbone (or a :class:`ParameterError`)."""
        return get_head(tasks.get_task(self.task).kind, self.backbone)

    def validate(self) -> "TrainParams":
        """Check every parameter and the head's options; raise :class:`ParameterError` on the first bad one.

        Fills ``options`` with the head's defaults when it is None. Returns ``self``.
        """
        spec = tasks.get_task(self.task)
        self._check_splits(spec)
        head_class = self.head_class()
        self._check_training(head_class)
        self._check_noise(spec)
        self._check_place_and_options(spec, head_class)
        # Data folder and model are checked here too, so that nothing trains on a bad path.
        tasks.check_task_data(spec, self.splits(), self.data_dir, train_size=self.train_size,
                              batch_size=self.batch_size)
        if self.backbone != "scratch":
            resolve_model(self.model)
        return self

    def _check_splits(self, spec) -> None:
        """The task has a training split (its own or ``train_split``); the splits named exist."""
        if self.train_split is None and spec.train_split is None:
            trainable = sorted(n for n, t in tasks.TASKS.items() if t.train_split is not None)
            raise ParameterError("task", self.task, f"a task with a training split: one of {trainable}",
                                 hint="or name one with train_split")
        for name in ("train_split", "eval_split"):
            value = getattr(self, name)
            if value not in (None, "default") and value not in spec.splits:
                raise ParameterError(name, value, f"one of the splits of {spec.name}: {list(spec.splits)}")

    def _check_training(self, head_class) -> None:
        """VoG, the loop's sizes and counts, the optimiser's numbers, the seeds."""
        if not isinstance(self.vog, bool):
            raise ParameterError("vog", self.vog, "True or False")
        if self.vog and not head_class.supports_vog:
            raise ParameterError("vog", True, f"False for the {self.backbone} backbone",
                                 hint=head_class.vog_unsupported_reason or None)
        for name in ("epochs", "batch_size", "eval_batch_size", "max_length", "checkpoints_per_epoch"):
            positive_int(name, getattr(self, name))
        if self.vog and self.epochs * self.checkpoints_per_epoch < 2:
            raise ParameterError("vog", True, "False, or at least 2 checkpoints (epochs x checkpoints_per_epoch)",
                                 hint="VoG is a variance over checkpoints")
        if self.train_size is not None:
            positive_int("train_size", self.train_size, also="or None for the whole split")
        if self.eval_size is not None:
            positive_int("eval_size", self.eval_size, also="or None for the whole split")
        if not _is_number(self.learning_rate) or not self.learning_rate > 0:
            raise ParameterError("learning_rate", self.learning_rate, "a number > 0")
        if not _is_number(self.weight_decay) or self.weight_decay < 0:
            raise ParameterError("weight_decay", self.weight_decay, "a number >= 0")
        if not _is_number(self.warmup_ratio) or not 0 <= self.warmup_ratio < 1:
            raise ParameterError("warmup_ratio", self.warmup_ratio, "a number in [0, 1)")
        if not isinstance(self.length_grouped, bool):
            raise ParameterError("length_grouped", self.length_grouped, "True or False")
        if not isinstance(self.trim_padding, bool):
            raise ParameterError("trim_padding", self.trim_padding, "True or False")
        if self.optimizer not in OPTIMIZERS:
            raise ParameterError("optimizer", self.optimizer, f"one of {list(OPTIMIZERS)}")
        for name in ("seed", "data_seed"):
            value = getattr(self, name)
            if not _is_int(value) or value < 0:
                raise ParameterError(name, value, "an integer >= 0")

    def _check_noise(self, spec) -> None:
        """The noise rate and kind, for this task."""
        if not _is_number(self.noise_rate) or not 0 <= self.noise_rate < 1:
            raise ParameterError("noise_rate", self.noise_rate, "a number in [0, 1)")
        if self.noise_type not in tasks.NOISE_KINDS:
            raise ParameterError("noise_type", self.noise_type, f"one of {list(tasks.NOISE_KINDS)}")
        if self.noise_rate > 0 and spec.clean_label is not None:
            raise ParameterError("noise_rate", self.noise_rate, f"0 for task {spec.name!r}, whose labels carry real errors",
                                 hint="for synthetic noise on the same texts use a task on the clean labels (noisy_agnews_clean)")
        if self.noise_rate > 0 and self.noise_type == "empirical" and spec.human_label is None:
            raise ParameterError("noise_type", "empirical", f"'uniform' or 'class_conditional' for task {spec.name!r}",
                                 hint="'empirical' copies the confusion of human labels; it needs a task with them "
                                      "beside the true labels (noisy_agnews_clean)")
        if self.noise_rate > 0 and spec.kind != "classification" and self.noise_type != "uniform":
            # QA: moved answers, summarization: swapped summaries (tasks.corrupt_targets), drawn uniformly
            raise ParameterError("noise_type", self.noise_type, f"'uniform' for a {spec.kind} task",
                                 hint="class-conditional noise needs classes")

    def _check_place_and_options(self, spec, head_class) -> None:
        """The device, the run folder, and the head's own options (filled with its defaults when None)."""
        if self.device not in ("auto", "cpu") and not str(self.device).startswith(("cuda", "mps")):
            raise ParameterError("device", self.device, "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")
        if not self.output_dir:
            raise ParameterError("output_dir", self.output_dir, "a folder path for the run directory")
        # the head's own options
        wanted = head_class.options_class
        if self.options is None:
            self.options = wanted()
        if type(self.options) is not wanted:
            raise ParameterError("options", type(self.options).__name__,
                                 f"{wanted.__name__} for the {spec.kind} head on the {self.backbone} backbone")
        self.options.validate(self)

    def splits(self) -> tuple[str, str | None]:
        """The (training, held-out) splits this run uses."""
        return tasks.resolve_splits(self.task, self.train_split, self.eval_split)

    def flat(self) -> dict[str, Any]:
        """The loop's fields and the head's options in one flat, JSON-able dict (``run.json``'s ``params``).

        :func:`from_flat` reads it back. Call after :meth:`validate` (which fills the options).
        """
        out = {name: getattr(self, name) for name in TrainParams.LOOP_FIELDS}
        if self.options is not None:
            out.update(asdict(self.options))
        return out

    def replace(self, **changes) -> "TrainParams":
        """A copy with some loop fields (or head options, by their flat names) changed."""
        return from_flat({**self.flat(), **changes})


TrainParams.LOOP_FIELDS = tuple(f.name for f in fields(TrainParams) if f.name != "options")


def from_flat(values: Mapping[str, Any]) -> TrainParams:
    """The typed configuration of a flat parameter dict (notebook parameters, ``-p`` options, ``run.json``).

    Keys that are fields of :class:`TrainParams` go to the loop; the others must be options of the
    head that serves the task and backbone (for example ``doc_stride`` for extractive QA): any
    other key raises a :class:`ParameterError` that names it. The result is validated.

    For example ``from_flat({"task": "squad", "epochs": 2, "doc_stride": 64})`` gives a
    :class:`TrainParams` whose ``options`` is ``QAOptions(doc_stride=64, max_answer_length=30)``,
    while ``from_flat({"task": "sst2", "doc_stride": 64})`` raises a :class:`ParameterError` naming
    ``doc_stride`` (an option of :class:`QAOptions`, not of the SST-2 classification head).
    """
    if not isinstance(values, Mapping):
        raise ParameterError("parameters", type(values).__name__, "a mapping of parameter names to values")
    loop = {k: v for k, v in values.items() if k in TrainParams.LOOP_FIELDS}
    rest = {k: v for k, v in values.items() if k not in TrainParams.LOOP_FIELDS}
    params = TrainParams(**loop)
    head_class = params.head_class()
    wanted = head_class.options_class
    names = {f.name for f in fields(wanted)}
    for key in rest:
        if key not in names:
            owner = [c.__name__ for c in OPTION_CLASSES if key in {f.name for f in fields(c)}]
            allowed = f"a loop parameter ({', '.join(TrainParams.LOOP_FIELDS)})"
            if names:
                allowed += f" or an option of this head ({', '.join(sorted(names))})"
            hint = (f"{key} is an option of {owner[0]}, not of the {head_class.__name__}" if owner
                    else "unknown parameter")
            raise ParameterError(key, values[key], allowed, hint=hint)
    params.options = wanted(**rest)
    return params.validate()


__all__ = [
    "HeadOptions", "NoOptions", "OPTION_CLASSES", "ProbeOptions", "ProbeQAOptions", "QAOptions", "ScratchOptions",
    "SummarizationOptions", "TrainParams", "from_flat", "pick_device", "positive_int", "seed_everything",
]
