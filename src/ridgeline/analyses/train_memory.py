"""Training memory per device: weights, gradients, optimizer states, activations, logits, buffers.

A sum over the operator table (ridgeline.ops): every row's parameters, split the way tp / ep split
them, placed on pipeline stages, then sharded by ZeRO / FSDP. Letters: see train_setup.

Model state per parameter (Rajbhandari et al. 2020, "ZeRO", arXiv 1910.02054, sec. 3.1: mixed-precision
Adam holds 2 + 2 + 12 = 16 bytes per parameter: fp16/bf16 weights and gradients, fp32 master weights,
momentum and variance). ZeRO-1 divides the 12 (K) by the data-parallel degree N_d, ZeRO-2 also the
gradients, ZeRO-3 also the weights (their Figure 1).

Activations per layer per micro-batch follow Korthikanti et al. 2022 ("Reducing Activation
Recomputation in Large Transformer Models", arXiv 2205.05198, sec. 4): for a GPT layer with 2-byte
activations and 1-byte dropout masks, sbh(34 + 5as/h) bytes, term by term below; generalised here to
GQA (K, V narrower than Q), gated MLPs (3 tensors of width I) and MoE (k routed copies).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ridgeline.analyses.train_setup import TrainSetup
from ridgeline.factors import RUNTIME_OVERHEAD, Factor
from ridgeline.formats import get_format
from ridgeline.hardware.spec import Accelerator
from ridgeline.model.spec import ModelSpec
from ridgeline.ops import OpTable, op_table
from ridgeline.units import MiB
from ridgeline.workload import ParallelPlan, Precision

ADAM8BIT_BLOCK = Factor(
    "optimizer.adam8bit_block", 2048, "elements per fp32 absmax scale",
    "8-bit Adam quantizes each state in blocks of 2048 with one fp32 absmax (Dettmers et al. 2022, "
    "'8-bit Optimizers via Block-wise Quantization', arXiv 2110.02861, sec. 2.1; bitsandbytes blocksize 2048)",
)
FP8_WEIGHT_COPY = Factor(
    "precision.fp8_weight_copy_bytes", 1, "bytes per parameter",
    "FP8 training keeps bf16 weights and caches their fp8 cast for forward and backward "
    "(NVIDIA Transformer Engine, fp8 weight caching; Micikevicius et al. 2022, arXiv 2209.05433)",
)
LOGIT_BYTES = Factor(
    "activations.logit_bytes", 4, "bytes per logit (fp32 copy for the loss)",
    "the loss up-casts the s x b x V logits to fp32 (transformers' ForCausalLMLoss: logits.float(); "
    "Megatron's vocab-parallel cross entropy works on fp32 logits); the head's own output in the activation "
    "format is counted beside it when that format is narrower",
)
DDP_BUCKET = Factor(
    "buffers.ddp_bucket_bytes", 25 * MiB, "bytes per gradient bucket",
    "PyTorch DistributedDataParallel bucket_cap_mb = 25 (torch.nn.parallel.DistributedDataParallel docs); "
    "two buckets in flight (one reducing, one filling)",
)
ZERO3_PREFETCH = Factor(
    "buffers.zero3_gathered_layers", 2, "unsharded layers resident",
    "FSDP keeps the current unit's gathered parameters and prefetches the next (limit_all_gathers: at most two "
    "all-gathers in flight; PyTorch FSDP docs, forward_prefetch/backward_prefetch)",
)
LORA_ADAPTER_BYTES = Factor(
    "lora.adapter_weight_bytes", 4, "bytes per adapter parameter",
    "PEFT creates adapters in fp32 over a bf16 base (LoraConfig autocast_adapter_dtype=True, peft >= 0.12)",
)
ACT_MASK_BYTES = 1  # a dropout mask is one byte per element (Korthikanti et al. 2022, sec. 4.1)


@dataclass(frozen=True)
class StageParams:
    """Parameters held by one device of one pipeline stage, before ZeRO sharding."""

    dense: float
    """Parameters sharded by tp (or replicated), counted on this device."""
    expert: float
    """Routed-expert parameters on this device (split over tp x ep)."""
    layers: int
    """Decoder layers on this stage."""
    layer_params: float
    """Parameters of the largest decoder layer on this device (for the ZeRO-3 gather buffer)."""

    @property
    def total(self) -> float:
        return self.dense + self.expert


@dataclass(frozen=True)
class MemoryLedger:
    """Bytes per device on the binding pipeline stage; ``terms`` are dotted and sum to ``total_bytes``."""

    stage: str
    """Which stage binds: "first", "last" or "only"."""
    terms: dict[str, float]
    weights_bytes: float
    grads_bytes: float
    optimizer_bytes: float
    activations_bytes: float
    """Stored activations, logits buffer included."""
    buffers_bytes: float
    """Gradient buckets, ZeRO-3 gather buffers, the runtime's own reserve."""
    total_bytes: float
    params_per_device: float
    trainable_params_per_device: float
    activation_per_layer_bytes: float
    in_flight_micro_batches: float
    shard_group: int
    """Devices the ZeRO / FSDP shards span (1 without sharding)."""
    factors: tuple[Factor, ...] = field(default_factory=tuple)


