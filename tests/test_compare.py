import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nlpdiff import compare
from nlpdiff.errors import ParameterError


def _table(n=200, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    return pd.DataFrame({"sample_id": np.arange(n), "a": a, "a_monotone": np.exp(a),
                         "noise": rng.normal(size=n), "const": np.ones(n)})


def test_correlation_table_known_relations():
    t = compare.correlation_table(_table(), n_boot=50)
    assert set(t["a"]) | set(t["b"]) == {"a", "a_monotone", "noise"}  # constant column left out
    row = t[(t["a"] == "a") & (t["b"] == "a_monotone")].iloc[0]
    assert row["spearman"] == pytest.approx(1.0) and row["kendall"] == pytest.approx(1.0)
    assert row["spearman_lo"] == pytest.approx(1.0)
    noise = t[(t["a"] == "a") & (t["b"] == "noise")].iloc[0]
    assert noise["spearman_lo"] < noise["spearman"] < noise["spearman_hi"]
    assert noise["spearman"] == pytest.approx(stats.spearmanr(_table()["a"], _table()["noise"]).statistic)


def test_partial_spearman_by_hand():
    # x and y both follow z; given z nothing is left: partial correlation ~ 0 while spearman ~ 1
    z = np.arange(400.0)
    rng = np.random.default_rng(1)
    x = z + rng.normal(scale=20, size=400)
    y = z + rng.normal(scale=20, size=400)
    assert stats.spearmanr(x, y).statistic > 0.9
    assert abs(compare.partial_spearman(x, y, z)) < 0.15
    # x = [1,2,3,4], y = [1,3,2,4], z = [1,1,2,2]: rank(z) = [1.5,1.5,3.5,3.5], so the linear fit of a
    # rank on rank(z) is its mean within each z group. x: fit [1.5,1.5,3.5,3.5], residuals [-.5,.5,-.5,.5];
    # y: fit [2,2,3,3], residuals [-1,1,-1,1]; the residuals are proportional: partial correlation 1
    assert compare.partial_spearman(np.array([1, 2, 3, 4.]), np.array([1, 3, 2, 4.]), np.array([1, 1, 2, 2.])) == pytest.approx(1.0)


def test_stability_identical_and_shuffled_runs():
    t = _table()
    shuffled = t.sample(frac=1, random_state=3)
    stab = compare.stability({"s0": t, "s1": shuffled, "s2": t.assign(a=-t["a"])})
    summary = compare.stability_summary(stab).set_index("score")
    s01 = stab[(stab.run_a == "s0") & (stab.run_b == "s1")].set_index("score")["corr"]
    assert np.allclose(s01.to_numpy(), 1.0)
    assert summary.loc["a", "min"] == pytest.approx(-1.0)
    with pytest.raises(ParameterError):
        compare.stability({"only": t})


def test_top_k_overlap_and_linearity():
    t = _table()
    same = compare.top_k_overlap(t, "a", "a_monotone", 0.1)
    assert same["k"] == 20 and same["overlap"] == 1.0 and same["missed_by_b"] == 0.0
    lin = compare.linearity(t, "a", "a_monotone")
    assert lin["spearman"] == pytest.approx(1.0) and lin["pearson"] < 0.9
    with pytest.raises(ParameterError, match="fraction"):
        compare.top_k_overlap(t, "a", "noise", 0)


def test_human_agreement_with_length_control():
    n = 300
    rng = np.random.default_rng(2)
    length = rng.integers(5, 50, n).astype(float)
    signal = length + rng.normal(scale=5, size=n)
    scores = pd.DataFrame({"sample_id": np.arange(n), "length_driven": length + rng.normal(scale=1, size=n),
                           "pure": rng.normal(size=n)})
    signals = pd.DataFrame({"sample_id": np.arange(n), "disagreement": signal, "n_tokens": length})
    t = compare.human_agreement(scores, signals, ["disagreement"], length_column="n_tokens", n_boot=30)
    row = t.set_index("score").loc["length_driven"]
    assert row["spearman"] > 0.8 and abs(row["partial_spearman_given_length"]) < 0.3
    assert "n_tokens" in set(t["score"])


def test_squad_annotator_agreement():
    answers = pd.Series([{"text": ["the cat", "cat", "a cat"]}, {"text": ["Paris"]}, {"text": ["red", "blue"]}])
    agree = compare.squad_annotator_agreement(answers)
    assert agree[0] == pytest.approx(1.0)  # all normalise to "cat"
    assert np.isnan(agree[1])
    assert agree[2] == pytest.approx(0.0)


def test_hardware_table_reads_run_json_only(tmp_path):
    import json

    from nlpdiff import rundir

    def write(folder, status, accelerator):
        folder.mkdir(parents=True)
        (folder / "run.json").write_text(json.dumps({
            "kind": "train", "status": status, "params": {"task": "sst2", "backbone": "finetune"},
            "resolved": {"device": "cuda" if accelerator else "cpu"},
            "hardware": {"accelerator": accelerator, "cpu_count": 16 if accelerator else 2, "memory_gib": 125.9},
            "versions": {"python": "3.12.3", "torch": "2.11.0", "transformers": "5.17.0"},
            "wall_time_s": {"total": 54.9}, "finished_at": "2026-11-28T19:30:12+00:00"}))

    write(tmp_path / "gpu" / "a", "complete", "NVIDIA H200")
    write(tmp_path / "cpu" / "b", "complete", None)
    write(tmp_path / "cpu" / "interrupted", "running", None)  # not complete: not listed
    table = rundir.hardware_table(tmp_path)
    assert list(table["run"]) == ["cpu/b", "gpu/a"]
    assert table.set_index("run").loc["gpu/a", "accelerator"] == "NVIDIA H200"
    assert table.set_index("run").loc["cpu/b", "device"] == "cpu"
    assert table["wall_time_s"].tolist() == [54.9, 54.9]


def test_missed_by_construction_separates_confidently_wrong_samples():
    from nlpdiff.compare import missed_by_construction

    # 10 samples; the two hardest under action are confidently wrong (low entropy, wrong at every checkpoint)
    scores = pd.DataFrame({
        "sample_id": range(10),
        "action": [10, 9, 8, 7, 6, 5, 4, 3, 2, 1],
        "mean_entropy": [0.0, 0.1, 0.9, 0.8, 0.5, 0.4, 0.3, 0.2, 0.6, 0.7],
        "cartography_correctness": [1.0, 1.0, 0.2, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    })
    r = missed_by_construction(scores, fraction=0.2)
    assert r["k"] == 2 and r["missed"] == 2 and r["missed_mostly_wrong"] == 1.0
    # among the mostly-right samples the two scores agree on the hardest ones (2 and 3)
    assert r["n_mostly_right"] == 8 and r["overlap_mostly_right"] == 1.0
    with pytest.raises(ParameterError, match="cartography_correctness"):
        missed_by_construction(scores.drop(columns="cartography_correctness"))
