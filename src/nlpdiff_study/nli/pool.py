"""The NLI page's runs: the SNLI training pool with the ChaosNLI pairs (:func:`snli_pool`,
:func:`register_snli_pool`), the page's run plan (:func:`study_runs`) and what each run was
(:func:`run_summary`). See :mod:`nlpdiff_study.nli`."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from nlpdiff.errors import ParameterError

LABEL_NAMES = ("entailment", "neutral", "contradiction")

#: ChaosNLI's human-signal columns, carried into a run's samples.parquet.
CHAOS_COLUMNS = ("entropy", "label_count", "chaos_label", "old_labels")

#: The task name of the SNLI training pool registered by :func:`register_snli_pool`.
POOL_TASK = "snli_chaosnli"


def _key(df: pd.DataFrame) -> pd.Series:
    return df["premise"].astype(str) + "\t" + df["hypothesis"].astype(str)


def _stratified(rows: pd.DataFrame, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` of ``rows``' ``snli_row`` values, stratified by label (largest remainder)."""
    from nlpdiff.tasks import _allocate

    labels = np.sort(rows["label"].unique())
    counts = np.array([(rows["label"] == c).sum() for c in labels])
    alloc = _allocate(counts, n)
    chosen = [rng.choice(rows.loc[rows["label"] == c, "snli_row"].to_numpy(), size=int(k), replace=False)
              for c, k in zip(labels, alloc)]
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def snli_pool(data_dir: str | os.PathLike | None = None, n_other_train: int = 1500, heldout_size: int = 1000,
              seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(train, heldout)``: SNLI dev split into a training pool holding every ChaosNLI pair and a
    held-out part outside ChaosNLI.

    The SNLI dev pairs (task ``snli``, split ``validation``) are matched to ChaosNLI's SNLI pairs
    (task ``chaosnli_snli``) by premise and hypothesis text (a pair that occurs twice in SNLI dev
    is matched once, at its first row). ``train`` holds every matched pair and ``n_other_train``
    pairs outside ChaosNLI; ``heldout`` holds ``heldout_size`` other pairs outside ChaosNLI, disjoint
    from the training pairs. Both draws are stratified by label with ``seed``. ``None`` for
    ``n_other_train`` takes every pair outside ChaosNLI that is not held out.

    Columns: ``premise``, ``hypothesis``, ``label`` (SNLI's gold label), ``snli_row`` (the pair's
    row in SNLI dev), ``chaos_uid`` (ChaosNLI's ``uid``, "" outside ChaosNLI) and ChaosNLI's
    :data:`CHAOS_COLUMNS` (missing outside ChaosNLI), in SNLI dev order.
    """
    from nlpdiff import tasks

    for name, value in (("n_other_train", n_other_train), ("heldout_size", heldout_size)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0):
            raise ParameterError(name, value, "an integer >= 0" + (" or None" if name == "n_other_train" else ""))
    pool = tasks.load_split("snli", "validation", data_dir=data_dir).rename(columns={tasks.ROW_INDEX: "snli_row"})
    chaos = tasks.load_split("chaosnli_snli", "validation", data_dir=data_dir).drop(columns=[tasks.ROW_INDEX])
    first_row = pd.Series(pool["snli_row"].to_numpy(), index=_key(pool).to_numpy()).groupby(level=0).first()
    chaos = chaos.assign(snli_row=_key(chaos).map(first_row)).dropna(subset=["snli_row"])
    chaos = chaos.drop_duplicates("snli_row").astype({"snli_row": np.int64})
    extra = chaos.set_index("snli_row")[["uid", *CHAOS_COLUMNS]].rename(columns={"uid": "chaos_uid"})
    pool = pool.join(extra, on="snli_row")
    pool["chaos_uid"] = pool["chaos_uid"].fillna("").astype(str)
    for c in ("label_count", "old_labels"):  # lists, None outside ChaosNLI (parquet-friendly)
        pool[c] = [list(np.asarray(v).tolist()) if isinstance(v, (list, np.ndarray)) else None for v in pool[c]]
    outside = pool[pool["chaos_uid"] == ""]
    if heldout_size > len(outside):
        raise ParameterError("heldout_size", heldout_size,
                             f"at most {len(outside)} (the SNLI dev pairs outside ChaosNLI)")
    rng = np.random.default_rng(seed)
    held_rows = _stratified(outside, heldout_size, rng)
    rest = outside[~outside["snli_row"].isin(held_rows)]
    if n_other_train is None:
        other_rows = rest["snli_row"].to_numpy()
    else:
        if n_other_train > len(rest):
            raise ParameterError("n_other_train", n_other_train,
                                 f"at most {len(rest)} (pairs outside ChaosNLI left after the held-out part)")
        other_rows = _stratified(rest, n_other_train, rng)
    in_train = (pool["chaos_uid"] != "") | pool["snli_row"].isin(other_rows)
    train = pool[in_train].reset_index(drop=True)
    heldout = pool[pool["snli_row"].isin(held_rows)].reset_index(drop=True)
    return train, heldout


def register_snli_pool(data_dir: str | os.PathLike | None = None, n_other_train: int = 1500,
                       heldout_size: int = 1000, seed: int = 0, name: str = POOL_TASK):
    """Register the SNLI pool of :func:`snli_pool` as task ``name`` (replacing an earlier one) and
    return its :class:`~nlpdiff.tasks.TaskSpec`: split ``train`` (every ChaosNLI pair in SNLI dev
    and ``n_other_train`` others) and ``heldout`` (``heldout_size`` pairs outside ChaosNLI), through
    :func:`nlpdiff.tasks.from_frame`, whose source records the content hashes (a run on another
    pool is never reused). Train with ``from_flat({"task": name, "train_size": None, ...})``."""
    from nlpdiff import tasks

    train, held = snli_pool(data_dir, n_other_train, heldout_size, seed)
    n_chaos = int((train["chaos_uid"] != "").sum())
    spec = tasks.from_frame(
        train, text="premise", text_pair="hypothesis", label="label", name=name, label_names=list(LABEL_NAMES),
        heldout=held if len(held) else None, heldout_fraction=0.0,
        description=(f"SNLI dev as a training pool: {len(train):,} training pairs ({n_chaos:,} ChaosNLI pairs "
                     f"and {len(train) - n_chaos:,} others, seed {seed}); {len(held):,} held-out pairs "
                     "outside ChaosNLI (stratified by label)."),
    )
    return tasks.register_task(spec, replace=True)


def study_runs(run_dir: str | os.PathLike, data_dir: str | os.PathLike | None = None, train_size: int | None = None,
               eval_size: int | None = None, epochs: int = 3, checkpoints_per_epoch: int = 2, batch_size: int = 32,
               learning_rate: float = 5e-5, max_length: int = 128, mnli_train_size: int | None = None,
               mnli_epochs: int = 2, mnli_checkpoints_per_epoch: int = 3, seeds: Sequence[int] = (0, 1, 2),
               probe_epochs: int = 10, probe_learning_rate: float = 1e-3, scratch_epochs: int = 10,
               scratch_learning_rate: float = 0.02, task: str = POOL_TASK, mnli_finetune: bool = True) -> dict[str, dict]:
    """The flat parameters of the NLI page's runs, by name (the page trains them with
    :func:`nlpdiff.dynamics.load_or_train`; register the SNLI pool first, :func:`register_snli_pool`).

    * ``snli_finetune``: fine-tuned MiniLM on the SNLI pool ``task`` (held out: its ``heldout``
      split), in ``run_dir`` itself;
    * ``snli_probe_s<seed>``, ``snli_scratch_s<seed>``: the cheap backbones on the same pairs, one per
      seed;
    * ``mnli_finetune`` (unless ``mnli_finetune=False``): fine-tuned MiniLM on ChaosNLI's MNLI pairs (no
      held-out MNLI offline: training accuracy only), and ``mnli_probe_s<seed>``, ``mnli_scratch_s<seed>``.

    Every run but the first goes to ``<run_dir>/../more/<name>/run``.
    """
    from pathlib import Path

    more = Path(run_dir).parent / "more"
    common = dict(data_dir=data_dir, batch_size=batch_size, max_length=max_length, data_seed=0)
    snli = dict(common, task=task, train_size=train_size, eval_size=eval_size)
    mnli = dict(common, task="chaosnli_mnli", train_split="validation", eval_split=None, train_size=mnli_train_size)
    # one checkpoint per epoch: 10 epochs already give 10 checkpoints (the committed page's runs)
    probe = dict(backbone="probe", epochs=probe_epochs, learning_rate=probe_learning_rate, checkpoints_per_epoch=1)
    scratch = dict(backbone="scratch", model="scratch", epochs=scratch_epochs, learning_rate=scratch_learning_rate,
                   checkpoints_per_epoch=1)
    runs = {
        "snli_finetune": dict(snli, backbone="finetune", epochs=epochs, learning_rate=learning_rate,
                              checkpoints_per_epoch=checkpoints_per_epoch, seed=0, output_dir=str(run_dir)),
        "mnli_finetune": dict(mnli, backbone="finetune", epochs=mnli_epochs, learning_rate=learning_rate,
                              checkpoints_per_epoch=mnli_checkpoints_per_epoch, seed=0,
                              output_dir=str(more / "mnli_finetune" / "run")),
    }
    if not mnli_finetune:
        del runs["mnli_finetune"]
    for prefix, base in (("snli", snli), ("mnli", mnli)):
        for name, backbone in (("probe", probe), ("scratch", scratch)):
            for seed in seeds:
                key = f"{prefix}_{name}_s{seed}"
                runs[key] = dict(base, **backbone, seed=int(seed), output_dir=str(more / key / "run"))
    return runs


def run_summary(runs: dict) -> pd.DataFrame:
    """One row per run (name -> loaded run): task, backbone, seed, sizes, checkpoints, final training
    accuracy (eval pass), held-out accuracy (when the run had held-out data) and wall time."""
    rows = []
    for name, run in runs.items():
        p, r, final = run.params, run.info["resolved"], run.metrics["final"]
        rows.append({
            "run": name, "task": p["task"], "backbone": p["backbone"], "seed": p["seed"], "n_train": r["n_train"],
            "n_heldout": r.get("n_heldout", 0), "epochs": p["epochs"], "checkpoints": r["n_checkpoints"],
            "train_accuracy": final.get("train_correct"), "heldout_accuracy": final.get("heldout_accuracy", np.nan),
            "wall_time_s": run.info["wall_time_s"]["total"],
        })
    return pd.DataFrame(rows)


def with_chaos_columns(samples: pd.DataFrame, data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Samples that carry only ChaosNLI's ``chaos_uid`` (the committed GPU runs of ``gpu/snli_chaos.py``)
    joined to ChaosNLI's SNLI pairs (premise, hypothesis and :data:`CHAOS_COLUMNS`), for
    :func:`chaosnli_signals`. Pairs outside ChaosNLI keep missing values."""
    from nlpdiff import tasks

    chaos = tasks.load_split("chaosnli_snli", "validation", data_dir=data_dir)
    chaos = chaos[["uid", "premise", "hypothesis", *CHAOS_COLUMNS]].rename(columns={"uid": "chaos_uid"})
    keep = [c for c in samples.columns if c not in chaos.columns or c == "chaos_uid"]
    return samples[keep].merge(chaos.drop_duplicates("chaos_uid"), on="chaos_uid", how="left")
