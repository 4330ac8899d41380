"""From a CSV of labelled texts to a ranked audit table, in one call: :func:`score_file`.

:func:`score_file` (and the command ``nlpdiff score my.csv --text review --label stars -o out/``)
reads the file (:func:`nlpdiff.tasks.from_csv`: string or integer labels, 20 % held out, every input
checked before training), trains a run into ``out/run/`` (:func:`nlpdiff.dynamics.train`), then writes

``out/audit.csv``
    one row per training sample, hardest first (:func:`audit_table`). Every column name says which
    way it points (:data:`COLUMNS`, the one place the mapping is written down; the README shows it):
    ``rank`` (1 = hardest, by the action score), ``row`` (the row's 0-based position among the
    CSV's data rows), the text column(s), ``given_label``, ``predicted_label`` and
    ``predicted_prob`` (the final model's probability of its predicted class), ``given_label_prob``
    (probability of the given label at the last checkpoint), then the data map's coordinates in
    their usual meaning (higher = easier): ``confidence`` (mean probability of the given label over
    the checkpoints), ``variability`` (its standard deviation) and ``correct_checkpoints`` (at how
    many of the checkpoints the given label was predicted), and the scores ``action`` (the loss
    accumulated over training: higher = harder; the ranking), ``aum`` (area under the margin, its
    usual sign: low or negative = the model prefers another class) and ``final_loss`` (higher =
    harder), and ``why``: a short reason read from the eval pass at every checkpoint
    (:func:`why_column`). Inside the run folder, ``scores.parquet`` keeps the study's convention
    (every score: higher = harder): there ``cartography_confidence`` = 1 - ``confidence`` and
    ``aum`` = minus the table's ``aum``.
``out/data_map.html``
    the dataset-cartography data map (:func:`nlpdiff.plots.data_map`) as one standalone page that
    works offline: the Vega bundle is inlined, a static SVG shows without JavaScript.

A folder that already holds a finished run with the same parameters and data is reused; with other
parameters or data it is refused unless ``overwrite=True``: no finished run is replaced silently.
The output folder must be writable, checked before training. :func:`report_lines` (what the
command prints) ends with a WARNING when held-out accuracy is at chance level (:func:`chance_check`:
one-sided binomial test against the majority-class share), and the five hardest rows.

:func:`audit_table` serves ``nlpdiff audit RUN_DIR --top 100 -o audit.csv`` too (any finished
classification run; :func:`write_audit` writes ``.csv`` or, for ``.html``, an offline HTML table).

Predicted labels: for a run trained here, the final model's probabilities of every training sample
(``head.predict_proba_positions``) are saved in the run directory as ``predictions.parquet``, so a
reused run gives the same table. For a run directory without that file (made by :func:`nlpdiff.dynamics.train`
directly), the prediction comes from the eval pass at the last checkpoint: exact for two classes
(the other class when the given one is not predicted); with more classes the predicted label is the
given one when it was predicted, else unknown (empty).
"""

from __future__ import annotations

import html
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nlpdiff import rundir, tasks
from nlpdiff.engine import Handler
from nlpdiff.errors import ParameterError

#: Scores shown in the audit table besides the action score, under the table's names (``aum`` with its usual sign).
OTHER_SCORES = ("aum", "final_loss")

#: Every column of the audit table that is not a text column, with what it means and which way it points.
COLUMNS: dict[str, str] = {
    "rank": "1 = hardest (highest action score)",
    "sample_id": "the sample's id in the run folder",
    "row": "the row's 0-based position among the CSV's data rows",
    "given_label": "the label in the file",
    "predicted_label": "the final model's prediction",
    "predicted_prob": "the final model's probability of its predicted class",
    "given_label_prob": "probability of the given label at the last checkpoint (higher = easier)",
    "confidence": "mean probability of the given label over the checkpoints (higher = easier); "
                  "the data map's y axis",
    "variability": "standard deviation of that probability over the checkpoints (high = ambiguous); "
                   "the data map's x axis",
    "correct_checkpoints": "at how many checkpoints the given label was predicted (higher = easier); the data map's colour",
    "action": "the sample's loss accumulated over training (higher = harder); the ranking",
    "aum": "area under the margin: mean of (given label's logit - largest other logit) (low or negative = suspect)",
    "final_loss": "loss at the last checkpoint (higher = harder)",
    "why": "what the model did with the sample over the checkpoints",
}
#: How the table's columns map to ``scores.parquet`` (the study's convention: every score higher = harder).
SCORES_PARQUET = {"confidence": "1 - cartography_confidence", "aum": "-aum", "action": "action",
                  "final_loss": "final_loss"}
