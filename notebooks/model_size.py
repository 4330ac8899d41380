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
# # Does the answer hold for a larger model? MiniLM (22.7M) against MPNet-base (109.5M)

# %% tags=["parameters"]
runs_dir = "runs/cpu"  # given by the workflow to every analysis; unused (this page trains nothing)
profile = "cpu"
results_dir = "results/model_size"  # committed parts (nlpdiff grid model_size PART)
part_names = ["sst2", "noisy_agnews"]  # the parts shown, if committed
small = "minilm"  # the smaller model's label in every part
large = "mpnet"  # the larger model's label

# %% tags=["remove-input"]
# the finding, read from the committed tables (the code: notebooks/model_size.py)
import json
from pathlib import Path

import altair as alt
import pandas as pd
from IPython.display import Markdown, display

from nlpdiff import plots, stats
from nlpdiff_study import model_size
from nlpdiff_study.comparisons import MARGIN_AUC, PRIMARY_BASELINES

from nlpdiff_study import pages  # noqa: E402

plots.enable_offline()
pages.use_for_dataframes()  # every table: no index, fixed decimals, missing values as a dash
root = Path(results_dir)
found = [p for p in part_names if (root / p / "agreement.csv").exists()]
tables = {p: model_size.load_part(p, root) for p in found}
config = {p: json.loads((root / p / "part.json").read_text()) for p in found}
TITLES = {"sst2": "SST-2, 10 % of the labels flipped uniformly", "noisy_agnews": "NoisyAG-News, real annotator errors"}
NAMES = {"minilm": "MiniLM", "mpnet": "MPNet-base"}


def title(part):
    return TITLES.get(part, part)


def name(model):
    return NAMES.get(model, model)


def interval(values):
    m, lo, hi = stats.bounded_seed_interval(values)
    return f"{m:.3f} [{lo:.3f}, {hi:.3f}]"


paired = {p: model_size.paired_detection(t["summary"], small, large) for p, t in tables.items()}
agree = {p: model_size.agreement_summary(t["agreement"]).set_index("score") for p, t in tables.items()}
standing = {p: model_size.standing(t["summary"]) for p, t in tables.items()}

lines = []
for p, t in tables.items():
    s = t["summary"]
    a = s[s["score"] == "action"]
    n, k, seeds = int(a["n"].iloc[0]), int(a["n_positive"].iloc[0]), a["seed"].nunique()
    d = paired[p].set_index("score").loc["action"]
    g = agree[p].loc["action"]
    verdict = {"equivalent": f"equivalent within ±{MARGIN_AUC}", "not shown to differ":
               f"not shown to differ (the smallest difference {int(d['seeds'])} seeds detect is {d['mdd']:.3f})",
               "better": "larger for MPNet-base", "worse": "smaller for MPNet-base"}[d["verdict"]]
    lines.append(
        f"**{title(p)}** ({n:,} samples, {k:,} wrong labels, {seeds} seeds per size): the action score's ROC AUC "
        f"is {interval(a[a['model'] == small]['roc_auc'])} with {name(small)} and "
        f"{interval(a[a['model'] == large]['roc_auc'])} with {name(large)}; the paired difference "
        f"{d['difference']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}] is {verdict}. Its ranking of the samples agrees "
        f"across sizes at Spearman {g['across']:.2f}, against {g[f'within_{small}']:.2f} between two seeds of "
        f"{name(small)} and {g[f'within_{large}']:.2f} of {name(large)}.")
    learn = t["learning"]
    acc = learn.groupby("model")["heldout_accuracy"].mean()
    st = standing[p]
    words = {"better": "above", "worse": "below", "equivalent": "equivalent to", "not shown to differ": "not shown to differ from"}
    lines.append(
        f"Both sizes learn the task (held-out accuracy {acc[small]:.3f} and {acc[large]:.3f}, majority class "
        f"{learn['heldout_majority'].iloc[0]:.3f}). Against the declared baselines the action score is, with "
        + "; with ".join(f"{name(m)}: " + ", ".join(f"{words[r.verdict]} `{r.against}` ({r.difference:+.3f}"
                                                   + (f"; minimum detectable {r.mdd:.3f}" if r.verdict == "not shown to differ" else "")
                                                   + ")"
                                                   for r in st[st['model'] == m].itertuples())
                         for m in (small, large)) + ".")
