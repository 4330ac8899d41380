"""SNLI dev as a training pool whose every ChaosNLI pair is a training sample (issue 14, SNLI part).

SNLI has no training split offline: the pool is the 9,831 dev pairs with a gold label (registry task
``snli``). ChaosNLI re-annotated 1,514 SNLI dev pairs with 100 crowd labels each; 1,507 of them are
in the pool (same premise and hypothesis text). :func:`build_frames` splits the pool into

* a held-out part of ``heldout_size`` pairs drawn (stratified by label, fixed ``seed``) from the
  pairs that are *not* in ChaosNLI, for held-out accuracy, and
* the training part: every other pair, so every matched ChaosNLI pair is trained on and scored;

and :func:`register` turns them into the user-data task ``snli_chaos`` through
:func:`nlpdiff.tasks.from_frame` (``heldout=`` the held-out frame; the source records the content
hashes). The same function is used on the GPU machine (before each run) and on the CPU by
``gpu/summarize.py`` (to join the runs' samples to ChaosNLI), so the split is defined once.

Columns of the frames: ``premise``, ``hypothesis``, ``label`` (0 entailment, 1 neutral,
2 contradiction), ``snli_row`` (the pair's row in SNLI dev) and ``chaos_uid`` (ChaosNLI ``uid``, or
"" for pairs outside ChaosNLI). A training sample's ``row_idx`` (its position in the training frame)
is one join away from these.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TASK_NAME = "snli_chaos"
LABEL_NAMES = ("entailment", "neutral", "contradiction")
HELDOUT_SIZE = 1500
SPLIT_SEED = 0


def _key(df: pd.DataFrame) -> pd.Series:
    return df["premise"].astype(str) + "\t" + df["hypothesis"].astype(str)


def load_chaos(data_dir) -> pd.DataFrame:
    from pathlib import Path

    return pd.read_parquet(Path(data_dir) / "chaosnli_snli" / "validation.parquet")


def build_frames(data_dir, heldout_size: int = HELDOUT_SIZE, seed: int = SPLIT_SEED):
    """``(train, heldout, chaos)``: the training and held-out frames and ChaosNLI with ``snli_row``."""
    from nlpdiff import tasks

    pool = tasks.load_split("snli", "validation", data_dir=str(data_dir))
    pool = pool.rename(columns={tasks.ROW_INDEX: "snli_row"})
    pool["premise"] = pool["premise"].astype(str)
    pool["hypothesis"] = pool["hypothesis"].astype(str)
    chaos = load_chaos(data_dir)
    first_row = pd.Series(pool["snli_row"].to_numpy(), index=_key(pool)).groupby(level=0).first()
    chaos = chaos.assign(snli_row=_key(chaos).map(first_row))
    uid_of = chaos.dropna(subset=["snli_row"]).drop_duplicates("snli_row").set_index("snli_row")["uid"]
    pool["chaos_uid"] = pool["snli_row"].map(uid_of).fillna("").astype(str)
    outside = pool[pool["chaos_uid"] == ""]
    rng = np.random.default_rng(seed)
    held_rows = []
    counts = outside["label"].value_counts().sort_index()
    # stratified by label: each class's share of the held-out part is its share outside ChaosNLI
    alloc = np.floor(counts / counts.sum() * heldout_size).astype(int)
    alloc.iloc[: heldout_size - alloc.sum()] += 1
    for label, n in alloc.items():
        rows = outside.loc[outside["label"] == label, "snli_row"].to_numpy()
        held_rows.extend(rng.choice(rows, size=int(n), replace=False).tolist())
    is_held = pool["snli_row"].isin(held_rows)
    train = pool[~is_held].reset_index(drop=True)
    held = pool[is_held].reset_index(drop=True)
    chaos["snli_row"] = chaos["snli_row"].astype("Int64")
    return train, held, chaos


def register(data_dir, heldout_size: int = HELDOUT_SIZE, seed: int = SPLIT_SEED):
    """Build the frames and register task ``snli_chaos`` (replacing an earlier one); return the spec."""
    from nlpdiff import tasks

    train, held, chaos = build_frames(data_dir, heldout_size, seed)
    spec = tasks.from_frame(
        train, text="premise", text_pair="hypothesis", label="label", name=TASK_NAME,
        label_names=list(LABEL_NAMES), heldout=held,
        description=(f"SNLI dev (9,831 pairs) as a training pool: {len(train):,} training pairs, every "
                     f"ChaosNLI SNLI pair in SNLI dev among them ({int((train['chaos_uid'] != '').sum())}); "
                     f"{len(held):,} held-out pairs outside ChaosNLI (stratified by label, seed {seed})."),
    )
    return tasks.register_task(spec, replace=True)