PREDICTIONS_FILE = "predictions.parquet"

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


def _source(run: rundir.Run) -> dict[str, Any]:
    return dict(run.info.get("data", {}).get("task_source") or {})


def _save_predictions(run: rundir.Run) -> None:
    """The final model's predicted class and its probability for every training sample (fresh runs only)."""
    n = len(run.samples)
    proba = np.asarray(run.head.predict_proba_positions(np.arange(n)))
    pred = proba.argmax(axis=1)
    df = pd.DataFrame({"sample_id": run.samples["sample_id"].to_numpy(), "predicted": pred.astype(np.int64),
                       "confidence": proba[np.arange(n), pred]})
    rundir.write_parquet(df, run.path / PREDICTIONS_FILE)


def _predictions(run: rundir.Run, last: pd.DataFrame, num_classes: int) -> pd.DataFrame:
    file = run.path / PREDICTIONS_FILE
    if file.exists():
        return pd.read_parquet(file)
    given = run.samples.set_index("sample_id")["label"].reindex(last["sample_id"]).to_numpy()
    correct = last["correct"].to_numpy().astype(bool)
    p = last["gold_prob"].to_numpy(dtype=float)
    if num_classes == 2:
        pred = np.where(correct, given, 1 - given)
        conf = np.where(correct, p, 1 - p)
    else:
        pred = np.where(correct, given, -1)
        conf = np.where(correct, p, np.nan)
    return pd.DataFrame({"sample_id": last["sample_id"].to_numpy(), "predicted": pred, "confidence": conf})


def audit_table(run: rundir.Run | str | os.PathLike, top: int | None = None) -> pd.DataFrame:
    """The ranked audit table of a classification run directory (hardest first; see the module);
    ``top``: only the first rows. Serves ``nlpdiff score`` and ``nlpdiff audit``."""
    if not isinstance(run, rundir.Run):
        try:
            run = rundir.load_run(run)
        except rundir.RunDirError as exc:
            raise ParameterError("run", str(run), "a complete run directory", hint=str(exc)) from exc
    if "action" not in run.scores.columns or "label" not in run.samples.columns:
        raise ParameterError("run", str(run.path), "a run of a classification task")
    source = _source(run)
    roles = source.get("roles") or {}
    if not roles:
        try:
            roles = dict(tasks.get_task(run.params.get("task")).roles)
        except ParameterError:
            roles = {}
    names = source.get("label_names")
    if names is None:
        try:
            names = tasks.get_task(run.params.get("task")).label_names
        except ParameterError:
            names = None
    num_classes = len(names) if names else int(run.samples["label"].max()) + 1

    def name_of(ids) -> list:
        return [None if (i is None or pd.isna(i) or i < 0) else (names[int(i)] if names else int(i)) for i in ids]

    ev = run.dynamics[run.dynamics["pass"] == "eval"]
    if ev.empty:
        ev = run.dynamics
    last = ev[ev["checkpoint"] == ev["checkpoint"].max()]
    preds = _predictions(run, last, num_classes).rename(columns={"confidence": "predicted_prob"})
    text_cols = [roles[r] for r in ("text", "text_pair") if roles.get(r) in run.samples.columns]
    if not text_cols:  # a run without declared roles (DynamicsCallback): its text columns
        text_cols = [c for c in run.samples.columns
                     if c not in (*rundir.SAMPLES_COLUMNS, "row_idx", "n_tokens")
                     and run.samples[c].map(lambda v: isinstance(v, str)).all()]
    table = run.samples[["sample_id", *(["row_idx"] if "row_idx" in run.samples.columns else []), *text_cols,
                         "label"]].copy()
    table["given_label"] = name_of(table.pop("label").to_numpy())
    table = table.merge(preds, on="sample_id", how="left")
    table["predicted_label"] = name_of(table.pop("predicted").to_numpy())
    table = table.merge(last[["sample_id", "gold_prob"]].rename(columns={"gold_prob": "given_label_prob"}),
                        on="sample_id", how="left")
    table = table.merge(map_coordinates(ev), on="sample_id", how="left")
    scores = [s for s in ("action", *OTHER_SCORES) if s in run.scores.columns]
    table = table.merge(run.scores[["sample_id", *scores]], on="sample_id", how="left")
    if "aum" in table.columns:
        table["aum"] = -table["aum"]  # scores.parquet holds minus the AUM (higher = harder); here its usual sign
    why = why_column(ev, run.samples.set_index("sample_id")["label"], num_classes, name_of)
    table["why"] = why.reindex(table["sample_id"]).to_numpy()
    table = table.sort_values(["action", "sample_id"], ascending=[False, True]).reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table = table.rename(columns={"row_idx": "row"})
    order = ["rank", "sample_id", *(["row"] if "row" in table.columns else []), *text_cols, "given_label",
             "predicted_label", "predicted_prob", "given_label_prob", "confidence", "variability",
             "correct_checkpoints", *scores, "why"]
    table = table[order]
    table.attrs["text_columns"] = text_cols
    table.attrs["n_checkpoints"] = int(ev["checkpoint"].nunique())
    return table if top is None else table.head(int(top))


