"""The ``plan --plot`` figure: throughput per device against tokens/s per user, per device type, with
the Pareto frontier, the SLO line and the chosen configuration. matplotlib is imported lazily."""

from __future__ import annotations

import numpy as np

from ridgeline.plots import _plt, _save

#: Points drawn per device type (a random subsample; the frontier uses every point).
MAX_POINTS_PER_DEVICE = 4000


def pareto_frontier(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points no other point beats in both x and y, by x ascending: walking x downwards, keep each
    point whose y exceeds every y seen so far."""
    order = np.argsort(-x, kind="stable")
    xs, ys = x[order], y[order]
    seen = np.concatenate([[-np.inf], np.maximum.accumulate(ys)[:-1]])
    keep = ys > seen
    return xs[keep][::-1], ys[keep][::-1]


def check_plot_path(path: str) -> None:
    """Reject a bad --plot path before the search runs (same rules as ridgeline.plots._save)."""
    from pathlib import Path  # noqa: PLC0415

    from ridgeline.errors import InputError  # noqa: PLC0415

    p = Path(path).expanduser()
    if p.suffix.lower() != ".png":
        raise InputError(f"--plot: {path!r} must end in .png")
    if not p.parent.is_dir():
        raise InputError(f"--plot: folder {str(p.parent)!r} does not exist; create it or choose another path")


def pareto_plot(r, path: str) -> None:
    """``r``: a PlanResult searched with keep_points."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 5.5))
    rng = np.random.default_rng(0)
    pts = r.points or {}
    any_ok = any(ok.any() for _, _, ok in pts.values())
    colors = plt.get_cmap("tab20")
    allx, ally = [], []
    for k, (gpu, (x, y, ok)) in enumerate(sorted(pts.items())):
        if any_ok:
            x, y = x[ok], y[ok]
        if not x.size:
            continue
        idx = rng.choice(x.size, MAX_POINTS_PER_DEVICE, replace=False) if x.size > MAX_POINTS_PER_DEVICE else slice(None)
        ax.scatter(x[idx], y[idx], s=4, alpha=0.4, color=colors(k % 20), label=gpu)
        allx.append(x)
        ally.append(y)
    if allx:
        fx, fy = pareto_frontier(np.concatenate(allx), np.concatenate(ally))
        ax.step(fx, fy, where="pre", color="black", lw=1.2, label="Pareto frontier (aggregated)")
    slo = 1 / r.query_summary["tpot_slo_s"]
    ax.axvline(slo, color="crimson", ls="--", lw=1, label=f"TPOT SLO ({slo:.0f} tok/s per user)")
    best = r.configs[0] if r.configs else r.nearest_miss
    if best is not None:
        ax.scatter([best.tokens_per_s_per_user], [best.output_tokens_per_s_per_device], marker="*", s=160,
                   color="gold", edgecolor="black", zorder=5,
                   label=("chosen: " if r.configs else "nearest miss: ") + f"{best.gpu} tp{best.tp} batch {best.batch}"
                   + (" (disaggregated: decode pool)" if best.mode == "disaggregated" else ""))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("output tokens/s per user (1 / TPOT)")
    ax.set_ylabel("output tokens/s per device")
    q = r.query_summary
    which = f"meeting TTFT <= {q['ttft_slo_s'] * 1e3:.0f} ms" if any_ok else "all evaluated (none meets the TTFT SLO)"
    ax.set_title(f"{q['model']}: {q['prompt_tokens']} in / {q['gen_tokens']} out; configurations {which}", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.grid(True, which="both", alpha=0.2)
    _save(fig, path)
    plt.close(fig)
