"""Hardware data files: schema, short names, a source and a verification level for every number,
usable memory, link data, and one-line load errors."""

import math
import os
import tomllib
from importlib import resources

import pytest

from ridgeline.errors import ConfigError, UnknownNameError
from ridgeline.hardware.load import INTERCONNECT_INTS, INTERCONNECT_NUMBERS, OPTIONAL_NUMBERS, accelerators, get_accelerator
from ridgeline.hardware.spec import PEAK_DTYPES, SCALE_UP_TOPOLOGIES, VERIFICATION_LEVELS

GiB = 2**30
MiB = 2**20
REQUIRED_SHORT = ["h100", "h200", "b200", "gb200", "b300", "mi300x", "mi325x", "mi355x", "mi250x", "a100",
                  "v100", "l4", "l40s", "rtx4090", "rtx5090", "tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e", "gaudi2",
                  "gaudi3", "m2-ultra", "m3-max", "m4-max",
                  # added for issue 9
                  "a6000", "rtx-6000-ada", "rtx-pro-6000", "a10", "mi300a", "l20", "h800"]


def _raw_files():
    out = {}
    for f in resources.files("ridgeline.hardware.data").iterdir():
        if f.name.endswith(".toml"):
            out[f"hardware/data/{f.name}"] = tomllib.loads(f.read_text("utf-8"))
    return out


RAW = _raw_files()
BY_ORIGIN = {a.origin: a for a in accelerators()}


def _numeric_fields(raw: dict) -> list[str]:
    """Every number a data file states, as the dotted field names its citations use."""
    fields = ["memory_bytes", "mem_bw_bytes_per_s", "launch_year"]
    fields += [k for k in OPTIONAL_NUMBERS if k in raw]
    fields += [f"peak_flops_per_s.{k}" for k in raw["peak_flops_per_s"]]
    ic = raw.get("interconnect", {})
    fields += [f"interconnect.{k}" for k in (*INTERCONNECT_NUMBERS, *INTERCONNECT_INTS) if k in ic]
    return fields


def _all_fields(raw: dict) -> list[str]:
    top = [k for k in raw if k not in ("sources", "verification", "peak_flops_per_s", "interconnect")]
    return (top + [f"peak_flops_per_s.{k}" for k in raw["peak_flops_per_s"]]
            + [f"interconnect.{k}" for k in raw.get("interconnect", {})])


def test_at_least_45_accelerators():
    assert len(accelerators()) >= 45


@pytest.mark.parametrize("name", REQUIRED_SHORT)
def test_short_names(name):
    assert get_accelerator(name).id


def test_a100_is_80gb_and_h100_is_sxm():
    assert get_accelerator("a100").memory_bytes == 80e9
    assert "SXM" in get_accelerator("h100").name


@pytest.mark.parametrize("origin", sorted(RAW), ids=lambda o: o.rsplit("/", 1)[-1])
def test_every_number_has_a_source_and_level(origin):
    raw, acc = RAW[origin], BY_ORIGIN[origin]
    for f in _numeric_fields(raw):
        assert acc.source_of(f).strip(), f"{origin}: {f} has no source"
        assert acc.verification_of(f) in VERIFICATION_LEVELS, f"{origin}: {f}"
    for level in acc.verification.values():
        assert level in VERIFICATION_LEVELS
    assert set(acc.peak_flops_per_s) <= set(PEAK_DTYPES)
    assert 1e9 < acc.memory_bytes < 1e13 or acc.kind in ("wafer", "lpu")
    assert acc.mem_bw_bytes_per_s > 1e11


@pytest.mark.parametrize("origin", sorted(RAW), ids=lambda o: o.rsplit("/", 1)[-1])
def test_citation_keys_name_real_fields(origin):
    """A typo in a [sources] or [verification] key would silently fall back to "*": every key must match."""
    raw = RAW[origin]
    fields = _all_fields(raw)
    for table in ("sources", "verification"):
        for key in raw.get(table, {}):
            if key == "*":
                continue
            if key.endswith("*"):
                assert any(f.startswith(key[:-1]) for f in fields), f"{origin}: [{table}] {key} matches no field"
            else:
                assert key in fields, f"{origin}: [{table}] {key} is not a field of the file"


