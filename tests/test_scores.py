"""Tests of nlpdiff.scores: every score against hand-computed values on small arrays.

The expected numbers are literals worked out by hand (the arithmetic is in the comments), not
the output of another library.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from nlpdiff.errors import ParameterError
from nlpdiff import scores as S
from nlpdiff.scores import Dynamics, compute_scores

# ---------------------------------------------------------------------------------------------
# A tiny run: 3 samples (ids 10, 20, 30), T = 4 checkpoints at uneven steps 10, 20, 40, 80.
# ---------------------------------------------------------------------------------------------

EVAL = {
    #            checkpoint:  0     1     2     3
    10: dict(loss=[1.0, 0.5, 0.25, 0.25], gold_prob=[0.4, 0.6, 0.8, 0.8], correct=[0, 1, 1, 1],
             margin=[-1.0, 0.5, 1.5, 2.0], entropy=[0.6, 0.5, 0.3, 0.2], el2n=[0.8, 0.5, 0.3, 0.3]),
    20: dict(loss=[2.0, 1.0, 1.5, 0.5], gold_prob=[0.2, 0.5, 0.3, 0.7], correct=[0, 1, 0, 1],
             margin=[-2.0, 0.0, -1.0, 1.0], entropy=[0.7, 0.69, 0.6, 0.5], el2n=[1.1, 0.7, 1.0, 0.4]),
    30: dict(loss=[3.0, 3.0, 2.0, 2.0], gold_prob=[0.1, 0.1, 0.2, 0.2], correct=[0, 0, 0, 0],
             margin=[-3.0, -3.0, -2.0, -2.0], entropy=[0.3, 0.3, 0.4, 0.4], el2n=[1.2, 1.2, 1.1, 1.1]),
}
EVAL_STEPS = [10, 20, 40, 80]
EPOCHS = [0.25, 0.5, 1.0, 2.0]
# training pass: only the loss recorded (other columns all-null = not recorded); per-sample steps
TRAIN = {
    10: dict(loss=[2.0, 1.5, 1.0, 1.0], step=[5, 15, 35, 75]),
    20: dict(loss=[1.0, 0.5, 0.5, 0.5], step=[8, 28, 38, 78]),
    30: dict(loss=[3.0, 3.0, 3.0, 3.0], step=[2, 12, 32, 72]),
}
IDS = np.array([10, 20, 30])


def long_frame(eval_=EVAL, train=TRAIN) -> pd.DataFrame:
    rows = []
    for sid, cols in eval_.items():
        for t in range(4):
            row = {"sample_id": sid, "checkpoint": t, "epoch": EPOCHS[t], "step": EVAL_STEPS[t], "pass": "eval"}
            row.update({k: v[t] for k, v in cols.items()})
            row["correct"] = bool(row["correct"])
            rows.append(row)
    for sid, cols in (train or {}).items():
        for t in range(4):
            rows.append({"sample_id": sid, "checkpoint": t, "epoch": EPOCHS[t], "step": cols["step"][t],
                         "pass": "train", "loss": cols["loss"][t]})
    df = pd.DataFrame(rows)
    df["sample_id"] = df["sample_id"].astype("int64")
    return df


@pytest.fixture
def dyn() -> Dynamics:
    return Dynamics.from_frame(long_frame(), "eval")


@pytest.fixture
def dyn_train() -> Dynamics:
    return Dynamics.from_frame(long_frame(), "train")


def approx(x):
    return pytest.approx(np.asarray(x, dtype=float), rel=1e-12, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# The container
# ---------------------------------------------------------------------------------------------


def test_from_frame_pivots(dyn, dyn_train):
    assert dyn.sample_ids.tolist() == [10, 20, 30]
    assert dyn.checkpoints.tolist() == [0, 1, 2, 3]
    assert dyn.loss.shape == (3, 4)
    assert dyn.steps.tolist() == EVAL_STEPS  # same step for every sample: collapsed to (T,)
    assert dyn.epochs.tolist() == EPOCHS
    assert set(dyn.columns) == {"loss", "gold_prob", "correct", "margin", "entropy", "el2n"}
    # the training pass: per-sample steps stay (N, T); all-null columns are "not recorded"
    assert dyn_train.steps.shape == (3, 4)
    assert dyn_train.columns == ("loss",)
    assert dyn_train.gold_prob is None


def test_constructor_checks_shapes():
    with pytest.raises(ParameterError, match="loss"):
        Dynamics(sample_ids=np.arange(3), checkpoints=np.arange(4), loss=np.zeros((3, 5)))
    with pytest.raises(ParameterError, match="pass_"):
        Dynamics(sample_ids=np.arange(3), checkpoints=np.arange(4), pass_="test")


# ---------------------------------------------------------------------------------------------
# Each score by hand
# ---------------------------------------------------------------------------------------------


def test_action_mean_final_loss(dyn):
    # action: 1+0.5+0.25+0.25 = 2.0; 2+1+1.5+0.5 = 5.0; 3+3+2+2 = 10.0
    assert S.action_score(dyn) == approx([2.0, 5.0, 10.0])
    # mean loss = action / 4
    assert S.mean_loss_score(dyn) == approx([0.5, 1.25, 2.5])
    # final loss = loss at checkpoint 3
    assert S.final_loss_score(dyn) == approx([0.25, 0.5, 2.0])


def test_action_trapezoid_eval(dyn):
    # steps 10, 20, 40, 80: intervals 10, 20, 40
    # s10: 10*(1+0.5)/2 + 20*(0.5+0.25)/2 + 40*(0.25+0.25)/2 = 7.5 + 7.5 + 10 = 25
    # s20: 10*(2+1)/2 + 20*(1+1.5)/2 + 40*(1.5+0.5)/2 = 15 + 25 + 40 = 80
    # s30: 10*(3+3)/2 + 20*(3+2)/2 + 40*(2+2)/2 = 30 + 50 + 80 = 160
    assert S.action_trapezoid_score(dyn) == approx([25.0, 80.0, 160.0])


def test_action_train_pass_and_trapezoid(dyn_train):
    # train losses: 2+1.5+1+1 = 5.5; 1+0.5+0.5+0.5 = 2.5; 3*4 = 12
    assert S.action_score(dyn_train) == approx([5.5, 2.5, 12.0])
    # per-sample steps: s10 intervals 10, 20, 40: 10*(2+1.5)/2 + 20*(1.5+1)/2 + 40*(1+1)/2 = 17.5+25+40 = 82.5
    # s20 steps 8, 28, 38, 78 -> intervals 20, 10, 40: 20*(1+0.5)/2 + 10*(0.5+0.5)/2 + 40*(0.5+0.5)/2 = 15+5+20 = 40
    # s30 intervals 10, 20, 40 of a constant 3: 3*70 = 210
    assert S.action_trapezoid_score(dyn_train) == approx([82.5, 40.0, 210.0])


def test_early_action(dyn):
    # default k = ceil(4/4) = 1: loss at checkpoint 0
    assert S.early_action_score(dyn) == approx([1.0, 2.0, 3.0])
    # k = 2: 1+0.5 = 1.5; 2+1 = 3; 3+3 = 6
    assert S.early_action_score(dyn, k=2) == approx([1.5, 3.0, 6.0])
    assert S.early_action_score(dyn, k=4) == approx(S.action_score(dyn))
    for bad in (0, 5, 1.5):
        with pytest.raises(ParameterError, match="k="):
            S.early_action_score(dyn, k=bad)


def test_cartography(dyn):
    # confidence: (0.4+0.6+0.8+0.8)/4 = 0.65; (0.2+0.5+0.3+0.7)/4 = 0.425; (0.1+0.1+0.2+0.2)/4 = 0.15
    assert S.cartography_confidence_score(dyn) == approx([1 - 0.65, 1 - 0.425, 1 - 0.15])
    # variability (population std):
    # s10 deviations -0.25, -0.05, 0.15, 0.15 -> (0.0625+0.0025+0.0225+0.0225)/4 = 0.11/4 = 0.0275
    # s20 deviations -0.225, 0.075, -0.125, 0.275 -> (0.050625+0.005625+0.015625+0.075625)/4 = 0.1475/4 = 0.036875
    # s30 deviations -0.05, -0.05, 0.05, 0.05 -> 0.01/4 = 0.0025 -> std 0.05
    expected_var = [math.sqrt(0.0275), math.sqrt(0.036875), 0.05]
    assert S.cartography_variability_score(dyn) == pytest.approx(expected_var, rel=1e-9)
    # correctness: 3/4, 2/4, 0/4 -> 1 - that
    assert S.cartography_correctness_score(dyn) == approx([0.25, 0.5, 1.0])
    stats = S.cartography_stats(dyn)
    assert stats.loc[20, "confidence"] == pytest.approx(0.425)
    assert stats.loc[30, "correctness"] == pytest.approx(0.0)


def test_forgetting_and_learning_speed(dyn):
    # s10 0,1,1,1: no correct->incorrect; s20 0,1,0,1: one (1->2); s30 never correct: T = 4
    assert S.forgetting_events_score(dyn) == approx([0, 1, 4])
    # s10 stays correct from checkpoint 1; s20 only from checkpoint 3; s30 never: T = 4
    assert S.learning_speed_score(dyn) == approx([1, 3, 4])


def test_forgetting_count_alternating():
    # 1,0,1,0,1,0 -> 3 forgetting events (t=1, 3, 5); 1,1,1,1,1,0 -> 1; learning speed: never stays -> T = 6
    d = Dynamics(sample_ids=np.array([1, 2]), checkpoints=np.arange(6),
                 correct=np.array([[1, 0, 1, 0, 1, 0], [1, 1, 1, 1, 1, 0]], dtype=bool))
    assert S.forgetting_events_score(d) == approx([3, 1])
    assert S.learning_speed_score(d) == approx([6, 6])


def test_aum(dyn):
    # mean margin: (-1+0.5+1.5+2)/4 = 0.75; (-2+0-1+1)/4 = -0.5; (-3-3-2-2)/4 = -2.5 -> minus that
    assert S.aum_score(dyn) == approx([-0.75, 0.5, 2.5])


def test_aum_threshold_samples_deterministic():
    a = S.aum_threshold_samples(100, 4, seed=0)
    # floor(100 / (4 + 1)) = 20 distinct positions in 0..99, sorted
    assert a.shape == (20,) and len(set(a.tolist())) == 20
    assert np.all(np.diff(a) > 0) and a.min() >= 0 and a.max() < 100
    assert np.array_equal(a, S.aum_threshold_samples(100, 4, seed=0))
    assert not np.array_equal(a, S.aum_threshold_samples(100, 4, seed=1))
    with pytest.raises(ParameterError):
        S.aum_threshold_samples(2, 4, seed=0)  # floor(2/5) = 0 threshold samples


def test_aum_cutoff_and_flags():
    aum = np.array([0.5, -1.0, -0.5, 0.0, 2.0, -0.005])
    thr = np.array([1, 3])  # threshold samples' AUM: -1.0 and 0.0
    # 99th percentile with linear interpolation: -1.0 + 0.99 * (0.0 - (-1.0)) = -0.01
    assert S.aum_cutoff(aum, thr) == pytest.approx(-0.01)
    # flagged: non-threshold with AUM < -0.01 -> only position 2 (-0.5); position 5 (-0.005) is above
    assert S.aum_flags(aum, thr).tolist() == [False, False, True, False, False, False]
    mask = np.zeros(6, dtype=bool)
    mask[[1, 3]] = True
    assert S.aum_flags(aum, mask).tolist() == [False, False, True, False, False, False]


def test_el2n(dyn):
    # el2n column at the first checkpoint, and at the last
    assert S.el2n_score(dyn) == approx([0.8, 1.1, 1.2])
    assert S.el2n_score(dyn, checkpoint=-1) == approx([0.3, 0.4, 1.1])
    with pytest.raises(ParameterError, match="checkpoint"):
        S.el2n_score(dyn, checkpoint=4)


def test_el2n_binary_fallback():
    frame = long_frame(train=None).drop(columns=["el2n"])
    d = Dynamics.from_frame(frame)
    # no el2n column and num_classes unknown: refuse
    with pytest.raises(ParameterError, match="el2n"):
        S.el2n_score(d)
    # binary: sqrt(2) * (1 - p_0): p_0 = 0.4, 0.2, 0.1
    r2 = math.sqrt(2)
    assert S.el2n_score(d, num_classes=2) == approx([0.6 * r2, 0.8 * r2, 0.9 * r2])
    with pytest.raises(ParameterError):
        S.el2n_score(d, num_classes=3)


def test_entropy(dyn):
    # (0.6+0.5+0.3+0.2)/4 = 0.4; (0.7+0.69+0.6+0.5)/4 = 2.49/4 = 0.6225; (0.3+0.3+0.4+0.4)/4 = 0.35
    assert S.mean_entropy_score(dyn) == approx([0.4, 0.6225, 0.35])
    assert S.final_entropy_score(dyn) == approx([0.2, 0.5, 0.4])


def test_vog_class_normalisation():
    vog = np.array([1.0, 3.0, 2.0, 2.0, 5.0])
    labels = np.array([0, 0, 1, 1, 1])
    # class 0: mean 2, std sqrt(((1-2)^2 + (3-2)^2)/2) = 1 -> -1, 1
    # class 1: mean 3, deviations -1, -1, 2 -> var (1+1+4)/3 = 2 -> /sqrt(2)
    r2 = math.sqrt(2)
    assert S.vog_score(vog, labels) == approx([-1.0, 1.0, -1 / r2, -1 / r2, 2 / r2])
    # non-classification: raw VoG
    assert S.vog_score(vog) == approx(vog)
    # a constant class normalises to 0
    assert S.vog_score(np.array([2.0, 2.0, 1.0, 3.0]), np.array(["a", "a", "b", "b"])) == approx([0, 0, -1, 1])


def test_sequence_scores():
    # s1: 10 tokens, mean NLL 1.0 then 0.5 (sums 10, 5); token accuracy 0.4 then 0.6
    # s2: 2 tokens, mean NLL 2.0 then 1.0 (sums 4, 2); token accuracy 0.5 then 0.5
    d = Dynamics(
        sample_ids=np.array([1, 2]), checkpoints=np.arange(2),
        loss=np.array([[1.0, 0.5], [2.0, 1.0]]), loss_sum=np.array([[10.0, 5.0], [4.0, 2.0]]),
        n_tokens=np.array([[10.0, 10.0], [2.0, 2.0]]), correct=np.array([[0.4, 0.6], [0.5, 0.5]]),
    )
    # length-normalised action: 1.5, 3.0 (s2 harder); summed token NLL: 15, 6 (s1 harder)
    assert S.action_score(d) == approx([1.5, 3.0])
    assert S.action_token_sum_score(d) == approx([15.0, 6.0])
    # correct = accuracy >= 0.5: s1 F,T -> learned at 1; s2 T,T -> 0
    assert S.learning_speed_score(d) == approx([1, 0])
    assert S.forgetting_events_score(d) == approx([0, 0])
    # threshold 0.55: s1 F,T -> 1; s2 F,F -> never -> T = 2 (and forgetting T = 2)
    assert S.learning_speed_score(d, threshold=0.55) == approx([1, 2])
    assert S.forgetting_events_score(d, threshold=0.55) == approx([0, 2])
    # cartography correctness averages the fractions: 1 - 0.5 for both
    assert S.cartography_correctness_score(d) == approx([0.5, 0.5])
    with pytest.raises(ParameterError, match="threshold"):
        S.learning_speed_score(d, threshold=0)


# ---------------------------------------------------------------------------------------------
# compute_scores and the registry
# ---------------------------------------------------------------------------------------------


def test_compute_scores_values_and_skips():
    vog = pd.DataFrame({"sample_id": [30, 10, 20], "vog": [3.0, 1.0, 2.0], "label": [0, 0, 0]})
    out = compute_scores(long_frame(), vog=vog)
    assert out["sample_id"].tolist() == [10, 20, 30]
    assert out["action"].tolist() == approx([2.0, 5.0, 10.0])
    assert out["action_train"].tolist() == approx([5.5, 2.5, 12.0])
    assert out["action_trapezoid"].tolist() == approx([25.0, 80.0, 160.0])
    assert out["action_train_trapezoid"].tolist() == approx([82.5, 40.0, 210.0])
    assert out["forgetting_events"].tolist() == approx([0, 1, 4])
    assert out["el2n"].tolist() == approx([0.8, 1.1, 1.2])
    # one class: mean 2, std sqrt(2/3) -> (1-2)/sqrt(2/3), 0, (3-2)/sqrt(2/3)
    s = math.sqrt(2 / 3)
    assert out["vog"].tolist() == approx([-1 / s, 0.0, 1 / s])
    # not a sequence task, and confident learning is never computed here
    assert "action_token_sum" not in out and "confident_learning" not in out
    assert set(out.attrs["skipped"]) == {"action_token_sum", "confident_learning"}
    assert out.dtypes.drop("sample_id").map(lambda t: t == np.float64).all()


def test_compute_scores_skips_absent_inputs():
    frame = long_frame(train=None)[["sample_id", "checkpoint", "pass", "loss"]]
    out = compute_scores(frame)
    assert set(out.columns) == {"sample_id", "action", "early_action", "mean_loss", "final_loss"}
    skipped = out.attrs["skipped"]
    assert "no 'train' pass" in skipped["action_train"]
    assert "vog" in skipped and "el2n" in skipped and "action_trapezoid" in skipped
    # asking for confident learning never computes it; an unknown name raises
    out = compute_scores(frame, names=["action", "confident_learning"])
    assert list(out.columns) == ["sample_id", "action"]
    with pytest.raises(ParameterError, match="names"):
        compute_scores(frame, names=["actoin"])


def test_compute_scores_sequence_and_binary_el2n():
    frame = long_frame(train=None).drop(columns=["el2n"])
    frame["loss_sum"] = frame["loss"] * 3
    out = compute_scores(frame, num_classes=2)
    # loss_sum = 3 * loss -> 3 * (2, 5, 10)
    assert out["action_token_sum"].tolist() == approx([6.0, 15.0, 30.0])
    assert out["el2n"].tolist() == approx(np.sqrt(2) * np.array([0.6, 0.8, 0.9]))
    assert "el2n" in compute_scores(frame).attrs["skipped"]  # num_classes not given: no fallback


#: The registry's order is the column order of every scores.parquet (the golden runs check it too).
REGISTRY_ORDER = [
    "action", "action_train", "action_trapezoid", "action_train_trapezoid", "early_action", "action_token_sum",
    "mean_loss", "final_loss", "cartography_confidence", "cartography_variability", "cartography_correctness",
    "forgetting_events", "aum", "el2n", "vog", "mean_entropy", "final_entropy", "learning_speed",
    "confident_learning",
]


def test_score_table_and_registry():
    table = S.score_table()
    assert list(table.columns) == ["name", "axis", "description", "reference", "orientation", "needs", "formula"]
    assert table["name"].tolist() == list(S.SCORES) == REGISTRY_ORDER
    for spec in S.SCORES.values():
        assert spec.description and spec.reference and spec.orientation and spec.needs and spec.formula
        assert "\n" not in spec.description
        assert spec.axis in S.AXES
        # every difficulty score says higher = harder; an ambiguity score says it is not a difficulty score
        if spec.axis == "difficulty":
            assert "harder" in spec.orientation or "higher" in spec.orientation, spec.name
            assert "as is" not in spec.orientation, spec.name
        else:
            assert "not difficulty" in spec.orientation.lower(), spec.name
        doc = spec.func.__doc__ or ""
        assert "Reference" in doc and "Orientation" in doc, spec.name


def test_registration_needs_are_checked_and_unregister():
    fields = dict(description="d", reference="r", orientation="higher = harder")
    with pytest.raises(ParameterError, match="name"):
        S.register("action", S.action_score, needs=("eval.loss",), **fields)  # duplicate
    with pytest.raises(ParameterError, match="needs"):
        S.register("two_passes", S.action_score, needs=("eval.loss", "train.loss"), **fields)
    with pytest.raises(ParameterError, match="needs"):
        S.register("no_pass", S.action_score, needs=("loss",), **fields)
    with pytest.raises(ParameterError, match="cites"):
        S.register("bad_cite", S.action_score, needs=("eval.loss",), cites=("nobody2099",), **fields)
    with pytest.raises(ParameterError, match="description"):
        S.register("two_lines", S.action_score, needs=("eval.loss",), description="a\nb", reference="r",
                   orientation="o")
    assert "two_passes" not in S.SCORES and list(S.SCORES) == REGISTRY_ORDER
    S.register("tmp_score", S.mean_loss_score, needs=("eval.loss",), **fields)
    try:
        assert list(S.SCORES)[-1] == "tmp_score"
        assert compute_scores(long_frame())["tmp_score"].tolist() == approx([0.5, 1.25, 2.5])
    finally:
        S.unregister("tmp_score")
    assert list(S.SCORES) == REGISTRY_ORDER


def test_dynamics_keeps_every_numeric_column():
    # a head's own column (QA's per-checkpoint token F1) and a text column
    frame = long_frame(train=None)
    frame["f1"] = np.where(frame["sample_id"] == 30, 0.0, 1.0) * (frame["checkpoint"] + 1) / 4
    frame["note"] = "text"
    d = Dynamics.from_frame(frame)
    assert d.columns[:6] == ("loss", "gold_prob", "correct", "margin", "entropy", "el2n")
    assert d.columns[6:] == ("f1",)  # kept; the text column is not a value column
    assert d.f1.shape == (3, 4) and d.get("f1") is d.f1 and d.get("note") is None
    assert d.f1[0].tolist() == approx([0.25, 0.5, 0.75, 1.0])
    assert d.loss_sum is None  # a standard column that was not recorded
    with pytest.raises(AttributeError, match="f2"):
        d.f2
    with pytest.raises(AttributeError, match="read-only"):
        d.loss = None
    # extra columns are validated like the standard ones
    bad = frame.copy()
    bad.loc[3, "f1"] = np.nan
    with pytest.raises(ParameterError, match="dynamics.f1"):
        Dynamics.from_frame(bad)
    # the constructor takes extra columns as keywords; a pickled copy is equal
    import pickle

    built = Dynamics(IDS, np.arange(4), f1=d.f1, loss=d.loss)
    assert built.columns == ("loss", "f1")
    copy = pickle.loads(pickle.dumps(built))
    assert copy.columns == built.columns and np.array_equal(copy.f1, built.f1)


def test_a_registered_score_reads_a_head_column():
    frame = long_frame()
    frame["f1"] = frame["loss"] / 10  # recorded in both passes
    S.register(
        "f1_mean_test", lambda d: 1.0 - d.f1.mean(axis=1), needs=("eval.f1",),
        description="One minus the mean F1.", reference="test", orientation="Lower F1 = harder.",
    )
    try:
        out = compute_scores(frame)
        # mean loss (0.5, 1.25, 2.5) / 10 -> 1 - (0.05, 0.125, 0.25)
        assert out["f1_mean_test"].tolist() == approx([0.95, 0.875, 0.75])
        assert list(out.columns)[-1] == "f1_mean_test"
        # a run without the column skips it, with the reason
        skipped = compute_scores(long_frame()).attrs["skipped"]
        assert skipped["f1_mean_test"] == "no f1 recorded in the 'eval' pass"
    finally:
        S.unregister("f1_mean_test")


def test_book_score_table_is_generated_from_the_registry():
    """book/score_table.md (included by book/methods.md) is the registry's table, not typed by hand."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    committed = (root / S.SCORE_TABLE_PATH).read_text(encoding="utf-8")
    assert committed == S.score_table_markdown(), (
        "book/score_table.md differs from the registry: run `python -m nlpdiff.scores` (or `nlpdiff book`)"
    )
    assert "score_table.md" in (root / "book" / "methods.md").read_text(encoding="utf-8")
    for spec in S.SCORES.values():
        assert f"| `{spec.name}` |" in committed
    # every cited key is a label of book/references.md
    references = (root / "book" / "references.md").read_text(encoding="utf-8")
    for key in S.CITATIONS:
        assert f"(ref-{key})=" in references, key


