"""Statistics and charts of the committed curriculum tables (they train nothing)."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from nlpdiff.curriculum import SCHEDULES

SETTING = ["part", "task", "backbone", "noise_rate", "budget"]


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Per setting and cell: seeds, mean final held-out metric and AULC with 95 % intervals over seeds, train seconds."""
    from nlpdiff.stats import seed_interval

    out = []
    for key, g in runs.groupby([*SETTING, "schedule", "order"], sort=False):
        row = dict(zip([*SETTING, "schedule", "order"], key))
        row["n_seeds"] = len(g)
        for m in ("final", "aulc"):
            row[m], row[f"{m}_low"], row[f"{m}_high"] = seed_interval(g[m].to_numpy())
        row["train_s"] = float(g["train_s"].mean())
        out.append(row)
    return pd.DataFrame(out)


def paired_tests(runs: pd.DataFrame, measures=("final", "aulc")) -> pd.DataFrame:
    """Each curriculum against its controls, over the same seeds (paired t test), Holm-adjusted across the table.

    Comparisons, per setting and measure: every paced cell whose order is not ``random`` against the
    same schedule with a random order (Wu et al.'s control) and against ``shuffled`` training; the
    ``prune`` control against ``shuffled``. ``p_holm`` adjusts every p of the returned table together.
    """
    from nlpdiff.stats import holm, paired_seed_test

    rows = []
    for key, g in runs.groupby(SETTING, sort=False):
        cells = {c: d.set_index("seed") for c, d in g.groupby(["schedule", "order"], sort=False)}
        pairs = []
        for (schedule, order) in cells:
            if schedule in SCHEDULES and order != "random":
                pairs += [((schedule, order), (schedule, "random"), "random order, same pacing"),
                          ((schedule, order), ("shuffled", "none"), "shuffled")]
            elif schedule == "prune":
                pairs.append(((schedule, order), ("shuffled", "none"), "shuffled"))
        for a, b, against in pairs:
            if b not in cells:
                continue
            seeds = sorted(set(cells[a].index) & set(cells[b].index))
            for m in measures:
                t = paired_seed_test(cells[a].loc[seeds, m].to_numpy(), cells[b].loc[seeds, m].to_numpy())
                rows.append({**dict(zip(SETTING, key)), "schedule": a[0], "order": a[1], "against": against,
                             "measure": m, **t})
    df = pd.DataFrame(rows)
    if len(df):
        df["p_holm"] = holm(df["p"].to_numpy(float))  # nan p stay nan and are not counted
    return df


def _chance(task: str) -> float:
    from nlpdiff import tasks

    n = tasks.get_task(task).num_labels
    return 1 / n if n else float("nan")


def settings_that_learn(runs: pd.DataFrame, scoring: pd.DataFrame, margin: float = 0.10) -> pd.DataFrame:
    """The settings (part, noise rate, budget) whose model learns: the part's scoring runs do
    (:func:`learned`) and so does the setting's own shuffled-training control (mean final held-out
    metric over seeds at least ``margin`` above chance). Returns one row per setting of ``runs``:
    the :data:`SETTING` columns, ``chance``, ``shuffled_final`` and ``learns``.
    """
    parts = learned(scoring, margin).set_index("part")["learns"]
    shuf = runs[runs["schedule"] == "shuffled"].groupby(SETTING, sort=False)["final"].mean()
    rows = []
    for key, _ in runs.groupby(SETTING, sort=False):
        s = dict(zip(SETTING, key))
        chance = _chance(s["task"])
        final = float(shuf.get(key, float("nan")))
        ok = bool(parts.get(s["part"], True)) and (not np.isfinite(chance) or final >= chance + margin)
        rows.append({**s, "chance": chance, "shuffled_final": final, "learns": ok})
    return pd.DataFrame(rows)


def learned(scoring: pd.DataFrame, margin: float = 0.10) -> pd.DataFrame:
    """Whether each part's model learns its task: the scoring runs' held-out accuracy against chance.

    ``scoring``: the scoring table of one or more parts. Chance is one over the task's number of
    classes. A part ``learns`` when every scoring run (each noise rate) is at least ``margin`` above
    chance; curricula of a model that does not learn say nothing about the order of the data.
    Returns one row per part: ``task``, ``backbone``, ``chance``, ``min_heldout`` and ``learns``.
    """
    rows = []
    for part, g in scoring.groupby("part", sort=False):
        chance = _chance(g["task"].iloc[0])
        low = float(g["final_heldout"].min())
        rows.append({"part": part, "task": g["task"].iloc[0], "backbone": g["backbone"].iloc[0], "chance": chance,
                     "min_heldout": low, "learns": bool(low >= chance + margin) if np.isfinite(chance) else True})
    return pd.DataFrame(rows)


def action_verdict(tests: pd.DataFrame, order: str = "action", measure: str = "final", alpha: float = 0.05) -> dict:
    """What the paired tests say of the curricula ordered by ``order``, on ``measure``.

    ``tests``: :func:`paired_tests` rows (any number of parts). Returns ``n`` (comparisons of a paced
    schedule with ``order`` against a control), ``better`` and ``worse`` (Holm p below ``alpha`` with a
    positive or negative mean difference), the rows of each, and ``verdict``: ``"helps"`` (some better,
    none worse), ``"hurts"`` (some worse, none better), ``"mixed"`` or ``"no difference"``.
    """
    rows = tests[(tests["order"] == order) & tests["schedule"].isin(SCHEDULES) & (tests["measure"] == measure)]
    sig = rows["p_holm"] < alpha
    better, worse = rows[sig & (rows["mean_diff"] > 0)], rows[sig & (rows["mean_diff"] < 0)]
    verdict = ("mixed" if len(better) and len(worse) else "helps" if len(better) else "hurts" if len(worse)
               else "no difference")
    return {"n": len(rows), "better": better, "worse": worse, "verdict": verdict, "rows": rows}


