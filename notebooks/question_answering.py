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
# # Extractive question answering: the action score on SQuAD

# %% tags=["parameters"]
task = "squad"  # an extractive QA task of nlpdiff.tasks
backbone = "finetune"
model = "minilm"  # hub id, local folder, or "minilm" (all-MiniLM-L6-v2 shipped on PyPI)
train_size = 1000  # training questions (seeded subsample of the train split)
eval_size = 500  # held-out questions (None: the whole validation split)
epochs = 2
batch_size = 16
learning_rate = 1e-4
max_length = 256  # tokens per window (question + context)
doc_stride = 64  # overlap between the windows of a long context, in tokens
seed = 0  # training seed
data_seed = 0  # which questions are drawn
train_split = None  # None: the task's training split; "validation" scores the dev set (several annotators)
eval_split = "default"  # "default": the task's held-out split; None: no held-out evaluation
vog = False  # variance of gradients (extra backward passes at each checkpoint)
device = "auto"
data_dir = None  # None: $NLPDIFF_DATA_DIR, else the Hugging Face hub
run_dir = "runs/question_answering"  # the run directory this page writes and reads
learning_curve_table = "results/learning_curve/squad_cpu/curve.csv"  # committed curve quoted under the learning curve

# %% tags=["remove-input"]
# set up and check the parameters (the code: notebooks/question_answering.py)
import pandas as pd
from IPython.display import Markdown, display

from nlpdiff import analysis, plots, scores
from nlpdiff.config import from_flat
from nlpdiff.dynamics import load_or_train
from nlpdiff.models.qa import questions_markdown

plots.enable_offline()
from nlpdiff_study import pages  # noqa: E402

pages.use_for_dataframes()  # every table: no index, fixed decimals, missing values as a dash
pd.set_option("display.max_colwidth", 120)

params = from_flat(dict(
    task=task, backbone=backbone, model=model, train_size=train_size, eval_size=eval_size, epochs=epochs,
    batch_size=batch_size, learning_rate=learning_rate, max_length=max_length, doc_stride=doc_stride,
    seed=seed, data_seed=data_seed, train_split=train_split, eval_split=eval_split, vog=vog,
    device=device, data_dir=data_dir, output_dir=run_dir,
))  # bad parameters fail here, before any training

# %% tags=["remove-input", "remove-stderr"]
run = load_or_train(params)

# %% tags=["remove-input"]
# the finding, read from the run (the code: notebooks/question_answering.py)
fin_ = run.metrics["final"]
q = run.scores["action"].quantile([0.5, 0.99])
display(pages.finding(
    f"**Finding.** After {params.epochs} epochs on {run.info['resolved']['n_train']:,} training questions the reader "
    + (f"reaches held-out F1 {fin_['heldout_f1']:.1f} (exact match {fin_['heldout_exact_match']:.1f}, percent)"
       if "heldout_f1" in fin_ else "has no held-out evaluation")
    + f"; the action score of most questions is small (median {q.loc[0.5]:.2f}) with a long right tail (99th "
    f"percentile {q.loc[0.99]:.2f}): the questions the model keeps missing."))

# %% tags=["hide-input"]
# the key figure: the action score's distribution
plots.score_histogram(run.scores, "action")

# %% [markdown]
# ## What this page shows
#
# We fine-tune an extractive reader on a subsample of SQuAD v1.1: given a question and a Wikipedia
# paragraph, the model points at the start and the end token of the answer span. Contexts longer
# than the model's window are split into overlapping windows (`doc_stride` tokens of overlap); a
# training sample is a *question*, and its loss is the mean of the start and end cross-entropies on
# the window that holds its gold answer. At every checkpoint we record every training question's
# loss, gold-span probability (p(start) x p(end)), correctness (exact match of the predicted span
# after SQuAD normalisation), margin and entropy. The **action score** of a question is its
# eval-pass loss summed over the checkpoints; higher means harder. This page shows how training
# went, where the questions fall on a data map, how the action score is distributed and which
# questions it calls hardest and easiest.
#
# The parameters below are those of the published run; the executed values are in the collapsed
# cell(s) and in the run's `run.json`.

# %%
info, res = run.info, run.info["resolved"]
final = run.metrics["final"]
skipped = {k: v for k, v in res["skipped"].items() if v}
skipped_text = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in skipped.items()) or "none"
display(Markdown(
    f"**Run.** {res['n_train']:,} training questions of {res['n_loaded']:,} drawn (skipped: {skipped_text}), "
    f"{res['n_train_features']:,} training windows of at most {params.max_length} tokens; "
    f"{res['model_class']} with {res['n_parameters'] / 1e6:.1f}M parameters, {params.epochs} epochs, "
    f"{res['n_checkpoints']} checkpoints, on {res['device']} "
    f"({info['hardware']['cpu_count']} CPU cores, accelerator: {info['hardware']['accelerator']}). "
    f"Training took {info['wall_time_s']['train']:.0f} s, the recording eval passes "
    f"{info['wall_time_s']['eval_pass']:.0f} s, the held-out evaluations {info['wall_time_s']['heldout']:.0f} s, "
    f"the whole run {info['wall_time_s']['total']:.0f} s. "
    + (f"**Held-out exact match {final['heldout_exact_match']:.1f}, F1 {final['heldout_f1']:.1f}** "
       f"(SQuAD v1.1 definitions, percent) after the last checkpoint, on {res['n_heldout']:,} "
       f"{run.metrics['heldout_split']} questions ({res['n_heldout_features']:,} windows)."
       if "heldout_f1" in final else
       f"No held-out evaluation in this run (it trains on the `{run.metrics['train_split']}` split).")
))

