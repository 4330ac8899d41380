"""Tests of nlpdiff.tasks: registry, loading (tiny local copies; the real data when
NLPDIFF_DATA_DIR is set), subsampling and label noise."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from nlpdiff import tasks
from nlpdiff.errors import ParameterError
from nlpdiff.tasks import (
    NOISE_KINDS,
    TASKS,
    NoiseResult,
    TaskSpec,
    get_task,
    inject_noise,
    load_imdb_cleanlab_pred_probs,
    load_split,
    resolve_data_dir,
    subsample,
)

REAL_DATA = os.environ.get("NLPDIFF_DATA_DIR", "").strip()


@pytest.fixture(autouse=True)
def _no_env_data_dir(monkeypatch):
    """Tests choose their data dir explicitly; the real-data tests read REAL_DATA themselves."""
    monkeypatch.delenv("NLPDIFF_DATA_DIR", raising=False)


def assert_param_error(excinfo, param, value):
    message = str(excinfo.value)
    assert param in message, message
    assert repr(value) in message or str(value) in message, message


# ----------------------------------------------------------------------------------- registry


def test_registry_is_consistent():
    """Every registry entry declares roles, label names, splits and columns that fit together."""
    assert TASKS, "the registry is empty"
    for name, spec in TASKS.items():
        assert isinstance(spec, TaskSpec) and spec.name == name
        assert spec.kind in tasks.KINDS
        assert spec.train_split in spec.splits + (None,)
        assert spec.eval_split in spec.splits + (None,)
        assert dict(spec.local_rows).keys() == set(spec.splits)
        assert set(spec.roles.values()) <= set(spec.columns), name
        inputs, target, _ = tasks.ROLES[spec.kind]
        assert spec.target_role == target and target in spec.roles
        assert set(spec.roles) <= set(inputs) | {target}
        if spec.train_split is not None:  # a trainable task has every required input role
            assert set(inputs) - set(tasks.ROLES[spec.kind][2]) <= set(spec.roles), name
        assert spec.label_field == spec.roles[target]
        assert spec.text_fields == tuple(spec.roles[r] for r in spec.input_roles)
        if spec.kind == "classification":
            assert len(spec.label_names) >= 2 and spec.num_labels == len(spec.label_names)
            assert len(set(spec.label_names)) == spec.num_labels
        else:
            assert spec.num_labels is None and spec.label_names is None
        if spec.prompt is not None:
            assert spec.kind == "summarization" and spec.prompt.count("{document}") == 1
        assert spec.hub_id is not None or spec.obtain, f"{name}: no hub id and no word on where to get it"
        assert spec.source["kind"] in ("hub", "local")
    with pytest.raises(Exception):
        TASKS["sst2"].name = "x"  # frozen


def test_study_registry_details():
    """Facts of the study's datasets that the pages rely on."""
    assert TASKS["sst2"].hub_id == "stanfordnlp/sst2"
    assert (TASKS["imdb"].hub_id, TASKS["imdb"].hub_config) == ("stanfordnlp/imdb", "plain_text")
    assert TASKS["cnn_dailymail"].hub_config == "3.0.0"
    assert (TASKS["sst2"].train_split, TASKS["sst2"].eval_split) == ("train", "validation")
    assert (TASKS["squad"].column("question"), TASKS["squad"].column("answers")) == ("question", "answers")
    assert TASKS["samsum"].roles == {"document": "dialogue", "summary": "summary"}
    # the dialogue prompt of the causal summarizer, unchanged since the first runs
    assert TASKS["samsum"].prompt_parts() == ("Summarize the dialogue.\n", "\nSummary:")
    assert TASKS["rt_human_ratings"].eval_split is None


