"""Accelerator: one device's capacity, bandwidth and peak compute, each with a source."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Data-file dtype keys for dense peak FLOP/s.
PEAK_DTYPES = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp6", "fp4")


@dataclass(frozen=True)
class Interconnect:
    scale_up: str | None = None
    """Name of the device-to-device link inside a node (NVLink 4, Infinity Fabric, ICI)."""
    scale_up_bw_bytes_per_s_per_direction: float | None = None
    scale_out: str | None = None
    pcie_bw_bytes_per_s_per_direction: float | None = None
    scale_up_domain_devices: int | None = None
    """Devices joined by the scale-up link (8 for an HGX board, 72 for GB200 NVL72)."""
    scale_up_latency_s: float | None = None
    """One-way latency of a small message over the scale-up link."""
    scale_out_bw_bytes_per_s_per_direction: float | None = None
    """Scale-out (NIC) bandwidth per device, one direction."""
    scale_out_latency_s: float | None = None
    """One-way latency of a small message over the scale-out network."""


@dataclass(frozen=True)
class Accelerator:
    """One accelerator. SI units; FLOP/s are dense (no 2:4 sparsity)."""

    id: str
    name: str
    vendor: str
    kind: str
    launch_year: int
    memory_bytes: float
    """Device memory capacity, as the datasheet states it (bytes)."""
    mem_bw_bytes_per_s: float
    """Peak memory bandwidth (bytes/s)."""
    peak_flops_per_s: dict[str, float]
    """Dense peak per dtype key (see PEAK_DTYPES)."""
    aliases: tuple[str, ...] = ()
    memory_type: str | None = None
    tdp_w: float | None = None
    on_chip_bytes: float | None = None
    price_usd: float | None = None
    interconnect: Interconnect = field(default_factory=Interconnect)
    sources: dict[str, str] = field(default_factory=dict)
    """Field (dotted) -> citation; "*" covers fields not listed."""
    verification: dict[str, str] = field(default_factory=dict)
    """Field (dotted) -> verified_primary | verified_secondary | unverified | derived."""
    usable_memory_bytes: float | None = None
    """Device memory the framework sees as its total (what allocators carve up), when sourced;
    None means only the datasheet figure is known."""
    runtime_overhead_bytes: float | None = None
    """Memory the runtime reserves per device before any tensor, when sourced for this device."""
    origin: str = ""
    """The data file this came from."""

    @property
    def usable_bytes(self) -> float:
        """The capacity analyses use: the usable total when known, else the datasheet figure."""
        return self.usable_memory_bytes if self.usable_memory_bytes is not None else self.memory_bytes

    def source_of(self, field_name: str) -> str:
        return self.sources.get(field_name) or self.sources.get("*", "")

    def verification_of(self, field_name: str) -> str:
        return self.verification.get(field_name) or self.verification.get("*", "unverified")

    def peak(self, dtype: str) -> float | None:
        return self.peak_flops_per_s.get(dtype)

    def to_dict(self) -> dict:
        from dataclasses import asdict

        d = asdict(self)
        d["aliases"] = list(self.aliases)
        return d
