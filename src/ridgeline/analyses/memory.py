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
- Mamba and linear-attention layers keep a fixed state per sequence (``state_cache``: conv windows
  and recurrent states, :func:`ridgeline.model.kv.state_bytes_per_sequence`), split over tp as
  their heads and channels are (vLLM's MambaMixer2 / GatedDeltaNet shard them); dtypes and conv
  width follow the KV layout's convention (:func:`state_bytes_per_element`). No fragmentation
  applies: the state is one fixed-size slot per sequence.

Speed: everything that depends only on (model, precision) is computed once and cached in a
:class:`WeightTable` (per-role prefix sums of element counts over layers), so a ledger for any
(tp, pp, batch, context) is arithmetic over a handful of numbers, not a walk over tensor groups.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

from ridgeline.factors import KV_FRAGMENTATION, LOGITS_BITS, RUNTIME_OVERHEAD, Factor
from ridgeline.model.kv import (REFERENCE_RECURRENT_STATE_BYTES, KVLayout, cached_tokens,
                                kv_elements_per_token_layer, state_bytes_per_sequence)
from ridgeline.formats import format_from_torch_dtype
from ridgeline.model.params import ROLES, param_groups
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
    """Per pipeline stage, bytes one sequence puts on one device: its KV (with fragmentation) plus
    its fixed state (Mamba / linear-attention layers)."""
    factors: tuple[Factor, ...] = field(default_factory=tuple)
    stage_weights_bytes: tuple[float, ...] = ()
    """Per pipeline stage, weight bytes on one device."""
    stage_kv_token_bytes: tuple[float, ...] = ()
    """Per pipeline stage, KV bytes (with fragmentation) one token of context puts on one device
    if every layer of the stage keeps it (no window full yet)."""
    state_cache_bytes: float = 0.0
    """Per-sequence state (Mamba / linear-attention layers) resident on all devices, for the batch."""
    stage_state_seq_bytes: tuple[float, ...] = ()
    """Per pipeline stage, the fixed state one sequence keeps on one device (0 without state layers)."""

    @property
    def per_device_total_bytes(self) -> float:
        return sum(self.per_device_terms.values())

    @property
    def total_bytes(self) -> float:
        return (self.weights_bytes + self.kv_cache_bytes + self.state_cache_bytes + self.activations_bytes
                + self.overhead_bytes)


def stage_layers(num_layers: int, pp: int) -> list[range]:
    """Contiguous layer ranges per pipeline stage; earlier stages take the remainder."""
    base, extra = divmod(num_layers, pp)
    out, start = [], 0
    for s in range(pp):
        n = base + (1 if s < extra else 0)
        out.append(range(start, start + n))
        start += n
    return out


@dataclass(frozen=True)
class WeightTable:
    """Element counts of one model, arranged so any (tp, pp) split is a few additions.

    ``sharded[role][i]`` / ``replicated[role][i]``: elements of that role in layers ``< i``
    (prefix sums, length L + 1), split by whether tensor parallelism divides them.
    ``first`` / ``last``: (role, elements, tp-sharded) outside the layers, on the first stage
    (embeddings) or the last (final norm, lm_head). ``tied_lm_head``: elements of the tied
    embedding the last stage copies when pp > 1 (0 when untied).
    """

    roles: tuple[str, ...]
    sharded: dict[str, tuple[int, ...]]
    replicated: dict[str, tuple[int, ...]]
    first: tuple[tuple[str, int, bool], ...]
    last: tuple[tuple[str, int, bool], ...]
    tied_lm_head: int


@lru_cache(maxsize=256)
def weight_table(spec: ModelSpec) -> WeightTable:
    """Build (once per model) the per-role prefix sums of :func:`param_groups`."""
    L = spec.num_layers
    per_layer_sh = {r: [0] * L for r in ROLES}
    per_layer_rep = {r: [0] * L for r in ROLES}
    first, last = [], []
    tied = 0
    for g in param_groups(spec):
        if g.layer is not None:
            (per_layer_sh if g.tp_sharded else per_layer_rep)[g.role][g.layer] += g.count
        elif g.term.startswith("embed.") and g.term != "embed.project_out":
            first.append((g.role, g.count, g.tp_sharded))
            if g.term == "embed.tokens":
                tied = g.count if spec.tie_word_embeddings else 0
        else:
            last.append((g.role, g.count, g.tp_sharded))

    def prefix(xs: list[int]) -> tuple[int, ...]:
        out, acc = [0], 0
        for x in xs:
            acc += x
            out.append(acc)
        return tuple(out)

    roles = tuple(r for r in ROLES if any(per_layer_sh[r]) or any(per_layer_rep[r])
                  or any(x[0] == r for x in first + last) or (r == "lm_head" and tied))
    return WeightTable(roles, {r: prefix(per_layer_sh[r]) for r in roles}, {r: prefix(per_layer_rep[r]) for r in roles},
                       tuple(first), tuple(last), tied)


def stage_weight_terms(t: WeightTable, prec: Precision, plan: ParallelPlan, layers: range, first: bool,
                       last: bool) -> dict[str, float]:
    """Weight bytes on one tp rank of the stage holding ``layers``, by term ``weights.<role>``."""
    a, b, tp = layers.start, layers.stop, plan.tp
    out: dict[str, float] = {}
    for r in t.roles:
        sh = t.sharded[r][b] - t.sharded[r][a]
        rep = t.replicated[r][b] - t.replicated[r][a]
        extras = (t.first if first else ()) + (t.last if last else ())
        for role, n, sharded in extras:
            if role == r:
                if sharded:
                    sh += n
                else:
                    rep += n
        fmt = prec.format_for(r)
        v = fmt.nbytes(sh) / tp + fmt.nbytes(rep)
        if r == "lm_head" and last and t.tied_lm_head and plan.pp > 1:
            # the last stage needs its own copy of the tied embedding to compute logits
            v += fmt.nbytes(t.tied_lm_head) / tp
        if v or sh or rep:
            out[f"weights.{r}"] = v
    return out


def weight_bytes_by_stage(spec: ModelSpec, prec: Precision, plan: ParallelPlan) -> list[dict[str, float]]:
    """Per pipeline stage: bytes of weights on one tp rank, by term ``weights.<role>``."""
    t = weight_table(spec)
    stages = stage_layers(spec.num_layers, plan.pp)
    return [stage_weight_terms(t, prec, plan, r, s == 0, s == plan.pp - 1) for s, r in enumerate(stages)]


@lru_cache(maxsize=1024)
def model_weight_bytes(spec: ModelSpec, prec: Precision) -> float:
    """Exact weight bytes of the whole model (each tensor group in its role's format)."""
    t = weight_table(spec)
    total = 0.0
    for r in t.roles:
        n = t.sharded[r][-1] + t.replicated[r][-1] + sum(x[1] for x in t.first + t.last if x[0] == r)
        total += prec.format_for(r).nbytes(n)
    return total


def kv_heads_fraction_per_device(spec: ModelSpec, layout: KVLayout, tp: int) -> float:
    """Fraction of a layer's KV cache held by one tp rank."""
    a = spec.attention
    if a.mla is not None:
        return 1.0 if layout.mla == "latent" else 1.0 / tp
    heads = a.num_kv_heads
    if layout.convention == "transformers" and a.reference_cache_kv_heads is not None:
        heads = a.reference_cache_kv_heads
    return max(heads // tp, 1) / heads


def kv_layer_token_bytes(spec: ModelSpec, prec: Precision, layout: KVLayout, tp: int) -> float:
    """KV bytes one token puts in one layer on one tp rank."""
    return kv_elements_per_token_layer(spec, layout) * prec.kv.bytes_per_element * \
        kv_heads_fraction_per_device(spec, layout, tp)


_UNBOUNDED = 1 << 62


@dataclass(frozen=True)
class KVSpans:
    """Which layers keep which tokens, as prefix counts over layers (length L + 1), read once from
    :func:`ridgeline.model.kv.cached_tokens` so every layer kind it knows (full, sliding, chunked,
    state-only) is counted the same way here: ``full`` layers keep every token, each
    ``(span, prefix)`` in ``windows`` keeps at most ``span`` tokens, the rest keep none."""

    full: tuple[int, ...]
    windows: tuple[tuple[int, tuple[int, ...]], ...]

    def tokens(self, layers: range, context_tokens: int) -> int:
        """Sum over ``layers`` of the tokens each keeps for one sequence of ``context_tokens``."""
        a, b = layers.start, layers.stop
        n = (self.full[b] - self.full[a]) * context_tokens
        for span, pre in self.windows:
            n += (pre[b] - pre[a]) * min(context_tokens, span)
        return n

    def counts(self, layers: range) -> tuple[int, int, int | None]:
        """(full layers, windowed layers, the smallest window) among ``layers``."""
        a, b = layers.start, layers.stop
        wins = [(span, pre[b] - pre[a]) for span, pre in self.windows if pre[b] - pre[a]]
        return self.full[b] - self.full[a], sum(n for _, n in wins), min((s for s, _ in wins), default=None)


@lru_cache(maxsize=1024)
def kv_spans(spec: ModelSpec, layout: KVLayout) -> KVSpans:
    L = spec.num_layers
    kinds = [cached_tokens(spec, i, _UNBOUNDED, layout) for i in range(L)]

    def prefix(flags) -> tuple[int, ...]:
        out, acc = [0], 0
        for f in flags:
            acc += f
            out.append(acc)
        return tuple(out)

    spans = sorted({k for k in kinds if 0 < k < _UNBOUNDED})
    return KVSpans(prefix(k == _UNBOUNDED for k in kinds), tuple((w, prefix(k == w for k in kinds)) for w in spans))


def state_bytes_per_element(spec: ModelSpec, prec: Precision, layout: KVLayout) -> tuple[float, float]:
    """(conv window, recurrent state) bytes per element of the per-sequence state.

    Engines: the model dtype for both (vLLM's ``mamba_cache_dtype`` / ``mamba_ssm_cache_dtype``
    "auto", vllm/config/cache.py), except where the config names an SSM state dtype
    (``MambaSpec.ssm_state_dtype``: Nemotron-H's ``mamba_ssm_cache_dtype``, "float32" by default, which
    vLLM's ``NemotronHForCausalLMConfig.verify_and_update_config`` adopts). ``transformers``: 5.24
    keeps every recurrent state in fp32 (``REFERENCE_RECURRENT_STATE_BYTES``).
    """
    conv = prec.activations.bytes_per_element
    if layout.convention == "transformers":
        return conv, REFERENCE_RECURRENT_STATE_BYTES
    named = spec.mamba.ssm_state_dtype if spec.mamba is not None else None
    fmt = format_from_torch_dtype(named) if named else None
    return conv, (fmt.bytes_per_element if fmt is not None else conv)


@lru_cache(maxsize=1024)
def state_seq_bytes_by_stage(spec: ModelSpec, prec: Precision, plan: ParallelPlan,
                             layout: KVLayout = KVLayout()) -> tuple[float, ...]:
    """Per pipeline stage, the fixed state one sequence keeps on one tp rank: the stage's Mamba and
    linear-attention layers (:func:`ridgeline.model.kv.state_bytes_per_sequence`), divided by tp."""
    conv, rec = state_bytes_per_element(spec, prec, layout)
    return tuple(state_bytes_per_sequence(spec, conv, rec, r, layout) / plan.tp
                 for r in stage_layers(spec.num_layers, plan.pp))


def stage_cached_tokens(spec: ModelSpec, layers: range, context_tokens: int, layout: KVLayout) -> int:
    """Sum over the stage's layers of the tokens each keeps for one sequence."""
    return kv_spans(spec, layout).tokens(layers, context_tokens)


def forward_activation_bytes(spec: ModelSpec, tokens: int, act_bytes_per_element: float, tp: int) -> float:
    """Transient activation peak of one forward pass of ``tokens`` tokens on one tp rank.

    Per token, the peak holds the residual stream and its normed copy (2H) plus the wider of the
    attention block (q, k, v and the attention output) and the MLP block (gate, up and their
    product, or the k routed experts' and shared expert's), split over tp.
    """
    a, H = spec.attention, spec.hidden_size
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
    return tokens * (2 * H + max(attn, mlp)) * act_bytes_per_element


def activation_bytes(spec: ModelSpec, wl: InferenceWorkload, prec: Precision, tp: int) -> dict[str, float]:
    """Transient activation peak of one forward pass on one tp rank, by term.

    C = min(prefill chunk, batch * context) tokens are in flight (see
    :func:`forward_activation_bytes`). Logits: one fp32 row of V/tp per sequence (only the last
    position is projected, transformers' ``logits_to_keep=1``).
    """
    C = min(wl.prefill_chunk_tokens, wl.batch * wl.context_tokens)
    return {
        "activations.prefill_chunk": forward_activation_bytes(spec, C, prec.activations.bytes_per_element, tp),
        "activations.logits": wl.batch * math.ceil(spec.vocab_size / tp) * LOGITS_BITS.value / 8,
    }


def kv_bytes_by_stage(spec: ModelSpec, wl: InferenceWorkload, prec: Precision, plan: ParallelPlan,
                      layout: KVLayout, batch: int | None = None) -> list[float]:
    """Exact KV bytes on one tp rank of each stage for ``batch`` sequences of the workload's context."""
    b = wl.batch if batch is None else batch
    per = kv_layer_token_bytes(spec, prec, layout, plan.tp)
    return [b * stage_cached_tokens(spec, r, wl.context_tokens, layout) * per
            for r in stage_layers(spec.num_layers, plan.pp)]


@dataclass(frozen=True)
class ByteTable:
    """Weight bytes of one (model, precision), as prefix sums over layers (length L + 1):
    ``sharded`` (split by tp), ``replicated``, and the routed experts' share of ``sharded``;
    plus the bytes outside the layers on the first and last stage."""

    sharded: tuple[float, ...]
    replicated: tuple[float, ...]
    expert: tuple[float, ...]
    first_sharded: float
    first_replicated: float
    last_sharded: float
    last_replicated: float
    tied_lm_head: float
    """Bytes of the tied embedding the last stage copies when pp > 1 (0 when untied)."""

    def stage(self, layers: range, s: int, pp: int, tp: int) -> tuple[float, float]:
        """(weight bytes, routed-expert bytes) on one tp rank of stage ``s`` holding ``layers``."""
        a, b = layers.start, layers.stop
        sh = self.sharded[b] - self.sharded[a]
        rep = self.replicated[b] - self.replicated[a]
        if s == 0:
            sh += self.first_sharded
            rep += self.first_replicated
        if s == pp - 1:
            sh += self.last_sharded + (self.tied_lm_head if pp > 1 else 0.0)
            rep += self.last_replicated
        return sh / tp + rep, (self.expert[b] - self.expert[a]) / tp


@lru_cache(maxsize=1024)
def byte_table(spec: ModelSpec, prec: Precision) -> ByteTable:
    """Build (once per model and precision) the byte prefix sums of :func:`weight_table`."""
    t = weight_table(spec)
    L = spec.num_layers
    sh, rep, ex = [0.0] * (L + 1), [0.0] * (L + 1), [0.0] * (L + 1)
    fs = fr = ls = lr = 0.0
    for r in t.roles:
        f = prec.format_for(r)
        for i in range(L + 1):
            sh[i] += f.nbytes(t.sharded[r][i])
            rep[i] += f.nbytes(t.replicated[r][i])
            if r == "expert":
                ex[i] += f.nbytes(t.sharded[r][i])
    for role, n, sharded in t.first:
        if sharded:
            fs += prec.format_for(role).nbytes(n)
        else:
            fr += prec.format_for(role).nbytes(n)
    for role, n, sharded in t.last:
        if sharded:
            ls += prec.format_for(role).nbytes(n)
        else:
            lr += prec.format_for(role).nbytes(n)
    tied = prec.format_for("lm_head").nbytes(t.tied_lm_head)
    return ByteTable(tuple(sh), tuple(rep), tuple(ex), fs, fr, ls, lr, tied)


def stage_totals(spec: ModelSpec, wl: InferenceWorkload, prec: Precision, plan: ParallelPlan, layout: KVLayout,
                 overheads: Overheads, weight_scale: float = 1.0, table: ByteTable | None = None) -> float:
    """Bytes on the busiest device, without building the ledger (the fast path of searches).
    Equal to ``inference_ledger(...).per_device_total_bytes`` up to float rounding."""
    t = table or byte_table(spec, prec)
    act = activation_bytes(spec, wl, prec, plan.tp)
    fixed = act["activations.prefill_chunk"] + overheads.runtime.value
    per = kv_layer_token_bytes(spec, prec, layout, plan.tp)
    frag = overheads.kv_fragmentation.value
    spans = kv_spans(spec, layout)
    state = state_seq_bytes_by_stage(spec, prec, plan, layout)
    best = 0.0
    pp = plan.pp
    for s, r in enumerate(stage_layers(spec.num_layers, pp)):
        w = t.stage(r, s, pp, plan.tp)[0] * weight_scale
        kv = wl.batch * spans.tokens(r, wl.context_tokens) * per
        tot = w + kv + math.ceil(kv * frag) + wl.batch * state[s] + fixed + \
            (act["activations.logits"] if s == pp - 1 else 0.0)
        if tot > best:
            best = tot
    return best


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
    weights_total = model_weight_bytes(spec, prec)
    if stored_weights_bytes is not None:
        scale = stored_weights_bytes / weights_total
        w_stages = [{k: v * scale for k, v in st.items()} for st in w_stages]
        weights_total = stored_weights_bytes
    stages = stage_layers(spec.num_layers, plan.pp)
    per = kv_layer_token_bytes(spec, prec, layout, plan.tp)
    kv_seq_stages = [stage_cached_tokens(spec, r, wl.context_tokens, layout) * per for r in stages]
    kv_stages = [wl.batch * x for x in kv_seq_stages]
    state_seq = state_seq_bytes_by_stage(spec, prec, plan, layout)
    act = activation_bytes(spec, wl, prec, plan.tp)
    frag = overheads.kv_fragmentation.value
    best: dict[str, float] | None = None
    best_total = -1.0
    stage_terms = []
    for s in range(plan.pp):
        terms = dict(sorted(w_stages[s].items()))
        terms["kv_cache"] = kv_stages[s]
        if any(state_seq):
            terms["state_cache"] = wl.batch * state_seq[s]
        terms["activations.prefill_chunk"] = act["activations.prefill_chunk"]
        # logits are computed on the last stage only
        terms["activations.logits"] = act["activations.logits"] if s == plan.pp - 1 else 0.0
        terms["overhead.runtime"] = overheads.runtime.value
        terms["overhead.kv_fragmentation"] = float(math.ceil(kv_stages[s] * frag))
        stage_terms.append(terms)
        tot = sum(terms.values())
        if tot > best_total:
            best, best_total = terms, tot
    assert best is not None
    # deployment totals: what is resident on all tp x pp devices (replicated tensors counted on each)
    def resident(pred) -> float:
        return plan.tp * sum(v for t in stage_terms for k, v in t.items() if pred(k))

    if plan.devices > 1:  # on one device the exact sum over tensor groups (or stored bytes) stands as is
        weights_total = resident(lambda k: k.startswith("weights."))
    kv_total = resident(lambda k: k == "kv_cache")
    state_total = resident(lambda k: k == "state_cache")
    act_total = resident(lambda k: k.startswith("activations."))
    overhead_total = resident(lambda k: k.startswith("overhead."))
    per_seq = ("kv_cache", "state_cache", "overhead.kv_fragmentation")
    stage_fixed = tuple(sum(v for k, v in t.items() if k not in per_seq) for t in stage_terms)
    stage_kv_seq = tuple(kv_seq_stages[s] * (1 + frag) + state_seq[s] for s in range(plan.pp))
    stage_w = tuple(sum(v for k, v in t.items() if k.startswith("weights.")) for t in stage_terms)
    spans = kv_spans(spec, layout)
    stage_tok = tuple(sum(spans.counts(r)[:2]) * per * (1 + frag) for r in stages)
    return MemoryLedger(
        per_device_terms=best, weights_bytes=weights_total, kv_cache_bytes=kv_total, activations_bytes=act_total,
        overhead_bytes=overhead_total, devices=plan.devices, stage_fixed_bytes=stage_fixed,
        stage_kv_seq_bytes=stage_kv_seq, factors=(overheads.runtime, overheads.kv_fragmentation, LOGITS_BITS),
        stage_weights_bytes=stage_w, stage_kv_token_bytes=stage_tok, state_cache_bytes=state_total,
        stage_state_seq_bytes=tuple(state_seq),
    )
