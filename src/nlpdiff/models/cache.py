"""An on-disk cache of features computed by a frozen encoder (used by the ``probe`` backbone).

A frozen encoder gives the same features for the same texts every time, so they are computed once
and kept as one ``.npy`` file per *key*. The key is the SHA-256 of a canonical JSON rendering of
``key_parts``: for pooled encoder features (:func:`encoder_features`) that is the resolved model
path or hub id together with a fingerprint of its configuration (and tokenizer files, and the size
of its weight files), the tokenizer settings (``max_length``, truncation, pooling), and the exact
list of texts in order (and, for text pairs, the list of second texts). Change any of them and the features are recomputed.

Folder: ``$NLPDIFF_CACHE_DIR`` if set, else ``~/.cache/nlpdiff/features``. Files are written
atomically (a temporary file in the same folder, then :func:`os.replace`), so an interrupted
computation never leaves a truncated file that a later run would trust; a file that cannot be read
is treated as missing and recomputed. Deleting the folder is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from nlpdiff.errors import ParameterError
from nlpdiff.rundir import atomic_write, json_default

#: Environment variable that overrides the cache folder.
CACHE_DIR_ENV = "NLPDIFF_CACHE_DIR"
#: Bump when the layout or the computation of cached features changes.
CACHE_VERSION = 1

__all__ = [
    "CACHE_DIR_ENV", "cache_dir", "cache_key", "cache_path", "cached_features", "encoder_features",
    "model_fingerprint", "pooled_features",
]


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``path`` if given, else ``$NLPDIFF_CACHE_DIR``, else ``~/.cache/nlpdiff/features``."""
    if path is None:
        path = os.environ.get(CACHE_DIR_ENV) or Path.home() / ".cache" / "nlpdiff" / "features"
    return Path(path).expanduser()


