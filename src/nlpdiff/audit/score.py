"""``nlpdiff score``: from a CSV of labelled texts to a trained run, its audit table and data map
(:func:`score_file`), with the pre-training summary, the time estimate and what the command prints."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nlpdiff import rundir, tasks
from nlpdiff.audit import datamap
from nlpdiff.audit import table as tables
from nlpdiff.audit.table import PREDICTIONS_FILE
from nlpdiff.engine import Handler

DEFAULTS: dict[str, Any] = {"backbone": "finetune", "model": "minilm", "train_size": None, "epochs": 3,
                            "checkpoints_per_epoch": 2, "batch_size": 16, "learning_rate": 1e-4, "seed": 0}


@dataclass
class AuditResult:
    """What :func:`score_file` made: the run, the ranked table, the files, and how well the model learned."""

    run: rundir.Run
    table: pd.DataFrame
    audit_csv: Path
    data_map_html: Path
    reused: bool
    heldout_accuracy: float | None
    chance: float
    p_value: float | None = None
    n_heldout: int = 0
    summary: "Summary | None" = None

    @property
    def learned(self) -> bool:
        """Held-out accuracy is significantly above chance (:func:`chance_check`: one-sided binomial test
        against the majority-class share, p < 0.05)."""
        return self.p_value is not None and self.p_value < 0.05


class SavePredictions(Handler):
    """At the end of training, before the run is marked complete: the final model's predicted class and
    its probability for every training sample, as ``predictions.parquet`` in the run folder (so that an
    interrupted command never leaves a complete run without them)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def on_fit_end(self, state) -> None:
        tables.write_predictions(state.head, np.arange(state.n_samples), self.folder)  # a fresh run: id = position


class TimeEstimate(Handler):
    """Say, after timing the first ``steps`` training steps (the very first, a warm-up, left out), about how
    long the whole run will take: the steps left plus the eval pass at each checkpoint (a forward pass
    over every training sample, counted as a third of a training step per sample) and the held-out
    evaluation. ``say``: where the line goes."""

    def __init__(self, say, n_heldout: int = 0, steps: int = 5, max_seconds: float = 20.0):
        self.say, self.n_heldout, self.steps, self.max_seconds = say, int(n_heldout), int(steps), max_seconds
        self.t0: float | None = None
        self.start: float | None = None
        self.done = False
        self.estimate: float | None = None

    def on_fit_start(self, state) -> None:
        self.start = time.perf_counter()

    def on_batch_end(self, state) -> None:
        if self.done:
            return
        now = time.perf_counter()
        if self.t0 is None:
            self.t0 = now
            return
        timed = state.step - 1
        if timed < self.steps and now - self.t0 < self.max_seconds and state.step < state.total_steps:
            return
        self.done = True
        per_step = (now - self.t0) / max(timed, 1)
        per_sample = per_step / max(len(state.batch), 1)
        checkpoints = state.n_checkpoints * (state.n_samples + self.n_heldout) * per_sample / 3
        self.estimate = (now - self.start) + per_step * (state.total_steps - state.step) + checkpoints
        step = f"{per_step:.2f} s" if per_step >= 0.1 else f"{per_step * 1000:.0f} ms"
        self.say(f"estimated total time: about {_duration(self.estimate)} ({step} per step, timed over "
                 f"{timed} steps; {state.total_steps:,} steps and {state.n_checkpoints} checkpoints in all)")


