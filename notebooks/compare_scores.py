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
# # How the action score relates to other scores and to humans

# %% tags=["parameters"]
runs_dir = "runs/cpu"  # the profile's run folders (runs/<profile>)
profile = "cpu"
n_boot = 200  # bootstrap resamples for the intervals
top_fraction = 0.1  # "hardest" = the top 10% under a score

# %% tags=["remove-input"]
# read the profile's runs (the code: notebooks/compare_scores.py)
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from nlpdiff import compare, plots, rundir

plots.enable_offline()
from nlpdiff_study import pages  # noqa: E402

pages.use_for_dataframes()  # every table: no index, fixed decimals, missing values as a dash
pd.set_option("display.max_colwidth", 100)
pd.set_option("display.precision", 3)
pd.set_option("display.max_rows", None)  # no table of this page is cut

index = compare.run_index(runs_dir, kinds=("train",), exclude=compare.ANALYSIS_FOLDERS)  # the plan's runs only
if index.empty:
    raise FileNotFoundError(f"runs_dir={runs_dir!r} holds no complete run: run the workflow first")

TASK_NAMES = {"sst2": "Sentiment (SST-2)", "squad": "Question answering (SQuAD)", "samsum": "Summarization (SAMSum)",
              "snli_chaosnli": "Natural language inference (SNLI dev with ChaosNLI)"}


def headline(task):
    """The task's reference run: fine-tuned, seed 0, clean labels, default split."""
    rows = index[(index.task == task) & (index.noise_rate == 0)]
    default_split = rows["train_split"].mode()
    rows = rows[(rows.train_split == "train") | (rows.train_split.isna())] if len(default_split) else rows
    for backbone in ("finetune", "probe", "scratch"):
        pick = rows[rows.backbone == backbone].sort_values("seed")
        if len(pick):
            return rundir.load_run(pick.iloc[0]["path"])
    return None


headlines = {t: headline(t) for t in TASK_NAMES}
headlines = {t: r for t, r in headlines.items() if r is not None}

# %% tags=["remove-input"]
# the finding, read from the runs (the code: notebooks/compare_scores.py)
same = {t: compare.linearity(r.scores, "action", "mean_loss") for t, r in headlines.items()}
rho = [v["spearman"] for v in same.values()]
first_task = next(iter(headlines))
rho_low, rho_high = f"{min(rho):.3f}", f"{max(rho):.3f}"
display(pages.finding(
    f"**Finding.** Every sample has the same checkpoints, so in each of the {len(headlines)} tasks' reference runs the "
    f"action score ranks the samples as the mean loss does (Spearman {rho_low + ' in each' if rho_low == rho_high else f'{rho_low} to {rho_high}'}); "
    f"what sets it apart lies only in its variants. The heat map shows how every score ranks the samples of "
    f"{TASK_NAMES[first_task]} against every other; the sections below ask about stability and human difficulty."))

# %% tags=["hide-input"]
# the key figure: every score against every other, first task's reference run
display(plots.heatmap(compare.correlation_matrix(headlines[first_task].scores),
                      title=f"Spearman correlations, {TASK_NAMES[first_task]}"))

# %% [markdown]
# ## What this chapter asks
#
# This chapter reads every training run of the study's profile and asks, per task (sentiment on
# SST-2, extractive QA on SQuAD, summarization on SAMSum), four questions of the action score and
# of every baseline score:
#
# 1. **Agreement**: how do the scores rank the same samples? Spearman and Kendall correlations with
#    bootstrap 95% intervals.
# 2. **Stability**: does a score rank the samples the same way when only the seed changes, or when
#    the backbone changes (a model trained from scratch, a probe on frozen features, a fine-tuned
#    encoder)?
# 3. **Human difficulty**: does it agree with what people find hard: rater disagreement on Rotten
#    Tomatoes sentences and tweets, annotator disagreement on the SQuAD dev set, crowd-verified
#    label errors in the IMDB test set? A longer text has a larger summed loss, so we also report
#    partial correlations that control for length (the `length_words` row says how much length
#    itself explains).
# 4. **Replication**: do we see what Angelov, Tashu and Valdenegro-Toro (TrustNLP 2025) reported?
#
# Every score is oriented so that higher = harder. One fact frames everything: every sample has
# the same checkpoints, so the plain action score is T times the mean loss and ranks samples
# identically (Spearman 1.000 below, in every run). What distinguishes it from "the loss" is only
# in its variants (training pass, per-step integration, early truncation, summed token NLL).

# %% tags=["hide-input"]
display(Markdown(f"**{len(index)} runs** of the `{profile}` profile, "
                 f"{index['wall_time_s'].sum() / 60:.0f} minutes of training in all:"))
