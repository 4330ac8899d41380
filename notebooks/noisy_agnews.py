# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Real annotator errors: does the action score find the labels people got wrong?

# %% tags=["parameters"]
runs_dir = "runs/cpu"  # given by the workflow to every analysis; unused (this page trains nothing)
profile = "cpu"
results_dir = "results/mislabel"  # committed parts (nlpdiff grid mislabel PART)
part_names = ["noisy_agnews_finetune", "noisy_agnews_probe", "noisy_agnews_scratch"]  # parts with real errors, if committed
cleaning_part = "cleaning_noisy_agnews_probe"  # remove the suspects, retrain, test on clean labels (if committed)

# %% tags=["remove-input"]
# the finding, read from the committed tables (the code: notebooks/noisy_agnews.py)
import json
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from nlpdiff import plots
from nlpdiff_study import comparisons, mislabel

plots.enable_offline()
from nlpdiff_study import pages  # noqa: E402

pages.use_for_dataframes()  # every table: no index, fixed decimals, missing values as a dash
pd.set_option("display.width", 200)
pd.set_option("display.max_columns", None)
pd.set_option("display.max_rows", None)
root = Path(results_dir)
found = [p for p in part_names if (root / p / "summary.csv").exists()]
summary = pd.concat([pd.read_csv(root / p / "summary.csv") for p in found], ignore_index=True)
cost = pd.concat([pd.read_csv(root / p / "cost.csv") for p in found], ignore_index=True)
audit_top = pd.concat([pd.read_csv(root / p / "audit_top.csv") for p in found if (root / p / "audit_top.csv").exists()],
                      ignore_index=True)
info = {p: json.loads((root / p / "part.json").read_text()) for p in found if (root / p / "part.json").exists()}
cells = mislabel.cells(summary, by=["part", "backbone", "noise_type"])
paired = pd.concat([mislabel.real_vs_synthetic(summary, m).assign(metric=m) for m in mislabel.METRICS],
                   ignore_index=True)
# the best difficulty score outside the action family, chosen on the real errors (an oracle choice)
not_baselines = set(comparisons.not_baselines())


def cell(backbone, noise, score, metric="roc_auc"):
    r = cells[(cells["backbone"] == backbone) & (cells["noise_type"] == noise) & (cells["score"] == score)]
    return None if r.empty else r.iloc[0]


def fmt(r, metric="roc_auc"):
    return f"{r[f'{metric}_mean']:.3f} [{r[f'{metric}_lo']:.3f}, {r[f'{metric}_hi']:.3f}]"


def best_baseline(backbone):
    c = cells[(cells["backbone"] == backbone) & (cells["noise_type"] == "real") & ~cells["score"].isin(not_baselines)]
    return c.sort_values("roc_auc_mean", ascending=False).iloc[0]["score"]


lines = []
for backbone in summary["backbone"].unique():
    a_real, a_u, a_e = (cell(backbone, n, "action") for n in ("real", "uniform", "empirical"))
    n_seeds = int(a_real["n_seeds"])
    n = int(summary.loc[summary["backbone"] == backbone, "n"].iloc[0])
    ks = summary.loc[(summary["backbone"] == backbone) & (summary["noise_type"] == "real"), "n_positive"].astype(int)
    k = f"{ks.iloc[0]:,}" if ks.nunique() == 1 else f"{ks.min():,} to {ks.max():,}"  # a sample per seed: its own k
    items = f"{n:,} items" if ks.nunique() == 1 else f"a sample of {n:,} items per seed"
    d = paired[(paired["backbone"] == backbone) & (paired["score"] == "action") & (paired["metric"] == "roc_auc")]
    base = best_baseline(backbone)
    b = cell(backbone, "real", base)
    pk = cell(backbone, "real", "action")
    diffs = "; ".join(f"real minus {x} {pages.format_number(r['diff'], signed=True)} [{pages.format_number(r['diff_lo'], signed=True)}, "
                      f"{pages.format_number(r['diff_hi'], signed=True)}] (paired over seeds, "
                      f"Holm p {pages.format_p(r['p_holm'])})" for x in ("uniform", "empirical")
                      for r in d[d["against"] == x].to_dict("records"))
    text = (f"**{backbone}** ({items}, {k} real errors, {n_seeds} seeds): the action score ranks the real "
            f"errors with ROC AUC {fmt(a_real)} against {fmt(a_u)} for uniform and {fmt(a_e)} for the "
            f"human-shaped (empirical) noise on the same texts; {diffs or 'no paired test (fewer than 2 seeds)'}. "
            f"Its precision at k = {k} on real errors is {fmt(pk, 'precision_at_k')} (chance "
            f"{pk['chance_precision_at_k']:.3f}); the best other difficulty score on real errors, `{base}`, reaches "
            f"ROC AUC {fmt(b)}")
    cl = cell(backbone, "real", "confident_learning")
    text += (f", confident learning (K = 5, same backbone, {int(cl['n_seeds'])} seeds) {fmt(cl)}." if cl is not None
             else "; confident learning was not computed for this backbone.")
    lines.append(text)
