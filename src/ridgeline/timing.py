"""The roofline time model over the operator table, with named efficiencies and overheads.

Per operator row: ideal time ``max(FLOPs / peak, bytes / bandwidth)`` (the roofline lower
bound, Williams et al. 2009); expected time ``max(FLOPs / (peak * eff_compute), bytes /
(bandwidth * eff_memory))``. A step adds its collectives (not overlapped) and a fixed per-step
overhead. Each row is bound by the resource whose term is larger; the step's wait shares are
the parts of its time spent in rows bound by memory, by compute, in communication and in
overhead. Every factor is a :class:`ridgeline.factors.Factor` with a source, overridable.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ridgeline.collectives import Link, all_reduce_wire_bytes, all_to_all_wire_bytes, link_for
from ridgeline.factors import Factor
from ridgeline.hardware.spec import Accelerator
from ridgeline.ops import KINDS, OpTable

EFF_HBM = Factor(
    "eff.memory", 0.80, "fraction of peak memory bandwidth",
    "weight streaming reaches 2.6-2.8 TB/s of the H100's 3.35 TB/s (78-84%) in Nsight Compute "
    "measurements of a 70B inference workload (mikamirai.com/blog/gpu-memory-bandwidth, 2026-03-28)",
)
EFF_GEMM = Factor(
    "eff.gemm", 0.50, "fraction of dense peak FLOP/s",
    "fitted on the train half of 191 published engine measurements (benchmarks/infer_accuracy.py, "
    "docs/accuracy.md): real engines' GEMMs over whole steps; the best single kernels reach 0.75-0.78 "
    "(DeepGEMM up to 1550 of 1979 FP8 TFLOP/s on H800, github.com/deepseek-ai/DeepGEMM; FlashAttention-3 "
    "740 of 989 BF16 TFLOP/s, arXiv 2407.08608)",
)
EFF_ATTENTION = Factor(
    "eff.attention", 0.60, "fraction of dense peak FLOP/s",
    "fused attention forward reaches 50-73% of A100 peak (FlashAttention-2, Dao 2023, arXiv 2307.08691, "
    "fig. 4) and up to 75% on H100 (FlashAttention-3); 0.60 is the middle of that range",
)
EFF_VECTOR = Factor(
    "eff.vector", 0.50, "fraction of fp32 vector peak",
    "elementwise kernels (norms, softmax) are memory-bound at LLM shapes; their FLOP term rarely binds. "
    "Half of peak is a conservative placeholder, unverified",
)
EFF_LINK = Factor(
    "eff.link", 0.82, "fraction of link line rate",
    "NCCL reaches ~370 GB/s effective of NVLink 4's 450 GB/s line rate per direction (~20% protocol "
    "overhead; NVIDIA engineer S. Jeaugey, github.com/NVIDIA/nccl-tests/issues/212)",
)
COMM_LATENCY = Factor(
    "comm.latency_s", 6e-6, "seconds per collective call",
    "a small all-reduce over NVLink on 2 H100s takes ~6 us (NCCL 2.20, CUDA graphs; "
    "github.com/NVIDIA/nccl/issues/1259); used when the hardware file gives no link latency",
)
REQUEST_OVERHEAD = Factor(
    "overhead.request_s", 1.36e-3, "seconds per request, added to TTFT",
    "tokenization, admission and first sampling of a request: the median TTFT residual over the train half "
    "of 191 published measurements (benchmarks/infer_accuracy.py, docs/accuracy.md); 0 in the ideal roofline",
)
STEP_OVERHEAD = Factor(
    "overhead.step_s", 2.77e-3, "seconds per forward step",
    "scheduling, sampling and kernel launches per engine step: the median decode-step residual over the train "
    "half of 191 published measurements (benchmarks/infer_accuracy.py, docs/accuracy.md); 0 in the ideal roofline",
)
# -- framework factors: 0 (or 1) in the engine model; a measured profile sets them (ridgeline measure) --
LAYER_OVERHEAD = Factor(
    "overhead.layer_s", 0.0, "seconds per decoder layer per forward step",
    "eager frameworks dispatch dozens of small ops per layer (views, casts, mask and rotary set-up) whatever "
    "the batch; 0 for engines that capture the step in a graph. `ridgeline measure` measures it on a tiny "
    "transformers model (slope of step time over layer count)",
)
ATTENTION_MEMORY = Factor(
    "eff.attention_memory", 1.0, "fraction of the achieved memory bandwidth",
    "rate at which the attention kernel streams the KV cache, relative to eff.memory; 1 for fused "
    "decode kernels (FlashAttention/FlashDecoding stream K and V once). `ridgeline measure` measures the "
    "framework's own kernel (torch SDPA at q_len 1)",
)
OVERLAP = Factor(
    "eff.overlap", 1.0, "fraction of the shorter of compute and memory time hidden",
    "a kernel's time is max(t_compute, t_memory) + (1 - overlap) * min(...): 1 is the classic roofline "
    "(Williams et al. 2009), 0 the no-overlap upper bound (scaling-book, 'Rooflines'). `ridgeline measure` "
    "fits it on skinny GEMMs",
)
GEMM_WEIGHT_STREAM = Factor(
    "eff.gemm_weight_stream", 1.0, "fraction of the achieved memory bandwidth",
    "rate at which a GEMM of more than one token row streams its weights, relative to eff.memory (which "
    "a GEMV reaches); 1 on GPUs. CPU BLAS libraries pack the weight panel of a GEMM, not of a GEMV "
    "(Goto & van de Geijn 2008, ACM TOMS 34(3)); `ridgeline measure` fits it",
)
KV_APPEND = Factor(
    "overhead.kv_append_s_per_byte", 0.0, "seconds per byte of KV cache held, per step",
    "a cache that grows by concatenation re-allocates and copies itself on every step (transformers "
    "DynamicLayer.update: torch.cat, cache_utils.py in 5.24); 0 for engines' in-place paged caches. "
    "`ridgeline measure` times a torch.cat append",
)


@dataclass(frozen=True)
class Efficiencies:
    memory: Factor = EFF_HBM
    gemm: Factor = EFF_GEMM
    attention: Factor = EFF_ATTENTION
    vector: Factor = EFF_VECTOR
    link: Factor = EFF_LINK
    comm_latency: Factor = COMM_LATENCY
    step_overhead: Factor = STEP_OVERHEAD
    request_overhead: Factor = REQUEST_OVERHEAD
    layer_overhead: Factor = LAYER_OVERHEAD
    attention_memory: Factor = ATTENTION_MEMORY
    kv_append: Factor = KV_APPEND
    overlap: Factor = OVERLAP
    gemm_weight_stream: Factor = GEMM_WEIGHT_STREAM

    @staticmethod
    def ideal() -> "Efficiencies":
        """Peaks as the datasheet states them, no latency, no overhead: the roofline lower bound."""
        one = lambda f: f.with_value(1.0, "ideal roofline")  # noqa: E731
        zero = lambda f: f.with_value(0.0, "ideal roofline")  # noqa: E731
        e = Efficiencies()
        return Efficiencies(one(e.memory), one(e.gemm), one(e.attention), one(e.vector), one(e.link),
                            zero(e.comm_latency), zero(e.step_overhead), zero(e.request_overhead))

    def factors(self) -> tuple[Factor, ...]:
        return (self.memory, self.gemm, self.attention, self.vector, self.link, self.comm_latency,
                self.step_overhead, self.request_overhead, self.layer_overhead, self.attention_memory, self.kv_append,
                self.overlap, self.gemm_weight_stream)

    def override(self, **values: float) -> "Efficiencies":
        """Replace factors by name suffix (``memory=0.9``, ``step_overhead=2e-3``), source 'user override'."""
        kw = {k: getattr(self, k).with_value(v) for k, v in values.items()}
        return replace(self, **kw)

    def compute_for(self, kind: str) -> float:
        return {"gemm": self.gemm.value, "expert_gemm": self.gemm.value, "attention": self.attention.value,
                "elementwise": self.vector.value, "gather": self.vector.value}[kind]


def peak_for(hw: Accelerator, key: str) -> tuple[float, str]:
    """The peak FLOP/s a row's math runs at, falling back when the device lacks that format
    (fp8 on an A100 runs as bf16/fp16; bf16 on a V100 as fp16; fp32 vector math on fp32)."""
    chain = {"fp4": ("fp4", "fp8", "bf16", "fp16"), "fp8": ("fp8", "bf16", "fp16", "fp32"), "bf16": ("bf16", "fp16", "fp32"),
             "fp16": ("fp16", "bf16", "fp32"), "fp32": ("fp32", "tf32", "bf16", "fp16")}.get(key, (key, "bf16"))
    for k in chain:
        p = hw.peak(k)
        if p:
            return p, k
    return max(hw.peak_flops_per_s.values()), "max"


@dataclass(frozen=True)
class StepTime:
    """One forward step on one device; every field a scalar or an array of the inputs' shape."""

    time_s: np.ndarray
    ideal_time_s: np.ndarray
    """The roofline lower bound: datasheet peaks, no latency, no overhead."""
    compute_s: np.ndarray
    """Time in rows bound by compute."""
    memory_s: np.ndarray
    """Time in rows bound by memory bandwidth."""
    comm_s: np.ndarray
    overhead_s: np.ndarray
    flops: np.ndarray
    """FLOPs on this device."""
    bytes: np.ndarray
    """HBM bytes on this device."""
    weight_bytes: np.ndarray
    kv_bytes: np.ndarray
    comm_bytes: np.ndarray
    """Bytes through this device's links."""

    @property
    def bound(self) -> np.ndarray:
        """"memory", "compute" or "communication": the largest share of the step."""
        return bound_of(self.memory_s, self.compute_s, self.comm_s)


