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
# # Conclusions: can the action score measure the difficulty of samples?

# %% tags=["parameters"]
results_dir = "results"  # the committed summaries: gpu/, mislabel/, curriculum/, nli/

# %% tags=["remove-input"]
# the answer, read from the committed tables (the code: notebooks/conclusions.py, nlpdiff_study.conclusions)
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import HTML, Markdown, display
from markdown_it import MarkdownIt
from myst_nb import glue

from nlpdiff import plots, stats
from nlpdiff_study import conclusions

plots.enable_offline()
from nlpdiff_study import pages  # noqa: E402

pages.use_for_dataframes()  # every table: no index, fixed decimals, missing values as a dash
root = Path(results_dir)
claims, skipped = conclusions.answer(root)
answer = conclusions.render(claims)
# glued as HTML: the book's first page pastes it from this page (a cross-page paste renders HTML, not Markdown)
glue("answer", HTML(MarkdownIt().render(answer)), display=False)
# the answer's first two sentences (flipped labels, the declared comparisons over the grid), then their figure,
# then the rest of the answer: the key figure stays on the first screen
_lead = 2 if len(claims) > 2 else len(claims)
display(Markdown(conclusions.render(claims[:_lead])))

# %% tags=["remove-input"]
# the key figure: the declared comparisons of the detection question, pooled over the label-noise grid
from nlpdiff_study import comparisons, mislabel  # noqa: E402

_labels, _ = mislabel.grid_summaries(mislabel.load_results(root / "mislabel"))
_pooled = comparisons.pooled_detection(pd.concat([g for g in (_labels, mislabel.gpu_summary(root / "gpu")) if len(g)],
                                                 ignore_index=True))
mislabel.pooled_chart(_pooled)

# %% tags=["remove-input"]
display(Markdown(conclusions.render(claims[_lead:])))
if skipped:
    display(Markdown("*Not in this answer yet (their result tables are not committed): "
                     + ", ".join(f"`{s}`" for s in skipped) + ".*"))

# %% [markdown]
# *This page reads the committed result tables under `results/` (the parts of the study that are
# computed on other days and machines commit a small summary each); it trains nothing. Every number
# in its prose is read from those tables by `nlpdiff_study.conclusions`, and a test checks that the page
# shows no number that was not read.*
#
# ## The declared comparisons, pooled over the label-noise grid
#
# The chart above and the table below: the action score's ROC AUC minus that of each primary baseline declared
# in Methods, over every cell of the label-noise grid (the cheap backbones' parts under `results/mislabel/` and
# the fine-tuned GPU grid) and its seeds: the estimate weighs every cell the same, its 95 % and 90 % intervals
# come from a two-stage cluster bootstrap (cells, then seeds within a cell), `p_holm` is Holm over the baselines
# for "different", `p_equivalence_holm` for "equivalent within the margin" (two one-sided tests), and `mdd` is
# the minimum detectable difference (80 % power). A baseline that only some cells computed is pooled over those
# cells.

# %% tags=["remove-input"]
pages.table(_pooled[["baseline", "n_cells", "n_pairs", "estimate", "low", "high", "low90", "high90", "mdd",
                     "p_holm", "p_equivalence_holm", "verdict"]])

# %% [markdown]
# ## Where each sentence comes from
#
# One row per sentence of the answer: the analysis, the committed table its numbers were read from, the
# test it rests on, the family its p values are adjusted over, and the equivalence margin declared in
# [Methods](../methods.md) before the results.

# %% tags=["remove-input"]
pages.table(pd.DataFrame([{"analysis": c.analysis, "table": sorted({v.source for v in c.slots.values()})[0],
                           "test": c.test, "family": c.family, "margin": c.margin} for c in claims]))

# %% [markdown]
# ## Finding flipped labels: the action score against the best other score, cell by cell
#
# The fine-tuned grid of the GPU page: every task, noise rate and noise type, three seeds each. For each
# cell, the action score's ROC AUC, the best score outside the action family (the action score, the mean
# loss, and the variants `action_train`, `action_trapezoid`, `action_train_trapezoid`, `early_action`;
# cartography variability is not a candidate either: it measures ambiguity, not difficulty),
# and a paired t test over the same seeds of the difference, Holm-adjusted across the cells of the table.
# Chance is 0.5 in every cell.

