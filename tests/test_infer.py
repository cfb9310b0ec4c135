"""The operator table, the roofline time model and `infer`: goldens with citations, invariants."""

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ridgeline as rl
from ridgeline.analyses.infer import infer, infer_dict
from ridgeline.model.hf import spec_from_config
from ridgeline.model.load import load_model, preset_config, presets
from ridgeline.ops import op_table
from ridgeline.timing import Efficiencies, roofline
from ridgeline.workload import ParallelPlan, Precision

H100 = rl.get_accelerator("h100")
IDEAL = Efficiencies.ideal()


@pytest.mark.parametrize("p", presets(), ids=lambda p: p.name)
def test_table_total_equals_count_params(p):
    # count_params is the oracle (itself equal to transformers on the meta device)
    spec = spec_from_config(preset_config(p), p.name)
    assert op_table(spec, Precision.build(spec)).total_params == rl.count_params(spec).total


@pytest.mark.parametrize("name,tp", [("llama-3-70b", 8), ("llama-3-70b", 4), ("mixtral-8x7b", 8)])
def test_tp_divides_sharded_weight_bytes(name, tp):
    spec = load_model(name)
    prec = Precision.build(spec)
    one = {op.name + op.layer_kind: op for op in op_table(spec, prec).ops}
    for op in op_table(spec, prec, ParallelPlan(tp)).ops:
        ref = one[op.name + op.layer_kind]
        if op.shard in ("column", "row", "vocab", "expert"):
            assert op.weight_bytes == pytest.approx(ref.weight_bytes / tp, rel=1e-12)
        else:
            assert op.weight_bytes == ref.weight_bytes


def test_decode_batch1_is_memory_bound_and_ideal_step_is_bytes_over_bandwidth():
    # At batch 1 every operator is memory-bound, so the ideal step is exactly the bytes
    # streamed over the datasheet bandwidth (scaling-book, "All About Transformer Inference").
    spec = load_model("llama-3-8b")
    r = infer(spec, H100, 1, 512, 2)
    assert r.bound == "memory"
    assert r.decode.ideal_time_s == pytest.approx(r.decode.bytes / H100.mem_bw_bytes_per_s, rel=1e-12)
    # weights dominate: the bf16 checkpoint's bytes less the embedding table (a gather, not a stream)
    pc = rl.count_params(spec)
    streamed = 2 * (pc.total - pc.by_term["embed.tokens"])
    assert r.decode.weight_bytes == pytest.approx(streamed, rel=1e-12)


def test_critical_batch_is_the_ridge_point_for_dense_bf16():
    # Ideal peaks: B* = (peak / bandwidth) * bytes per param / 2 FLOPs per param = ridge point
    # for bf16 (2 bytes) -> 989.4e12 / 3.35e12 = 295 (scaling-book, "All About Transformer Inference").
    spec = load_model("llama-3-70b")
    rf = roofline(op_table(spec, Precision.build(spec)), H100, IDEAL)
    from ridgeline.analyses.infer import critical_batch

    assert critical_batch(rf) == pytest.approx(989.4e12 / 3.35e12, rel=0.002)


def test_prefill_gemm_flops_are_two_per_param_per_token():
    # kipply, "Transformer Inference Arithmetic" (2022): a forward pass costs 2 FLOPs per parameter
    # per token in the matmuls. Exact for the weight GEMMs (lm_head runs on the last token only).
    spec = load_model("llama-3-8b")
    table = op_table(spec, Precision.build(spec))
    T = 1000
    fl, _ = table.evaluate(table.features(1, T, 0))
    gemm = sum(f for f, op in zip(fl, table.ops) if op.kind == "gemm" and op.name != "lm_head")
    pc = rl.count_params(spec)
    linear = pc.total - pc.by_term["embed.tokens"] - pc.by_term["lm_head"] - pc.by_term["norms.layer"] - \
        pc.by_term["norms.final"]
    assert gemm == pytest.approx(2 * T * linear, rel=1e-12)


def test_attention_pairs_causal_and_sliding():
    spec = load_model("gemma-2-9b-it")  # alternating sliding (W=4096) and full layers
    table = op_table(spec, Precision.build(spec))
    W = spec.sliding_window
    f = table.features(1, 10, W + 100)  # 10 new tokens deep past the window
    names = list(__import__("ridgeline.ops", fromlist=["FEATURES"]).FEATURES)
    C = W + 100
    assert f[names.index("pairs_full")] == sum(p + 1 for p in range(C, C + 10))
    assert f[names.index("pairs_slide")] == 10 * W
    f = table.features(1, 50, 0)
    assert f[names.index("pairs_slide")] == f[names.index("pairs_full")] == 50 * 51 / 2


