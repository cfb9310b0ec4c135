"""ridgeline validate: a tiny real run on this CPU (seconds). Asserts that the measurements are sane and
the report complete; accuracy targets are a benchmark (benchmarks/validate_cpu.py), not a test."""

import csv
import json

import pytest
from test_measure import synthetic_rows

from ridgeline.cli import main
from ridgeline.measure.profile import summarize, write_profile

pytestmark = pytest.mark.reference


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    """A profile with fixed, plausible figures for a one-thread CPU: the pipeline, not the machine, is tested."""
    path = tmp_path_factory.mktemp("prof") / "cpu.toml"
    write_profile(summarize(synthetic_rows(), "cpu", 1, quick=True), path)
    return path


@pytest.fixture(scope="module")
def run(profile, tmp_path_factory):
    """One quick validation through the real entry point: (printed text, output folder)."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("v")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["validate", "tiny-llama", "--quick", "--profile", str(profile), "--out", str(out)]) == 0
    return buf.getvalue(), out


@pytest.fixture(scope="module")
def report(run):
    return json.loads((run[1] / "validation.json").read_text())


def test_quick_validation_measures_every_point(report):
    pts = report["points"]
    assert [(p["phase"], p["batch"], p["tokens"]) for p in pts] == [
        ("decode", 1, 32), ("decode", 4, 128), ("prefill", 1, 32), ("prefill", 2, 64)]
    for p in pts:
        assert p["model"] == "tiny-llama" and p["params"] > 1_000_000
        assert 0 < p["measured_s"] <= p["measured_median_s"] < 60
        assert p["predicted_s"] > p["predicted_ideal_s"] > 0  # the framework factors add time to the bare roofline
        # tensors held are exact: parameters + the DynamicCache equal the ledger's weights + KV, to the byte
        assert p["measured_tensor_bytes"] == p["predicted_tensor_bytes"]
        kv_tokens = p["tokens"] + 1 if p["phase"] == "decode" else p["tokens"]
        kv = 2 * 4 * 2 * 64 * 4 * p["batch"] * kv_tokens  # K, V x layers x KV heads x head dim x fp32
        assert p["measured_tensor_bytes"] == 4 * p["params"] + kv
        # the step's peak holds at least what it keeps, and not wildly more
        assert p["measured_tensor_bytes"] <= p["measured_peak_bytes"] < 2 * p["measured_tensor_bytes"]
        assert p["measured_process_bytes"] > 0
        assert p["bound"] in ("memory", "compute")
        assert set(p["errors"]) == {"decode_step_s" if p["phase"] == "decode" else "prefill_s", "peak_memory_bytes",
                                    "tensor_bytes", "process_peak_bytes"}
    assert pts[1]["measured_peak_bytes"] > pts[0]["measured_peak_bytes"]  # more batch and context, more cache


def test_quick_report_is_complete(report, run):
    s = {x["metric"]: x for x in report["summary"]}
    assert set(s) == {"decode_step_s", "prefill_s", "peak_memory_bytes", "tensor_bytes", "process_peak_bytes"}
    assert s["decode_step_s"]["points"] == 2 and s["peak_memory_bytes"]["points"] == 4
    assert s["tensor_bytes"]["max_abs_error"] == 0.0 and s["tensor_bytes"]["met"] is True
    assert (s["decode_step_s"]["target"], s["prefill_s"]["target"], s["peak_memory_bytes"]["target"]) == (0.10, 0.15, 0.05)
    for x in report["summary"]:
        assert 0 <= x["median_abs_error"] <= x["max_abs_error"]
    assert report["profile"]["source"].endswith("cpu.toml") and report["machine"]["name"]
    assert {f["name"] for f in report["factors"]} >= {"eff.memory", "overhead.layer_s", "overhead.kv_append_s_per_byte"}
    text, out = run
    assert "predicted against measured" in text and "median |error|" in text
    with (out / "validation.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and {r["phase"] for r in rows} == {"decode", "prefill"}
    assert all(float(r["tensor_error"]) == 0.0 for r in rows)
    assert (out / "validation.png").stat().st_size > 10_000


def test_cli_validate_bad_input(profile, capsys):
    assert main(["validate", "gpt-9", "--quick", "--profile", str(profile)]) == 2
    assert "unknown model 'gpt-9'" in capsys.readouterr().err
    assert main(["validate", "--quick", "--profile", "/nonexistent/p.toml"]) == 2