lead = []
for p, t in tables.items():
    a = t["summary"][t["summary"]["score"] == "action"]
    d = paired[p].set_index("score").loc["action"]
    lead.append(f"{title(p)}: {a[a['model'] == small]['roc_auc'].mean():.3f} with {name(small)} and "
                f"{a[a['model'] == large]['roc_auc'].mean():.3f} with {name(large)} "
                f"(paired difference {d['difference']:+.3f}: "
                + {"better": f"higher with {name(large)}", "worse": f"lower with {name(large)}",
                   "equivalent": f"equivalent within ±{MARGIN_AUC}", "not shown to differ": "not shown to differ"}[d["verdict"]]
                + ")")
display(pages.finding("**Finding.** The action score's ROC AUC at finding the wrong labels, at two model sizes, "
                      "means over seeds: " + "; ".join(lead) + ". The chart shows every declared score; the "
                      "details follow it.") if lead else
        Markdown("**No part is computed yet**: run `nlpdiff grid model_size sst2`."))

# %% tags=["remove-input"]
# the key figure (the code: notebooks/model_size.py)
shown = ["action", "action_train", *[b for b in PRIMARY_BASELINES if b != "confident_learning"]]
rows = []
for p, t in tables.items():
    s = t["summary"]
    for (model, score), g in s[s["score"].isin(shown)].groupby(["model", "score"]):
        m, lo, hi = stats.bounded_seed_interval(g["roc_auc"])
        rows.append({"setting": title(p), "model": name(model), "score": score, "roc_auc": m, "lo": lo, "hi": hi})
det = pd.DataFrame(rows)
base = alt.Chart().encode(y=alt.Y("score:N", sort=shown, title=None),
                          color=alt.Color("model:N", title="model", legend=alt.Legend(orient="bottom")),
                          yOffset=alt.YOffset("model:N"))
alt.layer(
    base.mark_rule().encode(x=alt.X("lo:Q", title="ROC AUC",
                                    scale=alt.Scale(zero=False)), x2="hi:Q"),
    base.mark_point(filled=True).encode(x="roc_auc:Q", tooltip=["setting", "model", "score", alt.Tooltip("roc_auc:Q", format=".3f")]),
    data=det,
).properties(width=460 // max(1, det["setting"].nunique()) if len(det) else 230, height=alt.Step(12)).facet(
    column=alt.Column("setting:N", title=None, sort=[title(p) for p in tables])) if len(det) else None

# %% [markdown]
# Each point of the chart is one score's mean ROC AUC over seeds at detecting the wrong labels, with its 95 % interval
# (Student t on the logit scale, inside [0, 1]). The action score, its training-pass variant and the
# study's declared baselines are shown. The runs are described at the end of the page; every run of a
# setting scores the same samples with the same wrong labels, at both sizes.
#
# *This page reads committed tables (`results/model_size/PART/`, computed by
# `nlpdiff grid model_size PART` from `params/grids/model_size.yaml`); it trains nothing.*

# %% [markdown]
# ## The finding in detail

# %% tags=["remove-input"]
display(pages.bullets(lines))

# %% [markdown]
# ## Does each model learn?
#
# Held-out accuracy of every run beside the share of the held-out majority class (what a model that
# learned nothing reaches), and training accuracy at the last checkpoint on the right labels and on the
# wrong ones (against the wrong label: above 0.5 the model has fitted them).

# %% tags=["hide-input"]
learn = pd.concat([t["learning"].assign(setting=title(p)) for p, t in tables.items()], ignore_index=True) if tables else pd.DataFrame()
(learn.assign(model=learn["model"].map(name))
 .groupby(["setting", "model"], sort=False)
 .agg(seeds=("seed", "nunique"), heldout_accuracy=("heldout_accuracy", interval),
      majority_class=("heldout_majority", "mean"), train_acc_right_labels=("final_train_acc_clean", "mean"),
      train_acc_wrong_labels=("final_train_acc_corrupted", "mean"))
 .round(3).reset_index() if len(learn) else learn)

