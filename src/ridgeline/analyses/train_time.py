"""Training step time: the operator table's forward pass, backward and recompute, collectives, bubble.

Per micro-batch on one device of one pipeline stage, every operator row of the table (ridgeline.ops)
at T = b s / c tokens is timed on the roofline, ``max(FLOPs / (peak x eff), bytes / (bw x eff.memory))``
with the factors of ridgeline.timing (fused attention rows timed as one kernel). The backward pass
costs ``bwd.<kind>`` times the forward (2 for GEMMs: the gradients of the input and of the weight,
Narayanan et al. 2021 sec. 5.1; 2.5 for FlashAttention: 5 matmuls against 2, Dao 2023 sec. 3.2;
1 for frozen GEMMs under LoRA: the input gradient only). Recomputation adds the forward of the
rows it rebuilds. The LM head runs on every token (training computes the loss at every position).

Step: ``(m + (p-1)/v) x t_micro`` (1F1B: bubble (p-1)/(m+p-1) of the step, Narayanan et al. 2021
sec. 2.2; interleaved with v chunks divides the bubble by v), plus what the data-parallel gradient
sync leaves exposed, plus the optimizer update (memory-bound). Legend: see train_setup.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ridgeline.analyses.train_memory import ledger as memory_ledger, state_bytes_per_param, train_precision, train_table
from ridgeline.analyses.train_setup import TrainSetup
from ridgeline.collectives import Link, all_reduce_wire_bytes, all_to_all_wire_bytes, link_for
from ridgeline.factors import Factor
from ridgeline.hardware.spec import Accelerator
from ridgeline.model.spec import ModelSpec
from ridgeline.ops import FEATURES, OpTable, op_table
from ridgeline.timing import Efficiencies, peak_for
from ridgeline.workload import ParallelPlan

_F = {n: i for i, n in enumerate(FEATURES)}

BWD_GEMM = Factor("bwd.gemm", 2.0, "x forward FLOPs and bytes",
                  "backward of a linear layer = input gradient + weight gradient, each one forward GEMM "
                  "(Narayanan et al. 2021, arXiv 2104.04473, sec. 5.1: backward is twice the forward)")
BWD_ATTENTION = Factor("bwd.attention", 2.5, "x forward FLOPs and bytes",
                       "FlashAttention-2 backward runs 5 matmuls against the forward's 2 (Dao 2023, arXiv 2307.08691, "
                       "sec. 3.2)")
BWD_VECTOR = Factor("bwd.vector", 2.0, "x forward FLOPs and bytes",
                    "norm/activation backward reads the saved input and the output gradient and writes the input "
                    "gradient: twice the forward traffic (same convention as bwd.gemm)")
OVERLAP_DP = Factor("overlap.dp", 1.0, "fraction of the last micro-batch's backward that hides the gradient sync",
                    "DDP and Megatron (--overlap-grad-reduce) launch bucketed reduces while backward runs "
                    "(Li et al. 2020, 'PyTorch Distributed', VLDB, sec. 3.2.3); gradients are final only in the "
                    "last micro-batch's backward, so that is the window")
OVERLAP_ZERO3 = Factor("overlap.zero3", 1.0, "fraction of a micro-batch's compute that hides ZeRO-3 gathers",
                       "FSDP / DeepSpeed ZeRO-3 prefetch the next unit's parameters during the current unit's "
                       "compute (PyTorch FSDP forward_prefetch/backward_prefetch; Rajbhandari et al. 2020 sec. 7)")
OVERLAP_CP = Factor("overlap.cp", 1.0, "fraction of attention compute that hides the ring exchange",
                    "ring attention sends the next K/V block while computing on the current one (Liu et al. 2023, "
                    "arXiv 2310.01889, sec. 3; Megatron-Core context parallelism)")
OVERLAP_TP = Factor("overlap.tp", 0.0, "fraction of tp collectives hidden behind compute",
                    "Megatron-LM runs tp all-reduce / reduce-scatter on the critical path unless --tp-comm-overlap "
                    "(Transformer Engine userbuffers) is on; 0 = not hidden")
_FIT = ("fitted by benchmarks/train_accuracy.py on the 'train' half (by a hash of the row id) of the published runs "
        "on {hw} in benchmarks/data/published_training.json; errors reported on the other half in "
        "docs/train-accuracy.md. Lower than the inference default: a training step also pays for what the roofline "
        "leaves out (launch gaps, casts, the loss, waits not overlapped)")
#: Training efficiencies per accelerator (eff.gemm, eff.attention), fitted on half of the published runs on that
#: device (MosaicML's FSDP runs reach ~55% MFU on A100 but ~40% on H100 with the same software: the fraction of
#: peak is a property of the device generation and the software, so it is fitted per device). "*" is the fit over
#: all devices together, used for devices without published training runs.
TRAIN_FITS = {
    "h100-sxm": (0.475, 0.2, "MosaicML MPT H100 BF16 runs and Llama 3 405B (excluded)"),
    "a100-sxm4-80gb": (0.625, 0.375, "MosaicML MPT A100 80GB runs and Megatron-Turing NLG 530B"),
    "*": (0.525, 0.2, "all devices pooled (H100 and A100 80GB)"),
}


def train_efficiencies(hw: Accelerator | None = None) -> Efficiencies:
    """The factors `train` uses: the inference defaults with eff.gemm and eff.attention fitted on published
    training runs on this device (or on all devices pooled when it has none)."""
    key = hw.id if hw is not None and hw.id in TRAIN_FITS else "*"
    g, a, what = TRAIN_FITS[key]
    src = _FIT.format(hw=what)
    return replace(Efficiencies(), gemm=Factor("eff.gemm", g, "fraction of dense peak (training)", src),
                   attention=Factor("eff.attention", a, "fraction of dense peak (training attention)", src))


POWER_TDP = Factor("power.fraction_of_tdp", 1.0, "fraction of TDP drawn while training",
                   "upper bound: the board power limit (datasheet TDP); measured draw is lower")


@dataclass(frozen=True)
class TimeLedger:
    """Seconds per optimizer step (the slowest pipeline stage), with its parts."""

    step_time_s: float
    terms: dict[str, float]
    """Dotted parts of the step that sum to step_time_s."""
    micro_batch_time_s: float
    """One micro-batch's forward + backward (+ recompute) on the slowest stage, collectives on the path included."""
    bubble_fraction: float
    model_flops_per_step: float
    """FLOPs of forward + backward of the whole model over the global batch (no recompute)."""
    hardware_flops_per_step: float
    """model_flops_per_step + recomputed forward FLOPs."""
    peak_flops_per_s: float
    """Dense peak of the GEMM format on one device (the MFU denominator)."""
    compute_format: str
    comm_bytes_per_step: dict[str, float]
    """Bytes through one device's links per step, per collective kind."""
    factors: tuple[Factor, ...] = field(default_factory=tuple)


