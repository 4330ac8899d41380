"""Backbone ``probe``: a frozen pretrained encoder, its features cached on disk, and a small trainable head.

The encoder (``params.model``; default ``"minilm"``, the packaged all-MiniLM-L6-v2) is run once per
text list: its last hidden states are mean-pooled over real tokens (as sentence-transformers pools
that model, before its L2 normalisation) and the ``(N, D)`` features are cached
(:mod:`nlpdiff.models.cache`, keyed by model, tokenizer settings including ``max_length``, and the
texts). Training then touches only a small MLP on those features,
``Linear(D, hidden) - GELU - Dropout - Linear(hidden, num_labels)``, so a run costs seconds on a CPU
once the features exist: cheap enough for many seeds and noise rates.

Options (:class:`nlpdiff.config.ProbeOptions`): ``probe_hidden`` (hidden width, default 256),
``probe_dropout`` (default 0.1), ``probe_feature_batch_size`` (encoder batch size for feature
extraction, default 64; 32 for QA), ``probe_cache_scope``: ``"texts"`` (default) caches the features of exactly the run's samples;
``"split"`` computes and caches the features of the *whole* training and held-out splits once and
picks the run's rows by ``row_idx``. The training subset is drawn with ``data_seed``: runs that
differ only in ``seed`` or ``noise_rate`` share their texts and hit the cache with either scope, but
every new ``data_seed`` is a new text list, a new extraction with ``"texts"``, and a cache hit with
``"split"``, which costs one extraction of the full split up front. The folds of confident learning
train on subsets through a sampler (:class:`nlpdiff.samplers.SubsetSampler`) while the head is
built on the full training set, so every fold hits the same cached features: K folds cost about K
trainings of the small head.
The loop's default ``learning_rate`` (5e-5) is meant for fine-tuning; the probe wants about 1e-3:
pass it explicitly.

VoG is not available on this backbone: VoG is the variance of the gradient of the gold logit with
respect to the input word embeddings, and here the encoder is frozen and only its pooled output is
kept, so those gradients are never computed. (The gradient with respect to the pooled feature
exists, but it is a different quantity and would not be comparable with VoG of the other
backbones.) Asking for ``vog=True`` raises a :class:`~nlpdiff.errors.ParameterError` before any
feature is computed.

Extractive QA (:class:`ProbeQAHead`): the
encoding, skipped questions, statistics and metrics of :class:`~nlpdiff.models.qa.ExtractiveQAHead`;
the encoder's last hidden states of every window used (the answer-holding training window of each
question, every held-out window) are cached as float16, keyed by the model and the windows' token
ids; a per-token ``Linear(D, hidden) - GELU - Dropout - Linear(hidden, 2)`` gives the start and end
logits. It wants a learning rate of about 3e-3. Cache size: ``tokens x D x 2`` bytes, about 0.2 MB
per 256-token window with MiniLM (D = 384).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nlpdiff.models.options import ProbeOptions, ProbeQAOptions
from nlpdiff.errors import ParameterError
from nlpdiff.models.base import register_head
from nlpdiff.models.classification import ClassificationHeadBase
from nlpdiff.models.qa import ExtractiveQAHead, check_max_length

_VOG_REASON = (
    "backbone 'finetune' or 'scratch' for VoG; the 'probe' encoder is frozen and only its output "
    "features are cached, so gradients with respect to word embeddings are not available"
)


def probe_mlp(dim: int, hidden: int, num_labels: int, dropout: float):
    """The probe's trainable head: ``Linear(dim, hidden) - GELU - Dropout - Linear(hidden, num_labels)``."""
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(dim, hidden), torch.nn.GELU(), torch.nn.Dropout(dropout),
        torch.nn.Linear(hidden, num_labels),
    )


