"""``ridgeline fleet``: from a token demand to replicas, devices, power, energy and cost (or back).

One replica is ``tp x pp`` devices serving requests of S prompt and G generated tokens. Its
throughput comes from :func:`ridgeline.analyses.infer.infer`: offline continuous batching at the
largest batch the KV room holds (``infer --batch max``), or, under a TTFT/TPOT target, the batch
with the most output tokens per second among those meeting it (fixed-batch semantics, as
``vllm bench latency`` runs it: the B prompts prefill together, so TTFT is a burst's worst case).
Prefill and decode are both in that throughput (a request's S prompt tokens are processed with its
G output tokens), so the input/output mix matters through S and G.

    requests/day     = tokens/day / (S + G)            (or given)
    output rate      = requests/day x G / 86,400 s x peak_to_average
    replicas         = ceil(output rate / replica output tokens/s)
    devices          = replicas x tp x pp
    IT power         = devices x TDP x host_overhead x utilisation
    facility power   = IT power x PUE
    energy / token   = facility power x 86,400 s / tokens per day
    cost / day       = devices x 24 h x price per device-hour   (or capex / amortisation + energy)

The inverse (``power_w``): a site of P watts holds floor(P / PUE / per-device power) devices, whole
replicas of them, and serves replicas x replica rate / peak_to_average output tokens per second.
Every factor is named and sourced (ridgeline.analyses.fleet_factors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ridgeline.errors import InputError
from ridgeline.factors import Factor
from ridgeline.hardware.spec import Accelerator
from ridgeline.model.spec import ModelSpec
from ridgeline.timing import Efficiencies
from ridgeline.workload import ParallelPlan, Precision

from . import fleet_factors as ff

SECONDS_PER_DAY = 86_400.0
HOURS_PER_DAY = 24.0
DAYS_PER_YEAR = 365.0
#: Batch sizes tried under an SLO: every integer up to this, geometric beyond.
MAX_SLO_BATCHES = 4096


@dataclass(frozen=True)
class Replica:
    """One serving replica at the chosen configuration."""

    hardware: Accelerator
    plan: ParallelPlan
    batch: int
    offline: bool
    """True: offline continuous batching at the largest batch that fits (no SLO)."""
    max_batch: int
    """Most sequences of S + G tokens the KV room holds on this plan."""
    prompt_tokens: int
    gen_tokens: int
    output_tokens_per_s: float
    """Output tokens per second of the whole replica (prefill of their prompts included)."""
    ttft_s: float
    tpot_s: float
    bound: str
    slo_ttft_s: float | None = None
    slo_tpot_s: float | None = None
    efficiencies: tuple[Factor, ...] = ()
    """The time model's factors behind the throughput (ridgeline.timing.Efficiencies)."""

    @property
    def devices(self) -> int:
        return self.plan.tp * self.plan.pp

    @property
    def output_tokens_per_s_per_device(self) -> float:
        return self.output_tokens_per_s / self.devices


@dataclass(frozen=True)
class FleetFactors:
    pue: Factor = ff.PUE
    utilisation: Factor = ff.POWER_UTILISATION
    host_overhead: Factor = ff.HOST_OVERHEAD
    peak_to_average: Factor = ff.PEAK_TO_AVERAGE
    price_per_gpu_hour: Factor | None = None
    capex_per_device: Factor | None = None
    amortisation_years: Factor = ff.AMORTISATION_YEARS
    electricity_price: Factor | None = None
    """USD per kWh, used with capex."""
    device_power: Factor | None = None
    """Accelerator power (W) when the data file has no TDP, or to override it."""

    def used(self) -> tuple[Factor, ...]:
        out = [self.peak_to_average, self.utilisation, self.host_overhead, self.pue]
        if self.device_power is not None:
            out.append(self.device_power)
        if self.capex_per_device is not None:
            out += [self.capex_per_device, self.amortisation_years]
            if self.electricity_price is not None:
                out.append(self.electricity_price)
        elif self.price_per_gpu_hour is not None:
            out.append(self.price_per_gpu_hour)
        return tuple(out)


