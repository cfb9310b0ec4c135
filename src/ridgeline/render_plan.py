"""Rich output for ``plan``. Numbers are formatted here, nowhere else."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def _ms(s: float) -> str:
    return f"{s * 1e3:,.1f} ms" if s < 1 else f"{s:,.2f} s"


def _usd(x: float | None) -> str:
    if x is None:
        return "-"
    return f"${x:,.3f}" if x < 1 else f"${x:,.2f}" if x < 100 else f"${x:,.0f}"


def _layout(c) -> str:
    if c.mode == "disaggregated":
        p, d = c.prefill, c.decode
        return (f"P {p.gpu} tp{p.tp} pp{p.pp} x{p.replicas or 1} | D {d.gpu} tp{d.tp} pp{d.pp}"
                f"{f' ep{d.ep}' if d.ep > 1 else ''} x{d.replicas or 1}")
    ep = (f" ep{c.ep}" if c.ep > 1 else "") + (" dp-attn" if getattr(c, "attention_dp", False) else "")
    return f"{c.gpu} tp{c.tp} pp{c.pp}{ep}" + (f" x{c.replicas}" if c.replicas else "")


def plan_table(r, console: Console) -> None:
    q = r.query_summary
    demand = q["demand_output_tokens_per_s"]
    dem = f"{demand:,.0f} output tokens/s" if demand else "no demand given: one fully loaded replica"
    if r.configs and r.configs[0].cost_per_million_tokens is not None:
        dem += f" ($ per million prompt + generated tokens = $/M out x {q['gen_tokens']}/{q['prompt_tokens'] + q['gen_tokens']})"
    console.print(f"{q['model']}: {q['prompt_tokens']} in, {q['gen_tokens']} out; SLO TTFT <= {_ms(q['ttft_slo_s'])}, "
                  f"TPOT <= {_ms(q['tpot_slo_s'])}; {dem}; objective {q['objective']}"
                  + ("; aggregated and disaggregated" if q["disagg"] else ""), style="bold")
    cfgs = r.configs if r.feasible else ((r.nearest_miss,) if r.nearest_miss else ())
    if cfgs:
        t = Table(title=None if r.feasible else "nothing meets the SLO; the nearest miss")
        for col, j in (("#", "right"), ("layout", "left"), ("formats", "left"), ("batch", "right"),
                       ("devices", "right"), ("TTFT", "right"), ("TPOT", "right"), ("tok/s/dev", "right"),
                       ("tok/s/user", "right"), ("$/M out", "right"), ("$/hour", "right"), ("kW", "right"),
                       ("margin TTFT/TPOT", "right"), ("batch limit", "left")):
            t.add_column(col, justify=j)
        for i, c in enumerate(cfgs, 1):
            batch = f"{c.prefill.batch}/{c.batch}" if c.mode == "disaggregated" else f"{c.batch}"
            t.add_row(str(i), _layout(c), f"{c.weights}/{c.kv_dtype} {c.engine}", batch, f"{c.devices:,}",
                      _ms(c.ttft_s), _ms(c.tpot_s), f"{c.output_tokens_per_s_per_device:,.0f}",
                      f"{c.tokens_per_s_per_user:,.1f}", _usd(c.cost_per_million_output_tokens), _usd(c.usd_per_hour),
                      "-" if c.power_w is None else f"{c.power_w / 1e3:,.1f}",
                      f"{100 * c.ttft_margin:.0f}% / {100 * c.tpot_margin:.0f}%", c.batch_limit)
        console.print(t)
    if r.feasible:
        console.print("why: " + r.why_best)
        best = r.configs[0]
        if best.mode == "disaggregated":
            console.print(f"disaggregated: {best.prefill_decode_device_ratio:.2f} prefill devices per decode device; "
                          f"KV transfer {_ms(best.kv_transfer_s)} per request over the scale-out network, counted in "
                          "TTFT", style="dim")
    for h in r.to_make_feasible:
        console.print("to make it feasible: " + h)
    console.print(f"searched {r.configs_evaluated:,} configurations ({r.candidates:,} layouts x formats x engines) in "
                  f"{r.search_time_s:.2f} s ({r.configs_evaluated / max(r.search_time_s, 1e-9):,.0f} per second)",
                  style="dim")
    console.print("price per device-hour: " + "; ".join(sorted({c.price_source for c in cfgs})) if cfgs else "",
                  style="dim")
    for n in r.notes:
        console.print(f"note: {n}", style="dim")
