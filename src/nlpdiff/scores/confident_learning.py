"""Confident learning (Northcutt et al. 2021, via ``cleanlab``): the score from K-fold out-of-sample
predicted probabilities and the deterministic folds; the K trainings are orchestrated elsewhere
(:mod:`nlpdiff.detection`). Registered after the other baselines (:mod:`nlpdiff.scores.baselines`)."""

from __future__ import annotations

import numpy as np

from nlpdiff.errors import ParameterError
from nlpdiff.scores.container import _short
from nlpdiff.scores.registry import _Context, _Unavailable, score


def _cl_unavailable(ctx: _Context):
    raise _Unavailable("confident learning needs out-of-sample pred_probs from K trainings (kfold_indices + confident_learning_score)")


# ---------------------------------------------------------------------------------------------
# Confident learning (K-fold, orchestrated elsewhere)
# ---------------------------------------------------------------------------------------------


@score(
    "confident_learning",
    needs=("kfold_pred_probs", "labels"),
    compute=_cl_unavailable,
    description="1 - cleanlab label quality (self-confidence) from K-fold out-of-sample pred_probs.",
    formula=r"$1 - p^{\text{oof}}_{y}(x)$ from $K$-fold out-of-fold probabilities, via `cleanlab`",
    reference="Northcutt, Jiang & Chuang, JAIR 2021 (cleanlab)",
    cites=("northcutt2021cl",),
    orientation="Low probability of the given label out of sample = likely mislabelled = higher.",
)
def confident_learning_score(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    r"""Confident-learning label-issue score: ``1 - get_label_quality_scores(labels, pred_probs)``.

    cleanlab's default "self_confidence" quality is ``pred_probs[i, labels[i]]``, so the score is
    one minus the out-of-sample probability of the given label. ``pred_probs`` must be
    out-of-sample (K-fold cross-validation, see :func:`kfold_indices`); ``labels`` in ``0..K-1``.

    Reference: Northcutt, Jiang and Chuang, "Confident Learning", JAIR 2021; the ``cleanlab``
    package (``cleanlab.rank.get_label_quality_scores``).

    Orientation: a low quality score = the given label is likely wrong = higher score = harder
    (more likely mislabelled). Never computed by :func:`compute_scores` (it needs K trainings).
    """
    from cleanlab.rank import get_label_quality_scores

    lab = np.asarray(labels)
    probs = np.asarray(pred_probs, dtype=np.float64)
    if probs.ndim != 2 or lab.shape != (probs.shape[0],):
        raise ParameterError(
            "pred_probs",
            f"array of shape {probs.shape} with labels of shape {lab.shape}",
            "pred_probs of shape (N, K) and labels of shape (N,)",
        )
    if not np.issubdtype(lab.dtype, np.integer) or (lab.size and (lab.min() < 0 or lab.max() >= probs.shape[1])):
        raise ParameterError("labels", _short(lab), f"integers in [0, {probs.shape[1] - 1}]")
    return 1.0 - np.asarray(get_label_quality_scores(lab, probs), dtype=np.float64)


def kfold_indices(n: int, k: int, seed: int, labels: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Deterministic K-fold split for out-of-sample predicted probabilities.

    Returns ``k`` pairs ``(train_positions, heldout_positions)`` of sorted int arrays over
    ``0..n-1``; each position is held out exactly once. With ``labels`` the folds are stratified
    (``sklearn.model_selection.StratifiedKFold(shuffle=True, random_state=seed)``), otherwise
    ``KFold(shuffle=True, random_state=seed)``. Same ``(n, k, seed, labels)`` = same folds.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ParameterError("n", n, "an integer >= 2")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 2 <= k <= n:
        raise ParameterError("k", k, f"an integer in [2, n={n}]")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError("seed", seed, "a non-negative integer")
    positions = np.zeros((int(n), 1))
    if labels is None:
        splitter = KFold(n_splits=int(k), shuffle=True, random_state=int(seed))
        splits = splitter.split(positions)
    else:
        lab = np.asarray(labels)
        if lab.shape != (n,):
            raise ParameterError("labels", f"array of shape {lab.shape}", f"shape ({n},)")
        _, counts = np.unique(lab, return_counts=True)
        if counts.max() < k:
            raise ParameterError("k", k, f"at most the size of the largest class ({int(counts.max())}) for stratified folds")
        splitter = StratifiedKFold(n_splits=int(k), shuffle=True, random_state=int(seed))
        import warnings

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
            splits = list(splitter.split(positions, lab))
    return [(np.sort(tr).astype(np.int64), np.sort(te).astype(np.int64)) for tr, te in splits]