@dataclass(frozen=True)
class FleetSize:
    """Demand, fleet, power and cost; array fields when the demand is an array (years of growth)."""

    requests_per_day: object
    tokens_per_day: object
    """Prompt + generated tokens per day."""
    input_tokens_per_day: object
    output_tokens_per_day: object
    peak_output_tokens_per_s: object
    """Output tokens per second the fleet must sustain (average x peak_to_average)."""
    replicas: object
    devices: object
    fleet_utilisation: object
    """Demand at peak / capacity of the whole replicas (below 1 after rounding up)."""
    device_power_w: float | None
    """Wall power per accelerator slot: TDP x host_overhead x utilisation."""
    it_power_w: object
    facility_power_w: object
    energy_per_day_j: object
    energy_per_million_tokens_j: object
    energy_per_million_output_tokens_j: object
    cost_per_day: object
    """USD per day; None without a price."""
    cost_per_million_tokens: object
    cost_per_million_output_tokens: object


@dataclass(frozen=True)
class FleetResult:
    spec: ModelSpec
    replica: Replica
    factors: FleetFactors
    mode: str
    """"demand" (sized for a demand) or "power" (what a site of power_w serves)."""
    size: FleetSize
    site_power_w: float | None = None
    growth_per_year: float | None = None
    years: tuple[int, ...] = ()
    """With growth: year k (0 = now) of every array field of ``years_size``."""
    years_size: FleetSize | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def device_power_w(hw: Accelerator, f: FleetFactors) -> float | None:
    """Wall power per accelerator: its TDP (or the override) x host overhead x utilisation."""
    tdp = f.device_power.value if f.device_power is not None else hw.tdp_w
    if tdp is None:
        return None
    return tdp * f.host_overhead.value * f.utilisation.value


def _cost_per_day(devices, facility_power_w, f: FleetFactors):
    if f.capex_per_device is not None:
        c = devices * f.capex_per_device.value / (f.amortisation_years.value * DAYS_PER_YEAR)
        if f.electricity_price is not None and facility_power_w is not None:
            c = c + facility_power_w * HOURS_PER_DAY / 1e3 * f.electricity_price.value  # W x h / 1000 = kWh
        return c
    if f.price_per_gpu_hour is not None:
        return devices * HOURS_PER_DAY * f.price_per_gpu_hour.value
    return None


def _size(replica: Replica, f: FleetFactors, requests_per_day, replicas) -> FleetSize:
    S, G = replica.prompt_tokens, replica.gen_tokens
    req = np.asarray(requests_per_day, dtype=np.float64)
    out_day = req * G
    tokens_day = req * (S + G)
    peak = out_day / SECONDS_PER_DAY * f.peak_to_average.value
    replicas = np.asarray(replicas, dtype=np.int64)
    devices = replicas * replica.devices
    capacity = replicas * replica.output_tokens_per_s
    util = np.divide(peak, capacity, out=np.zeros_like(peak), where=capacity > 0)
    pw = device_power_w(replica.hardware, f)
    it = devices * pw if pw is not None else None
    fac = it * f.pue.value if it is not None else None
    energy = fac * SECONDS_PER_DAY if fac is not None else None
    per_m = lambda x, d: None if x is None else np.divide(x * 1e6, d, out=np.full_like(d, np.nan), where=d > 0)  # noqa: E731
    cost = _cost_per_day(devices, fac, f)
    o = lambda x: None if x is None else (x.item() if np.ndim(x) == 0 else x)  # noqa: E731
    return FleetSize(
        requests_per_day=o(req), tokens_per_day=o(tokens_day), input_tokens_per_day=o(req * S),
        output_tokens_per_day=o(out_day), peak_output_tokens_per_s=o(peak), replicas=o(replicas), devices=o(devices),
        fleet_utilisation=o(util), device_power_w=pw, it_power_w=o(it), facility_power_w=o(fac),
        energy_per_day_j=o(energy), energy_per_million_tokens_j=o(per_m(energy, tokens_day)),
        energy_per_million_output_tokens_j=o(per_m(energy, out_day)), cost_per_day=o(cost),
        cost_per_million_tokens=o(per_m(cost, tokens_day)), cost_per_million_output_tokens=o(per_m(cost, out_day)),
    )


