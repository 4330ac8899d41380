"""From a CSV of labelled texts to a ranked audit table, in one call: :func:`score_file`.

:func:`score_file` (and the command ``nlpdiff score my.csv --text review --label stars -o out/``)
reads the file (:func:`nlpdiff.tasks.from_csv`: string or integer labels, 20 % held out, every input
checked before training), trains a run into ``out/run/`` (:func:`nlpdiff.dynamics.train`), then writes

``out/audit.csv``
    one row per training sample, hardest first (:func:`audit_table`): ``rank``, ``row`` (the row's
    0-based position among the CSV's data rows), the text column(s), ``given_label``,
    ``predicted_label`` and ``confidence`` (the model's probability of its predicted class) of the
    final model, ``given_label_prob`` (its probability of the given label, eval pass at the last
    checkpoint), then the scores ``action`` (higher = harder; the ranking), ``cartography_confidence``,
    ``aum`` and ``final_loss`` (all three: higher = harder).
``out/data_map.html``
    the dataset-cartography data map (:func:`nlpdiff.plots.data_map`) as one standalone page that
    works offline: the Vega bundle is inlined, a static SVG shows without JavaScript.

A folder that already holds a finished run with the same parameters and data is reused; with other
parameters or data it is refused unless ``overwrite=True``: no finished run is replaced silently.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nlpdiff import rundir, tasks
from nlpdiff.errors import ParameterError

#: Scores shown in the audit table besides the action score (all: higher = harder).
OTHER_SCORES = ("cartography_confidence", "aum", "final_loss")
#: Held-out accuracy must beat the majority-class share of the given labels by this much, else a WARNING.
CHANCE_MARGIN = 0.05
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

    @property
    def learned(self) -> bool:
        """Held-out accuracy is clearly above chance (majority-class share + :data:`CHANCE_MARGIN`)."""
        return self.heldout_accuracy is not None and self.heldout_accuracy >= self.chance + CHANCE_MARGIN


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


def audit_table(run: rundir.Run | str | os.PathLike) -> pd.DataFrame:
    """The ranked audit table of a classification run directory (hardest first; see the module)."""
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
    preds = _predictions(run, last, num_classes)
    text_cols = [roles[r] for r in ("text", "text_pair") if roles.get(r) in run.samples.columns]
    table = run.samples[["sample_id", *(["row_idx"] if "row_idx" in run.samples.columns else []), *text_cols,
                         "label"]].copy()
    table["given_label"] = name_of(table.pop("label").to_numpy())
    table = table.merge(preds, on="sample_id", how="left")
    table["predicted_label"] = name_of(table.pop("predicted").to_numpy())
    table = table.merge(last[["sample_id", "gold_prob"]].rename(columns={"gold_prob": "given_label_prob"}),
                        on="sample_id", how="left")
    scores = [s for s in ("action", *OTHER_SCORES) if s in run.scores.columns]
    table = table.merge(run.scores[["sample_id", *scores]], on="sample_id", how="left")
    table = table.sort_values(["action", "sample_id"], ascending=[False, True]).reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table = table.rename(columns={"row_idx": "row"})
    order = ["rank", "sample_id", *(["row"] if "row" in table.columns else []), *text_cols, "given_label",
             "predicted_label", "confidence", "given_label_prob", *scores]
    return table[order]


def data_map_html(run: rundir.Run, table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the run's data map as a standalone HTML page that needs no network (Vega inlined)."""
    from nlpdiff import plots
    from nlpdiff.analysis import cartography_map

    cart = cartography_map(run.dynamics, "train" if (run.dynamics["pass"] == "train").any() else "eval")
    text_cols = [c for c in table.columns if c not in ("rank", "sample_id", "row", "given_label", "predicted_label",
                                                       "confidence", "given_label_prob", "action", *OTHER_SCORES)]
    df = cart.merge(table[["sample_id", "rank", *text_cols, "given_label", "predicted_label"]], on="sample_id")
    chart = plots.data_map(df, color="correctness", tooltip=["rank", *text_cols, "given_label", "predicted_label"])
    plots.enable_offline()
    body = plots.mimebundle(chart.to_dict())["text/html"]
    title = f"Data map of {html.escape(str(run.params.get('task', 'run')))}"
    page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>\n"
            f"<script type=\"text/javascript\">{plots.vega_bundle()}</script>\n</head>\n<body>\n<h1>{title}</h1>\n"
            "<p>Each point is a training sample: confidence = mean probability of its given label over the "
            "checkpoints, variability = its standard deviation, colour = how often it was predicted right. "
            "Low confidence: hard to learn (or mislabelled); high variability: ambiguous.</p>\n"
            f"{body}\n</body></html>\n")
    path = Path(path)
    rundir.atomic_write(path, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    os.chmod(path, 0o644)
    return path


def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".nlpdiff-write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ParameterError("output_dir", str(folder), "a folder that can be written",
                             hint=exc.strerror or type(exc).__name__) from exc


