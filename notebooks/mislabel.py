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
# # Is the action score an effective auditing tool?

# %% tags=["parameters"]
runs_dir = "runs/cpu"  # the profile's run folders; the slice is trained under <runs_dir>/mislabel
profile = "cpu"
results_dir = "results/mislabel"  # committed parts (nlpdiff grid mislabel PART)
gpu_dir = "results/gpu"  # committed fine-tuned grid (gpu/summarize.py)
config = "params/grids/mislabel.yaml"
slice_parts = ["slice_sst2"]  # parts of the config computed by this execution ([] for none)
data_dir = None  # IMDB and its label errors (default: $NLPDIFF_DATA_DIR)
readings_dir = "results/readings"  # committed blind readings of top suspects (python -m nlpdiff_study.mislabel NAME --reading-from RUN)

# %% tags=["remove-input"]
# read the committed parts, compute this build's slice (the code: notebooks/mislabel.py)
import os
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from nlpdiff import plots
from nlpdiff_study import comparisons, grid, mislabel

plots.enable_offline()
from nlpdiff_study import pages  # noqa: E402

pages.use_for_dataframes()  # every table: no index, fixed decimals, missing values as a dash
pd.set_option("display.width", 200)
pd.set_option("display.max_columns", None)  # no table is shown truncated
pd.set_option("display.max_rows", None)
# the slice: computed now, written beside the profile's runs (not into the committed results)
import contextlib
import io

for name in slice_parts:
    with contextlib.redirect_stdout(io.StringIO()):  # per-run progress lines stay off the page
        grid.run_part("mislabel", name, config, runs_dir=Path(runs_dir) / "mislabel",
                      results_dir=Path(runs_dir) / "mislabel" / "results")
parts = mislabel.load_results(results_dir)
parts.update({f"{k} (this build)": v for k, v in mislabel.load_results(Path(runs_dir) / "mislabel" / "results").items()
              if k in slice_parts})
grids = {k: v for k, v in parts.items() if "summary" in v and "subset" not in v["summary"]}
# the label-noise grid (class labels) and the parts whose targets are not classes (moved answers, swapped summaries)
summary, targets = mislabel.grid_summaries(grids)
summary = summary if len(summary) else None
gpu = mislabel.gpu_summary(gpu_dir)
everything = pd.concat([x for x in (summary, gpu) if x is not None and len(x)], ignore_index=True)
tests = mislabel.paired_tests(everything)
verd = mislabel.verdicts(tests)
cells = mislabel.cells(everything)
cells["cell"] = mislabel.cell_label(cells)
# the cost of the grid's parts (the real-error parts have their own page and cost table)
cost = pd.concat([v["cost"].assign(part=k) for k, v in grids.items()
                  if "cost" in v and not mislabel.is_real_error_part(v)], ignore_index=True) if grids \
    else pd.DataFrame()
# the synthetic-noise cleaning part (real errors have their own page: noisy_agnews)
cleaning = next((v["cleaning"] for k, v in parts.items()
                 if "cleaning" in v and not mislabel.is_real_error_part(v)), None)
imdb = next((v["summary"] for k, v in parts.items() if "summary" in v and "subset" in v["summary"]), None)
data_dir = data_dir or os.environ.get("NLPDIFF_DATA_DIR")

# %% tags=["remove-input"]
# the answer, read from the tables (the code: notebooks/mislabel.py)
published = mislabel.published_check(data_dir) if data_dir and Path(data_dir, "imdb_label_errors").exists() else None
# the answer reads the committed parts only (not this build's slice), unless there are none (a bare folder)
def keep(df):
    built = df["part"].str.endswith("(this build)") if len(df) else pd.Series(dtype=bool)
    return df[~built] if len(df) and (~built).any() else df


bench = parts.get("benchmark_detection", {}).get("benchmark")
target_tests = mislabel.paired_tests(targets) if len(targets) else pd.DataFrame()
target_cells = mislabel.cells(targets) if len(targets) else pd.DataFrame()
pooled = comparisons.pooled_detection(keep(everything))  # the pre-declared baselines (Methods), pooled
found = mislabel.findings(keep(tests), keep(cells), keep(cost), published, cleaning, imdb, bench,
                          target_tests=target_tests, target_cells=target_cells, pooled=pooled)