display(index.drop(columns=["path"]))
if index.filter(like="heldout").isna().any(axis=None):
    display(Markdown("Empty held-out cells: runs trained with `eval_split: null` (the human-rating sets, scored on "
                     "every one of their samples) have no held-out split, and question answering reports exact "
                     "match and F1 instead of accuracy."))
display(Markdown("Reference runs: " + "; ".join(
    f"{TASK_NAMES[t]}: `{r.path.parent.name}` ({r.info['resolved']['n_train']:,} samples, "
    f"{r.params['backbone']}, {r.info['resolved']['n_checkpoints']} checkpoints)" for t, r in headlines.items())))

# %% [markdown]
# ## 1. Agreement between scores
#
# For each task's reference run: the rank correlation of the action score with every other score
# (with a bootstrap 95% interval over samples), then the full Spearman matrix as a heat map.

# %%
agreement = {}
for task, run in headlines.items():
    table = compare.correlation_table(run.scores, n_boot=n_boot)
    agreement[task] = table
    vs_action = table[(table.a == "action") | (table.b == "action")].copy()
    vs_action["other"] = np.where(vs_action.a == "action", vs_action.b, vs_action.a)
    display(Markdown(f"### {TASK_NAMES[task]}"))
    display(vs_action[["other", "spearman", "spearman_lo", "spearman_hi", "kendall", "kendall_lo", "kendall_hi", "n"]]
            .sort_values("spearman", ascending=False).reset_index(drop=True))
    display(plots.heatmap(compare.correlation_matrix(run.scores), title=f"Spearman correlations, {TASK_NAMES[task]}"))

# %%
lines = []
for task, run in headlines.items():
    eq = compare.linearity(run.scores, "action", "mean_loss")
    lines.append(f"* {TASK_NAMES[task]}: Spearman(action, mean loss) = {eq['spearman']:.3f} over {eq['n']:,} samples.")
display(Markdown("**The action score and the mean loss rank samples identically** (same checkpoints for "
                 "every sample):\n" + "\n".join(lines)))

# %% [markdown]
# ## 2. Stability across seeds and backbones
#
# Runs that scored the same samples (same task, split, subsample and labels) but differ in their
# training seed, or in their backbone. For each score, the mean, minimum and maximum rank
# correlation over pairs of runs. A score that changes a lot with the seed measures the run as
# much as the sample (Rampp et al. 2024).

# %%
groups = index.groupby(["task", "train_split", "data_seed", "n_train", "noise_rate"], dropna=False)
stability_rows = []
for key, rows in groups:
    task = key[0]
    for backbone, brows in rows.groupby("backbone"):
        if brows["seed"].nunique() >= 2:
            tables = {f"seed {r.seed}": rundir.load_run(r.path).scores for r in brows.itertuples()}
            s = compare.stability_summary(compare.stability(tables))
            s.insert(0, "comparison", f"{len(tables)} seeds, {backbone}")
            s.insert(0, "task", task)
            stability_rows.append(s)
    if rows["backbone"].nunique() >= 2:
        first = rows.sort_values("seed").groupby("backbone").head(1)
        tables = {r.backbone: rundir.load_run(r.path).scores for r in first.itertuples()}
        s = compare.stability_summary(compare.stability(tables))
        s.insert(0, "comparison", "backbones: " + ", ".join(tables))
        s.insert(0, "task", task)
        stability_rows.append(s)
if stability_rows:
    stability_table = pd.concat(stability_rows, ignore_index=True)
    display(stability_table)
    action_stab = stability_table[stability_table.score == "action"]
    display(Markdown("**The action score's stability:**\n" + "\n".join(
        f"* {r.task}, {r.comparison}: mean rank correlation {r['mean']:.3f} (min {r['min']:.3f}); "
        f"rank {int((stability_table[(stability_table.task == r.task) & (stability_table.comparison == r.comparison)]['mean'] > r['mean']).sum()) + 1} "
        f"of {int(((stability_table.task == r.task) & (stability_table.comparison == r.comparison)).sum())} scores"
        for _, r in action_stab.iterrows())))
else:
    display(Markdown("No group of runs differing only in seed or backbone: run a profile with `seeds`."))

# %% [markdown]
# ## 3. Human difficulty
#
# Runs trained on data that carry human judgements. Each signal is oriented so that higher means
# harder for people: rater disagreement (the standard deviation of 15 to 99 raters' scores) and weak
# polarity (minus the absolute mean rating) for the VADER sentences and tweets; annotator
# disagreement (one minus the mean pairwise token F1 of the annotators' answers) on the SQuAD dev
# set; the share of crowd workers who judged an IMDB test label wrong. `partial_spearman_given_length`
# removes what length (in words) explains; the `length_words` row shows how much that is.