def _probe_options(head, feature_batch_size: int):
    """Set the probe options, the encoder's source and its width on ``head``; return the encoder's config.

    ``feature_batch_size`` is the default of ``probe_feature_batch_size``. Reads only the
    configuration (no weights, no random numbers), so that the trainable head can be created first.
    """
    from nlpdiff.models.hub import load_config, resolve_model

    options = head.options
    head.hidden, head.dropout = int(options.probe_hidden), float(options.probe_dropout)
    head.feature_batch_size = int(options.probe_feature_batch_size or feature_batch_size)
    head.source = resolve_model(head.params.model)
    config = load_config(head.params.model, head.source)
    head.dim = int(config.hidden_size)
    return config


def _load_frozen_encoder(head) -> None:
    """Load the frozen encoder on ``head`` (after :func:`_probe_options`); a model that does not
    load raises :class:`ParameterError` naming ``model``."""
    from transformers import AutoModel

    try:
        head.encoder = AutoModel.from_pretrained(head.source)
    except (OSError, ValueError) as exc:
        raise ParameterError("model", head.params.model, "a loadable Hugging Face encoder",
                             hint=str(exc).splitlines()[0]) from exc
    head.encoder.to(head.device).eval().requires_grad_(False)


@register_head
class ProbeClassificationHead(ClassificationHeadBase):
    """Classification with an MLP on cached mean-pooled features of a frozen encoder (see module doc)."""

    backbone = "probe"
    supports_vog = False
    vog_unsupported_reason = _VOG_REASON
    options_class = ProbeOptions

    def build(self, samples: pd.DataFrame, heldout: pd.DataFrame) -> pd.DataFrame:
        import torch

        if self.params.vog:
            raise ParameterError("vog", True, _VOG_REASON)
        self.scope = self.options.probe_cache_scope
        self.cache_keys: list[str] = []
        self._load()
        splits = getattr(self.params, "splits", None)
        train_split, eval_split = splits() if splits else (self.spec.train_split, self.spec.eval_split)
        self.train_enc = self._encode_frame(samples, train_split)
        self.held_enc = self._encode_frame(heldout, eval_split) if len(heldout) else None
        self.train_labels = torch.tensor(samples["label"].to_numpy(), dtype=torch.long)
        self.held_labels = torch.tensor(heldout[self.spec.column("label")].to_numpy().astype(np.int64),
                                        dtype=torch.long)
        return samples

    def _encode_frame(self, frame: pd.DataFrame, split: str | None) -> dict[str, Any]:
        """Features of the frame's inputs (:meth:`inputs`); with scope ``"split"``, rows of the cached
        features of the whole split."""
        import torch

        from nlpdiff import tasks

        texts, pairs = self.inputs(frame)
        if self.scope != "split" or split is None or not len(frame) or tasks.ROW_INDEX not in frame.columns:
            return self._encode(texts, pairs)
        full = tasks.load_split(self.spec, split, data_dir=self.params.data_dir)
        rows = frame[tasks.ROW_INDEX].to_numpy().astype(np.int64)
        full_texts, full_pairs = self.inputs(full)
        if [full_texts[r] for r in rows] != texts:  # pragma: no cover - row_idx is kept by subsample
            raise ValueError(f"{split}: the row_idx of the samples does not match the texts of the split")
        enc = self._encode(full_texts, full_pairs)
        enc["features"] = enc["features"][torch.as_tensor(rows, device=self.device)]
        enc["n_tokens"] = enc["n_tokens"][rows]
        return enc

    def _load(self) -> None:
        from transformers import AutoTokenizer

        _probe_options(self, feature_batch_size=64)
        # first, before the encoder loads: the loop seeded right before build, so the head's
        # initialisation depends on the seed only
        self.model = probe_mlp(self.dim, self.hidden, self.spec.num_labels, self.dropout).to(self.device)
        _load_frozen_encoder(self)
        self.tokenizer = AutoTokenizer.from_pretrained(self.source)

    def _encode(self, texts: list[str], text_pairs: list[str] | None = None) -> dict[str, Any]:
        import torch

        from nlpdiff.models.cache import encoder_features

        feats, key = encoder_features(
            self.encoder, self.tokenizer, self.source, texts, self.params.max_length,
            batch_size=self.feature_batch_size, device=self.device, desc="probe features",
            text_pairs=text_pairs,
        )
        if hasattr(self, "cache_keys"):
            self.cache_keys.append(key)
        enc = self.tokenizer(list(texts), text_pairs, truncation=True, max_length=self.params.max_length)
        n_tokens = np.array([len(ids) for ids in enc["input_ids"]], dtype=np.int64)
        return {"features": torch.from_numpy(feats).to(self.device), "n_tokens": n_tokens}

    def _enc_lengths(self, enc) -> np.ndarray:
        return enc["n_tokens"]

    def _logits(self, enc, idx):
        import torch

        return self.model(enc["features"][torch.as_tensor(idx, dtype=torch.long, device=self.device)])

    def gold_output(self, idx):
        raise ParameterError("vog", True, _VOG_REASON)

    def describe(self) -> dict[str, Any]:
        from nlpdiff.models.cache import cache_dir

        return {
            **super().describe(),
            "model_source": self.source,
            "encoder_class": type(self.encoder).__name__,
            "encoder_parameters": sum(p.numel() for p in self.encoder.parameters()),
            "feature_dim": self.dim,
            "pooling": "mean",
            "probe_hidden": self.hidden,
            "probe_dropout": self.dropout,
            "feature_cache_dir": str(cache_dir()),
            "feature_cache_keys": list(getattr(self, "cache_keys", [])),
            "feature_cache_scope": getattr(self, "scope", "texts"),
        }


