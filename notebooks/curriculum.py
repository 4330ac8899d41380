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
# # Does an action-score curriculum help?

# %% tags=["parameters"]
runs_dir = "runs/cpu"  # the profile's runs folder: this page's own slice trains under <runs_dir>/curriculum
profile = "cpu"
slice_part = "sst2_probe_cpu"  # the part of params/grids/curriculum.yaml this page trains (reusing finished runs)
curriculum_file = "params/grids/curriculum.yaml"
results_dir = "results/curriculum"  # committed parts, computed by `nlpdiff grid curriculum PART`
learn_margin = 0.10  # a setting is read only when its model is this far above chance (held-out metric)

# %% tags=["remove-input"]
# this profile's slice, the committed parts and the answer read from them (the code: notebooks/curriculum.py)
import json
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from nlpdiff_study import curriculum as cur, grid
from nlpdiff import plots

plots.enable_offline()
from nlpdiff_study import pages  # noqa: E402

pages.use_for_dataframes()  # every table: no index, fixed decimals, missing values as a dash
pd.set_option("display.width", 200)
pd.set_option("display.max_columns", None)  # no table is shown truncated
pd.set_option("display.max_rows", None)

# this profile's slice (trained here, or reused from earlier runs), then every committed part
slice_tables = grid.run_part("curriculum", slice_part, curriculum_file, Path(runs_dir) / "curriculum",
                             Path(runs_dir) / "curriculum_results", log=lambda line: None)
committed = sorted(p.name for p in Path(results_dir).glob("*") if (p / "runs.csv").exists() and p.name != slice_part)
tables = cur.load_results(results_dir, committed) if committed else {"runs": pd.DataFrame(), "curves": pd.DataFrame(),
                                                                      "scoring": pd.DataFrame(), "parts": []}
runs = pd.concat([slice_tables["runs"], tables["runs"]], ignore_index=True)
curves = pd.concat([slice_tables["curves"], tables["curves"]], ignore_index=True)
scoring = pd.concat([slice_tables["scoring"], tables["scoring"]], ignore_index=True)
summary = cur.summarize(runs)
# one family of tests per part (Holm within each part's table)
tests = pd.concat([cur.paired_tests(g) for _, g in runs.groupby("part", sort=False)], ignore_index=True)
bands = cur.curve_bands(curves)
parts = list(dict.fromkeys(runs["part"]))

# the opening answer: action-ordered curricula against Wu et al.'s control and against shuffled training, read from
# the committed parts when there are any, else from this page's slice. It reads only the parts whose model learns
# the task (every scoring run at least learn_margin above chance: the curricula of a model that does not learn say
# nothing about the order of the data) and, within them, the settings whose shuffled-training control learns (a
# quarter of the steps can leave a fine-tuned model at chance, whatever the order)
learns = cur.learned(scoring, learn_margin).set_index("part")
answer_parts = [p for p in committed if learns.at[p, "learns"]] or [slice_part]
left_out = [p for p in committed if not learns.at[p, "learns"]]
set_learns = cur.settings_that_learn(runs, scoring, learn_margin)
left_settings = set_learns[set_learns["part"].isin(answer_parts) & ~set_learns["learns"]]
ok_settings = set_learns[set_learns["learns"]][cur.SETTING]
t_ans = tests[tests["part"].isin(answer_parts)].merge(ok_settings, on=cur.SETTING)
v = cur.action_verdict(t_ans)
v_all = cur.action_verdict(tests[tests["part"].isin(committed or [slice_part])])
fin = v["rows"]
n_set = len(fin.groupby(cur.SETTING))
aul = cur.action_verdict(t_ans, measure="aulc")["rows"]
aul_shuf = aul[aul["against"] == "shuffled"]
fin_rand, fin_shuf = fin[fin["against"] != "shuffled"], fin[fin["against"] == "shuffled"]
best = fin.loc[fin["mean_diff"].idxmax()] if len(fin) else None
worst = fin.loc[fin["mean_diff"].idxmin()] if len(fin) else None
prune = t_ans[(t_ans["schedule"] == "prune") & (t_ans["measure"] == "final")]
prune_sig = prune[prune["p_holm"] < 0.05]
# cost: the scoring run's training time against one action-ordered competence run's, per part and budget
sc_cost = scoring[scoring["part"].isin(answer_parts)].groupby("part")["train_s"].mean()
cur_cost = runs[(runs["schedule"] == "competence") & (runs["order"] == "action") & runs["part"].isin(answer_parts)
                ].groupby(["part", "budget"])["train_s"].mean()
