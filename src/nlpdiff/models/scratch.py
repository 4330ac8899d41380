"""Backbone ``scratch``: a fast n-gram bag model trained from nothing (in the spirit of fastText).

Joulin, Grave, Bojanowski and Mikolov (2017), *Bag of Tricks for Efficient Text Classification*:
a text is the average of the embeddings of its word n-grams, followed by a linear layer to the
classes. Here:

* tokenisation: lowercase, then the regex ``\\w+(?:'\\w+)*|[^\\w\\s]`` (words, with inner
  apostrophes such as ``n't`` or ``it's``, and single punctuation marks); at most ``max_length``
  words are kept (the run's ``max_length``, in words for this backbone);
* features: word unigrams and bigrams (``scratch_ngrams`` = 2; 1 for unigrams only, 3 adds
  trigrams), each hashed into one of ``scratch_buckets`` buckets with CRC-32 of its UTF-8 bytes
  (:func:`ngram_ids`): stable across processes and machines, unlike Python's salted ``hash()``;
  an empty text gets one reserved ``<empty>`` n-gram;
* text pairs (a task with a ``text_pair`` role, e.g. premise and hypothesis): the bag holds the
  n-grams of both segments, each tokenised and cut to ``max_length`` words on its own, and every
  n-gram of the second segment is prefixed with ``PAIR_PREFIX`` (``"2|"``), so that ``not`` in the
  hypothesis and ``not`` in the premise are two features. The first segment's n-grams are those of
  a single text. No n-gram spans the two segments. A bag cannot relate the segments (it sees no
  overlap between them), so on inference tasks it learns what the second segment alone reveals;
* model (:class:`NgramBag`): ``EmbeddingBag(buckets, dim, mode="mean")`` then ``Linear(dim,
  num_labels)``; with ``scratch_hidden`` > 0 a ``Linear(dim, hidden) - Tanh`` sits in between.
  No pretrained weight: ``params.model`` is ignored and ``"scratch"`` is recorded as the model.

Options (:class:`nlpdiff.config.ScratchOptions`, defaults): ``scratch_buckets`` (2**18),
``scratch_dim`` (64), ``scratch_ngrams`` (2), ``scratch_hidden`` (0). The loop's AdamW uses dense gradients, so one step
costs in proportion to ``buckets * dim``; the defaults keep a step at a few milliseconds. The loop's
default ``learning_rate`` (5e-5) is meant for fine-tuning: this model wants about 1e-2 to 5e-2,
passed explicitly.

VoG (``gold_output``): the gradient of the gold logit with respect to each n-gram's embedding in
the bag (``mask`` = the sample's real n-grams), computed from the same weights through an explicit
masked mean. A caveat that the study must state: with the default linear model the gold logit is
``w_y . mean_i(e_i) + b_y``, so the gradient with respect to every n-gram embedding is ``w_y / n``:
it is the same for every n-gram of a sample and depends on the sample only through its label and
its number of n-grams ``n``. VoG then ranks the samples of one class by 1/n. A hidden layer
(``scratch_hidden`` > 0) makes the gradient depend on the text (still equal across the n-grams of
one sample, since the bag is an average).
"""

from __future__ import annotations

import functools
import math
import re
import weakref
import zlib
from typing import Any, Iterable, Sequence

import numpy as np

from nlpdiff.models.options import ScratchOptions
from nlpdiff.models.base import register_head
from nlpdiff.models.classification import ClassificationHeadBase

TOKEN_PATTERN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
EMPTY_TOKEN = "<empty>"
#: Prefix of the n-grams of the second segment of a text pair.
PAIR_PREFIX = "2|"


def tokenize(text: str, max_words: int | None = None) -> list[str]:
    """Lowercased words and punctuation marks of ``text`` (at most ``max_words``)."""
    words = TOKEN_PATTERN.findall(str(text).lower())
    return words[:max_words] if max_words is not None else words


def ngrams(words: Sequence[str], n: int = 2) -> list[str]:
    """Word 1- to ``n``-grams of ``words`` (the n-gram's words joined by a space), unigrams first."""
    out = list(words)
    for k in range(2, n + 1):
        out.extend(" ".join(words[i:i + k]) for i in range(len(words) - k + 1))
    return out or [EMPTY_TOKEN]


def stable_bucket(gram: str, buckets: int) -> int:
    """Bucket of one n-gram: CRC-32 of its UTF-8 bytes modulo ``buckets`` (same in every process)."""
    return zlib.crc32(gram.encode("utf-8")) % buckets


