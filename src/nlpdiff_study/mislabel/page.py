"""What the mislabel chapter draws and says: interval and pooled charts, the opening and the sentence on
corrupted targets, from the tables of :mod:`.tables`."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from nlpdiff_study import comparisons
from nlpdiff_study.mislabel.tables import CELL, cells, cleaning_cells, cost_table

#: What corrupting a target means, per task kind of the non-classification parts.
TARGET_NOISE = {"squad": "answers moved to another span of the same context",
                "samsum": "reference summaries swapped between dialogues"}


def targets_sentence(tests: pd.DataFrame, cells_df: pd.DataFrame, alpha: float = 0.05) -> str:
    """One sentence on the parts whose targets are not classes: per part, the action score's ROC AUC
    (mean and 95 % interval over seeds), the best other score's, and the Holm-adjusted paired test."""
    act = tests[tests["score"] == "action"] if len(tests) else tests
    if not len(act):
        return ""
    key = [k for k in CELL if k in act.columns and k in cells_df.columns]  # one cell: part, task, rate, ...
    c = cells_df[cells_df["score"] == "action"].set_index(key)
    bits = []
    for r in act.itertuples():
        row = c.loc[tuple(getattr(r, k) for k in key)]
        verdict = ("not significantly different" if not r.p_holm < alpha else
                   "significantly better" if r.diff > 0 else "significantly worse")
        what = TARGET_NOISE.get(r.task, "targets corrupted")
        bits.append(f"{r.task} ({r.noise_rate:.0%} {what}; {r.backbone}, {int(row['n_seeds'])} seed{'s' if int(row['n_seeds']) != 1 else ''}): action "
                    f"{row['roc_auc_mean']:.3f} [{row['roc_auc_lo']:.3f}, {row['roc_auc_hi']:.3f}] against "
                    f"{r.roc_auc_baseline:.3f} for `{r.baseline}`, {verdict} (Holm p {r.p_holm:.2g})")
    return ("Where the target is not a class label, corrupted targets are ranked first with ROC AUC: "
            + "; ".join(bits) + " (chance 0.5).")


def interval_chart(cells_df: pd.DataFrame, scores: Iterable[str], metric: str = "roc_auc", facet: str = "cell",
                   highlight: str = "action", columns: int = 2, title: str | None = None):
    """Mean and 95 % interval over seeds of ``metric`` per score (rows), one panel per ``facet`` value
    (``columns`` panels per row: two fit the book's column), with the chance level as a tick (Altair;
    render with :func:`nlpdiff.plots.enable_offline`). The metrics are on [0, 1] (ROC AUC, average
    precision, precision at k): an interval reaching past them (a t-interval over 3 seeds) is drawn cut."""
    import altair as alt

    scores = list(scores)
    d = cells_df[cells_df["score"].isin(scores)][[facet, "score", f"{metric}_mean", f"{metric}_lo", f"{metric}_hi",
                                                   f"chance_{metric}"]].copy()
    d.columns = [facet, "score", "mean", "lo", "hi", "chance"]
    d["lo"], d["hi"] = d["lo"].fillna(d["mean"]).clip(0, 1), d["hi"].fillna(d["mean"]).clip(0, 1)
    name = metric.replace("_", " ")
    base = alt.Chart().encode(y=alt.Y("score:N", sort=scores, title=None))
    rules = base.mark_rule().encode(x=alt.X("lo:Q", title=f"{name} (mean, 95% interval over seeds)",
                                            scale=alt.Scale(zero=False)), x2="hi:Q")
    points = base.mark_point(filled=True, size=45).encode(
        x="mean:Q", color=alt.condition(alt.datum.score == highlight, alt.value("#D55E00"), alt.value("#0072B2")),
        tooltip=[facet, "score", alt.Tooltip("mean:Q", format=".3f"), alt.Tooltip("lo:Q", format=".3f"),
                 alt.Tooltip("hi:Q", format=".3f"), alt.Tooltip("chance:Q", format=".3f")])
    chance = base.mark_tick(color="#888", thickness=2, size=14).encode(x="chance:Q")
    chart = alt.layer(rules, points, chance, data=d).properties(width=240, height=16 * len(scores)).facet(
        facet=alt.Facet(f"{facet}:N", title=None), columns=columns)
    return chart.properties(title=title) if title else chart


