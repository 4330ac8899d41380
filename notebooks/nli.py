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
# # Natural language inference: do hard pairs match human disagreement?

# %% tags=["parameters"]
data_dir = None  # None: $NLPDIFF_DATA_DIR (ChaosNLI exists only as local folders)
run_dir = "runs/nli/run"  # the headline SNLI fine-tuned run; the others go to <run_dir>/../more/<name>/run
n_other_train = 500  # SNLI dev pairs outside ChaosNLI added to the training pool
heldout_size = 1000  # SNLI dev pairs outside ChaosNLI held out for accuracy
pool_seed = 0  # which other pairs are drawn
train_size = None  # None: the whole pool; a number: a stratified subsample of it (smoke profile)
eval_size = None
epochs = 3
checkpoints_per_epoch = 2
batch_size = 32
learning_rate = 1e-4
max_length = 128
mnli_finetune = False  # True: MNLI is also fine-tuned (hours on 2 CPU cores); False: only the probe and scratch runs (its headline: the probe, seed 0), as the published cpu profile
mnli_train_size = None  # None: all 1,599 ChaosNLI MNLI pairs
mnli_epochs = 2
mnli_checkpoints_per_epoch = 3
seeds = [0, 1, 2]  # probe and scratch runs
probe_epochs = 10
scratch_epochs = 10
n_boot = 1000  # bootstrap resamples of the intervals (the paired tests use 2,000)
gpu_results = "results/gpu"  # committed GPU runs (skipped when missing)

# %% tags=["remove-input", "remove-stderr"]
# train or reuse the runs (the code: notebooks/nli.py)
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from nlpdiff import plots
from nlpdiff_study import nli
from nlpdiff.config import from_flat
from nlpdiff.dynamics import load_or_train

plots.enable_offline()
from nlpdiff_study import pages  # noqa: E402

pages.use_for_dataframes()  # every table: no index, fixed decimals, missing values as a dash
pd.set_option("display.precision", 3)
pd.set_option("display.max_colwidth", 100)

spec = nli.register_snli_pool(data_dir, n_other_train=n_other_train, heldout_size=heldout_size, seed=pool_seed)
plan = nli.study_runs(run_dir, data_dir=data_dir, train_size=train_size, eval_size=eval_size, epochs=epochs,
                      checkpoints_per_epoch=checkpoints_per_epoch, batch_size=batch_size,
                      learning_rate=learning_rate, max_length=max_length, mnli_train_size=mnli_train_size,
                      mnli_epochs=mnli_epochs, mnli_checkpoints_per_epoch=mnli_checkpoints_per_epoch, seeds=seeds,
                      probe_epochs=probe_epochs, scratch_epochs=scratch_epochs, mnli_finetune=mnli_finetune)
params = {name: from_flat(p) for name, p in plan.items()}  # bad parameters fail here, before any training
runs = {name: load_or_train(p) for name, p in params.items()}
mnli_head = "mnli_finetune" if mnli_finetune else f"mnli_probe_s{seeds[0]}"  # MNLI's headline run
mnli_label = "MNLI, fine-tuned" if mnli_finetune else f"MNLI, probe (seed {seeds[0]})"

# %% tags=["remove-input"]
# the finding, read from the tables (the code: notebooks/nli.py)
signals = {name: nli.chaosnli_signals(run.samples) for name, run in runs.items()}
# intervals over pairs for the fine-tuned runs; the seed runs are summarised over seeds instead
tables = {name: nli.chaosnli_table(run.scores, signals[name],
                                   n_boot=n_boot if name in ("snli_finetune", mnli_head) else 0)
          for name, run in runs.items()}
snli_table = tables["snli_finetune"]
ft = snli_table.set_index("score")
display(pages.finding(
    f"**Finding.** On the {len(signals['snli_finetune']):,} ChaosNLI pairs of the fine-tuned SNLI run, the action "
    f"score's Spearman correlation with the entropy of the 100 crowd labels is {ft.at['action', 'spearman_entropy']:.3f} "
    f"[{ft.at['action', 'spearman_entropy_lo']:.3f}, {ft.at['action', 'spearman_entropy_hi']:.3f}], against "
    f"{ft.at['mean_entropy', 'spearman_entropy']:.3f} for the model's predictive entropy; it ranks the pairs whose gold "
    f"label differs from the crowd's majority with ROC AUC {ft.at['action', 'roc_auc']:.3f} (chance 0.5)."))

