"""Train a model on a task and record per-sample training dynamics: :func:`train`.

:func:`train` composes the pieces: the run's configuration (:mod:`nlpdiff.config`), the data
(:func:`prepare_data`), a *head* of :mod:`nlpdiff.models` (classification, extractive QA or
summarization, on a ``finetune``, ``probe`` or ``scratch`` backbone), a sampler
(:mod:`nlpdiff.samplers`: what each step trains on), the loop (:func:`nlpdiff.engine.fit`) and its
handlers (:mod:`nlpdiff.recording`: eval pass, training-pass statistics, VoG, held-out evaluation),
and the run writer (:class:`nlpdiff.rundir.RunWriter`). At every checkpoint (by default the end of
each epoch; ``checkpoints_per_epoch`` for more) it records, for every training sample, the
statistics every difficulty score needs (see :mod:`nlpdiff.recording`); the result is a run
directory (:mod:`nlpdiff.rundir`)::

    from nlpdiff.config import from_flat
    from nlpdiff.dynamics import train

    params = from_flat({"task": "sst2", "backbone": "probe", "train_size": 500, "epochs": 3,
                        "probe_hidden": 128, "output_dir": "runs/sst2-probe"})
    run = train(params)
    run.scores.head()
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from nlpdiff import rundir, tasks
from nlpdiff.config import TrainParams, from_flat, pick_device, seed_everything
from nlpdiff.engine import Handler, State, adamw, fit, linear_warmup, padding_pieces, plan_state
from nlpdiff.errors import ParameterError
from nlpdiff.scores import compute_scores
from nlpdiff.recording import (STAT_COLUMNS, EvalPass, HeldoutEvaluation, MetricsRows, Recorder, TrainPass,
                               VogAccumulator, VogPass)
from nlpdiff.samplers import LengthGroupedSampler, Sampler, ShuffledSampler


def prepare_data(params: TrainParams):
    """``(spec, samples, heldout)`` of a run: :func:`nlpdiff.tasks.prepare_training_data` with the
    run's parameters (see there for the columns and the input checks)."""
    return tasks.prepare_training_data(
        params.task, params.train_split, params.eval_split, train_size=params.train_size,
        eval_size=params.eval_size, data_seed=params.data_seed, noise_rate=params.noise_rate,
        noise_type=params.noise_type, data_dir=params.data_dir, batch_size=params.batch_size,
    )


