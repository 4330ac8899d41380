"""Natural language inference with ChaosNLI: the tasks, the SNLI pool, the tables and a tiny run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_ROWS

from nlpdiff import tasks
from nlpdiff_study import nli
from nlpdiff.config import from_flat
from nlpdiff.dynamics import load_or_train, train
from nlpdiff.errors import ParameterError


def test_chaosnli_tasks_are_local_only_with_human_signal_columns(tiny_data_dir, tmp_path, monkeypatch):
    for name in ("chaosnli_snli", "chaosnli_mnli"):
        spec = tasks.get_task(name)
        assert spec.hub_id is None and spec.is_pair and spec.num_labels == 3
        df = tasks.load_split(name, "validation", data_dir=tiny_data_dir)
        assert len(df) == TINY_ROWS[(name, "validation")]
        assert set(nli.CHAOS_COLUMNS) <= set(df.columns)
        assert all(sorted(np.bincount(o, minlength=3))[-1] == 3 for o in df["old_labels"])  # 3 of 5 agree
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ParameterError, match="only as a local folder.*hub has no"):
        tasks.load_split("chaosnli_snli", "validation", data_dir=empty)
    monkeypatch.delenv(tasks.DATA_DIR_ENV, raising=False)
    with pytest.raises(ParameterError, match="no Hugging Face hub copy"):
        tasks.load_split("chaosnli_mnli", "validation")


def test_snli_pool_trains_every_chaosnli_pair_and_holds_out_others(tiny_data_dir):
    snli = tasks.load_split("snli", "validation", data_dir=tiny_data_dir)
    chaos = tasks.load_split("chaosnli_snli", "validation", data_dir=tiny_data_dir)
    train_df, held = nli.snli_pool(tiny_data_dir, n_other_train=4, heldout_size=8, seed=0)
    key = lambda d: set(d["premise"] + "\t" + d["hypothesis"])  # noqa: E731
    matched = key(chaos) & key(snli)
    assert matched and matched <= key(train_df)
    assert len(train_df) == len(matched) + 4 and len(held) == 8
    assert (held["chaos_uid"] == "").all() and not set(held["snli_row"]) & set(train_df["snli_row"])
    inside = train_df[train_df["chaos_uid"] != ""]
    assert np.isfinite(inside["entropy"]).all() and train_df.loc[train_df["chaos_uid"] == "", "entropy"].isna().all()
    with pytest.raises(ParameterError, match="heldout_size"):
        nli.snli_pool(tiny_data_dir, n_other_train=4, heldout_size=10_000)
    with pytest.raises(ParameterError, match="n_other_train"):
        nli.snli_pool(tiny_data_dir, n_other_train=-1)


def _signals(n=200, seed=0):
    rng = np.random.default_rng(seed)
    entropy = rng.uniform(0, 1.5, n)
    differs = rng.random(n) < entropy / 2
    return pd.DataFrame({"sample_id": np.arange(n), "entropy": entropy, "gold_differs": differs,
                         "length_words": rng.integers(5, 40, n).astype(float)})


def test_chaosnli_table_measures_what_it_says():
    sig = _signals()
    rng = np.random.default_rng(1)
    scores = pd.DataFrame({"sample_id": sig["sample_id"], "oracle": sig["entropy"],
                           "flags": sig["gold_differs"].astype(float) + rng.normal(0, 1e-3, len(sig)),
                           "noise": rng.random(len(sig))})
    t = nli.chaosnli_table(scores, sig, n_boot=200).set_index("score")
    assert t.at["oracle", "spearman_entropy"] == pytest.approx(1.0)
    assert t.at["oracle", "spearman_entropy_lo"] <= 1.0 <= t.at["oracle", "spearman_entropy_hi"] + 1e-12
    assert t.at["flags", "roc_auc"] == pytest.approx(1.0) and t.at["flags", "average_precision"] == pytest.approx(1.0)
    assert abs(t.at["noise", "spearman_entropy"]) < 0.2 and 0.35 < t.at["noise", "roc_auc"] < 0.65
    assert (t["chance_roc_auc"] == 0.5).all()
    assert t["chance_average_precision"].iloc[0] == pytest.approx(sig["gold_differs"].mean())
    assert t.at["length_words", "reference"] and not t.at["oracle", "reference"]
    assert np.isfinite(t.at["oracle", "partial_spearman_given_length"])


def test_entropy_comparison_is_paired_and_holm_adjusted():
    sig = _signals(300)
    rng = np.random.default_rng(2)
    scores = pd.DataFrame({"sample_id": sig["sample_id"], "action": sig["entropy"] + rng.normal(0, 0.3, 300),
                           "mean_entropy": rng.random(300), "final_entropy": rng.random(300)})
    cmp = nli.entropy_comparison(scores, sig, n_boot=1000)
    assert len(cmp) == 4 and set(cmp["test"]) == {"paired bootstrap", "DeLong"}
    sp = cmp[cmp.metric == "spearman_entropy"]
    assert (sp["diff"] > 0.5).all() and (sp["p"] < 0.01).all() and (sp["low"] > 0).all()
    assert (cmp["p_holm"] >= cmp["p"] - 1e-12).all()
    with pytest.raises(ParameterError):
        nli.entropy_comparison(scores, sig, score="nope")


def test_pooled_agreement_pools_runs_by_cell_and_says_equivalent_or_better():
    from nlpdiff_study import comparisons

    rng = np.random.default_rng(3)
    tables, cells = {}, {}
    for task in ("snli", "mnli"):
        for backbone in ("probe", "scratch"):
            for s in range(3):
                base = rng.uniform(0.1, 0.3)
                tables[f"{task}_{backbone}_s{s}"] = pd.DataFrame({
                    "score": ["action", "mean_entropy", "final_loss"],
                    # action far above the entropy, within a hair of the last loss
                    "spearman_entropy": [base + 0.2, base, base + 0.2 + rng.normal(0, 0.002)]})
                cells[f"{task}_{backbone}_s{s}"] = {"task": task, "backbone": backbone, "seed": s}
    pooled = nli.pooled_agreement(tables, cells, n_boot=500).set_index("baseline")
    assert set(pooled.index) == {"mean_entropy", "final_loss"}  # baselines no run computed are left out
    assert pooled.at["mean_entropy", "verdict"] == "better" and pooled.at["mean_entropy", "n_cells"] == 4
    assert pooled.at["mean_entropy", "estimate"] == pytest.approx(0.2)
    assert pooled.at["final_loss", "verdict"] == "equivalent"
    assert (pooled["margin"] == comparisons.MARGIN_RHO).all() and pooled.at["final_loss", "n_pairs"] == 12
    with pytest.raises(ParameterError, match="cells"):
        nli.pooled_agreement(tables, {})


def test_signals_need_chaosnli_columns():
    with pytest.raises(ParameterError, match="ChaosNLI"):
        nli.chaosnli_signals(pd.DataFrame({"sample_id": [0], "premise": ["a"], "hypothesis": ["b"]}))


@pytest.mark.usefixtures("one_torch_thread", "forget_registered_tasks")
def test_tiny_nli_runs_train_and_their_chaosnli_tables_compute(tiny_data_dir, tmp_path):
    nli.register_snli_pool(tiny_data_dir, n_other_train=4, heldout_size=8, seed=0, name="tiny_snli_pool")
    plan = nli.study_runs(tmp_path / "snli" / "run", data_dir=str(tiny_data_dir), epochs=2, batch_size=8,
                          max_length=32, mnli_epochs=2, seeds=(0, 1), probe_epochs=2, scratch_epochs=3,
                          scratch_learning_rate=0.05, task="tiny_snli_pool")
    assert {"snli_finetune", "mnli_finetune", "snli_scratch_s1", "mnli_probe_s0"} <= set(plan)
    runs = {k: train(from_flat(plan[k]), progress=False) for k in ("snli_scratch_s0", "snli_scratch_s1",
                                                                     "mnli_scratch_s0")}
    summary = nli.run_summary(runs)
    assert summary.loc[0, "n_heldout"] == 8 and np.isfinite(summary.loc[0, "heldout_accuracy"])
    assert np.isnan(summary.loc[2, "heldout_accuracy"])  # MNLI: no held-out pairs offline
    tables = {}
    for name, run in runs.items():
        assert set(nli.CHAOS_COLUMNS) <= set(run.samples.columns)  # carried into samples.parquet
        sig = nli.chaosnli_signals(run.samples)
        assert len(sig) == (TINY_ROWS[("chaosnli_mnli", "validation")] if name.startswith("mnli") else
                            int((run.samples["chaos_uid"] != "").sum()))
        table = nli.chaosnli_table(run.scores, sig, n_boot=100)
        assert {"action", "mean_entropy"} <= set(table["score"])
        assert table[["spearman_entropy", "roc_auc", "average_precision"]].notna().all().all()
        cmp = nli.entropy_comparison(run.scores, sig, n_boot=1000)
        assert cmp["p"].between(0, 1).all()
        if name.startswith("snli"):
            tables[name] = table
    summary_seeds = nli.seed_summary(tables)
    assert (summary_seeds["n_seeds"] == 2).all()
    assert np.isfinite(summary_seeds.set_index("score").at["action", "roc_auc_lo"])
    assert len(nli.seed_comparison(tables)) == 2
    # the run is reused with the same pool, not with another one
    again = load_or_train(from_flat(plan["snli_scratch_s0"]))
    assert again.info["started_at"] == runs["snli_scratch_s0"].info["started_at"]
    chart = nli.interval_chart(tables["snli_scratch_s0"], "roc_auc", chance=0.5)
    assert chart.to_dict()


@pytest.mark.slow
def test_nli_notebook_smoke(smoke_study):
    """The NLI page runs end to end with the smoke profile's parameters (read from the shared smoke study)."""
    import json

    import nbformat

    from conftest import smoke_page, smoke_run_dir

    nb = nbformat.read(smoke_page(smoke_study, "nli"), as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors[0]["evalue"] if errors else ""
    assert (smoke_run_dir(smoke_study, "nli") / "run.json").is_file()
    assert "ChaosNLI" in json.dumps([o for c in nb.cells for o in c.get("outputs", [])])


@pytest.mark.slow
def test_committed_summary_of_the_nli_page_is_what_the_page_shows(smoke_study, tmp_path):
    """``python -m nlpdiff_study.nli RUN_DIR`` writes the page's pooled comparison from its finished runs (no
    training), and the numbers are the ones the executed page prints; the committed ``results/nli`` holds the
    same for the committed page."""
    import json
    from pathlib import Path

    import nbformat

    from conftest import smoke_page, smoke_run_dir
    from nlpdiff_study import pages

    def pooled_sentence(page: Path) -> str:
        nb = nbformat.read(page, as_version=4)
        texts = [o["data"].get("text/markdown", "") for c in nb.cells for o in c.get("outputs", []) if "data" in o]
        return next(t for t in texts if t.startswith("Pooled over"))

    def shown(pooled: pd.DataFrame, sentence: str) -> None:
        for r in pooled.to_dict("records"):
            assert (f"`{r['baseline']}` ({pages.format_number(r['estimate'], signed=True)}, 95 % interval "
                    f"{pages.format_number(r['low'], signed=True)} to {pages.format_number(r['high'], signed=True)}, "
                    f"Holm p {pages.format_p(r['p_holm'])}") in sentence, (r, sentence)

    run_dir = smoke_run_dir(smoke_study, "nli")
    before = {p: p.stat().st_mtime_ns for p in run_dir.parent.rglob("run.json")}
    nli.main([str(run_dir), "--out", str(tmp_path / "out")])
    assert {p: p.stat().st_mtime_ns for p in run_dir.parent.rglob("run.json")} == before  # nothing retrained
    pooled = pd.read_csv(tmp_path / "out" / "pooled.csv")
    meta = json.loads((tmp_path / "out" / "part.json").read_text())
    runs = pd.read_csv(tmp_path / "out" / "runs.csv")
    assert set(meta["runs"]) == set(runs["run"]) and "snli_finetune" in meta["runs"]
    assert all(m["versions"] and m["hardware"] for m in meta["runs"].values())
    shown(pooled, pooled_sentence(smoke_page(smoke_study, "nli")))
    root = Path(__file__).resolve().parents[1]
    if (root / "results/nli/pooled.csv").is_file():
        shown(pd.read_csv(root / "results/nli/pooled.csv"), pooled_sentence(root / "book/results/nli.ipynb"))
    with pytest.raises(ParameterError, match="run_dir"):
        nli.write_pooled(tmp_path / "nowhere" / "run", tmp_path / "x")


def test_compare_human_signals_reads_chaosnli_columns_of_any_nli_run():
    """The comparison chapter's human signals include ChaosNLI for every run whose samples carry its columns."""
    from types import SimpleNamespace

    from nlpdiff import compare

    samples = pd.DataFrame({
        "sample_id": [0, 1, 2, 3], "premise": ["a b", "c d e", "f", "g h"], "hypothesis": ["x", "y z", "w", "v"],
        "label": [0, 1, 2, 0], "original_label": [0, 1, 2, 0], "entropy": [0.5, 1.2, np.nan, 0.9],
        "chaos_label": [0, 2, np.nan, 0]})
    run = SimpleNamespace(samples=samples, params={"task": "snli_chaosnli_not_registered"}, metrics={})
    sig, cols, length = compare.human_signals(run)
    assert cols == ["chaosnli_entropy", "gold_differs"] and length == "length_words"
    assert list(sig["sample_id"]) == [0, 1, 3]  # the pair without ChaosNLI labels is not a signal row
    assert list(sig["gold_differs"]) == [0.0, 1.0, 0.0]