# the page's sentences around the numbers of each finding (mislabel.findings reads them from the tables)
def rng(lo_hi, f="{:.3f}"):
    lo, hi = (f.format(x) for x in lo_hi)
    return lo if lo == hi else f"{lo} to {hi}"


def pooled_lead(p):
    return (f"**Against the baselines declared in Methods, pooled over the {int(p['n_cells'].max())} cells of the "
            f"grid and their seeds, the action score's ROC AUC is " + "; ".join(comparisons.pooled_phrases(p))
            + f".** (Two-stage cluster bootstrap; Holm over the {len(p)} baselines; equivalence margin "
            f"{p['margin'].iloc[0]:g} ROC AUC.)")


def cells_sentence(c):
    verdict = ("not shown to differ, cell by cell, from" if c["better"] == 0 and c["worse"] == 0 else
               "better than" if c["worse"] == 0 else "worse than" if c["better"] == 0 else
               "sometimes better, sometimes worse than")
    lo, hi = c["seeds"]
    return (f"*Exploratory:* as a ranking of suspect labels from one training run, the action score is {verdict} "
            f"the best other score of the same run, chosen after the fact on the same seeds (which favours the "
            f"baseline). Over the {c['n']} cells of the grid ({c['n_cheap']} with the cheap backbones, "
            f"{c['n_finetuned']} fine-tuned; a cell is a task, backbone, training length, noise rate and type, "
            f"{lo if lo == hi else f'{lo} to {hi}'} seeds each) its ROC AUC minus that of the cell's best baseline is "
            f"{rng(c['diff'], '{:+.3f}')} (mean over seeds; within 0.01 in {c['within_001']} cells); after Holm's "
            f"adjustment it is significantly better in {c['better']} and worse in {c['worse']} of them (before "
            f"adjustment: {c['raw_better']} and {c['raw_worse']}; a paired t test over so few seeds has little "
            f"power, which is why the pooled comparison above is the answer).")


def memorisation_sentence(m):
    hi, lo = m["memorising"], m["not_memorising"]
    per = "; ".join(f"{b} {med:+.3f} ({n} cells)" for b, med, n in m["by_backbone"])
    return (f"Against the loss at the last checkpoint: in the {hi['n']} cells where the model memorises "
            f"the corrupted labels (training accuracy on them above 0.5 at the end) the action's ROC AUC "
            f"minus the last loss's has median {hi['median']:+.3f} (range {rng(hi['range'], '{:+.3f}')}; median by "
            f"backbone: {per}), in the {lo['n']} where it does not, median {lo['median']:+.3f} (range "
            f"{rng(lo['range'], '{:+.3f}')}).")


def confident_learning_sentence(c):
    return (f"Confident learning (K = 5 folds, same backbone) costs {rng(c['x_one_run'], '{:.1f}')} "
            f"times one run here; action minus confident learning, ROC AUC {rng(c['diff'], '{:+.3f}')} in the "
            f"{c['n']} cells where both were computed.")


def bench_sentence(b):
    return (f"At equal cost ({int(b['k'])} seeds of the action, averaged, against {int(b['k'])}-fold confident "
            f"learning; {b['task']}, {b['backbone']}, {b['noise_rate']:.0%} {b['noise_type']} noise; confident "
            f"learning took {b['cost_ratio_wall']:.2f} times the wall time of the {int(b['k'])} runs): ROC AUC "
            f"{b['roc_auc_action_averaged']:.3f} against {b['roc_auc_confident_learning']:.3f} (DeLong p "
            f"{b['delong_p']:.2g}; one action run alone {b['roc_auc_action_one_run']:.3f}).")


def published_sentence(p):
    return (f"On real errors, the published baseline's headline is circular: the {p['n_candidates']:,} "
            f"IMDB reviews the crowd checked are the {p['n_candidates']:,} that the published confident "
            f"learning ranks highest (share {p['top_is_candidates']:.3f}), so its ROC AUC of "
            f"{p['roc_auc_all']:.3f} on all {p['n_test']:,} reviews holds by construction; "
            f"among the candidates it is {p['roc_auc_candidates']:.3f}.")


