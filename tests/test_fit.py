"""The inference memory ledger and `fit`: goldens derived by hand, and invariants."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ridgeline.analyses.fit import fit
from ridgeline.analyses.memory import inference_ledger
from ridgeline.errors import PlanError
from ridgeline.factors import KV_FRAGMENTATION, RUNTIME_OVERHEAD
from ridgeline.formats import get_format
from ridgeline.model.kv import KVLayout
from ridgeline.hardware.load import get_accelerator
from ridgeline.model.load import load_model
from ridgeline.workload import InferenceWorkload, ParallelPlan, Precision

L70 = load_model("llama-3-70b")
H100 = get_accelerator("h100")


def test_llama3_70b_bf16_needs_two_h100():
    r = fit(L70, H100, prec=Precision.build(L70, "bf16"))
    assert not r.fits
    assert r.min_devices == 2
    # weights: 70,553,706,496 params x 2 bytes, exact
    assert r.ledger.weights_bytes == 70_553_706_496 * 2


def test_llama3_70b_int8_8x8k_follows_from_the_ledger():
    wl = InferenceWorkload(batch=8, context_tokens=8192)
    r = fit(L70, H100, wl, Precision.build(L70, "int8"))
    V, H = 128_256, 8192
    emb = 2 * V * H * 2  # embedding + lm_head stay bf16
    norms = (80 * 2 + 1) * H * 2  # RMSNorm weights stay bf16
    linear = (70_553_706_496 - 2 * V * H - (80 * 2 + 1) * H) * 1  # int8: 1 byte
    assert r.ledger.weights_bytes == emb + norms + linear
    kv = 8 * 8192 * 327_680  # 8 sequences x 8k tokens x 320 KiB per token (bf16)
    assert r.ledger.kv_cache_bytes == kv
    t = r.ledger.per_device_terms
    expected = emb + norms + linear + kv + math.ceil(kv * KV_FRAGMENTATION.value) + RUNTIME_OVERHEAD.value \
        + t["activations.prefill_chunk"] + t["activations.logits"]
    assert r.ledger.per_device_total_bytes == pytest.approx(expected, rel=1e-12)
    assert r.ledger.per_device_total_bytes > 80e9 and not r.fits and r.min_devices == 2


def test_tp_shards_weights_and_kv():
    wl = InferenceWorkload(batch=4, context_tokens=4096)
    prec = Precision.build(L70)
    one = inference_ledger(L70, wl, prec, ParallelPlan(1, 1)).per_device_terms
    four = inference_ledger(L70, wl, prec, ParallelPlan(4, 1)).per_device_terms
    assert four["weights.linear"] == one["weights.linear"] / 4
    assert four["weights.embedding"] == one["weights.embedding"] / 4  # vocab-parallel
    assert four["weights.norm"] == one["weights.norm"]  # replicated
    assert four["kv_cache"] == one["kv_cache"] / 4


def test_tp_beyond_kv_heads_replicates_kv():
    wl = InferenceWorkload(batch=1, context_tokens=1024)
    prec = Precision.build(L70)
    eight = inference_ledger(L70, wl, prec, ParallelPlan(8, 1)).per_device_terms["kv_cache"]
    sixteen = inference_ledger(L70, wl, prec, ParallelPlan(16, 1)).per_device_terms["kv_cache"]
    assert sixteen == eight  # one KV head per device either way


def test_mla_latent_is_replicated_over_tp():
    ds = load_model("deepseek-v3")
    wl = InferenceWorkload(batch=1, context_tokens=1024)
    prec = Precision.build(ds)
    a = inference_ledger(ds, wl, prec, ParallelPlan(1, 1)).per_device_terms["kv_cache"]
    b = inference_ledger(ds, wl, prec, ParallelPlan(8, 1)).per_device_terms["kv_cache"]
    assert a == b == 1024 * 70_272


def test_pp_splits_layers():
    wl = InferenceWorkload()
    prec = Precision.build(L70)
    one = inference_ledger(L70, wl, prec, ParallelPlan(1, 1))
    two = inference_ledger(L70, wl, prec, ParallelPlan(1, 2))
    assert two.per_device_terms["weights.linear"] == one.per_device_terms["weights.linear"] / 2
    assert two.per_device_terms["kv_cache"] == one.per_device_terms["kv_cache"] / 2


def test_bad_tp_is_a_plan_error():
    with pytest.raises(PlanError, match="does not divide the 64 attention heads"):
        fit(L70, H100, plan=ParallelPlan(3, 1))


def test_quantized_formats_shrink_weights():
    sizes = [fit(L70, H100, prec=Precision.build(L70, f)).ledger.weights_bytes
             for f in ("fp32", "bf16", "fp8", "int4", "q2_k")]
    assert sizes == sorted(sizes, reverse=True)
    assert get_format("int4").bits_per_element == 4 + 20 / 128


def test_max_sequences_follow_from_free_memory():
    r = fit(L70, get_accelerator("h200"), InferenceWorkload(1, 8192), Precision.build(L70, "fp8"))
    led = r.ledger
    free = r.capacity_bytes - led.stage_fixed_bytes[0]
    per_seq = 8192 * 327_680 * (1 + KV_FRAGMENTATION.value)
    assert r.max_concurrent_sequences == int(free // per_seq)
    # KV room counts tokens, not whole sequences x context (issue 9, item 5)
    assert r.max_kv_tokens == int(free // (327_680 * (1 + KV_FRAGMENTATION.value)))
    assert r.max_kv_tokens > r.max_concurrent_sequences * 8192


@settings(max_examples=40, deadline=None)
@given(b=st.integers(1, 64), t=st.integers(1, 32768), db=st.integers(0, 64), dt=st.integers(0, 8192),
       tp=st.sampled_from([1, 2, 4, 8]), pp=st.sampled_from([1, 2, 4]))
def test_ledger_invariants(b, t, db, dt, tp, pp):
    prec = Precision.build(L70)
    plan = ParallelPlan(tp, pp)
    a = inference_ledger(L70, InferenceWorkload(b, t), prec, plan)
    bigger = inference_ledger(L70, InferenceWorkload(b + db, t + dt), prec, plan)
    assert sum(a.per_device_terms.values()) == a.per_device_total_bytes
    assert bigger.per_device_total_bytes >= a.per_device_total_bytes
    assert a.total_bytes == a.weights_bytes + a.kv_cache_bytes + a.activations_bytes + a.overhead_bytes
    single = inference_ledger(L70, InferenceWorkload(b, t), prec, ParallelPlan(1, 1))
    assert a.per_device_total_bytes <= single.per_device_total_bytes


@settings(max_examples=40, deadline=None)
@given(b=st.integers(1, 64), t=st.integers(1, 65536), tp=st.sampled_from([1, 2, 4, 8]), pp=st.sampled_from([1, 2, 3, 5]),
       name=st.sampled_from(["llama-3-70b", "deepseek-v3", "gemma-2-27b-it", "gpt-oss-20b", "qwen2-57b-a14b"]))
def test_fast_stage_totals_equal_the_ledger(b, t, tp, pp, name):
    from ridgeline.analyses.memory import Overheads, stage_totals

    spec = load_model(name)
    plan = ParallelPlan(tp, pp)
    if plan.problem(spec):
        return
    prec, wl = Precision.build(spec), InferenceWorkload(b, t)
    led = inference_ledger(spec, wl, prec, plan)
    assert stage_totals(spec, wl, prec, plan, KVLayout(), Overheads()) == pytest.approx(led.per_device_total_bytes,
                                                                                     rel=1e-12)


def test_kv_room_in_tokens_issue_examples():
    # issue 9, item 5: one H100 (datasheet 80 GB), llama-3-70b int8, batch 8 x 8k: room for ~14k tokens of KV
    import dataclasses

    datasheet = dataclasses.replace(H100, usable_memory_bytes=80e9)
    r = fit(L70, datasheet, InferenceWorkload(8, 8192), Precision.build(L70, "int8"))
    room = r.capacity_bytes - r.ledger.stage_fixed_bytes[0]
    assert r.max_kv_tokens == int(room // (327_680 * (1 + KV_FRAGMENTATION.value)))
    assert 13_000 < r.max_kv_tokens < 15_000 and r.max_concurrent_sequences == 1
    # Llama-3.1-8B on an RTX 4090 at 128k context with fp8 KV: tens of thousands of tokens, not 0
    l8 = load_model("llama-3.1-8b")
    rtx = dataclasses.replace(get_accelerator("rtx-4090"), usable_memory_bytes=24e9)  # datasheet 24 GB
    r = fit(l8, rtx, InferenceWorkload(1, 131072), Precision.build(l8, kv="fp8"))
    assert r.max_concurrent_sequences == 0 and 60_000 < r.max_kv_tokens < 120_000
