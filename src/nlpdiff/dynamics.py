"""The training loop that records per-sample training dynamics, for every task.

One loop trains a model (a *head* of :mod:`nlpdiff.models`: classification, extractive QA or
summarization, on a ``finetune``, ``probe`` or ``scratch`` backbone) and, at every checkpoint (by
default the end of each epoch; ``checkpoints_per_epoch`` for more), records for every training
sample the statistics that every difficulty score needs:

* ``pass == "eval"``: a separate forward pass over the whole training set in eval mode (dropout
  off, weights frozen) at the checkpoint, as in the action-score code of Arriaga et al. (2023).
* ``pass == "train"``: the same statistics taken from the sample's own training forward pass
  (dropout on, weights moving within the epoch), as dataset cartography logs them (Swayamdipta et
  al. 2020). For these rows ``step`` is the optimiser step at which the sample was trained and
  ``checkpoint`` is the checkpoint that closes the epoch in which it was trained, so every sample
  has one train row per epoch.

Per sample and checkpoint: ``loss``, ``gold_prob``, ``correct``, ``margin``, ``entropy`` and the
head's extras (see each head's docstring for their definitions on its task). Held-out quality is
measured at every checkpoint. With ``vog=True`` the loop also accumulates, online (Welford), the
mean and variance over checkpoints of the gradient of the gold output with respect to the input
word embeddings, reduced per token (mean over the embedding dimension), and writes each sample's
un-normalised VoG (Agarwal et al. 2022) to ``vog.parquet``. The result is a run directory
(:mod:`nlpdiff.rundir`).
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from nlpdiff import rundir, tasks
from nlpdiff.errors import ParameterError
from nlpdiff.models.classification import classification_stats  # noqa: F401  (re-exported)

#: Statistics of classification runs (other heads record BASE_STATS and their own extras).
STAT_COLUMNS = ("loss", "gold_prob", "correct", "margin", "entropy", "el2n")


@dataclass
class TrainParams:
    """Parameters of one training run. Every field is recorded in ``run.json``.

    Fields that concern one kind of task only are ignored by the others (for example
    ``doc_stride`` outside question answering). ``seed`` drives the model (initialisation,
    shuffling, dropout); ``data_seed`` drives which samples are drawn and which labels are
    corrupted, so runs with different ``seed`` and the same ``data_seed`` score the same samples.
    ``train_split`` (default: the task's) and ``eval_split`` (``"default"``: the task's; ``None``:
    no held-out evaluation) choose the splits, for example to score the SQuAD dev set, whose
    questions carry several annotators' answers.
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
    max_length: int = 64
    seed: int = 0
    data_seed: int = 0
    train_split: str | None = None
    eval_split: str | None = "default"
    noise_rate: float = 0.0
    noise_type: str = "uniform"
    checkpoints_per_epoch: int = 1
    vog: bool = False
    device: str = "auto"
    data_dir: str | None = None
    output_dir: str = "runs/sentiment"
    # question answering
    doc_stride: int = 64
    max_answer_length: int = 30
    # summarization
    max_target_length: int = 64
    generation_max_tokens: int = 48
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> "TrainParams":
        """Check every parameter; raise :class:`ParameterError` on the first bad one."""
        from nlpdiff.models import get_head

        spec = tasks.get_task(self.task)
        if self.train_split is None and spec.train_split is None:
            trainable = sorted(n for n, t in tasks.TASKS.items() if t.train_split is not None)
            raise ParameterError("task", self.task, f"a task with a training split: one of {trainable}",
                                 hint="or name one with train_split")
        for name in ("train_split", "eval_split"):
            value = getattr(self, name)
            if value not in (None, "default") and value not in spec.splits:
                raise ParameterError(name, value, f"one of the splits of {spec.name}: {list(spec.splits)}")
        head_class = get_head(spec.kind, self.backbone)
        if self.vog is True and not head_class.supports_vog:
            raise ParameterError("vog", True, f"False for the {self.backbone} backbone",
                                 hint=head_class.vog_unsupported_reason or None)
        for name in ("epochs", "batch_size", "eval_batch_size", "max_length", "checkpoints_per_epoch",
                     "doc_stride", "max_answer_length", "max_target_length", "generation_max_tokens"):
            _positive_int(name, getattr(self, name))
        if self.train_size is not None:
            _positive_int("train_size", self.train_size, also="or None for the whole split")
        if self.eval_size is not None:
            _positive_int("eval_size", self.eval_size, also="or None for the whole split")
        if spec.kind == "extractive_qa" and self.doc_stride >= self.max_length:
            raise ParameterError("doc_stride", self.doc_stride, f"an integer < max_length ({self.max_length})")
        if not _is_number(self.learning_rate) or not self.learning_rate > 0:
            raise ParameterError("learning_rate", self.learning_rate, "a number > 0")
        if not _is_number(self.weight_decay) or self.weight_decay < 0:
            raise ParameterError("weight_decay", self.weight_decay, "a number >= 0")
        if not _is_number(self.warmup_ratio) or not 0 <= self.warmup_ratio < 1:
            raise ParameterError("warmup_ratio", self.warmup_ratio, "a number in [0, 1)")
        for name in ("seed", "data_seed"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
                raise ParameterError(name, value, "an integer >= 0")
        if not _is_number(self.noise_rate) or not 0 <= self.noise_rate < 1:
            raise ParameterError("noise_rate", self.noise_rate, "a number in [0, 1)")
        if self.noise_rate > 0 and spec.kind != "classification":
            raise ParameterError("noise_rate", self.noise_rate, f"0 for a {spec.kind} task (label noise is for classification)")
        if self.noise_type not in tasks.NOISE_KINDS:
            raise ParameterError("noise_type", self.noise_type, f"one of {list(tasks.NOISE_KINDS)}")
        if not isinstance(self.vog, bool):
            raise ParameterError("vog", self.vog, "True or False")
        if self.device not in ("auto", "cpu") and not str(self.device).startswith(("cuda", "mps")):
            raise ParameterError("device", self.device, "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")
        if not self.output_dir:
            raise ParameterError("output_dir", self.output_dir, "a folder path for the run directory")
        # Data folder and model are checked here too, so that nothing trains on a bad path.
        tasks.check_task_data(spec, self.splits(), self.data_dir, train_size=self.train_size,
                              batch_size=self.batch_size)
        if self.backbone != "scratch":
            from nlpdiff.models.hub import resolve_model

            resolve_model(self.model)
        return self

    def splits(self) -> tuple[str, str | None]:
        """The (training, held-out) splits this run uses."""
        return tasks.resolve_splits(self.task, self.train_split, self.eval_split)


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) and math.isfinite(x)


