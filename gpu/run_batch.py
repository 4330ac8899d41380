"""One device call: the fine-tuned runs of the ``gpu`` profile that a CPU cannot afford (issue 14).

Run on the GPU machine (after installing the carried wheels)::

    PYTHONUNBUFFERED=1 python3 gpu/run_batch.py --out $OUT --budget-s 420

and on a CPU first, with tiny sizes and the same command line otherwise::

    python3 gpu/run_batch.py --out /tmp/gpu_out --budget-s 420 --tiny --device cpu

What it does, in order:

1. checks that ``datasets`` loads the carried parquet files (else reads them with pyarrow, in the
   same ``nlpdiff.tasks`` conversion and checks, and records it);
2. times training steps of the same MiniLM model on the machine's CPU (fp32, every core) and on the
   GPU (bf16 autocast, as the engine trains), per training example: the speed-up;
3. runs the jobs of ``params/device/gpu_batch.yaml`` in their priority order, ``--workers`` at a time, each
   an ordinary ``nlpdiff.dynamics.train`` run in its own process; a job that no longer fits the
   wall-clock budget is skipped, and jobs still running at ``budget + grace`` are stopped;
4. packs the compact results (``run.json``, ``metrics.json``, ``scores.parquet``, ``samples.parquet``
   without long text, a per-checkpoint memorisation table, the job's own timing) into one
   ``.tar.gz`` per group under ``--out`` (at most 8 files come back from the machine).

The results are summarised on the CPU by ``gpu/summarize.py``.

What travels to the machine (64 MiB with the working tree; ignored here through .git/info/exclude):
``.gpu_carry/minilm-fp16/`` (all-MiniLM-L6-v2 with fp16-rounded weights, config marked float32 so that
it loads in fp32), ``.gpu_carry/data/{sst2,squad}/`` (copies of the parquet files read) and ``.whl/``
(datasets 5.2.0, dill 0.4.1, multiprocess 0.70.19, which that machine lacks). The device command of the
committed results (one call, 226 s of batch wall time, 268 s of device time with start-up)::

    set -o pipefail; export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD/src || exit 1
    python3 gpu/run_batch.py --out $OUT --budget-s 420 2>&1 | tee $OUT/log.txt

The SNLI jobs (task ``snli_chaos``, built from frames by ``gpu/snli_chaos.py``) ran in a second call that
carried ``.gpu_carry/minilm-fp16``, ``.gpu_carry/data/snli``, ``.gpu_carry/data/chaosnli_snli`` and ``.whl``
(about 60 MiB with the working tree), same first two lines, then (13 runs, 187 s of batch wall time,
228 s of device time with start-up)::

    python3 gpu/run_batch.py --out $OUT --budget-s 280 --skip-bench --groups snli_chaos snli_detection \
        2>&1 | tee $OUT/log.txt
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

#: columns of samples.parquet too long to bring back (SQuAD contexts); ids and labels stay
DROP_SAMPLE_COLUMNS = ("context", "premise", "hypothesis")
#: groups whose eval-pass dynamics (slim columns) come back, in a separate <group>_dynamics tar
DYNAMICS_GROUPS = ("detection", "snli_detection")
DYNAMICS_COLUMNS = ["sample_id", "checkpoint", "epoch", "loss", "gold_prob", "correct", "margin"]
#: one file that comes back must stay under 16 MiB
MAX_TAR_BYTES = 15.5 * 2**20


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------- data loading check

def use_pyarrow_loader() -> None:
    """Read local parquet files with pyarrow instead of ``datasets`` (same nlpdiff conversion/checks)."""
    import pyarrow.parquet as pq

    from nlpdiff import tasks
    import nlpdiff.tasks.loading  # noqa: F401  (the module whose _load_dataset load_split calls)

    class _Table:
        def __init__(self, path):
            self.path = path

        def to_pandas(self):
            return pq.read_table(self.path).to_pandas()

    def _load(spec, split, path):
        if path is None:
            raise RuntimeError("no hub access on this machine")
        return _Table(path)

    tasks.loading._load_dataset = _load  # load_split reads it from its own module


def check_loader(data_dir: str) -> dict:
    info = {}
    try:
        import datasets

        from nlpdiff import tasks

        check = next((t for t in ("sst2", "snli") if (Path(data_dir) / t).is_dir()), "sst2")
        df = tasks.load_split(check, "validation", data_dir=data_dir)
        info.update(loader="datasets", datasets_version=datasets.__version__, check_rows=len(df))
    except Exception as exc:  # noqa: BLE001 - any failure means: use the fallback
        info.update(loader="pyarrow", datasets_error=f"{type(exc).__name__}: {exc}"[:500])
    return info


# --------------------------------------------------------------------------- speed-up benchmark

def _time_steps(model, batch, device, steps, warmup, bf16):
    import torch

    model.to(device).train()
    batch = {k: v.to(device) for k, v in batch.items()}
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)

    def step():
        if bf16:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = model(**batch).loss
        else:
            loss = model(**batch).loss
        opt.zero_grad(set_to_none=True)
        loss.float().backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / steps


def speed_benchmark(model_path: str, data_dir: str, tiny: bool, device_name: str) -> list[dict]:
    """Seconds per training example of the same model, same batch, on this machine's CPU and GPU."""
    import pandas as pd
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path)
    sst = pd.read_parquet(Path(data_dir) / "sst2" / "train.parquet").sample(256, random_state=0)
    squad = pd.read_parquet(Path(data_dir) / "squad" / "train.parquet").sample(64, random_state=0)
    cases = []
    enc = tok(list(sst["sentence"][:128]), truncation=True, max_length=64, padding=True, return_tensors="pt")
    enc["labels"] = torch.tensor(sst["label"].to_numpy()[:128])
    cases.append(("sst2 classification, batch 128, max_length 64", AutoModelForSequenceClassification,
                  dict(num_labels=2), enc))
    qa = tok(list(squad["question"][:32]), list(squad["context"][:32]), truncation="only_second", max_length=384,
             padding="max_length", return_tensors="pt")
    qa["start_positions"] = torch.randint(1, 100, (32,), generator=torch.Generator().manual_seed(0))
    qa["end_positions"] = qa["start_positions"] + 3
    cases.append(("squad extractive QA, batch 32, length 384", AutoModelForQuestionAnswering, {}, qa))
    rows = []
    n_threads = os.cpu_count() or 1
    for name, cls, kwargs, batch in cases:
        if tiny:  # the CPU dry run: a much smaller batch, few steps
            batch = {k: v[:4] for k, v in batch.items()}
        n = len(next(iter(batch.values())))
        row = {"case": name, "examples_per_step": n}
        torch.manual_seed(0)
        torch.set_num_threads(n_threads)
        model = cls.from_pretrained(model_path, **kwargs)
        cpu_steps = 1 if tiny else (3 if "classification" in name else 1)
        row.update(cpu_threads=n_threads, cpu_steps=cpu_steps,
                   cpu_s_per_step=_time_steps(model, batch, torch.device("cpu"), cpu_steps, 1, False))
        if device_name.startswith("cuda") and torch.cuda.is_available():
            torch.manual_seed(0)
            model = cls.from_pretrained(model_path, **kwargs)
            row.update(gpu_steps=30, gpu_s_per_step=_time_steps(model, batch, torch.device(device_name), 30, 5, True),
                       gpu=torch.cuda.get_device_name(0))
            row["speedup_per_example"] = row["cpu_s_per_step"] / row["gpu_s_per_step"]
        row["cpu_ms_per_example"] = 1000 * row["cpu_s_per_step"] / n
        if "gpu_s_per_step" in row:
            row["gpu_ms_per_example"] = 1000 * row["gpu_s_per_step"] / n
        rows.append(row)
        log(f"speed: {json.dumps(row)}")
        del model
    torch.set_num_threads(n_threads)
    return rows