# %% tags=["hide-input"]
cells = pd.read_csv(root / "gpu" / "summary_detection_cells.csv")
per_run = pd.read_csv(root / "gpu" / "summary_detection.csv")
rows = []
for (task, rate, kind), cell in cells.groupby(["task", "noise_rate", "noise_type"]):
    act = cell[cell.score == "action"].iloc[0]
    best = cell[~cell.score.isin(conclusions.not_baselines())].sort_values("roc_auc_mean").iloc[-1]
    runs = per_run[(per_run.task == task) & (per_run.noise_rate == rate) & (per_run.noise_type == kind)]
    a = runs[runs.score == "action"].sort_values("seed").roc_auc.to_numpy()
    b = runs[runs.score == best.score].sort_values("seed").roc_auc.to_numpy()
    t = stats.paired_seed_test(a, b)
    rows.append({"task": conclusions.TASK_NAMES.get(task, task), "noise": f"{rate:.0%} {kind}",
                 "action AUROC": act.roc_auc_mean, "interval": f"{act.roc_auc_lo:.3f} to {act.roc_auc_hi:.3f}",
                 "best other score": best.score, "its AUROC": best.roc_auc_mean,
                 "action - best": t["mean_diff"], "p": t["p"], "seeds": t["n"]})
grid = pd.DataFrame(rows)
grid["p (Holm)"] = stats.holm(grid.p)
grid.round(3)

# %% tags=["remove-input"]
wins = int(((grid["action - best"] > 0) & (grid["p (Holm)"] < 0.05)).sum())
losses = int(((grid["action - best"] < 0) & (grid["p (Holm)"] < 0.05)).sum())
display(Markdown(
    f"In {wins} of {len(grid)} cells the action score beats the best other score after the Holm correction, "
    f"in {losses} it loses, and in the other {len(grid) - wins - losses} the difference is not significant with "
    f"{int(grid.seeds.min())} seeds."))

# %% [markdown]
# ## What the plain action score is, and what its variants add
#
# When every sample is scored at the same checkpoints, the action score $A(x) = \sum_t L_t(x)$ is the
# number of checkpoints times the mean loss, so the two rank samples identically: the table shows the
# largest difference between their ROC AUCs over every run of the grid. The variants differ: the
# training-pass action sums the loss of the steps that trained on the sample, and the early action
# stops summing at the first checkpoints. Their mean ROC AUC minus the action score's, over the runs:

# %% tags=["hide-input"]
wide = per_run.pivot_table(index="run", columns="score", values="roc_auc")
variants = [s for s in conclusions.ACTION_FAMILY if s in wide and s != "action"]
pd.DataFrame({
    "variant": variants,
    "mean AUROC minus action": [(wide[s] - wide["action"]).mean() for s in variants],
    "largest |difference|": [(wide[s] - wide["action"]).abs().max() for s in variants],
    "runs": [int(wide[s].notna().sum()) for s in variants],
}).round(4)

# %% [markdown]
# ## Human disagreement on NLI (ChaosNLI)
#
# Every score of the clean fine-tuned SNLI run against the entropy of a hundred crowd labels per pair
# (Spearman, 95 % bootstrap interval) and at ranking the pairs whose gold label differs from the crowd's
# majority first (ROC AUC; chance 0.5; average precision; chance is the share of such pairs). Predictive
# entropy ignores the label, so a confidently wrong prediction has a high loss and a low entropy: part
# of "the action score finds what entropy misses" holds by construction.

# %% tags=["hide-input"]
chaos = pd.read_csv(root / "gpu" / "summary_snli_chaosnli.csv")
chaos[["score", "spearman_entropy", "spearman_entropy_lo", "spearman_entropy_hi", "roc_auc",
       "average_precision", "chance_average_precision"]].sort_values("spearman_entropy", ascending=False).round(3)

# %% [markdown]
# ## Does the question-answering model learn? A learning curve
#
# Difficulty scores of a model that does not learn measure the failure, not the samples. The
# question-answering page's CPU run (a few hundred SQuAD questions) stays far below a useful F1. The
# curve below trains the same fine-tuned MiniLM at growing training-set sizes on this CPU
# (`nlpdiff grid learning_curve squad_cpu`, committed under `results/learning_curve/`) and sets
# it beside the full-data GPU run (every checkpoint of it: F1 against the training examples seen),
# held out on SQuAD dev questions.

