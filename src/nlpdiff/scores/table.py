"""The registry as tables: for the notebooks (:func:`score_table`) and for the book's Methods page (:func:`score_table_markdown`, ``book/score_table.md``)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from nlpdiff.scores.registry import CITATIONS, SCORES  # noqa: F401


# ---------------------------------------------------------------------------------------------
# The registry as tables, and compute_scores
# ---------------------------------------------------------------------------------------------


def score_table() -> pd.DataFrame:
    """The registry as a table: name, axis, description, reference, orientation, needs, formula."""
    return pd.DataFrame(
        [
            {
                "name": s.name,
                "axis": s.axis,
                "description": s.description,
                "reference": s.reference,
                "orientation": s.orientation,
                "needs": ", ".join(s.needs),
                "formula": s.formula,
            }
            for s in SCORES.values()
        ],
        columns=["name", "axis", "description", "reference", "orientation", "needs", "formula"],
    )


def run_score_table(run) -> tuple[pd.DataFrame, str | None]:
    """The registry rows of the scores computed for ``run`` (a loaded run directory), and a one-line
    Markdown note naming the registered scores it did not compute with the reason recorded in its
    ``run.json`` (None when every score was computed): what the result pages show under "every score"."""
    computed = [c for c in run.scores.columns if c != "sample_id"]
    table = score_table().query("name in @computed")
    skipped = run.info.get("resolved", {}).get("skipped_scores", {})
    note = ("Registered but not computed for this run: "
            + "; ".join(f"`{name}` ({reason})" for name, reason in skipped.items()) + ".") if skipped else None
    return table, note


#: Where the book's score table lives (included by ``book/methods.md``), relative to the book root.
SCORE_TABLE_PATH = "book/score_table.md"


def score_table_markdown() -> str:
    """The registry as the MyST table that ``book/methods.md`` includes (``book/score_table.md``).

    One row per registered score: its column name, formula (notation of the Methods page),
    orientation, inputs and references (linked to ``book/references.md``). Generated, never
    edited by hand: :func:`write_score_table` writes it, ``nlpdiff book`` runs that before
    building, and a test fails when the committed file differs from the registry.
    """

    def cell(text: str) -> str:
        return " ".join(str(text).split()).replace("|", "\\|")

    lines = [
        "<!-- Generated from the registry nlpdiff.scores.SCORES by nlpdiff.scores.write_score_table();",
        "     do not edit by hand: `nlpdiff book` (or `python -m nlpdiff.scores`) rewrites it. -->",
        "",
        "| score | axis | formula | orientation | needs | reference |",
        "|---|---|---|---|---|---|",
    ]
    for s in SCORES.values():
        refs = "; ".join(f"{{ref}}`{CITATIONS[c]} <ref-{c}>`" for c in s.cites)
        reference = s.reference if not refs else f"{refs}: {s.reference}"
        needs = ", ".join(f"`{n}`" for n in s.needs)
        lines.append(f"| `{s.name}` | {s.axis} | {cell(s.formula or s.description)} | {cell(s.orientation)} | {cell(needs)} | {cell(reference)} |")
    return "\n".join(lines) + "\n"


def write_score_table(root: str | os.PathLike = ".") -> Path:
    """Write :func:`score_table_markdown` to ``<root>/book/score_table.md`` (only if it changed); return the path."""
    path = Path(root) / SCORE_TABLE_PATH
    text = score_table_markdown()
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return path
