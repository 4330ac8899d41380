"""The ``nlpdiff`` command.

``nlpdiff run NOTEBOOK -p NAME VALUE ... -o OUT.ipynb``
    execute one notebook source with papermill (see :mod:`nlpdiff.runner`), showing its cell
    progress, then print the output notebook and the run directories it wrote. A notebook with a
    ``run_dir`` parameter gets, when none is given, ``runs/<OUT name>`` (with ``-o``) or
    ``runs/<NOTEBOOK>-<hash of the parameters>``: a finished run with the same parameters is reused,
    one with others is refused (one line) unless ``--overwrite``. The sentiment notebook
    scores a CSV of your own: ``nlpdiff run sentiment -p data_file my.csv -p text_column review
    -p label_column stars -p train_size null -p run_dir runs/my_data`` (the path is made absolute
    and checked before the notebook starts).
``nlpdiff score my.csv --text review --label stars -o out/``
    score every row of a CSV of labelled texts by difficulty (see :mod:`nlpdiff.audit`): trains into
    ``out/run/`` (or reuses a finished run there with the same parameters and data; refuses one with
    others unless ``--overwrite``), writes ``out/audit.csv`` (hardest first) and ``out/data_map.html``,
    and prints the held-out accuracy, with a WARNING line when it is not clearly above chance.
``nlpdiff audit RUN_DIR --top 100 -o audit.csv``
    the ranked audit table of any finished classification run (``-o audit.html``: an offline HTML
    table; no ``-o``: printed), the same table ``nlpdiff score`` writes (:func:`nlpdiff.audit.audit_table`).
    ``--blind 50 -o sheet.csv`` writes a blind reading sheet instead: the 50 top suspects and 50
    other samples drawn at random, shuffled, without ranks or scores, with an empty ``judgement``
    column; ``--blind 50 --judgements sheet.csv`` unblinds the filled sheet (how many of each group
    the reader judged mislabelled; :func:`nlpdiff.audit.blind_summary`).
``nlpdiff study --profile cpu``
    run the study's workflow for a parameter profile (``params/<profile>.yaml``): Snakemake runs
    every training run's notebook, then the analyses, then builds the book (``snakemake --cores
    all --config profile=cpu``); it ends by printing the path of the book's HTML.
``nlpdiff book``
    build the Jupyter Book (``jupyter-book build . -W``) and print the path of its HTML.

Exit status: 0 on success, 1 when a notebook failed, the book build failed or a file could not be
written (one ``nlpdiff: error:`` line), 2 on bad arguments or input (one ``nlpdiff: error:`` line).
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

    from nlpdiff import rundir
    from nlpdiff.dynamics import check_writable
    from nlpdiff.runner import default_run_dir, find_notebook, notebook_parameters, parse_parameter, run_notebook

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

    here = Path.cwd()
    missing = [name for name in ("Snakefile", f"params/{args.profile}.yaml") if not (here / name).is_file()]
    if missing:
        raise ParameterError("profile", args.profile, "a run from the root of a checkout of the study (a folder "
                             "with its Snakefile and params/<profile>.yaml)",
                             hint=f"looked in {here}: no {' and no '.join(missing)}; clone the repository and "
                                  "run nlpdiff study there, or use nlpdiff run / nlpdiff score anywhere")
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


def _cmd_audit(args) -> int:
    from nlpdiff.audit import audit_table, write_audit

    if args.top is not None and args.top < 1:
        raise ParameterError("--top", args.top, "an integer >= 1")
    if args.blind is not None:
        return _blind_reading(args)
    table = audit_table(args.run_dir, top=args.top)
    if args.output:
        path = write_audit(table, Path(args.output).expanduser())
        print(f"audit table ({len(table):,} rows, hardest first): {path.resolve()}")
        return 0
    import pandas as pd

    shown = table.drop(columns=[c for c in ("sample_id", "given_label_prob", "cartography_confidence", "final_loss")
                                if c in table.columns])
    for c in table.attrs.get("text_columns", []):
        shown[c] = shown[c].map(lambda t: t if len(str(t)) <= 50 else str(t)[:47] + "...")
    with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", 70):
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def _blind_reading(args) -> int:
    from nlpdiff.audit import audit_table, blind_sheet, blind_summary, read_sheet

    if args.blind < 1:
        raise ParameterError("--blind", args.blind, "an integer >= 1")
    table = audit_table(args.run_dir)
    if args.judgements:
        path = Path(args.judgements).expanduser()
        if not path.is_file():
            raise ParameterError("--judgements", str(path), "a filled reading sheet (CSV) written by --blind -o")
        summary = blind_summary(table, read_sheet(path), top=args.blind, n_random=args.blind)
        print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        return 0
    if not args.output:
        raise ParameterError("-o", None, "a CSV path for the reading sheet (with --blind)")
    from nlpdiff import rundir

    sheet = blind_sheet(table, top=args.blind, n_random=args.blind)
    rundir.atomic_write(Path(args.output).expanduser(), lambda tmp: sheet.to_csv(tmp, index=False))
    print(f"blind reading sheet ({len(sheet)} rows: the {args.blind} top suspects and {args.blind} random others, "
          f"shuffled): {Path(args.output).expanduser().resolve()}")
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
    run.add_argument("--overwrite", action="store_true",
                     help="retrain into the run directory even when it holds a finished run (default: a finished "
                          "run with the same parameters is reused, one with others is refused)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
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

    audit = sub.add_parser("audit", help="the ranked audit table of a finished classification run directory")
    audit.add_argument("run_dir", help="a run directory (run.json, samples.parquet, ...)")
    audit.add_argument("--top", type=int, help="only the N hardest samples (default: every sample)")
    audit.add_argument("-o", "--output", help="write the table: NAME.csv, or NAME.html for an offline HTML table "
                                              "(default: print it)")
    audit.add_argument("--blind", type=int, metavar="N",
                       help="write a blind reading sheet (-o): the N top suspects and N random others, shuffled, "
                            "without scores; with --judgements, unblind a filled sheet")
    audit.add_argument("--judgements", help="a filled blind reading sheet (CSV) to unblind (with --blind N)")
    audit.set_defaults(func=_cmd_audit)

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
        if exc.ename == "ParameterError":  # bad input found inside the notebook: one line
            print(f"nlpdiff: error: {' '.join(str(exc.evalue).split())} (the failed notebook: {exc.failed_path})",
                  file=sys.stderr)
            return 1
        print(f"nlpdiff: notebook failed: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"nlpdiff: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a read-only or full disk, a missing file: one line, never a traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"nlpdiff: error: {exc.strerror or type(exc).__name__}{where}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
