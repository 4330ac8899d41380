"""The book builds offline with no warning, and its charts and maths render with no network.

The book is built from a temporary copy of `_config.yml`, `_toc.yml` and `book/`, so the test
never touches the repository's own `_build`. Pages that `_toc.yml` lists under `book/results/`
but that do not exist yet (a fresh clone before the workflow has run) are replaced in the copy by
a tiny executed notebook; and the copy gets one more page, a notebook whose outputs are Altair
charts made by `nlpdiff.plots`, so the chart checks run whatever `book/results/` holds.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CHECK_PAGE = "book/results/offline_chart_check"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _toc_files(node) -> list[str]:
    """Every `file:` entry of a _toc.yml, in order."""
    found: list[str] = []
    if isinstance(node, dict):
        if isinstance(node.get("file"), str):
            found.append(node["file"])
        if isinstance(node.get("root"), str):
            found.append(node["root"])
        for value in node.values():
            if isinstance(value, (list, dict)):
                found.extend(_toc_files(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_toc_files(item))
    return found


def _chart_notebook(path: Path, title: str) -> None:
    """Write an executed notebook whose outputs are the four nlpdiff chart types."""
    import altair as alt
    import nbformat

    from nlpdiff import plots

    renderer, theme = alt.renderers.active, alt.theme.active
    plots.enable_offline()
    try:
        rng = np.random.default_rng(0)
        n = 600
        scores = pd.DataFrame(
            {
                "sample_id": np.arange(n),
                "variability": rng.random(n) * 0.4,
                "confidence": rng.random(n),
                "correctness": rng.integers(0, 6, n) / 5,
                "is_corrupted": rng.random(n) < 0.1,
                "action": rng.gamma(2.0, 1.0, n),
            }
        )
        metrics = pd.DataFrame({"epoch": [1, 2, 3], "accuracy": [0.7, 0.8, 0.85], "train_loss": [0.6, 0.4, 0.3]})
        charts = {
            "learning_curve": plots.learning_curve(metrics),
            "data_map": plots.data_map(scores),
            "score_histogram": plots.score_histogram(scores, "action", color="is_corrupted"),
            "heatmap": plots.heatmap(scores[["action", "confidence", "variability"]].corr("spearman")),
        }
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells.append(
            nbformat.v4.new_markdown_cell(f"# {title}\n\nMaths: $A(x) = \\sum_{{t=1}}^{{T}} L_t(x)$.")
        )
        for count, (name, chart) in enumerate(charts.items(), start=1):
            cell = nbformat.v4.new_code_cell(f"plots.{name}(...)", execution_count=count)
            cell.outputs = [
                nbformat.v4.new_output("display_data", data=chart._repr_mimebundle_(), metadata={})
            ]
            nb.cells.append(cell)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
    finally:
        alt.renderers.enable(renderer)
        alt.theme.enable(theme)


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    src = tmp_path_factory.mktemp("book")
    shutil.copy2(ROOT / "_config.yml", src / "_config.yml")
    shutil.copytree(ROOT / "book", src / "book", ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints"))
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    for entry in _toc_files(toc):
        if entry.startswith("book/results/") and not list(src.glob(entry + ".*")):
            _chart_notebook(src / (entry + ".ipynb"), f"Placeholder for {entry}")
    _chart_notebook(src / (CHECK_PAGE + ".ipynb"), "Offline chart check")
    if "parts" in toc:
        toc["parts"][-1].setdefault("chapters", []).append({"file": CHECK_PAGE})
    else:
        toc.setdefault("chapters", []).append({"file": CHECK_PAGE})
    (src / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False), encoding="utf-8")

    exe = shutil.which("jupyter-book")
    cmd = [exe] if exe else [sys.executable, "-m", "jupyter_book.cli.main"]
    proc = subprocess.run(
        cmd + ["build", str(src), "-W", "--keep-going"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return src, proc


def test_build_succeeds_without_warning(built_book):
    src, proc = built_book
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert "build succeeded" in log, log[-6000:]
    assert not re.search(r"\bWARNING\b|Warning, treated as error", log), log[-6000:]
    html = src / "_build" / "html"
    assert (html / "book" / "intro.html").is_file()
    assert (html / (CHECK_PAGE + ".html")).is_file()


# ---------------------------------------------------------------------------------------------
# No external assets
# ---------------------------------------------------------------------------------------------

ASSET = re.compile(
    r"""<(script|link|img|iframe|source|embed)\b[^>]*?\b(src|href)\s*=\s*["']?([^"'\s>]+)""", re.I
)


# Scripts can also load code without a src attribute (Altair's default renderer builds its script
# tags from CDN addresses in JavaScript): any CDN host or web address of a .js/.css file counts.
DYNAMIC = re.compile(
    r"""(?:https?:)?//(?:cdn\.jsdelivr\.net|unpkg\.com|cdnjs\.cloudflare\.com|fonts\.googleapis\.com"""
    r"""|fonts\.gstatic\.com|ajax\.googleapis\.com|code\.jquery\.com)[^\s"'<>)]*"""
    r"""|https?://[^\s"'<>)]+\.(?:js|mjs|css)\b""",
    re.I,
)