for backbone in audit_top["backbone"].unique() if len(audit_top) else []:
    a = audit_top[(audit_top["backbone"] == backbone) & (audit_top["noise_type"] == "real")]
    lines.append(f"An auditor reading the first rows of the {backbone} runs' audit tables (the table `nlpdiff score` "
                 "writes as `audit.csv`; means over seeds) finds " + ", ".join(
                     f"{g['precision'].mean():.0%} real errors among the top {top}" for top, g in a.groupby("top"))
                 + f", against {a['random_precision'].mean():.0%} among as many random rows.")
fit = summary[summary["score"] == "action"].groupby(["backbone", "noise_type"])["final_train_acc_corrupted"].mean()
lines.append("Fitted wrong labels: " + "; ".join(
    f"the {b} model ends up fitting {fit[(b, 'real')]:.0%} of the real wrong labels against {fit[(b, 'empirical')]:.0%} "
    f"of the human-shaped and {fit[(b, 'uniform')]:.0%} of the uniform synthetic ones" for b in summary["backbone"].unique())
    + " (training accuracy against the wrong label at the last checkpoint, means over seeds).")
worst = paired[(paired["metric"] == "roc_auc") & (paired["against"] == "empirical")].sort_values("diff")
lines.append("Scores that lose most from human-shaped synthetic noise to real errors (ROC AUC, real minus empirical): "
             + "; ".join(f"`{r.score}` ({r.backbone}) {pages.format_number(r.diff, signed=True)}" for r in worst.head(3).itertuples()) + ".")
lead = ("**Finding.** On the labels people got wrong, the action score's ROC AUC is "
        + "; ".join(f"{fmt(cell(b, 'real', 'action'))} with the {b} backbone, against "
                    f"{fmt(cell(b, 'empirical', 'action'))} on human-shaped synthetic noise of the same texts"
                    for b in summary["backbone"].unique())
        + " (mean [95 % interval] over seeds; chance 0.5). The chart shows every score; the details follow it.")
display(pages.finding(lead))

# %% tags=["remove-input"]
# the key figure: every score on real and synthetic errors (the code: notebooks/noisy_agnews.py)
shown = cells.assign(noise=cells["noise_type"].map({"real": "real (human)", "uniform": "synthetic, uniform",
                                                     "empirical": "synthetic, human confusion"}))
order = (shown[shown["noise_type"] == "real"].groupby("score")["roc_auc_mean"].mean()
         .sort_values(ascending=False).index.tolist())
