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
# # Sentiment analysis: the action score on SST-2

# %% tags=["parameters"]
task = "sst2"  # a classification task of nlpdiff.tasks (ignored when data_file is given)
data_file = None  # a CSV of your own labelled texts, e.g. "reviews.csv" (with train_size None: every row)
text_column = "text"  # data_file: the column of texts
text_pair_column = None  # data_file: the column of second texts of text pairs, or None
label_column = "label"  # data_file: the column of labels (strings or integers)
label_names = None  # data_file: class names in id order, or None (the sorted distinct labels)
heldout_fraction = 0.2  # data_file: share of rows held out for evaluation (stratified, seed data_seed)
backbone = "finetune"  # "finetune", "probe" (frozen features + MLP) or "scratch" (n-gram bag)
model = "minilm"  # hub id, local folder, or "minilm" (all-MiniLM-L6-v2 shipped on PyPI)
train_size = 2000  # training sentences (stratified subsample of the train split)
eval_size = None  # held-out sentences (None: the whole validation split)
epochs = 3
batch_size = 32
learning_rate = 5e-5
max_length = 64  # tokens
seed = 0  # training seed (initialisation, order, dropout)
data_seed = 0  # which sentences are drawn and which labels are corrupted
train_split = None  # None: the task's training split
eval_split = "default"  # "default": the task's held-out split; None: no held-out evaluation
noise_rate = 0.0  # fraction of training labels corrupted on purpose, in [0, 1)
noise_type = "uniform"  # "uniform" or "class_conditional"
checkpoints_per_epoch = 1
vog = False  # variance of gradients: extra backward passes at each checkpoint
device = "auto"
data_dir = None  # None: $NLPDIFF_DATA_DIR, else the Hugging Face hub
run_dir = "runs/sentiment"  # the run directory this page writes and reads
page_title = None  # the page's H1 (None: the one above); a second page from this notebook sets its own

# %% tags=["remove-input"]
# set up and check the parameters (the code: notebooks/sentiment.py)
import pandas as pd
from IPython.display import Markdown, display

from nlpdiff import analysis, plots, scores, tasks
from nlpdiff.config import from_flat
from nlpdiff.dynamics import load_or_train
from nlpdiff.audit import chance_warning

plots.enable_offline()
from nlpdiff_study import pages  # noqa: E402

pages.use_for_dataframes()  # every table: no index, fixed decimals, missing values as a dash
pd.set_option("display.max_colwidth", 120)

if data_file is not None:  # your own data: checked here (columns, empty texts, labels) before any training
    spec = tasks.register_task(tasks.from_csv(
        data_file, text=text_column, text_pair=text_pair_column, label=label_column, label_names=label_names,
        heldout_fraction=heldout_fraction, seed=data_seed,
    ), replace=True)
    task = spec.name

params = from_flat(dict(
    task=task, backbone=backbone, model=model, train_size=train_size, eval_size=eval_size, epochs=epochs,
    batch_size=batch_size, learning_rate=learning_rate, max_length=max_length, seed=seed, data_seed=data_seed,
    train_split=train_split, eval_split=eval_split, noise_rate=noise_rate, noise_type=noise_type,
    checkpoints_per_epoch=checkpoints_per_epoch, vog=vog, device=device, data_dir=data_dir, output_dir=run_dir,
))  # bad parameters fail here, before any training
text = tasks.get_task(task).column("text")

# %% tags=["remove-input", "remove-stderr"]
run = load_or_train(params)

# %% tags=["remove-input"]
# the finding, read from the run (the code: notebooks/sentiment.py)
table = run.scores.merge(run.samples[["sample_id", "is_corrupted"]], on="sample_id")
noisy = bool(run.samples["is_corrupted"].any())
acc = run.metrics["final"].get("heldout_accuracy")
lead = (f"**Finding.** After {params.epochs} epochs on {run.info['resolved']['n_train']:,} training texts the model "
        + (f"reaches held-out accuracy {acc:.3f}" if acc is not None else "has no held-out evaluation"))
if noisy:
    det = analysis.detection_table(run.scores, run.samples["is_corrupted"], run.samples["sample_id"])
    a = det.set_index("score").loc["action"] if "score" in det.columns else det.loc["action"]
    lead += (f"; the action score ranks the {int(run.samples['is_corrupted'].sum()):,} corrupted labels first with "
             f"ROC AUC {a['roc_auc']:.3f} (chance 0.5) and average precision {a['average_precision']:.3f} (chance "
             f"{det.attrs['chance_average_precision']:.3f}).")
else:
    q = table["action"].quantile([0.5, 0.99])
    lead += (f"; the action score of most texts is small (median {q.loc[0.5]:.2f}) with a long right tail (99th "
             f"percentile {q.loc[0.99]:.2f}): the texts the model keeps getting wrong.")
display(pages.finding(lead))

# %% tags=["hide-input"]
# the key figure: the action score's distribution (coloured by corrupted labels when there are any)
plots.score_histogram(table, "action", color="is_corrupted" if noisy else None)

# %% [markdown]
# ## What this page shows
#
# *This page is one execution of `notebooks/sentiment.py`; the same notebook scores any
# classification task of `nlpdiff.tasks` (IMDB, the VADER human-rated sentences), or a CSV file of
# your own labelled texts (`data_file`), with any backbone (`finetune`, `probe`, `scratch`).*
#
# We fine-tune a sentence classifier on a subsample of the Stanford Sentiment Treebank (SST-2,
# binary, GLUE version) and record, at every checkpoint, every training sentence's loss, gold-label
# probability, correctness, margin and entropy (their definitions are on the Methods page). The
# **action score** of a sentence is its eval-pass loss summed over the checkpoints; higher means
# harder. This page shows how training went, where the sentences fall on a data map, how the
# action score is distributed, which sentences it calls hardest and easiest, and, when labels were
# corrupted on purpose, how well it ranks the corrupted sentences first.
#
# The parameters below are those of the published run; the executed values are in the collapsed
# cell(s) and in the run's `run.json`.

