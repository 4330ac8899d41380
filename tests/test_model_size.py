"""The model-size study (nlpdiff_study.model_size): its configuration, agreement and paired tables, one part end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from nlpdiff.errors import ParameterError
from nlpdiff_study import grid, mislabel, model_size


def _cfg(tmp_path, parts):
    path = tmp_path / "model_size.yaml"
    path.write_text(yaml.safe_dump({"parts": parts}))
    return path


PART = {"models": {"scratch": {"backbone": "scratch", "model": "scratch", "learning_rate": 0.05},
                   "scratch_slow": {"backbone": "scratch", "model": "scratch", "learning_rate": 0.01}},
        "params": {"task": "sst2", "train_size": 60, "eval_size": 20, "epochs": 2, "batch_size": 16,
                   "checkpoints_per_epoch": 1},
        "rates": [0.25], "noise_types": ["uniform"], "seeds": [0, 1], "data_seed": 0}


def test_config_checks(tmp_path):
    parts = grid.load_part("model_size", "p", _cfg(tmp_path, {"p": PART}))
    assert list(parts) == ["scratch", "scratch_slow"]
    assert parts["scratch_slow"]["params"]["learning_rate"] == 0.01 and parts["scratch"]["kind"] == "grid"
    with pytest.raises(ParameterError, match="part"):
        grid.load_part("model_size", "nope", _cfg(tmp_path, {"p": PART}))
    for bad, name in (({"models": {"a": {}}}, "models"), ({"data_seed": None}, "data_seed"),
                      ({"data_seed": -1}, "data_seed"), ({"rates": []}, "rates")):
        with pytest.raises(ParameterError, match=name):
            grid.load_part("model_size", "p", _cfg(tmp_path, {"p": {**PART, **bad}}))


def test_fixed_data_seed_gives_every_seed_the_same_samples():
    part = mislabel.check_part("g", {**PART, "kind": "grid", "params": PART["params"]})
    jobs = mislabel.grid_jobs("g", part)
    assert [j["params"]["seed"] for j in jobs] == [0, 1]
    assert {j["params"]["data_seed"] for j in jobs} == {0}
    free = mislabel.check_part("g", {**PART, "kind": "grid", "data_seed": None})
    assert [j["params"]["data_seed"] for j in mislabel.grid_jobs("g", free)] == [0, 1]


def test_agreement_labels_pairs_and_measures_rank_agreement():
    rng = np.random.default_rng(0)
    base = rng.normal(size=200)
    ids = np.arange(200)

    def run(noise):
        return pd.DataFrame({"sample_id": ids, "action": base + rng.normal(scale=noise, size=200),
                             "flat": np.ones(200)})

    runs = {("small", 0): run(0.1), ("small", 1): run(0.1), ("big", 0): run(3.0), ("big", 1): run(3.0)}
    a = model_size.agreement(runs)
    assert set(a["score"]) == {"action"}  # a constant score has no rank correlation
    assert (a["kind"] == "within").sum() == 2 and (a["kind"] == "across").sum() == 4
    s = model_size.agreement_summary(a).set_index("score").loc["action"]
    assert s["within_small"] > 0.95 > s["within_big"]
    assert s["n_within"] == 2 and s["n_across"] == 4
    assert s["across_minus_within"] == pytest.approx(s["across"] - s["within"])
    shuffled = {("small", 0): runs[("small", 0)], ("big", 0): runs[("big", 0)].assign(sample_id=ids + 1000)}
    with pytest.raises(ParameterError, match="same samples"):
        model_size.agreement(shuffled)


def test_paired_detection_and_standing():
    rows = [{"model": m, "seed": s, "score": sc, "roc_auc": v}
            for m, shift in (("small", 0.0), ("big", 0.06)) for s in range(3)
            for sc, v in (("action", 0.8 + shift + 0.01 * s), ("aum", 0.85 + 0.01 * s + 0.001 * (s == 1)),
                          ("final_loss", 0.7 + 0.02 * s * s))]
    summary = pd.DataFrame(rows)
    d = model_size.paired_detection(summary, "small", "big").set_index("score")
    assert d.loc["action", "difference"] == pytest.approx(0.06) and d.loc["action", "verdict"] == "better"
    assert d.loc["aum", "difference"] == pytest.approx(0.0) and d.loc["aum", "verdict"] == "equivalent"
    assert d.loc["action", "lo"] <= d.loc["action", "lo90"] <= d.loc["action", "hi90"] <= d.loc["action", "hi"]
    st = model_size.standing(summary).set_index(["model", "against"])
    assert set(st.index.get_level_values("against")) == {"aum", "final_loss"}  # the declared baselines present
    assert st.loc[("small", "aum"), "rank"] == 2 and st.loc[("big", "aum"), "rank"] == 1
    assert st.loc[("small", "aum"), "verdict"] == "worse" and st.loc[("big", "aum"), "difference"] > 0
    assert st.loc[("small", "aum"), "baseline"] == pytest.approx(0.86 + 0.001 / 3)
    # a wide spread over 3 seeds: neither a difference nor equivalence, with its minimum detectable difference
    offset = summary["seed"].map({0: 0.1, 1: -0.1, 2: 0.02}).where(summary["model"] == "big", 0.0)
    noisy = summary.assign(roc_auc=summary["roc_auc"] + offset)
    v = model_size.paired_detection(noisy, "small", "big").set_index("score").loc["aum"]
    assert v["verdict"] == "not shown to differ" and v["mdd"] > 0.05
    # the minimum detectable difference of a paired t test over 3 seeds: (t_0.975 + t_0.8 with 2 df) standard errors
    from scipy import stats as st

    d = np.array([0.1, -0.1, 0.02])
    se = d.std(ddof=1) / np.sqrt(3)
    assert v["mdd"] == pytest.approx((st.t.ppf(0.975, 2) + st.t.ppf(0.8, 2)) * se)


def test_part_end_to_end(tiny_data_dir, tmp_path, one_torch_thread):
    part = {**PART, "params": {**PART["params"], "data_dir": str(tiny_data_dir)}}
    cfg = _cfg(tmp_path, {"p": part})
    out = grid.run_part("model_size", "p", cfg, tmp_path / "runs", tmp_path / "out")
    assert set(out["summary"]["model"]) == {"scratch", "scratch_slow"}
    tables = model_size.load_part("p", tmp_path / "out")
    assert set(tables["agreement"]["kind"]) == {"within", "across"}
    assert len(tables["cost"]) == 4 and (tables["cost"]["training_runs"] == 1).all()
    assert (tmp_path / "out" / "p" / "part.json").exists()
    learn = tables["learning"]
    assert len(learn) == 4 and learn["heldout_majority"].between(0.5, 1).all()
    assert learn["heldout_accuracy"].between(0, 1).all()
    with pytest.raises(ParameterError, match="computed part"):
        model_size.load_part("other", tmp_path / "out")


def test_page_renders_from_a_computed_part(tiny_data_dir, tmp_path, one_torch_thread):
    """notebooks/model_size.py on a computed part: its finding is read from the tables (no error, no
    typed number: the ROC AUC in the sentence is the table's)."""
    import json
    import subprocess
    from pathlib import Path

    import nbformat

    part = {**PART, "params": {**PART["params"], "data_dir": str(tiny_data_dir)}}
    grid.run_part("model_size", "p", _cfg(tmp_path, {"p": part}), tmp_path / "runs", tmp_path / "out")
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "page.ipynb"
    params = {"results_dir": str(tmp_path / "out"), "part_names": ["p"], "small": "scratch", "large": "scratch_slow"}
    subprocess.run(["nlpdiff", "run", str(root / "notebooks/model_size.py"), "-o", str(out), "--parameters-json",
                    json.dumps(params)], check=True, capture_output=True, text=True, timeout=600)
    nb = nbformat.read(out, 4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    finding, detail = [o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})][:2]
    s = model_size.load_part("p", tmp_path / "out")["summary"]
    a = s[(s["score"] == "action") & (s["model"] == "scratch")]["roc_auc"].mean()
    assert f": {a:.3f} with scratch and" in finding  # the short finding above the chart
    assert f"ROC AUC is {a:.3f}" in detail and "Spearman" in detail  # the detail below it


def test_the_committed_page_is_the_rendering_of_the_committed_tables(tmp_path):
    """book/results/model_size.ipynb shows what notebooks/model_size.py computes from results/model_size/."""
    from pathlib import Path

    from conftest import page_texts, render_page

    root = Path(__file__).resolve().parents[1]
    if not (root / "results/model_size/sst2/agreement.csv").exists():
        pytest.skip("the model-size parts are not committed")
    fresh = render_page("model_size", tmp_path / "page.ipynb")
    assert fresh == page_texts(root / "book/results/model_size.ipynb")
    assert "The action score's ROC AUC at finding the wrong labels" in fresh[0]
