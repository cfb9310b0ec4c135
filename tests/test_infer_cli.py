"""`ridgeline infer` and `ridgeline roofline` through the real entry point."""

import json
import os
import subprocess
import sys

import pytest

from ridgeline.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ridgeline", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"})


def test_infer_json_keys_and_one_line_reason():
    p = run("infer", "llama-3-70b", "--gpu", "h100", "--tp", "4", "--batch", "1", "--prompt", "2048", "--gen", "256",
            "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    for k in ("ttft_s", "decode_step_time_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s",
              "output_tokens_per_s_per_device", "batch", "bound", "mbu", "mfu", "critical_batch",
              "comm_bytes_per_step", "wait_share", "ideal", "factors"):
        assert k in d
    assert d["bound"] == "memory" and d["batch"] == 1 and d["plan"]["tp"] == 4
    assert d["bound_reason"].startswith("decode is memory-bound")
    assert all(f["source"] for f in d["factors"])


def test_infer_table_says_what_bounds_it(capsys):
    assert main(["infer", "llama-3-70b", "--gpu", "h100", "--tp", "4", "--batch", "64", "--prompt", "2048",
                 "--gen", "256"]) == 0
    out = capsys.readouterr().out
    assert "decode is memory-bound" in out and "TPOT" in out and "ideal roofline" in out


def test_explain_lists_formulas_and_sources(capsys):
    assert main(["infer", "llama-3.1-8b", "--gpu", "h100", "--explain", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    names = {row["name"] for row in d["explain"]}
    assert {"tpot_s", "ttft_s", "mbu", "critical_batch", "ideal.tpot_s"} <= names
    assert all(row["formula"] and isinstance(row["inputs"], dict) for row in d["explain"])


def test_sweep_is_one_row_per_value(capsys):
    assert main(["infer", "llama-3.1-8b", "--gpu", "h100", "--sweep", "batch=1,8,64", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["values"] == ["1", "8", "64"] and [r["batch"] for r in d["results"]] == [1, 8, 64]
    tps = [r["output_tokens_per_s"] for r in d["results"]]
    assert tps == sorted(tps)


def test_sweep_over_gpus_and_batch_max(capsys):
    assert main(["infer", "llama-3.1-8b", "--sweep", "gpu=a100,h100,h200", "--batch", "max", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    tps = [r["output_tokens_per_s"] for r in d["results"]]
    assert tps[0] < tps[1] < tps[2]  # more bandwidth and memory, more throughput
    assert all(r["offline"] for r in d["results"])


def test_batch_max_with_an_engine_profile(capsys):
    assert main(["infer", "llama-3.1-8b", "--gpu", "h100", "--batch", "max", "--engine", "vllm", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["offline"] and 1 <= d["batch"] <= 1024


def test_plot_writes_a_png(tmp_path):
    out = tmp_path / "sweep.png"
    p = run("infer", "llama-3.1-8b", "--gpu", "h100", "--sweep", "batch=1:64", "--plot", str(out))
    assert p.returncode == 0, p.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    roof = tmp_path / "roof.png"
    p = run("roofline", "--gpu", "h100", "--model", "llama-3.1-8b", "--plot", str(roof))
    assert p.returncode == 0, p.stderr
    assert roof.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_roofline_json(capsys):
    assert main(["roofline", "--gpu", "h100", "--model", "llama-3.1-8b", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["ridge_points"]["bf16"] == pytest.approx(989.4e12 / 3.35e12)
    phases = {r["phase"] for r in d["operators"]}
    assert phases == {"prefill", "decode"}
    # at batch 1 every decode operator is memory-bound; the prefill GEMMs are compute-bound
    # (softmax runs on-chip inside the fused attention kernel: no HBM bytes of its own)
    assert all(r["bound"] in ("memory", "on-chip (fused)") for r in d["operators"] if r["phase"] == "decode")
    assert [r["op"] for r in d["operators"] if r["bound"] == "on-chip (fused)"] == ["attn.softmax [full]"] * 2
    assert any(r["bound"] == "compute" for r in d["operators"] if r["phase"] == "prefill")


@pytest.mark.parametrize("args,needle", [
    (["infer", "llama-3.1-8b", "--sweep", "color=1,2"], "--sweep"),
    (["infer", "llama-3.1-8b", "--batch", "0"], "batch"),
    (["infer", "llama-3.1-8b", "--tp", "3"], "tp=3"),
    (["infer", "llama-3.1-8b", "--ep", "2", "--tp", "2"], "MoE"),
    (["infer", "llama-3.1-8b", "--eff-memory", "1.5"], "--eff-memory"),
    (["infer", "llama-3.1-8b", "--step-overhead", "fast"], "--step-overhead"),
    (["infer", "llama-3.1-8b", "--plot", "/nonexistent/dir/x.png"], "--plot"),
    (["infer", "deepseek-v3", "--tp", "8", "--attention-dp"], "--ep 8"),
])
def test_bad_input_is_one_line_exit_2(capsys, args, needle):
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err


def test_a_measured_profile_brings_its_measured_factors(capsys):
    # docs/validation/profile-cpu.toml was written by `ridgeline measure` on this project's CPU: its
    # [measured] table sets the time model's factors (the ones `ridgeline validate` checked)
    from pathlib import Path

    from ridgeline.measure.profile import efficiencies_from_profile, read_measured

    prof = Path(__file__).resolve().parents[1] / "docs" / "validation" / "profile-cpu.toml"
    assert main(["infer", "llama-3.2-1b-instruct", "--gpu", str(prof), "--prompt", "512", "--gen", "64",
                 "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    want = efficiencies_from_profile(read_measured(prof))
    got = {f["name"]: f["value"] for f in d["factors"]}
    assert got["eff.memory"] == pytest.approx(want.memory.value)
    assert got["overhead.layer_s"] == pytest.approx(want.layer_overhead.value) and got["overhead.layer_s"] > 0
    assert any("measured by `ridgeline measure`" in n for n in d["notes"])
    # a shipped datasheet device keeps the default, engine-fitted factors
    assert main(["infer", "llama-3.2-1b-instruct", "--gpu", "h100", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {f["name"]: f["value"] for f in d["factors"]}["overhead.layer_s"] == 0