def pooled_chart(pooled: pd.DataFrame, width: int = 560):
    """The pre-declared comparisons as one small chart: per baseline, the action score's ROC AUC minus the
    baseline's, pooled over the grid (:func:`nlpdiff_study.comparisons.pooled_detection`), with its 95 %
    interval; the grey band is the equivalence margin, the rule at 0 no difference (Altair)."""
    import altair as alt

    d = pooled[["baseline", "estimate", "low", "high", "verdict", "n_cells"]].copy()
    margin = float(pooled["margin"].iloc[0])
    order = list(d.sort_values("estimate", ascending=False)["baseline"])
    y = alt.Y("baseline:N", sort=order, title=None)
    x_title = "action minus baseline, ROC AUC (pooled, 95 % interval)"
    band = alt.Chart(pd.DataFrame({"lo": [-margin], "hi": [margin]})).mark_rect(color="#ddd").encode(
        x=alt.X("lo:Q", title=x_title), x2="hi:Q")
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="#888").encode(x="x:Q")
    rules = alt.Chart(d).mark_rule(strokeWidth=2).encode(y=y, x="low:Q", x2="high:Q")
    points = alt.Chart(d).mark_point(filled=True, size=70, color="#D55E00").encode(
        y=y, x="estimate:Q", tooltip=["baseline", "verdict", "n_cells", alt.Tooltip("estimate:Q", format="+.3f"),
                                      alt.Tooltip("low:Q", format="+.3f"), alt.Tooltip("high:Q", format="+.3f")])
    return alt.layer(band, zero, rules, points).properties(width=width, height=alt.Step(26))


def _range(v: Iterable[float], f: str = "{:.3f}") -> str:
    v = [x for x in v if np.isfinite(x)]
    lo, hi = min(v), max(v)
    return f.format(lo) if f.format(lo) == f.format(hi) else f"{f.format(lo)} to {f.format(hi)}"


def _pooled_lead(pooled: pd.DataFrame) -> str:
    items = comparisons.pooled_phrases(pooled)
    return (f"**Against the baselines declared in Methods, pooled over the {int(pooled['n_cells'].max())} "
            f"cells of the grid and their seeds, the action score's ROC AUC is " + "; ".join(items)
            + f".** (Two-stage cluster bootstrap; Holm over the {len(pooled)} baselines; equivalence margin "
            f"{pooled['margin'].iloc[0]:g} ROC AUC.)")


def _cells_sentence(act: pd.DataFrame, alpha: float) -> str:
    """The exploratory cell-by-cell comparison with the best other score of each cell."""
    sig = act["p_holm"] < alpha
    better, worse = int((sig & (act["diff"] > 0)).sum()), int((sig & (act["diff"] < 0)).sum())
    raw_better = int(((act["p_seeds"] < alpha) & (act["diff"] > 0)).sum())
    raw_worse = int(((act["p_seeds"] < alpha) & (act["diff"] < 0)).sum())
    ft = act["part"].str.startswith("gpu_")
    within = int((act["diff"].abs() <= 0.01).sum())
    n_seeds = act["n_seeds"].astype(int) if "n_seeds" in act else pd.Series([3])
    seeds = f"{n_seeds.min()}" if n_seeds.min() == n_seeds.max() else f"{n_seeds.min()} to {n_seeds.max()}"
    verdict = ("not shown to differ, cell by cell, from" if better == 0 and worse == 0 else
               "better than" if worse == 0 else "worse than" if better == 0 else "sometimes better, sometimes worse than")
    return (f"*Exploratory:* as a ranking of suspect labels from one training run, the action score is {verdict} "
            f"the best other score of the same run, chosen after the fact on the same seeds (which favours the "
            f"baseline). Over the {len(act)} cells of the grid ({int((~ft).sum())} with the cheap "
            f"backbones, {int(ft.sum())} fine-tuned; a cell is a task, backbone, training length, noise rate and "
            f"type, {seeds} seeds each) its ROC AUC minus that of the cell's best baseline is "
            f"{_range(act['diff'], '{:+.3f}')} (mean over seeds; within 0.01 in {within} cells); after Holm's adjustment "
            f"it is significantly better in {better} and worse in {worse} of them (before adjustment: {raw_better} and "
            f"{raw_worse}; a paired t test over so few seeds has little power, which is why the pooled comparison "
            f"above is the answer).")