def imdb_sentence(i):
    f = lambda s: "{:.3f} [{:.3f}, {:.3f}]".format(*i["roc_auc"][s])  # noqa: E731
    n = i["n_seeds"]
    return (f"Among the {i['n_candidates']:,} candidates, this study's cheapest runs (scratch on all IMDB test "
            f"reviews, {n} seed{'s' if n > 1 else ''}) rank the confirmed errors with ROC AUC {f('action')} (action), "
            f"{f('action_train')} (training-pass action) and {f('final_loss')} (last loss), against "
            f"{f('published_confident_learning')} for the published probabilities (chance 0.5).")


def cleaning_sentence(c):
    removed = "; ".join(f"{m.replace('_', ' ')} {rng(r)}" for m, r in c["methods"])
    return (f"Cleaning under 20 % noise (removing the top 1 to 20 % and retraining): held-out accuracy {removed}, against "
            f"{c['no_removal']:.3f} with no removal and {c['clean']:.3f} with clean labels (means over seeds).")


def targets_sentence(rows):
    bits = [f"{r['task']} ({r['noise_rate']:.0%} {r['noise']}; {r['backbone']}, {r['n_seeds']} "
            f"seed{'s' if r['n_seeds'] != 1 else ''}): action {r['action'][0]:.3f} [{r['action'][1]:.3f}, "
            f"{r['action'][2]:.3f}] against {r['roc_auc_baseline']:.3f} for `{r['baseline']}`, {r['verdict']} "
            f"(Holm p {r['p_holm']:.2g})" for r in rows]
    return ("Where the target is not a class label, corrupted targets are ranked first with ROC AUC: "
            + "; ".join(bits) + " (chance 0.5).") if bits else ""


if found is None:
    lead, details = "*No grid part to summarise yet.*", ""
else:
    says = {"cells": cells_sentence, "memorisation": memorisation_sentence,
            "confident_learning": confident_learning_sentence, "bench": bench_sentence,
            "published": published_sentence, "imdb": imdb_sentence, "cleaning": cleaning_sentence}
    rest = [say(found[k]) for k, say in says.items() if found[k] is not None]
    rest += [targets_sentence(found["targets"])] if found["targets"] else []
    details = "\n".join(f"- {x}" for x in rest)  # every finding but the lead is one bullet
    lead = pooled_lead(found["pooled"]) if found["pooled"] is not None else ""
    if not lead:  # no pooled comparison (a bare folder): the first finding leads
        first, _, details = details.partition("\n")
        lead = first[2:]
display(pages.finding(lead))

# %% tags=["hide-input"]
# the key figure: the declared comparisons, pooled (else the first part's scores)
if len(pooled):
    display(mislabel.pooled_chart(pooled))
    display(Markdown("*The action score's ROC AUC minus each baseline's, pooled over the grid's cells and seeds, with "
                     "its 95 % interval (two-stage cluster bootstrap); the grey band is the equivalence margin, the "
                     "rule at 0 no difference.*"))
else:
    first_part = cells["part"].iloc[0]
    display(mislabel.interval_chart(cells[cells["part"] == first_part], ["action", "final_loss", "aum"]))
    display(Markdown(f"*ROC AUC (mean and 95 % interval over seeds) of three scores in part `{first_part}`; the "
                     "tick is chance.*"))

# %% [markdown]
# ## The answer in detail

# %% tags=["remove-input"]
display(Markdown(details))

# %% [markdown]
# ## What this page asks
#
# *Most of this page reads committed summary tables: `results/mislabel/<part>/` (the cheap backbones,
# each part computed by `nlpdiff grid mislabel PART` from `params/grids/mislabel.yaml`) and `results/gpu/`
# (the fine-tuned grid, run on a GPU). The profile that renders the page also computes a small slice
# of the grid on the spot (`slice_parts`), shown beside the committed parts.*
#
# The study promises to test whether the action score (a sample's loss summed over the training
# checkpoints) is effective "as a human auditing tool for detection of incorrectly labeled samples".
# We corrupt a known share of the labels, train once, and ask how well each score ranks the corrupted
# samples first; then we check the scores against real, crowd-checked label errors, and we clean a
# noisy training set with them.

