"""From a CSV of labelled texts to a ranked audit table, in one call: :func:`score_file`.

:func:`score_file` (and the command ``nlpdiff score my.csv --text review --label stars -o out/``)
reads the file (:func:`nlpdiff.tasks.from_csv`: string or integer labels, 20 % held out, every input
checked before training), trains a run into ``out/run/`` (:func:`nlpdiff.dynamics.train`), then writes

``out/audit.csv``
    one row per training sample, hardest first (:func:`audit_table`): ``rank``, ``row`` (the row's
    0-based position among the CSV's data rows), the text column(s), ``given_label``,
    ``predicted_label`` and ``confidence`` (the model's probability of its predicted class) of the
    final model, ``given_label_prob`` (its probability of the given label, eval pass at the last
    checkpoint), then the scores ``action`` (higher = harder; the ranking) and the runner-up scores
    ``cartography_confidence``, ``aum`` and ``final_loss`` (all three: higher = harder), and ``why``:
    a short reason read from the eval pass at every checkpoint (:func:`why_column`).
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nlpdiff import rundir, tasks
from nlpdiff.errors import ParameterError

#: Scores shown in the audit table besides the action score (all: higher = harder).
OTHER_SCORES = ("cartography_confidence", "aum", "final_loss")
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
    preds = _predictions(run, last, num_classes)
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
    scores = [s for s in ("action", *OTHER_SCORES) if s in run.scores.columns]
    table = table.merge(run.scores[["sample_id", *scores]], on="sample_id", how="left")
    why = why_column(ev, run.samples.set_index("sample_id")["label"], num_classes, name_of)
    table["why"] = why.reindex(table["sample_id"]).to_numpy()
    table = table.sort_values(["action", "sample_id"], ascending=[False, True]).reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table = table.rename(columns={"row_idx": "row"})
    order = ["rank", "sample_id", *(["row"] if "row" in table.columns else []), *text_cols, "given_label",
             "predicted_label", "confidence", "given_label_prob", *scores, "why"]
    table = table[order]
    table.attrs["text_columns"] = text_cols
    return table if top is None else table.head(int(top))


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


def data_map_html(run: rundir.Run, table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the run's data map as a standalone HTML page that needs no network (Vega inlined)."""
    from nlpdiff import plots
    from nlpdiff.analysis import cartography_map

    cart = cartography_map(run.dynamics, "train" if (run.dynamics["pass"] == "train").any() else "eval")
    text_cols = [c for c in table.columns if c not in ("rank", "sample_id", "row", "given_label", "predicted_label",
                                                       "confidence", "given_label_prob", "action", *OTHER_SCORES,
                                                       "why")]
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
    from nlpdiff.dynamics import check_writable, finished_run, train
    from nlpdiff.engine import progress_bar

    spec = tasks.from_csv(path, text=text, label=label, text_pair=text_pair)
    out = Path(output_dir).expanduser().resolve()
    run_dir = out / "run"
    tasks.register_task(spec, replace=True)
    config = from_flat({**DEFAULTS, **params, "task": spec.name, "output_dir": str(run_dir)})
    check_writable(out)
    run = finished_run(config, overwrite=overwrite)
    reused = run is not None
    if run is None:
        run = train(config, progress=progress, overwrite=overwrite)
    stages = progress_bar(["scoring", "audit table", "data map"], desc="writing", disable=not progress, leave=False)
    for stage in stages:
        stages.set_description(stage)
        if stage == "scoring" and not reused:
            _save_predictions(run)  # the final model's prediction for every training sample
        elif stage == "audit table":
            table = audit_table(run)
            audit_csv = write_audit(table, out / "audit.csv")
        elif stage == "data map":
            page = data_map_html(run, table, out / "data_map.html")
    check = chance_check(run)
    return AuditResult(run=run, table=table, audit_csv=audit_csv, data_map_html=page, reused=reused,
                       heldout_accuracy=check["accuracy"], chance=check["chance"], p_value=check["p"],
                       n_heldout=check["n"])


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
    os.chmod(path, 0o644)
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
            f"<p>{len(table):,} samples, hardest first (rank 1 = highest action score; every score: higher = harder). "
            "<b>why</b>: what the model did with the sample over the checkpoints.</p>\n"
            f"{body}\n</body></html>\n")


def report_lines(result: AuditResult) -> list[str]:
    """What ``nlpdiff score`` prints about a result."""
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
    top = result.table.head(5)
    text_cols = result.table.attrs.get("text_columns", [])
    if len(top):
        lines.append("hardest rows:")
    for _, r in top.iterrows():
        text = " | ".join(str(r[c]) for c in text_cols)
        text = text if len(text) <= 60 else text[:57] + "..."
        conf = "" if pd.isna(r["confidence"]) else f" ({r['confidence']:.2f})"
        lines.append(f"  {r['rank']:>3}  {text!r}  given {r['given_label']}, predicted {r['predicted_label']}"
                     f"{conf}: {r['why']}")
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


__all__ = ["AuditResult", "DEFAULTS", "JUDGEMENTS", "OTHER_SCORES", "audit_html", "audit_table", "blind_groups",
           "blind_sheet", "blind_summary", "chance_check", "read_sheet", "reading_summary", "chance_warning",
           "data_map_html", "report_lines", "score_file", "why_column", "write_audit"]
