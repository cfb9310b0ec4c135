"""ridgeline measure: the profile file, its reduction from raw rows, the time model's framework factors,
and a real --quick run on this CPU (sanity bounds, not accuracy: accuracy is benchmarks/validate_cpu.py)."""

import json
import math

import numpy as np
import pytest

from ridgeline.cli import main
from ridgeline.errors import ConfigError
from ridgeline.hardware.load import accelerator_from_dict, get_accelerator
from ridgeline.measure.bench import BenchRow
from ridgeline.measure.profile import (
    efficiencies_from_profile,
    fit_gemm_stream,
    read_measured,
    summarize,
    to_toml,
    write_profile,
)
from ridgeline.model.load import load_model
from ridgeline.ops import op_table
from ridgeline.timing import Efficiencies, roofline
from ridgeline.workload import Precision


def synthetic_rows(w_rate=10e9, f_rate=90e9, layer_weight_bytes=7 * 2**22):
    """Rows obeying t = W/w + F/f exactly, plus the other kinds with known rates."""
    rows = []
    for m in (2, 8, 64, 512):
        fl = 2.0 * m * layer_weight_bytes / 4
        rows.append(BenchRow("gemm_stream", "fp32", f"m={m} hidden=1024 pool=10", fl, layer_weight_bytes,
                             layer_weight_bytes / w_rate + fl / f_rate, 1.0, 1.0, 3))
    rows.append(BenchRow("gemv", "fp32", "m=1 hidden=1024 pool=10", 2 * layer_weight_bytes / 4, layer_weight_bytes,
                         layer_weight_bytes / 15e9, 1, 1, 3))
    rows.append(BenchRow("gemm", "fp32", "m=1024 n=1024 k=1024", 2 * 2**30, 12 * 2**20, 2 * 2**30 / 100e9, 1, 1, 3))
    rows.append(BenchRow("read", "fp32", "bytes=262144", 65536, 262144, 262144 / 80e9, 1, 1, 3))  # cache: ignored
    rows.append(BenchRow("read", "fp32", "bytes=268435456", 2**26, 2**28, 2**28 / 20e9, 1, 1, 3))
    rows.append(BenchRow("copy", "fp32", "bytes=268435456", 0, 2**29, 2**29 / 21e9, 1, 1, 3))
    rows.append(BenchRow("triad", "fp32", "bytes=268435456", 2**27, 3 * 2**28, 3 * 2**28 / 24e9, 1, 1, 3))
    rows.append(BenchRow("attention_prefill", "fp32", "b=1 heads=8 t=2048 d=64", 60e9, 1e6, 1.0, 1, 1, 3))
    rows.append(BenchRow("attention_decode", "fp32", "b=32 heads=12 kv_heads=4 c=2048 d=64", 1e8, 6e9, 1.0, 1, 1, 3))
    rows.append(BenchRow("append", "fp32", "b=32 kv_heads=4 tokens=2048 d=64 tensors=8", 0, 2e9, 1.0, 1, 1, 3))
    rows.append(BenchRow("overhead", "fp32", "layers=2 hidden=64", 0, 0, 0.7e-3, 1, 1, 3))
    rows.append(BenchRow("overhead", "fp32", "layers=10 hidden=64", 0, 0, 2.3e-3, 1, 1, 3))
    return rows


def test_gemm_fit_recovers_known_rates():
    w, f, err = fit_gemm_stream(synthetic_rows(10e9, 90e9))
    assert w == pytest.approx(10e9, rel=1e-9) and f == pytest.approx(90e9, rel=1e-9) and err < 1e-9


def test_summary_takes_dram_rows_and_the_overhead_slope():
    p = summarize(synthetic_rows(), "cpu", 1, quick=True)
    assert p.read_bytes_per_s == pytest.approx(20e9)  # the cache-sized read is not the bandwidth
    assert p.gemv_bytes_per_s == pytest.approx(15e9)
    assert p.peak_flops_per_s["fp32"] == pytest.approx(100e9)
    assert p.attention_prefill_flops_per_s == 60e9 and p.attention_decode_bytes_per_s == 6e9
    assert p.kv_append_s_per_byte == pytest.approx(0.5e-9)
    assert p.overhead_layer_s == pytest.approx(0.2e-3) and p.overhead_step_s == pytest.approx(0.3e-3)
    assert p.ridge_flop_per_byte == pytest.approx(5.0)


def test_profile_is_a_hardware_file_and_gives_measured_factors(tmp_path):
    p = summarize(synthetic_rows(), "cpu", 1, quick=True)
    path = tmp_path / "p.toml"
    write_profile(p, path)
    hw = get_accelerator(str(path))
    assert hw.kind == "cpu" and hw.mem_bw_bytes_per_s == pytest.approx(20e9)
    assert hw.peak("fp32") == pytest.approx(100e9)
    assert hw.source_of("mem_bw_bytes_per_s").startswith("measured by ridgeline measure on")
    eff = efficiencies_from_profile(read_measured(path))
    assert eff.memory.value == pytest.approx(15 / 20)
    assert eff.gemm.value == pytest.approx(0.9)
    assert eff.gemm_weight_stream.value == pytest.approx(10 / 15)
    assert eff.attention.value == pytest.approx(0.6) and eff.attention_memory.value == pytest.approx(6 / 15)
    assert eff.overlap.value == 0.0 and eff.layer_overhead.value == pytest.approx(0.2e-3)
    assert all(f.source.startswith("measured by ridgeline measure") for f in (eff.memory, eff.kv_append))
    # the same content as JSON
    jpath = tmp_path / "p.json"
    write_profile(p, jpath)
    assert read_measured(jpath)["gemv_bytes_per_s"] == pytest.approx(15e9)
    assert accelerator_from_dict(json.loads(jpath.read_text()), "p.json").peak("fp32") == pytest.approx(100e9)


