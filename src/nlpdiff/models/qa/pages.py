"""Reading questions on a page: context excerpts with the answer marked, and Markdown lists
(see :mod:`nlpdiff.models.qa`)."""

from __future__ import annotations

import re

import pandas as pd

from nlpdiff.errors import ParameterError

# ---------------------------------------------------------------------------------------------
# Helpers for pages
# ---------------------------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    """Escape the characters that Markdown (and MathJax's ``$``) would interpret."""
    return re.sub(r"([\\`*_{}\[\]<>#|$~])", r"\\\1", text)


def context_excerpt(context: str, answer_start: int, answer_text: str, width: int = 200,
                    markdown: bool = False) -> str:
    """About ``width`` characters of ``context`` around the answer, the answer between ``**``.

    Cut at word boundaries where possible, with ``…`` where text was left out. With
    ``markdown=True`` the text itself is escaped for Markdown, so that only the answer is bold.
    """
    esc = _md_escape if markdown else (lambda t: t)
    context = str(context)
    answer_start = int(answer_start)
    end = answer_start + len(answer_text)
    if not 0 <= answer_start <= end <= len(context):
        return esc(" ".join(context[:width].split())) + ("…" if len(context) > width else "")
    room = max(width - len(answer_text), 0)
    lo = max(0, answer_start - room // 2)
    hi = min(len(context), end + (room - (answer_start - lo)))
    lo = max(0, min(lo, hi - width))
    if lo > 0:
        space = context.find(" ", lo, answer_start)
        lo = space + 1 if space != -1 else lo
    if hi < len(context):
        space = context.rfind(" ", end, hi)
        hi = space if space != -1 else hi
    def part(t: str) -> str:
        return esc(t.replace("\n", " "))

    text = part(context[lo:answer_start]) + "**" + part(context[answer_start:end]) + "**" + part(context[end:hi])
    return ("…" if lo > 0 else "") + text + ("…" if hi < len(context) else "")


def readable_questions(table: pd.DataFrame, width: int = 200, markdown: bool = False) -> pd.DataFrame:
    """A table of questions for reading: question, answer, context excerpt, and the other columns.

    ``table`` needs ``question``, ``context``, ``answer_text`` and ``answer_start`` (as written to
    ``samples.parquet`` by the QA head); every other column (scores, ``sample_id``) is kept.
    """
    missing = [c for c in ("question", "context", "answer_text", "answer_start") if c not in table.columns]
    if missing:
        raise ParameterError("table", f"columns {list(table.columns)}", f"columns {missing} too")
    excerpts = [context_excerpt(c, s, a, width, markdown=markdown) for c, s, a in
                zip(table["context"], table["answer_start"], table["answer_text"])]
    out = table.drop(columns=["context", "answer_start"]).rename(columns={"answer_text": "answer"})
    out.insert(list(out.columns).index("answer") + 1, "context_excerpt", excerpts)
    lead = [c for c in ("sample_id", "question", "answer", "context_excerpt") if c in out.columns]
    return out[lead + [c for c in out.columns if c not in lead]]



def questions_markdown(table: pd.DataFrame, score: str | None = None, width: int = 200) -> str:
    """Markdown list of questions for reading: question, gold answer, context excerpt (answer in bold).

    ``table`` has the columns of :func:`readable_questions`' input (``question``, ``context``,
    ``answer_text``, ``answer_start``) and, when given, ``score``.
    """
    rows = readable_questions(table, width=width, markdown=True)
    lines = []
    for i, row in enumerate(rows.itertuples(index=False), start=1):
        head = f"{i}. **{_md_escape(' '.join(str(row.question).split()))}** — answer: *{_md_escape(str(row.answer))}*"
        if score is not None:
            head += f" ({score} {getattr(row, score):.3g})"
        excerpt = row.context_excerpt.replace("\n", " ")
        lines.append(f"{head}  \n   > {excerpt}")
    return "\n".join(lines)
