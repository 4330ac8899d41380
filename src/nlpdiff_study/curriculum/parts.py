"""A part of the curriculum grid (``params/grids/curriculum.yaml``) and its runner, which writes the part's
tables under ``results/curriculum/<part>/``."""

from __future__ import annotations

import gc
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from nlpdiff.errors import ParameterError
from nlpdiff.curriculum import CONTROLS, SCHEDULES, budget_steps, difficulty_order, make_sampler

LOSS_FREE_ORDERS = ("length", "random")
#: held-out metrics that runs record in percent (SQuAD's F1 and exact match); the tables give them as fractions
PERCENT_METRICS = {"heldout_f1": 100.0, "heldout_exact_match": 100.0}


@dataclass
class Part:
    """One part of the grid (an entry of ``params/grids/curriculum.yaml``)."""

    name: str
    task: str
    backbone: str
    parameters: dict[str, Any]
    seeds: list[int]
    scoring_seed: int = 0
    noise_rates: list[float] = field(default_factory=lambda: [0.0, 0.2])
    noise_type: str = "uniform"
    budgets: list[float] = field(default_factory=lambda: [1.0, 0.25])
    schedules: dict[str, list[str]] = field(default_factory=lambda: {"competence": ["action", "random"]})
    controls: list[str] = field(default_factory=lambda: ["shuffled", "prune"])
    prune_by: str = "action"
    prune_fraction: float = 0.1
    c0: float = 0.01
    ramp: float = 0.5
    n_buckets: int = 4

    def cells(self) -> list[tuple[str, str]]:
        """Every (schedule, order) of the part, the controls last (``shuffled``'s order is ``none``)."""
        cells = [(s, o) for s, orders in self.schedules.items() for o in orders]
        for c in self.controls:
            cells.append((c, "none" if c == "shuffled" else self.prune_by))
        return cells

    def validate(self, scores: Iterable[str] | None = None) -> "Part":
        from nlpdiff import tasks

        tasks.get_task(self.task)
        if self.scoring_seed in self.seeds:
            raise ParameterError("scoring_seed", self.scoring_seed, f"a seed not among the curriculum seeds {self.seeds}",
                                 hint="a run must not be ordered by its own dynamics")
        if len(set(self.seeds)) != len(self.seeds) or not self.seeds:
            raise ParameterError("seeds", self.seeds, "distinct seeds, at least one")
        for s in self.schedules:
            if s not in SCHEDULES:
                raise ParameterError("schedules", s, f"one of {list(SCHEDULES)}")
        for c in self.controls:
            if c not in CONTROLS:
                raise ParameterError("controls", c, f"one of {list(CONTROLS)}")
        for b in self.budgets:
            budget_steps(1, 1, 1, b)
        for noise in self.noise_rates:  # every run's parameters are valid before any training starts
            _params(self, self.scoring_seed, noise, Path("unused"))
        if not 0 < self.prune_fraction < 1:
            raise ParameterError("prune_fraction", self.prune_fraction, "a fraction in (0, 1)")
        known = set(scores) if scores is not None else None
        for _, orders in self.schedules.items():
            for o in orders:
                base = o[5:] if o.startswith("anti_") else o
                if base in LOSS_FREE_ORDERS:
                    continue
                if known is not None and base not in known:
                    raise ParameterError("orders", o, f"a score of the scoring run, 'anti_<score>', or one of "
                                         f"{list(LOSS_FREE_ORDERS)}", hint=f"scores: {sorted(known)}")
        return self


