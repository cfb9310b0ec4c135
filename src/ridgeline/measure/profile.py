"""A measured profile: the machine's own roofline, written as a hardware file.

``ridgeline measure --out FILE`` writes a TOML in the Accelerator schema (so ``--gpu FILE`` and
``get_accelerator(FILE)`` take it) with the measured figures as its peaks, plus a ``[measured]``
table: the summary (achieved rates per shape class, ridge point, framework factors, software
versions, thread count) and the raw rows. :func:`efficiencies_from_profile` turns that table into
the time model's named factors, each with "measured by ridgeline measure on DATE" as its source.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ridgeline.measure.bench import BenchRow

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class MeasuredProfile:
    """What ``ridgeline measure`` found on one device with one thread count."""

    device: str
    """cpu or cuda."""
    device_name: str
    vendor: str
    threads: int
    date: str
    """UTC date and time of the run (ISO 8601)."""
    memory_bytes: float
    """RAM (CPU) or device memory (CUDA) as the OS or driver reports it."""
    read_bytes_per_s: float
    """Streaming read bandwidth: the best over sizes well beyond the last-level cache."""
    copy_bytes_per_s: float
    triad_bytes_per_s: float
    gemv_bytes_per_s: float
    """Weight streaming through a matrix-vector product (M = 1), fp32: what batch-1 decode achieves."""
    peak_flops_per_s: dict[str, float]
    """Best GEMM FLOP/s per dtype over the shapes run (the roofline's compute peak)."""
    gemm_flops_per_s: dict[str, dict[str, float]]
    """dtype -> shape class ("m1", "m8", ..., "square") -> achieved FLOP/s."""
    attention_prefill_flops_per_s: float
    """Causal SDPA, counted as the operator table counts it (4*D per causal pair per head)."""
    attention_decode_bytes_per_s: float
    """SDPA at q_len 1: K and V bytes read per second."""
    kv_append_s_per_byte: float
    """Time per byte of cache held of a torch.cat append (re-allocation and copy)."""
    gemm_weight_bytes_per_s: float
    """GEMMs with M > 1, weights from DRAM: the rate of the weight pass (fit of t = W/w + F/f)."""
    gemm_stream_flops_per_s: float
    """The same fit's FLOP rate."""
    gemm_fit_max_error: float
    overhead_layer_s: float
    """Framework time per decoder layer per step, beyond its math."""
    overhead_step_s: float
    """Framework time per step outside the layers."""
    quick: bool
    software: dict[str, str] = field(default_factory=dict)
    rows: tuple[BenchRow, ...] = ()

    @property
    def ridge_flop_per_byte(self) -> float:
        """Arithmetic intensity where fp32 GEMM time equals streaming time (measured peak / bandwidth)."""
        return self.peak_flops_per_s["fp32"] / self.read_bytes_per_s


def machine_description(device: str = "cpu") -> dict[str, str]:
    """CPU model, vendor, cores and caches from /proc/cpuinfo and sysfs (Linux), else platform's."""
    out = {"name": platform.processor() or platform.machine(), "vendor": "unknown",
           "cores": str(os.cpu_count() or 0), "flags": ""}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            text = f.read(1 << 20)
        for line in text.splitlines():
            k, _, v = line.partition(":")
            k, v = k.strip(), v.strip()
            if k == "model name" and out["name"] in ("", platform.processor(), platform.machine()):
                out["name"] = v
            elif k == "vendor_id":
                out["vendor"] = {"AuthenticAMD": "AMD", "GenuineIntel": "Intel"}.get(v, v)
            elif k == "flags" and not out["flags"]:
                wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "fma", "f16c")
                out["flags"] = " ".join(x for x in v.split() if x in wanted)
    except OSError:
        pass
    caches = []
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    if base.is_dir():
        for idx in sorted(base.glob("index*")):
            try:
                level = (idx / "level").read_text().strip()
                typ = (idx / "type").read_text().strip()
                size = (idx / "size").read_text().strip()
                caches.append(f"L{level} {typ} {size}")
            except OSError:
                continue
    out["caches"] = ", ".join(caches)
    if device.startswith("cuda"):
        import torch  # noqa: PLC0415

        out["name"] = torch.cuda.get_device_name(0)
        out["vendor"] = "NVIDIA"
    return out