# %% tags=["hide-input"]
# the key figure: every score against the crowd's disagreement
display(nli.interval_chart(snli_table, "spearman_entropy", chance=0.0,
                           title="Spearman with ChaosNLI entropy (95 % bootstrap interval), fine-tuned SNLI"))

# %% [markdown]
# ## What this page asks
#
# *This page is one execution of `notebooks/nli.py`. It trains (or reuses) its runs with
# `nlpdiff.dynamics.load_or_train`; the tables come from `nlpdiff_study.nli`.*
#
# Natural language inference (NLI) asks whether a hypothesis follows from a premise (entailment),
# contradicts it, or neither (neutral). **ChaosNLI** (Nie, Zhou and Bansal, EMNLP 2020) gave 1,514
# SNLI and 1,599 MNLI dev pairs **100 new crowd labels each**. That is a direct measurement of how much
# people disagree about a pair: the **entropy** of the 100 labels (0 bits: all agree; log2 3 = 1.58
# bits: an even three-way split). We ask whether the samples that the **action score** (a sample's loss
# summed over training checkpoints) calls hard are the ones people disagree about, and whether it does
# better than the model's own **predictive entropy**, the baseline of Angelov et al. (TrustNLP 2025).
#
# Two facts about the data shape what can be measured:
#
# * **The original 5 labels carry no graded signal here.** ChaosNLI *chose* its pairs for low agreement
#   among the original annotators: on every one of them exactly 3 of the 5 agree. Their agreement is
#   the same on every pair, so only the 100 new labels can rank the pairs by disagreement.
# * **A circularity.** We also ask how well each score ranks first the pairs whose original gold label
#   differs from the majority of the 100 ("gold differs"). That target is defined through the gold
#   label, and the action score is a sum of losses *of the gold label*, while predictive entropy
#   ignores the label altogether. On that target a loss-based score is favoured by construction; the
#   Spearman correlation with the human entropy, which involves no gold label, is the fairer comparison.
#
# **The runs.** SNLI has no training split offline, so the training pool is SNLI dev: every ChaosNLI
# pair that is in SNLI dev (matched by premise and hypothesis text) plus other dev pairs, and a held-out
# part of dev pairs *outside* ChaosNLI for accuracy (`nlpdiff_study.nli.register_snli_pool`). MiniLM is
# fine-tuned on it (the headline), and the cheap backbones (`probe`: frozen MiniLM features and an MLP;
# `scratch`: an n-gram bag trained from nothing) over three seeds. On MNLI, no held-out pair exists
# offline beyond ChaosNLI's 1,599: the runs train on all of them (every pair gets a score) and report
# **training accuracy only**; we chose this over K-fold training, which would cost K fine-tunings. A
# larger fine-tuned SNLI run from a GPU machine (`results/gpu/`) closes the page.

# %%
summary = nli.run_summary(runs)
display(Markdown(f"**Pool.** {spec.description} **Runs:** {len(runs)}, "
                 f"{summary['wall_time_s'].sum() / 60:.1f} minutes of wall time in all (each run's `run.json`)."))
display(summary)
head = summary.set_index("run")
display(Markdown(
    f"The fine-tuned SNLI run reaches a **held-out accuracy of {head.at['snli_finetune', 'heldout_accuracy']:.3f}** on "
    f"{int(head.at['snli_finetune', 'n_heldout']):,} SNLI dev pairs outside ChaosNLI (training accuracy "
    f"{head.at['snli_finetune', 'train_accuracy']:.3f}, eval pass at the last checkpoint). The MNLI headline run "
    f"(`{mnli_head}`) reaches a **training accuracy of {head.at[mnli_head, 'train_accuracy']:.3f}** on its "
    f"{int(head.at[mnli_head, 'n_train']):,} pairs (no held-out MNLI)."
    + ("" if mnli_finetune else " *No fine-tuned MNLI run in this execution (`mnli_finetune = False`): MNLI's "
       "headline is the probe.*")
    + f" A three-way classifier that always "
    f"says the commonest class would score {runs['snli_finetune'].samples['label'].value_counts(normalize=True).max():.3f} "
    f"on the SNLI pool."
))

