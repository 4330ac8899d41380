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
# # Full-data fine-tuned runs on a GPU

# %% tags=["parameters"]
results_dir = "results/gpu"  # written by gpu/summarize.py from one device call's files

# %% tags=["remove-input"]
# read the committed tables (the code: notebooks/gpu_runs.py)
import json
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from nlpdiff import plots
from nlpdiff_study.conclusions import not_baselines

plots.enable_offline()
from nlpdiff_study import pages  # noqa: E402

pages.use_for_dataframes()  # every table: no index, fixed decimals, missing values as a dash
root = Path(results_dir)
batch = json.loads((root / "batch.json").read_text())
runs = pd.read_csv(root / "summary_runs.csv")
speed = pd.read_csv(root / "summary_speed.csv")
curves = pd.read_csv(root / "heldout_curves.csv")
det = pd.read_csv(root / "summary_detection.csv")
cells_all = pd.read_csv(root / "summary_detection_cells.csv")
by_ck_all = pd.read_csv(root / "summary_detection_by_checkpoint.csv")
# the SST-2 grid (first call) and the SNLI grid (second call) share the summary files (column `task`)
cells, by_ck = cells_all[cells_all["task"] == "sst2"], by_ck_all[by_ck_all["task"] == "sst2"]
batch_snli = json.loads((root / "batch_snli.json").read_text())
chaos = pd.read_csv(root / "summary_snli_chaosnli.csv")
info = json.loads(next(root.glob("sst2_full/*/run.json")).read_text())
hw, ver = info["hardware"], info["versions"]
show = ["action", "action_train", "early_action", "final_loss", "cartography_confidence",
        "cartography_variability", "aum", "el2n", "forgetting_events"]


def fmt(r, m):
    f = pages.format_number  # never "-0.000"
    return f"{f(r[m + '_mean'])} [{f(r[m + '_lo'])}, {f(r[m + '_hi'])}]"


table = cells[cells["score"].isin(show)].copy()
table["cell"] = (table["noise_rate"] * 100).round().astype(int).astype(str) + "% " + table["noise_type"]
table["ROC AUC"] = table.apply(fmt, axis=1, m="roc_auc")
table["average precision"] = table.apply(fmt, axis=1, m="average_precision")
table["precision at k"] = table["precision_at_k_mean"].round(3)
table["chance (AP, P@k)"] = table["chance_average_precision"].round(3)
table["train acc. on corrupted (last)"] = table["final_train_acc_corrupted_mean"].round(3)
table = table.sort_values(["noise_rate", "noise_type", "roc_auc_mean"], ascending=[True, True, False])
# the finding, read from the detection cells
act_cells = cells[cells["score"] == "action"]
last_cells = cells[cells["score"] == "final_loss"]


def span(v, f="{:.3f}"):
    lo, hi = f.format(min(v)), f.format(max(v))
    return lo if lo == hi else f"{lo} to {hi}"


display(pages.finding(
    f"**Finding.** In the {len(act_cells)} cells of the fine-tuned SST-2 grid, MiniLM memorises the corrupted labels "
    f"(training accuracy on them {span(act_cells['final_train_acc_corrupted_mean'], '{:.2f}')} at the end); the "
    f"action score ranks them with ROC AUC {span(act_cells['roc_auc_mean'])}, the loss at the last checkpoint with "
    f"{span(last_cells['roc_auc_mean'])} (means over {int(act_cells['n_seeds'].min())} seeds; chance 0.5)."))

# %% tags=["hide-input"]
# the key figure: every score per cell of the fine-tuned SST-2 grid
chart_data = table[["cell", "score", "roc_auc_mean", "roc_auc_lo", "roc_auc_hi"]]
order = ["action", "action_train", "early_action", "cartography_confidence", "cartography_variability", "el2n",
         "aum", "forgetting_events", "final_loss"]
