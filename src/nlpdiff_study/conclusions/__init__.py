"""The study's answer, written from committed result tables: prose whose every number is read, not typed.

A :class:`Claim` is one sentence of the answer: a template with named slots and, for each slot, a
:class:`Figure` (a number read from a table under ``results/``) or a :class:`Name` (a word read
from one, e.g. the best baseline's name). Templates carry no digits of their own
(:func:`check_template`), and :func:`numbers_in` lets a test check that every number on the
rendered page is one of the figures read (:func:`check_text`). The conclusions page and the first
page of the book (through a glued value) show :func:`render` of :func:`answer`.

The tables come from the parts of the study that commit their summaries: ``results/gpu/``
(fine-tuned runs on a GPU), ``results/mislabel/``, ``results/curriculum/`` and ``results/nli/``
when present. A claim whose table is missing is skipped (:func:`answer` says which), so the page
always builds and never shows a stale number.

Modules: :mod:`.claim` (the claim, its figures and names, the checks), :mod:`.claims` (the sentences on
label noise and NLI read from the tables, :data:`CLAIMS`, :func:`answer`), :mod:`.uses` (the curriculum,
the readings, the second model size) and :mod:`.wording` (reading a table's row, wording a pooled
comparison); every public name is importable from this package.
"""

from nlpdiff_study.comparisons import not_baselines  # noqa: F401
from nlpdiff_study.conclusions.claim import (  # noqa: F401
    NAME_TOKENS, TASK_NAMES, Figure, Name, Claim, check_template, NO_DIFFERENCE_WORDING, check_statistics,
    numbers_in, check_text, render,
)
from nlpdiff_study.conclusions.claims import (  # noqa: F401
    ACTION_FAMILY, strength, detection_claim, chaosnli_claim, grid_claim, real_errors_claim, CLAIMS, answer,
)
from nlpdiff_study.conclusions.uses import curriculum_claim, reading_claim, model_size_claim  # noqa: F401
