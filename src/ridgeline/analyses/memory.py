"""The inference memory ledger: weights, KV cache, activations and overhead, per device.

Terms are dotted names whose parts sum to the per-device total.

Assumptions (named, and shown in results):
- Attention runs with a fused kernel (FlashAttention, Dao et al. 2022, arXiv 2205.14135):
  no N x T x T score matrix is materialised.
- Tensor parallelism (Megatron-LM, Shoeybi et al. 2019, arXiv 1909.08053, sec. 3) splits attention
  heads, MLP columns/rows, experts' matrices and the vocabulary (embedding, lm_head); norms,
  routers, learned positions and MLA's low-rank down-projections are replicated.
- KV heads are split over tp; when tp exceeds the KV heads each device keeps one head
  (replication, as vLLM does). MLA's latent is replicated on every tp rank.
- Pipeline stages take contiguous layers as evenly as possible; the first stage also holds the
  embeddings, the last the final norm and lm_head (a tied lm_head is a copy there when pp > 1).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from ridgeline.factors import KV_FRAGMENTATION, LOGITS_BITS, RUNTIME_OVERHEAD, Factor
from ridgeline.model.kv import KVLayout, cached_tokens, kv_elements_per_token_layer
from ridgeline.model.params import ParamGroup, param_groups
from ridgeline.model.spec import ModelSpec
from ridgeline.workload import InferenceWorkload, ParallelPlan, Precision


@dataclass(frozen=True)
class Overheads:
    runtime: Factor = RUNTIME_OVERHEAD
    kv_fragmentation: Factor = KV_FRAGMENTATION


@dataclass(frozen=True)
class MemoryLedger:
    """Bytes on the busiest device, by term, plus totals resident over all devices."""

    per_device_terms: dict[str, float]
    """Dotted term -> bytes on the busiest device; sums to per_device_total_bytes."""
    weights_bytes: float
    """Weight bytes resident on all devices (replicated tensors counted on each; exact model bytes at 1 device)."""
    kv_cache_bytes: float
    """KV-cache bytes resident on all devices (exact, no fragmentation; replicated heads counted on each)."""
    activations_bytes: float
    overhead_bytes: float
    """Runtime overhead and KV fragmentation, summed over devices."""
    devices: int
    stage_fixed_bytes: tuple[float, ...] = ()
    """Per pipeline stage, bytes on one device other than KV (weights, activations, runtime)."""
    stage_kv_seq_bytes: tuple[float, ...] = ()
    """Per pipeline stage, KV bytes (with fragmentation) one sequence puts on one device."""
    factors: tuple[Factor, ...] = field(default_factory=tuple)

    @property
    def per_device_total_bytes(self) -> float:
        return sum(self.per_device_terms.values())

    @property
    def total_bytes(self) -> float:
        return self.weights_bytes + self.kv_cache_bytes + self.activations_bytes + self.overhead_bytes


def stage_layers(num_layers: int, pp: int) -> list[range]:
    """Contiguous layer ranges per pipeline stage; earlier stages take the remainder."""
    base, extra = divmod(num_layers, pp)
    out, start = [], 0
    for s in range(pp):
        n = base + (1 if s < extra else 0)
        out.append(range(start, start + n))
        start += n
    return out


def _group_stage(g: ParamGroup, stage_of_layer: list[int], pp: int) -> list[int]:
    if g.layer is not None:
        return [stage_of_layer[g.layer]]
    if g.term.startswith("embed.") and g.term != "embed.project_out":
        return [0]
    return [pp - 1]


def weight_bytes_by_stage(spec: ModelSpec, prec: Precision, plan: ParallelPlan) -> list[dict[str, float]]:
    """Per pipeline stage: bytes of weights on one tp rank, by term ``weights.<role>``."""
    stages = stage_layers(spec.num_layers, plan.pp)
    stage_of_layer = [0] * spec.num_layers
    for s, r in enumerate(stages):
        for i in r:
            stage_of_layer[i] = s
    out: list[dict[str, float]] = [defaultdict(float) for _ in range(plan.pp)]
    for g in param_groups(spec):
        fmt = prec.format_for(g.role)
        nbytes = fmt.nbytes(g.count) / (plan.tp if g.tp_sharded else 1)
        for s in _group_stage(g, stage_of_layer, plan.pp):
            out[s][f"weights.{g.role}"] += nbytes
    if spec.tie_word_embeddings and plan.pp > 1:
        # the last stage needs its own copy of the tied embedding to compute logits
        emb = next(g for g in param_groups(spec) if g.term == "embed.tokens")
        out[-1]["weights.lm_head"] += prec.format_for("lm_head").nbytes(emb.count) / plan.tp
    return [dict(d) for d in out]


def kv_heads_fraction_per_device(spec: ModelSpec, layout: KVLayout, tp: int) -> float:
    """Fraction of a layer's KV cache held by one tp rank."""
    a = spec.attention
    if a.mla is not None:
        return 1.0 if layout.mla == "latent" else 1.0 / tp
    heads = a.num_kv_heads
    if layout.convention == "transformers" and a.reference_cache_kv_heads is not None:
        heads = a.reference_cache_kv_heads
    return max(heads // tp, 1) / heads


def activation_bytes(spec: ModelSpec, wl: InferenceWorkload, prec: Precision, tp: int) -> dict[str, float]:
    """Transient activation peak of one forward pass on one tp rank, by term.

    C = min(prefill chunk, batch * context) tokens are in flight. Per token, the peak holds the
    residual stream and its normed copy (2H) plus the wider of the attention block
    (q, k, v and the attention output) and the MLP block (gate, up and their product, or the
    k routed experts' and shared expert's), split over tp. Logits: one fp32 row of V/tp per
    sequence (only the last position is projected, transformers' ``logits_to_keep=1``).
    """
    a, H = spec.attention, spec.hidden_size
    C = min(wl.prefill_chunk_tokens, wl.batch * wl.context_tokens)
    if a.mla is not None:
        m = a.mla
        attn = (a.num_heads * (m.qk_nope_head_dim + m.qk_rope_head_dim) * 2 + a.num_heads * m.v_head_dim * 2) / tp \
            + m.kv_lora_rank + m.qk_rope_head_dim + (m.q_lora_rank or 0)
    else:
        attn = (2 * a.num_heads * a.head_dim + 2 * max(a.num_kv_heads // tp, 1) * tp * a.head_dim) / tp
    mats = 3 if spec.mlp.gated else 2
    mlp = mats * spec.mlp.intermediate_size / tp
    if spec.moe is not None and spec.moe.moe_layers:
        moe = spec.moe
        routed = moe.top_k * 3 * moe.expert_intermediate_size / tp
        shared = 3 * moe.shared_intermediate_size / tp
        mlp = max(mlp if len(moe.moe_layers) < spec.num_layers else 0, routed + shared + moe.num_experts)
    width = 2 * H + max(attn, mlp)
    return {
        "activations.prefill_chunk": C * width * prec.activations.bytes_per_element,
        "activations.logits": wl.batch * math.ceil(spec.vocab_size / tp) * LOGITS_BITS.value / 8,
    }


def kv_bytes_by_stage(spec: ModelSpec, wl: InferenceWorkload, prec: Precision, plan: ParallelPlan,
                      layout: KVLayout, batch: int | None = None) -> list[float]:
    """Exact KV bytes on one tp rank of each stage for ``batch`` sequences of the workload's context."""
    b = wl.batch if batch is None else batch
    per_tok_layer = kv_elements_per_token_layer(spec, layout) * prec.kv.bytes_per_element
    frac = kv_heads_fraction_per_device(spec, layout, plan.tp)
    out = []
    for r in stage_layers(spec.num_layers, plan.pp):
        toks = sum(cached_tokens(spec, i, wl.context_tokens, layout) for i in r)
        out.append(b * toks * per_tok_layer * frac)
    return out


def inference_ledger(spec: ModelSpec, wl: InferenceWorkload, prec: Precision, plan: ParallelPlan,
                     layout: KVLayout = KVLayout(), overheads: Overheads = Overheads(),
                     stored_weights_bytes: float | None = None) -> MemoryLedger:
    """The memory ledger of serving ``wl`` with ``plan`` (see module docstring).

    ``stored_weights_bytes``: the exact bytes of a checkpoint's tensors (from its safetensors
    headers). When given, the weights total is that figure and each per-device weight term is
    scaled by stored / config-derived bytes, keeping the config's tensor layout for the split.
    """
    plan.check(spec)
    w_stages = weight_bytes_by_stage(spec, prec, plan)
    weights_total = sum(prec.format_for(g.role).nbytes(g.count) for g in param_groups(spec))
    if stored_weights_bytes is not None:
        scale = stored_weights_bytes / weights_total
        w_stages = [{k: v * scale for k, v in st.items()} for st in w_stages]
        weights_total = stored_weights_bytes
    kv_stages = kv_bytes_by_stage(spec, wl, prec, plan, layout)
    kv_seq_stages = kv_bytes_by_stage(spec, wl, prec, plan, layout, batch=1)
    act = activation_bytes(spec, wl, prec, plan.tp)
    frag = overheads.kv_fragmentation.value
    best: dict[str, float] | None = None
    stage_terms = []
    for s in range(plan.pp):
        terms = dict(sorted(w_stages[s].items()))
        terms["kv_cache"] = kv_stages[s]
        terms["activations.prefill_chunk"] = act["activations.prefill_chunk"]
        # logits are computed on the last stage only
        terms["activations.logits"] = act["activations.logits"] if s == plan.pp - 1 else 0.0
        terms["overhead.runtime"] = overheads.runtime.value
        terms["overhead.kv_fragmentation"] = float(math.ceil(kv_stages[s] * frag))
        stage_terms.append(terms)
        if best is None or sum(terms.values()) > sum(best.values()):
            best = terms
    assert best is not None
    # deployment totals: what is resident on all tp x pp devices (replicated tensors counted on each)
    def resident(pred) -> float:
        return plan.tp * sum(v for t in stage_terms for k, v in t.items() if pred(k))

    if plan.devices > 1:  # on one device the exact sum over tensor groups (or stored bytes) stands as is
        weights_total = resident(lambda k: k.startswith("weights."))
    kv_total = resident(lambda k: k == "kv_cache")
    act_total = resident(lambda k: k.startswith("activations."))
    overhead_total = resident(lambda k: k.startswith("overhead."))
    stage_fixed = tuple(sum(v for k, v in t.items() if k not in ("kv_cache", "overhead.kv_fragmentation"))
                        for t in stage_terms)
    stage_kv_seq = tuple(kv_seq_stages[s] * (1 + frag) for s in range(plan.pp))
    return MemoryLedger(
        per_device_terms=best, weights_bytes=weights_total, kv_cache_bytes=kv_total, activations_bytes=act_total,
        overhead_bytes=overhead_total, devices=plan.devices, stage_fixed_bytes=stage_fixed,
        stage_kv_seq_bytes=stage_kv_seq, factors=(overheads.runtime, overheads.kv_fragmentation, LOGITS_BITS),
    )