def _duration(seconds: float) -> str:
    seconds = max(float(seconds), 1.0)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def token_lengths(spec: tasks.TaskSpec, config) -> np.ndarray:
    """The length of every row of a user's task (training rows, then held-out rows) in the units the
    run's backbone cuts at ``max_length``, before any cut: tokens of the model's tokenizer (a pair:
    both texts together, as the model reads them), or words for the ``scratch`` backbone (a pair: the
    longer of the two, each cut on its own)."""
    text, pair = spec.roles.get("text"), spec.roles.get("text_pair")
    frames = [spec.data[s] for s in spec.data]
    texts = [str(t) for f in frames for t in f[text]]
    pairs = [str(t) for f in frames for t in f[pair]] if pair else None
    if config.backbone == "scratch":
        from nlpdiff.models.scratch import tokenize

        first = np.array([len(tokenize(t)) for t in texts], dtype=np.int64)
        if pairs is None:
            return first
        return np.maximum(first, np.array([len(tokenize(t)) for t in pairs], dtype=np.int64))
    from transformers import AutoTokenizer

    from nlpdiff.models.hub import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(config.model))
    ids = tokenizer(texts, pairs, truncation=False, verbose=False)["input_ids"]
    return np.array([len(i) for i in ids], dtype=np.int64)


@dataclass
class Summary:
    """What :func:`score_file` says before training: the rows, the classes, and how many texts are cut."""

    path: str
    n_rows: int
    n_train: int
    n_heldout: int
    classes: dict[str, int]
    sep: str
    encoding: str
    max_length: int
    unit: str
    n_long: int
    longest: int

    def lines(self) -> list[str]:
        encoding = {"utf-8-sig": "UTF-8 with a byte-order mark"}.get(self.encoding, self.encoding)
        read = f"{tasks.SEPARATORS.get(self.sep, repr(self.sep))}-separated, {encoding}"
        counts = ", ".join(f"{name} {n:,}" for name, n in list(self.classes.items())[:8])
        more = f", ... ({len(self.classes)} in all)" if len(self.classes) > 8 else ""
        out = [f"read {self.path}: {self.n_rows:,} rows ({read}), {len(self.classes)} classes: {counts}{more}",
               f"training on {self.n_train:,} rows, {self.n_heldout:,} held out to measure accuracy"]
        if self.n_long:
            out.append(f"{self.n_long:,} of {self.n_rows:,} texts are longer than the {self.max_length}-{self.unit} "
                       f"limit (longest {self.longest:,} {self.unit}s): only their first {self.max_length} "
                       f"{self.unit}s are read; --max-length {_next_length(self.longest)} keeps them whole")
        else:
            out.append(f"no text is longer than the {self.max_length}-{self.unit} limit (longest "
                       f"{self.longest:,} {self.unit}s)")
        return out


def _next_length(n: int) -> int:
    return int(min(512, 2 ** int(np.ceil(np.log2(max(n, 2))))))


def summarize(spec: tasks.TaskSpec, config) -> Summary:
    """The pre-training :class:`Summary` of a user's CSV task under a run's parameters."""
    source = spec.data_source or {}
    train = spec.data[config.train_split or spec.train_split]
    held_split = spec.eval_split if config.eval_split == "default" else config.eval_split
    n_held = len(spec.data[held_split]) if held_split in spec.data else 0
    n_train = len(train) if config.train_size is None else min(int(config.train_size), len(train))
    labels = pd.concat([spec.data[s][spec.label_field] for s in spec.data])
    names = spec.label_names or sorted(labels.unique())
    counts = labels.value_counts()
    classes = {str(names[int(i)]): int(counts.get(i, 0)) for i in range(len(names))}
    lengths = token_lengths(spec, config)
    unit = "word" if config.backbone == "scratch" else "token"
    long = lengths > config.max_length
    return Summary(path=Path(source.get("path", spec.name)).name, n_rows=len(lengths), n_train=n_train,
                   n_heldout=n_held, classes=classes, sep=source.get("sep", ","),
                   encoding=source.get("encoding", "UTF-8"), max_length=int(config.max_length), unit=unit,
                   n_long=int(long.sum()), longest=int(lengths.max()) if len(lengths) else 0)


def _remove_if_empty(folder: Path) -> bool:
    try:
        folder.rmdir()  # only an empty folder
        return True
    except OSError:
        return False


