"""ModelSpec: an architecture-neutral description of a decoder-only transformer.

Built only by :mod:`ridgeline.model.hf` from a Hugging Face ``config.json``.
Dimension legend used in docstrings across ridgeline:
L layers, H hidden size, V vocabulary, N query heads, K key/value heads, D head dim,
I MLP intermediate size, E routed experts, k experts per token, W sliding window.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MLASpec:
    """Multi-head latent attention (DeepSeek-V2/V3, arXiv 2405.04434 sec. 2.1)."""

    q_lora_rank: int | None
    """Rank of the query down-projection; None means a plain q_proj (V2-Lite)."""
    kv_lora_rank: int
    """Width of the compressed KV latent c_KV that is cached."""
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    """Width of the decoupled rotary key, shared by all heads and cached."""
    v_head_dim: int


@dataclass(frozen=True)
class AttentionSpec:
    kind: str
    """"mha", "gqa", "mqa" or "mla"."""
    num_heads: int
    """N: query heads."""
    num_kv_heads: int
    """K: key/value heads held by the weights (and by serving engines' caches)."""
    head_dim: int
    """D: per-head width of q/k/v (for MLA: qk_nope + qk_rope)."""
    q_bias: bool = False
    k_bias: bool = False
    v_bias: bool = False
    o_bias: bool = False
    qk_norm: bool = False
    """Per-head RMSNorm on queries and keys (Qwen3, Gemma 3)."""
    sinks: bool = False
    """Learned per-head attention sink logits (gpt-oss)."""
    fused_qkv_rows: int | None = None
    """Rows of a fused QKV weight when the family fuses it with its own layout (Falcon)."""
    reference_cache_kv_heads: int | None = None
    """KV heads transformers actually caches when it differs from num_kv_heads
    (Falcon's new decoder architecture broadcasts K/V to every query head before caching)."""
    mla: MLASpec | None = None


@dataclass(frozen=True)
class MLPSpec:
    gated: bool
    """True for SwiGLU/GeGLU (gate, up, down = 3HI); False for up/down (2HI)."""
    intermediate_size: int
    """I: width of the dense MLP."""
    bias: bool = False
    activation: str = "silu"


@dataclass(frozen=True)
class MoESpec:
    num_experts: int
    """E: routed experts per MoE layer."""
    top_k: int
    """k: routed experts used per token."""
    expert_intermediate_size: int
    """Width of one routed expert's MLP."""
    shared_intermediate_size: int = 0
    """Total width of the always-on shared expert MLP(s); 0 if none."""
    shared_expert_gate: bool = False
    """A sigmoid gate (Linear H->1) on the shared expert (Qwen2-MoE)."""
    router_bias: bool = False
    expert_bias: bool = False
    """Biases inside the experts (gpt-oss)."""
    gated: bool = True
    moe_layers: tuple[int, ...] = ()
    """Indices of the layers whose MLP is a MoE block; the others use the dense MLP."""


@dataclass(frozen=True)
class ModelSpec:
    """What ridgeline needs to know about a model, independent of its family."""

    name: str
    model_type: str
    """Hugging Face ``model_type`` (the language model's, for multimodal wrappers)."""
    vocab_size: int
    hidden_size: int
    num_layers: int
    attention: AttentionSpec
    mlp: MLPSpec
    moe: MoESpec | None
    layer_types: tuple[str, ...]
    """Per layer: "full" or "sliding"."""
    sliding_window: int | None
    """W: tokens a sliding layer attends to (None when no layer slides)."""
    norm: str
    """"rmsnorm" or "layernorm"."""
    norm_bias: bool
    norms_per_layer: int
    final_norm: bool
    tie_word_embeddings: bool
    max_position_embeddings: int | None
    learned_positions: int = 0
    """Rows of a learned absolute position table (GPT-2, OPT); 0 for rotary models."""
    embed_dim: int | None = None
    """Width of the token embedding when it differs from H (OPT-350m projects in/out)."""
    dtype: str | None = None
    """Checkpoint dtype from config.json (``torch_dtype``), e.g. "bfloat16"."""
    quant_method: str | None = None
    """Weight format of the checkpoint named by ``quantization_config`` (e.g. "mxfp4", "fp8",
    "awq-g128"); None for an unquantized checkpoint."""
    quant_unconverted_roles: tuple[str, ...] | None = None
    """Every tensor role the checkpoint stores unquantized, read from ``quantization_config``
    and its ignore lists (None when the config does not say)."""
    quant_problem: str | None = None
    """Why ``quantization_config`` cannot be read (an unknown or malformed method): sizing the
    weights then needs ``--weights``. None when there is no problem."""
    source: str = ""
    """Where the config came from (preset file, path, hub id)."""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_moe(self) -> bool:
        return self.moe is not None and len(self.moe.moe_layers) > 0

    @property
    def num_sliding_layers(self) -> int:
        return sum(1 for t in self.layer_types if t == "sliding")

    def to_dict(self) -> dict:
        from dataclasses import asdict

        d = asdict(self)
        d["layer_types"] = list(self.layer_types)
        if self.moe is not None:
            d["moe"]["moe_layers"] = list(self.moe.moe_layers)
        return d