base = alt.Chart(chart_data).encode(y=alt.Y("score:N", sort=order, title=None))
bars = base.mark_rule().encode(x=alt.X("roc_auc_lo:Q", title="ROC AUC (mean, 95% interval over 3 seeds)",
                                       scale=alt.Scale(domain=[0.4, 1.0])), x2="roc_auc_hi:Q")
points = base.mark_point(filled=True, size=50).encode(
    x="roc_auc_mean:Q", color=alt.condition(alt.datum.score == "action", alt.value("#D55E00"), alt.value("#0072B2")),
    tooltip=["cell", "score", alt.Tooltip("roc_auc_mean:Q", format=".3f"), alt.Tooltip("roc_auc_lo:Q", format=".3f"),
             alt.Tooltip("roc_auc_hi:Q", format=".3f")])
chance = alt.Chart(pd.DataFrame({"x": [0.5]})).mark_rule(strokeDash=[4, 3], color="#888").encode(x="x:Q")
alt.layer(bars, points, chance, data=chart_data).properties(width=260, height=200).facet(
    facet=alt.Facet("cell:N", title=None), columns=2)

# %% [markdown]
# *ROC AUC of each score (mean and 95 % interval over 3 seeds) per cell of the grid: noise rate and type; the
# dashed rule is chance.*
#
# ## What ran
#
# *This page reads committed results (`results/gpu/`); it trains nothing. The runs come from two
# calls of `gpu/run_batch.py` on a lent GPU machine, summarised by `gpu/summarize.py`.*
#
# The CPU profile of this book fine-tunes MiniLM on 3,000 SST-2 sentences and 400 SQuAD questions,
# because a 2-core machine cannot afford more. Here the same engine (`nlpdiff.dynamics.train`, same
# parameters format, bf16 autocast on the GPU) ran what the CPU cannot:
#
# 1. SST-2 on its **whole training split** (67,349 sentences), held out on the whole validation split;
# 2. the **fine-tuned part of the mislabel-detection grid** on SST-2: 10 and 20 % of the labels
#    corrupted, uniform and class-conditional noise, 3 seeds each, trained long enough for the model
#    to **memorise** the corrupted labels (the regime in which summing the loss over training could beat
#    the last loss);
# 3. **SQuAD** on all 11,877 training questions of the local copy, held out on 2,000 dev questions;
# 4. (second call) **SNLI**, three-class sentence pairs: the same fine-tuned noise grid, and one clean run
#    whose scores are checked against **ChaosNLI**'s 100 crowd labels per pair (a real label problem).
#
# Left out, and why: **IMDB test** (its 14 MB of text did not fit the 64 MiB that travel to the machine beside the model
# weights); **confident learning** (it needs K = 5 extra trainings per run; not in this call's budget).
# The model is all-MiniLM-L6-v2; its weights travelled to the machine as an **fp16-rounded copy**
# (to fit the transfer limit) and were trained in fp32 with bf16 autocast, so these runs do not start
# from bit-identical weights to the CPU runs.

# %% tags=["hide-input"]
states = pd.Series({k: v["state"] for k, v in batch["jobs"].items()}).value_counts()
display(Markdown(
    f"**Hardware** (from each run's `run.json`): {hw['accelerator']}, {hw['cpu_count']} CPU cores, "
    f"{hw['memory_gib']:.0f} GiB of memory ({hw['platform']}). Python {ver['python']}, torch {ver['torch']}, "
    f"transformers {ver['transformers']}, datasets {ver['datasets']}. **The call:** {len(batch['jobs'])} "
    f"jobs ({', '.join(f'{n} {s}' for s, n in states.items())}), {batch['workers']} at a time on the one GPU, "
    f"{batch['wall_s']:.0f} s of wall time in all, started {batch['started_at']}. **The SNLI call** (same kind of "
    f"machine, {batch_snli['gpu']}, same versions): {len(batch_snli['jobs'])} jobs, "
    f"{sum(v['state'] == 'done' for v in batch_snli['jobs'].values())} done, {batch_snli['workers']} at a time, "
    f"{batch_snli['wall_s']:.0f} s of wall time, started {batch_snli['started_at']}."
))

