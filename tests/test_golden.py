"""Golden runs: small seeded CPU runs must give the dynamics and scores stored in ``tests/golden``.

The stored values were written by ``tests/golden/make_golden.py`` from the code before the engine
redesign, on frozen input data (``tests/golden/data``). A refactor that preserves behaviour keeps
them; a change that is meant to change the numbers (for example a different optimiser path) must
regenerate them in its own commit and say so.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from golden.make_golden import CASES

HERE = Path(__file__).resolve().parent / "golden"


def _run(case: str, out: Path):
    """Run one golden case with the current API; return the run directory."""
    from nlpdiff.config import from_flat
    from nlpdiff.dynamics import train

    train(from_flat({**CASES[case], "data_dir": str(HERE / "data"), "output_dir": str(out)}), progress=False)
    return out


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_run(case, tmp_path):
    out = _run(case, tmp_path / case)
    for name in ("dynamics", "scores"):
        expected = pd.read_parquet(HERE / f"{case}.{name}.parquet")
        got = pd.read_parquet(out / f"{name}.parquet")
        assert list(got.columns) == list(expected.columns), name
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-5, atol=1e-6, obj=f"{case} {name}")