ratio = pd.Series({k: 1 + sc_cost[k[0]] / c for k, c in cur_cost.items()})
full, quarter = ratio[[b == 1 for _, b in ratio.index]], ratio[[b < 1 for _, b in ratio.index]]


def _where(r):
    return (f"{cur.cell_label(r['schedule'], r['order'])}, {cur.setting_label(r['noise_rate'], r['budget'])} "
            f"({r['task']}, {r['backbone']}), against {r['against']}")


def _pts(x):
    return f"{pages.format_number(100 * x, 1, signed=True)} points"  # never "-0.0"


def _diff(r):
    sg = lambda x: pages.format_number(100 * x, 1, signed=True)  # noqa: E731
    return f"{_pts(r['mean_diff'])} [{sg(r['low'])}, {sg(r['high'])}], Holm p = {r['p_holm']:.2g}"


lead = {"no difference": "No measurable help.", "helps": "Sometimes, and never at a loss.",
        "hurts": "No: where it differs, it hurts.", "mixed": "It depends on the setting: it helps in some and hurts in others."}
n_answer = len(runs[runs["part"].isin(answer_parts)].merge(ok_settings, on=cur.SETTING))
if len(fin) == 0:
    # nothing to answer from (e.g. tiny data where no model learns): say so rather than read noise
    display(pages.finding(
        f"**No answer from these runs.** No setting of {', '.join(answer_parts)} has a model that learns the task "
        f"(every scoring run and the setting's shuffled training at least {100 * learn_margin:.0f} points above "
        "chance), so the order of the data cannot be judged here; the chart shows the held-out learning curves, the "
        "tables below every run."))
else:
    display(pages.finding(
        f"**{lead[v['verdict']]}** Ordering the training data easy-to-hard by the action score of a separate scoring "
        f"run was significantly better than its control in **{len(v['better'])}** and significantly worse in "
        f"**{len(v['worse'])}** of {v['n']} paired comparisons of the final held-out metric ({n_answer} runs of "
        f"{', '.join(answer_parts)}; {n_set} settings of label noise and budget; Holm-adjusted within each part)."))

# %% tags=["hide-input"]
# the key figure: every paired comparison of the answer (else the learning curves of the first part)
if len(fin):
    display(cur.difference_chart(fin))
    display(Markdown("*Curriculum minus control in the final held-out metric (points, mean and 95 % interval over "
                     "seeds), per setting; controls: the same pacing in a random order (Wu et al.'s) and ordinary "
                     "shuffled training.*"))
else:
    display(cur.curve_chart(bands[bands["part"] == parts[0]], title=f"{parts[0]}: held-out accuracy"))

# %% [markdown]
# ## The answer in detail