# %% [markdown]
# ## Learning curve
#
# Held-out exact match and F1 (percent, the official SQuAD v1.1 definitions: the best span over
# all windows of a question, compared with every annotator's answer), the held-out loss, and the
# training questions' mean loss and exact-match rate from the recording (eval-mode) pass, at each
# checkpoint. With a small training subset and a 22M-parameter encoder the held-out scores stay far
# below published SQuAD numbers; what matters here is that the model learns, so that the training
# dynamics carry signal.

# %% tags=["hide-input"]
from nlpdiff_study.learning_curve import largest_size

larger = largest_size(learning_curve_table)
if larger is not None and "heldout_f1" in final:
    display(Markdown(
        f"This run's {res['n_train']:,} questions reach held-out F1 {final['heldout_f1']:.1f}. On the same "
        f"kind of CPU, the committed learning curve (`{learning_curve_table}`, "
        f"`nlpdiff grid learning_curve squad_cpu`) reaches F1 {larger['heldout_f1']:.1f} with "
        f"{larger['train_size']:,} questions after {larger['epoch']:g} epochs; the conclusions chapter sets it "
        "beside the full-data GPU run. A larger training set does not fit this profile's budget, so read the "
        "scores on this page as those of a model that is still learning the task."))

# %%
curve = run.metrics_frame()
plots.learning_curve(
    curve,
    metrics=[m for m in ["heldout_exact_match", "heldout_f1", "heldout_loss", "train_loss", "train_correct"]
             if m in curve.columns],
)

# %% [markdown]
# ## Data map
#
# Dataset cartography (Swayamdipta et al. 2020) from the recording (eval-mode) pass at each checkpoint,
# the same values as the cartography scores in the tables below: each point is a training
# question, placed by the mean (confidence) and standard deviation (variability) across checkpoints of
# the probability of its gold span, coloured by the fraction of checkpoints in which its predicted span
# matched the answer exactly. The gold-span probability is a product of two probabilities, so
# confidences are lower than in classification. With few checkpoints, variability takes few distinct
# values: read the map as coarse.

# %%
carto = analysis.cartography_map(run.dynamics, pass_="eval").merge(
    run.samples[["sample_id", "question", "answer_text"]], on="sample_id"
)
plots.data_map(carto, x="variability", y="confidence", color="correctness", tooltip=["question", "answer_text"])

# %% [markdown]
# ## The action score, the loss and the entropy
#
# The action score sums each question's eval-pass loss over the checkpoints (its distribution is the
# figure at the top of the page).

# %%
agree = analysis.rank_agreement(run.scores, "action", "mean_loss")
ent = analysis.rank_agreement(run.scores, "action", "mean_entropy")
display(Markdown(
    f"Every question has the same {res['n_checkpoints']} checkpoints, so the action score is "
    f"{res['n_checkpoints']} times the mean loss and ranks the questions identically: Spearman "
    f"correlation {agree['spearman']:.3f} over {agree['n']:,} questions. Its agreement with the mean "
    f"predictive entropy of the start and end distributions (the baseline of Angelov et al. 2025) is "
    f"{ent['spearman']:.3f}."
))

# %% [markdown]
# ## The hardest and the easiest questions
#
# The five training questions with the highest action score, then the five with the lowest: the
# question, its gold answer (the first annotated one, used in training) and about 200 characters of
# the paragraph around it, the answer in bold.

# %%
cols = ["question", "context", "answer_text", "answer_start"]
hardest, easiest = analysis.extremes(run.samples, run.scores, "action", k=5, columns=cols)
display(Markdown("**Hardest 5**\n\n" + questions_markdown(hardest, "action")))
display(Markdown("**Easiest 5**\n\n" + questions_markdown(easiest, "action")))

# %% [markdown]
# ## Every score of this run
#
# The scores computed from this run's dynamics (each oriented so that higher = harder) and their
# definitions. For question answering the loss is the mean of the start and end cross-entropies,
# the margin the mean of the start and end logit margins, and the entropy the mean of the two
# distributions' entropies; EL2N and the token-summed action need class probabilities or token
# counts and are not computed here.

# %%
table, not_computed = scores.run_score_table(run)
display(table)
if not_computed:
    display(Markdown(not_computed))
