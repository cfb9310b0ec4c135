"""The KV ledger equals the bytes of the cache tensors the reference implementation holds.

Tiny random-weight transformers models of every family run a real prefill and one decode
step on the CPU; full-size presets run on the meta device (true shapes, no memory).
Comparison: sum(numel * element_size) over every layer's keys and values, exactly.
"""

import pytest
from tiny_configs import TINY

from ridgeline.formats import get_format
from ridgeline.model.hf import spec_from_config
from ridgeline.model.kv import (
    REFERENCE_RECURRENT_STATE_BYTES,
    KVLayout,
    cross_attention_kv_elements_per_sequence,
    kv_cache_elements,
    state_bytes_per_sequence,
)
from ridgeline.model.load import preset_config, presets

pytestmark = pytest.mark.reference
REF = KVLayout(convention="transformers")


@pytest.mark.parametrize("name", sorted(TINY))
def test_tiny_model_real_forward_cache_bytes(name):
    import torch

    from ridgeline.validate.reference import (
        forward_model,
        hf_config,
        kv_bytes,
        model_class,
        state_bytes,
    )

    cfg = TINY[name]
    spec = spec_from_config(cfg, name)
    torch.manual_seed(0)
    model = forward_model(model_class(cfg)._from_config(hf_config(cfg), dtype=torch.float32).eval())
    B, T = 2, 20  # T exceeds the tiny sliding windows and chunks (8, 9), so windows are exercised
    ids = torch.randint(0, spec.vocab_size, (B, T))
    state = B * state_bytes_per_sequence(spec, 4, layout=REF)  # fp32 model: conv and recurrent states in fp32
    with torch.no_grad():
        out = model(input_ids=ids, use_cache=True)
        assert kv_bytes(out.cache) == kv_cache_elements(spec, B, T, REF) * 4
        assert state_bytes(out.cache) == state
        out = model(input_ids=ids[:, :1], cache=out.cache, use_cache=True)
        assert kv_bytes(out.cache) == kv_cache_elements(spec, B, T + 1, REF) * 4
        assert state_bytes(out.cache) == state  # fixed: it does not grow with the sequence


@pytest.mark.parametrize("name", ["qwen3_next", "nemotron_h", "jamba", "falcon_h1"])
def test_bf16_state_keeps_recurrent_state_in_fp32(name):
    # transformers 5.24 keeps conv windows in the model dtype and recurrent states in fp32
    from ridgeline.validate.reference import meta_state_bytes

    cfg = TINY[name]
    spec = spec_from_config(cfg, name)
    assert meta_state_bytes(cfg, 3, 17, "bfloat16") == 3 * state_bytes_per_sequence(
        spec, 2, REFERENCE_RECURRENT_STATE_BYTES, layout=REF)


@pytest.mark.parametrize("preset", presets(), ids=lambda p: p.name)
def test_full_size_preset_meta_forward_cache_bytes(preset):
    from ridgeline.validate.reference import kv_bytes, meta_cache, state_bytes

    cfg = preset_config(preset)
    spec = spec_from_config(cfg, preset.name)
    B, T = 2, 33
    cache = meta_cache(cfg, B, T, "bfloat16")
    assert kv_bytes(cache) == kv_cache_elements(spec, B, T, REF) * 2
    # hybrid presets: conv windows in bf16, recurrent states in fp32; 0 for pure attention models
    assert state_bytes(cache) == B * state_bytes_per_sequence(spec, 2, REFERENCE_RECURRENT_STATE_BYTES,
                                                              layout=REF)


def test_mistral_window_on_meta_beyond_4096():
    # Mistral-7B-v0.1 slides every layer at 4096: transformers keeps W - 1 = 4095 tokens.
    from ridgeline.validate.reference import meta_kv_cache_bytes

    p = next(p for p in presets() if p.name == "Mistral-7B-v0.1")
    cfg = preset_config(p)
    spec = spec_from_config(cfg)
    assert meta_kv_cache_bytes(cfg, 1, 5000) == kv_cache_elements(spec, 1, 5000, REF) * 2
    assert kv_cache_elements(spec, 1, 5000, REF) == 32 * 4095 * 2 * 8 * 128
    assert kv_cache_elements(spec, 1, 5000, KVLayout()) == 32 * 4096 * 2 * 8 * 128


def test_deepseek_v3_latent_bytes_per_token():
    # ../shared/TOOLCHAIN.md: 1,152 B per token per layer in bf16 (512 + 64 values), 70,272 B per token.
    spec = spec_from_config(preset_config(next(p for p in presets() if p.name == "DeepSeek-V3")))
    assert kv_cache_elements(spec, 1, 1) * get_format("bf16").bytes_per_element == 70_272
    # expanded per head: 128 heads x (128 + 64 + 128) = 40,960 values per layer, 71x the latent
    assert kv_cache_elements(spec, 1, 1, KVLayout(mla="expanded")) == 61 * 128 * (128 + 64 + 128)


