"""The study's commands of ``nlpdiff``: ``run``, ``study``, ``grid`` and ``book``.

They are added to the library's command line through the ``nlpdiff.commands`` entry point
(:func:`register`); the library never imports this module.

``nlpdiff run NOTEBOOK -p NAME VALUE ... -o OUT.ipynb``
    execute one notebook source with papermill (see :mod:`nlpdiff_study.runner`), showing its cell
    progress, then print the output notebook and the run directories it wrote. A notebook with a
    ``run_dir`` parameter gets, when none is given, ``runs/<OUT name>`` (with ``-o``) or
    ``runs/<NOTEBOOK>-<hash of the parameters>``: a finished run with the same parameters is reused,
    one with others is refused (one line) unless ``--overwrite``. The sentiment notebook
    scores a CSV of your own: ``nlpdiff run sentiment -p data_file my.csv -p text_column review
    -p label_column stars -p train_size null -p run_dir runs/my_data`` (the path is made absolute
    and checked before the notebook starts).
``nlpdiff study --profile cpu``
    run the study's workflow for a parameter profile (``params/profiles/<profile>.yaml``): Snakemake runs
    every training run's notebook, then the analyses, then builds the book (``snakemake --cores
    all --config profile=cpu``). After every finished step it prints the overall progress (steps done,
    elapsed wall time, a rough estimate of the time left); it ends with its wall time and the path
    of the book's HTML.
``nlpdiff grid GRID PART``
    compute one part of a grid (``params/grids/GRID.yaml``: mislabel, curriculum, learning_curve,
    model_size): train or reuse its runs under ``runs/GRID/`` and write its summary tables under
    ``results/GRID/PART/`` (see :mod:`nlpdiff_study.grid`).
``nlpdiff book``
    build the Jupyter Book (``jupyter-book build . -W``) and print the path of its HTML.

Exit status as for the library's commands; a failed notebook exits 1 with one ``nlpdiff: error:``
line when it stopped on bad input (a ``ParameterError``), else ``nlpdiff: notebook failed: ...``.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from nlpdiff.errors import ParameterError
from nlpdiff_study.workflow import PROFILES


def _notebook_errors(func):
    """A failed notebook is one message and exit 1, not a traceback."""

    @functools.wraps(func)
    def wrapper(args) -> int:
        from nlpdiff_study.runner import NotebookFailed

        try:
            return func(args)
        except NotebookFailed as exc:
            if exc.ename == "ParameterError":  # bad input found inside the notebook: one line
                print(f"nlpdiff: error: {' '.join(str(exc.evalue).split())} (the failed notebook: {exc.failed_path})",
                      file=sys.stderr)
                return 1
            print(f"nlpdiff: notebook failed: {exc}", file=sys.stderr)
            return 1

    return wrapper


#: The study's tools (``pip install 'nlpdiff[study]'``), by command: module -> what it is for.
NEEDS = {"run": ("papermill", "jupytext", "nbformat", "ipykernel"), "study": ("snakemake", "papermill", "jupyter_book"),
         "book": ("jupyter_book",)}


def need_study_tools(command: str) -> None:
    """Fail with one line naming the missing tools and the install command, before anything runs."""
    import importlib.util

    def installed(module: str) -> bool:
        try:
            return importlib.util.find_spec(module) is not None
        except ImportError:
            return False

    missing = [m for m in NEEDS[command] if not installed(m)]
    if missing:
        raise RuntimeError(f"error: `nlpdiff {command}` needs the study's tools ({', '.join(missing)} missing): "
                           "pip install 'nlpdiff[study]'")


def build_book(root: str | os.PathLike = ".") -> Path:
    """Build the book with warnings as errors; return the path of its index.html.

    First rewrites the Methods page's score table (``book/score_table.md``) from the score registry.
    """
    from nlpdiff.scores import write_score_table

    root = Path(root)
    write_score_table(root)
    cmd = ["jupyter-book", "build", str(root), "-W", "-n", "--keep-going"]
    print("$", " ".join(cmd), flush=True)
    result = subprocess.run(cmd)
    if result.returncode != 0:
        raise RuntimeError(f"the book build failed (exit {result.returncode}); see the warnings above")
    return (root / "_build" / "html" / "index.html").resolve()


@_notebook_errors
def _cmd_run(args) -> int:
    import json

    need_study_tools("run")
    from nlpdiff import rundir
    from nlpdiff.dynamics import check_writable
    from nlpdiff_study.runner import default_run_dir, find_notebook, notebook_parameters, parse_parameter, run_notebook

    params = json.loads(args.parameters_json) if args.parameters_json else {}
    if not isinstance(params, dict):
        raise ParameterError("--parameters-json", args.parameters_json, "a JSON object of notebook parameters")
    params.update({name: parse_parameter(value) for name, value in args.parameter})
    if isinstance(params.get("data_file"), str):  # the notebook's kernel may run in another folder
        data_file = Path(params["data_file"]).expanduser()
        if not data_file.is_file():
            raise ParameterError("data_file", params["data_file"], "an existing CSV file")
        params["data_file"] = str(data_file.resolve())
    source = find_notebook(args.notebook)
    declared = notebook_parameters(source)
    output = Path(args.output or Path("book/results") / f"{source.stem}.ipynb")
    check_writable(output.parent.resolve(), "--output")  # before the notebook runs, not after
    run_dir = None
    if "run_dir" in declared:
        # no finished run is overwritten: each set of parameters (or -o name) gets its own run directory
        if params.get("run_dir") is None:
            params["run_dir"] = str(default_run_dir(source.stem, params, args.output))
        run_dir = Path(params["run_dir"]).expanduser().resolve()  # as given in the notebook (run.json records it)
        check_writable(run_dir, "run_dir")
        if args.overwrite and (run_dir / "run.json").exists():
            (run_dir / "run.json").unlink()  # the notebook trains afresh (load_or_train finds no finished run)
    t = time.perf_counter()
    started = time.time()
    run_notebook(source, output, params, progress_bar=not args.quiet)
    print(f"notebook: {output.resolve()} ({source.name}, {time.perf_counter() - t:.0f} s)")
    if run_dir is not None:
        from nlpdiff.audit import chance_warning

        for path, info in rundir.find_runs(run_dir):
            if any(p.name == "folds" for p in path.relative_to(run_dir).parents) or path.parent.name == "folds":
                continue
            fresh = os.path.getmtime(path / "run.json") >= started - 1
            print(f"run directory: {path} ({'written' if fresh else 'reused'}, {info.get('kind')})")
            if info.get("kind") == "train":
                try:
                    run = rundir.load_run(path)
                    warning = chance_warning(run) if run.metrics.get("kind") == "classification" else None
                except (rundir.RunDirError, KeyError, ValueError):
                    warning = None
                if warning:
                    print(warning)
    return 0


def _cmd_study(args) -> int:
    need_study_tools("study")
    from nlpdiff_study.workflow import load_plan

    here = Path.cwd()
    missing = [name for name in ("Snakefile", f"params/profiles/{args.profile}.yaml") if not (here / name).is_file()]
    if missing:
        raise ParameterError("profile", args.profile, "a run from the root of a checkout of the study (a folder "
                             "with its Snakefile and params/profiles/<profile>.yaml)",
                             hint=f"looked in {here}: no {' and no '.join(missing)}; clone the repository and "
                                  "run nlpdiff study there, or use nlpdiff run / nlpdiff score anywhere")
    plan = load_plan(args.profile)  # a bad profile fails here, with a clear message
    cmd = ["snakemake", "--snakefile", "Snakefile", "--cores", str(args.cores)]
    if args.dry_run:
        cmd.append("-n")
    cmd += [*args.snakemake_args, "--config", f"profile={args.profile}"]  # --config takes the rest
    print("$", " ".join(cmd), flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, bufsize=1)
    relay_progress(proc.stderr, sys.stderr, t0)
    returncode = proc.wait()
    wall = time.monotonic() - t0
    if returncode != 0:
        raise RuntimeError(f"the workflow failed (snakemake exit {returncode}) after {_clock(wall)}")
    if not args.dry_run:
        print(f"nlpdiff study: profile {args.profile} done in {_clock(wall)} (wall)", flush=True)
    if plan.build_book and not args.dry_run:
        print(f"The book: {(plan.book_root / '_build' / 'html' / 'index.html').resolve()}")
    return 0


_STEPS = re.compile(r"(\d+) of (\d+) steps \((\d+(?:\.\d+)?)%\) done")


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def progress_line(done: int, total: int, elapsed: float) -> str:
    """The study's overall progress after ``done`` of ``total`` workflow steps: elapsed wall time and a
    rough ETA (the mean time of the finished steps times the steps left: steps differ in cost, so it
    is a rough guide, refined after every step)."""
    line = f"[nlpdiff study] {done}/{total} steps done, {_clock(elapsed)} elapsed"
    if 0 < done < total:
        line += f", about {_clock(elapsed / done * (total - done))} left (rough: steps differ in cost)"
    return line


def relay_progress(stream, out, t0: float, clock=time.monotonic) -> None:
    """Copy Snakemake's log lines from ``stream`` to ``out``, adding :func:`progress_line` after each of
    its "N of M steps (P%) done" lines."""
    for line in stream:
        out.write(line)
        m = _STEPS.search(line)
        if m:
            out.write(progress_line(int(m.group(1)), int(m.group(2)), clock() - t0) + "\n")
        out.flush()


def _cmd_book(args) -> int:
    need_study_tools("book")
    index = build_book(args.root)
    print(f"The book: {index}")
    return 0


def register(sub) -> None:
    """Add ``run``, ``study``, ``grid`` and ``book`` to the ``nlpdiff`` subparsers (entry point ``nlpdiff.commands``)."""
    run = sub.add_parser("run", help="execute one notebook source with papermill")
    run.add_argument("notebook", help="a notebook shipped with nlpdiff (e.g. sentiment) or a path to a jupytext script")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="a notebook parameter; VALUE is read as YAML (64, 0.1, null, text)")
    run.add_argument("--parameters-json", help="notebook parameters as one JSON object (-p entries win)")
    run.add_argument("-o", "--output", help="the executed notebook (default book/results/NAME.ipynb)")
    run.add_argument("--overwrite", action="store_true",
                     help="retrain into the run directory even when it holds a finished run (default: a finished "
                          "run with the same parameters is reused, one with others is refused)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_cmd_run)

    study = sub.add_parser("study", help="run the study's workflow (Snakemake) for a profile, then build the book")
    study.add_argument("--profile", default="cpu", help=f"a file under params/ ({', '.join(PROFILES)})")
    study.add_argument("--cores", default="all", help="passed to snakemake --cores")
    study.add_argument("-n", "--dry-run", action="store_true", help="show what would run")
    study.add_argument("snakemake_args", nargs="*", help="more snakemake arguments, after --")
    study.set_defaults(func=_cmd_study)

    grid = sub.add_parser("grid", help="compute one part of a grid of the study (params/grids/GRID.yaml)")
    from nlpdiff_study import grid as grids

    grids.add_arguments(grid)
    grid.set_defaults(func=grids.run_from_args)

    book = sub.add_parser("book", help="build the Jupyter Book (-W: warnings are errors)")
    book.add_argument("root", nargs="?", default=".")
    book.set_defaults(func=_cmd_book)
