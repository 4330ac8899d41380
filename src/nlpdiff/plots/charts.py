"""Chart helpers of :mod:`nlpdiff.plots`: pure functions from pandas DataFrames to Altair charts, which
aggregate or sample in pandas so that the data a notebook embeds stays small."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from nlpdiff.plots.render import _ID_COLUMNS, CONTENT_WIDTH, MAX_POINTS


# --------------------------------------------------------------------------------------------
# Chart helpers
# --------------------------------------------------------------------------------------------


def _require(df: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(f"missing column(s) {missing}; the frame has {list(df.columns)}")


def _encoding_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "N"
    if pd.api.types.is_numeric_dtype(series):
        return "Q" if series.nunique(dropna=True) > 10 else "O"
    return "N"


def _title(name: str) -> str:
    return name.replace("_", " ")


def learning_curve(
    metrics_df: pd.DataFrame,
    x: str | None = None,
    metrics: Sequence[str] | None = None,
    color: str | None = None,
    title: str | None = None,
    columns: int = 2,
) -> alt.Chart:
    """Metrics over training: lines with points, one panel per metric (independent y scales).

    ``metrics_df`` is wide (one column per metric, e.g. ``accuracy`` and ``train_loss``) or long
    (columns ``metric`` and ``value``). ``x`` defaults to ``checkpoint``, else ``epoch``, else
    ``step``. ``color`` optionally names a column (e.g. ``seed``) that separates runs;
    ``columns`` is the number of panels per row.
    """
    if x is None:
        x = next((c for c in ("checkpoint", "epoch", "step") if c in metrics_df.columns), None)
        if x is None:
            raise KeyError("learning_curve needs a checkpoint, epoch or step column (or pass x=)")
    _require(metrics_df, [x] + ([color] if color else []))
    keep = [x] + ([color] if color else [])
    if {"metric", "value"} <= set(metrics_df.columns):
        long = metrics_df[keep + ["metric", "value"]]
        if metrics is not None:
            long = long[long["metric"].isin(metrics)]
    else:
        if metrics is None:
            metrics = [
                c
                for c in metrics_df.columns
                if c not in keep
                and c not in _ID_COLUMNS
                and pd.api.types.is_numeric_dtype(metrics_df[c])
                and not pd.api.types.is_bool_dtype(metrics_df[c])
            ]
        _require(metrics_df, metrics)
        if not metrics:
            raise ValueError("learning_curve found no numeric metric column")
        long = metrics_df[keep + list(metrics)].melt(
            id_vars=keep, var_name="metric", value_name="value"
        )
    long = long.dropna(subset=["value"]).reset_index(drop=True)
    order = list(dict.fromkeys(long["metric"]))
    encoding: dict[str, Any] = {
        "x": alt.X(f"{x}:Q", title=_title(x), axis=alt.Axis(tickMinStep=1)),
        "y": alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
        "facet": alt.Facet("metric:N", title=None, sort=order, columns=columns),
        "tooltip": [alt.Tooltip(f"{x}:Q"), alt.Tooltip("metric:N"), alt.Tooltip("value:Q", format=".4g")],
    }
    if color:
        encoding["color"] = alt.Color(f"{color}:N", title=_title(color))
        encoding["tooltip"].insert(0, alt.Tooltip(f"{color}:N"))
    chart = (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(**encoding)
        .properties(width=230, height=180)
        .resolve_scale(y="independent")
    )
    if title:
        chart = chart.properties(title=title)
    return chart


def _map_points(data: pd.DataFrame, extra: list[str], max_points: int, seed: int, label: str | None,
                color: str | None) -> tuple[pd.DataFrame, list | None]:
    """The rows a data map embeds: at most ``max_points`` (a seeded sample; labelled rows always kept), an
    ordered-categorical ``color`` as text (its categories' order returned beside), floats rounded to 4
    decimals, tooltip texts cut to 120 characters."""
    if len(data) > max_points:
        if label:
            marked = data[data[label].notna()]
            data = pd.concat([marked, data[data[label].isna()].sample(n=max(max_points - len(marked), 0),
                                                                      random_state=seed)])
        else:
            data = data.sample(n=max_points, random_state=seed)
    data = data.reset_index(drop=True).copy()
    order = list(data[color].cat.categories) if color and isinstance(data[color].dtype, pd.CategoricalDtype) else None
    if order is not None:
        data[color] = data[color].astype(str)
    for c in data.columns:  # 4 decimals are plenty for a plot, and keep the notebook small
        if pd.api.types.is_float_dtype(data[c]):
            data[c] = data[c].round(4)
    for c in extra:
        if data[c].dtype == object or pd.api.types.is_string_dtype(data[c]):
            data[c] = data[c].astype(str).str.slice(0, 120)
    return data, order


def data_map(
    df: pd.DataFrame,
    x: str = "variability",
    y: str = "confidence",
    color: str | None = "correctness",
    shape: str | None = None,
    tooltip: Sequence[str] | None = None,
    max_points: int = MAX_POINTS,
    seed: int = 0,
    title: str | None = None,
    width: int = 420,
    height: int = 360,
    size: float = 14,
    opacity: float = 0.6,
    label: str | None = None,
) -> alt.Chart:
    """The dataset-cartography scatter (Swayamdipta et al. 2020): variability vs confidence.

    At most ``max_points`` points are embedded (a seeded random sample of the rows); the title
    says so when the frame was sampled. ``tooltip`` names extra columns to show on hover
    (``sample_id`` is added when present); long text is cut to 120 characters. ``width``,
    ``height``, ``size`` and ``opacity``: the chart's size in pixels and the points' area and
    opacity. A ``color`` column of ordered categories (:class:`pandas.Categorical`) keeps their
    order in the legend, first = darkest. ``label``: a column whose non-empty values are written
    beside their points (rows with a label are always kept when sampling).
    """
    cols = [x, y] + [c for c in (color, shape, label) if c]
    _require(df, cols)
    extra = list(tooltip or [])
    if "sample_id" in df.columns and "sample_id" not in extra and "sample_id" not in cols:
        extra.insert(0, "sample_id")
    _require(df, extra)
    n_total = len(df)
    data, order = _map_points(df[list(dict.fromkeys(cols + extra))], extra, max_points, seed, label, color)
    encoding: dict[str, Any] = {
        "x": alt.X(f"{x}:Q", title=_title(x)),
        "y": alt.Y(f"{y}:Q", title=_title(y)),
        "tooltip": [alt.Tooltip(f"{c}:{_encoding_type(data[c])}") for c in extra]
        + [alt.Tooltip(f"{x}:Q", format=".3f"), alt.Tooltip(f"{y}:Q", format=".3f")],
    }
    if color:
        ctype = _encoding_type(data[color])
        is_number = pd.api.types.is_numeric_dtype(data[color]) and not pd.api.types.is_bool_dtype(
            data[color]
        )
        scale = alt.Scale(scheme="viridis") if is_number else alt.Undefined
        if order is not None:
            ctype = "O"
            scale = alt.Scale(domain=order, scheme="viridis", reverse=True)
        encoding["color"] = alt.Color(f"{color}:{ctype}", title=_title(color), scale=scale,
                                      **({"sort": order} if order is not None else {}))
        encoding["tooltip"].append(alt.Tooltip(f"{color}:{ctype}"))
    if shape:
        encoding["shape"] = alt.Shape(f"{shape}:N", title=_title(shape))
        encoding["tooltip"].append(alt.Tooltip(f"{shape}:N"))
    if title is None:
        title = "Data map"
        if n_total > len(data):
            title += f" ({len(data):,} of {n_total:,} samples shown)"
    points = (
        alt.Chart(data)
        # aria=False: no per-point ARIA label in the SVG (5000 of them would double its size)
        .mark_point(filled=True, size=size, opacity=opacity, aria=False)
        .encode(**encoding)
    )
    if not label:
        return points.properties(width=width, height=height, title=title)
    text = (
        alt.Chart(data)
        .transform_filter(f"isValid(datum[{label!r}])")
        .mark_text(align="left", dx=5, dy=-5, fontSize=11, fontWeight="bold", aria=False)
        .encode(x=f"{x}:Q", y=f"{y}:Q", text=f"{label}:N")
    )
    return alt.layer(points, text).properties(width=width, height=height, title=title)


def score_histogram(
    df: pd.DataFrame,
    score: str,
    color: str | None = None,
    bins: int = 40,
    normalize: bool = False,
    title: str | None = None,
) -> alt.Chart:
    """Distribution of one score, optionally split (overlaid) by a column such as ``is_corrupted``.

    The histogram is computed in pandas (common bin edges for every group), so the chart embeds
    ``bins`` rows per group whatever the number of samples. ``normalize=True`` plots the
    fraction of each group's samples per bin, which makes small groups comparable to large ones.
    """
    _require(df, [score] + ([color] if color else []))
    values = pd.to_numeric(df[score], errors="coerce")
    finite = values[np.isfinite(values)]
    if finite.empty:
        raise ValueError(f"score column {score!r} has no finite value")
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    groups = [(None, values)] if not color else list(values.groupby(df[color], sort=True))
    rows = []
    for key, vals in groups:
        vals = vals[np.isfinite(vals)]
        counts, _ = np.histogram(vals, bins=edges)
        total = max(int(counts.sum()), 1)
        for i, count in enumerate(counts):
            row = {
                "bin_start": float(edges[i]),
                "bin_end": float(edges[i + 1]),
                "count": int(count),
                "fraction": count / total,
            }
            if color:
                row[color] = key.item() if hasattr(key, "item") else key
            rows.append(row)
    hist = pd.DataFrame(rows)
    ycol = "fraction" if normalize else "count"
    encoding: dict[str, Any] = {
        "x": alt.X("bin_start:Q", bin="binned", title=_title(score)),
        "x2": alt.X2("bin_end:Q"),
        "y": alt.Y(f"{ycol}:Q", title="fraction of group" if normalize else "samples", stack=None),
        "tooltip": [
            alt.Tooltip("bin_start:Q", format=".3g", title="from"),
            alt.Tooltip("bin_end:Q", format=".3g", title="to"),
            alt.Tooltip("count:Q"),
            alt.Tooltip("fraction:Q", format=".2%"),
        ],
    }
    mark: dict[str, Any] = {}
    if color:
        encoding["color"] = alt.Color(f"{color}:N", title=_title(color))
        encoding["tooltip"].insert(0, alt.Tooltip(f"{color}:N"))
        mark["opacity"] = 0.55
    chart = alt.Chart(hist).mark_bar(binSpacing=0, **mark).encode(**encoding)
    return chart.properties(width=420, height=240, title=title or f"Distribution of {_title(score)}")


def heatmap(
    matrix_df: pd.DataFrame,
    title: str | None = None,
    value_name: str = "correlation",
    fmt: str = ".2f",
    domain: tuple[float, float] | None = (-1.0, 1.0),
) -> alt.LayerChart:
    """A matrix (e.g. Spearman correlations between scores) as a heat map with values as text.

    Rows and columns keep the frame's order. ``domain=None`` lets the colour scale follow the
    data (use it for matrices that are not correlations).
    """
    if matrix_df.empty:
        raise ValueError("heatmap needs a non-empty matrix")
    rows = [str(i) for i in matrix_df.index]
    cols = [str(c) for c in matrix_df.columns]
    long = pd.DataFrame(
        [
            {"row": r, "column": c, value_name: float(v) if pd.notna(v) else None}
            for r, values in zip(rows, matrix_df.to_numpy(dtype=float))
            for c, v in zip(cols, values)
        ]
    )
    scale = (
        alt.Scale(scheme="redblue", domain=list(domain), reverse=True)
        if domain is not None
        else alt.Scale(scheme="viridis")
    )
    base = alt.Chart(long).encode(
        x=alt.X("column:N", sort=cols, title=None, axis=alt.Axis(labelAngle=-40)),
        y=alt.Y("row:N", sort=rows, title=None),
    )
    rect = base.mark_rect().encode(
        color=alt.Color(f"{value_name}:Q", scale=scale, title=_title(value_name)),
        tooltip=[alt.Tooltip("row:N"), alt.Tooltip("column:N"), alt.Tooltip(f"{value_name}:Q", format=fmt)],
    )
    if domain is not None:
        strong = f"abs(datum['{value_name}']) > {0.6 * max(abs(domain[0]), abs(domain[1]))}"
    else:
        strong = "false"
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text(f"{value_name}:Q", format=fmt),
        color=alt.condition(strong, alt.value("white"), alt.value("black")),
    )
    # cells of 36 px, but the whole matrix stays inside the column (labels on the left take about 150 px)
    size = min(max(160, 36 * max(len(rows), len(cols))), CONTENT_WIDTH - 170)
    layer = (rect + text).properties(width=size, height=size)
    return layer.properties(title=title) if title else layer
