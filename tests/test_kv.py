"""KV-cache accounting: conventions, windows, invariants (no reference needed)."""

from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_configs import TINY

from ridgeline.model.hf import spec_from_config
from ridgeline.model.kv import KVLayout, kv_cache_elements, kv_elements_per_token_layer
from ridgeline.model.load import load_model

SPECS = [spec_from_config(c, n) for n, c in sorted(TINY.items())]


def test_llama3_70b_kv_per_token():
    # 80 layers x 2 (K, V) x 8 KV heads x 128 head_dim x 2 bytes (bf16) = 327,680 bytes per token
    spec = load_model("llama-3-70b")
    assert kv_cache_elements(spec, 1, 1) * 2 == 327_680


def test_falcon_new_decoder_conventions_differ():
    spec = spec_from_config(TINY["falcon-40b-like"])
    # engines cache the 2 KV heads; transformers broadcasts them to all 8 heads first
    assert kv_elements_per_token_layer(spec, KVLayout("transformers")) == 4 * kv_elements_per_token_layer(spec)


def test_gemma2_window_caps_half_the_layers():
    spec = load_model("gemma-2-9b-it")
    full = kv_cache_elements(spec, 1, 100_000)
    per = kv_elements_per_token_layer(spec)
    assert full == per * (21 * 100_000 + 21 * 4096)


@settings(max_examples=80, deadline=None)
@given(i=st.integers(0, len(SPECS) - 1), b=st.integers(1, 64), t=st.integers(1, 10_000), db=st.integers(0, 8),
       dt=st.integers(0, 5000), conv=st.sampled_from(["engine", "transformers"]),
       mla=st.sampled_from(["latent", "expanded"]))
def test_kv_monotonic_in_batch_and_context(i, b, t, db, dt, conv, mla):
    spec, lay = SPECS[i], KVLayout(conv, mla)
    base = kv_cache_elements(spec, b, t, lay)
    assert kv_cache_elements(spec, b + db, t + dt, lay) >= base
    assert kv_cache_elements(spec, 2 * b, t, lay) == 2 * base
    assert base <= b * t * kv_elements_per_token_layer(spec, lay) * spec.num_layers


# ---------------------------------------------------------------- hybrid layers (issue 10)

from ridgeline.model.kv import (  # noqa: E402
    REFERENCE_RECURRENT_STATE_BYTES,
    cross_attention_kv_elements_per_sequence,
    kv_elements_per_token,
    state_bytes_per_sequence,
    state_elements_per_sequence,
)


def test_qwen3_next_kv_counts_only_attention_layers_and_state_is_fixed():
    spec = load_model("qwen3-next-80b-a3b-instruct")
    # 12 gated-attention layers x 2 (K, V) x 2 KV heads x 256 = 12,288 elements per token
    assert kv_elements_per_token(spec) == 12 * 2 * 2 * 256
    assert kv_cache_elements(spec, 1, 1000) == 1000 * 12 * 2 * 2 * 256
    # 36 delta-net layers: conv (2*16*128 + 32*128) channels and recurrent 32 x 128 x 128, per sequence
    ref = KVLayout("transformers")
    st = state_elements_per_sequence(spec, layout=ref)
    assert st.conv == 36 * 8192 * 4 and st.recurrent == 36 * 32 * 128 * 128  # transformers: full kernel
    assert state_elements_per_sequence(spec).conv == 36 * 8192 * 3  # engines keep kernel - 1 columns
    # bf16 windows + fp32 recurrent state (what transformers holds): 77,856,768 bytes per sequence
    assert state_bytes_per_sequence(spec, 2, REFERENCE_RECURRENT_STATE_BYTES, layout=ref) == 77_856_768


def test_nemotron_h_state_and_kv():
    spec = load_model("nemotron-h-56b")
    m = spec.mamba
    mamba_layers = spec.layer_types.count("mamba")
    st = state_elements_per_sequence(spec)
    assert st.conv == mamba_layers * (m.d_inner + 2 * m.n_groups * m.d_state) * (m.d_conv - 1)
    assert st.recurrent == mamba_layers * m.num_heads * m.head_dim * m.d_state
    assert kv_elements_per_token(spec) == spec.layer_types.count("full") * 2 * spec.attention.num_kv_heads * 128


def test_llama4_chunked_layers_keep_one_chunk():
    spec = load_model("llama-4-scout")
    assert spec.attention_chunk_size == 8192
    chunked, full = spec.layer_types.count("chunked"), spec.layer_types.count("full")
    assert (chunked, full) == (36, 12)
    per = kv_elements_per_token_layer(spec)
    T = 100_000
    assert kv_cache_elements(spec, 1, T) == per * (full * T + chunked * 8192)
    assert kv_cache_elements(spec, 1, T, KVLayout("transformers")) == per * (full * T + chunked * 8191)


def test_mllama_cross_attention_caches_image_tokens_independent_of_text():
    spec = load_model("llama-3.2-90b-vision-instruct")
    assert spec.cross_attention.image_tokens == 4 * (40 * 40 + 1)
    per_image = cross_attention_kv_elements_per_sequence(spec, 1)
    assert per_image == 20 * 4 * 1601 * 2 * 8 * 128
    assert cross_attention_kv_elements_per_sequence(spec, 2) == 2 * per_image
    # text tokens are cached by the 80 self-attention layers only
    assert kv_elements_per_token(spec) == 80 * 2 * 8 * 128


@settings(max_examples=40, deadline=None)
@given(t=st.integers(1, 50_000), b=st.integers(1, 16))
def test_state_does_not_grow_with_context(t, b):
    spec = load_model("qwen3-next-80b-a3b-instruct")
    grow = kv_cache_elements(spec, b, t + 1) - kv_cache_elements(spec, b, t)
    assert grow == b * kv_elements_per_token(spec)
    assert state_elements_per_sequence(spec).total > 0
