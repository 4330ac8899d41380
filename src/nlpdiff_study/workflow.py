"""Parameter profiles and the plan of the study's workflow (read by the ``Snakefile``).

A profile (``params/profiles/<name>.yaml``) lists the training runs of the study (task x backbone x model
x seed x noise) and the analysis notebooks::

    profile: cpu
    book_root: "."                 # where the book is built ("." = the repository's own book)
    defaults: {data_seed: 0}       # merged into every run's parameters
    runs:
      sentiment:                   # run name -> runs/<profile>/sentiment/
        notebook: sentiment        # notebooks/sentiment.py
        page: sentiment            # also shown in the book as book/results/sentiment.ipynb
        parameters: {train_size: 4000, epochs: 4}
      sst2_scratch:
        notebook: sentiment
        seeds: [0, 1, 2]           # expands to sst2_scratch_s0, _s1, _s2 (parameter ``seed``)
        parameters: {backbone: scratch, learning_rate: 0.05}
    analyses:
      compare_scores:
        notebook: compare_scores
        page: compare_scores
        parameters: {}             # the runner adds ``runs_dir`` and ``profile``

Each run executes its notebook with papermill (the ``nlpdiff`` runner) into
``runs/<profile>/<name>/notebook.ipynb``, with the run directory ``runs/<profile>/<name>/run/``.
Analyses execute after every run, with ``runs_dir = runs/<profile>``; pages are copied into
``<book_root>/book/results/``; then the book is built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nlpdiff.errors import ParameterError

PROFILES = ("smoke", "cpu", "gpu")


@dataclass(frozen=True)
class PlannedRun:
    """One notebook execution of the plan."""

    name: str
    notebook: str
    parameters: dict[str, Any]
    page: str | None
    group: str  # the run entry it was expanded from
    analysis: bool = False

    def folder(self, profile: str) -> Path:
        return Path("runs") / profile / ("analyses" if self.analysis else "") / self.name

    def notebook_output(self, profile: str) -> Path:
        return self.folder(profile) / "notebook.ipynb"

    def run_dir(self, profile: str) -> Path:
        return self.folder(profile) / "run"


@dataclass
class Plan:
    profile: str
    book_root: Path
    runs: list[PlannedRun]
    analyses: list[PlannedRun]
    build_book: bool = True
    raw: dict[str, Any] = field(default_factory=dict)
    #: torch threads of each training run; None: every core, one run at a time (the default). A profile of
    #: tiny runs (smoke) sets 1: its runs are mostly single-threaded start-up, so two run side by side.
    run_threads: int | None = None

    def all(self) -> list[PlannedRun]:
        return [*self.runs, *self.analyses]

    def get(self, name: str) -> PlannedRun:
        for r in self.all():
            if r.name == name:
                return r
        raise ParameterError("name", name, f"a run of profile {self.profile!r}: {[r.name for r in self.all()]}")

    def pages(self) -> dict[str, PlannedRun]:
        return {r.page: r for r in self.all() if r.page}

    def executed_parameters(self, run: PlannedRun) -> dict[str, Any]:
        """The parameters the notebook is executed with (profile's, plus the plan's own paths)."""
        params = dict(run.parameters)
        if run.analysis:
            params.setdefault("runs_dir", str(Path("runs") / self.profile))
            params.setdefault("profile", self.profile)
        else:
            params["run_dir"] = str(run.run_dir(self.profile))
        return params


def _mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParameterError(where, value, "a mapping")
    return value


def load_plan(profile: str, params_dir: str | os.PathLike = "params/profiles",
              notebooks_dir: str | os.PathLike | None = None) -> Plan:
    """Read and expand ``params/profiles/<profile>.yaml``; check that every notebook exists."""
    if notebooks_dir is None:
        from nlpdiff_study.runner import NOTEBOOKS_DIR as notebooks_dir
    path = Path(params_dir) / f"{profile}.yaml"
    if not path.is_file():
        available = sorted(p.stem for p in Path(params_dir).glob("*.yaml")) if Path(params_dir).is_dir() else []
        raise ParameterError("profile", profile, f"one of {available or list(PROFILES)} (a file {path})")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    defaults = _mapping(raw.get("defaults"), "defaults")
    runs: list[PlannedRun] = []
    for name, entry in _mapping(raw.get("runs"), "runs").items():
        entry = _mapping(entry, f"runs.{name}")
        params = {**defaults, **_mapping(entry.get("parameters"), f"runs.{name}.parameters")}
        notebook = entry.get("notebook", name)
        seeds = entry.get("seeds")
        if seeds is None:
            runs.append(PlannedRun(name, notebook, params, entry.get("page"), name))
            continue
        if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
            raise ParameterError(f"runs.{name}.seeds", seeds, "a non-empty list of integers")
        for i, seed in enumerate(seeds):
            page = entry.get("page") if i == 0 else None
            runs.append(PlannedRun(f"{name}_s{seed}", notebook, {**params, "seed": seed}, page, name))
    analyses = [
        PlannedRun(name, e.get("notebook", name), _mapping(e.get("parameters"), f"analyses.{name}.parameters"),
                   e.get("page"), name, analysis=True)
        for name, e in ((n, _mapping(e, f"analyses.{n}")) for n, e in _mapping(raw.get("analyses"), "analyses").items())
    ]
    if not runs:
        raise ParameterError("profile", profile, f"a YAML file whose 'runs' lists at least one run ({path})")
    names = [r.name for r in [*runs, *analyses]]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ParameterError("runs", duplicated, "unique run names")
    pages = [r.page for r in [*runs, *analyses] if r.page]
    if len(pages) != len(set(pages)):
        raise ParameterError("page", pages, "each page shown by one run only")
    for r in [*runs, *analyses]:
        if not (Path(notebooks_dir) / f"{r.notebook}.py").is_file():
            raise ParameterError(f"runs.{r.group}.notebook", r.notebook, f"a notebook source in {notebooks_dir}/")
    return Plan(
        profile=profile,
        book_root=Path(raw.get("book_root", ".")),
        runs=runs,
        analyses=analyses,
        build_book=bool(raw.get("build_book", True)),
        raw=raw,
        run_threads=_run_threads(raw.get("run_threads")),
    )


def _run_threads(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError("run_threads", value, "a positive integer (torch threads per training run), or absent")
    return value
