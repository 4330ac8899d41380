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
    plan = load_plan(profile, ROOT / "params", ROOT / "notebooks")
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
    assert sorted(p.name for p in results.iterdir()) == ["conclusions.ipynb", "gpu_runs.ipynb", "noisy_agnews.ipynb"]
    for page in ("conclusions.ipynb", "gpu_runs.ipynb", "noisy_agnews.ipynb"):
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