def ram_bytes() -> float:
    """MemTotal from /proc/meminfo (bytes), else os.sysconf."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def summarize(rows: list[BenchRow], device: str, threads: int, quick: bool) -> MeasuredProfile:
    """Reduce the raw rows to the profile's figures (best over the relevant rows, at min time)."""
    def best(kind: str, rate: str, dtype: str | None = None, pred=lambda r: True) -> float:
        vals = [getattr(r, rate) for r in rows if r.kind == kind and (dtype is None or r.dtype == dtype) and pred(r)]
        return max(vals) if vals else float("nan")

    big = _largest_size([r for r in rows if r.kind == "read"])
    beyond = lambda r: _size(r) >= big  # noqa: E731 - only the largest buffers: DRAM, not cache
    gemm: dict[str, dict[str, float]] = {}
    for r in rows:
        if r.kind in ("gemm", "gemv", "gemm_stream"):
            m = int(r.shape.split()[0].split("=")[1])
            cls = "square" if r.kind == "gemm" else f"m{m}"
            d = gemm.setdefault(r.dtype, {})
            d[cls] = max(d.get(cls, 0.0), r.flops_per_s)
    peaks = {dt: max(v.values()) for dt, v in gemm.items()}
    # caches and weights beyond the last-level cache: the largest case of each kind
    largest = lambda kind: max((r for r in rows if r.kind == kind and r.dtype == "fp32"),  # noqa: E731
                               key=lambda r: r.bytes, default=None)
    append = largest("append")
    append_s_per_byte = append.min_s / append.bytes if append else 0.0
    gemv, attn_dec = largest("gemv"), largest("attention_decode")
    read_bw = best("read", "bytes_per_s", pred=beyond)
    fit = fit_gemm_stream(rows)
    ov = sorted((r for r in rows if r.kind == "overhead"), key=lambda r: int(r.shape.split()[0].split("=")[1]))
    if len(ov) >= 2:
        (a, b) = ov[0], ov[-1]
        la, lb = (int(r.shape.split()[0].split("=")[1]) for r in (a, b))
        per_layer = max((b.min_s - a.min_s) / (lb - la), 0.0)
        per_step = max(a.min_s - la * per_layer, 0.0)
    else:
        per_layer = per_step = 0.0
    desc = machine_description(device)
    return MeasuredProfile(
        device=device, device_name=desc["name"], vendor=desc["vendor"], threads=threads,
        date=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        memory_bytes=_device_memory(device), read_bytes_per_s=read_bw,
        copy_bytes_per_s=best("copy", "bytes_per_s", pred=beyond), triad_bytes_per_s=best("triad", "bytes_per_s", pred=beyond),
        gemv_bytes_per_s=gemv.bytes_per_s if gemv else float("nan"), peak_flops_per_s=peaks, gemm_flops_per_s=gemm,
        attention_prefill_flops_per_s=best("attention_prefill", "flops_per_s", "fp32"),
        attention_decode_bytes_per_s=attn_dec.bytes_per_s if attn_dec else float("nan"),
        gemm_weight_bytes_per_s=fit[0], gemm_stream_flops_per_s=fit[1], gemm_fit_max_error=fit[2],
        kv_append_s_per_byte=append_s_per_byte, overhead_layer_s=per_layer, overhead_step_s=per_step, quick=quick,
        software=software_versions(), rows=tuple(rows),
    )


