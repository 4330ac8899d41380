"""A new user's first hour (issue 10): the CLI from a folder outside the repository, ``nlpdiff score`` from a
CSV with string labels to an audit table, reruns that never lose a finished run, one-line errors, and the
run-directory guard of ``train()`` and ``nlpdiff run``."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nlpdiff import rundir, tasks
from nlpdiff.cli import main as cli_main
from nlpdiff.config import TrainParams
from nlpdiff.dynamics import check_writable, load_or_train, train
from nlpdiff.errors import ParameterError
from nlpdiff_study.runner import default_run_dir, find_notebook, notebook_parameters

SRC = Path(__file__).resolve().parents[1] / "src"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
       "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
FAST = ["--backbone", "scratch", "--batch-size", "8", "--learning-rate", "0.05", "--epochs", "2", "-q"]


@pytest.fixture(autouse=True)
def _outside(tmp_path, monkeypatch, forget_registered_tasks):
    """Every test works from a folder outside the repository."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NLPDIFF_DATA_DIR", raising=False)


def reviews(n: int = 40) -> pd.DataFrame:
    words = {"good": "great lovely fine", "bad": "awful poor dull"}
    labels = [("good", "bad")[i % 2] for i in range(n)]
    return pd.DataFrame({"review": [f"item {i} was {words[y]}" for i, y in enumerate(labels)], "stars": labels})