def test_a_hardware_file_without_measurements_is_not_a_profile(tmp_path):
    p = summarize(synthetic_rows(), "cpu", 1, quick=True)
    path = tmp_path / "plain.toml"
    path.write_text(to_toml(p).split("[measured]")[0])
    get_accelerator(str(path))  # still a valid hardware file
    with pytest.raises(ConfigError, match="no \\[measured\\] table"):
        read_measured(path)
    bad = tmp_path / "bad.toml"
    bad.write_text("measured = 3\n" + to_toml(p).split("[measured]")[0])
    with pytest.raises(ConfigError, match="measured"):
        get_accelerator(str(bad))


# -- the framework factors in the time model (defaults leave the engine model unchanged) ---------------

@pytest.fixture(scope="module")
def llama():
    spec = load_model("llama-3.2-1b-instruct")
    return spec, op_table(spec, Precision.build(spec)), get_accelerator("h100")


def test_default_factors_change_nothing(llama):
    spec, table, hw = llama
    f = table.features(np.array([1, 8, 64]), 1, 1024)
    base = roofline(table, hw, Efficiencies()).step(f).time_s
    same = roofline(table, hw, Efficiencies().override(layer_overhead=0.0, kv_append=0.0, attention_memory=1.0,
                                                       overlap=1.0, gemm_weight_stream=1.0)).step(f).time_s
    np.testing.assert_array_equal(base, same)


def test_layer_overhead_and_append_add_exactly(llama):
    spec, table, hw = llama
    f = table.features(np.array([1, 8]), 1, 1024)
    base = roofline(table, hw, Efficiencies()).step(f)
    lay = roofline(table, hw, Efficiencies().override(layer_overhead=1e-4)).step(f)
    np.testing.assert_allclose(lay.time_s - base.time_s, spec.num_layers * 1e-4, rtol=1e-12)
    app = roofline(table, hw, Efficiencies().override(kv_append=1e-12)).step(f)
    # KV held after the step: 2 (K, V) x layers x KV heads x head dim x 2 bytes x B x (C + 1)
    a = spec.attention
    held = 2 * spec.num_layers * a.num_kv_heads * a.head_dim * 2 * np.array([1, 8]) * 1025
    np.testing.assert_allclose(app.time_s - base.time_s, 1e-12 * held, rtol=1e-9)


def test_slower_kernels_never_make_a_step_faster(llama):
    spec, table, hw = llama
    f = table.features(np.array([1, 2, 32, 256]), np.array([1, 1, 1, 512]), 1024)
    base = roofline(table, hw, Efficiencies()).step(f).time_s
    for kw in ({"attention_memory": 0.3}, {"overlap": 0.0}, {"gemm_weight_stream": 0.5}):
        t = roofline(table, hw, Efficiencies().override(**kw)).step(f).time_s
        assert np.all(t >= base), kw
        assert np.any(t > base), kw
    # the GEMM weight pass only changes steps of more than one token row
    gw = roofline(table, hw, Efficiencies().override(gemm_weight_stream=0.5)).step(f).time_s
    assert gw[0] == base[0] and gw[1] > base[1]


# -- a real run on this CPU ---------------------------------------------------------------------------

@pytest.mark.reference
def test_measure_quick_writes_a_loadable_profile(tmp_path, capsys):
    out = tmp_path / "cpu.toml"
    png = tmp_path / "roofline.png"
    assert main(["measure", "--quick", "--out", str(out), "--plot", str(png), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    m = d["measured"]
    # sane, not accurate: a CPU of the last decade, one thread
    assert 1e9 < m["read_bytes_per_s"] < 1e12 and 1e8 < m["gemv_bytes_per_s"] < 1e12
    assert 1e9 < d["peak_flops_per_s"]["fp32"] < 1e13
    assert 0 <= m["overhead_layer_s"] < 0.05 and 0 <= m["overhead_step_s"] < 0.05
    assert 0 < m["kv_append_s_per_byte"] < 1e-7 and m["threads"] == 1 and m["quick"] is True
    kinds = {r["kind"] for r in m["rows"]}
    assert {"read", "copy", "triad", "gemv", "gemm", "gemm_stream", "attention_prefill", "attention_decode",
            "append", "overhead"} <= kinds
    for r in m["rows"]:
        assert 0 < r["min_s"] <= r["median_s"] <= r["max_s"] and r["repeats"] >= 3
    hw = get_accelerator(str(out))
    assert hw.kind == "cpu" and hw.memory_bytes > 2**30 and not math.isnan(hw.mem_bw_bytes_per_s)
    assert png.stat().st_size > 10_000
    # every other command takes it as --gpu FILE
    assert main(["infer", "llama-3.2-1b-instruct", "--gpu", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hardware"]["id"] == "measured-cpu-1t"


def test_measure_rejects_bad_options(capsys):
    assert main(["measure", "--out", "x.csv"]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["measure", "--threads", "0"]) == 2
    assert main(["measure", "--device", "tpu"]) == 2
