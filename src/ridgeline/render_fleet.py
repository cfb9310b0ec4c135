"""Rich output for ``fleet`` and ``trends``. Numbers are formatted here, nowhere else."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ridgeline.units import fmt_bytes, fmt_flops, fmt_rate


def _si(x: float | None, unit: str) -> str:
    """Decimal SI prefix: ``'5.51 MW'``, ``'1.2 PJ'``."""
    if x is None:
        return "-"
    for p, s in (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= s:
            return f"{x / s:,.3g} {p}{unit}"
    return f"{x:,.3g} {unit}"


def _usd(x: float | None) -> str:
    if x is None:
        return "-"
    return f"${x:,.0f}" if x >= 100 else f"${x:,.4g}"


def _ms(s: float) -> str:
    return f"{s * 1e3:,.1f} ms" if s < 1 else f"{s:,.2f} s"


def fleet_tables(results, console: Console) -> None:
    for r in results:
        rp, s = r.replica, r.size
        head = (f"{r.spec.name} on {rp.hardware.name}: replicas of {rp.devices} device(s) (tp={rp.plan.tp}, "
                f"pp={rp.plan.pp}), {rp.prompt_tokens:,} in / {rp.gen_tokens:,} out per request, batch {rp.batch}")
        console.print(head, style="bold")
        t = Table()
        t.add_column("figure", style="bold")
        t.add_column("value", justify="right")
        if r.mode == "power":
            t.add_row("site facility power", _si(r.site_power_w, "W"))
        t.add_row("output tokens/s per device", f"{rp.output_tokens_per_s_per_device:,.1f}")
        t.add_row("TTFT / TPOT at that batch", f"{_ms(rp.ttft_s)} / {_ms(rp.tpot_s)}")
        t.add_row("requests per day", _si(s.requests_per_day, ""))
        t.add_row("tokens per day (in + out)", _si(s.tokens_per_day, ""))
        t.add_row("output tokens/s at peak", _si(s.peak_output_tokens_per_s, ""))
        t.add_row("replicas", f"{s.replicas:,}")
        t.add_row("devices", f"{s.devices:,}")
        t.add_row("fleet utilisation", f"{100 * s.fleet_utilisation:.1f}%")
        t.add_row("power per device (wall)", _si(s.device_power_w, "W"))
        t.add_row("IT power", _si(s.it_power_w, "W"))
        t.add_row("facility power", _si(s.facility_power_w, "W"))
        wh = lambda j: None if j is None else j / 3600.0  # noqa: E731  (J -> Wh)
        t.add_row("energy per day", _si(wh(s.energy_per_day_j), "Wh"))
        t.add_row("energy per million tokens", _si(wh(s.energy_per_million_tokens_j), "Wh"))
        t.add_row("cost per day", _usd(s.cost_per_day))
        t.add_row("cost per million tokens (in + out)", _usd(s.cost_per_million_tokens))
        t.add_row("cost per million output tokens", _usd(s.cost_per_million_output_tokens))
        console.print(t)
        if r.years_size is not None:
            y = r.years_size
            yt = Table(title=f"demand growing {r.growth_per_year:g}x per year")
            for c in ("year", "tokens/day", "devices", "facility power", "cost/day"):
                yt.add_column(c, justify="right")
            for i, yr in enumerate(r.years):
                yt.add_row(str(yr), _si(y.tokens_per_day[i], ""), f"{int(y.devices[i]):,}",
                           _si(None if y.facility_power_w is None else y.facility_power_w[i], "W"),
                           _usd(None if y.cost_per_day is None else y.cost_per_day[i]))
            console.print(yt)
        for n in r.notes:
            console.print(n, style="dim")
        console.print("factors: " + "; ".join(f"{f.name} = {f.value:g} ({f.source[:70]}...)" if len(f.source) > 70
                                              else f"{f.name} = {f.value:g} ({f.source})" for f in r.factors.used()),
                      style="dim")


def trends_tables(r, console: Console) -> None:
    console.print(f"hardware trends ({r.kind}): vendor lines of record-setting devices", style="bold")
    t = Table()
    for c in ("device", "year", "peak (bf16/fp16)", "peak (lowest fp)", "HBM bandwidth", "capacity", "scale-up link",
              "ridge FLOP/B", f"decode step, {r.model} b=1"):
        t.add_column(c, justify="right" if c != "device" else "left")
    for p in r.devices:
        t.add_row(p.id, str(p.launch_year), fmt_flops(p.peak_flops_per_s),
                  f"{fmt_flops(p.peak_flops_low_precision_per_s)} {p.low_precision_key}", fmt_rate(p.mem_bw_bytes_per_s),
                  fmt_bytes(p.memory_bytes), fmt_rate(p.interconnect_bytes_per_s) if p.interconnect_bytes_per_s else "-",
                  f"{p.ridge_flop_per_byte:,.0f}", _ms(p.decode_step_time_s) + ("" if p.model_fits else " (no fit)"))
    console.print(t)
    g = Table(title="growth per year (log-linear fit, one slope shared by the vendor lines)")
    g.add_column("metric", style="bold")
    g.add_column("x / year", justify="right")
    g.add_column("x / 2 years", justify="right")
    g.add_column("years", justify="right")
    g.add_column("points", justify="right")
    for m, gr in r.growth.items():
        g.add_row(m, "-" if gr.factor_per_year is None else f"{gr.factor_per_year:.2f}",
                  "-" if gr.factor_per_2_years is None else f"{gr.factor_per_2_years:.2f}",
                  f"{gr.first_year}-{gr.last_year}" if gr.first_year else "-", str(len(gr.devices)))
    console.print(g)
    console.print("published: " + "; ".join(f"{f.name} = {f.value:g} {f.unit}" for f in r.published), style="dim")
    for n in r.notes:
        console.print(n, style="dim")
