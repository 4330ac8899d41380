"""Cost of recording in the training loop (:func:`nlpdiff.dynamics.train`), as ratios measured in one process.

Trains one small run (MiniLM, 512 SST-2 sentences, 2 epochs, batch 32, max_length 64, VoG on) with
the loop itself, on real SST-2 when ``NLPDIFF_DATA_DIR`` is set, else on generated word-list
sentences, and reads the wall time of each phase from its ``run.json``. Then, on the same model and
batches, it times epochs of a *plain* loop (the head's forward, mean cross-entropy, backward,
gradient clipping, AdamW and scheduler steps: the loop's body without the per-sample statistics
and the recorder) interleaved with epochs of the loop's *recording* body (``head.forward`` with its
per-sample statistics, written into a :class:`nlpdiff.recording.Recorder`, and ``loss.item()``).

Figures (per epoch; goals from the issue):

* ``train_pass_recording_overhead`` = training epoch with train-pass recording / plain epoch
  (goal <= 1.05). Printed twice: the loop's own training phase (``wall_time_s.train`` / epochs)
  over the plain epochs' median, and the median of the interleaved pairs (less sensitive to
  machine load, which matters on a shared CPU).
* ``eval_pass_cost_per_epoch`` = recording pass (eval mode, whole training set) / training epoch
  (goal <= 0.4), from ``run.json``.
* ``vog_cost_per_checkpoint`` = VoG pass / training epoch (no goal; reported), from ``run.json``.

    export NLPDIFF_DATA_DIR=../shared/data HF_HUB_OFFLINE=1
    nice -n 10 python benchmarks/overhead.py                    # 512 sentences, 2 epochs
    nice -n 10 python benchmarks/overhead.py --n 128 --repeats 2   # quicker; --wall adds the loop/plain wall ratio
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nlpdiff.config import TrainParams
from nlpdiff.dynamics import Recorder, train

_POS = ("wonderful", "brilliant", "moving", "delightful", "superb", "charming", "funny", "gripping")
_NEG = ("boring", "awful", "dull", "terrible", "tedious", "clumsy", "painful", "bland")


def write_generated_sst2(root: Path, n_train: int, n_val: int, seed: int = 0) -> Path:
    """A data dir with sst2/{train,validation}.parquet of generated sentences (hub schema)."""
    import pandas as pd

    rng = random.Random(seed)
    for split, n in (("train", n_train), ("validation", n_val)):
        labels = [i % 2 for i in range(n)]
        rng.shuffle(labels)
        sents = []
        for y in labels:
            words = _POS if y else _NEG
            k = rng.randint(1, 6)
            sents.append(" ".join(f"the film was {rng.choice(words)} and" for _ in range(k)) + " it ended .")
        (root / "sst2").mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"idx": np.arange(n, dtype=np.int32), "sentence": sents,
                      "label": np.array(labels, dtype=np.int64)}).to_parquet(root / "sst2" / f"{split}.parquet")
    return root


def timed_epochs(head, params: TrainParams, repeats: int, seed: int = 1, clock=time.process_time):
    """Interleaved (plain, recording) epochs on the same model and batches, then one eval-mode
    recording pass and one VoG pass after each pair (mirrors of the loop's); returns lists of
    seconds of ``clock`` (process CPU time by default: robust to other processes on a shared CPU)."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    n = len(head.train_labels)
    columns = head.stat_columns
    recorder = Recorder(n, 1, 1, columns)
    trainable = head.parameters()
    optimizer = torch.optim.AdamW(trainable, lr=params.learning_rate, weight_decay=params.weight_decay)
    steps = 2 * repeats * -(-n // params.batch_size)
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, steps)
    gen = torch.Generator().manual_seed(seed)
    head.model.train()

    def plain_epoch(batches):
        for idx in batches:
            logits = head._logits(head.train_enc, idx).float()
            labels = head.train_labels[idx].to(logits.device)
            loss = torch.nn.functional.cross_entropy(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            scheduler.step()

    def recording_epoch(batches):  # the body of nlpdiff.engine.fit with the TrainPass handler
        running = []
        for step, idx in enumerate(batches, start=1):
            losses, stats = head.forward(idx, True)
            loss = losses.float().mean()
            if not torch.isfinite(loss):
                raise FloatingPointError("non-finite loss")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            scheduler.step()
            for c in columns:
                recorder.train[c][0, idx] = stats[c]
            recorder.train_step[0, idx] = step
            running.append(loss.item())

    eval_order = np.argsort(head.lengths(), kind="stable")
    eval_batches = [eval_order[i:i + params.eval_batch_size] for i in range(0, n, params.eval_batch_size)]

    def eval_pass(_):  # the loop's recording_pass
        head.model.eval()
        with torch.no_grad():
            for idx in eval_batches:
                _, st = head.forward(idx, False)
                for c in columns:
                    recorder.eval[c][0, idx] = st[c]
        head.model.train()

    def vog_pass(_):  # the loop's vog_pass (without the accumulator update, which is numpy-cheap)
        head.model.eval()
        for idx in eval_batches:
            gold, embeds, mask = head.gold_output(idx)
            (grad,) = torch.autograd.grad(gold.float().sum(), embeds)
            grad.float().mean(dim=-1).cpu().numpy()
        head.model.zero_grad(set_to_none=True)
        head.model.train()

    times = {"plain": [], "recording": [], "eval_pass": [], "vog": []}
    for r in range(repeats):
        order = torch.randperm(n, generator=gen).numpy()
        batches = [order[i:i + params.batch_size] for i in range(0, n, params.batch_size)]
        pair = [(plain_epoch, "plain"), (recording_epoch, "recording")]
        for fn, key in (pair if r % 2 == 0 else pair[::-1]) + [(eval_pass, "eval_pass"), (vog_pass, "vog")]:
            t = clock()
            fn(batches)
            times[key].append(clock() - t)
    return times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=512, help="training sentences")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3, help="interleaved (plain, recording) epoch pairs")
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time = work)")
    ap.add_argument("--wall", action="store_true", help="also time one plain epoch in wall time (loop/plain ratio)")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="nlpdiff-overhead-"))
    data_dir = os.environ.get("NLPDIFF_DATA_DIR")
    source = f"real SST-2 ({data_dir})"
    if not data_dir:
        data_dir = str(write_generated_sst2(tmp / "data", args.n, 64))
        source = "generated word-list sentences"
    params = TrainParams(task="sst2", model=args.model, train_size=args.n, eval_size=64, epochs=args.epochs,
                         batch_size=args.batch_size, eval_batch_size=128, max_length=args.max_length, vog=True,
                         data_dir=data_dir, output_dir=str(tmp / "run"), device="cpu")
    import torch

    torch.set_num_threads(args.threads)
    print(f"overhead: {args.model}, {args.n} sentences from {source}, {args.epochs} epochs, batch {args.batch_size}, "
          f"max_length {args.max_length}, torch threads {torch.get_num_threads()}, device cpu")
    run = train(params, progress=False)
    wall = run.info["wall_time_s"]
    epochs = args.epochs
    train_epoch = wall["train"] / epochs
    eval_pass = wall["eval_pass"] / run.info["resolved"]["n_checkpoints"]
    vog_pass = wall["vog"] / run.info["resolved"]["n_checkpoints"]
    print(f"  run.json wall_time_s: train {wall['train']:.2f} s ({train_epoch:.2f} s/epoch), eval_pass "
          f"{wall['eval_pass']:.2f} s, vog {wall['vog']:.2f} s, heldout {wall['heldout']:.2f} s")

    times = timed_epochs(run.head, params, args.repeats)
    wall_times = timed_epochs(run.head, params, 1, clock=time.perf_counter) if args.wall else None
    plain, recording = times["plain"], times["recording"]
    for key, values in times.items():
        print(f"  {key + ' (CPU s):':<22}{', '.join(f'{x:.2f}' for x in values)}")
    ratio_loop = train_epoch / statistics.median(wall_times["plain"]) if wall_times else None
    ratio_pairs = statistics.median(r / p for r, p in zip(recording, plain))
    epoch_cpu = statistics.median(recording)

    def line(name, value, goal):
        verdict = "" if goal is None else ("  goal <= %.2f: %s" % (goal, "met" if value <= goal else "MISSED"))
        print(f"{name:<44} {value:6.3f}{verdict}")

    print()
    print("CPU-time ratios (interleaved, same model and batches; robust to other processes):")
    line("train_pass_recording_overhead", ratio_pairs, 1.05)
    line("eval_pass_cost_per_epoch", statistics.median(times["eval_pass"]) / epoch_cpu, 0.4)
    line("vog_cost_per_checkpoint", statistics.median(times["vog"]) / epoch_cpu, None)
    print("wall-time ratios from the loop's run.json (only meaningful on an idle machine):")
    if ratio_loop is not None:
        line("train_pass_recording_overhead (loop/plain)", ratio_loop, 1.05)
    line("eval_pass_cost_per_epoch", eval_pass / train_epoch, 0.4)
    line("vog_cost_per_checkpoint", vog_pass / train_epoch, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
