"""Curriculum samplers (order and pacing on tiny data), the grid runner and its statistics (nlpdiff_study.curriculum)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from nlpdiff_study import curriculum as cur, grid
from nlpdiff.errors import ParameterError
from nlpdiff.samplers import Sampler, ShuffledSampler, SubsetSampler

N, BS, EPOCHS = 100, 10, 4


def _order(seed=3):
    return np.random.default_rng(seed).permutation(N)


def _all(sampler, epochs=EPOCHS):
    return [b for e in range(epochs) for b in sampler.batches(e)]


def test_competence_is_the_square_root_schedule():
    c = cur.competence(np.arange(0, 21), 20, c0=0.1)
    assert c[0] == pytest.approx(0.1)
    assert c[20] == pytest.approx(1.0) and c[19] < 1
    assert np.all(np.diff(c) > 0)
    assert c[5] == pytest.approx(math.sqrt(5 * (1 - 0.01) / 20 + 0.01))
    assert cur.competence(40, 20) == 1.0
    with pytest.raises(ParameterError):
        cur.competence(0, 10, c0=0.0)


def test_competence_sampler_draws_from_the_easiest_fraction_and_reaches_everything_at_the_ramp():
    order = _order()
    total = cur.budget_steps(N, BS, EPOCHS)
    s = cur.CompetenceSampler(order, BS, seed=0, epochs=EPOCHS, total_steps=total, c0=0.01, ramp=0.5)
    assert isinstance(s, Sampler)
    batches = _all(s)
    assert len(batches) == total == sum(s.num_batches(e) for e in range(EPOCHS))
    # the first batch: the pool is the batch size (competence c0 = 1 % of 100 = 1 sample < 10)
    assert set(batches[0]) == set(order[:BS])
    rank = np.empty(N, int)
    rank[order] = np.arange(N)
    for t, b in enumerate(batches):
        assert len(b) == BS and len(set(b)) == BS
        assert rank[b].max() < s.pool_size(t)  # only the easiest c(t) fraction
    assert s.ramp_steps == 20 and s.pool_size(20) == N and s.pool_size(19) < N
    # the easy samples are seen far more often than the hard ones
    counts = np.bincount(np.concatenate(batches), minlength=N)
    assert counts[order[:10]].mean() > 2 * counts[order[-10:]].mean()
    # after the ramp every sample is trained on
    assert set(np.concatenate(batches[20:])) == set(range(N))


def test_same_total_steps_as_shuffled_training_at_the_same_budget():
    shuffled = ShuffledSampler(N + 5, BS, seed=0)
    total = cur.budget_steps(N + 5, BS, EPOCHS)
    assert total == sum(shuffled.num_batches(e) for e in range(EPOCHS)) == EPOCHS * math.ceil((N + 5) / BS)
    order = np.arange(N + 5)
    for schedule in ("competence", "baby_steps", "annealing", "shuffled", "prune"):
        s = cur.make_sampler(schedule, N + 5, BS, 0, EPOCHS, 1.0, order=order, keep=order[:95])
        steps = sum(s.num_batches(e) for e in range(EPOCHS))
        assert steps == (EPOCHS * math.ceil(95 / BS) if schedule == "prune" else total), schedule
    # a quarter budget: a quarter of the steps, for the curricula and the controls alike
    quarter = cur.budget_steps(N + 5, BS, EPOCHS, 0.25)
    assert quarter == round(0.25 * total)
    for schedule in ("competence", "baby_steps", "annealing", "shuffled", "prune"):
        s = cur.make_sampler(schedule, N + 5, BS, 0, EPOCHS, 0.25, order=order, keep=order[:95])
        assert sum(s.num_batches(e) for e in range(EPOCHS)) == quarter
        assert len(_all(s)) == quarter
    assert isinstance(cur.make_sampler("shuffled", N, BS, 0, EPOCHS, 1.0), ShuffledSampler)
    assert isinstance(cur.make_sampler("prune", N, BS, 0, EPOCHS, 1.0, keep=np.arange(90)), SubsetSampler)
    with pytest.raises(ParameterError):
        cur.budget_steps(N, BS, EPOCHS, 0.0)
    with pytest.raises(ParameterError):
        cur.make_sampler("reverse", N, BS, 0, EPOCHS)


def test_baby_steps_adds_one_bucket_per_phase_then_trains_on_everything():
    order = _order()
    total = 50
    s = cur.BucketSampler(order, BS, seed=0, epochs=5, total_steps=total, n_buckets=4, mode="baby_steps")
    batches = _all(s, 5)
    rank = np.empty(N, int)
    rank[order] = np.arange(N)
    phases = [s.phase(t) for t in range(total)]
    assert phases == sorted(phases) and set(phases) == {0, 1, 2, 3, 4} and phases.count(0) == 10
    for t, b in enumerate(batches):
        p = phases[t]
        assert rank[b].max() < 25 * min(p + 1, 4)  # buckets 0..p only
    # each phase walks through its pool without repeats before it starts again: phase 0 sees its 25 samples
    first = np.concatenate(batches[:3])[:25]
    assert len(set(first)) == 25 and set(first) == set(order[:25])
    assert set(np.concatenate([b for b, p in zip(batches, phases) if p == 4])) == set(range(N))


def test_annealing_trains_the_current_bucket_and_a_share_of_the_earlier_ones():
    order = _order()
    s = cur.BucketSampler(order, BS, seed=0, epochs=5, total_steps=50, n_buckets=4, mode="annealing")
    rank = np.empty(N, int)
    rank[order] = np.arange(N)
    for i, pool in enumerate(s._pools[:4]):
        buckets = rank[pool] // 25
        assert np.sum(buckets == i) == 25 and buckets.max() == i  # all of bucket i, nothing harder
        for j in range(i):
            assert np.sum(buckets == j) == round(25 / 4)  # a 1 / n_buckets share of each earlier bucket
    assert set(s._pools[4]) == set(range(N))
    batches = _all(s, 5)
    for t, b in enumerate(batches):
        assert set(b) <= set(s._pools[s.phase(t)])
    with pytest.raises(ParameterError):
        cur.BucketSampler(order, BS, 0, 5, 50, mode="sideways")


def test_orders_easy_first_hard_first_and_ties_at_random():
    d = np.array([0.5, 0.1, 0.9, 0.1, 0.3])
    o = cur.difficulty_order(d, seed=0)
    assert list(o[2:]) == [4, 0, 2] and set(o[:2]) == {1, 3}
    assert list(cur.difficulty_order(d, reverse=True)[:3]) == [2, 0, 4]
    ties = {tuple(cur.difficulty_order(np.zeros(6), seed=s)) for s in range(5)}
    assert len(ties) > 1
    with pytest.raises(ParameterError):
        cur.difficulty_order([0.1, np.nan])
    with pytest.raises(ParameterError):
        cur.CompetenceSampler([0, 1, 1], 1, 0, 1, 3)


def test_samplers_are_reproducible_from_their_seed():
    order = _order()
    a = _all(cur.CompetenceSampler(order, BS, 7, EPOCHS, 40))
    b = _all(cur.CompetenceSampler(order, BS, 7, EPOCHS, 40))
    c = _all(cur.CompetenceSampler(order, BS, 8, EPOCHS, 40))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_aulc_is_the_mean_of_the_curve():
    assert cur.aulc([0.5, 1.0], [0.6, 0.8]) == pytest.approx(0.7)
    assert cur.aulc([0.25, 0.5, 1.0], [0.5, 0.5, 0.5]) == pytest.approx(0.5)
    assert cur.aulc([1.0], [0.9]) == 0.9


def _fake_runs():
    rng = np.random.default_rng(0)
    rows = []
    for schedule, order, shift in [("competence", "action", 0.05), ("competence", "random", 0.0),
                                   ("shuffled", "none", 0.0), ("prune", "action", -0.01)]:
        for seed in range(1, 6):
            base = 0.7 + 0.01 * seed
            rows.append({"part": "p", "task": "sst2", "backbone": "probe", "noise_rate": 0.0, "budget": 1.0,
                         "schedule": schedule, "order": order, "seed": seed,
                         "final": base + shift + rng.normal(0, 0.002), "aulc": base + shift / 2, "train_s": 1.0})
    return pd.DataFrame(rows)


def test_summary_and_paired_tests():
    runs = _fake_runs()
    s = cur.summarize(runs)
    assert len(s) == 4 and set(s["n_seeds"]) == {5}
    row = s[(s.schedule == "competence") & (s.order == "action")].iloc[0]
    assert row.final_low < row.final < row.final_high
    t = cur.paired_tests(runs)
    # competence/action vs random and vs shuffled, prune vs shuffled; two measures each
    assert len(t) == 6
    got = t[(t.order == "action") & (t.schedule == "competence") & (t.measure == "final")]
    assert set(got["against"]) == {"random order, same pacing", "shuffled"}
    assert np.all(got["mean_diff"] > 0.04) and np.all(got["p"] < 0.01)
    assert np.all(t["p_holm"] >= t["p"] - 1e-12) and np.all(t["p_holm"] <= 1)


def test_a_part_refuses_its_scoring_seed_and_unknown_orders(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("defaults: {scoring_seed: 0, params: {task: sst2}}\nparts:\n"
                    "  a: {params: {backbone: scratch}, seeds: [0, 1]}\n"
                    "  b: {params: {backbone: scratch}, seeds: [1], schedules: {competence: [action, vibes]}}\n"
                    "  c: {params: {backbone: scratch}, seeds: [1], pace: fast}\n"
                    "  d: {params: {model: scratch}, seeds: [1]}\n")
    with pytest.raises(ParameterError, match="scoring_seed"):
        grid.load_part("curriculum", "a", path)
    b = grid.load_part("curriculum", "b", path)  # an order is checked against the scoring run's scores
    assert (b.task, b.backbone, b.parameters) == ("sst2", "scratch", {})  # task and backbone come out of params
    with pytest.raises(ParameterError, match="vibes"):
        b.validate(["action", "aum"])
    with pytest.raises(ParameterError, match="pace"):
        grid.load_part("curriculum", "c", path)
    with pytest.raises(ParameterError, match="backbone"):
        grid.load_part("curriculum", "d", path)
    with pytest.raises(ParameterError, match="part"):
        grid.load_part("curriculum", "zzz", path)
    assert grid.load_part("curriculum", "smoke").cells()[-2:] == [("shuffled", "none"), ("prune", "action")]


def test_a_part_on_tiny_data(tiny_data_dir, tmp_path, one_torch_thread):
    """The runner end to end: scoring run, curriculum runs whose LR schedule counts the sampler's steps,
    tables; a second call reuses every run."""
    part = cur.Part(name="tiny", task="sst2", backbone="scratch", seeds=[1], noise_rates=[0.0, 0.2],
                    budgets=[1.0, 0.5], schedules={"competence": ["action"], "annealing": ["length"]},
                    parameters={"model": "scratch", "train_size": 64, "eval_size": 32, "epochs": 2, "batch_size": 16,
                                "learning_rate": 0.05, "data_dir": str(tiny_data_dir), "checkpoints_per_epoch": 2})
    logs = []
    tables = cur.compute("tiny", part, tmp_path / "runs", tmp_path / "results" / "tiny", log=logs.append)
    runs, curves, scoring = tables["runs"], tables["curves"], tables["scoring"]
    assert len(runs) == 2 * 2 * 4 and len(scoring) == 2
    assert set(zip(runs.schedule, runs.order)) == {("competence", "action"), ("annealing", "length"),
                                                   ("shuffled", "none"), ("prune", "action")}
    full = runs[runs.budget == 1.0]
    assert set(full[full.schedule != "prune"]["total_steps"]) == {2 * 4}
    assert set(runs[runs.budget == 0.5]["total_steps"]) == {4}
    assert scoring.loc[scoring.noise_rate == 0.2, "n_corrupted"].iloc[0] > 0
    assert len(curves) == 4 * len(runs)  # 2 epochs x 2 checkpoints
    for f in ("runs.csv", "curves.csv", "scoring.csv", "part.json"):
        assert (tmp_path / "results" / "tiny" / f).exists()
    run_dir = tmp_path / "runs" / "tiny" / "noise0" / "budget0.5" / "competence-action" / "seed1"
    info = json.loads((run_dir / "run.json").read_text())
    assert info["resolved"]["sampler"] == "CompetenceSampler" and info["resolved"]["total_steps"] == 4
    # a curriculum's training pass misses samples in early epochs: the train-pass scores are skipped with a reason
    assert "action_train" in info["resolved"]["skipped_scores"]
    assert info["params"]["seed"] == 1 and json.loads((tmp_path / "results" / "tiny" / "part.json").read_text())["complete"]
    n_logged = len(logs)
    again = cur.compute("tiny", part, tmp_path / "runs", tmp_path / "results" / "tiny", log=logs.append)
    assert len(logs) == n_logged + 3  # two scoring reuses and the summary line: nothing retrained
    pd.testing.assert_frame_equal(again["runs"], runs)


def test_the_learning_rate_schedule_counts_the_samplers_own_steps():
    """engine.plan_state asks the sampler for its steps; linear_warmup then decays to 0 at the sampler's last step."""
    import torch

    from nlpdiff.engine import linear_warmup, plan_state

    s = cur.make_sampler("competence", N, BS, 0, EPOCHS, 0.25, order=_order())
    state = plan_state(None, s, EPOCHS, 2, N, progress=False)
    assert state.total_steps == cur.budget_steps(N, BS, EPOCHS, 0.25) == 10
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = linear_warmup(opt, 0.1, state.total_steps)
    lrs = []
    for _ in range(state.total_steps):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[-1] == 0.0 and lrs[-2] > 0