def test_task_spec_checks_roles():
    with pytest.raises(ParameterError, match="roles"):
        TaskSpec(name="x", kind="classification", roles={"text": "a", "answers": "b", "label": "c"},
                 label_names=("a", "b"))
    with pytest.raises(ParameterError, match="'label' role"):
        TaskSpec(name="x", kind="classification", roles={"text": "a"}, label_names=("a", "b"))
    with pytest.raises(ParameterError, match="label_names"):
        TaskSpec(name="x", kind="classification", roles={"text": "a", "label": "y"}, label_names=("only",))
    with pytest.raises(ParameterError, match="prompt"):
        TaskSpec(name="x", kind="summarization", roles={"document": "d", "summary": "s"}, prompt="no slot")
    spec = TaskSpec(name="x", kind="classification", roles={"text": "p", "text_pair": "h", "label": "y"},
                    label_names=("e", "n", "c"))
    assert spec.num_labels == 3 and spec.is_pair and spec.text_fields == ("p", "h") and spec.folder == "x"
    with pytest.raises(ParameterError, match="role"):
        spec.column("document")


def test_get_task():
    assert get_task("squad") is TASKS["squad"]
    assert get_task(TASKS["squad"]) is TASKS["squad"]
    with pytest.raises(ParameterError) as e:
        get_task("sst3")
    assert_param_error(e, "task", "sst3")
    assert "sst2" in str(e.value) and "tweets_human_ratings" in str(e.value)


# ------------------------------------------------------------------------------------ loading


def test_resolve_data_dir(tiny_data_dir, monkeypatch, tmp_path):
    assert resolve_data_dir() is None
    assert resolve_data_dir(tiny_data_dir) == tiny_data_dir
    assert resolve_data_dir(str(tiny_data_dir)) == tiny_data_dir
    monkeypatch.setenv("NLPDIFF_DATA_DIR", str(tiny_data_dir))
    assert resolve_data_dir() == tiny_data_dir
    assert resolve_data_dir(tmp_path) == tmp_path  # the parameter wins over the environment
    missing = tmp_path / "nowhere"
    with pytest.raises(ParameterError) as e:
        resolve_data_dir(missing)
    assert_param_error(e, "data_dir", str(missing))
    monkeypatch.setenv("NLPDIFF_DATA_DIR", str(missing))
    with pytest.raises(ParameterError) as e:
        resolve_data_dir()
    assert_param_error(e, "data_dir", str(missing))
    assert "NLPDIFF_DATA_DIR" in str(e.value)


def test_load_tiny_sst2(tiny_data_dir, tiny_rows):
    df = load_split("sst2", "train", data_dir=tiny_data_dir)
    assert list(df.columns) == ["row_idx", "idx", "sentence", "label"]
    assert len(df) == tiny_rows[("sst2", "train")]
    assert df["row_idx"].tolist() == list(range(len(df)))
    assert df["label"].dtype == np.int64
    assert df["label"].value_counts().to_dict() == {0: 100, 1: 100}
    assert all(isinstance(s, str) and s for s in df["sentence"])
    val = load_split(TASKS["sst2"], "validation", data_dir=str(tiny_data_dir))
    assert len(val) == tiny_rows[("sst2", "validation")]


def test_load_from_env(tiny_data_dir, monkeypatch):
    monkeypatch.setenv("NLPDIFF_DATA_DIR", str(tiny_data_dir))
    df = load_split("samsum", "validation")
    assert list(df.columns) == ["row_idx", "id", "dialogue", "summary"]
    assert len(df) == 6


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_loads_tiny(tiny_data_dir, tiny_rows, name):
    spec = TASKS[name]
    for split in spec.splits:
        df = load_split(name, split, data_dir=tiny_data_dir)
        assert len(df) == tiny_rows[(spec.folder, split)]
        assert set(spec.columns) <= set(df.columns)
        assert df.columns[0] == "row_idx"


def test_squad_answers_are_plain(tiny_data_dir):
    df = load_split("squad", "validation", data_dir=tiny_data_dir)
    for _, row in df.iterrows():
        answers = row["answers"]
        assert isinstance(answers["text"], list) and isinstance(answers["answer_start"], list)
        assert len(answers["text"]) >= 2
        for text, start in zip(answers["text"], answers["answer_start"]):
            assert row["context"][start:start + len(text)] == text