def _is_external(url: str) -> bool:
    return bool(re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", url, re.I)) and not url.lower().startswith("file:")


def test_no_page_loads_anything_from_outside(built_book):
    src, proc = built_book
    assert proc.returncode == 0
    html = src / "_build" / "html"
    pages = sorted(html.rglob("*.html"))
    assert pages
    offending = []
    for page in pages:
        text = page.read_text(encoding="utf-8", errors="replace")
        for tag, _attr, url in ASSET.findall(text):
            if _is_external(url):
                offending.append(f"{page.relative_to(html)}: <{tag}> {url}")
        for url in DYNAMIC.findall(text):
            offending.append(f"{page.relative_to(html)}: web address in the page: {url}")
        for url in re.findall(r"@import\s+(?:url\()?[\"']?([^\"')\s;]+)", text):
            if _is_external(url):
                offending.append(f"{page.relative_to(html)}: @import {url}")
    for css in (html / "_static").rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        for url in re.findall(r"(?:url\(|@import\s+)[\"']?([^\"')\s;]+)", text):
            if _is_external(url):
                offending.append(f"{css.relative_to(html)}: {url}")
    assert not offending, "\n".join(offending)
    for page in pages:
        text = page.read_text(encoding="utf-8", errors="replace")
        assert "fonts.googleapis" not in text and "fonts.gstatic" not in text, page


def test_chart_page_has_offline_chart_html(built_book):
    src, _ = built_book
    text = (src / "_build" / "html" / (CHECK_PAGE + ".html")).read_text(encoding="utf-8")
    assert text.count('class="nlpdiff-chart"') == 4
    assert re.search(r'<script[^>]*src="[./]*_static/nlpdiff-vega\.js', text)
    assert re.search(r'<script[^>]*src="[./]*_static/mathjax/tex-svg\.js', text)
    # with JavaScript off, the static SVG is already inside each chart's container
    tree = _ChartTree()
    tree.feed(text)
    assert len(tree.static_has_svg) == 4 and all(tree.static_has_svg), tree.static_has_svg


def _results_notebooks() -> list[Path]:
    """The executed notebooks committed under book/results/ (not the `*.failed.ipynb` leftovers)."""
    results = ROOT / "book" / "results"
    return [p for p in sorted(results.glob("*.ipynb")) if not p.name.endswith(".failed.ipynb")]


def test_results_notebooks_are_in_the_toc():
    toc = set(_toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))))
    unlisted = [
        p.relative_to(ROOT).with_suffix("").as_posix()
        for p in _results_notebooks()
        if p.relative_to(ROOT).with_suffix("").as_posix() not in toc
    ]
    assert not unlisted, f"notebooks missing from _toc.yml (they would not be built): {unlisted}"


def test_results_notebooks_are_offline_safe():
    """Charts in committed pages went through nlpdiff.plots.enable_offline(), and no output
    pulls a script or stylesheet from the web."""
    import nbformat

    problems = []
    for path in _results_notebooks():
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells):
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                for mime, value in data.items():
                    where = f"{path.name} cell {index} {mime}"
                    if "vegalite" in mime or mime.startswith("application/vnd.vega"):
                        problems.append(f"{where}: Altair chart shown before plots.enable_offline()")
                    text = value if isinstance(value, str) else "".join(value) if isinstance(value, list) else ""
                    for tag, _attr, url in ASSET.findall(text):
                        if _is_external(url):
                            problems.append(f"{where}: <{tag}> {url}")
                    for url in DYNAMIC.findall(text):
                        problems.append(f"{where}: web address {url}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# Headless Chromium, offline
# ---------------------------------------------------------------------------------------------


class _ChartTree(HTMLParser):
    """Per chart container: did its live part get an <svg>/<canvas>, and was it drawn by Vega-Embed."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, str]] = []  # (tag, role)
        self.live_has_graphics: list[bool] = []
        self.static_has_svg: list[bool] = []
        self.rendered: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        role = ""
        if "nlpdiff-chart" in classes:
            role = "chart"
            self.rendered.append(attrs.get("data-nlpdiff-rendered"))
        elif "nlpdiff-chart-live" in classes:
            role = "live"
            self.live_has_graphics.append(False)
        elif "nlpdiff-chart-static" in classes:
            role = "static"
            self.static_has_svg.append(False)
        if tag in ("svg", "canvas"):
            roles = {r for _, r in self.stack}
            if "live" in roles:
                self.live_has_graphics[-1] = True
            if "static" in roles and tag == "svg":
                self.static_has_svg[-1] = True
        if tag not in self.VOID:
            self.stack.append((tag, role))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break


def _dump_dom(page: Path) -> str:
    with tempfile.TemporaryDirectory(prefix="nlpdiff-chromium-") as profile:
        proc = subprocess.run(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
             "--virtual-time-budget=5000", page.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


needs_chromium = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) "
    "to check in a real browser that the charts and the maths render offline",
)


@needs_chromium
def test_charts_render_in_headless_chromium(built_book):
    src, proc = built_book
    assert proc.returncode == 0
    html = src / "_build" / "html"
    chart_pages = [p for p in sorted(html.rglob("*.html")) if 'class="nlpdiff-chart"' in p.read_text(encoding="utf-8")]
    assert html / (CHECK_PAGE + ".html") in chart_pages
    for page in chart_pages[:10]:
        tree = _ChartTree()
        tree.feed(_dump_dom(page))
        assert tree.live_has_graphics, page
        assert all(tree.live_has_graphics), f"{page}: a chart container has no <svg> or <canvas>"
        assert all(r == "vega-embed" for r in tree.rendered), f"{page}: {tree.rendered}"


@needs_chromium
def test_maths_renders_in_headless_chromium(built_book):
    src, proc = built_book
    assert proc.returncode == 0
    dom = _dump_dom(src / "_build" / "html" / "book" / "intro.html")
    assert "<mjx-container" in dom, "MathJax did not typeset the intro page"