def train_precision(spec: ModelSpec, setup: TrainSetup) -> Precision:
    """The formats the operator table is built with: weights and activations as the run keeps them."""
    w = {"fp32": "fp32", "fp8": "fp8"}.get(setup.precision, "bf16")
    a = "fp32" if setup.precision == "fp32" else "bf16"
    return Precision.build(spec, weights=w, kv=a, activations=a, unquantized=a)


def train_table(spec: ModelSpec, setup: TrainSetup) -> OpTable:
    """The operator table of one tp rank (experts split over tp as in ops; ep divides them further here)."""
    return op_table(spec, train_precision(spec, setup), ParallelPlan(setup.tp))


def _div(op, setup: TrainSetup) -> float:
    if op.shard == "expert":
        return setup.tp * setup.ep
    return setup.tp if op.shard in ("column", "row", "vocab") else 1


def stage_params(spec: ModelSpec, setup: TrainSetup, stage: str) -> StageParams:
    """Parameters on one device of the ``first`` or ``last`` pipeline stage (``only`` when pp = 1).

    Layers are split as evenly as possible; the first stage holds the embedding, the last the final
    norm and the head (and, with tied embeddings and pp > 1, its own copy of the embedding, as
    Megatron-LM does).
    """
    table = train_table(spec, setup)
    L, p = spec.num_layers, setup.pp
    lps = math.ceil(L / p)
    dense = expert = 0.0
    per_layer: dict[str, float] = {}
    for op in table.ops:
        per_dev = op.params / _div(op, setup)
        if op.layer_kind:
            share = op.layers / L * lps  # this row's layers that fall on one stage
            if op.shard == "expert":
                expert += per_dev * share
            else:
                dense += per_dev * share
            per_layer[op.layer_kind] = per_layer.get(op.layer_kind, 0.0) + per_dev
            continue
        first = op.name.startswith("embed.")
        if stage == "only" or (stage == "first" and first) or (stage == "last" and not first):
            dense += per_dev * op.layers
    if stage == "last" and p > 1 and spec.tie_word_embeddings:
        dense += spec.vocab_size * (spec.embed_dim or spec.hidden_size) / setup.tp
    return StageParams(dense, expert, lps, max(per_layer.values(), default=0.0))


# -- model state -------------------------------------------------------------------------------

def state_bytes_per_param(setup: TrainSetup) -> tuple[float, float, float, str]:
    """(weight, gradient, optimizer) bytes per trainable parameter, and the formula in words."""
    mixed = setup.precision in ("bf16-mixed", "fp8")
    w = 4.0 if setup.precision == "fp32" else 2.0
    g = w
    state = 2.0 if setup.precision == "bf16" else 4.0  # optimizer moments: bf16 in pure bf16, else fp32
    master = 4.0 if mixed else 0.0
    opt = setup.optimizer
    if opt == "adamw":
        o, words = master + 2 * state, "fp32 master + 2 moments" if mixed else "2 moments"
    elif opt == "adam8bit":
        o = master + 2 * (1 + 4 / ADAM8BIT_BLOCK.value)
        words = "2 moments in 8 bits + an fp32 absmax per block" + (" + fp32 master" if mixed else "")
    elif opt == "sgd":
        o, words = master + state, "momentum" + (" + fp32 master" if mixed else "")
    else:  # adafactor: factored second moment, counted per matrix in optimizer_bytes(); here the master only
        o, words = master, "factored second moment (row + column statistics)" + (" + fp32 master" if mixed else "")
    if setup.precision == "fp8":
        w += FP8_WEIGHT_COPY.value
    return w, g, o, words


