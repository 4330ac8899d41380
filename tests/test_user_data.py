"""Users' own data (nlpdiff.tasks.from_frame / from_csv / register_task) and text-pair tasks with any
number of classes, trained end to end by every classification backbone."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import TINY_NLI, TINY_ROWS
from nlpdiff import tasks
from nlpdiff.dynamics import TrainParams, prepare_data, train
from nlpdiff.errors import ParameterError
from nlpdiff.models import cache as cache_lib


@pytest.fixture(autouse=True)
def _clean_registry(monkeypatch, forget_registered_tasks):
    """Tests choose their data dir; tasks they register are forgotten afterwards."""
    monkeypatch.delenv("NLPDIFF_DATA_DIR", raising=False)


def reviews(n: int = 30) -> pd.DataFrame:
    """n reviews with string labels over three classes, learnable from their words."""
    words = {"good": "great lovely fine", "bad": "awful poor dull", "meh": "average plain so-so"}
    labels = [("good", "bad", "meh")[i % 3] for i in range(n)]
    return pd.DataFrame({"review": [f"item {i} was {words[y]}" for i, y in enumerate(labels)],
                         "stars": labels, "shop": [f"shop {i % 4}" for i in range(n)]})


# ---------------------------------------------------------------------------------- from_frame


def test_string_labels_are_mapped_and_recorded():
    spec = tasks.from_frame(reviews(), text="review", label="stars", name="reviews")
    assert spec.label_names == ("bad", "good", "meh") and spec.num_labels == 3  # sorted distinct labels
    assert spec.roles == {"text": "review", "label": "stars"} and spec.kind == "classification"
    train, held = tasks.load_split(spec, "train"), tasks.load_split(spec, "heldout")
    assert len(held) == 6 and len(train) == 24  # the default fraction, 0.2, stratified
    assert held["stars"].value_counts().to_dict() == {0: 2, 1: 2, 2: 2}
    assert sorted(train["row_idx"].tolist() + held["row_idx"].tolist()) == list(range(30))
    data = reviews()
    for _, row in pd.concat([train, held]).iterrows():  # ids follow the mapping; row_idx traces back
        assert spec.label_names[row["stars"]] == data["stars"][row["row_idx"]]
        assert row["review"] == data["review"][row["row_idx"]]
    source = json.loads(json.dumps(spec.source))  # JSON-able
    assert source["kind"] == "frame" and len(source["sha256"]) == 64 and source["rows"] == 30
    assert source["label_names"] == ["bad", "good", "meh"]
    assert source["heldout"] == {"fraction": 0.2, "seed": 0, "stratified_by": "stars"}
    # the same data and seed give the same split; another seed another one; other data another hash
    again = tasks.from_frame(reviews(), text="review", label="stars", name="reviews")
    assert again.source == spec.source
    other = tasks.from_frame(reviews(), text="review", label="stars", name="reviews", seed=1)
    assert tasks.load_split(other, "heldout")["row_idx"].tolist() != held["row_idx"].tolist()
    changed = reviews()
    changed.loc[0, "review"] = "item 0 was great, really"
    assert tasks.from_frame(changed, text="review", label="stars").source["sha256"] != source["sha256"]


def test_label_names_and_integer_labels():
    spec = tasks.from_frame(reviews(), text="review", label="stars", label_names=["meh", "bad", "good"])
    assert spec.label_names == ("meh", "bad", "good")
    train = tasks.load_split(spec, "train")
    assert set(train["stars"]) == {0, 1, 2}
    stars = reviews().assign(stars=[5, 1, 3] * 10)
    spec = tasks.from_frame(stars, text="review", label="stars", heldout_fraction=0)
    assert spec.label_names == ("1", "3", "5") and spec.splits == ("train",) and spec.eval_split is None
    ids = pd.DataFrame({"t": ["a", "b", "c", "d"], "y": [0, 1, 1, 0]})
    spec = tasks.from_frame(ids, text="t", label="y", label_names=("no", "yes"), heldout_fraction=0)
    assert tasks.load_split(spec, "train")["y"].tolist() == [0, 1, 1, 0]
    with pytest.raises(ParameterError, match="0..1"):
        tasks.from_frame(ids.assign(y=[0, 1, 2, 0]), text="t", label="y", label_names=("no", "yes"))
    with pytest.raises(ParameterError, match="among label_names"):
        tasks.from_frame(reviews(), text="review", label="stars", label_names=["good", "bad"])


def test_given_heldout_and_datasets_input():
    import datasets

    data, held = reviews(30), reviews(9)
    spec = tasks.from_frame(data, text="review", label="stars", heldout=held)
    assert tasks.load_split(spec, "heldout")["stars"].tolist() == [1, 0, 2] * 3
    assert spec.source["heldout"] == "given" and len(tasks.load_split(spec, "train")) == 30
    with pytest.raises(ParameterError, match="held-out"):
        tasks.from_frame(data, text="review", label="stars", heldout=held.assign(stars="great"))
    features = datasets.Features({"sentence": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["neg", "pos"])})
    ds = datasets.Dataset.from_dict({"sentence": [f"s {i}" for i in range(10)], "label": [0, 1] * 5},
                                    features=features)
    spec = tasks.from_frame(ds, text="sentence", label="label")
    assert spec.label_names == ("neg", "pos") and spec.source["kind"] == "dataset"


def test_pair_frame():
    df = pd.DataFrame({"premise": ["a man sleeps"] * 6, "hypothesis": ["he sleeps", "he runs", "maybe"] * 2,
                       "label": ["entailment", "contradiction", "neutral"] * 2})
    spec = tasks.from_frame(df, text="premise", text_pair="hypothesis", label="label",
                            label_names=("entailment", "neutral", "contradiction"), heldout_fraction=0)
    assert spec.is_pair and spec.input_roles == ("text", "text_pair")
    assert tasks.load_split(spec, "train")["label"].tolist() == [0, 2, 1] * 2


@pytest.mark.parametrize("change, param, words", [
    (dict(text="body"), "text", "a column of the data"),
    (dict(label="rating"), "label", "a column of the data"),
    (dict(text_pair="nothing"), "text_pair", "a column of the data"),
    (dict(text_pair="review"), "text_pair", "other than text"),
    (dict(name="my data!"), "name", "letters, digits"),
    (dict(heldout_fraction=1.0), "heldout_fraction", "[0, 1)"),
    (dict(seed=-1), "seed", ">= 0"),
])
def test_bad_arguments(change, param, words):
    args = {"text": "review", "label": "stars", **change}
    with pytest.raises(ParameterError) as err:
        tasks.from_frame(reviews(), **args)
    assert err.value.param == param and words in str(err.value)


@pytest.mark.parametrize("empty", [None, np.nan, "", "   \n"])
def test_empty_text_is_refused(empty):
    data = reviews()
    data.loc[7, "review"] = empty
    with pytest.raises(ParameterError) as err:
        tasks.from_frame(data, text="review", label="stars")
    message = str(err.value)
    assert err.value.param == "text" and "'review'" in message and "row(s) 7" in message
    assert "NaN/None" in message and "whitespace" in message  # what empty means


def test_bad_labels_are_refused():
    data = reviews()
    data.loc[[2, 4], "stars"] = None
    with pytest.raises(ParameterError, match=r"2 missing labels, at row\(s\) 2, 4"):
        tasks.from_frame(data, text="review", label="stars")
    with pytest.raises(ParameterError, match="at least two classes"):
        tasks.from_frame(reviews().assign(stars="good"), text="review", label="stars")
    with pytest.raises(ParameterError, match="integer or string labels"):
        tasks.from_frame(reviews().assign(stars=[0.5, 1.5, 2.5] * 10), text="review", label="stars")
    with pytest.raises(ParameterError, match="texts"):
        tasks.from_frame(reviews().assign(review=range(30)), text="review", label="stars")
    with pytest.raises(ParameterError) as err:
        tasks.from_frame([1, 2], text="review", label="stars")
    assert err.value.param == "data"


# ------------------------------------------------------------------------------------ from_csv


def test_from_csv(tmp_path):
    path = tmp_path / "My Reviews.csv"
    data = reviews()
    data.loc[3, "review"] = "NA"  # a text, not a missing value
    data.to_csv(path, index=False)
    spec = tasks.from_csv(path, text="review", label="stars")
    assert spec.name == "My_Reviews" and spec.label_names == ("bad", "good", "meh")
    assert spec.source["kind"] == "csv" and spec.source["path"] == str(path.resolve())
    assert len(spec.source["sha256"]) == 64
    rows = pd.concat([tasks.load_split(spec, s) for s in spec.splits])
    assert rows.set_index("row_idx").loc[3, "review"] == "NA"
    pd.DataFrame({"t": ["a", "b", "c", "d", "e"], "stars": [5, 1, 5, 10, 1]}).to_csv(tmp_path / "s.csv", index=False)
    assert tasks.from_csv(tmp_path / "s.csv", text="t", label="stars").label_names == ("1", "5", "10")  # as numbers
    with pytest.raises(ParameterError) as err:
        tasks.from_csv(tmp_path / "missing.csv", text="review", label="stars")
    assert err.value.param == "path"
    (tmp_path / "gap.csv").write_text("review,stars\nfine,good\n,bad\nok,bad\n")
    with pytest.raises(ParameterError, match=r"row\(s\) 1 "):
        tasks.from_csv(tmp_path / "gap.csv", text="review", label="stars")


# ------------------------------------------------------------------------------ registration


@pytest.mark.slow
def test_register_task_and_train_by_name(tmp_path):
    spec = tasks.register_task(tasks.from_frame(reviews(60), text="review", label="stars", name="reviews"))
    assert tasks.get_task("reviews") is spec and "reviews" not in tasks.TASKS
    assert tasks.register_task(tasks.from_frame(reviews(60), text="review", label="stars", name="reviews"))
    with pytest.raises(ParameterError, match="already holds data"):
        tasks.register_task(tasks.from_frame(reviews(30), text="review", label="stars", name="reviews"))
    with pytest.raises(ParameterError, match="not a study task"):
        tasks.register_task(tasks.from_frame(reviews(), text="review", label="stars", name="sst2"))
    # fewer training rows than the batch size, or a train_size over the rows: refused before training
    for bad in (dict(batch_size=64, train_size=None), dict(train_size=100)):
        out = tmp_path / f"bad_{next(iter(bad))}"
        with pytest.raises(ParameterError) as err:
            train(TrainParams(task="reviews", backbone="scratch", output_dir=str(out), **bad), progress=False)
        assert err.value.param == next(iter(bad))
        assert not out.exists()  # nothing half-written
    params = TrainParams(task="reviews", backbone="scratch", train_size=None, epochs=4, batch_size=8,
                         learning_rate=0.05, output_dir=str(tmp_path / "run"))
    _, samples, held = prepare_data(params)
    assert len(samples) == 48 and len(held) == 12 and set(samples["label"]) == {0, 1, 2}
    run = train(params, progress=False)
    assert len(run.scores) == 48 and run.metrics["final"]["heldout_accuracy"] > 0.8


# ------------------------------------------------------------- a text-pair, three-class task


@pytest.fixture()
def nli(tiny_data_dir):
    tasks.register_task(TINY_NLI)
    return tiny_data_dir


PAIR = dict(task="tiny_nli", train_size=None, eval_size=None, epochs=3, batch_size=16, max_length=32)


@pytest.mark.slow
@pytest.mark.parametrize("backbone, lr", [("finetune", 1e-4), ("probe", 3e-3), ("scratch", 0.05)])
def test_pair_task_trains_with_every_backbone(nli, tmp_path, monkeypatch, backbone, lr):
    monkeypatch.setenv(cache_lib.CACHE_DIR_ENV, str(tmp_path / "features"))
    # finetuning is the slow one on a CPU: fewer samples, as many steps
    size = {"finetune": dict(train_size=60, batch_size=8, epochs=4), "probe": dict(epochs=8),
            "scratch": dict(epochs=4)}[backbone]
    run = train(TrainParams(**{**PAIR, **size}, backbone=backbone, learning_rate=lr,
                            data_dir=str(nli), output_dir=str(tmp_path / "run")), progress=False)
    n = size.get("train_size") or TINY_ROWS[("tiny_nli", "train")]
    assert len(run.samples) == n and len(run.scores) == n
    assert {"premise", "hypothesis"} <= set(run.samples.columns)
    assert set(run.samples["label"]) == {0, 1, 2}
    accuracy = run.metrics["final"]["heldout_accuracy"]
    assert accuracy > 0.6, accuracy  # chance is 1/3: the pair is read
    probs = run.head.predict_proba(*run.head.inputs(run.samples.iloc[:5]))
    assert probs.shape == (5, 3) and np.allclose(probs.sum(axis=1), 1)
    with pytest.raises(ParameterError, match="text_pairs"):
        run.head.predict_proba(list(run.samples["premise"].iloc[:5]))


def test_pair_features_have_their_own_cache_key(tmp_path):
    from transformers import AutoModel, AutoTokenizer

    from nlpdiff.models.hub import resolve_model

    source = resolve_model("minilm")
    model, tok = AutoModel.from_pretrained(source), AutoTokenizer.from_pretrained(source)
    texts, pairs = ["a man sleeps", "a dog runs"], ["he sleeps", "a cat runs"]
    single, key_single = cache_lib.encoder_features(model, tok, source, texts, 16, progress=False, folder=tmp_path)
    pair, key_pair = cache_lib.encoder_features(model, tok, source, texts, 16, progress=False, folder=tmp_path,
                                                text_pairs=pairs)
    assert key_single != key_pair and not np.allclose(single, pair)
    joint = cache_lib.pooled_features(model, tok, texts[:1], 16, progress=False, text_pairs=pairs[:1])
    np.testing.assert_allclose(pair[:1], joint, rtol=1e-4, atol=1e-5)  # the pair is encoded jointly


def test_scratch_pair_ngrams_are_prefixed():
    from nlpdiff.models.scratch import PAIR_PREFIX, ScratchClassificationHead

    head = ScratchClassificationHead.__new__(ScratchClassificationHead)
    head.params = TrainParams(max_length=8)
    head.buckets, head.n, head._memo = 2**18, 2, {}
    one = head._encode(["not good"])
    pair = head._encode(["not good"], ["not good"])
    assert pair["n_grams"][0] == 2 * one["n_grams"][0] and pair["n_words"][0] == 4
    assert set(head._memo) == {"not", "good", "not good", *(PAIR_PREFIX + g for g in ("not", "good", "not good"))}


# ----------------------------------------------------- a new dataset is one registry entry


def test_a_new_registry_entry_gets_tiny_data_and_trains(tmp_path):
    """What a new single-text classification dataset declares is enough: the tiny data is written
    from its roles, label names and splits, and it trains (here: four classes, its own column names)."""
    import random

    from conftest import tiny_rows_of, write_task

    spec = tasks.TaskSpec(
        name="toy_topics", kind="classification", roles={"text": "headline", "label": "topic"},
        label_names=("world", "sports", "business", "science"), hub_id="example/toy_topics",
        splits=("train", "test"), train_split="train", eval_split="test", columns=("idx", "headline", "topic"),
        local_rows=(("train", 120000), ("test", 7600)),
    )
    write_task(tmp_path, spec, random.Random(0))
    df = tasks.load_split(spec, "train", data_dir=tmp_path)
    assert list(df.columns) == ["row_idx", "idx", "headline", "topic"] and len(df) == tiny_rows_of(spec, "train")
    assert df["topic"].value_counts().to_dict() == {0: 30, 1: 30, 2: 30, 3: 30}
    tasks.register_task(spec)
    run = train(TrainParams(task="toy_topics", backbone="scratch", train_size=None, epochs=4, batch_size=16,
                            learning_rate=0.05, data_dir=str(tmp_path), output_dir=str(tmp_path / "run")),
                progress=False)
    assert run.metrics["final"]["heldout_accuracy"] > 0.8


@pytest.mark.slow
def test_confident_learning_on_a_pair_task(nli, tmp_path):
    """The K-fold predictions read both texts of a pair and every class."""
    from nlpdiff.detection import confident_learning, load_confident_learning

    params = TrainParams(**{**PAIR, "epochs": 4}, backbone="scratch", learning_rate=0.05, noise_rate=0.1,
                         data_dir=str(nli), output_dir=str(tmp_path / "run"))
    scores = confident_learning(params, k=2, progress=False)
    _, pred, _ = load_confident_learning(tmp_path / "run_cl2")
    probs = pred[["p_0", "p_1", "p_2"]].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1) and len(scores) == TINY_ROWS[("tiny_nli", "train")]
    _, samples, _ = prepare_data(params)
    given = probs[np.arange(len(probs)), pred["label"].to_numpy()]
    # the corrupted pairs are the least likely under the folds' models
    assert given[samples["is_corrupted"].to_numpy()].mean() < given[~samples["is_corrupted"].to_numpy()].mean()
