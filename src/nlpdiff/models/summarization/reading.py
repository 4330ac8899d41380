"""Reading a summarization run for a page: its generations, learning curve, held-out change and readable
extremes (see :mod:`nlpdiff.models.summarization`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nlpdiff.errors import ParameterError
from nlpdiff.models.summarization.head import GENERATIONS_FILE

# ------------------------------------------------------------------------------------------------
# Helpers for the notebook
# ------------------------------------------------------------------------------------------------


def load_generations(run_dir, evaluation: str | int = "last") -> pd.DataFrame | None:
    """The held-out generations of a run (``generations.parquet``), or None when it has none.

    ``evaluation``: ``"last"`` (the last evaluation that generated summaries), ``"all"`` (every
    evaluation: column ``evaluation`` counts them from 0, ``point`` says ``before`` training, a
    ``checkpoint`` or the ``last`` one; rows of evaluations without generation have nan ROUGE), or
    an evaluation number.
    """
    path = Path(getattr(run_dir, "path", run_dir)) / GENERATIONS_FILE
    if not path.exists():
        return None
    gens = pd.read_parquet(path)
    if evaluation == "all":
        return gens
    if evaluation == "last":
        generated = gens[gens["generated"].notna()] if "generated" in gens.columns else gens
        last = generated["evaluation"].max()
        return generated[generated["evaluation"] == last].reset_index(drop=True)
    if isinstance(evaluation, (int, np.integer)) and evaluation in set(gens["evaluation"]):
        return gens[gens["evaluation"] == evaluation].reset_index(drop=True)
    raise ParameterError("evaluation", evaluation, f'"last", "all" or one of {sorted(set(gens["evaluation"]))}')


def learning_curve_frame(run, metrics: tuple[str, ...] = ("heldout_rouge1", "heldout_rouge2", "heldout_rougeL",
                                                           "heldout_loss", "train_loss", "train_correct")) -> pd.DataFrame:
    """A run's metrics over training in long form (``epoch``, ``metric``, ``value``), with the
    before-training evaluation at epoch 0 when the run has one and without the values a point did
    not compute (ROUGE between the ends when ``rouge_at="ends"``)."""
    rows = list(run.metrics["checkpoints"])
    if "before_training" in run.metrics:
        rows = [{"checkpoint": -1, "epoch": 0.0, **run.metrics["before_training"]}, *rows]
    wide = pd.DataFrame(rows)
    keep = [m for m in metrics if m in wide.columns]
    long = wide.melt(id_vars=["epoch"], value_vars=keep, var_name="metric", value_name="value")
    return long[np.isfinite(long["value"].astype(float))].reset_index(drop=True)


def heldout_change(gens: pd.DataFrame, metrics: tuple[str, ...] = ("rougeL", "rouge1", "rouge2", "loss"),
                   n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Did training improve held-out quality? Last evaluation minus the one before training, per metric.

    ``gens``: :func:`load_generations` ``(..., "all")`` of a run evaluated before training
    (``point == "before"``). For each metric, the mean over held-out dialogues before and after,
    their difference (after - before) with a 95 % paired bootstrap interval over dialogues and its
    two-sided p value (:func:`nlpdiff.stats.paired_bootstrap`), and ``improved``: the interval
    excludes 0 on the better side (higher ROUGE, lower loss). Metrics not computed at both ends are
    left out.
    """
    from nlpdiff import stats

    if "point" not in gens.columns or not (gens["point"] == "before").any():
        raise ParameterError("gens", "generations without a before-training evaluation",
                             'load_generations(run, "all") of a run whose head evaluates before training')
    before = gens[gens["point"] == "before"].sort_values("heldout_row")
    last = gens[gens["evaluation"] == gens["evaluation"].max()].sort_values("heldout_row")
    rows = []
    for m in metrics:
        if m not in gens.columns:
            continue
        a, b = last[m].to_numpy(float), before[m].to_numpy(float)
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            continue
        res = stats.paired_bootstrap(lambda x, _y: float(np.mean(x)), a, b, np.zeros(len(a)), n_boot=n_boot,
                                     seed=seed)
        lower_better = m == "loss"
        improved = res["high"] < 0 if lower_better else res["low"] > 0
        rows.append({"metric": m, "before": res["metric_b"], "after": res["metric_a"], "change": res["diff"],
                     "low": res["low"], "high": res["high"], "p": res["p"], "n": len(a),
                     "better": "lower" if lower_better else "higher", "improved": bool(improved)})
    return pd.DataFrame(rows)


def excerpt(text: str, max_lines: int = 6, max_chars: int = 400) -> str:
    """The first ``max_lines`` lines of a dialogue (at most ``max_chars`` characters), ' / '-joined."""
    lines = [ln.strip() for ln in str(text).replace("\r\n", "\n").split("\n") if ln.strip()]
    out = " / ".join(lines[:max_lines])
    if len(out) > max_chars:
        out = out[:max_chars].rstrip() + " ..."
    elif len(lines) > max_lines:
        out += f" / ... (+{len(lines) - max_lines} lines)"
    return out


def readable_extremes(samples: pd.DataFrame, scores: pd.DataFrame, score: str = "action", k: int = 5,
                      document: str = "dialogue", reference: str = "summary",
                      skip_truncated: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``k`` hardest and easiest training samples under ``score``, with a dialogue excerpt,
    the reference summary, the token counts and the score (see :func:`nlpdiff.analysis.extremes`).

    ``skip_truncated``: rank only the dialogues that fit the input budget (``truncated`` column).
    """
    from nlpdiff.analysis import extremes

    cols = [c for c in (document, reference, "n_input_tokens", "n_target_tokens") if c in samples.columns]
    if skip_truncated and "truncated" in samples.columns:
        # a truncated dialogue's loss is that of a dialogue the model only partly saw: not its difficulty
        samples = samples[~samples["truncated"].astype(bool)]
    hard, easy = extremes(samples, scores, score, k=k, columns=cols)
    for t in (hard, easy):
        t[document] = t[document].map(excerpt)
    return hard, easy