def adafactor_state_params(spec: ModelSpec, setup: TrainSetup, trainable: float) -> float:
    """Adafactor (Shazeer & Stern 2018, arXiv 1804.04235) without momentum keeps, per weight matrix
    of r x c, r + c fp32 statistics. Every decoder matrix has the hidden size H on one side, so a
    row of P parameters holds about P/H + H; counted per decoder layer, scaled to the trainable share."""
    table = train_table(spec, setup)
    H = spec.hidden_size
    full = sum(op.params / _div(op, setup) * op.layers for op in table.ops)
    stats = sum((op.params / _div(op, setup) / H + H) * op.layers for op in table.ops if op.params)
    return stats * (trainable / full) if full else 0.0


# -- LoRA ------------------------------------------------------------------------------------------

def lora_params_per_layer(spec: ModelSpec, rank: int, modules: str) -> int:
    """Adapter parameters of one decoder layer: r x (in + out) per adapted matrix (Hu et al. 2021,
    arXiv 2106.09685, eq. 3: W + BA with B in R^{out x r}, A in R^{r x in}), matrices as transformers
    holds them (q, k, v, o, gate, up, down separately). MoE layers adapt attention only."""
    a, H = spec.attention, spec.hidden_size
    if a.mla is not None:
        m = a.mla
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        q = (H + a.num_heads * qk) if m.q_lora_rank is None else (H + m.q_lora_rank) + (m.q_lora_rank + a.num_heads * qk)
        kv = (H + m.kv_lora_rank + m.qk_rope_head_dim) + (m.kv_lora_rank + a.num_heads * (m.qk_nope_head_dim + m.v_head_dim))
        dims = {"q": q, "k": 0, "v": kv, "o": a.num_heads * m.v_head_dim + H}
    else:
        N, K, D = a.num_heads, a.num_kv_heads, a.head_dim
        dims = {"q": H + N * D, "k": H + K * D, "v": H + K * D, "o": N * D + H}
    keep = {"qv": ("q", "v"), "attn": ("q", "k", "v", "o"), "all": ("q", "k", "v", "o")}[modules]
    n = sum(dims[k] for k in keep)
    if modules == "all" and not spec.is_moe:
        I = spec.mlp.intermediate_size
        n += (2 if spec.mlp.gated else 1) * (H + I) + (I + H)
    return rank * n


# -- activations -------------------------------------------------------------------------------

