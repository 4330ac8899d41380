"""How a result page shows its tables and its finding.

Every table of a result page goes through :func:`table`: no index column, fixed decimals (a value
that rounds to zero prints as ``0.000``, never ``-0.000``), missing values as a dash with a note
under the table that says why, intervals of probability-scale metrics (ROC AUC, average
precision, accuracy, ...) cut to [0, 1], text columns whole (no ellipsis, wrapped), and the whole
table in a box of its own that scrolls sideways when it is wider than the page's column.

:func:`bullets` turns a list of sentences into a Markdown bullet list, :func:`finding` sets a
page's opening sentence(s) apart. Both return objects that ``display`` shows as Markdown.
:func:`use_for_dataframes` makes every DataFrame a notebook displays go through :func:`table`.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["DASH", "PROBABILITY_METRICS", "Table", "bullets", "finding", "format_number", "format_p", "table",
           "use_for_dataframes"]

#: How a missing value is shown.
DASH = "–"
#: Column names (or their start) of metrics on a probability scale: their intervals are cut to [0, 1].
PROBABILITY_METRICS = ("roc_auc", "average_precision", "precision_at_k", "accuracy", "heldout_accuracy",
                       "train_acc", "auc", "ap")
_BOUND = re.compile(r"(?:^|_)(lo|hi|low|high)$")
_PROBABILITY_HEADER = re.compile(r"^(?:chance_)?(?:roc_auc|average_precision|precision_at_k|[a-z_]*accuracy"
                                 r"|train_acc[a-z_]*)(?:_(?:mean|lo|hi|low|high))?$")


_P_VALUE = re.compile(r"^(?:p|p_value|pvalue)$|^p_|_p$|_p_|^delong_p", re.I)


def format_p(value: Any) -> str:
    """A p value: three decimals, ``< 0.001`` below that (never ``0.000``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return "< 0.001" if float(value) < 0.001 else f"{float(value):.3f}"


def format_number(value: Any, decimals: int = 3, signed: bool = False) -> str:
    """``value`` with ``decimals`` fixed decimals; ``-0.000`` prints as ``0.000`` (``+0.000`` when ``signed``:
    a difference shows its sign); integers keep their digits (with thousands separators); missing values
    (None, NaN) are :data:`DASH`."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return DASH
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        text = f"{float(value):{'+' if signed else ''},.{decimals}f}"
        if float(text.replace(",", "")) == 0:
            text = ("+" if signed else "") + text.lstrip("-+")
        return text
    return str(value)


def _is_probability_bound(column: str) -> bool:
    name = str(column).lower().replace(" ", "_").replace(".", "")
    return bool(_BOUND.search(name)) and bool(_PROBABILITY_HEADER.match(name))


class Table:
    """A formatted table: ``_repr_html_`` for the book, ``__repr__`` (plain text) for other front ends."""

    def __init__(self, html_text: str, text: str):
        self._html, self._text = html_text, text

    def _repr_html_(self) -> str:
        return self._html

    def __repr__(self) -> str:
        return self._text


def table(df: pd.DataFrame, decimals: int | Mapping[str, int] = 3, missing: str | None = None,
          notes: Iterable[str] = (), index: bool = False, bounded: Iterable[str] | None = None) -> Table:
    """Show ``df`` as a page's table.

    ``decimals``: fixed decimals of every float column, or a mapping column -> decimals (others: 3).
    ``missing``: why a value is missing, printed under the table as "– : ``missing``" when the table
    has a missing value (a table with missing values and no reason says "no value" and counts them,
    so that the reader at least sees that the dash is deliberate). ``notes``: more lines under the
    table. ``index=True`` keeps the index (a named index becomes the first column either way).
    ``bounded``: the columns whose values are cut to [0, 1] (default: interval bounds of
    probability-scale metrics, e.g. ``roc_auc_lo``/``roc_auc_hi``; a t-interval over 3 seeds can reach
    past 1, which no ROC AUC can); a note says when a value was cut.
    """
    frame = df.copy()
    if index or any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    if isinstance(frame.columns, pd.MultiIndex):
        frame.columns = [" ".join(str(p) for p in col if str(p)) for col in frame.columns]
    frame.columns = [str(c) for c in frame.columns]
    frame = frame.reset_index(drop=True)
    notes = list(notes)
    to_bound = list(bounded) if bounded is not None else [c for c in frame.columns if _is_probability_bound(c)]
    cut = 0
    for c in to_bound:
        if c in frame.columns and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]):
            values = frame[c].astype(float)
            outside = ((values < 0) | (values > 1)).sum()
            if outside:
                cut += int(outside)
                frame[c] = values.clip(0, 1)
    if cut:
        notes.append(f"{cut} interval bound(s) of a metric on [0, 1] fell outside it (a t-interval over few seeds) "
                     "and are shown cut to 0 or 1.")
    n_missing = int(frame.isna().sum().sum())
    if n_missing:
        notes.insert(0, f"{DASH} : {missing}" if missing else
                     f"{DASH} : no value ({n_missing} cell{'s' if n_missing > 1 else ''}).")

    def places(column: str) -> int:
        return decimals.get(column, 3) if isinstance(decimals, Mapping) else int(decimals)

    cells = {c: [format_p(v) if _P_VALUE.search(c) and pd.api.types.is_float_dtype(frame[c]) else
                 format_number(v, places(c)) for v in frame[c]] for c in frame.columns}
    numeric = {c: pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in frame.columns}
    head = "".join(f'<th style="text-align:{"right" if numeric[c] else "left"}">{html.escape(c)}</th>'
                   for c in frame.columns)
    rows = []
    for i in range(len(frame)):
        tds = []
        for c in frame.columns:
            value = html.escape(cells[c][i])
            if numeric[c]:
                tds.append(f'<td style="text-align:right;white-space:nowrap">{value}</td>')
            else:
                long = len(cells[c][i]) > 40
                style = "text-align:left;white-space:normal" + (";min-width:16em" if long else "")
                tds.append(f'<td style="{style}">{value}</td>')
        rows.append("<tr>" + "".join(tds) + "</tr>")
    note_html = "".join(f'<p class="nlpdiff-table-note" style="font-size:85%;margin:0.2em 0">{html.escape(n)}</p>'
                        for n in notes)
    body = (f'<div class="nlpdiff-table nlpdiff-scroll" style="overflow-x:auto;max-width:100%">'
            f'<table class="dataframe nlpdiff-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>{note_html}')
    widths = {c: max([len(c)] + [len(v) for v in cells[c]]) for c in frame.columns}
    lines = ["  ".join(c.rjust(widths[c]) if numeric[c] else c.ljust(widths[c]) for c in frame.columns)]
    for i in range(len(frame)):
        lines.append("  ".join(cells[c][i].rjust(widths[c]) if numeric[c] else cells[c][i].ljust(widths[c])
                               for c in frame.columns))
    return Table(f'<div class="nlpdiff-table-block">{body}</div>', "\n".join(lines + notes))


class _Markdown:
    def __init__(self, text: str):
        self.text = text

    def _repr_markdown_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


def bullets(items: Iterable[str], lead: str | None = None) -> _Markdown:
    """A Markdown bullet list of ``items`` (empty ones dropped), after an optional ``lead`` sentence."""
    lines = [f"- {item.strip()}" for item in items if item and item.strip()]
    return _Markdown(((lead.strip() + "\n\n") if lead else "") + "\n".join(lines))


def finding(text: str) -> _Markdown:
    """A page's opening: its finding in one or two sentences (numbers read from the tables by the caller)."""
    return _Markdown(text.strip())


def use_for_dataframes(decimals: int = 3) -> None:
    """Show every DataFrame this IPython kernel displays (``display(df)``, a cell's last value) as
    :func:`table` does, HTML and plain text alike. A table whose missing values need their reason says so
    with ``display(table(df, missing=...))``."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    formatters = shell.display_formatter.formatters
    formatters["text/html"].for_type(pd.DataFrame, lambda df: table(df, decimals)._repr_html_())
    formatters["text/plain"].for_type(pd.DataFrame, lambda df, p, cycle: p.text(repr(table(df, decimals))))