def replicas_for(replica: Replica, f: FleetFactors, requests_per_day):
    """Whole replicas that sustain the peak output rate of ``requests_per_day`` (array-friendly)."""
    peak = np.asarray(requests_per_day, dtype=np.float64) * replica.gen_tokens / SECONDS_PER_DAY * f.peak_to_average.value
    return np.ceil(peak / replica.output_tokens_per_s - 1e-9).astype(np.int64)


def size_for_demand(spec: ModelSpec, replica: Replica, f: FleetFactors, *, tokens_per_day: float | None = None,
                    requests_per_day: float | None = None, growth_per_year: float | None = None,
                    years: int = 0) -> FleetResult:
    """The fleet for a demand of tokens (prompt + generated) or requests per day."""
    if (tokens_per_day is None) == (requests_per_day is None):
        raise InputError("fleet: give exactly one of --tokens-per-day, --requests-per-day or --power")
    S, G = replica.prompt_tokens, replica.gen_tokens
    req = requests_per_day if requests_per_day is not None else tokens_per_day / (S + G)
    _positive(req, "--tokens-per-day" if tokens_per_day is not None else "--requests-per-day")
    size = _size(replica, f, req, replicas_for(replica, f, req))
    notes = _notes(replica, f)
    yrs, ysize = (), None
    if growth_per_year is not None:
        if not (growth_per_year > 0 and math.isfinite(growth_per_year)):
            raise InputError(f"--growth: must be a positive factor per year (e.g. 2 or 2x), got {growth_per_year!r}")
        if not 1 <= years <= 50:
            raise InputError(f"--years: give 1 to 50 years of growth, got {years}")
        yrs = tuple(range(years + 1))
        reqs = req * growth_per_year ** np.arange(years + 1, dtype=np.float64)
        ysize = _size(replica, f, reqs, replicas_for(replica, f, reqs))
    return FleetResult(spec, replica, f, "demand", size, None, growth_per_year, yrs, ysize, tuple(notes))


def size_for_power(spec: ModelSpec, replica: Replica, f: FleetFactors, site_power_w: float) -> FleetResult:
    """What a site of ``site_power_w`` (facility power, PUE included) serves per day."""
    _positive(site_power_w, "--power")
    pw = device_power_w(replica.hardware, f)
    if pw is None:
        raise InputError(f"--power: {replica.hardware.name} has no TDP in its data file; pass --device-power W")
    devices = math.floor(site_power_w / f.pue.value / pw + 1e-9)
    replicas = devices // replica.devices
    peak_rate = replicas * replica.output_tokens_per_s
    req = peak_rate / f.peak_to_average.value * SECONDS_PER_DAY / replica.gen_tokens
    size = _size(replica, f, req, replicas)
    notes = _notes(replica, f)
    if replicas == 0:
        notes.append(f"{site_power_w:g} W does not power one replica of {replica.devices} devices")
    return FleetResult(spec, replica, f, "power", size, site_power_w, notes=tuple(notes))


def _positive(v, name: str) -> None:
    if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
        raise InputError(f"{name}: must be a positive number, got {v!r}")


def _notes(replica: Replica, f: FleetFactors) -> list[str]:
    notes = []
    if replica.offline:
        notes.append(f"throughput: offline continuous batching at batch {replica.batch} (the most sequences of "
                     f"{replica.prompt_tokens + replica.gen_tokens:,} tokens the KV room holds); no latency target")
    else:
        notes.append(f"throughput: batch {replica.batch} of 1..{replica.max_batch}, the most output tokens/s meeting "
                     "the latency target (fixed-batch semantics: TTFT prefills the batch's prompts together)")
    if device_power_w(replica.hardware, f) is None:
        notes.append(f"{replica.hardware.name}: no TDP in its data file; power and energy not computed "
                     "(pass --device-power W)")
    if f.price_per_gpu_hour is None and f.capex_per_device is None:
        notes.append(f"no dated price for {replica.hardware.id}; cost not computed (pass --price-per-gpu-hour or --capex)")
    if f.capex_per_device is not None and f.electricity_price is None:
        notes.append("capex cost excludes electricity (pass --electricity-price USD/kWh)")
    return notes


