"""Words for ``ridgeline plan``: why the best configuration beats the next, and what would make an
infeasible SLO feasible."""

from __future__ import annotations

import math

from ridgeline.analyses.plan import PlanConfig, PlanQuery, _rank_key


def _label(c: PlanConfig) -> str:
    if c.mode == "disaggregated":
        p, d = c.prefill, c.decode
        return (f"disaggregated {p.gpu} tp{p.tp} pp{p.pp} batch {p.batch} (prefill) + {d.gpu} tp{d.tp} pp{d.pp} "
                f"batch {d.batch} (decode), {c.weights}/{c.kv_dtype}")
    ep = (f" ep{c.ep}" if c.ep > 1 else "") + (" dp-attn" if getattr(c, "attention_dp", False) else "")
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


def hints(q: PlanQuery, miss: PlanConfig | None, fastest_tpot: tuple | None, fastest_ttft: tuple | None) -> list[str]:
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


__all__ = ["explain_ranking", "hints", "why_best"]
