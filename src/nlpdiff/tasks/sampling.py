"""Seeded subsets of a split (stratified by label for classification)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nlpdiff.errors import ParameterError
from nlpdiff.tasks.spec import ROW_INDEX  # noqa: F401


# ----------------------------------------------------------------------------------- subsampling


def _check_seed(seed: Any) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError("seed", seed, "an integer >= 0")
    return int(seed)


def _allocate(counts: np.ndarray, n: int) -> np.ndarray:
    """Split n over groups in proportion to counts (largest remainder; ties to the earlier group)."""
    quota = counts * n / counts.sum()
    alloc = np.floor(quota).astype(np.int64)
    rest = n - int(alloc.sum())
    if rest:
        order = np.argsort(-(quota - alloc), kind="stable")
        alloc[order[:rest]] += 1
    return np.minimum(alloc, counts)


def subsample(
    df: pd.DataFrame,
    n: int | str | None,
    seed: int = 0,
    stratify: str | None = None,
    *,
    param: str = "n",
) -> pd.DataFrame:
    """A deterministic random subset of ``n`` rows of ``df``.

    Args:
        df: a frame, usually from :func:`load_split`. If it has no ``row_idx`` column one is added
            first (the rows' positions in ``df``), so every sampled row stays traceable.
        n: number of rows (1..len(df)), or None / ``"all"`` for every row.
        seed: seed of the numpy Generator; the same seed gives the same rows.
        stratify: a column (e.g. ``"label"``) whose class proportions the sample keeps: each class
            gets its share of ``n`` by the largest-remainder rule and is sampled within. None for
            plain seeded sampling (summarization, QA).
        param: the name that errors about ``n`` use (e.g. ``"train_size"`` for a caller whose
            user-facing parameter has that name).

    Returns:
        The sampled rows in their original order (sorted by position in ``df``), with a fresh
        RangeIndex.
    """
    if not isinstance(df, pd.DataFrame):
        raise ParameterError("df", type(df).__name__, "a pandas DataFrame")
    seed = _check_seed(seed)
    if stratify is not None and stratify not in df.columns:
        raise ParameterError(
            "stratify", stratify, f"None or a column of the frame: {', '.join(map(str, df.columns))}"
        )
    out = df if ROW_INDEX in df.columns else df.assign(**{ROW_INDEX: np.arange(len(df))})
    total = len(df)
    if n is None or (isinstance(n, str) and n == "all"):
        return out.reset_index(drop=True)
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise ParameterError(param, n, f"an integer in 1..{total}, None or 'all'")
    n = int(n)
    if not 1 <= n <= total:
        raise ParameterError(
            param, n, f"an integer in 1..{total} (the split has {total} rows), None or 'all'"
        )
    rng = np.random.default_rng(seed)
    if stratify is None:
        positions = rng.choice(total, size=n, replace=False)
    else:
        codes, _ = pd.factorize(df[stratify], sort=True, use_na_sentinel=False)
        counts = np.bincount(codes)
        alloc = _allocate(counts, n)
        chosen = []
        for group, k in enumerate(alloc):
            members = np.flatnonzero(codes == group)
            chosen.append(rng.choice(members, size=int(k), replace=False))
        positions = np.concatenate(chosen)
    positions = np.sort(positions)
    return out.iloc[positions].reset_index(drop=True)