def test_arrays_equal_scalars():
    spec = load_model("mixtral-8x7b")
    B = np.array([1, 8, 64, 256])
    S = np.array([128, 1024, 2048, 4096])
    r = infer(spec, H100, B, S, 200, plan=ParallelPlan(2))
    for i in range(len(B)):
        s = infer(spec, H100, int(B[i]), int(S[i]), 200, plan=ParallelPlan(2))
        assert r.tpot_s[i] == pytest.approx(s.tpot_s, rel=1e-12)
        assert r.ttft_s[i] == pytest.approx(s.ttft_s, rel=1e-12)
        assert r.output_tokens_per_s[i] == pytest.approx(s.output_tokens_per_s, rel=1e-12)
        assert r.bound[i] == s.bound


@settings(max_examples=40, deadline=None)
@given(bw=st.floats(1e11, 2e13), scale=st.floats(1.0, 4.0), b=st.integers(1, 512), s=st.integers(1, 8192))
def test_more_bandwidth_never_slows_a_step(bw, scale, b, s):
    spec = load_model("qwen2.5-7b")
    slow = dataclasses.replace(H100, mem_bw_bytes_per_s=bw)
    fast = dataclasses.replace(H100, mem_bw_bytes_per_s=bw * scale)
    r1, r2 = infer(spec, slow, b, s, 16), infer(spec, fast, b, s, 16)
    assert r2.tpot_s <= r1.tpot_s * (1 + 1e-12)
    assert r2.ttft_s <= r1.ttft_s * (1 + 1e-12)


def test_throughput_never_falls_as_a_memory_bound_batch_grows():
    spec = load_model("llama-3-8b")
    B = np.arange(1, 129)
    r = infer(spec, H100, B, 1024, 256)
    mem = r.bound == "memory"
    tps = r.output_tokens_per_s[mem]
    assert mem.sum() > 100 and np.all(np.diff(tps) > 0)


def test_mla_absorbed_reads_the_latent_cache():
    # DeepSeek-V3 caches kv_lora_rank + qk_rope_head_dim = 576 values per token per layer
    # (DeepSeek-V2 paper, arXiv 2405.04434, sec. 2.1.3): the decode KV read is 576 x 2 B x 61 layers.
    spec = load_model("deepseek-v3")
    prec = Precision.build(spec, weights="fp8")
    r = infer(spec, rl.get_accelerator("h200"), 1, 1000, 2, prec=prec, plan=ParallelPlan(8))
    per_tok = 576 * prec.kv.bytes_per_element * 61
    assert r.decode.kv_bytes == pytest.approx(per_tok * (1000 + 1) + per_tok, rel=1e-9)  # read C+1, write 1
    naive = infer(spec, rl.get_accelerator("h200"), 1, 1000, 2, prec=prec, plan=ParallelPlan(8), mla_path="naive")
    assert naive.decode.flops > r.decode.flops  # expanding every cached token costs more


def test_tp_adds_collectives_and_pp_adds_sends():
    spec = load_model("llama-3-70b")
    r1 = infer(spec, H100, 8, 1024, 64, plan=ParallelPlan(8))
    assert r1.decode.comm_s > 0 and r1.comm_bytes_per_step > 0
    # ring all-reduce: 2 per layer, 2(n-1)/n of the hidden state per token
    msg = 8 * 8192 * 2
    assert r1.comm_bytes_per_step == pytest.approx(2 * 80 * 2 * 7 / 8 * msg)
    r2 = infer(spec, H100, 8, 1024, 64, plan=ParallelPlan(4, 2))
    assert r2.decode.comm_bytes > 0


def test_json_keys_and_ideal():
    spec = load_model("llama-3-8b")
    d = infer_dict(infer(spec, H100, 4, 512, 64))
    for k in ("ttft_s", "decode_step_time_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s",
              "output_tokens_per_s_per_device", "batch", "bound", "mbu", "mfu", "critical_batch",
              "comm_bytes_per_step", "wait_share", "ideal"):
        assert k in d
    assert set(d["wait_share"]) == {"memory", "compute", "communication", "overhead"}
    assert sum(d["wait_share"].values()) == pytest.approx(1.0)
    for k in ("ttft_s", "tpot_s", "e2e_latency_s"):
        assert d["ideal"][k] <= d[k]
    json.dumps(d)


def test_fp8_weights_compute_at_the_fp8_peak_and_int4_in_bf16():
    spec = load_model("llama-3-8b")
    r = infer(spec, H100, 64, 2048, 8, prec=Precision.build(spec, weights="fp8"))
    assert r.compute == "fp8"
    r = infer(spec, H100, 64, 2048, 8, prec=Precision.build(spec, weights="int4"))
    assert r.compute == "bf16"


