"""KV-cache accounting per token, per layer.

Two cache conventions (DESIGN.md, "What must be exact"):

- ``engine`` (default): what a serving engine (vLLM, SGLang, TensorRT-LLM) allocates.
  Sliding layers keep W tokens; Falcon's new decoder caches its K KV heads;
  MLA caches the compressed latent.
- ``transformers``: the tensors transformers 5.24 ``DynamicCache`` holds after a forward
  pass. Sliding layers keep W - 1 tokens (``DynamicSlidingWindowLayer``); Falcon's new
  decoder broadcasts K/V to all N heads before caching; MLA caches the latent too.

Only self-attention layers ("full", "sliding", "chunked" and the attention half of "hybrid") hold a
per-token cache. Chunked-local layers (Llama 4) keep the tokens of the current chunk: transformers
5.24 caches them in a sliding-window layer of ``attention_chunk_size`` (so C - 1 tokens); engines hold
up to C. Linear-attention and state-space layers keep a fixed state per sequence instead
(:func:`state_elements_per_sequence`); layers of type "none" (Nemotron-H MLP/MoE blocks) keep nothing.
Cross-attention layers (Mllama) cache the image tokens' keys and values, a per-sequence term that
does not grow with the text (:func:`cross_attention_kv_elements_per_sequence`).
DeepSeek-V3.2's indexer adds its key (``index_head_dim`` values) per token per layer, as
transformers' ``DynamicIndexedLayer`` holds it.

MLA layout (``mla``): ``latent`` caches kv_lora_rank + qk_rope_head_dim values per token
per layer (DeepSeek-V2 paper, arXiv 2405.04434, sec. 2.1.3); ``expanded`` caches per-head
keys (N * (qk_nope + qk_rope)) and values (N * v_head_dim), as transformers 4.x and
engines without an MLA kernel do.
"""

from __future__ import annotations

from dataclasses import dataclass

from ridgeline.errors import InputError
from ridgeline.model.spec import SELF_ATTENTION_TYPES, ModelSpec

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
        index = spec.indexer.head_dim if spec.indexer is not None else 0
        if layout.mla == "latent":
            return m.kv_lora_rank + m.qk_rope_head_dim + index
        return a.num_heads * (m.qk_nope_head_dim + m.qk_rope_head_dim + m.v_head_dim) + index
    heads = a.num_kv_heads
    if layout.convention == "transformers" and a.reference_cache_kv_heads is not None:
        heads = a.reference_cache_kv_heads
    return 2 * heads * a.head_dim


def cached_tokens(spec: ModelSpec, layer: int, context_tokens: int, layout: KVLayout = KVLayout()) -> int:
    """Tokens layer ``layer`` holds in its KV cache for a sequence of ``context_tokens`` tokens
    (0 for a layer without self-attention: linear attention, Mamba, MLP-only)."""
    kind = spec.layer_types[layer]
    if kind not in SELF_ATTENTION_TYPES:
        return 0
    span = None
    if kind == "sliding":
        span = spec.sliding_window
    elif kind == "chunked":
        span = spec.attention_chunk_size
    if span is not None:
        return min(context_tokens, span - (1 if layout.convention == "transformers" else 0))
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
    return per * sum(1 for t in spec.layer_types if t in ("full", "hybrid"))


def kv_elements_per_token_all_layers(spec: ModelSpec, layout: KVLayout = KVLayout()) -> int:
    """Elements per token if every attention layer kept it (the figure for contexts shorter than W)."""
    return kv_elements_per_token_layer(spec, layout) * spec.num_attention_layers


def cross_attention_kv_elements_per_sequence(spec: ModelSpec, images: int = 1,
                                              layout: KVLayout = KVLayout()) -> int:
    """Elements the cross-attention layers (Mllama) cache for one sequence with ``images`` images.

    Each cross-attention layer keeps the keys and values of the image tokens, not of the text:
    ``images * image_tokens`` tokens per layer, whatever the text length (transformers 5.24 caches
    them in the layer's DynamicLayer when the prompt has images; a text-only sequence caches none).
    """
    if spec.cross_attention is None:
        return 0
    layers = sum(1 for t in spec.layer_types if t == "cross_attention")
    return images * spec.cross_attention.image_tokens * layers * kv_elements_per_token_layer(spec, layout)