# %% [markdown]
# ## How much faster is the GPU?
#
# Measured in the same call: the same MiniLM model and the same batch, a full training step
# (forward, backward, gradient clipping, AdamW), on the machine's own CPU (fp32, every core) and
# on its GPU (bf16 autocast, as the engine trains), per training example.

# %% tags=["hide-input"]
sp = speed.assign(**{
    "CPU ms / example": speed["cpu_ms_per_example"], "GPU ms / example": speed["gpu_ms_per_example"],
    "speed-up": speed["speedup_per_example"],
})[["case", "cpu_threads", "CPU ms / example", "GPU ms / example", "speed-up"]]
display(sp.round(3))
display(Markdown(
    f"A training example costs **{speed['speedup_per_example'].iloc[0]:.0f}x** less time on the GPU for "
    f"SST-2 sentences and **{speed['speedup_per_example'].iloc[1]:.0f}x** less for 384-token SQuAD windows: "
    "short sentences leave the GPU mostly waiting on Python and kernel launches, long windows fill it. "
    "The CPU figure uses "
    f"{int(speed['cpu_threads'].iloc[0])} cores; the book's own CPU profile runs on 2."
))

# %% [markdown]
# ## The runs
#
# One row per training run. `wall_s_run` is the run's whole wall time on the machine (loading,
# tokenising, training, the recording passes at each checkpoint, held-out evaluation, scores, writing).
# Five runs shared the GPU at any time, so each run's time is longer than it would be alone. The SNLI
# runs (task `snli_chaos`) come from the second call.

# %% tags=["hide-input"]
cols = ["run", "n_train", "n_heldout", "epochs", "checkpoints", "batch_size", "learning_rate", "noise_rate",
        "noise_type", "seed", "final_train_acc_corrupted", "final_heldout_accuracy", "final_heldout_exact_match",
        "final_heldout_f1", "wall_s_run", "wall_s_train", "wall_s_eval_pass"]
display(runs[cols].round(3))

# %% [markdown]
# ## SST-2 on the whole training split

# %% tags=["hide-input"]
sst = runs.set_index("run").loc["sst2_full"]
display(Markdown(
    f"Fine-tuned on all {int(sst['n_train']):,} training sentences for {int(sst['epochs'])} epochs "
    f"({int(sst['checkpoints'])} checkpoints, batch {int(sst['batch_size'])}), MiniLM reaches a held-out "
    f"accuracy of **{sst['final_heldout_accuracy']:.3f}** on the {int(sst['n_heldout'])} validation sentences. "
    f"The run took {sst['wall_s_run']:.0f} s on the GPU, of which {sst['wall_s_eval_pass']:.0f} s were the "
    f"{int(sst['checkpoints'])} recording passes over the 67k training sentences that the scores need."
))
c = curves[curves["run"] == "sst2_full"][["checkpoint", "epoch", "heldout_accuracy", "heldout_loss",
                                           "train_correct", "train_loss"]]
plots.learning_curve(c.drop(columns="checkpoint"), x="epoch")

# %% [markdown]
# ## Mislabel detection when the model memorises
#
# Each cell of the grid: 5,000 SST-2 training sentences (a stratified draw that changes with the seed),
# a share of their labels corrupted (uniform: that share of all sentences gets the other label;
# class-conditional, the engine's default map on two classes: that share of the *positive* sentences
# is flipped to negative, so fewer sentences are corrupted in all and only one class is),
# MiniLM fine-tuned for 10 epochs at learning rate 1e-4 with one checkpoint per epoch. Every score is
# computed from that one run; "detection" asks how well a score ranks the corrupted sentences first.
# ROC AUC is 0.5 by chance; average precision and precision at k (k = the number of corrupted
# sentences) are the share of corrupted sentences by chance (the "chance" column). Intervals: mean and 95 % t-interval over the 3 seeds
# (2 degrees of freedom, so they are wide).
#
# **Did the model memorise?** Yes, in every run: at the last checkpoint its training accuracy on the
# corrupted sentences, with their corrupted labels, is above 0.5 (last column).

