"""Exact parameter accounting, tensor group by tensor group.

Every count equals ``sum(p.numel())`` of the transformers 5.24 model class built
from the same config (tests/test_params_exact.py checks this for every preset and
family). Term names are dotted paths whose parts sum to the total.

Legend: L layers, H hidden, V vocab, N query heads, K KV heads, D head dim,
I MLP width, E routed experts, k experts per token.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ridgeline.model.spec import ModelSpec

#: Roles decide the number format a tensor is stored in (see ridgeline.analyses.memory).
#: "vision": the vision tower and projector of a multimodal wrapper (a text-only deployment skips them).
#: "ssm": the small per-channel tensors of a Mamba / linear-attention mixer (A_log, D, dt bias, conv).
ROLES = ("embedding", "lm_head", "linear", "expert", "norm", "bias", "router", "ssm", "vision", "other")


@dataclass(frozen=True)
class ParamGroup:
    """A set of same-role tensors in one place of the network."""

    term: str
    """Dotted name, e.g. "attn.qkv", "moe.experts", "embed.tokens"."""
    count: int
    """Number of parameters (elements)."""
    role: str
    """One of ROLES."""
    layer: int | None
    """Decoder layer index; None for the embeddings, final norm and lm_head."""
    tp_sharded: bool
    """True when tensor parallelism splits this group across devices."""
    routed_expert: bool = False
    """True for routed-expert weights (only k of E are active per token)."""


def param_groups(spec: ModelSpec, text_only: bool = False) -> list[ParamGroup]:
    """All parameter groups of the model, in forward order.

    The vision tower and projector of a multimodal wrapper come first (role "vision", layer None);
    ``text_only=True`` leaves them out: what a text-only deployment loads.
    """
    H, V = spec.hidden_size, spec.vocab_size
    groups: list[ParamGroup] = []
    add = groups.append
    E_dim = spec.embed_dim or H

    if spec.vision is not None and not text_only:
        groups.extend(ParamGroup(term, n, "vision", None, False) for term, n in spec.vision.terms)
    add(ParamGroup("embed.tokens", (spec.embedding_rows or V) * E_dim, "embedding", None, True))
    if spec.learned_positions:
        add(ParamGroup("embed.positions", spec.learned_positions * H, "embedding", None, False))
    if spec.embed_dim:
        add(ParamGroup("embed.project_in", E_dim * H, "linear", None, False))

    norm_size = H * (2 if spec.norm_bias else 1)
    moe_layers = set(spec.moe.moe_layers) if spec.moe is not None else set()
    for i in range(spec.num_layers):
        kind = spec.layer_types[i]
        if kind in ("full", "sliding", "chunked", "hybrid"):
            groups.extend(_attention_groups(spec, i))
        if kind in ("mamba", "hybrid"):
            groups.extend(_mamba_groups(spec, i))
        if kind == "linear_attention":
            groups.extend(_linear_attention_groups(spec, i))
        if kind == "cross_attention":
            groups.extend(_cross_attention_groups(spec, i))
        if i in moe_layers:
            groups.extend(_moe_groups(spec, i))
        elif spec.has_mlp(i):
            groups.extend(_mlp_groups(spec, i, spec.mlp.intermediate_size, "mlp"))
        add(ParamGroup("norms.layer", spec.norms_per_layer * norm_size, "norm", i, False))

    if spec.final_norm:
        add(ParamGroup("norms.final", norm_size, "norm", None, False))
    if spec.embed_dim:
        add(ParamGroup("embed.project_out", H * E_dim, "linear", None, False))
    if not spec.tie_word_embeddings:
        add(ParamGroup("lm_head", V * E_dim, "lm_head", None, True))
    if spec.lm_head_bias:
        add(ParamGroup("lm_head.bias", V, "bias", None, True))
    return groups


def _attention_groups(spec: ModelSpec, i: int) -> list[ParamGroup]:
    a, H = spec.attention, spec.hidden_size
    N, K, D = a.num_heads, a.num_kv_heads, a.head_dim
    out: list[ParamGroup] = []
    if a.mla is not None:
        m = a.mla
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        if m.q_lora_rank is None:
            out.append(ParamGroup("attn.q", H * N * qk, "linear", i, True))
        else:
            # q_a (H -> r, optional bias), q_a_layernorm (r), q_b (r -> N*qk)
            out.append(ParamGroup("attn.q_a", H * m.q_lora_rank, "linear", i, False))
            out.append(ParamGroup("attn.q_a_norm", m.q_lora_rank, "norm", i, False))
            out.append(ParamGroup("attn.q_b", m.q_lora_rank * N * qk, "linear", i, True))
            if a.q_bias:
                out.append(ParamGroup("attn.bias", m.q_lora_rank, "bias", i, False))
        # kv_a_proj_with_mqa (H -> kv_lora + rope), kv_a_layernorm, kv_b (kv_lora -> N*(nope+v))
        out.append(ParamGroup("attn.kv_a", H * (m.kv_lora_rank + m.qk_rope_head_dim), "linear", i, False))
        out.append(ParamGroup("attn.kv_a_norm", m.kv_lora_rank, "norm", i, False))
        out.append(ParamGroup("attn.kv_b", m.kv_lora_rank * N * (m.qk_nope_head_dim + m.v_head_dim), "linear", i, True))
        if a.k_bias:
            out.append(ParamGroup("attn.bias", m.kv_lora_rank + m.qk_rope_head_dim, "bias", i, False))
        out.append(ParamGroup("attn.o", N * m.v_head_dim * H, "linear", i, True))
        if a.o_bias:
            out.append(ParamGroup("attn.bias", H, "bias", i, False))
        if spec.indexer is not None:
            x = spec.indexer
            # wq_b (q latent -> heads x dim), wk (H -> dim), k_norm (LayerNorm with bias), weights_proj (H -> heads)
            rank = m.q_lora_rank if m.q_lora_rank is not None else H
            out.append(ParamGroup("attn.indexer", rank * x.num_heads * x.head_dim + H * x.head_dim
                                  + H * x.num_heads, "linear", i, False))
            out.append(ParamGroup("attn.indexer_norm", 2 * x.head_dim, "norm", i, False))
        return out
    q_rows = N * D * (2 if a.output_gate else 1)
    qkv_rows = a.fused_qkv_rows if a.fused_qkv_rows is not None else q_rows + 2 * K * D
    out.append(ParamGroup("attn.qkv", H * qkv_rows, "linear", i, True))
    bias = 0
    if a.fused_qkv_rows is not None:
        bias += qkv_rows if a.q_bias else 0
    else:
        bias += (q_rows if a.q_bias else 0) + (K * D if a.k_bias else 0) + (K * D if a.v_bias else 0)
    if bias:
        out.append(ParamGroup("attn.bias", bias, "bias", i, True))
    out.append(ParamGroup("attn.o", N * D * H, "linear", i, True))
    if a.o_bias:
        out.append(ParamGroup("attn.bias", H, "bias", i, False))
    if a.qk_norm:
        out.append(ParamGroup("attn.qk_norm", 2 * D if a.qk_norm_per_head else (N + K) * D, "norm", i, False))
    if a.sinks:
        out.append(ParamGroup("attn.sinks", N, "other", i, True))
    return out


def _mlp_groups(spec: ModelSpec, i: int, width: int, prefix: str, role: str = "linear") -> list[ParamGroup]:
    H = spec.hidden_size
    mats = 3 if spec.mlp.gated else 2
    out = [ParamGroup(f"{prefix}.{'gate_up_down' if spec.mlp.gated else 'up_down'}", mats * H * width, role, i, True)]
    if spec.mlp.bias:
        out.append(ParamGroup(f"{prefix}.bias", (mats - 1) * width + H, "bias", i, True))
    return out


def _moe_groups(spec: ModelSpec, i: int) -> list[ParamGroup]:
    moe, H = spec.moe, spec.hidden_size
    assert moe is not None  # caller checked
    E, Ie = moe.num_experts, moe.expert_intermediate_size
    out = [ParamGroup("moe.router", E * H, "router", i, False)]
    if moe.router_bias:
        out.append(ParamGroup("moe.router", E, "router", i, False))
    mats = 3 if moe.gated else 2
    out.append(ParamGroup("moe.experts", E * mats * H * Ie, "expert", i, True, routed_expert=True))
    if moe.expert_bias:
        out.append(ParamGroup("moe.experts_bias", E * (2 * Ie + H), "bias", i, True, routed_expert=True))
    if moe.shared_intermediate_size:
        out.extend(g for g in _mlp_groups(spec, i, moe.shared_intermediate_size, "moe.shared")
                   if g.role != "bias")
    if moe.shared_expert_gate:
        out.append(ParamGroup("moe.shared_gate", H, "router", i, False))
    return out


def _mamba_groups(spec: ModelSpec, i: int) -> list[ParamGroup]:
    """Mamba 1 (Jamba's JambaMambaMixer) or Mamba 2 (NemotronH / FalconH1 mixers), transformers 5.24.

    Mamba 2: in_proj H -> 2*d_inner + 2*G*S + heads (z, x, B, C, dt); conv1d over d_inner + 2*G*S
    channels; A_log, D and dt_bias per head; gated RMSNorm (d_inner); out_proj d_inner -> H.
    Mamba 1: in_proj H -> 2*d_inner; conv1d over d_inner; x_proj d_inner -> dt_rank + 2*S;
    dt_proj dt_rank -> d_inner (+ bias); A_log d_inner x S; D d_inner; out_proj d_inner -> H.
    """
    m, H = spec.mamba, spec.hidden_size
    assert m is not None  # the adapter sets it for every mamba/hybrid layer
    Di, S, C = m.d_inner, m.d_state, m.conv_channels
    out: list[ParamGroup] = []
    if m.version == 2:
        in_rows = 2 * Di + 2 * m.n_groups * S + m.num_heads
        per_head = 3 * m.num_heads  # A_log, D, dt_bias
    else:
        in_rows = 2 * Di
        per_head = Di * S + Di + Di  # A_log [d_inner, S], D, dt_proj bias
        out.append(ParamGroup("mamba.x_dt_proj", Di * (m.dt_rank + 2 * S) + m.dt_rank * Di, "linear", i, True))
    out.append(ParamGroup("mamba.in_proj", H * in_rows, "linear", i, True))
    out.append(ParamGroup("mamba.conv", C * m.d_conv, "ssm", i, True))
    out.append(ParamGroup("mamba.ssm", per_head, "ssm", i, True))
    out.append(ParamGroup("mamba.out_proj", Di * H, "linear", i, True))
    bias = (C if m.conv_bias else 0) + (in_rows if m.in_proj_bias else 0) + (H if m.out_proj_bias else 0)
    if bias:
        out.append(ParamGroup("mamba.bias", bias, "bias", i, True))
    norm = (Di if m.gated_norm else 0) + ((m.dt_rank + 2 * S) if m.inner_layernorms else 0)
    if norm:
        out.append(ParamGroup("mamba.norm", norm, "norm", i, False))
    return out


def _cross_attention_groups(spec: ModelSpec, i: int) -> list[ParamGroup]:
    """Mllama's cross-attention layer (MllamaTextCrossAttention): q, k, v, o as a self-attention
    layer, per-head q/k RMSNorms (2D) and two tanh gates (attention and MLP, one scalar each)."""
    a, H = spec.attention, spec.hidden_size
    N, K, D = a.num_heads, a.num_kv_heads, a.head_dim
    return [
        ParamGroup("cross_attn.qkv", H * (N + 2 * K) * D, "linear", i, True),
        ParamGroup("cross_attn.o", N * D * H, "linear", i, True),
        ParamGroup("cross_attn.qk_norm", 2 * D, "norm", i, False),
        ParamGroup("cross_attn.gates", 2, "other", i, False),
    ]


def _linear_attention_groups(spec: ModelSpec, i: int) -> list[ParamGroup]:
    """Gated DeltaNet (Qwen3NextGatedDeltaNet, transformers 5.24): in_proj_qkvz H -> 2*Kd + 2*Vd,
    in_proj_ba H -> 2*Hv, conv1d over 2*Kd + Vd channels, A_log and dt_bias per value head, a gated
    RMSNorm of value_head_dim, out_proj Vd -> H (Kd = key heads x key dim, Vd = value heads x value dim)."""
    la, H = spec.linear_attention, spec.hidden_size
    assert la is not None  # the adapter sets it for every linear_attention layer
    Kd, Vd, Hv = la.key_dim, la.value_dim, la.num_value_heads
    return [
        ParamGroup("linear_attn.in_proj", H * (2 * Kd + 2 * Vd + 2 * Hv), "linear", i, True),
        ParamGroup("linear_attn.conv", (2 * Kd + Vd) * la.conv_kernel, "ssm", i, True),
        ParamGroup("linear_attn.ssm", 2 * Hv, "ssm", i, True),
        ParamGroup("linear_attn.norm", la.value_head_dim, "norm", i, False),
        ParamGroup("linear_attn.out_proj", Vd * H, "linear", i, True),
    ]


@dataclass(frozen=True)
class ParamCount:
    """Totals and the per-term breakdown."""

    total: int
    active: int
    """Parameters touched per token: routed experts count k of E."""
    by_term: dict[str, int]
    active_by_term: dict[str, int]

    @property
    def vision(self) -> int:
        """Parameters of the vision tower and projector (0 for a text-only model)."""
        return sum(n for t, n in self.by_term.items() if t.startswith("vision."))

    @property
    def text_only_total(self) -> int:
        """Parameters a text-only deployment loads: the total less the vision tower and projector."""
        return self.total - self.vision

    def to_dict(self) -> dict:
        return {"total": self.total, "active": self.active, "text_only_total": self.text_only_total,
                "by_term": dict(self.by_term), "active_by_term": dict(self.active_by_term)}


def count_params(spec: ModelSpec) -> ParamCount:
    """Exact total and active parameter counts with a per-term breakdown."""
    by_term: dict[str, int] = defaultdict(int)
    active: dict[str, int] = defaultdict(int)
    for g in param_groups(spec):
        by_term[g.term] += g.count
        if g.routed_expert and spec.moe is not None:
            # exact: each expert holds count / E parameters, k of them run per token
            active[g.term] += g.count // spec.moe.num_experts * spec.moe.top_k
        else:
            active[g.term] += g.count
    return ParamCount(sum(by_term.values()), sum(active.values()), dict(by_term), dict(active))
