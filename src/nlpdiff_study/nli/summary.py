"""The committed summary of an executed NLI page (``results/nli``), from its finished runs:
``python -m nlpdiff_study.nli RUN_DIR``. See :mod:`nlpdiff_study.nli`."""

from __future__ import annotations

import os

import pandas as pd

from nlpdiff.compare import chaosnli_signals
from nlpdiff.errors import ParameterError

from nlpdiff_study.nli.tables import chaosnli_table, pooled_agreement


def page_runs(run_dir: str | os.PathLike) -> dict:
    """The finished runs of one execution of the NLI page, by the names the page gives them: ``snli_finetune``
    in ``run_dir`` and every ``<run_dir>/../more/<name>/run`` (:func:`study_runs`)."""
    from pathlib import Path

    from nlpdiff import rundir

    run_dir = Path(run_dir)
    folders = {"snli_finetune": run_dir, **{f.parent.name: f for f in sorted((run_dir.parent / "more").glob("*/run"))}}
    try:
        return {name: rundir.load_run(f) for name, f in folders.items()}
    except rundir.RunDirError as exc:
        raise ParameterError("run_dir", str(run_dir), "the run folder of an executed NLI page", hint=str(exc)) from exc


def write_pooled(run_dir: str | os.PathLike, out_dir: str | os.PathLike = "results/nli") -> pd.DataFrame:
    """The declared NLI comparison (:func:`pooled_agreement`) of an executed NLI page's runs, as committed
    summary tables the answer reads: ``pooled.csv`` (one row per declared baseline), ``runs.csv`` (each run's
    Spearman correlation of every score with the ChaosNLI entropy) and ``part.json`` (each run's parameters,
    versions, hardware and times). Reads finished runs only; trains nothing."""
    import json
    import time
    from pathlib import Path

    runs = page_runs(run_dir)
    tables = {name: chaosnli_table(run.scores, chaosnli_signals(run.samples), n_boot=0) for name, run in runs.items()}
    cells = {name: {k: run.params[k] for k in ("task", "backbone", "seed")} for name, run in runs.items()}
    pooled = pooled_agreement(tables, cells)
    per_run = pd.concat([t[["score", "spearman_entropy"]].assign(run=name, **cells[name])
                         for name, t in tables.items()], ignore_index=True)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for file, table in (("pooled.csv", pooled), ("runs.csv", per_run)):
        tmp = out / f".{file}.tmp"
        table.to_csv(tmp, index=False)
        tmp.replace(out / file)  # never a half-written table
    meta = {"source": str(run_dir), "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "runs": {name: {k: run.info.get(k) for k in ("params", "versions", "hardware", "started_at", "finished_at",
                                                          "wall_time_s")} for name, run in runs.items()}}
    (out / "part.json").write_text(json.dumps(meta, indent=1, default=str))
    return pooled


def main(argv: list[str] | None = None) -> None:
    """``python -m nlpdiff_study.nli RUN_DIR [--out results/nli]``: write the committed summary of an executed
    NLI page (the cpu profile's: ``runs/cpu/nli/run``)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m nlpdiff_study.nli", description=main.__doc__.split(":")[0])
    ap.add_argument("run_dir", help="the NLI page's run_dir (the cpu profile's: runs/cpu/nli/run)")
    ap.add_argument("--out", default="results/nli")
    a = ap.parse_args(argv)
    pooled = write_pooled(a.run_dir, a.out)
    print(pooled.to_string(index=False))
