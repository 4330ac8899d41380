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

COLUMNS = ["rank", "sample_id", "row", "review", "given_label", "predicted_label", "predicted_prob",
           "given_label_prob", "confidence", "variability", "correct_checkpoints", "action", "aum", "final_loss",
           "why"]


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
    assert table["predicted_prob"].between(1 / 3 - 1e-6, 1).all()  # the predicted class's probability
    right = table["predicted_label"] == table["given_label"]
    assert np.allclose(table.loc[right, "predicted_prob"], table.loc[right, "given_label_prob"], atol=1e-4)
    # every column reads in its usual direction, and maps exactly to the study's scores.parquet
    run = rundir.load_run("out/run")
    scores = run.scores.set_index("sample_id").loc[table["sample_id"]]
    assert np.allclose(table["confidence"], 1 - scores["cartography_confidence"].to_numpy(), atol=1e-6)
    assert np.allclose(table["aum"], -scores["aum"].to_numpy(), atol=1e-6)
    ev = run.dynamics[run.dynamics["pass"] == "eval"]
    assert ev["checkpoint"].nunique() == 4  # 2 epochs x 2 checkpoints
    hits = ev.groupby("sample_id")["correct"].sum().loc[table["sample_id"]].to_numpy()
    assert (table["correct_checkpoints"].to_numpy() == hits).all()
    assert table["correct_checkpoints"].between(0, 4).all()
    assert table["confidence"].corr(table["action"], method="spearman") < -0.5  # higher confidence = easier
    assert table["aum"].corr(table["action"], method="spearman") < -0.5
    page = open("out/data_map.html", encoding="utf-8").read()
    assert "vegaEmbed" in page and "<svg" in page
    # the map draws the table's columns, fills its page, says correctness in words, numbers the top suspects
    assert re.search(r'"width":\s*1000', page) and "0.3333" not in page.split("<body>")[1]
    assert "correct at 4 of 4 checkpoints" in page and "correct at 0 of 4 checkpoints" in page
    assert re.search(r'"suspect":\s*"#1"', page) and not re.search(r'"suspect":\s*"#11"', page)
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


def test_pairs_are_shown_whole_enough_to_read():
    """The terminal's hardest rows: both texts of a pair, each on its own line, shortened in the middle."""
    premise = "A man in a red jacket is " + "walking his very old dog " * 6 + "along the river at dawn."
    table = pd.DataFrame({"rank": [1], "sample_id": [0], "row": [17], "premise": [premise],
                          "hypothesis": ["Nobody is outside."], "given_label": ["entailment"],
                          "predicted_label": ["contradiction"], "predicted_prob": [0.97], "why": ["never"]})
    table.attrs["text_columns"] = ["premise", "hypothesis"]
    run = rundir.Run(path="r", info={}, samples=pd.DataFrame({"label": [0, 1]}), dynamics=None, scores=None,
                     metrics={"final": {"heldout_accuracy": 0.9}, "heldout_size": 100})
    result = audit.AuditResult(run=run, table=table, audit_csv="a.csv", data_map_html="m.html", reused=True,
                               heldout_accuracy=0.9, chance=0.5, p_value=1e-9, n_heldout=100)
    lines = audit.report_lines(result)
    at = next(i for i, line in enumerate(lines) if "row 17" in line)
    assert "given entailment, predicted contradiction (0.97): never" in lines[at]
    assert lines[at + 1].strip().startswith("premise:") and "'A man in a red jacket" in lines[at + 1]
    assert "along the river at dawn.'" in lines[at + 1] and " ... " in lines[at + 1]  # beginning and end kept
    assert lines[at + 2].strip() == "hypothesis: 'Nobody is outside.'"
    assert max(len(line) for line in lines[at:at + 3]) <= 100


def test_shorten_keeps_both_ends():
    assert audit.shorten("short text") == "short text"
    assert audit.shorten("a  b\n c") == "a b c"
    long = "begin " + "x" * 200 + " the end"
    cut = audit.shorten(long, 40)
    assert len(cut) <= 40 and cut.startswith("begin") and cut.endswith("the end") and " ... " in cut