# %%
human_tables = []
for r in index.itertuples():
    run = rundir.load_run(r.path)
    signals, cols, length = compare.human_signals(run)
    if not cols:
        continue
    t = compare.human_agreement(run.scores, signals, cols, length_column=length, n_boot=n_boot)
    t.insert(0, "run", r.name)
    t.insert(1, "backbone", r.backbone)
    human_tables.append(t)
if human_tables:
    human = pd.concat(human_tables, ignore_index=True)
    focus = human[human.score.isin(["action", "action_train", "mean_entropy", "cartography_confidence",
                                   "cartography_variability", "aum", "el2n", "forgetting_events", "vog",
                                   "length_words"])]
    display(focus.pivot_table(index=["run", "signal"], columns="score", values="spearman").round(3))
    display(Markdown("Partial Spearman correlations given length:"))
    display(focus.dropna(subset=["partial_spearman_given_length"])
            .pivot_table(index=["run", "signal"], columns="score", values="partial_spearman_given_length").round(3))
    action_h = human[human.score == "action"]
    display(plots.heatmap(
        human[human.score != "length_words"].pivot_table(index="score", columns=["run", "signal"], values="spearman")
        .set_axis([f"{a} / {b}" for a, b in human.pivot_table(index="score", columns=["run", "signal"], values="spearman").columns], axis=1),
        title="Spearman correlation of each score with each human signal"))
else:
    human = pd.DataFrame()
    display(Markdown("No run in this profile trained on data with human signals."))

# %% [markdown]
# ### Crowd-verified label errors in the IMDB test set
#
# Northcutt, Athalye and Mueller (2021) had five crowd workers check 1,310 candidate label errors
# in the IMDB test set; 173 got at least three votes for the other label (confirmed errors). Ranking
# all 25,000 test reviews by each of our scores (from training on the test set itself, so every
# review gets a score), how well do we find the confirmed errors? The published baseline is their
# cross-validated confident-learning probabilities (`cleanlab_cv_pred_probs`): 1 - p(given label).
#
# **Caveat (circular).** The 1,310 candidates were chosen by that same published confident learning: they
# are, almost exactly, the reviews it ranks highest. Over all 25,000 reviews its ROC AUC is therefore high
# by construction, and no score can be compared with it there. The fair comparison is among the candidates
# only (second table): which of the reviews the crowd checked are the confirmed errors.

# %%
from nlpdiff import analysis, tasks

imdb_runs = index[(index.task == "imdb") & (index.train_split == "test")]


def imdb_label_errors(run_name, run):
    signals, _, _ = compare.human_signals(run)
    table = run.scores.merge(signals[["sample_id", "confirmed_error"]], on="sample_id")
    # the published probabilities are aligned with the test split's rows (ids repeat in IMDB test)
    published = tasks.load_imdb_cleanlab_pred_probs(run.params.get("data_dir")).iloc[run.samples["row_idx"]]
    p_given = np.where(run.samples["label"].to_numpy() == 1, published["p_pos"].to_numpy(),
                       published["p_neg"].to_numpy())
    table["published_confident_learning"] = 1 - p_given
    n_confirmed = int(table["confirmed_error"].sum())
    if n_confirmed in (0, len(table)):
        display(Markdown(f"Run `{run_name}` scored {len(table):,} reviews, {n_confirmed} of them confirmed errors: "
                         "nothing to rank."))
        return None
    det = analysis.detection_table(table.drop(columns=["confirmed_error"]), table["confirmed_error"],
                                   table["sample_id"])
    display(Markdown(f"Run `{run_name}`: {n_confirmed} confirmed errors among {len(table):,} reviews; "
                     f"chance average precision {det.attrs['chance_average_precision']:.4f}. All reviews "
                     "(`published_confident_learning` chose the candidates: circular here):"))
    display(det.round(4))
    checked = tasks.load_split("imdb_label_errors", "test", data_dir=run.params.get("data_dir"))["id"]
    cand = table[run.samples.set_index("sample_id").loc[table["sample_id"], "id"].isin(set(checked)).to_numpy()]
    if 0 < int(cand["confirmed_error"].sum()) < len(cand):
        within = analysis.detection_table(cand.drop(columns=["confirmed_error"]), cand["confirmed_error"],
                                          cand["sample_id"])
        display(Markdown(f"Among the {len(cand):,} candidates the crowd checked only ({int(cand['confirmed_error'].sum())} "
                         f"confirmed; chance average precision {within.attrs['chance_average_precision']:.4f}):"))
        display(within.round(4))
    return det