def _tiny():
    from tiny_configs import TINY

    return sorted(TINY.items())


@pytest.mark.parametrize("name,cfg", _tiny(), ids=lambda x: x if isinstance(x, str) else "")
def test_table_total_equals_count_params_for_every_family(name, cfg):
    # every model_type (multimodal wrappers, Mamba / delta-net hybrids, DSA indexer, chunked attention)
    spec = spec_from_config(cfg, name)
    assert op_table(spec, Precision.build(spec)).total_params == rl.count_params(spec).total
    r = infer(spec, H100, 4, 64, 8)
    assert r.tpot_s > 0 and r.ttft_s > 0


def test_chunked_attention_pairs():
    # Llama 4 chunked-local layers: a query at position p sees p mod c + 1 keys of its own chunk
    from tiny_configs import TINY

    spec = spec_from_config(TINY["llama4"], "llama4")
    c = spec.attention_chunk_size
    table = op_table(spec, Precision.build(spec))
    from ridgeline.ops import FEATURES

    f = table.features(1, 3 * c + 5, 0)
    assert f[FEATURES.index("pairs_chunk")] == 3 * c * (c + 1) / 2 + 5 * 6 / 2
    f = table.features(2, 1, c + 3)  # decode: the current chunk holds 4 tokens after this one
    assert f[FEATURES.index("pairs_chunk")] == 2 * 4 and f[FEATURES.index("ctx_chunk")] == 2 * 4


def test_state_layers_read_their_state_once_per_step():
    # a Mamba / delta-net layer's decode step reads and writes each sequence's fixed state,
    # whatever the context: KV traffic of a pure state layer does not grow with context
    from tiny_configs import TINY

    from ridgeline.model.kv import state_bytes_per_sequence

    spec = spec_from_config(TINY["nemotron_h"], "nemotron_h")
    prec = Precision.build(spec)
    table = op_table(spec, prec)
    rows = [op for op in table.ops if op.name.endswith((".conv", ".recurrence"))]
    assert rows
    from ridgeline.ops import FEATURES

    per_seq = sum(op.kv[FEATURES.index("seqs")] * op.layers for op in rows)
    assert per_seq == pytest.approx(2 * state_bytes_per_sequence(spec, prec.kv.bytes_per_element))


def test_attention_dp_replicates_attention_and_splits_the_batch():
    # DP attention (SGLang --enable-dp-attention) for DeepSeek-V3 on 8 GPUs: every rank holds all of
    # attention, 1/8 of the sequences; experts spread over the ranks; no tp all-reduce, two
    # all-to-alls (dispatch, combine) per MoE layer.
    spec = load_model("deepseek-v3")
    prec = Precision.build(spec, weights="fp8")
    tp = op_table(spec, prec, ParallelPlan(8, 1, 8))
    dp = op_table(spec, prec, ParallelPlan(8, 1, 8, attention_dp=True))
    a_tp = {op.name + op.layer_kind: op for op in tp.ops}
    for op in dp.ops:
        ref = a_tp[op.name + op.layer_kind]
        if op.name.startswith("attn.") and ref.shard in ("column", "row"):
            assert op.weight_bytes == pytest.approx(ref.weight_bytes * 8)
        if op.name == "moe.experts":
            assert op.weight_bytes == ref.weight_bytes
    r = infer(spec, rl.get_accelerator("h200"), 256, 1024, 64, prec=prec, plan=ParallelPlan(8, 1, 8, True))
    moe_layers = len(spec.moe.moe_layers)
    from ridgeline.timing import comm_plan

    cp = comm_plan(dp, rl.get_accelerator("h200"), Efficiencies())
    assert cp.allreduces_per_step == 0 and cp.alltoalls_per_step == 2 * moe_layers
    assert r.tpot_s > 0
    with pytest.raises(rl.PlanError):
        ParallelPlan(8, 1, 1, attention_dp=True)


def test_pipeline_micro_batches_never_split_a_sequence():
    # pp keeps pp micro-batches of B/pp in flight; with B < pp a token still crosses every stage, so
    # batch 1 on pp=2 takes the whole model's step at batch 1, plus the stage-to-stage send
    spec = load_model("llama-3-70b")
    one = infer(spec, H100, 1, 1024, 64, plan=ParallelPlan(4, 1))
    two = infer(spec, H100, 1, 1024, 64, plan=ParallelPlan(4, 2))
    assert two.tpot_s >= one.tpot_s
    b16 = infer(spec, H100, 16, 1024, 64, plan=ParallelPlan(4, 2))
    b8 = infer(spec, H100, 8, 1024, 64, plan=ParallelPlan(4, 1))
    assert b16.decode.flops == pytest.approx(b8.decode.flops)  # 16 sequences over 2 stages: 8 per pass