# %% tags=["remove-input"]
if len(fin):
    items = [
        f"Data: {', '.join(dict.fromkeys(fin['task']))}; {', '.join(dict.fromkeys(fin['backbone']))} backbones; the "
        "controls are the same pacing in a random order (Wu et al.'s) and ordinary shuffled training, over the same "
        "seeds.",
        (f"Better: {'; '.join(f'{_where(r)}: {_diff(r)}' for _, r in v['better'].iterrows())}." if len(v["better"])
         else ""),
        (f"Worse: {'; '.join(f'{_where(r)}: {_diff(r)}' for _, r in v['worse'].iterrows())}." if len(v["worse"])
         else ""),
        f"Before the Holm adjustment, the 95 % interval lay above zero against random-order pacing in "
        f"{int((fin_rand['low'] > 0).sum())} of {len(fin_rand)} comparisons and against shuffled training in "
        f"{int((fin_shuf['low'] > 0).sum())} of {len(fin_shuf)} (below zero: {int((fin_rand['high'] < 0).sum())} and "
        f"{int((fin_shuf['high'] < 0).sum())}).",
        f"The mean differences ranged from {_pts(worst['mean_diff'])} ({_where(worst)}) to "
        f"{_pts(best['mean_diff'])} ({_where(best)}).",
        f"Area under the held-out learning curve: the action order was behind shuffled training in "
        f"{int((aul_shuf['mean_diff'] < 0).sum())} of {len(aul_shuf)} comparisons (mean "
        f"{_pts(aul_shuf['mean_diff'].mean())}; "
        f"{int(((aul_shuf['mean_diff'] < 0) & (aul_shuf['p_holm'] < 0.05)).sum())} significant)"
        + (": seeing the easy samples first delays held-out accuracy more often than it brings it sooner."
           if (aul_shuf["mean_diff"] < 0).mean() > 0.5 else ": seeing the easy samples first brings held-out "
           "accuracy sooner at least as often as it delays it."),
        f"Pruning: dropping the hardest {grid.load_part('curriculum', slice_part, curriculum_file).prune_fraction:.0%} by action "
        f"instead changed the final metric against shuffled training by {_pts(prune['mean_diff'].min())} to "
        f"{_pts(prune['mean_diff'].max())} ({len(prune_sig)} of {len(prune)} significant"
        + (f": {'; '.join(f'{_where(r)}: {_diff(r)}' for _, r in prune_sig.iterrows())}" if len(prune_sig) else "")
        + ").",
        f"Cost: a curriculum needs its scoring run first, one ordinary training run at the full budget, so with one "
        f"curriculum run per scoring run it costs {full.min():.1f}x to {full.max():.1f}x a shuffled run at the full "
        f"budget and {quarter.min():.1f}x to {quarter.max():.1f}x at a quarter of the steps (training seconds from "
        "each run's `run.json`; the scoring run is shared by every seed and schedule of a setting).",
        ("Left out because their model does not learn the task (a scoring run within "
         f"{100 * learn_margin:.0f} points of chance): "
         + "; ".join(f"{p} ({learns.at[p, 'task']}, {learns.at[p, 'backbone']}: held-out accuracy "
                     f"{learns.at[p, 'min_heldout']:.3f} at worst, chance {learns.at[p, 'chance']:.3f})"
                     for p in left_out) + "; their tables are below." if left_out else ""),
        (f"Left out as well, because shuffled training itself stays within {100 * learn_margin:.0f} points of "
         "chance there: "
         + "; ".join(f"{r.part}, {cur.setting_label(r.noise_rate, r.budget)} (shuffled training "
                     f"{r.shuffled_final:.3f}, chance {r.chance:.3f})" for r in left_settings.itertuples()) + "."
         if len(left_settings) else ""),
        (f"Counting every committed setting, learned or not, the action order was significantly better in "
         f"{len(v_all['better'])} and significantly worse in {len(v_all['worse'])} of {v_all['n']} comparisons."
         if left_out or len(left_settings) else ""),
    ]
    display(pages.bullets(items))
    display(Markdown("Per part and setting, the action order's paired differences in the final held-out metric "
                     "(curriculum minus control, points, 95 % interval over seeds; empty: the part did not run that schedule):"))
    glance = fin.assign(cell=[cur.cell_label(s, o) for s, o in zip(fin["schedule"], fin["order"])],
                        setting=[cur.setting_label(n, b) for n, b in zip(fin["noise_rate"], fin["budget"])],
                        difference=[" ".join([pages.format_number(100 * m, 2, signed=True), "["
                                              + pages.format_number(100 * lo, 2, signed=True) + ",",
                                              pages.format_number(100 * hi, 2, signed=True) + "]"])
                                    for m, lo, hi in zip(fin["mean_diff"], fin["low"], fin["high"])],
                        p_holm=fin["p_holm"].map(lambda x: f"{x:.2g}"))
    display(glance.pivot_table(index=["part", "setting"], columns=["cell", "against"], values=["difference"],
                               aggfunc="first", sort=False).droplevel(0, axis=1).fillna(""))
else:
    display(Markdown("*No setting to compare: see the scoring table below for how far from chance each model stayed.*"))