def map_coordinates(eval_dynamics: pd.DataFrame) -> pd.DataFrame:
    """Per ``sample_id``: the data map's coordinates in their usual meaning, from the eval pass at every
    checkpoint (the pass the scores and the ``why`` column read): ``confidence`` (mean probability of
    the given label), ``variability`` (its population standard deviation) and ``correct_checkpoints``
    (how many checkpoints predicted the given label)."""
    g = eval_dynamics.groupby("sample_id")
    out = pd.DataFrame({"confidence": g["gold_prob"].mean(), "variability": g["gold_prob"].std(ddof=0),
                        "correct_checkpoints": g["correct"].sum().astype(np.int64)})
    return out.reset_index()


#: A probability above this counts as confident in the "why" column.
CONFIDENT = 0.9


def why_column(dynamics: pd.DataFrame, labels: pd.Series, num_classes: int, name_of) -> pd.Series:
    """A short reason per sample (indexed by ``sample_id``), read from the eval pass at every checkpoint.

    ``labels``: the given label id by ``sample_id``; ``name_of``: ids -> class names. The first rule
    that applies: the given label was never predicted (with two classes: "predicted X with confidence
    > 0.9 at every checkpoint" when the model was that sure throughout); it was predicted at every
    checkpoint; the prediction flipped between the given label and another at least twice ("flips
    between labels N times"); it was learned late ("given label predicted from checkpoint k of K");
    it was forgotten ("given label predicted until checkpoint k of K, not at the end"). With two
    classes a never-predicted label reads "predicted X at all K checkpoints" (and from which checkpoint
    on with confidence > 0.9).
    """
    ev = dynamics.sort_values(["sample_id", "checkpoint"])
    k = int(ev["checkpoint"].nunique())
    correct = ev.pivot(index="sample_id", columns="checkpoint", values="correct").to_numpy().astype(bool)
    prob = ev.pivot(index="sample_id", columns="checkpoint", values="gold_prob").to_numpy(dtype=float)
    ids = ev["sample_id"].drop_duplicates().sort_values().to_numpy()
    given = labels.reindex(ids).to_numpy()
    flips = np.abs(np.diff(correct.astype(int), axis=1)).sum(axis=1) if k > 1 else np.zeros(len(ids), int)
    out = []
    for i in range(len(ids)):
        c, p = correct[i], prob[i]
        if not c.any():
            sure = ~(p < 1 - CONFIDENT)  # the checkpoints where the given label kept probability >= 0.1
            since = int(np.flatnonzero(sure)[-1]) + 1 if sure.any() else 0  # confident from here to the end
            if num_classes == 2:
                other = name_of([1 - int(given[i])])[0]
                if since == 0:
                    out.append(f"predicted {other} with confidence > {CONFIDENT} at every checkpoint")
                elif since < k:
                    out.append(f"predicted {other} at all {k} checkpoints, with confidence > {CONFIDENT} "
                               f"from checkpoint {since + 1}")
                else:
                    out.append(f"predicted {other} at all {k} checkpoints")
            elif since == 0:
                out.append(f"given label never predicted; its probability < {1 - CONFIDENT:.1f} at every checkpoint")
            else:
                out.append(f"given label never predicted ({k} checkpoint{'s' if k > 1 else ''})")
        elif c.all():
            sure = " with confidence > 0.9" if (p > CONFIDENT).all() else ""
            out.append(f"given label predicted at every checkpoint{sure}")
        elif flips[i] >= 2:
            out.append(f"flips between labels {int(flips[i])} times over {k} checkpoints")
        elif c[-1]:
            out.append(f"given label predicted from checkpoint {int(np.argmax(c)) + 1} of {k}")
        else:
            last = int(np.flatnonzero(c)[-1]) + 1
            out.append(f"given label predicted until checkpoint {last} of {k}, not at the end")
    return pd.Series(out, index=ids, name="why")