def _positive_int(name: str, value, also: str = "") -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ParameterError(name, value, f"an integer >= 1{' ' + also if also else ''}")


def pick_device(device: str):
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ParameterError("device", device, "'cpu' or 'auto' on this machine (no CUDA device is available)")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Recorder:
    """Preallocated arrays of every statistic: eval pass (checkpoints x samples), train pass
    (epochs x samples); the train rows' checkpoint is the one that closes their epoch."""

    def __init__(self, n_samples: int, n_checkpoints: int, n_epochs: int, columns: tuple[str, ...]):
        self.n = n_samples
        self.columns = columns
        self.eval = {c: np.full((n_checkpoints, n_samples), np.nan, dtype=np.float32) for c in columns}
        self.train = {c: np.full((n_epochs, n_samples), np.nan, dtype=np.float32) for c in columns}
        self.train_step = np.full((n_epochs, n_samples), -1, dtype=np.int64)
        self.checkpoint_step = np.zeros(n_checkpoints, dtype=np.int64)
        self.checkpoint_epoch = np.zeros(n_checkpoints, dtype=np.float64)
        self.epoch_checkpoint = np.zeros(n_epochs, dtype=np.int64)

    def frame(self) -> pd.DataFrame:
        """The long-format dynamics table of the run-directory contract."""
        ids = np.arange(self.n, dtype=np.int64)
        parts = []
        for pass_name, stats in (("eval", self.eval), ("train", self.train)):
            t_idx, s_idx = np.nonzero(np.isfinite(stats["loss"]))
            if pass_name == "eval":
                checkpoint = t_idx
                steps = self.checkpoint_step[t_idx]
            else:
                checkpoint = self.epoch_checkpoint[t_idx]
                steps = self.train_step[t_idx, s_idx]
            part = pd.DataFrame({
                "sample_id": ids[s_idx],
                "checkpoint": checkpoint.astype(np.int64),
                "epoch": self.checkpoint_epoch[checkpoint],
                "step": steps,
                "pass": pass_name,
            })
            for c in self.columns:
                part[c] = stats[c][t_idx, s_idx]
            parts.append(part)
        frame = pd.concat(parts, ignore_index=True)
        if set(np.unique(frame["correct"])) <= {0.0, 1.0}:
            frame["correct"] = frame["correct"].astype(bool)
        return frame.sort_values(["pass", "checkpoint", "sample_id"], kind="stable", ignore_index=True)


