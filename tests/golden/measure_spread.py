"""Measure how far the golden runs move with the CPU's kernels and the thread count.

Each golden case of :data:`make_golden.CASES` is run in a fresh process under every variant of
:data:`VARIANTS` (environment variables that must be set before torch loads, and the number of torch
threads), and every column of its stored ``dynamics`` and ``scores`` tables is compared with the
golden values. The largest absolute difference of each column over all variants is written to
``tests/golden/spread.json``, which ``tests/test_golden.py`` reads to set that column's tolerance
(times its stated safety factor). Usage, from the repository root::

    python tests/golden/measure_spread.py            # every case, every variant (about 10 minutes on 2 cores)
    python tests/golden/measure_spread.py --case finetune_sst2

Rerun it, and commit ``spread.json``, whenever the golden files are regenerated. One variant, the
machine's own kernels with one thread, is how the golden files were written: its differences say
whether this machine reproduces them at all.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: variant name -> (environment variables set before torch loads, torch threads)
VARIANTS = {
    "native_1thread": ({}, 1),
    "native_2threads": ({}, 2),
    # ATen's own vectorised kernels (softmax, layer norm, GELU, reductions): scalar code against the
    # machine's widest ISA (AVX2 here, AVX-512 on some machines of this kind)
    "aten_default_1thread": ({"ATEN_CPU_CAPABILITY": "default"}, 1),
    "aten_avx2_1thread": ({"ATEN_CPU_CAPABILITY": "avx2"}, 1),
    # MKL's GEMM kernels (every Linear layer): SSE4.2 code paths instead of the machine's own
    "mkl_sse42_1thread": ({"MKL_ENABLE_INSTRUCTIONS": "SSE4_2"}, 1),
    "mkl_avx2_2threads": ({"MKL_ENABLE_INSTRUCTIONS": "AVX2"}, 2),
    # oneDNN (some CPU convolutions and matmuls) capped at SSE4.1
    "onednn_sse41_1thread": ({"ONEDNN_MAX_CPU_ISA": "SSE41", "DNNL_MAX_CPU_ISA": "SSE41"}, 1),
    # all of the above at once, two threads
    "all_narrow_2threads": ({"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
                             "ONEDNN_MAX_CPU_ISA": "SSE41", "DNNL_MAX_CPU_ISA": "SSE41"}, 2),
}

_CHILD = """
import sys, torch
sys.path.insert(0, {tests!r})
from golden.make_golden import CASES
from nlpdiff.config import from_flat
from nlpdiff.dynamics import train
torch.set_num_threads({threads})
train(from_flat({{**CASES[{case!r}], "data_dir": {data!r}, "output_dir": {out!r}}}), progress=False)
print(torch.backends.cpu.get_cpu_capability())
"""


def run_case(case: str, env: dict, threads: int, out: Path) -> str:
    """Run one golden case in a fresh process; return the CPU capability torch reported."""
    code = _CHILD.format(tests=str(HERE.parent), threads=threads, case=case, data=str(HERE / "data"), out=str(out))
    full_env = {**os.environ, **env, "OMP_NUM_THREADS": str(threads), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{case} under {env} threads={threads} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


def column_differences(got, expected) -> dict[str, float]:
    """Largest absolute difference of each numeric column (NaN where both are NaN counts as 0)."""
    import numpy as np

    out = {}
    for col in expected.columns:
        a = expected[col].to_numpy()
        if not np.issubdtype(a.dtype, np.number) and a.dtype != bool:
            continue
        a = a.astype(np.float64)
        b = got[col].to_numpy().astype(np.float64)
        both_nan = np.isnan(a) & np.isnan(b)
        d = np.where(both_nan, 0.0, np.abs(a - b))
        out[col] = float(np.nanmax(np.where(np.isnan(d), np.inf, d))) if len(d) else 0.0
    return out


def main(argv=None) -> None:
    import pandas as pd
    import torch

    from golden.make_golden import CASES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="only these cases (repeatable)")
    parser.add_argument("--output", default=str(HERE / "spread.json"))
    args = parser.parse_args(argv)
    cases = args.case or sorted(CASES)

    result = {"machine": {"processor": platform.processor() or platform.machine(),
                          "cpu_model": _cpu_model(), "torch": torch.__version__,
                          "native_capability": torch.backends.cpu.get_cpu_capability()},
              "variants": {name: {"env": env, "threads": t} for name, (env, t) in VARIANTS.items()},
              "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            per_table: dict = {"dynamics": {}, "scores": {}}
            for variant, (env, threads) in VARIANTS.items():
                out = Path(tmp) / f"{case}-{variant}"
                cap = run_case(case, env, threads, out)
                result["variants"][variant]["capability_reported"] = cap
                for table in per_table:
                    expected = pd.read_parquet(HERE / f"{case}.{table}.parquet")
                    got = pd.read_parquet(out / f"{table}.parquet")
                    for col, d in column_differences(got, expected).items():
                        entry = per_table[table].setdefault(col, {"max_abs": 0.0, "by_variant": {}})
                        entry["by_variant"][variant] = d
                        if d > entry["max_abs"]:
                            entry["max_abs"], entry["worst_variant"] = d, variant
                print(f"{case:16s} {variant:22s} capability={cap:8s} "
                      f"max |diff| dynamics {max(v['by_variant'][variant] for v in per_table['dynamics'].values()):.2e}"
                      f" scores {max(v['by_variant'][variant] for v in per_table['scores'].values()):.2e}",
                      flush=True)
            result["cases"][case] = per_table
    previous = {}
    if args.case and Path(args.output).is_file():
        previous = json.loads(Path(args.output).read_text())["cases"]
    result["cases"] = {**previous, **result["cases"]}
    Path(args.output).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print("wrote", args.output)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    main()