#: The data map page's chart size in pixels (it fills a laptop screen's page).
MAP_SIZE = (1000, 620)
#: How many of the hardest samples the data map labels with their rank.
MAP_LABELS = 10


def data_map_html(run: rundir.Run, table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the run's data map as a standalone HTML page that needs no network (Vega inlined).

    The map draws the audit table's own columns (``confidence``, ``variability``,
    ``correct_checkpoints``: eval pass at every checkpoint), so map and table agree. Colour says
    "correct at k of K checkpoints"; point size and opacity shrink as the number of samples grows,
    so that dense regions read as dense; the :data:`MAP_LABELS` hardest samples are labelled with
    their rank.
    """
    from nlpdiff import plots

    text_cols = table.attrs.get("text_columns") or [c for c in table.columns if c not in COLUMNS]
    k = int(table.attrs.get("n_checkpoints") or table["correct_checkpoints"].max())
    df = table[["sample_id", "rank", *text_cols, "given_label", "predicted_label", "confidence", "variability",
                "correct_checkpoints"]].copy()
    words = [f"correct at {i} of {k} checkpoints" for i in range(k, -1, -1)]
    df["correct"] = pd.Categorical([words[k - int(i)] for i in df["correct_checkpoints"]], categories=words,
                                   ordered=True)
    df["suspect"] = np.where(df["rank"] <= MAP_LABELS, "#" + df["rank"].astype(str), None)
    n = len(df)
    size = float(np.clip(60.0 * np.sqrt(200.0 / max(n, 1)), 8.0, 60.0))
    opacity = float(np.clip(0.85 * (300.0 / max(n, 1)) ** 0.35, 0.15, 0.85))
    chart = plots.data_map(df, color="correct", tooltip=["rank", *text_cols, "given_label", "predicted_label"],
                           width=MAP_SIZE[0], height=MAP_SIZE[1], size=size, opacity=opacity, label="suspect",
                           title=f"Data map: {n:,} training samples, the {min(MAP_LABELS, n)} hardest numbered by rank")
    plots.enable_offline()
    body = plots.mimebundle(chart.to_dict())["text/html"]
    title = f"Data map of {html.escape(str(run.params.get('task', 'run')))}"
    page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>\n"
            "<style>body{font-family:sans-serif;margin:1em 2em;max-width:1200px}</style>\n"
            f"<script type=\"text/javascript\">{plots.vega_bundle()}</script>\n</head>\n<body>\n<h1>{title}</h1>\n"
            "<p>Each point is a training sample, read at each of the run's "
            f"{k} checkpoints (eval pass): confidence = mean probability of its given label (higher = easier), "
            "variability = its standard deviation, colour = at how many checkpoints the given label was predicted. "
            "Low confidence: hard to learn, or mislabelled; high variability: ambiguous. The numbers are the "
            "ranks of the hardest samples in audit.csv, whose columns confidence, variability and "
            "correct_checkpoints are the ones drawn here.</p>\n"
            f"{body}\n</body></html>\n")
    path = Path(path)
    rundir.atomic_write(path, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    return path


class SavePredictions(Handler):
    """At the end of training, before the run is marked complete: the final model's predicted class and
    its probability for every training sample, as ``predictions.parquet`` in the run folder (so that an
    interrupted command never leaves a complete run without them)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def on_fit_end(self, state) -> None:
        n = state.n_samples
        proba = np.asarray(state.head.predict_proba_positions(np.arange(n)))
        pred = proba.argmax(axis=1)
        df = pd.DataFrame({"sample_id": np.arange(n, dtype=np.int64), "predicted": pred.astype(np.int64),
                           "confidence": proba[np.arange(n), pred]})
        rundir.write_parquet(df, self.folder / PREDICTIONS_FILE)


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
                    _save_predictions(run)
                table = audit_table(run)
                audit_csv = write_audit(table, out / "audit.csv")
            else:
                page = data_map_html(run, table, out / "data_map.html")
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", 2)
        took = _duration(time.perf_counter() - t0)
        if stage == "writing":
            msg = (f"after training: the finished run in {run_dir} is kept; run the same command again to reuse "
                   "it and write audit.csv and data_map.html")
        else:
            removed = [p for p in reversed(made) if p.exists() and _remove_if_empty(p)]
            left = run_dir.exists() and not (run_dir / "run.json").exists() and any(run_dir.iterdir())
            when = "before training" if stage == "reading" else f"during training, after {took}"
            msg = (f"{when}: no run was finished, so nothing is kept"
                   + (f" ({run_dir} holds unfinished files without run.json, which no rerun trusts)" if left else "")
                   + (" and the empty output folder was removed" if removed and not left else "")
                   + "; run the same command again to start over")
        raise Interrupted(msg, signum) from None
    check = chance_check(run)
    result = AuditResult(run=run, table=table, audit_csv=audit_csv, data_map_html=page, reused=reused,
                         heldout_accuracy=check["accuracy"], chance=check["chance"], p_value=check["p"],
                         n_heldout=check["n"])
    if not reused:
        result.summary = summary
    return result


