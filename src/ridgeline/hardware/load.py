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
from ridgeline.hardware.spec import PEAK_DTYPES, SCALE_UP_TOPOLOGIES, VERIFICATION_LEVELS, Accelerator, Interconnect

MAX_TOML_BYTES = 1 * 2**20
EXAMPLE = "src/ridgeline/hardware/data/h100-sxm.toml"
_REQUIRED = ("id", "name", "vendor", "kind", "launch_year", "memory_bytes", "mem_bw_bytes_per_s", "peak_flops_per_s")

#: Top-level numbers (SI units) a data file may carry besides the required ones.
OPTIONAL_NUMBERS = ("tdp_w", "on_chip_bytes", "price_usd", "usable_memory_bytes", "runtime_overhead_bytes",
                    "driver_total_memory_bytes", "gpu_working_set_fraction")
_TOP_STRINGS = ("id", "name", "vendor", "kind", "memory_type")
_TOP_KEYS = set(_REQUIRED) | set(OPTIONAL_NUMBERS) | set(_TOP_STRINGS) | {"aliases", "interconnect", "sources",
                                                                          "verification", "measured"}
#: "measured": the raw table of a profile written by `ridgeline measure` (read by ridgeline.measure.profile;
#: the Accelerator itself ignores it)
#: [interconnect] keys by type.
INTERCONNECT_NUMBERS = ("scale_up_bw_bytes_per_s_per_direction", "pcie_bw_bytes_per_s_per_direction",
                        "scale_up_latency_s", "scale_out_bw_bytes_per_s_per_direction", "scale_out_latency_s",
                        "scale_up_link_bw_bytes_per_s_per_direction", "scale_up_peer_bw_bytes_per_s_per_direction")
INTERCONNECT_INTS = ("scale_up_domain_devices", "scale_up_links", "devices_per_node")
INTERCONNECT_STRINGS = ("scale_up", "scale_out", "pcie", "scale_up_topology")


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


def _str(d: dict, key: str, where: str) -> str | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or not v.strip():
        raise ConfigError(f"{where}: field {key!r} must be a non-empty string, got {v!r}")
    return v


def _unknown(d: dict, allowed: set[str], where: str, table: str) -> None:
    extra = sorted(set(d) - allowed)
    if extra:
        raise ConfigError(f"{where}: unknown field {table}{extra[0]!r}; the fields are listed in {EXAMPLE} "
                          f"and docs/hardware.md")


