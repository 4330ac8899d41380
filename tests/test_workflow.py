"""The study's workflow: profiles parse, the Snakemake DAG resolves, plans expand as documented."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from nlpdiff.errors import ParameterError
from nlpdiff_study.workflow import PROFILES, load_plan

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("profile", PROFILES)
def test_profiles_expand(profile):
    plan = load_plan(profile, ROOT / "params" / "profiles", ROOT / "notebooks")
    assert plan.runs and plan.profile == profile
    names = [r.name for r in plan.all()]
    assert len(names) == len(set(names))
    pages = plan.pages()
    # every page the book's table of contents lists is produced by the profile
    toc = (ROOT / "_toc.yml").read_text()
    for page in pages:
        assert f"book/results/{page}" in toc
    for run in plan.runs:
        params = plan.executed_parameters(run)
        assert params["run_dir"] == f"runs/{profile}/{run.name}/run"


def test_seeds_expand_and_bad_profiles(tmp_path):
    (tmp_path / "params").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "nb.py").write_text("# %%\n")
    (tmp_path / "params" / "p.yaml").write_text(
        "defaults: {data_seed: 3}\nruns:\n  a:\n    notebook: nb\n    seeds: [0, 1]\n    page: a\n"
        "    parameters: {epochs: 2}\nanalyses:\n  z:\n    notebook: nb\n"
    )
    plan = load_plan("p", tmp_path / "params", tmp_path / "notebooks")
    assert [r.name for r in plan.runs] == ["a_s0", "a_s1"]
    assert plan.runs[1].parameters == {"data_seed": 3, "epochs": 2, "seed": 1}
    assert plan.pages() == {"a": plan.runs[0]}
    assert plan.executed_parameters(plan.analyses[0]) == {"runs_dir": "runs/p", "profile": "p"}
    with pytest.raises(ParameterError, match="profile='nope'"):
        load_plan("nope", tmp_path / "params")
    (tmp_path / "params" / "bad.yaml").write_text("runs:\n  a:\n    notebook: missing\n")
    with pytest.raises(ParameterError, match="missing"):
        load_plan("bad", tmp_path / "params", tmp_path / "notebooks")


@pytest.mark.skipif(shutil.which("snakemake") is None, reason="snakemake is not installed")
@pytest.mark.parametrize("profile", PROFILES)
def test_snakemake_dag_resolves(profile, tmp_path):
    result = subprocess.run(
        ["snakemake", "-n", "--quiet", "rules", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(ROOT),
         "--config", f"profile={profile}"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_smoke_profile_end_to_end(smoke_study):
    """The smoke profile runs every stage, builds its book with -W, and a second call does nothing."""
    import os

    project, plan, result = smoke_study
    assert result.returncode == 0, (result.stdout + result.stderr)[-8000:]
    # quiet: the kernels talk over local IPC sockets (no "running over TCP without encryption")
    assert "without encryption" not in result.stdout + result.stderr
    site = project / "runs" / "smoke" / "site"
    html = site / "_build" / "html"
    assert (html / "index.html").is_file()
    for page in plan.pages():
        assert (site / "book" / "results" / f"{page}.ipynb").is_file()
        assert (html / "book" / "results" / f"{page}.html").is_file()
    for run in plan.runs:
        assert (project / run.run_dir("smoke") / "run.json").is_file()
    # the published book in the repository was not touched by the smoke profile: its results folder
    # holds only the copied pages rendered from committed summaries, unchanged
    results = project / "book" / "results"
    committed = ["conclusions.ipynb", "gpu_runs.ipynb", "model_size.ipynb", "noisy_agnews.ipynb"]
    assert sorted(p.name for p in results.iterdir()) == committed
    for page in committed:
        assert (results / page).read_bytes() == (ROOT / "book" / "results" / page).read_bytes()
    again = subprocess.run(result.cmd + ["-n"], cwd=project, env=result.env, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr

    # and in a real browser, offline: every chart of the task and comparison pages rendered
    import test_book

    if os.access(test_book.CHROMIUM, os.X_OK):
        for page in ("sentiment", "question_answering", "summarization", "compare_scores"):
            tree = test_book._ChartTree()
            tree.feed(test_book._dump_dom(html / "book" / "results" / f"{page}.html"))
            assert tree.live_has_graphics and all(tree.live_has_graphics), page


def test_slurm_cluster_profile_resolves_gpu_dag():
    pytest.importorskip("snakemake_executor_plugin_slurm")
    result = subprocess.run(
        ["snakemake", "-n", "--quiet", "rules", "--profile", str(ROOT / "cluster" / "slurm"),
         "--config", "profile=gpu"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "train_run" in result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("snakemake") is None, reason="snakemake is not installed")
def test_study_command_dry_run(monkeypatch, capsys):
    from nlpdiff.cli import main

    monkeypatch.chdir(ROOT)
    assert main(["study", "--profile", "smoke", "--cores", "1", "-n", "--", "--quiet", "rules"]) == 0
    assert "snakemake --snakefile Snakefile --cores 1 -n --quiet rules --config profile=smoke" in capsys.readouterr().out


def test_run_threads_of_a_profile(tmp_path):
    (tmp_path / "params").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "nb.py").write_text("# %%\n")
    body = "runs:\n  a:\n    notebook: nb\n"
    (tmp_path / "params" / "p.yaml").write_text(body)
    assert load_plan("p", tmp_path / "params", tmp_path / "notebooks").run_threads is None  # every core, one at a time
    (tmp_path / "params" / "q.yaml").write_text("run_threads: 1\n" + body)
    assert load_plan("q", tmp_path / "params", tmp_path / "notebooks").run_threads == 1
    (tmp_path / "params" / "r.yaml").write_text("run_threads: 0\n" + body)
    with pytest.raises(ParameterError, match="run_threads=0"):
        load_plan("r", tmp_path / "params", tmp_path / "notebooks")
    assert load_plan("smoke", ROOT / "params" / "profiles", ROOT / "notebooks").run_threads == 1


_TINY_NOTEBOOK = '''# %% tags=["parameters"]
run_dir = "run"
epochs = 1

# %% [markdown]
# First version of the prose.

# %%
import json
import time
from pathlib import Path

path = Path(run_dir) / "run.json"
old = json.loads(path.read_text()) if path.is_file() else None
if old is None or old["params"] != {"epochs": epochs}:  # as load_or_train: the same parameters are reused
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"params": {"epochs": epochs}, "trained_at": time.time_ns()}))
print("epochs", epochs)
'''


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("snakemake") is None, reason="snakemake is not installed")
def test_a_prose_edit_re_executes_the_page_and_retrains_nothing(tmp_path):
    """The real Snakefile on a one-run profile whose notebook, like the study's, reuses a finished run with
    the same parameters: editing the notebook's prose re-executes its page but keeps the run (Snakemake
    does not delete it first); a changed parameter retrains; then nothing is left to do."""
    import json
    import time

    project = tmp_path / "project"
    (project / "params" / "profiles").mkdir(parents=True)
    (project / "notebooks").mkdir()
    shutil.copy2(ROOT / "Snakefile", project / "Snakefile")
    header = (ROOT / "notebooks" / "sentiment.py").read_text().split("# %%", 1)[0]
    source = project / "notebooks" / "nb.py"
    source.write_text(header + _TINY_NOTEBOOK)
    profile = "build_book: false\nruns:\n  a:\n    notebook: nb\n    page: a\n    parameters: {{epochs: {}}}\n"
    (project / "params" / "profiles" / "tiny.yaml").write_text(profile.format(1))

    def snakemake(*extra):
        done = subprocess.run(["snakemake", "--cores", "1", "--config", "profile=tiny", *extra], cwd=project,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
        return done.stdout + done.stderr

    run_json, page = project / "runs" / "tiny" / "a" / "run" / "run.json", project / "runs" / "tiny" / "a" / "notebook.ipynb"
    snakemake()
    trained = json.loads(run_json.read_text())["trained_at"]
    time.sleep(1.1)
    source.write_text(source.read_text().replace("First version", "Second version"))
    snakemake()
    assert "Second version" in page.read_text()  # the page was re-executed
    assert json.loads(run_json.read_text())["trained_at"] == trained  # the run was kept, not retrained
    assert "Nothing to be done" in snakemake("-n")
    (project / "params" / "profiles" / "tiny.yaml").write_text(profile.format(2))
    snakemake()
    assert json.loads(run_json.read_text())["trained_at"] != trained  # a changed parameter retrains
    assert "Nothing to be done" in snakemake("-n")


def test_the_cpu_profile_reads_a_committed_summarization_run_made_with_its_parameters(tmp_path):
    """The summarization run is a committed part (issue 23): the page's parameters in params/profiles/cpu.yaml
    must be those the committed run was made with, or the page would refuse it (and the study stop)."""
    from nlpdiff.config import from_flat
    from nlpdiff.dynamics import reuse_run
    from nlpdiff_study.runner import notebook_parameters

    plan = load_plan("cpu", ROOT / "params" / "profiles", ROOT / "notebooks")
    entry = plan.get("summarization")
    values = {**notebook_parameters(ROOT / "notebooks" / "summarization.py"), **plan.executed_parameters(entry)}
    committed = ROOT / values.pop("committed_run")
    values["output_dir"] = str(tmp_path / values.pop("run_dir"))
    run = reuse_run(committed, from_flat(values), copy=True)
    assert run.info["kind"] == "train" and run.params["task"] == "samsum" and run.path == tmp_path / entry.run_dir("cpu")
    # the copy is what the comparison and reproducibility pages read beside the runs trained in the profile
    assert (tmp_path / entry.run_dir("cpu") / "run.json").read_bytes() == (committed / "run.json").read_bytes()
