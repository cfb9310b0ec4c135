"""``ridgeline train``: memory per device and time per step of training and fine-tuning.

Both are sums over the operator table (ridgeline.ops): memory in
:mod:`ridgeline.analyses.train_memory`, time in :mod:`ridgeline.analyses.train_time`; this module
puts them together, finds the cheapest change that makes a run fit, and the fewest devices that can
hold the training state.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ridgeline.analyses.train_memory import MemoryLedger, activation_terms, ledger, state_bytes_per_param
from ridgeline.analyses.train_setup import TrainSetup
from ridgeline.analyses.train_time import POWER_TDP, TimeLedger, time_ledger, train_efficiencies
from ridgeline.errors import InputError, PlanError
from ridgeline.hardware.spec import Accelerator
from ridgeline.model.spec import ModelSpec
from ridgeline.timing import Efficiencies
from ridgeline.workload import ParallelPlan

#: Largest device count `--gpus min` tries.
MAX_GPUS = 65536


@dataclass(frozen=True)
class TrainResult:
    spec: ModelSpec
    hardware: Accelerator
    setup: TrainSetup
    memory: MemoryLedger
    time: TimeLedger
    usable_bytes: float
    fits: bool
    step_time_s: float
    mfu: float
    """Model FLOPs (forward + backward, no recompute) / (step time x devices x dense peak)."""
    hfu: float
    """The same with recomputed FLOPs counted."""
    tflops_per_device: float
    """Model FLOP/s per device, in TFLOP/s (10^12)."""
    tokens_per_s: float
    time_to_train_s: float | None
    gpu_hours: float | None
    energy_j: float | None
    suggestion: dict | None = None
    """When it does not fit: the change that makes it fit with the shortest step, checked by the ledger."""
    notes: tuple[str, ...] = field(default_factory=tuple)


def _check(spec: ModelSpec, setup: TrainSetup) -> None:
    ParallelPlan(setup.tp, setup.pp).check(spec)
    if setup.ep > 1 and not spec.is_moe:
        raise PlanError(f"--ep {setup.ep}: {spec.name} has no MoE layers; drop --ep")
    if setup.ep > 1 and spec.moe is not None and spec.moe.num_experts % setup.ep:
        raise PlanError(f"--ep {setup.ep} does not divide the {spec.moe.num_experts} experts of {spec.name}")
    if setup.virtual_stages > 1 and spec.num_layers % (setup.pp * setup.virtual_stages):
        raise PlanError(f"--virtual-stages {setup.virtual_stages}: pp x v = {setup.pp * setup.virtual_stages} must "
                        f"divide the {spec.num_layers} layers")


def train(spec: ModelSpec, hw: Accelerator, setup: TrainSetup, eff: Efficiencies | None = None,
          suggest: bool = True) -> TrainResult:
    _check(spec, setup)
    eff = eff or train_efficiencies(hw)
    mem = ledger(spec, hw, setup)
    tl = time_ledger(spec, hw, setup, eff)
    step = tl.step_time_s
    G = setup.gpus
    mfu = tl.model_flops_per_step / (step * G * tl.peak_flops_per_s)
    hfu = tl.hardware_flops_per_step / (step * G * tl.peak_flops_per_s)
    tok_s = setup.batch * setup.seq / step
    ttt = gh = en = None
    if setup.tokens:
        ttt = setup.tokens / tok_s
        gh = ttt * G / 3600
        en = ttt * G * (hw.tdp_w or 0.0) * POWER_TDP.value if hw.tdp_w else None
    usable = hw.usable_bytes
    fits = mem.total_bytes <= usable
    notes = []
    if setup.lora and setup.zero_stage:
        notes.append("LoRA with ZeRO: the frozen base shards only at stage 3; adapter states at stage 1+")
    if spec.is_moe and setup.ep == 1:
        notes.append("MoE without --ep: routed experts are split over tp like dense MLPs")
    sug = None
    if not fits and suggest:
        sug = cheapest_fix(spec, hw, setup, eff)
    return TrainResult(spec, hw, setup, mem, tl, usable, fits, step, mfu, hfu, tl.model_flops_per_step / step / G / 1e12,
                       tok_s, ttt, gh, en, sug, tuple(notes))


def _candidates(spec: ModelSpec, setup: TrainSetup, node: int = 8):
    """Single changes, each a valid setup: recompute, a ZeRO stage, a smaller micro-batch, more tp (up to the
    ``node`` devices of one scale-up domain) or pp."""
    out = []
    if setup.recompute == "none":
        out += [("--recompute selective", {"recompute": "selective"}), ("--recompute full", {"recompute": "full"})]
    elif setup.recompute == "selective":
        out.append(("--recompute full", {"recompute": "full"}))
    if not setup.fsdp:
        out += [(f"--zero {z}", {"zero": z}) for z in range(setup.zero + 1, 4)]
    b = setup.micro_batch
    while b > 1:
        b //= 2
        out.append((f"--micro-batch {b}", {"micro_batch": b}))
    for t in (2, 4, 8, 16):
        tp = setup.tp * t
        if tp <= node and setup.gpus % (tp * setup.pp * setup.cp) == 0:  # tp stays inside the scale-up domain
            out.append((f"--tp {tp}", {"tp": tp}))
    for k in (2, 4, 8):
        pp = setup.pp * k
        if pp <= spec.num_layers and setup.gpus % (setup.tp * pp * setup.cp) == 0:
            out.append((f"--pp {pp}", {"pp": pp}))
    return out


def _try(spec, hw, setup, change: dict) -> TrainSetup | None:
    try:
        s = replace(setup, **change)
        if s.global_batch is not None and s.global_batch % (s.micro_batch * s.dp):
            s = replace(s, global_batch=None)
        _check(spec, s)
        return s
    except InputError:
        return None


def cheapest_fix(spec: ModelSpec, hw: Accelerator, setup: TrainSetup, eff: Efficiencies) -> dict | None:
    """The single change (or, failing that, a pair) that fits with the shortest step time, re-running the ledger."""
    usable = hw.usable_bytes
    best = None
    ic = hw.interconnect
    node = ic.scale_up_domain_devices or ic.devices_per_node or 8
    first = _candidates(spec, setup, node)
    tried = [(label, ch) for label, ch in first]
    for label, ch in first:
        for label2, ch2 in _candidates(spec, replace(setup, **ch), node) if _try(spec, hw, setup, ch) else []:
            tried.append((f"{label} {label2}", {**ch, **ch2}))
    for pass_ in (1, 2):
        for label, ch in tried:
            if (label.count("--") == 1) != (pass_ == 1):
                continue
            s = _try(spec, hw, setup, ch)
            if s is None:
                continue
            mem = ledger(spec, hw, s)
            if mem.total_bytes > usable:
                continue
            t = time_ledger(spec, hw, s, eff).step_time_s
            if best is None or t < best["step_time_s"]:
                best = {"change": label, "total_bytes": mem.total_bytes, "step_time_s": t}
        if best is not None:
            return best
    return None


def min_gpus(spec: ModelSpec, hw: Accelerator, setup: TrainSetup) -> tuple[int, TrainSetup, MemoryLedger]:
    """The fewest devices whose memory holds the training state with everything sharded (ZeRO-3 unless FSDP
    or LoRA is chosen), at the given tp / pp / cp, micro-batch and recompute policy."""
    unit = setup.tp * setup.pp * setup.cp
    usable = hw.usable_bytes
    base = setup if (setup.fsdp or setup.lora) else replace(setup, zero=3)
    base = replace(base, global_batch=None)
    n = unit
    while n <= MAX_GPUS:
        try:
            s = replace(base, gpus=n, ep=setup.ep if (n // unit) % setup.ep == 0 else 1)
        except InputError:
            n += unit
            continue
        mem = ledger(spec, hw, s)
        if mem.total_bytes <= usable:
            return n, s, mem
        # jump ahead: sharded state shrinks as 1/n, so skip counts that cannot fit yet
        n += unit
    raise InputError(f"--gpus min: no count up to {MAX_GPUS} holds {spec.name} at these settings; "
                     "add --recompute full or shorten --seq")


# -- output ------------------------------------------------------------------------------------

def train_dict(r: TrainResult) -> dict:
    m, t, s = r.memory, r.time, r.setup
    return {
        "schema_version": 1,
        "model": r.spec.name,
        "hardware": r.hardware.id,
        "setup": {"gpus": s.gpus, "tp": s.tp, "pp": s.pp, "cp": s.cp, "dp": s.dp, "ep": s.ep, "zero": s.zero,
                  "fsdp": s.fsdp, "seq": s.seq, "micro_batch": s.micro_batch, "global_batch": s.batch,
                  "micro_batches": s.micro_batches, "recompute": s.recompute, "optimizer": s.optimizer,
                  "precision": s.precision, "lora_rank": s.lora_rank, "lora_modules": s.lora_modules if s.lora else None,
                  "qlora": s.qlora, "sequence_parallel": s.sequence_parallel, "virtual_stages": s.virtual_stages},
        "per_device": {"weights_bytes": m.weights_bytes, "grads_bytes": m.grads_bytes,
                       "optimizer_bytes": m.optimizer_bytes, "activations_bytes": m.activations_bytes,
                       "buffers_bytes": m.buffers_bytes, "total_bytes": m.total_bytes,
                       "usable_bytes": r.usable_bytes, "stage": m.stage,
                       "params": m.params_per_device, "trainable_params": m.trainable_params_per_device,
                       "activation_per_layer_bytes": m.activation_per_layer_bytes,
                       "in_flight_micro_batches": m.in_flight_micro_batches, "shard_group": m.shard_group,
                       "terms": dict(m.terms)},
        "fits": r.fits,
        "suggestion": r.suggestion,
        "step_time_s": r.step_time_s,
        "step_terms_s": dict(t.terms),
        "bubble_fraction": t.bubble_fraction,
        "mfu": r.mfu,
        "hfu": r.hfu,
        "tflops_per_device": r.tflops_per_device,
        "tokens_per_s": r.tokens_per_s,
        "tokens_per_s_per_device": r.tokens_per_s / s.gpus,
        "model_flops_per_step": t.model_flops_per_step,
        "hardware_flops_per_step": t.hardware_flops_per_step,
        "peak_flops_per_s": t.peak_flops_per_s,
        "compute_format": t.compute_format,
        "comm_bytes_per_step": dict(t.comm_bytes_per_step),
        "tokens": s.tokens,
        "time_to_train_s": r.time_to_train_s,
        "gpu_hours": r.gpu_hours,
        "energy_j": r.energy_j,
        "factors": [f.to_dict() for f in _factors(r)],
        "notes": list(r.notes),
    }


def _factors(r: TrainResult):
    seen, out = set(), []
    for f in r.memory.factors + r.time.factors:
        if f.name not in seen:
            seen.add(f.name)
            out.append(f)
    return out


def explain(r: TrainResult) -> list[dict]:
    """Each headline figure with its formula, inputs and (through the factor list) sources."""
    s, m, t = r.setup, r.memory, r.time
    w_b, g_b, o_b, words = state_bytes_per_param(s)
    per = activation_terms(r.spec, s)
    zero = f"ZeRO-{s.zero_stage} over {m.shard_group} ranks" if s.zero_stage else "no sharding"
    return [
        {"name": "per_device.weights_bytes", "value": m.weights_bytes, "unit": "bytes",
         "formula": f"params on this stage/device x {w_b:g} B" + (" (/ shard group at ZeRO-3)" if s.zero_stage >= 3 else ""),
         "inputs": {"params": m.params_per_device, "bytes_per_param": w_b, "sharding": zero}},
        {"name": "per_device.grads_bytes", "value": m.grads_bytes, "unit": "bytes",
         "formula": f"trainable params x {g_b:g} B" + (" / shard group (ZeRO-2+)" if s.zero_stage >= 2 else ""),
         "inputs": {"trainable_params": m.trainable_params_per_device, "bytes_per_param": g_b}},
        {"name": "per_device.optimizer_bytes", "value": m.optimizer_bytes, "unit": "bytes",
         "formula": f"trainable params x {o_b:g} B ({s.optimizer}: {words})" +
                    (" / shard group (ZeRO-1+)" if s.zero_stage >= 1 else ""),
         "inputs": {"trainable_params": m.trainable_params_per_device, "bytes_per_param": o_b,
                    "shard_group": m.shard_group}},
        {"name": "per_device.activations_bytes", "value": m.activations_bytes, "unit": "bytes",
         "formula": "per-layer bytes (Korthikanti 2022 terms, recompute policy) x layers per stage x micro-batches "
                    "in flight (1F1B) + logits s b V / t x bytes per logit",
         "inputs": {"per_layer_bytes": m.activation_per_layer_bytes, "in_flight": m.in_flight_micro_batches,
                    "stage": m.stage, **{f"term.{k}": v for k, v in per.items()}}},
        {"name": "step_time_s", "value": r.step_time_s, "unit": "s",
         "formula": "(m + (p-1)/v) x micro-batch time + exposed dp sync + optimizer update; micro-batch = "
                    "roofline of forward + backward (bwd.* x forward) + recompute + tp/cp/ep/pp collectives",
         "inputs": {"m": s.micro_batches, "p": s.pp, "v": s.virtual_stages, **t.terms}},
        {"name": "mfu", "value": r.mfu, "unit": "fraction",
         "formula": "model FLOPs per step (forward x 3 over the op table at tp=1, LM head on every token) / "
                    "(step_time_s x devices x dense peak)",
         "inputs": {"model_flops_per_step": t.model_flops_per_step, "devices": s.gpus,
                    "peak_flops_per_s": t.peak_flops_per_s, "format": t.compute_format}},
        {"name": "hfu", "value": r.hfu, "unit": "fraction", "formula": "as mfu with recomputed forward FLOPs added",
         "inputs": {"hardware_flops_per_step": t.hardware_flops_per_step}},
        {"name": "tokens_per_s", "value": r.tokens_per_s, "unit": "tokens/s", "formula": "B x s / step_time_s",
         "inputs": {"B": s.batch, "s": s.seq}},
    ]
