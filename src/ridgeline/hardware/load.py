"""Accelerator data: the shipped TOML files, short names and aliases, custom files."""

from __future__ import annotations

import math
import re
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ridgeline.errors import ConfigError, UnknownNameError
from ridgeline.hardware.spec import PEAK_DTYPES, Accelerator, Interconnect

MAX_TOML_BYTES = 1 * 2**20
_REQUIRED = ("id", "name", "vendor", "kind", "launch_year", "memory_bytes", "mem_bw_bytes_per_s", "peak_flops_per_s")


def _num(d: dict, key: str, where: str, required: bool = True) -> float | None:
    v = d.get(key)
    if v is None:
        if required:
            raise ConfigError(f"{where}: field {key!r} is missing; add it as a number in SI units")
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{where}: field {key!r} must be a number in SI units (e.g. 3.35e12), got {v!r}")
    if not math.isfinite(v) or v <= 0:
        raise ConfigError(f"{where}: field {key!r} must be a positive finite number, got {v!r}")
    return float(v)


def _int(d: dict, key: str, where: str) -> int | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ConfigError(f"{where}: field {key!r} must be a whole number >= 1, got {v!r}")
    return v


def accelerator_from_dict(d: dict[str, Any], where: str) -> Accelerator:
    """Validate and build an Accelerator from a parsed TOML table."""
    for k in _REQUIRED:
        if k not in d:
            raise ConfigError(f"{where}: field {k!r} is missing; see src/ridgeline/hardware/data/h100-sxm.toml")
    peaks_raw = d["peak_flops_per_s"]
    if not isinstance(peaks_raw, dict):
        raise ConfigError(f"{where}: [peak_flops_per_s] must be a table of dtype = FLOP/s")
    peaks = {}
    for k, v in peaks_raw.items():
        if k not in PEAK_DTYPES:
            raise ConfigError(f"{where}: peak_flops_per_s.{k} is not a known dtype; use {', '.join(PEAK_DTYPES)}")
        peaks[k] = _num(peaks_raw, k, where)
    ic_raw = d.get("interconnect", {}) or {}
    if not isinstance(ic_raw, dict):
        raise ConfigError(f"{where}: [interconnect] must be a table")
    ic = Interconnect(
        scale_up=ic_raw.get("scale_up"),
        scale_up_bw_bytes_per_s_per_direction=_num(ic_raw, "scale_up_bw_bytes_per_s_per_direction", where, False),
        scale_out=ic_raw.get("scale_out"),
        pcie_bw_bytes_per_s_per_direction=_num(ic_raw, "pcie_bw_bytes_per_s_per_direction", where, False),
        scale_up_domain_devices=_int(ic_raw, "scale_up_domain_devices", where),
        scale_up_latency_s=_num(ic_raw, "scale_up_latency_s", where, False),
        scale_out_bw_bytes_per_s_per_direction=_num(ic_raw, "scale_out_bw_bytes_per_s_per_direction", where, False),
        scale_out_latency_s=_num(ic_raw, "scale_out_latency_s", where, False),
    )
    aliases = d.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ConfigError(f"{where}: field 'aliases' must be a list of strings")
    for k in ("id", "name", "vendor", "kind"):
        if not isinstance(d[k], str) or not d[k].strip():
            raise ConfigError(f"{where}: field {k!r} must be a non-empty string")
    year = d["launch_year"]
    if isinstance(year, bool) or not isinstance(year, int):
        raise ConfigError(f"{where}: field 'launch_year' must be an integer year")
    return Accelerator(
        id=str(d["id"]), name=str(d["name"]), vendor=str(d["vendor"]), kind=str(d["kind"]), launch_year=year,
        memory_bytes=_num(d, "memory_bytes", where), mem_bw_bytes_per_s=_num(d, "mem_bw_bytes_per_s", where),
        peak_flops_per_s=peaks, aliases=tuple(aliases), memory_type=d.get("memory_type"),
        tdp_w=_num(d, "tdp_w", where, False), on_chip_bytes=_num(d, "on_chip_bytes", where, False),
        price_usd=_num(d, "price_usd", where, False), interconnect=ic,
        sources={str(k): str(v) for k, v in (d.get("sources") or {}).items()},
        verification={str(k): str(v) for k, v in (d.get("verification") or {}).items()},
        usable_memory_bytes=_num(d, "usable_memory_bytes", where, False),
        runtime_overhead_bytes=_num(d, "runtime_overhead_bytes", where, False),
        origin=where,
    )


def read_toml(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_TOML_BYTES:
            raise ConfigError(f"{path}: {size} bytes is too large for a hardware file (limit {MAX_TOML_BYTES})")
        return tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML ({e}); fix the file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file; pass a hardware .toml file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror}); check the path") from None


@lru_cache(maxsize=1)
def accelerators() -> tuple[Accelerator, ...]:
    """Every shipped accelerator, sorted by vendor, year and name."""
    out = []
    for f in resources.files("ridgeline.hardware.data").iterdir():
        if f.name.endswith(".toml"):
            out.append(accelerator_from_dict(tomllib.loads(f.read_text("utf-8")), f"hardware/data/{f.name}"))
    return tuple(sorted(out, key=lambda a: (a.vendor, a.launch_year, a.name)))


def _norm(name: str) -> str:
    return re.sub(r"[\s_]+", "-", name.strip().lower())


@lru_cache(maxsize=1)
def _names() -> dict[str, Accelerator]:
    table: dict[str, Accelerator] = {}
    for a in accelerators():
        for k in (a.id, *a.aliases):
            table[_norm(k)] = a
            table.setdefault(_norm(k).replace("-", ""), a)
    return table


def get_accelerator(name: str) -> Accelerator:
    """Look an accelerator up by id or alias (case-insensitive), or load a custom ``.toml`` file."""
    if not isinstance(name, str) or not name.strip():
        raise UnknownNameError("GPU", str(name), [], "give a name such as h100 or a .toml file")
    path = Path(name).expanduser()
    if name.endswith(".toml") or path.is_file():
        if not path.is_file():
            raise ConfigError(f"{name}: no such hardware file; check the path")
        return accelerator_from_dict(read_toml(path), str(path))
    key = _norm(name)
    hit = _names().get(key) or _names().get(key.replace("-", ""))
    if hit is None:
        known = sorted({a for acc in accelerators() for a in (acc.id, *acc.aliases)})
        raise UnknownNameError("GPU", name, known, "see `ridgeline hardware`, or pass a .toml file")
    return hit