def test_ratings_and_cleanlab(tiny_data_dir):
    df = load_split("rt_human_ratings", "train", data_dir=tiny_data_dir)
    assert isinstance(df["ratings"].iloc[0], list)
    assert ((df["mean_rating"] > 0).astype(int) == df["label"]).all()
    probs = load_imdb_cleanlab_pred_probs(data_dir=tiny_data_dir)
    test = load_split("imdb", "test", data_dir=tiny_data_dir)
    assert probs["id"].tolist() == test["id"].tolist()
    assert np.allclose(probs["p_neg"] + probs["p_pos"], 1)


def test_loading_errors(tiny_data_dir, tmp_path):
    with pytest.raises(ParameterError) as e:
        load_split("sst2", "dev", data_dir=tiny_data_dir)
    assert_param_error(e, "split", "dev")
    assert "'validation'" in str(e.value)
    with pytest.raises(ParameterError) as e:
        load_split("nope", "train", data_dir=tiny_data_dir)
    assert_param_error(e, "task", "nope")
    # a data dir without the task's file
    (tmp_path / "sst2").mkdir()
    with pytest.raises(ParameterError) as e:
        load_split("sst2", "train", data_dir=tmp_path)
    assert_param_error(e, "data_dir", str(tmp_path))
    assert "sst2/train.parquet" in str(e.value)
    # local-only tasks need a data dir
    local_only = [name for name, spec in TASKS.items() if spec.hub_id is None]
    assert local_only
    for name in local_only:
        spec = TASKS[name]
        with pytest.raises(ParameterError) as e:
            load_split(name, spec.splits[0])
        assert "data_dir" in str(e.value) and f"{spec.folder}/{spec.splits[0]}.parquet" in str(
            e.value)
    assert tasks.split_path("sst2", "train", tiny_data_dir) == tiny_data_dir / "sst2" / "train.parquet"
    with pytest.raises(ParameterError) as e:
        tasks.split_path("sst2", "train", tmp_path)
    assert_param_error(e, "data_dir", str(tmp_path))
    with pytest.raises(ParameterError) as e:
        tasks.split_path("sst2", "train")
    assert "data_dir" in str(e.value)
    with pytest.raises(ParameterError) as e:
        load_imdb_cleanlab_pred_probs()
    assert "cleanlab_cv_pred_probs.parquet" in str(e.value)


def test_hub_path_uses_hub_id(monkeypatch):
    """No network here: check that the hub branch calls datasets with the hub id and config, and
    that its result goes through the same conversion and checks."""
    import datasets

    calls = []

    def fake_load_dataset(path, name=None, split=None, **kwargs):
        calls.append((path, name, split))
        return datasets.Dataset.from_dict({"text": ["good", "bad"], "label": [1, 0]})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    df = load_split("imdb", "test")
    assert calls == [("stanfordnlp/imdb", "plain_text", "test")]
    assert list(df.columns) == ["row_idx", "text", "label"]
    # hub-only splits are allowed from the hub, not locally
    with pytest.raises(ValueError, match="missing column"):
        load_split("cnn_dailymail", "train")
    assert calls[-1] == ("abisee/cnn_dailymail", "3.0.0", "train")


@pytest.mark.skipif(not REAL_DATA, reason="set NLPDIFF_DATA_DIR to the real data (../shared/data)")
@pytest.mark.parametrize("name", sorted(TASKS))
def test_real_data(name):
    """The real local copies have the rows and columns that the registry declares."""
    spec = TASKS[name]
    for split, n in spec.local_rows:
        df = load_split(name, split, data_dir=REAL_DATA)
        assert len(df) == n, (name, split)
        assert df.columns[0] == "row_idx" and set(spec.columns) <= set(df.columns), (name, split)
        assert df["row_idx"].tolist() == list(range(n))
        if spec.kind == "classification":
            assert set(df[spec.label_field].unique()) == set(range(spec.num_labels))
            assert df[spec.label_field].dtype == np.int64


