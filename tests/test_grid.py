"""nlpdiff_study.grid: the grids' one file schema, loader and runner (``nlpdiff grid GRID PART``)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from nlpdiff.cli import main as cli_main
from nlpdiff.errors import ParameterError
from nlpdiff_study import grid


@pytest.mark.parametrize("name", list(grid.GRIDS))
def test_every_committed_grid_file_has_the_one_shape_and_every_part_loads(name):
    raw = grid.read_file(grid.grid_file(name))
    assert set(raw) <= {"defaults", "parts"}
    for part in raw["parts"]:
        assert isinstance(grid.part_entry(raw, part)["params"], dict)
        assert grid.load_part(name, part) is not None  # checked by the grid's check_part


def test_defaults_merge_into_every_part_params_key_by_key():
    raw = {"defaults": {"seeds": [1], "params": {"task": "sst2", "epochs": 2}},
           "parts": {"a": {"params": {"epochs": 5}}, "b": {"seeds": [2, 3], "params": {"backbone": "probe"}}}}
    assert grid.part_entry(raw, "a") == {"seeds": [1], "params": {"task": "sst2", "epochs": 5}}
    assert grid.part_entry(raw, "b") == {"seeds": [2, 3], "params": {"task": "sst2", "epochs": 2, "backbone": "probe"}}
    with pytest.raises(ParameterError, match="one of \\['a', 'b'\\]"):
        grid.part_entry(raw, "c")
    with pytest.raises(ParameterError, match="c.params"):
        grid.part_entry({"parts": {"c": {"sizes": [8]}}}, "c")


def test_bad_files_and_names_are_one_line_before_anything_trains(tmp_path, capsys):
    bad = tmp_path / "g.yaml"
    for text, key in (("parts: {}\n", "parts"), ("parts: {a: 3}\n", "parts.a"),
                      ("parts: {a: {params: {task: sst2}}}\nextra: 1\n", "extra")):
        bad.write_text(text)
        with pytest.raises(ParameterError, match=key):
            grid.read_file(bad)
    with pytest.raises(ParameterError, match="params_file"):
        grid.read_file(tmp_path / "missing.yaml")
    with pytest.raises(ParameterError, match="grid"):
        grid.load_part("vibes", "a")
    assert cli_main(["grid", "vibes", "a"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nlpdiff: error: grid") and "mislabel" in err and "\n" not in err
    assert cli_main(["grid", "curriculum", "nope", "--params-file", "params/grids/curriculum.yaml"]) == 2
    assert "sst2_probe_cpu" in capsys.readouterr().err
    assert cli_main(["grid", "curriculum", "smoke", "--max-runs", "2"]) == 2
    assert "--max-runs" in capsys.readouterr().err


def test_the_command_computes_a_part_and_writes_part_json(tiny_data_dir, tmp_path, one_torch_thread, capsys):
    f = tmp_path / "learning_curve.yaml"
    f.write_text("defaults: {params: {task: sst2, backbone: scratch, model: scratch, epochs: 1, batch_size: 4,\n"
                 f"  max_length: 16, eval_size: 8, learning_rate: 0.01, data_dir: '{tiny_data_dir}'}}}}\n"
                 "parts:\n  tiny: {params: {checkpoints_per_epoch: 1}, sizes: [8]}\n")
    args = ["grid", "learning_curve", "tiny", "--params-file", str(f), "--runs-dir", str(tmp_path / "runs"),
            "--results-dir", str(tmp_path / "results")]
    assert cli_main(args) == 0, capsys.readouterr().err
    folder = tmp_path / "results" / "tiny"
    curve = pd.read_csv(folder / "curve.csv")
    assert list(curve.train_size.unique()) == [8] and (tmp_path / "runs" / "tiny" / "n8" / "run.json").is_file()
    info = json.loads((folder / "part.json").read_text())
    assert info["part"] == "tiny" and info["config"]["sizes"] == [8] and info["config"]["params"]["epochs"] == 1
    assert info["wall_s"] >= 0 and info["finished_at"].endswith("Z")
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary file left
    stamp = (tmp_path / "runs" / "tiny" / "n8" / "run.json").stat().st_mtime_ns
    assert cli_main(args) == 0  # a second call reuses the finished run
    assert (tmp_path / "runs" / "tiny" / "n8" / "run.json").stat().st_mtime_ns == stamp


def test_a_new_grid_is_one_module_and_one_line_in_grids(tmp_path, monkeypatch):
    """design.md's "Add a grid": a module with check_part and compute, one GRIDS entry, a grid file."""
    import sys
    import types

    toy = types.ModuleType("toy_grid")

    def check_part(name, entry):
        if entry.get("sizes") != sorted(entry.get("sizes", [])):
            raise ParameterError(f"{name}.sizes", entry.get("sizes"), "sizes in increasing order")
        return entry

    def compute(name, part, runs_dir, out_dir, progress=False):
        out_dir.mkdir(parents=True, exist_ok=True)
        table = pd.DataFrame({"size": part["sizes"], "lr": part["params"]["learning_rate"]})
        table.to_csv(out_dir / "sizes.csv", index=False)
        return {"sizes": table}

    toy.check_part, toy.compute = check_part, compute
    monkeypatch.setitem(sys.modules, "toy_grid", toy)
    monkeypatch.setitem(grid.GRIDS, "toy", "toy_grid")
    f = tmp_path / "toy.yaml"
    f.write_text("defaults: {params: {learning_rate: 0.1}}\nparts:\n  a: {params: {}, sizes: [1, 2]}\n"
                 "  b: {params: {learning_rate: 0.2}, sizes: [2, 1]}\n")
    tables = grid.run_part("toy", "a", f, tmp_path / "runs", tmp_path / "results")
    assert list(tables["sizes"]["lr"]) == [0.1, 0.1]
    info = json.loads((tmp_path / "results" / "a" / "part.json").read_text())
    assert info["config"] == {"params": {"learning_rate": 0.1}, "sizes": [1, 2]}
    with pytest.raises(ParameterError, match="b.sizes"):
        grid.run_part("toy", "b", f, tmp_path / "runs", tmp_path / "results")
    assert not (tmp_path / "results" / "b").exists()
