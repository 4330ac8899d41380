"""The plotting layer: chart helpers build valid Vega-Lite specs; the renderer works offline."""

from __future__ import annotations

import json
import re
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import pytest

from nlpdiff import plots

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "book" / "_static"


@pytest.fixture
def offline():
    """Enable the offline renderer and theme for one test, then restore Altair's state."""
    renderer, theme = alt.renderers.active, alt.theme.active
    plots.enable_offline()
    yield
    alt.renderers.enable(renderer)
    alt.theme.enable(theme)


@pytest.fixture
def scores() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 7000
    return pd.DataFrame(
        {
            "sample_id": np.arange(n),
            "text": ["a rather long review " * 20] * n,
            "variability": rng.random(n) * 0.4,
            "confidence": rng.random(n),
            "correctness": rng.integers(0, 6, n) / 5,
            "is_corrupted": rng.random(n) < 0.1,
            "action": rng.gamma(2.0, 1.0, n),
        }
    )


@pytest.fixture
def metrics() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "checkpoint": [1, 2, 3, 4],
            "epoch": [1, 2, 3, 4],
            "accuracy": [0.70, 0.80, 0.85, 0.86],
            "train_loss": [0.60, 0.40, 0.30, 0.25],
        }
    )


def _values(spec: dict) -> list[dict]:
    """The rows a spec embeds (Altair puts them in top-level datasets)."""
    return [row for rows in spec.get("datasets", {}).values() for row in rows]


# ---------------------------------------------------------------------------------------------
# learning_curve
# ---------------------------------------------------------------------------------------------


def test_learning_curve_wide(metrics):
    spec = plots.learning_curve(metrics).to_dict()  # to_dict validates against the schema
    enc = spec["encoding"]
    assert enc["x"]["field"] == "checkpoint"
    assert enc["y"]["field"] == "value"
    assert enc["facet"]["field"] == "metric"
    assert spec["mark"]["type"] == "line" and spec["mark"]["point"] is True
    assert spec["resolve"]["scale"]["y"] == "independent"
    assert {r["metric"] for r in _values(spec)} == {"accuracy", "train_loss"}  # epoch is an id


def test_learning_curve_long_with_runs_and_explicit_x():
    long = pd.DataFrame(
        {
            "epoch": [1, 2, 1, 2],
            "seed": [0, 0, 1, 1],
            "metric": ["accuracy"] * 4,
            "value": [0.7, 0.8, 0.72, 0.79],
        }
    )
    spec = plots.learning_curve(long, x="epoch", color="seed", title="runs").to_dict()
    assert spec["encoding"]["x"]["field"] == "epoch"
    assert spec["encoding"]["color"]["field"] == "seed"
    assert spec["title"] == "runs"
    assert len(_values(spec)) == 4


def test_learning_curve_errors(metrics):
    with pytest.raises(KeyError):
        plots.learning_curve(metrics[["accuracy"]])
    with pytest.raises(KeyError):
        plots.learning_curve(metrics, metrics=["f1"])


# ---------------------------------------------------------------------------------------------
# data_map
# ---------------------------------------------------------------------------------------------


def test_data_map_encodings_and_sampling(scores):
    chart = plots.data_map(scores, tooltip=["text"])
    spec = chart.to_dict()
    enc = spec["encoding"]
    assert enc["x"]["field"] == "variability" and enc["x"]["type"] == "quantitative"
    assert enc["y"]["field"] == "confidence" and enc["y"]["type"] == "quantitative"
    assert enc["color"]["field"] == "correctness"
    tooltip_fields = {t["field"] for t in enc["tooltip"]}
    assert {"sample_id", "text", "variability", "confidence", "correctness"} <= tooltip_fields
    rows = _values(spec)
    assert len(rows) == plots.MAX_POINTS < len(scores)
    assert set(rows[0]) == {"variability", "confidence", "correctness", "sample_id", "text"}
    assert max(len(r["text"]) for r in rows) <= 120
    assert "5,000 of 7,000" in spec["title"]
    # deterministic sample
    again = plots.data_map(scores, tooltip=["text"]).to_dict()
    assert _values(again) == rows


def test_data_map_small_frame_boolean_colour_and_shape(scores):
    small = scores.head(300)
    spec = plots.data_map(small, color="is_corrupted", shape="is_corrupted", max_points=1000).to_dict()
    assert len(_values(spec)) == 300
    assert spec["encoding"]["color"]["type"] == "nominal"
    assert spec["encoding"]["shape"]["field"] == "is_corrupted"
    assert spec["title"] == "Data map"


