"""Comparing difficulty scores: with each other, across seeds and backbones, and with humans.

Pure functions of score tables (pandas in, pandas out) used by the comparison chapter. Rank
correlations come from :mod:`scipy.stats`; intervals are percentile bootstraps over samples.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
from scipy import stats

from nlpdiff.errors import ParameterError

METHODS = ("spearman", "kendall")


@contextmanager
def _quiet_resamples():
    """A bootstrap resample can draw a constant column (few distinct values): its correlation is
    undefined (NaN) and dropped by the nan-quantiles; silence scipy's and numpy's warnings for it."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def score_columns(scores: pd.DataFrame, axis: str | None = "difficulty") -> list[str]:
    """The score columns of a scores table that have a value for every sample and are not constant.

    ``axis`` keeps the registered scores of that axis (:data:`nlpdiff.scores.AXES`): by default the
    difficulty scores only, so that cartography variability (the ambiguity axis: not monotone in
    difficulty) is not compared, ranked or averaged with them; ``axis=None`` keeps every column.
    Columns that are not registered scores (a user's own) count as difficulty scores.
    """
    from nlpdiff.scores import AXES, score_axis

    if axis is not None and axis not in AXES:
        raise ParameterError("axis", axis, f"one of {', '.join(AXES)} or None")
    cols = []
    for c in scores.columns:
        if c == "sample_id":
            continue
        if axis is not None and (score_axis(c) or "difficulty") != axis:
            continue
        v = scores[c].to_numpy(dtype=float)
        if np.isfinite(v).all() and np.nanstd(v) > 0:
            cols.append(c)
    return cols


def _rank_corr(x: np.ndarray, y: np.ndarray, method: str) -> float:
    if method == "spearman":
        return float(stats.spearmanr(x, y).statistic)
    if method == "kendall":
        return float(stats.kendalltau(x, y).statistic)
    if method == "pearson":
        return float(stats.pearsonr(x, y).statistic)
    raise ParameterError("method", method, f"one of {[*METHODS, 'pearson']}")


def _spearman_matrix(values: np.ndarray) -> np.ndarray:
    """Spearman correlation between the columns of ``values`` (n, k): Pearson of the ranks."""
    ranks = np.apply_along_axis(stats.rankdata, 0, values)
    return np.corrcoef(ranks, rowvar=False)


def correlation_table(scores: pd.DataFrame, columns: Sequence[str] | None = None, n_boot: int = 200,
                      seed: int = 0, ci: float = 0.95) -> pd.DataFrame:
    """Spearman and Kendall correlation of every pair of scores, with bootstrap intervals.

    Returns one row per unordered pair: ``a``, ``b``, ``spearman``, ``spearman_lo``,
    ``spearman_hi``, ``kendall``, ``kendall_lo``, ``kendall_hi``, ``n``. The intervals are
    percentile intervals of ``n_boot`` resamples of the samples (with replacement). Kendall's
    intervals use at most 2,000 samples per resample (Kendall's tau costs O(n log n) per pair).
    """
    cols = list(columns) if columns is not None else score_columns(scores)
    if len(cols) < 2:
        raise ParameterError("columns", cols, "at least two score columns with finite, non-constant values")
    values = scores[cols].to_numpy(dtype=float)
    n = len(values)
    rng = np.random.default_rng(seed)
    alpha = (1 - ci) / 2
    full_s = _spearman_matrix(values)
    boot_s = np.empty((n_boot, len(cols), len(cols)))
    with _quiet_resamples():
        for b in range(n_boot):
            boot_s[b] = _spearman_matrix(values[rng.integers(0, n, n)])
    sub = min(n, 2000)
    rows = []
    pairs = list(itertools.combinations(range(len(cols)), 2))
    kendall_boot = {p: np.empty(min(n_boot, 100)) for p in pairs}
    with _quiet_resamples():
        for b in range(min(n_boot, 100)):
            idx = rng.integers(0, n, sub)
            for i, j in pairs:
                kendall_boot[(i, j)][b] = stats.kendalltau(values[idx, i], values[idx, j]).statistic
    for i, j in pairs:
        kb = kendall_boot[(i, j)]
        rows.append({
            "a": cols[i], "b": cols[j],
            "spearman": full_s[i, j],
            "spearman_lo": np.nanquantile(boot_s[:, i, j], alpha),
            "spearman_hi": np.nanquantile(boot_s[:, i, j], 1 - alpha),
            "kendall": stats.kendalltau(values[:, i], values[:, j]).statistic,
            "kendall_lo": np.nanquantile(kb, alpha),
            "kendall_hi": np.nanquantile(kb, 1 - alpha),
            "n": n,
        })
    return pd.DataFrame(rows)