# %% tags=["hide-input"]
display(table[["cell", "score", "ROC AUC", "average precision", "precision at k", "chance (AP, P@k)",
               "train acc. on corrupted (last)"]].reset_index(drop=True))

# %% tags=["hide-input"]
act = cells.set_index(["noise_rate", "noise_type", "score"])
lines = []
for (rate, kind), g in cells.groupby(["noise_rate", "noise_type"]):
    g = g.set_index("score")
    best = g.drop(index=list(not_baselines()), errors="ignore")["roc_auc_mean"].idxmax()
    lines.append(
        f"- {rate:.0%} {kind}: action {g.loc['action', 'roc_auc_mean']:.3f} "
        f"[{g.loc['action', 'roc_auc_lo']:.3f}, {g.loc['action', 'roc_auc_hi']:.3f}], "
        f"last-checkpoint loss {g.loc['final_loss', 'roc_auc_mean']:.3f}, best difficulty score outside the "
        f"action family {best} "
        f"{g.loc[best, 'roc_auc_mean']:.3f}; training accuracy on the corrupted labels at the end "
        f"{g.loc['action', 'final_train_acc_corrupted_mean']:.2f}."
    )
display(Markdown("**ROC AUC per cell** (mean [95 % interval] over 3 seeds):\n\n" + "\n".join(lines)))

# %% [markdown]
# **What the figures say.** Once the model has memorised the flipped labels, the loss at the last
# checkpoint has lost most of what it knew about them (ROC AUC about 0.57 to 0.62, barely above chance),
# while the action score, which sums the loss over all ten checkpoints, keeps the signal of the epochs
# before memorisation (about 0.85 to 0.92). This is the regime the action score was meant for, and the
# advantage over the last loss is large and consistent over seeds and cells. It is **not** an advantage
# over every other training-dynamics score: the action score ties with the scores that also average
# over training (cartography confidence, mean loss, which ranks identically, the training-pass action;
# in the 20 % uniform cell EL2N too, and cartography variability, which this book reads as an ambiguity
# axis, not a difficulty score), and in three of the four cells a
# variant that sums only the early checkpoints (`early_action`) has the highest mean; the intervals
# overlap. AUM and the forgetting count do worse here. No paired test is
# reported on this page; with 3 seeds the intervals are the honest summary.
#
# ## Where the last loss loses the signal
#
# From the same runs (the eval-pass losses at every checkpoint came back from the machine): the ROC AUC
# of the action score summed over the checkpoints up to epoch k, of the loss at epoch k alone, and the
# training accuracy on the corrupted labels at epoch k, mean over the 3 seeds. The learning-rate
# schedule is the one of the 10-epoch run, so epoch k here is not a k-epoch run.

# %% tags=["hide-input"]
SERIES = {"roc_auc_action_to_k": "ROC AUC, action summed to epoch k",
          "roc_auc_loss_at_k": "ROC AUC, loss at epoch k",
          "train_acc_corrupted": "training accuracy on corrupted labels"}


def by_epoch_means(by_checkpoint):
    """Mean over seeds, per noise cell and epoch k, of the three SERIES."""
    m = by_checkpoint.groupby(["noise_rate", "noise_type", "epoch"], as_index=False)[list(SERIES)].mean()
    m["cell"] = (m["noise_rate"] * 100).round().astype(int).astype(str) + "% " + m["noise_type"]
    return m