def _interrupted(stage: str, made: list[Path], run_dir: Path, seconds: float) -> str:
    """The sentence of :func:`score_file` on Ctrl-C: what was kept, what was removed (the empty folders
    it made), and how to go on."""
    if stage == "writing":
        return (f"after training: the finished run in {run_dir} is kept; run the same command again to reuse "
                "it and write audit.csv and data_map.html")
    removed = [p for p in reversed(made) if p.exists() and _remove_if_empty(p)]
    left = run_dir.exists() and not (run_dir / "run.json").exists() and any(run_dir.iterdir())
    when = "before training" if stage == "reading" else f"during training, after {_duration(seconds)}"
    return (f"{when}: no run was finished, so nothing is kept"
            + (f" ({run_dir} holds unfinished files without run.json, which no rerun trusts)" if left else "")
            + (" and the empty output folder was removed" if removed and not left else "")
            + "; run the same command again to start over")


def score_file(path: str | os.PathLike, text: str, label: str, output_dir: str | os.PathLike = "nlpdiff-out",
               text_pair: str | None = None, overwrite: bool = False, progress: bool = True,
               sep: str | None = None, encoding: str | None = None, say=None, **params: Any) -> AuditResult:
    """Score every row of a CSV of labelled texts by difficulty; write ``audit.csv`` and ``data_map.html``.

    ``params`` are flat training parameters (:func:`nlpdiff.config.from_flat`) over :data:`DEFAULTS`
    (fine-tuned MiniLM, every row, 3 epochs, 2 checkpoints per epoch, batch 16, learning rate 1e-4:
    more steps and a larger rate than the study's, so that a few hundred rows learn; on 480 SST-2
    rows the study's batch 32 / 5e-5 stayed near the majority-class rate, these reach 0.80; texts cut
    at ``max_length`` 64 tokens). The run goes to ``output_dir/run``; a finished run there with the
    same parameters and data is reused, one with others is refused unless ``overwrite=True``. Every
    input is checked before anything trains. ``sep``, ``encoding``: how to read the file
    (:func:`nlpdiff.tasks.from_csv`: guessed when None).

    ``say``: a function that gets the lines worth saying before training (:func:`summarize`: rows,
    classes, texts longer than the limit) and, after the first steps, the estimated total time
    (:class:`TimeEstimate`); None says nothing.

    Ctrl-C (:class:`KeyboardInterrupt`, also raised for SIGTERM by the command) raises
    :class:`nlpdiff.errors.Interrupted` with one sentence on what was kept and how to go on. No
    half-made result is left to be trusted: an interrupted run has no ``run.json`` (a rerun trains
    again), empty folders made by this call are removed, and ``audit.csv`` / ``data_map.html`` of a
    run being replaced are removed before it trains.
    """
    from nlpdiff.config import from_flat
    from nlpdiff.dynamics import check_writable, finished_run, train
    from nlpdiff.engine import progress_bar
    from nlpdiff.errors import Interrupted

    say = say or (lambda line: None)
    out = Path(output_dir).expanduser().resolve()
    run_dir = out / "run"
    made = [p for p in (out, run_dir) if not p.exists()]
    stage, t0 = "reading", time.perf_counter()
    try:
        spec = tasks.from_csv(path, text=text, label=label, text_pair=text_pair, sep=sep, encoding=encoding)
        tasks.register_task(spec, replace=True)
        config = from_flat({**DEFAULTS, **params, "task": spec.name, "output_dir": str(run_dir)})
        check_writable(out)
        run = finished_run(config, overwrite=overwrite)
        reused = run is not None
        if run is None:
            splits = tasks.resolve_splits(spec, config.train_split, config.eval_split)
            tasks.check_task_data(spec, splits, train_size=config.train_size, batch_size=config.batch_size)
            summary = summarize(spec, config)
            for line in summary.lines():
                say(line)
            for stale in ("audit.csv", "data_map.html"):  # they describe the run being replaced
                if (out / stale).exists():
                    (out / stale).unlink()
            stage = "training"
            extra = [SavePredictions(run_dir), TimeEstimate(say, n_heldout=summary.n_heldout)]
            run = train(config, progress=progress, overwrite=overwrite, handlers=extra)
        stage = "writing"
        stages = progress_bar(["audit table", "data map"], desc="writing", disable=not progress, leave=False)
        for step in stages:
            stages.set_description(step)
            if step == "audit table":
                if not (run.path / PREDICTIONS_FILE).exists() and getattr(run, "head", None) is not None:
                    tables.write_predictions(run.head, run.samples["sample_id"].to_numpy(), run.path)
                table = tables.audit_table(run)
                audit_csv = tables.write_audit(table, out / "audit.csv")
            else:
                page = datamap.data_map_html(run, table, out / "data_map.html")
    except KeyboardInterrupt as exc:
        raise Interrupted(_interrupted(stage, made, run_dir, time.perf_counter() - t0),
                          getattr(exc, "signum", 2)) from None
    check = tables.chance_check(run)
    result = AuditResult(run=run, table=table, audit_csv=audit_csv, data_map_html=page, reused=reused,
                         heldout_accuracy=check["accuracy"], chance=check["chance"], p_value=check["p"],
                         n_heldout=check["n"])
    if not reused:
        result.summary = summary
    return result