# %% [markdown]
# ## The grid
#
# Each run trains once on a share of corrupted labels (uniform: that share of all samples gets
# another label drawn uniformly; class-conditional: that share of the eligible samples moves along the
# engine's default confusion map, on SST-2 positive to negative, on SNLI neutral to entailment and
# contradiction to neutral) and computes every registered score from that one run. Seeds change the
# samples drawn, the labels corrupted and the model (`data_seed = seed`). **Metrics**: ROC AUC (chance
# 0.5), average precision and precision at k (k = the number of corrupted samples; chance = the share
# corrupted), each as mean and 95 % t-interval over 3 seeds (2 degrees of freedom: wide). The small
# mark on each row of the charts is the chance level. The fine-tuned rows (`gpu_sst2`, `gpu_snli`) come
# from `results/gpu/` (5,000 SST-2 sentences or 4,000 SNLI pairs, 10 or 12 epochs, memorised).

# %% tags=["hide-input"]
# how well each part's models learn the task: held-out accuracy (SNLI parts: 500 SNLI dev pairs outside the
# training pairs; the GPU grid: 1,500) and training accuracy on the clean samples at the end
fit = everything.drop_duplicates(["part", "run"]).groupby(["part", "backbone", "length"], dropna=False).agg(
    runs=("run", "count"), epochs=("epochs", "first"), heldout_accuracy=("heldout_accuracy", "mean"),
    train_acc_clean=("final_train_acc_clean", "mean"), train_acc_corrupted=("final_train_acc_corrupted", "mean"))
display(fit.round(3).reset_index())

# %% tags=["hide-input"]
show = ["action", "action_train", "final_loss", "cartography_confidence", "aum", "el2n", "forgetting_events",
        "confident_learning"]


def fmt(r, m):
    f = pages.format_number  # never "-0.000"
    return f"{f(r[m + '_mean'])} [{f(r[m + '_lo'])}, {f(r[m + '_hi'])}]"


pd.set_option("display.max_rows", 200)
keys = ["part", "cell"]
for metric, title in (("roc_auc", "ROC AUC"), ("average_precision", "average precision"),
                      ("precision_at_k", "precision at k")):
    t = cells[cells["score"].isin(show)].copy()
    t["v"] = t.apply(fmt, axis=1, m=metric)
    wide = t.pivot_table(index=keys, columns="score", values="v", aggfunc="first")[
        [c for c in show if c in set(t["score"])]]
    extra = cells[cells["score"] == "action"].set_index(keys)
    wide.insert(0, "chance", extra[f"chance_{metric}"].round(3))
    if metric == "roc_auc":
        wide.insert(1, "train acc. on corrupted", extra["final_train_acc_corrupted_mean"].round(2))
    display(Markdown(f"**{title}** (mean [95 % interval] over seeds; chance beside it):"))
    display(wide.reset_index())

# %% tags=["hide-input"]
chart_scores = ["action", "action_train", "final_loss", "cartography_confidence", "aum", "el2n", "confident_learning"]
for part in cells["part"].unique():
    display(mislabel.interval_chart(cells[cells["part"] == part], chart_scores, title=part))

# %% [markdown]
# **The paired test.** Per cell, the action score (and its training-pass variant, `action_train`) against
# the cell's best baseline: the score with the best mean ROC AUC outside the action family (`action`,
# its trapezoid, training-pass, early and token-sum variants, and `mean_loss`, which ranks exactly as
# `action`). Choosing the best baseline after seeing the results favours the baseline. `diff` is the
# mean over seeds of the paired difference of ROC AUC with its 95 % interval; `p_seeds` a paired t test
# over the 3 seeds, `p_holm` Holm-adjusted over the whole table; `delong_p_min`/`_max` the range over
# seeds of DeLong's test on the samples of each run (cheap backbones only: the GPU summaries do not keep
# it).

# %% tags=["hide-input"]
display(tests.assign(cell=mislabel.cell_label(tests))[
    ["part", "cell", "score", "baseline", "roc_auc_score", "roc_auc_baseline", "diff", "diff_lo", "diff_hi", "p_seeds",
     "p_holm", "delong_p_min", "delong_p_max"]].round(4))
display(verd)

