"""Engine profiles: each rule by hand from the engine's source, and against real start-up logs."""

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ridgeline.analyses.engines import EngineSettings, mxfp4_expert_padding, parse_version, sglang_defaults
from ridgeline.analyses.fit import fit
from ridgeline.errors import InputError
from ridgeline.factors import (RUNTIME_OVERHEAD, TRTLLM_FREE_FRACTION, VLLM_NON_TORCH_TP1, VLLM_NON_TORCH_TP1_V018,
                               VLLM_SAMPLER_BYTES_PER_LOGIT, VLLM_SAMPLER_BYTES_PER_LOGIT_V08,
                               VLLM_SAMPLER_BYTES_PER_LOGIT_V017)
from ridgeline.hardware.load import get_accelerator
from ridgeline.model.load import load_model
from ridgeline.workload import InferenceWorkload, ParallelPlan, Precision

GiB = 2**30
#: torch's total for an H100 80GB as vLLM v0.19.0 logs it ("Free memory on device (78.68/79.19 GiB)",
#: llm-d-planner accuracy logs, tests/data/engine_logs.json).
H100_TORCH_TOTAL = 79.19 * GiB
H100 = dataclasses.replace(get_accelerator("h100"), usable_memory_bytes=H100_TORCH_TOTAL)
L8 = load_model("llama-3.1-8b")


def vllm(spec, hw=H100, plan=ParallelPlan(), prec=None, **kw):
    return fit(spec, hw, InferenceWorkload(1, kw.get("max_model_len", 8192)), prec or Precision.build(spec), plan,
               engine=EngineSettings("vllm", **kw)).engine_allocation


