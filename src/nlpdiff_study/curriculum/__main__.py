"""``python -m nlpdiff_study.curriculum PART``: train one part of the curriculum grid."""

from __future__ import annotations

import argparse


from nlpdiff_study.curriculum.parts import load_part, run_part


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m nlpdiff_study.curriculum",
                                     description="Train one part of the curriculum grid and write its tables.")
    parser.add_argument("part", help="a part of the curriculum file (e.g. sst2_probe)")
    parser.add_argument("--params", default="params/grids/curriculum.yaml")
    parser.add_argument("--runs-root", default="runs/curriculum")
    parser.add_argument("--results-root", default="results/curriculum")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    run_part(load_part(args.part, args.params), args.runs_root, args.results_root, progress=args.progress,
             log=lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