def check_part(name: str, entry: dict[str, Any]) -> Part:
    """The part ``name`` (an entry of ``params/grids/curriculum.yaml`` with its defaults, read by
    :func:`nlpdiff_study.grid.load_part`) as a checked :class:`Part`: ``params`` holds the flat training
    parameters, ``task`` and ``backbone`` among them; the other keys are the grid's axes."""
    entry = dict(entry)
    params = dict(entry.pop("params"))
    for key in ("task", "backbone"):
        if key not in params:
            raise ParameterError(f"{name}.params.{key}", None, f"the part's {key} (a flat training parameter)")
    known = {f for f in Part.__dataclass_fields__} - {"name", "task", "backbone", "parameters"}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise ParameterError(f"{name}.{unknown[0]}", entry[unknown[0]], f"params or a field of a part: {sorted(known)}")
    return Part(name=name, task=params.pop("task"), backbone=params.pop("backbone"), parameters=params,
                **entry).validate()


def _params(part: Part, seed: int, noise_rate: float, output_dir: Path):
    from nlpdiff.config import from_flat

    flat = {**part.parameters, "task": part.task, "backbone": part.backbone, "seed": seed,
            "noise_rate": noise_rate, "noise_type": part.noise_type, "output_dir": str(output_dir)}
    return from_flat(flat)


def _tag(x: float) -> str:
    return f"{x:g}"


def _hardware(info: dict) -> str:
    hw = info.get("hardware", {})
    what = hw.get("accelerator") or f"CPU {hw.get('cpu_count')} cores, {hw.get('torch_threads')} torch threads"
    return f"{what} ({hw.get('machine')})"


def aulc(fraction, metric) -> float:
    """Area under a held-out learning curve: the trapezoid mean of ``metric`` over the training fraction.

    ``fraction``: where each checkpoint falls in the run (step / total steps, increasing); the area is
    divided by the span from the first checkpoint to the last, so it is a mean metric in the metric's
    units (higher = learned sooner and better). One checkpoint: its value.
    """
    x, y = np.asarray(fraction, float), np.asarray(metric, float)
    if len(x) == 1:
        return float(y[0])
    return float(np.trapezoid(y, x) / (x[-1] - x[0]))


def _read_run(run_dir: Path) -> tuple[dict, dict]:
    return json.loads((run_dir / "run.json").read_text()), json.loads((run_dir / "metrics.json").read_text())


def _cell_info(part: Part, noise: float, budget: float, schedule: str, order: str, seed: int) -> dict:
    return {"part": part.name, "noise_rate": noise, "budget": budget, "schedule": schedule, "order": order,
            "seed": seed, "scoring_seed": part.scoring_seed, "c0": part.c0, "ramp": part.ramp,
            "n_buckets": part.n_buckets, "prune_fraction": part.prune_fraction}


def _reusable(run_dir: Path, params, cell: dict) -> bool:
    from nlpdiff.dynamics import finished_run

    marker = run_dir / "curriculum.json"
    return marker.exists() and json.loads(marker.read_text()) == cell and finished_run(params) is not None


def _order_for(order: str, scores: pd.DataFrame, lengths: np.ndarray, seed: int) -> np.ndarray:
    n = len(scores)
    if order == "random":
        return np.random.default_rng([seed, 2]).permutation(n).astype(np.int64)
    reverse = order.startswith("anti_")
    base = order[5:] if reverse else order
    difficulty = lengths if base == "length" else scores[base].to_numpy(float)
    return difficulty_order(difficulty, seed=seed, reverse=reverse)


def text_lengths(samples: pd.DataFrame, task: str) -> np.ndarray:
    """Whitespace words in every input field of each sample (a loss-free difficulty: longer = harder)."""
    from nlpdiff import tasks

    spec = tasks.get_task(task)
    return sum(samples[c].astype(str).str.split().str.len().to_numpy() for c in spec.text_fields).astype(float)


def _scoring_row(part: Part, noise: float, run_dir: Path, noisy: np.ndarray, prune_order: np.ndarray,
                 n_drop: int) -> dict:
    """The ``scoring`` table's row of one noise rate: the scoring run's size, quality, cost and pruning."""
    info, metrics = _read_run(run_dir)
    n = len(noisy)
    return {
        "part": part.name, "task": part.task, "backbone": part.backbone, "noise_rate": noise,
        "scoring_seed": part.scoring_seed, "n_train": n, "n_corrupted": int(noisy.sum()),
        "final_heldout": metrics["final"].get(metrics["metric"]), "metric": metrics["metric"],
        "train_s": info["wall_time_s"].get("train"), "total_s": info["wall_time_s"].get("total"),
        "pruned_corrupted_share": float(noisy[prune_order[n - n_drop:]].mean()) if n_drop else float("nan"),
        "hardware": _hardware(info),
    }


