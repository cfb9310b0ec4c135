"""``ridgeline fit``: does a model, at a precision and workload, fit on an accelerator?

Answers: the per-device ledger, fits or not, headroom, the fewest devices that fit, KV bytes per
token, how many tokens of KV fit beside the weights, and (with an engine profile) the KV pool,
token capacity and concurrency a serving engine would report.

Two doors, one answer: :func:`fit` takes typed inputs; :func:`fit_request` takes the plain values a
user types (names, "8k", "max", "1GiB") and makes every decision the CLI used to make (default
context, kept roles, overheads, checkpoint detection), then calls :func:`fit`. The CLI and the web
page call :func:`fit_request`; ``to_jsonable(result)`` is the JSON they print.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from ridgeline.analyses.engines import EngineAllocation, EngineSettings, StageShape, allocate
from ridgeline.analyses.memory import (MemoryLedger, Overheads, byte_table, forward_activation_bytes,
                                       inference_ledger, kv_layer_token_bytes, kv_spans, model_weight_bytes,
                                       stage_cached_tokens, stage_layers, stage_totals, state_bytes_per_element,
                                       state_seq_bytes_by_stage)
from ridgeline.errors import InputError
from ridgeline.factors import KV_FRAGMENTATION, RUNTIME_OVERHEAD, Factor
from ridgeline.hardware.spec import Accelerator
from ridgeline.model.kv import KVLayout, kv_elements_per_token_layer, state_bytes_per_sequence
from ridgeline.model.params import ROLES, ParamCount, count_params
from ridgeline.model.spec import ModelSpec
from ridgeline.workload import MAX_SIZE, InferenceWorkload, ParallelPlan, Precision

SCHEMA_VERSION = 2
#: Search bound for min_devices, and the largest tensor-parallel group tried (one node).
MAX_DEVICES = 4096
DEVICES_PER_NODE = 8
#: Default context when none is given: min(this, the model's max_position_embeddings).
DEFAULT_CONTEXT_TOKENS = 4096

_params = lru_cache(maxsize=256)(count_params)


@dataclass(frozen=True)
class ModelSummary:
    name: str
    model_type: str
    source: str
    params_total: int
    params_active: int


@dataclass(frozen=True)
class HardwareSummary:
    name: str
    id: str
    memory_bytes: float
    """Datasheet capacity."""
    memory_source: str
    usable_memory_bytes: float | None
    """Total the framework sees, when sourced."""
    capacity_bytes: float
    """The capacity fit uses: usable when known, else the datasheet figure."""
    capacity_basis: str
    """The field capacity_bytes comes from: usable_memory_bytes, driver_total_memory_bytes,
    gpu_working_set_fraction (unified memory) or memory_bytes (the datasheet)."""


@dataclass(frozen=True)
class PrecisionSummary:
    weights: str
    weights_bits: float
    unquantized: str
    kept_unquantized: tuple[str, ...]
    kv: str
    activations: str
    origin: str


@dataclass(frozen=True)
class MemoryTotals:
    """Resident over all devices of the plan."""

    weights_bytes: float
    kv_cache_bytes: float
    activations_bytes: float
    overhead_bytes: float
    total_bytes: float
    state_cache_bytes: float = 0.0
    """Per-sequence state of Mamba / linear-attention layers for the batch (in total_bytes)."""


@dataclass(frozen=True)
class PerDevice:
    terms: dict[str, float]
    """Dotted term -> bytes on the busiest device."""
    total_bytes: float
    capacity_bytes: float
    headroom_bytes: float


@dataclass(frozen=True)
class FitResult:
    """Everything fit answers; ``ridgeline.serialize.to_jsonable`` gives its JSON."""

    __json_skip__ = ("spec", "params", "accelerator", "prec", "ledger")

    schema_version: int
    engine: str
    """ideal | vllm | sglang | trtllm: whose allocation rule gave kv_pool_bytes / max_kv_tokens."""
    model: ModelSummary
    hardware: HardwareSummary
    workload: InferenceWorkload
    plan: ParallelPlan
    precision: PrecisionSummary
    kv_layout: KVLayout
    memory: MemoryTotals
    per_device: PerDevice
    kv_bytes_per_token: float
    """KV bytes one token adds across all layers (whole model, not sharded) while no window is full."""
    kv_bytes_per_token_full_layers: float
    """KV bytes one more token adds once every sliding window is full (full-attention layers only)."""
    kv_bytes_per_sequence: float
    """KV bytes of one sequence at the workload's context (sliding windows applied)."""
    state_bytes_per_sequence: float
    """Fixed state one sequence keeps in the Mamba / linear-attention layers (whole model, not
    sharded; 0 for attention-only models). A sequence costs its KV plus this."""
    fits: bool
    """The workload fits: the ledger within capacity (ideal), or the engine's pool holds batch
    sequences of the context and at least one of max_model_len (engines)."""
    headroom_bytes: float
    """Capacity minus the busiest device's total (negative when it does not fit)."""
    min_devices: int | None
    """Fewest devices (tp x pp, tp within one node) on which the workload fits; None if > MAX_DEVICES."""
    min_devices_plan: ParallelPlan | None
    kv_pool_bytes: float
    """KV memory per device: the engine's allocated pool, or (ideal) the room beside everything else."""
    max_kv_tokens: int
    """Tokens of KV the pool holds (each token in every layer), as the engine logs it."""
    max_concurrency: float
    """Requests the pool holds at once: of max_model_len tokens (engines) or of the workload's context (ideal)."""
    max_concurrent_sequences: int
    """Whole sequences of the workload's context whose KV fits on this plan (sliding windows applied)."""
    engine_allocation: EngineAllocation | None
    factors: tuple[Factor, ...]
    notes: tuple[str, ...]
    spec: ModelSpec
    params: ParamCount
    accelerator: Accelerator
    prec: Precision
    ledger: MemoryLedger

    @property
    def capacity_bytes(self) -> float:
        return self.hardware.capacity_bytes

    def to_dict(self) -> dict:
        from ridgeline.serialize import to_jsonable  # noqa: PLC0415

        return to_jsonable(self)