def max_batch(spec: ModelSpec, hw: Accelerator, prompt_tokens: int, gen_tokens: int, prec: Precision,
              plan: ParallelPlan) -> int:
    """Most sequences of S + G tokens whose KV fits beside the weights (ridgeline fit, ideal ledger)."""
    from ridgeline.analyses.fit import fit  # noqa: PLC0415
    from ridgeline.workload import InferenceWorkload  # noqa: PLC0415

    ctx = prompt_tokens + gen_tokens
    f = fit(spec, hw, InferenceWorkload(1, ctx, min(8192, ctx)), prec, plan)
    if f.max_concurrent_sequences < 1:
        raise InputError(f"fleet: not even one sequence of {ctx:,} tokens fits beside the weights on {plan.devices} x "
                         f"{hw.name}; raise --tp/--pp or shorten --prompt/--gen", field="--tp")
    return int(f.max_concurrent_sequences)


def default_plan(spec: ModelSpec, hw: Accelerator, prompt_tokens: int, gen_tokens: int, prec: Precision) -> ParallelPlan:
    """The fewest devices (tp first, then pp) on which one sequence fits: ridgeline fit's min_devices."""
    from ridgeline.analyses.fit import fit  # noqa: PLC0415
    from ridgeline.workload import InferenceWorkload  # noqa: PLC0415

    ctx = prompt_tokens + gen_tokens
    f = fit(spec, hw, InferenceWorkload(1, ctx, min(8192, ctx)), prec)
    if f.min_devices_plan is None:
        raise InputError(f"fleet: {spec.name} does not fit on any plan of up to the search limit of {hw.name}; "
                         "pass --tp and --pp", field="--tp")
    return f.min_devices_plan


def choose_replica(spec: ModelSpec, hw: Accelerator, prompt_tokens: int, gen_tokens: int, prec: Precision,
                   plan: ParallelPlan, eff: Efficiencies | None = None, ttft_s: float | None = None,
                   tpot_s: float | None = None) -> Replica:
    """The replica's throughput: offline at the largest batch, or the best batch meeting the SLO."""
    from ridgeline.analyses.infer import infer  # noqa: PLC0415

    S, G = prompt_tokens, gen_tokens
    eff = eff or Efficiencies()
    bmax = max_batch(spec, hw, S, G, prec, plan)
    if ttft_s is None and tpot_s is None:
        r = infer(spec, hw, bmax, S, G, prec, plan, eff, offline=True)
        return Replica(hw, plan, bmax, True, bmax, S, G, float(r.output_tokens_per_s), float(r.ttft_s),
                       float(r.tpot_s), str(r.bound), efficiencies=eff.factors())
    for v, name in ((ttft_s, "--ttft"), (tpot_s, "--tpot")):
        if v is not None:
            _positive(v, name)
    if bmax <= MAX_SLO_BATCHES:
        B = np.arange(1, bmax + 1, dtype=np.float64)
    else:
        B = np.unique(np.round(np.geomspace(1, bmax, MAX_SLO_BATCHES)))
    r = infer(spec, hw, B, S, G, prec, plan, eff)
    ttft, tpot, tps = np.atleast_1d(r.ttft_s), np.atleast_1d(r.tpot_s), np.atleast_1d(r.output_tokens_per_s)
    ok = np.ones_like(B, dtype=bool)
    if ttft_s is not None:
        ok &= ttft <= ttft_s
    if tpot_s is not None:
        ok &= tpot <= tpot_s
    if not ok.any():
        what = []
        if ttft_s is not None:
            what.append(f"TTFT {ttft[0] * 1e3:.3g} ms")
        if tpot_s is not None:
            what.append(f"TPOT {tpot[0] * 1e3:.3g} ms")
        raise InputError(f"--ttft/--tpot: no batch on {plan.devices} x {hw.name} meets the target; batch 1 gives "
                         f"{' and '.join(what)}; relax the target or raise --tp", field="--tpot" if tpot_s else "--ttft")
    i = int(np.argmax(np.where(ok, tps, -np.inf)))
    bounds = np.atleast_1d(r.bound)
    return Replica(hw, plan, int(B[i]), False, bmax, S, G, float(tps[i]), float(ttft[i]), float(tpot[i]),
                   str(bounds[i]), ttft_s, tpot_s, eff.factors())