def test_action_verdict_counts_holm_significant_differences_by_sign():
    base = {"part": "p", "task": "sst2", "backbone": "probe", "noise_rate": 0.0, "budget": 1.0, "order": "action",
            "measure": "final"}
    rows = [dict(base, schedule="competence", against="shuffled", mean_diff=0.02, p_holm=0.01),
            dict(base, schedule="competence", against="random order, same pacing", mean_diff=-0.01, p_holm=0.2),
            dict(base, schedule="baby_steps", against="shuffled", mean_diff=-0.03, p_holm=0.04),
            dict(base, schedule="prune", against="shuffled", mean_diff=-0.05, p_holm=0.001),  # not a curriculum
            dict(base, schedule="competence", against="shuffled", mean_diff=0.05, p_holm=0.001, measure="aulc")]
    v = cur.action_verdict(pd.DataFrame(rows))
    assert v["n"] == 3 and len(v["better"]) == 1 and len(v["worse"]) == 1 and v["verdict"] == "mixed"
    v = cur.action_verdict(pd.DataFrame(rows[:2]))
    assert v["verdict"] == "helps"
    v = cur.action_verdict(pd.DataFrame(rows[1:2]))
    assert v["verdict"] == "no difference" and v["n"] == 1


def test_difference_chart_draws_each_comparison_in_points_per_setting():
    base = {"part": "p", "task": "sst2", "backbone": "probe", "budget": 1.0, "order": "action", "measure": "final",
            "schedule": "competence"}
    rows = pd.DataFrame([dict(base, noise_rate=0.0, against="shuffled", mean_diff=0.02, low=0.01, high=0.03, p_holm=0.01),
                         dict(base, noise_rate=0.2, against="shuffled", mean_diff=-0.01, low=-0.03, high=0.01,
                              p_holm=0.4)])
    spec = cur.difference_chart(rows).to_dict()
    data = next(iter(spec["datasets"].values()))
    assert [r["mean_diff"] for r in data] == pytest.approx([2.0, -1.0])  # points, not fractions
    assert [r["low"] for r in data] == pytest.approx([1.0, -3.0])
    assert {r["setting"] for r in data} == {"clean, full budget", "20% noise, full budget"}
    assert {r["comparison"] for r in data} == {"competence / action vs shuffled"}
    assert spec["columns"] == 2 and spec["spec"]["width"] <= 250