# %% tags=["hide-input"]
curve_file = root / "learning_curve" / "squad_cpu" / "curve.csv"
gpu_qa = root / "gpu" / "squad" / "squad_full" / "metrics.json"
frames = []
if curve_file.is_file():
    cpu = pd.read_csv(curve_file)
    frames.append(cpu.assign(run=cpu.train_size.map(lambda n: f"CPU, {n:,} questions")))
if gpu_qa.is_file():
    import json

    m = json.loads(gpu_qa.read_text())
    bs = json.loads((gpu_qa.parent / "run.json").read_text())["params"]["batch_size"]
    frames.append(pd.DataFrame([{"run": "GPU, all training questions", "examples_seen": c["step"] * bs,
                                 "heldout_f1": c["heldout_f1"], "heldout_exact_match": c["heldout_exact_match"]}
                                for c in m["checkpoints"]]))
if frames:
    import altair as alt

    qa_curve = pd.concat(frames, ignore_index=True)
    display(alt.Chart(qa_curve).mark_line(point=True).encode(
        x=alt.X("examples_seen:Q", title="training examples seen"), y=alt.Y("heldout_f1:Q", title="held-out F1"),
        color=alt.Color("run:N", title=None)).properties(width=520, height=260))
    last = qa_curve.sort_values("examples_seen").groupby("run").tail(1)
    display(last[["run", "examples_seen", "heldout_exact_match", "heldout_f1"]].round(1).reset_index(drop=True))
    cpu_last = last[last.run.str.startswith("CPU")].sort_values("examples_seen")
    gpu_pass = qa_curve[qa_curve.run.str.startswith("GPU") & (qa_curve.heldout_f1 >= 40)].sort_values("examples_seen")
    if len(cpu_last) and len(gpu_pass):
        best = cpu_last.iloc[-1]
        display(Markdown(
            f"On this CPU the largest training set so far ({best.run.split(', ')[1]}, {int(best.examples_seen):,} "
            f"training examples seen) reaches held-out F1 {best.heldout_f1:.1f}; the full-data GPU run passes F1 40 at "
            f"its first checkpoint, after {int(gpu_pass.iloc[0].examples_seen):,} examples (F1 "
            f"{gpu_pass.iloc[0].heldout_f1:.1f}). The question-answering page's scores come from a model in the "
            f"lower part of this curve: read them as the difficulty of a model that is still learning the task."))
else:
    display(Markdown("*No learning curve committed yet (`results/learning_curve/squad_cpu/curve.csv`).*"))

# %% [markdown]
# ## Beside prior work
#
# Each finding of this book next to the published result it echoes or contradicts (the works and what they
# report are on the [References](../references.md) page). This book's numbers are read from the tables above;
# the published ones are quoted from the papers.

# %% tags=["remove-input"]
def _signed(x: float) -> str:
    """``+0.015``; never ``-0.000``."""
    return f"{x:+.3f}".replace("-0.000", "+0.000")


_p = _pooled.set_index("baseline")
_chaos = pd.read_csv(root / "gpu" / "summary_snli_chaosnli.csv").set_index("score") \
    if (root / "gpu" / "summary_snli_chaosnli.csv").is_file() else None
_rows = [
    ("The action score ranks samples exactly as their mean loss when every sample has the same checkpoints "
     "(proved in the test suite; equal ROC AUC in every cell).",
     "[Arriaga et al. 2023](../references.html#ref-arriaga2023) sum the epoch-end losses without normalisation, "
     "so their action scores are such multiples too.", "echoes (by construction)"),
]
if "aum" in _p.index:
    r = _p.loc["aum"]
    _rows.append((f"Finding flipped labels, pooled over {int(r.n_cells)} cells: action minus AUM {_signed(r.estimate)} "
                  f"ROC AUC (95 % interval {_signed(r.low)} to {_signed(r.high)}, {r.verdict}).",
                  "[Pleiss et al. 2020](../references.html#ref-pleiss2020) propose AUM as the detector of mislabelled "
                  "samples (image benchmarks, training-pass margins).",
                  "contradicts mildly here: the plain loss-based ranking is at least as good on these text grids"))