if len(imdb_runs):
    first = imdb_runs.sort_values("seed").iloc[0]
    imdb_detection = imdb_label_errors(first["name"], rundir.load_run(first["path"]))
else:
    imdb_detection = None
    display(Markdown("No run scored the IMDB test set in this profile."))

# %% [markdown]
# ## 4. Where the action score disagrees with the others
#
# The samples the action score ranks hardest, and those where its rank differs most from the
# predictive entropy's (the baseline of Angelov et al.) and from cartography's confidence.

# %%
def text_columns(run):
    try:
        fields = tasks.get_task(run.params["task"]).text_fields
    except Exception:  # a task registered by another notebook (the SNLI pool of the NLI page)
        fields = [c for c in ("premise", "hypothesis", "text", "sentence") if c in run.samples.columns]
    return [c for c in (*fields, "label", "is_corrupted") if c in run.samples.columns]


for task, run in headlines.items():
    display(Markdown(f"### {TASK_NAMES[task]}"))
    cols = text_columns(run)
    hardest, easiest = analysis.extremes(run.samples, run.scores, "action", k=5, columns=cols)
    display(Markdown("Hardest 5 under the action score:"))
    display(hardest)
    display(Markdown("Easiest 5:"))
    display(easiest)
    ranks = run.scores.set_index("sample_id")[["action", "mean_entropy", "cartography_confidence"]].rank(pct=True)
    for other in ("mean_entropy", "cartography_confidence"):
        gap = (ranks["action"] - ranks[other]).sort_values()
        picks = pd.concat([gap.tail(3), gap.head(3)])
        shown = run.samples.set_index("sample_id").loc[picks.index, cols].copy()
        shown["action_pct"] = ranks.loc[picks.index, "action"].round(3)
        shown[f"{other}_pct"] = ranks.loc[picks.index, other].round(3)
        display(Markdown(f"Largest disagreements with `{other}` (percentile ranks; first three: harder under action):"))
        display(shown.reset_index())

# %% [markdown]
# ## 5. Replicating Angelov et al. (TrustNLP 2025)
#
# Their abstract: the action score is "often capturing difficult instances that are missed by more
# established metrics like entropy", and in summarization it is "nearly linear" with entropy. We
# measure, per task, the share of the action score's hardest samples (top 10%) that the mean
# predictive entropy also ranks in its top 10%, and the linear (Pearson) correlation between the two.
#
# Part of "missed by entropy" holds **by construction**: entropy ignores the label, so a sample that
# the model predicts confidently and *wrongly* (a hard or mislabelled sample) has a high loss and a
# low entropy. `missed_mostly_wrong` is the share of the missed samples that the model got wrong at
# most checkpoints; `overlap_mostly_right` recomputes the overlap among the samples it got right at
# most checkpoints, where the label cannot explain the difference: what is left of the finding.

# %%
repl = []
for task, run in headlines.items():
    if "mean_entropy" not in run.scores:
        continue
    lin = compare.linearity(run.scores, "action", "mean_entropy")
    if "cartography_correctness" in run.scores:
        ov = compare.missed_by_construction(run.scores, "action", "mean_entropy", top_fraction)
    else:  # sequence tasks: no correctness per checkpoint
        ov = compare.top_k_overlap(run.scores, "action", "mean_entropy", top_fraction)
    repl.append({"task": TASK_NAMES[task], "top_k": ov["k"], "overlap": ov["overlap"], "missed_by_entropy": ov["missed_by_b"],
                 "chance_overlap": ov["chance_overlap"], "missed_mostly_wrong": ov.get("missed_mostly_wrong", np.nan),
                 "overlap_mostly_right": ov.get("overlap_mostly_right", np.nan),
                 "chance_mostly_right": ov.get("chance_mostly_right", np.nan),
                 "pearson": lin["pearson"], "r2_linear": lin["r2_linear"], "spearman": lin["spearman"]})
repl = pd.DataFrame(repl)
display(repl)

# %% [markdown]
# ## 6. Does the action score measure difficulty here?
#
# The answer, generated from the numbers above with fixed rules (so that it changes when the data
# do). A correlation interval above zero is met trivially with thousands of samples, so the criterion
# is **the best other score**: for each human signal, the action score's Spearman correlation is
# compared with that of the score outside the action family that agrees best with the signal, by a
# paired bootstrap over the same samples (1,000 resamples; difference = action minus best), with the
# Holm correction across the signals of the table. "Stable across seeds" means a mean rank
# correlation between seeds of at least 0.8. Each human signal is listed under the data set it
# belongs to: the Rotten Tomatoes sentences, tweets and IMDB reviews are sentiment data, but not SST-2.