# --------------------------------------------------------------------------- per-sequence state

#: Bytes per element of the recurrent (SSM / delta-rule) state in transformers 5.24's cache: it keeps
#: it in float32 whatever the model dtype (LinearAttentionLayer, checked on qwen3_next, jamba,
#: nemotron_h and falcon_h1 in tests/test_kv_exact.py). Convolution windows follow the model dtype.
REFERENCE_RECURRENT_STATE_BYTES = 4


@dataclass(frozen=True)
class StateElements:
    """Elements of the fixed state one sequence keeps, summed over the state layers."""

    conv: int
    """Causal-convolution windows: channels x kernel width per layer."""
    recurrent: int
    """Recurrent states: Mamba 1 d_inner x S; Mamba 2 heads x head_dim x S;
    gated delta-net value heads x key_head_dim x value_head_dim (per layer)."""

    @property
    def total(self) -> int:
        return self.conv + self.recurrent


def _conv_width(kernel: int, layout: KVLayout) -> int:
    """Columns of the convolution window kept per channel.

    ``engine``: kernel - 1, the inputs the next step's convolution still needs (vLLM
    ``MambaStateShapeCalculator``, vllm/model_executor/layers/mamba/mamba_utils.py @ 02d71083).
    ``transformers``: the full kernel width (5.24 ``LinearAttentionLayer`` pads the window to it).
    """
    return kernel - (1 if layout.convention == "engine" else 0)


def state_elements_per_layer(spec: ModelSpec, layer: int, layout: KVLayout = KVLayout()) -> StateElements:
    """The state layer ``layer`` keeps per sequence (zero for an attention or MLP-only layer).

    Mamba 1: conv d_inner x w, recurrent d_inner x S. Mamba 2: conv (d_inner + 2*G*S) x w, recurrent
    heads x head_dim x S. Gated delta-net: conv (2*key_dim + value_dim) x w, recurrent value heads x
    key_head_dim x value_head_dim. w is the convolution window (:func:`_conv_width`).
    """
    kind = spec.layer_types[layer]
    if kind in ("mamba", "hybrid") and spec.mamba is not None:
        m = spec.mamba
        rec = m.d_inner * m.d_state if m.version == 1 else m.num_heads * m.head_dim * m.d_state
        return StateElements(m.conv_channels * _conv_width(m.d_conv, layout), rec)
    if kind == "linear_attention" and spec.linear_attention is not None:
        la = spec.linear_attention
        return StateElements((2 * la.key_dim + la.value_dim) * _conv_width(la.conv_kernel, layout),
                             la.num_value_heads * la.key_head_dim * la.value_head_dim)
    return StateElements(0, 0)


def state_elements_per_sequence(spec: ModelSpec, layers: range | None = None,
                                layout: KVLayout = KVLayout()) -> StateElements:
    """The fixed state one sequence keeps over ``layers`` (default: all), independent of its length."""
    conv = rec = 0
    for i in layers if layers is not None else range(spec.num_layers):
        e = state_elements_per_layer(spec, i, layout)
        conv += e.conv
        rec += e.recurrent
    return StateElements(conv, rec)


def state_bytes_per_sequence(spec: ModelSpec, state_bytes_per_element: float,
                             recurrent_bytes_per_element: float | None = None, layers: range | None = None,
                             layout: KVLayout = KVLayout()) -> float:
    """Bytes of the fixed state one sequence keeps (add ``batch x`` this to the ledger).

    ``state_bytes_per_element`` applies to the convolution windows (the model or KV dtype);
    ``recurrent_bytes_per_element`` to the recurrent states (default: the same, as vLLM's
    ``mamba_ssm_cache_dtype="auto"``; a config may ask for fp32, see ``MambaSpec.ssm_state_dtype``;
    pass ``REFERENCE_RECURRENT_STATE_BYTES`` with ``layout=KVLayout("transformers")`` for what
    transformers holds). Tensor parallelism splits both by heads / channels.
    """
    e = state_elements_per_sequence(spec, layers, layout)
    rec = state_bytes_per_element if recurrent_bytes_per_element is None else recurrent_bytes_per_element
    return e.conv * state_bytes_per_element + e.recurrent * rec
