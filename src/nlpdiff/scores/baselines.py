"""The other training-dynamics scores: dataset cartography, forgetting events, AUM, EL2N, VoG, predictive entropy and learning speed
(confident learning, which needs K trainings: :mod:`nlpdiff.scores.confident_learning`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from nlpdiff.errors import ParameterError
from nlpdiff.scores.container import Dynamics, _blocks, _check_finite, _check_threshold, _column_at, _is_correct, _item, _row_mean, _row_sum, _rowwise, _short  # noqa: F401
from nlpdiff.scores.registry import _ANGELOV, _ARRIAGA, _CARTO, _Context, _Unavailable, register, score  # noqa: F401


def _compute_el2n(ctx: _Context) -> tuple[np.ndarray, np.ndarray]:
    d = ctx.dyn("eval")
    if d.el2n is None and not (ctx.num_classes == 2 and d.gold_prob is not None):
        raise _Unavailable("no el2n recorded in the 'eval' pass (and num_classes != 2, so no sqrt(2)(1 - p) fallback)")
    return d.sample_ids, el2n_score(d, 0, ctx.num_classes)


def _compute_vog(ctx: _Context) -> tuple[np.ndarray, np.ndarray]:
    table = ctx.vog
    if table is None:
        raise _Unavailable("no VoG table given")
    for col in ("sample_id", "vog"):
        if col not in table.columns:
            raise ParameterError("vog.columns", list(table.columns), f"a '{col}' column")
    ids = table["sample_id"].to_numpy()
    if pd.Series(ids).duplicated().any():
        dup = _item(pd.Series(ids)[pd.Series(ids).duplicated()].iloc[0])
        raise ParameterError("vog.sample_id", dup, "one row per sample_id", hint="duplicated")
    wanted = ctx.all_sample_ids
    pos = pd.Index(ids).get_indexer(wanted)
    if (pos < 0).any():
        missing = _item(wanted[np.flatnonzero(pos < 0)[0]])
        raise ParameterError("vog.sample_id", missing, "a VoG row for every sample in the dynamics", hint=f"sample_id={missing} has none")
    values = table["vog"].to_numpy(dtype=np.float64, na_value=np.nan)[pos]
    if not np.isfinite(values).all():
        i = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ParameterError("vog.vog", float(values[i]), "a finite VoG", hint=f"sample_id={_item(wanted[i])}")
    labels = None
    if not ctx.is_sequence:
        if "label" in table.columns:
            labels = table["label"].to_numpy()[pos]
        elif ctx.samples is not None and {"sample_id", "label"} <= set(ctx.samples.columns):
            lpos = pd.Index(ctx.samples["sample_id"].to_numpy()).get_indexer(wanted)
            if (lpos >= 0).all():
                labels = ctx.samples["label"].to_numpy()[lpos]
        if labels is not None and pd.isna(labels).any():
            labels = None
    return wanted, vog_score(values, labels)




# ---------------------------------------------------------------------------------------------
# Dataset cartography
# ---------------------------------------------------------------------------------------------


def cartography_stats(dyn: Dynamics) -> pd.DataFrame:
    """The three raw cartography coordinates (not oriented), indexed by sample_id.

    ``confidence = mean_t p_t``, ``variability = std_t p_t`` (population, ddof=0),
    ``correctness = mean_t c_t`` (Swayamdipta et al., EMNLP 2020). For plotting the data map.
    """
    dyn.require("gold_prob", "correct")
    return pd.DataFrame(
        {
            "confidence": _row_mean(dyn, "gold_prob"),
            "variability": cartography_variability_score(dyn),
            "correctness": _row_mean(dyn, "correct"),
        },
        index=pd.Index(dyn.sample_ids, name="sample_id"),
    )


@score(
    "cartography_confidence",
    needs=("eval.gold_prob",),
    description="One minus cartography confidence: 1 - mean_t p_t(gold), eval pass.",
    formula=r"$1 - \tfrac{1}{T}\sum_t p_{t,y}(x)$",
    reference=_CARTO,
    cites=("swayamdipta2020",),
    orientation="Low confidence = hard-to-learn region; 1 - confidence so higher = harder.",
)
def cartography_confidence_score(dyn: Dynamics) -> np.ndarray:
    r"""Cartography confidence, oriented as hardness: ``1 - (1/T) sum_t p_t(x)``.

    Reference: Swayamdipta et al., "Dataset Cartography", EMNLP 2020 (confidence = mean gold
    probability; their logging uses the training forward pass, pass a ``train`` Dynamics for that).

    Orientation: low confidence = hard-to-learn region = harder; the returned value is one minus
    the confidence, in [0, 1].
    """
    return 1.0 - _row_mean(dyn, "gold_prob")


@score(
    "cartography_variability",
    needs=("eval.gold_prob",),
    description="Cartography variability: population std_t of p_t(gold), eval pass; an ambiguity axis, not a difficulty score.",
    formula=r"$\mathrm{std}_t\, p_{t,y}(x)$ (population)",
    reference=_CARTO,
    cites=("swayamdipta2020",),
    axis="ambiguity",
    orientation="Ambiguity axis, not difficulty: high = the ambiguous region of the data map; never-learned (hardest) samples vary little, so it is left out of difficulty rankings and detection tables.",
)
def cartography_variability_score(dyn: Dynamics) -> np.ndarray:
    r"""Cartography variability: ``sqrt((1/T) sum_t (p_t(x) - mean_t p_t(x))^2)`` (an ambiguity axis).

    Reference: Swayamdipta et al., EMNLP 2020 (population standard deviation of the gold
    probability across epochs).

    Orientation: the **ambiguity** axis, not difficulty (``axis="ambiguity"``). High variability = the
    "ambiguous" region of the data map; it is *not* monotone in difficulty: never-learned samples,
    the hardest ones, have low variability too (on the published QA run it correlated negatively
    with the loss, and it ranked noisy labels below chance). So it is reported as its own axis (the
    data map's x axis) and left out of the difficulty rankings, the score comparisons and the
    label-error detection tables; use confidence or the action score for difficulty.
    """
    dyn.require("gold_prob")

    def block_std(b: np.ndarray) -> np.ndarray:
        bf = b.astype(np.float64, copy=False)
        return bf.std(axis=1)

    return _rowwise(block_std, dyn.gold_prob)


@score(
    "cartography_correctness",
    needs=("eval.correct",),
    description="One minus cartography correctness: 1 - mean_t correct_t, eval pass.",
    formula=r"$1 - \tfrac{1}{T}\sum_t c_t(x)$",
    reference=_CARTO,
    cites=("swayamdipta2020",),
    orientation="Wrong at more checkpoints = harder.",
)
def cartography_correctness_score(dyn: Dynamics) -> np.ndarray:
    r"""Cartography correctness, oriented as hardness: ``1 - (1/T) sum_t c_t(x)``.

    Reference: Swayamdipta et al., EMNLP 2020 (fraction of epochs where the prediction is right).
    For sequences ``c_t`` is the token-accuracy fraction, averaged as is (not thresholded).

    Orientation: wrong at more checkpoints = harder; in [0, 1].
    """
    return 1.0 - _row_mean(dyn, "correct")


# ---------------------------------------------------------------------------------------------
# Forgetting events
# ---------------------------------------------------------------------------------------------


@score(
    "forgetting_events",
    needs=("eval.correct",),
    description="Count of correct -> incorrect transitions; never-correct samples get T.",
    formula=r"$\#\{t : c_{t-1}(x) = 1, c_t(x) = 0\}$; never learned: $T$",
    reference="Toneva et al., ICLR 2019",
    cites=("toneva2019",),
    orientation="More forgetting = harder; never learned = hardest (T > any possible count).",
)
def forgetting_events_score(dyn: Dynamics, threshold: float = 0.5) -> np.ndarray:
    r"""Forgetting events: number of transitions from correct to incorrect.

    ``F(x) = #{t in 1..T-1 : c_{t-1}(x) and not c_t(x)}``; samples never correct at any checkpoint
    get ``T`` (the "infinite forgetting" of never-learned samples, made finite: T is larger than
    any possible count, which is at most floor(T/2)). ``c_t`` is the ``correct`` column; a
    non-bool column (token accuracy for sequences) counts as correct when ``>= threshold``.

    Reference: Toneva et al., "An Empirical Study of Example Forgetting during Deep Neural Network
    Learning", ICLR 2019.

    Orientation: more forgetting = less stable = harder; never learned = hardest.
    """
    dyn.require("correct")
    _check_threshold(threshold)
    t = dyn.n_checkpoints

    def block_forget(b: np.ndarray) -> np.ndarray:
        c = _is_correct(b, threshold)
        events = (c[:, :-1] & ~c[:, 1:]).sum(axis=1)
        return np.where(c.any(axis=1), events, t)

    return _rowwise(block_forget, dyn.correct)


# ---------------------------------------------------------------------------------------------
# Area under the margin
# ---------------------------------------------------------------------------------------------


@score(
    "aum",
    needs=("eval.margin",),
    description="Minus the area under the margin: -mean_t (gold logit - largest other logit).",
    formula=r"$-\tfrac{1}{T}\sum_t m_t(x)$",
    reference="Pleiss et al., NeurIPS 2020",
    cites=("pleiss2020",),
    orientation="Low AUM = model prefers another class = likely mislabelled/hard; minus AUM so higher = harder.",
)
def aum_score(dyn: Dynamics) -> np.ndarray:
    r"""Area under the margin, oriented as hardness: ``-AUM(x) = -(1/T) sum_t M_t(x)``.

    ``M_t = z_{t,y} - max_{j != y} z_{t,j}`` (the ``margin`` column, on logits).

    Reference: Pleiss, Zhang, Elenberg and Weinberger, "Identifying Mislabeled Data using the Area
    Under the Margin Ranking", NeurIPS 2020.

    Orientation: a low (negative) AUM means the model keeps preferring another class = likely
    mislabelled / hard, so the score is minus the AUM. For the threshold-sample cut-off use
    :func:`aum_threshold_samples` and :func:`aum_flags` (they take the plain AUM, ``-aum_score``).
    """
    return -_row_mean(dyn, "margin")


def aum_threshold_samples(n: int, num_classes: int, seed: int) -> np.ndarray:
    """Positions (sorted, in ``0..n-1``) of the threshold samples of Pleiss et al. 2020.

    ``floor(n / (num_classes + 1))`` samples, drawn uniformly without replacement by
    ``numpy.random.default_rng(seed)``: deterministic given ``(n, num_classes, seed)``. The
    training run relabels them to the fake extra class ``num_classes``; positions refer to the
    samples sorted by sample_id (the order of :class:`Dynamics` and :func:`compute_scores`).
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ParameterError("n", n, "an integer >= 1")
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ParameterError("num_classes", num_classes, "an integer >= 2 (classification)")
    m = int(n) // (int(num_classes) + 1)
    if m < 1:
        raise ParameterError("n", n, f"at least num_classes + 1 = {num_classes + 1} samples to draw threshold samples")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(int(n), size=m, replace=False))


