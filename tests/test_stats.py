"""nlpdiff.stats against textbook values and independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as st
from sklearn.metrics import roc_auc_score

from nlpdiff import stats
from nlpdiff.errors import ParameterError


def test_seed_interval_is_the_student_t_interval():
    v = [0.81, 0.84, 0.79, 0.86]
    mean, low, high = stats.seed_interval(v)
    lo, hi = st.t.interval(0.95, len(v) - 1, loc=np.mean(v), scale=st.sem(v))
    assert mean == pytest.approx(np.mean(v)) and low == pytest.approx(lo) and high == pytest.approx(hi)
    assert np.isnan(stats.seed_interval([0.5])[1])


def test_roc_auc_matches_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    y = rng.random(200) < 0.3
    s = np.round(rng.normal(size=200) + y, 1)
    assert stats.roc_auc(s, y) == pytest.approx(roc_auc_score(y, s))


def test_holm_textbook_example():
    # p = (0.01, 0.04, 0.03, 0.005): sorted 0.005*4, 0.01*3, 0.03*2, 0.04*1 -> monotone
    adj = stats.holm([0.01, 0.04, 0.03, np.nan, 0.005])
    np.testing.assert_allclose(adj[[0, 1, 2, 4]], [0.03, 0.06, 0.06, 0.02])
    assert np.isnan(adj[3])


def test_delong_agrees_with_the_paired_bootstrap():
    rng = np.random.default_rng(1)
    y = rng.random(600) < 0.2
    good = y * 1.5 + rng.normal(size=600)
    weak = y * 0.5 + rng.normal(size=600)
    d = stats.delong(good, weak, y)
    assert d["auc_a"] == pytest.approx(roc_auc_score(y, good))
    assert d["auc_b"] == pytest.approx(roc_auc_score(y, weak))
    assert d["p"] < 1e-3
    b = stats.paired_bootstrap(stats.roc_auc, good, weak, y, n_boot=1000)
    assert b["low"] > 0 and b["diff"] == pytest.approx(d["diff"])
    # se from DeLong ~ se from the bootstrap
    se_boot = (b["high"] - b["low"]) / (2 * 1.96)
    assert d["diff"] / d["z"] == pytest.approx(se_boot, rel=0.3)
    # the same score against itself: no difference
    same = stats.delong(good, good, y)
    assert same["p"] == 1.0 and same["diff"] == 0


def test_paired_bootstrap_sees_no_difference_between_noisy_copies():
    rng = np.random.default_rng(2)
    y = rng.normal(size=400)
    a = y + rng.normal(size=400)
    b = y + rng.normal(size=400)
    r = stats.paired_bootstrap(stats.spearman, a, b, y, n_boot=1000)
    assert r["low"] < 0 < r["high"] and r["p"] > 0.05
    with pytest.raises(ParameterError, match="n_boot"):
        stats.paired_bootstrap(stats.spearman, a, b, y, n_boot=100)
    with pytest.raises(ParameterError, match="same length"):
        stats.paired_bootstrap(stats.spearman, a, b[:-1], y)


def test_paired_seed_test_is_scipy_ttest_rel():
    a, b = [0.80, 0.82, 0.85, 0.79, 0.83], [0.78, 0.80, 0.84, 0.78, 0.80]
    r = stats.paired_seed_test(a, b)
    assert r["p"] == pytest.approx(st.ttest_rel(a, b).pvalue)
    assert r["mean_diff"] == pytest.approx(np.mean(np.subtract(a, b))) and r["n"] == 5
    with pytest.raises(ParameterError, match="one per seed"):
        stats.paired_seed_test(a, b[:3])


def test_bounded_seed_interval_stays_inside_0_1():
    from nlpdiff.stats import bounded_seed_interval, seed_interval

    values = [0.99, 0.95, 0.999]
    _, lo_t, hi_t = seed_interval(values)
    assert hi_t > 1  # the plain t interval leaves the scale
    mean, lo, hi = bounded_seed_interval(values)
    assert 0 < lo < mean < hi < 1
    with pytest.raises(ParameterError, match="values"):
        bounded_seed_interval([0.5, 1.2])


def test_cluster_bootstrap_weighs_cells_and_finds_a_shift():
    from nlpdiff.stats import cluster_bootstrap, equivalence_verdict

    rng = np.random.default_rng(1)
    clusters = np.repeat(np.arange(12), 3)
    cell_effect = np.repeat(rng.normal(0, 0.01, 12), 3)
    shifted = 0.03 + cell_effect + rng.normal(0, 0.005, clusters.size)
    r = cluster_bootstrap(shifted, clusters, n_boot=2000, margin=0.01)
    assert r["n_clusters"] == 12 and r["n_units"] == 36
    assert r["low"] > 0 and r["p"] < 0.05 and equivalence_verdict(r, 0.01) == "better"
    null = cell_effect * 0.1 + rng.normal(0, 0.002, clusters.size)
    r0 = cluster_bootstrap(null, clusters, n_boot=2000, margin=0.01)
    assert -0.01 < r0["low90"] and r0["high90"] < 0.01 and equivalence_verdict(r0, 0.01) == "equivalent"
    noisy = rng.normal(0, 0.05, clusters.size)
    rn = cluster_bootstrap(noisy, clusters, n_boot=2000, margin=0.01)
    assert equivalence_verdict(rn, 0.01) == "not shown to differ" and rn["mdd"] > 0.01
    # every cell weighs the same: a cell with many seeds does not dominate
    one_big = cluster_bootstrap([1.0] * 10 + [0.0], [0] * 10 + [1], n_boot=200)
    assert one_big["estimate"] == 0.5
    with pytest.raises(ParameterError, match="margin"):
        equivalence_verdict(r, 0)