def chance_check(run: rundir.Run) -> dict[str, Any]:
    """Is held-out accuracy above chance? A one-sided binomial test (``scipy.stats.binomtest``) of the
    held-out hits against the majority-class share of the training labels.

    Returns ``accuracy`` (None without held-out accuracy), ``n`` (held-out samples), ``chance``,
    ``p`` (None when not testable) and ``at_chance``: True when the accuracy is not significantly
    above chance at the 5 % level (or there is none to test).
    """
    from scipy.stats import binomtest

    acc = run.metrics.get("final", {}).get("heldout_accuracy")
    n = run.metrics.get("heldout_size") or run.info.get("resolved", {}).get("n_heldout") or 0
    chance = float(run.samples["label"].value_counts(normalize=True).max())
    p = None
    if acc is not None and n:
        p = float(binomtest(int(round(float(acc) * n)), int(n), min(chance, 1.0), alternative="greater").pvalue)
    return {"accuracy": None if acc is None else float(acc), "n": int(n), "chance": chance, "p": p,
            "at_chance": p is None or p >= 0.05}


def chance_warning(run: rundir.Run) -> str | None:
    """A one-line WARNING when the run's held-out accuracy is at chance level (:func:`chance_check`), else None."""
    c = chance_check(run)
    if not c["at_chance"]:
        return None
    if c["accuracy"] is None:
        return ("WARNING: no held-out accuracy in this run, so nothing shows that the model learned; read its "
                "difficulty ranking with care")
    return (f"WARNING: held-out accuracy {c['accuracy']:.3f} on {c['n']:,} samples is at chance level (majority "
            f"class {c['chance']:.3f}, one-sided binomial p = {c['p']:.2f}): the model did not learn, so its "
            "difficulty ranking says little (more rows or epochs, another backbone or model may help)")


