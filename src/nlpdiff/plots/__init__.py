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

Modules: :mod:`.render` (theme, offline renderer, Vega bundle, widths) and :mod:`.charts` (the chart helpers).
"""

from nlpdiff.plots.charts import data_map, heatmap, learning_curve, score_histogram
from nlpdiff.plots.render import (  # noqa: F401  (_svg: the static drawing, for tests of widths)
    BUNDLE_FILENAME, CONTENT_WIDTH, FONT, MAX_POINTS, PALETTE, RENDERER_NAME, THEME_NAME, _svg, enable_offline,
    fit_width, mimebundle, svg_width, vega_bundle, vegalite_version, write_vega_bundle,
)

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
