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
from functools import lru_cache

import numpy as np

from ridgeline.analyses.plan_prices import DevicePrice, PriceOverride, price_for
from ridgeline.errors import InputError
from ridgeline.factors import PREFILL_CHUNK
from ridgeline.hardware.spec import Accelerator
from ridgeline.model.spec import ModelSpec
from ridgeline.timing import Efficiencies, roofline
from ridgeline.workload import ParallelPlan, Precision

OBJECTIVES = ("cost", "devices", "power", "throughput")
#: Upper bound of the batch search per replica when no engine caps it: a search bound, not a
#: claim about engines (vLLM's default max_num_seqs is 1024 on big devices, see analyses/engines.py).
MAX_SEARCH_BATCH = 4096
#: Batches per evaluation call: keeps the kernels x chunk temporaries in cache.
_CHUNK = 2048
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


# --- the candidate space ---------------------------------------------------------------------------

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
        kc = rf.kernels @ (rf.fm * rf.inv_peak)
        km = rf.kernels @ (rf.bm * rf.inv_bw)
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
        self.rf = rf

    def times(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(prefill step s, mean decode step s) for every batch."""
        rf = self.rf
        out = []
        for (c0, c1, ch, m0, m1, mh, t0, t1), tpb in zip(self.coef, self.tokens_per_b):
            B = batch[None, :]
            tc = c0[:, None] + c1[:, None] * B
            tm = m0[:, None] + m1[:, None] * B
            if self.hit_base is not None:
                hit = 1.0 - np.power(self.hit_base, batch * tpb)
                tc = tc + ch[:, None] * hit
                tm = tm + mh[:, None] * hit
            T = t0 + t1 * batch
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
    for a in range(0, B.size, _CHUNK):
        pre[a:a + _CHUNK], tpot[a:a + _CHUNK] = ls.times(B[a:a + _CHUNK])
    return pre, pre + eff.request_overhead.value, tpot


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
        usd_per_hour=fin(m["usd_h"][i]), price_usd_per_device_hour=price,
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
    return (k, cost, cfg.devices, cfg.gpu, cfg.tp, cfg.pp, cfg.ep, cfg.weights, cfg.kv_dtype, cfg.engine, cfg.batch)


# --- disaggregated pairs ---------------------------------------------------------------------------

def _kv_request_bytes(spec: ModelSpec, prec: Precision, prompt_tokens: int) -> float:
    """KV of one prompt, every layer, whole model (sliding windows applied): what crosses the network."""
    from ridgeline.analyses.memory import stage_cached_tokens  # noqa: PLC0415
    from ridgeline.model.kv import KVLayout, kv_elements_per_token_layer  # noqa: PLC0415

    lay = KVLayout()
    return stage_cached_tokens(spec, range(spec.num_layers), prompt_tokens, lay) * \
        kv_elements_per_token_layer(spec, lay) * prec.kv.bytes_per_element


def _disagg(q: PlanQuery, cands: list[_Cand], notes: list[str]) -> tuple[list[PlanConfig], int]:
    """Best (prefill, decode) pairs per weight/KV format; returns configs and pairs x batches evaluated."""
    G, D = q.gen_tokens, q.demand_output_tokens_per_s
    rate = D / G if D else None  # requests/s
    no_nic = sorted({c.hw.id for c in cands if not c.hw.interconnect.scale_out_bw_bytes_per_s_per_direction})
    if no_nic:
        notes.append("disaggregated: no scale-out bandwidth in the data for " + ", ".join(no_nic) +
                     " (the KV transfer cannot be timed); they serve aggregated only")
    groups: dict[tuple, list[_Cand]] = {}
    for c in cands:
        if c.hw.interconnect.scale_out_bw_bytes_per_s_per_direction and c.bmax >= 1:
            groups.setdefault((c.prec.weights.name, c.prec.kv.name), []).append(c)
    out, evaluated = [], 0
    for group in groups.values():
        dec = []  # (resource per output token, candidate, batch index, replicas)
        pre = []  # (lower bound resource per request, candidate)
        for c in group:
            w = _weight(q, c.hw, c.price)
            if not math.isfinite(w):
                continue
            n, dev = c.bmax, c.plan.devices
            B = np.arange(1, n + 1, dtype=np.float64)
            ok = c.tpot[:n] <= q.tpot_slo_s
            if ok.any():
                per_tok = w * dev * c.tpot[:n] / B if not D else w * dev * np.ceil(D * c.tpot[:n] / B) / D
                i = int(np.argmin(np.where(ok, per_tok, np.inf)))
                dec.append((float(per_tok[i]), c, i))
            okp = c.ttft[:n] <= q.ttft_slo_s
            if okp.any():
                per_req = w * dev * c.pre[:n] / B
                pre.append((float(per_req[okp].min()), c))
        dec.sort(key=lambda t: t[0])
        pre.sort(key=lambda t: t[0])
        if not dec or not pre:
            continue
        kvb = _kv_request_bytes(q.spec, group[0].prec, q.prompt_tokens)
        for dcost, d, j in dec[:DISAGG_PAIR_CANDIDATES]:
            for _, p in pre[:DISAGG_PAIR_CANDIDATES]:
                icp, icd = p.hw.interconnect, d.hw.interconnect
                bw = min(p.plan.devices * icp.scale_out_bw_bytes_per_s_per_direction,
                         d.plan.devices * icd.scale_out_bw_bytes_per_s_per_direction)
                lat = max(icp.scale_out_latency_s or q.eff.comm_latency.value,
                          icd.scale_out_latency_s or q.eff.comm_latency.value)
                xfer = lat + kvb / (bw * q.eff.link.value)
                n = p.bmax
                evaluated += n
                B = np.arange(1, n + 1, dtype=np.float64)
                ok = p.ttft[:n] + xfer <= q.ttft_slo_s
                if not ok.any():
                    continue
                wp, dev_p = _weight(q, p.hw, p.price), p.plan.devices
                if rate:
                    rep_p = np.ceil(rate * p.pre[:n] / B)
                    per_tok = wp * dev_p * rep_p / D + dcost
                else:
                    per_tok = wp * dev_p * p.pre[:n] / B / G + dcost
                i = int(np.argmin(np.where(ok, per_tok, np.inf)))
                out.append(_pair_config(q, p, i, d, j, xfer, ok))
    return out, evaluated


def _pair_config(q: PlanQuery, p: _Cand, i: int, d: _Cand, j: int, xfer: float, ok_p: np.ndarray) -> PlanConfig:
    G, D = q.gen_tokens, q.demand_output_tokens_per_s
    bp, bd = i + 1, j + 1
    pre_s, tpot = float(p.pre[i]), float(d.tpot[j])
    dev_p, dev_d = p.plan.devices, d.plan.devices
    pr_p = p.price.usd_per_device_hour if p.price else math.nan
    pr_d = d.price.usd_per_device_hour if d.price else math.nan
    # device-seconds per output token in each pool, fully loaded
    ds_p = dev_p * pre_s / bp / G
    ds_d = dev_d * tpot / bd
    if D:
        rep_p = math.ceil(D / G * pre_s / bp)
        rep_d = math.ceil(D * tpot / bd)
        devices = rep_p * dev_p + rep_d * dev_d
        usd_h = rep_p * dev_p * pr_p + rep_d * dev_d * pr_d
        served = D
        ratio = rep_p * dev_p / (rep_d * dev_d)
        power = rep_p * dev_p * (p.hw.tdp_w or math.nan) + rep_d * dev_d * (d.hw.tdp_w or math.nan)
    else:
        rep_p = rep_d = None
        devices = dev_p + dev_d
        served = 1 / (ds_p + ds_d)  # output tokens/s per device, both pools fully loaded
        usd_h = pr_p * ds_p / (ds_p + ds_d) + pr_d * ds_d / (ds_p + ds_d)  # per device-hour of the mix
        ratio = ds_p / ds_d
        power = ((p.hw.tdp_w or math.nan) * ds_p + (d.hw.tdp_w or math.nan) * ds_d) / (ds_p + ds_d)
    if D:
        part_p = rep_p * dev_p * pr_p / SECONDS_PER_HOUR / D * TOKENS_PER_MILLION
        part_d = rep_d * dev_d * pr_d / SECONDS_PER_HOUR / D * TOKENS_PER_MILLION
    else:
        part_p = pr_p / SECONDS_PER_HOUR * ds_p * TOKENS_PER_MILLION
        part_d = pr_d / SECONDS_PER_HOUR * ds_d * TOKENS_PER_MILLION
    per_device = D / devices if D else served
    cost_m = usd_h / SECONDS_PER_HOUR / served * TOKENS_PER_MILLION
    fin = lambda x: float(x) if math.isfinite(x) else None  # noqa: E731
    ttft = float(p.ttft[i]) + xfer
    if j + 1 >= d.bmax:
        lim_d = d.limit
    elif d.tpot[j + 1] > q.tpot_slo_s:
        lim_d = "TPOT SLO"
    else:
        lim_d = "replica rounding" if D else "objective"
    gpu = d.hw.id if p.hw.id == d.hw.id else f"{p.hw.id}+{d.hw.id}"
    name = d.hw.name if p.hw.id == d.hw.id else f"{p.hw.name} (prefill) + {d.hw.name} (decode)"
    src = "; ".join(sorted({(x.price.source + (f", {x.price.date}" if x.price.date else "")) if x.price else "no price"
                            for x in (p, d)}))
    return PlanConfig(
        mode="disaggregated", gpu=gpu, gpu_name=name, devices=int(devices), devices_per_replica=dev_d,
        replicas=rep_d, tp=d.plan.tp, pp=d.plan.pp, ep=d.plan.ep, batch=bd, weights=d.prec.weights.name,
        kv_dtype=d.prec.kv.name, engine=d.engine if p.engine == d.engine else f"{p.engine}+{d.engine}",
        ttft_s=ttft, tpot_s=tpot, ttft_margin=1 - ttft / q.ttft_slo_s, tpot_margin=1 - tpot / q.tpot_slo_s,
        output_tokens_per_s_per_device=per_device, tokens_per_s_per_user=1 / tpot,
        output_tokens_per_s_per_replica=bd / tpot, cost_per_million_output_tokens=fin(cost_m),
        cost_per_million_tokens=fin(cost_m * G / (q.prompt_tokens + G)),
        usd_per_hour=fin(usd_h) if D else None, price_usd_per_device_hour=fin(pr_d), price_source=src,
        power_w=fin(power) if D else None, batch_limit=lim_d,
        prefill=Pool(p.hw.id, dev_p, rep_p, p.plan.tp, p.plan.pp, p.plan.ep, bp, pre_s, fin(pr_p), fin(part_p)),
        decode=Pool(d.hw.id, dev_d, rep_d, d.plan.tp, d.plan.pp, d.plan.ep, bd, tpot, fin(pr_d), fin(part_d)),
        kv_transfer_s=xfer, prefill_decode_device_ratio=ratio)


# --- explanations ----------------------------------------------------------------------------------

def _label(c: PlanConfig) -> str:
    if c.mode == "disaggregated":
        p, d = c.prefill, c.decode
        return (f"disaggregated {p.gpu} tp{p.tp} pp{p.pp} batch {p.batch} (prefill) + {d.gpu} tp{d.tp} pp{d.pp} "
                f"batch {d.batch} (decode), {c.weights}/{c.kv_dtype}")
    ep = f" ep{c.ep}" if c.ep > 1 else ""
    return f"{c.gpu} tp{c.tp} pp{c.pp}{ep} {c.weights}/{c.kv_dtype} batch {c.batch} ({c.engine})"


def why_best(q: PlanQuery, a: PlanConfig, b: PlanConfig | None) -> str:
    """One paragraph: why ``a`` ranks above ``b`` under the objective, from the factors of the metric."""
    if b is None:
        return f"{_label(a)} is the only configuration that meets the SLO."
    tps_a, tps_b = a.output_tokens_per_s_per_device, b.output_tokens_per_s_per_device
    lim = f"its batch stops at {a.batch} ({a.batch_limit}); the runner-up's at {b.batch} ({b.batch_limit})"
    if q.objective == "cost" and a.cost_per_million_output_tokens and b.cost_per_million_output_tokens and \
            "disaggregated" in (a.mode, b.mode):
        part = lambda c: (f"prefill ${c.prefill.cost_per_million_output_tokens:.4g} + decode "  # noqa: E731
                          f"${c.decode.cost_per_million_output_tokens:.4g}" if c.mode == "disaggregated" else "one pool")
        return (f"{_label(a)} costs ${a.cost_per_million_output_tokens:.4g} per million output tokens ({part(a)}) against "
                f"${b.cost_per_million_output_tokens:.4g} ({part(b)}) for {_label(b)} "
                f"({b.cost_per_million_output_tokens / a.cost_per_million_output_tokens - 1:+.0%}); TTFT {a.ttft_s * 1e3:.4g} vs "
                f"{b.ttft_s * 1e3:.4g} ms, TPOT {a.tpot_s * 1e3:.4g} vs {b.tpot_s * 1e3:.4g} ms; {lim}.")
    if q.objective == "cost" and a.cost_per_million_output_tokens and b.cost_per_million_output_tokens:
        pa, pb = a.price_usd_per_device_hour or math.nan, b.price_usd_per_device_hour or math.nan
        return (f"{_label(a)} costs ${a.cost_per_million_output_tokens:.4g} per million output tokens against "
                f"${b.cost_per_million_output_tokens:.4g} for {_label(b)} "
                f"({b.cost_per_million_output_tokens / a.cost_per_million_output_tokens - 1:+.0%}). Cost per token is price per "
                f"device-hour over output tokens per device-hour: the runner-up pays {pb / pa:.2f}x the price per "
                f"device and gets {tps_b / tps_a:.2f}x the output tokens/s per device; {lim}.")
    if q.objective == "power" and a.power_w and b.power_w:
        return (f"{_label(a)} draws {a.power_w / 1e3:.3g} kW at TDP against {b.power_w / 1e3:.3g} kW for {_label(b)}; "
                f"output tokens/s per device {tps_a:.4g} vs {tps_b:.4g}; {lim}.")
    dv = lambda n: f"{n} device{'s' if n != 1 else ''}"  # noqa: E731
    return (f"{_label(a)} delivers {tps_a:.4g} output tokens/s per device ({dv(a.devices)}) against {tps_b:.4g} "
            f"({dv(b.devices)}) for {_label(b)}; {lim}.")


def explain_ranking(q: PlanQuery, ranked: list[PlanConfig]) -> str:
    """Why the first beats the next; when they tie on the objective, say so and compare with the first
    configuration that ranks strictly worse."""
    best = ranked[0]
    nxt = ranked[1] if len(ranked) > 1 else None
    if nxt is None:
        return why_best(q, best, None)
    k0 = _rank_key(q, best)[0]
    if _rank_key(q, nxt)[0] > k0 * (1 + 1e-9) + 1e-300:
        return why_best(q, best, nxt)
    ties = [r for r in ranked[1:] if _rank_key(q, r)[0] <= k0 * (1 + 1e-9) + 1e-300]
    worse = next((r for r in ranked[1:] if _rank_key(q, r)[0] > k0 * (1 + 1e-9) + 1e-300), None)
    text = (f"{len(ties)} other configuration{'s' if len(ties) > 1 else ''} tie{'' if len(ties) > 1 else 's'} with "
            f"{_label(best)} on the objective (e.g. {_label(nxt)}); ties go to the cheaper, then the one with fewer "
            "devices, then the smaller layout and batch. ")
    return text + (why_best(q, best, worse) if worse is not None else "")


def _hints(q: PlanQuery, miss: PlanConfig | None, fastest_tpot: tuple | None, fastest_ttft: tuple | None) -> list[str]:
    out = []
    if miss is None:
        out.append(f"no layout holds one sequence of {q.prompt_tokens + q.gen_tokens} tokens: allow more devices per "
                   f"replica (--max-gpus {2 * q.max_devices_per_replica}), smaller weights (--weights fp8,int4) or a "
                   "device with more memory")
        return out
    out.append(f"the nearest miss, {_label(miss)}, meets an SLO of TTFT {miss.ttft_s * 1e3:.4g} ms and TPOT "
               f"{miss.tpot_s * 1e3:.4g} ms (asked: {q.ttft_slo_s * 1e3:.4g} ms and {q.tpot_slo_s * 1e3:.4g} ms)")
    over = q.eff.step_overhead.value
    if fastest_tpot and fastest_tpot[0] > q.tpot_slo_s:
        msg = (f"no configuration decodes fast enough: the fastest TPOT in the space is {fastest_tpot[0] * 1e3:.4g} ms "
               f"({fastest_tpot[1]}, batch 1)")
        if over >= q.tpot_slo_s:
            msg += (f"; the fixed per-step overhead alone ({q.eff.step_overhead.name} = {over * 1e3:.3g} ms) exceeds "
                    "the TPOT SLO, and no layout removes it")
        else:
            msg += (f", of which {over * 1e3:.3g} ms is the fixed per-step overhead ({q.eff.step_overhead.name}); the "
                    "rest streams the weights once per step, so it needs more memory bandwidth per replica: more "
                    "devices per replica (--max-gpus), a device with faster memory, or smaller weights "
                    "(--weights fp8,int4)")
        out.append(msg)
    if fastest_ttft and fastest_ttft[0] > q.ttft_slo_s:
        out.append(f"no configuration prefills fast enough: the fastest TTFT in the space is "
                   f"{fastest_ttft[0] * 1e3:.4g} ms ({fastest_ttft[1]}, batch 1); prefill is compute-bound, so it "
                   "needs more FLOP/s per replica (more devices, fp8 compute) or a shorter prompt")
    return out


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
                lab = f"{hw.id} tp{lay.tp} pp{lay.pp}{f' ep{lay.ep}' if lay.ep > 1 else ''} {prec.weights.name}"
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
        pairs, n_pairs = _disagg(q, cands, notes)
        best_rows.extend(pairs)
    best_rows.sort(key=lambda r: _rank_key(q, r))
    top = tuple(best_rows[:q.top_k])
    feasible = bool(top)
    nearest = None
    if not feasible and miss[1] is not None:
        c, m, iv = miss[1]
        nearest = _agg_config(q, c, m, iv, "nearest miss")
    why = explain_ranking(q, best_rows) if feasible else ""
    hints = () if feasible else tuple(_hints(q, nearest, fastest_tpot, fastest_ttft))
    pts = None
    if q.keep_points:
        pts = {k: tuple(np.concatenate([t[i] for t in v]) for i in range(3)) for k, v in points.items()}
    summary = {"model": q.spec.name, "prompt_tokens": S, "gen_tokens": G, "ttft_slo_s": q.ttft_slo_s,
               "tpot_slo_s": q.tpot_slo_s, "demand_output_tokens_per_s": q.demand_output_tokens_per_s,
               "objective": q.objective, "disagg": q.disagg, "gpus": [h.id for h in q.gpus],
               "max_devices_per_replica": q.max_devices_per_replica,
               "weights": sorted({p.weights.name for p in precs}), "kv_dtypes": sorted({p.kv.name for p in precs}),
               "engines": list(q.engines)}
    return PlanResult(summary, top, feasible, why, nearest, hints, evaluated + n_pairs, evaluated, n_pairs, len(cands),
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
           "kv_capacity", "layouts", "plan", "plan_dict", "plan_request", "why_best"]