def test_vllm_rule_by_hand_llama31_8b():
    a = vllm(L8, memory_fraction=0.95, max_model_len=8192, version="0.19.0")
    weights = 8_030_261_248 * 2 + 131_072 * 128 * 2  # bf16 tensors + rotary cos/sin cache (max_pos x head_dim)
    assert a.weights_bytes == weights
    sampler = 1024 * 128_256 * VLLM_SAMPLER_BYTES_PER_LOGIT_V017.value  # min(max_num_seqs, tokens) x vocab
    assert a.activation_peak_bytes == sampler
    avail = 0.95 * H100_TORCH_TOTAL - weights - sampler - VLLM_NON_TORCH_TP1_V018.value
    assert a.available_kv_cache_bytes == pytest.approx(avail, rel=1e-12)
    page = 16 * 2 * 8 * 128 * 2  # block of 16 tokens, K and V, 8 KV heads x 128, bf16: one layer
    assert a.num_blocks == int(avail // page // 32)
    assert a.max_kv_tokens == a.num_blocks * 16
    assert a.max_concurrency == a.num_blocks / (8192 // 16)


def test_vllm_matches_its_log_llama31_8b_tp4():
    # vLLM v0.19.0, H100-80GB, tp=4, util 0.95, max_model_len 8192 (held-out record
    # vllm0190-llama31-8b-h100-tp4-8k): "Model loading took 3.77 GiB", "Available KV cache memory: 67.44 GiB",
    # "GPU KV cache size: 2,209,792 tokens", "Maximum concurrency ... 269.75x". Tolerance 0.5%.
    a = vllm(L8, plan=ParallelPlan(4, 1), memory_fraction=0.95, max_model_len=8192, version="0.19.0")
    assert a.weights_bytes / GiB == pytest.approx(3.77, abs=0.006)
    assert a.available_kv_cache_bytes / GiB == pytest.approx(67.44, rel=0.005)
    assert a.max_kv_tokens == pytest.approx(2_209_792, rel=0.005)
    assert a.max_concurrency == pytest.approx(269.75, rel=0.005)


def test_vllm_hybrid_allocator_gemma2_27b():
    # held-out record vllm0190-gemma2-27b-h100-tp1-8k: 58,672 tokens, concurrency 7.16x (tolerance 0.5%)
    g = load_model("gemma-2-27b-it")
    a = vllm(g, memory_fraction=0.95, max_model_len=8192, version="0.19.0")
    assert (a.full_groups, a.sliding_groups) == (1, 1)  # 23 full + 23 sliding layers: two groups of 23
    assert a.max_kv_tokens == a.num_blocks // 2 * 16
    # per request: a full group of 8192 tokens, a sliding group of min(4096 - 1 + 8192, 8192) tokens + 1 block
    assert a.blocks_per_request == 512 + 513
    assert a.max_kv_tokens == pytest.approx(58_672, rel=0.005)
    assert a.max_concurrency == pytest.approx(7.16, rel=0.005)


def test_vllm_version_eras_pick_their_factors():
    eras = {"0.6.4": 4, "0.10.1.1": VLLM_SAMPLER_BYTES_PER_LOGIT_V08.value,
            "0.15.0": VLLM_SAMPLER_BYTES_PER_LOGIT.value, "0.19.0": VLLM_SAMPLER_BYTES_PER_LOGIT_V017.value}
    for v, per_logit in eras.items():
        a = vllm(L8, memory_fraction=0.9, max_model_len=8192, version=v, max_num_batched_tokens=8192,
                 max_num_seqs=256)
        assert any(f.name == "vllm.sampler_bytes_per_logit" and f.value == per_logit for f in a.factors), v
    old = vllm(L8, memory_fraction=0.9, max_model_len=8192, version="0.15")
    assert old.other_bytes == VLLM_NON_TORCH_TP1.value


def test_vllm_v0_profiles_a_whole_prompt_without_chunked_prefill():
    a = vllm(L8, memory_fraction=0.9, max_model_len=20_000, version="0.6.4")
    assert a.max_num_batched_tokens == 20_000 and a.max_num_seqs == 256


def test_vllm_defaults_depend_on_the_device():
    assert vllm(L8, max_model_len=8192).max_num_batched_tokens == 8192  # >= 70 GiB, not an A100
    a100 = dataclasses.replace(get_accelerator("a100-sxm4-80gb"), usable_memory_bytes=79.15 * GiB)
    a = vllm(L8, hw=a100, max_model_len=8192)
    assert (a.max_num_batched_tokens, a.max_num_seqs) == (2048, 256)


def test_mxfp4_expert_padding_gpt_oss():
    g = load_model("gpt-oss-20b")
    # intermediate 2880 -> 2944 (multiple of 128), hidden 2880 -> 3072 (multiple of 256)
    assert mxfp4_expert_padding(g, 1) == pytest.approx(2944 * 3072 / (2880 * 2880))
    assert mxfp4_expert_padding(g, 2) == pytest.approx(1536 * 3072 / (1440 * 2880))
    assert mxfp4_expert_padding(load_model("llama-3.1-8b"), 1) == 1.0


def test_sglang_default_fraction_h100():
    # server_args.py _handle_gpu_memory_settings: H100 (< 90 GiB): chunk 8192, cuda graph bs 256 (tp < 4);
    # reserve = 512 + 1.5 x 8192 + 2 x 256 + 1 x 1 / 8 x 1024 = 13,440 MiB (above the 10 GiB floor)
    mem = H100_TORCH_TOTAL / 2**20
    f, chunk, cg = sglang_defaults(H100_TORCH_TOTAL, 1, 1)
    assert (chunk, cg) == (8192, 256)
    assert f == round((mem - 13_440) / mem, 3) == 0.834


def test_sglang_pool_is_fraction_of_free_minus_weights():
    r = fit(L8, H100, InferenceWorkload(1, 8192), engine=EngineSettings("sglang", memory_fraction=0.88))
    a = r.engine_allocation
    free = H100_TORCH_TOTAL - RUNTIME_OVERHEAD.value
    assert a.available_kv_cache_bytes == pytest.approx(0.88 * free - 8_030_261_248 * 2, rel=1e-12)
    assert a.max_kv_tokens == int(a.available_kv_cache_bytes // (32 * 4096))


def test_trtllm_pool_is_fraction_of_free_after_load():
    r = fit(L8, H100, InferenceWorkload(1, 8192), engine=EngineSettings("trtllm"))
    a = r.engine_allocation
    free = H100_TORCH_TOTAL - RUNTIME_OVERHEAD.value - 8_030_261_248 * 2 - a.activation_peak_bytes
    assert a.available_kv_cache_bytes == pytest.approx(TRTLLM_FREE_FRACTION.value * free, rel=1e-12)
    assert a.max_kv_tokens % 32 == 0 and a.max_kv_tokens == a.num_blocks * 32


def test_holds_needs_one_max_model_len_request_and_the_batch():
    a = vllm(L8, memory_fraction=0.95, max_model_len=8192)
    n = math.floor(a.max_concurrency)
    assert a.holds(n, 8192) and not a.holds(n + 1, 8192)
    assert not a.holds(1, 8193)  # longer than max_model_len


@pytest.mark.parametrize("kw, needle", [
    ({"engine": "tgi"}, "--engine"), ({"engine": "vllm", "memory_fraction": 1.5}, "--memory-fraction"),
    ({"engine": "vllm", "memory_fraction": 0}, "--memory-fraction"), ({"engine": "vllm", "block_size": 0},
                                                                       "--block-size"),
    ({"engine": "vllm", "version": "latest"}, "--engine-version"),
])
def test_bad_settings_are_input_errors(kw, needle):
    with pytest.raises(InputError, match=needle):
        EngineSettings(**kw)


def test_parse_version():
    assert parse_version("0.6.4.dev9+g5d264f4a (ROCm build)") == (0, 6, 4)
    assert parse_version("v0.19.0") == (0, 19, 0) and parse_version("0.10.1.1") == (0, 10, 1, 1)


@settings(max_examples=25, deadline=None)
@given(f1=st.floats(0.3, 0.95), df=st.floats(0.001, 0.05), tp=st.sampled_from([1, 2, 4, 8]),
       engine=st.sampled_from(["vllm", "sglang", "trtllm"]))
def test_more_memory_fraction_never_fewer_tokens(f1, df, tp, engine):
    spec = load_model("llama-3-70b")
    prec = Precision.build(spec, "fp8")
    a = fit(spec, H100, plan=ParallelPlan(tp, 1), prec=prec, engine=EngineSettings(engine, f1)).engine_allocation
    b = fit(spec, H100, plan=ParallelPlan(tp, 1), prec=prec,
            engine=EngineSettings(engine, min(f1 + df, 1.0))).engine_allocation
    assert b.max_kv_tokens >= a.max_kv_tokens
    assert b.kv_pool_bytes <= b.available_kv_cache_bytes or b.num_blocks == 0


@pytest.mark.parametrize("engine", ["vllm", "sglang", "trtllm"])
def test_hybrid_state_is_charged_to_the_pool_per_request(engine):
    """A Mamba / delta-net request costs its state beside its KV blocks (issue 10 item 2): whole
    blocks of the pool, so the engine's concurrency falls below the KV-only figure by exactly that."""
    import math

    from ridgeline.analyses.engines import EngineSettings
    from ridgeline.analyses.fit import fit
    from ridgeline.hardware.load import get_accelerator
    from ridgeline.model.load import load_model
    from ridgeline.workload import InferenceWorkload, ParallelPlan

    spec = load_model("Nemotron-H-56B-Base-8K")
    r = fit(spec, get_accelerator("h200"), InferenceWorkload(1, 8192), plan=ParallelPlan(2, 1),
            engine=EngineSettings(engine, max_model_len=8192))
    a = r.engine_allocation
    state_dev = r.ledger.stage_state_seq_bytes[0]
    assert state_dev == r.state_bytes_per_sequence / 2 > 0
    assert r.ledger.per_device_terms["state_cache"] == state_dev  # batch 1
    n = math.ceil(state_dev / (a.kv_pool_bytes / a.num_blocks))
    assert a.state_blocks_per_request == n > 0
    assert a.blocks_for_request(8192) == a.blocks_per_request
    assert a.max_concurrency == pytest.approx(a.num_blocks / a.blocks_per_request)
    assert any("Mamba / linear-attention state" in x for x in a.notes)
