"""The answer's prose: every number is read from a committed result table, and the page is up to date."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from nlpdiff import conclusions
from nlpdiff.errors import ParameterError

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "book" / "results" / "conclusions.ipynb"


def _glued_answer(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if out.get("metadata", {}).get("scrapbook", {}).get("name") == "answer":
                html = next(v for k, v in data.items() if "text/html" in k)
                return re.sub(r"<[^>]+>", "", html)
    raise AssertionError(f"no glued 'answer' in {path}")


def test_templates_refuse_typed_numbers():
    with pytest.raises(ParameterError, match="typed numbers"):
        conclusions.check_template("the action score reaches 0.92 on {task}")
    conclusions.check_template("on SST-2 the action score reaches {auc} (95 % interval {lo} to {hi})")


def test_check_text_finds_a_number_that_was_not_read():
    claim = conclusions.Claim("x", "AUROC {auc}", {"auc": conclusions.Figure(0.9123, "t.csv")})
    text = claim.render()
    assert text == "AUROC 0.912" and conclusions.check_text(text, [claim]) == []
    assert conclusions.check_text(text + " and 0.95 elsewhere", [claim]) == ["0.95"]
    assert conclusions.numbers_in("1,507 pairs, 10 %, p = 0.08, SST-2") == ["1,507", "10", "0.08"]


def test_every_number_of_the_answer_is_read_from_the_committed_tables():
    claims, skipped = conclusions.answer(ROOT / "results")
    assert claims, f"no claim could be made from results/ (skipped: {skipped})"
    text = conclusions.render(claims)
    assert conclusions.check_text(text, claims) == []
    assert len(claims) <= 5 and all(len(re.findall(r"[.!?](?:\s|$)", c.render())) == 1 for c in claims), \
        "the answer is five sentences at most, one per analysis"


def test_the_committed_page_shows_the_answer_of_the_committed_tables():
    claims, _ = conclusions.answer(ROOT / "results")
    page = " ".join(_glued_answer(PAGE).split())
    expected = re.sub(r"[`*]", "", conclusions.render(claims)).replace("- ", "")
    assert page == " ".join(expected.split()), (
        "book/results/conclusions.ipynb is stale: re-render it with `nlpdiff run conclusions -o "
        "book/results/conclusions.ipynb`")
    assert conclusions.check_text(page, claims) == []


def test_the_first_page_pastes_the_answer():
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    assert "```{glue} answer\n:doc: results/conclusions.ipynb" in intro