# --------------------------------------------------------------------------- jobs

def expand_jobs(config: dict, tiny: bool) -> list[dict]:
    jobs = []
    defaults = config.get("defaults", {})
    for entry in config["jobs"]:
        if "grid" in entry:
            g = entry["grid"]
            for seed in g["seeds"]:
                for cell in g["cells"]:
                    prefix = g.get("prefix", g["params"].get("task", "sst2"))
                    tag = f"{prefix}_n{int(round(cell['noise_rate'] * 100)):02d}_{cell['noise_type']}_s{seed}"
                    params = {**defaults, **g["params"], **cell, "seed": seed, "data_seed": seed}
                    jobs.append({"name": tag, "group": g["group"], "est_s": g["est_s"], "params": params})
        else:
            jobs.append({"name": entry["name"], "group": entry["group"], "est_s": entry["est_s"],
                         "params": {**defaults, **entry["params"]}})
    if tiny:
        for job in jobs:
            over = config.get("tiny", {}).get(job["name"]) or config.get("tiny", {}).get(job["group"]) or {}
            job["params"].update(over)
            job["est_s"] = 60
    return jobs


def run_job(job: dict, args) -> None:
    """Inside a worker process: one training run, then its memorisation table and timing."""
    import numpy as np
    import pandas as pd
    import torch

    if args.loader == "pyarrow":
        use_pyarrow_loader()
    from nlpdiff.config import from_flat
    from nlpdiff.dynamics import train

    if job["params"].get("task") == "snli_chaos":  # a task built from frames (SNLI dev, ChaosNLI-aware split)
        sys.path.insert(0, str(ROOT / "gpu"))
        import snli_chaos

        snli_chaos.register(args.data_dir)
    work = Path(args.work) / job["name"]
    params = from_flat({**job["params"], "model": args.model, "data_dir": args.data_dir,
                        "device": args.device, "output_dir": str(work / "run")})
    t0 = time.perf_counter()
    run = train(params, progress=False)
    wall = time.perf_counter() - t0
    info = {"name": job["name"], "group": job["group"], "wall_s": round(wall, 2), "pid": os.getpid(),
            "device": args.device, "loader": args.loader,
            "model_weights": "all-MiniLM-L6-v2 transferred as an fp16-rounded copy, trained in fp32 "
                             "with bf16 autocast"}
    if torch.cuda.is_available() and args.device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(0)
        info["max_memory_allocated_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    samples = pd.read_parquet(work / "run" / "samples.parquet")
    if "is_corrupted" in samples and samples["is_corrupted"].any():
        dyn = pd.read_parquet(work / "run" / "dynamics.parquet", columns=["sample_id", "checkpoint", "pass", "correct"])
        dyn = dyn[dyn["pass"] == "eval"].merge(samples[["sample_id", "is_corrupted"]], on="sample_id")
        mem = (dyn.groupby(["checkpoint", "is_corrupted"])["correct"].mean().unstack()
               .rename(columns={True: "train_acc_corrupted", False: "train_acc_clean"}).reset_index())
        metrics = json.loads((work / "run" / "metrics.json").read_text())
        ck = pd.DataFrame(metrics["checkpoints"])[["checkpoint", "epoch", "step"]]
        mem = ck.merge(mem, on="checkpoint", how="left")
        mem.to_csv(work / "memorisation.csv", index=False)
        if "train_acc_corrupted" in mem:
            info["final_train_acc_corrupted"] = float(mem["train_acc_corrupted"].iloc[-1])
        info["final_train_acc_clean"] = float(mem["train_acc_clean"].iloc[-1])
    (work / "job.json").write_text(json.dumps(info, indent=1))
    final = run.metrics["final"] if hasattr(run, "metrics") else json.loads((work / "run" / "metrics.json").read_text())["final"]
    log(f"job {job['name']} done in {wall:.1f}s: final {json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in final.items()})}"
        + (f" memorised(corrupted acc)={info.get('final_train_acc_corrupted'):.3f}" if "final_train_acc_corrupted" in info else ""))
    del np


def compact(job: dict, work: Path, dest: Path) -> int:
    """Copy the compact files of a finished job to dest/<name>/; return bytes copied."""
    import pandas as pd

    src = work / job["name"]
    out = dest / job["name"]
    out.mkdir(parents=True, exist_ok=True)
    for name in ("run.json", "metrics.json", "scores.parquet"):
        shutil.copy(src / "run" / name, out / name)
    for name in ("job.json", "memorisation.csv"):
        if (src / name).exists():
            shutil.copy(src / name, out / name)
    samples = pd.read_parquet(src / "run" / "samples.parquet")
    samples = samples.drop(columns=[c for c in DROP_SAMPLE_COLUMNS if c in samples.columns])
    samples.to_parquet(out / "samples.parquet", compression="zstd", index=False)
    size = sum(f.stat().st_size for f in out.iterdir())
    if job["group"] in DYNAMICS_GROUPS:
        dyn = pd.read_parquet(src / "run" / "dynamics.parquet", columns=DYNAMICS_COLUMNS + ["pass"])
        dyn = dyn[dyn["pass"] == "eval"].drop(columns="pass")
        ddir = dest.parent / f"{job['group']}_dynamics" / job["name"]
        ddir.mkdir(parents=True, exist_ok=True)
        dyn.to_parquet(ddir / "dynamics_eval.parquet", compression="zstd", index=False)
    return size


def driver(args) -> int:
    t_start = time.perf_counter()
    config = yaml.safe_load(Path(args.config).read_text())
    jobs = expand_jobs(config, args.tiny)
    if args.groups:
        jobs = [j for j in jobs if j["group"] in args.groups]
    if args.only:
        jobs = [j for j in jobs if j["name"] in args.only]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    staging = work / "_compact"
    batch = {"started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": sys.argv, "python": sys.version.split()[0],
             "platform": platform.platform(), "cpu_count": os.cpu_count(), "budget_s": args.budget_s,
             "workers": args.workers, "tiny": args.tiny}
    try:
        import torch
        import transformers

        batch.update(torch=torch.__version__, transformers=transformers.__version__,
                     cuda=torch.cuda.is_available(),
                     gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
    except Exception as exc:  # noqa: BLE001
        batch["import_error"] = repr(exc)
    batch.update(check_loader(args.data_dir))
    args.loader = batch["loader"]
    log(f"batch: {json.dumps(batch)}")
    try:
        out_smi = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv"],
                                 capture_output=True, text=True, timeout=20).stdout
        batch["nvidia_smi"] = out_smi.strip()
    except Exception:  # noqa: BLE001
        pass

    if not args.skip_bench:
        t = time.perf_counter()
        try:
            batch["speed"] = speed_benchmark(args.model, args.data_dir, args.tiny, args.device)
        except Exception as exc:  # noqa: BLE001 - the runs matter more than the benchmark
            batch["speed_error"] = f"{type(exc).__name__}: {exc}"[:500]
            log(f"speed benchmark failed: {batch['speed_error']}")
        batch["speed_wall_s"] = round(time.perf_counter() - t, 1)

    pending = list(jobs)
    running: dict[str, tuple[subprocess.Popen, dict, float]] = {}
    status: dict[str, dict] = {}
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // max(1, args.workers))),
           "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}
    deadline = args.budget_s
    while pending or running:
        elapsed = time.perf_counter() - t_start
        # start what fits, in priority order
        while pending and len(running) < args.workers:
            job = pending[0]
            if elapsed + job["est_s"] > deadline:
                status[job["name"]] = {"state": "skipped", "reason": f"estimated {job['est_s']}s does not fit "
                                       f"the budget ({elapsed:.0f}s of {deadline}s used)"}
                log(f"skip {job['name']}: {status[job['name']]['reason']}")
                pending.pop(0)
                continue
            pending.pop(0)
            cmd = [sys.executable, __file__, "--job-json", json.dumps(job), "--work", str(work), "--model", args.model,
                   "--data-dir", args.data_dir, "--device", args.device, "--loader", args.loader]
            logf = open(work / f"{job['name']}.log", "w")
            proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env, start_new_session=True)
            running[job["name"]] = (proc, job, time.perf_counter())
            log(f"start {job['name']} (pid {proc.pid}, {len(running)} running, {elapsed:.0f}s elapsed)")
        # collect finished
        for name in list(running):
            proc, job, t0 = running[name]
            if proc.poll() is None:
                if time.perf_counter() - t_start > deadline + args.grace_s:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    status[name] = {"state": "killed", "reason": "still running at budget + grace",
                                    "wall_s": round(time.perf_counter() - t0, 1)}
                    log(f"killed {name} at the budget")
                    del running[name]
                continue
            wall = time.perf_counter() - t0
            del running[name]
            tail = (work / f"{name}.log").read_text(errors="replace")[-3000:]
            if proc.returncode == 0:
                try:
                    size = compact(job, work, staging / job["group"])
                    status[name] = {"state": "done", "wall_s": round(wall, 1), "compact_bytes": size}
                except Exception as exc:  # noqa: BLE001
                    status[name] = {"state": "failed", "reason": f"compact: {exc!r}", "wall_s": round(wall, 1)}
                log(f"finished {name} rc=0 in {wall:.1f}s")
                print("\n".join(line for line in tail.splitlines() if "job " in line), flush=True)
            else:
                status[name] = {"state": "failed", "rc": proc.returncode, "wall_s": round(wall, 1),
                                "log_tail": tail[-1500:]}
                log(f"FAILED {name} rc={proc.returncode} after {wall:.1f}s; log tail:\n{tail}")
        time.sleep(0.5)

    batch["jobs"] = status
    batch["wall_s"] = round(time.perf_counter() - t_start, 1)
    batch["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    (out / "batch.json").write_text(json.dumps(batch, indent=1, default=str))
    # pack one tar.gz per group (at most 8 files come back: batch.json, log.txt and the groups)
    if staging.exists():
        for group in sorted(p.name for p in staging.iterdir()):
            tar_path = out / f"{group}.tar.gz"
            with tarfile.open(tar_path, "w:gz") as tar:
                tar.add(staging / group, arcname=group)
            if tar_path.stat().st_size > MAX_TAR_BYTES:  # too big to come back: drop the texts, then give up
                import pandas as pd

                for f in (staging / group).glob("*/samples.parquet"):
                    df = pd.read_parquet(f)
                    df.drop(columns=[c for c in ("sentence", "question", "title") if c in df]).to_parquet(
                        f, compression="zstd", index=False)
                with tarfile.open(tar_path, "w:gz") as tar:
                    tar.add(staging / group, arcname=group)
                log(f"{tar_path.name} repacked without sample texts")
                if tar_path.stat().st_size > MAX_TAR_BYTES:
                    tar_path.unlink()
                    log(f"{tar_path.name} dropped: over 15.5 MiB")
                    continue
            log(f"packed {tar_path.name}: {tar_path.stat().st_size / 2**20:.2f} MiB")
    with tarfile.open(out / "job_logs.tar.gz", "w:gz") as tar:
        for f in sorted(work.glob("*.log")):
            tar.add(f, arcname=f"job_logs/{f.name}")
    done = sum(s["state"] == "done" for s in status.values())
    log(f"batch finished in {batch['wall_s']}s: {done}/{len(jobs)} jobs done; "
        + ", ".join(f"{k}={v['state']}" for k, v in status.items()))
    return 0 if done else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(ROOT / "params" / "device" / "gpu_batch.yaml"))
    p.add_argument("--out", default="gpu_out")
    p.add_argument("--work", default="/tmp/nlpdiff_gpu_work", help="full run directories (not brought back)")
    p.add_argument("--model", default=str(ROOT / ".gpu_carry" / "minilm-fp16"))
    p.add_argument("--data-dir", default=str(ROOT / ".gpu_carry" / "data"))
    p.add_argument("--device", default="cuda")
    p.add_argument("--budget-s", type=float, default=420)
    p.add_argument("--grace-s", type=float, default=30)
    p.add_argument("--workers", type=int, default=5)
    p.add_argument("--tiny", action="store_true", help="tiny sizes, for the CPU dry run")
    p.add_argument("--skip-bench", action="store_true")
    p.add_argument("--groups", nargs="*", help="run only the jobs of these groups (e.g. the SNLI ones)")
    p.add_argument("--only", nargs="*", help="run only these jobs (names), e.g. to retry what failed")
    p.add_argument("--job-json", help=argparse.SUPPRESS)
    p.add_argument("--loader", default="datasets", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.job_json:
        run_job(json.loads(args.job_json), args)
        return 0
    return driver(args)


if __name__ == "__main__":
    sys.exit(main())
