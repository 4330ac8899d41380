"""The ``nlpdiff`` command.

``nlpdiff run NOTEBOOK -p NAME VALUE ... -o OUT.ipynb``
    execute one notebook source with papermill (see :mod:`nlpdiff.runner`). The sentiment notebook
    scores a CSV of your own: ``nlpdiff run sentiment -p data_file my.csv -p text_column review
    -p label_column stars -p train_size null -p run_dir runs/my_data`` (the path is made absolute
    and checked before the notebook starts).
``nlpdiff score my.csv --text review --label stars -o out/``
    score every row of a CSV of labelled texts by difficulty (see :mod:`nlpdiff.audit`): trains into
    ``out/run/`` (or reuses a finished run there with the same parameters and data; refuses one with
    others unless ``--overwrite``), writes ``out/audit.csv`` (hardest first) and ``out/data_map.html``,
    and prints the held-out accuracy, with a WARNING line when it is not clearly above chance.
``nlpdiff study --profile cpu``
    run the study's workflow for a parameter profile (``params/<profile>.yaml``): Snakemake runs
    every training run's notebook, then the analyses, then builds the book (``snakemake --cores
    all --config profile=cpu``); it ends by printing the path of the book's HTML.
``nlpdiff book``
    build the Jupyter Book (``jupyter-book build . -W``) and print the path of its HTML.

Exit status: 0 on success, 1 when a notebook failed or the book build failed, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from nlpdiff.errors import ParameterError

from nlpdiff.workflow import PROFILES


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


def _cmd_run(args) -> int:
    import json

    from nlpdiff.runner import find_notebook, parse_parameter, run_notebook

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
    output = Path(args.output or Path("book/results") / f"{source.stem}.ipynb")
    t = time.perf_counter()
    run_notebook(source, output, params)
    print(f"{source} -> {output} in {time.perf_counter() - t:.0f} s")
    return 0


def _cmd_score(args) -> int:
    from nlpdiff.audit import report_lines, score_file

    params = {name: getattr(args, name) for name in ("backbone", "model", "epochs", "train_size", "batch_size",
                                                     "seed", "learning_rate") if getattr(args, name) is not None}
    t = time.perf_counter()
    result = score_file(args.file, text=args.text, label=args.label, text_pair=args.text_pair,
                        output_dir=args.output, overwrite=args.overwrite, progress=not args.quiet, **params)
    for line in report_lines(result):
        print(line)
    print(f"done in {time.perf_counter() - t:.0f} s")
    return 0


def _cmd_study(args) -> int:
    from nlpdiff.workflow import load_plan

    plan = load_plan(args.profile)  # a bad profile fails here, with a clear message
    cmd = ["snakemake", "--snakefile", "Snakefile", "--cores", str(args.cores)]
    if args.dry_run:
        cmd.append("-n")
    cmd += [*args.snakemake_args, "--config", f"profile={args.profile}"]  # --config takes the rest
    print("$", " ".join(cmd), flush=True)
    result = subprocess.run(cmd)
    if result.returncode != 0:
        raise RuntimeError(f"the workflow failed (snakemake exit {result.returncode})")
    if plan.build_book and not args.dry_run:
        print(f"The book: {(plan.book_root / '_build' / 'html' / 'index.html').resolve()}")
    return 0


def _cmd_book(args) -> int:
    index = build_book(args.root)
    print(f"The book: {index}")
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nlpdiff", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute one notebook source with papermill")
    run.add_argument("notebook", help="a notebook shipped with nlpdiff (e.g. sentiment) or a path to a jupytext script")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="a notebook parameter; VALUE is read as YAML (64, 0.1, null, text)")
    run.add_argument("--parameters-json", help="notebook parameters as one JSON object (-p entries win)")
    run.add_argument("-o", "--output", help="the executed notebook (default book/results/NAME.ipynb)")
    run.set_defaults(func=_cmd_run)

    score = sub.add_parser("score", help="rank the rows of a CSV of labelled texts by difficulty (audit table, data map)")
    score.add_argument("file", help="a CSV file with a header row")
    score.add_argument("--text", required=True, help="the column of texts")
    score.add_argument("--label", required=True, help="the column of labels (strings or integers)")
    score.add_argument("--text-pair", help="a second text column, for pair tasks (e.g. premise/hypothesis)")
    score.add_argument("--backbone", choices=("finetune", "probe", "scratch"), help="default finetune")
    score.add_argument("--model", help="default minilm (packaged, offline); or a Hugging Face model id")
    score.add_argument("--epochs", type=int, help="default 3")
    score.add_argument("--train-size", type=int, dest="train_size", help="default: every training row")
    score.add_argument("--batch-size", type=int, dest="batch_size", help="default 16")
    score.add_argument("--seed", type=int, help="default 0")
    score.add_argument("--learning-rate", type=float, dest="learning_rate", help="default 1e-4")
    score.add_argument("--overwrite", action="store_true", help="replace a finished run with other parameters")
    score.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    score.add_argument("-o", "--output", default="nlpdiff-out", help="the output folder (default nlpdiff-out)")
    score.set_defaults(func=_cmd_score)

    study = sub.add_parser("study", help="run the study's workflow (Snakemake) for a profile, then build the book")
    study.add_argument("--profile", default="cpu", help=f"a file under params/ ({', '.join(PROFILES)})")
    study.add_argument("--cores", default="all", help="passed to snakemake --cores")
    study.add_argument("-n", "--dry-run", action="store_true", help="show what would run")
    study.add_argument("snakemake_args", nargs="*", help="more snakemake arguments, after --")
    study.set_defaults(func=_cmd_study)

    book = sub.add_parser("book", help="build the Jupyter Book (-W: warnings are errors)")
    book.add_argument("root", nargs="?", default=".")
    book.set_defaults(func=_cmd_book)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    from nlpdiff.runner import NotebookFailed

    try:
        return args.func(args)
    except ParameterError as exc:
        print(f"nlpdiff: error: {' '.join(str(exc).split())}", file=sys.stderr)  # one line
        return 2
    except NotebookFailed as exc:
        print(f"nlpdiff: notebook failed: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"nlpdiff: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
