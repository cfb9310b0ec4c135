"""PNG plots (matplotlib, imported lazily: only when a plot is asked for)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ridgeline.errors import InputError


def _plt():
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'ridgeline[plot]'") from None
    return plt


def _save(fig, path: str) -> None:
    p = Path(path).expanduser()
    if p.suffix.lower() != ".png":
        raise InputError(f"--plot: {path!r} must end in .png")
    if not p.parent.is_dir():
        raise InputError(f"--plot: folder {str(p.parent)!r} does not exist; create it or choose another path")
    fig.savefig(p, dpi=130, bbox_inches="tight")


def batch_sweep_plot(r, path: str, kv_room: int | None = None) -> None:
    """Throughput and time per output token against batch, memory- and compute-bound regions shaded.

    ``r`` is an InferResult over an array of batch sizes.
    """
    plt = _plt()
    B = np.atleast_1d(r.batch)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7.5, 7), sharex=True)
    ax1.plot(B, np.atleast_1d(r.output_tokens_per_s), "o-", label="expected")
    ax1.plot(B, np.atleast_1d(r.ideal["output_tokens_per_s"]), "--", color="gray", label="ideal roofline")
    ax1.set_ylabel("output tokens/s (replica)")
    ax2.plot(B, 1e3 * np.atleast_1d(r.tpot_s), "o-", color="C1", label="expected TPOT")
    ax2.plot(B, 1e3 * np.atleast_1d(r.ideal["tpot_s"]), "--", color="gray", label="ideal TPOT")
    ax2.set_ylabel("time per output token (ms)")
    ax2.set_xlabel("batch (concurrent sequences)")
    bound = np.atleast_1d(r.bound)
    colors = {"memory": "#cfe2f3", "compute": "#f4cccc", "communication": "#d9ead3"}
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        edges = np.concatenate([[B[0] / 1.2], np.sqrt(B[:-1] * B[1:]), [B[-1] * 1.2]])
        for i, b in enumerate(bound):
            ax.axvspan(edges[i], edges[i + 1], color=colors.get(str(b), "white"), lw=0)
        if np.isfinite(r.critical_batch):
            ax.axvline(r.critical_batch, color="k", ls=":", lw=1)
        if kv_room is not None and kv_room < B[-1]:
            ax.axvspan(max(kv_room, B[0] / 1.2), B[-1] * 1.2, color="#999999", alpha=0.45, lw=0,
                       label=f"KV does not fit (> {kv_room} sequences)")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    ax1.set_title(f"{r.spec.name} on {r.devices} x {r.hardware.name}: prompt {int(np.atleast_1d(r.prompt_tokens)[0])}, "
                  f"gen {int(np.atleast_1d(r.gen_tokens)[0])}\nblue: memory-bound, red: compute-bound, green: "
                  f"communication; dotted: critical batch {r.critical_batch:.0f}", fontsize=9)
    _save(fig, path)
    plt.close(fig)


def roofline_plot(hw, points: list[tuple[str, float, float, str]], path: str, peaks: dict[str, float]) -> None:
    """The roofline (attainable FLOP/s against arithmetic intensity) with operator points.

    ``points``: (label, FLOPs/byte, achieved-bound FLOP/s, phase).
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 5))
    x = np.logspace(-1, 4, 400)
    bw = hw.mem_bw_bytes_per_s
    for i, (k, p) in enumerate(sorted(peaks.items(), key=lambda kv: -kv[1])):
        ax.plot(x, np.minimum(p, bw * x), color=f"C{i}", label=f"{k}: {p / 1e12:.0f} TFLOP/s, ridge {p / bw:.0f} FLOP/B")
    markers = {"prefill": "s", "decode": "o"}
    merged: dict[tuple, list[str]] = {}
    for label, ai, fl, phase in points:
        if ai > 0 and fl > 0:
            key = (round(float(np.log10(ai)), 1), round(float(np.log10(fl)), 1), phase)
            names = merged.setdefault(key, [])
            if label not in names:
                names.append(label)
            ax.scatter([ai], [fl], marker=markers.get(phase, "x"), s=25, color="k" if phase == "decode" else "C3",
                       zorder=3)
    for (lai, lfl, phase), names in merged.items():
        ax.annotate(", ".join(names), (10 ** lai, 10 ** lfl), fontsize=6, xytext=(4, -8 if phase == "decode" else 4),
                    textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP per byte of HBM traffic)")
    ax.set_ylabel("attainable FLOP/s")
    ax.set_title(f"{hw.name}: {bw / 1e12:.2f} TB/s; squares prefill, dots decode", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    _save(fig, path)
    plt.close(fig)