def bound_of(memory_s, compute_s, comm_s) -> np.ndarray:
    """"memory", "compute" or "communication", whichever time is largest (ties go left)."""
    return np.where((comm_s > memory_s) & (comm_s > compute_s), "communication",
                    np.where(compute_s > memory_s, "compute", "memory"))


@dataclass(frozen=True)
class CommPlan:
    """Collectives per forward step, from the parallel plan."""

    tp_link: Link | None
    ep_link: Link | None
    pp_link: Link | None
    allreduces_per_step: int
    """tp all-reduces of the hidden state: after attention and after each MLP/MoE block."""
    alltoalls_per_step: int
    """ep dispatch + combine, two per MoE layer."""
    p2p_per_step: int
    """pipeline stage boundaries crossed."""


def comm_plan(table: OpTable, hw: Accelerator, eff: Efficiencies) -> CommPlan:
    spec, plan = table.spec, table.plan
    lat = eff.comm_latency.value
    moe_layers = len(spec.moe.moe_layers) if spec.moe is not None else 0
    tp_link = link_for(hw, plan.tp, lat)
    ar = 2 * spec.num_layers if plan.tp > 1 else 0
    if plan.attention_dp:  # attention and dense layers are data-parallel: no tp all-reduce at all
        ar = moe_layers if plan.tp > 1 else 0
    a2a = 0
    ep_link = None
    if plan.ep > 1 and moe_layers:
        ep_link = link_for(hw, plan.ep, lat)
        ar -= moe_layers if plan.tp > 1 else 0  # the MoE block's all-reduce becomes dispatch + combine
        a2a = 2 * moe_layers
    pp_link = link_for(hw, plan.tp * plan.pp, lat) if plan.pp > 1 else None
    return CommPlan(tp_link, ep_link, pp_link, ar, a2a, plan.pp - 1)


