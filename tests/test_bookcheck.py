"""The book read as a reader does, in headless Chromium at 1400 x 900 (nlpdiff_study.bookcheck).

The checker is first shown a page with every fault it looks for (so that it can fail), then it
reads every page of the smoke study's built book. The same checks run on the committed book with
``jupyter-book build . && python -m nlpdiff_study.bookcheck _build/html``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nlpdiff_study import bookcheck

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bookcheck.chromium() is None,
                       reason="no chromium on PATH: install Debian's chromium (apt-get install chromium) to read "
                              "the built book in a real browser"),
]

PAGE = """<!DOCTYPE html><html><head><style>body {{margin: 0}} article {{width: 784px; margin-left: 300px}}</style>
</head><body><article class="bd-article"><section><h1>Title</h1>{first}
<p>The action score ranks them with ROC AUC 0.912 [0.850, 1.043] over 3 seeds.</p>
<div style="width: 1100px">a wide block</div>
<div class="nlpdiff-scroll" style="overflow-x: auto; max-width: 100%"><div style="width: 1500px">a table that scrolls in its own box</div></div>
<table><thead><tr><th>score</th><th>roc_auc_hi</th><th>diff</th></tr></thead>
<tbody><tr><td>action</td><td>1.020</td><td>-0.031</td></tr><tr><td>aum</td><td>NaN</td><td>-0.00</td></tr></tbody></table>
{chart}
</section></article></body></html>"""


def test_the_checker_finds_every_fault(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text(PAGE.format(first='<div class="cell"><div class="cell_input"><pre>x = 1</pre></div></div>',
                                chart='<div style="height: 1200px"></div><div class="nlpdiff-chart">chart</div>'))
    problems = "\n".join(bookcheck.check_page(page).problems)
    assert "wider than the column: div 'a wide block': 1100 px wide" in problems
    assert "a table that scrolls" not in problems  # its own scrolling box is allowed
    assert "the first block after the title is not prose" in problems
    assert "below the first screen" in problems
    assert "NaN in the text" in problems and "negative zero in the text" in problems
    assert "probability interval outside [0, 1] in the text: 'ROC AUC 0.912 [0.850, 1.043]'" in problems
    assert "column 'roc_auc_hi': '1.020' is outside [0, 1]" in problems
    assert "column 'diff'" not in problems  # a difference of ROC AUC may be negative


def test_a_page_that_reads_well_passes(tmp_path):
    good = PAGE.format(first="<p>The finding, in one sentence.</p>", chart='<div class="nlpdiff-chart">chart</div>')
    good = good.replace("1.043", "0.990").replace(">1.020<", ">0.990<").replace(">NaN<", ">–<")
    good = good.replace(">-0.00<", ">0.00<").replace('<div style="width: 1100px">a wide block</div>', "")
    page = tmp_path / "good.html"
    page.write_text(good)
    assert bookcheck.check_page(page).problems == []


def test_every_page_of_the_smoke_book_reads_well(smoke_study):
    project, plan, result = smoke_study
    assert result.returncode == 0, (result.stdout + result.stderr)[-8000:]
    root = project / plan.book_root
    pages = bookcheck.book_pages(root / "_build" / "html", root / "_toc.yml")
    assert len(pages) >= 10 and sum(r for _, r in pages) >= 8
    problems = {}
    for page, is_result in pages:
        report = bookcheck.check_page(page, result_page=is_result)
        if report.problems:
            problems[page.name] = report.problems
    assert not problems, "\n".join(f"{name}: {p}" for name, ps in problems.items() for p in ps)
