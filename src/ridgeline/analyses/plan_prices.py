"""Rental price per device-hour, each with its source and date, for ``ridgeline plan``.

Prices move weekly and differ several-fold between providers for the same device (spot vs
on-demand, neocloud vs hyperscaler). The table below is one dated snapshot from one public
listing per device, on-demand where the listing distinguishes it, in US dollars per device per
hour. It exists so that ``plan`` can rank devices out of the box; a real decision should pass the
user's own contract price with ``--price-per-gpu-hour`` (one number for every device, or
``NAME=USD`` pairs), which replaces the table.

Keys are hardware ids (``ridgeline hardware``). Devices missing here have no sourced price:
``plan`` skips them for the cost objective unless a price is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from ridgeline.errors import InputError

_RUNPOD_MARCH_2026 = ("RunPod on-demand list price as compiled by Deploybase, \"RunPod GPU Pricing: 2026 "
                      "Comprehensive Pricing Guide\" (deploybase.ai/articles/runpod-gpu-pricing), data as of "
                      "2026-03-10; secondary source")
_TENSORWAVE_MAY_2026 = ("TensorWave MI300X rental rate quoted in Cliff Center research note \"AMD inference "
                        "economics\" (cliffcenter.com/research/amd-inference-economics), 2026-05-18; secondary "
                        "source (Vultr $1.85, Azure/Oracle ~$6 quoted in the same note)")


@dataclass(frozen=True)
class DevicePrice:
    """What one device costs to rent for one hour."""

    device_id: str
    usd_per_device_hour: float
    """US dollars per device per hour."""
    source: str
    date: str
    """When the source observed the price (ISO date)."""


def _p(device_id: str, usd: float, source: str, date: str) -> DevicePrice:
    return DevicePrice(device_id, usd, source, date)


#: One dated public listing per device (see the module docstring).
PRICES: dict[str, DevicePrice] = {p.device_id: p for p in (
    _p("geforce-rtx-3090", 0.39, _RUNPOD_MARCH_2026, "2026-03-10"),
    _p("geforce-rtx-4090", 0.60, _RUNPOD_MARCH_2026, "2026-03-10"),
    _p("l4-pcie", 0.78, _RUNPOD_MARCH_2026, "2026-03-10"),
    _p("l40-pcie", 1.22, _RUNPOD_MARCH_2026, "2026-03-10"),
    _p("geforce-rtx-5090", 1.22, _RUNPOD_MARCH_2026, "2026-03-10"),
    _p("l40s-pcie", 1.40, _RUNPOD_MARCH_2026, "2026-03-10"),
    _p("rtx-pro-6000-blackwell", 1.57, _RUNPOD_MARCH_2026, "2026-03-10"),
    _p("a100-pcie-80gb", 2.10, _RUNPOD_MARCH_2026, "2026-03-10"),
    _p("a100-sxm4-80gb", 2.45, _RUNPOD_MARCH_2026, "2026-03-10"),
    _p("h100-pcie-80gb", 3.51, _RUNPOD_MARCH_2026, "2026-03-10"),
    _p("h100-sxm", 4.76, _RUNPOD_MARCH_2026, "2026-03-10"),
    _p("h200-sxm-141gb", 6.35, _RUNPOD_MARCH_2026, "2026-03-10"),
    _p("b200-hgx", 10.57, _RUNPOD_MARCH_2026, "2026-03-10"),
    _p("mi300x-oam", 1.50, _TENSORWAVE_MAY_2026, "2026-05-18"),
)}


@dataclass(frozen=True)
class PriceOverride:
    """``--price-per-gpu-hour``: one price for all devices, and/or per-device prices by name."""

    all_usd: float | None = None
    by_device: tuple[tuple[str, float], ...] = ()
    """(hardware id, USD per device-hour)."""


def parse_price_override(text: str | None) -> PriceOverride:
    """``"2.5"`` (every device) or ``"h100=2.5,b200=5"`` (by name; ids or aliases)."""
    if text is None or not str(text).strip():
        return PriceOverride()
    from ridgeline.hardware.load import get_accelerator  # noqa: PLC0415

    all_usd, pairs = None, []
    for part in str(text).split(","):
        name, sep, val = part.partition("=")
        raw = val if sep else name
        try:
            usd = float(raw)
        except ValueError:
            raise InputError(f"--price-per-gpu-hour: cannot read {raw.strip()!r} as US dollars; write e.g. 2.5 or "
                             "h100=2.5,b200=5") from None
        if not 0 < usd < 1e4:
            raise InputError(f"--price-per-gpu-hour: {usd:g} USD per device-hour is not sensible; give a positive "
                             "price below 10000")
        if sep:
            pairs.append((get_accelerator(name.strip()).id, usd))
        else:
            all_usd = usd
    return PriceOverride(all_usd, tuple(pairs))


def price_for(device_id: str, override: PriceOverride = PriceOverride()) -> DevicePrice | None:
    """The price used for a device: a per-device override, the all-devices override, the table."""
    for d, usd in override.by_device:
        if d == device_id:
            return DevicePrice(device_id, usd, "user price (--price-per-gpu-hour)", "")
    if override.all_usd is not None:
        return DevicePrice(device_id, override.all_usd, "user price (--price-per-gpu-hour)", "")
    return PRICES.get(device_id)
