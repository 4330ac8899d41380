"""The runner executes the notebook sources through papermill, as the book's pages are made."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from nlpdiff import rundir
from nlpdiff_study.runner import NOTEBOOKS_DIR
from nlpdiff.cli import main as cli_main
from nlpdiff_study.runner import NotebookFailed, run_notebook

ROOT = Path(__file__).resolve().parents[1]
SENTIMENT = NOTEBOOKS_DIR / "sentiment.py"

pytestmark = pytest.mark.slow


def _outputs_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            for value in out.get("data", {}).values():
                parts.append(value if isinstance(value, str) else json.dumps(value))
    return "\n".join(parts)


def test_sentiment_notebook_smoke(smoke_study):
    """The sentiment page with injected noise, as the smoke study rendered it (64 sentences, 12.5 % flipped)."""
    from conftest import smoke_page, smoke_run_dir

    out = smoke_page(smoke_study, "sentiment_noise")
    nb = nbformat.read(out, as_version=4)
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
    # the parameter cells are not on the page: a collapsed box at its end shows them and the commands
    tagged = [c for c in nb.cells if {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))]
    assert len(tagged) == 2 and all("remove-cell" in c.metadata["tags"] for c in tagged)
    box = nb.cells[-1]
    assert box.cell_type == "markdown" and box.source.startswith("::::{admonition} Reproduce this page")
    assert ":class: dropdown" in box.source and "noise_rate = 0.125" in box.source
    assert "nlpdiff run sentiment -o book/results/sentiment_noise.ipynb --parameters-json '{" in box.source
    assert "papermill notebooks/sentiment.ipynb book/results/sentiment_noise.ipynb -y '{" in box.source
    code = [c for c in nb.cells if c.cell_type == "code" and not {"parameters", "injected-parameters"}
            & set(c.metadata.get("tags", []))]
    assert code and all({"hide-input", "remove-input", "hide-cell", "remove-cell"} & set(c.metadata["tags"])
                        for c in code)
    # no stderr (progress bars, library warnings) on a published page
    assert not [o for c in nb.cells for o in c.get("outputs", [])
                if o.get("output_type") == "stream" and o.get("name") == "stderr"]
    text = _outputs_text(nb)
    assert "Held-out accuracy" in text
    assert "roc_auc" in text and "average_precision" in text  # noise was injected: detection table
    charts = [o for c in nb.cells for o in c.get("outputs", []) if 'class="nlpdiff-chart"' in o.get("data", {}).get("text/html", "")]
    assert len(charts) >= 3  # learning curve, data map, action-score distribution
    run = rundir.load_run(smoke_run_dir(smoke_study, "sentiment_noise"))
    assert len(run.samples) == 64 and run.samples["is_corrupted"].sum() == 8
    assert not out.with_name("notebook.failed.ipynb").exists()


def test_bad_parameter_fails_the_notebook_and_keeps_the_page(tiny_data_dir, tmp_path):
    out = tmp_path / "sentiment.ipynb"
    out.write_text("previous good page")
    with pytest.raises(NotebookFailed) as err:
        run_notebook(SENTIMENT, out, {"epochs": 0, "data_dir": str(tiny_data_dir),
                                      "run_dir": str(tmp_path / "run")}, cwd=tmp_path)
    assert "epochs=0" in str(err.value)
    assert out.read_text() == "previous good page"
    failed = nbformat.read(err.value.failed_path, as_version=4)
    errors = [o for c in failed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors and errors[0]["ename"] == "ParameterError" and "epochs=0" in errors[0]["evalue"]
    assert not (tmp_path / "run" / "dynamics.parquet").exists()


def test_cli_run_exits_non_zero_on_a_failed_notebook(tiny_data_dir, tmp_path, capsys):
    code = cli_main(["run", str(SENTIMENT), "-p", "noise_rate", "1.5", "-p", "data_dir", str(tiny_data_dir),
                     "-p", "run_dir", str(tmp_path / "run"), "-o", str(tmp_path / "s.ipynb")])
    assert code == 1
    assert "noise_rate=1.5" in capsys.readouterr().err


def test_cli_scores_a_users_csv(tmp_path, capsys, monkeypatch):
    """``nlpdiff run sentiment -p data_file my.csv -p text_column ... -p label_column ...``: a CSV with
    string labels is checked, mapped and scored; a relative path works from the caller's folder."""
    words = {"good": "great lovely fine", "bad": "awful poor dull", "meh": "average plain so-so"}
    labels = [("good", "bad", "meh")[i % 3] for i in range(60)]
    pd.DataFrame({"review": [f"item {i} was {words[y]}" for i, y in enumerate(labels)], "stars": labels}).to_csv(
        tmp_path / "my.csv", index=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NLPDIFF_DATA_DIR", raising=False)
    common = ["-p", "text_column", "review", "-p", "label_column", "stars", "-p", "train_size", "null",
              "-p", "backbone", "scratch", "-p", "learning_rate", "0.05", "-p", "batch_size", "8",
              "-p", "epochs", "3", "-p", "run_dir", str(tmp_path / "run")]
    code = cli_main(["run", str(SENTIMENT), "-p", "data_file", "my.csv", *common, "-o", str(tmp_path / "p.ipynb")])
    assert code == 0, capsys.readouterr().err
    text = _assert_clean_page(tmp_path / "p.ipynb")
    assert "Held-out accuracy" in text
    run = rundir.load_run(tmp_path / "run")
    assert len(run.samples) == 48 and set(run.samples["label"]) == {0, 1, 2}  # 12 rows held out
    assert run.params["task"] == "my"
    # a bad input: one clear line, nothing trained
    code = cli_main(["run", str(SENTIMENT), "-p", "data_file", "nothing.csv", *common[:-3],
                     "-p", "run_dir", str(tmp_path / "bad"), "-o", str(tmp_path / "bad.ipynb")])
    assert code == 2 and "data_file='nothing.csv'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_cli_unknown_notebook_and_profile(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert cli_main(["run", "no_such_notebook"]) == 2
    assert "notebook='no_such_notebook'" in capsys.readouterr().err
    assert cli_main(["study", "--profile", "huge"]) == 2
    assert "profile='huge'" in capsys.readouterr().err


def test_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "nlpdiff.cli", "--help"], capture_output=True, text=True,
                            env={**os.environ})
    assert result.returncode == 0 and "study" in result.stdout