def _memorisation_sentence(cells_df: pd.DataFrame) -> str | None:
    """Action minus the last loss, in the cells where the model memorises the corrupted labels and where not."""
    key = ["part", "length", "noise_rate", "noise_type"]
    fin = cells_df.pivot_table(index=key, columns="score", values="roc_auc_mean")
    mem = cells_df[cells_df["score"] == "action"].set_index(key).get(
        "final_train_acc_corrupted_mean", pd.Series(dtype=float))
    if not ({"action", "final_loss"} <= set(fin.columns) and mem.notna().any()):
        return None
    gain = (fin["action"] - fin["final_loss"]).dropna()
    m = mem.reindex(gain.index)
    hi, lo = gain[m > 0.5], gain[m <= 0.5]
    if not (len(hi) and len(lo)):
        return None
    bb = cells_df[cells_df["score"] == "action"].set_index(key)["backbone"].reindex(hi.index)
    per = "; ".join(f"{b} {hi[bb == b].median():+.3f} ({int((bb == b).sum())} cells)"
                    for b in sorted(bb.dropna().unique()))
    return (f"Against the loss at the last checkpoint: in the {len(hi)} cells where the model memorises "
            f"the corrupted labels (training accuracy on them above 0.5 at the end) the action's ROC AUC "
            f"minus the last loss's has median {hi.median():+.3f} (range {_range(hi, '{:+.3f}')}; median by "
            f"backbone: {per}), in the {len(lo)} where it does not, median {lo.median():+.3f} (range "
            f"{_range(lo, '{:+.3f}')}).")


def _confident_learning_sentence(cost: pd.DataFrame, cells_df: pd.DataFrame) -> str | None:
    ct = cost_table(cost)
    clr = ct[ct["method"].str.startswith("confident")]
    key = ["part", "length", "noise_rate", "noise_type"]
    both = cells_df[cells_df["score"].isin(["action", "confident_learning"])].pivot_table(
        index=key, columns="score", values="roc_auc_mean").dropna()
    if not (len(clr) and len(both)):
        return None
    d = both["action"] - both["confident_learning"]
    return (f"Confident learning (K = 5 folds, same backbone) costs {_range(clr['x_one_run'], '{:.1f}')} "
            f"times one run here; action minus confident learning, ROC AUC {_range(d, '{:+.3f}')} in the "
            f"{len(d)} cells where both were computed.")


def _bench_sentence(b: pd.Series) -> str:
    return (f"At equal cost ({int(b['k'])} seeds of the action, averaged, against {int(b['k'])}-fold confident "
            f"learning; {b['task']}, {b['backbone']}, {b['noise_rate']:.0%} {b['noise_type']} noise; confident "
            f"learning took {b['cost_ratio_wall']:.2f} times the wall time of the {int(b['k'])} runs): ROC AUC "
            f"{b['roc_auc_action_averaged']:.3f} against {b['roc_auc_confident_learning']:.3f} (DeLong p "
            f"{b['delong_p']:.2g}; one action run alone {b['roc_auc_action_one_run']:.3f}).")


def _published_sentence(published: dict) -> str:
    return (f"On real errors, the published baseline's headline is circular: the {published['n_candidates']:,} "
            f"IMDB reviews the crowd checked are the {published['n_candidates']:,} that the published confident "
            f"learning ranks highest (share {published['top_is_candidates']:.3f}), so its ROC AUC of "
            f"{published['roc_auc_all']:.3f} on all {published['n_test']:,} reviews holds by construction; "
            f"among the candidates it is {published['roc_auc_candidates']:.3f}.")