def default_overheads(hardware: Accelerator) -> Overheads:
    """The runtime overhead for a device: its data file's figure, the CUDA figure for GPUs, else 0."""
    if hardware.runtime_overhead_bytes is not None:
        return Overheads(RUNTIME_OVERHEAD.with_value(hardware.runtime_overhead_bytes,
                                                     f"{hardware.origin}: runtime_overhead_bytes"))
    if hardware.kind == "gpu":
        return Overheads()
    return Overheads(RUNTIME_OVERHEAD.with_value(0.0, f"no sourced runtime overhead for a {hardware.kind}"))


class _Model:
    """One (model, precision, layout, overheads) prepared for fast evaluation of many plans."""

    def __init__(self, spec, prec, layout, overheads, stored):
        self.spec, self.prec, self.layout, self.ov = spec, prec, layout, overheads
        self.scale = 1.0 if stored is None else stored / model_weight_bytes(spec, prec)
        self.table = byte_table(spec, prec)
        self.spans = kv_spans(spec, layout)

    def device_bytes(self, wl: InferenceWorkload, plan: ParallelPlan) -> float:
        return stage_totals(self.spec, wl, self.prec, plan, self.layout, self.ov, self.scale, self.table)

    def stages(self, plan: ParallelPlan) -> tuple[StageShape, ...]:
        out = []
        t = self.table
        state = state_seq_bytes_by_stage(self.spec, self.prec, plan, self.layout)
        for s, r in enumerate(stage_layers(self.spec.num_layers, plan.pp)):
            w, ex = t.stage(r, s, plan.pp, plan.tp)
            full, windowed, window = self.spans.counts(r)
            out.append(StageShape(w * self.scale, full, windowed, s == plan.pp - 1, ex * self.scale, window,
                                  state[s]))
        return tuple(out)

    def engine(self, st: EngineSettings, plan: ParallelPlan, hw: Accelerator, capacity: float) -> EngineAllocation:
        spec, act = self.spec, self.prec.activations.bytes_per_element
        return allocate(st, spec, self.stages(plan), kv_layer_token_bytes(spec, self.prec, self.layout, plan.tp),
                        lambda n: forward_activation_bytes(spec, n, act, plan.tp), capacity, f"{hw.id} {hw.name}",
                        plan.tp, plan.pp, self.ov.runtime.value, self.prec.activations.bytes_per_element,
                        self.prec.format_for("expert").name)