# %%
from nlpdiff import stats as nstats
from nlpdiff_study.conclusions import not_baselines

SIGNAL_DATA = {"rt_human_ratings": "Rotten Tomatoes sentences (15 to 99 raters each)",
               "tweets_human_ratings": "Tweets (VADER raters)", "imdb": "IMDB test (crowd-checked label errors)",
               "squad": "SQuAD dev (several annotators per question)",
               "snli_chaosnli": "SNLI dev pairs relabelled by ChaosNLI (100 crowd labels each)",
               "chaosnli_snli": "SNLI dev pairs relabelled by ChaosNLI (100 crowd labels each)",
               "chaosnli_mnli": "MNLI dev pairs relabelled by ChaosNLI (100 crowd labels each)"}


def task_verdict(task):
    run = headlines[task]
    lines = [f"**{TASK_NAMES[task]}** (run `{run.path.parent.name}`)"]
    t = agreement[task]
    others = t[(t.a == "action") | (t.b == "action")].copy()
    others["other"] = np.where(others.a == "action", others.b, others.a)
    others = others[~others.other.isin(not_baselines())]
    if len(others):
        best = others.sort_values("spearman", ascending=False).iloc[0]
        lines.append(f"agrees most with `{best.other}` (Spearman {best.spearman:.2f}) outside the action family")
    if stability_rows:
        st = stability_table[(stability_table.task == task) & (stability_table.score == "action")
                             & stability_table.comparison.str.contains("seeds")]
        for _, r in st.iterrows():
            lines.append(f"{'stable' if r['mean'] >= 0.8 else 'not stable'} across seeds ({r.comparison}: mean {r['mean']:.2f})")
    return lines[0] + ": " + "; ".join(lines[1:]) + "."


def against_best(human):
    """Per (run, signal): action vs the best non-action score, paired bootstrap over the run's samples."""
    rows = []
    for (run_name, signal), h in human[human.score != "length_words"].groupby(["run", "signal"]):
        cands = h[~h.score.isin(not_baselines())].dropna(subset=["spearman"])
        if "action" not in set(h.score) or cands.empty:
            continue
        best = cands.sort_values("spearman", ascending=False).iloc[0]
        run = rundir.load_run(index.set_index("name").loc[run_name, "path"])
        signals, _, _ = compare.human_signals(run)
        table = run.scores.merge(signals[["sample_id", signal]], on="sample_id").dropna(subset=[signal])
        test = nstats.paired_bootstrap(nstats.spearman, table["action"], table[best.score], table[signal], n_boot=1000)
        rows.append({"data": SIGNAL_DATA.get(index.set_index("name").loc[run_name, "task"], run_name), "run": run_name,
                     "signal": signal, "action": test["metric_a"], "best other score": best.score,
                     "its spearman": test["metric_b"], "action - best": test["diff"], "low": test["low"],
                     "high": test["high"], "p": test["p"], "n": len(table)})
    out = pd.DataFrame(rows)
    if len(out):
        out["p (Holm)"] = nstats.holm(out.p)
    return out


display(Markdown("\n\n".join(task_verdict(t) for t in headlines)))
versus = against_best(human) if len(human) else pd.DataFrame()
if len(versus):
    display(Markdown("**Against the best other score, per human signal** (paired bootstrap, Holm-adjusted):"))
    display(versus.round(3))
    lines = []
    for data, rows in versus.groupby("data", sort=False):
        parts = []
        for _, r in rows.iterrows():
            verdict = ("better than" if r["low"] > 0 and r["p (Holm)"] < 0.05 else
                       "worse than" if r["high"] < 0 and r["p (Holm)"] < 0.05 else "not shown to differ from")
            parts.append(f"on `{r.signal}` (run `{r.run}`) the action score ({pages.format_number(r.action, 2)}) is "
                         f"{verdict} `{r['best other score']}` ({pages.format_number(r['its spearman'], 2)}; "
                         f"Holm p {r['p (Holm)']:.3f})")
        lines.append(f"**{data}**: " + "; ".join(parts) + ".")
    display(Markdown("\n\n".join(lines)))
else:
    display(Markdown("No run of this profile carries a human signal."))
display(Markdown(
    "In every run the plain action score and the mean loss rank samples identically, so each statement above "
    "is also a statement about the per-sample loss averaged over checkpoints. The sample sizes of this profile "
    "are in the table at the top; intervals are bootstrap intervals over samples and do not include the "
    "variation across seeds shown in section 2."))
