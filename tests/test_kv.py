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
