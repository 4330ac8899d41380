"""One part of the mislabel study, whatever its kind: ``python -m nlpdiff_study.mislabel PART``."""

from __future__ import annotations

import json
import time
from pathlib import Path

from nlpdiff_study.mislabel.cleaning import run_cleaning
from nlpdiff_study.mislabel.parts import CONFIG, get_part, load_config, run_grid, run_imdb


def run_part(name: str, config: str | Path = CONFIG, runs_dir: str | Path = "runs/mislabel",
             out: str | Path = "results/mislabel", progress: bool = False, max_runs: int | None = None):
    """Compute one part of the configuration; returns its tables (also written to ``<out>/<name>/``)."""
    cfg = load_config(config)
    part = get_part(cfg, name)
    runs_dir, out_dir = Path(runs_dir), Path(out) / name
    t = time.perf_counter()
    if part["kind"] == "grid":
        res = run_grid(name, part, runs_dir, out_dir, progress, max_runs)
    elif part["kind"] == "cleaning":
        res = run_cleaning(name, part, runs_dir, out_dir, progress)
    else:
        res = run_imdb(name, part, runs_dir, out_dir, progress)
    (out_dir / "part.json").write_text(json.dumps({"part": name, "config": part, "wall_s": round(time.perf_counter() - t, 1),
                                                   "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                                                  indent=1, default=str) + "\n")
    return res