@pytest.mark.parametrize("acc", accelerators(), ids=lambda a: a.id)
def test_usable_memory_within_physical(acc):
    """Usable <= the datasheet figure read in binary units (HBM/GDDR/LPDDR capacities are GiB physically:
    H100 "80GB" is 80 GiB of HBM3, of which nvidia-smi shows 81,559 MiB), and the driver total >= the framework's."""
    physical_bound = acc.memory_bytes * GiB / 1e9
    assert acc.usable_bytes <= physical_bound
    assert acc.usable_bytes >= 0.5 * acc.memory_bytes
    if acc.driver_total_memory_bytes is not None:
        assert acc.driver_total_memory_bytes <= physical_bound
        if acc.usable_memory_bytes is not None:
            assert acc.usable_memory_bytes <= acc.driver_total_memory_bytes
    if acc.gpu_working_set_fraction is not None:
        assert 0 < acc.gpu_working_set_fraction <= 1


@pytest.mark.parametrize("acc", accelerators(), ids=lambda a: a.id)
def test_link_figures_are_consistent(acc):
    ic = acc.interconnect
    agg = ic.scale_up_bw_bytes_per_s_per_direction
    if ic.scale_up_topology is not None:
        assert ic.scale_up_topology in SCALE_UP_TOPOLOGIES
    if agg and ic.scale_up_links and ic.scale_up_link_bw_bytes_per_s_per_direction:
        # per-link figures can never add up to more than the device's aggregate
        assert ic.scale_up_links * ic.scale_up_link_bw_bytes_per_s_per_direction <= agg
        if ic.scale_up_topology in ("switched", "full-mesh"):
            assert math.isclose(ic.scale_up_links * ic.scale_up_link_bw_bytes_per_s_per_direction, agg, rel_tol=1e-12)
    if ic.scale_up_peer_bw_bytes_per_s_per_direction is not None:
        assert agg and ic.scale_up_peer_bw_bytes_per_s_per_direction <= agg
        if ic.scale_up_topology == "switched":
            assert ic.scale_up_peer_bw_bytes_per_s_per_direction == agg
        if ic.scale_up_topology == "full-mesh" and ic.scale_up_domain_devices:
            peers = ic.scale_up_domain_devices - 1
            assert math.isclose(ic.scale_up_peer_bw_bytes_per_s_per_direction * peers, agg, rel_tol=1e-12)
    if ic.scale_up_domain_devices and ic.devices_per_node:
        assert ic.scale_up_domain_devices >= ic.devices_per_node
    for lat in (ic.scale_up_latency_s, ic.scale_out_latency_s):
        assert lat is None or 1e-8 < lat < 1e-3


def test_tpu_capacities_in_one_unit():
    """Google's tables mix "GB" and "GiB" for HBM; every TPU is stored in whole GiB."""
    tpus = [a for a in accelerators() if a.kind == "tpu"]
    assert len(tpus) >= 5
    for a in tpus:
        assert a.memory_bytes % GiB == 0, a.id
    assert get_accelerator("tpu-v5e").memory_bytes == 16 * GiB
    assert get_accelerator("tpu-v6e").memory_bytes == 32 * GiB


# Golden values, each with its citation.

def test_golden_nvidia_smi_totals():
    # modal-labs/modal-client PR #2797: H100 81559MiB, A100 80GB 81920MiB, L4 23034MiB, T4 15360MiB (exact)
    assert get_accelerator("h100").driver_total_memory_bytes == 81559 * MiB
    assert get_accelerator("a100").driver_total_memory_bytes == 81920 * MiB
    assert get_accelerator("l4").driver_total_memory_bytes == 23034 * MiB
    assert get_accelerator("t4").driver_total_memory_bytes == 15360 * MiB
    # NVIDIA/TensorRT-LLM issue #10278: B200 183359MiB (exact)
    assert get_accelerator("b200").driver_total_memory_bytes == 183359 * MiB
    # public nvidia-smi logs: H200 143771MiB, RTX A6000 49140MiB, RTX PRO 6000 Blackwell 97887MiB (exact)
    assert get_accelerator("h200").driver_total_memory_bytes == 143771 * MiB
    assert get_accelerator("a6000").driver_total_memory_bytes == 49140 * MiB
    assert get_accelerator("rtx-pro-6000").driver_total_memory_bytes == 97887 * MiB


