"""Golden runs: small seeded CPU runs must give the dynamics and scores stored in ``tests/golden``.

The stored values were written by ``tests/golden/make_golden.py`` on frozen input data
(``tests/golden/data``). A refactor that preserves behaviour keeps them; a change that is meant to
change the numbers (for example a different optimiser path) must regenerate them in its own commit,
say so, and rerun ``tests/golden/measure_spread.py``.

**Tolerances come from a measurement, not a guess.** The same runs move a little with the CPU's
kernels and the number of threads (the order of float additions changes). ``measure_spread.py``
ran every case under 8 variants (1 and 2 torch threads; ATen's scalar kernels against AVX2; MKL held
to SSE4.2 or AVX2; oneDNN held to SSE4.1; all of them at once) and stored the largest absolute
difference of every column in ``tests/golden/spread.json``. A column's tolerance is

    |got - golden| <= SAFETY * measured_spread + FLOOR_ATOL + RTOL * |golden|

with SAFETY = 10, FLOOR_ATOL = 1e-6 and RTOL = 1e-5 (float32 rounding of values of order 1).
VoG is the column that moves most: it is z-scored within each class, which divides the tiny
differences of input gradients by their small spread (measured: 7e-6 between ATen's scalar and AVX2
kernels, where every other column moves by at most 3e-7; a machine with AVX-512 was seen 4e-6 away).
``test_wrong_vog_fails`` shows that a wrong VoG formula (the per-token mean that an earlier version
took first, and two other plausible mistakes) still fails this check by orders of magnitude, and
``test_golden_under_other_kernels`` that the kernel and thread changes pass it.

Only the columns the golden files hold are compared: a new score does not force new golden files;
it is checked by its own tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from golden.make_golden import CASES

HERE = Path(__file__).resolve().parent / "golden"
SPREAD = json.loads((HERE / "spread.json").read_text())

#: multiple of the largest measured difference that a column may move
SAFETY = 10.0
#: float32 rounding of values of order 1: the least any column may move
FLOOR_ATOL = 1e-6
RTOL = 1e-5

def tolerance(case: str, table: str, column: str) -> float:
    """Absolute tolerance of one column: SAFETY times its measured spread, plus the float floor."""
    measured = SPREAD["cases"][case][table][column]["max_abs"]
    return SAFETY * measured + FLOOR_ATOL


def mismatches(got: pd.DataFrame, expected: pd.DataFrame, case: str, table: str) -> list[str]:
    """What differs between a run's table and its golden table, one line per column (empty: equal).

    Every golden column must be in ``got`` (extra columns are not compared); row keys and
    non-numeric columns must be equal; numeric columns within :func:`tolerance` plus RTOL, with
    missing values in the same places.
    """
    problems = []
    if len(got) != len(expected):
        return [f"{case} {table}: {len(got)} rows, golden {len(expected)}"]
    for col in expected.columns:
        if col not in got.columns:
            problems.append(f"{case} {table}: column {col!r} missing")
            continue
        e, g = expected[col].to_numpy(), got[col].to_numpy()
        if not (np.issubdtype(e.dtype, np.number) or e.dtype == bool):
            if not (e == g).all():
                problems.append(f"{case} {table}.{col}: values differ")
            continue
        e, g = e.astype(np.float64), g.astype(np.float64)
        if not (np.isnan(e) == np.isnan(g)).all():
            problems.append(f"{case} {table}.{col}: missing values in other places")
            continue
        ok = ~np.isnan(e)
        diff = np.abs(g[ok] - e[ok])
        allowed = tolerance(case, table, col) + RTOL * np.abs(e[ok])
        bad = diff > allowed
        if bad.any():
            problems.append(f"{case} {table}.{col}: {int(bad.sum())} of {len(diff)} values off, largest "
                            f"{diff.max():.3g} (tolerance {tolerance(case, table, col):.3g} + {RTOL:g} x |golden|)")
    return problems


class CapturingVog:
    """Wraps the engine's VoG accumulator and keeps every gradient it is given (tiny runs only)."""

    captured: list = []

    @classmethod
    def make(cls, base):
        class Capturing(base):
            def update(self, idx, grads, mask, count):
                super().update(idx, grads, mask, count)
                cls.captured.append((np.array(idx), np.array(grads, dtype=np.float32), np.array(mask, dtype=bool), count))

        return Capturing


@pytest.fixture(scope="module")
def golden_runs(tmp_path_factory):
    """case -> (run folder, VoG gradients captured at every checkpoint): each case trained once,
    with one torch thread, as the golden files were made."""
    import torch

    from nlpdiff import recording
    from nlpdiff.config import from_flat
    from nlpdiff.dynamics import train

    done = {}

    def run(case: str):
        if case not in done:
            out = tmp_path_factory.mktemp("golden") / case
            before = torch.get_num_threads()
            CapturingVog.captured = []
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(recording, "VogAccumulator", CapturingVog.make(recording.VogAccumulator))
                torch.set_num_threads(1)
                try:
                    train(from_flat({**CASES[case], "data_dir": str(HERE / "data"), "output_dir": str(out)}),
                          progress=False)
                finally:
                    torch.set_num_threads(before)
            done[case] = (out, list(CapturingVog.captured))
        return done[case]

    return run


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_run(case, golden_runs):
    out, _ = golden_runs(case)
    problems = []
    for table in ("dynamics", "scores"):
        expected = pd.read_parquet(HERE / f"{case}.{table}.parquet")
        problems += mismatches(pd.read_parquet(out / f"{table}.parquet"), expected, case, table)
    assert not problems, "\n".join(problems)