def _link(hw: Accelerator, span: int, eff: Efficiencies, ranks: int | None = None) -> Link | None:
    """The link of a group of ``ranks`` devices whose ranks span ``span`` consecutive devices (rank order
    t, c, e/d, p). A group that leaves the node runs hierarchically (NCCL rings and trees cross nodes once
    per channel, one NIC per GPU): the inter-node part of the traffic is shared by the group's ranks inside
    a node, so the per-rank bandwidth is the NIC's times the group's ranks per node, at most the scale-up
    link (nccl-tests multi-node bus bandwidth approaches the node's aggregate NIC rate)."""
    link = link_for(hw, span, eff.comm_latency.value)
    ic = hw.interconnect
    node = ic.devices_per_node or ic.scale_up_domain_devices or 8
    if link is None or ranks is None or span <= node or not ic.scale_out_bw_bytes_per_s_per_direction:
        return link
    per_node = max(1, min(node, ranks * node // span))
    bw = ic.scale_out_bw_bytes_per_s_per_direction * per_node
    if ic.scale_up_bw_bytes_per_s_per_direction:
        bw = min(bw, ic.scale_up_bw_bytes_per_s_per_direction)
    return Link(link.name + f" (x{per_node} per node)", bw, link.latency_s)


def _coll(link: Link | None, wire: float, calls: float, eff: Efficiencies) -> float:
    if link is None or calls == 0:
        return 0.0
    return calls * link.latency_s + wire / (link.bw_bytes_per_s * eff.link.value)


def features(table: OpTable, setup: TrainSetup) -> np.ndarray:
    """Workload features of one micro-batch on one device: b sequences of s tokens, the c-th share of them
    (causal query-key pairs split evenly over cp ranks), the LM head on every token."""
    f = table.features(setup.micro_batch, setup.seq, 0).astype(np.float64)
    for name in ("tokens", "seqs", "pairs_full", "pairs_slide", "ctx_full", "ctx_slide"):
        f[_F[name]] /= setup.cp
    f[_F["seqs"]] = f[_F["tokens"]]
    return f


def _kernel_times(table: OpTable, hw: Accelerator, eff: Efficiencies, fl: np.ndarray, by: np.ndarray,
                  rows: np.ndarray) -> float:
    """Roofline time of the selected rows (fused attention rows of one layer kind as one kernel)."""
    groups: dict[tuple, list[int]] = {}
    for i, op in enumerate(table.ops):
        if rows[i]:
            groups.setdefault(("attn", op.layer_kind) if op.fused else (i,), []).append(i)
    bw = hw.mem_bw_bytes_per_s * eff.memory.value
    t = 0.0
    for idx in groups.values():
        tc = sum(fl[i] / (peak_for(hw, table.ops[i].compute)[0] * eff.compute_for(table.ops[i].kind)) for i in idx)
        tm = sum(by[i] for i in idx) / bw
        t += max(tc, tm)
    return t


def time_ledger(spec: ModelSpec, hw: Accelerator, setup: TrainSetup, eff: Efficiencies | None = None) -> TimeLedger:
    eff = eff or train_efficiencies(hw)
    table = train_table(spec, setup)
    ops = table.ops
    L, p, m, v = spec.num_layers, setup.pp, setup.micro_batches, setup.virtual_stages
    f = features(table, setup)
    fl, by = table.evaluate(f)
    lps = -(-L // p)
    # stage share of every row: layer rows by lps/L, embed on the first stage, head + final norm on the last
    is_layer = np.array([bool(op.layer_kind) for op in ops])
    is_embed = np.array([op.name.startswith("embed.") for op in ops])
    share_layers = np.where(is_layer, lps / L, 0.0)
    attn_core = np.array([op.kind == "attention" for op in ops])
    bwd = np.array([BWD_ATTENTION.value if op.kind == "attention" else
                    (1.0 if setup.lora else BWD_GEMM.value) if op.kind in ("gemm", "expert_gemm") else
                    BWD_VECTOR.value for op in ops])
    if setup.recompute == "full":
        recompute = is_layer.astype(float)
    elif setup.recompute == "selective":
        recompute = (attn_core & is_layer).astype(float)
    else:
        recompute = np.zeros(len(ops))

    def stage_time(extra: np.ndarray) -> tuple[float, float, float]:
        share = share_layers + extra
        fwd = _kernel_times(table, hw, eff, fl * share, by * share, share > 0)
        back = _kernel_times(table, hw, eff, fl * share * bwd, by * share * bwd, share > 0)
        rec = _kernel_times(table, hw, eff, fl * share * recompute, by * share * recompute, share * recompute > 0)
        return fwd, back, rec

    stages = {"only": stage_time((~is_layer).astype(float))} if p == 1 else {
        "first": stage_time(is_embed.astype(float)), "last": stage_time((~is_layer & ~is_embed).astype(float))}
    name = max(stages, key=lambda k: sum(stages[k]))
    fwd_s, bwd_s, rec_s = stages[name]
    # -- collectives on the critical path, per micro-batch ------------------------------------
    ab = train_precision(spec, setup).activations.bytes_per_element
    tokens = setup.micro_batch * setup.seq / setup.cp
    msg = tokens * spec.hidden_size * ab
    comm: dict[str, float] = {}
    wire: dict[str, float] = {}
    t = setup.tp
    tp_link = _link(hw, t, eff)
    if t > 1:
        # 2 per layer forward (after attention and MLP; all-reduce, or all-gather + reduce-scatter under sp:
        # the same wire bytes), 2 backward, 2 more when full recompute re-runs the forward
        calls = lps * (4 + (2 if setup.recompute == "full" else 0))
        w = calls * all_reduce_wire_bytes(msg, t)
        comm["comm.tp"] = _coll(tp_link, w, calls * (2 if setup.sequence_parallel else 1), eff) * (1 - OVERLAP_TP.value)
        wire["tp"] = w * m
    if setup.cp > 1:
        a = spec.attention
        kv_dim = (a.mla.kv_lora_rank + a.mla.qk_rope_head_dim) if a.mla else 2 * a.num_kv_heads * a.head_dim
        kv_chunk = tokens * kv_dim / max(1, t if not a.mla else 1) * ab
        w = lps * 3 * (setup.cp - 1) * kv_chunk  # forward: K,V around the ring; backward: K,V and dK,dV
        cp_s = _coll(_link(hw, t * setup.cp, eff), w, lps * 3 * (setup.cp - 1), eff)
        attn_s = _kernel_times(table, hw, eff, fl * share_layers * (1 + bwd), by * share_layers * (1 + bwd),
                               attn_core & is_layer)
        comm["comm.cp_exposed"] = max(0.0, cp_s - OVERLAP_CP.value * attn_s)
        wire["cp"] = w * m
    moe = spec.moe
    if setup.ep > 1 and moe is not None:
        moe_layers = len(moe.moe_layers) * lps / L
        calls = moe_layers * 4  # dispatch + combine, forward and backward
        w = calls * all_to_all_wire_bytes(msg * moe.top_k, setup.ep)
        comm["comm.ep"] = _coll(_link(hw, t * setup.cp * setup.ep, eff, setup.ep), w, calls, eff)
        wire["ep"] = w * m
    if p > 1:
        pmsg = msg / (t if setup.sequence_parallel else 1)  # Megatron's scatter-gather send (Narayanan sec. 4.1)
        pp_link = _link(hw, setup.gpus, eff)
        comm["comm.pp"] = _coll(pp_link, 2 * pmsg, 2, eff)
        wire["pp"] = 2 * pmsg * m
    micro_s = fwd_s + bwd_s + rec_s + sum(comm.values())
    # -- data parallel ------------------------------------------------------------------------
    led = memory_ledger(spec, hw, setup)
    w_b, g_b, o_b, _ = state_bytes_per_param(setup)
    z = setup.zero_stage
    n = led.shard_group if z else setup.dp * setup.cp
    dp_link = _link(hw, setup.tp * setup.cp * setup.dp, eff, n)
    grad_bytes = led.trainable_params_per_device * g_b
    dp_exposed = z3_exposed = 0.0
    if n > 1:
        if z == 3:
            # per micro-batch: all-gather weights for forward and again for backward, reduce-scatter gradients
            wb = led.params_per_device * w_b if not setup.lora else 0.0
            w_mb = 2 * all_to_all_wire_bytes(wb, n) + all_to_all_wire_bytes(grad_bytes, n)
            z3_s = _coll(dp_link, w_mb, 3 * lps, eff)
            z3_exposed = max(0.0, z3_s - OVERLAP_ZERO3.value * (fwd_s + bwd_s + rec_s)) * m
            wire["zero3"] = w_mb * m
        else:
            w = all_reduce_wire_bytes(grad_bytes, n)  # all-reduce, or reduce-scatter + all-gather (ZeRO-1/2)
            dp_s = _coll(dp_link, w, 2, eff)
            dp_exposed = max(0.0, dp_s - OVERLAP_DP.value * bwd_s)
            wire["dp"] = w
    # -- optimizer update: read and write every state, read the gradient, write the weight ------------
    opt_params = led.trainable_params_per_device / (n if z >= 1 and n > 1 else 1)
    opt_s = opt_params * (2 * o_b + g_b + w_b) / (hw.mem_bw_bytes_per_s * eff.memory.value)
    pipe_s = (m + (p - 1) / v) * micro_s
    bubble = ((p - 1) / v) / (m + (p - 1) / v)
    terms = {"compute.forward": m * fwd_s, "compute.backward": m * bwd_s, "compute.recompute": m * rec_s}
    terms.update({k: m * val for k, val in comm.items()})
    terms["pipeline.bubble"] = pipe_s - m * micro_s
    terms["comm.dp_exposed"] = dp_exposed
    terms["comm.zero3_exposed"] = z3_exposed
    terms["optimizer.update"] = opt_s
    terms["overhead.step"] = eff.step_overhead.value
    step = sum(terms.values())
    # -- FLOPs for MFU / HFU: the whole model (tp = 1 table), the global batch ---------------------
    full = op_table(spec, train_precision(spec, setup), ParallelPlan())
    ff = features(full, TrainSetup(gpus=1, seq=setup.seq, micro_batch=1))
    ffl, _ = full.evaluate(ff)
    # MFU convention (Korthikanti et al. 2022 appendix; PaLM appendix B): backward = 2 x forward for every
    # row; under LoRA the frozen GEMMs skip their weight gradient (1 x)
    bwd_full = np.full(len(full.ops), BWD_GEMM.value)
    if setup.lora:
        bwd_full = np.where([op.kind in ("gemm", "expert_gemm") for op in full.ops], 1.0, bwd_full)
    model = float((ffl * (1 + bwd_full)).sum()) * setup.batch
    rec_full = np.array([bool(op.layer_kind) and (setup.recompute == "full" or
                                                  (setup.recompute == "selective" and op.kind == "attention"))
                         for op in full.ops])
    hardware = model + float(ffl[rec_full].sum()) * setup.batch
    compute = next((op.compute for op in ops if op.kind == "gemm"), "bf16")
    peak = peak_for(hw, compute)[0]
    return TimeLedger(step, terms, micro_s, bubble, model, hardware, peak, compute, wire,
                      (BWD_GEMM, BWD_ATTENTION, BWD_VECTOR, OVERLAP_DP, OVERLAP_ZERO3, OVERLAP_CP, OVERLAP_TP,
                       POWER_TDP) + eff.factors())