def activation_terms(spec: ModelSpec, setup: TrainSetup) -> dict[str, float]:
    """Bytes one decoder layer stores per micro-batch, term by term (Korthikanti et al. 2022, sec. 4.1),
    before recomputation. With s = seq / c tokens on this device, b, h = H, a heads, t = tp:

    attention 11sbh + 5as^2b: QKV input 2sbh, Q and K 4sbh, softmax output 2as^2b, its dropout mask
    as^2b and output 2as^2b, V 2sbh, output-projection input 2sbh, dropout mask sbh.
    MLP 19sbh: input 2sbh, first-linear output 8sbh (4h wide), activation output 8sbh, mask sbh.
    Norms 4sbh: two inputs. Total sbh(34 + 5as/h). Under tp without sequence parallelism the 10sbh
    of norms, block inputs and masks stay replicated: sbh(10 + 24/t + 5as/(ht)); with sequence
    parallelism everything divides by t. Fused attention keeps no score matrix, only the fp32
    log-sum-exp of each query row (4asb; FlashAttention-2, Dao 2023, arXiv 2307.08691, alg. 1).
    """
    a = spec.attention
    s = setup.seq / setup.cp
    s_keys = setup.seq  # each query attends over the whole sequence under cp
    b, H, t = setup.micro_batch, spec.hidden_size, setup.tp
    ab = 4.0 if setup.precision == "fp32" else 2.0
    rep = t if (setup.sequence_parallel and t > 1) else 1  # divisor of the "replicated" terms
    if a.mla is not None:
        m = a.mla
        qd = kd = a.num_heads * (m.qk_nope_head_dim + m.qk_rope_head_dim)
        vd = od = a.num_heads * m.v_head_dim
    else:
        qd = od = a.num_heads * a.head_dim
        kd = vd = a.num_kv_heads * a.head_dim
    heads = a.num_heads
    sb = s * b
    T: dict[str, float] = {
        "norms.attn_in": ab * sb * H / rep,
        "attn.qkv_in": ab * sb * H / rep,
        "attn.q_k": ab * sb * (qd + kd) / t,
        "attn.v": ab * sb * vd / t,
        "attn.o_in": ab * sb * od / t,
    }
    if setup.fused_attention:
        T["attn.softmax_stats"] = 4.0 * heads * sb / t
    else:
        T["attn.softmax_out"] = ab * heads * s * s_keys * b / t
        if setup.dropout:
            T["attn.dropout_mask"] = ACT_MASK_BYTES * heads * s * s_keys * b / t
            T["attn.dropout_out"] = ab * heads * s * s_keys * b / t
    if setup.dropout:
        T["attn.out_dropout_mask"] = ACT_MASK_BYTES * sb * H / rep
    T["norms.mlp_in"] = ab * sb * H / rep
    moe = spec.moe
    if moe is not None and moe.num_experts and len(moe.moe_layers) * 2 > spec.num_layers:
        k, Ie = moe.top_k, moe.expert_intermediate_size
        width = k * Ie + moe.shared_intermediate_size
        T["mlp.up_in"] = ab * sb * H * (1 + k) / rep  # the block input plus k dispatched copies
        T["moe.router"] = 4.0 * sb * moe.num_experts / rep  # fp32 router probabilities
        gated = moe.gated
    else:
        width = spec.mlp.intermediate_size
        T["mlp.up_in"] = ab * sb * H / rep
        gated = spec.mlp.gated
    T["mlp.act_in"] = ab * sb * width * (2 if gated else 1) / t
    T["mlp.act_out"] = ab * sb * width / t
    if setup.dropout:
        T["mlp.dropout_mask"] = ACT_MASK_BYTES * sb * H / rep
    return T


def stored_per_layer(terms: dict[str, float], spec: ModelSpec, setup: TrainSetup) -> float:
    """What a layer keeps under the recompute policy: everything (none), everything but the attention
    core's score tensors (selective; Korthikanti sec. 5), or only its input (full: 2sbh, /t with sp)."""
    if setup.recompute == "full":
        ab = 4.0 if setup.precision == "fp32" else 2.0
        rep = setup.tp if (setup.sequence_parallel and setup.tp > 1) else 1
        return ab * setup.seq / setup.cp * setup.micro_batch * spec.hidden_size / rep
    if setup.recompute == "selective":
        return sum(v for k, v in terms.items() if k not in ("attn.softmax_out", "attn.dropout_mask", "attn.dropout_out"))
    return sum(terms.values())


def in_flight(setup: TrainSetup, stage: str) -> float:
    """Micro-batches whose activations a stage holds at the 1F1B peak: the first stage p (or m if
    fewer; Narayanan et al. 2021 sec. 2.2.1), the last one; interleaving multiplies the first stage's
    by 1 + (p-1)/(pv) (Korthikanti et al. 2022 sec. 4.2.3)."""
    p, m, v = setup.pp, setup.micro_batches, setup.virtual_stages
    if p == 1 or stage == "last":
        return 1.0
    k = float(min(p, m))
    return k * (1 + (p - 1) / (p * v)) if v > 1 else k


def ledger(spec: ModelSpec, hw: Accelerator, setup: TrainSetup) -> MemoryLedger:
    """Memory per device on the binding stage (the larger of first and last when pp > 1)."""
    stages = ("only",) if setup.pp == 1 else ("first", "last")
    ledgers = [_stage_ledger(spec, hw, setup, st) for st in stages]
    return max(ledgers, key=lambda x: x.total_bytes)


