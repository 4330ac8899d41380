"""nlpdiff_study.learning_curve: one run per size, reused when finished, one summary row per checkpoint."""

from __future__ import annotations

import pandas as pd
import pytest

from nlpdiff_study import grid, learning_curve as lc
from nlpdiff.errors import ParameterError


@pytest.mark.slow
def test_learning_curve_trains_each_size_once_and_resumes(tmp_path, tiny_data_dir, one_torch_thread):
    base = dict(task="sst2", backbone="scratch", model="scratch", epochs=2, batch_size=4, max_length=16,
                learning_rate=0.01, eval_size=8, data_dir=str(tiny_data_dir))
    table = lc.learning_curve(base, [8, 16], tmp_path / "runs", progress=False)
    assert sorted(table.train_size.unique()) == [8, 16]
    # two checkpoints per epoch by default or one: every checkpoint of every size is a row
    assert (table.groupby("train_size").checkpoint.nunique() >= 2).all()
    assert {"heldout_accuracy", "examples_seen", "wall_s", "device", "finished_at"} <= set(table.columns)
    assert table[table.train_size == 16].examples_seen.max() > table[table.train_size == 8].examples_seen.max()
    stamp = (tmp_path / "runs" / "n8" / "run.json").stat().st_mtime_ns
    again = lc.learning_curve(base, [8], tmp_path / "runs", progress=False)  # reused, not retrained
    assert (tmp_path / "runs" / "n8" / "run.json").stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(again, table[table.train_size == 8].reset_index(drop=True))


def test_bad_sizes_and_parts_are_refused_before_training(tmp_path):
    with pytest.raises(ParameterError, match="sizes"):
        lc.learning_curve({"task": "sst2"}, [0], tmp_path)
    with pytest.raises(ParameterError, match="epochs"):
        lc.learning_curve({"task": "sst2", "epochs": 0}, [8, 16], tmp_path)
    assert not any(tmp_path.iterdir())
    f = tmp_path / "lc.yaml"
    f.write_text("parts:\n  a: {params: {task: sst2}, sizes: [8]}\n  b: {params: {task: sst2}, sizes: [8, -1]}\n"
                 "  c: {params: {task: sst2, epochs: 0}, sizes: [8]}\n  d: {base: {task: sst2}, sizes: [8]}\n")
    assert grid.load_part("learning_curve", "a", f) == {"params": {"task": "sst2"}, "sizes": [8]}
    for name, key in (("b", "sizes"), ("c", "epochs"), ("d", "params"), ("e", "part")):
        with pytest.raises(ParameterError, match=key):
            grid.load_part("learning_curve", name, f)


def test_largest_size_reads_the_last_checkpoint_of_the_largest_size(tmp_path):
    from nlpdiff_study.learning_curve import largest_size

    rows = [{"train_size": n, "checkpoint": c, "epoch": c + 1.0, "examples_seen": n * (c + 1), "heldout_f1": f}
            for n, c, f in ((400, 0, 7.8), (400, 1, 9.3), (2000, 0, 37.6), (2000, 1, 46.7))]
    path = tmp_path / "curve.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    assert largest_size(path) == {"train_size": 2000, "epoch": 2.0, "examples_seen": 4000, "heldout_f1": 46.7}
    assert largest_size(tmp_path / "missing.csv") is None and largest_size(path, metric="rougeL") is None
