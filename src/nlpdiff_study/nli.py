"""Natural language inference: difficulty scores against ChaosNLI's 100-annotator disagreement.

ChaosNLI (Nie, Zhou and Bansal, EMNLP 2020) gave each of 1,514 SNLI-dev and 1,599 MNLI-dev pairs 100
new crowd labels. Its pairs were *chosen* for low agreement among the original annotators: on every
one, exactly 3 of the original 5 agree. The original 5 labels therefore carry no graded signal on
these pairs (they are all "3 of 5"); the 100 new labels do: their entropy (``entropy``, bits) is
the human-disagreement signal, and their majority (``chaos_label``) may differ from the original
gold label (the majority of the 5), which happens on 378 SNLI and 508 MNLI pairs.

This module

* builds the SNLI training pool of the study (:func:`snli_pool`, :func:`register_snli_pool`): SNLI
  dev has no training split offline, so a run trains on every ChaosNLI pair that is in SNLI dev
  (matched by premise and hypothesis text) plus other dev pairs, and holds out dev pairs outside
  ChaosNLI for accuracy; the ChaosNLI columns travel with the pairs into ``samples.parquet``;
* reads a run's human signals (:func:`chaosnli_signals`): ``entropy``, ``gold_differs`` (the
  original gold label differs from the majority of the 100) and the pair's length in words;
* measures every score of a run against them (:func:`chaosnli_table`): Spearman with the entropy,
  with a 95 % bootstrap interval and the partial Spearman given length, and ROC AUC and average
  precision at ranking the ``gold_differs`` pairs first, with their chance levels;
* compares the action score with predictive entropy as Angelov et al. (TrustNLP 2025) do, with
  paired tests (:func:`entropy_comparison`): a paired bootstrap of the difference of the Spearman
  correlations with the human entropy, DeLong's test of the difference of the ROC AUCs, Holm's
  adjustment across the table.

A caution on circularity, which the tables cannot remove: the action score is a sum of losses *of
the gold label*, while predictive entropy ignores the label. "Gold differs from the majority of 100"
is defined through the gold label too, so a loss-based score is favoured on that target by
construction (a pair whose gold label the model does not predict has a high loss, and such a pair is
more often one where the crowd disagrees with gold). The human entropy does not involve the gold
label, so the Spearman comparison with entropy is the label-free, fairer one.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pandas as pd

from nlpdiff.compare import chaosnli_signals  # noqa: F401  (the library's; this page's helpers use it)
from nlpdiff.errors import ParameterError

__all__ = [
    "CHAOS_COLUMNS",
    "LABEL_NAMES",
    "POOL_TASK",
    "chaosnli_signals",
    "chaosnli_table",
    "entropy_comparison",
    "interval_chart",
    "pooled_agreement",
    "register_snli_pool",
    "run_summary",
    "seed_comparison",
    "seed_summary",
    "snli_pool",
    "study_runs",
    "with_chaos_columns",
]

LABEL_NAMES = ("entailment", "neutral", "contradiction")
#: ChaosNLI's human-signal columns, carried into a run's samples.parquet.
CHAOS_COLUMNS = ("entropy", "label_count", "chaos_label", "old_labels")
#: The task name of the SNLI training pool registered by :func:`register_snli_pool`.
POOL_TASK = "snli_chaosnli"


def _key(df: pd.DataFrame) -> pd.Series:
    return df["premise"].astype(str) + "\t" + df["hypothesis"].astype(str)


def _stratified(rows: pd.DataFrame, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` of ``rows``' ``snli_row`` values, stratified by label (largest remainder)."""
    from nlpdiff.tasks import _allocate

    labels = np.sort(rows["label"].unique())
    counts = np.array([(rows["label"] == c).sum() for c in labels])
    alloc = _allocate(counts, n)
    chosen = [rng.choice(rows.loc[rows["label"] == c, "snli_row"].to_numpy(), size=int(k), replace=False)
              for c, k in zip(labels, alloc)]
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def snli_pool(data_dir: str | os.PathLike | None = None, n_other_train: int = 1500, heldout_size: int = 1000,
              seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(train, heldout)``: SNLI dev split into a training pool holding every ChaosNLI pair and a
    held-out part outside ChaosNLI.

    The SNLI dev pairs (task ``snli``, split ``validation``) are matched to ChaosNLI's SNLI pairs
    (task ``chaosnli_snli``) by premise and hypothesis text (a pair that occurs twice in SNLI dev
    is matched once, at its first row). ``train`` holds every matched pair and ``n_other_train``
    pairs outside ChaosNLI; ``heldout`` holds ``heldout_size`` other pairs outside ChaosNLI, disjoint
    from the training pairs. Both draws are stratified by label with ``seed``. ``None`` for
    ``n_other_train`` takes every pair outside ChaosNLI that is not held out.

    Columns: ``premise``, ``hypothesis``, ``label`` (SNLI's gold label), ``snli_row`` (the pair's
    row in SNLI dev), ``chaos_uid`` (ChaosNLI's ``uid``, "" outside ChaosNLI) and ChaosNLI's
    :data:`CHAOS_COLUMNS` (missing outside ChaosNLI), in SNLI dev order.
    """
    from nlpdiff import tasks

    for name, value in (("n_other_train", n_other_train), ("heldout_size", heldout_size)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0):
            raise ParameterError(name, value, "an integer >= 0" + (" or None" if name == "n_other_train" else ""))
    pool = tasks.load_split("snli", "validation", data_dir=data_dir).rename(columns={tasks.ROW_INDEX: "snli_row"})
    chaos = tasks.load_split("chaosnli_snli", "validation", data_dir=data_dir).drop(columns=[tasks.ROW_INDEX])
    first_row = pd.Series(pool["snli_row"].to_numpy(), index=_key(pool).to_numpy()).groupby(level=0).first()
    chaos = chaos.assign(snli_row=_key(chaos).map(first_row)).dropna(subset=["snli_row"])
    chaos = chaos.drop_duplicates("snli_row").astype({"snli_row": np.int64})
    extra = chaos.set_index("snli_row")[["uid", *CHAOS_COLUMNS]].rename(columns={"uid": "chaos_uid"})
    pool = pool.join(extra, on="snli_row")
    pool["chaos_uid"] = pool["chaos_uid"].fillna("").astype(str)
    for c in ("label_count", "old_labels"):  # lists, None outside ChaosNLI (parquet-friendly)
        pool[c] = [list(np.asarray(v).tolist()) if isinstance(v, (list, np.ndarray)) else None for v in pool[c]]
    outside = pool[pool["chaos_uid"] == ""]
    if heldout_size > len(outside):
        raise ParameterError("heldout_size", heldout_size,
                             f"at most {len(outside)} (the SNLI dev pairs outside ChaosNLI)")
    rng = np.random.default_rng(seed)
    held_rows = _stratified(outside, heldout_size, rng)
    rest = outside[~outside["snli_row"].isin(held_rows)]
    if n_other_train is None:
        other_rows = rest["snli_row"].to_numpy()
    else:
        if n_other_train > len(rest):
            raise ParameterError("n_other_train", n_other_train,
                                 f"at most {len(rest)} (pairs outside ChaosNLI left after the held-out part)")
        other_rows = _stratified(rest, n_other_train, rng)
    in_train = (pool["chaos_uid"] != "") | pool["snli_row"].isin(other_rows)
    train = pool[in_train].reset_index(drop=True)
    heldout = pool[pool["snli_row"].isin(held_rows)].reset_index(drop=True)
    return train, heldout


def register_snli_pool(data_dir: str | os.PathLike | None = None, n_other_train: int = 1500,
                       heldout_size: int = 1000, seed: int = 0, name: str = POOL_TASK):
    """Register the SNLI pool of :func:`snli_pool` as task ``name`` (replacing an earlier one) and
    return its :class:`~nlpdiff.tasks.TaskSpec`: split ``train`` (every ChaosNLI pair in SNLI dev
    and ``n_other_train`` others) and ``heldout`` (``heldout_size`` pairs outside ChaosNLI), through
    :func:`nlpdiff.tasks.from_frame`, whose source records the content hashes (a run on another
    pool is never reused). Train with ``from_flat({"task": name, "train_size": None, ...})``."""
    from nlpdiff import tasks

    train, held = snli_pool(data_dir, n_other_train, heldout_size, seed)
    n_chaos = int((train["chaos_uid"] != "").sum())
    spec = tasks.from_frame(
        train, text="premise", text_pair="hypothesis", label="label", name=name, label_names=list(LABEL_NAMES),
        heldout=held if len(held) else None, heldout_fraction=0.0,
        description=(f"SNLI dev as a training pool: {len(train):,} training pairs ({n_chaos:,} ChaosNLI pairs "
                     f"and {len(train) - n_chaos:,} others, seed {seed}); {len(held):,} held-out pairs "
                     "outside ChaosNLI (stratified by label)."),
    )
    return tasks.register_task(spec, replace=True)


# ------------------------------------------------------------------------------------------ signals


def _scores_on(scores: pd.DataFrame, signals: pd.DataFrame, columns: Sequence[str] | None) -> tuple[pd.DataFrame, list[str]]:
    from nlpdiff.compare import score_columns

    merged = signals.merge(scores, on="sample_id", how="inner")
    if len(merged) < 3:
        raise ParameterError("signals", f"{len(merged)} samples in common with the scores",
                             "at least 3 ChaosNLI pairs among the run's samples")
    cols = list(columns) if columns is not None else score_columns(scores)
    cols = [c for c in cols if c in merged and np.isfinite(merged[c].to_numpy(float)).all()
            and np.ptp(merged[c].to_numpy(float)) > 0]
    if not cols:
        raise ParameterError("columns", columns, "score columns with finite, non-constant values on the pairs")
    return merged, cols


def _row_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``a`` with the same row of ``b`` (nan for a constant row)."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))


def chaosnli_table(scores: pd.DataFrame, signals: pd.DataFrame, columns: Sequence[str] | None = None,
                   length_column: str | None = "length_words", n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Every score of a run against ChaosNLI's human signals, one row per score.

    ``scores``: a run's scores table (``sample_id`` and score columns, higher = harder);
    ``signals``: :func:`chaosnli_signals`. Columns of the result:

    * ``spearman_entropy`` with its 95 % percentile bootstrap interval over pairs
      (``spearman_entropy_lo``/``_hi``) and ``partial_spearman_given_length`` (rank partial
      correlation controlling for the pair's length; :func:`nlpdiff.compare.partial_spearman`);
    * ``roc_auc`` (with a 95 % bootstrap interval on the same resamples) and ``average_precision``
      at ranking the ``gold_differs`` pairs first, and their chance levels ``chance_roc_auc`` (0.5)
      and ``chance_average_precision`` (the share of ``gold_differs`` pairs);
    * ``n`` pairs and ``n_gold_differs``.

    With ``length_column`` the length itself is the last row (``score`` = the column), a reference:
    how much a score's agreement could come from length alone. ``n_boot=0`` skips the intervals
    (nan), for runs summarised over seeds (:func:`seed_summary`).
    """
    from scipy.stats import rankdata

    from nlpdiff import compare, stats

    merged, cols = _scores_on(scores, signals, columns)
    ent = merged["entropy"].to_numpy(float)
    y = merged["gold_differs"].to_numpy(bool)
    n = len(merged)
    # the same resamples for every score, computed for all resamples at once (rank-based formulas:
    # Spearman = Pearson of the ranks, ROC AUC = Mann-Whitney U / (m n))
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ParameterError("n_boot", n_boot, "an integer >= 0 (0: no intervals)")
    idx = np.random.default_rng(seed).integers(0, n, (max(int(n_boot), 1), n))
    ent_ranks = rankdata(ent[idx], axis=1)
    yb = y[idx]
    m_pos = yb.sum(axis=1).astype(float)
    m_neg = n - m_pos
    length = merged[length_column].to_numpy(float) if length_column else None
    rows = []
    for c in [*cols, *([length_column] if length_column else [])]:
        v = merged[c].to_numpy(float)
        boot_rho = boot_auc = np.full(1, np.nan)
        if n_boot:
            ranks = rankdata(v[idx], axis=1)
            with compare._quiet_resamples():
                boot_rho = _row_pearson(ranks, ent_ranks)
                boot_auc = ((ranks * yb).sum(axis=1) - m_pos * (m_pos + 1) / 2) / (m_pos * m_neg)
        rows.append({
            "score": c, "n": n, "n_gold_differs": int(y.sum()),
            "spearman_entropy": stats.spearman(v, ent),
            "spearman_entropy_lo": float(np.nanquantile(boot_rho, 0.025)),
            "spearman_entropy_hi": float(np.nanquantile(boot_rho, 0.975)),
            "partial_spearman_given_length": (compare.partial_spearman(v, ent, length)
                                              if length is not None and c != length_column else np.nan),
            "roc_auc": stats.roc_auc(v, y),
            "roc_auc_lo": float(np.nanquantile(boot_auc, 0.025)), "roc_auc_hi": float(np.nanquantile(boot_auc, 0.975)),
            "average_precision": stats.average_precision(v, y),
            "chance_roc_auc": 0.5, "chance_average_precision": float(y.mean()),
            "reference": c == length_column,
        })
    return pd.DataFrame(rows)


def entropy_comparison(scores: pd.DataFrame, signals: pd.DataFrame, score: str = "action",
                       baselines: Sequence[str] = ("mean_entropy", "final_entropy"), n_boot: int = 2000,
                       seed: int = 0) -> pd.DataFrame:
    """Angelov et al.'s comparison of the action score with predictive entropy, as paired tests.

    For each baseline (default: the mean and the final predictive entropy), two tests on the same
    ChaosNLI pairs:

    * ``spearman_entropy``: the difference of the Spearman correlations with the human entropy,
      ``score`` minus baseline, with a paired bootstrap (:func:`nlpdiff.stats.paired_bootstrap`:
      interval and p value);
    * ``roc_auc_gold_differs``: the difference of the ROC AUCs at ranking the ``gold_differs``
      pairs first, with DeLong's test (:func:`nlpdiff.stats.delong`; the interval is the normal
      one, ``diff +- 1.96 diff / z``).

    ``p_holm`` is Holm-adjusted across every row of the table. A positive ``diff`` favours
    ``score``. Remember the circularity (module docstring): the ROC AUC target is defined through
    the gold label, which the action score sees and predictive entropy ignores.
    """
    from nlpdiff import stats

    merged, cols = _scores_on(scores, signals, [score, *baselines])
    if score not in cols:
        raise ParameterError("score", score, f"a score of the run with finite, non-constant values: {cols}")
    present = [b for b in baselines if b in cols]
    if not present:
        raise ParameterError("baselines", list(baselines), f"scores of the run: {list(scores.columns)}")
    ent = merged["entropy"].to_numpy(float)
    y = merged["gold_differs"].to_numpy(bool)
    a = merged[score].to_numpy(float)
    rows = []
    for b in present:
        vb = merged[b].to_numpy(float)
        boot = stats.paired_bootstrap(stats.spearman, a, vb, ent, n_boot=n_boot, seed=seed)
        rows.append({"score": score, "baseline": b, "metric": "spearman_entropy", "test": "paired bootstrap",
                     "value_score": boot["metric_a"], "value_baseline": boot["metric_b"], "diff": boot["diff"],
                     "low": boot["low"], "high": boot["high"], "p": boot["p"], "n": len(merged)})
        d = stats.delong(a, vb, y)
        half = 1.959963984540054 * abs(d["diff"] / d["z"]) if d["z"] not in (0.0,) and np.isfinite(d["z"]) else np.nan
        rows.append({"score": score, "baseline": b, "metric": "roc_auc_gold_differs", "test": "DeLong",
                     "value_score": d["auc_a"], "value_baseline": d["auc_b"], "diff": d["diff"],
                     "low": d["diff"] - half, "high": d["diff"] + half, "p": d["p"], "n": len(merged)})
    out = pd.DataFrame(rows)
    out["p_holm"] = stats.holm(out["p"].to_numpy(float))
    return out


def seed_summary(tables: dict, metrics: Sequence[str] = ("spearman_entropy", "roc_auc", "average_precision"),
                 confidence: float = 0.95) -> pd.DataFrame:
    """Mean and Student-t interval over seeds of each score's metrics.

    ``tables`` maps a seed (or run label) to a :func:`chaosnli_table` of a run; runs of one backbone
    that scored the same pairs. One row per score: ``n_seeds`` and, per metric, ``<metric>``
    (mean), ``<metric>_lo`` and ``<metric>_hi`` (:func:`nlpdiff.stats.seed_interval`), with the
    chance levels.
    """
    from nlpdiff import stats

    if not tables:
        raise ParameterError("tables", tables, "at least one run's chaosnli_table")
    long = pd.concat([t.assign(run=str(k)) for k, t in tables.items()], ignore_index=True)
    rows = []
    for score, g in long.groupby("score", sort=False):
        row = {"score": score, "n_seeds": len(g)}
        for m in metrics:
            row[m], row[f"{m}_lo"], row[f"{m}_hi"] = stats.seed_interval(g[m].to_numpy(float), confidence)
        row["chance_roc_auc"] = 0.5
        row["chance_average_precision"] = float(g["chance_average_precision"].mean())
        row["reference"] = bool(g["reference"].iloc[0])
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------- runs


def study_runs(run_dir: str | os.PathLike, data_dir: str | os.PathLike | None = None, train_size: int | None = None,
               eval_size: int | None = None, epochs: int = 3, checkpoints_per_epoch: int = 2, batch_size: int = 32,
               learning_rate: float = 5e-5, max_length: int = 128, mnli_train_size: int | None = None,
               mnli_epochs: int = 2, mnli_checkpoints_per_epoch: int = 3, seeds: Sequence[int] = (0, 1, 2),
               probe_epochs: int = 10, probe_learning_rate: float = 1e-3, scratch_epochs: int = 10,
               scratch_learning_rate: float = 0.02, task: str = POOL_TASK, mnli_finetune: bool = True) -> dict[str, dict]:
    """The flat parameters of the NLI page's runs, by name (the page trains them with
    :func:`nlpdiff.dynamics.load_or_train`; register the SNLI pool first, :func:`register_snli_pool`).

    * ``snli_finetune``: fine-tuned MiniLM on the SNLI pool ``task`` (held out: its ``heldout``
      split), in ``run_dir`` itself;
    * ``snli_probe_s<seed>``, ``snli_scratch_s<seed>``: the cheap backbones on the same pairs, one per
      seed;
    * ``mnli_finetune`` (unless ``mnli_finetune=False``): fine-tuned MiniLM on ChaosNLI's MNLI pairs (no
      held-out MNLI offline: training accuracy only), and ``mnli_probe_s<seed>``, ``mnli_scratch_s<seed>``.

    Every run but the first goes to ``<run_dir>/../more/<name>/run``.
    """
    from pathlib import Path

    more = Path(run_dir).parent / "more"
    common = dict(data_dir=data_dir, batch_size=batch_size, max_length=max_length, data_seed=0)
    snli = dict(common, task=task, train_size=train_size, eval_size=eval_size)
    mnli = dict(common, task="chaosnli_mnli", train_split="validation", eval_split=None, train_size=mnli_train_size)
    # one checkpoint per epoch: 10 epochs already give 10 checkpoints (the committed page's runs)
    probe = dict(backbone="probe", epochs=probe_epochs, learning_rate=probe_learning_rate, checkpoints_per_epoch=1)
    scratch = dict(backbone="scratch", model="scratch", epochs=scratch_epochs, learning_rate=scratch_learning_rate,
                   checkpoints_per_epoch=1)
    runs = {
        "snli_finetune": dict(snli, backbone="finetune", epochs=epochs, learning_rate=learning_rate,
                              checkpoints_per_epoch=checkpoints_per_epoch, seed=0, output_dir=str(run_dir)),
        "mnli_finetune": dict(mnli, backbone="finetune", epochs=mnli_epochs, learning_rate=learning_rate,
                              checkpoints_per_epoch=mnli_checkpoints_per_epoch, seed=0,
                              output_dir=str(more / "mnli_finetune" / "run")),
    }
    if not mnli_finetune:
        del runs["mnli_finetune"]
    for prefix, base in (("snli", snli), ("mnli", mnli)):
        for name, backbone in (("probe", probe), ("scratch", scratch)):
            for seed in seeds:
                key = f"{prefix}_{name}_s{seed}"
                runs[key] = dict(base, **backbone, seed=int(seed), output_dir=str(more / key / "run"))
    return runs


def run_summary(runs: dict) -> pd.DataFrame:
    """One row per run (name -> loaded run): task, backbone, seed, sizes, checkpoints, final training
    accuracy (eval pass), held-out accuracy (when the run had held-out data) and wall time."""
    rows = []
    for name, run in runs.items():
        p, r, final = run.params, run.info["resolved"], run.metrics["final"]
        rows.append({
            "run": name, "task": p["task"], "backbone": p["backbone"], "seed": p["seed"], "n_train": r["n_train"],
            "n_heldout": r.get("n_heldout", 0), "epochs": p["epochs"], "checkpoints": r["n_checkpoints"],
            "train_accuracy": final.get("train_correct"), "heldout_accuracy": final.get("heldout_accuracy", np.nan),
            "wall_time_s": run.info["wall_time_s"]["total"],
        })
    return pd.DataFrame(rows)


def with_chaos_columns(samples: pd.DataFrame, data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Samples that carry only ChaosNLI's ``chaos_uid`` (the committed GPU runs of ``gpu/snli_chaos.py``)
    joined to ChaosNLI's SNLI pairs (premise, hypothesis and :data:`CHAOS_COLUMNS`), for
    :func:`chaosnli_signals`. Pairs outside ChaosNLI keep missing values."""
    from nlpdiff import tasks

    chaos = tasks.load_split("chaosnli_snli", "validation", data_dir=data_dir)
    chaos = chaos[["uid", "premise", "hypothesis", *CHAOS_COLUMNS]].rename(columns={"uid": "chaos_uid"})
    keep = [c for c in samples.columns if c not in chaos.columns or c == "chaos_uid"]
    return samples[keep].merge(chaos.drop_duplicates("chaos_uid"), on="chaos_uid", how="left")


def seed_comparison(tables: dict, score: str = "action", baseline: str = "mean_entropy",
                    metrics: Sequence[str] = ("spearman_entropy", "roc_auc")) -> pd.DataFrame:
    """``score`` against ``baseline`` over seeds: per metric, the paired t test over the same seeds
    (:func:`nlpdiff.stats.paired_seed_test`) of the per-seed :func:`chaosnli_table` values; Holm
    across the metrics (``p_holm``)."""
    from nlpdiff import stats

    rows = []
    for m in metrics:
        a = [float(t.set_index("score").at[score, m]) for t in tables.values()]
        b = [float(t.set_index("score").at[baseline, m]) for t in tables.values()]
        res = stats.paired_seed_test(a, b)
        rows.append({"score": score, "baseline": baseline, "metric": m, "mean_score": float(np.mean(a)),
                     "mean_baseline": float(np.mean(b)), **res})
    out = pd.DataFrame(rows)
    out["p_holm"] = stats.holm(out["p"].to_numpy(float))
    return out


def pooled_agreement(tables: dict, cells: dict, metric: str = "spearman_entropy", baselines=None,
                     margin: float | None = None, n_boot: int = 4000, seed: int = 0) -> pd.DataFrame:
    """The action score against each declared baseline on the human-disagreement question, pooled over runs.

    ``tables`` maps a run name to its :func:`chaosnli_table`; ``cells`` maps the same names to
    ``{"task": ..., "backbone": ..., "seed": ...}``. The paired differences action minus baseline (same run)
    are pooled over the cells (task x backbone) and their seeds by
    :func:`nlpdiff_study.comparisons.pooled_detection` (two-stage cluster bootstrap, Holm over the baselines,
    equivalence verdict); defaults: :data:`~nlpdiff_study.comparisons.NLI_BASELINES` at
    :data:`~nlpdiff_study.comparisons.MARGIN_RHO`, the declared question.
    """
    from nlpdiff_study import comparisons

    missing = sorted(set(tables) - set(cells))
    if missing:
        raise ParameterError("cells", missing, "a task, backbone and seed for every run of tables")
    long = pd.concat([tables[name][["score", metric]].assign(**{k: cells[name][k] for k in ("task", "backbone", "seed")})
                      for name in tables], ignore_index=True)
    return comparisons.pooled_detection(long, comparisons.NLI_BASELINES if baselines is None else baselines,
                                        comparisons.MARGIN_RHO if margin is None else margin, metric=metric,
                                        n_boot=n_boot, seed=seed)


def interval_chart(table: pd.DataFrame, metric: str, chance: float | None = None, title: str = ""):
    """An Altair chart of each score's ``metric`` with its ``<metric>_lo``/``_hi`` interval (one row
    per score, best first), with a vertical rule at ``chance`` when given."""
    import altair as alt

    df = table[["score", metric, f"{metric}_lo", f"{metric}_hi"]].copy()
    df.columns = ["score", "value", "low", "high"]
    order = df.sort_values("value", ascending=False)["score"].tolist()
    y = alt.Y("score:N", sort=order, title=None)
    base = alt.Chart(df)
    chart = base.mark_rule().encode(y=y, x=alt.X("low:Q", title=metric.replace("_", " ")), x2="high:Q") + \
        base.mark_point(filled=True).encode(y=y, x="value:Q", tooltip=["score", alt.Tooltip("value:Q", format=".3f"),
                                                                        alt.Tooltip("low:Q", format=".3f"),
                                                                        alt.Tooltip("high:Q", format=".3f")])
    if chance is not None:
        chart = chart + alt.Chart(pd.DataFrame({"chance": [chance]})).mark_rule(strokeDash=[4, 4], color="gray").encode(
            x="chance:Q")
    return chart.properties(title=title, width=380, height=max(120, 16 * len(df)))


def page_runs(run_dir: str | os.PathLike) -> dict:
    """The finished runs of one execution of the NLI page, by the names the page gives them: ``snli_finetune``
    in ``run_dir`` and every ``<run_dir>/../more/<name>/run`` (:func:`study_runs`)."""
    from pathlib import Path

    from nlpdiff import rundir

    run_dir = Path(run_dir)
    folders = {"snli_finetune": run_dir, **{f.parent.name: f for f in sorted((run_dir.parent / "more").glob("*/run"))}}
    try:
        return {name: rundir.load_run(f) for name, f in folders.items()}
    except rundir.RunDirError as exc:
        raise ParameterError("run_dir", str(run_dir), "the run folder of an executed NLI page", hint=str(exc)) from exc


def write_pooled(run_dir: str | os.PathLike, out_dir: str | os.PathLike = "results/nli") -> pd.DataFrame:
    """The declared NLI comparison (:func:`pooled_agreement`) of an executed NLI page's runs, as committed
    summary tables the answer reads: ``pooled.csv`` (one row per declared baseline), ``runs.csv`` (each run's
    Spearman correlation of every score with the ChaosNLI entropy) and ``part.json`` (each run's parameters,
    versions, hardware and times). Reads finished runs only; trains nothing."""
    import json
    import time
    from pathlib import Path

    runs = page_runs(run_dir)
    tables = {name: chaosnli_table(run.scores, chaosnli_signals(run.samples), n_boot=0) for name, run in runs.items()}
    cells = {name: {k: run.params[k] for k in ("task", "backbone", "seed")} for name, run in runs.items()}
    pooled = pooled_agreement(tables, cells)
    per_run = pd.concat([t[["score", "spearman_entropy"]].assign(run=name, **cells[name])
                         for name, t in tables.items()], ignore_index=True)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for file, table in (("pooled.csv", pooled), ("runs.csv", per_run)):
        tmp = out / f".{file}.tmp"
        table.to_csv(tmp, index=False)
        tmp.replace(out / file)  # never a half-written table
    meta = {"source": str(run_dir), "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "runs": {name: {k: run.info.get(k) for k in ("params", "versions", "hardware", "started_at", "finished_at",
                                                          "wall_time_s")} for name, run in runs.items()}}
    (out / "part.json").write_text(json.dumps(meta, indent=1, default=str))
    return pooled


def main(argv: list[str] | None = None) -> None:
    """``python -m nlpdiff_study.nli RUN_DIR [--out results/nli]``: write the committed summary of an executed
    NLI page (the cpu profile's: ``runs/cpu/nli/run``)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m nlpdiff_study.nli", description=main.__doc__.split(":")[0])
    ap.add_argument("run_dir", help="the NLI page's run_dir (the cpu profile's: runs/cpu/nli/run)")
    ap.add_argument("--out", default="results/nli")
    a = ap.parse_args(argv)
    pooled = write_pooled(a.run_dir, a.out)
    print(pooled.to_string(index=False))


if __name__ == "__main__":
    main()