def fit_gemm_stream(rows: list[BenchRow]) -> tuple[float, float, float]:
    """Least-squares fit (relative errors) of ``t = weight_bytes / w + FLOPs / f`` over the fp32 GEMMs with
    M > 1 and weights from DRAM: (w bytes/s, f FLOP/s, largest relative error of the fit). The BLAS packs
    the weight panel of a GEMM (not of a GEMV) and does not overlap that pass with the math, so the two
    terms add (measured: the fit holds within ~10% from M = 2 to 512 on the CPU of docs/validation)."""
    import numpy as np  # noqa: PLC0415

    pts = []
    for r in rows:
        if r.kind == "gemm_stream" and r.dtype == "fp32":
            pts.append((r.bytes, r.flops, r.min_s))  # weights, plus activations under 1% of them
    if len(pts) < 2:
        return float("nan"), float("nan"), float("nan")
    a = np.array([[w, f] for w, f, _ in pts])
    t = np.array([x[2] for x in pts])
    x, *_ = np.linalg.lstsq(a / t[:, None], np.ones_like(t), rcond=None)
    if x[0] <= 0 or x[1] <= 0:
        return float("nan"), float("nan"), float("nan")
    return float(1.0 / x[0]), float(1.0 / x[1]), float(np.max(np.abs(a @ x - t) / t))


def _size(r: BenchRow) -> int:
    return int(r.shape.split("=")[1])


def _largest_size(rows: list[BenchRow]) -> int:
    return max((_size(r) for r in rows), default=0)


def _device_memory(device: str) -> float:
    if device.startswith("cuda"):
        import torch  # noqa: PLC0415

        return float(torch.cuda.get_device_properties(0).total_memory)
    return ram_bytes()


def software_versions() -> dict[str, str]:
    import sys  # noqa: PLC0415

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    try:
        import torch  # noqa: PLC0415

        out["torch"] = torch.__version__
    except ImportError:  # pragma: no cover
        pass
    try:
        import transformers  # noqa: PLC0415

        out["transformers"] = transformers.__version__
    except ImportError:  # pragma: no cover
        pass
    from ridgeline import __version__  # noqa: PLC0415

    out["ridgeline"] = __version__
    return out


# -- the TOML file -----------------------------------------------------------------------------------

def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"cannot write {v!r} to a profile")
        return repr(float(v))
    s = str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{s}"'


def _inline(d: dict) -> str:
    return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in d.items()) + " }"


def profile_id(p: MeasuredProfile) -> str:
    return f"measured-{p.device}-{p.threads}t"


