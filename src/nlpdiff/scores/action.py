"""The action score (Arriaga et al.), its variants and the loss baselines."""

from __future__ import annotations

import math

import numpy as np

from nlpdiff.errors import ParameterError
from nlpdiff.scores.container import Dynamics, _blocks, _column_at, _row_mean, _row_sum, _rowwise  # noqa: F401
from nlpdiff.scores.container import _short  # noqa: F401
from nlpdiff.scores.registry import _ANGELOV, _ARRIAGA, register, score  # noqa: F401


# ---------------------------------------------------------------------------------------------
# Action score and loss baselines
# ---------------------------------------------------------------------------------------------


@score(
    "action",
    family="action",
    needs=("eval.loss",),
    description="Action score: loss summed over checkpoints, eval pass (sum_t L_t).",
    formula=r"$A(x) = \sum_{t=1}^{T} L_t(x)$, evaluation pass",
    reference=_ARRIAGA,
    cites=("arriaga2023",),
    orientation="Loss that stays high through training accumulates more action: higher = harder.",
)
def action_score(dyn: Dynamics, column: str = "loss") -> np.ndarray:
    r"""Action score: the loss summed over checkpoints.

    ``A(x) = sum_{t=0}^{T-1} L_t(x)``.

    Reference: Arriaga, Palacio and Valdenegro-Toro, "Difficulty Estimation With Action Scores for
    Computer Vision Tasks", CVPR Workshops 2023 (their ``paz`` code sums a separate per-epoch
    forward pass's cross-entropy; no normalisation).

    Orientation: a sample whose loss stays high through training accumulates more action, so
    higher = harder. Which pass the losses come from is the ``Dynamics``' pass (``eval`` is the
    paper's protocol; ``train`` is the variant). For sequences ``loss`` is the mean token NLL
    (length-normalised); use ``column="loss_sum"`` (or :func:`action_token_sum_score`) for the
    summed token NLL. With the same T for every sample the ranking equals that of the mean loss.
    """
    return _row_sum(dyn, column)


register(
    "action_train",
    action_score,
    family="action",
    needs=("train.loss",),
    description="Action score from the training forward pass (dropout on, weights moving within the epoch).",
    formula=r"$\sum_{t=1}^{T} L_t(x)$ over the training-pass losses",
    reference=_ARRIAGA + " (training-pass variant)",
    cites=("arriaga2023",),
    orientation="More loss accumulated in training = harder.",
)


@score(
    "action_trapezoid",
    family="action",
    needs=("eval.loss", "eval.step"),
    min_checkpoints=2,
    description="Action integrated over optimiser steps (trapezoid rule), eval pass; for uneven checkpoints.",
    formula=r"$\sum_{t=2}^{T} \tfrac{1}{2}\,(L_{t-1} + L_t)(s_t - s_{t-1})$ over the optimiser steps $s_t$ of the checkpoints",
    reference=_ARRIAGA + " (per-step integral variant)",
    cites=("arriaga2023",),
    orientation="Larger area under the loss-vs-step curve = harder.",
)
def action_trapezoid_score(dyn: Dynamics, column: str = "loss") -> np.ndarray:
    r"""Action integrated over optimisation steps with the trapezoid rule.

    ``A_trap(x) = sum_{t=1}^{T-1} (s_t - s_{t-1}) (L_t(x) + L_{t-1}(x)) / 2`` where ``s_t`` is the
    global step of checkpoint t (``Dynamics.steps``; per sample for the training pass, where each
    sample is seen at its own step).

    Reference: Arriaga et al. 2023 (the action as the integral of the loss over training time);
    this step-integrated variant is ours, for uneven checkpoints.

    Orientation: as the action score, a larger area under the loss curve = harder. Units are
    loss x steps. Even with evenly spaced checkpoints it differs from :func:`action_score` (the two
    end checkpoints get half weight). Needs ``steps`` and T >= 2.

    On the training pass (``action_train_trapezoid``) the steps are per sample: the step at which
    the shuffled order put the sample in each epoch. The gaps between a sample's steps, and so the
    weights of its losses, then come from the random order (a sample seen first in epoch 1 and
    last in epoch 2 gets a gap of almost two epochs, one seen last then first a gap of one step),
    not from the sample: two runs that differ only in the shuffle give the same losses different
    weights. It is kept as the per-step reading of the training-pass action, with this caveat in
    its registration; ``action_train`` (equal weights) has no such dependence.
    """
    dyn.require(column, "steps")
    t = dyn.n_checkpoints
    if t < 2:
        raise ParameterError("dynamics.checkpoint", t, "at least 2 checkpoints to integrate over steps")
    steps = np.asarray(dyn.steps, dtype=np.float64)
    values = dyn.get(column)
    if steps.ndim == 1:
        if (np.diff(steps) < 0).any():
            raise ParameterError("dynamics.step", _short(steps), "steps non-decreasing with the checkpoint")
        # trapezoid weights: w_0 = (s_1-s_0)/2, w_t = (s_{t+1}-s_{t-1})/2, w_{T-1} = (s_{T-1}-s_{T-2})/2
        w = np.empty(t)
        w[0] = (steps[1] - steps[0]) / 2
        w[-1] = (steps[-1] - steps[-2]) / 2
        w[1:-1] = (steps[2:] - steps[:-2]) / 2
        return _rowwise(lambda b: b.astype(np.float64, copy=False) @ w, values)

    def block_trap(b: np.ndarray, s: np.ndarray) -> np.ndarray:
        ds = np.diff(s, axis=1)
        bf = b.astype(np.float64, copy=False)
        return ((bf[:, 1:] + bf[:, :-1]) * ds).sum(axis=1) / 2

    if (np.diff(steps, axis=1) < 0).any():
        raise ParameterError("dynamics.step", "decreasing", "per-sample steps non-decreasing with the checkpoint")
    return _rowwise(block_trap, values, steps)


