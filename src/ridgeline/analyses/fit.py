"""``ridgeline fit``: does a model, at a precision and workload, fit on an accelerator?

Answers: the per-device ledger, fits or not, headroom, the fewest devices that fit,
KV bytes per token, and how much KV cache (tokens, sequences) fits beside the weights.
"""

from __future__ import annotations

from dataclasses import dataclass

from ridgeline.analyses.memory import MemoryLedger, Overheads, inference_ledger, kv_bytes_by_stage
from ridgeline.factors import RUNTIME_OVERHEAD
from ridgeline.hardware.spec import Accelerator
from ridgeline.model.kv import KVLayout, kv_elements_per_token_layer
from ridgeline.model.params import ParamCount, count_params
from ridgeline.model.spec import ModelSpec
from ridgeline.workload import InferenceWorkload, ParallelPlan, Precision

SCHEMA_VERSION = 1
#: Search bound for min_devices, and the largest tensor-parallel group tried (one node).
MAX_DEVICES = 4096
DEVICES_PER_NODE = 8


@dataclass(frozen=True)
class FitResult:
    spec: ModelSpec
    params: ParamCount
    hardware: Accelerator
    workload: InferenceWorkload
    plan: ParallelPlan
    precision: Precision
    layout: KVLayout
    ledger: MemoryLedger
    fits: bool
    headroom_bytes: float
    """Capacity minus the busiest device's total (negative when it does not fit)."""
    min_devices: int | None
    """Fewest devices (tp x pp, tp within one node) on which the workload fits; None if > MAX_DEVICES."""
    min_devices_plan: ParallelPlan | None
    kv_bytes_per_token: float
    """KV bytes one token adds across all layers (whole model, not sharded) while no window is full."""
    kv_bytes_per_token_full_layers: float
    """KV bytes one more token adds once every sliding window is full (full-attention layers only)."""
    kv_bytes_per_sequence: float
    """KV bytes of one sequence at the workload's context (sliding windows applied)."""
    max_concurrent_sequences: int
    """Sequences of the workload's context whose KV fits beside the weights on this plan."""
    max_kv_tokens: int
    """Tokens of KV cache that fit (max_concurrent_sequences' worth, at this context)."""
    notes: tuple[str, ...]

    @property
    def capacity_bytes(self) -> float:
        return self.hardware.memory_bytes

    def to_dict(self) -> dict:
        led = self.ledger
        return {
            "schema_version": SCHEMA_VERSION,
            "model": {"name": self.spec.name, "model_type": self.spec.model_type, "source": self.spec.source,
                      "params_total": self.params.total, "params_active": self.params.active},
            "hardware": {"name": self.hardware.name, "id": self.hardware.id,
                         "memory_bytes": self.hardware.memory_bytes,
                         "memory_source": self.hardware.source_of("memory_bytes")},
            "workload": {"batch": self.workload.batch, "context_tokens": self.workload.context_tokens,
                         "prefill_chunk_tokens": self.workload.prefill_chunk_tokens},
            "plan": {"tp": self.plan.tp, "pp": self.plan.pp, "devices": self.plan.devices},
            "precision": {"weights": self.precision.weights.name,
                          "weights_bits": self.precision.weights.bits_per_element,
                          "unquantized": self.precision.unquantized.name,
                          "kept_unquantized": sorted(self.precision.keep),
                          "kv": self.precision.kv.name, "activations": self.precision.activations.name},
            "kv_layout": {"convention": self.layout.convention, "mla": self.layout.mla},
            "memory": {"weights_bytes": led.weights_bytes, "kv_cache_bytes": led.kv_cache_bytes,
                       "activations_bytes": led.activations_bytes, "overhead_bytes": led.overhead_bytes,
                       "total_bytes": led.total_bytes},
            "per_device": {"terms": dict(led.per_device_terms), "total_bytes": led.per_device_total_bytes,
                           "capacity_bytes": self.capacity_bytes, "headroom_bytes": self.headroom_bytes},
            "kv_bytes_per_token": self.kv_bytes_per_token,
            "kv_bytes_per_token_full_layers": self.kv_bytes_per_token_full_layers,
            "kv_bytes_per_sequence": self.kv_bytes_per_sequence,
            "fits": self.fits,
            "min_devices": self.min_devices,
            "min_devices_plan": None if self.min_devices_plan is None else
            {"tp": self.min_devices_plan.tp, "pp": self.min_devices_plan.pp},
            "max_concurrent_sequences": self.max_concurrent_sequences,
            "max_kv_tokens": self.max_kv_tokens,
            "factors": [f.to_dict() for f in led.factors],
            "notes": list(self.notes),
        }


def _fits(spec, wl, prec, plan, layout, overheads, capacity, stored=None) -> bool:
    if plan.problem(spec):
        return False
    return inference_ledger(spec, wl, prec, plan, layout, overheads, stored).per_device_total_bytes <= capacity