def correlation_matrix(scores: pd.DataFrame, columns: Sequence[str] | None = None,
                       method: str = "spearman") -> pd.DataFrame:
    """Square matrix of rank correlations between score columns (for a heat map)."""
    cols = list(columns) if columns is not None else score_columns(scores)
    if method == "spearman":
        m = _spearman_matrix(scores[cols].to_numpy(dtype=float))
        return pd.DataFrame(m, index=cols, columns=cols)
    return scores[cols].corr(method=method)


def stability(tables: dict[str, pd.DataFrame], columns: Sequence[str] | None = None,
              method: str = "spearman") -> pd.DataFrame:
    """How reproducible each score is across runs that scored the same samples.

    ``tables`` maps a run label (a seed, a backbone) to its scores table. For every score present
    in all of them, the rank correlation between each pair of runs on their common samples;
    returns one row per (score, run_a, run_b) with ``corr`` and ``n``. Summarise with
    :func:`stability_summary`.
    """
    if len(tables) < 2:
        raise ParameterError("tables", list(tables), "at least two runs to compare")
    common_cols = set.intersection(*(set(score_columns(t)) for t in tables.values()))
    cols = [c for c in (columns or sorted(common_cols)) if c in common_cols]
    rows = []
    for (la, ta), (lb, tb) in itertools.combinations(tables.items(), 2):
        merged = ta.merge(tb, on="sample_id", suffixes=("_a", "_b"))
        for c in cols:
            rows.append({"score": c, "run_a": la, "run_b": lb, "n": len(merged),
                         "corr": _rank_corr(merged[f"{c}_a"].to_numpy(float), merged[f"{c}_b"].to_numpy(float), method)})
    return pd.DataFrame(rows)


def stability_summary(stab: pd.DataFrame) -> pd.DataFrame:
    """Mean, minimum and maximum pairwise correlation per score, most stable first."""
    g = stab.groupby("score")["corr"]
    return (pd.DataFrame({"mean": g.mean(), "min": g.min(), "max": g.max(), "pairs": g.size()})
            .sort_values("mean", ascending=False).reset_index())