def _threshold_mask(threshold_samples: np.ndarray, n: int) -> np.ndarray:
    ts = np.asarray(threshold_samples)
    if ts.dtype == bool:
        if ts.shape != (n,):
            raise ParameterError("threshold_samples", f"bool array of shape {ts.shape}", f"shape ({n},)")
        mask = ts
    else:
        if ts.ndim != 1 or (ts.size and (ts.min() < 0 or ts.max() >= n)):
            raise ParameterError("threshold_samples", _short(ts), f"positions in [0, {n - 1}] or a bool mask")
        mask = np.zeros(n, dtype=bool)
        mask[ts] = True
    if not mask.any():
        raise ParameterError("threshold_samples", "empty", "at least one threshold sample")
    return mask


def aum_cutoff(aum: np.ndarray, threshold_samples: np.ndarray, percentile: float = 99.0) -> float:
    """The AUM cut-off ``alpha``: the ``percentile``-th percentile of the threshold samples' AUM.

    ``aum`` is the plain AUM (mean margin, higher = easier; i.e. ``-aum_score(dyn)``) of the run in
    which the threshold samples carried the fake label; ``threshold_samples`` is a position array
    (from :func:`aum_threshold_samples`) or a bool mask. Pleiss et al. 2020 use the 99th percentile.
    """
    aum = np.asarray(aum, dtype=np.float64)
    if aum.ndim != 1 or not np.isfinite(aum).all():
        raise ParameterError("aum", f"array of shape {aum.shape}", "a finite 1-D array")
    if not 0.0 <= percentile <= 100.0:
        raise ParameterError("percentile", percentile, "a number in [0, 100]")
    mask = _threshold_mask(threshold_samples, aum.shape[0])
    return float(np.percentile(aum[mask], percentile))


