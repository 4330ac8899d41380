"""The cheap backbones: ``scratch`` (hashed n-gram bag) and ``probe`` (cached frozen features + MLP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib

import numpy as np
import pandas as pd
import pytest

from nlpdiff import rundir
from nlpdiff.config import TrainParams, from_flat
from nlpdiff.dynamics import STAT_COLUMNS, train
from nlpdiff.samplers import SubsetSampler
from nlpdiff.errors import ParameterError
from nlpdiff.models import get_head
from nlpdiff.models import cache as cache_lib
from nlpdiff.models.scratch import ngram_ids, ngrams, stable_bucket, tokenize

TINY = dict(task="sst2", train_size=200, eval_size=60, epochs=3, batch_size=32,
            checkpoints_per_epoch=1)  # one checkpoint per epoch: the layout _complete asserts


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: one intra-op thread is faster, and far faster on a shared, busy CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# -- cache ------------------------------------------------------------------------------------

@pytest.fixture
def cache_folder(tmp_path, monkeypatch):
    folder = tmp_path / "features"
    monkeypatch.setenv(cache_lib.CACHE_DIR_ENV, str(folder))
    return folder


def test_cache_dir_default_and_env(monkeypatch, tmp_path):
    monkeypatch.delenv(cache_lib.CACHE_DIR_ENV, raising=False)
    assert cache_lib.cache_dir() == cache_lib.Path.home() / ".cache" / "nlpdiff" / "features"
    monkeypatch.setenv(cache_lib.CACHE_DIR_ENV, str(tmp_path))
    assert cache_lib.cache_dir() == tmp_path


def test_cache_computes_once_per_key(cache_folder):
    calls = []

    def compute_for(parts):
        def compute():
            calls.append(parts)
            return np.arange(len(parts["texts"]) * 3, dtype=np.float32).reshape(-1, 3) + parts["max_length"]
        return compute

    key = {"model": "m", "max_length": 8, "texts": ["a", "b"]}
    first = cache_lib.cached_features(key, compute_for(key))
    again = cache_lib.cached_features(dict(key), compute_for(key))
    assert len(calls) == 1
    np.testing.assert_array_equal(first, again)
    for changed in ({**key, "max_length": 16}, {**key, "texts": ["a", "c"]}, {**key, "texts": ["b", "a"]}):
        cache_lib.cached_features(changed, compute_for(changed))
    assert len(calls) == 4
    files = sorted(p.name for p in cache_folder.iterdir())
    assert len(files) == 4 and all(f.endswith(".npy") and not f.startswith(".") for f in files)
    assert not list(cache_folder.glob("*.tmp"))


def test_cache_write_is_atomic(cache_folder):
    def broken():
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        cache_lib.cached_features({"k": 1}, broken)
    assert not cache_folder.exists() or not list(cache_folder.iterdir())
    # a corrupt file (never written by the cache itself) is recomputed, not trusted
    path = cache_lib.cache_path({"k": 2})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"garbage")
    out = cache_lib.cached_features({"k": 2}, lambda: np.ones(3))
    np.testing.assert_array_equal(out, np.ones(3))
    np.testing.assert_array_equal(np.load(path), np.ones(3))
    assert [p.name for p in cache_folder.iterdir()] == [path.name]


def test_cache_key_is_stable():
    key = {"texts": ["x", "y"], "max_length": 8}
    assert cache_lib.cache_key(key) == cache_lib.cache_key({"max_length": 8, "texts": ["x", "y"]})
    assert len(cache_lib.cache_key(key)) == 64
    with pytest.raises(ParameterError):
        cache_lib.cache_key({"bad": object()})


@pytest.fixture(scope="module")
def minilm():
    from transformers import AutoModel, AutoTokenizer

    from nlpdiff.models.hub import resolve_model

    source = resolve_model("minilm")
    return AutoModel.from_pretrained(source).eval(), AutoTokenizer.from_pretrained(source), source


def test_cached_encoder_features_equal_a_fresh_computation(minilm, cache_folder):
    model, tok, source = minilm
    texts = ["the film is wonderful .", "a dull , lifeless piece of work .", "ok", ""]
    feats, key = cache_lib.encoder_features(model, tok, source, texts, max_length=16, batch_size=3, progress=False)
    assert feats.shape == (4, 384) and feats.dtype == np.float32
    assert (cache_folder / f"{key}.npy").is_file()
    fresh = cache_lib.pooled_features(model, tok, texts, max_length=16, batch_size=1, progress=False)
    np.testing.assert_allclose(feats, fresh, atol=1e-5)
    again, key2 = cache_lib.encoder_features(model, tok, source, texts, max_length=16, progress=False)
    assert key2 == key
    np.testing.assert_array_equal(again, feats)
    _, key3 = cache_lib.encoder_features(model, tok, source, texts, max_length=8, progress=False)
    assert key3 != key


def test_pooling_matches_sentence_transformers(minilm):
    st = pytest.importorskip("sentence_transformers")
    model, tok, source = minilm
    texts = ["the film is wonderful .", "what a tedious , clumsy experience ."]
    ours = cache_lib.pooled_features(model, tok, texts, max_length=128, progress=False)
    ours /= np.linalg.norm(ours, axis=1, keepdims=True)  # all-MiniLM-L6-v2 ends with Normalize
    ref = st.SentenceTransformer(source, device="cpu").encode(texts, convert_to_numpy=True)
    np.testing.assert_allclose(ours, ref, atol=1e-4)


# -- n-gram hashing -----------------------------------------------------------------------------

def test_tokenize_and_ngrams():
    assert tokenize("The film does n't WORK!") == ["the", "film", "does", "n't", "work", "!"]
    assert tokenize("It's fine, really", max_words=2) == ["it's", "fine"]
    assert ngrams(["a", "b", "c"], 2) == ["a", "b", "c", "a b", "b c"]
    assert ngrams([], 2) == ["<empty>"]
    assert stable_bucket("a b", 2**20) == zlib.crc32(b"a b") % 2**20


def test_ngram_hashing_is_deterministic_across_processes():
    text = "A wonderful , moving film ; the ending is n't dull ."
    here = ngram_ids(text, 2**20).tolist()
    code = ("from nlpdiff.models.scratch import ngram_ids; "
            f"print(ngram_ids({text!r}, 2**20).tolist())")
    for seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert json.loads(out.stdout) == here
    assert len(here) == 12 + 11 and all(0 <= b < 2**20 for b in here)


# -- end to end ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scratch_run(tiny_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("scratch") / "run"
    params = TrainParams(backbone="scratch", learning_rate=0.05, vog=True, data_dir=str(tiny_data_dir),
                         output_dir=str(out), **TINY)
    return train(params, progress=False)


def _complete(run, n):
    rundir.check_run_dir(run.path)
    for name in rundir.RUN_FILES:
        assert (run.path / name).is_file(), name
    assert not list(run.path.glob("*.tmp"))
    assert list(run.samples["sample_id"]) == list(range(n))
    ev = run.dynamics[run.dynamics["pass"] == "eval"]
    assert len(ev) == n * 3 and len(run.dynamics) == 2 * n * 3
    assert np.isfinite(run.dynamics[list(STAT_COLUMNS)].to_numpy(dtype=float)).all()
    assert len(run.scores) == n and run.metrics["heldout_size"] == 60


def test_scratch_end_to_end(scratch_run):
    _complete(scratch_run, 200)
    assert scratch_run.metrics["final"]["heldout_accuracy"] > 0.8
    resolved = scratch_run.info["resolved"]
    assert resolved["head"] == "ScratchClassificationHead" and resolved["model_source"] == "scratch"
    assert {"n_tokens", "n_ngrams"} <= set(scratch_run.samples.columns)
    assert (scratch_run.samples["n_ngrams"] == 2 * scratch_run.samples["n_tokens"] - 1).all()


def test_scratch_vog(scratch_run):
    vog = pd.read_parquet(scratch_run.path / "vog.parquet")
    assert list(vog["sample_id"]) == list(range(200))
    assert np.isfinite(vog["vog"]).all() and (vog["vog"] >= 0).all()
    assert "vog" in scratch_run.scores.columns


def test_scratch_gold_output_is_the_models_gold_logit(scratch_run):
    head = scratch_run.head
    idx = np.array([0, 5, 17, 3])
    gold, embeds, mask = head.gold_output(idx)
    assert embeds.requires_grad and embeds.shape[:2] == mask.shape
    assert mask.sum(dim=1).tolist() == head.lengths()[idx].tolist()
    logits = head._logits(head.train_enc, idx)
    expected = logits.gather(1, head.train_labels[idx][:, None]).squeeze(1)
    np.testing.assert_allclose(gold.detach().numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_scratch_same_seed_same_dynamics(scratch_run, tmp_path):
    again = train(from_flat({**scratch_run.params, "output_dir": str(tmp_path / "again")}), progress=False)
    cols = ["sample_id", "checkpoint", "step", "pass", *STAT_COLUMNS]
    pd.testing.assert_frame_equal(again.dynamics[cols], scratch_run.dynamics[cols])
    pd.testing.assert_frame_equal(pd.read_parquet(again.path / "vog.parquet"),
                                  pd.read_parquet(scratch_run.path / "vog.parquet"))


def test_a_finished_scratch_run_leaves_no_head_in_memory(tiny_data_dir, tmp_path):
    # the embedding table's gradient hook once held its head strongly, a cycle through the tensor's hook table
    # that the collector cannot see: every finished run stayed in memory (a 120-run part was killed out of memory)
    import gc

    from nlpdiff.models.scratch import ScratchClassificationHead

    def alive():
        gc.collect()
        return sum(isinstance(o, ScratchClassificationHead) for o in gc.get_objects())

    before = alive()
    run = train(TrainParams(backbone="scratch", learning_rate=0.05, data_dir=str(tiny_data_dir),
                            output_dir=str(tmp_path / "run"), **TINY), progress=False)
    del run
    assert alive() == before


def test_scratch_bad_option(tiny_data_dir, tmp_path):
    with pytest.raises(ParameterError) as err:
        from_flat(dict(backbone="scratch", learning_rate=0.05, data_dir=str(tiny_data_dir),
                       output_dir=str(tmp_path / "bad"), scratch_buckets=0, **TINY))
    assert err.value.param == "scratch_buckets"
    assert not (tmp_path / "bad").exists()


def test_probe_end_to_end(tiny_data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(cache_lib.CACHE_DIR_ENV, str(tmp_path / "features"))
    params = TrainParams(backbone="probe", learning_rate=1e-3, data_dir=str(tiny_data_dir),
                         output_dir=str(tmp_path / "run"), **TINY)
    run = train(params, progress=False)
    _complete(run, 200)
    assert run.metrics["final"]["heldout_accuracy"] > 0.8
    resolved = run.info["resolved"]
    assert resolved["head"] == "ProbeClassificationHead" and resolved["feature_dim"] == 384
    assert resolved["n_trainable"] < 200_000 < resolved["encoder_parameters"]
    keys = resolved["feature_cache_keys"]
    assert sorted(p.stem for p in (tmp_path / "features").glob("*.npy")) == sorted(keys)
    # features were cached: a second run builds without the encoder computing anything
    calls = []
    real = cache_lib.pooled_features
    monkeypatch.setattr(cache_lib, "pooled_features", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = train(from_flat({**run.params, "output_dir": str(tmp_path / "again")}), progress=False)
    assert calls == []
    pd.testing.assert_frame_equal(again.dynamics, run.dynamics)


def test_probe_refuses_vog_before_computing_features(tiny_data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(cache_lib.CACHE_DIR_ENV, str(tmp_path / "features"))
    with pytest.raises(ParameterError, match="frozen") as err:
        params = TrainParams(backbone="probe", learning_rate=1e-3, vog=True, data_dir=str(tiny_data_dir),
                             output_dir=str(tmp_path / "run"), **TINY)
        train(params, progress=False)
    assert err.value.param == "vog"
    assert not (tmp_path / "features").exists()


def test_heads_are_registered():
    assert get_head("classification", "scratch").__name__ == "ScratchClassificationHead"
    assert get_head("classification", "probe").__name__ == "ProbeClassificationHead"


def test_probe_split_scope_caches_the_split_once_for_every_data_seed(tiny_data_dir, tmp_path, monkeypatch):
    folder = tmp_path / "features"
    monkeypatch.setenv(cache_lib.CACHE_DIR_ENV, str(folder))
    base = dict(TINY, train_size=100, epochs=2)
    runs = [train(from_flat(dict(backbone="probe", learning_rate=1e-3, data_dir=str(tiny_data_dir), data_seed=seed,
                                 output_dir=str(tmp_path / f"s{seed}"), probe_cache_scope="split", **base)),
                  progress=False) for seed in (0, 1)]
    assert len(list(folder.glob("*.npy"))) == 2  # the whole train split and the whole validation split
    assert runs[0].info["resolved"]["feature_cache_keys"] == runs[1].info["resolved"]["feature_cache_keys"]
    assert set(runs[0].samples["row_idx"]) != set(runs[1].samples["row_idx"])
    # the rows picked from the split's features are the features of the run's own texts
    head = runs[1].head
    feats, _ = cache_lib.encoder_features(head.encoder, head.tokenizer, head.source, list(runs[1].samples["sentence"]),
                                          max_length=64, progress=False, folder=tmp_path / "other")
    np.testing.assert_allclose(head.train_enc["features"].numpy(), feats, atol=1e-5)
    # a training subset (as the folds of confident learning) trains on a sampler: same cached features
    fold = train(from_flat({**runs[0].params, "output_dir": str(tmp_path / "fold")}), progress=False,
                 sampler=SubsetSampler(100, np.arange(0, 100, 3), batch_size=base["batch_size"], seed=0))
    assert len(fold.samples) == 100 and len(list(folder.glob("*.npy"))) == 2
    trained = fold.dynamics[fold.dynamics["pass"] == "train"]["sample_id"].unique()
    assert sorted(trained) == list(range(0, 100, 3)) and fold.info["resolved"]["subset_size"] == 34
    with pytest.raises(ParameterError) as err:
        from_flat(dict(backbone="probe", learning_rate=1e-3, data_dir=str(tiny_data_dir), output_dir=str(tmp_path / "x"),
                       probe_cache_scope="all", **base))
    assert err.value.param == "probe_cache_scope"


def test_probe_qa_end_to_end(tiny_data_dir, tmp_path, monkeypatch):
    head_cls = get_head("extractive_qa", "probe")
    assert head_cls.__name__ == "ProbeQAHead"
    folder = tmp_path / "features"
    monkeypatch.setenv(cache_lib.CACHE_DIR_ENV, str(folder))
    params = from_flat(dict(task="squad", backbone="probe", train_size=8, eval_size=6, epochs=3, max_length=96,
                            doc_stride=32, learning_rate=3e-3, batch_size=4, checkpoints_per_epoch=1,
                            data_dir=str(tiny_data_dir), output_dir=str(tmp_path / "run")))
    run = train(params, progress=False)
    rundir.check_run_dir(run.path)
    n = len(run.samples)
    assert n == 8 and len(run.dynamics) == 2 * 3 * n
    assert np.isfinite(run.dynamics[["loss", "gold_prob", "margin", "entropy", "f1"]].to_numpy(dtype=float)).all()
    losses = run.dynamics[run.dynamics["pass"] == "eval"].groupby("checkpoint")["loss"].mean()
    assert losses.iloc[-1] < losses.iloc[0]  # the span layer learns
    assert 0 <= run.metrics["final"]["heldout_f1"] <= 100
    assert run.info["resolved"]["n_trainable"] < 200_000
    assert len(list(folder.glob("*.npy"))) == 2  # train windows, held-out windows
    calls = []
    monkeypatch.setattr("nlpdiff.models.probe.token_features", lambda *a, **k: calls.append(1))
    again = train(from_flat({**run.params, "output_dir": str(tmp_path / "again")}), progress=False)
    assert calls == []
    pd.testing.assert_frame_equal(again.dynamics, run.dynamics)
    with pytest.raises(ParameterError, match="frozen"):
        train(from_flat({**run.params, "vog": True, "output_dir": str(tmp_path / "vog")}), progress=False)
