"""Altair charts for the book, rendered with no network at all.

Altair's default renderers load Vega, Vega-Lite and Vega-Embed from a CDN. The book must work
offline, so every notebook calls :func:`enable_offline` first. It enables the ``nlpdiff_offline``
renderer, whose output is one MIME type, ``text/html``: a container with a static SVG of the
chart (drawn with vl-convert, so it shows with JavaScript off and in front ends that run no
script) and an inline script that, when ``window.vegaEmbed`` exists, replaces the SVG with the
interactive chart (tooltips) drawn from the same Vega-Lite spec. The book ships ``vegaEmbed`` in
``book/_static/nlpdiff-vega.js`` (written by :func:`write_vega_bundle`, loaded on every page
through ``html_js_files``). Nothing is fetched from outside the build. When the chart was drawn by
Vega-Embed the container gets ``data-nlpdiff-rendered="vega-embed"``.

Each chart is stored once: the renderer used to add the same SVG a second time as
``image/svg+xml``, which was a third of the committed pages (4.1 of 12.6 MB of book/results); the
SVG inside the HTML is the fallback. The Vega-Lite JSON MIME type is deliberately left out: front
ends that honour it would fetch Vega from a CDN.

Sizes fit the book's content column (:data:`CONTENT_WIDTH`, about 780 px in a 1,400 px window):
faceted charts wrap at two panels per row, legends sit below the plot (theme), and
:func:`fit_width` shrinks a chart of the notebooks' own to the column.

Chart helpers (:func:`learning_curve`, :func:`data_map`, :func:`score_histogram`,
:func:`heatmap`) are pure functions from pandas DataFrames to Altair charts. They aggregate or
sample in pandas, so the data embedded in a notebook stays small whatever the dataset size.

Typical notebook use::

    from nlpdiff import plots
    plots.enable_offline()
    plots.learning_curve(metrics_df)
    plots.data_map(scores_df, color="correctness")
    plots.score_histogram(scores_df, "action", color="is_corrupted")
    plots.heatmap(scores_df[score_columns].corr(method="spearman"))
"""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

__all__ = [
    "BUNDLE_FILENAME",
    "CONTENT_WIDTH",
    "MAX_POINTS",
    "RENDERER_NAME",
    "THEME_NAME",
    "data_map",
    "enable_offline",
    "fit_width",
    "heatmap",
    "learning_curve",
    "mimebundle",
    "score_histogram",
    "svg_width",
    "vega_bundle",
    "vegalite_version",
    "write_vega_bundle",
]

RENDERER_NAME = "nlpdiff_offline"
THEME_NAME = "nlpdiff"
BUNDLE_FILENAME = "nlpdiff-vega.js"
#: Most points a scatter chart embeds; larger frames are sampled (deterministically) down to it.
MAX_POINTS = 5000
#: The widest a chart may be drawn, in pixels, axes and legend included: the book's content column is
#: 784 px in a 1,400 px window (sphinx-book-theme, measured by nlpdiff_study.bookcheck).
CONTENT_WIDTH = 760

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

_ID_COLUMNS = {"checkpoint", "epoch", "step", "seed", "run", "fold"}


# --------------------------------------------------------------------------------------------
# Theme
# --------------------------------------------------------------------------------------------


def _theme() -> dict[str, Any]:
    return {
        "config": {
            "font": FONT,
            "view": {"continuousWidth": 420, "continuousHeight": 280, "stroke": None},
            "range": {"category": PALETTE},
            "axis": {
                "labelFontSize": 11,
                "titleFontSize": 12,
                "titleFontWeight": "normal",
                "gridColor": "#e6e6e6",
                "domainColor": "#888888",
                "tickColor": "#888888",
            },
            # below the plot, inside the chart's width (a legend on the right widens the chart past the column)
            "legend": {"labelFontSize": 11, "titleFontSize": 12, "titleFontWeight": "normal", "orient": "bottom",
                       "direction": "horizontal", "columns": 4, "labelLimit": 160},
            "title": {"fontSize": 14, "fontWeight": "normal", "anchor": "start"},
            "header": {"labelFontSize": 12, "titleFontSize": 12},
            "point": {"size": 30},
            "line": {"strokeWidth": 2},
        }
    }


alt.theme.register(THEME_NAME, enable=False)(_theme)


# --------------------------------------------------------------------------------------------
# Offline rendering
# --------------------------------------------------------------------------------------------


def vegalite_version() -> str:
    """The Vega-Lite version (``"major.minor"``) of the installed Altair's schema."""
    major_minor = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    import vl_convert as vlc

    available = vlc.get_vegalite_versions()
    return major_minor if major_minor in available else available[-1]


def vega_bundle() -> str:
    """Vega + Vega-Lite + Vega-Embed as one classic script that defines ``window.vegaEmbed``.

    Built by vl-convert (no network). The bundle is wrapped in a function so that its top-level
    names do not leak into the page's global scope.
    """
    import vl_convert as vlc

    version = vegalite_version()
    body = vlc.javascript_bundle(vl_version=version)
    header = (
        f"/* nlpdiff offline Vega bundle: vega-embed + vega-lite {version} + vega "
        f"{vlc.get_vega_version()}, generated by nlpdiff.plots.write_vega_bundle with "
        f"vl-convert-python {vlc.__version__}. Do not edit. */\n"
    )
    return header + "(function () {\n" + body + "\n})();\n"


