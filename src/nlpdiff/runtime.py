"""Seeds and devices of a run (a leaf module: the loop and the heads read it)."""

from __future__ import annotations

import random

import numpy as np

from nlpdiff.errors import ParameterError


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global random generators: called once per run.

    The training loop calls it right before the head builds its model, so that the model's new
    weights, then dropout, follow from ``seed`` alone. The shuffling order has its own generator
    (see :class:`nlpdiff.samplers.ShuffledSampler`).
    """
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(device: str):
    """The torch device of ``device`` (``"auto"``: CUDA when available, else the CPU)."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ParameterError("device", device, "'cpu' or 'auto' on this machine (no CUDA device is available)")
    return torch.device(device)


__all__ = ["pick_device", "seed_everything"]