def test_mllama_cross_attention_caches_image_tokens_not_text():
    # One 4-tile image per sequence: each cross-attention layer caches 4 x (16 patches + 1) = 68 image
    # tokens of keys and values, while self-attention layers cache the text; prefill and decode.
    import torch

    from ridgeline.validate.reference import hf_config, kv_bytes, model_class

    cfg = TINY["mllama"]
    spec = spec_from_config(cfg, "mllama")
    assert spec.cross_attention.image_tokens == 68
    torch.manual_seed(0)
    model = model_class(cfg)._from_config(hf_config(cfg), dtype=torch.float32).eval()
    B, T = 2, 20
    ids = torch.randint(0, 200, (B, T))
    image = {"pixel_values": torch.randn(B, 1, 4, 3, 56, 56), "aspect_ratio_ids": torch.tensor([[6]] * B),
             "aspect_ratio_mask": torch.ones(B, 1, 4, dtype=torch.long),
             "cross_attention_mask": torch.ones(B, T, 1, 4, dtype=torch.long)}
    with torch.no_grad():
        out = model(input_ids=ids, use_cache=True)  # text only: cross-attention layers cache nothing
        assert kv_bytes(out.cache) == kv_cache_elements(spec, B, T, REF) * 4
        out = model(input_ids=ids, use_cache=True, **image)
        cross = B * cross_attention_kv_elements_per_sequence(spec, 1, REF)
        assert kv_bytes(out.cache) == (kv_cache_elements(spec, B, T, REF) + cross) * 4
        out = model(input_ids=ids[:, :1], cache=out.cache, use_cache=True,
                    cross_attention_mask=image["cross_attention_mask"][:, -1:])
        assert kv_bytes(out.cache) == (kv_cache_elements(spec, B, T + 1, REF) + cross) * 4


@pytest.mark.parametrize("name", ["qwen3_next", "nemotron_h", "jamba", "falcon_h1"])
def test_ledger_state_term_is_batch_times_the_reference_state(name):
    """The memory ledger's state_cache term (issue 10 item 2) equals batch x the per-sequence state that
    transformers' cache tensors hold (meta forward, bf16: conv windows bf16, recurrent states fp32) under
    the transformers convention, exactly; tp splits it; pp stages sum to it; the engine convention keeps
    the recurrent state in the model dtype; fit's room for sequences charges KV plus state."""
    from ridgeline.analyses.fit import fit
    from ridgeline.analyses.memory import inference_ledger
    from ridgeline.hardware.load import get_accelerator
    from ridgeline.validate.reference import meta_state_bytes
    from ridgeline.workload import InferenceWorkload, ParallelPlan, Precision

    cfg = TINY[name]
    spec = spec_from_config(cfg, name)
    prec = Precision.build(spec)
    assert prec.activations.name == "bf16"
    B, T = 3, 17
    ref = meta_state_bytes(cfg, B, T, "bfloat16")
    assert ref > 0
    wl = InferenceWorkload(B, T)
    led = inference_ledger(spec, wl, prec, ParallelPlan(), REF)
    assert led.per_device_terms["state_cache"] == ref == led.state_cache_bytes
    assert led.per_device_total_bytes == pytest.approx(sum(led.per_device_terms.values()))
    two = inference_ledger(spec, wl, prec, ParallelPlan(2, 1), REF)
    assert two.per_device_terms["state_cache"] == ref / 2 and two.state_cache_bytes == ref
    staged = inference_ledger(spec, wl, prec, ParallelPlan(1, 2), REF)
    assert sum(staged.stage_state_seq_bytes) * B == ref
    # engines: kernel - 1 conv columns, the SSM state in the model dtype unless the config names one
    # (Nemotron-H: mamba_ssm_cache_dtype, float32 by default, which vLLM adopts)
    eng = inference_ledger(spec, wl, prec, ParallelPlan(), KVLayout())
    rec = 4 if name == "nemotron_h" else 2
    assert eng.per_device_terms["state_cache"] == B * state_bytes_per_sequence(spec, 2, rec, layout=KVLayout())
    assert eng.per_device_terms["state_cache"] < ref
    r = fit(spec, get_accelerator("l4"), wl, prec, layout=REF)
    assert r.state_bytes_per_sequence * B == ref and r.memory.state_cache_bytes == ref
    per_seq = r.ledger.stage_kv_seq_bytes[0]
    assert per_seq == pytest.approx(r.kv_bytes_per_sequence * (1 + r.ledger.factors[1].value) + ref / B)
    assert r.max_concurrent_sequences == int((r.capacity_bytes - r.ledger.stage_fixed_bytes[0]) // per_seq)
