"""The study beside the library: can the action score measure the difficulty of samples in NLP tasks?

:mod:`nlpdiff` is the helper library (data, models, the training loop, run folders, scores,
analyses, the ``score`` and ``audit`` commands); this package is the study that uses it, installed
with ``pip install 'nlpdiff[study]'`` (Snakemake, Jupyter Book, papermill):

* :mod:`nlpdiff_study.workflow` reads the profiles of ``params/`` (the grid of training runs and the
  analyses) for the ``Snakefile``; :mod:`nlpdiff_study.runner` executes a notebook of ``notebooks/``
  with papermill; :mod:`nlpdiff_study.cli` adds ``nlpdiff run``, ``nlpdiff study``, ``nlpdiff grid`` and
  ``nlpdiff book``;
* the grids that run in parts outside the profiles, each part writing small committed tables under
  ``results/<grid>/<part>/``: one schema, loader and runner, :mod:`nlpdiff_study.grid`, over
  :mod:`nlpdiff_study.mislabel`, :mod:`nlpdiff_study.curriculum`, :mod:`nlpdiff_study.learning_curve` and
  :mod:`nlpdiff_study.model_size`; the NLI page's pool and tables, :mod:`nlpdiff_study.nli`;
* :mod:`nlpdiff_study.conclusions`: the numbers of the book's answer, read from those tables.

The library never imports this package (``tests/test_imports.py``).
"""
