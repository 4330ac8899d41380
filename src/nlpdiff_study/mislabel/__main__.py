"""``python -m nlpdiff_study.mislabel PART``: compute one part (or write a reading sheet)."""

from __future__ import annotations

import argparse


from nlpdiff_study.mislabel.parts import CONFIG
from nlpdiff_study.mislabel.run import run_part
from nlpdiff_study.mislabel.readings import READINGS, prepare_reading


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m nlpdiff_study.mislabel", description=__doc__.split("\n\n")[0])
    ap.add_argument("part")
    ap.add_argument("--config", default=str(CONFIG))
    ap.add_argument("--runs-dir", default="runs/mislabel")
    ap.add_argument("--out", default="results/mislabel")
    ap.add_argument("--max-runs", type=int, default=None)
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--reading-from", metavar="RUN_DIR",
                    help="instead of a part: write a blind reading sheet of RUN_DIR's top suspects into "
                         "results/readings/PART/ (prepare_reading)")
    ap.add_argument("--top", type=int, default=50, help="with --reading-from: top suspects (and as many random)")
    a = ap.parse_args(argv)
    if a.reading_from:
        folder = prepare_reading(a.reading_from, READINGS / a.part, top=a.top, n_random=a.top)
        from nlpdiff.audit import JUDGEMENTS

        print(f"fill the judgement column of {folder / 'sheet.csv'} ({', '.join(JUDGEMENTS)}) "
              f"before opening key.csv or top.csv")
        return
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    run_part(a.part, a.config, a.runs_dir, a.out, a.progress, a.max_runs)


if __name__ == "__main__":
    main()
