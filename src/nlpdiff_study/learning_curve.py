"""Held-out quality against training-set size: does a task's model learn at the budget we can afford?

A difficulty score only measures difficulty when the model learns the task. This module trains
the same parameters at growing ``train_size`` (one run directory each, reused when finished, so a
part can be stopped and resumed) and writes one small summary table per part, with one row per
(size, checkpoint): the held-out metrics, the training examples seen so far, and the run's wall
time and hardware from its ``run.json``. The table is what the book reads (committed under
``results/learning_curve/``)::

    python -m nlpdiff_study.learning_curve squad_cpu            # the part named in params/grids/learning_curve.yaml

Parts are defined in ``params/grids/learning_curve.yaml``: ``base`` (flat training parameters, as
``nlpdiff.config.from_flat`` takes them) and ``sizes`` (a list of training-set sizes).
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
import yaml

from nlpdiff import rundir
from nlpdiff.config import from_flat
from nlpdiff.errors import ParameterError

PARAMS_FILE = Path("params") / "grids" / "learning_curve.yaml"
RESULTS_DIR = Path("results") / "learning_curve"


def curve_rows(run: rundir.Run, train_size: int) -> list[dict[str, Any]]:
    """One row per checkpoint of ``run``: held-out metrics and training examples seen."""
    info = run.info
    resolved = info.get("resolved", {})
    batch = run.params["batch_size"]
    rows = []
    for cp in run.metrics.get("checkpoints", []):
        row = {"train_size": train_size, "n_train": resolved.get("n_train"), "checkpoint": cp["checkpoint"],
               "epoch": cp.get("epoch"), "step": cp.get("step"),
               "examples_seen": (cp.get("step") or 0) * batch}
        row.update({k: v for k, v in cp.items() if k.startswith("heldout_") or k.startswith("train_")})
        rows.append(row)
    hw = info.get("hardware", {})
    wall = info.get("wall_time_s", {})
    for row in rows:
        row.update({"wall_s": wall.get("total") if isinstance(wall, dict) else wall,
                    "device": resolved.get("device"), "cpu_count": hw.get("cpu_count", os.cpu_count()),
                    "machine": hw.get("machine", platform.machine()), "finished_at": info.get("finished_at"),
                    "task": run.params["task"], "backbone": run.params["backbone"],
                    "epochs": run.params["epochs"], "learning_rate": run.params["learning_rate"]})
    return rows


def learning_curve(base: dict[str, Any], sizes: Sequence[int], runs_root: str | os.PathLike,
                   progress: bool = True, on_size=None) -> pd.DataFrame:
    """Train ``base`` at every size of ``sizes`` (reusing finished runs) and return the curve table;
    ``on_size(table_so_far)`` is called after each size (the command writes the summary then, so a
    stopped part keeps the sizes it finished)."""
    from nlpdiff.dynamics import load_or_train

    if not sizes or not all(isinstance(s, int) and s > 0 for s in sizes):
        raise ParameterError("sizes", list(sizes), "a non-empty list of positive integers")
    # every size is validated before the first training starts
    plans = [(n, from_flat({**base, "train_size": n, "output_dir": str(Path(runs_root) / f"n{n}")}))
             for n in sizes]
    rows: list[dict[str, Any]] = []
    for n, params in plans:
        run = load_or_train(params, progress=progress)
        rows.extend(curve_rows(run, n))
        if on_size is not None:
            on_size(pd.DataFrame(rows))
    return pd.DataFrame(rows)


def largest_size(path: str | os.PathLike, metric: str = "heldout_f1") -> dict[str, Any] | None:
    """The committed curve's last checkpoint at its largest training-set size (``train_size``,
    ``epoch``, ``examples_seen`` and ``metric``), or None when the table is missing or empty: what a
    result page quotes to say how far a larger training set gets on the same machine."""
    path = Path(path)
    if not path.exists():
        return None
    curve = pd.read_csv(path)
    if curve.empty or metric not in curve.columns:
        return None
    top = curve[curve["train_size"] == curve["train_size"].max()].sort_values("checkpoint").iloc[-1]
    return {"train_size": int(top["train_size"]), "epoch": float(top["epoch"]),
            "examples_seen": int(top["examples_seen"]), metric: float(top[metric])}


def load_part(name: str, params_file: str | os.PathLike = PARAMS_FILE) -> dict[str, Any]:
    """The part ``name`` of ``params_file``: ``{"base": {...}, "sizes": [...]}``."""
    raw = yaml.safe_load(Path(params_file).read_text(encoding="utf-8")) or {}
    parts = raw.get("parts", {})
    if name not in parts:
        raise ParameterError("part", name, f"one of {sorted(parts)} (from {params_file})")
    part = parts[name]
    if not isinstance(part.get("base"), dict):
        raise ParameterError(f"parts.{name}.base", part.get("base"), "a mapping of training parameters")
    return part


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nlpdiff_study.learning_curve", description=__doc__.split("\n")[0])
    ap.add_argument("part", help="a part of params/grids/learning_curve.yaml")
    ap.add_argument("--params-file", default=str(PARAMS_FILE))
    ap.add_argument("--runs-root", default="runs/learning_curve", help="where the run directories go")
    ap.add_argument("--results-dir", default=str(RESULTS_DIR), help="where the summary table goes")
    args = ap.parse_args(argv)
    part = load_part(args.part, args.params_file)
    path = Path(args.results_dir) / f"{args.part}.csv"

    def write(table: pd.DataFrame) -> None:
        rundir.atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
        print(f"{path}: {len(table)} rows ({table.train_size.nunique()} sizes)", flush=True)

    learning_curve(part["base"], part["sizes"], Path(args.runs_root) / args.part, on_size=write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