__all__ = ["ProbeClassificationHead", "ProbeQAHead", "probe_mlp", "token_features"]


# -- extractive question answering ----------------------------------------------------------------

def token_features(encoder, inputs: dict[str, list[list[int]]], rows, pad_id: int, batch_size: int = 32,
                   device: Any = "cpu", progress: bool = True, desc: str = "probe token features"):
    """Last hidden states of the windows ``rows`` of ``inputs`` (unpadded id lists), no gradient.

    Returns ``(flat, starts)``: ``flat`` is float16 ``(total tokens, D)``, window ``rows[k]``'s tokens are
    ``flat[starts[k]:starts[k + 1]]``. Windows run in batches sorted by length (less padding).
    """
    import torch

    from nlpdiff.models.cache import _progress

    rows = np.asarray(rows, dtype=np.int64)
    lengths = np.array([len(inputs["input_ids"][f]) for f in rows], dtype=np.int64)
    starts = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    flat = np.empty((int(starts[-1]), encoder.config.hidden_size), dtype=np.float16)
    order = np.argsort(-lengths, kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    encoder.eval()
    with torch.no_grad():
        for ks in _progress(batches, progress, desc=desc, leave=False):
            width = int(lengths[ks].max())
            batch = {}
            for name, lists in inputs.items():
                arr = np.full((len(ks), width), pad_id if name == "input_ids" else 0, dtype=np.int64)
                for r, k in enumerate(ks):
                    arr[r, :lengths[k]] = lists[rows[k]]
                batch[name] = torch.from_numpy(arr).to(device)
            hidden = encoder(**batch).last_hidden_state.float().cpu().numpy()
            for r, k in enumerate(ks):
                flat[starts[k]:starts[k + 1]] = hidden[r, :lengths[k]]
    return flat, starts


# -- extractive question answering on the frozen encoder --------------------------------------------

@register_head
class ProbeQAHead(ExtractiveQAHead):
    """Extractive QA on a frozen encoder: cached token features and a light trainable span layer.

    Encoding, skipped questions, statistics and held-out metrics are those of
    :class:`~nlpdiff.models.qa.ExtractiveQAHead`. The encoder (``params.model``) runs once over
    the training windows (the one answer-holding window per question) and every held-out window;
    its last hidden states are cached (float16, :mod:`nlpdiff.models.cache`, keyed by model and
    the windows' token ids, which fix ``max_length`` and ``doc_stride``). The trainable part is
    ``Linear(D, hidden) - GELU - Dropout - Linear(hidden, 2)`` per token: start and end logits.
    VoG is not available (frozen encoder, see the module docstring).
    """

    supports_vog = False
    vog_unsupported_reason = _VOG_REASON
    options_class = ProbeQAOptions

    backbone = "probe"
    pads_to_longest = False

    def build(self, samples: pd.DataFrame, heldout: pd.DataFrame) -> pd.DataFrame:
        import torch
        from transformers import AutoTokenizer

        if self.params.vog:
            raise ParameterError("vog", True, _VOG_REASON)
        config = _probe_options(self, feature_batch_size=32)
        check_max_length(config, self.params.max_length)
        # first, before the encoder loads (the loop seeded right before build)
        self.model = torch.nn.Sequential(
            torch.nn.Linear(self.dim, self.hidden), torch.nn.GELU(), torch.nn.Dropout(self.dropout),
            torch.nn.Linear(self.hidden, 2),
        ).to(self.device)
        _load_frozen_encoder(self)
        self.tokenizer = AutoTokenizer.from_pretrained(self.source)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

        kept = self._encode_data(samples, heldout)  # as ExtractiveQAHead, with the encoder frozen

        self.cache_keys: list[str] = []
        self._stores: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._store(self.train_features, np.unique(self.train_feat), "probe token features (train)")
        if self.held_features is not None:
            self._store(self.held_features, np.arange(len(self.held_features)), "probe token features (held-out)")
        return kept

    def _store(self, feats, rows, desc) -> None:
        from nlpdiff.models.cache import cache_key, cached_features, model_fingerprint

        rows = np.asarray(rows, dtype=np.int64)
        parts = {
            "what": "token_features", "dtype": "float16",
            "model": model_fingerprint(self.source, self.encoder.config),
            "inputs": {name: [feats.input[name][f] for f in rows] for name in feats.input},
        }
        def compute():
            return token_features(self.encoder, feats.input, rows, self.pad_id, self.feature_batch_size,
                                  self.device, desc=desc)[0]

        flat = cached_features(parts, compute)
        lengths = np.array([len(feats.input["input_ids"][f]) for f in rows], dtype=np.int64)
        starts = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        if len(flat) != starts[-1]:  # pragma: no cover - the key fixes the token counts
            raise ValueError("cached token features do not match the windows")
        where = np.full(len(feats), -1, dtype=np.int64)
        where[rows] = starts[:-1]
        self._stores[id(feats)] = (flat, where, lengths)
        self.cache_keys.append(cache_key(parts))

    def _batch(self, feats, fidx):
        import torch

        out, ctx = super()._batch(feats, fidx)
        flat, where, _ = self._stores[id(feats)]
        width = out["input_ids"].shape[1]
        x = np.zeros((len(fidx), width, flat.shape[1]), dtype=np.float32)
        for r, f in enumerate(fidx):
            n = feats.length(f)
            x[r, :n] = flat[where[f]:where[f] + n]
        out["_token_features"] = torch.from_numpy(x).to(self.device)
        return out, ctx

    def _logits(self, batch, embeds=None):
        logits = self.model(batch["_token_features"]).float()
        return logits[..., 0], logits[..., 1]

    def gold_output(self, idx):
        raise ParameterError("vog", True, _VOG_REASON)

    def describe(self) -> dict[str, Any]:
        from nlpdiff.models.cache import cache_dir

        return {
            **super().describe(),
            "encoder_class": type(self.encoder).__name__,
            "encoder_parameters": sum(p.numel() for p in self.encoder.parameters()),
            "feature_dim": self.dim,
            "probe_hidden": self.hidden,
            "probe_dropout": self.dropout,
            "feature_cache_dir": str(cache_dir()),
            "feature_cache_keys": list(self.cache_keys),
        }
