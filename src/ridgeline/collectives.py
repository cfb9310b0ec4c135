"""Collective communication time: latency + bytes over the link, per call.

Ring algorithms (Patarasuk & Yuan 2009, "Bandwidth optimal all-reduce algorithms for clusters
of workstations"): an all-reduce of M bytes over n ranks moves 2(n-1)/n * M bytes through each
rank's link; an all-gather or reduce-scatter (n-1)/n * M; an all-to-all (n-1)/n * M (each rank
sends its share to every other). A point-to-point send moves M.

The link: devices within the scale-up domain (NVLink, Infinity Fabric, ICI) use its
per-device bandwidth; beyond it, the scale-out NIC. Its achieved fraction of line rate and
the fixed latency per call are named factors (see ridgeline.timing).
"""

from __future__ import annotations

from dataclasses import dataclass

from ridgeline.hardware.spec import Accelerator


@dataclass(frozen=True)
class Link:
    name: str
    bw_bytes_per_s: float
    """One direction, per device, line rate."""
    latency_s: float
    """Fixed cost of one collective call over it."""


def link_for(hw: Accelerator, group: int, default_latency_s: float, default_domain: int = 8) -> Link | None:
    """The link a group of ``group`` devices communicates over (None for a group of one)."""
    if group <= 1:
        return None
    ic = hw.interconnect
    domain = ic.scale_up_domain_devices or default_domain
    if group <= domain and ic.scale_up_bw_bytes_per_s_per_direction:
        return Link(ic.scale_up or "scale-up", ic.scale_up_bw_bytes_per_s_per_direction,
                    ic.scale_up_latency_s or default_latency_s)
    if ic.scale_out_bw_bytes_per_s_per_direction:
        return Link(ic.scale_out or "scale-out", ic.scale_out_bw_bytes_per_s_per_direction,
                    ic.scale_out_latency_s or default_latency_s)
    if ic.pcie_bw_bytes_per_s_per_direction:
        return Link("PCIe", ic.pcie_bw_bytes_per_s_per_direction, default_latency_s)
    return None


def all_reduce_wire_bytes(message_bytes, n: int):
    """Bytes through one rank's link for a ring all-reduce of ``message_bytes``."""
    return 2 * (n - 1) / n * message_bytes


def all_to_all_wire_bytes(message_bytes, n: int):
    """Bytes one rank sends in an all-to-all where it holds ``message_bytes`` in all."""
    return (n - 1) / n * message_bytes


def collective_time_s(wire_bytes, link: Link, efficiency: float):
    """latency + wire bytes / (achieved link bandwidth)."""
    return link.latency_s + wire_bytes / (link.bw_bytes_per_s * efficiency)