def curve_bands(curves: pd.DataFrame) -> pd.DataFrame:
    """Held-out learning curves: mean and 95 % interval over seeds at each checkpoint of each cell."""
    from nlpdiff.stats import seed_interval

    rows = []
    for key, g in curves.groupby([*SETTING, "schedule", "order", "checkpoint"], sort=False):
        mean, low, high = seed_interval(g["heldout"].to_numpy())
        rows.append({**dict(zip([*SETTING, "schedule", "order", "checkpoint"], key)),
                     "fraction": float(g["fraction"].mean()), "heldout": mean, "low": low, "high": high})
    return pd.DataFrame(rows)


def cell_label(schedule: str, order: str) -> str:
    """A cell's name in tables and charts: ``competence / action``, ``shuffled``, ``prune 10 % by action``."""
    if schedule == "shuffled":
        return "shuffled (ordinary training)"
    if schedule == "prune":
        return f"prune hardest by {order}"
    return f"{schedule} / {order}"


def setting_label(noise_rate: float, budget: float) -> str:
    """``clean, full budget``, ``20 % noise, 1/4 budget``."""
    noise = "clean" if noise_rate == 0 else f"{noise_rate:.0%} noise"
    return f"{noise}, " + ("full budget" if budget == 1 else f"{budget:g} of the steps")


def difference_chart(rows: pd.DataFrame, width: int = 250):
    """The answer as one chart: each paired comparison of a curriculum with its control (``rows``: the
    ``rows`` of :func:`action_verdict`), curriculum minus control in points of the final held-out
    metric with its 95 % interval over seeds, one panel per setting (two per row), coloured by control;
    the rule at 0 is no difference (Altair)."""
    import altair as alt

    d = rows.copy()
    d["comparison"] = [f"{cell_label(s, o)} vs {a}" for s, o, a in zip(d["schedule"], d["order"], d["against"])]
    d["setting"] = [setting_label(n, b) for n, b in zip(d["noise_rate"], d["budget"])]
    for c in ("mean_diff", "low", "high"):
        d[c] = 100 * d[c]
    d = d[["part", "setting", "comparison", "against", "mean_diff", "low", "high", "p_holm"]]
    y = alt.Y("comparison:N", title=None)
    zero = alt.Chart().mark_rule(color="#888").encode(x=alt.datum(0))
    rules = alt.Chart().mark_rule().encode(
        y=y, x=alt.X("low:Q", title="curriculum minus control, points (95 % interval)"), x2="high:Q",
        color=alt.Color("against:N", title="control", legend=alt.Legend(orient="bottom")))
    points = alt.Chart().mark_point(filled=True, size=50).encode(
        y=y, x="mean_diff:Q", color="against:N",
        tooltip=["part", "setting", "comparison", alt.Tooltip("mean_diff:Q", format="+.2f"),
                 alt.Tooltip("low:Q", format="+.2f"), alt.Tooltip("high:Q", format="+.2f"),
                 alt.Tooltip("p_holm:Q", format=".2g")])
    return alt.layer(zero, rules, points, data=d).properties(width=width, height=alt.Step(14)).facet(
        facet=alt.Facet("setting:N", title=None, sort=list(dict.fromkeys(d["setting"]))), columns=2)


def curve_chart(bands: pd.DataFrame, cells: Iterable[tuple[str, str]] | None = None, title: str | None = None):
    """Held-out learning curves (mean over seeds, 95 % band), one panel per setting, one colour per cell.

    ``bands``: :func:`curve_bands` of one part; ``cells``: the (schedule, order) pairs to draw (default all).
    """
    import altair as alt

    df = bands.copy()
    if cells is not None:
        keep = {tuple(c) for c in cells}
        df = df[[(s, o) in keep for s, o in zip(df["schedule"], df["order"])]]
    df["cell"] = [cell_label(s, o) for s, o in zip(df["schedule"], df["order"])]
    df["setting"] = [setting_label(n, b) for n, b in zip(df["noise_rate"], df["budget"])]
    df = df[["setting", "cell", "fraction", "heldout", "low", "high"]]
    base = alt.Chart().encode(x=alt.X("fraction:Q", title="fraction of the run's steps"),
                              color=alt.Color("cell:N", title=None))
    band = base.mark_area(opacity=0.15).encode(y=alt.Y("low:Q", title="held-out metric", scale=alt.Scale(zero=False)),
                                               y2="high:Q")
    line = base.mark_line(point=True).encode(
        y="heldout:Q", tooltip=["cell:N", alt.Tooltip("fraction:Q", format=".2f"),
                                alt.Tooltip("heldout:Q", format=".4f"), alt.Tooltip("low:Q", format=".4f"),
                                alt.Tooltip("high:Q", format=".4f")])
    chart = alt.layer(band, line, data=df).properties(width=240, height=170).facet(
        facet=alt.Facet("setting:N", title=None, sort=list(dict.fromkeys(df["setting"]))), columns=2)
    return chart.properties(title=title) if title else chart