def test_every_golden_column_has_a_measured_spread():
    """The tolerance of each compared column rests on a measurement of that column."""
    for case in CASES:
        for table in ("dynamics", "scores"):
            columns = pd.read_parquet(HERE / f"{case}.{table}.parquet").select_dtypes("number").columns
            measured = SPREAD["cases"][case][table]
            assert set(columns) <= set(measured), (case, table, set(columns) - set(measured))
            assert len(measured[next(iter(measured))]["by_variant"]) == len(SPREAD["variants"])


def test_new_columns_do_not_need_new_golden_files():
    expected = pd.read_parquet(HERE / "probe_sst2.scores.parquet")
    got = expected.assign(a_new_score=1.0)
    assert mismatches(got, expected, "probe_sst2", "scores") == []
    assert mismatches(got.drop(columns="action"), expected, "probe_sst2", "scores")  # a lost column fails


def _vog_by_formula(captured, n_samples: int) -> dict[str, np.ndarray]:
    """Raw VoG of every sample from the captured input gradients, by the definition and by mistakes.

    ``grads[t][i]`` is sample i's (tokens, D) gradient at checkpoint t (real tokens only).
    """
    by_sample: dict[int, dict[int, np.ndarray]] = {}
    for idx, grads, mask, count in captured:
        for row, i in enumerate(idx):
            by_sample.setdefault(int(i), {})[count] = grads[row][mask[row]].astype(np.float64)
    formulas = {name: np.zeros(n_samples) for name in
                ("definition", "token_mean_first", "root_of_mean_variance", "sum_over_tokens")}
    for i, per_t in by_sample.items():
        g = np.stack([per_t[t] for t in sorted(per_t)])  # (T, tokens, D)
        element_std = g.std(axis=0)  # population std over checkpoints, per element
        formulas["definition"][i] = element_std.mean()  # mean over D, then over tokens (equal D)
        formulas["token_mean_first"][i] = g.mean(axis=2).std(axis=0).mean()  # reduce over D first
        formulas["root_of_mean_variance"][i] = np.sqrt(g.var(axis=0).mean())
        formulas["sum_over_tokens"][i] = element_std.mean(axis=1).sum()
    return formulas


@pytest.mark.slow
def test_wrong_vog_fails(golden_runs):
    """The VoG comparison is loose enough for other kernels but still catches a wrong formula."""
    from nlpdiff.scores import vog_score

    case = "finetune_sst2"
    out, captured = golden_runs(case)
    assert captured, "the run recorded no VoG gradients"
    raw = pd.read_parquet(out / "vog.parquet")
    golden = pd.read_parquet(HERE / f"{case}.scores.parquet")
    scores = pd.read_parquet(out / "scores.parquet")
    formulas = _vog_by_formula(captured, int(raw["sample_id"].max()) + 1)
    ids = raw["sample_id"].to_numpy()
    # the definition, recomputed here from the gradients, is what the engine recorded
    np.testing.assert_allclose(formulas["definition"][ids], raw["vog"].to_numpy(), rtol=1e-4)
    labels = raw["label"].to_numpy() if "label" in raw else pd.read_parquet(out / "samples.parquet")["label"].to_numpy()
    for name, values in formulas.items():
        z = pd.Series(vog_score(values[ids], labels), index=ids)
        replaced = scores.assign(vog=z.loc[scores["sample_id"]].to_numpy())
        problems = mismatches(replaced, golden, case, "scores")
        if name == "definition":
            assert not problems, problems
        else:
            assert any(p.startswith(f"{case} scores.vog:") for p in problems), (name, problems)


@pytest.mark.slow
def test_golden_under_other_kernels(tmp_path):
    """The fine-tuned case under ATen's scalar kernels, MKL held to SSE4.2, oneDNN to SSE4.1 and two
    threads (a fresh process: the kernels are chosen when torch loads) passes the golden check."""
    from golden.measure_spread import VARIANTS, run_case

    case = "finetune_sst2"
    env, threads = VARIANTS["all_narrow_2threads"]
    capability = run_case(case, env, threads, tmp_path / case)
    assert capability == "DEFAULT"  # ATen's scalar kernels were in use
    problems = []
    for table in ("dynamics", "scores"):
        expected = pd.read_parquet(HERE / f"{case}.{table}.parquet")
        got = pd.read_parquet(tmp_path / case / f"{table}.parquet")
        problems += mismatches(got, expected, case, table)
    assert not problems, "\n".join(problems)