def test_data_map_missing_column(scores):
    with pytest.raises(KeyError):
        plots.data_map(scores.drop(columns="variability"))


# ---------------------------------------------------------------------------------------------
# score_histogram
# ---------------------------------------------------------------------------------------------


def test_score_histogram_grouped(scores):
    spec = plots.score_histogram(scores, "action", color="is_corrupted", bins=30).to_dict()
    enc = spec["encoding"]
    assert enc["x"]["field"] == "bin_start" and enc["x"]["bin"] == "binned"
    assert enc["x2"]["field"] == "bin_end"
    assert enc["y"]["field"] == "count"
    assert enc["color"]["field"] == "is_corrupted"
    rows = _values(spec)
    assert len(rows) == 30 * 2  # pre-binned: small whatever the number of samples
    assert sum(r["count"] for r in rows) == len(scores)
    corrupted = sum(r["count"] for r in rows if r["is_corrupted"] is True)
    assert corrupted == int(scores["is_corrupted"].sum())


def test_score_histogram_normalized_and_plain(scores):
    spec = plots.score_histogram(scores, "action", color="is_corrupted", normalize=True).to_dict()
    assert spec["encoding"]["y"]["field"] == "fraction"
    for group in (True, False):
        total = sum(r["fraction"] for r in _values(spec) if r["is_corrupted"] is group)
        assert total == pytest.approx(1.0)
    plain = plots.score_histogram(scores, "confidence").to_dict()
    assert "color" not in plain["encoding"]
    assert len(_values(plain)) == 40


def test_score_histogram_constant_and_empty():
    df = pd.DataFrame({"s": [1.0, 1.0, 1.0]})
    spec = plots.score_histogram(df, "s", bins=5).to_dict()
    assert sum(r["count"] for r in _values(spec)) == 3
    with pytest.raises(ValueError):
        plots.score_histogram(pd.DataFrame({"s": [np.nan]}), "s")


# ---------------------------------------------------------------------------------------------
# heatmap
# ---------------------------------------------------------------------------------------------


def test_heatmap(scores):
    matrix = scores[["action", "confidence", "variability"]].corr(method="spearman")
    spec = plots.heatmap(matrix, title="Spearman").to_dict()
    assert spec["title"] == "Spearman"
    rect, text = spec["layer"]
    assert rect["mark"]["type"] == "rect"
    assert rect["encoding"]["color"]["field"] == "correlation"
    assert rect["encoding"]["color"]["scale"]["domain"] == [-1.0, 1.0]
    assert rect["encoding"]["x"]["sort"] == ["action", "confidence", "variability"]
    assert text["mark"]["type"] == "text"
    assert text["encoding"]["text"]["field"] == "correlation"
    assert text["encoding"]["text"]["format"] == ".2f"
    assert len(_values(spec)) == 9


def test_heatmap_free_domain_and_empty():
    m = pd.DataFrame([[1.0, 20.0], [3.0, np.nan]], index=["a", "b"], columns=["x", "y"])
    spec = plots.heatmap(m, value_name="count", fmt=".0f", domain=None).to_dict()
    assert "domain" not in spec["layer"][0]["encoding"]["color"]["scale"]
    with pytest.raises(ValueError):
        plots.heatmap(pd.DataFrame())


# ---------------------------------------------------------------------------------------------
# the offline renderer
# ---------------------------------------------------------------------------------------------

EXTERNAL_SRC = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


def test_mimebundle_offline(offline, scores):
    chart = plots.data_map(scores.head(50))
    bundle = chart._repr_mimebundle_()
    assert set(bundle) == {"text/html"}  # one stored chart: the static SVG and the spec, in one container
    assert not any("vegalite" in key or "vega" in key for key in bundle)
    page = bundle["text/html"]
    assert page.count("<svg") == 1
    assert not EXTERNAL_SRC.search(page)
    assert not re.search(r"<script\b[^>]*\bsrc=", page, re.I)  # only the inline script
    assert re.search(r"\b(?:https?:)?//[^\s\"']+\.js\b", page) is None
    # the static SVG is inside the container, with ids made unique for this chart
    container = re.search(r'<div id="(nlpdiff-chart-[0-9a-f]+)" class="nlpdiff-chart">', page)
    assert container
    static = page[page.index('class="nlpdiff-chart-static"') :]
    assert static.split(">", 1)[1].lstrip().startswith("<svg")
    for ref in re.findall(r'\bid="([^"]+)"', static.split("</div>", 1)[0]):
        assert ref.startswith(container.group(1))
    # the inline script holds the spec, and nothing in it can close the script early
    script = page.split("<script", 1)[1]
    assert script.count("</script>") == 1
    assert "vegaEmbed" in script and '"$schema"' in script
    assert plots.RENDERER_NAME == alt.renderers.active
    assert alt.theme.active == plots.THEME_NAME