class VogAccumulator:
    """Welford mean and variance over checkpoints of each sample's per-token input gradient.

    Keeps two float32 arrays of shape (samples, max tokens) and a count: never the raw gradients.
    ``vog()`` = mean over a sample's real tokens of sqrt(population variance over checkpoints).
    """

    def __init__(self, n_samples: int, max_tokens: int):
        self.count = 0
        self.mean = np.zeros((n_samples, max_tokens), dtype=np.float32)
        self.m2 = np.zeros((n_samples, max_tokens), dtype=np.float32)
        self.n_tokens = np.zeros(n_samples, dtype=np.int64)

    def update(self, idx: np.ndarray, grads: np.ndarray, mask: np.ndarray, count: int) -> None:
        """Add checkpoint number ``count`` (1-based) for samples ``idx`` (grads (B, L), mask (B, L))."""
        length = min(grads.shape[1], self.mean.shape[1])
        grads, mask = grads[:, :length], mask[:, :length]
        grads = np.where(mask, grads, 0.0).astype(np.float32)
        mean = self.mean[idx, :length]
        delta = grads - mean
        mean = mean + delta / count
        self.m2[idx, :length] += delta * (grads - mean)
        self.mean[idx, :length] = mean
        self.n_tokens[idx] = mask.sum(axis=1)

    def vog(self) -> np.ndarray:
        if self.count < 2:
            raise ParameterError("vog", True, "at least 2 checkpoints to measure a variance over them")
        std = np.sqrt(np.maximum(self.m2 / self.count, 0.0))
        positions = np.arange(std.shape[1])[None, :]
        real = positions < self.n_tokens[:, None]
        return (std * real).sum(axis=1) / np.maximum(self.n_tokens, 1)


def _progress(iterable, **kwargs):
    from tqdm import tqdm

    # in a terminal, smooth bars; in a notebook or a log (papermill), an update every 5 s at most
    return tqdm(iterable, mininterval=0.5 if sys.stderr.isatty() else 5.0, file=sys.stderr, **kwargs)


def prepare_data(params: TrainParams):
    """``(spec, samples, heldout)`` of a run: :func:`nlpdiff.tasks.prepare_training_data` with the
    run's parameters (see there for the columns and the input checks)."""
    return tasks.prepare_training_data(
        params.task, params.train_split, params.eval_split, train_size=params.train_size,
        eval_size=params.eval_size, data_seed=params.data_seed, noise_rate=params.noise_rate,
        noise_type=params.noise_type, data_dir=params.data_dir, batch_size=params.batch_size,
    )