# %% [markdown]
# ## Every score, MPNet-base minus MiniLM
#
# ROC AUC paired by seed (both sizes score the same samples with the same labels): the mean difference,
# its 95 % and 90 % intervals, the paired t test's p, the minimum detectable difference (80 % power of the
# paired t test over these seeds) and the verdict at the declared margin of 0.01 ("equivalent": the 90 % interval inside it).

# %% tags=["hide-input"]
def ci(lo, hi):
    return f"[{lo:+.3f}, {hi:+.3f}]"


(pd.concat([pd.DataFrame({"setting": title(p), "score": d["score"], name(small): d[small].round(3),
                          name(large): d[large].round(3), "difference": d["difference"].round(3),
                          "95 % interval": [ci(a, b) for a, b in zip(d["lo"], d["hi"])],
                          "90 % interval": [ci(a, b) for a, b in zip(d["lo90"], d["hi90"])],
                          "p": d["p"].round(3), "min. detectable": d["mdd"].round(3), "verdict": d["verdict"]})
            for p, d in paired.items()], ignore_index=True) if paired else None)

# %% [markdown]
# ## The action score against the declared baselines, at each size
#
# Action minus each of the study's declared baselines (ROC AUC, paired by seed), per size, with the action
# score's rank among all scores by mean ROC AUC (1 = best). Does its standing change with size?

# %% tags=["hide-input"]
(pd.concat([pd.DataFrame({"setting": title(p), "model": d["model"].map(name), "baseline": d["against"],
                          "action": d["action"].round(3), "baseline ROC AUC": d["baseline"].round(3),
                          "action minus baseline": d["difference"].round(3),
                          "95 % interval": [ci(a, b) for a, b in zip(d["lo"], d["hi"])], "p": d["p"].round(3),
                          "verdict": d["verdict"], "action's rank": [f"{r} of {n}" for r, n in zip(d["rank"], d["n_scores"])]})
            for p, d in standing.items()], ignore_index=True) if standing else None)

# %% [markdown]
# ## Agreement of the rankings across seeds and sizes
#
# Spearman correlation of each score between two runs on the same samples: within a size (two seeds of
# one model: how much of the ranking is the seed) and across sizes (one run of each model: every pair).
# A score whose ranking is a property of the data, not of the model, agrees as well across sizes as
# across seeds.

# %% tags=["hide-input"]
ag = pd.concat([a.reset_index().assign(setting=title(p)) for p, a in agree.items()], ignore_index=True) if agree else pd.DataFrame()
(ag[["setting", "score", *[c for c in ag.columns if c.startswith("within_")], "across", "across_minus_within",
     "n_within", "n_across"]].round(3) if len(ag) else ag)

# %% [markdown]
# ## Cost
#
# Wall time of each run (seconds, from its `run.json`), mean per size, and the machine it ran on.

# %% tags=["hide-input"]
(pd.concat([t["cost"].assign(setting=title(p)) for p, t in tables.items()], ignore_index=True)
 .assign(model=lambda d: d["model"].map(name))
 .groupby(["setting", "model"], sort=False)
 .agg(runs=("run", "nunique"), wall_s_mean=("wall_s", "mean"), wall_s_total=("wall_s", "sum"),
      torch_threads=("torch_threads", "first"), cpu_count=("cpu_count", "first"))
 .round(0).reset_index() if tables else None)

# %% [markdown]
# ## What this does and does not show
#
# - Two sizes of one family of sentence encoders, one recipe (the study's fine-tuning defaults), the
#   training sets of the finding above (samples the CPU allows) and few seeds per size: a paired difference
#   over so few seeds detects only large effects (its minimum detectable difference is in the table above).
# - Every run of a setting scores the same samples with the same wrong labels (a fixed `data_seed`), so
#   the seeds differ only in the model's initialisation of the head, its dropout and the batch order.
