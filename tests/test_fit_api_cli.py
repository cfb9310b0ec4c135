"""One answer from every door: `ridgeline fit --json` equals the Python API's result, serialised once."""

import json
import time

import pytest

from ridgeline.analyses.fit import FitRequest, fit, fit_request
from ridgeline.cli import main
from ridgeline.hardware.load import get_accelerator
from ridgeline.model.load import load_model
from ridgeline.serialize import to_jsonable

CASES = [
    ({"model": "llama-3-70b"}, ["llama-3-70b"]),
    ({"model": "llama-3.1-8b", "gpu": "h100", "engine": "vllm", "memory_fraction": 0.95, "max_model_len": "8192"},
     ["llama-3.1-8b", "--gpu", "h100", "--engine", "vllm", "--memory-fraction", "0.95", "--max-model-len", "8192"]),
    ({"model": "gemma-2-9b-it", "engine": "sglang", "context": "8k", "batch": "4"},
     ["gemma-2-9b-it", "--engine", "sglang", "--context", "8k", "--batch", "4"]),
    ({"model": "gpt-oss-120b", "engine": "trtllm", "block_size": 64},
     ["gpt-oss-120b", "--engine", "trtllm", "--block-size", "64"]),
    ({"model": "deepseek-v3", "tp": 8, "context": "32k", "kv_dtype": "fp8"},
     ["deepseek-v3", "--tp", "8", "--context", "32k", "--kv-dtype", "fp8"]),
    ({"model": "llama-3.1-8b", "gpu": "rtx-4090", "context": "max", "kv_dtype": "fp8"},
     ["llama-3.1-8b", "--gpu", "rtx-4090", "--context", "max", "--kv-dtype", "fp8"]),
    ({"model": "qwen3-8b", "batch": "max", "context": "16k", "engine": "vllm", "engine_version": "0.10.1"},
     ["qwen3-8b", "--batch", "max", "--context", "16k", "--engine", "vllm", "--engine-version", "0.10.1"]),
    ({"model": "llama-3-70b", "weights": "int4", "keep": "none", "runtime_overhead": "1GiB", "kv_fragmentation": 0.1},
     ["llama-3-70b", "--weights", "int4", "--keep", "none", "--runtime-overhead", "1GiB",
      "--kv-fragmentation", "0.1"]),
]


@pytest.mark.parametrize("kw, argv", CASES, ids=[c[1][0] + str(i) for i, c in enumerate(CASES)])
def test_cli_json_equals_api(kw, argv, capsys):
    assert main(["fit", *argv, "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    api = json.loads(json.dumps(to_jsonable(fit_request(FitRequest(**kw)))))
    assert cli == api


def test_json_names_the_engine_quantities(capsys):
    main(["fit", "llama-3.1-8b", "--engine", "vllm", "--max-model-len", "8192", "--json"])
    d = json.loads(capsys.readouterr().out)
    assert d["engine"] == "vllm"
    for k in ("kv_pool_bytes", "max_kv_tokens", "max_concurrency"):
        assert k in d
    a = d["engine_allocation"]
    assert isinstance(a["weights_bytes"], int) and isinstance(a["kv_pool_bytes"], int)  # exact bytes stay ints
    assert isinstance(d["memory"]["weights_bytes"], int)
    assert d["max_kv_tokens"] == a["max_kv_tokens"] and d["kv_pool_bytes"] == a["kv_pool_bytes"]


def test_done_when_output_reads_like_a_vllm_log(capsys):
    assert main(["fit", "llama-3.1-8b", "--gpu", "h100", "--engine", "vllm", "--memory-fraction", "0.95",
                 "--max-model-len", "8192"]) == 0
    out = capsys.readouterr().out
    for needle in ("Model loading took", "Available KV cache memory", "GPU KV cache size",
                   "Maximum concurrency for 8,192 tokens per request", "gpu_memory_utilization 0.95"):
        assert needle in out, needle


def test_default_context_is_decided_by_the_api():
    r = fit_request(FitRequest("llama-3.1-8b"))
    assert r.workload.context_tokens == 4096  # min(4096, model max)
    r = fit_request(FitRequest("gpt2"))
    assert r.workload.context_tokens == 1024  # the model's maximum
    r = fit_request(FitRequest("llama-3.1-8b", engine="vllm", max_model_len=16384))
    assert r.workload.context_tokens == 16384  # the engine's max_model_len


def test_context_max_is_the_largest_that_fits():
    r = fit_request(FitRequest("llama-3-70b", weights="int8", batch=8, context="max"))
    ctx = r.workload.context_tokens
    assert r.fits and 1 < ctx < 8192  # memory binds before the model's 8192-token maximum
    more = fit_request(FitRequest("llama-3-70b", weights="int8", batch=8, context=str(ctx + 1)))
    assert not more.fits
    capped = fit_request(FitRequest("llama-3.1-8b", context="max"))
    assert capped.workload.context_tokens == 131072 and "max_position_embeddings" in capped.notes[-1]


def test_batch_max_is_the_largest_that_fits():
    r = fit_request(FitRequest("llama-3.1-8b", batch="max", context="32k"))
    b = r.workload.batch
    assert r.fits and not fit_request(FitRequest("llama-3.1-8b", batch=b + 1, context="32k")).fits


@pytest.mark.parametrize("argv, needle", [
    (["llama-3.1-8b", "--engine", "tgi"], "--engine"),
    (["llama-3.1-8b", "--engine", "vllm", "--memory-fraction", "1.5"], "--memory-fraction"),
    (["llama-3.1-8b", "--context", "max", "--batch", "max"], "--context max and --batch max"),
    (["llama-3.1-8b", "--engine", "vllm", "--engine-version", "newest"], "--engine-version"),
    (["llama-3.1-8b", "--batch", "lots"], "--batch"),
    (["llama-3.1-8b", "--max-model-len", "0"], "--max-model-len"),
])
def test_bad_fit_options_are_one_line(argv, needle, capsys):
    assert main(["fit", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err


def test_usable_capacity_is_used_and_said():
    import dataclasses

    hw = dataclasses.replace(get_accelerator("h100"), usable_memory_bytes=79.19 * 2**30)
    r = fit(load_model("llama-3.1-8b"), hw)
    assert r.capacity_bytes == 79.19 * 2**30 and r.hardware.capacity_basis == "usable_memory_bytes"
    assert any(n.startswith("capacity: 79.19 GiB from usable_memory_bytes") for n in r.notes)
    d = to_jsonable(r)
    assert d["hardware"]["memory_bytes"] == 80_000_000_000 and d["per_device"]["capacity_bytes"] == r.capacity_bytes


def test_min_devices_search_builds_no_ledger_per_candidate(monkeypatch):
    import ridgeline.analyses.fit as F

    calls = []
    real = F.inference_ledger
    monkeypatch.setattr(F, "inference_ledger", lambda *a, **k: calls.append(1) or real(*a, **k))
    r = fit(load_model("deepseek-v3"), get_accelerator("h100"))
    assert r.min_devices > 8 and len(calls) == 1


def test_fit_is_fast():
    # issue 9 targets: <= 200 us (Llama-3-70B) and <= 1 ms (DeepSeek-V3) on one core; this shared
    # test machine gets a 10x margin so the test checks the order of magnitude, not the machine.
    for name, budget_s in (("llama-3-70b", 2e-3), ("deepseek-v3", 10e-3)):
        spec, hw = load_model(name), get_accelerator("h100")
        fit(spec, hw)
        t = time.perf_counter()
        for _ in range(20):
            fit(spec, hw)
        assert (time.perf_counter() - t) / 20 < budget_s, name