def write_audit(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write an audit table as CSV, or (``.html``/``.htm``) as one offline HTML page; atomically."""
    path = Path(path)
    if path.suffix.lower() in (".html", ".htm"):
        page = audit_html(table)
        rundir.atomic_write(path, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    else:
        rundir.atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
    return path


def audit_html(table: pd.DataFrame, title: str = "Audit table") -> str:
    """An audit table as a standalone HTML page (no script, no network): one row per sample, hardest first."""
    shown = table.copy()
    for c in shown.columns:
        if pd.api.types.is_float_dtype(shown[c]):
            shown[c] = shown[c].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
    body = shown.to_html(index=False, escape=True, na_rep="", border=0, classes="audit")
    style = ("body{font-family:sans-serif;margin:1em}table.audit{border-collapse:collapse;font-size:0.9em}"
             "table.audit th,table.audit td{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left;"
             "vertical-align:top}table.audit th{background:#f3f3f3;position:sticky;top:0}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>\n"
            f"<style>{style}</style></head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
            f"<p>{len(table):,} samples, hardest first (rank 1 = highest action score).</p>\n<dl>"
            + "".join(f"<dt><b>{html.escape(c)}</b></dt><dd>{html.escape(m)}</dd>" for c, m in COLUMNS.items()
                      if c in table.columns)
            + "</dl>\n"
            f"{body}\n</body></html>\n")


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
    warning = chance_warning(result.run)
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


# -- reading the suspects blind -----------------------------------------------------------------------

#: What a reader may say of a (text, given label) pair.
JUDGEMENTS = ("mislabelled", "ambiguous", "correct")


def blind_groups(table: pd.DataFrame, top: int = 50, n_random: int = 50, seed: int = 0) -> pd.DataFrame:
    """The two groups of a blind reading: the ``top`` highest-ranked rows of an :func:`audit_table`
    (``group = "top"``) and ``n_random`` rows drawn at random (``seed``) from the others
    (``group = "random"``), shuffled together and numbered ``item`` 1, 2, ... Deterministic for a
    given table, so the groups can be rebuilt from the run to unblind a reading."""
    for name, value in (("top", top), ("n_random", n_random)):
        if not isinstance(value, (int, np.integer)) or value < 0:
            raise ParameterError(name, value, "an integer >= 0")
    if top + n_random > len(table) or top + n_random == 0:
        raise ParameterError("top", top, f"top + n_random between 1 and the table's {len(table)} rows")
    ranked = table.sort_values("rank")
    rng = np.random.default_rng(seed)
    rest = ranked.iloc[top:]
    drawn = rest.iloc[np.sort(rng.choice(len(rest), size=n_random, replace=False))]
    both = pd.concat([ranked.head(top).assign(group="top"), drawn.assign(group="random")], ignore_index=True)
    both = both.iloc[rng.permutation(len(both))].reset_index(drop=True)
    both.insert(0, "item", np.arange(1, len(both) + 1))
    return both


def blind_sheet(table: pd.DataFrame, top: int = 50, n_random: int = 50, seed: int = 0) -> pd.DataFrame:
    """The sheet a reader fills in: :func:`blind_groups` without group, rank, scores, prediction or
    reason (nothing that says which rows the score flagged), with empty ``judgement`` (one of
    :data:`JUDGEMENTS`) and ``note`` columns. The key is :func:`blind_groups` with the same arguments."""
    groups = blind_groups(table, top, n_random, seed)
    text_cols = table.attrs.get("text_columns") or [c for c in table.columns if c in ("text", "sentence")]
    sheet = groups[["item", *text_cols, "given_label"]].copy()
    sheet["judgement"] = ""
    sheet["note"] = ""
    return sheet


def read_sheet(path: str | os.PathLike) -> pd.DataFrame:
    """A reading sheet (:func:`blind_sheet`) as written or filled: texts kept verbatim (no NA parsing),
    an empty ``judgement`` read as None (not read)."""
    return pd.read_csv(path, keep_default_na=False).replace({"judgement": {"": None}})


def blind_summary(table: pd.DataFrame, judgements: pd.DataFrame, top: int = 50, n_random: int = 50,
                  seed: int = 0) -> pd.DataFrame:
    """Unblind a reading of :func:`blind_sheet` ``(table, top, n_random, seed)``: the groups are rebuilt
    from ``table`` (:func:`blind_groups`) and the reading summarised by :func:`reading_summary`."""
    return reading_summary(blind_groups(table, top, n_random, seed), judgements)


def reading_summary(groups: pd.DataFrame, judgements: pd.DataFrame) -> pd.DataFrame:
    """Per group (``top``, ``random``) of a blind reading: how many rows were read and judged
    mislabelled, ambiguous or correct (``not_correct``: the first two), the share judged mislabelled
    with its Wilson 95 % interval, and (on the ``top`` row) Fisher's exact tests of top vs random
    (two-sided): mislabelled vs not (``fisher_p``) and not correct vs correct (``fisher_p_not_correct``).

    ``groups``: :func:`blind_groups` (the key); ``judgements``: the filled sheet, matched to the
    key by text column(s) and given label (so a reading stays valid when a rerun numbers the
    samples differently); rows of the key that no judgement matches count as not read.
    """
    from scipy.stats import binomtest, fisher_exact

    bad = sorted(set(judgements["judgement"].dropna()) - set(JUDGEMENTS))
    if bad:
        raise ParameterError("judgements", bad, f"judgement values among {JUDGEMENTS}")
    text_cols = [c for c in judgements.columns if c in groups.columns
                 and c not in ("item", "given_label", "judgement", "note", "group")]
    if not text_cols:
        raise ParameterError("judgements", list(judgements.columns), "a sheet with the key's text column(s)")
    keys = [*text_cols, "given_label"]
    read = judgements[[*keys, "judgement"]].dropna(subset=["judgement"]).drop_duplicates(subset=keys)
    key = groups.drop(columns=[c for c in ("judgement", "note") if c in groups.columns])
    merged = key.astype({"given_label": str}).merge(read.astype({"given_label": str}), how="left", on=keys)
    rows = []
    for group in ("top", "random"):
        g = merged[merged["group"] == group]
        counts = {j: int((g["judgement"] == j).sum()) for j in JUDGEMENTS}
        n_read = sum(counts.values())
        share, low, high = float("nan"), float("nan"), float("nan")
        if n_read:
            ci = binomtest(counts["mislabelled"], n_read).proportion_ci(method="wilson")
            share, low, high = counts["mislabelled"] / n_read, float(ci.low), float(ci.high)
        rows.append({"group": group, "n": len(g), "read": n_read, **counts, "share_mislabelled": share,
                     "low": low, "high": high})
    out = pd.DataFrame(rows)
    out["not_correct"] = out["mislabelled"] + out["ambiguous"]
    t, r = out.iloc[0], out.iloc[1]
    p = p_any = float("nan")
    if t["read"] and r["read"]:
        _, p = fisher_exact([[t["mislabelled"], t["read"] - t["mislabelled"]],
                             [r["mislabelled"], r["read"] - r["mislabelled"]]])
        _, p_any = fisher_exact([[t["not_correct"], t["read"] - t["not_correct"]],
                                 [r["not_correct"], r["read"] - r["not_correct"]]])
    out["fisher_p"] = [float(p), float("nan")]
    out["fisher_p_not_correct"] = [float(p_any), float("nan")]
    return out


__all__ = ["AuditResult", "COLUMNS", "DEFAULTS", "JUDGEMENTS", "OTHER_SCORES", "SCORES_PARQUET", "SavePredictions",
           "Summary", "TimeEstimate", "audit_html", "map_coordinates", "shorten", "summarize", "token_lengths",
           "audit_table", "blind_groups",
           "blind_sheet", "blind_summary", "chance_check", "read_sheet", "reading_summary", "chance_warning",
           "data_map_html", "report_lines", "score_file", "why_column", "write_audit"]
