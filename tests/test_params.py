"""Parameter accounting without the reference: golden values with citations, invariants."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ridgeline.model.hf import spec_from_config
from ridgeline.model.load import find_preset, load_model, preset_config, presets
from ridgeline.model.params import count_params, param_groups


def test_llama3_70b_matches_published_safetensors_total():
    # HF safetensors metadata total for meta-llama/Meta-Llama-3-70B: 70,553,706,496 (exact;
    # shared/reference/model-configs.json). No rotary buffers are stored in Llama 3 checkpoints.
    assert count_params(load_model("llama-3-70b")).total == 70_553_706_496


def test_llama2_7b_differs_from_safetensors_by_rotary_buffers():
    # Published safetensors total 6,738,417,664 includes self_attn.rotary_emb.inv_freq
    # (head_dim/2 = 64 floats) in each of 32 layers: 2,048 non-trainable elements.
    assert count_params(load_model("llama-2-7b")).total == 6_738_417_664 - 32 * 64


def test_deepseek_v3_total_excludes_mtp():
    # transformers builds no MTP module: 671,026,404,352 (../shared/TOOLCHAIN.md); the published
    # 671B excludes the 14B MTP module too (DeepSeek-V3 report, arXiv 2412.19437, sec. 4.2).
    pc = count_params(load_model("deepseek-v3"))
    assert pc.total == 671_026_404_352
    # 37B activated per token (DeepSeek-V3 report abstract); exact value from the breakdown.
    assert 36.5e9 < pc.active < 37.9e9


def test_gemma2_9b_differs_from_paper_by_vocabulary_rows():
    # Gemma 2 report (arXiv 2408.00118) Table 2 gives 9,242,164,736 for gemma-2-9b; the released
    # config has vocab_size 256,000 while the count implies 256,128 rows (128 x hidden 3,584 more).
    assert count_params(load_model("gemma-2-9b-it")).total == 9_242_164_736 - 128 * 3584


def test_gpt_oss_20b_matches_toolchain_count():
    assert count_params(load_model("gpt-oss-20b")).total == 20_914_757_184


@pytest.mark.parametrize("preset", presets(), ids=lambda p: p.name)
def test_terms_sum_to_total_and_active_le_total(preset):
    pc = count_params(spec_from_config(preset_config(preset), preset.name))
    assert sum(pc.by_term.values()) == pc.total
    assert sum(pc.active_by_term.values()) == pc.active
    assert 0 < pc.active <= pc.total
    if spec_from_config(preset_config(preset)).moe is None:
        assert pc.active == pc.total


def test_mixtral_active_params():
    # Mixtral paper (arXiv 2401.04088): 47B total, 13B active with 2 of 8 experts.
    pc = count_params(load_model("mixtral-8x7b-v0.1"))
    assert round(pc.total / 1e9) == 47 and round(pc.active / 1e9) == 13


@settings(max_examples=60, deadline=None)
@given(L=st.integers(1, 8), h=st.integers(1, 8), kv=st.sampled_from([1, 2, 4]), V=st.integers(1, 5000),
       I=st.integers(1, 512), tied=st.booleans())
def test_llama_formula_property(L, h, kv, V, I, tied):
    heads, D = 4 * h, 16
    H = heads * D
    cfg = {"model_type": "llama", "vocab_size": V, "hidden_size": H, "intermediate_size": I,
           "num_hidden_layers": L, "num_attention_heads": heads, "num_key_value_heads": kv,
           "tie_word_embeddings": tied}
    pc = count_params(spec_from_config(cfg))
    per_layer = H * (heads + 2 * kv) * D + heads * D * H + 3 * H * I + 2 * H
    assert pc.total == V * H * (1 if tied else 2) + L * per_layer + H
    assert all(g.count > 0 for g in param_groups(spec_from_config(cfg)))


def test_preset_names_resolve_case_insensitively():
    for ref in ("llama-3-70b", "Llama-3.1-8B", "meta-llama/Llama-3.1-8B", "LLAMA-3.1-8B", "meta-llama/Meta-Llama-3-70B"):
        assert find_preset(ref) is not None, ref


def test_at_least_30_presets_with_unique_aliases():
    ps = presets()
    assert len(ps) >= 30
    seen = set()
    for p in ps:
        for a in p.aliases:
            assert a.lower() not in seen, a
            seen.add(a.lower())


def test_modules_to_not_convert_become_kept_roles():
    # gpt-oss-120b config.json: modules_to_not_convert = self_attn, mlp.router, embed_tokens, lm_head
    spec = load_model("gpt-oss-120b")
    assert spec.quant_method == "mxfp4"
    # (every role the checkpoint stores unquantized: the names above plus what MXFP4 never touches)
    assert spec.quant_unconverted_roles == ("bias", "embedding", "linear", "lm_head", "norm", "other", "router")
    assert load_model("deepseek-v3").quant_method == "fp8-b128"