def test_mimebundle_escapes_script_breaking_text(offline):
    df = pd.DataFrame({"sample_id": [0], "text": ["</script><script>alert(1)</script>"],
                       "variability": [0.1], "confidence": [0.5], "correctness": [1.0]})
    page = plots.data_map(df, tooltip=["text"])._repr_mimebundle_()["text/html"]
    assert page.count("</script>") == 1
    assert "alert(1)" in page  # still there, escaped inside the JSON


def test_mimebundle_for_layered_and_faceted(offline, metrics, scores):
    for chart in (plots.learning_curve(metrics), plots.heatmap(scores[["action", "confidence"]].corr())):
        bundle = chart._repr_mimebundle_()
        assert set(bundle) == {"text/html"} and "<svg" in bundle["text/html"]
        assert "nlpdiff-chart-live" in bundle["text/html"]


def test_charts_fit_the_content_column(offline, metrics, scores):
    """Drawn, every helper's chart is at most CONTENT_WIDTH wide, legend included; fit_width shrinks a wide one."""
    many = pd.DataFrame(np.eye(20), index=[f"score_{i}" for i in range(20)], columns=[f"score_{i}" for i in range(20)])
    charts = [plots.learning_curve(metrics), plots.data_map(scores), plots.score_histogram(scores, "action",
              color="is_corrupted"), plots.heatmap(many)]
    for chart in charts:
        assert plots.svg_width(plots._svg(chart.to_dict())) <= plots.CONTENT_WIDTH
    wide = alt.Chart(scores.head(200)).mark_point().encode(x="action:Q", y="confidence:Q", color="is_corrupted:N").properties(
        width=1200)
    assert plots.svg_width(plots._svg(wide.to_dict())) > plots.CONTENT_WIDTH
    fitted = plots.svg_width(plots._svg(plots.fit_width(wide).to_dict()))
    assert plots.CONTENT_WIDTH - 5 <= fitted <= plots.CONTENT_WIDTH


def test_theme_config_is_applied(offline, metrics):
    spec = plots.learning_curve(metrics).to_dict()
    assert spec["config"]["range"]["category"] == plots.PALETTE
    assert "googleapis" not in json.dumps(spec)


# ---------------------------------------------------------------------------------------------
# the assets the book ships
# ---------------------------------------------------------------------------------------------


def test_committed_vega_bundle_matches_altair():
    path = STATIC / plots.BUNDLE_FILENAME
    assert path.is_file(), "run `python -m nlpdiff.plots` to write the Vega bundle"
    head = path.read_text(encoding="utf-8")[:400]
    shipped = re.search(r"vega-lite (\d+)\.(\d+)", head)
    assert shipped, head
    # Specs from Altair are compiled by the shipped Vega-Lite: the major versions must agree.
    assert shipped.group(1) == plots.vegalite_version().split(".")[0], (
        f"book/_static/nlpdiff-vega.js ships Vega-Lite {shipped.group(0)} but Altair writes "
        f"Vega-Lite {plots.vegalite_version()} specs; rerun `python -m nlpdiff.plots`"
    )
    assert path.stat().st_size < 3_000_000


def test_write_vega_bundle(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default is under the current folder, never the install folder
    assert plots.write_vega_bundle() == tmp_path / "book" / "_static" / plots.BUNDLE_FILENAME
    out = plots.write_vega_bundle(tmp_path / "v.js")
    text = out.read_text(encoding="utf-8")
    assert "window.vegaEmbed" in text
    assert text.splitlines()[1] == "(function () {"
    assert text.rstrip().endswith("})();")


def test_local_mathjax_is_shipped():
    mathjax = STATIC / "mathjax" / "tex-svg.js"
    assert mathjax.is_file() and 500_000 < mathjax.stat().st_size < 3_000_000