# %% [markdown]
# ## Every score against the 100 crowd labels (fine-tuned, SNLI)
#
# For every score of the headline run, over the ChaosNLI pairs among its training samples: the Spearman
# correlation with the human entropy, with a 95 % bootstrap interval over pairs, and the partial Spearman
# correlation given the pair's length in words (does a score agree with people only because long pairs
# are both hard to learn and hard to judge?); then ROC AUC and average precision at ranking first the
# pairs whose gold label differs from the majority of the 100, with chance levels (ROC AUC 0.5, average
# precision = the share of such pairs). The last row, `length_words`, is the length itself, a reference.

# %%
display(snli_table.drop(columns=["reference"]))
t = snli_table.set_index("score")
sig = signals["snli_finetune"]
display(Markdown(
    f"{len(sig):,} ChaosNLI pairs; their human entropy averages {sig['entropy'].mean():.2f} bits, and on "
    f"{int(sig['gold_differs'].sum())} of them ({sig['gold_differs'].mean():.1%}) the gold label differs from the "
    f"majority of the 100. The **action score**: Spearman with the human entropy **{t.at['action', 'spearman_entropy']:.3f}** "
    f"[{t.at['action', 'spearman_entropy_lo']:.3f}, {t.at['action', 'spearman_entropy_hi']:.3f}] (given length: "
    f"{t.at['action', 'partial_spearman_given_length']:.3f}); ROC AUC **{t.at['action', 'roc_auc']:.3f}** "
    f"[{t.at['action', 'roc_auc_lo']:.3f}, {t.at['action', 'roc_auc_hi']:.3f}] (chance 0.5), average precision "
    f"**{t.at['action', 'average_precision']:.3f}** (chance {t.at['action', 'chance_average_precision']:.3f}). "
    f"Predictive entropy (mean over checkpoints): Spearman {t.at['mean_entropy', 'spearman_entropy']:.3f}, ROC AUC "
    f"{t.at['mean_entropy', 'roc_auc']:.3f}. Length alone: Spearman {t.at['length_words', 'spearman_entropy']:.3f}, "
    f"ROC AUC {t.at['length_words', 'roc_auc']:.3f}. The best score by Spearman is `{snli_table.loc[~snli_table.reference].sort_values('spearman_entropy').iloc[-1]['score']}`, "
    f"by ROC AUC `{snli_table.loc[~snli_table.reference].sort_values('roc_auc').iloc[-1]['score']}`."
))

# %%
display(nli.interval_chart(snli_table, "roc_auc", chance=0.5,
                           title="ROC AUC, gold differs from the majority of 100 (dashed: chance)"))

# %% [markdown]
# ## Action score against predictive entropy: paired tests
#
# Angelov et al. report that the action score captures difficult instances that predictive entropy
# misses. Both scores rank the same pairs, so we compare them *paired*: the difference of their Spearman
# correlations with the human entropy by a paired bootstrap (the same resampled pairs for both scores,
# 2,000 resamples), and the difference of their ROC AUCs by DeLong's test for correlated ROC curves;
# p values are Holm-adjusted across the four comparisons of each run (the mean and the final
# predictive entropy). A positive difference favours the action score. Read the ROC AUC rows with the
# circularity of the introduction in mind: that target is defined through the gold label, which the
# action score sees and predictive entropy does not.

# %%
comparisons = pd.concat([nli.entropy_comparison(runs[name].scores, signals[name]).assign(run=name)
                         for name in ("snli_finetune", mnli_head)], ignore_index=True)
display(comparisons)
c = comparisons.set_index(["run", "baseline", "metric"])


def sentence(run, baseline):
    sp, auc = c.loc[(run, baseline, "spearman_entropy")], c.loc[(run, baseline, "roc_auc_gold_differs")]
    return (f"against `{baseline}`: Spearman difference {sp['diff']:+.3f} [{sp['low']:+.3f}, {sp['high']:+.3f}], "
            f"Holm p = {sp['p_holm']:.3g}; ROC AUC difference {auc['diff']:+.3f}, DeLong Holm p = {auc['p_holm']:.3g}")


display(Markdown("\n".join(
    f"* **{label}**, action " + "; ".join(sentence(run, b) for b in ("mean_entropy", "final_entropy")) + "."
    for run, label in (("snli_finetune", "SNLI, fine-tuned"), (mnli_head, mnli_label)))))