def to_toml(p: MeasuredProfile) -> str:
    """The profile as a hardware file (Accelerator schema) plus its [measured] table."""
    src = f"measured by ridgeline measure on {p.date} ({p.threads} thread{'s' if p.threads > 1 else ''}, " \
          f"torch {p.software.get('torch', '?')})"
    peaks = {k: v for k, v in p.peak_flops_per_s.items() if math.isfinite(v) and v > 0}
    lines = [
        f"# Written by `ridgeline measure` on {p.date}. Units: SI base (bytes, bytes/s, FLOP/s, s).",
        "# Peaks are what this machine achieved (GEMM FLOP/s, streaming read bandwidth), not a datasheet's.",
        f"id = {_toml_value(profile_id(p))}",
        f"name = {_toml_value(f'{p.device_name} (measured, {p.threads} thread' + ('s)' if p.threads > 1 else ')'))}",
        f"vendor = {_toml_value(p.vendor)}",
        f"kind = {_toml_value(p.device)}",
        f"launch_year = {int(p.date[:4])}",
        f"memory_bytes = {_toml_value(float(p.memory_bytes))}",
        f"mem_bw_bytes_per_s = {_toml_value(p.read_bytes_per_s)}",
        "",
        "[peak_flops_per_s]",
        *(f"{k} = {_toml_value(v)}" for k, v in sorted(peaks.items())),
        "",
        "[sources]",
        f'"*" = {_toml_value(src)}',
        f"memory_bytes = {_toml_value('MemTotal, /proc/meminfo' if p.device == 'cpu' else 'torch total_memory')}",
        f"launch_year = {_toml_value('the year of the measurement, not of the device launch')}",
        "",
        "[verification]",
        '"*" = "verified_primary"',
        'launch_year = "unverified"',
        "",
        "[measured]",
        f"schema_version = {SCHEMA_VERSION}",
        f"date = {_toml_value(p.date)}",
        f"device = {_toml_value(p.device)}",
        f"device_name = {_toml_value(p.device_name)}",
        f"threads = {p.threads}",
        f"quick = {_toml_value(p.quick)}",
        f"read_bytes_per_s = {_toml_value(p.read_bytes_per_s)}",
        f"copy_bytes_per_s = {_toml_value(p.copy_bytes_per_s)}",
        f"triad_bytes_per_s = {_toml_value(p.triad_bytes_per_s)}",
        f"gemv_bytes_per_s = {_toml_value(p.gemv_bytes_per_s)}",
        f"attention_prefill_flops_per_s = {_toml_value(p.attention_prefill_flops_per_s)}",
        f"attention_decode_bytes_per_s = {_toml_value(p.attention_decode_bytes_per_s)}",
        f"kv_append_s_per_byte = {_toml_value(p.kv_append_s_per_byte)}",
        f"gemm_weight_bytes_per_s = {_toml_value(p.gemm_weight_bytes_per_s)}",
        f"gemm_stream_flops_per_s = {_toml_value(p.gemm_stream_flops_per_s)}",
        f"gemm_fit_max_error = {_toml_value(p.gemm_fit_max_error)}",
        f"overhead_layer_s = {_toml_value(p.overhead_layer_s)}",
        f"overhead_step_s = {_toml_value(p.overhead_step_s)}",
        f"ridge_flop_per_byte = {_toml_value(p.ridge_flop_per_byte)}",
        f"software = {_inline(p.software)}",
        f"machine = {_inline(machine_description(p.device))}",
        "",
        "[measured.gemm_flops_per_s]",
        *(f"{dt} = {_inline(v)}" for dt, v in sorted(p.gemm_flops_per_s.items())),
        "",
    ]
    for r in p.rows:
        lines += ["[[measured.rows]]", *(f"{k} = {_toml_value(v)}" for k, v in r.to_dict().items()), ""]
    return "\n".join(lines)


def write_profile(p: MeasuredProfile, path: Path) -> None:
    """Write ``path`` (.toml; a .json path gets the same content as JSON)."""
    path = Path(path)
    text = to_toml(p)
    if path.suffix == ".json":
        import json  # noqa: PLC0415
        import tomllib  # noqa: PLC0415

        text = json.dumps(tomllib.loads(text), indent=1)
    path.write_text(text, encoding="utf-8")


# -- reading it back -----------------------------------------------------------------------------------

_REQUIRED_MEASURED = ("read_bytes_per_s", "gemv_bytes_per_s", "attention_prefill_flops_per_s",
                      "attention_decode_bytes_per_s", "kv_append_s_per_byte", "gemm_weight_bytes_per_s",
                      "gemm_stream_flops_per_s", "overhead_layer_s", "overhead_step_s",
                      "threads", "date")


def read_measured(path: str | Path) -> dict[str, Any]:
    """The [measured] table of a profile file (bounded read; one-line error if it is not a profile)."""
    from ridgeline.errors import ConfigError  # noqa: PLC0415
    from ridgeline.hardware.load import read_toml  # noqa: PLC0415

    path = Path(path)
    if path.suffix == ".json":
        import json  # noqa: PLC0415

        from ridgeline.hardware.load import MAX_TOML_BYTES  # noqa: PLC0415

        try:
            with path.open("rb") as f:
                data = json.loads(f.read(MAX_TOML_BYTES + 1)[:MAX_TOML_BYTES])
        except (OSError, ValueError) as e:
            raise ConfigError(f"{path}: not a readable JSON profile ({e}); run `ridgeline measure --out FILE`") from None
    else:
        data = read_toml(path)
    m = data.get("measured") if isinstance(data, dict) else None
    if not isinstance(m, dict):
        raise ConfigError(f"{path}: no [measured] table; pass a profile written by `ridgeline measure --out FILE`")
    for k in _REQUIRED_MEASURED:
        v = m.get(k)
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise ConfigError(f"{path}: measured.{k} is missing or not a value; re-run `ridgeline measure --out FILE`")
    return m


