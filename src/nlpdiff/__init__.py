"""nlpdiff: can the action score measure the difficulty of samples in NLP tasks?

The package behind the study: task loading (`nlpdiff.tasks`), a run's configuration
(`nlpdiff.config`), models (`nlpdiff.models`), the training loop and its events (`nlpdiff.engine`,
`nlpdiff.samplers`, `nlpdiff.recording`), composed by `nlpdiff.dynamics.train`, the run folder
(`nlpdiff.rundir`), difficulty scores computed from the dynamics (`nlpdiff.scores`), plots
(`nlpdiff.plots`), analyses (`nlpdiff.compare`, `nlpdiff.analysis`, `nlpdiff.detection`,
`nlpdiff.stats`) and the `score`/`audit` commands (`nlpdiff.cli`, `nlpdiff.audit`). The study that
uses it (workflow, notebooks, grid parts, the answer) is the separate package `nlpdiff_study`,
which this package never imports.
"""

from nlpdiff.errors import ParameterError

__version__ = "0.1.0"

__all__ = ["DynamicsCallback", "ParameterError", "__version__"]


def __getattr__(name):  # lazy: importing nlpdiff does not import transformers
    if name == "DynamicsCallback":
        from nlpdiff.callback import DynamicsCallback

        return DynamicsCallback
    raise AttributeError(f"module 'nlpdiff' has no attribute {name!r}")
