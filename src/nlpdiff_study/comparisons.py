"""The study's pre-declared comparisons: primary baselines, families and equivalence margins.

Declared on the Methods page before any result (``tests/test_conclusions.py`` checks that the page
and these constants agree), and read by the answer (:mod:`nlpdiff_study.conclusions`):

* **Finding mislabelled samples** (one family): the action score's ROC AUC against each primary
  baseline of :data:`PRIMARY_BASELINES` that a cell computed, pooled over every cell of the label-noise
  grid and its seeds (:func:`pooled_detection`, a two-stage cluster bootstrap: cells, then seeds),
  Holm-adjusted over the baselines; equivalence at :data:`MARGIN_AUC`.
* **Curricula** (one family per part, as on the curriculum page): the action order against shuffled
  training and against the same pacing with a random order; equivalence at :data:`MARGIN_ACCURACY`.
* **Human disagreement** (NLI, one family): the action score's Spearman correlation with ChaosNLI's entropy
  against each of :data:`NLI_BASELINES`, pooled over the NLI page's runs (cells: task x backbone; then seeds)
  with :func:`pooled_detection` on that metric; equivalence at :data:`MARGIN_RHO`.

"The cell's best other score" (chosen after the fact, on the same seeds) stays on the pages as an
exploratory comparison, labelled so; it favours the baseline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nlpdiff import stats
from nlpdiff_study.curriculum import SCHEDULES, SETTING  # a setting's columns, the paced schedules
from nlpdiff_study.pages import format_number, format_p

#: The baselines every detection claim compares the action score with, fixed before the results: the
#: loss at the last checkpoint (the action score's own last term), the area under the margin (Pleiss
#: et al.), dataset cartography's confidence (Swayamdipta et al.), predictive entropy of the final
#: model (the seed study's only baseline, Angelov et al.) and confident learning (Northcutt et al.)
#: where a cell computed it.
PRIMARY_BASELINES = ("final_loss", "aum", "cartography_confidence", "final_entropy", "confident_learning")
#: Equivalence margin of a difference in ROC AUC (two one-sided tests).
MARGIN_AUC = 0.01
#: Equivalence margin of a difference in held-out accuracy (a fraction: one point).
MARGIN_ACCURACY = 0.01
#: Equivalence margin of a difference in Spearman correlation with human disagreement (ChaosNLI's entropy).
MARGIN_RHO = 0.05
#: The baselines of the human-disagreement question (NLI): the model's mean predictive entropy (the seed study's
#: baseline) and the primary baselines a run computes (confident learning is a detection method, not run there).
NLI_BASELINES = ("mean_entropy", *(b for b in PRIMARY_BASELINES if b != "confident_learning"))


#: How a pooled verdict reads in a sentence: "the action score's <measure> is <words> `<baseline>`".
VERDICT_WORDS = {"better": "higher than", "worse": "lower than", "equivalent": "equivalent (within the margin) to",
                 "not shown to differ": "not shown to differ from"}


def pooled_phrases(pooled: pd.DataFrame) -> list[str]:
    """One phrase per baseline of a pooled comparison (:func:`pooled_detection`, or the NLI page's
    ``pooled_agreement``), as every page writes it: the verdict's words, the baseline, the estimate with its 95 %
    interval and Holm p value, the minimum detectable difference where the comparison is not shown to differ,
    and the number of cells where a baseline was computed in fewer cells than the others."""
    most = pooled["n_cells"].max() if len(pooled) else 0
    out = []
    for r in pooled.to_dict("records"):
        sign = lambda x: format_number(float(x), signed=True)  # noqa: E731
        text = (f"{VERDICT_WORDS[r['verdict']]} `{r['baseline']}` ({sign(r['estimate'])}, 95 % interval "
                f"{sign(r['low'])} to {sign(r['high'])}, Holm p {format_p(r['p_holm'])}")
        if r["verdict"] == "not shown to differ":
            text += f"; minimum detectable difference {format_number(float(r['mdd']))}"
        out.append(text + (f"; {int(r['n_cells'])} cells)" if r["n_cells"] < most else ")"))
    return out


def action_family() -> tuple[str, ...]:
    """The action score and its variants (the registry's ``"action"`` family; the mean loss ranks exactly as
    the action score): never "the best other score"."""
    from nlpdiff import scores

    return scores.family_members("action")


def not_baselines() -> tuple[str, ...]:
    """Scores never chosen as "the best other score" (the exploratory comparison): the action family and the
    scores that are not on the difficulty axis (cartography variability measures ambiguity)."""
    from nlpdiff import scores

    return action_family() + tuple(s for s in scores.SCORES if scores.score_axis(s) != "difficulty")


#: The columns that identify one cell of the label-noise grid.
CELL = ("part", "task", "backbone", "length", "noise_rate", "noise_type")


def pooled_detection(summary: pd.DataFrame, baselines=PRIMARY_BASELINES, margin: float = MARGIN_AUC,
                     metric: str = "roc_auc", n_boot: int = 4000, seed: int = 0) -> pd.DataFrame:
    """The action score against each baseline, pooled over the grid's cells and seeds.

    ``summary`` has one row per run and score (``seed``, ``score``, ``metric`` and the :data:`CELL`
    columns it has). For each baseline: the paired differences action minus baseline (same run), their
    cluster-bootstrap estimate and intervals (:func:`nlpdiff.stats.cluster_bootstrap`), Holm over the
    baselines for the difference (``p_holm``) and for equivalence (``p_equivalence_holm``), and the
    verdict (:func:`nlpdiff.stats.equivalence_verdict`). A baseline no cell computed is left out.
    """
    key = [c for c in CELL if c in summary.columns]
    wide = summary.pivot_table(index=[*key, "seed"], columns="score", values=metric, aggfunc="first")
    rows = []
    for base in baselines:
        if base not in wide or "action" not in wide:
            continue
        pair = wide[["action", base]].dropna()
        if pair.empty:
            continue
        cells = pair.index.droplevel("seed").map(lambda k: "|".join(map(str, k if isinstance(k, tuple) else (k,))))
        r = stats.cluster_bootstrap((pair["action"] - pair[base]).to_numpy(), np.asarray(cells), n_boot=n_boot,
                                    seed=seed, margin=margin)
        rows.append({"baseline": base, "n_cells": r["n_clusters"], "n_pairs": r["n_units"],
                     "estimate": r["estimate"], "low": r["low"], "high": r["high"], "low90": r["low90"],
                     "high90": r["high90"], "mdd": r["mdd"], "p": r["p"], "p_equivalence": r["p_equivalence"]})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["p_holm"] = stats.holm(out["p"].to_numpy())
    out["p_equivalence_holm"] = stats.holm(out["p_equivalence"].to_numpy())
    out["verdict"] = [stats.equivalence_verdict(r, margin, p_difference=r["p_holm"],
                                                p_equivalence=r["p_equivalence_holm"])
                      for r in out.to_dict("records")]
    out["margin"] = margin
    return out




def pooled_curriculum(runs: pd.DataFrame, against: str, measure: str = "final", order: str = "action",
                      margin: float = MARGIN_ACCURACY, n_boot: int = 4000, seed: int = 0) -> dict:
    """The ``order`` curricula against a control, pooled over settings, schedules and seeds.

    ``runs``: one row per curriculum run (``schedule``, ``order``, ``seed``, ``measure`` and the
    :data:`SETTING` columns). ``against`` is ``"shuffled"`` (ordinary shuffled training of the same
    setting and seed) or ``"random"`` (the same schedule with a random order). Each paired difference
    is one seed of one (setting, schedule); the clusters are the (setting, schedule) cells. Returns
    :func:`nlpdiff.stats.cluster_bootstrap`'s result with ``verdict`` at ``margin``.
    """
    if against not in ("shuffled", "random"):
        from nlpdiff.errors import ParameterError

        raise ParameterError("against", against, "'shuffled' or 'random'")
    key = [c for c in SETTING if c in runs.columns]
    diffs, clusters = [], []
    for setting, g in runs.groupby(key, sort=False):
        by = {c: d.set_index("seed")[measure] for c, d in g.groupby(["schedule", "order"], sort=False)}
        for (schedule, o), values in by.items():
            if schedule not in SCHEDULES or o != order:
                continue
            control = by.get(("shuffled", "none") if against == "shuffled" else (schedule, "random"))
            if control is None:
                continue
            seeds = sorted(set(values.index) & set(control.index))
            diffs += list(values.loc[seeds].to_numpy(float) - control.loc[seeds].to_numpy(float))
            clusters += [f"{setting}|{schedule}"] * len(seeds)
    r = stats.cluster_bootstrap(diffs, clusters, n_boot=n_boot, seed=seed, margin=margin)
    r["verdict"] = stats.equivalence_verdict(r, margin)
    r["margin"] = margin
    return r