def ngram_ids(text: str, buckets: int, n: int = 2, max_words: int | None = None,
              memo: dict[str, int] | None = None) -> np.ndarray:
    """Bucket ids (int64) of the 1- to ``n``-grams of ``text``, in the order of :func:`ngrams`."""
    return _gram_ids(ngrams(tokenize(text, max_words), n), buckets, memo)


def _gram_ids(grams: list[str], buckets: int, memo: dict[str, int] | None) -> np.ndarray:
    if memo is None:
        return np.fromiter((stable_bucket(g, buckets) for g in grams), dtype=np.int64, count=len(grams))
    out = np.empty(len(grams), dtype=np.int64)
    for i, g in enumerate(grams):
        b = memo.get(g)
        if b is None:
            b = memo[g] = stable_bucket(g, buckets)
        out[i] = b
    return out


@functools.lru_cache(maxsize=None)
def _module():
    import torch

    class NgramBag(torch.nn.Module):
        """Mean of hashed n-gram embeddings, then (optionally ``Linear - Tanh``) ``Linear`` to the classes."""

        def __init__(self, buckets: int, dim: int, num_labels: int, hidden: int = 0):
            super().__init__()
            self.embedding = torch.nn.EmbeddingBag(buckets, dim, mode="mean", sparse=True)
            torch.nn.init.uniform_(self.embedding.weight, -1.0 / dim, 1.0 / dim)  # as fastText
            if hidden > 0:
                self.classifier = torch.nn.Sequential(
                    torch.nn.Linear(dim, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, num_labels))
            else:
                self.classifier = torch.nn.Linear(dim, num_labels)

        def forward(self, ids, offsets):
            """Logits of the bags given as flat ids and start offsets (EmbeddingBag layout)."""
            return self.classifier(self.embedding(ids, offsets))

        def forward_embeds(self, embeds, mask):
            """Logits from per-n-gram embeddings ``(B, L, D)`` and a mask ``(B, L)``: the same function."""
            m = mask.unsqueeze(-1).to(embeds.dtype)
            pooled = (embeds * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)
            return self.classifier(pooled)

    return NgramBag


def NgramBag(buckets: int, dim: int, num_labels: int, hidden: int = 0):
    """Build the scratch model (a ``torch.nn.Module``; torch is imported lazily)."""
    return _module()(buckets, dim, num_labels, hidden)


