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


def hf_config(cfg: dict[str, Any]):
    """A transformers config object for a config.json dict (the language model's, for wrappers)."""
    torch, transformers = _imports()
    cfg = copy.deepcopy(cfg)
    if cfg.get("model_type") == "gemma3":
        text = dict(cfg["text_config"])
        text.setdefault("model_type", "gemma3_text")
        cfg = text
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
        return transformers.AutoModelForCausalLM.from_config(c, **kwargs)


def meta_param_count(cfg: dict[str, Any]) -> int:
    """``sum(p.numel())`` of the reference model (tied weights counted once)."""
    return sum(p.numel() for p in meta_model(cfg).parameters())


def meta_kv_cache_bytes(cfg: dict[str, Any], batch: int, tokens: int, dtype: str = "bfloat16") -> int:
    """Bytes of the KV cache tensors transformers holds after a prefill of ``tokens``.

    The full-size model, in ``dtype``, runs on the meta device (true shapes and dtypes,
    no memory; MoE experts need bf16 for the grouped-GEMM kernel on meta). Returns
    ``sum(numel * element_size)`` over every layer's keys and values.
    """
    torch, _ = _imports()
    model = meta_model(cfg, dtype)
    ids = torch.zeros((batch, tokens), dtype=torch.long, device="meta")
    with torch.no_grad():
        out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
    return cache_bytes(out.cache if hasattr(out, "cache") else out.past_key_values)


def cache_bytes(cache) -> int:
    total = 0
    for layer in cache.layers:
        for t in (layer.keys, layer.values):
            if t is not None:
                total += t.numel() * t.element_size()
    return total