noises = ["real (human)", "synthetic, human confusion", "synthetic, uniform"]
base = alt.Chart().encode(
    y=alt.Y("score:N", sort=order, title=None),
    color=alt.Color("noise:N", title="labels", sort=noises),
    yOffset=alt.YOffset("noise:N", sort=noises),
)
chart = alt.layer(
    base.mark_rule().encode(x=alt.X("roc_auc_lo:Q", title="ROC AUC (mean, 95 % interval over seeds)",
                                    scale=alt.Scale(zero=False)), x2="roc_auc_hi:Q"),
    base.mark_point(filled=True).encode(x="roc_auc_mean:Q", tooltip=["score", "noise", "roc_auc_mean", "n_seeds"]),
    alt.Chart().mark_rule(strokeDash=[4, 4], color="gray").encode(x="mean(chance_roc_auc):Q"),
    data=shown,
).properties(width=min(300, 640 // summary["backbone"].nunique() - 30), height=alt.Step(9)).facet(
    column=alt.Column("backbone:N", title=None, sort=list(summary["backbone"].unique())))
chart

# %% [markdown]
# *Mean ROC AUC and 95 % interval over seeds (Student t), per score; the dashed rule is chance (0.5).
# Colours: the human labels (`real`) and the two synthetic noises of the same texts at the same rate.*
#
# ## The finding in detail

# %% tags=["remove-input"]
display(pages.bullets(lines))

# %% [markdown]
# ## What this page measures
#
# *This page reads committed tables (`results/mislabel/noisy_agnews_*`, computed by
# `nlpdiff grid mislabel PART` from `params/grids/mislabel.yaml`); it trains nothing.*
#
# NoisyAG-News (task `noisy_agnews`) holds 10,000 AG-News items whose training label is the majority of
# three independent human annotators, wrong on 1,975 of them (19.75 %), with the original AG-News label
# beside it. Every other chapter measures detection on synthetic noise; here the wrong labels are the
# ones people actually gave. The same texts are also trained on their clean labels corrupted at the same
# rate, **uniformly** and **with the human errors' own confusion matrix** (class-conditional noise with
# the same class pairs, `noise_type: empirical`), at the same seeds, so that each score's loss on real
# errors is a paired difference.

# %% [markdown]
# ## The main scores, three metrics
#
# ROC AUC, average precision and precision at k (k = the number of wrong labels), mean [95 % interval]
# over seeds, with their chance levels. `best baseline` is the best difficulty score outside the action
# family on the real errors (chosen with the truth: an oracle choice that favours it).

# %% tags=["hide-input"]
rows = []
for backbone in summary["backbone"].unique():
    for score in ("action", "action_train", best_baseline(backbone), "confident_learning"):
        for noise in ("real", "empirical", "uniform"):
            r = cell(backbone, noise, score)
            if r is None:
                continue
            rows.append({"backbone": backbone, "score": score, "labels": noise, "seeds": int(r["n_seeds"]),
                         **{m: fmt(r, m) for m in mislabel.METRICS},
                         "chance AP / P@k": f"{r['chance_average_precision']:.3f}"})
pd.DataFrame(rows)

# %% [markdown]
# ## The audit table's first rows
#
# What a user of `nlpdiff score` reads: the share of wrong labels among the first 50, 100 and 200 rows of
# the run's audit table (ranked by the action score, hardest first), mean [95 % interval] over seeds,
# beside as many rows drawn at random from the same run and the chance level.

# %% tags=["hide-input"]
def interval(v):
    m, lo, hi = mislabel.stats.seed_interval(v.to_numpy(float))
    return f"{m:.3f} [{lo:.3f}, {hi:.3f}]"


(audit_top.groupby(["backbone", "noise_type", "top"])
 .agg(seeds=("seed", "nunique"), top_rows=("precision", interval), random_rows=("random_precision", interval),
      chance=("chance_precision", "mean"))
 .round(3))

# %% [markdown]
# ## How the model treats the wrong labels
#
# Training accuracy on the wrong labels (against the wrong label, eval pass at the last checkpoint:
# above 0.5 the model has fitted them) and accuracy on clean AG-News test items, means over seeds.
# A wrong label that looks right to the model is one it fits, and then no loss-based score can flag it.

# %% tags=["hide-input"]
(summary[summary["score"] == "action"]
 .groupby(["backbone", "noise_type"])[["final_train_acc_corrupted", "final_train_acc_clean", "heldout_accuracy"]]
 .mean().round(3)
 .rename(columns={"final_train_acc_corrupted": "train acc. on wrong labels",
                  "final_train_acc_clean": "train acc. on right labels", "heldout_accuracy": "clean test accuracy"}))

# %% [markdown]
# ## Paired: real errors minus synthetic noise of the same texts
#
# Per score, the ROC AUC on the real errors minus on each synthetic noise, paired over seeds, with the
# 95 % interval of the mean difference and the Holm-adjusted p value over the table. Negative: the
# score finds the errors people made less well than synthetic ones.

# %% tags=["hide-input"]
t = paired[paired["metric"] == "roc_auc"].copy()
def signed(v):
    return pages.format_number(v, signed=True)


t["difference"] = t.apply(lambda r: f"{signed(r['diff'])} [{signed(r['diff_lo'])}, {signed(r['diff_hi'])}]", axis=1)
t.pivot_table(index=["backbone", "score"], columns="against", values="difference", aggfunc="first")

# %% [markdown]
# ## AUM with threshold samples: a cut-off instead of a ranking
#
# Pleiss et al. (2020) turn the area under the margin into a decision: a second run gives a random
# `n / (c + 1)` of the training items a fake fifth class; these *threshold samples* are wrong by construction,
# and every other item whose AUM falls below the 99th percentile of theirs is flagged
# (`nlpdiff.detection.aum_threshold`; one more training run per labelling and seed). Per backbone and
# labelling, over seeds: how many items the cut-off flags, the precision of the flags (chance: the share of
# wrong labels) and their recall, and, at the same list length k = the number flagged, the precision of
# the action score's top k (paired over seeds, action minus the flags, Holm over the table).

# %% tags=["hide-input"]
thr = [pd.read_csv(root / p / "aum_threshold.csv") for p in found if (root / p / "aum_threshold.csv").exists()]
if thr:
    tc = mislabel.threshold_cells(pd.concat(thr, ignore_index=True))
    display(tc[["backbone", "noise_type", "n_seeds", "n_judged_mean", "n_flagged_mean", "precision_mean", "precision_lo",
                "precision_hi", "recall_mean", "chance_precision", "action_precision_at_k_mean", "action_minus_flags",
                "p_holm"]].round(3))
    display(pages.bullets([
        f"{r.backbone}, real errors ({r.n_seeds} seeds): the cut-off flags {r.n_flagged_mean:,.0f} of "
        f"{r.n_judged_mean:,.0f} judged items ({r.n_flagged_mean / r.n_judged_mean:.0%}); "
        f"{r.precision_mean:.3f} [{r.precision_lo:.3f}, {r.precision_hi:.3f}] of them are real errors (chance "
        f"{r.chance_precision:.3f}) and they hold {r.recall_mean:.0%} of the real errors; the action score's "
        f"first {r.n_flagged_mean:,.0f} items reach precision {r.action_precision_at_k_mean:.3f} (difference "
        f"{pages.format_number(r.action_minus_flags, signed=True)}, Holm p {pages.format_p(r.p_holm)})."
        for r in tc[tc["noise_type"] == "real"].itertuples()]))
else:
    display(Markdown("*No threshold-sample runs are committed for these parts (`aum_threshold` in "
                     "`params/grids/mislabel.yaml`).*"))

# %% [markdown]
# ## Cost
#
# Training runs and wall seconds per method (from each run's `run.json`), on the machine named below.
# Every dynamics score comes from one training run; confident learning needs K = 5.

# %% tags=["hide-input"]
c = cost.groupby(["part", "method"]).agg(runs=("run", "count"), training_runs_each=("training_runs", "mean"),
                                         wall_s_each=("wall_s", "mean"), wall_s_total=("wall_s", "sum"),
                                         cpu_count=("cpu_count", "first"), torch_threads=("torch_threads", "first"))
display(c.round(1))
display(Markdown(" ".join(f"Part `{p}`: {cost.loc[cost['part'] == p, 'wall_s'].sum() / 60:.1f} minutes of training "
                          f"in all (the sum over its `cost.csv`), tables written {v['finished_at']}." for p, v in info.items())
                 + " Not in these sums: the probe's frozen-encoder features of the texts, computed once and cached "
                   "(see `results/mislabel/README.md`)."))

# %% [markdown]
# ## Cleaning: remove the suspects, retrain, test on clean labels
#
# The probe trained on the human labels of all items; then the top 2, 5, 10 and 20 % of the items by the
# action score, by confident learning (K = 5, same recipe), by each primary baseline declared in Methods,
# by the best other difficulty score (chosen per seed with the truth: an oracle that favours it,
# exploratory) or at random are removed and the same recipe is retrained on the rest. **Relabel** keeps every item
# and gives the action score's top items the class the trained model predicts for them instead
# (`nlpdiff.detection.train_relabelled`). Accuracy is measured on clean AG-News test items; "clean labels"
# trains on the true labels of the same items (the ceiling), "no removal" on the human labels as given.

# %% tags=["hide-input"]
clean_path = root / cleaning_part / "cleaning.csv"
if clean_path.exists():
    cleaning = pd.read_csv(clean_path)
    cc = mislabel.cleaning_cells(cleaning)
    ref = cc.set_index("method")
    top = cc[(cc["method"] == "action")].sort_values("fraction").iloc[-1]
    rnd = cc[(cc["method"] == "random") & (cc["fraction"] == top["fraction"])].iloc[0]
    gap = ref.loc["clean labels", "heldout_accuracy_mean"] - ref.loc["no removal", "heldout_accuracy_mean"]
    display(Markdown(
        f"Removing the top {top['fraction']:.0%} by the action score ({top['corrupted_removed_mean']:,.0f} real errors "
        f"among the {top['n_removed_mean']:,.0f} removed items, means over {int(top['n_seeds'])} seeds) gives clean-test "
        f"accuracy {top['heldout_accuracy_mean']:.3f} [{top['heldout_accuracy_lo']:.3f}, {top['heldout_accuracy_hi']:.3f}], "
        f"against {ref.loc['no removal', 'heldout_accuracy_mean']:.3f} with no removal, {rnd['heldout_accuracy_mean']:.3f} "
        f"after removing as many at random and {ref.loc['clean labels', 'heldout_accuracy_mean']:.3f} with the true "
        f"labels: it recovers {(top['heldout_accuracy_mean'] - ref.loc['no removal', 'heldout_accuracy_mean']) / gap:.0%} "
        f"of the gap that the wrong labels cost."))
    lines_ = cc[~cc["method"].isin(["clean labels", "no removal"])]
    refs = cc[cc["method"].isin(["clean labels", "no removal"])]
    band = alt.Chart(lines_).mark_errorbar().encode(x=alt.X("fraction:Q", title="fraction removed", axis=alt.Axis(format="%")),
                                                    y=alt.Y("heldout_accuracy_lo:Q", title="clean-test accuracy",
                                                            scale=alt.Scale(zero=False)),
                                                    y2="heldout_accuracy_hi:Q", color=alt.Color("method:N", title=None))
    line = alt.Chart(lines_).mark_line(point=True).encode(x="fraction:Q", y="heldout_accuracy_mean:Q", color="method:N")
    rules = alt.Chart(refs).mark_rule(strokeDash=[4, 3]).encode(y="heldout_accuracy_mean:Q", color="method:N")
    display(alt.layer(band, line, rules).properties(width=420, height=240))
    display(cc)
    rel = cleaning[cleaning["method"] == "relabel"]
    if len(rel):
        rr = rel.groupby("fraction")[["labels_changed", "labels_fixed", "labels_broken", "corrupted_removed"]].mean()
        display(Markdown("Relabelling, means over seeds: " + "; ".join(
            f"of the top {f:.0%} ({int(round(f * cleaning['n_train'].iloc[0])):,} items, {r.corrupted_removed:,.0f} of them "
            f"wrong), the model's prediction changes {r.labels_changed:,.0f} labels, {r.labels_fixed:,.0f} to the true one "
            f"and {r.labels_broken:,.0f} from a right label to a wrong one" for f, r in rr.iterrows()) + "."))
    others = [m for m in dict.fromkeys(cleaning["method"]) if m not in ("action", "no removal", "clean labels")]
    ct = mislabel.cleaning_tests(cleaning, against=others)
    best = cc[~cc["method"].isin(["clean labels", "no removal"])].sort_values("heldout_accuracy_mean").groupby("fraction").tail(1)
    display(Markdown(
        "Best mean clean-test accuracy per fraction: " + "; ".join(
            f"top {r.fraction:.0%}: `{r.method}` {r.heldout_accuracy_mean:.3f} [{r.heldout_accuracy_lo:.3f}, "
            f"{r.heldout_accuracy_hi:.3f}]" for r in best.sort_values("fraction").itertuples())
        + f". Of the {len(ct)} paired comparisons of the action score with another method below, "
        f"{int(((ct['p_holm'] < 0.05) & (ct['diff'] > 0)).sum())} favour the action score and "
        f"{int(((ct['p_holm'] < 0.05) & (ct['diff'] < 0)).sum())} the other method after Holm's adjustment "
        f"({int(ct['n_seeds'].max())} seeds each: a small design; read the intervals)."))
    display(Markdown("Paired over seeds: accuracy after removing by the action score minus after removing by each "
                     "other method or after relabelling the same items (Holm-adjusted over the table):"))
    display(ct)
else:
    display(Markdown(f"*The cleaning part is not committed yet (`nlpdiff grid mislabel {cleaning_part}`).*"))

# %% [markdown]
# ## What this does not show yet
#
# The truth here is the original AG-News label, which is itself not free of errors: a "real error" is a
# disagreement of the human majority with it. Read with the part definitions in
# `params/grids/mislabel.yaml`: every run reads the texts at `max_length` 64 (the texts average 39 words) and
# reports held-out accuracy on clean test items; confident learning ran on the seeds listed there. The
# fine-tuned runs train on a sample of the items per seed (the whole set would take hours per run on the
# CPU). Not computed (CPU budget): fine-tuned models on all the items, and confident learning and the
# threshold-sample runs with the fine-tuned model (K more trainings per run); cleaning and relabelling use
# the probe only. Relabelling takes the trained model's prediction on its own training items, which have
# shaped it (not out-of-sample predictions).
# The model-size page compares MiniLM with MPNet-base on a smaller sample of them. The audit table's rows above are those of the study's own runs; `benchmarks/score_real_errors.py`
# runs `nlpdiff score` on a CSV file of the items, as a user would, and reads its audit table against the truth.
