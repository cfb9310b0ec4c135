"""Disaggregated serving for ``ridgeline plan``: separate prefill and decode pools, the KV transfer
between them counted (see the ridgeline.analyses.plan docstring for the model)."""

from __future__ import annotations

import math

import numpy as np

from ridgeline.analyses.plan import (
    DISAGG_PAIR_CANDIDATES,
    SECONDS_PER_HOUR,
    TOKENS_PER_MILLION,
    PlanConfig,
    PlanQuery,
    Pool,
    _Cand,
    _weight,
)
from ridgeline.model.spec import ModelSpec
from ridgeline.workload import Precision


def kv_request_bytes(spec: ModelSpec, prec: Precision, prompt_tokens: int) -> float:
    """KV of one prompt, every layer, whole model (sliding windows applied): what crosses the network."""
    from ridgeline.analyses.memory import stage_cached_tokens  # noqa: PLC0415
    from ridgeline.model.kv import KVLayout, kv_elements_per_token_layer  # noqa: PLC0415

    lay = KVLayout()
    return stage_cached_tokens(spec, range(spec.num_layers), prompt_tokens, lay) * \
        kv_elements_per_token_layer(spec, lay) * prec.kv.bytes_per_element


def disagg_pairs(q: PlanQuery, cands: list[_Cand], notes: list[str]) -> tuple[list[PlanConfig], int]:
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
        kvb = kv_request_bytes(q.spec, group[0].prec, q.prompt_tokens)
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
        kv_transfer_s=xfer, prefill_decode_device_ratio=ratio, attention_dp=d.plan.attention_dp)


__all__ = ["disagg_pairs", "kv_request_bytes"]
