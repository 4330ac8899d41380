"""Read the built book as a reader does: every page in headless Chromium at 1400 x 900.

For each page of a built book (``_build/html``), :func:`check_page` loads a copy of the page with a
small measuring script added (the page's own scripts run first: the charts are drawn by Vega-Embed
from the book's local bundle, the maths by MathJax) and reports:

- **wide**: an element that reaches past the right edge of the content column (its bounding box
  against the column's ``clientWidth``), or that cuts its own content (``scrollWidth`` above
  ``clientWidth`` in a box that does not scroll). Boxes meant to scroll sideways are allowed and
  measured as one element: tables in their own scrolling box (``.nlpdiff-scroll``, and the theme's
  ``.pst-scrollable-table-container`` around a prose page's table) and code (``pre``). Collapsed content (a closed dropdown, folded code) is not measured.
- **first**: on a result page (``book/results/``), the first block after the title is prose: a
  paragraph or a list, or the output of a cell whose code is not on the page; a visible code cell,
  a "Show code cell source" toggle, a table or a chart there fails.
- **figure**: on a result page with a chart, the first chart starts on the first screen (the key
  figure above the fold).
- **text**: no ``NaN``, no negative zero (``-0.00``), and no interval bound outside [0, 1] for a
  probability-scale metric (ROC AUC, average precision, accuracy): in tables, the columns named
  after such a metric (differences excluded); in prose, an interval ``[a, b]`` that follows the
  metric's name.

``python -m nlpdiff_study.bookcheck [_build/html] [--shots DIR]`` checks every page of a built book
(default: the committed book, built with ``jupyter-book build .``), optionally saves a screenshot of
each page's first screen, prints one line per problem and exits 1 when there is any.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path

#: The window a reader's laptop shows.
WINDOW = (1400, 900)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]
MARKER = "nlpdiff-bookcheck"

_MEASURE_JS = r"""
<script>
(function () {
  function visible(el) { return el.getClientRects().length > 0; }
  function describe(el) {
    var cls = (el.getAttribute("class") || "").split(/\s+/).slice(0, 3).join(".");
    var text = (el.innerText || el.textContent || "").replace(/\s+/g, " ").trim().slice(0, 80);
    return el.tagName.toLowerCase() + (cls ? "." + cls : "") + (text ? " '" + text + "'" : "");
  }
  function measure() {
    var art = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
    var box = art.getBoundingClientRect(), pad = window.getComputedStyle(art);
    var left = box.left + parseFloat(pad.paddingLeft), right = box.left + art.clientWidth - parseFloat(pad.paddingRight);
    var width = Math.round(right - left);
    var out = {column_width: width, window_width: window.innerWidth, wide: [], first: null,
               text: art.innerText, tables: []};
    var SCROLLS = ".nlpdiff-scroll, .pst-scrollable-table-container, pre, div.highlight";
    var all = art.querySelectorAll("*"), flagged = [];
    for (var i = 0; i < all.length; i++) {
      var el = all[i];
      if (!visible(el)) { continue; }
      if (flagged.some(function (f) { return f.contains(el); })) { continue; }  // its outermost box is reported
      var scroller = el.parentElement && el.parentElement.closest(SCROLLS);
      if (scroller && art.contains(scroller)) { continue; }  // inside a box that scrolls: the box is measured
      var r = el.getBoundingClientRect();
      if (r.width > 0 && (r.right > right + 1 || r.left < left - 1)) {
        out.wide.push(describe(el) + ": " + Math.round(r.width) + " px wide, right edge " + Math.round(r.right - left)
                      + " px in a column of " + width + " px");
        flagged.push(el);
        continue;
      }
      if (el.matches(SCROLLS) || el.closest("mjx-container, .math")) { continue; }
      // a box narrower than its content: cut (overflow hidden) or scrolling where no scrolling was meant
      var style = window.getComputedStyle(el);
      if (style.overflowX !== "visible" && el.scrollWidth > el.clientWidth + 2) {
        out.wide.push(describe(el) + ": content " + el.scrollWidth + " px in a box of " + el.clientWidth
                      + " px (overflow " + style.overflowX + ")");
        flagged.push(el);
      }
    }
    var h1 = art.querySelector("h1");
    if (h1) {
      // the blocks after the title, in document order: siblings of the h1, then of its section
      var node = h1, first = null;
      while (node && !first) {
        var sib = node.nextElementSibling;
        while (sib && !first) {
          var txt = (sib.innerText || "").trim();
          if (visible(sib) && (txt || sib.querySelector("svg, img, table, canvas"))) { first = sib; }
          sib = sib.nextElementSibling;
        }
        node = node.parentElement;
        if (node === art) { break; }
      }
      if (first) {
        var code = first.matches("pre, div.highlight, .cell_input, details") ||
          Array.prototype.some.call(first.querySelectorAll(".cell_input, pre, div.highlight, details > summary"), visible);
        var firstText = null;
        var els = [first].concat(Array.prototype.slice.call(first.querySelectorAll("*")));
        for (var k = 0; k < els.length; k++) {
          var e = els[k];
          if (!visible(e)) { continue; }
          if (/^(P|LI|UL|OL|TABLE|SVG|IMG|CANVAS|PRE|H2|H3|H4)$/i.test(e.tagName)) { firstText = e.tagName.toLowerCase(); break; }
        }
        out.first = {block: describe(first), code: code, first_tag: firstText};
      }
    }
    var charts = Array.prototype.filter.call(art.querySelectorAll(".nlpdiff-chart, .cell_output img, .cell_output svg"), visible);
    out.first_chart_top = charts.length ? Math.round(charts[0].getBoundingClientRect().top + window.scrollY) : null;
    out.window_height = window.innerHeight;
    var tables = art.querySelectorAll("table");
    for (var t = 0; t < tables.length; t++) {
      if (!visible(tables[t])) { continue; }
      var heads = Array.prototype.map.call(tables[t].querySelectorAll("thead th"), function (th) { return th.innerText.trim(); });
      var rows = Array.prototype.map.call(tables[t].querySelectorAll("tbody tr"), function (tr) {
        return Array.prototype.map.call(tr.querySelectorAll("th, td"), function (td) { return td.innerText.trim(); });
      });
      out.tables.push({head: heads, rows: rows});
    }
    var pre = document.createElement("pre");
    pre.id = "%(marker)s";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }
  window.addEventListener("load", function () { setTimeout(measure, 1500); });
})();
</script>
""".replace("%(marker)s", MARKER)


@dataclass
class PageReport:
    """What :func:`check_page` found on one page."""

    page: str
    problems: list[str] = field(default_factory=list)
    column_width: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def chromium() -> str | None:
    """The Chromium binary (``$CHROMIUM``, ``chromium``, ``chromium-browser`` or ``google-chrome``), or None."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and (found := shutil.which(name)):
            return found
    return None