def test_golden_framework_totals():
    # pytorch/ao PR #4002 and torch OOM messages: B200 178.35 GiB, printed to 0.01 GiB (tolerance: half of that)
    b200 = get_accelerator("b200")
    assert abs(b200.usable_bytes / GiB - 178.35) <= 0.005 and b200.usable_basis == "usable_memory_bytes"
    # H100: torch total_memory=81089MB (MiB), exact; fit must see less than nvidia-smi's 81,559 MiB
    h100 = get_accelerator("h100")
    assert h100.usable_bytes == 81089 * MiB < h100.driver_total_memory_bytes


def test_golden_apple_working_set():
    # llama.cpp logs: recommendedMaxWorkingSetSize = 103079.22 MB (1e6 bytes) on a 128 GB Mac = 0.75 x 128 GiB;
    # tolerance 0.005 MB: the log prints two decimals
    m3 = get_accelerator("m3-max")
    assert m3.gpu_working_set_fraction == 0.75 and m3.usable_basis == "gpu_working_set_fraction"
    assert abs(m3.usable_bytes / 1e6 - 103079.22) <= 0.005
    # llama.cpp issue #3213: M2 Max 96 GB -> 73728.00 MiB, the same fraction of a binary capacity
    assert 0.75 * 96 * GiB == 73728 * MiB


def test_golden_gaudi_ports():
    # docs.habana.ai Network Configuration: 21 scale-up + 3 scale-out ports; Gaudi 3 at 200 Gb/s, Gaudi 2 at 100 Gb/s
    g3, g2 = get_accelerator("gaudi3").interconnect, get_accelerator("gaudi2").interconnect
    assert (g3.scale_up_links, g3.scale_up_bw_bytes_per_s_per_direction, g3.scale_out_bw_bytes_per_s_per_direction) == (21, 525e9, 75e9)
    assert (g2.scale_up_links, g2.scale_up_bw_bytes_per_s_per_direction, g2.scale_out_bw_bytes_per_s_per_direction) == (21, 262.5e9, 37.5e9)
    assert g3.scale_up_peer_bw_bytes_per_s_per_direction == 75e9  # 3 ports to each of 7 peers


def test_golden_infinity_fabric_peer_vs_total():
    # AMD MI300X datasheet: 7 links x 128 GB/s bidirectional; 448 GB/s per direction is the total over 7 peers
    ic = get_accelerator("mi300x").interconnect
    assert ic.scale_up_bw_bytes_per_s_per_direction == 448e9
    assert ic.scale_up_peer_bw_bytes_per_s_per_direction == 64e9
    assert ic.scale_up_topology == "full-mesh" and ic.scale_up_domain_devices == 8


def test_golden_blackwell_current_datasheets():
    # NVIDIA HGX page (HGX B200 column) and GB200 NVL72 page: FP64 37 / 40 TFLOPS, FP32 75 / 80 TFLOPS, 7.7 / 8 TB/s
    b200, gb200 = get_accelerator("b200"), get_accelerator("gb200")
    assert (b200.peak("fp64"), b200.peak("fp32"), b200.mem_bw_bytes_per_s) == (37e12, 75e12, 7.7e12)
    assert (gb200.peak("fp64"), gb200.peak("fp32"), gb200.mem_bw_bytes_per_s) == (40e12, 80e12, 8e12)
    assert gb200.memory_bytes == 186e9 and gb200.interconnect.scale_up_domain_devices == 72
    # verda.com GB300 per-GPU table: 279 GB exposed of 288 GB physical
    assert get_accelerator("b300").memory_bytes == 279e9


def test_golden_scale_out_and_latency():
    # MLPerf v3.1 Dell XE9680: 8x 400 Gb InfiniBand per 8 H100 -> 50e9 B/s per GPU per direction
    assert get_accelerator("h100").interconnect.scale_out_bw_bytes_per_s_per_direction == 400e9 / 8
    # NCCL 2.30.7 tuning.cc hwLatencies: NVLink ring LL 0.6 us, NET ring LL 2.7 us
    assert get_accelerator("h100").interconnect.scale_up_latency_s == 0.6e-6
    assert get_accelerator("b200").interconnect.scale_out_latency_s == 2.7e-6


def test_dense_peaks_only():
    # RTX 6000 Ada datasheet "1,457 TFLOPS" FP8 is with sparsity: the data keep half
    assert get_accelerator("rtx-6000-ada").peak("fp8") == 1457e12 / 2
    assert get_accelerator("a10").peak("int4") == 500e12


# Custom files and one-line errors.

