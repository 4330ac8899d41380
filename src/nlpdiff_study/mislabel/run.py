"""One part of the mislabel grid, whatever its kind: ``nlpdiff grid mislabel PART`` (:mod:`nlpdiff_study.grid`)."""

from __future__ import annotations

from pathlib import Path

from nlpdiff_study.mislabel.cleaning import run_cleaning
from nlpdiff_study.mislabel.parts import check_part, run_grid, run_imdb

__all__ = ["check_part", "compute"]


def compute(name: str, part: dict, runs_dir: Path, out_dir: Path, progress: bool = False,
            max_runs: int | None = None):
    """Compute one checked part (:func:`check_part`) by its kind; returns its tables (also written to
    ``out_dir``). The runner, :func:`nlpdiff_study.grid.run_part`, writes ``part.json`` after them."""
    if part["kind"] == "grid":
        return run_grid(name, part, Path(runs_dir), Path(out_dir), progress, max_runs)
    if part["kind"] == "cleaning":
        return run_cleaning(name, part, Path(runs_dir), Path(out_dir), progress)
    return run_imdb(name, part, Path(runs_dir), Path(out_dir), progress)