def _val(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


def size_dict(s: FleetSize) -> dict:
    return {k: _val(v) for k, v in s.__dict__.items()}


def fleet_dict(r: FleetResult) -> dict:
    """The ``--json`` object: SI units (W, J, s), USD for cost."""
    rp = r.replica
    out = {
        "schema_version": 1, "mode": r.mode,
        "model": {"name": r.spec.name, "model_type": r.spec.model_type},
        "hardware": {"id": rp.hardware.id, "name": rp.hardware.name, "tdp_w": rp.hardware.tdp_w},
        "plan": {"tp": rp.plan.tp, "pp": rp.plan.pp, "ep": rp.plan.ep, "devices_per_replica": rp.devices},
        "prompt_tokens": rp.prompt_tokens, "gen_tokens": rp.gen_tokens, "batch": rp.batch, "max_batch": rp.max_batch,
        "offline": rp.offline, "slo": {"ttft_s": rp.slo_ttft_s, "tpot_s": rp.slo_tpot_s},
        "ttft_s": rp.ttft_s, "tpot_s": rp.tpot_s, "bound": rp.bound,
        "output_tokens_per_s_per_replica": rp.output_tokens_per_s,
        "output_tokens_per_s_per_device": rp.output_tokens_per_s_per_device,
        "site_power_w": r.site_power_w,
    }
    out |= size_dict(r.size)
    if r.years_size is not None:
        out["growth_per_year"] = r.growth_per_year
        out["years"] = [{"year": y} | {k: (v[i] if isinstance(v, list) else v) for k, v in size_dict(r.years_size).items()}
                        for i, y in enumerate(r.years)]
    out["factors"] = [f.to_dict() for f in (*r.factors.used(), *rp.efficiencies)]
    out["notes"] = list(r.notes)
    return out


_SI = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9, "t": 1e12, "p": 1e15}


def parse_amount(text: str, field: str, unit: str = "") -> float:
    """A positive number with an optional decimal SI prefix: ``480T``, ``1.5e12``, ``5GW`` (unit ``W``).

    ``M`` and ``m`` both mean 10^6 here (a demand is never in thousandths); ``B`` = ``G`` = 10^9.

    >>> parse_amount("480T", "--tokens-per-day")
    480000000000000.0
    >>> parse_amount("5 GW", "--power", "W")
    5000000000.0
    """
    import re  # noqa: PLC0415

    s = str(text).strip()
    pat = r"^([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*([kmgbtp]?)\s*" + (re.escape(unit.lower()) + "?" if unit else "") + r"$"
    m = re.match(pat, s.lower()) if len(s) <= 100 else None
    if not m:
        ex = "5GW, 500MW or 1e9" if unit == "W" else "1e12, 480T or 2.5B"
        raise InputError(f"{field}: cannot read {s[:40]!r} as a number; write e.g. {ex}")
    v = float(m.group(1)) * _SI[m.group(2)]
    if not math.isfinite(v) or v <= 0 or v > 1e24:
        raise InputError(f"{field}: {s[:40]!r} must be a positive finite number (at most 1e24)")
    return v


def parse_growth(text: str) -> float:
    """A growth factor per year: ``2``, ``2x``, ``50x``, ``1.6x``."""
    s = str(text).strip().lower().removesuffix("/yr").removesuffix("x").strip()
    try:
        v = float(s)
    except ValueError:
        raise InputError(f"--growth: cannot read {str(text)[:40]!r}; give a factor per year such as 2x or 1.5") from None
    if not (math.isfinite(v) and 0 < v <= 1e6):
        raise InputError(f"--growth: must be a positive factor per year (e.g. 2x), got {str(text)[:40]!r}")
    return v
