"""The search space of ``ridgeline plan`` and its vectorized evaluation.

``layouts`` lists the parallel layouts a device can run a model in; ``kv_capacity`` how many sequences
one replica's KV pool holds (the batch bound); ``LinearStep`` / ``evaluate`` time every batch of a
candidate at once, with ``infer``'s formulas (see ridgeline.analyses.infer and ridgeline.timing).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ridgeline.factors import PREFILL_CHUNK
from ridgeline.hardware.spec import Accelerator
from ridgeline.model.spec import ModelSpec
from ridgeline.timing import Efficiencies, roofline
from ridgeline.workload import ParallelPlan, Precision

#: Batches per evaluation call: keeps the kernels x chunk temporaries in cache.
CHUNK = 2048


def _pow2_upto(n: int) -> list[int]:
    out, v = [], 1
    while v <= n:
        out.append(v)
        v *= 2
    return out


def layouts(spec: ModelSpec, hw: Accelerator, max_devices: int) -> list[ParallelPlan]:
    """Every (tp, pp, ep) with tp x pp <= max_devices that shards the model and has a link to run over.

    tp and pp are powers of two (what heads and layer counts divide in practice); tp stays within the
    scale-up domain (or one node); ep is 1 or tp for MoE models.
    """
    from ridgeline.collectives import link_for  # noqa: PLC0415

    ic = hw.interconnect
    tp_max = ic.scale_up_domain_devices or ic.devices_per_node or 8
    out = []
    for tp in _pow2_upto(min(max_devices, tp_max)):
        if tp > 1 and link_for(hw, tp, 0.0) is None:
            continue
        for pp in _pow2_upto(max_devices // tp):
            if pp > 1 and link_for(hw, tp * pp, 0.0) is None:
                continue
            for ep in ((1, tp) if spec.is_moe and tp > 1 else (1,)):
                p = ParallelPlan(tp, pp, ep)
                if p.problem(spec) is None:
                    out.append(p)
            if spec.is_moe and tp > 1 and pp == 1:
                # attention data-parallel over the tp group, experts expert-parallel (SGLang
                # --enable-dp-attention): how engines serve large MoE models
                p = ParallelPlan(tp, 1, tp, attention_dp=True)
                if p.problem(spec) is None:
                    out.append(p)
    return out


@lru_cache(maxsize=4096)
def _ledger_room(spec: ModelSpec, prec: Precision, plan: ParallelPlan, ov, context_tokens: int):
    """Per stage: bytes besides the KV cache, and KV bytes of one sequence (device-independent: cached
    across the device types of a search)."""
    from ridgeline.analyses.memory import inference_ledger  # noqa: PLC0415
    from ridgeline.model.kv import KVLayout  # noqa: PLC0415
    from ridgeline.workload import InferenceWorkload  # noqa: PLC0415

    wl = InferenceWorkload(1, context_tokens, min(int(PREFILL_CHUNK.value), context_tokens))
    led = inference_ledger(spec, wl, prec, plan, KVLayout(), ov)
    return led.stage_fixed_bytes, led.stage_kv_seq_bytes


def kv_capacity(spec: ModelSpec, hw: Accelerator, prec: Precision, plan: ParallelPlan, context_tokens: int,
                engine: str) -> tuple[int, str]:
    """Sequences of ``context_tokens`` one replica holds, and what limits it.

    ``ideal``: the room beside weights, activations and runtime overhead on the tightest stage
    (= ``fit``'s max_concurrent_sequences); an engine: its KV pool in whole blocks and its
    max_num_seqs, with max_model_len set to the context (as a deployment of this workload would).
    """
    from ridgeline.analyses.engines import EngineSettings  # noqa: PLC0415
    from ridgeline.analyses.fit import _Model, default_overheads  # noqa: PLC0415
    from ridgeline.model.kv import KVLayout  # noqa: PLC0415

    ov = default_overheads(hw)
    cap = hw.usable_bytes
    if plan.attention_dp:
        if engine != "ideal":
            return 0, "engine profile (attention-dp not modelled)"
        return _dp_attention_capacity(spec, prec, plan, ov, cap, context_tokens), "KV pool"
    if engine == "ideal":
        fixed, kv_seq = _ledger_room(spec, prec, plan, ov, context_tokens)
        n = min((max(int((cap - f) // kv), 0) if kv > 0 else 0) for f, kv in zip(fixed, kv_seq))
        return n, "KV pool"
    a = _Model(spec, prec, KVLayout(), ov, None).engine(EngineSettings(engine, max_model_len=context_tokens),
                                                          plan, hw, cap)
    if a.num_blocks <= 0 or a.max_concurrency < 1:
        return 0, "KV pool"
    by_pool = a.num_blocks // a.blocks_for_request(context_tokens)
    return (by_pool, "KV pool") if by_pool <= a.max_num_seqs else (a.max_num_seqs, "engine max_num_seqs")


def _dp_attention_capacity(spec: ModelSpec, prec: Precision, plan: ParallelPlan, ov, cap: float,
                           context_tokens: int) -> int:
    """Sequences one replica holds under attention data-parallelism (pp = 1).

    Each of the tp ranks holds every attention (and dense) weight, 1/tp of the experts and of the
    vocabulary (the operator table's per-device weight bytes under the plan), and the whole KV of its
    own sequences: all KV heads, or the whole MLA latent, which tensor parallelism would instead copy
    onto every rank. Activations and runtime overhead as the tp ledger has them. The replica holds tp
    times what one rank holds.
    """
    from ridgeline.ops import op_table  # noqa: PLC0415
    from ridgeline.workload import ParallelPlan as Plan  # noqa: PLC0415

    tp_plan = Plan(plan.tp, 1, plan.ep)
    fixed_tp, _ = _ledger_room(spec, prec, tp_plan, ov, context_tokens)
    weights_tp = op_table(spec, prec, tp_plan).weight_bytes_per_device
    weights_dp = op_table(spec, prec, plan).weight_bytes_per_device
    _, kv_seq_whole = _ledger_room(spec, prec, Plan(1, 1), ov, context_tokens)
    fixed = fixed_tp[0] - weights_tp + weights_dp
    kv = kv_seq_whole[0]
    return plan.tp * max(int((cap - fixed) // kv), 0) if kv > 0 else 0


class LinearStep:
    """The roofline of one candidate as affine functions of the batch.

    At fixed prompt S and generation G every workload feature of a prefill of B prompts, or of a
    decode step of B/pp sequences at the mean context, is ``f0 + B * f1 + h(B) * e`` (h: the
    experts-hit occupancy, e its unit vector; ridgeline.ops.OpTable.features). The time model is
    linear in the features within each kernel, so each kernel's compute and memory times are three
    numbers each, and a step over N batches costs O(kernels x N) instead of the operator matrices'
    O(rows x features x N). Same formulas as ``Roofline.step``; tests check it against ``infer``.
    """

    def __init__(self, table, rf, prompt_tokens: int, gen_tokens: int, pp: int):
        from ridgeline.ops import _F  # noqa: PLC0415

        S, G = float(prompt_tokens), float(gen_tokens)
        C = S + max(G - 2, 0) / 2
        # features at B = 0 and B = 1 (experts_hit zeroed: it is carried separately)
        f = table.features(np.array([0.0, 1.0, 0.0, 1.0 / pp]), np.array([S, S, 1.0, 1.0]), np.array([0.0, 0.0, C, C]))
        f_pre, f_dec = (f[:, 0], f[:, 1]), (f[:, 2], f[:, 3])
        kc, km = rf.k_comp, rf.k_mem  # kernel-level seconds per feature unit (ridgeline.timing.Roofline)
        h = _F["experts_hit"]
        self.coef = []
        for f0, f1 in (f_pre, f_dec):
            f0, f1 = f0.copy(), f1.copy()
            f0[h] = f1[h] = 0.0
            f1 = f1 - f0
            self.coef.append((kc @ f0, kc @ f1, kc[:, h], km @ f0, km @ f1, km[:, h], f0[_F["tokens"]],
                              f1[_F["tokens"]]))
        moe = table.spec.moe
        self.hit_base = 1.0 - moe.top_k / moe.num_experts if moe is not None and moe.num_experts else None
        self.tokens_per_b = (S, 1.0 / pp)
        self.pp = pp
        self.rf = rf

    def times(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(prefill step s, mean decode step s) for every batch."""
        rf = self.rf
        out = []
        # decode passes B/pp sequences per micro-batch, never less than one (infer's rule)
        for (c0, c1, ch, m0, m1, mh, t0, t1), tpb, bb in zip(self.coef, self.tokens_per_b,
                                                            (batch, np.maximum(batch, self.pp))):
            batch_ = bb
            B = batch_[None, :]
            tc = c0[:, None] + c1[:, None] * B
            tm = m0[:, None] + m1[:, None] * B
            if self.hit_base is not None:
                hit = 1.0 - np.power(self.hit_base, batch_ * tpb)
                tc = tc + ch[:, None] * hit
                tm = tm + mh[:, None] * hit
            T = t0 + t1 * batch_
            comm = np.where(T > 0, rf.comm_latency_s, 0.0) + T * rf.comm_s_per_token
            out.append(np.maximum(tc, tm).sum(axis=0) + comm + rf.overhead_s)
        return out[0], out[1]


def evaluate(spec: ModelSpec, hw: Accelerator, prec: Precision, plan: ParallelPlan, batch: np.ndarray,
             prompt_tokens: int, gen_tokens: int, eff: Efficiencies) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(prefill step s, TTFT s, TPOT s) for every batch: infer's formulas on its two scenarios
    (prefill of B prompts; decode of B/pp sequences at the mean context)."""
    from ridgeline.ops import op_table  # noqa: PLC0415

    table = op_table(spec, prec, plan)
    ls = LinearStep(table, roofline(table, hw, eff), prompt_tokens, gen_tokens, plan.pp)
    B = np.asarray(batch, dtype=np.float64)
    pre, tpot = np.empty_like(B), np.empty_like(B)
    for a in range(0, B.size, CHUNK):
        pre[a:a + CHUNK], tpot[a:a + CHUNK] = ls.times(B[a:a + CHUNK])
    return pre, pre + eff.request_overhead.value, tpot


__all__ = ["LinearStep", "evaluate", "kv_capacity", "layouts"]