#: Configurations evaluated per block: keeps the R x block temporaries in cache.
_BLOCK = 16384


class Roofline:
    """The time model of one operator table on one device with one set of factors.

    Built once (peaks per row, link costs); :meth:`step` then evaluates any number of
    configurations, vectorized, in blocks.
    """

    def __init__(self, table: OpTable, hw: Accelerator, eff: Efficiencies):
        from ridgeline.ops import _F  # noqa: PLC0415

        self.table, self.hw, self.eff = table, hw, eff
        peaks = np.array([peak_for(hw, op.compute)[0] for op in table.ops])
        effc = np.array([eff.compute_for(op.kind) for op in table.ops])
        self.inv_peak = (1.0 / (peaks * effc))[:, None]
        self.inv_peak_ideal = (1.0 / peaks)[:, None]
        self.inv_bw = 1.0 / (hw.mem_bw_bytes_per_s * eff.memory.value)
        # per row: attention rows stream the KV cache at eff.attention_memory of the achieved bandwidth
        attn_bw = np.array([eff.attention_memory.value if op.kind == "attention" else 1.0 for op in table.ops])
        self.inv_bw_row = (self.inv_bw / attn_bw)[:, None]
        # weight bytes of the GEMM rows (per feature), streamed at eff.gemm_weight_stream when T > 1
        gemm_rows = np.array([op.kind in ("gemm", "expert_gemm") for op in table.ops], dtype=float)[:, None]
        wcols = np.zeros(table.bytes_matrix.shape[1])
        wcols[[_F["one"], _F["experts_hit"]]] = 1.0
        self.gemm_w_extra = table.bytes_matrix * wcols * gemm_rows * (1.0 / eff.gemm_weight_stream.value - 1.0)
        self.inv_bw_ideal = 1.0 / hw.mem_bw_bytes_per_s
        fm, bm = table.flops_matrix, table.bytes_matrix
        self.fm, self.bm = fm, bm
        # kernels: each row is one, except the fused attention rows of a layer kind (one kernel)
        groups: dict[tuple, list[int]] = {}
        for i, op in enumerate(table.ops):
            groups.setdefault(("attn", op.layer_kind) if op.fused else (i,), []).append(i)
        self.kernels = np.zeros((len(groups), len(table.ops)))
        for g, rows in enumerate(groups.values()):
            self.kernels[g, rows] = 1.0
        # kernel-level time per feature unit: K @ (per-row FLOP or byte times), folded once
        k = self.kernels
        self.k_comp = k @ (self.inv_peak * fm)
        self.k_mem = k @ (self.inv_bw_row * bm)
        self.k_wextra = None if eff.gemm_weight_stream.value == 1.0 else k @ (self.inv_bw_row * self.gemm_w_extra)
        self.k_comp_ideal = k @ (self.inv_peak_ideal * fm)
        self.k_mem_ideal = k @ (self.inv_bw_ideal * bm)
        self.flops_row = fm.sum(axis=0)
        self.bytes_row = bm.sum(axis=0)
        self.kv_row = table.kv_matrix.sum(axis=0)
        self.w_one, self.w_hit = bm[:, _F["one"]].sum(), bm[:, _F["experts_hit"]].sum()
        # communication: time = fixed latency + per-token bytes / achieved link bandwidth (T = tokens)
        cp = comm_plan(table, hw, eff)
        self.comm = cp
        spec, plan = table.spec, table.plan
        msg_tok = spec.hidden_size * table.precision.activations.bytes_per_element
        lat = wire_tok = t_tok = t_tok_ideal = 0.0
        link = eff.link.value
        if cp.tp_link is not None and cp.allreduces_per_step:
            w = cp.allreduces_per_step * all_reduce_wire_bytes(msg_tok, plan.tp)
            lat += cp.allreduces_per_step * cp.tp_link.latency_s
            wire_tok += w
            t_tok += w / (cp.tp_link.bw_bytes_per_s * link)
            t_tok_ideal += w / cp.tp_link.bw_bytes_per_s
        if cp.ep_link is not None and cp.alltoalls_per_step:
            k = spec.moe.top_k if spec.moe else 1
            w = cp.alltoalls_per_step * all_to_all_wire_bytes(msg_tok * k / plan.ep, plan.ep)
            lat += cp.alltoalls_per_step * cp.ep_link.latency_s
            wire_tok += w
            t_tok += w / (cp.ep_link.bw_bytes_per_s * link)
            t_tok_ideal += w / cp.ep_link.bw_bytes_per_s
        if cp.pp_link is not None and cp.p2p_per_step:
            w = cp.p2p_per_step * msg_tok
            lat += cp.p2p_per_step * cp.pp_link.latency_s
            wire_tok += w
            t_tok += w / (cp.pp_link.bw_bytes_per_s * link)
            t_tok_ideal += w / cp.pp_link.bw_bytes_per_s
        self.comm_latency_s, self.comm_wire_per_token, self.comm_s_per_token = lat, wire_tok, t_tok
        self.comm_s_per_token_ideal = t_tok_ideal
        self.overhead_s = eff.step_overhead.value + eff.layer_overhead.value * spec.num_layers
        # KV bytes held after the step (the ctx features' KV coefficients): what a concatenating cache copies
        ctx = [_F["ctx_full"], _F["ctx_slide"]]
        self.kv_held_row = np.zeros(table.kv_matrix.shape[1])
        self.kv_held_row[ctx] = table.kv_matrix[:, ctx].sum(axis=0)

    def step(self, feats: np.ndarray) -> StepTime:
        """Time of one forward step for features ``feats`` (F x shape; see OpTable.features)."""
        shape = feats.shape[1:]
        f2 = feats.reshape(feats.shape[0], -1)
        n = f2.shape[1]
        comp = np.empty(n)
        mem = np.empty(n)
        ideal = np.empty(n)
        for a in range(0, n, _BLOCK):
            blk = f2[:, a:a + _BLOCK]
            tc = self.k_comp @ blk  # kernel x config: time if compute-bound
            tm = self.k_mem @ blk  # time if memory-bound
            if self.k_wextra is not None:  # a GEMM of more than one row streams its weights slower
                tm += (self.k_wextra @ blk) * (blk[1] > 1)
            cb = tc > tm
            if self.eff.overlap.value != 1.0:  # only part of the shorter term hides under the longer
                lo = np.minimum(tc, tm)
                np.maximum(tc, tm, out=tm)
                tm += (1.0 - self.eff.overlap.value) * lo
            else:
                np.maximum(tc, tm, out=tm)
            c = (tm * cb).sum(axis=0)
            comp[a:a + _BLOCK] = c
            mem[a:a + _BLOCK] = tm.sum(axis=0) - c
            ideal[a:a + _BLOCK] = np.maximum(self.k_comp_ideal @ blk, self.k_mem_ideal @ blk).sum(axis=0)
        T = f2[1]
        comm = np.where(T > 0, self.comm_latency_s, 0.0) + T * self.comm_s_per_token
        ideal += T * self.comm_s_per_token_ideal
        over = np.full(n, self.overhead_s)
        if self.eff.kv_append.value:
            over = over + self.eff.kv_append.value * (self.kv_held_row @ f2)
        total = comp + mem + comm + over
        r = lambda x: x.reshape(shape)  # noqa: E731
        w = self.w_one * f2[0] + self.w_hit * f2[7]
        return StepTime(r(total), r(ideal), r(comp), r(mem), r(comm), r(over), r(self.flops_row @ f2),
                        r(self.bytes_row @ f2), r(w), r(self.kv_row @ f2), r(T * self.comm_wire_per_token))


def roofline(table: OpTable, hw: Accelerator, eff: Efficiencies = Efficiencies()) -> Roofline:
    """The (cached) time model for ``table`` on ``hw`` with factors ``eff``."""
    cache = table.__dict__.setdefault("_rooflines", {})
    key = (id(hw), eff)
    hit = cache.get(key)
    if hit is None or hit.hw is not hw:
        if len(cache) > 64:
            cache.clear()
        hit = cache[key] = Roofline(table, hw, eff)
    return hit


def step_time(table: OpTable, hw: Accelerator, feats: np.ndarray, eff: Efficiencies = Efficiencies()) -> StepTime:
    """Time of one forward step on one device for workload features ``feats`` (see OpTable.features)."""
    return roofline(table, hw, eff).step(feats)


__all__ = ["CommPlan", "Efficiencies", "KINDS", "Roofline", "StepTime", "comm_plan", "peak_for", "roofline", "step_time"]
