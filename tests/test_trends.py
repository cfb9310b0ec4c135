"""ridgeline trends: growth rates come from the data files; the fit recovers known slopes; the CLI."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from ridgeline.analyses.trends import fit_growth, trends, vendor_lines
from ridgeline.hardware.load import accelerators, get_accelerator


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ridgeline", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "160"})


@pytest.fixture(scope="module")
def gpu():
    return trends("gpu")


def test_nvidia_line_is_its_record_setting_flagships(gpu):
    # dense bf16/fp16 records: V100 125 (fp16), A100 312, H100 989.4, GB200 2500 TFLOP/s (datasheets, see the TOMLs);
    # B200 (2250) and B300 (2500, not above GB200) do not set a record
    assert gpu.lines["NVIDIA"] == ("v100-sxm2-32gb", "a100-sxm4-80gb", "h100-sxm", "gb200-nvl72")
    assert gpu.lines["AMD"] == ("mi250x-oam", "mi300x-oam", "mi355x-oam")


def test_nvidia_bandwidth_growth_recomputed_by_hand(gpu):
    """Log-linear least squares over the line's (launch year, HBM bandwidth), read from the data files."""
    ids = gpu.lines["NVIDIA"]
    years = [get_accelerator(i).launch_year for i in ids]
    bw = [get_accelerator(i).mem_bw_bytes_per_s for i in ids]
    assert years == [2017, 2020, 2022, 2024] and bw == [0.9e12, 2.039e12, 3.35e12, 8e12]
    slope = np.polyfit(years, np.log(bw), 1)[0]
    assert gpu.growth_by_line["NVIDIA"]["mem_bw"].factor_per_year == pytest.approx(math.exp(slope), rel=1e-12)
    # the same by the closed form of a least-squares slope
    x, y = np.array(years, float), np.log(bw)
    b = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    assert gpu.growth_by_line["NVIDIA"]["mem_bw"].factor_per_year == pytest.approx(math.exp(b), rel=1e-12)


def test_single_line_pooled_fit_equals_its_own_fit():
    r = trends("tpu")
    assert list(r.lines) == ["Google"]
    for m, g in r.growth.items():
        assert g.factor_per_year == pytest.approx(r.growth_by_line["Google"][m].factor_per_year, rel=1e-12)


def test_fit_recovers_a_known_slope_and_ignores_levels():
    pts = [("a", f"a{y}", y, 10.0 * 2.0 ** (y - 2000)) for y in (2000, 2002, 2005)]
    pts += [("b", f"b{y}", y, 1e6 * 2.0 ** (y - 2000)) for y in (2001, 2004)]  # a far higher level, same slope
    pts += [("c", "c0", 2003, 1e30)]  # one point: sets no slope, must not move it
    g = fit_growth(pts, "x")
    assert g.factor_per_year == pytest.approx(2.0, rel=1e-12)
    assert "c0" not in g.devices and (g.first_year, g.last_year) == (2000, 2005)
    assert fit_growth([("a", "a", 2000, 1.0)], "x").factor_per_year is None


def test_ridge_points_and_decode_steps(gpu):
    h = next(p for p in gpu.devices if p.id == "h100-sxm")
    assert h.ridge_flop_per_byte == pytest.approx(989.4e12 / 3.35e12, rel=1e-12)  # ~295 FLOP/byte
    for p in gpu.devices:
        assert p.ridge_flop_per_byte == pytest.approx(p.peak_flops_per_s / p.mem_bw_bytes_per_s, rel=1e-12)
        assert p.decode_step_time_s >= p.decode_step_ideal_time_s > 0
    # batch-1 decode streams the weights: more bandwidth, shorter step, along the NVIDIA line
    steps = [next(p for p in gpu.devices if p.id == i).decode_step_time_s for i in gpu.lines["NVIDIA"]]
    assert steps == sorted(steps, reverse=True)


def test_compute_outgrew_bandwidth_in_the_data(gpu):
    g = gpu.growth
    assert g["peak_flops"].factor_per_year > g["mem_bw"].factor_per_year > 1
    assert g["peak_flops_low_precision"].factor_per_year >= g["peak_flops"].factor_per_year
    assert g["ridge_flop_per_byte"].factor_per_year > 1


def test_lines_only_contain_the_kind():
    for a in (x for line in vendor_lines(accelerators(), "tpu").values() for x in line):
        assert a.kind == "tpu"


def test_cli_json_keys():
    p = run("trends", "--kind", "gpu", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    for key in ("peak_flops", "mem_bw", "memory_bytes", "interconnect"):
        assert d["growth_per_year"][key] > 1
    assert {x["id"] for x in d["devices"]} >= {"h100-sxm", "a100-sxm4-80gb"}
    assert any(f["name"].startswith("gholami2024") and "2403.14123" in f["source"] for f in d["published"])


def test_cli_table_and_bad_kind(tmp_path):
    p = run("trends", "--kind", "tpu")
    assert p.returncode == 0 and "growth per year" in p.stdout and "google-tpu-v4" in p.stdout
    p = run("trends", "--kind", "fpga")
    assert p.returncode == 2 and "--kind" in p.stderr and "Traceback" not in p.stderr


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "trends.png"
    p = run("trends", "--plot", str(out))
    assert p.returncode == 0, p.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_memory_wall_page_regenerates_unchanged():
    """docs/memory-wall.md is written by benchmarks/memory_wall.py from ridgeline's own output; a change to
    the data, the time model or the fleet factors must come with the regenerated page."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("memory_wall", root / "benchmarks" / "memory_wall.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    page = (root / "docs" / "memory-wall.md").read_text(encoding="utf-8")
    assert mod.render() == page, "docs/memory-wall.md is stale: run PYTHONPATH=src python benchmarks/memory_wall.py"
