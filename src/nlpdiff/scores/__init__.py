r"""Difficulty scores: pure functions from a run's recorded dynamics to one number per sample.

Convention, for every score: **higher = harder**. Every score sits on an *axis*
(:data:`AXES`): ``"difficulty"`` (the default) or ``"ambiguity"``. Cartography variability is the
one ambiguity score: high variability marks the "ambiguous" region of a data map, which is not
monotone in difficulty (never-learned samples vary little), so it is reported beside the difficulty
scores, not among them: :func:`difficulty_scores` lists the difficulty axis, and the analyses that
rank samples by difficulty (:func:`nlpdiff.compare.score_columns`,
:func:`nlpdiff.analysis.detection_table`) leave the ambiguity axis out unless asked. Each score function takes the wide container :class:`Dynamics` (one pass of
``dynamics.parquet`` pivoted to ``(N, T)`` arrays, with every numeric column a head recorded) plus
its parameters, and returns a float64 array of shape ``(N,)`` aligned with ``Dynamics.sample_ids``.

A score is registered once, where it is defined, with the :func:`score` decorator (or a
:func:`register` call for a second variant of the same function)::

    @score("mean_loss", needs=("eval.loss",), formula=r"$\tfrac{1}{T}\sum_t L_t(x)$",
           description="Mean loss over checkpoints, eval pass.", reference="Baseline",
           orientation="Higher average loss = harder.")
    def mean_loss_score(dyn): ...

The registration states what the score needs (columns of one pass, or the VoG table, class
labels, the number of classes, K-fold probabilities), its formula, its reference and its
orientation. :data:`SCORES` holds them in registration order, which is the column order of
``scores.parquet``; :func:`compute_scores` computes every registered score whose inputs are present
and records why it skipped the others; :func:`score_table` and :func:`score_table_markdown` render
the registry (the latter is the table of the book's Methods page, ``book/score_table.md``).

Notation (as on the book's Methods page): N samples, checkpoints ``t = 0..T-1`` in time order,
per-sample loss ``L_t`` (cross-entropy; mean token NLL for sequences), gold-label probability
``p_t``, margin ``M_t`` (gold logit minus the largest other logit), predictive entropy ``H_t``,
correctness ``c_t`` (bool for classification, token-accuracy fraction for sequences). The
references are listed in full in ``book/references.md``.

Every score is a per-sample function of that sample's own rows only (VoG's class normalisation and
AUM's threshold cut-off are the documented exceptions), so the scores do not depend on the order of
samples or rows. The work is vectorised with numpy over blocks of rows (no Python loop over
samples), which bounds the temporary memory to a few blocks whatever N is.

The package holds the container (:mod:`nlpdiff.scores.container`), the registry and
:func:`compute_scores` (:mod:`nlpdiff.scores.registry`), the built-in scores (the action family in
:mod:`nlpdiff.scores.action`, the others in :mod:`nlpdiff.scores.baselines`) and the tables of the
registry (:mod:`nlpdiff.scores.table`); everything is importable from ``nlpdiff.scores``.
"""

from __future__ import annotations

# registration order is the column order of scores.parquet: the action family first, then the others
from nlpdiff.scores.container import (  # noqa: E402
    AXES,
    Dynamics,
    KEY_COLUMNS,
    PASSES,
    VALUE_COLUMNS,
)
from nlpdiff.scores.registry import (  # noqa: E402
    CITATIONS,
    SCORES,
    SPECIAL_NEEDS,
    ScoreSpec,
    compute_scores,
    difficulty_scores,
    family_members,
    register,
    score,
    score_axis,
    score_family,
    unregister,
)
from nlpdiff.scores.action import (  # noqa: E402
    action_score,
    action_token_sum_score,
    action_trapezoid_score,
    early_action_score,
    final_loss_score,
    mean_loss_score,
)
from nlpdiff.scores.baselines import (  # noqa: E402
    aum_cutoff,
    aum_flags,
    aum_score,
    aum_threshold_samples,
    cartography_confidence_score,
    cartography_correctness_score,
    cartography_stats,
    cartography_variability_score,
    confident_learning_score,
    el2n_score,
    final_entropy_score,
    forgetting_events_score,
    kfold_indices,
    learning_speed_score,
    mean_entropy_score,
    vog_score,
)
from nlpdiff.scores.table import (  # noqa: E402
    SCORE_TABLE_PATH,
    run_score_table,
    score_table,
    score_table_markdown,
    write_score_table,
)

__all__ = [
    "Dynamics",
    "ScoreSpec",
    "SCORES",
    "PASSES",
    "VALUE_COLUMNS",
    "KEY_COLUMNS",
    "SPECIAL_NEEDS",
    "CITATIONS",
    "AXES",
    "difficulty_scores",
    "score_axis",
    "score_family",
    "family_members",
    "register",
    "score",
    "unregister",
    "compute_scores",
    "run_score_table",
    "score_table",
    "score_table_markdown",
    "write_score_table",
    # action score and loss baselines
    "action_score",
    "action_trapezoid_score",
    "early_action_score",
    "action_token_sum_score",
    "mean_loss_score",
    "final_loss_score",
    # dataset cartography
    "cartography_stats",
    "cartography_confidence_score",
    "cartography_variability_score",
    "cartography_correctness_score",
    # others
    "forgetting_events_score",
    "aum_score",
    "aum_threshold_samples",
    "aum_cutoff",
    "aum_flags",
    "el2n_score",
    "vog_score",
    "mean_entropy_score",
    "final_entropy_score",
    "learning_speed_score",
    "confident_learning_score",
    "kfold_indices",
]
