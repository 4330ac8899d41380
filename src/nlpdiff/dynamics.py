"""The training loop that records per-sample training dynamics.

One loop trains a model and, at every checkpoint (by default the end of each epoch), records for
every training sample the statistics that every difficulty score needs:

* ``pass == "eval"``: a separate forward pass over the whole training set in eval mode (dropout
  off, weights frozen) at the checkpoint, as in the action-score code of Arriaga et al. (2023).
* ``pass == "train"``: the same statistics taken from the sample's own training forward pass
  (dropout on, weights moving within the epoch), as dataset cartography logs them (Swayamdipta et
  al. 2020). For these rows ``step`` is the optimiser step at which the sample was trained and
  ``checkpoint`` is the checkpoint that closes the stretch of training in which it was seen.

Per sample and checkpoint: ``loss`` (cross-entropy of the label used in training), ``gold_prob``,
``correct``, ``margin`` (gold logit minus the largest other logit), ``entropy`` (of the softmax,
in nats) and ``el2n`` (L2 norm of softmax minus one-hot). Held-out accuracy and loss are measured
on the task's evaluation split at every checkpoint. The result is a run directory
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

STAT_COLUMNS = ("loss", "gold_prob", "correct", "margin", "entropy", "el2n")


@dataclass
class TrainParams:
    """Parameters of one classification training run. Every field is recorded in ``run.json``."""

    task: str = "sst2"
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
    noise_rate: float = 0.0
    noise_type: str = "uniform"
    checkpoints_per_epoch: int = 1
    device: str = "auto"
    data_dir: str | None = None
    output_dir: str = "runs/sentiment"
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> "TrainParams":
        """Check every parameter; raise :class:`ParameterError` on the first bad one."""
        spec = tasks.get_task(self.task)
        if spec.kind != "classification":
            allowed = sorted(n for n, t in tasks.TASKS.items() if t.kind == "classification")
            raise ParameterError("task", self.task, f"a classification task for this trainer: one of {allowed}")
        _positive_int("epochs", self.epochs)
        _positive_int("batch_size", self.batch_size)
        _positive_int("eval_batch_size", self.eval_batch_size)
        _positive_int("max_length", self.max_length)
        _positive_int("checkpoints_per_epoch", self.checkpoints_per_epoch)
        if self.train_size is not None:
            _positive_int("train_size", self.train_size, also="or None for the whole split")
        if self.eval_size is not None:
            _positive_int("eval_size", self.eval_size, also="or None for the whole split")
        if not _is_number(self.learning_rate) or not self.learning_rate > 0:
            raise ParameterError("learning_rate", self.learning_rate, "a number > 0")
        if not _is_number(self.weight_decay) or self.weight_decay < 0:
            raise ParameterError("weight_decay", self.weight_decay, "a number >= 0")
        if not _is_number(self.warmup_ratio) or not 0 <= self.warmup_ratio < 1:
            raise ParameterError("warmup_ratio", self.warmup_ratio, "a number in [0, 1)")
        if not isinstance(self.seed, (int, np.integer)) or isinstance(self.seed, bool):
            raise ParameterError("seed", self.seed, "an integer")
        if not _is_number(self.noise_rate) or not 0 <= self.noise_rate < 1:
            raise ParameterError("noise_rate", self.noise_rate, "a number in [0, 1)")
        if self.noise_type not in tasks.NOISE_KINDS:
            raise ParameterError("noise_type", self.noise_type, f"one of {list(tasks.NOISE_KINDS)}")
        if self.device not in ("auto", "cpu") and not str(self.device).startswith(("cuda", "mps")):
            raise ParameterError("device", self.device, "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")
        if not self.output_dir:
            raise ParameterError("output_dir", self.output_dir, "a folder path for the run directory")
        # Data folder and model are checked here too, so that nothing trains on a bad path.
        data_dir = tasks.resolve_data_dir(self.data_dir)
        if data_dir is not None:
            for split in (spec.train_split, spec.eval_split):
                if split is not None:
                    tasks.split_path(spec, split, data_dir)
        from nlpdiff.models import resolve_model

        resolve_model(self.model)
        return self


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


def classification_stats(logits, labels) -> dict[str, "np.ndarray"]:
    """Per-sample statistics of a batch of classification logits (no gradient needed).

    Returns numpy arrays: ``loss`` = -log p_y, ``gold_prob`` = p_y, ``correct`` = argmax == y,
    ``margin`` = z_y - max_{j != y} z_j, ``entropy`` = -sum_j p_j log p_j, ``el2n`` = ||p - e_y||_2.
    """
    import torch

    logits = logits.detach().float()
    logp = torch.log_softmax(logits, dim=-1)
    probs = logp.exp()
    gold_logp = logp.gather(1, labels[:, None]).squeeze(1)
    gold_logit = logits.gather(1, labels[:, None]).squeeze(1)
    others = logits.scatter(1, labels[:, None], float("-inf"))
    onehot = torch.nn.functional.one_hot(labels, logits.shape[1]).float()
    out = {
        "loss": -gold_logp,
        "gold_prob": gold_logp.exp(),
        "correct": (logits.argmax(dim=1) == labels).float(),
        "margin": gold_logit - others.max(dim=1).values,
        "entropy": -(probs * logp).sum(dim=1),
        "el2n": (probs - onehot).norm(dim=1),
    }
    return {k: v.cpu().numpy() for k, v in out.items()}


class _Recorder:
    """Preallocated (checkpoints x samples) arrays for each statistic, for both passes."""

    def __init__(self, n_samples: int, n_checkpoints: int):
        self.n = n_samples
        self.t = n_checkpoints
        self.eval = {c: np.full((n_checkpoints, n_samples), np.nan, dtype=np.float32) for c in STAT_COLUMNS}
        self.train = {c: np.full((n_checkpoints, n_samples), np.nan, dtype=np.float32) for c in STAT_COLUMNS}
        self.train_step = np.full((n_checkpoints, n_samples), -1, dtype=np.int64)
        self.checkpoint_step = np.zeros(n_checkpoints, dtype=np.int64)
        self.checkpoint_epoch = np.zeros(n_checkpoints, dtype=np.float64)

    def frame(self) -> pd.DataFrame:
        """The long-format dynamics table of the run-directory contract."""
        ids = np.arange(self.n, dtype=np.int64)
        parts = []
        for pass_name, stats in (("eval", self.eval), ("train", self.train)):
            seen = np.isfinite(stats["loss"])  # train rows exist only where the sample was trained
            t_idx, s_idx = np.nonzero(seen)
            if pass_name == "eval":
                steps = self.checkpoint_step[t_idx]
            else:
                steps = self.train_step[t_idx, s_idx]
            part = pd.DataFrame({
                "sample_id": ids[s_idx],
                "checkpoint": t_idx.astype(np.int64),
                "epoch": self.checkpoint_epoch[t_idx],
                "step": steps,
                "pass": pass_name,
            })
            for c in STAT_COLUMNS:
                part[c] = stats[c][t_idx, s_idx]
            part["correct"] = part["correct"].astype(bool)
            parts.append(part)
        return pd.concat(parts, ignore_index=True).sort_values(
            ["pass", "checkpoint", "sample_id"], kind="stable", ignore_index=True
        )


def _progress(iterable, **kwargs):
    from tqdm.auto import tqdm

    interactive = sys.stderr.isatty() or "ipykernel" in sys.modules
    return tqdm(iterable, mininterval=0.5 if interactive else 10.0, file=sys.stderr, **kwargs)


def prepare_data(params: TrainParams):
    """Load, subsample and (optionally) corrupt the training data; load the held-out split.

    Returns ``(spec, samples, heldout)``: ``samples`` has ``sample_id``, the task's fields,
    ``label`` (used in training), ``original_label``, ``is_corrupted`` and ``source_index``.
    """
    spec = tasks.get_task(params.task)
    train = tasks.load_split(spec, spec.train_split, data_dir=params.data_dir)
    train = tasks.subsample(train, params.train_size, seed=params.seed, stratify=spec.label_field, param="train_size")
    train = train.reset_index(drop=True)
    labels = train[spec.label_field].to_numpy().astype(np.int64)
    noise = tasks.inject_noise(
        labels, params.noise_rate, kind=params.noise_type, num_classes=spec.num_labels, seed=params.seed + 1
    )
    samples = train.copy()
    samples.insert(0, "sample_id", np.arange(len(train), dtype=np.int64))
    samples["original_label"] = noise.original_labels
    samples["label"] = noise.labels
    samples["is_corrupted"] = noise.corrupted
    heldout = tasks.load_split(spec, spec.eval_split, data_dir=params.data_dir)
    if params.eval_size is not None:
        heldout = tasks.subsample(heldout, params.eval_size, seed=params.seed, stratify=spec.label_field, param="eval_size")
    return spec, samples, heldout.reset_index(drop=True)


def train_classifier(params: TrainParams, progress: bool = True) -> rundir.Run:
    """Fine-tune a sequence classifier and write its run directory. Returns the loaded run.

    Every parameter is validated before any data is loaded or any weight is trained.
    """
    import torch
    from transformers import get_linear_schedule_with_warmup

    params.validate()
    timings: dict[str, float] = {}
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    out = rundir.begin_run(params.output_dir)

    spec, samples, heldout = prepare_data(params)
    timings["load_data"] = time.perf_counter() - t0

    t = time.perf_counter()
    seed_everything(params.seed)
    from nlpdiff.models import load_classifier

    loaded = load_classifier(params.model, num_labels=spec.num_labels, seed=params.seed)
    device = pick_device(params.device)
    net = loaded.model.to(device)
    tokenizer = loaded.tokenizer
    timings["load_model"] = time.perf_counter() - t

    t = time.perf_counter()
    text_field = spec.text_fields[0]
    enc_train = tokenizer(list(samples[text_field]), truncation=True, max_length=params.max_length)
    enc_held = tokenizer(list(heldout[text_field]), truncation=True, max_length=params.max_length)
    samples["n_tokens"] = [len(x) for x in enc_train["input_ids"]]
    train_labels = torch.tensor(samples["label"].to_numpy(), dtype=torch.long)
    held_labels = torch.tensor(heldout[spec.label_field].to_numpy().astype(np.int64), dtype=torch.long)
    timings["tokenize"] = time.perf_counter() - t

    def collate(encodings, idx):
        feats = [{k: encodings[k][i] for k in encodings.keys()} for i in idx]
        batch = tokenizer.pad(feats, return_tensors="pt")
        return {k: v.to(device) for k, v in batch.items()}

    use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()

    def forward(batch):
        if use_bf16:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                return net(**batch).logits.float()
        return net(**batch).logits

    def eval_pass(encodings, labels, desc):
        """Eval-mode forward over a whole split, in length-sorted batches; stats in the original order."""
        net.eval()
        n = len(labels)
        order = np.argsort([len(x) for x in encodings["input_ids"]], kind="stable")
        stats = {c: np.empty(n, dtype=np.float32) for c in STAT_COLUMNS}
        batches = [order[i:i + params.eval_batch_size] for i in range(0, n, params.eval_batch_size)]
        with torch.no_grad():
            for idx in _progress(batches, desc=desc, disable=not progress, leave=False):
                logits = forward(collate(encodings, idx))
                for c, v in classification_stats(logits, labels[idx].to(device)).items():
                    stats[c][idx] = v
        net.train()
        return stats

    n = len(samples)
    steps_per_epoch = math.ceil(n / params.batch_size)
    total_steps = steps_per_epoch * params.epochs
    k = params.checkpoints_per_epoch
    # checkpoint after these batch positions (1-based) within each epoch
    cut_points = sorted({max(1, round(steps_per_epoch * (i + 1) / k)) for i in range(k)})
    n_checkpoints = len(cut_points) * params.epochs
    recorder = _Recorder(n, n_checkpoints)

    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")
    groups = [
        {"params": [p for nm, p in net.named_parameters() if not nm.endswith(no_decay)],
         "weight_decay": params.weight_decay},
        {"params": [p for nm, p in net.named_parameters() if nm.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=params.learning_rate)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(params.warmup_ratio * total_steps), total_steps
    )
    shuffler = torch.Generator().manual_seed(params.seed)

    heldout_rows: list[dict[str, Any]] = []
    timings.update(train=0.0, eval_pass=0.0, heldout=0.0)
    step = 0
    checkpoint = 0
    net.train()
    for epoch in range(params.epochs):
        order = torch.randperm(n, generator=shuffler).numpy()
        batches = [order[i:i + params.batch_size] for i in range(0, n, params.batch_size)]
        bar = _progress(batches, desc=f"epoch {epoch + 1}/{params.epochs}", disable=not progress)
        t_train = time.perf_counter()
        running = []
        for b, idx in enumerate(bar, start=1):
            batch = collate(enc_train, idx)
            labels = train_labels[idx].to(device)
            logits = forward(batch)
            losses = torch.nn.functional.cross_entropy(logits.float(), labels, reduction="none")
            loss = losses.mean()
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"non-finite training loss {loss.item()} at epoch {epoch + 1}, step {step + 1}; "
                    f"lower learning_rate (now {params.learning_rate})"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            stats = classification_stats(logits, labels)
            for c, v in stats.items():
                recorder.train[c][checkpoint, idx] = v
            recorder.train_step[checkpoint, idx] = step
            running.append(loss.item())
            if b % 20 == 0:
                bar.set_postfix(loss=f"{np.mean(running[-20:]):.3f}")
            if b in cut_points:
                timings["train"] += time.perf_counter() - t_train
                recorder.checkpoint_step[checkpoint] = step
                recorder.checkpoint_epoch[checkpoint] = epoch + b / steps_per_epoch
                t = time.perf_counter()
                stats = eval_pass(enc_train, train_labels, f"record checkpoint {checkpoint}")
                for c, v in stats.items():
                    recorder.eval[c][checkpoint] = v
                timings["eval_pass"] += time.perf_counter() - t
                t = time.perf_counter()
                held = eval_pass(enc_held, held_labels, "held-out")
                timings["heldout"] += time.perf_counter() - t
                heldout_rows.append({
                    "checkpoint": checkpoint,
                    "epoch": float(recorder.checkpoint_epoch[checkpoint]),
                    "step": step,
                    "heldout_accuracy": float(np.mean(held["correct"])),
                    "heldout_loss": float(np.mean(held["loss"])),
                    "train_loss": float(np.mean(recorder.eval["loss"][checkpoint])),
                    "train_accuracy": float(np.mean(recorder.eval["correct"][checkpoint])),
                })
                checkpoint += 1
                t_train = time.perf_counter()
        timings["train"] += time.perf_counter() - t_train
        bar.close()

    t = time.perf_counter()
    dynamics = recorder.frame()
    from nlpdiff import scores as score_lib

    scores = score_lib.compute_scores(dynamics, samples=samples, num_classes=spec.num_labels)
    timings["scores"] = time.perf_counter() - t

    t = time.perf_counter()
    rundir.write_parquet(samples, out / "samples.parquet")
    rundir.write_parquet(dynamics, out / "dynamics.parquet")
    rundir.write_parquet(scores, out / "scores.parquet")
    metrics = {
        "task": spec.name,
        "heldout_split": spec.eval_split,
        "heldout_size": int(len(heldout)),
        "metric": "accuracy",
        "checkpoints": heldout_rows,
        "final": heldout_rows[-1],
    }
    rundir.write_json(metrics, out / "metrics.json")
    timings["write"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    info = {
        "kind": "train_classifier",
        "params": asdict(params),
        "resolved": {
            "model_source": loaded.source,
            "model_class": type(net).__name__,
            "n_parameters": loaded.n_parameters,
            "device": str(device),
            "bf16_autocast": use_bf16,
            "data_dir": str(tasks.resolve_data_dir(params.data_dir) or "hub"),
            "n_train": n,
            "n_heldout": int(len(heldout)),
            "n_corrupted": int(samples["is_corrupted"].sum()),
            "n_checkpoints": n_checkpoints,
            "steps_per_epoch": steps_per_epoch,
            "total_steps": total_steps,
        },
        "versions": rundir.package_versions(),
        "hardware": rundir.hardware(),
        "wall_time_s": {k: round(v, 3) for k, v in timings.items()},
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "env": {k: os.environ[k] for k in ("NLPDIFF_DATA_DIR", "HF_HUB_OFFLINE") if k in os.environ},
    }
    rundir.finish_run(out, info)
    return rundir.load_run(out)


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
    return train_classifier(params, progress=progress)


__all__ = [
    "TrainParams", "train_classifier", "load_or_train", "classification_stats", "prepare_data", "STAT_COLUMNS",
]