BASE = ('id = "mine"\nname = "My accelerator"\nvendor = "Me"\nkind = "gpu"\nlaunch_year = 2026\n'
        'memory_bytes = 48e9\nmem_bw_bytes_per_s = 1e12\n')


def _load(tmp_path, text, name="mine.toml"):
    f = tmp_path / name
    f.write_text(text)
    return get_accelerator(str(f))


def test_custom_toml(tmp_path):
    a = _load(tmp_path, BASE + '[peak_flops_per_s]\nbf16 = 200e12\nint4 = 800e12\n[sources]\n"*" = "my measurement"\n')
    assert a.memory_bytes == 48e9 and a.peak("bf16") == 200e12 and a.peak("int4") == 800e12
    assert a.usable_bytes == 48e9 and a.usable_basis == "memory_bytes"
    with pytest.raises(ConfigError, match="'vendor' is missing"):
        _load(tmp_path, 'id = "mine"\nname = "x"\n')


def test_usable_chain(tmp_path):
    peaks = '[peak_flops_per_s]\nbf16 = 1e14\n'
    assert _load(tmp_path, BASE + "gpu_working_set_fraction = 0.5\n" + peaks).usable_bytes == 24e9
    a = _load(tmp_path, BASE + "gpu_working_set_fraction = 0.5\ndriver_total_memory_bytes = 47e9\n" + peaks)
    assert (a.usable_bytes, a.usable_basis) == (47e9, "driver_total_memory_bytes")
    a = _load(tmp_path, BASE + "driver_total_memory_bytes = 47e9\nusable_memory_bytes = 46e9\n" + peaks)
    assert (a.usable_bytes, a.usable_basis) == (46e9, "usable_memory_bytes")


def test_apple_fraction_overridable(tmp_path):
    """Copy a shipped file, raise the working set (as after sysctl iogpu.wired_limit_mb), get the new capacity."""
    text = (resources.files("ridgeline.hardware.data") / "apple-m4-max.toml").read_text("utf-8")
    a = _load(tmp_path, text.replace("gpu_working_set_fraction = 0.75", "gpu_working_set_fraction = 0.9"))
    assert a.usable_bytes == 0.9 * 128 * GiB


@pytest.mark.parametrize("extra, field", [
    ("memory_byte = 1e9\n", "memory_byte"),
    ("gpu_working_set_fraction = 1.5\n", "gpu_working_set_fraction"),
    ("usable_memory_bytes = -1\n", "usable_memory_bytes"),
    ("usable_memory_bytes = \"80GB\"\n", "usable_memory_bytes"),
    ('memory_type = 5\n', "memory_type"),
    ("[peak_flops_per_s]\nbf16 = 1e14\nint3 = 1e14\n", "int3"),
    ("[peak_flops_per_s]\nbf16 = 1e14\n[interconnect]\nscale_up_links = 2.5\n", "scale_up_links"),
    ("[peak_flops_per_s]\nbf16 = 1e14\n[interconnect]\nscale_up_topology = \"ring\"\n", "scale_up_topology"),
    ("[peak_flops_per_s]\nbf16 = 1e14\n[interconnect]\nscale_up_bandwidth = 1e9\n", "scale_up_bandwidth"),
    ("[peak_flops_per_s]\nbf16 = 1e14\n[verification]\n\"*\" = \"checked\"\n", "verification"),
    ("[peak_flops_per_s]\nbf16 = 1e14\n[sources]\n\"*\" = 5\n", "sources"),
    ("interconnect = 3\n", "interconnect"),
])
def test_bad_fields_are_one_line(tmp_path, extra, field):
    text = BASE + extra if "[peak_flops_per_s]" in extra else BASE + extra + "[peak_flops_per_s]\nbf16 = 1e14\n"
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, text)
    msg = str(e.value)
    assert "\n" not in msg and field in msg, msg


def test_deeply_nested_toml_is_one_line(tmp_path):
    f = tmp_path / "deep.toml"
    f.write_text("a = " + "[" * 200_000 + "]" * 200_000 + "\n")
    with pytest.raises(ConfigError) as e:
        get_accelerator(str(f))
    assert "\n" not in str(e.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "gpu.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        get_accelerator(str(fifo))


def test_unknown_suggests():
    with pytest.raises(UnknownNameError, match="did you mean"):
        get_accelerator("h10")


def test_long_name_is_refused():
    with pytest.raises(UnknownNameError):
        get_accelerator("h" * 5000)