def by_epoch_chart(m):
    """The three SERIES against epoch k, one panel per noise cell."""
    long = m.melt(id_vars=["cell", "epoch"], value_vars=list(SERIES), var_name="series", value_name="value")
    long["series"] = long["series"].map(SERIES)
    return alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("epoch:Q", title="epoch k"), y=alt.Y("value:Q", title=None, scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom", columns=1)),
        tooltip=["cell", "series", "epoch", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=260, height=180).facet(facet=alt.Facet("cell:N", title=None), columns=2)


m = by_epoch_means(by_ck)
by_epoch_chart(m)

# %% tags=["hide-input"]
first = m.groupby("cell").apply(lambda g: g.loc[g["train_acc_corrupted"] > 0.5, "epoch"].min(), include_groups=False)
display(Markdown(
    "Training accuracy on the corrupted labels passes 0.5 at epoch "
    + ", ".join(f"{int(e)} ({c})" for c, e in first.items())
    + f" (mean over seeds). At the first checkpoint the two scores are the same by construction. The loss "
    "at epoch k starts to lose the corrupted labels as soon as the model begins to fit them and ends near "
    "chance; the summed action ends within "
    f"{(m.groupby('cell')['roc_auc_action_to_k'].max() - m.groupby('cell')['roc_auc_action_to_k'].last()).max():.3f} "
    "of its best value in every cell."
))

# %% [markdown]
# ## SQuAD on every training question

# %% tags=["hide-input"]
qa = runs.set_index("run").loc["squad_full"]
qinfo = json.loads(next(root.glob("squad/*/run.json")).read_text())["resolved"]
display(Markdown(
    f"MiniLM fine-tuned on {int(qa['n_train']):,} SQuAD questions (of the 11,877 of the local training split: "
    f"{qinfo['skipped']['answer_truncated']} were skipped because their answer does not fit a "
    f"{int(qa['max_length'])}-token window; {qinfo['n_train_features']:,} windows with stride 128), "
    f"{int(qa['epochs'])} epochs, {int(qa['checkpoints'])} checkpoints. Held out on {int(qa['n_heldout']):,} "
    f"dev questions (a seeded draw of the 10,570: evaluating the whole dev set at every checkpoint did not fit "
    f"the budget): **exact match {qa['final_heldout_exact_match']:.1f}, F1 {qa['final_heldout_f1']:.1f}** "
    f"after the last checkpoint, against every annotator's answer. The run took {qa['wall_s_run']:.0f} s."
))
c = curves[curves["run"] == "squad_full"][["epoch", "heldout_exact_match", "heldout_f1", "heldout_loss",
                                            "train_loss"]]
plots.learning_curve(c, x="epoch")

# %% [markdown]
# %% [markdown]
# ## SNLI: mislabel detection on three classes
#
# SNLI has no training split offline, so its dev split (9,831 pairs with a gold label) is the training
# pool: 1,500 pairs drawn outside ChaosNLI (stratified by label, seed 0) are held out, and the other
# 8,331 pairs are the training pool (`gpu/snli_chaos.py` builds the frames; they are trained as a user's
# data task through `nlpdiff.tasks.from_frame`). Each grid cell: 4,000 training pairs drawn from the pool
# (stratified, changing with the seed), a share of their labels corrupted, MiniLM fine-tuned on the
# premise/hypothesis pair for 12 epochs at learning rate 1e-4 (batch 64, max length 128), one checkpoint
# per epoch. Uniform noise gives a corrupted pair one of the two other labels at random;
# class-conditional noise uses the engine's default map on three classes, neutral -> entailment and
# contradiction -> neutral, applied to that share of the neutral and contradiction pairs (so entailment
# pairs are never corrupted, and fewer pairs are corrupted in all). Same metrics, chance levels and
# intervals (3 seeds, 2 degrees of freedom) as the SST-2 grid.

# %% tags=["hide-input"]
snli_cells = cells_all[cells_all["task"] == "snli_chaos"]
snli_runs = runs[runs["task"] == "snli_chaos"]
snli_grid = snli_runs[snli_runs["noise_rate"] > 0]
st = snli_cells[snli_cells["score"].isin(show + ["mean_entropy", "final_entropy"])].copy()
st["cell"] = (st["noise_rate"] * 100).round().astype(int).astype(str) + "% " + st["noise_type"]
st["ROC AUC"] = st.apply(fmt, axis=1, m="roc_auc")
st["average precision"] = st.apply(fmt, axis=1, m="average_precision")
st["precision at k"] = st["precision_at_k_mean"].round(3)
st["chance (AP, P@k)"] = st["chance_average_precision"].round(3)
st["train acc. on corrupted (last)"] = st["final_train_acc_corrupted_mean"].round(3)
st = st.sort_values(["noise_rate", "noise_type", "roc_auc_mean"], ascending=[True, True, False])
display(st[["cell", "score", "ROC AUC", "average precision", "precision at k", "chance (AP, P@k)",
            "train acc. on corrupted (last)"]].reset_index(drop=True))
display(Markdown(
    f"**Did the model memorise?** Training accuracy on the corrupted pairs, with their corrupted labels, at the "
    f"last checkpoint: {snli_grid['final_train_acc_corrupted'].min():.2f} to "
    f"{snli_grid['final_train_acc_corrupted'].max():.2f} over the 12 runs, so above 0.5 in every run. Held-out "
    f"accuracy at the end (1,500 pairs): {snli_grid['final_heldout_accuracy'].min():.3f} to "
    f"{snli_grid['final_heldout_accuracy'].max():.3f}. Run time on the GPU: {snli_grid['wall_s_run'].min():.0f} to "
    f"{snli_grid['wall_s_run'].max():.0f} s per run, five at a time."
))

# %% tags=["hide-input"]
lines = []
for (rate, kind), g in snli_cells.groupby(["noise_rate", "noise_type"]):
    g = g.set_index("score")
    best = g.drop(index=list(not_baselines()), errors="ignore")["roc_auc_mean"].idxmax()
    lines.append(
        f"- {rate:.0%} {kind}: action {g.loc['action', 'roc_auc_mean']:.3f} "
        f"[{g.loc['action', 'roc_auc_lo']:.3f}, {g.loc['action', 'roc_auc_hi']:.3f}], "
        f"last-checkpoint loss {g.loc['final_loss', 'roc_auc_mean']:.3f} "
        f"[{g.loc['final_loss', 'roc_auc_lo']:.3f}, {g.loc['final_loss', 'roc_auc_hi']:.3f}], best other score "
        f"{best} {g.loc[best, 'roc_auc_mean']:.3f} [{g.loc[best, 'roc_auc_lo']:.3f}, {g.loc[best, 'roc_auc_hi']:.3f}]; "
        f"training accuracy on the corrupted labels at the end {g.loc['action', 'final_train_acc_corrupted_mean']:.2f}."
    )
display(Markdown("**SNLI, ROC AUC per cell** (mean [95 % interval] over 3 seeds; chance 0.5):\n\n" + "\n".join(lines)))

# %% tags=["hide-input"]
sm = by_epoch_means(by_ck_all[by_ck_all["task"] == "snli_chaos"])
by_epoch_chart(sm)

# %% tags=["hide-input"]
peak = sm.loc[sm.groupby("cell")["roc_auc_loss_at_k"].idxmax()].set_index("cell")
last = sm.loc[sm.groupby("cell")["epoch"].idxmax()].set_index("cell")
display(Markdown(
    "The loss at a single epoch is best early, before the model fits the corrupted labels: "
    + ", ".join(f"{c}: {r['roc_auc_loss_at_k']:.3f} at epoch {int(r['epoch'])}" for c, r in peak.iterrows())
    + "; the summed action ends at "
    + ", ".join(f"{c}: {r['roc_auc_action_to_k']:.3f}" for c, r in last.iterrows())
    + " (means over seeds)."
))

# %% [markdown]
# **What the SNLI grid says.** The SST-2 picture holds on three classes. Every run memorised the
# corrupted labels (training accuracy on them 0.87 to 0.98 at the end), and in that regime the loss at the
# last checkpoint is a poor detector (ROC AUC 0.53 to 0.65; 0.525 in the 20 % class-conditional cell)
# while the action score keeps the signal of the early epochs (0.76 to 0.87), with intervals far from the
# last loss's in every cell. Again it is not better than the other scores that average over training: mean
# loss (identical ranking), cartography confidence, the training-pass and trapezoid variants of the action
# are within about 0.02 of it, the training-pass action (or its trapezoid variant) has the highest mean in
# the two class-conditional cells and `early_action` in the 20 % uniform cell, all with overlapping intervals; AUM, the entropy scores,
# the forgetting count and EL2N do worse. Class-conditional noise is harder to detect than uniform noise
# here (a neutral pair relabelled entailment, or a contradiction relabelled neutral, is a confusion the
# model also makes on clean pairs), and average precision stays moderate (0.30 to 0.61) even where ROC AUC
# is above 0.8. The per-epoch curves show why the sum works: the action summed to epoch k stops changing
# once the model starts fitting the corrupted labels (about epoch 4), so it keeps what the loss at epoch 2
# to 4 knew, and a loss read at the right early epoch does about as well; the action's advantage is over
# the *last* loss, which is what a practitioner has at the end of training.
#
# ## SNLI and ChaosNLI: a real label problem
#
# ChaosNLI collected 100 new crowd labels for 1,514 SNLI dev pairs; 1,507 of them are in the training
# pool, so every one is a training sample of the clean run below (noise 0, all 8,331 pool pairs, 4 epochs at
# learning rate 5e-5, batch 32, 8 checkpoints). The question: does a score rank first the **378 pairs whose
# original gold label differs from the majority of the 100 crowd labels** (a label that a larger crowd
# would not give), and does it rise with the **entropy of the 100 labels** (human disagreement)?
#
# **A hard subset.** ChaosNLI chose its pairs for low agreement: on every one of them exactly 3 of the
# original 5 annotators agreed. So this is an evaluation *within* the ambiguous pairs, not a search for
# ambiguous pairs among all of SNLI: a score that only separates easy pairs from ambiguous ones gets no
# credit here, and the original 5 labels (always a 3-2 split) carry no signal to compare with.

# %% tags=["hide-input"]
clean = runs.set_index("run").loc["snli_clean"]
chaos_show = chaos.copy()
for m in ("roc_auc", "average_precision", "spearman_entropy"):
    chaos_show[m.replace("_", " ")] = chaos_show.apply(
        lambda r, m=m: f"{pages.format_number(r[m])} [{pages.format_number(r[m + '_lo'])}, {pages.format_number(r[m + '_hi'])}]", axis=1)
chaos_show["ROC AUC - action"] = chaos_show.apply(
    lambda r: f"[{pages.format_number(r['roc_auc_minus_action_lo'], signed=True)}, {pages.format_number(r['roc_auc_minus_action_hi'], signed=True)}]", axis=1)
chaos_show["Spearman - action"] = chaos_show.apply(
    lambda r: f"[{pages.format_number(r['spearman_entropy_minus_action_lo'], signed=True)}, {pages.format_number(r['spearman_entropy_minus_action_hi'], signed=True)}]", axis=1)
display(Markdown(
    f"The clean run reaches a held-out accuracy of **{clean['final_heldout_accuracy']:.3f}** on the 1,500 held-out "
    f"pairs (outside ChaosNLI) after {int(clean['epochs'])} epochs ({clean['wall_s_run']:.0f} s on the GPU). Over the "
    f"{int(chaos['n_pairs'].iloc[0]):,} ChaosNLI pairs, {int(chaos['n_gold_differs'].iloc[0])} have a gold label that "
    f"differs from the crowd majority: chance is ROC AUC 0.5 and average precision "
    f"**{chaos['chance_average_precision'].iloc[0]:.3f}** (their share). Intervals: 95 % bootstrap over pairs "
    "(1,000 resamples); the last two columns are paired intervals of the score minus the action score."
))
display(chaos_show[["score", "roc auc", "average precision", "spearman entropy", "ROC AUC - action",
                    "Spearman - action"]].rename(columns={"roc auc": "ROC AUC (gold != majority)",
                                                          "average precision": "average precision",
                                                          "spearman entropy": "Spearman with entropy"}))

# %% tags=["hide-input"]
cx = chaos.set_index("score")
base = cx.drop(index=["action", "mean_loss"])
best_auc, best_rho = base["roc_auc"].idxmax(), base["spearman_entropy"].idxmax()
display(Markdown(
    f"- **action**: ROC AUC {cx.loc['action', 'roc_auc']:.3f} [{cx.loc['action', 'roc_auc_lo']:.3f}, "
    f"{cx.loc['action', 'roc_auc_hi']:.3f}], AP {cx.loc['action', 'average_precision']:.3f} (chance "
    f"{cx.loc['action', 'chance_average_precision']:.3f}), Spearman with entropy {cx.loc['action', 'spearman_entropy']:.3f} "
    f"[{cx.loc['action', 'spearman_entropy_lo']:.3f}, {cx.loc['action', 'spearman_entropy_hi']:.3f}].\n"
    f"- **entropy** of the model's prediction (Angelov et al.'s NLI comparison): mean over checkpoints "
    f"ROC AUC {cx.loc['mean_entropy', 'roc_auc']:.3f}, Spearman {cx.loc['mean_entropy', 'spearman_entropy']:.3f}; "
    f"at the last checkpoint ROC AUC {cx.loc['final_entropy', 'roc_auc']:.3f}, Spearman "
    f"{cx.loc['final_entropy', 'spearman_entropy']:.3f}.\n"
    f"- **best other score**: by ROC AUC {best_auc} {cx.loc[best_auc, 'roc_auc']:.3f} "
    f"[{cx.loc[best_auc, 'roc_auc_lo']:.3f}, {cx.loc[best_auc, 'roc_auc_hi']:.3f}]; by Spearman {best_rho} "
    f"{cx.loc[best_rho, 'spearman_entropy']:.3f} [{cx.loc[best_rho, 'spearman_entropy_lo']:.3f}, "
    f"{cx.loc[best_rho, 'spearman_entropy_hi']:.3f}]."
))

# %% [markdown]
# **What the ChaosNLI check says.** Within these low-agreement pairs every score is a weak detector of the
# real label problem: the best ROC AUC is about 0.59 and the best average precision about 0.33 against a
# chance of 0.25, so ranking by any of them would put roughly one questionable gold label in three among
# the top of the list. The action score is above chance (ROC AUC 0.574, interval excluding 0.5; Spearman
# 0.22 with the crowd's entropy) but not better than the simplest alternatives: the loss at the last
# checkpoint, AUM and the trapezoid variants are slightly *better* at ranking the gold-differs pairs (by
# 0.01 to 0.02; their paired intervals of the difference exclude 0), and the training-pass action is as good. Against the model's predictive entropy,
# the NLI comparison of Angelov et al., the action score correlates more with human disagreement (paired
# interval of the Spearman difference below 0 for mean entropy) and ranks the gold-differs pairs about as
# well (ROC AUC interval of the difference includes 0). EL2N is at chance, and cartography variability
# (the ambiguity axis, not a difficulty score) at or below it. One clean run (one seed), 8,331 training pairs, one model: the numbers say what loss-based
# scores of a small fine-tuned model see on ambiguous NLI pairs, not more.
#
# ## Reproduce
#
# ```bash
# # on a machine with a CUDA GPU (the carried wheels and model copy: see gpu/run_batch.py)
# python3 gpu/run_batch.py --out gpu_out --budget-s 420 --groups sst2_full squad detection
# python3 gpu/run_batch.py --out gpu_out_snli --budget-s 280 --skip-bench --groups snli_chaos snli_detection
# python gpu/summarize.py gpu_out_unpacked gpu_out_snli_unpacked --dest results/gpu --data-dir ../shared/data
# nlpdiff run gpu_runs
# ```
#
# The parameters of every job are in `params/device/gpu_batch.yaml` and in each run's `run.json`.
