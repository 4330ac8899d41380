"""Confident learning from K trainings of the same engine."""

import numpy as np
import pandas as pd
import pytest

from nlpdiff import rundir
from nlpdiff.detection import confident_learning, load_confident_learning
from nlpdiff.config import TrainParams
from nlpdiff.dynamics import prepare_data
from nlpdiff.errors import ParameterError


def test_confident_learning_runs_k_folds(tiny_data_dir, tmp_path):
    params = TrainParams(data_dir=str(tiny_data_dir), train_size=40, eval_size=10, epochs=2, batch_size=10,
                         learning_rate=1e-4, max_length=24, noise_rate=0.2, seed=5,
                         output_dir=str(tmp_path / "run"))
    scores = confident_learning(params, k=2, progress=False)
    info, pred, again = load_confident_learning(tmp_path / "run_cl2")
    pd.testing.assert_frame_equal(scores, again)
    assert info["n_trainings"] == 2 and len(info["wall_time_s"]["folds"]) == 2
    assert sorted(pred["fold"].unique()) == [0, 1]
    probs = pred[["p_0", "p_1"]].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1) and np.isfinite(probs).all()
    # ids and labels are those of a run with the same parameters (same subsample and noise)
    _, samples, _ = prepare_data(params)
    assert list(pred["sample_id"]) == list(samples["sample_id"])
    assert (pred["label"].to_numpy() == samples["label"].to_numpy()).all()
    # higher = less likely label: each sample's score is 1 - cleanlab's self-confidence by default
    given = probs[np.arange(len(probs)), pred["label"].to_numpy()]
    assert np.allclose(scores["confident_learning"].to_numpy(), 1 - given)
    for i in range(2):
        run = rundir.load_run(tmp_path / "run_cl2" / "folds" / f"fold_{i}")
        # each fold trains on the other fold (a SubsetSampler) and records every sample
        assert len(run.samples) == 40 and run.info["resolved"]["subset_size"] == 20
        trained = run.dynamics[run.dynamics["pass"] == "train"]["sample_id"].unique()
        assert sorted(trained) == sorted(pred.loc[pred["fold"] != i, "sample_id"])
    # the confident-learning folder is a run of its own kind in the index (its folds are not listed)
    from nlpdiff import compare

    index = compare.run_index(tmp_path)
    assert sorted(index["kind"]) == ["confident_learning"] and index["name"].tolist() == ["run_cl2"]
    # a finished confident-learning run is never replaced silently by one with other parameters
    with pytest.raises(ParameterError, match="overwrite"):
        confident_learning(params.replace(epochs=1), k=2, output_dir=str(tmp_path / "run_cl2"), progress=False)
    assert load_confident_learning(tmp_path / "run_cl2")[0]["params"]["epochs"] == 2


def test_bad_k(tiny_data_dir, tmp_path):
    params = TrainParams(data_dir=str(tiny_data_dir), train_size=40, output_dir=str(tmp_path / "r"))
    with pytest.raises(ParameterError, match="k=1"):
        confident_learning(params, k=1)
    with pytest.raises(ParameterError, match="k=30"):
        confident_learning(params, k=30)


def test_aum_threshold_samples_run_flags_below_the_cutoff(tiny_data_dir, tmp_path, forget_registered_tasks):
    from nlpdiff.detection import THRESHOLD_CLASS, aum_threshold

    params = TrainParams(data_dir=str(tiny_data_dir), backbone="scratch", model="scratch", train_size=30,
                         eval_size=10, epochs=2, batch_size=10, learning_rate=0.05, max_length=24, noise_rate=0.2,
                         seed=3, checkpoints_per_epoch=1, output_dir=str(tmp_path / "run"))
    info, frame = aum_threshold(params)
    _, samples, _ = prepare_data(params)
    assert list(frame["sample_id"]) == list(samples["sample_id"])  # joins a run with the same parameters
    assert info["n_threshold"] == frame["is_threshold"].sum() == 30 // 3
    run = rundir.load_run(tmp_path / "run_aumthr")
    assert run.info["data"]["task_source"]["label_names"][-1] == THRESHOLD_CLASS
    relabelled = run.samples.set_index("row_idx").loc[frame.index[frame["is_threshold"]], "label"]
    assert (relabelled == 2).all()  # the fake third class
    thr = frame.loc[frame["is_threshold"], "aum"].to_numpy()
    assert info["cutoff"] == pytest.approx(np.percentile(thr, 99))
    assert not (frame["flagged"] & frame["is_threshold"]).any()
    assert (frame.loc[frame["flagged"], "aum"] < info["cutoff"]).all()
    assert (frame.loc[~frame["flagged"] & ~frame["is_threshold"], "aum"] >= info["cutoff"]).all()
    again, _ = aum_threshold(params)  # a finished threshold run is reused
    assert again["run_info"]["started_at"] == info["run_info"]["started_at"]
    with pytest.raises(ParameterError, match="percentile"):
        aum_threshold(params, percentile=0)


def test_train_relabelled_replaces_only_the_given_labels(tiny_data_dir, tmp_path, forget_registered_tasks):
    from nlpdiff.detection import train_relabelled

    params = TrainParams(data_dir=str(tiny_data_dir), backbone="scratch", model="scratch", train_size=30,
                         eval_size=10, epochs=1, batch_size=10, learning_rate=0.05, max_length=24, noise_rate=0.2,
                         seed=3, checkpoints_per_epoch=1, output_dir=str(tmp_path / "run"))
    _, samples, held = prepare_data(params)
    positions = np.flatnonzero(samples["is_corrupted"].to_numpy(bool))
    assert len(positions)
    truth = samples["original_label"].to_numpy()[positions]
    run = train_relabelled(params, positions, truth, str(tmp_path / "relabelled"))
    got = run.samples.set_index("row_idx")["label"].sort_index().to_numpy()
    want = samples["label"].to_numpy().copy()
    want[positions] = truth
    assert (got == want).all() and (got == samples["original_label"].to_numpy()).all()  # every wrong label fixed
    assert 0.0 <= run.metrics["final"]["heldout_accuracy"] <= 1.0  # measured on the task's own held-out set
    with pytest.raises(ParameterError, match="new_labels"):
        train_relabelled(params, positions, truth[:-1], str(tmp_path / "x"))
    with pytest.raises(ParameterError, match="new_labels"):
        train_relabelled(params, positions, truth + 7, str(tmp_path / "x"))
    with pytest.raises(ParameterError, match="positions"):
        train_relabelled(params, np.array([len(samples)]), np.array([0]), str(tmp_path / "x"))