def test_learned_flags_parts_whose_scoring_runs_stay_near_chance():
    scoring = pd.DataFrame([
        {"part": "a", "task": "sst2", "backbone": "probe", "noise_rate": 0.0, "final_heldout": 0.80},
        {"part": "a", "task": "sst2", "backbone": "probe", "noise_rate": 0.2, "final_heldout": 0.70},
        {"part": "b", "task": "snli", "backbone": "scratch", "noise_rate": 0.0, "final_heldout": 0.45},
        {"part": "b", "task": "snli", "backbone": "scratch", "noise_rate": 0.2, "final_heldout": 0.40}])
    got = cur.learned(scoring).set_index("part")
    assert got.at["a", "chance"] == 0.5 and got.at["a", "learns"]
    assert math.isclose(got.at["b", "chance"], 1 / 3) and got.at["b", "min_heldout"] == 0.40
    assert not got.at["b", "learns"]  # 0.40 < 1/3 + 0.10


def test_a_qa_part_on_tiny_data_reports_f1_as_a_fraction_and_refuses_a_bad_noise_rate(tiny_data_dir, tmp_path,
                                                                                        one_torch_thread):
    params = {"train_size": 8, "eval_size": 4, "epochs": 1, "batch_size": 8, "max_length": 128,
              "data_dir": str(tiny_data_dir), "checkpoints_per_epoch": 1}
    noisy = cur.Part(name="qa", task="squad", backbone="finetune", seeds=[1], noise_rates=[0.0, 1.5], budgets=[1.0],
                     schedules={"competence": ["action"]}, controls=["shuffled"], parameters=params)
    with pytest.raises(ParameterError) as err:
        cur.compute("qa", noisy, tmp_path / "runs", tmp_path / "results" / "qa", log=lambda line: None)
    assert err.value.param == "noise_rate" and not (tmp_path / "runs").exists()  # refused before any training
    part = cur.Part(name="qa", task="squad", backbone="finetune", seeds=[1], noise_rates=[0.0], budgets=[1.0],
                    schedules={"competence": ["action"]}, controls=["shuffled"], parameters=params)
    runs = cur.compute("qa", part, tmp_path / "runs", tmp_path / "results" / "qa", log=lambda line: None)["runs"]
    assert set(runs["metric"]) == {"heldout_f1"} and len(runs) == 2
    assert runs["final"].between(0, 1).all() and runs["aulc"].between(0, 1).all()