def _imdb_sentence(imdb: pd.DataFrame) -> str | None:
    ic = cells(imdb, by=["subset"]).set_index(["subset", "score"])
    if not (("candidates", "action") in ic.index and ("candidates", "published_confident_learning") in ic.index):
        return None

    def f(score, subset="candidates"):
        r = ic.loc[(subset, score)]
        return f"{r['roc_auc_mean']:.3f} [{r['roc_auc_lo']:.3f}, {r['roc_auc_hi']:.3f}]"
    n = int(ic.loc[("candidates", "action"), "n_seeds"])
    n_c = int(imdb.loc[imdb["subset"] == "candidates", "n"].iloc[0])
    return (f"Among the {n_c:,} candidates, this study's cheapest runs (scratch on all IMDB test reviews, {n} "
            f"seed{'s' if n > 1 else ''}) rank the confirmed errors with ROC AUC {f('action')} (action), "
            f"{f('action_train')} (training-pass action) and {f('final_loss')} (last loss), against "
            f"{f('published_confident_learning')} for the published probabilities (chance 0.5).")


def _cleaning_sentence(cleaning: pd.DataFrame) -> str:
    cc = cleaning_cells(cleaning).set_index(["method", "fraction"])
    clean, noisy = cc.loc[("clean labels", 0.0)], cc.loc[("no removal", 0.0)]
    parts = []
    for method in ("action", "best_baseline", "random"):
        if method in cc.index.get_level_values(0):
            parts.append(f"{method.replace('_', ' ')} {_range(cc.loc[method]['heldout_accuracy_mean'])}")
    return (f"Cleaning under 20 % noise (removing the top 1 to 20 % and retraining): held-out accuracy "
            f"{'; '.join(parts)}, against {noisy['heldout_accuracy_mean']:.3f} with no removal and "
            f"{clean['heldout_accuracy_mean']:.3f} with clean labels (means over seeds).")


def opening(tests: pd.DataFrame, cells_df: pd.DataFrame, cost: pd.DataFrame | None = None,
            published: dict | None = None, cleaning: pd.DataFrame | None = None, imdb: pd.DataFrame | None = None,
            bench: pd.DataFrame | None = None, alpha: float = 0.05, target_tests: pd.DataFrame | None = None,
            target_cells: pd.DataFrame | None = None, pooled: pd.DataFrame | None = None,
            split: bool = False) -> str | tuple[str, str]:
    """The chapter's answer, every number read from the tables given (markdown); the parts whose
    targets are not classes (``target_tests`` / ``target_cells``) add one sentence. With ``pooled``
    (:func:`nlpdiff_study.comparisons.pooled_detection`), it opens with the pre-declared comparisons.
    ``split=True`` returns ``(lead, bullets)`` instead: the page shows its key figure between them (the
    lead is empty without ``pooled``)."""
    act = tests[tests["score"] == "action"]
    if act.empty:
        return "*No grid part to summarise yet.*"
    lead = _pooled_lead(pooled) if pooled is not None and len(pooled) else None
    rest = [_cells_sentence(act, alpha), _memorisation_sentence(cells_df)]
    if cost is not None and len(cost) and "confident_learning" in set(cells_df["score"]):
        rest.append(_confident_learning_sentence(cost, cells_df))
    if bench is not None and len(bench):
        rest.append(_bench_sentence(bench.iloc[0]))
    if published:
        rest.append(_published_sentence(published))
    if imdb is not None and len(imdb):
        rest.append(_imdb_sentence(imdb))
    if cleaning is not None and len(cleaning):
        rest.append(_cleaning_sentence(cleaning))
    if target_tests is not None and target_cells is not None and len(target_tests):
        rest.append(targets_sentence(target_tests, target_cells, alpha))
    # the pooled comparison is the lead; every other finding is one bullet (not one paragraph of numbers)
    rest = [x for x in rest if x]
    if split:
        return lead or "", "\n".join(f"- {x}" for x in rest)
    return ((lead + "\n\n") if lead else "") + "\n".join(f"- {x}" for x in rest)


# -- reading the top suspects by eye ----------------------------------------------------------------