def _train_cell(part: Part, params, cell: dict, run_dir: Path, samples: pd.DataFrame, keep: np.ndarray,
                positions, schedule: str, seed: int, budget: float, progress: bool,
                log: Callable[[str], None]) -> None:
    """Train one run of a cell with its sampler, check it saw the scoring run's samples, mark it done."""
    from nlpdiff import dynamics

    n = len(samples)

    def factory(n_run):
        if n_run != n:
            raise ParameterError("train_size", n_run, f"the {n} samples of the scoring run",
                                 hint="the run's head kept other samples than the scoring run's")
        return make_sampler(schedule, n, params.batch_size, seed, params.epochs, budget,
                            order=positions, keep=keep, c0=part.c0, ramp=part.ramp,
                            n_buckets=part.n_buckets)

    t = time.perf_counter()
    run = dynamics.train(params, progress=progress, sampler=factory)
    same = run.samples.sort_values("sample_id")["row_idx"].to_numpy()
    if not np.array_equal(same, samples["row_idx"].to_numpy()):
        raise RuntimeError(f"{run_dir}: the run's samples differ from the scoring run's")
    (run_dir / "curriculum.json").write_text(json.dumps(cell, indent=1))
    # free the trained head now (it sits in reference cycles); a part stopped for any reason
    # resumes where it stopped
    del run
    gc.collect()
    log(f"[{part.name}] noise {cell['noise_rate']} budget {budget} {schedule}/{cell['order']} seed {seed}: "
        f"{time.perf_counter() - t:.1f} s")


def _cell_rows(run_dir: Path, key: dict, n: int) -> tuple[dict, list[dict]]:
    """A finished run's row of the ``runs`` table and its rows of the ``curves`` table."""
    info, metrics = _read_run(run_dir)
    metric = metrics["metric"]
    ck = pd.DataFrame(metrics["checkpoints"])
    ck[metric] = ck[metric] / PERCENT_METRICS.get(metric, 1.0)  # every metric as a fraction
    total = info["resolved"]["total_steps"]
    ck["fraction"] = ck["step"] / total
    row = {**key, "metric": metric, "final": float(ck[metric].iloc[-1]),
           "aulc": aulc(ck["fraction"], ck[metric]), "total_steps": total,
           "n_trained": info["resolved"].get("subset_size") or n,
           "train_s": info["wall_time_s"].get("train"), "total_s": info["wall_time_s"].get("total"),
           "hardware": _hardware(info)}
    curve = [{**key, "checkpoint": r.checkpoint, "epoch": r.epoch, "step": r.step,
              "fraction": r.fraction, "heldout": getattr(r, metric)} for r in ck.itertuples(index=False)]
    return row, curve