def _citations(d: dict[str, Any], key: str, where: str) -> dict[str, str]:
    raw = d.get(key) or {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise ConfigError(f"{where}: [{key}] must be a table of field = \"text\"")
    return {str(k): v for k, v in raw.items()}


def _interconnect(raw: Any, where: str) -> Interconnect:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: [interconnect] must be a table")
    _unknown(raw, set(INTERCONNECT_NUMBERS) | set(INTERCONNECT_INTS) | set(INTERCONNECT_STRINGS), where,
             "interconnect.")
    kw: dict[str, Any] = {k: _num(raw, k, where, False) for k in INTERCONNECT_NUMBERS}
    kw |= {k: _int(raw, k, where) for k in INTERCONNECT_INTS}
    kw |= {k: _str(raw, k, where) for k in INTERCONNECT_STRINGS}
    topo = kw["scale_up_topology"]
    if topo is not None and topo not in SCALE_UP_TOPOLOGIES:
        raise ConfigError(f"{where}: interconnect.scale_up_topology = {topo!r} is not known; use "
                          f"{', '.join(SCALE_UP_TOPOLOGIES)}")
    return Interconnect(**kw)


def accelerator_from_dict(d: dict[str, Any], where: str) -> Accelerator:
    """Validate and build an Accelerator from a parsed TOML table."""
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: a hardware file must be a TOML table; see {EXAMPLE}")
    for k in _REQUIRED:
        if k not in d:
            raise ConfigError(f"{where}: field {k!r} is missing; see {EXAMPLE}")
    _unknown(d, _TOP_KEYS, where, "")
    if not isinstance(d.get("measured", {}), dict):
        raise ConfigError(f"{where}: [measured] must be a table (as `ridgeline measure` writes it)")
    peaks_raw = d["peak_flops_per_s"]
    if not isinstance(peaks_raw, dict):
        raise ConfigError(f"{where}: [peak_flops_per_s] must be a table of dtype = FLOP/s")
    peaks = {}
    for k in peaks_raw:
        if k not in PEAK_DTYPES:
            raise ConfigError(f"{where}: peak_flops_per_s.{k} is not a known dtype; use {', '.join(PEAK_DTYPES)}")
        peaks[k] = _num(peaks_raw, k, where)
    ic = _interconnect(d.get("interconnect", {}) or {}, where)
    aliases = d.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ConfigError(f"{where}: field 'aliases' must be a list of strings")
    for k in _TOP_STRINGS:
        if k in d:
            _str(d, k, where)
    year = d["launch_year"]
    if isinstance(year, bool) or not isinstance(year, int) or not 1950 <= year <= 2100:
        raise ConfigError(f"{where}: field 'launch_year' must be an integer year, got {year!r}")
    verification = _citations(d, "verification", where)
    for k, v in verification.items():
        if v not in VERIFICATION_LEVELS:
            raise ConfigError(f"{where}: verification.{k} = {v!r} is not a level; use {', '.join(VERIFICATION_LEVELS)}")
    frac = _num(d, "gpu_working_set_fraction", where, False)
    if frac is not None and frac > 1:
        raise ConfigError(f"{where}: field 'gpu_working_set_fraction' is a share of RAM in (0, 1], got {frac!r}")
    return Accelerator(
        id=d["id"], name=d["name"], vendor=d["vendor"], kind=d["kind"], launch_year=year,
        memory_bytes=_num(d, "memory_bytes", where), mem_bw_bytes_per_s=_num(d, "mem_bw_bytes_per_s", where),
        peak_flops_per_s=peaks, aliases=tuple(aliases), memory_type=d.get("memory_type"),
        tdp_w=_num(d, "tdp_w", where, False), on_chip_bytes=_num(d, "on_chip_bytes", where, False),
        price_usd=_num(d, "price_usd", where, False), interconnect=ic,
        sources=_citations(d, "sources", where), verification=verification,
        usable_memory_bytes=_num(d, "usable_memory_bytes", where, False),
        runtime_overhead_bytes=_num(d, "runtime_overhead_bytes", where, False),
        driver_total_memory_bytes=_num(d, "driver_total_memory_bytes", where, False),
        gpu_working_set_fraction=frac,
        origin=where,
    )


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a hardware file: a regular file (never a FIFO or device), bounded in size."""
    from ridgeline.files import read_regular_file  # noqa: PLC0415

    data = read_regular_file(path, MAX_TOML_BYTES, "hardware .toml file", ConfigError)
    try:
        return tomllib.loads(data.decode("utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML ({e}); fix the file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file; pass a hardware .toml file") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a hardware file; see {EXAMPLE}") from None


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
    if len(name) > 4096:
        raise UnknownNameError("GPU", name[:40] + "...", [], "too long: a GPU name or a path is at most 4096 characters")
    path = Path(name).expanduser()
    try:
        exists = path.exists()
    except (OSError, ValueError):
        exists = False
    if name.endswith(".toml") or (exists and not path.is_dir()):
        if not exists:
            raise ConfigError(f"{name}: no such hardware file; check the path")
        return accelerator_from_dict(read_toml(path), str(path))
    key = _norm(name)
    hit = _names().get(key) or _names().get(key.replace("-", ""))
    if hit is None:
        known = sorted({a for acc in accelerators() for a in (acc.id, *acc.aliases)})
        raise UnknownNameError("GPU", name, known, "see `ridgeline hardware`, or pass a .toml file")
    return hit
