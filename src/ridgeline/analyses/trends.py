"""``ridgeline trends``: how the memory wall moved across hardware generations, from the data files.

Vendor lines. A device joins its vendor's line when its dense bf16 (else fp16) peak beats every
earlier device of that vendor (ties within a launch year go to the higher memory bandwidth): the
record-setting flagships (NVIDIA V100, A100, H100, GB200; AMD MI250X, MI300X, MI355X; Google TPU
v4, v5p, v6e, Ironwood; ...), not the inference cards and cut-down parts that share a year with them.

Growth. For each metric m, a log-linear least-squares fit over launch years,
``ln m = a_line + b * year``: one slope b shared by the lines, each line its own level (so a
vendor's higher or lower baseline does not pass for growth). The factor per year is ``e^b``. The
same fit per line alone is ``numpy.polyfit(year, ln m, 1)``.

Compare: Gholami et al., "AI and Memory Wall" (IEEE Micro 2024, arXiv 2403.14123), fit 20 years of
server hardware: peak FLOP/s 3.0x per 2 years, DRAM bandwidth 1.6x, interconnect 1.4x.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ridgeline.errors import InputError
from ridgeline.factors import Factor
from ridgeline.hardware.spec import Accelerator

KINDS = {"gpu": ("gpu",), "tpu": ("tpu",), "all": ("gpu", "tpu", "npu", "apu")}
METRICS = ("peak_flops", "peak_flops_low_precision", "mem_bw", "memory_bytes", "interconnect", "ridge_flop_per_byte")
#: Floating-point formats whose best dense peak is "peak_flops_low_precision".
LOW_PRECISION_KEYS = ("bf16", "fp16", "fp8", "fp6", "fp4")

PUBLISHED = (
    Factor("gholami2024.peak_flops_per_2_years", 3.0, "x per 2 years",
           "Gholami et al., 'AI and Memory Wall', IEEE Micro 2024 (arXiv 2403.14123), abstract: over the past 20 "
           "years peak server hardware FLOPS scaled 3.0x every 2 years"),
    Factor("gholami2024.dram_bw_per_2_years", 1.6, "x per 2 years",
           "same paper: DRAM bandwidth scaled 1.6x every 2 years"),
    Factor("gholami2024.interconnect_per_2_years", 1.4, "x per 2 years",
           "same paper: interconnect bandwidth scaled 1.4x every 2 years"),
)

#: Decode workload timed on each generation (batch 1, the memory-bound case).
DECODE_PROMPT_TOKENS = 1024
DECODE_GEN_TOKENS = 128


@dataclass(frozen=True)
class DevicePoint:
    id: str
    name: str
    vendor: str
    kind: str
    launch_year: int
    peak_flops_per_s: float
    """Dense bf16 peak (fp16 where the device has no bf16)."""
    peak_key: str
    peak_flops_low_precision_per_s: float
    """Best dense floating-point peak over bf16/fp16/fp8/fp6/fp4."""
    low_precision_key: str
    mem_bw_bytes_per_s: float
    memory_bytes: float
    interconnect_bytes_per_s: float | None
    """Scale-up bandwidth per device, one direction (NVLink, Infinity Fabric, ICI); None if the device has none."""
    ridge_flop_per_byte: float
    """peak_flops_per_s / mem_bw_bytes_per_s: the arithmetic intensity where the roofline turns."""
    decode_step_time_s: float
    """The fixed model's decode step at batch 1 (expected, with ridgeline's efficiencies)."""
    decode_step_ideal_time_s: float
    model_fits: bool

    def metric(self, name: str) -> float | None:
        return {"peak_flops": self.peak_flops_per_s, "peak_flops_low_precision": self.peak_flops_low_precision_per_s,
                "mem_bw": self.mem_bw_bytes_per_s, "memory_bytes": self.memory_bytes,
                "interconnect": self.interconnect_bytes_per_s, "ridge_flop_per_byte": self.ridge_flop_per_byte}[name]


@dataclass(frozen=True)
class Growth:
    metric: str
    factor_per_year: float | None
    """e^slope of the log-linear fit; None with fewer than two launch years."""
    devices: tuple[str, ...]
    """Ids of the points the fit used."""
    first_year: int | None
    last_year: int | None

    @property
    def factor_per_2_years(self) -> float | None:
        return None if self.factor_per_year is None else self.factor_per_year ** 2


@dataclass(frozen=True)
class TrendsResult:
    kind: str
    model: str
    devices: tuple[DevicePoint, ...]
    lines: dict[str, tuple[str, ...]]
    """Vendor -> device ids of its line, oldest first."""
    growth: dict[str, Growth]
    """Pooled fit (shared slope, one level per line) per metric."""
    growth_by_line: dict[str, dict[str, Growth]]
    published: tuple[Factor, ...] = PUBLISHED
    notes: tuple[str, ...] = field(default_factory=tuple)


def _peak(hw: Accelerator) -> tuple[float, str] | None:
    for k in ("bf16", "fp16"):
        if hw.peak(k):
            return hw.peak(k), k
    return None


def vendor_lines(accs, kind: str) -> dict[str, list[Accelerator]]:
    """Record-setting devices per vendor: each beats every earlier device of its vendor in dense bf16/fp16 peak."""
    kinds = KINDS[kind]
    by_vendor: dict[str, list[Accelerator]] = {}
    for a in accs:
        if a.kind in kinds and _peak(a) is not None:
            by_vendor.setdefault(a.vendor, []).append(a)
    lines = {}
    for vendor, devs in by_vendor.items():
        devs.sort(key=lambda a: (a.launch_year, -_peak(a)[0], -a.mem_bw_bytes_per_s, a.id))
        best, line = 0.0, []
        for a in devs:
            if _peak(a)[0] > best:
                line.append(a)
                best = _peak(a)[0]
        lines[vendor] = line
    return lines


def fit_growth(points: list[tuple[str, str, int, float]], metric: str) -> Growth:
    """Shared-slope log-linear fit. ``points``: (line, device id, year, value); lines with one year are dropped."""
    years_by_line: dict[str, set[int]] = {}
    for line, _, y, v in points:
        if v is not None and v > 0:
            years_by_line.setdefault(line, set()).add(y)
    keep = [p for p in points if p[3] is not None and p[3] > 0 and len(years_by_line[p[0]]) >= 2]
    if not keep:
        return Growth(metric, None, (), None, None)
    lines = sorted({p[0] for p in keep})
    X = np.zeros((len(keep), len(lines) + 1))
    for i, (line, _, y, _) in enumerate(keep):
        X[i, lines.index(line)] = 1.0
        X[i, -1] = y
    yv = np.log([p[3] for p in keep])
    coef, *_ = np.linalg.lstsq(X, yv, rcond=None)
    years = [p[2] for p in keep]
    return Growth(metric, float(math.exp(coef[-1])), tuple(p[1] for p in keep), min(years), max(years))


def _decode(spec, hw: Accelerator) -> tuple[float, float, bool]:
    from ridgeline.analyses.fit import fit  # noqa: PLC0415
    from ridgeline.analyses.infer import infer  # noqa: PLC0415
    from ridgeline.workload import InferenceWorkload  # noqa: PLC0415

    r = infer(spec, hw, 1, DECODE_PROMPT_TOKENS, DECODE_GEN_TOKENS)
    fits = fit(spec, hw, InferenceWorkload(1, DECODE_PROMPT_TOKENS + DECODE_GEN_TOKENS)).fits
    return float(r.decode_step_time_s), float(r.ideal["decode_step_time_s"]), bool(fits)


def point(hw: Accelerator, spec) -> DevicePoint:
    peak, key = _peak(hw)
    low = max(((hw.peak(k), k) for k in LOW_PRECISION_KEYS if hw.peak(k)), key=lambda t: t[0])
    t, ti, fits = _decode(spec, hw)
    return DevicePoint(hw.id, hw.name, hw.vendor, hw.kind, hw.launch_year, peak, key, low[0], low[1],
                       hw.mem_bw_bytes_per_s, hw.memory_bytes, hw.interconnect.scale_up_bw_bytes_per_s_per_direction,
                       peak / hw.mem_bw_bytes_per_s, t, ti, fits)


def trends(kind: str = "all", model: str = "llama-3.1-8b", accs=None) -> TrendsResult:
    """Growth per year of compute, bandwidth, capacity and links over the vendor lines of ``kind``."""
    from ridgeline.hardware.load import accelerators  # noqa: PLC0415
    from ridgeline.model.load import load_model  # noqa: PLC0415

    if kind not in KINDS:
        raise InputError(f"--kind: unknown {str(kind)[:40]!r}; use gpu, tpu or all")
    spec = load_model(model)
    lines = vendor_lines(accelerators() if accs is None else accs, kind)
    pts = {a.id: point(a, spec) for line in lines.values() for a in line}
    growth, by_line = {}, {}
    for m in METRICS:
        rows = [(v, a.id, a.launch_year, pts[a.id].metric(m)) for v, line in lines.items() for a in line]
        growth[m] = fit_growth(rows, m)
        for v in lines:
            by_line.setdefault(v, {})[m] = fit_growth([r for r in rows if r[0] == v], m)
    devices = tuple(sorted(pts.values(), key=lambda p: (p.launch_year, p.vendor, p.id)))
    notes = ["lines: a device joins its vendor's line when its dense bf16/fp16 peak beats every earlier one; "
             "vendors with one device (or one launch year) set no slope",
             f"decode step: {spec.name} at batch 1, {DECODE_PROMPT_TOKENS} cached tokens, weights "
             "in the checkpoint's format; 'fits' says whether it fits one device"]
    if kind == "all":
        notes.append("kinds gpu, tpu, npu, apu; wafer-scale and SRAM-only designs (Cerebras, Groq) and SoCs are left "
                     "out: their 'memory bandwidth' is on-chip SRAM, not DRAM")
    return TrendsResult(kind, spec.name, devices, {v: tuple(a.id for a in line) for v, line in lines.items()},
                        growth, by_line, notes=tuple(notes))


def _growth_dict(g: Growth) -> dict:
    return {"factor_per_year": g.factor_per_year, "factor_per_2_years": g.factor_per_2_years,
            "first_year": g.first_year, "last_year": g.last_year, "devices": list(g.devices)}


def trends_dict(r: TrendsResult) -> dict:
    """The ``--json`` object. ``growth_per_year`` holds the pooled factor per year of each metric."""
    return {
        "schema_version": 1, "kind": r.kind, "model": r.model,
        "growth_per_year": {m: r.growth[m].factor_per_year for m in METRICS},
        "growth": {m: _growth_dict(g) for m, g in r.growth.items()},
        "growth_by_line": {v: {m: _growth_dict(g) for m, g in gs.items()} for v, gs in r.growth_by_line.items()},
        "lines": {v: list(ids) for v, ids in r.lines.items()},
        "devices": [dict(p.__dict__) for p in r.devices],
        "published": [f.to_dict() for f in r.published],
        "notes": list(r.notes),
    }