def _plans(n: int):
    for tp in sorted({t for t in range(1, min(n, DEVICES_PER_NODE) + 1) if n % t == 0}, reverse=True):
        yield ParallelPlan(tp, n // tp)


def min_devices(fits_on) -> tuple[int, ParallelPlan] | None:
    """Fewest devices that fit: tp grows first (up to one node), then pipeline stages.

    ``fits_on(plan) -> bool``. Per-device memory only falls as devices are added, so a doubling
    search brackets the answer and a scan over the bracket finds the exact minimum.
    """
    def ok(n: int) -> ParallelPlan | None:
        for p in _plans(n):
            if fits_on(p):
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
        overheads: Overheads | None = None, stored_weights_bytes: float | None = None,
        engine: EngineSettings = EngineSettings()) -> FitResult:
    """Fit ``spec`` on ``hardware``. ``stored_weights_bytes`` (a checkpoint's exact tensor bytes)
    replaces the format-derived weight bytes when given. ``engine`` picks whose allocation rule
    sizes the KV pool (``ideal``: ridgeline's ledger)."""
    prec = prec or Precision.build(spec)
    plan.check(spec)
    notes = list(spec.notes)
    if overheads is None:
        overheads = default_overheads(hardware)
        if hardware.runtime_overhead_bytes is None and hardware.kind != "gpu":
            notes.append(f"no sourced runtime overhead for a {hardware.kind}: 0 assumed (set --runtime-overhead)")
    cap = hardware.usable_bytes
    basis = hardware.usable_basis
    if basis == "memory_bytes":
        notes.append("capacity: datasheet figure (no usable total sourced for this device; "
                     "software sees somewhat less or more)")
    else:
        why = {"usable_memory_bytes": "the total the framework sees", "driver_total_memory_bytes": "the driver's total",
               "gpu_working_set_fraction": "the GPU's default working-set limit"}[basis]
        binary = (" (its \"GB\" are binary: the memory is larger than the decimal figure, less what the driver "
                  "reserves)") if cap > hardware.memory_bytes else ""
        notes.append(f"capacity: {cap / 2**30:.2f} GiB from {basis} ({why}); the datasheet says {hardware.memory_bytes / 1e9:g} GB"
                     f"{binary}. Source: `ridgeline hardware {hardware.id}`")
    led = inference_ledger(spec, wl, prec, plan, layout, overheads, stored_weights_bytes)
    m = _Model(spec, prec, layout, overheads, stored_weights_bytes)
    total = led.per_device_total_bytes
    per_tok_layer = kv_elements_per_token_layer(spec, layout) * prec.kv.bytes_per_element
    full, windowed, _ = kv_spans(spec, layout).counts(range(spec.num_layers))
    per_tok = per_tok_layer * (full + windowed)
    per_tok_full = per_tok_layer * full
    kv_seq = stage_cached_tokens(spec, range(spec.num_layers), wl.context_tokens, layout) * per_tok_layer
    room = [cap - fixed for fixed in led.stage_fixed_bytes]
    seqs = min((max(int(r // kv), 0) if kv > 0 else 0) for r, kv in zip(room, led.stage_kv_seq_bytes))
    alloc = None
    if engine.engine == "ideal":
        pool = max(min(room), 0.0)
        tokens = min((max(int(r // kt), 0) if kt > 0 else 0) for r, kt in zip(room, led.stage_kv_token_bytes))
        conc = min((max(r, 0.0) / kv if kv > 0 else 0.0) for r, kv in zip(room, led.stage_kv_seq_bytes))
        fits = total <= cap

        def fits_on(p: ParallelPlan) -> bool:
            return p.pp <= spec.num_layers and not p.problem(spec) and m.device_bytes(wl, p) <= cap
    else:
        alloc = m.engine(engine, plan, hardware, cap)
        pool, tokens, conc = alloc.kv_pool_bytes, alloc.max_kv_tokens, alloc.max_concurrency
        fits = alloc.holds(wl.batch, wl.context_tokens)
        notes.extend(alloc.notes)

        def fits_on(p: ParallelPlan) -> bool:
            return p.pp <= spec.num_layers and not p.problem(spec) and \
                m.engine(engine, p, hardware, cap).holds(wl.batch, wl.context_tokens)
    md = min_devices(fits_on)
    notes.append(f"weights in {prec.weights.name} from {prec.origin}")
    if stored_weights_bytes is not None:
        notes.append(f"weights: {stored_weights_bytes:,.0f} bytes read from the checkpoint's headers "
                     "(exact); the per-device split follows the config's tensor layout")
    if spec.max_position_embeddings and wl.context_tokens > spec.max_position_embeddings:
        notes.append(f"context {wl.context_tokens} exceeds the model's max_position_embeddings "
                     f"({spec.max_position_embeddings})")
    state_seq = state_bytes_per_sequence(spec, *state_bytes_per_element(spec, prec, layout), layout=layout)
    if state_seq:
        notes.append(f"each sequence also keeps a fixed state of {state_seq:,.0f} bytes in its Mamba / "
                     "linear-attention layers (state_cache; split over tp), whatever its length")
    if spec.sliding_window:
        notes.append(f"{spec.num_sliding_layers} of {spec.num_layers} layers slide over a window of "
                     f"{spec.sliding_window} tokens")
    pc = _params(spec)
    factors = led.factors + (alloc.factors if alloc is not None else ())
    return FitResult(
        schema_version=SCHEMA_VERSION, engine=engine.engine,
        model=ModelSummary(spec.name, spec.model_type, spec.source, pc.total, pc.active),
        hardware=HardwareSummary(hardware.name, hardware.id, hardware.memory_bytes, hardware.source_of("memory_bytes"),
                                 hardware.usable_memory_bytes, cap, basis),
        workload=wl, plan=plan,
        precision=PrecisionSummary(prec.weights.name, prec.weights.bits_per_element, prec.unquantized.name,
                                   tuple(sorted(prec.keep)), prec.kv.name, prec.activations.name, prec.origin),
        kv_layout=layout,
        memory=MemoryTotals(led.weights_bytes, led.kv_cache_bytes, led.activations_bytes, led.overhead_bytes,
                            led.total_bytes, led.state_cache_bytes),
        per_device=PerDevice(dict(led.per_device_terms), total, cap, cap - total),
        kv_bytes_per_token=per_tok, kv_bytes_per_token_full_layers=per_tok_full, kv_bytes_per_sequence=kv_seq,
        state_bytes_per_sequence=state_seq,
        fits=fits, headroom_bytes=cap - total,
        min_devices=md[0] if md else None, min_devices_plan=md[1] if md else None,
        kv_pool_bytes=pool, max_kv_tokens=tokens, max_concurrency=conc, max_concurrent_sequences=seqs,
        engine_allocation=alloc, factors=factors, notes=tuple(notes),
        spec=spec, params=pc, accelerator=hardware, prec=prec, ledger=led,
    )


# --- the plain-values door ------------------------------------------------------------------------

@dataclass(frozen=True)
class FitRequest:
    """What a user asks, as plain values (strings and numbers from a CLI, a form or JSON)."""

    model: str
    """Preset name, config.json path, checkpoint folder or hub id."""
    gpu: str = "h100"
    weights: str | None = None
    kv_dtype: str | None = None
    batch: int | str = 1
    """Concurrent sequences, or "max" for the most that fit at the context."""
    context: int | str | None = None
    """Tokens per sequence ("8k", 8192), "max" for the longest that fits at the batch, or None:
    the engine's max_model_len when given, else min(4096, the model's maximum)."""
    tp: int = 1
    pp: int = 1
    prefill_chunk: int = 8192
    kv_convention: str = "engine"
    mla_cache: str = "latent"
    keep: str | None = None
    """Roles left unquantized, comma-separated, or "none"."""
    unquantized: str | None = None
    runtime_overhead: str | float | None = None
    """Per-device runtime overhead ("1GiB" or bytes)."""
    kv_fragmentation: float | None = None
    engine: str = "ideal"
    memory_fraction: float | None = None
    max_model_len: int | str | None = None
    max_num_batched_tokens: int | str | None = None
    max_num_seqs: int | None = None
    block_size: int | None = None
    engine_version: str | None = None


def _keep_roles(keep: str | None) -> frozenset[str] | None:
    if keep is None:
        return None
    roles = frozenset() if keep.strip().lower() == "none" else frozenset(
        k.strip().lower() for k in keep.split(",") if k.strip())
    bad = sorted(roles - set(ROLES))
    if bad:
        raise InputError(f"--keep: unknown role {bad[0]!r}; use some of {', '.join(ROLES)} or 'none'")
    return roles


def _overheads(req: FitRequest, hw: Accelerator) -> Overheads | None:
    from ridgeline.units import parse_bytes  # noqa: PLC0415

    if req.runtime_overhead is None and req.kv_fragmentation is None:
        return None  # fit() picks the device's default overheads and says so
    ov = default_overheads(hw)
    if req.runtime_overhead is not None:
        ov = Overheads(RUNTIME_OVERHEAD.with_value(parse_bytes(req.runtime_overhead, "--runtime-overhead")),
                       ov.kv_fragmentation)
    if req.kv_fragmentation is not None:
        f = req.kv_fragmentation
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 <= f < 1:
            raise InputError(f"--kv-fragmentation: must be in [0, 1), got {f}")
        ov = Overheads(ov.runtime, KV_FRAGMENTATION.with_value(float(f)))
    return ov


def stored_weights(model: str, weights: str | None) -> float | None:
    """Exact stored bytes of the weights when MODEL is a checkpoint on disk, from its headers only
    (a ``.gguf`` file with every split part, a ``.safetensors`` file, or a folder of safetensors);
    None for presets, config files and hub ids, or when --weights overrides the stored format."""
    if weights is not None:
        return None
    from ridgeline.model.load import stored_weights_bytes  # noqa: PLC0415

    return stored_weights_bytes(model)


def _tokens(v, field: str) -> int | None:
    from ridgeline.units import parse_tokens  # noqa: PLC0415

    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    return parse_tokens(v, field)


def fit_request(req: FitRequest) -> FitResult:
    """Resolve plain values into typed inputs (every default decided here) and run :func:`fit`."""
    from ridgeline.hardware.load import get_accelerator  # noqa: PLC0415
    from ridgeline.model.load import load_model  # noqa: PLC0415

    _check_values(req)
    spec = load_model(req.model)
    hw = get_accelerator(req.gpu)
    return fit_request_for(spec, hw, req, stored_weights(req.model, req.weights))


def _check_values(req: FitRequest) -> None:
    for opt, val in (("--weights", req.weights), ("--kv-dtype", req.kv_dtype), ("--keep", req.keep),
                     ("--unquantized", req.unquantized)):
        if val is not None and not str(val).strip():
            raise InputError(f"{opt}: empty value; give a value or leave the option out")


def fit_request_for(spec: ModelSpec, hw: Accelerator, req: FitRequest, stored: float | None = None) -> FitResult:
    """:func:`fit_request` for a spec and device already built (a pasted config.json or device file:
    the web page); ``stored`` is a checkpoint's exact weight bytes, if any."""
    _check_values(req)
    prec = Precision.build(spec, req.weights, req.kv_dtype, None, req.unquantized, _keep_roles(req.keep))
    eng = EngineSettings(req.engine, req.memory_fraction, _tokens(req.max_model_len, "--max-model-len"),
                         _tokens(req.max_num_batched_tokens, "--max-num-batched-tokens"), req.max_num_seqs,
                         req.block_size, req.engine_version)
    ctx_max = isinstance(req.context, str) and req.context.strip().lower() == "max"
    batch_max = isinstance(req.batch, str) and req.batch.strip().lower() == "max"
    if ctx_max and batch_max:
        raise InputError("--context max and --batch max together: fix one of them")
    if ctx_max:
        ctx = 1
    elif req.context is None or (isinstance(req.context, str) and not req.context.strip()):
        ctx = eng.max_model_len or min(DEFAULT_CONTEXT_TOKENS, spec.max_position_embeddings or DEFAULT_CONTEXT_TOKENS)
    else:
        ctx = _tokens(req.context, "--context")
    if batch_max:
        batch = 1
    elif isinstance(req.batch, str):
        batch = _tokens(req.batch, "--batch")
    else:
        batch = req.batch
    wl = InferenceWorkload(batch, ctx, req.prefill_chunk)
    plan = ParallelPlan(req.tp, req.pp)
    layout = KVLayout(req.kv_convention, req.mla_cache)
    ov = _overheads(req, hw)
    extra = []
    if ctx_max or batch_max:
        plan.check(spec)
        wl, msg = solve_max(spec, hw, wl, prec, plan, layout, ov or default_overheads(hw), stored, eng,
                            "context" if ctx_max else "batch")
        extra.append(msg)
    r = fit(spec, hw, wl, prec, plan, layout, ov, stored, eng)
    return replace(r, notes=r.notes + tuple(extra)) if extra else r


def solve_max(spec, hw, wl, prec, plan, layout, overheads, stored, eng: EngineSettings,
              what: str) -> tuple[InferenceWorkload, str]:
    """The largest context (at the batch) or batch (at the context) that fits, by bisection on
    the per-device total (monotonic in both). Returns the workload and a note."""
    m = _Model(spec, prec, layout, overheads, stored)
    cap = hw.usable_bytes

    def make(n: int) -> InferenceWorkload:
        return replace(wl, context_tokens=n) if what == "context" else replace(wl, batch=n)

    if eng.engine == "ideal":
        def ok(n: int) -> bool:
            return m.device_bytes(make(n), plan) <= cap
    else:
        a = m.engine(eng, plan, hw, cap)

        def ok(n: int) -> bool:
            w = make(n)
            return a.holds(w.batch, w.context_tokens)
    hi_bound = (spec.max_position_embeddings or MAX_SIZE) if what == "context" else MAX_SIZE
    if not ok(1):
        return make(1), f"--{what} max: not even 1 fits on this plan"
    lo, hi = 1, 2
    while hi <= hi_bound and ok(hi):
        lo, hi = hi, hi * 2
    hi = min(hi, hi_bound + 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    bound = " (the model's max_position_embeddings)" if what == "context" and lo == hi_bound else ""
    return make(lo), f"--{what} max: {lo:,} is the largest {what} that fits{bound}"