def _assert_clean_page(out: Path, min_charts: int = 3) -> str:
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors[0]["evalue"] if errors else ""
    charts = [o for c in nb.cells for o in c.get("outputs", []) if 'class="nlpdiff-chart"' in o.get("data", {}).get("text/html", "")]
    assert len(charts) >= min_charts
    return _outputs_text(nb)


def test_question_answering_notebook_smoke(smoke_study):
    from conftest import smoke_page

    text = _assert_clean_page(smoke_page(smoke_study, "question_answering"))
    assert "Held-out exact match" in text


def test_question_answering_notebook_on_the_dev_split_without_heldout(smoke_study):
    from conftest import smoke_page, smoke_run_dir

    text = _assert_clean_page(smoke_page(smoke_study, "squad_dev"))
    assert "No held-out evaluation" in text
    run = rundir.load_run(smoke_run_dir(smoke_study, "squad_dev"))
    assert run.metrics["train_split"] == "validation" and run.metrics["heldout_split"] is None


def test_summarization_notebook_smoke(smoke_study):
    from conftest import smoke_page, smoke_run_dir

    text = _assert_clean_page(smoke_page(smoke_study, "summarization"))
    assert "ROUGE" in text
    run = rundir.load_run(smoke_run_dir(smoke_study, "summarization"))
    assert {"loss_sum", "n_tokens"} <= set(run.dynamics.columns)
    assert "action_token_sum" in run.scores.columns


