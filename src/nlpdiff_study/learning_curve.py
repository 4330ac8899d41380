"""Held-out quality against training-set size: does a task's model learn at the budget we can afford?

A difficulty score only measures difficulty when the model learns the task. This module trains
the same parameters at growing ``train_size`` (one run directory each, reused when finished, so a
part can be stopped and resumed) and writes one small summary table per part, with one row per
(size, checkpoint): the held-out metrics, the training examples seen so far, and the run's wall
time and hardware from its ``run.json``. The table is what the book reads (committed as
``results/learning_curve/<part>/curve.csv``)::

    nlpdiff grid learning_curve squad_cpu            # the part named in params/grids/learning_curve.yaml

Parts are defined in ``params/grids/learning_curve.yaml`` (:mod:`nlpdiff_study.grid`): ``params`` (flat
training parameters, as ``nlpdiff.config.from_flat`` takes them) and ``sizes`` (a list of training-set sizes).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from nlpdiff import rundir
from nlpdiff.config import from_flat
from nlpdiff.errors import ParameterError

#: the committed curve of a part: ``results/learning_curve/<part>/curve.csv``
CURVE_FILE = "curve.csv"


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


def check_part(name: str, part: dict[str, Any]) -> dict[str, Any]:
    """The part ``name`` (an entry of ``params/grids/learning_curve.yaml``, read by
    :func:`nlpdiff_study.grid.load_part`), checked: ``params`` (flat training parameters) and
    ``sizes``; every size's parameters are validated before anything trains."""
    unknown = sorted(set(part) - {"params", "sizes"})
    if unknown:
        raise ParameterError(f"{name}.{unknown[0]}", part[unknown[0]], "params or sizes")
    sizes = part.get("sizes")
    if not sizes or not all(isinstance(s, int) and s > 0 for s in sizes):
        raise ParameterError(f"{name}.sizes", sizes, "a non-empty list of positive integers")
    for n in sizes:
        from_flat({**part["params"], "train_size": n, "output_dir": "unused"})
    return {"params": dict(part["params"]), "sizes": list(sizes)}


def compute(name: str, part: dict[str, Any], runs_dir: Path, out_dir: Path, progress: bool = False) -> dict[str, pd.DataFrame]:
    """Train (or reuse) every size of a checked part under ``runs_dir/<name>/n<size>``; write
    ``out_dir/curve.csv`` after each size (a stopped part keeps the sizes it finished); return
    ``{"curve": table}``. Run by ``nlpdiff grid learning_curve PART`` (:mod:`nlpdiff_study.grid`)."""
    path = Path(out_dir) / CURVE_FILE

    def write(table: pd.DataFrame) -> None:
        rundir.atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
        print(f"{path}: {len(table)} rows ({table.train_size.nunique()} sizes)", flush=True)

    return {"curve": learning_curve(part["params"], part["sizes"], Path(runs_dir) / name, progress=progress,
                                    on_size=write)}
