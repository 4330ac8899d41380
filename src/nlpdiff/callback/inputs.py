"""The checks of :class:`nlpdiff.callback.DynamicsCallback` on the model and the dataset it records, and
what it reads of the dataset (labels, lengths, scalar columns, the model's forward arguments).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from nlpdiff.errors import ParameterError

#: columns of a training batch that are never model inputs but may carry the label
_LABEL_NAMES = ("labels", "label", "label_ids")


def _check_model(model) -> None:
    """Raise unless ``model`` is a single-label sequence-classification model."""
    if model is None:
        raise ParameterError("model", None, "a model passed by the Trainer to its callbacks")
    name = type(model).__name__
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
    )

    known = set(MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES.values())
    if name not in known and not name.endswith("ForSequenceClassification"):
        if name.endswith("ForQuestionAnswering"):
            what = "extractive question answering"
        elif getattr(config, "is_encoder_decoder", False) or name.endswith(("ForConditionalGeneration", "ForCausalLM", "Seq2SeqLM")):
            what = "sequence-to-sequence / generation"
        else:
            what = "this kind of model"
        raise ParameterError(
            "model", f"{name} (model_type {model_type!r})",
            "a sequence-classification model (AutoModelForSequenceClassification)",
            hint=f"DynamicsCallback does not support {what}; record QA and summarization runs with "
                 "nlpdiff.dynamics.train",
        )
    problem = getattr(config, "problem_type", None)
    num_labels = getattr(config, "num_labels", 2)
    if problem not in (None, "single_label_classification") or num_labels < 2:
        raise ParameterError(
            "model", f"{name} (problem_type {problem!r}, num_labels {num_labels})",
            "single-label classification with num_labels >= 2 (regression and multi-label are not supported)",
        )


def _check_dataset(dataset) -> None:
    try:
        len(dataset)
        dataset[0]
    except (TypeError, NotImplementedError, IndexError, KeyError) as exc:
        raise ParameterError(
            "train_dataset", type(dataset).__name__, "a non-empty map-style dataset (len() and [i])",
            hint="iterable datasets have no stable sample id",
        ) from exc


def _column_values(dataset, key: str) -> list | None:
    """Every sample's ``key`` (None where a sample lacks it), or None when no sample has it."""
    names = getattr(dataset, "column_names", None)
    if names is not None:
        return list(dataset[key]) if key in names else None
    values = []
    for i in range(len(dataset)):
        item = dataset[i]
        values.append(item.get(key) if isinstance(item, Mapping) else None)
    return values if any(v is not None for v in values) else None


def _rows(rows, what: str) -> str:
    rows = list(rows)
    shown = ", ".join(str(int(r)) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
    return f"{len(rows)} {what}, at row(s) {shown}"


def check_dataset_inputs(dataset, label_column: str = "labels", num_labels: int | None = None) -> None:
    """The callback's input checks on the dataset it records, the same as :func:`nlpdiff.dynamics.train`'s,
    before the first training step (each a one-line :class:`ParameterError`):

    * at least two samples;
    * every sample has a label (``label_column``, or ``label`` / ``label_ids``, which collators rename),
      an integer class id (not a string: map string labels to ids first, e.g.
      ``dataset.class_encode_column("label")``), in ``0 .. num_labels - 1``, and at least two classes occur;
    * text columns (string columns of a ``datasets.Dataset``) have no empty cell (missing, or only whitespace).
    """
    from nlpdiff.tasks import is_empty_text

    n = len(dataset)
    if n < 2:
        raise ParameterError("train_dataset", f"{n} sample(s)", "at least two samples to record")
    key = next((k for k in (label_column, *_LABEL_NAMES) if _column_values(dataset, k) is not None), None)
    if key is None:
        first = dataset[0]
        keys = sorted(first) if isinstance(first, Mapping) else type(first).__name__
        raise ParameterError("label_column", label_column, "a label in every sample of the dataset",
                             hint=f"no sample has {label_column!r}, 'label' or 'label_ids'; a sample has {keys}")
    values = _column_values(dataset, key)
    missing = [i for i, v in enumerate(values) if v is None or (isinstance(v, float) and math.isnan(v))]
    if missing:
        raise ParameterError(key, "missing", "a label in every sample", hint=_rows(missing, "samples without one"))
    text = [i for i, v in enumerate(values) if isinstance(v, str)]
    if text:
        raise ParameterError(key, values[text[0]], "integer class ids (0 .. num_labels - 1)",
                             hint=_rows(text, "string labels") + "; map them to ids first, e.g. "
                                  "dataset.class_encode_column(...)")
    bad = [i for i, v in enumerate(values) if isinstance(v, bool) or not isinstance(v, (int, np.integer))
           or v < 0 or (num_labels is not None and v >= num_labels)]
    if bad:
        raise ParameterError(key, values[bad[0]], f"integer class ids in 0 .. {(num_labels or 2) - 1} "
                             "(the model's num_labels)", hint=_rows(bad, "other labels"))
    if len(set(int(v) for v in values)) < 2:
        raise ParameterError(key, int(values[0]), "at least two classes among the labels",
                             hint=f"every sample has the label {int(values[0])}")
    features = getattr(dataset, "features", None) or {}
    for name, feature in features.items():
        if name in (key, *_LABEL_NAMES) or getattr(feature, "dtype", None) not in ("string", "large_string"):
            continue
        empty = [i for i, v in enumerate(dataset[name]) if is_empty_text(v)]
        if empty:
            raise ParameterError(name, "empty", f"a non-empty text in every row of column {name!r}",
                                 hint=_rows(empty, "empty cells (missing, or only whitespace)"))


def _forward_args(model) -> set[str]:
    params = inspect.signature(model.forward).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        # forward(**kwargs): keep the usual encoder inputs
        return {"input_ids", "attention_mask", "token_type_ids", "position_ids", "pixel_values"} | set(params)
    return set(params)


def _lengths(dataset) -> np.ndarray | None:
    """Token count of each sample (``input_ids``), or None when the dataset has none."""
    try:
        column = dataset["input_ids"]
        return np.fromiter((len(x) for x in column), dtype=np.int64, count=len(dataset))
    except Exception:  # noqa: BLE001 - any dataset without a column accessor
        try:
            return np.fromiter((len(dataset[i]["input_ids"]) for i in range(len(dataset))), dtype=np.int64,
                               count=len(dataset))
        except Exception:  # noqa: BLE001
            return None


def _scalar_columns(dataset, n: int) -> dict[str, Any]:
    """The scalar (str, int, float, bool) columns of a ``datasets.Dataset``; {} for other datasets."""
    features = getattr(dataset, "features", None)
    if not features:
        return {}
    out = {}
    for name, feature in features.items():
        dtype = getattr(feature, "dtype", None)
        if type(feature).__name__ in ("Value", "ClassLabel") and dtype not in (None, "null", "binary"):
            values = list(dataset[name])
            if len(values) == n:
                out[name] = values
    return out
