"""What the mislabel chapter draws: interval and pooled charts, from the tables of :mod:`.tables` (the
numbers of its sentences: :mod:`.findings`; the sentences: the chapter, ``notebooks/mislabel.py``)."""

from __future__ import annotations

from typing import Iterable

import pandas as pd



def interval_chart(cells_df: pd.DataFrame, scores: Iterable[str], metric: str = "roc_auc", facet: str = "cell",
                   highlight: str = "action", columns: int = 2, title: str | None = None):
    """Mean and 95 % interval over seeds of ``metric`` per score (rows), one panel per ``facet`` value
    (``columns`` panels per row: two fit the book's column), with the chance level as a tick (Altair;
    render with :func:`nlpdiff.plots.enable_offline`). The metrics are on [0, 1] (ROC AUC, average
    precision, precision at k): an interval reaching past them (a t-interval over 3 seeds) is drawn cut."""
    import altair as alt

    scores = list(scores)
    d = cells_df[cells_df["score"].isin(scores)][[facet, "score", f"{metric}_mean", f"{metric}_lo", f"{metric}_hi",
                                                   f"chance_{metric}"]].copy()
    d.columns = [facet, "score", "mean", "lo", "hi", "chance"]
    d["lo"], d["hi"] = d["lo"].fillna(d["mean"]).clip(0, 1), d["hi"].fillna(d["mean"]).clip(0, 1)
    name = metric.replace("_", " ")
    base = alt.Chart().encode(y=alt.Y("score:N", sort=scores, title=None))
    rules = base.mark_rule().encode(x=alt.X("lo:Q", title=f"{name} (mean, 95% interval over seeds)",
                                            scale=alt.Scale(zero=False)), x2="hi:Q")
    points = base.mark_point(filled=True, size=45).encode(
        x="mean:Q", color=alt.condition(alt.datum.score == highlight, alt.value("#D55E00"), alt.value("#0072B2")),
        tooltip=[facet, "score", alt.Tooltip("mean:Q", format=".3f"), alt.Tooltip("lo:Q", format=".3f"),
                 alt.Tooltip("hi:Q", format=".3f"), alt.Tooltip("chance:Q", format=".3f")])
    chance = base.mark_tick(color="#888", thickness=2, size=14).encode(x="chance:Q")
    chart = alt.layer(rules, points, chance, data=d).properties(width=240, height=16 * len(scores)).facet(
        facet=alt.Facet(f"{facet}:N", title=None), columns=columns)
    return chart.properties(title=title) if title else chart


def pooled_chart(pooled: pd.DataFrame, width: int = 560):
    """The pre-declared comparisons as one small chart: per baseline, the action score's ROC AUC minus the
    baseline's, pooled over the grid (:func:`nlpdiff_study.comparisons.pooled_detection`), with its 95 %
    interval; the grey band is the equivalence margin, the rule at 0 no difference (Altair)."""
    import altair as alt

    d = pooled[["baseline", "estimate", "low", "high", "verdict", "n_cells"]].copy()
    margin = float(pooled["margin"].iloc[0])
    order = list(d.sort_values("estimate", ascending=False)["baseline"])
    y = alt.Y("baseline:N", sort=order, title=None)
    x_title = "action minus baseline, ROC AUC (pooled, 95 % interval)"
    band = alt.Chart(pd.DataFrame({"lo": [-margin], "hi": [margin]})).mark_rect(color="#ddd").encode(
        x=alt.X("lo:Q", title=x_title), x2="hi:Q")
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="#888").encode(x="x:Q")
    rules = alt.Chart(d).mark_rule(strokeWidth=2).encode(y=y, x="low:Q", x2="high:Q")
    points = alt.Chart(d).mark_point(filled=True, size=70, color="#D55E00").encode(
        y=y, x="estimate:Q", tooltip=["baseline", "verdict", "n_cells", alt.Tooltip("estimate:Q", format="+.3f"),
                                      alt.Tooltip("low:Q", format="+.3f"), alt.Tooltip("high:Q", format="+.3f")])
    return alt.layer(band, zero, rules, points).properties(width=width, height=alt.Step(26))