# %% [markdown]
# ## Memorisation
#
# The case for summing the loss over training is the regime in which the model ends up fitting the
# wrong labels: the last loss then forgets what the early epochs knew. We measure it per run: the
# training accuracy, at the last checkpoint (eval pass), on the corrupted samples *against their
# corrupted labels*; above 0.5 the model has memorised them. Each point is a cell (mean over seeds):
# the gain of the action score over the last checkpoint's loss against memorisation.

# %% tags=["hide-input"]
import altair as alt

piv = cells.pivot_table(index=["part", "backbone", "length", "noise_rate", "noise_type"], columns="score",
                        values="roc_auc_mean").reset_index()
mem = cells[cells["score"] == "action"].set_index(["part", "length", "noise_rate", "noise_type"])[
    "final_train_acc_corrupted_mean"]
piv["train acc. on corrupted"] = [mem.get((r.part, r.length, r.noise_rate, r.noise_type), np.nan) for r in piv.itertuples()]
piv["action - final loss (ROC AUC)"] = piv["action"] - piv["final_loss"]
piv["cell"] = mislabel.cell_label(piv)
display(alt.Chart(piv).mark_point(filled=True, size=60).encode(
    x=alt.X("train acc. on corrupted:Q", scale=alt.Scale(domain=[0, 1])),
    y=alt.Y("action - final loss (ROC AUC):Q"), color="backbone:N", shape="length:N",
    tooltip=["part", "cell", alt.Tooltip("train acc. on corrupted:Q", format=".2f"),
             alt.Tooltip("action - final loss (ROC AUC):Q", format=".3f")]).properties(width=420, height=260))
display(piv[["part", "cell", "train acc. on corrupted", "action", "final_loss", "action - final loss (ROC AUC)"]]
        .sort_values("train acc. on corrupted").round(3).reset_index(drop=True))

# %% [markdown]
# ## Answers and summaries: corrupted targets that are not class labels
#
# Label noise needs classes. For the other two tasks the study corrupts the target itself
# (`nlpdiff.tasks.corrupt_targets`): in **SQuAD**, a share of the questions get, as their only answer,
# another span of the same context with as many words as the given answer and no overlap with it (a
# plausible-looking but wrong span); in **SAMSum**, a share of the dialogues swap their reference
# summaries along a random cycle, so each gets the summary of another dialogue. One rate (20 %), 3 seeds
# (`data_seed = seed`: other questions or dialogues each time), the cheapest backbone that trains the
# task: the probe (frozen MiniLM, a small span head) for QA, fine-tuned SmolLM2-135M for summaries (no
# cheap backbone writes summaries). Every score of the run, as in the grid: mean and 95 % interval over
# seeds, chance beside it, and the paired test of the action score against the part's best other score
# (Holm over this table). *Training accuracy on the corrupted targets* is exact match of the predicted
# span for QA and mean token accuracy of the teacher-forced summary for SAMSum (not comparable with a
# class accuracy); the held-out metric is the head's own (F1 in percent, ROUGE-L).

# %% tags=["hide-input"]
if len(targets):
    tshow = [c for c in show + ["mean_entropy", "vog"] if c in set(target_cells["score"])]
    tc_ = target_cells[target_cells["score"].isin(tshow)].copy()
    tc_["roc_auc"] = tc_.apply(fmt, axis=1, m="roc_auc")
    tc_["average_precision"] = tc_.apply(fmt, axis=1, m="average_precision")
    fit_t = targets.drop_duplicates(["part", "run"]).groupby("part").agg(
        task=("task", "first"), backbone=("backbone", "first"), runs=("run", "count"), epochs=("epochs", "first"),
        n=("n", "first"), corrupted=("n_positive", "first"), heldout_metric=("heldout_metric", "first"),
        heldout_value=("heldout_value", "mean"), train_acc_corrupted=("final_train_acc_corrupted", "mean"),
        train_acc_clean=("final_train_acc_clean", "mean"))
    display(fit_t.round(3).reset_index())
    display(tc_.pivot_table(index="score", columns="part", values="roc_auc", aggfunc="first")
            .reindex([c for c in tshow if c in set(tc_["score"])]).rename_axis(None, axis=1).reset_index()
            .assign(chance=0.5))
    display(target_tests[["part", "task", "score", "baseline", "roc_auc_score", "roc_auc_baseline", "diff", "diff_lo",
                          "diff_hi", "p_seeds", "p_holm"]].round(4))
    display(Markdown(targets_sentence(mislabel.corrupted_targets(target_tests, target_cells))))