def compute(name: str, part: Part, runs_dir: str | Path = "runs/curriculum",
            out_dir: str | Path | None = None, progress: bool = False,
            log: Callable[[str], None] = print) -> dict[str, pd.DataFrame]:
    """Train every run of ``part`` (reusing finished ones) and write its tables; return them.

    For each noise rate: the scoring run (``scoring_seed``, ordinary shuffled training at the full
    budget) gives the difficulty of every training sample; then for each budget, cell and seed, one
    run with the cell's sampler. Runs go under ``<runs_dir>/<name>/``, the tables to ``out_dir``
    (default ``results/curriculum/<name>``) with ``part.json``, rewritten after every setting; the
    held-out metric (``metric`` column) is a fraction in [0, 1] (accuracy, ROUGE-L, or SQuAD F1 / 100).
    Run by ``nlpdiff grid curriculum PART`` (:mod:`nlpdiff_study.grid`).
    """
    from nlpdiff import dynamics

    part.validate()
    runs_root = Path(runs_dir) / name
    out = Path(out_dir) if out_dir is not None else Path("results/curriculum") / name
    rows, curves, scoring_rows = [], [], []
    t_part = time.perf_counter()

    def write(complete: bool) -> dict[str, pd.DataFrame]:
        # after every (noise, budget) setting, so that a part stopped midway still has its finished settings
        tables = {"runs": pd.DataFrame(rows), "curves": pd.DataFrame(curves), "scoring": pd.DataFrame(scoring_rows)}
        out.mkdir(parents=True, exist_ok=True)
        for name, df in tables.items():
            df.to_csv(out / f"{name}.csv", index=False, float_format="%.6g")
        (out / "part.json").write_text(json.dumps({**asdict(part), "complete": complete, "n_runs": len(rows),
                                                    "wall_s": round(time.perf_counter() - t_part, 1)}, indent=1))
        return tables

    for noise in part.noise_rates:
        base = runs_root / f"noise{_tag(noise)}"
        sp = _params(part, part.scoring_seed, noise, base / "scoring")
        t = time.perf_counter()
        scoring = dynamics.load_or_train(sp, progress=progress)
        log(f"[{part.name}] noise {noise}: scoring run ({time.perf_counter() - t:.1f} s)")
        scores = scoring.scores.set_index("sample_id").sort_index() if "sample_id" in scoring.scores else scoring.scores
        part.validate(scores.columns)
        samples = scoring.samples.sort_values("sample_id").reset_index(drop=True)
        lengths = text_lengths(samples, part.task)
        n = len(samples)
        noisy = samples["is_corrupted"].to_numpy(bool) if "is_corrupted" in samples else np.zeros(n, bool)
        prune_order = _order_for(part.prune_by, scores, lengths, part.scoring_seed)
        n_drop = int(round(part.prune_fraction * n))
        keep = prune_order[:n - n_drop]
        scoring_rows.append(_scoring_row(part, noise, Path(sp.output_dir), noisy, prune_order, n_drop))
        for budget in part.budgets:
            for schedule, order in part.cells():
                for seed in part.seeds:
                    run_dir = base / f"budget{_tag(budget)}" / f"{schedule}-{order}" / f"seed{seed}"
                    params = _params(part, seed, noise, run_dir)
                    cell = _cell_info(part, noise, budget, schedule, order, seed)
                    if not _reusable(run_dir, params, cell):
                        positions = None if schedule in CONTROLS else _order_for(order, scores, lengths, seed)
                        _train_cell(part, params, cell, run_dir, samples, keep, positions, schedule, seed, budget,
                                    progress, log)
                    key = {"part": part.name, "task": part.task, "backbone": part.backbone, "noise_rate": noise,
                           "noise_type": part.noise_type, "budget": budget, "schedule": schedule, "order": order,
                           "seed": seed}
                    row, curve = _cell_rows(run_dir, key, n)
                    rows.append(row)
                    curves.extend(curve)
            write(False)
    tables = write(True)
    log(f"[{part.name}] {len(rows)} runs; tables in {out}")
    return tables


def load_results(results_root: str | Path = "results/curriculum", parts: Iterable[str] | None = None) -> dict:
    """The committed tables of every part (or of ``parts``) concatenated: ``runs``, ``curves``, ``scoring``, ``parts``."""
    root = Path(results_root)
    names = sorted(p.name for p in root.iterdir() if (p / "runs.csv").exists()) if parts is None else list(parts)
    out = {k: [] for k in ("runs", "curves", "scoring")}
    meta = []
    for name in names:
        for k in out:
            out[k].append(pd.read_csv(root / name / f"{k}.csv"))
        meta.append(json.loads((root / name / "part.json").read_text()))
    tables = {k: (pd.concat(v, ignore_index=True) if v else pd.DataFrame()) for k, v in out.items()}
    tables["parts"] = meta
    return tables