def shard_group(hw: Accelerator, setup: TrainSetup) -> int:
    """Ranks that ZeRO / FSDP shard over: data x context parallel (Megatron's distributed optimizer
    shards over both); FSDP hybrid only within a node (devices per node / (t c))."""
    n = setup.dp * setup.cp
    if setup.fsdp == "hybrid":
        node = hw.interconnect.devices_per_node or hw.interconnect.scale_up_domain_devices or 8
        n = min(n, max(1, node // (setup.tp * setup.cp)) * setup.cp)
    return n


def _stage_ledger(spec: ModelSpec, hw: Accelerator, setup: TrainSetup, stage: str) -> MemoryLedger:
    sp = stage_params(spec, setup, stage)
    w_b, g_b, o_b, _ = state_bytes_per_param(setup)
    z = setup.zero_stage
    N = shard_group(hw, setup) if z else 1
    Ne = max(1, N // setup.ep)  # expert states are replicated over the dp ranks that hold the same experts
    terms: dict[str, float] = {}
    factors: list[Factor] = [RUNTIME_OVERHEAD]

    def shard(n_dense: float, n_expert: float, stage_needed: int) -> float:
        if z >= stage_needed:
            return n_dense / N + n_expert / Ne
        return n_dense + n_expert

    if setup.lora:
        # frozen base (bf16, or NF4 for the linear weights under QLoRA), trainable adapters
        lp = lora_params_per_layer(spec, setup.lora_rank, setup.lora_modules) / setup.tp * sp.layers
        base = sp.total
        if setup.qlora:
            table = train_table(spec, setup)
            lin = sum(op.params / _div(op, setup) * op.layers for op in table.ops
                      if op.kind in ("gemm", "expert_gemm") and op.layer_kind) * sp.layers / spec.num_layers
            base_bytes = get_format("nf4").nbytes(lin) + 2.0 * (base - lin)
        else:
            base_bytes = w_b * base
        terms["weights.base"] = shard(base_bytes, 0.0, 3)
        ab = LORA_ADAPTER_BYTES.value if setup.precision != "bf16" else 2.0
        terms["weights.adapters"] = lp * ab
        terms["grads.adapters"] = lp * ab
        opt = (2 * ab) if setup.optimizer in ("adamw",) else (
            2 * (1 + 4 / ADAM8BIT_BLOCK.value) if setup.optimizer == "adam8bit" else ab)
        terms["optimizer.adapters"] = shard(lp * opt, 0.0, 1)
        trainable = lp
        factors.append(LORA_ADAPTER_BYTES)
    else:
        trainable = sp.total
        terms["weights"] = shard(w_b * sp.dense, w_b * sp.expert, 3)
        terms["grads"] = shard(g_b * sp.dense, g_b * sp.expert, 2)
        o = shard(o_b * sp.dense, o_b * sp.expert, 1)
        if setup.optimizer == "adafactor":
            o += shard(4.0 * adafactor_state_params(spec, setup, sp.total), 0.0, 1)
        terms["optimizer"] = o
        if setup.optimizer == "adam8bit":
            factors.append(ADAM8BIT_BLOCK)
        if setup.precision == "fp8":
            factors.append(FP8_WEIGHT_COPY)
    # activations
    per = activation_terms(spec, setup)
    per_layer = stored_per_layer(per, spec, setup)
    k = in_flight(setup, stage)
    terms["activations.layers"] = per_layer * sp.layers * k
    if setup.recompute == "full":
        terms["activations.recompute_working_set"] = sum(per.values())  # one layer rebuilt during backward
    if stage in ("last", "only"):
        ab = 4.0 if setup.precision == "fp32" else 2.0
        logits = setup.seq / setup.cp * setup.micro_batch * spec.vocab_size / setup.tp
        terms["activations.logits"] = logits * (LOGIT_BYTES.value + (ab if ab < LOGIT_BYTES.value else 0.0))
        factors.append(LOGIT_BYTES)
    # buffers
    if setup.dp > 1 and z < 3:
        terms["buffers.grad_buckets"] = 2 * DDP_BUCKET.value
        factors.append(DDP_BUCKET)
    if z == 3 and N > 1:
        wb = get_format("nf4").bytes_per_element if setup.qlora else w_b
        terms["buffers.zero3_gather"] = ZERO3_PREFETCH.value * sp.layer_params * wb
        factors.append(ZERO3_PREFETCH)
    terms["buffers.runtime"] = RUNTIME_OVERHEAD.value
    pick = lambda pre: sum(v for k2, v in terms.items() if k2 == pre or k2.startswith(pre + "."))  # noqa: E731
    total = sum(terms.values())
    return MemoryLedger(stage, terms, pick("weights"), pick("grads"), pick("optimizer"), pick("activations"),
                        pick("buffers"), total, sp.total, trainable, per_layer, k, N, tuple(factors))