else:
    display(Markdown("*No part with corrupted QA answers or summaries is committed yet (parts `squad_probe` and "
                     "`samsum_finetune` of `params/grids/mislabel.yaml`).*"))

# %% [markdown]
# ## Equal compute
#
# One training run gives every dynamics score at once (`action`, the cartography scores, AUM, EL2N,
# forgetting, ...). Confident learning (`nlpdiff.detection.confident_learning`, K = 5 folds, same backbone
# and recipe) needs K trainings. The cost columns come from each run's `run.json` (wall seconds of the
# whole run on this 2-core machine shared with other jobs; `torch_threads` is what the run used).
# `x_one_run`: the method's mean wall time over the part's mean single run. `benchmarks/detection.py`
# compares both sides at equal cost (the action averaged over K seeds against K-fold confident learning).

# %% tags=["hide-input"]
if len(cost):
    display(mislabel.cost_table(cost).round(2))
if bench is not None:
    display(Markdown("**`benchmarks/detection.py`** (one call, its printed figures as a table):"))
    display(bench.round(3))

# %% [markdown]
# ## AUM with threshold samples
#
# Pleiss et al. (2020) turn the area under the margin into a decision, not just a ranking: a second run
# relabels a random `n / (c + 1)` of the training samples to a fake extra class; these *threshold
# samples* are mislabelled by construction, and every other sample whose AUM falls below the 99th
# percentile of theirs is flagged (`nlpdiff.detection.aum_threshold`; one more training run per cell, in the
# cost table). The threshold samples themselves are not judged in that run. Below, per cell over seeds:
# how many samples the cut-off flags, the precision and recall of the flags against the injected noise
# (chance: the corrupted share), and, at the same list length k = the number flagged, the precision of
# the top-k by the action score and by the ordinary run's AUM; the paired test is action top-k minus the
# flags, over seeds (Holm over the table).

# %% tags=["hide-input"]
# the synthetic-noise grid only: the real-error parts (NoisyAG-News) have their own page
thr_tables = [v["aum_threshold"] for v in parts.values()
              if "aum_threshold" in v and not mislabel.is_real_error_part(v)]
if thr_tables:
    tc = mislabel.threshold_cells(pd.concat(thr_tables, ignore_index=True))
    display(tc.round(3))
    flagged_share = tc["n_flagged_mean"] / tc["n_judged_mean"]
    lift = tc["precision_mean"] - tc["chance_precision"]
    n_diff = int((tc["p_holm"] < 0.05).sum())
    display(Markdown(
        f"Over {len(tc)} cells ({', '.join(sorted(tc['part'].unique()))}), the cut-off flags "
        f"{flagged_share.min():.0%} to {flagged_share.max():.0%} of the samples it can judge, with recall "
        f"{tc['recall_mean'].min():.2f} to {tc['recall_mean'].max():.2f} and a precision {lift.min():+.3f} to "
        f"{lift.max():+.3f} above chance. At the same list length the action score's top-k differs from the "
        f"flags by {tc['action_minus_flags'].min():+.3f} to {tc['action_minus_flags'].max():+.3f} in precision "
        f"({n_diff} of {len(tc)} cells significant after Holm). A cut-off that flags most of the data is not an "
        "audit list: the threshold samples' margins overlap those of the real samples, whether the model hardly "
        "learns the fake class (the probes) or fits it as it fits the flipped labels (the scratch model)."))
else:
    display(Markdown("*No part with threshold-sample runs is committed yet (`aum_threshold` in "
                     "`params/grids/mislabel.yaml`).*"))

# %% [markdown]
# ## Real label errors
#
# **IMDB.** Northcutt, Athalye and Mueller (2021) had crowd workers check 1,310 IMDB test reviews;
# 173 are confirmed label errors (at least 3 of 5 workers chose the other label). Which 1,310? The
# ones their cross-validated confident learning ranked highest. So the published figure, confident
# learning finds the confirmed errors among all 25,000 reviews with a very high ROC AUC, is true by
# construction: every review the crowd could confirm had been put at the top by that score. The honest
# comparison is among the 1,310 candidates (main), with all 25,000 as a secondary view.

