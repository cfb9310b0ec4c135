"""``ridgeline plan``: the cheapest deployment that meets a latency SLO, by exhaustive search.

The space: device types x layouts (tp, pp, ep) x weight and KV formats x engine profiles x every
batch from 1 to what the KV pool (and the engine's ``max_num_seqs``) holds. The operator table is
built once per (model, precision, layout); every batch of a candidate is then one column of one
vectorized roofline evaluation (ridgeline.timing.Roofline.step), so a candidate of 1,000 batches
costs about as much as one Python call.

Serving semantics are ``ridgeline infer``'s (fixed batch, see ridgeline.analyses.infer): B prompts
of S tokens are prefilled together (TTFT), then G - 1 decode steps at the mean context give TPOT;
a replica of tp x pp devices delivers B*G / e2e output tokens/s. Every figure a plan reports is
what ``infer`` returns for that configuration (tests/test_plan.py checks it).

Disaggregated serving (``disagg=True``): a prefill pool and a decode pool, each with its own
device type and layout, sharing the weight and KV formats. A prefill replica of batch Bp serves
Bp requests per prefill step; a decode replica of batch Bd makes Bd tokens per decode step. The
KV of each prompt (S tokens, every layer) crosses the scale-out network from the prefill devices
to the decode devices and its time is added to TTFT:
``kv_transfer_s = latency + kv_bytes / (min(prefill devices x NIC, decode devices x NIC) x eff.link)``.

Cost: devices x price per device-hour (ridgeline.analyses.plan_prices; overridable). With a
demand (output tokens/s), replicas = ceil(demand / replica throughput) and the cost per million
tokens is the deployment's dollars per hour over the demand; without one, it is a fully loaded
replica's. Power is devices x TDP (an upper bound: the data files' thermal design power).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ridgeline.analyses.plan_prices import DevicePrice, PriceOverride, price_for
from ridgeline.analyses.plan_space import LinearStep, evaluate, kv_capacity, layouts
from ridgeline.errors import InputError
from ridgeline.hardware.spec import Accelerator
from ridgeline.model.spec import ModelSpec
from ridgeline.timing import Efficiencies
from ridgeline.workload import ParallelPlan, Precision

OBJECTIVES = ("cost", "devices", "power", "throughput")
#: Upper bound of the batch search per replica when no engine caps it: a search bound, not a
#: claim about engines (vLLM's default max_num_seqs is 1024 on big devices, see analyses/engines.py).
MAX_SEARCH_BATCH = 4096
#: Prefill and decode candidates kept per format for pairing in the disaggregated search.
DISAGG_PAIR_CANDIDATES = 32
SECONDS_PER_HOUR = 3600.0
TOKENS_PER_MILLION = 1e6


@dataclass(frozen=True)
class PlanQuery:
    """What to serve, under which SLO, over which space."""

    spec: ModelSpec
    prompt_tokens: int
    gen_tokens: int
    ttft_slo_s: float
    tpot_slo_s: float
    gpus: tuple[Accelerator, ...]
    demand_output_tokens_per_s: float | None = None
    """Output tokens per second the deployment must sustain (None: rank fully loaded replicas)."""
    max_devices_per_replica: int = 8
    weights: tuple[str | None, ...] = (None, "fp8")
    """Weight formats searched (None: the checkpoint's own)."""
    kv_dtypes: tuple[str | None, ...] = (None, "fp8")
    engines: tuple[str, ...] = ("ideal",)
    objective: str = "cost"
    disagg: bool = False
    top_k: int = 5
    prices: PriceOverride = field(default_factory=PriceOverride)
    eff: Efficiencies = field(default_factory=Efficiencies)
    max_batch: int = MAX_SEARCH_BATCH
    keep_points: bool = False
    """Keep every evaluated (tokens/s per user, tokens/s per device) point for the Pareto plot."""

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise InputError(f"--objective: unknown {self.objective!r}; use one of {', '.join(OBJECTIVES)}")
        for name, v in (("--ttft", self.ttft_slo_s), ("--tpot", self.tpot_slo_s)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise InputError(f"{name}: the SLO must be a positive duration, e.g. 1s or 50ms")
        if self.prompt_tokens < 1 or self.gen_tokens < 1:
            raise InputError("--prompt/--gen: each must be at least 1 token")
        d = self.demand_output_tokens_per_s
        if d is not None and not (math.isfinite(d) and d > 0):
            raise InputError("--rate/--tokens-per-day: the demand must be positive")
        if not 1 <= self.max_devices_per_replica <= 4096:
            raise InputError("--max-gpus: give 1 to 4096 devices per replica")
        if not 1 <= self.top_k <= 1000:
            raise InputError("--top: give 1 to 1000")
        if not self.gpus:
            raise InputError("--gpu: no device to search; name at least one")


@dataclass(frozen=True)
class Pool:
    """One pool of a disaggregated deployment."""

    gpu: str
    devices_per_replica: int
    replicas: int | None
    tp: int
    pp: int
    ep: int
    batch: int
    step_time_s: float
    """Prefill step (Bp prompts) or mean decode step."""
    price_usd_per_device_hour: float | None
    cost_per_million_output_tokens: float | None
    """This pool's part of the deployment's USD per million output tokens."""


@dataclass(frozen=True)
class PlanConfig:
    """One deployment, its latencies, throughput, devices, cost and power (SI units, USD)."""

    mode: str
    """"aggregated" or "disaggregated" (then gpu/tp/pp/ep/batch describe the decode pool)."""
    gpu: str
    gpu_name: str
    devices: int
    """Devices for the demand (all replicas, both pools); one replica's (pair's) without a demand."""
    devices_per_replica: int
    replicas: int | None
    tp: int
    pp: int
    ep: int
    batch: int
    weights: str
    kv_dtype: str
    engine: str
    ttft_s: float
    tpot_s: float
    ttft_margin: float
    """1 - ttft_s / SLO: the share of the TTFT budget left."""
    tpot_margin: float
    output_tokens_per_s_per_device: float
    tokens_per_s_per_user: float
    """1 / tpot_s."""
    output_tokens_per_s_per_replica: float
    cost_per_million_output_tokens: float | None
    """USD per million output (generated) tokens."""
    cost_per_million_tokens: float | None
    """USD per million tokens processed, prompt + generated (what ``ridgeline fleet`` calls tokens):
    cost_per_million_output_tokens x G / (S + G)."""
    usd_per_hour: float | None
    price_usd_per_device_hour: float | None
    price_source: str
    power_w: float | None
    """Devices x TDP."""
    batch_limit: str
    """What stops a larger batch: "TTFT SLO", "TPOT SLO", "KV pool", "engine max_num_seqs", "search bound",
    "objective" (a larger batch is feasible but ranks worse) or "replica rounding" (a larger batch is feasible
    but needs as many replicas for the demand, so it gains nothing)."""
    prefill: Pool | None = None
    decode: Pool | None = None
    kv_transfer_s: float | None = None
    attention_dp: bool = False
    """Attention data-parallel over the tp group, experts expert-parallel (``infer --attention-dp``)."""
    prefill_decode_device_ratio: float | None = None
    """Devices in the prefill pool per device in the decode pool."""


@dataclass(frozen=True)
class PlanResult:
    query_summary: dict
    configs: tuple[PlanConfig, ...]
    """Top K meeting the SLO, best first."""
    feasible: bool
    why_best: str
    nearest_miss: PlanConfig | None
    """When nothing meets the SLO: the configuration closest to it (smallest max(TTFT/SLO, TPOT/SLO))."""
    to_make_feasible: tuple[str, ...]
    configs_evaluated: int
    """Aggregated configurations (candidate x batch) plus disaggregated pairs x prefill batches rated."""
    configs_evaluated_aggregated: int
    configs_evaluated_disaggregated: int
    candidates: int
    search_time_s: float
    notes: tuple[str, ...]
    points: dict | None = None
    """For the Pareto plot: gpu id -> (tokens/s per user, tokens/s per device, meets the TTFT SLO) arrays of
    every aggregated configuration evaluated (keep_points)."""


# --- ranking ---------------------------------------------------------------------------------------

@dataclass
class _Cand:
    hw: Accelerator
    price: DevicePrice | None
    prec: Precision
    plan: ParallelPlan
    engine: str
    bmax: int
    limit: str
    pre: np.ndarray
    ttft: np.ndarray
    tpot: np.ndarray


def _weight(q: PlanQuery, hw: Accelerator, price: DevicePrice | None) -> float:
    """What one device-second of ``hw`` costs under the objective (USD, watts, or 1 device)."""
    if q.objective == "cost":
        return price.usd_per_device_hour / SECONDS_PER_HOUR if price else math.nan
    if q.objective == "power":
        return hw.tdp_w or math.nan
    return 1.0


def _agg_metrics(q: PlanQuery, c: _Cand, n: int) -> dict:
    """Arrays over batches 1..n of one candidate: the objective key and the reported figures."""
    G = q.gen_tokens
    B = np.arange(1, n + 1, dtype=np.float64)
    e2e = c.ttft[:n] + max(G - 1, 0) * c.tpot[:n]
    tps = B * G / e2e
    dev = c.plan.devices
    if q.demand_output_tokens_per_s:
        replicas = np.ceil(q.demand_output_tokens_per_s / tps)
        total = replicas * dev
        served = q.demand_output_tokens_per_s
    else:
        replicas, total, served = None, np.full(n, float(dev)), tps
    price = c.price.usd_per_device_hour if c.price else math.nan
    usd_h = total * price
    cost_m = usd_h / SECONDS_PER_HOUR / served * TOKENS_PER_MILLION
    power = total * (c.hw.tdp_w or math.nan)
    w = _weight(q, c.hw, c.price)
    # the objective: resource per output token/s served (the same ordering as the total at a demand)
    key = -tps / dev if q.objective == "throughput" else w * total / served
    return {"B": B, "tps": tps, "replicas": replicas, "total": total, "usd_h": usd_h, "cost_m": cost_m,
            "power": power, "key": key}


def _nan_inf(x: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(x), np.inf, x)


def _limit(q: PlanQuery, c: _Cand, i: int, feasible: np.ndarray) -> str:
    if i + 1 >= c.bmax:
        return c.limit
    if feasible[i + 1]:
        return "replica rounding" if q.demand_output_tokens_per_s else "objective"
    return "TPOT SLO" if c.tpot[i + 1] > q.tpot_slo_s else "TTFT SLO"


def _agg_config(q: PlanQuery, c: _Cand, m: dict, i: int, limit: str) -> PlanConfig:
    ttft, tpot, tps = float(c.ttft[i]), float(c.tpot[i]), float(m["tps"][i])
    total = int(m["total"][i])
    price = c.price.usd_per_device_hour if c.price else None
    fin = lambda x: float(x) if math.isfinite(x) else None  # noqa: E731
    return PlanConfig(
        mode="aggregated", gpu=c.hw.id, gpu_name=c.hw.name, devices=total, devices_per_replica=c.plan.devices,
        replicas=int(m["replicas"][i]) if m["replicas"] is not None else None,
        tp=c.plan.tp, pp=c.plan.pp, ep=c.plan.ep, batch=i + 1, weights=c.prec.weights.name, kv_dtype=c.prec.kv.name,
        engine=c.engine, ttft_s=ttft, tpot_s=tpot, ttft_margin=1 - ttft / q.ttft_slo_s,
        tpot_margin=1 - tpot / q.tpot_slo_s, output_tokens_per_s_per_device=tps / c.plan.devices,
        tokens_per_s_per_user=1 / tpot, output_tokens_per_s_per_replica=tps,
        cost_per_million_output_tokens=fin(m["cost_m"][i]),
        cost_per_million_tokens=fin(m["cost_m"][i] * q.gen_tokens / (q.prompt_tokens + q.gen_tokens)),
        usd_per_hour=fin(m["usd_h"][i]), price_usd_per_device_hour=price, attention_dp=c.plan.attention_dp,
        price_source=(f"{c.price.source}" + (f", {c.price.date}" if c.price.date else "")) if c.price else "no price",
        power_w=fin(m["power"][i]), batch_limit=limit)


def _rank_key(q: PlanQuery, cfg: PlanConfig) -> tuple:
    cost = cfg.cost_per_million_output_tokens if cfg.cost_per_million_output_tokens is not None else math.inf
    served = q.demand_output_tokens_per_s or cfg.output_tokens_per_s_per_replica
    if q.objective == "cost":
        k = cost
    elif q.objective == "devices":
        k = cfg.devices / served if q.demand_output_tokens_per_s else 1 / cfg.output_tokens_per_s_per_device
    elif q.objective == "power":
        k = (cfg.power_w if cfg.power_w is not None else math.inf) / served
    else:
        k = -cfg.output_tokens_per_s_per_device
    return (k, cost, cfg.devices, cfg.gpu, cfg.tp, cfg.pp, cfg.ep, cfg.attention_dp, cfg.weights, cfg.kv_dtype,
            cfg.engine, cfg.batch)


# --- the search ------------------------------------------------------------------------------------

def _precisions(q: PlanQuery, notes: list[str]) -> list[Precision]:
    from ridgeline.formats import get_format  # noqa: PLC0415

    for names, opt in ((q.weights, "--weights"), (q.kv_dtypes, "--kv-dtype")):
        for n in names:
            if n is not None:
                get_format(n, opt)  # an unknown name is the user's error, not a skipped candidate
    out, seen, first = [], set(), None
    for w in q.weights:
        for k in q.kv_dtypes:
            try:
                p = Precision.build(q.spec, w, k)
            except InputError as e:
                notes.append(f"skipped weights {w or 'native'} / KV {k or 'native'}: {e}")
                first = first or e
                continue
            key = (p.weights.name, p.kv.name)
            if key not in seen:
                seen.add(key)
                out.append(p)
    if not out:
        raise first
    return out


def plan(q: PlanQuery) -> PlanResult:
    """Search the space of ``q`` and rank what meets its SLO."""
    from ridgeline.analyses.plan_disagg import disagg_pairs  # noqa: PLC0415
    from ridgeline.analyses.plan_explain import explain_ranking, hints  # noqa: PLC0415

    t0 = time.perf_counter()
    notes: list[str] = []
    S, G = q.prompt_tokens, q.gen_tokens
    precs = _precisions(q, notes)
    mpe = q.spec.max_position_embeddings
    if mpe and S + G > mpe:
        notes.append(f"prompt + generation ({S + G}) exceeds the model's max_position_embeddings ({mpe})")
    best_rows: list[PlanConfig] = []
    cands: list[_Cand] = []
    evaluated = 0
    miss = (math.inf, None)
    fastest_tpot = fastest_ttft = None
    points: dict[str, list] = {}
    no_price = []
    for hw in q.gpus:
        price = price_for(hw.id, q.prices)
        if q.objective == "cost" and price is None:
            no_price.append(hw.id)
            continue
        if q.objective == "power" and not hw.tdp_w:
            notes.append(f"skipped {hw.id}: no TDP in its data file (the power objective needs it)")
            continue
        for prec in precs:
            for lay in layouts(q.spec, hw, q.max_devices_per_replica):
                caps = [(e, *kv_capacity(q.spec, hw, prec, lay, S + G, e)) for e in q.engines]
                n_all = min(max(n for _, n, _ in caps), q.max_batch)
                if n_all < 1:
                    continue
                pre, ttft, tpot = evaluate(q.spec, hw, prec, lay, np.arange(1, n_all + 1), S, G, q.eff)
                lab = (f"{hw.id} tp{lay.tp} pp{lay.pp}{f' ep{lay.ep}' if lay.ep > 1 else ''}"
                       f"{' dp-attn' if lay.attention_dp else ''} {prec.weights.name}")
                if fastest_tpot is None or tpot[0] < fastest_tpot[0]:
                    fastest_tpot = (float(tpot[0]), lab)
                if fastest_ttft is None or ttft[0] < fastest_ttft[0]:
                    fastest_ttft = (float(ttft[0]), lab)
                for engine, n, limit in caps:
                    if n > q.max_batch:
                        n, limit = q.max_batch, "search bound"
                    if n < 1:
                        continue
                    c = _Cand(hw, price, prec, lay, engine, n, limit, pre, ttft, tpot)
                    cands.append(c)
                    evaluated += n
                    m = _agg_metrics(q, c, n)
                    feas = (ttft[:n] <= q.ttft_slo_s) & (tpot[:n] <= q.tpot_slo_s)
                    viol = np.maximum(ttft[:n] / q.ttft_slo_s, tpot[:n] / q.tpot_slo_s)
                    iv = int(np.argmin(viol))
                    if viol[iv] < miss[0] and not feas.any():
                        miss = (float(viol[iv]), (c, m, iv))
                    if q.keep_points and engine == q.engines[0]:
                        points.setdefault(hw.id, []).append((1 / tpot[:n], m["tps"] / lay.devices, ttft[:n] <= q.ttft_slo_s))
                    if feas.any():
                        key = np.where(feas, _nan_inf(m["key"]), np.inf)
                        sec = np.where(feas, _nan_inf(m["cost_m"]), np.inf)
                        i = int(np.lexsort((sec, key))[0])
                        if math.isfinite(key[i]) or q.objective == "throughput":
                            best_rows.append(_agg_config(q, c, m, i, _limit(q, c, i, feas)))
    if no_price:
        notes.append("no sourced price for " + ", ".join(no_price) + ": left out of the cost search "
                     "(give one with --price-per-gpu-hour NAME=USD)")
    if not cands and no_price and len(no_price) == len(q.gpus):
        raise InputError("--price-per-gpu-hour: none of the devices searched has a sourced price; give one, e.g. "
                         f"--price-per-gpu-hour {no_price[0]}=2.5")
    n_pairs = 0
    if q.disagg:
        pairs, n_pairs = disagg_pairs(q, cands, notes)
        best_rows.extend(pairs)
    best_rows.sort(key=lambda r: _rank_key(q, r))
    top = tuple(best_rows[:q.top_k])
    feasible = bool(top)
    nearest = None
    if not feasible and miss[1] is not None:
        c, m, iv = miss[1]
        nearest = _agg_config(q, c, m, iv, "nearest miss")
    why = explain_ranking(q, best_rows) if feasible else ""
    hints_ = () if feasible else tuple(hints(q, nearest, fastest_tpot, fastest_ttft))
    pts = None
    if q.keep_points:
        pts = {k: tuple(np.concatenate([t[i] for t in v]) for i in range(3)) for k, v in points.items()}
    summary = {"model": q.spec.name, "prompt_tokens": S, "gen_tokens": G, "ttft_slo_s": q.ttft_slo_s,
               "tpot_slo_s": q.tpot_slo_s, "demand_output_tokens_per_s": q.demand_output_tokens_per_s,
               "objective": q.objective, "disagg": q.disagg, "gpus": [h.id for h in q.gpus],
               "max_devices_per_replica": q.max_devices_per_replica,
               "weights": sorted({p.weights.name for p in precs}), "kv_dtypes": sorted({p.kv.name for p in precs}),
               "engines": list(q.engines)}
    return PlanResult(summary, top, feasible, why, nearest, hints_, evaluated + n_pairs, evaluated, n_pairs, len(cands),
                      time.perf_counter() - t0, tuple(notes), pts)


def plan_dict(r: PlanResult) -> dict:
    """The ``--json`` object (SI units; money in USD)."""
    from ridgeline.serialize import to_jsonable  # noqa: PLC0415

    return {"schema_version": 1, "query": to_jsonable(r.query_summary), "feasible": r.feasible,
            "configs": [to_jsonable(c) for c in r.configs], "why_best": r.why_best,
            "nearest_miss": to_jsonable(r.nearest_miss), "to_make_feasible": list(r.to_make_feasible),
            "configs_evaluated": r.configs_evaluated, "configs_evaluated_aggregated": r.configs_evaluated_aggregated,
            "configs_evaluated_disaggregated": r.configs_evaluated_disaggregated, "candidates": r.candidates,
            "search_time_s": r.search_time_s,
            "configs_per_s": r.configs_evaluated / r.search_time_s if r.search_time_s > 0 else None,
            "notes": list(r.notes)}


# --- the plain-values door (CLI, web page) ---------------------------------------------------------

SECONDS_PER_DAY = 86400.0
#: Device kinds searched by default when the objective needs no price (SoCs, wafers and LPUs have
#: no multi-device serving data in the hardware files).
DEFAULT_KINDS = ("gpu", "npu", "tpu", "apu")


@dataclass(frozen=True)
class PlanRequest:
    """What a user types, as plain values."""

    model: str
    prompt: int | str
    gen: int | str
    ttft: str | float
    tpot: str | float
    rate: float | str | None = None
    """Requests per second."""
    tokens_per_day: float | str | None = None
    """Tokens per day, prompt + generated (as ``ridgeline fleet`` counts them)."""
    gpus: tuple[str, ...] = ()
    max_gpus: int = 8
    weights: str | None = None
    """Comma-separated weight formats (default: the checkpoint's and fp8)."""
    kv_dtype: str | None = None
    engine: str = "ideal"
    """Comma-separated engine profiles."""
    objective: str = "cost"
    disagg: bool = False
    top: int = 5
    price_per_gpu_hour: str | None = None
    keep_points: bool = False


def _positive_number(v, field: str) -> float | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise InputError(f"{field}: cannot read {str(v)[:40]!r} as a number; write e.g. 12 or 1e10") from None
    if not (math.isfinite(x) and 0 < x < 1e18):
        raise InputError(f"{field}: must be a positive number below 1e18, got {v!r}")
    return x


def _list(text: str | None) -> tuple[str, ...]:
    return tuple(x.strip() for x in str(text).split(",") if x.strip()) if text else ()


def plan_request(req: PlanRequest) -> tuple[PlanQuery, PlanResult]:
    """Resolve plain values (every default decided here) and run :func:`plan`."""
    from ridgeline.analyses.engines import ENGINES  # noqa: PLC0415
    from ridgeline.analyses.plan_prices import PRICES, parse_price_override  # noqa: PLC0415
    from ridgeline.hardware.load import accelerators, get_accelerator  # noqa: PLC0415
    from ridgeline.model.load import load_model  # noqa: PLC0415
    from ridgeline.units import parse_seconds, parse_tokens  # noqa: PLC0415

    S = parse_tokens(req.prompt, "--prompt")
    G = parse_tokens(req.gen, "--gen")
    ttft = parse_seconds(req.ttft, "--ttft")
    tpot = parse_seconds(req.tpot, "--tpot")
    rate = _positive_number(req.rate, "--rate")
    per_day = _positive_number(req.tokens_per_day, "--tokens-per-day")
    if rate is not None and per_day is not None:
        raise InputError("--rate and --tokens-per-day together: give the demand one way")
    # --tokens-per-day counts prompt + generated tokens, as ``ridgeline fleet`` does: requests = D / (S + G)
    demand = rate * G if rate is not None else (per_day / (S + G) * G / SECONDS_PER_DAY if per_day is not None else None)
    engines = _list(req.engine) or ("ideal",)
    for e in engines:
        if e not in ENGINES:
            raise InputError(f"--engine: unknown {e!r}; use one or more of {', '.join(ENGINES)} (comma-separated)")
    prices = parse_price_override(req.price_per_gpu_hour)
    names = tuple(n for g in req.gpus for n in _list(g))
    if names:
        gpus = tuple({a.id: a for a in (get_accelerator(n) for n in names)}.values())
    elif req.objective == "cost" and prices.all_usd is None:
        priced = set(PRICES) | {d for d, _ in prices.by_device}
        gpus = tuple(a for a in accelerators() if a.id in priced)
    else:
        gpus = tuple(a for a in accelerators() if a.kind in DEFAULT_KINDS)
    spec = load_model(req.model)
    weights = _list(req.weights) or (None, "fp8")
    kv = _list(req.kv_dtype) or (None, "fp8")
    q = PlanQuery(spec, S, G, ttft, tpot, gpus, demand, req.max_gpus, tuple(weights), tuple(kv), engines,
                  req.objective, req.disagg, req.top, prices, keep_points=req.keep_points)
    return q, plan(q)


__all__ = ["OBJECTIVES", "LinearStep", "PlanConfig", "PlanQuery", "PlanRequest", "PlanResult", "Pool", "evaluate",
           "kv_capacity", "layouts", "plan", "plan_dict", "plan_request"]