def _run_chromium(args: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    exe = chromium()
    if exe is None:
        raise FileNotFoundError("no chromium on PATH (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="nlpdiff-chromium-") as profile:
        return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                               f"--window-size={WINDOW[0]},{WINDOW[1]}", *args],
                              capture_output=True, text=True, timeout=timeout)


def measure(page: Path) -> dict:
    """Load ``page`` (a copy with the measuring script, beside it so that its relative links work) and return
    the measurements."""
    page = Path(page).resolve()
    copy = page.with_name(f".{page.stem}.{MARKER}.html")
    text = page.read_text(encoding="utf-8")
    copy.write_text(text.replace("</body>", _MEASURE_JS + "</body>", 1), encoding="utf-8")
    try:
        proc = _run_chromium(["--dump-dom", "--virtual-time-budget=8000", copy.as_uri()])
    finally:
        copy.unlink(missing_ok=True)
    found = re.search(rf'<pre id="{MARKER}">(.*?)</pre>', proc.stdout, re.S)
    if not found:
        raise RuntimeError(f"{page}: the measuring script did not report (chromium exit {proc.returncode}: "
                           f"{proc.stderr[-500:]})")
    raw = json.loads(unescape(found.group(1)))
    # a description cut inside a surrogate pair (text sliced in JavaScript) must still print
    return json.loads(json.dumps(raw, ensure_ascii=False).encode("utf-8", "surrogatepass").decode("utf-8", "replace"))


_NAN = re.compile(r"\b(?:NaN|nan)\b")
_NEG_ZERO = re.compile(r"(?<![\w.])[-−]0[.,]0+(?![0-9])")
_PROBABILITY = r"(?:ROC[ _]AUC|\bAUC\b|average[ _]precision|\bAP\b|accuracy)"
_HEADER = re.compile(_PROBABILITY + r"|^(?:chance|train acc\.?)", re.I)
_NOT_A_PROBABILITY = re.compile(r"diff|minus|gain|lift|delta|Δ|−|advantage|%|\bx_|ratio|change|\bvs\b| - ", re.I)
_INTERVAL = re.compile(_PROBABILITY + r"(?P<between>[^\[\]\n]{0,60}?)\[\s*(?P<lo>[-−]?\d*\.\d+)\s*,\s*(?P<hi>[-−]?\d*\.\d+)\s*\]",
                       re.I)
_NUMBER = re.compile(r"(?<![\w.])[-−]?\d+\.\d+(?![\w.])")


def _number(text: str) -> float:
    return float(text.replace("−", "-"))