# %% [markdown]
# ## Over seeds and backbones
#
# The cheap backbones, three seeds each, on the same pairs: the mean over seeds of each metric with a
# 95 % Student-t interval over seeds, and the action score against mean predictive entropy by a paired
# t test over the same seeds (Holm across the two metrics). With three seeds the intervals are wide.

# %%
seed_rows, seed_tests = [], []
for task in ("snli", "mnli"):
    for backbone in ("probe", "scratch"):
        group = {name: tables[name] for name in runs if name.startswith(f"{task}_{backbone}_s")}
        if not group:
            continue
        seed_rows.append(nli.seed_summary(group).assign(task=task, backbone=backbone))
        if len(group) >= 2:
            seed_tests.append(nli.seed_comparison(group).assign(task=task, backbone=backbone))
by_seed = pd.concat(seed_rows, ignore_index=True)
focus = ["action", "action_train", "mean_loss", "final_loss", "mean_entropy", "final_entropy",
         "cartography_confidence", "aum", "length_words"]
display(by_seed[by_seed.score.isin(focus)][["task", "backbone", "score", "n_seeds", "spearman_entropy",
                                            "spearman_entropy_lo", "spearman_entropy_hi", "roc_auc", "roc_auc_lo",
                                            "roc_auc_hi", "average_precision", "chance_average_precision"]])
if seed_tests:
    seed_tests = pd.concat(seed_tests, ignore_index=True)
    display(seed_tests)
    display(Markdown("\n".join(
        f"* {r.task.upper()}, {r.backbone}, {r.metric.replace('_', ' ')}: difference action minus mean entropy "
        f"{pages.format_number(r.mean_diff, signed=True)} [{pages.format_number(r.low, signed=True)}, "
        f"{pages.format_number(r.high, signed=True)}] over {r.n} seeds, Holm p {pages.format_p(r.p_holm)}."
        for r in seed_tests.itertuples())))

# %%
display(Markdown(f"**{mnli_label}** (`{mnli_head}`; training accuracy only; every pair scored):"))
display(tables[mnli_head].drop(columns=["reference"]))
m = tables[mnli_head].set_index("score")
display(Markdown(
    f"On MNLI the action score's Spearman with the human entropy is **{m.at['action', 'spearman_entropy']:.3f}** "
    f"[{m.at['action', 'spearman_entropy_lo']:.3f}, {m.at['action', 'spearman_entropy_hi']:.3f}], its ROC AUC "
    f"**{m.at['action', 'roc_auc']:.3f}** (chance 0.5) and average precision {m.at['action', 'average_precision']:.3f} "
    f"(chance {m.at['action', 'chance_average_precision']:.3f}); predictive entropy: Spearman "
    f"{m.at['mean_entropy', 'spearman_entropy']:.3f}, ROC AUC {m.at['mean_entropy', 'roc_auc']:.3f}."
))
display(nli.interval_chart(tables[mnli_head], "spearman_entropy", chance=0.0,
                           title=f"Spearman with ChaosNLI entropy, {mnli_label}"))

# %% [markdown]
# ## Pooled over every run: the declared comparison
#
# The question declared in Methods: is the action score's Spearman correlation with the human entropy
# higher than that of each declared baseline (`mean_entropy`, the seed study's baseline, and the primary
# baselines a run computes)? One estimate per baseline over every run of this page (the fine-tuned SNLI run
# and each seed of the probe and scratch runs on SNLI and MNLI): the mean over cells (task x backbone) of
# the paired differences action minus baseline, with a two-stage cluster bootstrap (cells, then seeds),
# Holm over the baselines, and "equivalent" only when the 90 % interval lies inside the declared margin
# (0.05 in Spearman's rho). The pooled runs are few (a handful of cells, three seeds each), so
# "not shown to differ" comes with the smallest difference this design detects.

# %%
from nlpdiff_study import comparisons as declared  # noqa: E402

cells = {name: {"task": p.task, "backbone": p.backbone, "seed": p.seed} for name, p in params.items()}
pooled = nli.pooled_agreement(tables, cells)
display(pooled[["baseline", "n_cells", "n_pairs", "estimate", "low", "high", "mdd", "p_holm", "p_equivalence_holm",
                "verdict"]])
display(Markdown(
    f"Pooled over {len(tables)} runs in {int(pooled['n_cells'].max())} cells, the action score's Spearman "
    "correlation with the human entropy is " + "; ".join(declared.pooled_phrases(pooled))
    + f" (two-stage cluster bootstrap; Holm over the {len(pooled)} baselines; equivalence margin "
    f"{declared.MARGIN_RHO} in Spearman's rho)."))

