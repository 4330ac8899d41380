"""VoG as defined (per gradient element) against the old per-token reduction, on the real MiniLM.

One small fine-tuned SST-2 run with ``vog=True`` (default: 200 sentences, 2 epochs, 2 checkpoints per
epoch, one torch thread). Its VoG accumulator is the package's (per element, Welford); a subclass
also keeps the old reduction (each token's gradient averaged over the embedding dimension before the
variance over checkpoints) from the *same* gradients, so "before" and "after" come from one run.
Prints, and writes to ``<out>/vog_definition.json``: the range of both raw VoGs, their Spearman
correlation with the mean loss, the final loss and the length in tokens, the accumulator's bytes
and the VoG pass's seconds (``run.json``).

Usage: ``python benchmarks/vog_definition.py [OUT] [TRAIN_SIZE] [EPOCHS] [CHECKPOINTS_PER_EPOCH] [LEARNING_RATE]``
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np


def main() -> None:
    import torch
    from scipy import stats

    from nlpdiff import recording
    from nlpdiff.config import from_flat
    from nlpdiff.dynamics import train

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/bench/vog_definition")
    train_size = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    cpe = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    lr = float(sys.argv[5]) if len(sys.argv) > 5 else 5e-5
    torch.set_num_threads(1)

    class BothReductions(recording.VogAccumulator):
        """The package's accumulator plus the old per-token reduction of the same gradients."""

        def __init__(self, lengths):
            super().__init__(lengths)
            n, width = len(lengths), int(np.max(lengths))
            self.old_mean = np.zeros((n, width), np.float32)
            self.old_m2 = np.zeros((n, width), np.float32)
            BothReductions.instance = self

        def update(self, idx, grads, mask, count):
            super().update(idx, grads, mask, count)
            g = np.where(mask, grads.mean(axis=-1), 0.0).astype(np.float32)  # the old code's reduction
            length = g.shape[1]
            mean = self.old_mean[idx, :length]
            delta = g - mean
            mean = mean + delta / count
            self.old_m2[idx, :length] += delta * (g - mean)
            self.old_mean[idx, :length] = mean

        def old_vog(self):
            std = np.sqrt(np.maximum(self.old_m2 / self.count, 0.0))
            real = np.arange(std.shape[1])[None, :] < self.n_tokens[:, None]
            return (std * real).sum(axis=1) / np.maximum(self.n_tokens, 1)

    recording.VogAccumulator = BothReductions
    params = from_flat(dict(task="sst2", train_size=train_size, eval_size=100, epochs=epochs,
                            checkpoints_per_epoch=cpe, learning_rate=lr, vog=True, seed=0, data_seed=0, output_dir=str(out)))
    t0 = time.perf_counter()
    run = train(params, progress=False)
    wall = time.perf_counter() - t0
    acc = BothReductions.instance
    new, old = acc.vog(), acc.old_vog()
    sc = run.scores.set_index("sample_id").loc[run.samples["sample_id"]]
    length = run.samples["n_tokens"].to_numpy(float)

    def rho(a, b):
        return float(stats.spearmanr(a, b).statistic)

    result = {"run_dir": str(out), "train_size": train_size, "epochs": epochs, "checkpoints": int(acc.count),
              "learning_rate": lr, "heldout_accuracy": run.metrics["final"].get("heldout_accuracy"),
              "wall_s": wall, "vog_pass_s": run.info["wall_time_s"]["vog"], "vog_resolved": run.info["resolved"]["vog"]}
    for name, v in (("old_per_token_mean", old), ("new_per_element", new)):
        result[name] = {
            "min": float(v.min()), "median": float(np.median(v)), "max": float(v.max()),
            "spearman_mean_loss": rho(v, sc["mean_loss"]), "spearman_final_loss": rho(v, sc["final_loss"]),
            "spearman_length": rho(v, length),
        }
    result["new_vs_old_spearman"] = rho(new, old)
    result["vog_score_spearman_mean_loss"] = rho(sc["vog"], sc["mean_loss"])
    result["vog_score_spearman_length"] = rho(sc["vog"], length)
    from nlpdiff.compare import partial_spearman

    for name, v in (("old_per_token_mean", old), ("new_per_element", new)):
        result[name]["partial_spearman_mean_loss_given_length"] = partial_spearman(v, sc["mean_loss"].to_numpy(), length)
        result[name]["partial_spearman_final_loss_given_length"] = partial_spearman(v, sc["final_loss"].to_numpy(), length)
    (out / "vog_definition.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