def aum_flags(aum: np.ndarray, threshold_samples: np.ndarray, percentile: float = 99.0) -> np.ndarray:
    """Flag mask of Pleiss et al. 2020: non-threshold samples with AUM strictly below the cut-off.

    ``flags[i] = (aum[i] < aum_cutoff(...)) and i is not a threshold sample`` (the threshold
    samples themselves, which carry a fake label, are never flagged). ``aum`` is the plain AUM
    (``-aum_score(dyn)``), ordered like the samples the threshold positions refer to.
    """
    alpha = aum_cutoff(aum, threshold_samples, percentile)
    mask = _threshold_mask(threshold_samples, len(aum))
    return (np.asarray(aum, dtype=np.float64) < alpha) & ~mask


# ---------------------------------------------------------------------------------------------
# EL2N, VoG, entropy
# ---------------------------------------------------------------------------------------------


@score(
    "el2n",
    needs=("eval.el2n or (eval.gold_prob and num_classes == 2)",),
    compute=_compute_el2n,
    description="EL2N: ||softmax - onehot(label)||_2 at the first checkpoint, eval pass.",
    formula=r"$\lVert p_1(x) - e_y \rVert_2$ at the first checkpoint",
    reference="Paul, Ganguli & Dziugaite, NeurIPS 2021",
    cites=("paul2021",),
    orientation="Larger early error vector = harder.",
)
def el2n_score(dyn: Dynamics, checkpoint: int = 0, num_classes: int | None = None) -> np.ndarray:
    r"""EL2N: ``|| softmax(z_t(x)) - onehot(y) ||_2`` at an early checkpoint (position ``checkpoint``, default the first).

    Uses the recorded ``el2n`` column. Only when it is absent *and* ``num_classes == 2`` it falls
    back to the exact binary identity ``sqrt(2) (1 - p_t(x))`` (softmax ``(p, 1-p)`` against the
    one-hot gives the vector ``(p-1, 1-p)``).

    Reference: Paul, Ganguli and Dziugaite, "Deep Learning on a Data Diet", NeurIPS 2021 (who also
    average over a few seeds: average this score over runs for that). GraNd is not implemented.

    Orientation: a larger error vector early in training = harder.
    """
    if dyn.el2n is not None:
        return _column_at(dyn, "el2n", checkpoint)
    if num_classes == 2 and dyn.gold_prob is not None:
        return math.sqrt(2.0) * (1.0 - _column_at(dyn, "gold_prob", checkpoint))
    dyn.require("el2n")  # raises, naming the missing column
    raise AssertionError  # pragma: no cover