def test_write_score_table(tmp_path):
    path = S.write_score_table(tmp_path)
    assert path == tmp_path / "book" / "score_table.md"
    assert path.read_text(encoding="utf-8") == S.score_table_markdown()


# ---------------------------------------------------------------------------------------------
# Invariance, equivalence, variants
# ---------------------------------------------------------------------------------------------


def random_frame(n: int, t: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sid = rng.permutation(np.arange(1000, 1000 + n))
    steps = np.cumsum(rng.integers(10, 100, size=t))  # gaps >= 10 > the train jitter (0..4)
    parts = []
    for pass_ in ("eval", "train"):
        loss = rng.gamma(2.0, 0.5, size=(n, t))
        p = np.exp(-loss)
        parts.append(pd.DataFrame({
            "sample_id": np.repeat(sid, t), "checkpoint": np.tile(np.arange(t), n),
            "epoch": np.tile(np.arange(1, t + 1) / t, n),
            "step": np.tile(steps, n) - (rng.integers(0, 5, size=n * t) if pass_ == "train" else 0),
            "pass": pass_, "loss": loss.ravel(), "gold_prob": p.ravel(), "correct": (p > 0.4).ravel(),
            "margin": rng.normal(size=n * t), "entropy": rng.uniform(0, 0.7, size=n * t),
            "el2n": rng.uniform(0, 1.4, size=n * t),
        }))
    return pd.concat(parts, ignore_index=True)


def test_invariance_to_sample_and_row_order():
    frame = random_frame(60, 6, seed=0)
    vog = pd.DataFrame({"sample_id": np.unique(frame["sample_id"]),
                        "vog": np.linspace(0, 1, 60) ** 2, "label": np.arange(60) % 3})
    a = compute_scores(frame, vog=vog, num_classes=2).set_index("sample_id")
    rng = np.random.default_rng(1)
    shuffled = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    vog_shuffled = vog.iloc[rng.permutation(len(vog))].reset_index(drop=True)
    b = compute_scores(shuffled, vog=vog_shuffled, num_classes=2).set_index("sample_id")
    assert len(a.columns) == 17  # everything but action_token_sum (no sequences) and confident_learning
    pd.testing.assert_frame_equal(a, b.loc[a.index], check_exact=False, rtol=1e-12)


def test_action_ranks_like_mean_loss_and_variants_differ():
    frame = random_frame(300, 8, seed=2)
    out = compute_scores(frame)
    # same T for every sample: action = T * mean loss, so the rankings are identical
    assert np.array_equal(np.argsort(out["action"].to_numpy(), kind="stable"),
                          np.argsort(out["mean_loss"].to_numpy(), kind="stable"))
    assert spearmanr(out["action"], out["mean_loss"]).statistic == pytest.approx(1.0)
    # the variants rank differently
    for variant in ("action_trapezoid", "early_action", "action_train", "final_loss"):
        rho = spearmanr(out["action"], out[variant]).statistic
        assert rho < 0.999, variant


# ---------------------------------------------------------------------------------------------
# Bad input: clear errors naming the sample and the checkpoint
# ---------------------------------------------------------------------------------------------


def test_nan_names_sample_and_checkpoint():
    frame = long_frame()
    frame.loc[(frame["sample_id"] == 20) & (frame["checkpoint"] == 2) & (frame["pass"] == "eval"), "loss"] = np.nan
    with pytest.raises(ParameterError, match=r"dynamics\.loss.*sample_id=20, checkpoint=2"):
        Dynamics.from_frame(frame)
    with pytest.raises(ValueError, match="sample_id=20, checkpoint=2"):
        compute_scores(frame)
    frame = long_frame()
    frame.loc[(frame["sample_id"] == 10) & (frame["checkpoint"] == 3) & (frame["pass"] == "eval"), "margin"] = np.inf
    with pytest.raises(ParameterError, match=r"margin.*sample_id=10, checkpoint=3"):
        Dynamics.from_frame(frame)


def test_missing_and_duplicated_checkpoint():
    frame = long_frame()
    drop = (frame["sample_id"] == 30) & (frame["checkpoint"] == 1) & (frame["pass"] == "eval")
    with pytest.raises(ParameterError, match="sample_id=30 has no row for checkpoint=1"):
        Dynamics.from_frame(frame[~drop])
    with pytest.raises(ParameterError, match="sample_id=30 has no row for checkpoint=1"):
        compute_scores(frame[~drop])
    dup = pd.concat([frame, frame[drop]])
    with pytest.raises(ParameterError, match="sample_id=30, checkpoint=1 has 2 rows"):
        Dynamics.from_frame(dup)


def test_other_bad_inputs():
    with pytest.raises(ParameterError, match="pass_"):
        Dynamics.from_frame(long_frame(train=None), "train")
    with pytest.raises(ParameterError, match="dynamics.loss"):
        S.action_score(Dynamics(sample_ids=np.arange(2), checkpoints=np.arange(3)))
    vog = pd.DataFrame({"sample_id": [10, 20], "vog": [1.0, 2.0]})
    with pytest.raises(ParameterError, match="sample_id=30"):
        compute_scores(long_frame(), vog=vog)


# ---------------------------------------------------------------------------------------------
# Confident learning and folds
# ---------------------------------------------------------------------------------------------


def test_confident_learning_flipped_label_scores_higher():
    labels = np.array([0, 0, 1, 1])
    # the last sample is labelled 1 but the out-of-sample model says class 0 with 0.85
    pred_probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.85, 0.15]])
    score = S.confident_learning_score(labels, pred_probs)
    # self-confidence quality = p[label]: 0.9, 0.8, 0.9, 0.15 -> 1 - that
    assert score == pytest.approx([0.1, 0.2, 0.1, 0.85])
    assert np.argmax(score) == 3
    with pytest.raises(ParameterError):
        S.confident_learning_score(np.array([0, 2]), pred_probs[:2])