def train(params: TrainParams, progress: bool = True, heldout: bool = True,
          sampler: Sampler | Callable[[int], Sampler] | None = None, overwrite: bool = False,
          handlers: Sequence[Handler] = ()) -> rundir.Run:
    """Train ``params.backbone`` on ``params.task`` and write its run directory; return the run.

    Every parameter is validated before any data is loaded or any weight is trained. ``sampler``
    decides what each step trains on (default: :class:`~nlpdiff.samplers.ShuffledSampler`, every
    sample once per epoch); pass a sampler, or a function of the number of training samples that
    returns one (the head may drop samples it cannot use). Positions index the prepared training
    samples (:func:`prepare_data`). ``heldout=False`` skips the held-out evaluation. The returned
    run carries the trained head as ``run.head`` (for predictions), which is not saved to disk.

    No finished run is replaced silently: when ``params.output_dir`` already holds a complete run
    made with other parameters or data, it is refused with a :class:`ParameterError` (before
    anything is loaded) unless ``overwrite=True`` (:func:`check_output_dir`); a run with the same
    parameters and data is trained again. The folder must be writable (checked first, too).

    ``handlers``: more loop handlers (:class:`~nlpdiff.engine.Handler`), fired after the recording
    ones and before the run is written, so that what they write at ``on_fit_end`` is in the folder
    before ``run.json`` marks it complete.
    """
    import torch

    params.validate()
    created = not Path(params.output_dir).exists()
    check_output_dir(params, overwrite=overwrite)
    writer = rundir.RunWriter(params.output_dir)
    writer.begin()
    t = time.perf_counter()
    try:
        spec, samples, held = prepare_data(params)  # the data checks: empty texts, one class, too few rows
    except ParameterError:
        if created and not any(Path(params.output_dir).iterdir()):
            Path(params.output_dir).rmdir()  # no empty run folder left behind
        raise
    timings = {"load_data": time.perf_counter() - t}

    t = time.perf_counter()
    device = pick_device(params.device)
    head = params.head_class()(spec, params, device)
    seed_everything(params.seed)  # the run's only seeding: the head's new weights, then dropout
    n_loaded = len(samples)
    samples = head.build(samples, held).reset_index(drop=True)
    samples["sample_id"] = np.arange(len(samples), dtype=np.int64)
    for name, values in head.sample_columns().items():
        samples[name] = values
    timings["build"] = time.perf_counter() - t
    if len(samples) == 0:
        raise ParameterError("train_size", params.train_size, "a sample that the model can use",
                             hint=f"every sample was skipped: {head.skipped}")

    n, lengths = len(samples), head.lengths()
    if sampler is None:
        sampler = (LengthGroupedSampler(lengths, params.batch_size, params.seed) if params.length_grouped
                   else ShuffledSampler(n, params.batch_size, params.seed))
    elif not isinstance(sampler, Sampler):
        sampler = sampler(n)
    # trim_padding: training batches in pieces of similar length, and recording batches cut the same way
    state = plan_state(head, sampler, params.epochs, params.checkpoints_per_epoch, n, device=device,
                       autocast=device.type == "cuda" and torch.cuda.is_bf16_supported(), progress=progress,
                       timings={**timings, "eval_pass": 0.0, "heldout": 0.0, "vog": 0.0},
                       pieces=padding_pieces(lengths) if trims_padding(params, head, device) else None)
    recorder = Recorder(n, state.n_checkpoints, params.epochs, head.stat_columns)
    vog = VogPass(lengths, params.eval_batch_size) if params.vog else None
    rows = MetricsRows()
    loop: list[Handler] = [TrainPass(recorder), EvalPass(recorder, lengths, params.eval_batch_size,
                                                         trim=state.pieces is not None),
                           *([vog] if vog else []), *([HeldoutEvaluation()] if heldout and len(held) else []),
                           rows, *handlers, WriteTrainingRun(writer, params, samples, held, recorder, rows, vog,
                                                             sampler, n_loaded)]

    optimizer = adamw(head, params.learning_rate, params.weight_decay, fused=params.optimizer == "adamw_fused")
    scheduler = linear_warmup(optimizer, params.warmup_ratio, state.total_steps)
    fit(state, sampler, optimizer, scheduler, loop)
    run = rundir.load_run(params.output_dir)
    run.head = head
    return run


def trims_padding(params: TrainParams, head, device) -> bool:
    """Whether a run computes its batches in pieces (``TrainParams.trim_padding``): asked for, on a head that
    pads a batch to its longest sample, on a CPU. The fixed cost of a call (:data:`nlpdiff.engine.
    PIECE_OVERHEAD_TOKENS`) was measured on a CPU; on an accelerator a call costs far more tokens' worth
    (unmeasured here), so its batches stay whole."""
    return bool(params.trim_padding and head.pads_to_longest and getattr(device, "type", str(device)) == "cpu")


def data_source(params: TrainParams) -> dict[str, Any]:
    """Where a run's data comes from: the resolved data folder (or the hub) and the task's own source.

    Recorded in ``run.json`` as ``data`` and compared by :func:`load_or_train`, so that a run made
    from other data (another ``NLPDIFF_DATA_DIR``, another user file) is not reused.
    """
    data_dir = tasks.resolve_data_dir(params.data_dir)
    return {"data_dir": str(Path(data_dir).resolve()) if data_dir is not None else "hub",
            "task_source": tasks.data_source(tasks.get_task(params.task), params.data_dir)}