@score(
    "vog",
    needs=("vog", "labels"),
    compute=_compute_vog,
    description="Variance of gradients of the gold logit w.r.t. input embeddings, per element, class-normalised.",
    formula=r"mean over the elements (tokens $i$, embedding dimensions $d$) of $\sqrt{\mathrm{Var}_t\, g_{t,i,d}(x)}$, $g_t$ the gradient of the gold logit w.r.t. the input word embeddings at checkpoint $t$ (population variance over checkpoints, Welford); normalised within each class (raw without labels)",
    reference="Agarwal, D'souza & Hooker, CVPR 2022",
    cites=("agarwal2022",),
    orientation="Gradients that keep changing across checkpoints = atypical/hard; higher = harder within its class (the authors' orientation, kept; on text it also tracks length: shorter inputs, larger per-token gradients).",
)
def vog_score(vog: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    r"""Variance of gradients, class-normalised: ``(VoG(x) - mu_y) / sigma_y``.

    ``VoG(x) = mean over input elements of sqrt((1/T) sum_t (S_t - mean_t S_t)^2)``, with ``S_t``
    the gradient of the gold logit w.r.t. the input word embeddings, one value per element (token
    position, embedding dimension; the mean is over the D dimensions of each real token, then over
    the tokens), as the engine's online (Welford) statistics give it (the ``vog`` column,
    :class:`nlpdiff.recording.VogAccumulator`). No reduction comes before the variance: averaging a
    token's gradient over its dimensions first, as an earlier version did, gives exactly zero behind
    the embedding LayerNorm of BERT-like models (float noise of 1e-11..1e-10 on MiniLM). ``mu_y, sigma_y`` are the
    mean and population std of VoG over the samples of class y; a class whose VoG is constant
    gets 0. With ``labels=None`` (non-classification tasks) the raw VoG is returned.

    Reference: Agarwal, D'souza and Hooker, "Estimating Example Difficulty using Variance of
    Gradients", CVPR 2022.

    Orientation: gradients that keep changing across checkpoints = atypical / hard; higher =
    harder (relative to its class), as its authors orient it. On text the per-token gradient is
    larger in shorter inputs (attention and pooling share the output among fewer tokens), so VoG
    also ranks by length; compare it with length partialled out (``benchmarks/vog_definition.py``
    measures both on a fine-tuned MiniLM run). On the scratch backbone (mean-pooled n-gram bag,
    linear head) every n-gram of a sample gets the same gradient, the gold class's weights over the
    n-gram count, so the class-normalised VoG is a function of the n-gram count alone.
    """
    v = np.asarray(vog, dtype=np.float64)
    if v.ndim != 1:
        raise ParameterError("vog", f"array of shape {v.shape}", "a 1-D array")
    if not np.isfinite(v).all():
        i = int(np.flatnonzero(~np.isfinite(v))[0])
        raise ParameterError("vog", float(v[i]), "finite values", hint=f"position {i}")
    if labels is None:
        return v.copy()
    lab = np.asarray(labels)
    if lab.shape != v.shape:
        raise ParameterError("labels", f"array of shape {lab.shape}", f"shape {v.shape}")
    if pd.isna(lab).any():
        raise ParameterError("labels", "null", "a label for every sample (or labels=None)")
    _, inv = np.unique(lab, return_inverse=True)
    counts = np.bincount(inv).astype(np.float64)
    mean = np.bincount(inv, weights=v) / counts
    centred = v - mean[inv]
    std = np.sqrt(np.bincount(inv, weights=centred**2) / counts)
    s = std[inv]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(s > 0, centred / np.where(s > 0, s, 1.0), 0.0)
    return out


@score(
    "mean_entropy",
    needs=("eval.entropy",),
    description="Mean predictive entropy over checkpoints (nats), eval pass.",
    formula=r"$\tfrac{1}{T}\sum_t H_t(x)$",
    reference=_ANGELOV + " (baseline)",
    cites=("angelov2025",),
    orientation="The model stays uncertain about the sample = harder.",
)
def mean_entropy_score(dyn: Dynamics) -> np.ndarray:
    r"""Mean predictive entropy over checkpoints: ``(1/T) sum_t H_t(x)``, ``H_t = -sum_j q_{t,j} log q_{t,j}`` (nats).

    Reference: the predictive-entropy baseline of Angelov, Tashu and Valdenegro-Toro, "Difficulty
    Estimation in Natural Language Tasks with Action Scores", TrustNLP 2025.

    Orientation: a model that stays uncertain about the sample = harder. Label-free: it does not
    see whether the prediction is right.
    """
    return _row_mean(dyn, "entropy")


@score(
    "final_entropy",
    needs=("eval.entropy",),
    description="Predictive entropy at the last checkpoint (nats), eval pass.",
    formula=r"$H_T(x)$",
    reference=_ANGELOV + " (baseline)",
    cites=("angelov2025",),
    orientation="The trained model is uncertain = harder.",
)
def final_entropy_score(dyn: Dynamics) -> np.ndarray:
    r"""Predictive entropy at the last checkpoint: ``H_{T-1}(x)``.

    Reference: Angelov, Tashu and Valdenegro-Toro, TrustNLP 2025 (entropy of the trained model).

    Orientation: the trained model is uncertain = harder.
    """
    return _column_at(dyn, "entropy", -1)


@score(
    "learning_speed",
    needs=("eval.correct",),
    description="First checkpoint from which the sample stays correct (>= 0.5 for token accuracy); T if never.",
    formula=r"first checkpoint (counted from 0) from which $c_t(x)$ stays 1; never: $T$",
    reference="Toneva et al., ICLR 2019 (iteration learned)",
    cites=("toneva2019",),
    orientation="Learned later = harder; not learned by the end = hardest (T).",
)
def learning_speed_score(dyn: Dynamics, threshold: float = 0.5) -> np.ndarray:
    r"""Learning speed: index of the first checkpoint from which the sample stays correct.

    ``S(x) = min{t : c_u(x) for every u >= t}`` (checkpoint positions 0..T-1); a sample that is not
    correct at the last checkpoint (never learned, or forgotten at the end) gets ``T``. For a
    non-bool ``correct`` (token accuracy for sequences) correct means ``>= threshold`` (0.5).

    Reference: the "iteration learned" of Toneva et al., ICLR 2019 (first epoch after which an
    example stays learned); cf. learning-speed difficulty in curriculum work.

    Orientation: learned later = harder; never learned = hardest (T).
    """
    dyn.require("correct")
    _check_threshold(threshold)
    t = dyn.n_checkpoints

    def block_speed(b: np.ndarray) -> np.ndarray:
        c_rev = _is_correct(b, threshold)[:, ::-1]
        # length of the trailing run of correct checkpoints
        trailing = np.where(c_rev.all(axis=1), t, np.argmin(c_rev, axis=1))
        return t - trailing

    return _rowwise(block_speed, dyn.correct)


# confident learning, registered last (the registration order is the column order of scores.parquet)
from nlpdiff.scores.confident_learning import confident_learning_score, kfold_indices  # noqa: E402,F401
