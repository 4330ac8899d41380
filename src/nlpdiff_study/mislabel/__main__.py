"""``python -m nlpdiff_study.mislabel NAME --reading-from RUN_DIR``: write a blind reading sheet.

Computing a part of the grid is ``nlpdiff grid mislabel PART`` (:mod:`nlpdiff_study.grid`)."""

from __future__ import annotations

import argparse
import sys

from nlpdiff_study.mislabel.readings import READINGS, prepare_reading


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nlpdiff_study.mislabel", description=__doc__.split("\n\n")[0])
    ap.add_argument("name", help="the reading's folder under results/readings/")
    ap.add_argument("--reading-from", metavar="RUN_DIR", help="the run whose top suspects are read (prepare_reading)")
    ap.add_argument("--top", type=int, default=50, help="top suspects (and as many random ones)")
    a = ap.parse_args(argv)
    if not a.reading_from:
        print(f"nlpdiff: error: --reading-from: missing; a part of the grid is computed with "
              f"`nlpdiff grid mislabel {a.name}`", file=sys.stderr)
        return 2
    folder = prepare_reading(a.reading_from, READINGS / a.name, top=a.top, n_random=a.top)
    from nlpdiff.audit import JUDGEMENTS

    print(f"fill the judgement column of {folder / 'sheet.csv'} ({', '.join(JUDGEMENTS)}) "
          f"before opening key.csv or top.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
