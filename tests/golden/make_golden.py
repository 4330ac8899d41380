"""Write the golden run outputs of ``tests/test_golden.py`` (run once, from the code being preserved).

The input data are frozen in ``tests/golden/data`` (copies of the tiny test data written by
``tests/conftest.py`` on the day the golden values were made), so that later changes to the test
data writers cannot move the golden values. Each case in :data:`CASES` is one small seeded CPU run;
its ``dynamics.parquet`` and ``scores.parquet`` are stored as ``<case>.dynamics.parquet`` and
``<case>.scores.parquet``. Usage: ``python tests/golden/make_golden.py`` (from the repository root);
the frozen data are kept as they are (written only when missing) unless ``--refresh-data`` is given.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

#: case name -> run options (the training run's parameters, besides data_dir and output_dir); every case pins
#: optimizer="adamw", torch's default AdamW path, and trim_padding=False, whole padded batches, the path the
#: golden values were computed with (a batch in pieces gives the same losses and gradient with dropout off:
#: tests/test_dynamics.py; with dropout on, other draws)
CASES = {
    "finetune_sst2": dict(optimizer="adamw", trim_padding=False, task="sst2", backbone="finetune", model="minilm", train_size=24, eval_size=12, epochs=2,
                          batch_size=8, max_length=24, learning_rate=1e-4, checkpoints_per_epoch=2,
                          noise_rate=0.125, vog=True, seed=3, data_seed=1),
    "scratch_sst2": dict(optimizer="adamw", trim_padding=False, task="sst2", backbone="scratch", train_size=40, eval_size=12, epochs=3, batch_size=8,
                         learning_rate=0.05, vog=True, seed=1, noise_rate=0.1, noise_type="class_conditional"),
    "probe_sst2": dict(optimizer="adamw", trim_padding=False, task="sst2", backbone="probe", model="minilm", train_size=24, eval_size=12, epochs=2,
                       batch_size=8, max_length=24, learning_rate=1e-3, seed=2),
    "finetune_squad": dict(optimizer="adamw", trim_padding=False, task="squad", backbone="finetune", model="minilm", train_size=6, eval_size=4, epochs=2,
                           batch_size=3, max_length=96, doc_stride=32, seed=0),
    "finetune_samsum": dict(optimizer="adamw", trim_padding=False, task="samsum", backbone="finetune", model="minilm", train_size=4, eval_size=2, epochs=2,
                            batch_size=2, max_length=48, max_target_length=16, generation_max_tokens=6, seed=0),
}

DATA_FOLDERS = ("sst2", "squad", "samsum")


def main() -> None:
    import torch

    from conftest import write_tiny_data
    from nlpdiff.config import from_flat
    from nlpdiff.dynamics import train

    torch.set_num_threads(1)
    data = HERE / "data"
    with tempfile.TemporaryDirectory() as tmp:
        if "--refresh-data" in sys.argv or not all((data / folder).is_dir() for folder in DATA_FOLDERS):
            tiny = write_tiny_data(Path(tmp) / "tiny")
            if data.exists():
                shutil.rmtree(data)
            for folder in DATA_FOLDERS:
                shutil.copytree(tiny / folder, data / folder)
        for case, options in CASES.items():
            out = Path(tmp) / case
            train(from_flat({**options, "data_dir": str(data), "output_dir": str(out)}), progress=False)
            for name in ("dynamics", "scores"):
                shutil.copy(out / f"{name}.parquet", HERE / f"{case}.{name}.parquet")
            print("wrote", case)


if __name__ == "__main__":
    main()
