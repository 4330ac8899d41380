"""The audit table of a finished classification run (:func:`audit_table`), its columns (:data:`COLUMNS`,
named by direction), the "why" column, the chance-level check and the CSV/HTML writer."""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nlpdiff import rundir, tasks
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


def _source(run: rundir.Run) -> dict[str, Any]:
    return dict(run.info.get("data", {}).get("task_source") or {})


def write_predictions(head, sample_ids, folder: str | os.PathLike) -> None:
    """The final model's predicted class and its probability for every training sample (position ``i`` is
    ``sample_ids[i]``), as :data:`PREDICTIONS_FILE` in ``folder``: what :func:`audit_table` reads."""
    n = len(sample_ids)
    proba = np.asarray(head.predict_proba_positions(np.arange(n)))
    pred = proba.argmax(axis=1)
    df = pd.DataFrame({"sample_id": np.asarray(sample_ids, dtype=np.int64), "predicted": pred.astype(np.int64),
                       "confidence": proba[np.arange(n), pred]})
    rundir.write_parquet(df, Path(folder) / PREDICTIONS_FILE)


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
