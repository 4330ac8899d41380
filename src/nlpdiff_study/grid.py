"""The study's grids: one file schema, one loader, one runner.

A grid is computed in *parts* that can run on different days and machines; each part trains (or
reuses) its runs under ``runs/<grid>/`` and writes small summary tables under
``results/<grid>/<part>/``, which are committed so that the book reads them without training.
The four grids (:data:`GRIDS`: ``mislabel``, ``curriculum``, ``learning_curve``, ``model_size``) share

one schema, ``params/grids/<grid>.yaml``::

    defaults:              # optional: merged into every part (``params`` key by key)
      params: {...}
    parts:
      NAME:
        params: {...}      # the flat training parameters every run of the part shares
                           # (nlpdiff.config.from_flat's keys: task, backbone, epochs, ...)
        ...                # the grid's own axes: seeds, rates, sizes, schedules, models, ...

one loader, :func:`load_part` (the part's entry with its defaults, checked by the grid's own
``check_part`` before anything trains: a bad entry is one line naming the key, the value and what
is allowed), and one runner::

    nlpdiff grid GRID PART        # or: python -m nlpdiff_study.grid GRID PART

which calls the grid's ``compute(name, part, runs_dir, out_dir, progress, **options)``. A finished
run whose parameters match is reused, so a stopped part resumes where it stopped. Every part's
folder holds ``part.json`` (what was computed, its wall time and when it finished): the runner
writes it after the tables, except for the curriculum grid, whose ``compute`` rewrites its own
``part.json`` after every (noise rate, budget) setting with a ``complete`` flag (the layout its
committed parts were computed with).
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from pathlib import Path
from typing import Any, Sequence

from nlpdiff.errors import ParameterError

#: grid name -> the module holding its ``check_part`` and ``compute``
GRIDS = {
    "mislabel": "nlpdiff_study.mislabel.run",
    "curriculum": "nlpdiff_study.curriculum.parts",
    "learning_curve": "nlpdiff_study.learning_curve",
    "model_size": "nlpdiff_study.model_size",
}
#: grids whose ``compute`` writes ``part.json`` itself
OWN_PART_JSON = ("curriculum",)
GRIDS_DIR = Path("params") / "grids"


def _module(grid: str):
    if grid not in GRIDS:
        raise ParameterError("grid", grid, f"one of {list(GRIDS)}")
    return importlib.import_module(GRIDS[grid])


def grid_file(grid: str) -> Path:
    """``params/grids/<grid>.yaml`` (relative to the current folder, the study's checkout)."""
    _module(grid)
    return GRIDS_DIR / f"{grid}.yaml"


def read_file(path: str | Path) -> dict[str, Any]:
    """A grid file as a dict, its shape checked: ``parts`` (a non-empty mapping of names to
    mappings) and optional ``defaults`` (a mapping)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ParameterError("params_file", str(path), "an existing grid file (params/grids/<grid>.yaml)")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    parts = raw.get("parts")
    if not isinstance(parts, dict) or not parts:
        raise ParameterError(f"{path}: parts", parts, "a non-empty mapping of part names to parts")
    for name, entry in parts.items():
        if not isinstance(entry, dict):
            raise ParameterError(f"{path}: parts.{name}", entry, "a mapping (params and the grid's axes)")
    if not isinstance(raw.get("defaults", {}), dict):
        raise ParameterError(f"{path}: defaults", raw["defaults"], "a mapping merged into every part")
    unknown = sorted(set(raw) - {"defaults", "parts"})
    if unknown:
        raise ParameterError(f"{path}: {unknown[0]}", raw[unknown[0]], "only `defaults` and `parts` at the top")
    return raw


def part_entry(raw: dict[str, Any], name: str, where: str = "the grid file") -> dict[str, Any]:
    """The entry ``name`` of a read grid file with its ``defaults`` filled in (``params`` merged key
    by key; the part's own values win); its ``params`` must be a mapping."""
    parts = raw["parts"]
    if name not in parts:
        raise ParameterError("part", name, f"one of {sorted(parts)}", hint=f"the parts of {where}")
    defaults = raw.get("defaults") or {}
    entry = {**defaults, **parts[name]}
    params = {**(defaults.get("params") or {}), **(parts[name].get("params") or {})}
    if not isinstance(entry.get("params"), dict) or not params:
        raise ParameterError(f"{name}.params", entry.get("params"), "a mapping of flat training parameters")
    entry["params"] = params
    return entry


def load_part(grid: str, name: str, path: str | Path | None = None) -> Any:
    """The part ``name`` of grid ``grid`` (file ``path``, default ``params/grids/<grid>.yaml``),
    checked by the grid's ``check_part``: what its ``compute`` takes."""
    module = _module(grid)
    path = Path(path) if path is not None else grid_file(grid)
    return module.check_part(name, part_entry(read_file(path), name, str(path)))


def write_part_json(out_dir: Path, name: str, config: Any, wall_s: float) -> Path:
    """``out_dir/part.json``: the part's name, its checked definition, wall time and finishing time,
    written whole or not at all."""
    from nlpdiff import rundir

    text = json.dumps({"part": name, "config": config, "wall_s": round(wall_s, 1),
                       "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=1, default=str) + "\n"
    rundir.atomic_write(out_dir / "part.json", lambda tmp: Path(tmp).write_text(text))
    return out_dir / "part.json"


def part_folder(grid: str, name: str, results_dir: str | Path | None = None) -> Path:
    """Where a part's tables go: ``<results_dir>/<name>`` (default ``results/<grid>/<name>``)."""
    return (Path(results_dir) if results_dir is not None else Path("results") / grid) / name


def run_part(grid: str, name: str, path: str | Path | None = None, runs_dir: str | Path | None = None,
             results_dir: str | Path | None = None, progress: bool = False, **options: Any) -> Any:
    """Compute one part: check it (before any training), train or reuse its runs under ``runs_dir``
    (default ``runs/<grid>``), write its tables under ``<results_dir>/<name>/`` (default
    ``results/<grid>``) and return them. ``options`` go to the grid's ``compute`` (``max_runs`` for
    the mislabel grid, ``log`` for the curriculum grid)."""
    module = _module(grid)
    part = load_part(grid, name, path)
    runs = Path(runs_dir) if runs_dir is not None else Path("runs") / grid
    out_dir = part_folder(grid, name, results_dir)
    t = time.perf_counter()
    tables = module.compute(name, part, runs, out_dir, progress, **options)
    if grid not in OWN_PART_JSON:
        write_part_json(out_dir, name, part, time.perf_counter() - t)
    return tables


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nlpdiff_study.grid GRID PART``: the same as ``nlpdiff grid GRID PART`` (one-line errors)."""
    import sys

    from nlpdiff.cli import main as nlpdiff_main

    return nlpdiff_main(["grid", *(sys.argv[1:] if argv is None else argv)])


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The arguments of ``nlpdiff grid`` (:mod:`nlpdiff_study.cli` registers the command)."""
    ap.add_argument("grid", help=f"one of {', '.join(GRIDS)}")
    ap.add_argument("part", help="a part of params/grids/<grid>.yaml")
    ap.add_argument("--params-file", help="the grid file (default params/grids/<grid>.yaml)")
    ap.add_argument("--runs-dir", help="where the run directories go (default runs/<grid>)")
    ap.add_argument("--results-dir", help="where the part's folder of tables goes (default results/<grid>)")
    ap.add_argument("--progress", action="store_true", help="a progress bar for each training run")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--max-runs", type=int, default=None, help="mislabel grid parts: train at most this many runs")


def run_from_args(args: argparse.Namespace) -> int:
    """``nlpdiff grid``: compute the part the arguments name."""
    options: dict[str, Any] = {}
    if args.max_runs is not None:
        if args.grid != "mislabel":
            raise ParameterError("--max-runs", args.max_runs, "only with the mislabel grid")
        options["max_runs"] = args.max_runs
    if args.grid == "curriculum":
        options["log"] = lambda line: print(line, flush=True)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    run_part(args.grid, args.part, args.params_file, args.runs_dir, args.results_dir, args.progress, **options)
    print(f"{args.grid} part {args.part}: tables in {part_folder(args.grid, args.part, args.results_dir)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
