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


# ---------------------------------------------------------------- issue 10: wrappers, hybrids, more families

def test_gemma3_4b_text_part_matches_keras_hub_count_up_to_vocabulary_rows():
    # keras-hub keras_hub/src/models/gemma3/gemma3_presets.py: "gemma3_4b_text" params 3,880,099,328, built
    # with 262,144 vocabulary rows; the released config leaves vocab_size to Gemma3TextConfig's 262,208.
    pc = count_params(load_model("gemma-3-4b-it"))
    assert pc.text_only_total - 64 * 2560 == 3_880_099_328
    assert pc.vision == sum(n for t, n in pc.by_term.items() if t.startswith("vision."))
    assert pc.total == pc.text_only_total + pc.vision


@pytest.mark.parametrize("name", ["gemma-3-27b-it", "qwen2.5-vl-7b-instruct", "llama-3.2-90b-vision-instruct",
                                  "llama-4-scout"])
def test_multimodal_breakdown_names_encoder_and_projector_and_text_only_subset(name):
    spec = load_model(name)
    pc = count_params(spec)
    assert spec.vision is not None and spec.vision.encoder_params > 0 and spec.vision.projector_params > 0
    assert pc.vision == spec.vision.encoder_params + spec.vision.projector_params
    text = param_groups(spec, text_only=True)
    assert sum(g.count for g in text) == pc.text_only_total < pc.total
    assert all(g.role != "vision" for g in text)
    assert {g.role for g in param_groups(spec)} - {g.role for g in text} == {"vision"}


def test_qwen3_next_gated_deltanet_layer_counts():
    # Qwen3-Next-80B-A3B: 36 gated delta-net layers (3 of 4), 12 gated-attention layers.
    spec = load_model("qwen3-next-80b-a3b-instruct")
    assert spec.layer_types.count("linear_attention") == 36 and spec.num_attention_layers == 12
    la = spec.linear_attention
    # in_proj_qkvz + in_proj_ba: H x (2 * 16*128 + 2 * 32*128 + 2 * 32); conv over 2*2048 + 4096 channels x 4
    pc = count_params(spec)
    assert pc.by_term["linear_attn.in_proj"] == 36 * 2048 * (2 * 2048 + 2 * 4096 + 64)
    assert pc.by_term["linear_attn.conv"] == 36 * (2 * la.key_dim + la.value_dim) * 4
    # gated attention: q_proj emits 2 x N x D (query and gate)
    assert pc.by_term["attn.qkv"] == 12 * 2048 * (2 * 16 * 256 + 2 * 2 * 256)


def test_nemotron_h_layers_hold_one_block_each():
    spec = load_model("nemotron-h-56b")
    kinds = set(spec.layer_types)
    assert kinds <= {"mamba", "full", "none"}
    dense = set(spec.dense_mlp_layers or ())
    assert all(spec.layer_types[i] == "none" for i in dense)
    assert not any(spec.has_mlp(i) for i, t in enumerate(spec.layer_types) if t != "none")


def test_kimi_k2_is_read_as_the_class_it_names():
    spec = load_model("kimi-k2-instruct")
    assert spec.model_type == "deepseek_v3" and any("kimi_k2" in n for n in spec.notes)


@pytest.mark.parametrize("cfg,field", [
    ({"model_type": "qwen3_vl", "text_config": {}}, "model_type"),
    ({"model_type": "nemotron_h", "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 10,
      "hybrid_override_pattern": "M*", "moe_latent_size": 16}, "moe_latent_size"),
    ({"model_type": "nemotron_h", "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 10,
      "hybrid_override_pattern": "MX"}, "hybrid_override_pattern"),
    ({"model_type": "mllama", "vision_config": {}, "text_config": {"vocab_size": 10, "hidden_size": 64,
      "intermediate_size": 8, "num_hidden_layers": 2, "num_attention_heads": 8, "cross_attention_layers": [5]}},
     "cross_attention_layers"),
    ({"model_type": "exaone4", "vocab_size": 10, "hidden_size": 64, "intermediate_size": 8, "num_hidden_layers": 2,
      "num_attention_heads": 4, "sliding_window": None}, "layer_types"),
    ({"model_type": "gemma3", "text_config": {"vocab_size": 10, "hidden_size": 64, "intermediate_size": 8,
      "num_hidden_layers": 2}, "vision_config": [1]}, "vision_config"),
    ({"model_type": "llama", "vocab_size": 10, "hidden_size": 64, "intermediate_size": 8, "num_hidden_layers": 2,
      "num_attention_heads": 4, "layer_types": ["full_attention", "mamba"]}, "layer_types"),
])
def test_unsupported_or_malformed_hybrid_configs_fail_with_one_line_naming_the_field(cfg, field):
    from ridgeline.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        spec_from_config(cfg)
    msg = str(e.value)
    assert field in msg and "\n" not in msg