def write_vega_bundle(path: str | Path | None = None) -> Path:
    """Write :func:`vega_bundle` to ``path`` (default: ``book/_static/nlpdiff-vega.js``).

    The file is committed, so building the book needs no extra step; rerun this after upgrading
    Altair or vl-convert-python (``python -m nlpdiff.plots``).
    """
    if path is None:
        path = Path(__file__).resolve().parents[2] / "book" / "_static" / BUNDLE_FILENAME
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(vega_bundle(), encoding="utf-8")
    tmp.replace(path)
    return path


def _svg(spec: Mapping[str, Any]) -> str:
    import vl_convert as vlc

    return _compact_svg(vlc.vegalite_to_svg(dict(spec), vl_version=vegalite_version()))


_LONG_DECIMAL = re.compile(r"(\d\.\d\d)\d+")
_GEOMETRY_ATTR = re.compile(r'\b(transform|d|x|y|x1|x2|y1|y2|width|height)="([^"]*)"')


def _compact_svg(svg: str) -> str:
    """Round the coordinates of an SVG to 2 decimals (a hundredth of a pixel): about a third
    smaller for scatter plots, and the same picture. Text content is left alone."""

    def shorten(match: re.Match[str]) -> str:
        return match.group(1) + '="' + _LONG_DECIMAL.sub(r"\1", match.group(2)) + '"'

    return _GEOMETRY_ATTR.sub(shorten, svg)


def _prefix_svg_ids(svg: str, prefix: str) -> str:
    """Make the ids inside an SVG unique, so that several inline SVGs on one page do not clash."""
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", svg)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"', svg)


def _script_json(obj: Any) -> str:
    """JSON that is safe inside an inline ``<script>``."""
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_EMBED_JS = """
(function () {
  var spec = %(spec)s;
  var id = %(id)s;
  function draw() {
    var root = document.getElementById(id);
    if (!root || root.getAttribute("data-nlpdiff-rendered") || typeof window.vegaEmbed !== "function") {
      return false;
    }
    root.setAttribute("data-nlpdiff-rendered", "pending");
    var fallback = root.querySelector(".nlpdiff-chart-static");
    var live = root.querySelector(".nlpdiff-chart-live");
    window.vegaEmbed(live, spec, {actions: false, renderer: "svg"}).then(function () {
      if (fallback) { fallback.parentNode.removeChild(fallback); }
      root.setAttribute("data-nlpdiff-rendered", "vega-embed");
    }).catch(function (err) {
      root.setAttribute("data-nlpdiff-rendered", "static");
      if (window.console) { console.error("nlpdiff: vegaEmbed failed, static SVG kept", err); }
    });
    return true;
  }
  if (!draw()) {
    document.addEventListener("DOMContentLoaded", draw);
    window.addEventListener("load", draw);
  }
})();
"""


def svg_width(svg: str) -> float:
    """The width in pixels of an SVG drawn by vl-convert (its root ``width`` attribute)."""
    found = re.search(r'<svg\b[^>]*\bwidth="([\d.]+)', svg)
    if not found:
        raise ValueError("the SVG has no width")
    return float(found.group(1))


def fit_width(chart: alt.TopLevelMixin, width: int = CONTENT_WIDTH) -> alt.TopLevelMixin:
    """``chart`` as drawn, or scaled down to ``width`` pixels: the plot's own width is set to what is left
    after the axes and the legend (measured on the drawn SVG). A faceted or concatenated chart is left as
    it is (give it fewer columns instead)."""
    spec = chart.to_dict()
    if any(key in spec for key in ("facet", "hconcat", "vconcat", "concat", "repeat")):
        return chart
    drawn = svg_width(_svg(spec))
    own = spec.get("width", alt.Undefined)
    if own is alt.Undefined:
        own = spec["config"]["view"]["continuousWidth"] if "config" in spec else 420
    if drawn <= width or not isinstance(own, (int, float)):
        return chart
    return chart.properties(width=max(int(own - (drawn - width)), 120))


def mimebundle(spec: Mapping[str, Any], **metadata: Any) -> dict[str, str]:
    """The renderer: a Vega-Lite spec -> ``{"text/html": ...}`` (the static SVG and the spec, in one container)."""
    svg = _svg(spec)
    chart_id = "nlpdiff-chart-" + uuid.uuid4().hex[:12]
    script = _EMBED_JS % {"spec": _script_json(spec), "id": json.dumps(chart_id)}
    body = (
        f'<div id="{html.escape(chart_id)}" class="nlpdiff-chart">'
        f'<div class="nlpdiff-chart-static">{_prefix_svg_ids(svg, chart_id)}</div>'
        f'<div class="nlpdiff-chart-live"></div>'
        f"</div>\n<script type=\"text/javascript\">{script}</script>"
    )
    return {"text/html": body}


def enable_offline() -> str:
    """Register and enable the offline renderer and the nlpdiff theme; return the renderer name.

    Call it once at the top of every notebook, before displaying any chart.
    """
    alt.renderers.register(RENDERER_NAME, mimebundle)
    alt.renderers.enable(RENDERER_NAME)
    alt.theme.enable(THEME_NAME)
    return RENDERER_NAME


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
    data = df[list(dict.fromkeys(cols + extra))]
    if n_total > max_points:
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


if __name__ == "__main__":  # pragma: no cover
    print(write_vega_bundle())