def min_devices(spec: ModelSpec, wl: InferenceWorkload, prec: Precision, layout: KVLayout,
                overheads: Overheads, capacity: float, stored: float | None = None) -> tuple[int, ParallelPlan] | None:
    """Fewest devices that fit: tp grows first (up to one node), then pipeline stages.

    Per-device memory only falls as devices are added, so a doubling search brackets the
    answer and a scan over the bracket finds the exact minimum.
    """
    def plans(n: int):
        for tp in sorted({t for t in range(1, min(n, DEVICES_PER_NODE) + 1) if n % t == 0}, reverse=True):
            yield ParallelPlan(tp, n // tp)

    def ok(n: int) -> ParallelPlan | None:
        for p in plans(n):
            if p.pp <= spec.num_layers and _fits(spec, wl, prec, p, layout, overheads, capacity, stored):
                return p
        return None

    hi = 1
    while hi <= MAX_DEVICES and ok(hi) is None:
        hi *= 2
    if hi > MAX_DEVICES:
        return None
    for n in range(hi // 2 + 1, hi + 1):
        p = ok(n)
        if p is not None:
            return n, p
    return None  # pragma: no cover - hi itself fits


def fit(spec: ModelSpec, hardware: Accelerator, wl: InferenceWorkload = InferenceWorkload(),
        prec: Precision | None = None, plan: ParallelPlan = ParallelPlan(), layout: KVLayout = KVLayout(),
        overheads: Overheads | None = None, stored_weights_bytes: float | None = None) -> FitResult:
    """Fit ``spec`` on ``hardware``. ``stored_weights_bytes`` (a checkpoint's exact tensor bytes)
    replaces the format-derived weight bytes when given."""
    prec = prec or Precision.build(spec)
    plan.check(spec)
    notes = list(spec.notes)
    if overheads is None:
        overheads = default_overheads(hardware)
        if hardware.runtime_overhead_bytes is None and hardware.kind != "gpu":
            notes.append(f"no sourced runtime overhead for a {hardware.kind}: 0 assumed (set --runtime-overhead)")
    led = inference_ledger(spec, wl, prec, plan, layout, overheads, stored_weights_bytes)
    cap = hardware.memory_bytes
    total = led.per_device_total_bytes
    md = min_devices(spec, wl, prec, layout, overheads, cap, stored_weights_bytes)
    per_tok_layer = kv_elements_per_token_layer(spec, layout) * prec.kv.bytes_per_element
    per_tok = per_tok_layer * spec.num_layers
    per_tok_full = per_tok_layer * (spec.num_layers - spec.num_sliding_layers)
    kv_seq = sum(kv_bytes_by_stage(spec, wl, prec, ParallelPlan(1, 1), layout, batch=1))
    seqs = min(
        (max(int((cap - fixed) // kv), 0) if kv > 0 else 0)
        for fixed, kv in zip(led.stage_fixed_bytes, led.stage_kv_seq_bytes)
    )
    notes.append(f"weights in {prec.weights.name} from {prec.origin}")
    if stored_weights_bytes is not None:
        notes.append(f"weights: {stored_weights_bytes:,.0f} bytes read from the checkpoint's safetensors headers "
                     "(exact); the per-device split follows the config's tensor layout")
    if spec.max_position_embeddings and wl.context_tokens > spec.max_position_embeddings:
        notes.append(f"context {wl.context_tokens} exceeds the model's max_position_embeddings "
                     f"({spec.max_position_embeddings})")
    if spec.sliding_window:
        notes.append(f"{spec.num_sliding_layers} of {spec.num_layers} layers slide over a window of "
                     f"{spec.sliding_window} tokens")
    return FitResult(
        spec=spec, params=count_params(spec), hardware=hardware, workload=wl, plan=plan, precision=prec,
        layout=layout, ledger=led, fits=total <= cap, headroom_bytes=cap - total,
        min_devices=md[0] if md else None, min_devices_plan=md[1] if md else None,
        kv_bytes_per_token=per_tok, kv_bytes_per_token_full_layers=per_tok_full, kv_bytes_per_sequence=kv_seq,
        max_concurrent_sequences=seqs,
        max_kv_tokens=seqs * wl.context_tokens, notes=tuple(notes),
    )


def default_overheads(hardware: Accelerator) -> Overheads:
    """The runtime overhead for a device: its data file's figure, the CUDA figure for GPUs, else 0."""
    if hardware.runtime_overhead_bytes is not None:
        return Overheads(RUNTIME_OVERHEAD.with_value(hardware.runtime_overhead_bytes,
                                                     f"{hardware.origin}: runtime_overhead_bytes"))
    if hardware.kind == "gpu":
        return Overheads()
    return Overheads(RUNTIME_OVERHEAD.with_value(0.0, f"no sourced figure for a {hardware.kind}"))
