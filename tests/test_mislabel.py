"""The mislabel-detection study runner (nlpdiff_study.mislabel): configuration, measurements, parts, analyses."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from nlpdiff_study import grid, mislabel
from nlpdiff.errors import ParameterError


def _cfg(tmp_path, parts):
    path = tmp_path / "mislabel.yaml"
    path.write_text(yaml.safe_dump({"parts": parts}))
    return path


GRID = {"kind": "grid", "params": {"task": "sst2", "backbone": "scratch", "train_size": 60, "eval_size": 20,
                                   "batch_size": 16, "learning_rate": 0.05},
        "rates": [0.2], "noise_types": ["uniform", "class_conditional"], "seeds": [0, 1],
        "lengths": {"usual": {"epochs": 2}, "long": {"epochs": 3}}}


def test_config_checks(tmp_path):
    path = _cfg(tmp_path, {"g": GRID})
    with pytest.raises(ParameterError, match="part"):
        grid.load_part("mislabel", "nope", path)
    for bad in ({"kind": "other"}, {"rates": [1.5]}, {"rates": []}, {"seeds": [-1]}, {"params": {}}):
        with pytest.raises(ParameterError):
            grid.load_part("mislabel", "g", _cfg(tmp_path, {"g": {**GRID, **bad}}))
    with pytest.raises(ParameterError, match="fractions"):
        grid.load_part("mislabel", "c", _cfg(tmp_path, {"c": {"kind": "cleaning", "params": {"task": "sst2"},
                                                              "fractions": [0.0]}}))
    with pytest.raises(ParameterError):
        grid.load_part("mislabel", "g", tmp_path / "missing.yaml")


def test_the_committed_config_is_valid():
    for name in grid.read_file("params/grids/mislabel.yaml")["parts"]:
        part = grid.load_part("mislabel", name)
        if part["kind"] == "grid":
            jobs = mislabel.grid_jobs(name, part)
            assert len({j["run"] for j in jobs}) == len(jobs)


def test_grid_jobs_seed_major_and_data_seed():
    part = mislabel.check_part("g", GRID)
    jobs = mislabel.grid_jobs("g", part)
    assert len(jobs) == 2 * 2 * 2
    assert [j["seed"] for j in jobs] == [0] * 4 + [1] * 4
    assert all(j["params"]["data_seed"] == j["seed"] for j in jobs)
    long = [j for j in jobs if j["length"] == "long"]
    assert all(j["params"]["epochs"] == 3 for j in long)
    assert jobs[0]["run"] == "g_n20u_usual_s0"


def test_detection_rows_metrics_and_chance():
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], bool)
    perfect = np.where(y, 2.0, 0.0) + np.linspace(0, 0.1, 10)
    reverse = -perfect
    scores = pd.DataFrame({"sample_id": range(10), "action": perfect, "final_loss": reverse,
                           "broken": [np.nan] + [0.0] * 9})
    rows = {r["score"]: r for r in mislabel.detection_rows(scores, y)}
    assert set(rows) == {"action", "final_loss"}  # non-finite scores are left out
    assert rows["action"]["roc_auc"] == 1.0 and rows["action"]["precision_at_k"] == 1.0
    assert rows["final_loss"]["roc_auc"] == 0.0 and rows["final_loss"]["precision_at_k"] == 0.0
    assert rows["action"]["chance_average_precision"] == pytest.approx(0.2)
    assert rows["action"]["chance_roc_auc"] == 0.5
    assert np.isnan(rows["action"]["delong_p_action"]) and rows["final_loss"]["delong_p_action"] < 0.05
    with pytest.raises(ParameterError):
        mislabel.detection_rows(scores, np.zeros(10, bool))


def test_memorisation_reads_the_eval_pass():
    # 2 samples, sample 1 corrupted; it is learnt (correct) from the second checkpoint on
    dyn = pd.DataFrame({"sample_id": [0, 1, 0, 1, 0, 1], "checkpoint": [0, 0, 1, 1, 1, 1],
                        "epoch": [1.0, 1.0, 2.0, 2.0, 2.0, 2.0], "pass": ["eval"] * 4 + ["train"] * 2,
                        "correct": [1.0, 0.0, 1.0, 1.0, 0.0, 0.0]})
    run = SimpleNamespace(dynamics=dyn, samples=pd.DataFrame({"sample_id": [0, 1], "is_corrupted": [False, True]}))
    m = mislabel.memorisation(run)
    assert m["final_train_acc_corrupted"] == 1.0 and m["first_epoch_memorised"] == 2.0
    assert m["final_train_acc_clean"] == 1.0


def _summary():
    rows = []
    rng = np.random.default_rng(0)
    for seed in range(3):
        for score, auc in (("action", 0.8), ("action_train", 0.82), ("mean_loss", 0.99), ("aum", 0.7),
                           ("final_loss", 0.6)):
            rows.append({"part": "p", "task": "sst2", "backbone": "probe", "length": "usual", "noise_rate": 0.2,
                         "noise_type": "uniform", "seed": seed, "score": score, "roc_auc": auc + rng.normal(0, 0.01),
                         "average_precision": auc / 2, "precision_at_k": auc / 2, "chance_roc_auc": 0.5,
                         "chance_average_precision": 0.2, "chance_precision_at_k": 0.2,
                         "final_train_acc_corrupted": 0.3, "heldout_accuracy": 0.8,
                         "delong_p_action": 0.01, "delong_p_action_train": 0.02})
    return pd.DataFrame(rows)


def test_cells_and_paired_tests():
    s = _summary()
    c = mislabel.cells(s).set_index("score")
    assert c.loc["action", "n_seeds"] == 3
    assert c.loc["action", "roc_auc_lo"] < c.loc["action", "roc_auc_mean"] < c.loc["action", "roc_auc_hi"]
    assert c.loc["action", "chance_average_precision"] == pytest.approx(0.2)
    t = mislabel.paired_tests(s).set_index("score")
    # the best baseline is outside the action family (mean_loss ranks as the action and is excluded)
    assert set(t["baseline"]) == {"aum"}
    assert t.loc["action", "diff"] == pytest.approx(0.1, abs=0.03)
    assert t.loc["action", "p_seeds"] < 0.05 and (t["p_holm"] >= t["p_seeds"]).all()


def test_removal_positions():
    v = np.array([0.1, 5.0, 0.3, 4.0, 0.2])
    assert list(mislabel.removal_positions(v, 0.4)) == [0, 2, 4]
    kept = mislabel.removal_positions(v, 0.4, np.random.default_rng(0))
    assert len(kept) == 3 and list(kept) == sorted(kept)


def test_imdb_truth(tiny_data_dir):
    t = mislabel.imdb_truth(tiny_data_dir)
    cand = pd.read_parquet(tiny_data_dir / "imdb_label_errors" / "test.parquet")
    assert t["candidate"].sum() == len(cand)
    assert t["confirmed"].sum() == (cand["votes_guessed"] >= 3).sum()
    assert not (t["confirmed"] & ~t["candidate"]).any()


def test_grid_part_end_to_end(tiny_data_dir, tmp_path, one_torch_thread):
    part = {**GRID, "params": {**GRID["params"], "data_dir": str(tiny_data_dir)}, "noise_types": ["uniform"],
            "confident_learning": {"k": 2, "rates": [0.2], "lengths": ["usual"]}}
    cfg = _cfg(tmp_path, {"g": part})
    summary, cost = grid.run_part("mislabel", "g", cfg, tmp_path / "runs", tmp_path / "out")
    written = pd.read_csv(tmp_path / "out" / "g" / "summary.csv")
    assert len(written) == len(summary) and {"action", "action_train", "confident_learning"} <= set(written["score"])
    assert set(written["run"]) == {"g_n20u_usual_s0", "g_n20u_long_s0", "g_n20u_usual_s1", "g_n20u_long_s1"}
    assert written["final_train_acc_corrupted"].between(0, 1).all()
    cl = cost[cost["method"].str.startswith("confident_learning")]
    assert len(cl) == 2 and (cl["training_runs"] == 2).all() and (cost["wall_s"] > 0).all()
    assert len(mislabel.cells(written)) and len(mislabel.paired_tests(written))
    assert set(mislabel.cost_table(cost)["method"]) == {"dynamics (every score)", "confident_learning (K=2)"}
    # a second call reuses every run (no training): same numbers
    again, _ = grid.run_part("mislabel", "g", cfg, tmp_path / "runs", tmp_path / "out")
    pd.testing.assert_frame_equal(again, summary)


@pytest.mark.parametrize("task,backbone,extra", [
    ("squad", "probe", {"max_length": 128, "batch_size": 4, "learning_rate": 1.0e-3}),
    ("samsum", "finetune", {"model": "minilm", "batch_size": 4, "max_length": 64,
                            "max_target_length": 16, "generation_max_tokens": 8}),
])
def test_grid_part_with_moved_answers_or_swapped_summaries(task, backbone, extra, tiny_data_dir, tmp_path,
                                                           one_torch_thread):
    part = {"kind": "grid", "params": {"task": task, "backbone": backbone, "train_size": 8, "eval_size": 2,
                                       "epochs": 2, "checkpoints_per_epoch": 1, "data_dir": str(tiny_data_dir),
                                       **extra},
            "rates": [0.25], "noise_types": ["uniform"], "seeds": [0], "lengths": {"usual": {}}}
    summary, cost = grid.run_part("mislabel", "t", _cfg(tmp_path, {"t": part}), tmp_path / "runs", tmp_path / "out")
    assert (summary["n_positive"] == 2).all() and (summary["n"] == 8).all()  # 2 of 8 targets corrupted
    assert {"action", "final_loss"} <= set(summary["score"]) and summary["roc_auc"].between(0, 1).all()
    metric = {"squad": "heldout_f1", "samsum": "heldout_rougeL"}[task]
    assert (summary["heldout_metric"] == metric).all() and summary["heldout_value"].notna().all()
    assert summary["final_train_acc_corrupted"].between(0, 1).all() and len(cost) == 1


def _summary_rows(part, task, backbone, aucs):
    """Summary rows of one part: per seed, a score -> ROC AUC mapping."""
    rows = []
    for seed, by_score in enumerate(aucs):
        for score, auc in by_score.items():
            rows.append({"part": part, "run": f"{part}_s{seed}", "task": task, "backbone": backbone, "length": "usual",
                         "epochs": 2, "noise_rate": 0.2, "noise_type": "uniform", "seed": seed, "score": score,
                         "n": 50, "n_positive": 10, "roc_auc": auc, "average_precision": auc / 2,
                         "precision_at_k": auc / 3, "chance_roc_auc": 0.5, "chance_average_precision": 0.2,
                         "chance_precision_at_k": 0.2, "final_train_acc_corrupted": 0.1, "heldout_accuracy": np.nan})
    return pd.DataFrame(rows)


def test_grid_summaries_keep_class_labels_apart_from_corrupted_targets():
    parts = {"sst": {"summary": _summary_rows("sst", "sst2", "probe", [{"action": 0.9}])},
             "qa": {"summary": _summary_rows("qa", "squad", "probe", [{"action": 0.8}])},
             "sum": {"summary": _summary_rows("sum", "samsum", "finetune", [{"action": 0.7}])},
             "imdb": {"summary": _summary_rows("imdb", "imdb", "scratch", [{"action": 0.6}]).assign(subset="all")},
             "clean": {"cleaning": pd.DataFrame({"method": ["action"]})}}
    labels, targets = mislabel.grid_summaries(parts)
    assert set(labels["part"]) == {"sst"} and set(targets["part"]) == {"qa", "sum"}
    assert mislabel.grid_summaries({})[0].empty


def test_real_error_parts_are_one_predicate_for_every_table():
    """The NoisyAG-News parts (real annotator errors) have their own page: the grid's tables and the
    mislabel chapter leave them out by one predicate, on the summary and on the cleaning table."""
    real = _summary_rows("agn", "noisy_agnews", "probe", [{"action": 0.8}]).assign(noise_source="real")
    parts = {"sst": {"summary": _summary_rows("sst", "sst2", "probe", [{"action": 0.9}])},
             "agn": {"summary": real},
             "clean_agn": {"cleaning": pd.DataFrame({"method": ["action"], "noise_type": ["real"]})},
             "clean_sst": {"cleaning": pd.DataFrame({"method": ["action"], "noise_type": ["uniform"]})},
             "bare": {}}
    assert [k for k, v in parts.items() if mislabel.is_real_error_part(v)] == ["agn", "clean_agn"]
    labels, _ = mislabel.grid_summaries(parts)
    assert set(labels["part"]) == {"sst"}
    # the committed parts: the four NoisyAG-News parts and no other
    committed = mislabel.load_results(Path(__file__).resolve().parents[1] / "results" / "mislabel")
    assert sorted(k for k, v in committed.items() if mislabel.is_real_error_part(v)) == [
        "cleaning_noisy_agnews_probe", "noisy_agnews_finetune", "noisy_agnews_probe", "noisy_agnews_scratch"]


def test_corrupted_targets_read_the_paired_test():
    aucs = [{"action": a, "final_loss": b, "aum": b - 0.1} for a, b in ((0.95, 0.80), (0.93, 0.80), (0.96, 0.79))]
    t = _summary_rows("qa", "squad", "probe", aucs)
    tests, cells = mislabel.paired_tests(t), mislabel.cells(t)
    [row] = mislabel.corrupted_targets(tests, cells)
    act = cells[cells["score"] == "action"].iloc[0]
    assert row["action"] == (act["roc_auc_mean"], act["roc_auc_lo"], act["roc_auc_hi"])
    assert "answers moved" in row["noise"] and row["baseline"] == "final_loss" and row["n_seeds"] == 3
    assert row["verdict"] == "significantly better"  # +0.15 with a small spread over 3 seeds
    assert mislabel.corrupted_targets(tests.iloc[:0], cells) == []
    # a part with two rates: each cell's row reads its own cell
    two = pd.concat([t, _summary_rows("qa", "squad", "probe", [{"action": 0.6, "final_loss": 0.7}] * 3)
                     .assign(noise_rate=0.4)], ignore_index=True)
    rows = mislabel.corrupted_targets(mislabel.paired_tests(two), mislabel.cells(two))
    assert [r["noise_rate"] for r in rows] == [0.2, 0.4] and rows[1]["action"] == pytest.approx((0.6, 0.6, 0.6))


def test_cleaning_part_end_to_end(tiny_data_dir, tmp_path, one_torch_thread):
    part = {"kind": "cleaning", "params": {**GRID["params"], "data_dir": str(tiny_data_dir), "epochs": 2,
                                           "noise_rate": 0.2},
            "fractions": [0.1, 0.2], "methods": ["action", "random"], "seeds": [0]}
    table, cost = grid.run_part("mislabel", "c", _cfg(tmp_path, {"c": part}), tmp_path / "runs", tmp_path / "out")
    assert set(table["method"]) == {"no removal", "clean labels", "action", "random"}
    act = table[table["method"] == "action"].set_index("fraction")
    assert list(act["n_kept"]) == [54, 48]
    assert table["heldout_accuracy"].between(0, 1).all() and len(cost) == len(table)
    c = mislabel.cleaning_cells(table)
    assert set(c["method"]) == set(table["method"])
    # a second call reuses every run, the subset runs too (finished_run with the subset size)
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("run.json")}
    again, _ = grid.run_part("mislabel", "c", _cfg(tmp_path, {"c": part}), tmp_path / "runs", tmp_path / "out")
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("run.json")} == stamps
    pd.testing.assert_frame_equal(again, table)


def test_findings_read_their_numbers_from_the_tables():
    s = _summary()
    s2 = s.assign(part="q", roc_auc=np.where(s["score"] == "action", 0.95, s["roc_auc"]))
    both = pd.concat([s, s2], ignore_index=True)
    tests, cells = mislabel.paired_tests(both), mislabel.cells(both)
    found = mislabel.findings(tests, cells)
    diffs = tests[tests["score"] == "action"]["diff"]
    assert found["cells"]["diff"] == (diffs.min(), diffs.max()) and found["cells"]["n"] == 2
    assert found["pooled"] is None and found["targets"] == [] and found["cleaning"] is None
    assert mislabel.findings(tests[tests["score"] != "action"], cells) is None  # no grid part to summarise
    v = mislabel.verdicts(tests).set_index(["part", "score"])
    assert v.loc[("q", "action"), "cells"] == 1
    assert v[["better", "worse", "no_difference"]].sum(axis=1).eq(v["cells"]).all()


def test_published_check_and_gpu_summary(tiny_data_dir, tmp_path):
    pub = mislabel.published_check(tiny_data_dir)
    assert pub["n_candidates"] == 6 and 0 <= pub["top_is_candidates"] <= 1
    assert 0 <= pub["roc_auc_all"] <= 1
    assert mislabel.gpu_summary(tmp_path).empty
    assert len(mislabel.gpu_summary("results/gpu")) and set(mislabel.gpu_summary("results/gpu")["backbone"]) == {
        "finetune"}


def test_interval_chart_renders():
    c = mislabel.cells(_summary())
    c["cell"] = mislabel.cell_label(c)
    spec = mislabel.interval_chart(c, ["action", "aum"]).to_dict()
    assert spec["facet"]["field"] == "cell"


@pytest.mark.slow
def test_chapter_notebook_on_tiny_data(tiny_data_dir, tmp_path):
    """The chapter runs from a bare folder (no committed results): it computes its slice and shows it."""
    import json
    from pathlib import Path

    import nbformat

    from nlpdiff_study.runner import NOTEBOOKS_DIR, run_notebook

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "mislabel.ipynb"
    params = dict(runs_dir=str(tmp_path / "runs"), results_dir=str(tmp_path / "none"), gpu_dir=str(tmp_path / "none"),
                  config=str(root / "params" / "grids" / "mislabel.yaml"), slice_parts=["smoke_sst2"],
                  data_dir=str(tiny_data_dir))
    env_before = os.environ.get("NLPDIFF_DATA_DIR")
    os.environ["NLPDIFF_DATA_DIR"] = str(tiny_data_dir)
    try:
        run_notebook(NOTEBOOKS_DIR / "mislabel.py", out, params, cwd=tmp_path)
    finally:
        if env_before is None:
            os.environ.pop("NLPDIFF_DATA_DIR")
        else:
            os.environ["NLPDIFF_DATA_DIR"] = env_before
    nb = nbformat.read(out, as_version=4)
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
    text = json.dumps([o for c in nb.cells for o in c.get("outputs", [])])
    assert "smoke_sst2 (this build)" in text and "circular" in text
    assert (tmp_path / "runs" / "mislabel" / "results" / "smoke_sst2" / "summary.csv").exists()


def test_cleaning_tests_pair_seeds():
    rows = []
    for seed in range(3):
        for method, acc in (("action", 0.80), ("best_baseline", 0.78), ("random", 0.70)):
            rows.append({"seed": seed, "method": method, "fraction": 0.1, "heldout_accuracy": acc + 0.01 * seed,
                         "score": method, "n_train": 100, "n_kept": 90, "corrupted_removed": 5})
    t = mislabel.cleaning_tests(pd.DataFrame(rows)).set_index("action_minus")
    assert t.loc["random", "diff"] == pytest.approx(0.10) and t.loc["best_baseline", "diff"] == pytest.approx(0.02)
    assert (t["p_holm"] >= t["p"]).all()


def test_threshold_row_and_cells_compare_the_flags_with_the_action_top_k():
    n = 12
    flags = pd.DataFrame({"sample_id": range(n), "is_threshold": [True] * 3 + [False] * 9,
                          "aum": np.linspace(-1, 1, n), "flagged": [False] * 3 + [True] * 3 + [False] * 6})
    samples = pd.DataFrame({"sample_id": range(n), "is_corrupted": [False] * 3 + [True, True, False] + [False] * 6})
    scores = pd.DataFrame({"sample_id": range(n), "action": [0] * 3 + [9, 8, 0, 7, 0, 0, 0, 0, 0],
                           "aum": np.arange(n)[::-1].astype(float)})
    info = {"n_threshold": 3, "cutoff": 0.1, "percentile": 99.0, "wall_s": 1.0}
    row = mislabel.threshold_row(info, flags, scores, samples)
    assert row["n_judged"] == 9 and row["n_flagged"] == 3 and row["n_corrupted"] == 2
    assert row["precision"] == pytest.approx(2 / 3) and row["recall"] == 1.0
    assert row["chance_precision"] == pytest.approx(2 / 9)
    assert row["action_precision_at_k"] == pytest.approx(2 / 3)  # top 3 by action: rows 3, 4, 6
    table = pd.DataFrame([{**row, "part": "p", "task": "sst2", "backbone": "probe", "length": "usual",
                           "noise_rate": 0.2, "noise_type": "uniform", "seed": s,
                           "action_precision_at_k": row["precision"] + 0.1 * (s + 1)} for s in range(3)])
    cells = mislabel.threshold_cells(table)
    assert len(cells) == 1 and cells.loc[0, "n_seeds"] == 3
    assert cells.loc[0, "action_minus_flags"] == pytest.approx(0.2) and 0 <= cells.loc[0, "p_holm"] <= 1


def test_findings_lead_with_the_declared_pooled_comparisons():
    from nlpdiff_study import comparisons

    s = _summary()
    s2 = s.assign(part="q", roc_auc=np.where(s["score"] == "action", 0.95, s["roc_auc"]))
    both = pd.concat([s, s2], ignore_index=True)
    tests, cells = mislabel.paired_tests(both), mislabel.cells(both)
    pooled = comparisons.pooled_detection(both, n_boot=500)
    found = mislabel.findings(tests, cells, pooled=pooled)
    assert found["pooled"] is pooled
    text = "; ".join(comparisons.pooled_phrases(found["pooled"]))
    for r in pooled.to_dict("records"):
        assert f"`{r['baseline']}` ({r['estimate']:+.3f}".replace("-0.000", "+0.000") in text
    assert "-0.000" not in text

def test_pooled_phrases_are_one_wording_for_every_page():
    """The mislabel chapter and the NLI page write a pooled comparison with the same helper: the verdict's words,
    the signed estimate and interval, Holm p; the minimum detectable difference only when not shown to differ;
    the cell count only for a baseline computed in fewer cells."""
    from nlpdiff_study import comparisons

    pooled = pd.DataFrame([
        {"baseline": "aum", "verdict": "better", "estimate": 0.0123, "low": 0.004, "high": 0.02, "p_holm": 0.0004,
         "mdd": 0.01, "n_cells": 6},
        {"baseline": "final_loss", "verdict": "not shown to differ", "estimate": -0.0001, "low": -0.03, "high": 0.02,
         "p_holm": 0.8, "mdd": 0.041, "n_cells": 6},
        {"baseline": "confident_learning", "verdict": "equivalent", "estimate": 0.0, "low": -0.004, "high": 0.003,
         "p_holm": 1.0, "mdd": 0.005, "n_cells": 2}])
    a, b, c = comparisons.pooled_phrases(pooled)
    assert a == "higher than `aum` (+0.012, 95 % interval +0.004 to +0.020, Holm p < 0.001)"
    assert b == ("not shown to differ from `final_loss` (+0.000, 95 % interval -0.030 to +0.020, Holm p 0.800; "
                 "minimum detectable difference 0.041)")
    assert c.startswith("equivalent (within the margin) to `confident_learning`") and c.endswith("; 2 cells)")


def test_pooled_chart_draws_every_declared_comparison():
    from nlpdiff_study import comparisons

    s = _summary()
    both = pd.concat([s, s.assign(part="q")], ignore_index=True)
    pooled = comparisons.pooled_detection(both, n_boot=200)
    spec = mislabel.pooled_chart(pooled).to_dict()
    layers = spec["layer"]
    data = spec["datasets"]
    rows = [r for values in data.values() for r in values if "baseline" in r]
    assert sorted({r["baseline"] for r in rows}) == sorted(pooled["baseline"])
    band = [r for values in data.values() for r in values if "lo" in r and "hi" in r]
    assert band == [{"lo": -pooled["margin"].iloc[0], "hi": pooled["margin"].iloc[0]}]
    assert spec["width"] <= 560 and len(layers) == 4


REAL = {"kind": "grid", "params": {"task": "noisy_agnews_clean", "backbone": "scratch", "train_size": None,
                                   "eval_size": 20, "batch_size": 16, "learning_rate": 0.05},
        "real": {"task": "noisy_agnews", "rate": 0.2}, "audit_top": [5, 10], "rates": [0.2],
        "noise_types": ["uniform", "empirical"],
        "seeds": [0, 1], "lengths": {"usual": {"epochs": 2}}}


def test_real_errors_part_pairs_real_and_synthetic_noise(tiny_data_dir, tmp_path, one_torch_thread):
    part = mislabel.check_part("r", REAL)
    jobs = mislabel.grid_jobs("r", part)
    assert [j["noise_type"] for j in jobs] == ["real", "uniform", "empirical"] * 2
    assert jobs[0]["params"]["task"] == "noisy_agnews" and jobs[0]["params"]["noise_rate"] == 0.0
    assert jobs[0]["run"] == "r_real_usual_s0" and jobs[2]["run"] == "r_n20emp_usual_s0"
    with pytest.raises(ParameterError, match="real"):
        mislabel.check_part("r", {**REAL, "real": {"task": "noisy_agnews", "rate": 1.5}})
    cfg = _cfg(tmp_path, {"r": {**REAL, "params": {**REAL["params"], "data_dir": str(tiny_data_dir)}}})
    summary, cost = grid.run_part("mislabel", "r", cfg, tmp_path / "runs", tmp_path / "out")
    assert set(summary["noise_source"]) == {"real", "synthetic"}
    top = pd.read_csv(tmp_path / "out" / "r" / "audit_top.csv")
    assert set(top["top"]) == {5, 10} and len(top) == 2 * 6
    assert (top["wrong_in_top"] <= top["top"]).all() and (top["chance_precision"] == 0.2).all()
    assert (top["precision"] == top["wrong_in_top"] / top["top"]).all()
    # the tiny data's real errors are a fifth of the rows, as the synthetic noise of the same texts
    assert (summary["actual_noise_rate"] == 0.2).all()
    # real-against-synthetic parts stay out of the label-noise grid of the chapter
    parts = mislabel.load_results(tmp_path / "out")
    assert mislabel.grid_summaries(parts)[0].empty
    t = mislabel.real_vs_synthetic(summary)
    assert set(t["against"]) == {"uniform", "empirical"} and (t["n_seeds"] == 2).all()
    a = t[(t["score"] == "action") & (t["against"] == "uniform")].iloc[0]
    piv = summary[summary["score"] == "action"].pivot_table(index="seed", columns="noise_type", values="roc_auc")
    assert a["diff"] == pytest.approx((piv["real"] - piv["uniform"]).mean())
    assert a["roc_auc_real"] == pytest.approx(piv["real"].mean())


def test_noisy_agnews_page_is_the_rendering_of_the_committed_tables(tmp_path):
    """book/results/noisy_agnews.ipynb shows what notebooks/noisy_agnews.py computes from the committed
    results/mislabel/noisy_agnews_* tables (its finding and tables are read from them, never typed)."""
    from pathlib import Path

    import nbformat
    from conftest import page_texts, render_page

    root = Path(__file__).resolve().parents[1]
    if not (root / "results/mislabel/noisy_agnews_probe/summary.csv").exists():
        pytest.skip("the NoisyAG-News parts are not committed")
    fresh = render_page("noisy_agnews", tmp_path / "page.ipynb")
    assert fresh == page_texts(root / "book/results/noisy_agnews.ipynb")
    # the page opens with its finding (the first output), then its key figure, then the details as bullets
    assert fresh[0].startswith("**Finding.**") and "the action score's ROC AUC is" in fresh[0]
    nb = nbformat.read(root / "book/results/noisy_agnews.ipynb", 4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert "vega" in outputs[1]["data"]["text/html"].lower()
    details = next(t for t in fresh if t.startswith("- "))
    assert "the action score ranks the real errors" in details


def test_cleaning_part_with_real_errors_trains_the_clean_reference_on_the_true_labels(tiny_data_dir, tmp_path,
                                                                                       one_torch_thread):
    part = {"kind": "cleaning", "params": {**REAL["params"], "data_dir": str(tiny_data_dir), "epochs": 2},
            "real": {"task": "noisy_agnews", "rate": 0.2}, "fractions": [0.1],
            "methods": ["action", "random", "relabel", "confident_learning", "aum"], "seeds": [0]}
    table, cost = grid.run_part("mislabel", "c", _cfg(tmp_path, {"c": part}), tmp_path / "runs", tmp_path / "out")
    from nlpdiff import rundir

    noisy, clean = (rundir.load_run(tmp_path / "runs" / "c" / f"{k}_s0") for k in ("noisy", "clean"))
    assert noisy.params["task"] == "noisy_agnews" and clean.params["task"] == "noisy_agnews_clean"
    assert noisy.params["noise_rate"] == clean.params["noise_rate"] == 0.0
    wrong = noisy.samples["is_corrupted"].astype(bool)
    assert wrong.any() and not clean.samples["is_corrupted"].any()
    assert (table["noise_type"] == "real").all() and table["noise_rate"].iloc[0] == pytest.approx(wrong.mean())
    assert set(table["method"]) == {"no removal", "clean labels", "action", "random", "relabel", "confident_learning",
                                    "aum"}
    # removal by confident learning: its K = 5 trainings of the noisy recipe, counted in the cost table
    from nlpdiff.detection import load_confident_learning

    cl_info, _, cl_scores = load_confident_learning(tmp_path / "runs" / "c" / "noisy_s0_cl5")
    assert cl_info["n_trainings"] == 5 and (cost["method"] == "confident_learning (K=5)").sum() == 1
    by_cl = table[table["method"] == "confident_learning"].iloc[0]
    top = cl_scores.sort_values("confident_learning", ascending=False, kind="stable")["sample_id"].iloc[
        :round(0.1 * len(cl_scores))]
    assert by_cl["corrupted_removed"] == int(noisy.samples.set_index("sample_id").loc[top, "is_corrupted"].sum())
    with pytest.raises(ParameterError, match="methods"):
        grid.run_part("mislabel", "c", _cfg(tmp_path, {"c": {**part, "methods": ["action", "nonsense"]}}), tmp_path / "runs",
                          tmp_path / "out2")
    # relabel: the action score's top 10 % get the noisy model's predicted class; nothing is removed
    rel = table[table["method"] == "relabel"].iloc[0]
    assert rel["score"] == "action" and rel["n_kept"] == rel["n_train"]
    pred = pd.read_parquet(tmp_path / "runs" / "c" / "noisy_s0" / "predictions.parquet").set_index("sample_id")
    # the noisy run saved its predictions as it was trained: trained once (its cost row is the run on disk)
    no_removal = cost[cost["method"] == "no removal"].iloc[0]
    assert no_removal["wall_s"] == pytest.approx(noisy.info["wall_time_s"]["total"])
    flagged = noisy.scores.sort_values("action", ascending=False, kind="stable")["sample_id"].iloc[:round(0.1 * len(noisy.scores))]
    relabelled = rundir.load_run(tmp_path / "runs" / "c" / "relabel_10_s0")
    labels = relabelled.samples.set_index("row_idx")["label"]
    assert (labels.loc[flagged.to_numpy()].to_numpy() == pred.loc[flagged, "predicted"].to_numpy()).all()
    assert rel["labels_changed"] == int((pred.loc[flagged, "predicted"].to_numpy()
                                         != noisy.samples.set_index("sample_id").loc[flagged, "label"].to_numpy()).sum())
    assert 0 <= rel["labels_fixed"] <= rel["labels_changed"] and 0.0 <= rel["heldout_accuracy"] <= 1.0
