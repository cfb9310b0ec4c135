"""The one place where byte counts and rates are parsed and formatted.

Convention: inside ridgeline every quantity is a float or int in SI base units
(bytes, seconds, bytes/s, FLOP/s). ``GB`` means 10**9 bytes and ``GiB`` means
2**30 bytes; rates are always decimal (``TB/s`` = 10**12 bytes/s).

>>> fmt_gb(141_106_839_552)
'141.1 GB'
>>> fmt_gib(141_106_839_552)
'131.4 GiB'
>>> parse_bytes("80GB"), parse_bytes("80 GiB")
(80000000000, 85899345920)
"""

from __future__ import annotations

import math
import re

from ridgeline.errors import InputError, echo

KB = 10**3
MB = 10**6
GB = 10**9
TB = 10**12
KiB = 2**10
MiB = 2**20
GiB = 2**30
TiB = 2**40

_SUFFIX = {
    "": 1, "b": 1,
    "kb": KB, "mb": MB, "gb": GB, "tb": TB,
    "kib": KiB, "mib": MiB, "gib": GiB, "tib": TiB,
    "k": KB, "m": MB, "g": GB, "t": TB,
}
_BYTES_RE = re.compile(r"^\s*([+-]?[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*$")
_TOKENS_RE = re.compile(r"^\s*([+-]?[0-9]+)\s*([km]?)\s*$")

#: The largest size ridgeline reads: 1 EB (10**18 bytes), a thousand times the memory of any
#: system it models. Anything above is a typo (``1e30TB``), not a machine.
MAX_BYTES = 10**18
#: The largest token count ridgeline reads: 2**40 tokens, far beyond any context or batch.
MAX_TOKENS = 2**40


def parse_bytes(text: str | int | float, field: str = "size") -> int:
    """Parse ``"80GB"``, ``"80 GiB"``, ``"1.5e9"`` or a number into bytes (int).

    Rejected with one line naming ``field``: negative, non-finite (``1e400``) and absurd
    (above :data:`MAX_BYTES`, e.g. ``1e30TB``) sizes, and text that is not a size.

    >>> parse_bytes("1.5GiB")
    1610612736
    """
    if isinstance(text, bool):
        raise InputError(f"{field}: expected a size such as 80GB or 80GiB, got {text!r}")
    if isinstance(text, (int, float)):
        value, unit = float(text), ""
    else:
        m = _BYTES_RE.match(str(text)[:1000])
        if len(str(text)) > 1000 or not m or m.group(2).lower() not in _SUFFIX:
            raise InputError(f"{field}: cannot read {echo(text)} as a size; write e.g. 80GB (10^9 bytes) "
                             "or 80GiB (2^30 bytes)")
        value, unit = float(m.group(1)), m.group(2).lower()
    if math.isnan(value):
        raise InputError(f"{field}: size must be a number, got {echo(text)}")
    if value < 0:
        raise InputError(f"{field}: size must not be negative, got {echo(text)}; give a size such as 1GiB")
    total = value * _SUFFIX[unit]
    if not math.isfinite(total) or total > MAX_BYTES:
        raise InputError(f"{field}: {echo(text)} is beyond any real device (limit 1 EB = 10^18 bytes); "
                         "check the number and its unit")
    return int(round(total))


def parse_tokens(text: str | int, field: str) -> int:
    """Parse a token count: ``8192``, ``8k`` (8 * 1024), ``128k``, ``1M`` (2**20).

    >>> parse_tokens("128k", "--context")
    131072
    """
    if isinstance(text, bool):
        raise InputError(f"{field}: expected a whole number of tokens such as 8192 or 8k, got {text!r}")
    if isinstance(text, int):
        value = text
    else:
        m = _TOKENS_RE.match(str(text).lower()) if len(str(text)) <= 100 else None
        if not m:
            raise InputError(f"{field}: expected a whole number of tokens such as 8192 or 8k, got {echo(text)}")
        value = int(m.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2)]
    if abs(value) > MAX_TOKENS:
        raise InputError(f"{field}: {echo(text)} tokens is beyond any real context (limit 2^40); check the number")
    return value


def fmt_gb(num_bytes: float, digits: int = 1) -> str:
    """Decimal gigabytes (10**9 bytes)."""
    return f"{num_bytes / GB:,.{digits}f} GB"


def fmt_gib(num_bytes: float, digits: int = 1) -> str:
    """Binary gibibytes (2**30 bytes)."""
    return f"{num_bytes / GiB:,.{digits}f} GiB"


def fmt_bytes(num_bytes: float) -> str:
    """Human size with an automatically chosen decimal unit: ``'1.15 kB'``, ``'70.3 GB'``."""
    for unit, scale in (("TB", TB), ("GB", GB), ("MB", MB), ("kB", KB)):
        if abs(num_bytes) >= scale:
            return f"{num_bytes / scale:,.3g} {unit}" if num_bytes / scale < 100 else f"{num_bytes / scale:,.1f} {unit}"
    return f"{num_bytes:,.0f} B"


def fmt_rate(bytes_per_s: float) -> str:
    """Bandwidth in decimal units: ``'3.35 TB/s'``."""
    if bytes_per_s >= TB:
        return f"{bytes_per_s / TB:.3g} TB/s"
    return f"{bytes_per_s / GB:.3g} GB/s"


def fmt_flops(flop_per_s: float) -> str:
    """Compute rate in decimal units: ``'989 TFLOP/s'``."""
    if flop_per_s >= 10**15:
        return f"{flop_per_s / 10**15:.3g} PFLOP/s"
    return f"{flop_per_s / 10**12:.4g} TFLOP/s"


def fmt_count(n: float) -> str:
    """Parameter counts: ``'70.55B'``, ``'124.4M'``."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.4g}{unit}"
    return f"{n:.0f}"


_SECONDS = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def parse_seconds(text: str | float, field: str) -> float:
    """Parse a duration: ``2ms``, ``150us``, ``0.002`` (seconds) into seconds.

    >>> parse_seconds("2ms", "x")
    0.002
    """
    m = re.match(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*([a-zµ]*)\s*$", str(text).lower())
    if not m or m.group(2) not in _SECONDS:
        raise InputError(f"{field}: cannot read {text!r} as a duration; write e.g. 2ms, 150us or 0.002")
    value = float(m.group(1)) * _SECONDS[m.group(2)]
    if not math.isfinite(value) or value > 3600:
        raise InputError(f"{field}: {text!r} is not a sensible duration; give at most an hour")
    return value