# %% [markdown]
# ## The larger fine-tuned SNLI run from a GPU
#
# A fine-tuned MiniLM trained on a GPU machine on a larger pool (every SNLI dev pair except 1,500 held out
# outside ChaosNLI; `gpu/snli_chaos.py`), read from the committed results. Only a few score columns
# were committed for it (no predictive entropy), so it has no paired test against entropy here.

# %%
gpu_run = Path(gpu_results) / "snli_chaos" / "snli_clean"
gpu_signals = pd.DataFrame()
if (gpu_run / "scores.parquet").is_file():
    import json

    gpu_info = json.loads((gpu_run / "run.json").read_text())
    gpu_metrics = json.loads((gpu_run / "metrics.json").read_text())
    gpu_samples = nli.with_chaos_columns(pd.read_parquet(gpu_run / "samples.parquet"), data_dir)
    gpu_samples["premise"] = gpu_samples["premise"].fillna("")
    gpu_samples["hypothesis"] = gpu_samples["hypothesis"].fillna("")
    gpu_signals = nli.chaosnli_signals(gpu_samples)
if len(gpu_signals) < 3:
    display(Markdown(f"`{gpu_run}` is not here, or the data dir's ChaosNLI does not hold its pairs (it is committed "
                     "in the repository's `results/gpu/` and read with the real ChaosNLI)."))
else:
    gpu_table = nli.chaosnli_table(pd.read_parquet(gpu_run / "scores.parquet"), gpu_signals, n_boot=n_boot)
    display(gpu_table.drop(columns=["reference"]))
    g = gpu_table.set_index("score")
    display(Markdown(
        f"{gpu_info['resolved']['n_train']:,} training pairs, {gpu_info['params']['epochs']} epochs, "
        f"{gpu_info['resolved']['n_checkpoints']} checkpoints on {gpu_info['hardware']['accelerator']}; held-out "
        f"accuracy **{gpu_metrics['final']['heldout_accuracy']:.3f}** on {gpu_info['resolved']['n_heldout']:,} pairs. "
        f"Action score: Spearman with the human entropy **{g.at['action', 'spearman_entropy']:.3f}** "
        f"[{g.at['action', 'spearman_entropy_lo']:.3f}, {g.at['action', 'spearman_entropy_hi']:.3f}], ROC AUC "
        f"**{g.at['action', 'roc_auc']:.3f}** [{g.at['action', 'roc_auc_lo']:.3f}, {g.at['action', 'roc_auc_hi']:.3f}], "
        f"average precision {g.at['action', 'average_precision']:.3f} (chance "
        f"{g.at['action', 'chance_average_precision']:.3f})."
    ))

# %% [markdown]
# ## What this says
#
# The answer, generated from the tables above with fixed rules (an interval that excludes 0, or a Holm
# p value below 0.05, counts as a finding; a single run's "not shown to differ" is no evidence of equality:
# the pooled comparison above is the declared answer):

# %%
def verdict(table, cmp, label):
    r = table.set_index("score").loc["action"]
    lines = [f"**{label}.** The action score "
             + ("agrees" if r["spearman_entropy_lo"] > 0 else "does not clearly agree")
             + f" with human disagreement (Spearman {r['spearman_entropy']:.3f}, interval "
             f"[{r['spearman_entropy_lo']:.3f}, {r['spearman_entropy_hi']:.3f}]); it ranks gold-differs pairs "
             + ("above chance" if r["roc_auc_lo"] > 0.5 else "no better than chance")
             + f" (ROC AUC {r['roc_auc']:.3f})."]
    for b in ("mean_entropy", "final_entropy"):
        sp = cmp.loc[(b, "spearman_entropy")]
        if sp["p_holm"] < 0.05:
            word = "better than" if sp["diff"] > 0 else "worse than"
        else:
            word = "not shown to differ from"
        lines.append(f"On the label-free target (human entropy) it is {word} `{b}` "
                     f"(difference {sp['diff']:+.3f}, Holm p = {sp['p_holm']:.3g}).")
    return " ".join(lines)


display(Markdown("\n\n".join(
    verdict(tables[run], c.loc[run], label)
    for run, label in (("snli_finetune", "SNLI, fine-tuned"), (mnli_head, mnli_label)))))