def test_score_says_rows_classes_long_texts_and_time_before_training(capsys):
    """Before training: rows, classes, how many texts the --max-length limit cuts; after a few steps: the
    estimated total time. Nothing is cut silently: the report says it again."""
    from nlpdiff.models.scratch import tokenize

    data = reviews()
    data.loc[[0, 5], "review"] = ["a much longer review than the others, with many more words in it"] * 2
    data.to_csv("my.csv", index=False)
    lengths = [len(tokenize(t)) for t in data["review"]]
    assert score("--epochs", "2", "--max-length", "6") == 0, capsys.readouterr().err
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "read my.csv: 45 rows (comma-separated, UTF-8), 3 classes: bad 15, good 15, meh 15"
    assert printed[1] == "training on 36 rows, 9 held out to measure accuracy"
    n_long = sum(n > 6 for n in lengths)
    assert n_long == 16  # the two long reviews, and the 14 other "so-so" ones (so, -, so: 3 words)
    assert printed[2].startswith(f"{n_long} of 45 texts are longer than the 6-word limit (longest {max(lengths)} "
                                 "words): only their first 6 words are read; --max-length 16 keeps them whole")
    assert printed[3].startswith("estimated total time: about ")
    assert f"{n_long} texts were read only up to 6 words (--max-length)" in printed
    assert score("--epochs", "2", "--max-length", "16", "--overwrite") == 0
    assert "no text is longer than the 16-word limit (longest 14 words)" in capsys.readouterr().out


def test_token_lengths_count_the_model_tokens_of_both_texts():
    """With a Hugging Face model the limit is in its tokens, a pair counted together, as the model reads it."""
    from transformers import AutoTokenizer

    from nlpdiff import tasks
    from nlpdiff.config import from_flat
    from nlpdiff.models.hub import resolve_model

    frame = pd.DataFrame({"premise": ["a short one", "word " * 70, "two words"] * 10,
                          "hypothesis": ["yes", "no", "more " * 60] * 10, "label": ["e", "c", "n"] * 10})
    spec = tasks.register_task(tasks.from_frame(frame, text="premise", text_pair="hypothesis", label="label",
                                                name="pairs27"), replace=True)
    config = from_flat({**audit.DEFAULTS, "task": spec.name, "batch_size": 2, "output_dir": "unused"})
    tok = AutoTokenizer.from_pretrained(resolve_model("minilm"))
    lengths = audit.token_lengths(spec, config)
    rows = pd.concat([spec.data[s] for s in spec.data])
    expected = [len(tok(a, b)["input_ids"]) for a, b in zip(rows["premise"], rows["hypothesis"])]
    assert lengths.tolist() == expected
    summary = audit.summarize(spec, config)
    assert summary.n_long == 20 and summary.unit == "token" and summary.longest == max(expected)


def test_data_map_fills_the_page_and_labels_the_suspects():
    from nlpdiff import plots

    rng = np.random.default_rng(0)
    n = 2000
    words = [f"correct at {i} of 6 checkpoints" for i in range(6, -1, -1)]
    df = pd.DataFrame({"sample_id": np.arange(n), "variability": rng.random(n), "confidence": rng.random(n),
                       "correct": pd.Categorical([words[i] for i in rng.integers(0, 7, n)], categories=words,
                                                 ordered=True),
                       "suspect": [f"#{i + 1}" if i < 10 else None for i in range(n)]})
    spec = plots.data_map(df, color="correct", width=1000, height=620, size=9, opacity=0.2, label="suspect",
                          max_points=500).to_dict()
    assert spec["width"] == 1000 and spec["height"] == 620 and len(spec["layer"]) == 2
    points, text = spec["layer"]
    assert points["mark"]["size"] == 9 and points["mark"]["opacity"] == 0.2
    assert points["encoding"]["color"]["scale"]["domain"] == words  # the legend in words, in order
    assert text["mark"]["type"] == "text" and text["encoding"]["text"]["field"] == "suspect"
    rows = next(iter(spec["datasets"].values()))
    assert len(rows) == 500 and {f"#{i}" for i in range(1, 11)} <= {r["suspect"] for r in rows}  # kept in the sample


def test_summary_names_the_separator_and_a_byte_order_mark():
    summary = audit.Summary(path="a.tsv", n_rows=10, n_train=8, n_heldout=2, classes={"a": 5, "b": 5}, sep="\t",
                            encoding="utf-8-sig", max_length=64, unit="token", n_long=0, longest=12)
    assert summary.lines()[0] == "read a.tsv: 10 rows (tab-separated, UTF-8 with a byte-order mark), 2 classes: a 5, b 5"
    assert summary.lines()[2] == "no text is longer than the 64-token limit (longest 12 tokens)"