def cache_key(key_parts: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``key_parts`` (sorted keys, no whitespace)."""
    try:
        text = json.dumps({"cache_version": CACHE_VERSION, "parts": key_parts}, sort_keys=True,
                          separators=(",", ":"), ensure_ascii=False, default=json_default)
    except TypeError as exc:
        raise ParameterError("key_parts", type(key_parts).__name__, "JSON-serialisable key parts",
                             hint=str(exc)) from exc
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_path(key_parts: Any, folder: str | os.PathLike | None = None) -> Path:
    """Where the array of ``key_parts`` is (or would be) cached."""
    return cache_dir(folder) / f"{cache_key(key_parts)}.npy"


def cached_features(key_parts: Any, compute: Callable[[], np.ndarray],
                    folder: str | os.PathLike | None = None) -> np.ndarray:
    """The cached array for ``key_parts``, or ``compute()`` written atomically to the cache first.

    ``compute`` is called only on a miss (or when the cached file is unreadable). The returned
    array is always the one read back from, or written to, the cache file.
    """
    path = cache_path(key_parts, folder)
    if path.exists():
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            pass  # unreadable (should not happen with atomic writes): recompute and overwrite
    array = np.ascontiguousarray(compute())
    if array.dtype == object:
        raise ParameterError("compute", array.dtype, "a function returning a numeric array")

    def save(tmp):
        with open(tmp, "wb") as fh:
            np.save(fh, array, allow_pickle=False)

    atomic_write(path, save)
    return array


# -- pooled features of a frozen encoder ------------------------------------------------------

_FINGERPRINT_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
                      "special_tokens_map.json", "1_Pooling/config.json")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5")


def model_fingerprint(source: str, config: Any = None) -> dict[str, Any]:
    """What identifies a model for the cache: its path or id, a hash of its config and tokenizer
    files, and the names and sizes of its weight files (local folders), or a hash of the loaded
    config (hub ids)."""
    path = Path(source)
    if path.is_dir():
        digest = hashlib.sha256()
        for name in _FINGERPRINT_FILES:
            f = path / name
            if f.is_file():
                digest.update(name.encode() + b"\0" + f.read_bytes() + b"\0")
        weights = sorted((f.name, f.stat().st_size) for f in path.iterdir()
                         if f.is_file() and f.name.endswith(_WEIGHT_SUFFIXES))
        return {"model": str(path.resolve()), "files_sha256": digest.hexdigest(), "weights": weights}
    text = config.to_json_string(use_diff=False) if config is not None else ""
    return {"model": source, "config_sha256": hashlib.sha256(text.encode()).hexdigest()}


def _progress(iterable, enabled: bool, **kwargs):
    from tqdm import tqdm

    # as the training loop: smooth in a terminal; in a notebook or a log, an update every 5 s at most
    return tqdm(iterable, mininterval=0.5 if sys.stderr.isatty() else 5.0, file=sys.stderr,
                disable=not enabled, **kwargs)


def pooled_features(model, tokenizer, texts: Sequence[str], max_length: int, batch_size: int = 64,
                    device: Any = "cpu", progress: bool = True, desc: str = "features",
                    text_pairs: Sequence[str] | None = None) -> np.ndarray:
    """Mean-pooled last hidden states over real tokens (attention mask), float32 ``(len(texts), D)``.

    With ``text_pairs``, row i pools the pair ``(texts[i], text_pairs[i])`` encoded jointly, as the
    tokenizer joins two segments (truncated longest-first to ``max_length`` tokens in all).

    As sentence-transformers pools all-MiniLM-L6-v2 (before its final L2 normalisation). Texts are
    processed in batches sorted by length (less padding), in eval mode with no gradient; the rows
    come back in the order of ``texts``.
    """
    import torch

    texts = list(texts)
    pairs = list(text_pairs) if text_pairs is not None else None
    n = len(texts)
    if pairs is not None and len(pairs) != n:
        raise ParameterError("text_pairs", f"{len(pairs)} texts", f"as many second texts as texts ({n})")
    dim = model.config.hidden_size
    out = np.empty((n, dim), dtype=np.float32)
    if n == 0:
        return out
    lengths = np.array([len(ids) for ids in tokenizer(texts, pairs, truncation=True, max_length=max_length)["input_ids"]])
    order = np.argsort(-lengths, kind="stable")  # longest first: the peak memory shows at once
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for idx in _progress(batches, progress, desc=desc, leave=False):
            batch = tokenizer([texts[i] for i in idx], [pairs[i] for i in idx] if pairs is not None else None,
                              padding=True, truncation=True, max_length=max_length, return_tensors="pt")
            batch = {k: v.to(device) for k, v in batch.items()}
            hidden = model(**batch).last_hidden_state.float()
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            out[idx] = pooled.cpu().numpy()
    model.train(was_training)
    return out


def encoder_features(model, tokenizer, source: str, texts: Sequence[str], max_length: int,
                     batch_size: int = 64, device: Any = "cpu", progress: bool = True,
                     folder: str | os.PathLike | None = None, desc: str = "features",
                     text_pairs: Sequence[str] | None = None) -> tuple[np.ndarray, str]:
    """Cached :func:`pooled_features` of ``texts`` (or of the pairs ``(texts[i], text_pairs[i])``);
    returns ``(features, cache key)``.

    ``source`` is the resolved model path or hub id (:func:`nlpdiff.models.hub.resolve_model`).
    The second texts of pairs are part of the key (``"text_pairs"``), so a pair never reuses the
    features of its first text alone; single texts keep the key they always had.
    """
    texts = [str(t) for t in texts]
    pairs = [str(t) for t in text_pairs] if text_pairs is not None else None
    key_parts = {
        "what": "pooled_features",
        "pooling": "mean",
        "dtype": "float32",
        "model": model_fingerprint(source, getattr(model, "config", None)),
        "tokenizer": {"class": type(tokenizer).__name__, "max_length": int(max_length), "truncation": True,
                      "padding": "longest"},
        "texts": texts,
    }
    if pairs is not None:
        key_parts["text_pairs"] = pairs

    def compute():
        return pooled_features(model, tokenizer, texts, max_length, batch_size=batch_size, device=device,
                               progress=progress, desc=desc, text_pairs=pairs)

    return cached_features(key_parts, compute, folder=folder), cache_key(key_parts)