def load_profile(path: str | Path):
    """(Accelerator, [measured] table) of a profile file."""
    from ridgeline.hardware.load import get_accelerator  # noqa: PLC0415

    path = Path(path)
    if path.suffix == ".json":
        from ridgeline.hardware.load import accelerator_from_dict  # noqa: PLC0415

        m = read_measured(path)
        import json  # noqa: PLC0415

        return accelerator_from_dict(json.loads(path.read_text("utf-8")), str(path)), m
    return get_accelerator(str(path)), read_measured(path)


def efficiencies_from_profile(m: dict[str, Any], framework: bool = True):
    """The time model's factors from a profile's [measured] table.

    Peaks in the profile are measured GEMM peaks and the streaming read bandwidth, so:
    eff.memory = GEMV weight streaming / streaming read (batch-1 decode's GEMMs);
    eff.gemm = the FLOP rate of GEMMs over DRAM-resident weights / the square-GEMM peak;
    eff.gemm_weight_stream = their weight-pass rate / the GEMV rate, and eff.overlap = 0 (the two add:
    see fit_gemm_stream); eff.attention = causal SDPA FLOP/s / fp32 peak; eff.attention_memory = SDPA
    decode KV rate / GEMV rate. ``framework``: also the eager-framework factors (per-layer and per-step
    overhead, the concatenating cache's append), which describe transformers, not a serving engine.
    """
    from ridgeline.timing import Efficiencies  # noqa: PLC0415

    src = f"measured by ridgeline measure on {m['date']} ({m['threads']} thread(s))"
    e = Efficiencies()
    read, gemv = float(m["read_bytes_per_s"]), float(m["gemv_bytes_per_s"])
    peak32 = max(float(x) for x in (m.get("gemm_flops_per_s", {}).get("fp32", {}) or {"square": 1.0}).values())
    kw = {
        "memory": e.memory.with_value(gemv / read, src + ": GEMV weight streaming / streaming read"),
        "gemm": e.gemm.with_value(float(m["gemm_stream_flops_per_s"]) / peak32,
                                  src + ": GEMM FLOP rate over DRAM-resident weights / square-GEMM peak"),
        "gemm_weight_stream": e.gemm_weight_stream.with_value(float(m["gemm_weight_bytes_per_s"]) / gemv,
                                                              src + ": GEMM weight-pass rate / GEMV rate"),
        "attention": e.attention.with_value(float(m["attention_prefill_flops_per_s"]) / peak32,
                                            src + ": causal SDPA FLOP/s / fp32 GEMM peak"),
        "overlap": e.overlap.with_value(0.0, src + ": GEMM time = weight pass + math (fit_gemm_stream)"),
        "attention_memory": e.attention_memory.with_value(float(m["attention_decode_bytes_per_s"]) / gemv,
                                                          src + ": SDPA decode KV bytes/s / GEMV bytes/s"),
    }
    if framework:
        kw |= {
            "layer_overhead": e.layer_overhead.with_value(float(m["overhead_layer_s"]), src + ": tiny-model slope"),
            "step_overhead": e.step_overhead.with_value(float(m["overhead_step_s"]), src + ": tiny-model intercept"),
            "kv_append": e.kv_append.with_value(float(m["kv_append_s_per_byte"]), src + ": torch.cat append"),
            "request_overhead": e.request_overhead.with_value(0.0, "a bare forward pass: no tokenizer, no scheduler"),
        }
    from dataclasses import replace  # noqa: PLC0415

    return replace(e, **kw)
