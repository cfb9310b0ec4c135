"""Rich output for ``train``. Numbers are formatted here, nowhere else."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ridgeline.units import fmt_gib


def _t(s: float) -> str:
    if s < 1:
        return f"{s * 1e3:,.1f} ms"
    if s < 3600 * 48:
        return f"{s:,.2f} s" if s < 120 else f"{s / 3600:,.2f} h"
    return f"{s / 86400:,.1f} days"


def train_tables(r, console: Console) -> None:
    s, m, t = r.setup, r.memory, r.time
    console.print(f"{r.spec.name} on {s.gpus} x {r.hardware.name}: {s.label()}", style="bold")
    mt = Table(title=f"memory per device ({m.stage} pipeline stage), GiB")
    mt.add_column("term", style="bold")
    mt.add_column("GiB", justify="right")
    for k, v in m.terms.items():
        mt.add_row(k, fmt_gib(v, 2))
    mt.add_row("total", fmt_gib(m.total_bytes, 2), style="bold")
    mt.add_row("usable on the device", fmt_gib(r.usable_bytes, 2))
    console.print(mt)
    verdict = "fits" if r.fits else "does NOT fit"
    console.print(f"{verdict}: {fmt_gib(m.total_bytes, 1)} of {fmt_gib(r.usable_bytes, 1)} per device", style="bold")
    if not r.fits:
        if r.suggestion:
            console.print(f"cheapest change that fits: {r.suggestion['change']} -> "
                          f"{fmt_gib(r.suggestion['total_bytes'], 1)}, step {_t(r.suggestion['step_time_s'])}")
        else:
            console.print("no single change (or pair) of recompute, ZeRO stage, micro-batch, tp or pp fits; "
                          "add devices (see --gpus min)")
    tt = Table(title="time per optimizer step (slowest stage)")
    tt.add_column("term", style="bold")
    tt.add_column("time", justify="right")
    tt.add_column("share", justify="right")
    for k, v in t.terms.items():
        if v:
            tt.add_row(k, _t(v), f"{100 * v / r.step_time_s:.1f}%")
    tt.add_row("step", _t(r.step_time_s), "100%", style="bold")
    console.print(tt)
    console.print(f"MFU {100 * r.mfu:.1f}%, HFU {100 * r.hfu:.1f}% (against the dense {t.compute_format} peak "
                  f"{t.peak_flops_per_s / 1e12:,.0f} TFLOP/s); {r.tflops_per_device:,.0f} TFLOP/s per device; "
                  f"{r.tokens_per_s:,.0f} tokens/s ({r.tokens_per_s / s.gpus:,.0f} per device); pipeline bubble "
                  f"{100 * t.bubble_fraction:.1f}%")
    if r.time_to_train_s is not None:
        e = f", energy {r.energy_j / 3.6e9:,.1f} MWh at TDP" if r.energy_j else ""
        console.print(f"{s.tokens:,.3g} tokens: {_t(r.time_to_train_s)}, {r.gpu_hours:,.0f} GPU-hours{e}")
    console.print("factors: " + "; ".join(f"{f['name']} = {f['value']:g}" for f in _factor_dicts(r)), style="dim")
    for n in r.notes:
        console.print(f"note: {n}", style="dim")


def _factor_dicts(r):
    from ridgeline.analyses.train import train_dict  # noqa: PLC0415

    return train_dict(r)["factors"]


def min_gpus_line(n: int, r, console: Console) -> None:
    m = r.memory
    state = m.weights_bytes + m.grads_bytes + m.optimizer_bytes
    total_state = state * m.shard_group if r.setup.zero_stage >= 3 else state
    console.print(f"fewest devices that hold the training state: {n} x {r.hardware.name} "
                  f"({r.setup.label()}); {fmt_gib(m.total_bytes, 1)} of {fmt_gib(r.usable_bytes, 1)} per device",
                  style="bold")
    console.print(f"why: the sharded model state alone is {fmt_gib(total_state, 0)} in all "
                  f"({total_state / max(1.0, m.params_per_device):.1f} B per parameter on each pipeline stage) = "
                  f"{total_state / r.usable_bytes:.1f} devices' usable memory; every device also holds its own "
                  f"activations ({fmt_gib(m.activations_bytes, 1)}), buffers and runtime ({fmt_gib(m.buffers_bytes, 1)})")
