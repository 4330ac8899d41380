# The study's only orchestrator.
#
#   snakemake --cores all --config profile=cpu      (the README's main command wraps this)
#   snakemake -n --config profile=gpu               (dry run: what would run)
#   snakemake --profile cluster/slurm --config profile=gpu   (on a SLURM cluster, see cluster/)
#
# It reads params/profiles/<profile>.yaml (see nlpdiff_study.workflow), runs each training run's notebook with
# the nlpdiff runner (papermill) into runs/<profile>/<name>/, then the analysis notebooks, copies
# the pages into <book_root>/book/results/ and builds the book with `jupyter-book build -W`.
# A second call with nothing changed does nothing; changing one run's parameters reruns that run,
# the analyses that read it and the book.

import json
import os
import shutil
import subprocess
from pathlib import Path

from nlpdiff_study.workflow import load_plan

PROFILE = config.get("profile", "cpu")
# the notebook sources are package data of nlpdiff (so `nlpdiff run` finds them from any folder)
NOTEBOOKS = "notebooks"
PLAN = load_plan(PROFILE, "params/profiles", NOTEBOOKS)
ROOT = PLAN.book_root
RUNS = {r.name: r for r in PLAN.runs}
ANALYSES = {r.name: r for r in PLAN.analyses}
PAGES = PLAN.pages()
BOOK_INDEX = str(ROOT / "_build" / "html" / "index.html")
# prose, configuration, and the pages rendered from committed result summaries (not from this profile's runs;
# results/gpu/ is computed in parts on a GPU machine, see gpu/run_batch.py)
SITE_FILES = ["_config.yml", "_toc.yml", "book/intro.md", "book/methods.md", "book/score_table.md", "book/design.md",
              "book/references.md", "book/results/gpu_runs.ipynb",
              "book/results/conclusions.ipynb", "book/results/noisy_agnews.ipynb", "book/results/model_size.ipynb"]


def _alternation(names):
    return "|".join(sorted(names)) if names else "^$"


def run_notebook(source, output, parameters, threads=None):
    """The nlpdiff runner as a command (so a cluster job runs it the same way); ``threads`` caps the
    kernel's torch and OpenMP threads."""
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)} if threads else {})}
    subprocess.run(["nlpdiff", "run", str(source), "--parameters-json", json.dumps(parameters), "-o", str(output)],
                   check=True, env=env)


def page_path(page):
    return str(ROOT / "book" / "results" / f"{page}.ipynb")


rule all:
    input:
        BOOK_INDEX if PLAN.build_book else [page_path(p) for p in PAGES]


# committed tables a training page quotes, where the checkout has them (a change re-executes the page; the
# run is reused)
RUN_EXTRA_INPUTS = {
    notebook: [f for f in files if Path(f).is_file()]
    for notebook, files in {"question_answering": ["results/learning_curve/squad_cpu/curve.csv"],
                            "summarization": ["results/summarization/run/run.json"]}.items()
}


rule train_run:
    input:
        notebook=lambda w: f"{NOTEBOOKS}/{RUNS[w.name].notebook}.py",
        extra=lambda w: RUN_EXTRA_INPUTS.get(RUNS[w.name].notebook, []),
    output:
        notebook=f"runs/{PROFILE}/{{name}}/notebook.ipynb",
        # update(): Snakemake keeps the finished run when it re-executes the notebook (a prose edit), so the
        # notebook reuses it (same parameters and data); changed parameters make the notebook retrain
        run=update(f"runs/{PROFILE}/{{name}}/run/run.json"),
    params:
        parameters=lambda w: PLAN.executed_parameters(RUNS[w.name]),
    wildcard_constraints:
        name=_alternation(RUNS),
    # one training run at a time, each using every core; a profile's run_threads (smoke: 1) runs several side by side
    threads: PLAN.run_threads or workflow.cores
    resources:
        gpu=1 if PROFILE == "gpu" else 0,
    run:
        run_notebook(input.notebook, output.notebook, params.parameters, threads=PLAN.run_threads)
        if Path(output.run).is_file():  # reused or retrained, the run is current for this notebook now
            os.utime(output.run)


# --- curriculum ---
# the curriculum page also reads its part definitions and the committed parts' tables (results/curriculum/)
# the mislabel chapter reads its parts' definitions and every committed part's tables (results/mislabel/, results/gpu/)
ANALYSIS_EXTRA_INPUTS = {
    "curriculum": ["params/grids/curriculum.yaml", *sorted(str(p) for p in Path("results/curriculum").glob("*/runs.csv"))],
    "mislabel": ["params/grids/mislabel.yaml", *sorted(str(p) for p in Path("results/mislabel").glob("*/*.csv")),
                 *sorted(str(p) for p in Path("results/gpu").glob("summary_*.csv"))],
}


rule analysis:
    input:
        notebook=lambda w: f"{NOTEBOOKS}/{ANALYSES[w.name].notebook}.py",
        runs=[f"runs/{PROFILE}/{name}/run/run.json" for name in RUNS],
        extra=lambda w: ANALYSIS_EXTRA_INPUTS.get(ANALYSES[w.name].notebook, []),
    output:
        notebook=f"runs/{PROFILE}/analyses/{{name}}/notebook.ipynb",
    params:
        parameters=lambda w: PLAN.executed_parameters(ANALYSES[w.name]),
    wildcard_constraints:
        name=_alternation(ANALYSES),
    # as many side by side as training runs (the mislabel and curriculum slices train too)
    threads: PLAN.run_threads or workflow.cores
    run:
        run_notebook(input.notebook, output.notebook, params.parameters, threads=PLAN.run_threads)


rule page:
    input:
        lambda w: str(PAGES[w.page].notebook_output(PROFILE)),
    output:
        str(ROOT / "book" / "results" / "{page}.ipynb"),
    wildcard_constraints:
        page=_alternation(PAGES),
    run:
        shutil.copyfile(input[0], output[0])


if str(ROOT) != ".":

    rule site:
        # a separate book root (the smoke profile's): the prose and configuration, copied
        input:
            SITE_FILES,
        output:
            [str(ROOT / f) for f in SITE_FILES],
            directory(str(ROOT / "book" / "_static")),
        run:
            for f in SITE_FILES:
                Path(ROOT / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, ROOT / f)
            shutil.copytree("book/_static", ROOT / "book" / "_static", dirs_exist_ok=True)


rule book:
    input:
        pages=[page_path(p) for p in PAGES],
        site=[str(ROOT / f) for f in SITE_FILES],
    output:
        BOOK_INDEX,
    shell:
        "jupyter-book build {ROOT} -W -n --keep-going"