def shorten(text: Any, width: int = 90) -> str:
    """``text`` on one line, at most ``width`` characters: a longer one keeps its beginning and its end,
    with `` ... `` in the middle (the end of a text often carries its point)."""
    text = " ".join(str(text).split())
    if len(text) <= width:
        return text
    keep = width - 5
    head = (keep + 1) // 2
    return f"{text[:head].rstrip()} ... {text[len(text) - (keep - head):].lstrip()}"


def report_lines(result: AuditResult, width: int = 100) -> list[str]:
    """What ``nlpdiff score`` prints about a result. The hardest rows show every text column (both
    texts of a pair), each on its own line and shortened in the middle to ``width`` characters."""
    lines = [f"{'reusing' if result.reused else 'trained'} run: {result.run.path}",
             f"audit table (hardest first): {result.audit_csv}",
             f"data map: {result.data_map_html}"]
    acc = result.heldout_accuracy
    pval = "" if result.p_value is None else f", binomial p = {result.p_value:.2g}"
    lines.append(f"held-out accuracy: {'n/a' if acc is None else f'{acc:.3f}'} on {result.n_heldout:,} rows "
                 f"(majority class: {result.chance:.3f}{pval})")
    warning = tables.chance_warning(result.run)
    if warning:
        lines.append(warning)
    summary = result.summary
    if summary is not None and summary.n_long:
        lines.append(f"{summary.n_long:,} texts were read only up to {summary.max_length} {summary.unit}s "
                     f"(--max-length)")
    top = result.table.head(5)
    text_cols = result.table.attrs.get("text_columns", [])
    if len(top):
        lines.append("hardest rows: rank, row in the file, given label, predicted label (its probability), why; "
                     "the text(s)")
    label = max((len(c) for c in text_cols), default=0)
    for _, r in top.iterrows():
        prob = "" if pd.isna(r["predicted_prob"]) else f" ({r['predicted_prob']:.2f})"
        row = f"row {r['row']}, " if "row" in r.index else ""
        lines.append(f"  {r['rank']:>3}  {row}given {r['given_label']}, predicted {r['predicted_label']}{prob}: "
                     f"{r['why']}")
        for c in text_cols:
            name = f"{c}:".ljust(label + 1) if len(text_cols) > 1 else ""
            lines.append(f"       {name} {shorten(r[c], width - label - 11)!r}" if name
                         else f"       {shorten(r[c], width - 9)!r}")
    return lines