class WriteTrainingRun(Handler):
    """At the end of training, the run directory of :func:`train` (through its :class:`~nlpdiff.rundir.RunWriter`)."""

    def __init__(self, writer: rundir.RunWriter, params: TrainParams, samples: pd.DataFrame, held: pd.DataFrame,
                 recorder: Recorder, rows: MetricsRows, vog: VogPass | None, sampler, n_loaded: int):
        self.writer, self.params, self.samples, self.held = writer, params, samples, held
        self.recorder, self.rows, self.vog, self.sampler, self.n_loaded = recorder, rows, vog, sampler, n_loaded

    def on_fit_end(self, state: State) -> None:
        params, head, samples = self.params, state.head, self.samples
        spec = head.spec
        t = time.perf_counter()
        vog = None
        if self.vog is not None:
            vog = pd.DataFrame({"sample_id": samples["sample_id"], "vog": self.vog.accumulator.vog()})
            if spec.kind == "classification":
                vog["label"] = samples["label"].to_numpy()
        # samples carry the class labels for VoG's class normalisation: classification only
        dynamics = self.recorder.frame()
        scores = compute_scores(dynamics, samples=samples if spec.kind == "classification" else None, vog=vog,
                                num_classes=spec.num_labels)
        self.writer.dynamics(samples, dynamics, scores, vog=vog)
        for name, table in head.extra_tables().items():  # e.g. summarization's held-out generations
            self.writer.table(name, table)
        train_split, heldout_split = params.splits()
        rows = self.rows.rows
        self.writer.json("metrics.json", {
            "task": spec.name, "kind": spec.kind, "train_split": train_split, "heldout_split": heldout_split,
            "heldout_size": int(len(self.held)), "metric": f"heldout_{head.heldout_metric}",
            "checkpoints": rows, "final": rows[-1],
            **({"before_training": state.heldout_before} if state.heldout_before is not None else {}),
        })
        state.timings["write"] = time.perf_counter() - t
        positions = getattr(self.sampler, "positions", lambda: np.arange(len(samples)))()
        self.writer.finish("train", params.flat(), data=data_source(params), timings=state.timings, resolved={
            **head.describe(),
            "head": type(head).__name__,
            "device": str(state.device),
            "bf16_autocast": state.autocast,
            "data_dir": data_source(params)["data_dir"],
            "n_loaded": self.n_loaded,
            "sampler": type(self.sampler).__name__,
            "trimmed_padding": state.pieces is not None,  # trim_padding took effect (a head that pads batches)
            "subset_size": int(len(positions)) if len(positions) != len(samples) else None,
            "n_train": len(samples),
            "skipped": dict(head.skipped),
            "n_heldout": int(len(self.held)),
            "n_corrupted": int(samples["is_corrupted"].sum()),
            "n_checkpoints": state.n_checkpoints,
            "steps_per_epoch": state.plan[0] if len(set(state.plan)) == 1 else state.plan,
            "total_steps": state.total_steps,
            "skipped_scores": dict(scores.attrs.get("skipped", {})),
            # VoG's cost (issue 9): the memory its per-element statistics hold; its time is wall_time_s.vog
            **({"vog": self.vog.accumulator.describe()} if self.vog is not None else {}),
        })