def nlpdiff(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The ``nlpdiff`` command as a new user runs it: a separate process, in ``cwd``."""
    return subprocess.run([sys.executable, "-m", "nlpdiff.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env=ENV, timeout=900)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    err = result.stderr.strip().splitlines()
    lines = [line for line in err if line.startswith("nlpdiff: error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.slow
def test_score_from_outside_the_repository_and_rerun(tmp_path):
    assert not (tmp_path / "Snakefile").exists()
    reviews().to_csv(tmp_path / "my.csv", index=False)
    args = ["score", "my.csv", "--text", "review", "--label", "stars", *FAST, "-o", "out"]
    first = nlpdiff(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "trained run:" in first.stdout and "hardest rows:" in first.stdout
    table = pd.read_csv(tmp_path / "out" / "audit.csv")
    assert table.columns[:2].tolist() == ["rank", "sample_id"] and "why" in table.columns
    assert table["rank"].tolist() == list(range(1, len(table) + 1)) and len(table) == 32  # 8 of 40 held out
    assert (np.diff(table["action"].to_numpy()) <= 0).all()
    assert set(table["given_label"]) == {"bad", "good"} and table["why"].str.len().gt(0).all()
    page = (tmp_path / "out" / "data_map.html").read_text(encoding="utf-8")
    assert "<svg" in page and "https://" not in page.split("<body>")[1][:2000]
    info = json.loads((tmp_path / "out" / "run" / "run.json").read_text())
    assert info["data"]["task_source"]["label_names"] == ["bad", "good"]  # the label mapping is recorded
    csv_before = (tmp_path / "out" / "audit.csv").read_text()

    again = nlpdiff(*args, cwd=tmp_path)  # the same command: reused, the first result kept
    assert again.returncode == 0 and "reusing run:" in again.stdout, again.stderr
    assert json.loads((tmp_path / "out" / "run" / "run.json").read_text())["started_at"] == info["started_at"]
    assert (tmp_path / "out" / "audit.csv").read_text() == csv_before

    other = nlpdiff(*[a if a != "2" else "3" for a in args], cwd=tmp_path)  # other epochs: refused
    line = one_error_line(other)
    assert other.returncode == 2 and "--overwrite" in line and "epochs 2 -> 3" in line
    assert json.loads((tmp_path / "out" / "run" / "run.json").read_text())["started_at"] == info["started_at"]
    # --length-grouped is a training parameter like the others (here with --overwrite over the finished run)
    grouped = nlpdiff(*args, "--length-grouped", "--overwrite", cwd=tmp_path)
    assert grouped.returncode == 0, grouped.stderr
    info = json.loads((tmp_path / "out" / "run" / "run.json").read_text())
    assert info["params"]["length_grouped"] is True and info["resolved"]["sampler"] == "LengthGroupedSampler"


def _bad_input(case: str, tmp_path: Path) -> tuple[list[str], str]:
    data, out, extra, file = reviews(), "out", [], "my.csv"
    data["review"] = data["review"] + ", café"  # a comma and an accent in every text
    if case == "tab-separated read as commas":
        data.to_csv(tmp_path / file, sep="\t", index=False)
        extra, words = ["--sep", ","], ["sep=','", "the file looks tab-separated: pass --sep '\\t'"]
    elif case == "semicolons read as commas":
        data.to_csv(tmp_path / file, sep=";", index=False)
        extra, words = ["--sep", ","], ["sep=','", "semicolon-separated: pass --sep ';'"]
    elif case == "Latin-1 without --encoding":
        data.to_csv(tmp_path / file, index=False, encoding="latin-1")
        words = ["encoding='utf-8'", "not UTF-8: byte 0xe9 in line 2", "--encoding latin-1"]
    elif case == "unknown encoding":
        data.to_csv(tmp_path / file, index=False)
        extra, words = ["--encoding", "klingon"], ["encoding='klingon'", "an encoding Python knows"]
    elif case == "bad --max-length":
        data.to_csv(tmp_path / file, index=False)
        extra, words = ["--max-length", "0"], ["max_length=0"]
    if extra or case == "Latin-1 without --encoding":
        return ["score", file, "--text", "review", "--label", "stars", *FAST, *extra, "-o", out], words
    if case == "empty text":
        data.loc[[3, 7], "review"] = ["", "   "]
        words = ["review", "2 empty cells", "3, 7"]
    elif case == "one class":
        data["stars"] = "good"
        words = ["stars", "two classes", "'good'"]
    elif case == "missing label column":
        data = data.rename(columns={"stars": "rating"})
        words = ["stars", "rating"]
    elif case == "too few rows":
        data = data.iloc[:6]
        words = ["batch_size=8"]
    else:  # read-only output folder
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        if os.access(ro, os.W_OK):  # root writes anyway: a folder that cannot be created stands in
            out = "/proc/nlpdiff-read-only/out"
        else:
            out = str(ro / "out")
        words = ["output_dir=", "a folder that can be written"]
    data.to_csv(tmp_path / "my.csv", index=False)
    return ["score", "my.csv", "--text", "review", "--label", "stars", *FAST, "-o", out], words


@pytest.mark.parametrize("case", ["empty text", "one class", "missing label column", "too few rows",
                                  "read-only output folder", "tab-separated read as commas",
                                  "semicolons read as commas", "Latin-1 without --encoding", "unknown encoding",
                                  "bad --max-length"])
def test_score_bad_input_is_one_line(case, tmp_path):
    args, words = _bad_input(case, tmp_path)
    result = nlpdiff(*args, cwd=tmp_path)
    line = one_error_line(result)
    assert result.returncode == 2 and all(w in line for w in words), line
    assert not (tmp_path / "out").exists()  # nothing trained, no empty folder


@pytest.mark.parametrize("case", ["tsv", "tab-separated .csv", "semicolon", "pipe", "BOM", "Latin-1",
                                  "cp1252", "comma texts with semicolons"])
def test_any_delimited_file_is_read(case, tmp_path):
    """TSV, semicolon, pipe, a UTF-8 byte-order mark and (with --encoding) Latin-1 read into the same table."""
    data = reviews()
    data["review"] = data["review"] + ", café; «très» bien"
    file, options, sep, encoding = tmp_path / "my.csv", {}, ",", "utf-8"
    if case == "tsv":
        file, sep = tmp_path / "my.tsv", "\t"
    elif case == "tab-separated .csv":
        sep = "\t"
    elif case == "semicolon":
        sep = ";"
    elif case == "pipe":
        sep = "|"
    elif case == "BOM":
        encoding = "utf-8-sig"
    elif case in ("Latin-1", "cp1252"):
        encoding, options = case.lower(), {"encoding": case.lower()}
    data.to_csv(file, sep=sep, index=False, encoding=encoding)
    if encoding == "utf-8-sig":
        assert file.read_bytes().startswith(b"\xef\xbb\xbf")
    spec = tasks.from_csv(file, text="review", label="stars", **options)
    both = pd.concat([spec.data["train"], spec.data["heldout"]]).sort_values("row_idx")
    assert both["review"].tolist() == data["review"].tolist()
    assert [spec.label_names[i] for i in both["stars"]] == data["stars"].tolist()
    assert spec.data_source.get("sep", ",") == sep
    assert spec.data_source.get("encoding", "utf-8") == encoding  # utf-8-sig: a byte-order mark


def test_a_ragged_file_names_the_likely_cause(tmp_path):
    """Pandas' "Expected 3 fields in line 33, saw 4" comes with what to do about it."""
    lines = ["review,stars", *[f"item {i} was fine,good" for i in range(30)], "item 31 was fine, really,bad"]
    (tmp_path / "ragged.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ParameterError, match=r"Expected 2 fields in line 32, saw 3; a row has more fields than "
                                             r"the header: a text with an unquoted comma\? quote such texts"):
        tasks.from_csv(tmp_path / "ragged.csv", text="review", label="stars")


def test_run_files_follow_the_umask(tmp_path):
    """No forced 0600: with umask 022 every file of the run and the audit is readable by others, with 027
    by the group only."""
    reviews().to_csv("my.csv", index=False)
    for mask, mode in ((0o022, 0o644), (0o027, 0o640)):
        old = os.umask(mask)
        try:
            out = f"out{mask:o}"
            assert cli_main(["score", "my.csv", "--text", "review", "--label", "stars", *FAST, "-o", out]) == 0
        finally:
            os.umask(old)
        files = [p for p in Path(out).rglob("*") if p.is_file()]
        assert {"run.json", "scores.parquet", "audit.csv", "data_map.html", "predictions.parquet"} <= \
            {p.name for p in files}
        assert {oct(p.stat().st_mode & 0o777) for p in files} == {oct(mode)}, out


# ------------------------------------------------------------------------ Ctrl-C and SIGTERM


def _interrupt_at_step(monkeypatch, step: int, exc=KeyboardInterrupt):
    """Make training raise ``exc`` at its ``step``-th optimiser step, as a Ctrl-C there would."""
    import nlpdiff.dynamics as dynamics
    from nlpdiff.engine import Handler

    real = dynamics.fit

    class Stop(Handler):
        def on_batch_end(self, state):
            if state.step == step:
                raise exc()

    monkeypatch.setattr(dynamics, "fit", lambda state, sampler, opt, sched, handlers, **kw:
                        real(state, sampler, opt, sched, [Stop(), *handlers], **kw))


def test_ctrl_c_during_training_keeps_nothing_and_a_rerun_trains(tmp_path, capsys, monkeypatch):
    reviews().to_csv("my.csv", index=False)
    args = ["score", "my.csv", "--text", "review", "--label", "stars", *FAST, "-o", "out"]
    _interrupt_at_step(monkeypatch, 3)
    assert cli_main(args) == 130
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("nlpdiff: interrupted (Ctrl-C) during training, after ")
    assert "nothing is kept" in lines[0] and "run the same command again to start over" in lines[0]
    assert not Path("out").exists()  # no empty folder left behind
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    assert cli_main(args) == 0 and "trained run:" in capsys.readouterr().out


def test_ctrl_c_over_an_earlier_run_leaves_no_stale_audit(tmp_path, capsys, monkeypatch):
    """An interrupted --overwrite: the replaced run's audit.csv and data map are gone, the folder has no
    run.json, so neither a reader nor a rerun takes the old results for the new run's."""
    reviews().to_csv("my.csv", index=False)
    args = ["score", "my.csv", "--text", "review", "--label", "stars", *FAST, "-o", "out"]
    assert cli_main(args) == 0
    _interrupt_at_step(monkeypatch, 2)
    assert cli_main([*args, "--epochs", "3", "--overwrite"]) == 130
    assert "during training" in capsys.readouterr().err
    assert not Path("out/audit.csv").exists() and not Path("out/data_map.html").exists()
    assert not Path("out/run/run.json").exists()
    with pytest.raises(rundir.RunDirError):
        rundir.load_run("out/run")


def test_ctrl_c_after_training_keeps_the_run_and_a_rerun_reuses_it(tmp_path, capsys, monkeypatch):
    reviews().to_csv("my.csv", index=False)
    args = ["score", "my.csv", "--text", "review", "--label", "stars", *FAST, "-o", "out"]

    def stop(*a, **k):
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:  # only this patch is undone (not the fixture's environment)
        patched.setattr("nlpdiff.audit.datamap.data_map_html", stop)
        assert cli_main(args) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "after training: the finished run in" in err and "reuse it" in err, err
    assert (Path("out/run/run.json").exists() and Path("out/run/predictions.parquet").exists())
    assert not Path("out/data_map.html").exists()
    assert cli_main(args) == 0 and "reusing run:" in capsys.readouterr().out
    assert Path("out/data_map.html").exists()


SLOW_TRAINING = """
import signal, sys, time
# Ctrl-C as in a terminal: a job started in the background (CI under nohup or `&`) inherits SIGINT ignored,
# and Python then installs no KeyboardInterrupt handler
signal.signal(signal.SIGINT, signal.default_int_handler)
import nlpdiff.dynamics as dynamics
from nlpdiff.engine import Handler

real = dynamics.fit


class Slow(Handler):
    def on_batch_end(self, state):
        if state.step == 2:
            print("TRAINING", flush=True)
            time.sleep(120)  # wait here for the signal: it lands during training however loaded the machine is


dynamics.fit = lambda state, sampler, opt, sched, handlers, **kw: real(state, sampler, opt, sched,
                                                                       [Slow(), *handlers], **kw)
from nlpdiff.cli import main

sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("sig, code, name", [("SIGINT", 130, "Ctrl-C"), ("SIGTERM", 143, "SIGTERM")])
def test_a_signal_stops_the_command_cleanly(sig, code, name, tmp_path):
    """A real signal to a real process, in the middle of training: one line, 128 + the signal, no folder."""
    import signal

    reviews().to_csv(tmp_path / "my.csv", index=False)
    (tmp_path / "slow.py").write_text(SLOW_TRAINING)
    proc = subprocess.Popen([sys.executable, "slow.py", "score", "my.csv", "--text", "review", "--label", "stars",
                             *FAST, "-o", "out"], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("TRAINING"):
            break
    proc.send_signal(getattr(signal, sig))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"nlpdiff: interrupted ({name}) during training"), err
    assert not (tmp_path / "out").exists()


def test_a_read_only_file_system_is_one_line(tmp_path, capsys, monkeypatch):
    """The same from within: a write refused with EROFS before training, and an OSError after it."""
    reviews().to_csv("my.csv", index=False)
    real = Path.write_text

    def read_only(self, *args, **kwargs):
        if ".nlpdiff-write-test" in self.name:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", read_only)
    assert cli_main(["score", "my.csv", "--text", "review", "--label", "stars", *FAST, "-o", "out"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Read-only file system" in err and not Path("out").exists()
    # an OSError anywhere else (here: writing the audit table) is one line too, never a traceback
    monkeypatch.setattr(Path, "write_text", real)

    def fail(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", "out/audit.html")

    monkeypatch.setattr("nlpdiff.audit.write_audit", fail)
    rundir_path = tmp_path / "fake"
    monkeypatch.setattr("nlpdiff.audit.audit_table", lambda *a, **k: pd.DataFrame())
    rundir_path.mkdir()
    assert cli_main(["audit", str(rundir_path), "-o", "out/audit.html"]) == 1
    err = capsys.readouterr().err
    assert err == "nlpdiff: error: Read-only file system: out/audit.html\n"


def test_check_writable_leaves_no_trace(tmp_path):
    assert check_writable(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()
    with pytest.raises(ParameterError, match="a folder that can be written"):
        (tmp_path / "file").write_text("")
        check_writable(tmp_path / "file" / "out")


def test_study_outside_a_checkout_says_what_it_needs(tmp_path, capsys):
    assert cli_main(["study", "--profile", "cpu", "-n"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Snakefile" in err and "params/profiles/cpu.yaml" in err and str(tmp_path) in err


# ------------------------------------------------------------------------ the run-directory guard


def _params(out: Path, **change) -> TrainParams:
    tasks.register_task(tasks.from_frame(reviews(), text="review", label="stars", name="first_hour"), replace=True)
    return TrainParams(**{**dict(task="first_hour", backbone="scratch", train_size=None, epochs=1, batch_size=8,
                                 learning_rate=0.05, output_dir=str(out)), **change})


def test_train_never_replaces_a_finished_run_silently(tmp_path):
    out = tmp_path / "run"
    first = train(_params(out), progress=False)
    started = first.info["started_at"]
    # other parameters: refused before anything is loaded, the finished run untouched
    with pytest.raises(ParameterError, match=r"overwrite.*epochs 1 -> 2") as err:
        train(_params(out, epochs=2), progress=False)
    assert err.value.param == "overwrite"
    assert rundir.load_run(out).info["started_at"] == started
    with pytest.raises(ParameterError, match="overwrite"):
        load_or_train(_params(out, epochs=2), progress=False)
    # the same parameters: load_or_train reuses it; train() may train it again
    assert load_or_train(_params(out), progress=False).info["started_at"] == started
    # overwrite=True replaces it
    replaced = train(_params(out, epochs=2), progress=False, overwrite=True)
    assert replaced.params["epochs"] == 2 and rundir.load_run(out).params["epochs"] == 2


def test_train_checks_inputs_before_training_and_leaves_no_folder(tmp_path):
    data = reviews()
    data.loc[5, "review"] = None
    with pytest.raises(ParameterError, match=r"review.*1 empty cells.*at row\(s\) 5"):
        tasks.from_frame(data, text="review", label="stars", name="broken")
    tiny = tasks.register_task(tasks.from_frame(reviews(8), text="review", label="stars", name="tiny_hour"))
    with pytest.raises(ParameterError, match="held-out split of at least 4 rows"):
        TrainParams(task=tiny.name, backbone="scratch", train_size=None, batch_size=2,
                    output_dir=str(tmp_path / "t")).validate()
    out = tmp_path / "taken"
    out.write_text("a file, not a folder")
    with pytest.raises(ParameterError, match="output_dir=.*a folder that can be written"):
        train(_params(out / "run"), progress=False)


def test_nlpdiff_run_gets_a_run_directory_of_its_own():
    sentiment = find_notebook("sentiment")
    assert "run_dir" in notebook_parameters(sentiment) and notebook_parameters(sentiment)["epochs"] == 3
    a = default_run_dir("sentiment", {"epochs": 2, "train_size": 500})
    assert a == default_run_dir("sentiment", {"train_size": 500, "epochs": 2})  # same parameters, same folder
    assert a != default_run_dir("sentiment", {"epochs": 3, "train_size": 500})
    assert a.parent == Path("runs") and a.name.startswith("sentiment-")
    assert default_run_dir("sentiment", {"epochs": 2}, output="pages/mine.ipynb") == Path("runs/mine")


NOTEBOOK = '''# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
epochs = 1
run_dir = "unused"

# %%
import pandas as pd
from nlpdiff import tasks
from nlpdiff.config import from_flat
from nlpdiff.dynamics import load_or_train

words = {"good": "great lovely fine", "bad": "awful poor dull"}
labels = [("good", "bad")[i % 2] for i in range(40)]
frame = pd.DataFrame({"review": [f"item {i} was {words[y]}" for i, y in enumerate(labels)], "stars": labels})
spec = tasks.register_task(tasks.from_frame(frame, text="review", label="stars", name="nb_hour"), replace=True)
run = load_or_train(from_flat(dict(task=spec.name, backbone="scratch", train_size=None, epochs=epochs,
                                   batch_size=8, learning_rate=0.05, output_dir=run_dir)), progress=False)
'''


@pytest.mark.slow
def test_nlpdiff_run_reuses_refuses_and_overwrites(tmp_path, capsys):
    source = tmp_path / "tiny_page.py"
    source.write_text(NOTEBOOK)
    run = ["run", str(source), "-q", "-o", "page.ipynb"]
    assert cli_main(run) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    run_dir = tmp_path / "runs" / "page"  # from the -o name
    assert f"run directory: {run_dir} (written, train)" in out and "notebook:" in out
    started = rundir.load_run(run_dir).info["started_at"]
    assert cli_main(run) == 0 and f"run directory: {run_dir} (reused, train)" in capsys.readouterr().out
    # other parameters into the same folder: one line, the finished run kept
    assert cli_main([*run, "-p", "epochs", "2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nlpdiff: error: overwrite=False") and err.count("\n") == 1 and "epochs 1 -> 2" in err
    assert rundir.load_run(run_dir).info["started_at"] == started
    assert cli_main([*run, "-p", "epochs", "2", "--overwrite"]) == 0, capsys.readouterr().err
    assert rundir.load_run(run_dir).params["epochs"] == 2
    # without -o: the folder comes from the notebook and the parameters
    assert cli_main(["run", str(source), "-q", "-p", "epochs", "2"]) == 0, capsys.readouterr().err
    assert (default_run_dir("tiny_page", {"epochs": 2}) / "run.json").exists()
    assert (tmp_path / "book" / "results" / "tiny_page.ipynb").exists()


# ------------------------------------------------------------------------ blind reading of the suspects


def _table(n: int = 30) -> pd.DataFrame:
    t = pd.DataFrame({"rank": np.arange(1, n + 1), "sample_id": np.arange(n)[::-1],
                      "review": [f"review {i}" for i in range(n)], "given_label": ["good", "bad"] * (n // 2),
                      "action": np.linspace(9, 1, n), "why": "x"})
    t.attrs["text_columns"] = ["review"]
    return t


def test_blind_sheet_hides_the_ranking_and_the_key_rebuilds_it():
    from nlpdiff.audit import blind_groups, blind_sheet

    table = _table()
    groups = blind_groups(table, top=5, n_random=5, seed=0)
    assert sorted(groups.loc[groups["group"] == "top", "rank"]) == [1, 2, 3, 4, 5]
    assert (groups.loc[groups["group"] == "random", "rank"] > 5).all() and len(groups) == 10
    assert groups["group"].tolist() != ["top"] * 5 + ["random"] * 5  # shuffled together
    sheet = blind_sheet(table, top=5, n_random=5, seed=0)
    assert sheet.columns.tolist() == ["item", "review", "given_label", "judgement", "note"]
    assert sheet["review"].tolist() == groups["review"].tolist()  # the same items, same order: the key
    assert blind_groups(table, 5, 5, 0).equals(groups)  # deterministic
    with pytest.raises(ParameterError, match="top"):
        blind_groups(table, top=20, n_random=20)


def test_blind_summary_counts_each_group_and_tests_top_against_random():
    from nlpdiff.audit import blind_groups, blind_sheet, blind_summary

    table = _table()
    sheet = blind_sheet(table, top=5, n_random=5, seed=0)
    groups = blind_groups(table, top=5, n_random=5, seed=0)
    sheet["judgement"] = np.where(groups["group"] == "top", "mislabelled", "correct")
    sheet.loc[sheet.index[-1], "judgement"] = None  # one row not read
    summary = blind_summary(table, sheet, top=5, n_random=5, seed=0).set_index("group")
    top, rnd = summary.loc["top"], summary.loc["random"]
    assert top["mislabelled"] + rnd["mislabelled"] == (groups["group"].iloc[:-1] == "top").sum()
    assert top["read"] + rnd["read"] == 9 and rnd["mislabelled"] == 0
    assert top["low"] <= top["share_mislabelled"] <= top["high"] and top["fisher_p"] < 0.05
    bad = sheet.assign(judgement="wrong")
    with pytest.raises(ParameterError, match="judgement"):
        blind_summary(table, bad, top=5, n_random=5)


def test_audit_blind_round_trip_on_a_run(tmp_path, capsys):
    out = tmp_path / "run"
    train(_params(out), progress=False)
    assert cli_main(["audit", str(out), "--blind", "4", "-o", "sheet.csv"]) == 0
    sheet = pd.read_csv("sheet.csv", keep_default_na=False)
    assert len(sheet) == 8 and "action" not in sheet.columns and (sheet["judgement"] == "").all()
    sheet["judgement"] = "correct"
    sheet.to_csv("sheet.csv", index=False)
    capsys.readouterr()
    assert cli_main(["audit", str(out), "--blind", "4", "--judgements", "sheet.csv"]) == 0
    printed = capsys.readouterr().out
    assert "top" in printed and "random" in printed and "share_mislabelled" in printed


def test_a_committed_reading_is_prepared_blind_and_never_overwritten(tmp_path):
    from nlpdiff_study import mislabel

    out = tmp_path / "run"
    train(_params(out), progress=False)
    folder = mislabel.prepare_reading(out, tmp_path / "reading", top=4, n_random=4)
    sheet = pd.read_csv(folder / "sheet.csv", keep_default_na=False)
    assert {"rank", "action", "group", "why"}.isdisjoint(sheet.columns) and len(sheet) == 8
    assert json.loads((folder / "run.json").read_text())["params"]["task"] == "first_hour"
    key = pd.read_csv(folder / "key.csv")
    sheet["judgement"] = np.where(key["group"] == "top", "mislabelled", "correct")
    sheet.to_csv(folder / "sheet.csv", index=False)
    reading = mislabel.load_reading(folder)
    assert reading["top"]["judgement"].eq("mislabelled").all() and list(reading["top"]["rank"]) == [1, 2, 3, 4]
    summary = reading["summary"].set_index("group")
    assert summary.loc["top", "mislabelled"] == 4 and summary.loc["random", "correct"] == 4
    with pytest.raises(ParameterError, match="reading is kept"):
        mislabel.prepare_reading(out, folder, top=4, n_random=4)


def test_study_progress_lines_add_elapsed_time_and_an_estimate():
    import io

    from nlpdiff_study.cli import progress_line, relay_progress

    assert progress_line(2, 8, 120.0) == ("[nlpdiff study] 2/8 steps done, 2:00 elapsed, about 6:00 left "
                                          "(rough: steps differ in cost)")
    assert progress_line(8, 8, 3725.0) == "[nlpdiff study] 8/8 steps done, 1:02:05 elapsed"
    log = ["rule train_run:\n", "1 of 4 steps (25%) done\n", "Finished job 3.\n", "4 of 4 steps (100%) done\n"]
    times = iter([30.0, 200.0])
    out = io.StringIO()
    relay_progress(iter(log), out, 0.0, clock=lambda: next(times))
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["rule train_run:", "1 of 4 steps (25%) done"]
    assert lines[2] == "[nlpdiff study] 1/4 steps done, 0:30 elapsed, about 1:30 left (rough: steps differ in cost)"
    assert lines[-1] == "[nlpdiff study] 4/4 steps done, 3:20 elapsed" and len(lines) == 6