def test_kfold_indices():
    labels = np.array([0] * 10 + [1] * 5)
    folds = S.kfold_indices(15, 5, seed=3, labels=labels)
    assert len(folds) == 5
    held = np.concatenate([te for _, te in folds])
    assert sorted(held.tolist()) == list(range(15))  # each sample held out exactly once
    for tr, te in folds:
        assert set(tr).isdisjoint(te) and len(tr) + len(te) == 15
        assert (labels[te] == 0).sum() == 2 and (labels[te] == 1).sum() == 1  # stratified 10/5, 5/5
    again = S.kfold_indices(15, 5, seed=3, labels=labels)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    plain = S.kfold_indices(15, 3, seed=0)
    assert sorted(np.concatenate([te for _, te in plain]).tolist()) == list(range(15))
    with pytest.raises(ParameterError):
        S.kfold_indices(15, 1, seed=0)


def test_compute_scores_reads_parquet_and_train_only(tmp_path):
    path = tmp_path / "dynamics.parquet"
    long_frame().to_parquet(path)
    out = compute_scores(str(path), names=["action", "action_train"])
    assert out["action_train"].tolist() == approx([5.5, 2.5, 12.0])
    frame = long_frame()
    train_only = frame[frame["pass"] == "train"]
    out = compute_scores(train_only)
    assert list(out.columns) == ["sample_id", "action_train", "action_train_trapezoid"]
    assert "no 'eval' pass" in out.attrs["skipped"]["action"]