def finished_run(params: TrainParams, overwrite: bool = True,
                 resolved: dict[str, Any] | None = None) -> rundir.Run | None:
    """The complete run in ``params.output_dir`` if it was made with exactly these parameters and data.

    "Same data" means the same resolved data folder (``data_dir`` or ``$NLPDIFF_DATA_DIR``, or the
    hub) and, for tasks that declare one, the same ``source`` (for example a user's CSV file).
    ``resolved``: more values the run must have recorded under ``run.json``'s ``resolved`` (for example
    ``{"subset_size": 600}`` for a run trained by a sampler on a subset); a run that differs there is
    treated as made otherwise.
    Returns None when the folder holds no complete run, or one made otherwise and ``overwrite`` is
    true (the caller then trains over it); with ``overwrite=False`` such a run is refused with a
    :class:`ParameterError` that says what differs, so no finished run is replaced silently.
    """
    try:
        run = rundir.load_run(params.output_dir)
    except rundir.RunDirError:
        return None
    flat, data = params.flat(), data_source(params)
    have = run.info.get("resolved", {})
    if run.params == flat and run.info.get("data") == data and all(have.get(k) == v for k, v in (resolved or {}).items()):
        return run
    if overwrite:
        return None
    what = rundir.param_differences(run.params, flat) or "other data"
    raise ParameterError("overwrite", False, f"--overwrite (overwrite=True) to replace the finished run in "
                         f"{params.output_dir}", hint=f"it was made with other parameters or data: {what}")


def reuse_run(folder: str | Path, params: TrainParams, copy: bool = False,
              ignore: tuple[str, ...] = ("output_dir", "data_dir")) -> rundir.Run:
    """The complete run in ``folder``, made beforehand (elsewhere, for example a copy kept with a
    study), if it was made with these parameters: every parameter is compared except those in ``ignore``
    (by default where the run was written and where its data folder lay, which differ between machines).
    A :class:`ParameterError` (one line, naming the first differing parameters) otherwise, and nothing
    is written. ``copy``: copy the run into ``params.output_dir`` (:func:`rundir.copy_run`) and return
    the copy, so that readers of that folder find it. Where the run's data came from stays in its
    ``run.json`` (``data``).
    """
    params.validate()
    try:
        run = rundir.load_run(folder)
    except rundir.RunDirError as exc:
        raise ParameterError("folder", str(folder), "a folder holding a complete run", hint=str(exc)) from exc
    what = rundir.param_differences(run.params, params.flat(), ignore, fmt="{key} {was!r} there, {now!r} here")
    if what:
        raise ParameterError("folder", str(folder), "a run made with these parameters", hint=f"it differs: {what}")
    if copy and Path(params.output_dir).resolve() != run.path.resolve():
        return rundir.copy_run(run.path, params.output_dir)
    return run


def check_writable(folder: str | Path, param: str = "output_dir") -> Path:
    """Check that ``folder`` can be created (if missing) and written, leaving no trace (folders it had
    to create are removed again); a :class:`ParameterError` (one line) otherwise, so that a read-only
    folder fails before training, not after."""
    import os

    folder = Path(folder).expanduser().absolute()
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".nlpdiff-write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ParameterError(param, str(folder), "a folder that can be written",
                             hint=exc.strerror or type(exc).__name__) from exc
    finally:
        for p in created:  # deepest first
            try:
                p.rmdir()
            except OSError:
                break
    return folder


def check_output_dir(params: TrainParams, overwrite: bool = False) -> None:
    """The run-directory guard of :func:`train`: ``params.output_dir`` must not hold a finished run made
    with other parameters or data (unless ``overwrite``), and must be writable."""
    finished_run(params, overwrite=overwrite)
    check_writable(params.output_dir)


def load_or_train(params: TrainParams, progress: bool = True, reuse: bool = True,
                  overwrite: bool = False) -> rundir.Run:
    """Reuse ``params.output_dir`` when it holds a complete run with exactly these parameters and data
    (:func:`finished_run`), else train. A finished run there with other parameters or data is
    refused unless ``overwrite=True``. Parameters are validated first either way."""
    params.validate()
    run = finished_run(params, overwrite=overwrite) if reuse else None
    return run if run is not None else train(params, progress=progress, overwrite=overwrite)


__all__ = [
    "Recorder", "STAT_COLUMNS", "TrainParams", "VogAccumulator", "check_output_dir", "check_writable",
    "data_source", "finished_run", "from_flat",
    "load_or_train", "prepare_data", "reuse_run", "train",
]
