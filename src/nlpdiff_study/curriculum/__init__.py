"""Curriculum learning ordered by a difficulty score, with the controls of Wu, Dyer and Neyshabur (2021).

Three parts:

* **samplers** (:mod:`nlpdiff.curriculum`, in the library, re-exported here): competence pacing
  (:class:`CompetenceSampler`), baby steps and annealing (:class:`BucketSampler`) and their machinery
  (:class:`PacedSampler`), each over an *order* of the training positions and a *budget* of optimiser
  steps (:func:`budget_steps`); their definitions are in that module's documentation.

* **orders** (:func:`difficulty_order`): positions sorted by a difficulty score (higher = harder),
  from a *separate* scoring run (another seed; a run never orders its data by its own dynamics),
  or by text length (loss-free), or random (the control), or reversed (anti-curriculum).

* **a grid** (:func:`compute`, run by ``nlpdiff grid curriculum PART``, :mod:`nlpdiff_study.grid`): a part of
  ``params/grids/curriculum.yaml`` names its training parameters (a task and a backbone among them), the
  seeds and the settings (label noise, budget); the runner trains the scoring run for each noise setting, then every (schedule x order)
  cell and the controls over the seeds through :func:`nlpdiff.dynamics.train` with held-out
  evaluation at every checkpoint, and writes small tables to ``results/curriculum/<part>/``:
  ``runs.csv`` (one row per run), ``curves.csv`` (held-out metric per checkpoint), ``scoring.csv``
  (the scoring runs and their cost) and ``part.json`` (the part's definition). Run directories are
  reused when they are complete and were made for the same cell, so a part resumes.

:func:`summarize` (mean and 95 % interval over seeds of the final held-out metric and the area
under the held-out learning curve) and :func:`paired_tests` (paired t tests over the same seeds of
each curriculum against random-order pacing and against shuffled training, Holm-adjusted across
the table) turn the tables into the chapter's figures.

Modules: :mod:`.parts` (a part's definition and its runner), :mod:`.tables` (statistics and charts of the
committed tables); every public name is importable from this package.
"""

from nlpdiff.curriculum import (  # noqa: F401
    SCHEDULES, CONTROLS, competence, budget_steps, split_steps, PacedSampler, CompetenceSampler,
    BucketSampler, difficulty_order, make_sampler,
)
from nlpdiff_study.curriculum.parts import (  # noqa: F401
    LOSS_FREE_ORDERS, PERCENT_METRICS, Part, check_part, aulc, text_lengths, compute, load_results,
)
from nlpdiff_study.curriculum.tables import (  # noqa: F401
    SETTING, summarize, paired_tests, settings_that_learn, learned, action_verdict, curve_bands, cell_label,
    setting_label, difference_chart, curve_chart,
)

__all__ = [
    "BucketSampler", "CompetenceSampler", "PacedSampler", "Part", "aulc", "budget_steps", "cell_label", "competence",
    "check_part", "compute", "curve_bands", "curve_chart", "setting_label", "difficulty_order", "load_results",
    "make_sampler", "paired_tests", "split_steps", "summarize", "text_lengths",
]
