"""``nlpdiff score my.csv --text ... --label ... -o out/`` (nlpdiff.audit): from a user's CSV to a ranked
audit table and an offline data map, with reuse of finished runs and one-line errors."""

from __future__ import annotations

import json
import os
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from nlpdiff import audit, rundir
from nlpdiff.cli import main as cli_main

COLUMNS = ["rank", "sample_id", "row", "review", "given_label", "predicted_label", "confidence",
           "given_label_prob", "action", "cartography_confidence", "aum", "final_loss", "why"]


@pytest.fixture(autouse=True)
def _outside(tmp_path, monkeypatch, forget_registered_tasks):
    """Work from a folder outside the repository; tasks registered here are forgotten afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NLPDIFF_DATA_DIR", raising=False)


def reviews(n: int = 45) -> pd.DataFrame:
    words = {"good": "great lovely fine", "bad": "awful poor dull", "meh": "average plain so-so"}
    labels = [("good", "bad", "meh")[i % 3] for i in range(n)]
    return pd.DataFrame({"review": [f"item {i} was {words[y]}" for i, y in enumerate(labels)], "stars": labels})


FAST = ["--backbone", "scratch", "--batch-size", "8", "--learning-rate", "0.05", "-q"]


def score(*extra: str, file: str = "my.csv", out: str = "out") -> int:
    return cli_main(["score", file, "--text", "review", "--label", "stars", *FAST, *extra, "-o", out])


@pytest.mark.slow
def test_score_writes_a_ranked_audit_table_and_an_offline_data_map(capsys):
    reviews().to_csv("my.csv", index=False)
    assert score("--epochs", "2") == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "trained run:" in printed and "audit.csv" in printed and "data_map.html" in printed
    assert "held-out accuracy:" in printed
    table = pd.read_csv("out/audit.csv")
    assert table.columns.tolist() == COLUMNS and len(table) == 36  # 9 of 45 rows held out
    assert table["rank"].tolist() == list(range(1, 37))
    assert (np.diff(table["action"].to_numpy()) <= 0).all()  # hardest first
    assert set(table["given_label"]) == {"bad", "good", "meh"} and set(table["predicted_label"]) <= {"bad", "good", "meh"}
    data = reviews()
    assert (table["review"] == data["review"][table["row"]].to_numpy()).all()  # row: the CSV's data row
    assert (table["given_label"] == data["stars"][table["row"]].to_numpy()).all()
    assert table["confidence"].between(1 / 3 - 1e-6, 1).all()  # the predicted class's probability
    right = table["predicted_label"] == table["given_label"]
    assert np.allclose(table.loc[right, "confidence"], table.loc[right, "given_label_prob"], atol=1e-4)
    page = open("out/data_map.html", encoding="utf-8").read()
    assert "vegaEmbed" in page and "<svg" in page
    assert not re.search(r"<script[^>]*\bsrc\s*=\s*[\"']?https?:", page, re.I)  # offline
    assert not re.search(r"<link[^>]*href\s*=\s*[\"']?https?:", page, re.I)
    # the same table from the run directory alone (`nlpdiff audit RUN_DIR`): one function for both
    again = audit.audit_table("out/run")
    assert again["sample_id"].tolist() == table["sample_id"].tolist()
    assert again["why"].tolist() == table["why"].tolist()
    # why: read from the eval pass at every checkpoint
    run = rundir.load_run("out/run")
    ev = run.dynamics[run.dynamics["pass"] == "eval"]
    right_everywhere = ev.groupby("sample_id")["correct"].all()
    never = ev.groupby("sample_id")["correct"].any().eq(False)
    why = table.set_index("sample_id")["why"]
    assert why[right_everywhere[right_everywhere].index].str.startswith("given label predicted at every").all()
    assert why[never[never].index].str.contains("never predicted|at every checkpoint|at all").all()
    assert cli_main(["audit", "out/run", "--top", "5", "-o", "top.csv"]) == 0
    assert pd.read_csv("top.csv")["sample_id"].tolist() == table["sample_id"].tolist()[:5]
    assert cli_main(["audit", "out/run", "--top", "3", "-o", "top.html"]) == 0
    page = open("top.html", encoding="utf-8").read()
    assert page.count("<tr") == 4 and "<script" not in page and "why" in page  # header + 3 rows, offline
    assert cli_main(["audit", "out/run", "--top", "3"]) == 0
    assert "why" in capsys.readouterr().out
    started = json.loads(open("out/run/run.json").read())["started_at"]
    # a run directory without predictions.parquet (made by dynamics.train): the eval pass at the last
    # checkpoint gives the prediction when it is the given label; with 3 classes the others are unknown
    shutil.copytree("out/run", "bare")
    os.remove("bare/predictions.parquet")
    bare = audit.audit_table("bare").set_index("sample_id").loc[table["sample_id"]]
    known = bare["predicted_label"].notna().to_numpy()
    assert (known == right.to_numpy()).all()
    assert (bare["predicted_label"].to_numpy()[known] == table["predicted_label"].to_numpy()[known]).all()

    # the same arguments: the run is reused, not retrained
    assert score("--epochs", "2") == 0
    assert "reusing run:" in capsys.readouterr().out
    assert json.loads(open("out/run/run.json").read())["started_at"] == started

    # other parameters: refused without --overwrite, nothing touched
    assert score("--epochs", "3") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--overwrite" in err and "epochs 2 -> 3" in err and "Traceback" not in err
    assert json.loads(open("out/run/run.json").read())["started_at"] == started
    assert score("--epochs", "3", "--overwrite") == 0, capsys.readouterr().err
    assert rundir.load_run("out/run").params["epochs"] == 3

    # other data in the same file: refused too
    changed = reviews()
    changed.loc[0, "review"] = "item 0 was great, really"
    changed.to_csv("my.csv", index=False)
    assert score("--epochs", "3") == 2 and "other parameters or data" in capsys.readouterr().err


def test_score_from_python_checks_inputs_before_training(tmp_path):
    reviews().to_csv("my.csv", index=False)
    from nlpdiff.errors import ParameterError

    with pytest.raises(ParameterError, match="epochs"):
        audit.score_file("my.csv", text="review", label="stars", output_dir="out", epochs=0, backbone="scratch")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", ["missing column", "empty text", "single class", "missing file", "bad epochs"])
def test_score_errors_are_one_line_and_train_nothing(case, capsys):
    data = reviews()
    args: list[str] = []
    file = "my.csv"
    if case == "missing column":
        data = data.rename(columns={"stars": "rating"})
    elif case == "empty text":
        data.loc[4, "review"] = ""
    elif case == "single class":
        data["stars"] = "good"
    elif case == "missing file":
        file = "nothing.csv"
    elif case == "bad epochs":
        args = ["--epochs", "0"]
    data.to_csv("my.csv", index=False)
    assert score(*args, file=file) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("nlpdiff: error: ") and captured.err.count("\n") == 1, captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert not (pytest.importorskip("pathlib").Path("out")).exists()


def test_score_refuses_an_unwritable_output_folder(capsys):
    reviews().to_csv("my.csv", index=False)
    open("taken", "w").close()  # a file where the folder should be
    assert score(out="taken/out") == 2
    err = capsys.readouterr().err
    assert "output_dir=" in err and err.count("\n") == 1


def test_why_column_rules():
    """Two classes, four checkpoints: each rule of the "why" column on one sample."""
    correct = {0: [0, 0, 0, 0], 1: [1, 1, 1, 1], 2: [1, 0, 1, 0], 3: [0, 0, 1, 1], 4: [1, 1, 0, 0], 5: [0, 0, 0, 0]}
    prob = {0: [0.05] * 4, 1: [0.95] * 4, 2: [0.6, 0.4, 0.6, 0.4], 3: [0.2, 0.4, 0.6, 0.7], 4: [0.6, 0.6, 0.4, 0.3],
            5: [0.3, 0.2, 0.4, 0.3]}
    rows = [{"sample_id": i, "checkpoint": c, "correct": bool(correct[i][c]), "gold_prob": prob[i][c]}
            for i in correct for c in range(4)]
    labels = pd.Series([1, 0, 0, 1, 1, 0], index=range(6))
    why = audit.why_column(pd.DataFrame(rows), labels, 2, lambda ids: [("neg", "pos")[int(i)] for i in ids])
    assert why[0] == "predicted neg with confidence > 0.9 at every checkpoint"
    assert why[1] == "given label predicted at every checkpoint with confidence > 0.9"
    assert why[2] == "flips between labels 3 times over 4 checkpoints"
    assert why[3] == "given label predicted from checkpoint 3 of 4"
    assert why[4] == "given label predicted until checkpoint 2 of 4, not at the end"
    assert why[5] == "predicted pos at all 4 checkpoints"
    prob[5] = [0.3, 0.05, 0.08, 0.02]
    rows = [{"sample_id": i, "checkpoint": c, "correct": bool(correct[i][c]), "gold_prob": prob[i][c]}
            for i in correct for c in range(4)]
    why = audit.why_column(pd.DataFrame(rows), labels, 2, lambda ids: [("neg", "pos")[int(i)] for i in ids])
    assert why[5] == "predicted pos at all 4 checkpoints, with confidence > 0.9 from checkpoint 2"
    three = audit.why_column(pd.DataFrame(rows), labels, 3, lambda ids: [str(i) for i in ids])
    assert three[0] == "given label never predicted; its probability < 0.1 at every checkpoint"
    assert three[5] == "given label never predicted (4 checkpoints)"


def test_audit_of_something_else_is_one_line(capsys):
    os.mkdir("not_a_run")
    assert cli_main(["audit", "not_a_run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nlpdiff: error: run=") and err.count("\n") == 1 and "run.json" in err
    assert cli_main(["audit", "not_a_run", "--top", "0"]) == 2


def test_chance_warning_uses_a_binomial_test():
    def run(acc, n, labels):
        return rundir.Run(path=None, info={}, samples=pd.DataFrame({"label": labels}), dynamics=None, scores=None,
                          metrics={"final": {"heldout_accuracy": acc}, "heldout_size": n})

    balanced = [0, 1] * 50
    assert audit.chance_check(run(0.51, 200, balanced))["at_chance"]  # the 0.510: chance
    assert "WARNING: held-out accuracy 0.510" in audit.chance_warning(run(0.51, 200, balanced))
    assert audit.chance_warning(run(0.60, 200, balanced)) is None  # p = 0.003
    assert audit.chance_check(run(0.60, 20, balanced))["at_chance"]  # too few held-out rows to tell
    assert audit.chance_check(run(0.62, 200, [0] * 60 + [1] * 40))["at_chance"]  # majority class is 0.60
    assert audit.chance_warning(run(None, 0, balanced)).startswith("WARNING: no held-out accuracy")