@pytest.mark.skipif(not REAL_DATA, reason="set NLPDIFF_DATA_DIR to the real data (../shared/data)")
def test_real_data_details():
    errors = load_split("imdb_label_errors", "test", data_dir=REAL_DATA)
    assert (errors["votes_guessed"] >= 3).sum() == 173
    probs = load_imdb_cleanlab_pred_probs(REAL_DATA)
    assert len(probs) == 25000
    test = load_split("imdb", "test", data_dir=REAL_DATA)
    assert (probs["id"].to_numpy() == test["id"].to_numpy()).all()
    for name, zeros in (("rt_human_ratings", 37), ("tweets_human_ratings", 4)):
        df = load_split(name, "train", data_dir=REAL_DATA)
        assert (df["mean_rating"] == 0).sum() == zeros


# --------------------------------------------------------------------------------- subsampling


def test_subsample_deterministic(tiny_data_dir):
    df = load_split("sst2", "train", data_dir=tiny_data_dir)
    a = subsample(df, 50, seed=1)
    b = subsample(df, 50, seed=1)
    c = subsample(df, 50, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert a["row_idx"].tolist() != c["row_idx"].tolist()
    assert len(a) == 50 and a["row_idx"].is_unique and a["row_idx"].is_monotonic_increasing
    # rows are traceable: row_idx points back at the same row of the split
    merged = a.merge(df, on="row_idx", suffixes=("", "_src"))
    assert (merged["sentence"] == merged["sentence_src"]).all()


def test_subsample_stratified_keeps_proportions():
    labels = np.array([0] * 300 + [1] * 100 + [2] * 50)
    df = pd.DataFrame({"label": np.random.default_rng(0).permutation(labels)})
    for n, seed in ((45, 0), (90, 3), (7, 5), (449, 1)):
        out = subsample(df, n, seed=seed, stratify="label")
        assert len(out) == n
        counts = out["label"].value_counts().reindex([0, 1, 2], fill_value=0).to_numpy()
        expected = np.array([300, 100, 50]) * n / 450
        assert np.all(np.abs(counts - expected) < 1), (n, counts, expected)
    pd.testing.assert_frame_equal(
        subsample(df, 45, 9, stratify="label"), subsample(df, 45, 9, stratify="label"))
    assert "row_idx" in out.columns


def test_subsample_all_and_errors(tiny_data_dir):
    df = load_split("samsum", "train", data_dir=tiny_data_dir)
    pd.testing.assert_frame_equal(subsample(df, None, 0), df)
    pd.testing.assert_frame_equal(subsample(df, "all", 0), df)
    assert len(subsample(df, len(df), 0)) == len(df)
    with pytest.raises(ParameterError) as e:
        subsample(df, 13, seed=0)
    assert_param_error(e, "n", 13)
    assert "12" in str(e.value)  # the split size
    for bad in (0, -1, 2.5, "some", True):
        with pytest.raises(ParameterError) as e:
            subsample(df, bad, seed=0)
        assert_param_error(e, "n", bad)
    with pytest.raises(ParameterError) as e:
        subsample(df, 500, seed=0, param="train_size")
    assert_param_error(e, "train_size", 500)
    for bad in (-1, 1.5, "x"):
        with pytest.raises(ParameterError) as e:
            subsample(df, 3, seed=bad)
        assert_param_error(e, "seed", bad)
    with pytest.raises(ParameterError) as e:
        subsample(df, 3, seed=0, stratify="labels")
    assert_param_error(e, "stratify", "labels")


# ---------------------------------------------------------------------------------- label noise


@pytest.mark.parametrize("rate", [0.0, 0.05, 0.1, 0.25, 0.333, 0.5, 0.9])
@pytest.mark.parametrize("num_classes", [2, 5])
def test_uniform_noise_exact(rate, num_classes):
    rng = np.random.default_rng(123)
    labels = rng.integers(0, num_classes, size=403)
    res = inject_noise(labels, rate, "uniform", num_classes=num_classes, seed=7)
    assert isinstance(res, NoiseResult) and res.kind == "uniform" and res.rate == rate
    assert res.labels.dtype == np.int64 and res.corrupted.dtype == bool
    assert res.corrupted.sum() == int(np.floor(rate * 403 + 0.5))
    np.testing.assert_array_equal(res.original_labels, labels)
    assert np.all(res.labels[res.corrupted] != labels[res.corrupted])
    np.testing.assert_array_equal(res.labels[~res.corrupted], labels[~res.corrupted])
    assert res.labels.min() >= 0 and res.labels.max() < num_classes


def test_uniform_noise_spreads_over_other_classes():
    labels = np.zeros(3000, dtype=int)
    res = inject_noise(labels, 0.6, num_classes=4, seed=0)
    counts = np.bincount(res.labels[res.corrupted], minlength=4)
    assert counts[0] == 0 and counts[1:].min() > 500


def test_noise_rounds_half_up():
    assert inject_noise([0, 1], 0.25, seed=0).corrupted.sum() == 1  # round(0.5) -> 1
    assert inject_noise([0, 1, 0, 1, 0, 1], 0.25, seed=0).corrupted.sum() == 2  # 1.5 -> 2


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.45])
def test_class_conditional_noise(rate):
    labels = np.array([0] * 120 + [1] * 81)
    res = inject_noise(labels, rate, "class_conditional", seed=3, confusion={1: 0})
    assert res.corrupted.sum() == int(np.floor(rate * 81 + 0.5))
    assert np.all(labels[res.corrupted] == 1) and np.all(res.labels[res.corrupted] == 0)
    np.testing.assert_array_equal(res.labels[~res.corrupted], labels[~res.corrupted])
    assert res.confusion == {1: (0,)}
    # the default confusion for binary labels is positive -> negative
    default = inject_noise(labels, rate, "class_conditional", seed=3)
    np.testing.assert_array_equal(default.labels, res.labels)


