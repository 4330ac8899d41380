"""Small checks of parameter values shared by the configuration and the heads' options (a leaf module)."""

from __future__ import annotations

import math

import numpy as np

from nlpdiff.errors import ParameterError


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) and math.isfinite(x)


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def positive_int(name: str, value, also: str = "") -> None:
    """Raise :class:`ParameterError` unless ``value`` is an integer >= 1."""
    if not _is_int(value) or value < 1:
        raise ParameterError(name, value, f"an integer >= 1{' ' + also if also else ''}")


__all__ = ["positive_int"]
