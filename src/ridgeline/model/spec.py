"""ModelSpec: an architecture-neutral description of a decoder-only transformer.

Built only by :mod:`ridgeline.model.hf` from a Hugging Face ``config.json``.
Dimension legend used in docstrings across ridgeline:
L layers, H hidden size, V vocabulary, N query heads, K key/value heads, D head dim,
I MLP intermediate size, E routed experts, k experts per token, W sliding window.

Layer types (``ModelSpec.layer_types``, one per decoder layer, naming its token mixer):

- ``"full"``: self-attention over every cached token (a per-token KV cache).
- ``"sliding"``: self-attention over the last W tokens (``sliding_window``).
- ``"chunked"``: self-attention within fixed chunks of ``attention_chunk_size`` tokens (Llama 4).
- ``"linear_attention"``: a gated-delta-net layer (Qwen3-Next): a fixed state per sequence.
- ``"mamba"``: a Mamba (1 or 2) state-space layer: a fixed state per sequence.
- ``"hybrid"``: attention and a Mamba 2 mixer side by side in one layer (Falcon-H1):
  a per-token KV cache and a fixed state.
- ``"cross_attention"``: attention from text to image tokens (Mllama): its keys and values are
  those of the image tokens, not of the text.
- ``"none"``: no token mixer; the layer is only an MLP or MoE block (Nemotron-H ``-``/``E``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

LAYER_TYPES = ("full", "sliding", "chunked", "linear_attention", "mamba", "hybrid", "cross_attention", "none")
#: Layer types whose self-attention caches keys and values of every (or every recent) text token.
SELF_ATTENTION_TYPES = ("full", "sliding", "chunked", "hybrid")
#: Layer types that keep a fixed recurrent state per sequence.
STATE_TYPES = ("linear_attention", "mamba", "hybrid")


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
    """RMSNorm on queries and keys (Qwen3, Gemma 3 per head; OLMo 2 over all heads)."""
    qk_norm_per_head: bool = True
    """True: the q/k norms have D weights each (Qwen3); False: N*D and K*D weights (OLMo 2)."""
    output_gate: bool = False
    """q_proj also emits a sigmoid gate on the attention output (Qwen3-Next): 2*N*D rows."""
    sinks: bool = False
    """Learned per-head attention sink logits (gpt-oss)."""
    fused_qkv_rows: int | None = None
    """Rows of a fused QKV weight when the family fuses it with its own layout (Falcon)."""
    reference_cache_kv_heads: int | None = None
    """KV heads transformers actually caches when it differs from num_kv_heads
    (Falcon's new decoder architecture broadcasts K/V to every query head before caching)."""
    mla: MLASpec | None = None


@dataclass(frozen=True)
class MambaSpec:
    """A Mamba state-space mixer (Mamba: arXiv 2312.00752; Mamba 2: arXiv 2405.21060).

    Its state per sequence is fixed: a causal-convolution window and the SSM state.
    """

    version: int
    """1 (Jamba) or 2 (Nemotron-H, Falcon-H1)."""
    d_inner: int
    """Width of the expanded inner stream (expand * H, or heads * head_dim for Mamba 2)."""
    d_state: int
    """Size of the SSM state per channel (Mamba 1) or per head dim (Mamba 2)."""
    d_conv: int
    """Kernel width of the causal depthwise convolution, in tokens."""
    num_heads: int = 0
    """Mamba 2 heads (d_inner = num_heads * head_dim); 0 for Mamba 1."""
    head_dim: int = 0
    n_groups: int = 1
    """Mamba 2: groups sharing B and C."""
    dt_rank: int = 0
    """Mamba 1: rank of the dt projection."""
    conv_bias: bool = True
    in_proj_bias: bool = False
    out_proj_bias: bool = False
    gated_norm: bool = True
    """Mamba 2: a gated RMSNorm of d_inner weights before out_proj."""
    inner_layernorms: bool = False
    """Mamba 1 (Jamba): RMSNorms on dt (dt_rank), B and C (d_state each)."""
    ssm_state_dtype: str | None = None
    """dtype the reference cache keeps the SSM state in when it differs from the model's
    (Nemotron-H: ``mamba_ssm_cache_dtype``, "float32"); None: the model's dtype."""

    @property
    def conv_channels(self) -> int:
        """Channels the convolution runs over: d_inner (Mamba 1), d_inner + 2*groups*d_state (Mamba 2)."""
        return self.d_inner if self.version == 1 else self.d_inner + 2 * self.n_groups * self.d_state


@dataclass(frozen=True)
class LinearAttentionSpec:
    """A gated delta-net linear-attention mixer (Qwen3-Next; arXiv 2412.06464)."""

    num_key_heads: int
    num_value_heads: int
    key_head_dim: int
    value_head_dim: int
    conv_kernel: int
    """Kernel width of the causal depthwise convolution over q, k and v, in tokens."""

    @property
    def key_dim(self) -> int:
        return self.num_key_heads * self.key_head_dim

    @property
    def value_dim(self) -> int:
        return self.num_value_heads * self.value_head_dim


@dataclass(frozen=True)
class VisionSpec:
    """The vision tower and the projector of a multimodal wrapper, as exact parameter terms.

    ``terms`` are ``(dotted name, parameters)`` pairs under ``vision.encoder.*`` and
    ``vision.projector.*``, computed by :mod:`ridgeline.model.vision` from ``vision_config``.
    """

    model_type: str
    """The vision config's ``model_type`` (e.g. "siglip_vision_model", "pixtral")."""
    hidden_size: int
    num_layers: int
    patch_size: int
    """Pixels per patch side."""
    terms: tuple[tuple[str, int], ...]
    tokens_per_image: int | None = None
    """Tokens one image adds to the language model's sequence, when fixed by the config (for Mllama:
    the image tokens each cross-attention layer attends to)."""
    intermediate_size: int = 0
    """Iv: width of the vision MLP (for FLOPs of the encoder)."""
    image_size: int = 0
    """Pixels per side of the (tile) image the encoder is built for; 0 when the encoder takes any size
    (Pixtral, Qwen2.5-VL)."""

    @property
    def encoder_params(self) -> int:
        return sum(n for t, n in self.terms if t.startswith("vision.encoder"))

    @property
    def projector_params(self) -> int:
        return sum(n for t, n in self.terms if t.startswith("vision.projector"))


@dataclass(frozen=True)
class IndexerSpec:
    """The lightning indexer of DeepSeek Sparse Attention (DeepSeek-V3.2): per layer it projects
    queries (from the q latent) and one shared key per token, which the cache keeps."""

    num_heads: int
    head_dim: int
    """Width of the indexer key cached per token per layer."""
    top_k: int
    """Tokens each query attends to after selection."""


@dataclass(frozen=True)
class CrossAttentionSpec:
    """Cross-attention layers reading image tokens (Mllama)."""

    image_tokens: int
    """Tokens whose keys and values each cross-attention layer caches per image in a sequence:
    max_num_tiles * (patches per tile + 1 class token); text-only sequences cache none."""


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
    """Per layer, its token mixer: one of LAYER_TYPES (see the module docstring)."""
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
    attention_chunk_size: int | None = None
    """Tokens per chunk of "chunked" layers (Llama 4); None when no layer is chunked."""
    mamba: MambaSpec | None = None
    """The Mamba mixer of "mamba" and "hybrid" layers."""
    linear_attention: LinearAttentionSpec | None = None
    """The mixer of "linear_attention" layers."""
    cross_attention: CrossAttentionSpec | None = None
    vision: VisionSpec | None = None
    """Vision tower and projector of a multimodal wrapper (None for a text-only model)."""
    indexer: IndexerSpec | None = None
    """DeepSeek Sparse Attention indexer (DeepSeek-V3.2) on every attention layer."""
    embedding_rows: int | None = None
    """Rows of the input embedding when it differs from V (Mllama adds 8 rows for image tokens)."""
    lm_head_bias: bool = False
    """A bias on the output projection (Phi-3.5-MoE)."""
    wrapper_model_type: str | None = None
    """``model_type`` of the multimodal wrapper the language model came from (e.g. "gemma3")."""
    dense_mlp_layers: tuple[int, ...] | None = None
    """Layers with a dense MLP when not every non-MoE layer has one (Nemotron-H); None: all
    layers not in ``moe.moe_layers``."""
    source: str = ""
    """Where the config came from (preset file, path, hub id)."""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_moe(self) -> bool:
        return self.moe is not None and len(self.moe.moe_layers) > 0

    @property
    def num_sliding_layers(self) -> int:
        return sum(1 for t in self.layer_types if t == "sliding")

    @property
    def num_attention_layers(self) -> int:
        """Layers with a per-token self-attention KV cache ("full", "sliding", "chunked", "hybrid")."""
        return sum(1 for t in self.layer_types if t in SELF_ATTENTION_TYPES)

    @property
    def num_state_layers(self) -> int:
        """Layers with a fixed per-sequence state ("linear_attention", "mamba", "hybrid")."""
        return sum(1 for t in self.layer_types if t in STATE_TYPES)

    def has_mlp(self, layer: int) -> bool:
        """True when ``layer`` has a dense MLP (not MoE, not a mixer-only layer)."""
        if self.moe is not None and layer in self.moe.moe_layers:
            return False
        return self.dense_mlp_layers is None or layer in self.dense_mlp_layers

    def to_dict(self) -> dict:
        from dataclasses import asdict

        d = asdict(self)
        d["layer_types"] = list(self.layer_types)
        if self.moe is not None:
            d["moe"]["moe_layers"] = list(self.moe.moe_layers)
        if self.vision is not None:
            d["vision"]["terms"] = dict(self.vision.terms)
        return d
