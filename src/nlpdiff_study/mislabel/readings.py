"""Blind readings of the top suspects: a sheet to fill and its key (``results/readings/``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from nlpdiff.errors import ParameterError

#: committed blind readings (``python -m nlpdiff_study.mislabel NAME --reading-from RUN_DIR``), one folder each
READINGS = Path("results/readings")


def prepare_reading(run_dir: str | Path, folder: str | Path, top: int = 50, n_random: int = 50,
                    seed: int = 0) -> Path:
    """Write the files of a blind reading of a run's top suspects into ``folder``:

    ``sheet.csv``: the reading sheet to fill (:func:`nlpdiff.audit.blind_sheet`: the ``top`` suspects
    by the action score and ``n_random`` others, shuffled, without ranks or scores); ``key.csv``:
    the same rows with their group, rank, scores, prediction and "why" (not to be opened before the
    sheet is filled); ``top.csv``: the ``top`` suspects in rank order with ``is_corrupted`` (known
    injected noise, when the run had any); ``run.json``: the run's record (parameters, versions,
    hardware, time). A folder with a filled sheet is refused (a reading is never overwritten).
    """
    import shutil

    from nlpdiff import audit, rundir

    folder = Path(folder)
    sheet_path = folder / "sheet.csv"
    if sheet_path.exists() and audit.read_sheet(sheet_path)["judgement"].notna().any():
        raise ParameterError("folder", str(folder), "a folder without a filled reading sheet (a reading is kept)")
    run = rundir.load_run(run_dir)
    table = audit.audit_table(run)
    groups = audit.blind_groups(table, top, n_random, seed)
    sheet = audit.blind_sheet(table, top, n_random, seed)
    ranked = table.head(top).merge(run.samples[["sample_id", "is_corrupted"]], on="sample_id", how="left")
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in (("sheet", sheet), ("key", groups), ("top", ranked)):
        rundir.atomic_write(folder / f"{name}.csv", lambda tmp, f=frame: f.to_csv(tmp, index=False))
    shutil.copyfile(Path(run.path) / "run.json", folder / "run.json")
    return folder


def load_reading(folder: str | Path) -> dict[str, Any]:
    """A committed reading (:func:`prepare_reading`, sheet filled): ``key``, ``sheet``, ``top``
    (the top suspects in rank order, with the reader's judgement), ``info`` (the run's
    ``run.json``), ``summary`` (:func:`nlpdiff.audit.reading_summary`) and ``notes`` (the folder's
    ``README.md``: who read, how)."""
    from nlpdiff import audit

    folder = Path(folder)
    key = pd.read_csv(folder / "key.csv")
    sheet = audit.read_sheet(folder / "sheet.csv")
    top = pd.read_csv(folder / "top.csv")
    text_cols = [c for c in sheet.columns if c not in ("item", "given_label", "judgement", "note")]
    judged = sheet[[*text_cols, "given_label", "judgement", "note"]].drop_duplicates(subset=[*text_cols, "given_label"])
    top = top.astype({"given_label": str}).merge(judged.astype({"given_label": str}), how="left",
                                                  on=[*text_cols, "given_label"])
    readme = folder / "README.md"
    return {"key": key, "sheet": sheet, "top": top, "info": json.loads((folder / "run.json").read_text()),
            "summary": audit.reading_summary(key, sheet), "notes": readme.read_text() if readme.exists() else "",
            "text_columns": text_cols}