def test_design_page_example_registers_a_working_score():
    """The 'add a score' example of book/design.md runs as written."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "book" / "design.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(@score\(.*?)```", text, re.S).group(1)
    namespace = {"np": np, "Dynamics": Dynamics, "score": S.score}
    exec(block, namespace)
    try:
        out = compute_scores(long_frame())
        # minus the last margin: -(2.0, 1.0, -2.0)
        assert out["final_margin"].tolist() == approx([-2.0, -1.0, 2.0])
    finally:
        S.unregister("final_margin")


def test_train_pass_with_gaps_skips_only_the_training_pass_scores():
    """A curriculum sampler leaves samples out of early epochs: no training-pass row there.

    The eval-pass scores are computed as usual; the training-pass scores are skipped with a reason.
    """
    rng = np.random.default_rng(0)
    rows = []
    for pass_ in ("eval", "train"):
        for ck in range(3):
            for sid in range(4):
                if pass_ == "train" and ck == 0 and sid == 3:  # sample 3 not yet in the curriculum
                    continue
                loss = float(rng.uniform(0.1, 2.0))
                rows.append({"sample_id": sid, "checkpoint": ck, "epoch": float(ck + 1), "step": ck + 1,
                             "pass": pass_, "loss": loss, "gold_prob": float(np.exp(-loss)),
                             "correct": loss < 0.69, "margin": 0.7 - loss, "entropy": 0.5})
    out = compute_scores(pd.DataFrame(rows))
    assert list(out["sample_id"]) == [0, 1, 2, 3]
    assert "action" in out.columns and out["action"].notna().all()
    assert "action_train" not in out.columns
    assert "'train' pass lacks rows" in out.attrs["skipped"]["action_train"]


# ---------------------------------------------------------------------------------------------
# Orientation: difficulty scores and the ambiguity axis (issue 9)
# ---------------------------------------------------------------------------------------------


def test_variability_is_the_ambiguity_axis_not_a_difficulty_score():
    """Cartography variability is not monotone in difficulty (never-learned samples vary little): it is
    registered on the ambiguity axis, and every other score on the difficulty axis (higher = harder)."""
    assert S.SCORES["cartography_variability"].axis == "ambiguity"
    assert S.score_axis("cartography_variability") == "ambiguity" and S.score_axis("action") == "difficulty"
    assert S.score_axis("not_a_score") is None
    assert S.difficulty_scores() == [n for n in REGISTRY_ORDER if n != "cartography_variability"]
    table = S.score_table().set_index("name")["axis"]
    assert table["cartography_variability"] == "ambiguity" and (table.drop("cartography_variability") == "difficulty").all()
    assert "| `cartography_variability` | ambiguity |" in S.score_table_markdown()
    with pytest.raises(ParameterError, match="axis"):
        S.register("bad_axis", S.mean_loss_score, needs=("eval.loss",), description="d", reference="r",
                   orientation="higher = harder", axis="hardness")
    assert "bad_axis" not in S.SCORES


def test_never_learned_samples_have_low_variability_but_are_hardest():
    """Why variability is no difficulty score: a never-learned sample (p stays ~0) is the hardest by every
    difficulty score and the least variable; a sample learned midway is the most variable."""
    p = np.array([[0.02, 0.02, 0.03, 0.02],   # never learned
                  [0.1, 0.4, 0.8, 0.95],      # learned during training
                  [0.9, 0.95, 0.97, 0.98]])   # easy
    frame = pd.DataFrame({"sample_id": np.repeat([0, 1, 2], 4), "checkpoint": np.tile(np.arange(4), 3),
                          "loss": -np.log(p.ravel()), "gold_prob": p.ravel(), "correct": p.ravel() > 0.5})
    out = compute_scores(frame, names=["action", "cartography_confidence", "cartography_variability"])
    assert out["action"].idxmax() == 0 and out["cartography_confidence"].idxmax() == 0
    assert out["cartography_variability"].idxmax() == 1 and out["cartography_variability"][0] < out["cartography_variability"][2] + 0.05


def _scores_frame():
    rng = np.random.default_rng(0)
    n = 40
    return pd.DataFrame({"sample_id": np.arange(n), "action": rng.random(n), "cartography_variability": rng.random(n),
                         "aum": rng.random(n), "users_own": rng.random(n)})


def test_score_columns_leave_the_ambiguity_axis_out():
    from nlpdiff import compare

    scores = _scores_frame()
    assert compare.score_columns(scores) == ["action", "aum", "users_own"]  # a user's column counts as difficulty
    assert compare.score_columns(scores, axis=None) == ["action", "cartography_variability", "aum", "users_own"]
    assert compare.score_columns(scores, axis="ambiguity") == ["cartography_variability"]
    with pytest.raises(ParameterError, match="axis"):
        compare.score_columns(scores, axis="hardness")
    # the comparisons built on it: no variability among the difficulty scores
    assert "cartography_variability" not in set(compare.correlation_table(scores, n_boot=5)[["a", "b"]].stack())
    assert "cartography_variability" not in compare.correlation_matrix(scores).columns


def test_detection_table_ranks_difficulty_scores_only():
    from nlpdiff import analysis

    scores = _scores_frame()
    y = np.zeros(len(scores), dtype=bool)
    y[::4] = True
    table = analysis.detection_table(scores, y)
    assert set(table["score"]) == {"action", "aum", "users_own"}
    assert table.attrs["excluded"] == ["cartography_variability"]
    assert table.attrs["chance_average_precision"] == pytest.approx(0.25)
    full = analysis.detection_table(scores, y, include_ambiguity=True)
    assert set(full["score"]) == {"action", "aum", "users_own", "cartography_variability"} and full.attrs["excluded"] == []


# ---------------------------------------------------------------------------------------------
# action_train_trapezoid: its weights come from the random order (issue 9)
# ---------------------------------------------------------------------------------------------


def test_action_train_trapezoid_weights_depend_on_the_order_and_say_so():
    """Same training-pass losses, two shuffles (the sample's steps in each epoch): two different scores,
    while action_train (equal weights) does not move. The registration and docstring say so."""
    loss = np.array([[2.0, 1.0, 0.5]])
    ids, ckpt = np.array([0]), np.arange(3)
    early_late = Dynamics(ids, ckpt, pass_="train", loss=loss, steps=np.array([[1.0, 20.0, 21.0]]))
    late_early = Dynamics(ids, ckpt, pass_="train", loss=loss, steps=np.array([[10.0, 11.0, 30.0]]))
    a, b = S.action_trapezoid_score(early_late), S.action_trapezoid_score(late_early)
    assert a[0] == pytest.approx((2.0 + 1.0) / 2 * 19 + (1.0 + 0.5) / 2 * 1)
    assert b[0] == pytest.approx((2.0 + 1.0) / 2 * 1 + (1.0 + 0.5) / 2 * 19)
    assert a[0] != pytest.approx(b[0])
    assert S.action_score(early_late) == pytest.approx(S.action_score(late_early))
    spec = S.SCORES["action_train_trapezoid"]
    assert "random" in spec.description and "shuffle" in spec.orientation
    assert "random order" in (S.action_trapezoid_score.__doc__ or "")


# ---------------------------------------------------------------------------------------------
# At least 6 checkpoints by default (issue 9)
# ---------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("one_torch_thread")
def test_default_checkpoints_separate_scores_that_coincide_at_three(tiny_data_dir, tmp_path):
    """The default 3-epoch run records 6 checkpoints. With 3 (one per epoch), EL2N (at the first checkpoint)
    and early action (the first ceil(T/4) = 1 checkpoint) rank a binary task identically by construction;
    with 6 they differ, and so do learning speed and cartography correctness."""
    from scipy import stats

    from nlpdiff.config import TrainParams
    from nlpdiff.dynamics import train

    assert TrainParams().checkpoints_per_epoch == 2 and TrainParams().epochs == 3
    base = dict(task="sst2", backbone="scratch", model="scratch", train_size=48, eval_size=12, batch_size=8,
                learning_rate=0.05, seed=0, data_dir=str(tiny_data_dir))
    six = train(TrainParams(**base, output_dir=str(tmp_path / "six")), progress=False)
    three = train(TrainParams(**base, checkpoints_per_epoch=1, output_dir=str(tmp_path / "three")), progress=False)
    assert six.info["resolved"]["n_checkpoints"] == 6 and three.info["resolved"]["n_checkpoints"] == 3

    def rho(run, a, b):
        return stats.spearmanr(run.scores[a], run.scores[b]).statistic

    assert rho(three, "el2n", "early_action") == pytest.approx(1.0)
    assert rho(six, "el2n", "early_action") < 0.999
    assert not np.allclose(six.scores["el2n"], np.sqrt(2) * (1 - np.exp(-six.scores["early_action"])))
    assert rho(six, "learning_speed", "cartography_correctness") < 0.999


def test_run_score_table_lists_computed_scores_and_names_the_others():
    from types import SimpleNamespace

    from nlpdiff.scores import run_score_table

    run = SimpleNamespace(scores=pd.DataFrame({"sample_id": [0], "action": [1.0], "aum": [0.2]}),
                          info={"resolved": {"skipped_scores": {"vog": "no vog table recorded"}}})
    table, note = run_score_table(run)
    assert sorted(table["name"]) == ["action", "aum"]
    assert note == "Registered but not computed for this run: `vog` (no vog table recorded)."
    run.info["resolved"]["skipped_scores"] = {}
    assert run_score_table(run)[1] is None


def test_families_of_the_registry():
    """The action score's variants are one family, read by every page that compares families."""
    from nlpdiff import scores

    assert set(scores.family_members("action")) == {"action", "action_train", "action_trapezoid",
                                                     "action_train_trapezoid", "early_action", "action_token_sum",
                                                     "mean_loss"}
    assert scores.score_family("aum") == "aum" and scores.score_family("not_a_score") is None
    with pytest.raises(ParameterError, match="family"):
        scores.register("toy_family", lambda d: d.loss.sum(axis=1), needs=("eval.loss",), description="x",
                        reference="x", orientation="x", family="not an identifier")
    assert "toy_family" not in scores.SCORES


def test_one_definition_of_the_action_family_in_the_study():
    from nlpdiff_study import comparisons, conclusions, mislabel

    assert conclusions.ACTION_FAMILY == mislabel.ACTION_FAMILY == comparisons.action_family()
    assert conclusions.not_baselines() == mislabel.not_baselines() == comparisons.not_baselines()
    assert not hasattr(mislabel, "_not_baselines")  # one name for one idea
