"""One door for ``infer`` questions asked as plain values (the CLI's options, the web page's query).

Every default and every parse of the user's text is decided here, so ``ridgeline infer ... --json``
and ``/api/infer?...`` give the same object: the CLI and the web only parse their own syntax into
an :class:`InferRequest` and show the :class:`InferOutcome`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ridgeline.analyses.infer import (InferResult, bound_sentence, explain, infer, infer_dict, infer_rows,
                                      max_batch)
from ridgeline.errors import InputError
from ridgeline.hardware.spec import Accelerator
from ridgeline.model.spec import ModelSpec

SWEEP_VARS = ("batch", "prompt", "gen", "tp", "gpu")
MAX_SWEEP_VALUES = 4096


@dataclass(frozen=True)
class InferRequest:
    """What a user asks, as the text and numbers the CLI or a form gives."""

    batch: str = "1"
    """Concurrent sequences, or "max" (offline max throughput on the KV pool)."""
    prompt: str = "1024"
    gen: str = "128"
    tp: int = 1
    pp: int = 1
    ep: int = 1
    attention_dp: bool = False
    weights: str | None = None
    kv_dtype: str | None = None
    act_dtype: str | None = None
    mla_path: str = "absorbed"
    engine: str = "ideal"
    engine_version: str | None = None
    memory_fraction: float | None = None
    eff_memory: float | None = None
    eff_gemm: float | None = None
    step_overhead: str | None = None
    sweep: str | None = None
    """VAR=V1,V2,... or VAR=LO:HI (powers of 2), VAR in SWEEP_VARS."""
    explain: bool = False


@dataclass
class InferOutcome:
    """A single estimate, or a sweep (one row per value)."""

    result: InferResult | None = None
    """The estimate, or the array result of a batch/prompt/gen sweep (None for tp/gpu sweeps)."""
    sweep_var: str | None = None
    sweep_values: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    json: dict = field(default_factory=dict)
    """What ``--json`` prints."""


def parse_batch(text: str) -> int:
    """--batch: a whole number of concurrent sequences (or 'max', handled by the caller)."""
    try:
        value = int(str(text).strip())
    except ValueError:
        raise InputError(f"--batch: expected a whole number of sequences or 'max', got {str(text)[:40]!r}") from None
    if not 1 <= value <= 10**7:
        raise InputError(f"--batch: must be from 1 to 10,000,000 sequences, got {value}")
    return value


def parse_sweep(text: str) -> tuple[str, list[str]]:
    """``VAR=V1,V2,...`` or ``VAR=LO:HI`` (powers of two from LO to HI)."""
    from ridgeline.units import parse_tokens  # noqa: PLC0415

    var, sep, vals = text.partition("=")
    var = var.strip().lower()
    if not sep or var not in SWEEP_VARS:
        raise InputError(f"--sweep: expected VAR=V1,V2,... with VAR one of {', '.join(SWEEP_VARS)}; "
                         f"got {text[:80]!r}")
    if ":" in vals and var != "gpu":
        lo_s, _, hi_s = vals.partition(":")
        lo, hi = parse_tokens(lo_s, "--sweep"), parse_tokens(hi_s, "--sweep")
        if lo < 1 or hi < lo or hi > 2**24:
            raise InputError(f"--sweep: range {vals[:40]!r} must go up from at least 1 to at most {2**24}")
        out, v = [], lo
        while v <= hi:
            out.append(str(v))
            v *= 2
        return var, out
    items = [v.strip() for v in vals.split(",") if v.strip()]
    if not items or len(items) > MAX_SWEEP_VALUES:
        raise InputError(f"--sweep: give 1 to {MAX_SWEEP_VALUES} values for {var}, e.g. {var}=1,2,4 or "
                         f"{var}=1:1024 (powers of 2)")
    return var, items


def run_infer_request(spec: ModelSpec, hardware: Accelerator, req: InferRequest,
                      get_gpu: Callable[[str], Accelerator] | None = None,
                      max_loop_values: int = MAX_SWEEP_VALUES) -> InferOutcome:
    """Answer ``req`` for a loaded model and device. ``get_gpu`` resolves names in a gpu sweep
    (the web passes a name-only resolver); ``max_loop_values`` bounds tp/gpu sweeps, which run one
    estimate per value."""
    from ridgeline.analyses.engines import EngineSettings  # noqa: PLC0415
    from ridgeline.units import parse_seconds, parse_tokens  # noqa: PLC0415
    from ridgeline.workload import ParallelPlan, Precision  # noqa: PLC0415

    if get_gpu is None:
        from ridgeline.hardware.load import get_accelerator as get_gpu  # noqa: PLC0415
    S = parse_tokens(req.prompt, "--prompt")
    G = parse_tokens(req.gen, "--gen")
    if req.mla_path not in ("absorbed", "naive"):
        raise InputError(f"--mla-path: unknown {req.mla_path!r}; use absorbed or naive")
    prec = Precision.build(spec, req.weights, req.kv_dtype, req.act_dtype)
    over: dict[str, float] = {}
    for name, v in (("memory", req.eff_memory), ("gemm", req.eff_gemm)):
        if v is not None:
            if not 0 < v <= 1:
                raise InputError(f"--eff-{name}: must be in (0, 1], got {v}")
            over[name] = v
    if req.step_overhead is not None:
        over["step_overhead"] = parse_seconds(req.step_overhead, "--step-overhead")
    base, profile_note = _profile_efficiencies(hardware)
    eff = base.override(**over) if over else base
    eng = EngineSettings(req.engine, req.memory_fraction, None, None, None, None, req.engine_version)
    offline = str(req.batch).strip().lower() == "max"

    def plan_for(t: int) -> ParallelPlan:
        return ParallelPlan(t, req.pp, req.ep if req.ep == 1 else t, req.attention_dp)

    def batch_and_budget(h: Accelerator, pl: ParallelPlan) -> tuple[int, int | None]:
        if not offline:
            return parse_batch(req.batch), None
        lim = max_batch(spec, h, S, G, prec, pl, eng)
        if lim.batch < 1:
            raise InputError(f"--batch max: not even one request of {S + G:,} tokens fits on {pl.devices} x "
                             f"{h.name} ({lim.why}); raise --tp/--pp or shorten --prompt/--gen")
        return lim.batch, lim.max_step_tokens

    if req.sweep:
        var, vals = parse_sweep(req.sweep)
        out = InferOutcome(sweep_var=var, sweep_values=vals)
        if var in ("tp", "gpu"):
            if len(vals) > max_loop_values:
                raise InputError(f"--sweep: at most {max_loop_values} values of {var} here (each is a separate "
                                 f"estimate); got {len(vals)}")
            for v in vals:
                if var == "tp" and not v.isdigit():
                    raise InputError(f"--sweep: tp values are whole numbers, got {v[:40]!r}")
                h = get_gpu(v) if var == "gpu" else hardware
                pl = plan_for(int(v)) if var == "tp" else plan_for(req.tp)
                b, budget = batch_and_budget(h, pl)
                out.rows.append(infer_dict(infer(spec, h, b, S, G, prec, pl, eff, req.mla_path, offline, budget)))
        else:
            arr = np.array([parse_tokens(v, "--sweep") for v in vals], dtype=float)
            if np.any(arr < 1):
                raise InputError(f"--sweep: {var} values must be at least 1")
            pl = plan_for(req.tp)
            b, budget = batch_and_budget(hardware, pl)
            kw = {"batch": arr if var == "batch" else b, "prompt_tokens": arr if var == "prompt" else S,
                  "gen_tokens": arr if var == "gen" else G}
            out.result = infer(spec, hardware, prec=prec, plan=pl, eff=eff, mla_path=req.mla_path,
                               offline=offline, max_step_tokens=budget, **kw)
            out.rows = infer_rows(out.result)
        out.json = {"schema_version": 1, "sweep": var, "values": vals, "results": out.rows}
        return out
    plan = plan_for(req.tp)
    b, budget = batch_and_budget(hardware, plan)
    r = infer(spec, hardware, b, S, G, prec, plan, eff, req.mla_path, offline, budget)
    d = infer_dict(r)
    if profile_note:
        d["notes"].append(profile_note)
    d["bound_reason"] = bound_sentence(r)
    if req.explain:
        d["explain"] = explain(r)
    return InferOutcome(result=r, json=d)


def _profile_efficiencies(hardware: Accelerator):
    """The measured factors when the device is a profile written by ``ridgeline measure`` (its
    [measured] table), else the defaults: a measured machine's own achieved rates, per-layer
    overhead and cache behaviour are what a prediction for that machine should use."""
    from ridgeline.timing import Efficiencies  # noqa: PLC0415

    origin = hardware.origin or ""
    if not origin.endswith((".toml", ".json")) or origin.startswith("hardware/data/"):
        return Efficiencies(), None
    try:
        from ridgeline.measure.profile import efficiencies_from_profile, read_measured  # noqa: PLC0415

        m = read_measured(origin)
    except InputError:
        return Efficiencies(), None  # a hand-written hardware file: datasheet peaks, default factors
    return efficiencies_from_profile(m), f"factors measured by `ridgeline measure` ({origin})"


def kv_room(spec: ModelSpec, hardware: Accelerator, req: InferRequest) -> int:
    """The most sequences of prompt + gen tokens the KV pool holds (drawn on the sweep plot)."""
    from ridgeline.analyses.engines import EngineSettings  # noqa: PLC0415
    from ridgeline.units import parse_tokens  # noqa: PLC0415
    from ridgeline.workload import ParallelPlan, Precision  # noqa: PLC0415

    S, G = parse_tokens(req.prompt, "--prompt"), parse_tokens(req.gen, "--gen")
    prec = Precision.build(spec, req.weights, req.kv_dtype, req.act_dtype)
    plan = ParallelPlan(req.tp, req.pp, req.ep if req.ep == 1 else req.tp, req.attention_dp)
    eng = EngineSettings(req.engine, req.memory_fraction, None, None, None, None, req.engine_version)
    return max_batch(spec, hardware, S, G, prec, plan, eng).batch
