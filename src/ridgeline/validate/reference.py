"""The reference implementation: Hugging Face transformers classes (optional extra).

Used by the exactness tests and ``ridgeline validate``; imported lazily, never on the
CLI's start-up path. Nothing here downloads anything or runs code from a model repo:
models are built from a config dict with random (or no) weights.
"""

from __future__ import annotations

import copy
from typing import Any


def _imports():
    try:
        import torch  # noqa: PLC0415
        import transformers  # noqa: PLC0415
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        from ridgeline.errors import InputError  # noqa: PLC0415

        raise InputError("this needs the reference extra: pip install 'ridgeline[reference]' "
                         "(torch==2.13.0, transformers==5.24.0)") from e
    transformers.utils.logging.set_verbosity_error()
    return torch, transformers


#: The class a wrapper's config builds when it names none in ``architectures``.
_DEFAULT_CLASSES = {"gemma3": "Gemma3ForConditionalGeneration", "mistral3": "Mistral3ForConditionalGeneration",
                    "llama4": "Llama4ForConditionalGeneration", "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
                    "mllama": "MllamaForConditionalGeneration"}


def _reference_model_type(cfg: dict[str, Any]) -> str:
    """The model_type transformers builds: the config's, or that of the class ``architectures`` names
    when transformers does not know the config's own (Kimi K2's "kimi_k2" names DeepseekV3ForCausalLM)."""
    from ridgeline.model.hf import _ARCH_TYPES  # noqa: PLC0415

    _, transformers = _imports()
    mt = cfg["model_type"]
    arch = cfg.get("architectures") or [None]
    if mt not in transformers.CONFIG_MAPPING and arch[0] in _ARCH_TYPES:
        return _ARCH_TYPES[arch[0]]
    return mt


def hf_config(cfg: dict[str, Any]):
    """A transformers config object for a config.json dict (the whole wrapper, for multimodal models)."""
    torch, transformers = _imports()
    cfg = copy.deepcopy(cfg)
    cfg["model_type"] = _reference_model_type(cfg)
    cfg.pop("auto_map", None)
    cfg.pop("quantization_config", None)
    mt = cfg.pop("model_type")
    if mt == "phi3" and (cfg.get("pad_token_id") is None or cfg["pad_token_id"] >= cfg.get("vocab_size", 0)):
        cfg["pad_token_id"] = None  # Phi3Config's default pad id (32000) breaks a smaller vocabulary
    return transformers.AutoConfig.for_model(mt, **cfg)


def meta_model(cfg: dict[str, Any], dtype: str | None = None):
    """The causal-LM class built on the meta device: shapes only, no memory.

    ``dtype`` ("float32", "bfloat16", ...) overrides the config's own dtype.
    """
    torch, transformers = _imports()
    c = hf_config(cfg)
    kwargs = {"dtype": getattr(torch, dtype)} if dtype else {}
    with torch.device("meta"):
        return model_class(cfg)._from_config(c, **kwargs)


def model_class(cfg: dict[str, Any]):
    """The transformers class named by the config's ``architectures`` (the wrapper's default class, or
    the auto causal-LM class, when it names none or one transformers does not have)."""
    _, transformers = _imports()
    arch = cfg.get("architectures")
    name = arch[0] if isinstance(arch, list) and arch else _DEFAULT_CLASSES.get(cfg.get("model_type"))
    cls = getattr(transformers, name, None) if isinstance(name, str) else None
    if cls is None:
        c = hf_config(cfg)
        return transformers.AutoModelForCausalLM._model_mapping[type(c)]
    return cls


def meta_param_count(cfg: dict[str, Any]) -> int:
    """``sum(p.numel())`` of the reference model (tied weights counted once)."""
    return sum(p.numel() for p in meta_model(cfg).parameters())


def forward_model(model):
    """The module to run a text-only forward pass on: the model itself, except Llama 4's wrapper, whose
    5.24 forward fails without images ('MoeCausalLMOutputWithPast' has no 'image_outputs'), so its
    language model (the same layers and cache) runs instead."""
    if type(model).__name__ == "Llama4ForConditionalGeneration":
        return model.language_model
    return model


def meta_cache(cfg: dict[str, Any], batch: int, tokens: int, dtype: str = "bfloat16"):
    """The cache transformers holds after a prefill of ``tokens``, from a full-size model on the meta
    device in ``dtype`` (true shapes and dtypes, no memory; MoE experts need bf16 for the
    grouped-GEMM kernel on meta)."""
    torch, _ = _imports()
    model = forward_model(meta_model(cfg, dtype))
    ids = torch.zeros((batch, tokens), dtype=torch.long, device="meta")
    with torch.no_grad():
        out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
    return out.cache if hasattr(out, "cache") else out.past_key_values


def meta_kv_cache_bytes(cfg: dict[str, Any], batch: int, tokens: int, dtype: str = "bfloat16") -> int:
    """Bytes of the per-token cache (keys, values, indexer keys) after a prefill of ``tokens``:
    ``sum(numel * element_size)`` over every layer."""
    return kv_bytes(meta_cache(cfg, batch, tokens, dtype))


def meta_state_bytes(cfg: dict[str, Any], batch: int, tokens: int, dtype: str = "bfloat16") -> int:
    """Bytes of the fixed per-sequence states (conv and recurrent) after a prefill of ``tokens``."""
    return state_bytes(meta_cache(cfg, batch, tokens, dtype))


def cache_bytes(cache) -> int:
    """Bytes of every cached tensor: keys and values (``numel * element_size``), plus what hybrid
    layers keep: indexer keys (DeepSeek-V3.2) and conv / recurrent states (linear attention, Mamba)."""
    return kv_bytes(cache) + state_bytes(cache)


def _nbytes(t) -> int:
    return t.numel() * t.element_size() if t is not None else 0


def kv_bytes(cache) -> int:
    """Bytes that grow with the sequence: keys, values and indexer keys."""
    total = 0
    for layer in cache.layers:
        total += _nbytes(getattr(layer, "keys", None)) + _nbytes(getattr(layer, "values", None))
        total += _nbytes(getattr(layer, "indexer_keys", None))
    return total


def state_bytes(cache) -> int:
    """Bytes of the fixed per-sequence states: conv and recurrent states of every layer."""
    total = 0
    for layer in cache.layers:
        for name in ("conv_states", "recurrent_states"):
            states = getattr(layer, name, None) or {}
            total += sum(_nbytes(t) for t in states.values())
    return total