@register_head
class ScratchClassificationHead(ClassificationHeadBase):
    """Classification with a hashed n-gram bag trained from scratch (see module doc)."""

    backbone = "scratch"
    options_class = ScratchOptions

    def _load(self) -> None:
        import torch

        options = self.options
        self.buckets, self.dim = int(options.scratch_buckets), int(options.scratch_dim)
        self.n, self.hidden = int(options.scratch_ngrams), int(options.scratch_hidden)
        self._memo: dict[str, int] = {}
        self.model = NgramBag(self.buckets, self.dim, self.spec.num_labels, self.hidden).to(self.device)
        weight = self.model.embedding.weight
        self._sparse_opt = torch.optim.SparseAdam([weight], lr=self.params.learning_rate)
        self._sparse_steps = 0
        # the hook holds the head weakly: a bound method would make a cycle (weight -> hook -> head -> model ->
        # weight) through the tensor's hook table, which Python's collector cannot see, so every finished run
        # would stay in memory (about 200 MB per SNLI run; a curriculum part of 120 runs was killed out of memory)
        step = weakref.WeakMethod(self._sparse_step)

        def hook(w, step=step):
            method = step()
            if method is not None:
                method(w)

        weight.register_post_accumulate_grad_hook(hook)

    # -- the embedding table's own optimiser ----------------------------------------------------
    def parameters(self):
        """What the loop's (dense) AdamW trains: everything but the embedding table (see :meth:`_sparse_step`)."""
        weight = self.model.embedding.weight
        return [p for p in self.model.parameters() if p.requires_grad and p is not weight]

    def _lr_factor(self, step: int) -> float:
        """The loop's schedule (linear warmup then linear decay to 0) at optimiser step ``step`` (0-based)."""
        n = len(self.train_labels)
        total = math.ceil(n / self.params.batch_size) * self.params.epochs
        warmup = int(self.params.warmup_ratio * total)
        if step < warmup:
            return step / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    def _sparse_step(self, weight) -> None:
        """Update the rows of the embedding table that the batch touched (SparseAdam), right after backward.

        The loop's AdamW would update all ``buckets * dim`` weights at every step (dense moments,
        weight decay): hundreds of milliseconds per step for a 2**18 x 64 table on a CPU. The table
        is therefore left out of :meth:`parameters` and updated here with
        :class:`torch.optim.SparseAdam` (lazy Adam: moments of touched rows only), at the loop's
        learning rate and schedule, without weight decay or gradient clipping.
        """
        if weight.grad is None:
            return
        for group in self._sparse_opt.param_groups:
            group["lr"] = self.params.learning_rate * self._lr_factor(self._sparse_steps)
        self._sparse_opt.step()
        self._sparse_steps += 1
        weight.grad = None

    def _encode(self, texts: Iterable[str], text_pairs: Iterable[str] | None = None) -> dict[str, Any]:
        rows, n_words = [], []
        texts = list(texts)
        pairs = list(text_pairs) if text_pairs is not None else [None] * len(texts)
        for text, pair in zip(texts, pairs):
            words = tokenize(text, self.params.max_length)
            grams = ngrams(words, self.n)
            if pair is not None:
                second = tokenize(pair, self.params.max_length)
                words = words + second
                grams = [g for g in grams if g != EMPTY_TOKEN] + [PAIR_PREFIX + g for g in ngrams(second, self.n)]
            n_words.append(len(words))
            rows.append(_gram_ids(grams, self.buckets, self._memo))
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        starts = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        flat = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        return {"flat": flat, "starts": starts, "n_grams": lengths, "n_words": np.array(n_words, dtype=np.int64)}

    def _enc_lengths(self, enc) -> np.ndarray:
        return enc["n_grams"]

    def _bags(self, enc, idx):
        import torch

        idx = np.asarray(idx)
        starts, lengths = enc["starts"][idx], enc["n_grams"][idx]
        flat = np.concatenate([enc["flat"][s:s + k] for s, k in zip(starts, lengths)])
        offsets = np.zeros(len(idx), dtype=np.int64)
        np.cumsum(lengths[:-1], out=offsets[1:])
        return (torch.from_numpy(flat).to(self.device), torch.from_numpy(offsets).to(self.device))

    def _logits(self, enc, idx):
        return self.model(*self._bags(enc, idx))

    def gold_output(self, idx):
        """Gold logit, per-n-gram embeddings ``(B, L, D)`` (the bag's entries) and their mask."""
        import torch

        idx = np.asarray(idx)
        enc = self.train_enc
        lengths = enc["n_grams"][idx]
        width = int(lengths.max())
        ids = np.zeros((len(idx), width), dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=bool)
        for row, (s, k) in enumerate(zip(enc["starts"][idx], lengths)):
            ids[row, :k] = enc["flat"][s:s + k]
            mask[row, :k] = True
        ids_t = torch.from_numpy(ids).to(self.device)
        mask_t = torch.from_numpy(mask).to(self.device)
        weight = self.model.embedding.weight
        embeds = torch.nn.functional.embedding(ids_t, weight).detach().requires_grad_(True)
        logits = self.model.forward_embeds(embeds, mask_t).float()
        labels = self.train_labels[idx].to(logits.device)
        gold = logits.gather(1, labels[:, None]).squeeze(1)
        return gold, embeds, mask_t

    def sample_columns(self) -> dict[str, np.ndarray]:
        return {"n_tokens": self.train_enc["n_words"], "n_ngrams": self.train_enc["n_grams"]}

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "n_trainable": sum(p.numel() for p in self.model.parameters() if p.requires_grad),
            "n_trainable_dense": sum(p.numel() for p in self.parameters()),
            "embedding_optimizer": "SparseAdam (the loop's learning rate and schedule, no weight decay)",
            "model_source": "scratch",
            "scratch_buckets": self.buckets,
            "scratch_dim": self.dim,
            "scratch_ngrams": self.n,
            "scratch_hidden": self.hidden,
            "tokenizer": f"lowercase + regex {TOKEN_PATTERN.pattern!r}, at most max_length words",
            "hash": "zlib.crc32(utf-8) % scratch_buckets",
            "distinct_ngrams_seen": len(self._memo),
        }


__all__ = ["NgramBag", "ScratchClassificationHead", "ngram_ids", "ngrams", "stable_bucket", "tokenize"]