def test_class_conditional_multiclass_targets():
    labels = np.repeat(np.arange(3), 200)
    res = inject_noise(labels, 0.5, "class_conditional", num_classes=3, seed=0,
                       confusion={0: [1, 2], 2: 1})
    assert res.corrupted.sum() == 200
    assert not res.corrupted[labels == 1].any()
    assert set(res.labels[res.corrupted & (labels == 0)].tolist()) == {1, 2}
    assert set(res.labels[res.corrupted & (labels == 2)].tolist()) == {1}


def test_noise_deterministic():
    labels = np.random.default_rng(0).integers(0, 2, size=500)
    for kind in NOISE_KINDS:
        conf = {"confusion": [[8, 2], [1, 9]]} if kind == "empirical" else {}
        a = inject_noise(labels, 0.2, kind, seed=11, **conf)
        b = inject_noise(list(labels), 0.2, kind, seed=11, **conf)
        c = inject_noise(pd.Series(labels), 0.2, kind, seed=12, **conf)
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.corrupted, b.corrupted)
        assert not np.array_equal(a.corrupted, c.corrupted)
    assert inject_noise(labels, 0.0, seed=1).corrupted.sum() == 0
    assert inject_noise([], 0.3).labels.shape == (0,)


@pytest.mark.parametrize(
    "kwargs, param, value",
    [
        (dict(rate=1.0), "rate", 1.0),
        (dict(rate=-0.1), "rate", -0.1),
        (dict(rate=1.5), "rate", 1.5),
        (dict(rate=float("nan")), "rate", "nan"),
        (dict(rate="0.1"), "rate", "0.1"),
        (dict(kind="symmetric"), "kind", "symmetric"),
        (dict(num_classes=1), "num_classes", 1),
        (dict(seed=-3), "seed", -3),
        (dict(kind="class_conditional", confusion={1: 2}), "confusion", {1: 2}),
        (dict(kind="class_conditional", confusion={5: 0}), "confusion", {5: 0}),
        (dict(kind="class_conditional", confusion={1: 1}), "confusion", {1: 1}),
        (dict(kind="class_conditional", confusion={}), "confusion", {}),
        (dict(confusion={1: 0}), "confusion", {1: 0}),
    ],
)
def test_noise_errors(kwargs, param, value):
    args = dict(labels=[0, 1, 1, 0], rate=0.25)
    args.update(kwargs)
    with pytest.raises(ParameterError) as e:
        inject_noise(**args)
    assert_param_error(e, param, value)


