"""KV-cache accounting per token, per layer.

Two cache conventions (DESIGN.md, "What must be exact"):

- ``engine`` (default): what a serving engine (vLLM, SGLang, TensorRT-LLM) allocates.
  Sliding layers keep W tokens; Falcon's new decoder caches its K KV heads;
  MLA caches the compressed latent.
- ``transformers``: the tensors transformers 5.24 ``DynamicCache`` holds after a forward
  pass. Sliding layers keep W - 1 tokens (``DynamicSlidingWindowLayer``); Falcon's new
  decoder broadcasts K/V to all N heads before caching; MLA caches the latent too.

MLA layout (``mla``): ``latent`` caches kv_lora_rank + qk_rope_head_dim values per token
per layer (DeepSeek-V2 paper, arXiv 2405.04434, sec. 2.1.3); ``expanded`` caches per-head
keys (N * (qk_nope + qk_rope)) and values (N * v_head_dim), as transformers 4.x and
engines without an MLA kernel do.
"""

from __future__ import annotations

from dataclasses import dataclass

from ridgeline.errors import InputError
from ridgeline.model.spec import ModelSpec

CONVENTIONS = ("engine", "transformers")
MLA_LAYOUTS = ("latent", "expanded")


@dataclass(frozen=True)
class KVLayout:
    convention: str = "engine"
    mla: str = "latent"

    def __post_init__(self) -> None:
        if self.convention not in CONVENTIONS:
            raise InputError(f"kv convention: unknown {self.convention!r}; use one of {', '.join(CONVENTIONS)}")
        if self.mla not in MLA_LAYOUTS:
            raise InputError(f"mla cache layout: unknown {self.mla!r}; use one of {', '.join(MLA_LAYOUTS)}")


def kv_elements_per_token_layer(spec: ModelSpec, layout: KVLayout = KVLayout()) -> int:
    """Cached elements (keys + values) per token in one attention layer.

    Standard attention: 2 * K * D. MLA latent: kv_lora_rank + qk_rope_head_dim.
    MLA expanded: N * (qk_nope + qk_rope + v_head_dim).
    """
    a = spec.attention
    if a.mla is not None:
        m = a.mla
        if layout.mla == "latent":
            return m.kv_lora_rank + m.qk_rope_head_dim
        return a.num_heads * (m.qk_nope_head_dim + m.qk_rope_head_dim + m.v_head_dim)
    heads = a.num_kv_heads
    if layout.convention == "transformers" and a.reference_cache_kv_heads is not None:
        heads = a.reference_cache_kv_heads
    return 2 * heads * a.head_dim


def cached_tokens(spec: ModelSpec, layer: int, context_tokens: int, layout: KVLayout = KVLayout()) -> int:
    """Tokens layer ``layer`` holds for a sequence of ``context_tokens`` tokens."""
    if spec.layer_types[layer] == "sliding" and spec.sliding_window is not None:
        window = spec.sliding_window - (1 if layout.convention == "transformers" else 0)
        return min(context_tokens, window)
    return context_tokens


def kv_cache_elements(spec: ModelSpec, batch: int, context_tokens: int, layout: KVLayout = KVLayout()) -> int:
    """Elements of KV cache for ``batch`` sequences of ``context_tokens`` tokens each."""
    per_tok = kv_elements_per_token_layer(spec, layout)
    tokens = sum(cached_tokens(spec, i, context_tokens, layout) for i in range(spec.num_layers))
    return batch * tokens * per_tok


def kv_elements_per_token(spec: ModelSpec, layout: KVLayout = KVLayout()) -> int:
    """Elements per token summed over the layers that keep every token (full attention).

    This is the marginal cost of one more token of context once sliding windows are full;
    sliding layers add a constant (see :func:`kv_sliding_elements_per_seq`).
    """
    per = kv_elements_per_token_layer(spec, layout)
    return per * sum(1 for t in spec.layer_types if t == "full")


def kv_elements_per_token_all_layers(spec: ModelSpec, layout: KVLayout = KVLayout()) -> int:
    """Elements per token if every layer kept it (the figure for contexts shorter than W)."""
    return kv_elements_per_token_layer(spec, layout) * spec.num_layers