# %% [markdown]
# ## What was run
#
# This follows the design of Wu, Dyer and Neyshabur (ICLR 2021), who found that most reported
# curriculum gains vanish against the right control and appear, if at all, only with a limited
# training budget or noisy labels:
#
# - **difficulty** comes from a *separate scoring run* (ordinary shuffled training, seed 0; the
#   curriculum runs use other seeds, so no run orders its data by its own dynamics): the action score
#   (sum of the per-sample loss over checkpoints, eval pass), its training-pass variant, AUM, and the
#   loss-free text length (each part's orders are in its tables below);
# - **schedules** (`nlpdiff_study.curriculum`): competence-based pacing with the square-root competence of
#   Platanios et al. (2019), `c(t) = min(1, sqrt(t (1 - c0²)/T + c0²))`, each batch drawn uniformly
#   from the easiest `c(t)` share (`c0` and the share of the steps after which competence is 1,
#   `ramp`, are in the table below); baby steps (one more difficulty bucket per phase, then a phase on
#   every sample) and annealing (Christopoulou et al. 2022: each phase the current bucket and a random
#   share of each earlier one, then a phase on every sample), both `curriculum.BucketSampler`. Which
#   part ran which schedule and order is in the table below (the CPU budget did not allow every
#   schedule on every part);
# - **controls**: ordinary shuffled training; the same pacing with a random order; anti-curriculum
#   (hard first, same pacing); and data pruning (training without the hardest 10 % by action);
# - **settings**: clean labels or 20 % uniform label noise (the same corrupted samples for every run
#   of a setting, `data_seed` 0); the full budget or a quarter of its steps (for every schedule and
#   control alike: the learning-rate schedule spans the sampler's own steps);
# - **measures**: held-out accuracy at every checkpoint (2 per epoch); the final value and the area
#   under the held-out learning curve (AULC: the trapezoid mean over the run's fraction of steps),
#   each with a 95 % Student-t interval over seeds; paired t tests over the same seeds.

# %% tags=["hide-input"]
meta = [{"part": p["name"], "task": p["task"], "backbone": p["backbone"], "seeds": len(p["seeds"]),
         "schedules": "; ".join(f"{s}: {', '.join(o)}" for s, o in p["schedules"].items()),
         **{k: p["parameters"].get(k) for k in ("train_size", "eval_size", "epochs", "learning_rate")},
         "noise": p["noise_rates"], "budgets": p["budgets"], "c0": p["c0"], "ramp": p["ramp"], "buckets": p["n_buckets"],
         "prune": p["prune_fraction"], "runs": p["n_runs"], "complete": p["complete"]}
        for p in tables["parts"]]
slice_meta = json.loads((Path(runs_dir) / "curriculum_results" / slice_part / "part.json").read_text())
meta.insert(0, {"part": slice_part + " (this page's slice)", "task": slice_meta["task"],
                "backbone": slice_meta["backbone"], "seeds": len(slice_meta["seeds"]),
                "schedules": "; ".join(f"{s}: {', '.join(o)}" for s, o in slice_meta["schedules"].items()),
                **{k: slice_meta["parameters"].get(k) for k in ("train_size", "eval_size", "epochs", "learning_rate")},
                "noise": slice_meta["noise_rates"], "budgets": slice_meta["budgets"], "c0": slice_meta["c0"],
                "ramp": slice_meta["ramp"], "buckets": slice_meta["n_buckets"], "prune": slice_meta["prune_fraction"],
                "runs": slice_meta["n_runs"],
                "complete": slice_meta["complete"]})
meta = pd.DataFrame(meta)
# compute from every run's own run.json (so it does not depend on which runs an earlier call had finished)
compute = (runs.groupby("part")["total_s"].sum() + scoring.groupby("part")["total_s"].sum()) / 60
meta["run_minutes"] = [round(compute.get(p.split(" ")[0], float("nan")), 1) for p in meta["part"]]
display(meta)
hw = sorted(set(runs["hardware"]))
display(Markdown(f"Hardware (from each run's `run.json`): {'; '.join(hw)}. `run_minutes`: the sum of the wall times "
                 "of the part's runs, scoring runs included, as their `run.json` records them (one run at a time)."))

# %% [markdown]
# ## Held-out learning curves
#
# Mean held-out accuracy over seeds with its 95 % band, per setting; the x axis is the fraction of
# the run's own steps (a quarter-budget run has a quarter of the steps of a full one).

# %% tags=["hide-input"]
main_cells = [("competence", "action"), ("competence", "random"), ("competence", "anti_action"),
              ("baby_steps", "action"), ("annealing", "action"), ("shuffled", "none"), ("prune", "action")]
