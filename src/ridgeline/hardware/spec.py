"""Accelerator: one device's capacity, bandwidth, peak compute and links, each with a source."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Data-file dtype keys for dense peak FLOP/s (or OP/s for the integer formats).
#: "fp4" is the FP4 tensor-core rate (NVFP4 / MXFP4 run at it); "fp6" the FP6 (MXFP6) rate.
PEAK_DTYPES = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp6", "fp4", "int4")

#: Allowed values of interconnect.scale_up_topology.
SCALE_UP_TOPOLOGIES = ("switched", "full-mesh", "2d-torus", "3d-torus", "bridge", "hybrid-cube-mesh")

#: Allowed values of an entry in a data file's [verification] table.
VERIFICATION_LEVELS = ("verified_primary", "verified_secondary", "unverified", "derived")


@dataclass(frozen=True)
class Interconnect:
    """Links of one device. Bandwidths are per device and one direction unless the name says otherwise."""

    scale_up: str | None = None
    """Name of the device-to-device link inside the scale-up domain (NVLink 4, Infinity Fabric, ICI)."""
    scale_up_bw_bytes_per_s_per_direction: float | None = None
    """Aggregate scale-up bandwidth of one device over all its links, one direction."""
    scale_out: str | None = None
    """Name of the scale-out network (the NIC per device), when sourced."""
    pcie_bw_bytes_per_s_per_direction: float | None = None
    scale_up_domain_devices: int | None = None
    """Devices joined by the scale-up link (8 for an HGX board, 72 for GB200 NVL72, 256 for a TPU v6e pod)."""
    scale_up_latency_s: float | None = None
    """Latency of one hop over the scale-up link, as the source defines it (see its source string)."""
    scale_out_bw_bytes_per_s_per_direction: float | None = None
    """Scale-out (NIC) bandwidth per device, one direction."""
    scale_out_latency_s: float | None = None
    """Latency of one hop over the scale-out network, as the source defines it."""
    pcie: str | None = None
    """Host link (PCIe generation and width)."""
    scale_up_topology: str | None = None
    """How the scale-up domain is wired (one of SCALE_UP_TOPOLOGIES): "switched" (NVSwitch: any peer at the full
    bandwidth), "full-mesh" (a share of the links per peer), "2d-torus"/"3d-torus" (TPU ICI), "bridge" (a pair)."""
    scale_up_links: int | None = None
    """Scale-up links (or ports) per device."""
    scale_up_link_bw_bytes_per_s_per_direction: float | None = None
    """Bandwidth of one scale-up link, one direction."""
    scale_up_peer_bw_bytes_per_s_per_direction: float | None = None
    """Bandwidth from this device to any single peer, one direction: the aggregate when a switch joins the
    domain, a share of the links in a full mesh (one peer of seven on an MI300X board gets one link)."""
    devices_per_node: int | None = None
    """Devices in one server (node) of the usual platform."""


@dataclass(frozen=True)
class Accelerator:
    """One accelerator. SI units; FLOP/s are dense (no 2:4 sparsity)."""

    id: str
    name: str
    vendor: str
    kind: str
    launch_year: int
    memory_bytes: float
    """Device memory capacity, as the datasheet states it (bytes). Where the vendor's "GB" is binary in fact
    (Apple unified memory, TPU HBM) it is stored in GiB; HBM/GDDR "GB" of GPUs stay decimal, with the memory
    software sees in usable_memory_bytes / driver_total_memory_bytes."""
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
    """Field (dotted) -> citation. A key ending in "*" covers the fields it prefixes ("interconnect.scale_up_*");
    the longest match wins and "*" alone covers every field not otherwise listed."""
    verification: dict[str, str] = field(default_factory=dict)
    """Field (dotted) -> verified_primary | verified_secondary | unverified | derived."""
    usable_memory_bytes: float | None = None
    """Device memory the framework sees as its total (torch.cuda.mem_get_info()[1], what vLLM and SGLang
    carve up), when sourced; None means only the driver's or the datasheet's figure is known."""
    runtime_overhead_bytes: float | None = None
    """Memory the runtime reserves per device before any tensor, when sourced for this device."""
    origin: str = ""
    """The data file this came from."""
    driver_total_memory_bytes: float | None = None
    """Total memory the driver reports (nvidia-smi / amd-smi "Total"), when sourced. At or above the
    framework's total: the CUDA/ROCm runtime keeps a few hundred MiB of it."""
    gpu_working_set_fraction: float | None = None
    """Unified-memory SoCs (Apple): the share of RAM the GPU may use by default (Metal's
    recommendedMaxWorkingSetSize / RAM). Override it in a custom data file (e.g. after raising
    iogpu.wired_limit_mb)."""

    @property
    def usable_bytes(self) -> float:
        """The capacity analyses use; ``usable_basis`` names which figure it is."""
        if self.usable_memory_bytes is not None:
            return self.usable_memory_bytes
        if self.driver_total_memory_bytes is not None:
            return self.driver_total_memory_bytes
        if self.gpu_working_set_fraction is not None:
            return self.memory_bytes * self.gpu_working_set_fraction
        return self.memory_bytes

    @property
    def usable_basis(self) -> str:
        """The field ``usable_bytes`` comes from (for messages and --explain)."""
        if self.usable_memory_bytes is not None:
            return "usable_memory_bytes"
        if self.driver_total_memory_bytes is not None:
            return "driver_total_memory_bytes"
        if self.gpu_working_set_fraction is not None:
            return "gpu_working_set_fraction"
        return "memory_bytes"

    def source_of(self, field_name: str) -> str:
        return _lookup(self.sources, field_name) or ""

    def verification_of(self, field_name: str) -> str:
        return _lookup(self.verification, field_name) or "unverified"

    def peak(self, dtype: str) -> float | None:
        return self.peak_flops_per_s.get(dtype)

    def to_dict(self) -> dict:
        from dataclasses import asdict

        d = asdict(self)
        d["aliases"] = list(self.aliases)
        return d


def _lookup(table: dict[str, str], field_name: str) -> str | None:
    """The entry for a dotted field: exact key first, then the longest "prefix*" key that matches."""
    if field_name in table:
        return table[field_name]
    best = None
    for key, value in table.items():
        if key.endswith("*") and field_name.startswith(key[:-1]) and (best is None or len(key) > len(best[0])):
            best = (key, value)
    return best[1] if best else None