def test_settings_that_learn_need_both_the_scoring_runs_and_the_settings_shuffled_training():
    scoring = pd.DataFrame([{"part": "a", "task": "sst2", "backbone": "finetune", "noise_rate": 0.0,
                             "final_heldout": 0.79}])
    key = {"part": "a", "task": "sst2", "backbone": "finetune", "noise_rate": 0.0}
    runs = pd.DataFrame([
        dict(key, budget=1.0, schedule="shuffled", order="none", seed=1, final=0.78),
        dict(key, budget=1.0, schedule="shuffled", order="none", seed=2, final=0.76),
        dict(key, budget=1.0, schedule="competence", order="action", seed=1, final=0.75),
        dict(key, budget=0.25, schedule="shuffled", order="none", seed=1, final=0.51),  # stays at chance
        dict(key, budget=0.25, schedule="competence", order="action", seed=1, final=0.52)])
    got = cur.settings_that_learn(runs, scoring).set_index("budget")
    assert got.at[1.0, "learns"] and math.isclose(got.at[1.0, "shuffled_final"], 0.77)
    assert not got.at[0.25, "learns"] and got.at[0.25, "chance"] == 0.5
    scoring["final_heldout"] = 0.55  # the scoring run does not learn: no setting of the part does
    assert not cur.settings_that_learn(runs, scoring)["learns"].any()
