"""Display for ``ridgeline measure`` and ``ridgeline validate``: tables, CSV, and PNGs (matplotlib lazily)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

#: CSV columns of a validation run (SI units; errors are fractions, (predicted - measured) / measured).
CSV_COLUMNS = ("model", "phase", "batch", "tokens", "params", "measured_s", "measured_median_s", "predicted_s",
               "predicted_ideal_s", "time_error", "measured_peak_bytes", "predicted_peak_bytes", "peak_error",
               "measured_tensor_bytes", "predicted_tensor_bytes", "tensor_error", "measured_process_bytes",
               "process_error", "bound")


def _pct(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{100 * x:+.1f}%"


def _ms(x: float) -> str:
    return f"{x * 1e3:,.1f}"


def _mb(x: float) -> str:
    return f"{x / 1e6:,.1f}"


def measure_table(p, console) -> None:
    """The profile's headline figures, then the raw rows."""
    from rich.table import Table  # noqa: PLC0415

    console.print(f"[bold]{p.device_name}[/bold] ({p.device}, {p.threads} thread(s), {p.date}"
                  f"{', --quick' if p.quick else ''})")
    t = Table("figure", "value", "what it is", title="measured roofline")
    gb = lambda x: f"{x / 1e9:.1f} GB/s"  # noqa: E731
    t.add_row("read bandwidth", gb(p.read_bytes_per_s), "streaming read beyond the last-level cache (the profile's peak)")
    t.add_row("copy / triad", f"{p.copy_bytes_per_s / 1e9:.1f} / {p.triad_bytes_per_s / 1e9:.1f} GB/s", "STREAM-style")
    t.add_row("GEMV weight streaming", gb(p.gemv_bytes_per_s), "M = 1 over a layer's matrices from DRAM")
    for dt, v in sorted(p.peak_flops_per_s.items()):
        t.add_row(f"GEMM peak {dt}", f"{v / 1e9:.1f} GFLOP/s", "best over the shapes run")
    t.add_row("GEMM M > 1", f"{p.gemm_weight_bytes_per_s / 1e9:.1f} GB/s + {p.gemm_stream_flops_per_s / 1e9:.1f} GFLOP/s",
              f"t = weights / rate + FLOPs / rate (fit within {_pct(p.gemm_fit_max_error)})")
    t.add_row("attention prefill", f"{p.attention_prefill_flops_per_s / 1e9:.1f} GFLOP/s", "causal SDPA")
    t.add_row("attention decode", gb(p.attention_decode_bytes_per_s), "SDPA at q_len 1: K and V read")
    t.add_row("cache append", f"{p.kv_append_s_per_byte * 1e9:.3f} s/GB held", "torch.cat into fresh memory")
    t.add_row("framework overhead", f"{p.overhead_layer_s * 1e3:.3f} ms/layer + {p.overhead_step_s * 1e3:.3f} ms/step",
              "tiny transformers model")
    t.add_row("ridge point fp32", f"{p.ridge_flop_per_byte:.1f} FLOP/B", "GEMM peak / read bandwidth")
    console.print(t)
    raw = Table("kind", "dtype", "shape", "min ms", "median ms", "max ms", "GB/s", "GFLOP/s", title="raw")
    for r in p.rows:
        raw.add_row(r.kind, r.dtype, r.shape, f"{r.min_s * 1e3:.3f}", f"{r.median_s * 1e3:.3f}", f"{r.max_s * 1e3:.3f}",
                    f"{r.bytes_per_s / 1e9:.2f}" if r.bytes else "", f"{r.flops_per_s / 1e9:.2f}" if r.flops else "")
    console.print(raw)


def validate_table(rep, console) -> None:
    from rich.table import Table  # noqa: PLC0415

    t = Table("model", "phase", "batch", "tokens", "measured ms", "predicted ms", "error", "peak MB meas.",
              "peak MB pred.", "error", "bound", title="predicted against measured")
    for p in rep.points:
        metric = "decode_step_s" if p.phase == "decode" else "prefill_s"
        t.add_row(p.model, p.phase, str(p.batch), str(p.tokens), _ms(p.measured_s), _ms(p.predicted_s),
                  _pct(p.error(metric)), _mb(p.measured_peak_bytes), _mb(p.predicted_peak_bytes),
                  _pct(p.error("peak_memory_bytes")), p.bound)
    console.print(t)
    s = Table("metric", "points", "median |error|", "max |error|", "target", "met", title="summary")
    for x in rep.summary:
        s.add_row(x.metric, str(x.points), _pct(x.median_abs_error).lstrip("+"), _pct(x.max_abs_error).lstrip("+"),
                  "" if x.target is None else f"{100 * x.target:.0f}%", "" if x.met is None else ("yes" if x.met else "NO"))
    console.print(s)
    for n in rep.notes:
        console.print(f"note: {n}", style="dim")