# %%
info, res = run.info, run.info["resolved"]
final = run.metrics["final"]
quality = (
    f"**Held-out accuracy** after the last checkpoint: {final['heldout_accuracy']:.3f} on "
    f"{res['n_heldout']:,} {run.metrics['heldout_split']} sentences."
    if "heldout_accuracy" in final else "No held-out evaluation in this run."
)
display(Markdown(
    f"**Run.** {res['n_train']:,} training texts of `{task}` ({res['n_corrupted']:,} with corrupted labels), "
    f"`{params.backbone}` backbone: {res['model_class']} with {res['n_parameters'] / 1e6:.1f}M parameters "
    f"({res['n_trainable'] / 1e6:.2f}M trained), {params.epochs} epochs, "
    f"{res['n_checkpoints']} checkpoints, on {res['device']} "
    f"({info['hardware']['cpu_count']} CPU cores, accelerator: {info['hardware']['accelerator']}). "
    f"Training took {info['wall_time_s']['train']:.0f} s, the recording eval passes "
    f"{info['wall_time_s']['eval_pass']:.0f} s, the whole run {info['wall_time_s']['total']:.0f} s. " + quality
))
if "heldout_accuracy" in final and (warning := chance_warning(run)):
    print(warning)  # held-out accuracy at chance level (one-sided binomial test against the majority class)

# %% [markdown]
# ## Learning curve
#
# Held-out accuracy and loss on the validation split, and the training set's mean loss and
# accuracy from the recording (eval-mode) pass, at each checkpoint.

# %%
plots.learning_curve(run.metrics_frame())

# %% [markdown]
# ## Data map
#
# Dataset cartography (Swayamdipta et al. 2020) from the recording (eval-mode) pass at each checkpoint,
# the same values as the cartography scores in the tables below: each point is a training
# sentence, placed by the mean (confidence) and standard deviation (variability) of its gold-label
# probability across checkpoints, coloured by the fraction of checkpoints it was classified correctly.
# Easy-to-learn sentences sit top left, hard-to-learn bottom left, ambiguous ones to the right.
# With few checkpoints, variability takes few distinct values: read the map as coarse.

# %%
carto = analysis.cartography_map(run.dynamics, pass_="eval").merge(
    run.samples[["sample_id", text, "label", "is_corrupted"]], on="sample_id"
)
carto[text] = carto[text].str.slice(0, 120)  # tooltips show the start of each text
plots.data_map(carto, x="variability", y="confidence", color="correctness", tooltip=[text, "label"], max_points=3000)

# %% [markdown]
# ## The action score and the loss
#
# The action score sums each sentence's eval-pass loss over the checkpoints (its distribution is the
# figure at the top of the page).

# %%
agree = analysis.rank_agreement(run.scores, "action", "mean_loss")
display(Markdown(
    f"Every sentence has the same {res['n_checkpoints']} checkpoints, so the action score is "
    f"{res['n_checkpoints']} times the mean loss and ranks the sentences identically: Spearman "
    f"correlation {agree['spearman']:.3f} over {agree['n']:,} sentences. Differences between the "
    f"action score and the loss appear only in its variants (training pass, per-step integration, "
    f"early truncation)."
))

# %% [markdown]
# ## The hardest and the easiest sentences
#
# The ten training sentences with the highest action score, then the ten with the lowest, with the
# label used in training (0 negative, 1 positive) and, when noise was injected, the original label.
# GLUE's SST-2 training set holds every labelled *phrase* of the treebank's parse trees, not only
# whole sentences, so many rows below are fragments ("the movie 's", "dull"): a fragment's label is
# the treebank annotators' label of that phrase.

# %%
cols = [text, "label", "original_label", "is_corrupted"]
hardest, easiest = analysis.extremes(run.samples, run.scores, "action", k=10, columns=cols)
display(Markdown("**Hardest 10**"))
display(hardest)
display(Markdown("**Easiest 10**"))
display(easiest)

# %% [markdown]
# ## Does the action score rank corrupted labels first?
#
# When `noise_rate > 0`, a known set of training labels was flipped before training. We rank the
# sentences by each score (higher = flagged first) and measure with scikit-learn how well the
# ranking separates corrupted from clean labels: ROC AUC (0.5 = chance) and average precision
# (chance = the noise rate), and the precision among the top-k where k is the number of corrupted
# labels.

# %%
if run.samples["is_corrupted"].any():
    det = analysis.detection_table(run.scores, run.samples["is_corrupted"], run.samples["sample_id"])
    display(Markdown(
        f"{int(run.samples['is_corrupted'].sum())} of {len(run.samples)} labels corrupted "
        f"({params.noise_type}); chance average precision {det.attrs['chance_average_precision']:.3f}."
    ))
    display(det.round(3))
else:
    display(Markdown(
        "This run injected no label noise (`noise_rate = 0`), so there is nothing to detect here; "
        "rerun the page with, for example, `-p noise_rate 0.1`."
    ))

# %% [markdown]
# ## Every score of this run
#
# The scores computed from this run's dynamics (each oriented so that higher = harder) and their
# definitions.

# %%
table, not_computed = scores.run_score_table(run)
display(table)
if not_computed:
    display(Markdown(not_computed))
