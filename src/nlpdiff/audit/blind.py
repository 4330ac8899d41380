"""Blind reading of an audit: the top suspects mixed with random rows, a sheet to fill, and the summary
of what the reader said (:data:`JUDGEMENTS`)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from nlpdiff.errors import ParameterError

#: What a reader may say of a (text, given label) pair.
JUDGEMENTS = ("mislabelled", "ambiguous", "correct")


def blind_groups(table: pd.DataFrame, top: int = 50, n_random: int = 50, seed: int = 0) -> pd.DataFrame:
    """The two groups of a blind reading: the ``top`` highest-ranked rows of an :func:`audit_table`
    (``group = "top"``) and ``n_random`` rows drawn at random (``seed``) from the others
    (``group = "random"``), shuffled together and numbered ``item`` 1, 2, ... Deterministic for a
    given table, so the groups can be rebuilt from the run to unblind a reading."""
    for name, value in (("top", top), ("n_random", n_random)):
        if not isinstance(value, (int, np.integer)) or value < 0:
            raise ParameterError(name, value, "an integer >= 0")
    if top + n_random > len(table) or top + n_random == 0:
        raise ParameterError("top", top, f"top + n_random between 1 and the table's {len(table)} rows")
    ranked = table.sort_values("rank")
    rng = np.random.default_rng(seed)
    rest = ranked.iloc[top:]
    drawn = rest.iloc[np.sort(rng.choice(len(rest), size=n_random, replace=False))]
    both = pd.concat([ranked.head(top).assign(group="top"), drawn.assign(group="random")], ignore_index=True)
    both = both.iloc[rng.permutation(len(both))].reset_index(drop=True)
    both.insert(0, "item", np.arange(1, len(both) + 1))
    return both


def blind_sheet(table: pd.DataFrame, top: int = 50, n_random: int = 50, seed: int = 0) -> pd.DataFrame:
    """The sheet a reader fills in: :func:`blind_groups` without group, rank, scores, prediction or
    reason (nothing that says which rows the score flagged), with empty ``judgement`` (one of
    :data:`JUDGEMENTS`) and ``note`` columns. The key is :func:`blind_groups` with the same arguments."""
    groups = blind_groups(table, top, n_random, seed)
    text_cols = table.attrs.get("text_columns") or [c for c in table.columns if c in ("text", "sentence")]
    sheet = groups[["item", *text_cols, "given_label"]].copy()
    sheet["judgement"] = ""
    sheet["note"] = ""
    return sheet


def read_sheet(path: str | os.PathLike) -> pd.DataFrame:
    """A reading sheet (:func:`blind_sheet`) as written or filled: texts kept verbatim (no NA parsing),
    an empty ``judgement`` read as None (not read)."""
    return pd.read_csv(path, keep_default_na=False).replace({"judgement": {"": None}})


def blind_summary(table: pd.DataFrame, judgements: pd.DataFrame, top: int = 50, n_random: int = 50,
                  seed: int = 0) -> pd.DataFrame:
    """Unblind a reading of :func:`blind_sheet` ``(table, top, n_random, seed)``: the groups are rebuilt
    from ``table`` (:func:`blind_groups`) and the reading summarised by :func:`reading_summary`."""
    return reading_summary(blind_groups(table, top, n_random, seed), judgements)


def reading_summary(groups: pd.DataFrame, judgements: pd.DataFrame) -> pd.DataFrame:
    """Per group (``top``, ``random``) of a blind reading: how many rows were read and judged
    mislabelled, ambiguous or correct (``not_correct``: the first two), the share judged mislabelled
    with its Wilson 95 % interval, and (on the ``top`` row) Fisher's exact tests of top vs random
    (two-sided): mislabelled vs not (``fisher_p``) and not correct vs correct (``fisher_p_not_correct``).

    ``groups``: :func:`blind_groups` (the key); ``judgements``: the filled sheet, matched to the
    key by text column(s) and given label (so a reading stays valid when a rerun numbers the
    samples differently); rows of the key that no judgement matches count as not read.
    """
    from scipy.stats import binomtest, fisher_exact

    bad = sorted(set(judgements["judgement"].dropna()) - set(JUDGEMENTS))
    if bad:
        raise ParameterError("judgements", bad, f"judgement values among {JUDGEMENTS}")
    text_cols = [c for c in judgements.columns if c in groups.columns
                 and c not in ("item", "given_label", "judgement", "note", "group")]
    if not text_cols:
        raise ParameterError("judgements", list(judgements.columns), "a sheet with the key's text column(s)")
    keys = [*text_cols, "given_label"]
    read = judgements[[*keys, "judgement"]].dropna(subset=["judgement"]).drop_duplicates(subset=keys)
    key = groups.drop(columns=[c for c in ("judgement", "note") if c in groups.columns])
    merged = key.astype({"given_label": str}).merge(read.astype({"given_label": str}), how="left", on=keys)
    rows = []
    for group in ("top", "random"):
        g = merged[merged["group"] == group]
        counts = {j: int((g["judgement"] == j).sum()) for j in JUDGEMENTS}
        n_read = sum(counts.values())
        share, low, high = float("nan"), float("nan"), float("nan")
        if n_read:
            ci = binomtest(counts["mislabelled"], n_read).proportion_ci(method="wilson")
            share, low, high = counts["mislabelled"] / n_read, float(ci.low), float(ci.high)
        rows.append({"group": group, "n": len(g), "read": n_read, **counts, "share_mislabelled": share,
                     "low": low, "high": high})
    out = pd.DataFrame(rows)
    out["not_correct"] = out["mislabelled"] + out["ambiguous"]
    t, r = out.iloc[0], out.iloc[1]
    p = p_any = float("nan")
    if t["read"] and r["read"]:
        _, p = fisher_exact([[t["mislabelled"], t["read"] - t["mislabelled"]],
                             [r["mislabelled"], r["read"] - r["mislabelled"]]])
        _, p_any = fisher_exact([[t["not_correct"], t["read"] - t["not_correct"]],
                                 [r["not_correct"], r["read"] - r["not_correct"]]])
    out["fisher_p"] = [float(p), float("nan")]
    out["fisher_p_not_correct"] = [float(p_any), float("nan")]
    return out
