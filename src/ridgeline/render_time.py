"""Rich output for ``infer`` and ``roofline``. Numbers are formatted here, nowhere else."""

from __future__ import annotations

import numpy as np
from rich.console import Console
from rich.table import Table

from ridgeline.units import fmt_bytes


def _ms(s: float) -> str:
    return f"{s * 1e3:,.2f} ms" if s < 1 else f"{s:,.2f} s"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _factor(f) -> str:
    """A factor with its unit: seconds in ms or us, fractions as they are."""
    if f.unit.startswith("seconds per byte"):
        return f"{f.name} = {f.value:.3g} s/byte"
    if f.unit.startswith("seconds"):
        v = f.value
        shown = "0 s" if v == 0 else (f"{v * 1e3:.3g} ms" if v >= 1e-3 else f"{v * 1e6:.3g} us")
        return f"{f.name} = {shown}"
    return f"{f.name} = {f.value:.3g}"


def infer_table(r, console: Console, sentence: str) -> None:
    p = r.plan
    mode = "offline max throughput" if r.offline else "fixed batch"
    console.print(f"{r.spec.name} on {r.devices} x {r.hardware.name} (tp={p.tp}, pp={p.pp}, ep={p.ep}; weights "
                  f"{r.precision.weights.name}, KV {r.precision.kv.name}, GEMMs in {r.compute}); batch {r.batch:g} "
                  f"x ({r.prompt_tokens:g} in, {r.gen_tokens:g} out), {mode}", style="bold")
    t = Table()
    t.add_column("figure", style="bold")
    t.add_column("expected", justify="right")
    t.add_column("ideal roofline", justify="right")
    ttft_label = "TTFT (prefill)" if r.batch == 1 else f"TTFT ({r.batch:g} prompts prefilled at once)"
    t.add_row(ttft_label, _ms(r.ttft_s), _ms(r.ideal["ttft_s"]))
    t.add_row("decode step, first", _ms(r.decode_step_time_s), _ms(r.ideal["decode_step_time_s"]))
    t.add_row("decode step, last", _ms(r.decode_step_time_end_s), "")
    t.add_row("TPOT (mixed decode+prefill step)" if r.offline else "TPOT (mean step)", _ms(r.tpot_s),
              _ms(r.ideal["tpot_s"]))
    t.add_row("end-to-end latency", _ms(r.e2e_latency_s), _ms(r.ideal["e2e_latency_s"]))
    t.add_row("output tokens/s", f"{r.output_tokens_per_s:,.1f}", f"{r.ideal['output_tokens_per_s']:,.1f}")
    t.add_row("output tokens/s per device", f"{r.output_tokens_per_s_per_device:,.1f}",
              f"{r.ideal['output_tokens_per_s_per_device']:,.1f}")
    t.add_row("tokens/s per user", f"{1 / r.tpot_s:,.1f}", f"{1 / r.ideal['tpot_s']:,.1f}")
    console.print(t)
    d = r.decode
    s = r.wait_share
    console.print(f"decode step (mean): MBU {_pct(r.mbu)}, MFU {_pct(r.mfu)}; time waiting on memory "
                  f"{_pct(s['memory'])}, compute {_pct(s['compute'])}, links {_pct(s['communication'])}, overhead "
                  f"{_pct(s['overhead'])}")
    console.print(f"bytes per step per device: weights {fmt_bytes(d.weight_bytes)}, KV {fmt_bytes(d.kv_bytes)}, "
                  f"other {fmt_bytes(d.bytes - d.weight_bytes - d.kv_bytes)}; over links {fmt_bytes(d.comm_bytes)}")
    console.print(f"prefill is {r.prefill_bound}-bound (MFU {_pct(r.prefill_mfu)}); critical batch "
                  f"{r.critical_batch:,.0f} sequences")
    console.print(sentence, style="bold")
    # the eager-framework factors are listed only when a measured profile sets them (else neutral: 0 or 1)
    neutral = {"overhead.layer_s": 0.0, "overhead.kv_append_s_per_byte": 0.0, "eff.attention_memory": 1.0,
               "eff.overlap": 1.0, "eff.gemm_weight_stream": 1.0}
    shown = [f for f in r.efficiencies.factors() if neutral.get(f.name) != f.value]
    console.print("factors: " + "; ".join(_factor(f) for f in shown) + " (--explain: sources)",
                  style="dim", highlight=False)
    for n in r.notes:
        console.print(f"note: {n}", style="dim")


def explain_table(rows: list[dict], factors, console: Console) -> None:
    t = Table(title="how each figure is computed (SI units)")
    t.add_column("figure", style="bold")
    t.add_column("value", justify="right")
    t.add_column("formula")
    t.add_column("inputs")
    for row in rows:
        ins = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in row["inputs"].items())
        t.add_row(row["name"], f"{row['value']:.6g} {row['unit']}", row["formula"], ins)
    console.print(t)
    ft = Table(title="factors")
    ft.add_column("factor", style="bold")
    ft.add_column("value", justify="right")
    ft.add_column("source")
    for f in factors:
        ft.add_row(f.name, f"{f.value:g} {f.unit}", f.source)
    console.print(ft)


def sweep_table(var: str, values, results, console: Console) -> None:
    t = Table(title=f"sweep over {var}")
    for c in (var, "TTFT", "TPOT", "e2e", "tok/s", "tok/s/device", "MBU", "MFU", "bound"):
        t.add_column(c, justify="right")
    for v, r in zip(values, results):
        t.add_row(str(v), _ms(r["ttft_s"]), _ms(r["tpot_s"]), _ms(r["e2e_latency_s"]),
                  f"{r['output_tokens_per_s']:,.1f}", f"{r['output_tokens_per_s_per_device']:,.1f}", _pct(r["mbu"]),
                  _pct(r["mfu"]), str(r["bound"]))
    console.print(t)


def roofline_table(hw, peaks: dict[str, float], rows: list[dict], console: Console) -> None:
    console.print(f"{hw.name}: memory bandwidth {hw.mem_bw_bytes_per_s / 1e12:.2f} TB/s", style="bold")
    t = Table(title="ridge points (FLOP per byte where compute and memory take equal time)")
    t.add_column("format")
    t.add_column("dense peak", justify="right")
    t.add_column("ridge", justify="right")
    for k, p in sorted(peaks.items(), key=lambda kv: -kv[1]):
        t.add_row(k, f"{p / 1e12:,.1f} TFLOP/s", f"{p / hw.mem_bw_bytes_per_s:,.0f}")
    console.print(t)
    if rows:
        o = Table(title="operators (per device, per layer kind x layers)")
        for c in ("phase", "operator", "layers", "FLOPs", "bytes", "FLOP/byte", "bound"):
            o.add_column(c, justify="right" if c not in ("phase", "operator") else "left")
        for r in rows:
            o.add_row(r["phase"], r["op"], str(r["layers"]), f"{r['flops']:.3g}", f"{r['bytes']:.3g}",
                      f"{r['intensity']:,.1f}" if np.isfinite(r["intensity"]) else "-", r["bound"])
        console.print(o)