register(
    "action_train_trapezoid",
    action_trapezoid_score,
    family="action",
    needs=("train.loss", "train.step"),
    min_checkpoints=2,
    description="Action integrated over each sample's own training steps (trapezoid rule), training pass; its weights depend on the random batch order.",
    formula=r"the trapezoid sum over each sample's own training steps $s_t(x)$, training pass; the gaps $s_t(x) - s_{t-1}(x)$ depend on where the random order put the sample in each epoch",
    reference=_ARRIAGA + " (per-step integral, training pass)",
    cites=("arriaga2023",),
    orientation="Larger area under the training-loss-vs-step curve = harder; caution: each sample's weights are its own gaps between training steps, set by the shuffle, not by the sample (same losses, another order, another score).",
)


def _early_k(dyn: Dynamics, k: int | None) -> int:
    t = dyn.n_checkpoints
    if k is None:
        return max(1, math.ceil(t / 4))
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= t:
        raise ParameterError("k", k, f"an integer in [1, {t}] (T = {t} checkpoints) or None")
    return int(k)


@score(
    "early_action",
    family="action",
    needs=("eval.loss",),
    description="Action over the first ceil(T/4) checkpoints only, eval pass.",
    formula=r"$\sum_{t=1}^{k} L_t(x)$, $k = \lceil T/4 \rceil$",
    reference=_ARRIAGA + " (early truncation variant)",
    cites=("arriaga2023",),
    orientation="Loss that is high early in training = learned late = harder.",
)
def early_action_score(dyn: Dynamics, k: int | None = None, column: str = "loss") -> np.ndarray:
    r"""Early action: the action score truncated to the first k checkpoints.

    ``A_k(x) = sum_{t=0}^{k-1} L_t(x)``; default ``k = ceil(T / 4)`` (the first quarter of the
    checkpoints, at least 1).

    Reference: Arriaga et al. 2023 (action score); truncation is the study's variant (what is hard
    early in training, cf. EL2N of Paul et al. 2021).

    Orientation: high loss accumulated early = learned late or not at all = harder.
    """
    k = _early_k(dyn, k)
    return _row_sum(dyn, column, slice(0, k))


@score(
    "action_token_sum",
    family="action",
    needs=("eval.loss_sum",),
    description="Action on the summed token NLL (sequences), instead of the mean token NLL of 'action'.",
    formula=r"$\sum_t \sum_i \ell_{t,i}(x)$ over the reference tokens $i$ (sequences)",
    reference=_ARRIAGA + "; " + _ANGELOV,
    cites=("arriaga2023", "angelov2025"),
    orientation="More total surprisal over training = harder (grows with target length).",
)
def action_token_sum_score(dyn: Dynamics) -> np.ndarray:
    r"""Action score on the summed token NLL (sequences only).

    ``A_sum(x) = sum_t sum_{tokens i} -log p_t(y_i | x, y_<i)`` (the ``loss_sum`` column), in contrast
    to :func:`action_score`, whose ``loss`` for sequences is the mean token NLL (length-normalised).

    Reference: Arriaga et al. 2023; Angelov, Tashu and Valdenegro-Toro, TrustNLP 2025 (action
    scores for summarization).

    Orientation: more total surprisal over training = harder; note that it grows with the target
    length, so long targets rank harder.
    """
    return _row_sum(dyn, "loss_sum")


@score(
    "mean_loss",
    family="action",
    needs=("eval.loss",),
    description="Mean loss over checkpoints, eval pass ((1/T) sum_t L_t).",
    formula=r"$\tfrac{1}{T}\sum_t L_t(x)$",
    reference="Baseline (same ranking as the action score for equal T)",
    orientation="Higher average loss = harder.",
)
def mean_loss_score(dyn: Dynamics) -> np.ndarray:
    r"""Mean loss over checkpoints: ``(1/T) sum_t L_t(x)``.

    Reference: the baseline the action score must beat (same ranking as the plain action score
    when every sample has the same T; Arriaga et al. 2023 sum the loss without normalisation).

    Orientation: higher average loss = harder.
    """
    return _row_mean(dyn, "loss")


@score(
    "final_loss",
    needs=("eval.loss",),
    description="Loss at the last checkpoint, eval pass.",
    formula=r"$L_T(x)$",
    reference="Baseline; Chong, Hong & Manning, EMNLP 2022",
    cites=("chong2022",),
    orientation="The trained model still has high loss = harder.",
)
def final_loss_score(dyn: Dynamics) -> np.ndarray:
    r"""Loss at the last checkpoint: ``L_{T-1}(x)``.

    Reference: the ordinary per-sample loss of the trained model (e.g. Chong, Hong and Manning,
    EMNLP 2022, for label errors with out-of-sample loss).

    Orientation: higher final loss = the trained model still gets it wrong = harder.
    """
    return _column_at(dyn, "loss", -1)