if "cartography_confidence" in _p.index:
    r = _p.loc["cartography_confidence"]
    _rows.append((f"Action against cartography confidence: {_signed(r.estimate)} ROC AUC (90 % interval {_signed(r.low90)} "
                  f"to {_signed(r.high90)}: {r.verdict} at the margin {r.margin:g}).",
                  "[Swayamdipta et al. 2020](../references.html#ref-swayamdipta2020): the hard-to-learn (low "
                  "confidence) region concentrates mislabelled samples (human review: 67 % against 13 % on "
                  "WinoGrande, 76 % against 4 % on SNLI).",
                  "echoes: the two rankings are nearly the same signal"))
if "final_entropy" in _p.index:
    r = _p.loc["final_entropy"]
    text = f"Action minus final predictive entropy {_signed(r.estimate)} ROC AUC ({r.verdict})"
    if _chaos is not None and {"action", "mean_entropy"} <= set(_chaos.index):
        text += (f"; on ChaosNLI the action correlates with human disagreement at Spearman "
                 f"{_chaos.loc['action', 'spearman_entropy']:.3f} against "
                 f"{_chaos.loc['mean_entropy', 'spearman_entropy']:.3f} for entropy (one run, one seed)")
    _rows.append((text + ".", "[Angelov et al. 2025](../references.html#ref-angelov2025), the seed study, compared "
                  "with entropy only: the action score \"often captures difficult instances missed by entropy\".",
                  "echoes"))
if "final_loss" in _p.index:
    r = _p.loc["final_loss"]
    _rows.append((f"Action minus the loss at the last checkpoint {_signed(r.estimate)} ROC AUC (95 % interval "
                  f"{_signed(r.low)} to {_signed(r.high)}, {r.verdict}).",
                  "[Chong et al. 2022](../references.html#ref-chong2022): the out-of-sample loss of a fine-tuned "
                  "model is a strong detector of real label errors.",
                  "not comparable directly: the last loss here is in-sample, where a model can memorise the flips"))
_rows.append(("Curricula ordered by the action score: see the Curriculum sentence of the answer (final accuracy and "
              "area under the learning curve against both controls).",
              "[Wu et al. 2021](../references.html#ref-wu2021): with the same pacing and a random order, the gains of "
              "curricula mostly vanish.", "echoes"))
display(Markdown("\n".join(["| this book | prior work | relation |", "|---|---|---|"]
                            + [f"| {a} | {b} | {c} |" for a, b, c in _rows])))

# %% [markdown]
# ## Limits
#
# - **Scale.** The CPU profile fine-tunes on a few thousand sentences and a few hundred questions per task,
#   and the GPU runs of the book come from one short call on a lent machine; the sample sizes of each run are in its
#   page and in the run index of the reproducibility page.
# - **Models.** One small encoder (all-MiniLM-L6-v2) for classification and question answering throughout,
#   and one small decoder (SmolLM2-135M) for summarization. A base-size encoder (MPNet-base, all-mpnet-base-v2,
#   about five times the parameters) was measured on two settings (SST-2 with flipped labels, and a small
#   sample of NoisyAG-News's real annotator errors), with small samples, a few seeds and one recipe (the
#   model-size page): nothing beyond base size, and no QA, NLI or summarization at two sizes.
# - **Seeds.** Intervals over a few seeds are wide; a paired test that is not significant here is not
#   evidence of no difference: the answer says "equivalent" only where two one-sided tests reject at the margin
#   declared in Methods, and "not shown to differ" (with the minimum detectable difference) otherwise.
# - **Readers.** The blind readings of top suspects (mislabel chapter) were made by one reader who knew the
#   study, not by independent annotators: they support no sentence of the answer.
# - **Ground truth.** Synthetic noise is known exactly but is not how real label errors look; the real
#   annotator errors (NoisyAG-News) are judged against the original AG-News labels, which have errors of their
#   own, and the fine-tuned models saw samples of the items, not all of them (the cheap backbones saw all);
#   ChaosNLI disagreement is real but measures ambiguity, not error.
