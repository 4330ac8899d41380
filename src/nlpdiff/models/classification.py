"""Sequence classification with a fine-tuned Hugging Face encoder (backbone ``finetune``).

A sample is a text (the task's ``text`` role) or a text pair (``text`` and ``text_pair``, encoded
together as the tokenizer joins two segments: ``[CLS] text [SEP] text_pair [SEP]`` for BERT-like
models); its loss is the cross-entropy of the label used in training, over any number of classes.
Statistics per sample: ``loss`` = -log p_y, ``gold_prob`` = p_y, ``correct`` = 1[argmax = y],
``margin`` = z_y - max_{j != y} z_j (logits), ``entropy`` = -sum_j p_j log p_j (nats), ``el2n`` =
||p - e_y||_2 (Paul et al. 2021).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nlpdiff.models.base import Head, register_head


def classification_stats(logits, labels) -> dict[str, np.ndarray]:
    """Per-sample statistics of a batch of classification logits (no gradient flows back).

    Returns numpy arrays: ``loss`` = -log p_y, ``gold_prob`` = p_y, ``correct`` = argmax == y,
    ``margin`` = z_y - max_{j != y} z_j, ``entropy`` = -sum_j p_j log p_j, ``el2n`` = ||p - e_y||_2.
    """
    import torch

    logits = logits.detach().float()
    logp = torch.log_softmax(logits, dim=-1)
    probs = logp.exp()
    gold_logp = logp.gather(1, labels[:, None]).squeeze(1)
    gold_logit = logits.gather(1, labels[:, None]).squeeze(1)
    others = logits.scatter(1, labels[:, None], float("-inf"))
    onehot = torch.nn.functional.one_hot(labels, logits.shape[1]).float()
    out = {
        "loss": -gold_logp,
        "gold_prob": gold_logp.exp(),
        "correct": (logits.argmax(dim=1) == labels).float(),
        "margin": gold_logit - others.max(dim=1).values,
        "entropy": -(probs * logp).sum(dim=1),
        "el2n": (probs - onehot).norm(dim=1),
    }
    return {k: v.cpu().numpy() for k, v in out.items()}


class ClassificationHeadBase(Head):
    """What every classification head shares: labels, statistics, held-out accuracy, VoG target.

    Subclasses implement :meth:`_load`, :meth:`_encode` (texts and, for a pair task, second texts
    -> encoded list), :meth:`_logits` (positions of an encoded list -> logits) and
    :meth:`gold_output` (for VoG). The data is read by role (:meth:`inputs`), never by column name.
    """

    kind = "classification"
    extra_stats = ("el2n",)
    heldout_metric = "accuracy"

    def build(self, samples: pd.DataFrame, heldout: pd.DataFrame) -> pd.DataFrame:
        import torch

        self._load()
        self.train_enc = self._encode(*self.inputs(samples))
        # no held-out split: nothing to encode (the loop then never calls evaluate)
        self.held_enc = self._encode(*self.inputs(heldout)) if len(heldout) else None
        self.train_labels = torch.tensor(samples["label"].to_numpy(), dtype=torch.long)
        self.held_labels = torch.tensor(heldout[self.spec.column("label")].to_numpy().astype(np.int64),
                                        dtype=torch.long)
        return samples

    def inputs(self, frame: pd.DataFrame) -> tuple[list[str], list[str] | None]:
        """``(texts, text_pairs)`` of a frame's rows, by the task's roles (``text_pairs`` is None
        unless the task has a ``text_pair`` role)."""
        texts = [str(t) for t in frame[self.spec.column("text")]]
        if not self.spec.has_role("text_pair"):
            return texts, None
        return texts, [str(t) for t in frame[self.spec.column("text_pair")]]

    # -- to implement -------------------------------------------------------------------------
    def _load(self) -> None:
        raise NotImplementedError

    def _encode(self, texts: list[str], text_pairs: list[str] | None = None) -> Any:
        raise NotImplementedError

    def _logits(self, enc: Any, idx: np.ndarray):
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------------
    def forward(self, idx, train):
        import torch

        logits = self._logits(self.train_enc, idx).float()
        labels = self.train_labels[idx].to(logits.device)
        losses = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
        return losses, classification_stats(logits, labels)

    def predict_proba(self, texts: list[str], text_pairs: list[str] | None = None,
                      batch_size: int = 128) -> np.ndarray:
        """Softmax probabilities of the current model for ``texts`` (with ``text_pairs`` for a pair
        task; see :meth:`inputs`), in eval mode with no gradient."""
        import torch

        if self.spec.has_role("text_pair") and text_pairs is None:
            from nlpdiff.errors import ParameterError

            raise ParameterError("text_pairs", None, f"the second texts of task {self.spec.name!r} (a pair task)")
        enc = self._encode(texts, text_pairs)
        n = len(texts)
        order = np.argsort(self._enc_lengths(enc), kind="stable")
        out = np.empty((n, self.spec.num_labels), dtype=np.float64)
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            for i in range(0, n, batch_size):
                idx = order[i:i + batch_size]
                out[idx] = torch.softmax(self._logits(enc, idx).float(), dim=-1).cpu().numpy()
        self.model.train(was_training)
        return out

    def predict_proba_positions(self, idx, batch_size: int = 128) -> np.ndarray:
        """Softmax probabilities of the current model for the training samples at positions ``idx``.

        Uses the encoding made by :meth:`build` (no re-encoding, no feature extraction): the
        out-of-fold predictions of confident learning.
        """
        import torch

        idx = np.asarray(idx, dtype=np.int64)
        order = idx[np.argsort(self._enc_lengths(self.train_enc)[idx], kind="stable")]
        out = np.empty((len(self.train_labels), self.spec.num_labels), dtype=np.float64)
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            for i in range(0, len(order), batch_size):
                rows = order[i:i + batch_size]
                out[rows] = torch.softmax(self._logits(self.train_enc, rows).float(), dim=-1).cpu().numpy()
        self.model.train(was_training)
        return out[idx]

    def evaluate(self, point: str = "checkpoint") -> dict[str, float]:
        import torch

        from nlpdiff.recording import length_batches

        n = len(self.held_labels)
        correct = np.empty(n)
        loss = np.empty(n)
        # batches by length, cut further where padding costs more than a call under trim_padding
        from nlpdiff.dynamics import trims_padding

        trim = trims_padding(self.params, self, self.device)
        with torch.no_grad():
            for idx in length_batches(self._enc_lengths(self.held_enc), self.params.eval_batch_size, trim=trim):
                logits = self._logits(self.held_enc, idx).float()
                s = classification_stats(logits, self.held_labels[idx].to(logits.device))
                correct[idx] = s["correct"]
                loss[idx] = s["loss"]
        return {"accuracy": float(correct.mean()), "loss": float(loss.mean())}

    def lengths(self) -> np.ndarray:
        return self._enc_lengths(self.train_enc)

    def _enc_lengths(self, enc) -> np.ndarray:
        return np.array([len(x) for x in enc["input_ids"]])

    def sample_columns(self) -> dict[str, np.ndarray]:
        return {"n_tokens": self.lengths()}


@register_head
class FinetuneClassificationHead(ClassificationHeadBase):
    """Any Hugging Face model with a sequence-classification head, every weight trained."""

    backbone = "finetune"
    pads_to_longest = True

    def _load(self) -> None:
        from nlpdiff.models.hub import load_classifier

        loaded = load_classifier(self.params.model, num_labels=self.spec.num_labels)
        self.model = loaded.model.to(self.device)
        self.tokenizer = loaded.tokenizer
        self.source = loaded.source

    def _encode(self, texts, text_pairs=None):
        # a pair is truncated longest-first to max_length tokens in all
        return self.tokenizer(texts, text_pairs, truncation=True, max_length=self.params.max_length)

    def _batch(self, enc, idx):
        feats = [{k: enc[k][i] for k in enc.keys()} for i in idx]
        batch = self.tokenizer.pad(feats, return_tensors="pt")
        return {k: v.to(self.device) for k, v in batch.items()}

    def _logits(self, enc, idx):
        return self.model(**self._batch(enc, idx)).logits

    def gold_output(self, idx):
        batch = self._batch(self.train_enc, idx)
        embeds = self.model.get_input_embeddings()(batch["input_ids"]).detach().requires_grad_(True)
        inputs = {k: v for k, v in batch.items() if k != "input_ids"}
        logits = self.model(inputs_embeds=embeds, **inputs).logits.float()
        labels = self.train_labels[idx].to(logits.device)
        gold = logits.gather(1, labels[:, None]).squeeze(1)
        return gold, embeds, batch["attention_mask"]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "model_source": self.source}