def train(params: TrainParams, progress: bool = True, heldout: bool = True,
          subset: np.ndarray | None = None) -> rundir.Run:
    """Train ``params.backbone`` on ``params.task`` and write its run directory; return the run.

    Every parameter is validated before any data is loaded or any weight is trained. ``subset``
    (positions into the prepared training samples, after subsampling and noise) restricts training
    to those samples, as the K folds of confident learning do; ``samples.parquet`` then keeps
    each sample's position in the full set as ``parent_sample_id``. The returned run carries the
    trained head as ``run.head`` (for predictions), which is not saved to disk.
    """
    import torch

    from nlpdiff.models import get_head

    params.validate()
    timings: dict[str, float] = {}
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    out = rundir.begin_run(params.output_dir)

    spec, samples, held = prepare_data(params)
    if subset is not None:
        subset = np.asarray(subset, dtype=np.int64)
        if subset.ndim != 1 or len(subset) == 0 or subset.min() < 0 or subset.max() >= len(samples):
            raise ParameterError("subset", f"{len(subset)} positions", f"positions in [0, {len(samples)})")
        samples = samples.iloc[subset].copy()
        samples.insert(1, "parent_sample_id", samples["sample_id"].to_numpy())
    timings["load_data"] = time.perf_counter() - t0

    t = time.perf_counter()
    seed_everything(params.seed)
    device = pick_device(params.device)
    head = get_head(spec.kind, params.backbone)(spec, params, device)
    n_loaded = len(samples)
    samples = head.build(samples, held).reset_index(drop=True)
    samples["sample_id"] = np.arange(len(samples), dtype=np.int64)
    for name, values in head.sample_columns().items():
        samples[name] = values
    timings["build"] = time.perf_counter() - t
    if len(samples) == 0:
        raise ParameterError("train_size", params.train_size, "a sample that the model can use",
                             hint=f"every sample was skipped: {head.skipped}")

    use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()

    def forward(idx, train_mode):
        if use_bf16:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                return head.forward(idx, train_mode)
        return head.forward(idx, train_mode)

    n = len(samples)
    columns = head.stat_columns
    lengths = head.lengths()
    eval_order = np.argsort(lengths, kind="stable")

    def recording_pass(desc):
        head.model.eval()
        stats = {c: np.empty(n, dtype=np.float32) for c in columns}
        batches = [eval_order[i:i + params.eval_batch_size] for i in range(0, n, params.eval_batch_size)]
        with torch.no_grad():
            for idx in _progress(batches, desc=desc, disable=not progress, leave=False):
                _, s = forward(idx, False)
                for c in columns:
                    stats[c][idx] = s[c]
        head.model.train()
        bad = ~np.isfinite(stats["loss"])
        if bad.any():
            raise FloatingPointError(
                f"non-finite loss in the recording pass ({desc}) for sample_id {int(np.flatnonzero(bad)[0])}"
            )
        return stats

    vog = VogAccumulator(n, int(lengths.max())) if params.vog else None

    def vog_pass(desc):
        head.model.eval()
        vog.count += 1
        batches = [eval_order[i:i + params.eval_batch_size] for i in range(0, n, params.eval_batch_size)]
        for idx in _progress(batches, desc=desc, disable=not progress, leave=False):
            gold, embeds, mask = head.gold_output(idx)
            (grad,) = torch.autograd.grad(gold.float().sum(), embeds)
            vog.update(idx, grad.float().mean(dim=-1).cpu().numpy(), mask.bool().cpu().numpy(), vog.count)
        head.model.zero_grad(set_to_none=True)
        head.model.train()

    steps_per_epoch = math.ceil(n / params.batch_size)
    total_steps = steps_per_epoch * params.epochs
    k = params.checkpoints_per_epoch
    cut_points = sorted({max(1, round(steps_per_epoch * (i + 1) / k)) for i in range(k)})
    n_checkpoints = len(cut_points) * params.epochs
    recorder = Recorder(n, n_checkpoints, params.epochs, columns)

    trainable = head.parameters()
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")
    names = {id(p): nm for nm, p in head.model.named_parameters()}
    groups = [
        {"params": [p for p in trainable if not names.get(id(p), "").endswith(no_decay)],
         "weight_decay": params.weight_decay},
        {"params": [p for p in trainable if names.get(id(p), "").endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=params.learning_rate)
    from transformers import get_linear_schedule_with_warmup

    scheduler = get_linear_schedule_with_warmup(optimizer, int(params.warmup_ratio * total_steps), total_steps)
    shuffler = torch.Generator().manual_seed(params.seed)

    heldout_rows: list[dict[str, Any]] = []
    timings.update(train=0.0, eval_pass=0.0, heldout=0.0, vog=0.0)
    step = 0
    checkpoint = 0
    head.model.train()
    for epoch in range(params.epochs):
        order = torch.randperm(n, generator=shuffler).numpy()
        batches = [order[i:i + params.batch_size] for i in range(0, n, params.batch_size)]
        bar = _progress(batches, desc=f"epoch {epoch + 1}/{params.epochs}", disable=not progress)
        t_train = time.perf_counter()
        running: list[float] = []
        for b, idx in enumerate(bar, start=1):
            losses, stats = forward(idx, True)
            loss = losses.float().mean()
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"non-finite training loss {loss.item()} at epoch {epoch + 1}, step {step + 1}; "
                    f"lower learning_rate (now {params.learning_rate})"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            for c in columns:
                recorder.train[c][epoch, idx] = stats[c]
            recorder.train_step[epoch, idx] = step
            running.append(loss.item())
            if b % 20 == 0:
                bar.set_postfix(loss=f"{np.mean(running[-20:]):.3f}")
            if b in cut_points:
                timings["train"] += time.perf_counter() - t_train
                recorder.checkpoint_step[checkpoint] = step
                recorder.checkpoint_epoch[checkpoint] = epoch + b / steps_per_epoch
                t = time.perf_counter()
                stats_eval = recording_pass(f"record checkpoint {checkpoint}")
                for c in columns:
                    recorder.eval[c][checkpoint] = stats_eval[c]
                timings["eval_pass"] += time.perf_counter() - t
                if vog is not None:
                    t = time.perf_counter()
                    vog_pass(f"VoG checkpoint {checkpoint}")
                    timings["vog"] += time.perf_counter() - t
                row = {
                    "checkpoint": checkpoint,
                    "epoch": float(recorder.checkpoint_epoch[checkpoint]),
                    "step": step,
                    "train_loss": float(np.mean(stats_eval["loss"])),
                    "train_correct": float(np.mean(stats_eval["correct"])),
                }
                if heldout and len(held):
                    t = time.perf_counter()
                    head.model.eval()
                    with torch.no_grad():
                        quality = head.evaluate()
                    head.model.train()
                    timings["heldout"] += time.perf_counter() - t
                    row.update({f"heldout_{k}": v for k, v in quality.items()})
                heldout_rows.append(row)
                checkpoint += 1
                t_train = time.perf_counter()
        recorder.epoch_checkpoint[epoch] = checkpoint - 1
        timings["train"] += time.perf_counter() - t_train
        bar.close()

    t = time.perf_counter()
    dynamics = recorder.frame()
    vog_frame = None
    if vog is not None:
        vog_frame = pd.DataFrame({"sample_id": samples["sample_id"], "vog": vog.vog()})
        if spec.kind == "classification":
            vog_frame["label"] = samples["label"].to_numpy()
    from nlpdiff import scores as score_lib

    # samples carry the class labels for VoG's class normalisation: classification only
    scores = score_lib.compute_scores(dynamics, samples=samples if spec.kind == "classification" else None,
                                      vog=vog_frame, num_classes=spec.num_labels)
    timings["scores"] = time.perf_counter() - t

    t = time.perf_counter()
    rundir.write_parquet(samples, out / "samples.parquet")
    rundir.write_parquet(dynamics, out / "dynamics.parquet")
    rundir.write_parquet(scores, out / "scores.parquet")
    if vog_frame is not None:
        rundir.write_parquet(vog_frame, out / "vog.parquet")
    elif (out / "vog.parquet").exists():
        (out / "vog.parquet").unlink()
    metrics = {
        "task": spec.name,
        "kind": spec.kind,
        "train_split": params.splits()[0],
        "heldout_split": params.splits()[1],
        "heldout_size": int(len(held)),
        "metric": f"heldout_{head.heldout_metric}",
        "checkpoints": heldout_rows,
        "final": heldout_rows[-1],
    }
    rundir.write_json(metrics, out / "metrics.json")
    timings["write"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    info = {
        "kind": "train",
        "params": asdict(params),
        "resolved": {
            **head.describe(),
            "head": type(head).__name__,
            "device": str(device),
            "bf16_autocast": use_bf16,
            "data_dir": str(tasks.resolve_data_dir(params.data_dir) or "hub"),
            "n_loaded": n_loaded,
            "subset_size": None if subset is None else int(len(subset)),
            "n_train": n,
            "skipped": dict(head.skipped),
            "n_heldout": int(len(held)),
            "n_corrupted": int(samples["is_corrupted"].sum()),
            "n_checkpoints": n_checkpoints,
            "steps_per_epoch": steps_per_epoch,
            "total_steps": total_steps,
            "skipped_scores": dict(scores.attrs.get("skipped", {})),
        },
        "versions": rundir.package_versions(),
        "hardware": rundir.hardware(),
        "wall_time_s": {k: round(v, 3) for k, v in timings.items()},
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "env": {k: os.environ[k] for k in ("NLPDIFF_DATA_DIR", "HF_HUB_OFFLINE") if k in os.environ},
    }
    rundir.finish_run(out, info)
    run = rundir.load_run(out)
    run.head = head
    return run


def train_classifier(params: TrainParams, progress: bool = True) -> rundir.Run:
    """Train a classification run (see :func:`train`); kept for readability in notebooks."""
    return train(params, progress=progress)


def load_or_train(params: TrainParams, progress: bool = True, reuse: bool = True) -> rundir.Run:
    """Reuse ``params.output_dir`` when it holds a complete run with exactly these parameters, else train.

    Parameters are validated first either way.
    """
    params.validate()
    if reuse:
        try:
            run = rundir.load_run(params.output_dir)
        except rundir.RunDirError:
            run = None
        if run is not None and run.params == asdict(params):
            return run
    return train(params, progress=progress)


__all__ = [
    "Recorder", "STAT_COLUMNS", "TrainParams", "VogAccumulator", "classification_stats", "load_or_train",
    "prepare_data", "train", "train_classifier",
]
