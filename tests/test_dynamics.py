"""The classification recorder: hand-checked statistics, bad input, the run-directory contract."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from nlpdiff import rundir
from nlpdiff.config import TrainParams, from_flat
from nlpdiff.dynamics import STAT_COLUMNS, load_or_train, train
from nlpdiff.models.classification import classification_stats
from nlpdiff.errors import ParameterError


def test_classification_stats_by_hand():
    # logits [2, 0] with gold 0: p = (e^2, 1) / (e^2 + 1) = (0.880797, 0.119203)
    # loss = -ln 0.880797 = 0.126928; margin = 2 - 0 = 2; entropy = 0.880797 * 0.126928 + 0.119203 * 2.126928 = 0.111798 + 0.253536 = 0.365334
    # el2n = ||(0.8808 - 1, 0.1192)|| = sqrt(2) * 0.119203 = 0.168578
    # logits [1, 1, 3] with gold 1: p = (e, e, e^3) / (2e + e^3) = (0.106507, 0.106507, 0.786986)
    # loss = ln(2e + e^3) - 1 = ln 25.522100 - 1 = 2.239545; wrong; margin = 1 - 3 = -2
    logits2 = torch.tensor([[2.0, 0.0]])
    s = classification_stats(logits2, torch.tensor([0]))
    assert s["loss"][0] == pytest.approx(0.126928, abs=1e-5)
    assert s["gold_prob"][0] == pytest.approx(0.880797, abs=1e-5)
    assert s["correct"][0] == 1.0
    assert s["margin"][0] == pytest.approx(2.0)
    assert s["entropy"][0] == pytest.approx(0.365334, abs=1e-5)
    assert s["el2n"][0] == pytest.approx(0.168578, abs=1e-5)

    logits3 = torch.tensor([[1.0, 1.0, 3.0]])
    s = classification_stats(logits3, torch.tensor([1]))
    p = np.array([math.e, math.e, math.e**3]) / (2 * math.e + math.e**3)
    assert s["loss"][0] == pytest.approx(2.239545, abs=1e-5)
    assert s["correct"][0] == 0.0
    assert s["margin"][0] == pytest.approx(-2.0)
    assert s["entropy"][0] == pytest.approx(-(p * np.log(p)).sum(), abs=1e-5)
    assert s["el2n"][0] == pytest.approx(math.sqrt(p[0] ** 2 + (p[1] - 1) ** 2 + p[2] ** 2), abs=1e-5)


@pytest.mark.parametrize(
    "change, param",
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": -2}, "epochs"),
        ({"noise_rate": 1.0}, "noise_rate"),
        ({"noise_rate": -0.1}, "noise_rate"),
        ({"noise_type": "random"}, "noise_type"),
        ({"task": "nosuchtask"}, "task"),
        ({"task": "imdb_label_errors"}, "task"),
        ({"backbone": "nope"}, "backbone"),
        ({"batch_size": 0}, "batch_size"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"model": "/no/such/model/folder"}, "model"),
        ({"model": "./missing-model"}, "model"),
        ({"checkpoints_per_epoch": 0}, "checkpoints_per_epoch"),
        ({"train_size": 0}, "train_size"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_parameters_name_param_and_value(change, param, tiny_data_dir, tmp_path):
    params = TrainParams(data_dir=str(tiny_data_dir), output_dir=str(tmp_path / "run"), **change)
    with pytest.raises(ParameterError) as err:
        params.validate()
    assert err.value.param == param
    assert param in str(err.value) and repr(change[next(iter(change))]) in str(err.value)


def test_data_dir_without_dataset(tmp_path):
    (tmp_path / "empty").mkdir()
    params = TrainParams(data_dir=str(tmp_path / "empty"), output_dir=str(tmp_path / "run"))
    with pytest.raises(ParameterError, match="data_dir"):
        params.validate()
    with pytest.raises(ParameterError, match="data_dir"):
        TrainParams(data_dir=str(tmp_path / "nope"), output_dir=str(tmp_path / "run")).validate()


def test_train_size_larger_than_split_fails_before_training(tiny_data_dir, tmp_path):
    params = TrainParams(data_dir=str(tiny_data_dir), train_size=10_000, output_dir=str(tmp_path / "run"))
    with pytest.raises(ParameterError, match="10000"):
        train(params, progress=False)
    assert not (tmp_path / "run" / "run.json").exists()
    assert not (tmp_path / "run" / "dynamics.parquet").exists()


TINY = dict(train_size=48, eval_size=20, epochs=2, batch_size=16, learning_rate=1e-4, max_length=24,
            checkpoints_per_epoch=1)  # one checkpoint per epoch: the layout asserted below


@pytest.fixture(scope="module")
def tiny_run(tiny_data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    params = TrainParams(data_dir=str(tiny_data_dir), output_dir=str(out), noise_rate=0.25, seed=3, **TINY)
    return train(params, progress=False)


def test_run_directory_contract(tiny_run):
    path = tiny_run.path
    for name in rundir.RUN_FILES:
        assert (path / name).is_file(), name
    assert not list(path.glob("*.tmp")), "no temporary file may stay behind"
    info = json.loads((path / "run.json").read_text())
    assert info["status"] == "complete"
    assert info["params"]["train_size"] == 48 and info["params"]["noise_rate"] == 0.25
    assert set(info["wall_time_s"]) >= {"load_data", "train", "eval_pass", "heldout", "total"}
    assert info["versions"]["torch"] and info["hardware"]["cpu_count"] >= 1

    samples = pd.read_parquet(path / "samples.parquet")
    assert list(samples["sample_id"]) == list(range(48))
    assert {"sentence", "label", "original_label", "is_corrupted"} <= set(samples.columns)
    assert samples["is_corrupted"].sum() == 12  # exactly 25% of 48
    flipped = samples[samples["is_corrupted"]]
    assert (flipped["label"] != flipped["original_label"]).all()

    dyn = pd.read_parquet(path / "dynamics.parquet")
    assert set(rundir.DYNAMICS_COLUMNS) <= set(dyn.columns)
    ev = dyn[dyn["pass"] == "eval"]
    tr = dyn[dyn["pass"] == "train"]
    assert len(ev) == 48 * 2 and len(tr) == 48 * 2  # every sample, every checkpoint, both passes
    assert ev.groupby("sample_id")["checkpoint"].apply(lambda c: sorted(c) == [0, 1]).all()
    assert np.isfinite(dyn[list(STAT_COLUMNS)].to_numpy(dtype=float)).all()
    assert ((dyn["gold_prob"] > 0) & (dyn["gold_prob"] <= 1)).all()
    assert np.allclose(np.exp(-dyn["loss"]), dyn["gold_prob"], atol=1e-4)
    # eval rows of one checkpoint share its step; train rows carry the step they were trained at
    assert ev.groupby("checkpoint")["step"].nunique().eq(1).all()
    assert tr["step"].between(1, 6).all() and tr.groupby("checkpoint")["step"].nunique().gt(1).all()

    scores = pd.read_parquet(path / "scores.parquet")
    assert list(scores["sample_id"]) == list(range(48))
    # the action score is the sum over checkpoints of the eval-pass loss
    action = ev.groupby("sample_id")["loss"].sum().to_numpy()
    assert np.allclose(scores["action"].to_numpy(), action, rtol=1e-5)

    metrics = json.loads((path / "metrics.json").read_text())
    assert [c["checkpoint"] for c in metrics["checkpoints"]] == [0, 1]
    assert 0 <= metrics["final"]["heldout_accuracy"] <= 1
    assert metrics["heldout_size"] == 20


def test_same_seed_same_dynamics(tiny_run, tiny_data_dir, tmp_path):
    params = from_flat({**tiny_run.params, "output_dir": str(tmp_path / "again")})
    again = train(params, progress=False)
    cols = ["sample_id", "checkpoint", "step", "pass", *STAT_COLUMNS]
    pd.testing.assert_frame_equal(again.dynamics[cols], tiny_run.dynamics[cols])


def test_reuse_only_with_identical_parameters(tiny_run, monkeypatch):
    params = from_flat(tiny_run.params)
    calls = []
    monkeypatch.setattr("nlpdiff.dynamics.train", lambda p, progress=True, **kw: calls.append(p))
    assert load_or_train(params).info["started_at"] == tiny_run.info["started_at"]
    assert calls == []
    with pytest.raises(ParameterError, match="overwrite.*seed 3 -> 4"):  # a finished run is never replaced silently
        load_or_train(from_flat({**tiny_run.params, "seed": 4}))
    assert calls == []
    load_or_train(from_flat({**tiny_run.params, "seed": 4}), overwrite=True)
    assert len(calls) == 1
    # same parameters, other data: the data folder recorded in run.json differs
    info = json.loads((tiny_run.path / "run.json").read_text())
    assert info["data"]["data_dir"] == str(__import__("pathlib").Path(params.data_dir).resolve())
    monkeypatch.setattr("nlpdiff.dynamics.data_source", lambda p: {**info["data"], "data_dir": "/elsewhere"})
    load_or_train(params, overwrite=True)
    assert len(calls) == 2
    monkeypatch.setattr("nlpdiff.dynamics.data_source", lambda p: {**info["data"], "task_source": "my.csv"})
    load_or_train(params, overwrite=True)
    assert len(calls) == 3


def test_a_run_made_elsewhere_is_reused_only_with_the_same_parameters(tiny_run, tmp_path, monkeypatch):
    """reuse_run: a committed copy of a run is read (and copied) when the recipe matches; where it was
    written and where its data lay may differ; any other difference, or no complete run, is one line."""
    from nlpdiff.dynamics import reuse_run

    monkeypatch.setattr("nlpdiff.dynamics.train", lambda *a, **kw: pytest.fail("reuse_run must never train"))
    here = tmp_path / "here"
    (tmp_path / "other_data").symlink_to(tiny_run.params["data_dir"])  # the same data, in another folder
    params = from_flat({**tiny_run.params, "output_dir": str(here), "data_dir": str(tmp_path / "other_data")})
    run = reuse_run(tiny_run.path, params)
    assert run.path == tiny_run.path and not here.exists()  # read in place, nothing written
    (here).mkdir()
    (here / "vog.parquet").write_text("left by an earlier run")
    copied = reuse_run(tiny_run.path, params, copy=True)
    assert copied.path == here and copied.info == tiny_run.info
    assert sorted(p.name for p in here.iterdir()) == sorted(p.name for p in tiny_run.path.iterdir())
    pd.testing.assert_frame_equal(copied.scores, tiny_run.scores)
    assert reuse_run(tiny_run.path, params, copy=True).info == tiny_run.info  # already there: kept
    with pytest.raises(ParameterError, match=r"^folder=.*it differs: seed 3 there, 4 here\)$"):
        reuse_run(tiny_run.path, from_flat({**tiny_run.params, "seed": 4, "output_dir": str(tmp_path / "x")}),
                  copy=True)
    assert not (tmp_path / "x").exists()
    with pytest.raises(ParameterError, match="a folder holding a complete run"):
        reuse_run(tmp_path / "nothing", params)
    # an interrupted copy (no run.json) is not a run
    (here / "run.json").unlink()
    with pytest.raises(ParameterError, match="no run.json"):
        reuse_run(here, params)


def test_from_flat_maps_head_options_and_names_unknown_keys(tiny_data_dir, tmp_path):
    base = {"data_dir": str(tiny_data_dir), "output_dir": str(tmp_path / "run")}
    probe = from_flat({**base, "backbone": "probe", "probe_hidden": 32})
    assert probe.options.probe_hidden == 32 and probe.flat()["probe_hidden"] == 32
    assert from_flat(probe.flat()) == probe
    with pytest.raises(ParameterError) as err:
        from_flat({**base, "backbone": "finetune", "doc_stride": 64})
    assert err.value.param == "doc_stride" and "QAOptions" in str(err.value)
    with pytest.raises(ParameterError) as err:
        from_flat({**base, "no_such_option": 1})
    assert err.value.param == "no_such_option"
    with pytest.raises(ParameterError) as err:
        from_flat({**base, "backbone": "probe", "probe_dropout": 1.5})
    assert err.value.param == "probe_dropout"
    assert not (tmp_path / "run").exists()


def test_vog_with_one_checkpoint_fails_before_training(tiny_data_dir, tmp_path):
    for backbone in ("scratch", "finetune"):
        with pytest.raises(ParameterError) as err:
            from_flat({"backbone": backbone, "vog": True, "epochs": 1, "checkpoints_per_epoch": 1,
                       "data_dir": str(tiny_data_dir),
                       "output_dir": str(tmp_path / backbone)})
        assert err.value.param == "vog"
    with pytest.raises(ParameterError) as err:
        from_flat({"backbone": "probe", "vog": True, "data_dir": str(tiny_data_dir), "output_dir": str(tmp_path)})
    assert err.value.param == "vog" and "frozen" in str(err.value)


def test_interrupted_run_is_not_trusted(tiny_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_run.path, copy)
    rundir.begin_run(copy)  # a new run starts in the folder, then dies before finishing
    with pytest.raises(rundir.RunDirError, match="run.json"):
        rundir.load_run(copy)


@pytest.mark.parametrize("backbone, lr", [("finetune", 1e-4), ("probe", 1e-3), ("scratch", 0.05)])
def test_runs_without_a_heldout_split(backbone, lr, tiny_data_dir, tmp_path):
    """The human-rating sets have no held-out split: every backbone trains and records without one."""
    params = TrainParams(task="rt_human_ratings", backbone=backbone, train_size=24, epochs=2, batch_size=8,
                         learning_rate=lr, max_length=24, eval_split=None, data_dir=str(tiny_data_dir),
                         output_dir=str(tmp_path / backbone))
    run = train(params, progress=False)
    assert run.metrics["heldout_split"] is None and run.metrics["heldout_size"] == 0
    assert not any(k.startswith("heldout_") for k in run.metrics["final"])
    assert {"rating_std", "mean_rating"} <= set(run.samples.columns)
    assert len(run.scores) == 24


def test_optimizer_choice_legacy_runs_and_bad_values(tiny_run, tmp_path, monkeypatch):
    """New runs default to fused AdamW; ``optimizer="adamw"`` is torch's default path; a run recorded before
    the parameter existed reads as ``"adamw"`` (so the study's pinned parts reuse it, a default run does not);
    a bad name fails with one line before any training."""
    assert TrainParams().optimizer == "adamw_fused" and tiny_run.params["optimizer"] == "adamw_fused"
    seen = []
    real = torch.optim.AdamW

    def spy(*args, **kwargs):
        seen.append(kwargs.get("fused"))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.optim, "AdamW", spy)
    base = {**tiny_run.params, "epochs": 1, "checkpoints_per_epoch": 1}
    fused = train(from_flat({**base, "output_dir": str(tmp_path / "fused")}), progress=False)
    plain = train(from_flat({**base, "optimizer": "adamw", "output_dir": str(tmp_path / "plain")}), progress=False)
    assert seen == [True, False]
    # the two paths train the same model to float noise, not bit for bit
    a, b = fused.dynamics.sort_values("sample_id")["loss"], plain.dynamics.sort_values("sample_id")["loss"]
    assert np.allclose(a, b, rtol=1e-3, atol=1e-4)
    # a legacy run.json (no optimizer recorded) is the default path's run
    info = json.loads((plain.path / "run.json").read_text())
    del info["params"]["optimizer"]
    (plain.path / "run.json").write_text(json.dumps(info))
    assert rundir.load_run(plain.path).params["optimizer"] == "adamw"
    monkeypatch.setattr("nlpdiff.dynamics.train", lambda p, progress=True, **kw: pytest.fail("retrained"))
    assert load_or_train(from_flat({**base, "optimizer": "adamw", "output_dir": str(plain.path)})).path == plain.path
    with pytest.raises(ParameterError, match="optimizer 'adamw' -> 'adamw_fused'"):
        load_or_train(from_flat({**base, "output_dir": str(plain.path)}))
    with pytest.raises(ParameterError) as err:
        from_flat({**base, "optimizer": "sgd", "output_dir": str(tmp_path / "bad")})
    assert err.value.param == "optimizer" and "adamw_fused" in str(err.value)
    assert not (tmp_path / "bad").exists()


def test_length_grouped_training(tiny_run, tmp_path):
    """``length_grouped=True`` trains on LengthGroupedSampler's batches (recorded in run.json) and learns the
    same statistics for every sample; a bad value fails before training; old runs read as False."""
    base = {**tiny_run.params, "epochs": 1, "checkpoints_per_epoch": 1}
    assert tiny_run.params["length_grouped"] is False
    run = train(from_flat({**base, "length_grouped": True, "output_dir": str(tmp_path / "grouped")}), progress=False)
    assert run.info["resolved"]["sampler"] == "LengthGroupedSampler"
    assert run.dynamics.groupby("pass")["sample_id"].nunique().eq(len(run.samples)).all()
    with pytest.raises(ParameterError) as err:
        from_flat({**base, "length_grouped": "yes", "output_dir": str(tmp_path / "bad")})
    assert err.value.param == "length_grouped"
    assert rundir.recorded_params({"params": {"learning_rate": 1e-3}})["length_grouped"] is False


def test_trimmed_padding_gives_the_padded_batch_losses_and_gradient(tiny_data_dir):
    """On the fine-tuned MiniLM with dropout off, a batch computed in pieces (``trim_padding``) has the padded
    batch's per-sample losses, statistics and gradient, up to float rounding."""
    from nlpdiff.dynamics import prepare_data
    from nlpdiff.engine import State, padding_pieces

    params = TrainParams(data_dir=str(tiny_data_dir), output_dir="unused", **TINY).validate()
    spec, samples, held = prepare_data(params)
    head = params.head_class()(spec, params, torch.device("cpu"))
    head.build(samples, held)
    head.model.eval()  # dropout off: the two ways then compute the same function
    batch = np.arange(16)[::-1].copy()
    grads, outputs = [], []
    for pieces in (padding_pieces(head.lengths(), overhead_tokens=0), None):
        state = State(head=head, n_samples=len(samples), epochs=1, plan=[1], cuts=[[1]], pieces=pieces)
        head.model.zero_grad(set_to_none=True)
        losses, stats = state.forward(batch, True)
        losses.mean().backward()
        outputs.append((losses.detach(), stats))
        grads.append(torch.cat([p.grad.flatten() for p in head.parameters() if p.grad is not None]))
    assert len(padding_pieces(head.lengths(), 0)(batch)) > 1, "the tiny batch has lengths to trim"
    torch.testing.assert_close(outputs[0][0], outputs[1][0], rtol=1e-4, atol=1e-5)
    for key in head.stat_columns:
        np.testing.assert_allclose(outputs[0][1][key], outputs[1][1][key], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-3, atol=1e-6)


def test_trim_padding_default_legacy_runs_and_bad_values(tiny_run, tmp_path):
    """New fine-tuning runs trim padding (recorded in run.json); ``trim_padding=False`` trains whole padded
    batches; a probe head records that it had nothing to trim; a run recorded before the parameter existed
    reads as False; a bad value fails before training."""
    assert TrainParams().trim_padding is True and tiny_run.params["trim_padding"] is True
    assert tiny_run.info["resolved"]["trimmed_padding"] is True
    base = {**tiny_run.params, "epochs": 1, "checkpoints_per_epoch": 1}
    run = train(from_flat({**base, "trim_padding": False, "output_dir": str(tmp_path / "padded")}), progress=False)
    assert run.info["resolved"]["trimmed_padding"] is False
    assert run.dynamics.groupby("pass")["sample_id"].nunique().eq(len(run.samples)).all()
    probe = train(from_flat({**base, "backbone": "probe", "learning_rate": 1e-3, "output_dir": str(tmp_path / "probe")}),
                  progress=False)
    assert probe.params["trim_padding"] is True and probe.info["resolved"]["trimmed_padding"] is False
    with pytest.raises(ParameterError) as err:
        from_flat({**base, "trim_padding": "yes", "output_dir": str(tmp_path / "bad")})
    assert err.value.param == "trim_padding" and not (tmp_path / "bad").exists()
    assert rundir.recorded_params({"params": {"learning_rate": 1e-3}})["trim_padding"] is False
    from nlpdiff.dynamics import trims_padding
    from nlpdiff.models.classification import FinetuneClassificationHead

    params = from_flat(base)
    assert trims_padding(params, FinetuneClassificationHead, torch.device("cpu"))
    assert not trims_padding(params, FinetuneClassificationHead, torch.device("cuda"))  # not measured there
    assert not trims_padding(from_flat({**base, "trim_padding": False}), FinetuneClassificationHead, "cpu")
