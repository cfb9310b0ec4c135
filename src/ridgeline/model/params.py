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
ROLES = ("embedding", "lm_head", "linear", "expert", "norm", "bias", "router", "other")


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


def param_groups(spec: ModelSpec) -> list[ParamGroup]:
    """All parameter groups of the model, in forward order."""
    H, V = spec.hidden_size, spec.vocab_size
    groups: list[ParamGroup] = []
    add = groups.append
    E_dim = spec.embed_dim or H

    add(ParamGroup("embed.tokens", V * E_dim, "embedding", None, True))
    if spec.learned_positions:
        add(ParamGroup("embed.positions", spec.learned_positions * H, "embedding", None, False))
    if spec.embed_dim:
        add(ParamGroup("embed.project_in", E_dim * H, "linear", None, False))

    norm_size = H * (2 if spec.norm_bias else 1)
    moe_layers = set(spec.moe.moe_layers) if spec.moe is not None else set()
    for i in range(spec.num_layers):
        groups.extend(_attention_groups(spec, i))
        if i in moe_layers:
            groups.extend(_moe_groups(spec, i))
        else:
            groups.extend(_mlp_groups(spec, i, spec.mlp.intermediate_size, "mlp"))
        add(ParamGroup("norms.layer", spec.norms_per_layer * norm_size, "norm", i, False))

    if spec.final_norm:
        add(ParamGroup("norms.final", norm_size, "norm", None, False))
    if spec.embed_dim:
        add(ParamGroup("embed.project_out", H * E_dim, "linear", None, False))
    if not spec.tie_word_embeddings:
        add(ParamGroup("lm_head", V * E_dim, "lm_head", None, True))
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
        return out
    qkv_rows = a.fused_qkv_rows if a.fused_qkv_rows is not None else (N + 2 * K) * D
    out.append(ParamGroup("attn.qkv", H * qkv_rows, "linear", i, True))
    bias = 0
    if a.fused_qkv_rows is not None:
        bias += qkv_rows if a.q_bias else 0
    else:
        bias += (N * D if a.q_bias else 0) + (K * D if a.k_bias else 0) + (K * D if a.v_bias else 0)
    if bias:
        out.append(ParamGroup("attn.bias", bias, "bias", i, True))
    out.append(ParamGroup("attn.o", N * D * H, "linear", i, True))
    if a.o_bias:
        out.append(ParamGroup("attn.bias", H, "bias", i, False))
    if a.qk_norm:
        out.append(ParamGroup("attn.qk_norm", 2 * D, "norm", i, False))
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
    out.append(ParamGroup("moe.experts", E * 3 * H * Ie, "expert", i, True, routed_expert=True))
    if moe.expert_bias:
        out.append(ParamGroup("moe.experts_bias", E * (2 * Ie + H), "bias", i, True, routed_expert=True))
    if moe.shared_intermediate_size:
        out.extend(_mlp_groups(spec, i, moe.shared_intermediate_size, "moe.shared"))
    if moe.shared_expert_gate:
        out.append(ParamGroup("moe.shared_gate", H, "router", i, False))
    return out


@dataclass(frozen=True)
class ParamCount:
    """Totals and the per-term breakdown."""

    total: int
    active: int
    """Parameters touched per token: routed experts count k of E."""
    by_term: dict[str, int]
    active_by_term: dict[str, int]

    def to_dict(self) -> dict:
        return {"total": self.total, "active": self.active, "by_term": dict(self.by_term),
                "active_by_term": dict(self.active_by_term)}


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