def text_problems(text: str, tables: list[dict]) -> list[str]:
    """NaN, negative zeros and probability intervals outside [0, 1] in a page's text and tables."""
    problems = []
    for pattern, what in ((_NAN, "NaN"), (_NEG_ZERO, "negative zero")):
        for m in pattern.finditer(text):
            problems.append(f"{what} in the text: ...{text[max(m.start() - 60, 0):m.end() + 20]!r}...")
    for m in _INTERVAL.finditer(text):
        if _NOT_A_PROBABILITY.search(m.group("between")):
            continue
        lo, hi = _number(m.group("lo")), _number(m.group("hi"))
        if lo < 0 or hi > 1:
            problems.append(f"probability interval outside [0, 1] in the text: {m.group(0)!r}")
    for t in tables:
        for j, head in enumerate(t.get("head", [])):
            if not _HEADER.search(head) or _NOT_A_PROBABILITY.search(head):
                continue
            for row in t.get("rows", []):
                # rows may start with a row header (<th>) that the head does not count
                cell = row[j + len(row) - len(t["head"])] if len(row) >= len(t["head"]) else None
                if cell is None:
                    continue
                bad = [v for v in _NUMBER.findall(cell) if not 0 <= _number(v) <= 1]
                if bad:
                    problems.append(f"column {head!r}: {cell!r} is outside [0, 1]")
    return problems


def check_page(page: Path, result_page: bool = True) -> PageReport:
    """Every check of the module docstring on one built page (``result_page``: also the first block)."""
    m = measure(page)
    report = PageReport(str(page), column_width=m.get("column_width"))
    report.problems += [f"wider than the column: {w}" for w in m.get("wide", [])]
    if result_page:
        first = m.get("first")
        if first is None:
            report.problems.append("no block after the title")
        elif first["code"] or first["first_tag"] not in ("p", "li", "ul", "ol"):
            report.problems.append(f"the first block after the title is not prose: {first['block']} "
                                   f"(code: {first['code']}, first element: {first['first_tag']})")
        top = m.get("first_chart_top")
        if top is not None and top >= m.get("window_height", WINDOW[1]):
            report.problems.append(f"the page's first chart starts {top} px down, below the first screen "
                                   f"({m.get('window_height')} px)")
    report.problems += text_problems(m.get("text", ""), m.get("tables", []))
    return report


def screenshot(page: Path, out: Path) -> Path:
    """The first screen (:data:`WINDOW`) of ``page`` as a PNG."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = _run_chromium([f"--screenshot={out}", "--virtual-time-budget=8000", Path(page).resolve().as_uri()])
    if not out.is_file():
        raise RuntimeError(f"no screenshot of {page}: {proc.stderr[-500:]}")
    return out


def book_pages(html_dir: Path, toc: Path | None = None) -> list[tuple[Path, bool]]:
    """The pages of a built book: (HTML file, is a result page), in the order of ``_toc.yml`` when given."""
    html_dir = Path(html_dir)
    if toc is not None and Path(toc).is_file():
        import yaml

        def files(node):
            if isinstance(node, dict):
                for key in ("root", "file"):
                    if isinstance(node.get(key), str):
                        yield node[key]
                for value in node.values():
                    if isinstance(value, (dict, list)):
                        yield from files(value)
            elif isinstance(node, list):
                for item in node:
                    yield from files(item)

        names = list(dict.fromkeys(files(yaml.safe_load(Path(toc).read_text(encoding="utf-8")))))
        pages = [(html_dir / f"{name}.html", name.startswith("book/results/")) for name in names]
        return [(p, r) for p, r in pages if p.is_file()]
    return [(p, "results" in p.parts) for p in sorted(html_dir.rglob("*.html"))
            if not p.name.startswith(("genindex", "search", "."))]


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m nlpdiff_study.bookcheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("html", nargs="?", default="_build/html", help="a built book's HTML folder (default _build/html)")
    parser.add_argument("--toc", default="_toc.yml", help="the book's _toc.yml (page order; result pages)")
    parser.add_argument("--shots", help="also save each page's first screen (1400 x 900) as DIR/<page>.png")
    parser.add_argument("--only", nargs="*", help="check only these pages (names, e.g. mislabel)")
    args = parser.parse_args(argv)
    if chromium() is None:
        print("error: no chromium on PATH (apt-get install chromium)", file=sys.stderr)
        return 2
    pages = book_pages(Path(args.html), Path(args.toc))
    if not pages:
        print(f"error: no page under {args.html} (build the book first: jupyter-book build .)", file=sys.stderr)
        return 2
    failed = 0
    for page, is_result in pages:
        if args.only and page.stem not in args.only:
            continue
        report = check_page(page, result_page=is_result)
        name = page.relative_to(args.html).as_posix()
        print(f"{'ok  ' if report.ok else 'FAIL'} {name} (column {report.column_width} px)")
        for problem in report.problems:
            print(f"     {problem}")
        failed += not report.ok
        if args.shots:
            screenshot(page, Path(args.shots) / f"{page.stem}.png")
    print(f"{failed} of {len(pages) if not args.only else len(args.only)} pages with problems")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