def partial_spearman(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
    """Spearman correlation of ``x`` and ``y`` controlling for ``z``.

    The ranks of x and y are regressed linearly on the rank of z; the result is the Pearson
    correlation of the residuals (the usual rank-based partial correlation).
    """
    rx, ry, rz = (stats.rankdata(v) for v in (x, y, z))
    design = np.column_stack([np.ones_like(rz), rz])
    res_x = rx - design @ np.linalg.lstsq(design, rx, rcond=None)[0]
    res_y = ry - design @ np.linalg.lstsq(design, ry, rcond=None)[0]
    return float(stats.pearsonr(res_x, res_y).statistic)


def human_agreement(scores: pd.DataFrame, signals: pd.DataFrame, signal_columns: Sequence[str],
                    length_column: str | None = None, columns: Sequence[str] | None = None,
                    n_boot: int = 200, seed: int = 0) -> pd.DataFrame:
    """Rank correlation of every score with every human signal (higher signal = harder).

    ``signals`` has ``sample_id`` and the signal columns (orient them so higher = harder for
    humans, e.g. rater disagreement, or minus polarity strength). With ``length_column`` (in
    ``signals``), also the partial Spearman correlation controlling for length, and the length's
    own correlation with the signal as a reference. Returns one row per (score, signal).
    """
    merged = scores.merge(signals, on="sample_id", how="inner")
    cols = [c for c in (columns or score_columns(scores)) if c in merged]
    rng = np.random.default_rng(seed)
    n = len(merged)
    boots = [rng.integers(0, n, n) for _ in range(n_boot)]
    rows = []
    for sig in signal_columns:
        s = merged[sig].to_numpy(float)
        extra = [length_column] if length_column else []
        for c in [*cols, *extra]:
            v = merged[c].to_numpy(float)
            rho = _rank_corr(v, s, "spearman")
            with _quiet_resamples():
                bs = [stats.spearmanr(v[i], s[i]).statistic for i in boots]
            row = {"score": c, "signal": sig, "spearman": rho,
                   "lo": float(np.nanquantile(bs, 0.025)), "hi": float(np.nanquantile(bs, 0.975)), "n": n}
            if length_column and c != length_column:
                row["partial_spearman_given_length"] = partial_spearman(v, s, merged[length_column].to_numpy(float))
            rows.append(row)
    return pd.DataFrame(rows)


def top_k_overlap(scores: pd.DataFrame, a: str, b: str, fraction: float = 0.1) -> dict[str, float]:
    """Of the top ``fraction`` hardest samples under ``a``, the share that ``b`` also ranks top.

    ``1 - overlap`` is the share of ``a``'s hardest samples that ``b`` misses (Angelov et al.
    2025: the action score "often captures difficult instances missed by entropy").
    """
    if not 0 < fraction <= 1:
        raise ParameterError("fraction", fraction, "a number in (0, 1]")
    k = max(1, int(round(fraction * len(scores))))
    top_a = set(scores.nlargest(k, a)["sample_id"])
    top_b = set(scores.nlargest(k, b)["sample_id"])
    overlap = len(top_a & top_b) / k
    return {"k": k, "overlap": overlap, "missed_by_b": 1 - overlap, "chance_overlap": k / len(scores)}


def linearity(scores: pd.DataFrame, a: str, b: str) -> dict[str, float]:
    """Pearson (linear) and Spearman (monotone) correlation of two scores, and the R^2 of a line."""
    x = scores[a].to_numpy(float)
    y = scores[b].to_numpy(float)
    r = float(stats.pearsonr(x, y).statistic)
    return {"pearson": r, "r2_linear": r * r, "spearman": _rank_corr(x, y, "spearman"), "n": len(x)}


def squad_annotator_agreement(answers: pd.Series) -> np.ndarray:
    """Mean pairwise token F1 (official SQuAD F1) between the annotators' answers of each question.

    ``answers`` holds dicts ``{"text": [...], ...}``; questions with fewer than two answers get NaN.
    1 = the annotators agree exactly; low = they disagree (a human difficulty signal).
    """
    from nlpdiff.squad_metric import f1 as squad_f1

    out = np.full(len(answers), np.nan)
    for i, a in enumerate(answers):
        texts = list(a["text"]) if isinstance(a, dict) else list(a)
        if len(texts) < 2:
            continue
        pairs = list(itertools.combinations(texts, 2))
        out[i] = float(np.mean([squad_f1(p, [q]) for p, q in pairs]))
    return out


# --------------------------------------------------------------------------- runs and human signals


#: Folders under a profile's runs folder that hold the runs an analysis chapter trains for its own slice
#: (``runs/<profile>/mislabel``, ``runs/<profile>/curriculum``): not runs of the profile's plan.
ANALYSIS_FOLDERS = ("mislabel", "curriculum")


def run_index(runs_dir, kinds: Sequence[str] | None = None, exclude: Sequence[str] = ()) -> pd.DataFrame:
    """One row per complete run folder under ``runs_dir``, of every kind: its parameters, size,
    held-out quality and cost. Column ``kind`` says what wrote it (``"train"``: :func:`nlpdiff.dynamics.train`;
    ``"trainer_callback"``: a ``transformers.Trainer`` with :class:`nlpdiff.DynamicsCallback`;
    ``"confident_learning"``: :func:`nlpdiff.detection.confident_learning`), column ``path`` points
    at the folder. ``kinds`` keeps only those kinds; ``exclude`` leaves out the runs under those
    top-level folders of ``runs_dir`` (e.g. :data:`ANALYSIS_FOLDERS`, so that a chapter does not read
    another chapter's slice, whatever order the analyses ran in). Runs nested inside another run's folder (the
    folds of confident learning) are not listed. ``name`` is the folder's path relative to
    ``runs_dir``, without a last ``run`` component (``<name>/run`` is the study's layout).
    """
    import json
    from pathlib import Path

    from nlpdiff import rundir

    root = Path(runs_dir)
    found = rundir.find_runs(root)
    folders = [path for path, _ in found]
    rows = []
    for path, info in found:
        if any(other != path and other in path.parents for other in folders):
            continue  # a run inside another run (a fold of confident learning)
        kind = info.get("kind")
        if kinds is not None and kind not in kinds:
            continue
        if path.relative_to(root).parts[0] in exclude:
            continue
        p = info.get("params", {})
        resolved = info.get("resolved", {})
        metrics_path = path / "metrics.json"
        metrics = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.exists() else {}
        final = metrics.get("final", {})
        metric = metrics.get("metric")
        relative = path.relative_to(root)
        name = relative.parent if relative.name == "run" else relative
        model = p.get("model", resolved.get("name_or_path"))
        if p.get("backbone") == "scratch":
            model = "scratch"
        elif str(model).startswith(("/", ".", "~")):  # the name asked for, not a local path
            model = str(model).rstrip("/").split("/")[-1]
        rows.append({
            "name": relative.as_posix() if str(name) == "." else name.as_posix(),
            "kind": kind,
            "task": p.get("task", metrics.get("task")),
            "train_split": metrics.get("train_split") or p.get("train_split"),
            "backbone": p.get("backbone", "finetune" if kind == "train" else None),
            "model": model,
            "seed": p.get("seed"),
            "data_seed": p.get("data_seed", 0),
            "noise_rate": p.get("noise_rate", 0.0),
            "n_train": resolved.get("n_train", info.get("n_train")),
            "epochs": p.get("epochs"),
            "checkpoints": resolved.get("n_checkpoints"),
            "heldout_metric": metric,
            "heldout_value": final.get(metric) if metric else None,
            "wall_time_s": info.get("wall_time_s", {}).get("total"),
            "path": str(path),
        })
    return pd.DataFrame(rows)


def human_signals(run) -> tuple[pd.DataFrame, list[str], str | None]:
    """Human difficulty signals for the samples of a run, oriented so that higher = harder.

    Returns ``(signals, signal_columns, length_column)``:

    * ``rt_human_ratings``, ``tweets_human_ratings``: ``rater_disagreement`` = ``rating_std`` (spread
      of 15-99 raters' scores), ``weak_polarity`` = -|mean_rating| (a sentence raters find barely
      positive or negative); length = words.
    * ``squad`` scored on its dev split: ``annotator_disagreement`` = 1 - mean pairwise token F1
      between the annotators' answers; length = context words.
    * ``imdb`` scored on its test split: ``crowd_error_votes`` = share of the five crowd workers who
      judged the given label wrong (0 for reviews that were not candidates); length = words.

    * NLI runs whose samples carry ChaosNLI's columns (``chaosnli_snli``, ``chaosnli_mnli``, the SNLI
      pool of :mod:`nlpdiff_study.nli`): ``chaosnli_entropy`` (entropy of 100 crowd labels) and
      ``gold_differs`` (the gold label is not the crowd's majority), on the ChaosNLI pairs only.

    Other runs have no human signal: an empty frame.
    """
    from nlpdiff import tasks

    s = run.samples
    task = run.params["task"]
    out = pd.DataFrame({"sample_id": s["sample_id"]})
    if {"entropy", "chaos_label", "premise", "hypothesis"} <= set(s.columns):  # ChaosNLI pairs (any NLI run)
        sig = chaosnli_signals(s)
        sig = sig.rename(columns={"entropy": "chaosnli_entropy"})
        sig["gold_differs"] = sig["gold_differs"].astype(float)
        return sig[["sample_id", "chaosnli_entropy", "gold_differs", "length_words"]], \
            ["chaosnli_entropy", "gold_differs"], "length_words"
    if task not in tasks.TASKS:  # a user's task: no human signal recorded
        return out.iloc[:0], [], None
    spec = tasks.get_task(task)
    if task in ("rt_human_ratings", "tweets_human_ratings"):
        out["rater_disagreement"] = s["rating_std"].to_numpy(float)
        out["weak_polarity"] = -np.abs(s["mean_rating"].to_numpy(float))
        out["length_words"] = s[spec.column("text")].str.split().str.len()
        return out, ["rater_disagreement", "weak_polarity"], "length_words"
    if task == "squad" and run.metrics.get("train_split") == "validation":
        out["annotator_disagreement"] = 1 - squad_annotator_agreement(s["answers"])
        out["length_words"] = s[spec.column("context")].str.split().str.len()
        out = out[np.isfinite(out["annotator_disagreement"])]
        return out, ["annotator_disagreement"], "length_words"
    if task == "imdb" and run.metrics.get("train_split") == "test":
        errors = tasks.load_split("imdb_label_errors", "test", data_dir=run.params.get("data_dir"))
        votes = errors.set_index("id")
        total = votes[["votes_given", "votes_guessed", "votes_neutral", "votes_off_topic"]].sum(axis=1)
        share = (votes["votes_guessed"] / total.replace(0, np.nan)).fillna(0.0)
        out["crowd_error_votes"] = s["id"].map(share).fillna(0.0).to_numpy(float)
        out["confirmed_error"] = s["id"].map(votes["votes_guessed"] >= 3).fillna(False).astype(bool).to_numpy()
        out["length_words"] = s[spec.column("text")].str.split().str.len()
        return out, ["crowd_error_votes"], "length_words"
    return out.iloc[:0], [], None


def missed_by_construction(scores: pd.DataFrame, a: str = "action", b: str = "mean_entropy",
                           fraction: float = 0.1, wrongness: str = "cartography_correctness") -> dict[str, float]:
    """How much of "``b`` misses ``a``'s hardest samples" holds by construction.

    Predictive entropy ignores the label: a sample the model predicts *confidently and wrongly* has a
    high loss (so a high action score) and a low entropy. Of ``a``'s top ``fraction`` samples that
    ``b`` misses, ``missed_mostly_wrong`` is the share that the model got wrong at most checkpoints
    (``wrongness`` = 1 - the share of checkpoints predicted correctly > 0.5): those are missed by
    construction. ``overlap_mostly_right`` recomputes the top-``fraction`` overlap among the samples
    predicted correctly at most checkpoints, where the label cannot explain the difference: what is
    left of the finding once the construction is accounted for (with its own ``chance_mostly_right``).
    """
    for col in (a, b, wrongness):
        if col not in scores.columns:
            raise ParameterError("scores", col, f"a table with a {col!r} column")
    base = top_k_overlap(scores, a, b, fraction)
    k = base["k"]
    top_a = scores.nlargest(k, a)
    top_b = set(scores.nlargest(k, b)["sample_id"])
    missed = top_a[~top_a["sample_id"].isin(top_b)]
    wrong = missed[wrongness] > 0.5
    right = scores[scores[wrongness] <= 0.5]
    sub = top_k_overlap(right, a, b, fraction) if len(right) >= 2 else {"overlap": np.nan, "chance_overlap": np.nan}
    return {**base, "missed": len(missed), "missed_mostly_wrong": float(wrong.mean()) if len(missed) else np.nan,
            "n_mostly_right": len(right), "overlap_mostly_right": sub["overlap"],
            "missed_by_b_mostly_right": 1 - sub["overlap"], "chance_mostly_right": sub["chance_overlap"]}


def chaosnli_signals(samples: pd.DataFrame) -> pd.DataFrame:
    """The ChaosNLI human signals of a run's samples (the pairs that have them).

    ``samples`` is a run's ``samples.parquet`` with the ChaosNLI columns (a run on ``chaosnli_snli``,
    ``chaosnli_mnli`` or the SNLI pool of :func:`register_snli_pool`). Returns one row per ChaosNLI
    pair: ``sample_id``, ``entropy`` (bits, of the 100 new labels: higher = humans disagree more),
    ``gold_differs`` (the original gold label, ``original_label``, differs from ``chaos_label``, the
    majority of the 100), ``chaos_share`` (share of the 100 on the majority label) and
    ``length_words`` (words of premise and hypothesis).
    """
    missing = [c for c in ("sample_id", "premise", "hypothesis", "entropy", "chaos_label") if c not in samples]
    if missing:
        raise ParameterError("samples", f"columns {list(samples.columns)}",
                             "a run's samples with ChaosNLI's columns (task chaosnli_snli, chaosnli_mnli or "
                             "the SNLI pool snli_chaosnli)", hint=f"missing {missing}")
    s = samples[np.isfinite(pd.to_numeric(samples["entropy"], errors="coerce").to_numpy(float))]
    gold = s["original_label"] if "original_label" in s else s["label"]
    counts = np.array([np.asarray(c, float) for c in s["label_count"]]) if "label_count" in s and len(s) else None
    out = pd.DataFrame({
        "sample_id": s["sample_id"].to_numpy(),
        "entropy": s["entropy"].to_numpy(float),
        "gold_differs": (gold.to_numpy() != s["chaos_label"].to_numpy().astype(np.int64)),
        "length_words": (s["premise"].str.split().str.len() + s["hypothesis"].str.split().str.len()).to_numpy(float),
    })
    if counts is not None:
        out["chaos_share"] = counts.max(axis=1) / counts.sum(axis=1)
    return out.reset_index(drop=True)
