"""The data map of an audit as one standalone HTML page that works offline (:func:`data_map_html`)."""

from __future__ import annotations

import html
import os
from pathlib import Path

import numpy as np
import pandas as pd

from nlpdiff.audit.table import COLUMNS

from nlpdiff import rundir

#: The data map page's chart size in pixels (it fills a laptop screen's page).
MAP_SIZE = (1000, 620)


#: How many of the hardest samples the data map labels with their rank.
MAP_LABELS = 10


def data_map_html(run: rundir.Run, table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the run's data map as a standalone HTML page that needs no network (Vega inlined).

    The map draws the audit table's own columns (``confidence``, ``variability``,
    ``correct_checkpoints``: eval pass at every checkpoint), so map and table agree. Colour says
    "correct at k of K checkpoints"; point size and opacity shrink as the number of samples grows,
    so that dense regions read as dense; the :data:`MAP_LABELS` hardest samples are labelled with
    their rank.
    """
    from nlpdiff import plots

    text_cols = table.attrs.get("text_columns") or [c for c in table.columns if c not in COLUMNS]
    k = int(table.attrs.get("n_checkpoints") or table["correct_checkpoints"].max())
    df = table[["sample_id", "rank", *text_cols, "given_label", "predicted_label", "confidence", "variability",
                "correct_checkpoints"]].copy()
    words = [f"correct at {i} of {k} checkpoints" for i in range(k, -1, -1)]
    df["correct"] = pd.Categorical([words[k - int(i)] for i in df["correct_checkpoints"]], categories=words,
                                   ordered=True)
    df["suspect"] = np.where(df["rank"] <= MAP_LABELS, "#" + df["rank"].astype(str), None)
    n = len(df)
    size = float(np.clip(60.0 * np.sqrt(200.0 / max(n, 1)), 8.0, 60.0))
    opacity = float(np.clip(0.85 * (300.0 / max(n, 1)) ** 0.35, 0.15, 0.85))
    chart = plots.data_map(df, color="correct", tooltip=["rank", *text_cols, "given_label", "predicted_label"],
                           width=MAP_SIZE[0], height=MAP_SIZE[1], size=size, opacity=opacity, label="suspect",
                           title=f"Data map: {n:,} training samples, the {min(MAP_LABELS, n)} hardest numbered by rank")
    plots.enable_offline()
    body = plots.mimebundle(chart.to_dict())["text/html"]
    title = f"Data map of {html.escape(str(run.params.get('task', 'run')))}"
    page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>\n"
            "<style>body{font-family:sans-serif;margin:1em 2em;max-width:1200px}</style>\n"
            f"<script type=\"text/javascript\">{plots.vega_bundle()}</script>\n</head>\n<body>\n<h1>{title}</h1>\n"
            "<p>Each point is a training sample, read at each of the run's "
            f"{k} checkpoints (eval pass): confidence = mean probability of its given label (higher = easier), "
            "variability = its standard deviation, colour = at how many checkpoints the given label was predicted. "
            "Low confidence: hard to learn, or mislabelled; high variability: ambiguous. The numbers are the "
            "ranks of the hardest samples in audit.csv, whose columns confidence, variability and "
            "correct_checkpoints are the ones drawn here.</p>\n"
            f"{body}\n</body></html>\n")
    path = Path(path)
    rundir.atomic_write(path, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    return path