# %% tags=["hide-input"]
if published:
    pub = published
    display(Markdown(
        f"Measured from the data: of the {pub['n_candidates']:,} reviews that the published probabilities rank "
        f"highest, a share of **{pub['top_is_candidates']:.3f}** are candidates; the published score's ROC AUC is "
        f"**{pub['roc_auc_all']:.3f}** on all {pub['n_test']:,} reviews and **{pub['roc_auc_candidates']:.3f}** among "
        f"the candidates (chance 0.5; average precision by chance among the candidates "
        f"{pub['chance_average_precision_candidates']:.3f}, the share confirmed)."))
if imdb is not None:
    info = imdb.iloc[0]
    display(Markdown(
        f"This study's runs: scratch backbone on all IMDB test reviews ({int(imdb['n'].max()):,} scored), "
        f"{int(info['epochs'])} epochs, max_length {int(info['max_length'])}, seeds {', '.join(str(int(x)) for x in sorted(imdb['seed'].unique()))}; "
        f"held-out accuracy on IMDB train reviews {imdb.drop_duplicates('seed')['heldout_accuracy'].mean():.3f}. "
        "Positives: the confirmed errors. Every score, mean and 95 % interval over seeds, chance beside it; "
        "`published_confident_learning` is 1 minus the published cross-validated probability of the given label."))
    ic = mislabel.cells(imdb, by=["subset"])
    display(ic[["subset", "score", "n_seeds", "roc_auc_mean", "roc_auc_lo", "roc_auc_hi", "average_precision_mean",
                "precision_at_k_mean", "chance_average_precision"]].sort_values(
        ["subset", "roc_auc_mean"], ascending=[False, False]).round(3).reset_index(drop=True))
    display(Markdown("Paired tests of the action scores against the best other score (per subset; over seeds, "
                     "and DeLong per seed):"))
    display(mislabel.paired_tests(imdb, by=["subset"]).round(4))
else:
    display(Markdown(
        "*The IMDB runs of this study (part `imdb_test_scratch`: all 25,000 test reviews, scratch backbone, "
        "3 seeds) are not committed yet; see `results/mislabel/README.md` for their measured cost on the 2-core "
        "machine.*"))

# %% [markdown]
# **SNLI and ChaosNLI** (cited from the GPU page, not recomputed): on the 1,507 ChaosNLI pairs in SNLI dev,
# the pairs whose original gold label differs from the majority of 100 new annotators are the real label
# problems. The clean fine-tuned SNLI run's scores rank them with:

# %% tags=["hide-input"]
chaos_path = Path(gpu_dir) / "summary_snli_chaosnli.csv"
if chaos_path.exists():
    chaos = pd.read_csv(chaos_path)
    display(chaos[["score", "n_pairs", "n_gold_differs", "roc_auc", "roc_auc_lo", "roc_auc_hi", "average_precision",
                   "chance_average_precision"]].round(3))

# %% [markdown]
# ## Cleaning
#
# Under 20 % uniform noise on SST-2 (probe backbone), remove the top 1, 5, 10 and 20 % of the training
# samples by the action score, by the best baseline (chosen per seed with the ground truth: the score
# outside the action family with the best ROC AUC, which favours it) and at random, retrain the same
# recipe on the rest (`SubsetSampler`), and measure held-out accuracy on SST-2 validation; beside it,
# the same sentences with clean labels and with no removal.

# %% tags=["hide-input"]
if cleaning is not None:
    cc = mislabel.cleaning_cells(cleaning)
    display(cc.round(3))
    ref = cc[cc["method"].isin(["clean labels", "no removal"])]
    lines_ = cc[~cc["method"].isin(["clean labels", "no removal"])]
    band = alt.Chart(lines_).mark_errorbar().encode(x=alt.X("fraction:Q", title="fraction removed"),
                                                    y=alt.Y("heldout_accuracy_lo:Q", title="held-out accuracy",
                                                            scale=alt.Scale(zero=False)),
                                                    y2="heldout_accuracy_hi:Q", color="method:N")
    line = alt.Chart(lines_).mark_line(point=True).encode(x="fraction:Q", y="heldout_accuracy_mean:Q", color="method:N")
    rules = alt.Chart(ref).mark_rule(strokeDash=[4, 3]).encode(y="heldout_accuracy_mean:Q", color="method:N")
    display(alt.layer(band, line, rules).properties(width=420, height=260))
    display(Markdown("Paired over seeds: held-out accuracy after removing by the action score minus after removing "
                     "by the best baseline or at random (Holm-adjusted over the table):"))
    display(mislabel.cleaning_tests(cleaning).round(4))
