"""PNG plots of ``fleet`` and ``trends`` (matplotlib, imported lazily through ridgeline.plots)."""

from __future__ import annotations

import numpy as np

from ridgeline.errors import InputError


def _plt_save():
    from ridgeline.plots import _plt, _save  # noqa: PLC0415

    return _plt(), _save


def trends_plot(r, path: str) -> None:
    """Peak compute, memory bandwidth, capacity and scale-up links over launch years, on a log axis,
    each normalised to its fitted value in the first year; points are the devices of the vendor lines, each
    line relative to its own first device, which is placed on the fit at its launch year."""
    plt, save = _plt_save()
    fig, ax = plt.subplots(figsize=(8, 5.5))
    series = (("peak_flops", "peak FLOP/s (bf16/fp16)", "tab:red"),
              ("peak_flops_low_precision", "peak FLOP/s (lowest fp format)", "tab:orange"),
              ("mem_bw", "memory bandwidth", "tab:blue"), ("memory_bytes", "memory capacity", "tab:green"),
              ("interconnect", "scale-up link bandwidth", "tab:purple"))
    start = min(p.launch_year for p in r.devices)
    for key, label, color in series:
        g = r.growth[key]
        if g.factor_per_year is None:
            continue
        # each device relative to its own line's first device, so vendors share one axis
        for vendor, ids in r.lines.items():
            pts = [p for p in r.devices if p.id in ids and p.metric(key)]
            if len(pts) < 2:
                continue
            base = pts[0]
            x = [p.launch_year for p in pts]
            y = [p.metric(key) / base.metric(key) * g.factor_per_year ** (base.launch_year - start) for p in pts]
            ax.scatter(x, y, color=color, s=18, alpha=0.7)
        yrs = np.arange(start, max(p.launch_year for p in r.devices) + 1)
        ax.plot(yrs, g.factor_per_year ** (yrs - start), color=color,
                label=f"{label}: {g.factor_per_year:.2f}x/yr ({g.factor_per_2_years:.1f}x/2yr)")
    ax.set_yscale("log")
    ax.set_xlabel("launch year")
    ax.set_ylabel(f"relative to {start} (fit)")
    ax.set_title(f"The memory wall in ridgeline's hardware data ({r.kind}): growth per year")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    save(fig, path)
    plt.close(fig)


def fleet_plot(results, path: str) -> None:
    """Devices and facility power per year (with growth), or per accelerator (several --gpu)."""
    plt, save = _plt_save()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    ax2 = ax.twinx()
    grown = [r for r in results if r.years_size is not None]
    if grown:
        for r in grown:
            y = r.years_size
            ax.plot(r.years, y.devices, "o-", label=f"{r.replica.hardware.id}: devices")
            if y.facility_power_w is not None:
                ax2.plot(r.years, np.asarray(y.facility_power_w) / 1e6, "s--", label=f"{r.replica.hardware.id}: MW")
        ax.set_xlabel(f"year (demand x{grown[0].growth_per_year:g} per year)")
    else:
        if len(results) < 2:
            raise InputError("--plot: draws years (give --growth) or several accelerators (repeat --gpu)")
        names = [r.replica.hardware.id for r in results]
        x = np.arange(len(results))
        ax.bar(x - 0.2, [r.size.devices for r in results], 0.4, label="devices")
        ax2.bar(x + 0.2, [(r.size.facility_power_w or 0) / 1e6 for r in results], 0.4, color="tab:orange", label="MW")
        ax.set_xticks(x, names, rotation=20)
    ax.set_yscale("log")
    ax.set_ylabel("devices")
    ax2.set_ylabel("facility power (MW)")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper left")
    ax.set_title(f"{results[0].spec.name}: fleet for the demand")
    save(fig, path)
    plt.close(fig)