def write_csv(rep, path: Path) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for p in rep.points:
            metric = "decode_step_s" if p.phase == "decode" else "prefill_s"
            w.writerow([p.model, p.phase, p.batch, p.tokens, p.params, f"{p.measured_s:.6g}", f"{p.measured_median_s:.6g}",
                        f"{p.predicted_s:.6g}", f"{p.predicted_ideal_s:.6g}", f"{p.error(metric):.4f}",
                        int(p.measured_peak_bytes), int(p.predicted_peak_bytes), f"{p.error('peak_memory_bytes'):.4f}",
                        int(p.measured_tensor_bytes), int(p.predicted_tensor_bytes), f"{p.error('tensor_bytes'):.4f}",
                        int(p.measured_process_bytes), f"{p.error('process_peak_bytes'):.4f}", p.bound])


def plot_validation(rep, path: Path) -> None:
    """Predicted against measured: step time (log-log, per phase) and peak tensor memory."""
    from ridgeline.plots import _plt  # noqa: PLC0415

    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    models = sorted({p.model for p in rep.points})
    marks = dict(zip(models, "osD^vP*X" * 4, strict=False))
    panels = (("decode", "decode step time (s)", lambda p: (p.measured_s, p.predicted_s)),
              ("prefill", "prefill time (s)", lambda p: (p.measured_s, p.predicted_s)),
              (None, "peak tensor memory (bytes)", lambda p: (p.measured_peak_bytes, p.predicted_peak_bytes)))
    for ax, (phase, label, get) in zip(axes, panels, strict=True):
        pts = [p for p in rep.points if phase is None or p.phase == phase]
        if not pts:
            ax.set_visible(False)
            continue
        for m in models:
            xy = [get(p) for p in pts if p.model == m]
            if xy:
                ax.scatter([a for a, _ in xy], [b for _, b in xy], marker=marks[m], label=m, alpha=0.8)
        vals = [v for p in pts for v in get(p) if v > 0]
        lo, hi = min(vals) / 1.5, max(vals) * 1.5
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        for f, style in ((1.1, ":"), (1 / 1.1, ":")):
            ax.plot([lo, hi], [lo * f, hi * f], "k", ls=style, lw=0.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"measured {label}")
        ax.set_ylabel(f"predicted {label}")
        ax.set_title(label.split(" (")[0] + " (dotted: ±10%)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"ridgeline validate on {rep.machine.get('name', '?')}, {rep.profile.get('threads', '?')} thread(s)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_profile(p, path: str) -> None:
    """The measured roofline (fp32 GEMM peak, read bandwidth) with every measured GEMM/GEMV point."""
    from ridgeline.plots import _plt, _save  # noqa: PLC0415

    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 5))
    bw = p.read_bytes_per_s
    x = [2 ** (i / 4) for i in range(-12, 60)]
    for dt, peak in sorted(p.peak_flops_per_s.items()):
        ax.plot(x, [min(peak, xi * bw) for xi in x], label=f"roofline {dt} ({peak / 1e9:.0f} GFLOP/s, {bw / 1e9:.1f} GB/s)")
    for kind, mk in (("gemv", "v"), ("gemm_stream", "o"), ("gemm", "s"), ("attention_prefill", "^"),
                     ("attention_decode", "D")):
        pts = [r for r in p.rows if r.kind == kind and r.bytes and r.flops]
        if pts:
            ax.scatter([r.flops / r.bytes for r in pts], [r.flops_per_s for r in pts], marker=mk, label=kind)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("achieved FLOP/s")
    ax.set_title(f"{p.device_name}: measured ({p.threads} thread(s))")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    _save(fig, path)
    plt.close(fig)