else:
    display(Markdown("*The cleaning part is not committed yet.*"))

# %% [markdown]
# ## The auditing tool in use: the top suspects, read blind
#
# A person auditing a data set reads the ranked table (`nlpdiff audit RUN_DIR --top 100`). How many of
# the action score's top suspects in *clean* data (no injected noise) does a reader find mislabelled?
# A reading is only informative beside a control, and only honest when the reader does not know which
# rows the score flagged: `nlpdiff audit RUN_DIR --blind 50` writes the 50 top suspects and 50 other
# training samples drawn at random, shuffled, without ranks or scores; the reader marks each as
# *mislabelled*, *ambiguous* or *correct*; the groups are then unblinded. Each reading below says who
# read and how (its `README.md`), and which run it read (parameters in its `run.json`). One reader, no
# adjudication: treat the counts as an estimate with the Wilson interval shown, not as ground truth.
# With injected noise, the same list is checked against the known corrupted samples instead.

# %% tags=["hide-input"]
readings_root = Path(readings_dir)
readings = sorted(p for p in readings_root.glob("*/") if (p / "key.csv").exists()) if readings_root.exists() else []
if not readings:
    display(Markdown(f"*No reading is committed under `{readings_dir}`.*"))
for folder in readings:
    reading = mislabel.load_reading(folder)
    p = reading["info"]["params"]
    summ_ = reading["summary"].set_index("group")
    top_df = reading["top"]
    display(Markdown(f"### `{folder.name}`: task `{p['task']}`, backbone `{p['backbone']}`, "
                     f"{int(reading['info']['resolved']['n_train']):,} training samples, noise rate "
                     f"{p.get('noise_rate', 0)}"))
    if reading["notes"]:
        display(Markdown(reading["notes"].split("\n", 1)[1] if reading["notes"].startswith("#") else reading["notes"]))
    shown = [c for c in (*reading["text_columns"], "given_label", "predicted_label", "confidence", "why",
                         "judgement", "is_corrupted") if c in top_df.columns]
    if int(summ_["read"].sum()):
        t, r = summ_.loc["top"], summ_.loc["random"]
        display(Markdown(
            f"Judged mislabelled: **{int(t['mislabelled'])} of {int(t['read'])}** top suspects "
            f"({t['share_mislabelled']:.0%}, 95 % interval {t['low']:.0%}-{t['high']:.0%}) against "
            f"**{int(r['mislabelled'])} of {int(r['read'])}** random samples ({r['share_mislabelled']:.0%}, "
            f"{r['low']:.0%}-{r['high']:.0%}); Fisher's exact test, top vs random: p = {t['fisher_p']:.2g}. "
            f"Judged mislabelled or ambiguous (no clear label): {int(t['not_correct'])} against "
            f"{int(r['not_correct'])} (p = {t['fisher_p_not_correct']:.2g})."))
        display(reading["summary"].round(3))
        classes = reading["key"].groupby("group")["given_label"].value_counts().unstack(fill_value=0)
        display(Markdown("Given labels in each group (a top list drawn from one class says the score ranks that "
                         "class as hard, not its labels as wrong):"))
        display(classes)
    rate = float(p.get("noise_rate") or 0)
    if rate > 0:  # injected noise: the known corrupted samples are the truth
        k20, k50 = top_df.head(20), top_df
        display(Markdown(
            f"Known corrupted samples among the top 20: **{int(k20['is_corrupted'].sum())}**, among the top "
            f"{len(k50)}: **{int(k50['is_corrupted'].sum())}** (chance: the noise rate, {rate:.0%}, i.e. "
            f"{rate * 20:.0f} and {rate * len(k50):.0f})."))
    display(Markdown("The 20 top suspects:"))
    display(top_df.head(20)[["rank", *shown]].round(3))