for part in parts:
    b = bands[bands["part"] == part]
    display(cur.curve_chart(b, main_cells, title=f"{part}: held-out accuracy"))

# %% [markdown]
# ## Final held-out metric and area under the learning curve
#
# Mean over seeds with the 95 % interval (`[low, high]`), per part, setting and cell.

# %% tags=["hide-input"]
tab = summary.assign(cell=[cur.cell_label(s, o) for s, o in zip(summary["schedule"], summary["order"])],
                     setting=[cur.setting_label(n, b) for n, b in zip(summary["noise_rate"], summary["budget"])])
fmt = lambda m, lo, hi: [f"{a:.4f} [{b:.4f}, {c:.4f}]" for a, b, c in zip(tab[m], tab[lo], tab[hi])]
tab["final (95 % CI)"] = fmt("final", "final_low", "final_high")
tab["AULC (95 % CI)"] = fmt("aulc", "aulc_low", "aulc_high")
tab["train s"] = tab["train_s"].round(1)
for part in parts:
    display(Markdown(f"**{part}**"))
    display(tab[tab["part"] == part][["setting", "cell", "n_seeds", "final (95 % CI)", "AULC (95 % CI)", "train s"]]
            .reset_index(drop=True))

# %% [markdown]
# ## Paired tests against the controls
#
# Each curriculum (every order that is not random, on each pacing schedule) against the same pacing
# with a random order and against shuffled training; pruning against shuffled training. Paired t
# test over the same seeds of the difference (curriculum minus control), in points of held-out
# accuracy (x 100), with its 95 % interval; `p_holm` adjusts every p of this table together (Holm).

# %% tags=["hide-input"]
show = tests.assign(cell=[cur.cell_label(s, o) for s, o in zip(tests["schedule"], tests["order"])],
                    setting=[cur.setting_label(n, b) for n, b in zip(tests["noise_rate"], tests["budget"])])
for c in ("mean_diff", "low", "high"):
    show[c] = (100 * show[c]).round(2)
show["p"] = show["p"].map(lambda v: f"{v:.3g}")
show["p_holm"] = show["p_holm"].map(lambda v: f"{v:.3g}")
for part in parts:
    display(Markdown(f"**{part}**"))
    display(show[show["part"] == part][["setting", "cell", "against", "measure", "n", "mean_diff", "low", "high", "p",
                                        "p_holm"]].reset_index(drop=True))
n_sig = int((tests["p_holm"] < 0.05).sum())
display(Markdown(f"{n_sig} of the {len(tests)} comparisons have a Holm-adjusted p below 0.05."))

# %% [markdown]
# ## The scoring run and what pruning removes
#
# The scoring run is ordinary training at the full budget: its cost comes before any curriculum run.
# `learns`: every scoring run of the part is at least 10 points of held-out accuracy above chance (`learn_margin`)
# (one over the number of classes); the opening answer reads only the parts that learn.
# `pruned_corrupted_share` is the share of corrupted labels among the 10 % of samples pruned by
# action (chance: the noise rate).

# %% tags=["hide-input"]
display(scoring.merge(learns[["chance", "learns"]], left_on="part", right_index=True)[
    ["part", "task", "backbone", "noise_rate", "n_train", "n_corrupted", "final_heldout", "chance", "learns", "train_s",
     "total_s", "pruned_corrupted_share", "hardware"]].round(4))

# %% [markdown]
# ## Reproduce
#
# Each part is one command (it reuses finished runs, so an interrupted part resumes); the parts are
# defined in `params/grids/curriculum.yaml`, and the `cpu` profile trains this page's slice itself.

# %% tags=["hide-input"]
defined = grid.read_file(curriculum_file)["parts"]
pending = [grid.load_part("curriculum", p, curriculum_file) for p in defined if p not in parts and p not in ("smoke", slice_part)]
if pending:
    display(Markdown("**Defined but not computed yet**, so not in this chapter's numbers: " + ", ".join(
        f"`{p.name}` ({p.task}, {p.backbone}, schedules {', '.join(p.schedules)})" for p in pending) + "."))
display(Markdown("```\n" + "".join(f"nlpdiff grid curriculum {p}    # -> {results_dir}/{p}/\n" for p in parts)
                 + "nlpdiff run notebooks/curriculum.py -p runs_dir runs "
                 "-o book/results/curriculum.ipynb\n```"))