def score_file(path: str | os.PathLike, text: str, label: str, output_dir: str | os.PathLike = "nlpdiff-out",
               text_pair: str | None = None, overwrite: bool = False, progress: bool = True,
               **params: Any) -> AuditResult:
    """Score every row of a CSV of labelled texts by difficulty; write ``audit.csv`` and ``data_map.html``.

    ``params`` are flat training parameters (:func:`nlpdiff.config.from_flat`) over :data:`DEFAULTS`
    (fine-tuned MiniLM, every row, 3 epochs, 2 checkpoints per epoch, batch 16, learning rate 1e-4:
    more steps and a larger rate than the study's, so that a few hundred rows learn; on 480 SST-2
    rows the study's batch 32 / 5e-5 stayed near the majority-class rate, these reach 0.80). The run goes to
    ``output_dir/run``; a finished run there with the same parameters and data is reused, one with
    others is refused unless ``overwrite=True``. Every input is checked before anything trains.
    """
    from nlpdiff.config import from_flat
    from nlpdiff.dynamics import finished_run, train

    spec = tasks.from_csv(path, text=text, label=label, text_pair=text_pair)
    tasks.register_task(spec, replace=True)
    out = Path(output_dir).expanduser().resolve()
    run_dir = out / "run"
    config = from_flat({**DEFAULTS, **params, "task": spec.name, "output_dir": str(run_dir)})
    _check_writable(out)
    run = finished_run(config, overwrite=overwrite)
    reused = run is not None
    if run is None:
        run = train(config, progress=progress)
        _save_predictions(run)
    table = audit_table(run)
    audit_csv = out / "audit.csv"
    rundir.atomic_write(audit_csv, lambda tmp: table.to_csv(tmp, index=False))
    os.chmod(audit_csv, 0o644)
    page = data_map_html(run, table, out / "data_map.html")
    acc = run.metrics.get("final", {}).get("heldout_accuracy")
    chance = float(run.samples["label"].value_counts(normalize=True).max())
    return AuditResult(run=run, table=table, audit_csv=audit_csv, data_map_html=page, reused=reused,
                       heldout_accuracy=None if acc is None else float(acc), chance=chance)


def report_lines(result: AuditResult) -> list[str]:
    """What ``nlpdiff score`` prints about a result."""
    lines = [f"{'reusing' if result.reused else 'trained'} run: {result.run.path}",
             f"audit table (hardest first): {result.audit_csv}",
             f"data map: {result.data_map_html}"]
    acc = result.heldout_accuracy
    lines.append(f"held-out accuracy: {'n/a' if acc is None else f'{acc:.3f}'} "
                 f"(majority class: {result.chance:.3f})")
    if not result.learned:
        lines.append(f"WARNING: held-out accuracy is not above the majority-class share + {CHANCE_MARGIN:.2f}: "
                     "the model barely learned, so the difficulty ranking says little (more rows or epochs, "
                     "another --backbone or --model may help)")
    return lines


__all__ = ["AuditResult", "CHANCE_MARGIN", "DEFAULTS", "OTHER_SCORES", "audit_table", "data_map_html",
           "report_lines", "score_file"]
