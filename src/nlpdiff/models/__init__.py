"""Backbones x heads.

* :mod:`nlpdiff.models.hub`: resolving and loading Hugging Face models (hub id, local folder, or the
  packaged all-MiniLM-L6-v2 and all-mpnet-base-v2 for offline use: ``PACKAGED_MODELS``).
* :mod:`nlpdiff.models.base`: the :class:`~nlpdiff.models.base.Head` interface that the training
  loop drives, and the registry of heads by ``(task kind, backbone)``.
* one module per head family (classification, question answering, summarization, and the
  ``probe`` and ``scratch`` backbones); importing this package registers every head.
"""

import importlib
import pkgutil

from nlpdiff.models.base import BACKBONES, Head, available_heads, get_head, register_head
from nlpdiff.models.hub import (
    PACKAGED_MODELS, LoadedModel, load_classifier, packaged_minilm_path, packaged_mpnet_path, resolve_model,
)

for _info in pkgutil.iter_modules(__path__):
    if _info.name not in ("base", "hub"):
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = [
    "BACKBONES", "PACKAGED_MODELS", "Head", "LoadedModel", "available_heads", "get_head", "load_classifier",
    "packaged_minilm_path", "packaged_mpnet_path", "register_head", "resolve_model",
]
