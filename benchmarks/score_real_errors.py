"""`nlpdiff score` as a user runs it, on real annotator errors: does its audit table put them first?

Writes a CSV of N NoisyAG-News items (the text and the label people gave: the majority of three
annotators, wrong on about a fifth of the items), runs the command a user runs on it
(`nlpdiff score items.csv --text text --label label -o OUT`, default recipe: fine-tuned MiniLM,
3 epochs), then reads the `audit.csv` it wrote against the true labels (`clean_label`, never shown to
the command) and prints, from this one run: the share of real errors among the first 50, 100 and 200
rows against the share among all rows (chance), the ROC AUC of the audit's ranking (rank 1 = most
suspect), and the command's wall time.

    export NLPDIFF_DATA_DIR=../shared/data HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    python benchmarks/score_real_errors.py                 # 1,000 items, seed 0
    python benchmarks/score_real_errors.py --n 4000 --out score_real_out
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="items drawn from NoisyAG-News's 10,000 (default 1,000)")
    ap.add_argument("--seed", type=int, default=0, help="which items are drawn")
    ap.add_argument("--data-dir", default=os.environ.get("NLPDIFF_DATA_DIR"), help="default $NLPDIFF_DATA_DIR")
    ap.add_argument("--out", default=None, help="the command's output folder (default: a temporary folder)")
    ap.add_argument("score_args", nargs="*", help="more `nlpdiff score` options, after --")
    a = ap.parse_args(argv)
    if not a.data_dir or not (Path(a.data_dir) / "noisy_agnews" / "train.parquet").is_file():
        sys.exit(f"--data-dir {a.data_dir!r}: a folder with noisy_agnews/train.parquet (see ../shared/data/README)")
    from nlpdiff import stats

    items = pd.read_parquet(Path(a.data_dir) / "noisy_agnews" / "train.parquet")
    items = items.sample(n=min(a.n, len(items)), random_state=a.seed).reset_index(drop=True)
    out = Path(a.out or tempfile.mkdtemp(prefix="score_real_"))
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "items.csv"
    items[["text", "label"]].to_csv(csv, index=False)  # what a user has: texts and the labels people gave
    cmd = ["nlpdiff", "score", str(csv), "--text", "text", "--label", "label", "-o", str(out / "score"), "-q",
           *a.score_args]
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t
    audit = pd.read_csv(out / "score" / "audit.csv")
    wrong = (items["label"] != items["clean_label"]).to_numpy()
    y = wrong[audit["row"].to_numpy()]  # audit rows in rank order; `row` is the CSV data row
    print(f"nlpdiff score on {len(items):,} NoisyAG-News items ({wrong.sum():,} real errors, chance "
          f"{wrong.mean():.3f}); the command took {wall:.0f} s wall")
    for top in [t for t in (50, 100, 200) if t < len(y)]:
        print(f"  real errors among the audit's first {top:>3} rows: {y[:top].mean():.3f}")
    print(f"  ROC AUC of the audit's ranking: {stats.roc_auc(-np.arange(len(y), dtype=float), y):.3f}")
    print(f"  (output: {out / 'score'})")


if __name__ == "__main__":
    main()