def test_noise_bad_labels():
    with pytest.raises(ParameterError) as e:
        inject_noise([0, 1, 2], 0.1, num_classes=2)
    assert_param_error(e, "labels", [0, 1, 2])
    with pytest.raises(ParameterError) as e:
        inject_noise(["a", "b"], 0.1)
    assert_param_error(e, "labels", ["a", "b"])


def test_one_split_for_training_and_held_out_gives_disjoint_rows(tiny_data_dir):
    from nlpdiff.tasks import prepare_training_data

    from conftest import tiny_rows_of

    rows = tiny_rows_of(tasks.get_task("snli"), "validation")
    spec, samples, held = prepare_training_data("snli", train_split="validation", train_size=rows // 2,
                                                eval_size=None, data_dir=tiny_data_dir)
    assert set(samples["row_idx"]).isdisjoint(held["row_idx"]) and len(held) == rows - rows // 2
    _, _, some = prepare_training_data("snli", train_split="validation", train_size=rows // 2,
                                       eval_size=rows // 4, data_dir=tiny_data_dir)
    assert set(samples["row_idx"]).isdisjoint(some["row_idx"]) and len(some) == rows // 4
    with pytest.raises(ParameterError, match="eval_size"):
        prepare_training_data("snli", train_split="validation", train_size=None, data_dir=tiny_data_dir)


# ------------------------------------------------------------- target noise (QA, summarization)


def _qa_frame(n: int = 10) -> pd.DataFrame:
    rows = []
    for i in range(n):
        context = f"Item {i} was made in the old mill by the river in the year {1900 + i} after the war."
        answer = f"{1900 + i}"
        rows.append({"question": f"When was item {i} made?", "context": context,
                     "answers": {"text": [answer, answer], "answer_start": [context.index(answer)] * 2}})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("rate", [0.1, 0.2, 0.5])
def test_moved_answers_are_other_spans_of_the_same_context(rate):
    frame = _qa_frame(10)
    got = tasks.corrupt_targets(frame, get_task("squad"), rate, seed=3)
    assert got.kind == "moved_answer" and got.n_corrupted == round(rate * 10)
    for i, (old, new, bad) in enumerate(zip(frame["answers"], got.targets, got.corrupted)):
        if not bad:
            assert new is old
            continue
        text, start = new["text"][0], new["answer_start"][0]
        context = frame.at[i, "context"]
        assert context[start:start + len(text)] == text  # a real span of the same context
        assert len(text.split()) == len(old["text"][0].split())  # as many words as the given answer
        a = old["answer_start"][0]
        assert start + len(text) <= a or start >= a + len(old["text"][0])  # no overlap with the answer
    again = tasks.corrupt_targets(frame, get_task("squad"), rate, seed=3)
    assert (again.corrupted == got.corrupted).all() and again.targets == got.targets


def test_swapped_summaries_come_from_other_pairs_of_the_chosen_set():
    frame = pd.DataFrame({"dialogue": [f"d{i}" for i in range(20)], "summary": [f"s{i}" for i in range(20)]})
    got = tasks.corrupt_targets(frame, get_task("samsum"), 0.25, seed=0)
    assert got.kind == "swapped_summary" and got.n_corrupted == 5
    chosen = np.flatnonzero(got.corrupted)
    assert sorted(got.targets[i] for i in chosen) == sorted(f"s{i}" for i in chosen)  # a permutation of the set
    assert all(got.targets[i] != f"s{i}" for i in chosen)  # each one another pair's summary
    assert all(got.targets[i] == f"s{i}" for i in np.flatnonzero(~got.corrupted))
    with pytest.raises(ParameterError, match="noise_rate"):  # one pair cannot swap with itself
        tasks.corrupt_targets(frame, get_task("samsum"), 0.05, seed=0)


def test_target_noise_errors():
    with pytest.raises(ParameterError, match="rate"):
        tasks.corrupt_targets(_qa_frame(4), get_task("squad"), 1.0)
    with pytest.raises(ParameterError, match="spec"):
        tasks.corrupt_targets(pd.DataFrame({"text": ["a"], "label": [0]}), get_task("sst2"), 0.1)
    one_word = pd.DataFrame([{"question": "q", "context": "1900", "answers": {"text": ["1900"], "answer_start": [0]}}])
    with pytest.raises(ParameterError, match="noise_rate"):  # no other span to move the answer to
        tasks.corrupt_targets(one_word, get_task("squad"), 0.5)


@pytest.mark.parametrize("task", ["squad", "samsum"])
def test_prepared_qa_and_summarization_samples_carry_their_corruption(task, tiny_data_dir):
    from nlpdiff.tasks import prepare_training_data

    spec, samples, _ = prepare_training_data(task, train_size=8, eval_size=2, noise_rate=0.25, data_seed=0,
                                             data_dir=tiny_data_dir)
    target = spec.label_field
    assert int(samples["is_corrupted"].sum()) == 2
    assert (samples["label"] == samples[target]).all()
    changed = [str(a) != str(b) for a, b in zip(samples[target], samples["original_label"])]
    assert changed == samples["is_corrupted"].tolist()
    with pytest.raises(ParameterError, match="noise_type"):
        prepare_training_data(task, train_size=8, eval_size=2, noise_rate=0.25, noise_type="class_conditional",
                              data_dir=tiny_data_dir)


# --- real annotator errors: NoisyAG-News (issue 24) ---------------------------------------------


def test_error_confusion_counts():
    given = [0, 1, 2, 0, 0, 3, 2]
    true = [0, 1, 2, 2, 3, 3, 0]
    m = tasks.error_confusion(given, true, 4)
    assert m.dtype == np.int64 and m.shape == (4, 4)
    assert m.sum() == 7 and np.trace(m) == 4
    assert m[2, 0] == 1 and m[3, 0] == 1 and m[0, 2] == 1  # rows: true class, columns: given label
    assert m[0, 3] == 0
    with pytest.raises(ParameterError) as e:
        tasks.error_confusion([0, 4], [0, 1], 4)
    assert e.value.param == "given"
    with pytest.raises(ParameterError) as e:
        tasks.error_confusion([0, 1], [0], 4)
    assert e.value.param == "given"


def test_empirical_noise_reproduces_the_confusion():
    rng = np.random.default_rng(0)
    true = rng.integers(0, 4, size=2000)
    given = true.copy()
    flip = rng.random(2000) < 0.2
    given[flip & (true == 2)] = 0  # Business -> World
    given[flip & (true == 3)] = 2  # Sci/Tech -> Business
    m = tasks.error_confusion(given, true, 4)
    rate = (given != true).mean()
    res = inject_noise(true, rate, kind="empirical", num_classes=4, seed=1, confusion=m)
    assert res.n_corrupted == int(round(rate * 2000))
    # on the data it was measured on, at its own rate: the same off-diagonal counts, other samples
    assert (tasks.error_confusion(res.labels, true, 4) == m).all()
    assert not (res.labels == given).all()
    assert (res.labels[res.corrupted] != true[res.corrupted]).all()
    # on a sample, the shares follow the matrix: only the two confusions occur
    sub = inject_noise(true[:500], rate, kind="empirical", num_classes=4, seed=2, confusion=m)
    cm = tasks.error_confusion(sub.labels, true[:500], 4)
    off = cm - np.diag(np.diag(cm))
    assert off.sum() == int(round(rate * 500)) and set(zip(*np.nonzero(off))) <= {(2, 0), (3, 2)}
    with pytest.raises(ParameterError) as e:
        inject_noise(true, 0.2, kind="empirical", num_classes=4)
    assert e.value.param == "confusion"
    with pytest.raises(ParameterError) as e:
        inject_noise(true, 0.2, kind="empirical", num_classes=4, confusion=np.ones((3, 3)))
    assert e.value.param == "confusion"


def test_noisy_agnews_real_errors(tiny_data_dir):
    d = tasks.prepare_training_data("noisy_agnews", data_dir=tiny_data_dir)
    s = d.samples
    assert TASKS["noisy_agnews"].label_names == ("World", "Sports", "Business", "Sci/Tech")
    assert "clean_label" in s.columns
    assert (s["is_corrupted"] == (s["label"] != s["clean_label"])).all()
    assert (s["original_label"] == s["clean_label"]).all()
    assert 0 < s["is_corrupted"].sum() < len(s)
    assert list(d.heldout.columns) == ["row_idx", "text", "label"]
    with pytest.raises(ParameterError) as e:
        tasks.prepare_training_data("noisy_agnews", noise_rate=0.1, data_dir=tiny_data_dir)
    assert e.value.param == "noise_rate"


@pytest.mark.parametrize("kind", ["uniform", "empirical"])
def test_noisy_agnews_synthetic_on_the_same_texts(tiny_data_dir, kind):
    real = tasks.prepare_training_data("noisy_agnews", data_dir=tiny_data_dir).samples
    rate = real["is_corrupted"].mean()
    syn = tasks.prepare_training_data("noisy_agnews_clean", noise_rate=rate, noise_type=kind,
                                      data_dir=tiny_data_dir).samples
    assert (syn["text"] == real["text"]).all()
    assert (syn["original_label"] == real["clean_label"]).all()
    assert syn["is_corrupted"].sum() == real["is_corrupted"].sum()
    conf_real = tasks.error_confusion(real["label"], real["clean_label"], 4)
    conf_syn = tasks.error_confusion(syn["label"], syn["original_label"], 4)
    assert (conf_syn == conf_real).all() == (kind == "empirical")
    # a sample draws the same texts for the same data seed (both stratified by the true label)
    a = tasks.prepare_training_data("noisy_agnews", train_size=60, data_seed=3, data_dir=tiny_data_dir).samples
    b = tasks.prepare_training_data("noisy_agnews_clean", train_size=60, data_seed=3, noise_rate=0.2,
                                    noise_type=kind, data_dir=tiny_data_dir).samples
    assert (a["row_idx"] == b["row_idx"]).all()
    # the clean test split reads its only label column as the clean label
    held = tasks.prepare_training_data("noisy_agnews_clean", data_dir=tiny_data_dir).heldout
    assert (held["clean_label"] == held["label"]).all()


def test_empirical_noise_needs_human_labels(tiny_data_dir):
    with pytest.raises(ParameterError) as e:
        tasks.prepare_training_data("sst2", noise_rate=0.1, noise_type="empirical", data_dir=tiny_data_dir)
    assert e.value.param == "noise_type"


def test_noisy_agnews_missing_folder_names_it(tmp_path):
    with pytest.raises(ParameterError) as e:
        load_split("noisy_agnews", "train", data_dir=tmp_path)
    msg = str(e.value)
    assert "noisy_agnews/train.parquet" in msg and "hhf-hd/NoisyAG-News" in msg and "\n" not in msg


@pytest.mark.skipif(not REAL_DATA, reason="set NLPDIFF_DATA_DIR to the real data (../shared/data)")
def test_noisy_agnews_real_counts():
    s = tasks.prepare_training_data("noisy_agnews", data_dir=REAL_DATA).samples
    assert len(s) == 10000 and s["is_corrupted"].sum() == 1975
    syn = tasks.prepare_training_data("noisy_agnews_clean", noise_rate=0.1975, noise_type="empirical",
                                      data_dir=REAL_DATA).samples
    assert (tasks.error_confusion(syn["label"], syn["original_label"], 4)
            == tasks.error_confusion(s["label"], s["clean_label"], 4)).all()