def test_finish_page_folds_code_removes_parameters_into_a_reproduce_box_and_is_idempotent(tmp_path):
    import yaml

    from nlpdiff_study.runner import finish_page

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1  # a default\nflag = True", metadata={"tags": ["parameters", "hide-cell"]}),
                nbformat.v4.new_code_cell('# Parameters\nflag = False\nnames = ["a", "b"]\n',
                                          metadata={"tags": ["injected-parameters"]}),
                nbformat.v4.new_code_cell("print(x)", outputs=[
                    nbformat.v4.new_output("stream", name="stderr", text="progress"),
                    nbformat.v4.new_output("stream", name="stdout", text="1")]),
                nbformat.v4.new_code_cell("show()", metadata={"tags": ["remove-input"]}),
                nbformat.v4.new_markdown_cell("# Title")]
    path = tmp_path / "notebook.ipynb"
    nbformat.write(nb, path)
    finish_page(path, title="Sentiment with label noise", notebook="sentiment", page="sentiment_noise")
    finish_page(path, notebook="sentiment", page="sentiment_noise")
    cells = nbformat.read(path, as_version=4).cells
    assert cells[4].source == "# Sentiment with label noise\n"
    assert cells[0].metadata["tags"] == ["parameters", "remove-cell"]
    assert cells[1].metadata["tags"] == ["injected-parameters", "remove-cell"]
    assert cells[2].metadata["tags"] == ["hide-input"] and [o.name for o in cells[2].outputs] == ["stdout"]
    assert cells[3].metadata["tags"] == ["remove-input"]
    assert len(cells) == 6  # one box, not two
    box = cells[5].source
    assert box.startswith("::::{admonition} Reproduce this page\n:class: dropdown\n") and box.rstrip().endswith("::::")
    assert "x = 1  # a default" in box and "flag = False" in box
    # the command's JSON is the injected values, read back as papermill and nlpdiff run read it
    line = next(x for x in box.splitlines() if x.startswith("nlpdiff run "))
    assert line.startswith("nlpdiff run sentiment -o book/results/sentiment_noise.ipynb --parameters-json '")
    given = line.split("--parameters-json ", 1)[1].strip("'")
    assert yaml.safe_load(given) == {"flag": False, "names": ["a", "b"]}
    assert "papermill notebooks/sentiment.ipynb book/results/sentiment_noise.ipynb -y '" in box


def test_kernel_runs_without_tcp_warning(tmp_path, capfd):
    """The kernel talks to papermill over local IPC sockets: ipykernel's "Kernel is running over TCP
    without encryption" warning (once per notebook: 15 times in the smoke study) is not printed."""
    header = SENTIMENT.read_text().split("# %%", 1)[0]
    source = tmp_path / "tiny.py"
    source.write_text(header + '# %% tags=["parameters"]\nx = 1\n\n# %%\nprint("x is", x)\n')
    out = tmp_path / "tiny.ipynb"
    run_notebook(source, out, {"x": 7}, cwd=tmp_path)
    assert "x is 7" in _outputs_text(nbformat.read(out, as_version=4))
    captured = capfd.readouterr()
    assert "without encryption" not in captured.err + captured.out


def test_two_kernels_side_by_side_in_one_folder(tmp_path):
    """Two notebooks executed at once from the same working folder (as the smoke workflow runs two runs
    side by side) each get their own IPC sockets: both finish with their own output."""
    from concurrent.futures import ThreadPoolExecutor

    header = SENTIMENT.read_text().split("# %%", 1)[0]
    source = tmp_path / "tiny.py"
    source.write_text(header + '# %% tags=["parameters"]\nx = 1\n\n# %%\nimport time\ntime.sleep(2)\nprint("x is", x)\n')

    def run(i):
        out = tmp_path / f"tiny{i}.ipynb"
        run_notebook(source, out, {"x": i}, cwd=tmp_path)
        return _outputs_text(nbformat.read(out, as_version=4))

    with ThreadPoolExecutor(max_workers=2) as pool:
        texts = list(pool.map(run, (11, 22)))
    assert "x is 11" in texts[0] and "x is 22" in texts[1]
    assert not list(tmp_path.glob("kernel-ipc*"))  # no socket in the working folder
