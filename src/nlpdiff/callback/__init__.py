"""Record training dynamics during your own Hugging Face ``Trainer`` run.

:class:`DynamicsCallback` is a :class:`transformers.TrainerCallback`. Add it to a ``Trainer`` that
trains a **sequence-classification** model and it writes the same run directory as
:func:`nlpdiff.dynamics.train` (see :mod:`nlpdiff.rundir`), so every later stage (scores, plots,
analyses) reads it unchanged::

    from nlpdiff import DynamicsCallback

    callback = DynamicsCallback("runs/my-sst2")
    trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
                      data_collator=collator, compute_metrics=..., callbacks=[callback])
    trainer.train()
    run = nlpdiff.rundir.load_run("runs/my-sst2")

Nothing else to call: at the start of training the callback takes the training set and the data
collator from the ``train_dataloader`` that the ``Trainer`` hands to every callback event (the
training set as the model sees it, after ``remove_unused_columns``). Pass ``train_dataset=`` to
record another dataset instead, or the one you gave the ``Trainer`` with its text columns: the
columns the model's ``forward`` does not accept are dropped before collating (as the ``Trainer``
does), and the scalar ones (``sentence``, ``idx``, ...) go into ``samples.parquet``.

What it records, at each checkpoint (``every="epoch"``: each epoch end; ``every=N``: every N
optimiser steps): a separate forward pass over the whole training set with the model in eval mode
(dropout off, no gradient), in the dataset's order (when the dataset has ``input_ids``: batched by
length, and on a CPU a batch cut where its padding costs more than another call,
:func:`nlpdiff.recording.length_batches`), as in the action-score code of Arriaga et al. (2023). Per sample:
:func:`nlpdiff.models.classification.classification_stats` (``loss``, ``gold_prob``,
``correct``, ``margin``, ``entropy``, ``el2n``). The callback is a thin adapter: it feeds the
Trainer's checkpoints to the same :class:`nlpdiff.recording.EvalPass` handler and
:class:`nlpdiff.recording.Recorder` as nlpdiff's own loop, and writes with the same
:class:`nlpdiff.rundir.RunWriter` (``run.json`` kind ``"trainer_callback"``); the run is listed by
:func:`nlpdiff.compare.run_index` with the other runs.
``sample_id`` is the position in the recorded dataset; the label is read from the collated batch's
``label_column``.

Files (atomic writes; ``run.json`` last with ``"status": "complete"``): ``samples.parquet``
(``sample_id``, the dataset's scalar columns, ``label``, ``original_label`` = ``label``,
``is_corrupted`` = False, ``n_tokens``), ``dynamics.parquet`` (``pass == "eval"`` rows only),
``scores.parquet`` (:func:`nlpdiff.scores.compute_scores`), ``metrics.json`` (per checkpoint: the
mean eval-pass loss and accuracy on the training set, and the ``Trainer``'s own evaluation metrics
of the same step renamed ``eval_x`` -> ``heldout_x``; every evaluation is also listed under
``"evaluations"``), ``run.json`` (callback parameters, the ``TrainingArguments``, versions,
hardware, wall time).

Not supported, with an error at the start of training rather than a wrong run directory:

* models other than single-label sequence classification (extractive QA such as
  ``BertForQuestionAnswering``, seq2seq or causal LMs for summarization, token classification,
  regression and multi-label ``problem_type``): use :func:`nlpdiff.dynamics.train` for QA and
  summarization;
* distributed training (``world_size > 1``) and iterable datasets (no length, no stable sample id).

Also not recorded (the engine :func:`nlpdiff.dynamics.train` does them): the training-pass rows
(``pass == "train"``; the ``Trainer``'s shuffled batches carry no sample id), VoG, label noise.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from transformers import TrainerCallback

from nlpdiff import engine, rundir
from nlpdiff.callback.inputs import (
    _LABEL_NAMES,
    _check_dataset,
    _check_model,
    _forward_args,
    _lengths,
    _scalar_columns,
    check_dataset_inputs,
)
from nlpdiff.engine import State
from nlpdiff.errors import ParameterError
from nlpdiff.models.classification import classification_stats
from nlpdiff.recording import STAT_COLUMNS, EvalPass, Recorder
from nlpdiff.scores import compute_scores


class DynamicsCallback(TrainerCallback):
    """A ``transformers.TrainerCallback`` that writes an nlpdiff run directory (see the module doc).

    Args:
        output_dir: the run directory to write (created; an earlier ``run.json`` in it is removed
            when training starts, so an interrupted run is never trusted).
        train_dataset: the dataset to record (map-style, with a length). Default: the ``Trainer``'s
            training set, as its ``train_dataloader`` holds it.
        label_column: the key of the gold label in a collated batch (``DataCollatorWithPadding``
            and ``default_data_collator`` rename ``label`` to ``labels``).
        eval_batch_size: batch size of the recording pass.
        every: ``"epoch"`` (a checkpoint at each epoch end) or a positive integer N (a checkpoint
            every N optimiser steps).
        data_collator: the collator of the recording pass. Default: the ``Trainer``'s (from its
            ``train_dataloader``), else ``transformers.default_data_collator``.
        overwrite: replace a finished run in ``output_dir`` that was made otherwise (another kind of
            run, other callback parameters or training arguments, another model or dataset size).
            Without it such a folder is refused when training starts, before the first step; so are
            an unwritable folder and a dataset that fails :func:`check_dataset_inputs` (labels
            missing, strings or out of range, one class, empty texts).
    """

    def __init__(self, output_dir: str | os.PathLike, train_dataset=None, label_column: str = "labels",
                 eval_batch_size: int = 64, every: str | int = "epoch", data_collator=None,
                 overwrite: bool = False):
        if not output_dir:
            raise ParameterError("output_dir", output_dir, "a folder path for the run directory")
        if not isinstance(label_column, str) or not label_column:
            raise ParameterError("label_column", label_column, "the name of the label key in a collated batch")
        if not isinstance(eval_batch_size, (int, np.integer)) or isinstance(eval_batch_size, bool) or eval_batch_size < 1:
            raise ParameterError("eval_batch_size", eval_batch_size, "an integer >= 1")
        if every != "epoch" and (not isinstance(every, (int, np.integer)) or isinstance(every, bool) or every < 1):
            raise ParameterError("every", every, "'epoch' or an integer >= 1 (optimiser steps)")
        if train_dataset is not None:
            _check_dataset(train_dataset)
        self.output_dir = Path(output_dir)
        self.train_dataset = train_dataset
        self.label_column = label_column
        self.eval_batch_size = int(eval_batch_size)
        self.every = every if every == "epoch" else int(every)
        self.data_collator = data_collator
        self.overwrite = bool(overwrite)
        self.run: rundir.Run | None = None
        self._reset()

    # -- Trainer events ------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, model=None, train_dataloader=None, **kwargs):
        self._reset()
        if getattr(args, "world_size", 1) > 1:
            raise ParameterError("world_size", args.world_size, "1: DynamicsCallback records single-process runs only")
        _check_model(model)
        dataset = self.train_dataset
        if dataset is None:
            dataset = getattr(train_dataloader, "dataset", None)
            if dataset is None:
                raise ParameterError("train_dataset", None, "a dataset: the Trainer passed no train_dataloader",
                                     hint="pass DynamicsCallback(..., train_dataset=...)")
            _check_dataset(dataset)
        collator = self.data_collator or getattr(train_dataloader, "collate_fn", None)
        if collator is None:
            from transformers import default_data_collator

            collator = default_data_collator
        self._num_labels = int(getattr(model.config, "num_labels", 0) or 0) or None
        check_dataset_inputs(dataset, self.label_column, self._num_labels)
        self._check_output_dir(args, model, len(dataset))
        self._dataset, self._n = dataset, len(dataset)
        self._lengths = _lengths(dataset)
        # the same recorder and eval-pass handler as nlpdiff's own loop, on an adapter of the Trainer's model
        self._head = _TrainerModel(model, dataset, collator, self.label_column, args)
        self._recorder = Recorder(self._n, 0, 0, STAT_COLUMNS)
        lengths = self._lengths if self._lengths is not None else np.zeros(self._n, dtype=np.int64)
        # batches cut where padding costs more than a call, when the dataset has token lengths, on a CPU
        # (where that cost was measured: nlpdiff.dynamics.trims_padding)
        trim = self._lengths is not None and next(model.parameters()).device.type == "cpu"
        self._eval_pass = EvalPass(self._recorder, lengths, self.eval_batch_size, trim=trim)
        self._state = State(head=self._head, n_samples=self._n, epochs=0, plan=[], cuts=[], progress=False,
                            timings={"eval_pass": 0.0})
        self._writer = rundir.RunWriter(self.output_dir)
        self._out = self._writer.begin()

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        if self.every == "epoch":
            self._record(state)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if self.every != "epoch" and state.global_step % self.every == 0:
            self._record(state)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if metrics:
            row = {"step": int(state.global_step), "epoch": float(state.epoch or 0.0)}
            row.update({_heldout_name(k): _number(v) for k, v in metrics.items() if k != "epoch"})
            self._evaluations.append(row)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if self._out is None:
            return
        if not self._rows:
            raise ParameterError("every", self.every, "a schedule that reaches at least one checkpoint",
                                 hint=f"training ended at step {state.global_step} with none recorded")
        self._write(args, state, model)

    # -- the run-directory guard ----------------------------------------------------------------
    def _params(self) -> dict[str, Any]:
        return {"output_dir": str(self.output_dir), "label_column": self.label_column,
                "eval_batch_size": self.eval_batch_size, "every": self.every,
                "train_dataset": "given" if self.train_dataset is not None else "trainer"}

    def _check_output_dir(self, args, model, n: int) -> None:
        """Refuse (unless ``overwrite``) an output folder holding a finished run made otherwise: another kind
        of run, other callback parameters, other training arguments (paths aside), another model or
        dataset size. Then check that the folder can be written. Both before the first step."""
        from nlpdiff.dynamics import check_writable

        try:
            old = rundir.load_run(self.output_dir)
        except rundir.RunDirError:
            old = None
        if old is not None and not self.overwrite:
            new = {"kind": "trainer_callback", **self._params(), **_comparable_args(json.loads(args.to_json_string())),
                   "name_or_path": getattr(model.config, "name_or_path", None), "n_train": n}
            was = {"kind": old.info.get("kind"), **old.params, **_comparable_args(old.info.get("training_args", {})),
                   "name_or_path": old.info.get("resolved", {}).get("name_or_path"),
                   "n_train": old.info.get("resolved", {}).get("n_train")}
            what = rundir.param_differences(was, new, ignore=("output_dir",))
            if what:
                raise ParameterError("overwrite", False, f"overwrite=True to replace the finished run in "
                                     f"{self.output_dir}", hint=f"it was made with other parameters: {what}")
        check_writable(self.output_dir)

    # -- recording -----------------------------------------------------------------------------
    def _reset(self) -> None:
        self._out = None
        self._rows: list[dict[str, Any]] = []
        self._evaluations: list[dict[str, Any]] = []

    def _record(self, trainer_state) -> None:
        """A checkpoint: :func:`nlpdiff.engine.checkpoint` (the loop's dispatcher) with the shared
        :class:`~nlpdiff.recording.EvalPass` handler, fed the Trainer's step and epoch."""
        if self._out is None:  # pragma: no cover - on_train_begin always runs first
            raise RuntimeError("DynamicsCallback: on_train_begin was not called")
        if self._rows and self._rows[-1]["step"] == trainer_state.global_step:
            return  # already recorded at this step (every=N that divides an epoch end, ...)
        self._state.step = int(trainer_state.global_step)
        try:  # the loop's own dispatcher, as engine.fit calls it at each checkpoint
            row = engine.checkpoint(self._state, [self._eval_pass], float(trainer_state.epoch or 0.0))
        except FloatingPointError as exc:
            raise FloatingPointError(f"{exc} at step {trainer_state.global_step}") from None
        self._rows.append(dict(row))

    # -- writing -------------------------------------------------------------------------------
    def _samples(self) -> pd.DataFrame:
        samples = pd.DataFrame({"sample_id": np.arange(self._n, dtype=np.int64)})
        for name, values in _scalar_columns(self._dataset, self._n).items():
            if name not in ("sample_id", *_LABEL_NAMES, "original_label", "is_corrupted"):
                samples[name] = values
        samples["label"] = self._head.labels
        samples["original_label"] = self._head.labels
        samples["is_corrupted"] = False
        if self._lengths is not None:
            samples["n_tokens"] = self._lengths
        return samples

    def _write(self, args, state, model) -> None:
        timings = self._state.timings
        t = time.perf_counter()
        samples, dynamics = self._samples(), self._recorder.frame()
        scores = compute_scores(dynamics, samples=samples, num_classes=self._num_labels)
        self._writer.dynamics(samples, dynamics, scores)
        rows = []
        for row in self._rows:
            same_step = [e for e in self._evaluations if e["step"] == row["step"]]
            if same_step:
                row = {**row, **{key: v for key, v in same_step[-1].items() if key.startswith("heldout_")}}
            rows.append(row)
        metric = "heldout_accuracy" if any("heldout_accuracy" in r for r in rows) else (
            "heldout_loss" if any("heldout_loss" in r for r in rows) else "train_loss")
        self._writer.json("metrics.json", {
            "task": None,
            "kind": "classification",
            "source": "transformers.Trainer (nlpdiff.DynamicsCallback)",
            "heldout_split": "trainer eval_dataset" if self._evaluations else None,
            "metric": metric,
            "checkpoints": rows,
            "final": rows[-1],
            "evaluations": self._evaluations,
        })
        timings["write"] = time.perf_counter() - t
        timings["train"] = time.perf_counter() - self._writer.t0 - timings["eval_pass"] - timings["write"]
        self._writer.finish(
            "trainer_callback",
            self._params(),
            timings=timings,
            training_args=json.loads(args.to_json_string()),
            resolved={
                "model_class": type(model).__name__,
                "model_type": getattr(model.config, "model_type", None),
                "name_or_path": getattr(model.config, "name_or_path", None),
                "num_labels": self._num_labels,
                "n_parameters": sum(p.numel() for p in model.parameters()),
                "n_trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
                "device": str(next(model.parameters()).device),
                "n_train": self._n,
                "n_checkpoints": len(self._rows),
                "global_step": int(state.global_step),
                "max_steps": int(state.max_steps),
                "skipped_scores": dict(scores.attrs.get("skipped", {})),
            },
        )
        self.run = rundir.load_run(self._out)


class _TrainerModel:
    """The Trainer's model seen as a head by :class:`~nlpdiff.recording.EvalPass`: ``forward(idx, train=False)``
    collates the samples at ``idx``, runs the model and returns the classification statistics of
    its logits; it remembers each sample's label (which must not change between checkpoints)."""

    def __init__(self, model, dataset, collator, label_column: str, args):
        self.model, self.dataset, self.collator = model, dataset, collator
        self.label_column, self.args = label_column, args
        self.forward_args = _forward_args(model)
        self.labels = np.full(len(dataset), -1, dtype=np.int64)
        self._seen = np.zeros(len(dataset), dtype=bool)

    def _batch(self, idx):
        import torch

        keep = self.forward_args | {self.label_column, *_LABEL_NAMES}
        items = []
        for i in idx:
            item = self.dataset[int(i)]
            if isinstance(item, Mapping):
                item = {k: v for k, v in item.items() if k in keep}
            items.append(item)
        batch = self.collator(items)
        if not isinstance(batch, Mapping) or self.label_column not in batch:
            keys = sorted(batch) if isinstance(batch, Mapping) else type(batch).__name__
            raise ParameterError("label_column", self.label_column, f"a key of the collated batch ({keys})")
        return {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}

    def forward(self, idx, train: bool = False):
        device = next(self.model.parameters()).device
        batch = self._batch(idx)
        gold = batch.pop(self.label_column).to(device).long().view(-1)
        inputs = {k: v.to(device) for k, v in batch.items() if k in self.forward_args}
        with _autocast(self.args, device):
            logits = self.model(**inputs).logits
        if logits.dim() != 2 or logits.shape[0] != len(idx):
            raise ParameterError(
                "model", type(self.model).__name__,
                "a sequence-classification model whose logits have shape (batch, num_labels)",
                hint=f"got logits of shape {tuple(logits.shape)}",
            )
        labels = gold.cpu().numpy()
        seen = self._seen[idx]
        if seen.any() and not np.array_equal(self.labels[idx][seen], labels[seen]):
            raise ParameterError("train_dataset", "changed", "the same labels at every checkpoint")
        self.labels[idx], self._seen[idx] = labels, True
        return None, classification_stats(logits, gold)


# -- helpers ---------------------------------------------------------------------------------------




#: Training arguments that name places or runs, not how the model is trained: ignored by the guard.
_PATH_ARGS = ("output_dir", "logging_dir", "run_name", "hub_model_id", "hub_token", "push_to_hub_token")


def _comparable_args(training_args: Mapping[str, Any]) -> dict[str, Any]:
    return {f"args.{k}": v for k, v in training_args.items() if k not in _PATH_ARGS}














def _autocast(args, device):
    import contextlib

    import torch

    if device.type == "cuda" and getattr(args, "bf16", False):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if device.type == "cuda" and getattr(args, "fp16", False):
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def _heldout_name(key: str) -> str:
    return "heldout_" + (key[len("eval_"):] if key.startswith("eval_") else key)


def _number(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


__all__ = ["DynamicsCallback", "check_dataset_inputs"]
