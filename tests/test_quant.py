"""quantization_config -> weight format and kept roles, on real configs (trimmed to their
quantization_config, values verbatim), and one-line errors for what cannot be read."""

import json

import pytest

from ridgeline.cli import main
from ridgeline.errors import InputError
from ridgeline.formats import get_format
from ridgeline.model.hf import spec_from_config
from ridgeline.model.load import find_preset, preset_config
from ridgeline.model.quant import DEFAULT_KEPT, read_quantization, roles_of_names
from ridgeline.workload import Precision

# Each fixture: (source, quantization_config as published, expected format, expected kept roles).
REAL = {
    "gpt-oss-120b (mxfp4)": (
        "openai/gpt-oss-120b config.json (the shipped preset, verbatim)",
        preset_config(find_preset("gpt-oss-120b"))["quantization_config"],
        "mxfp4", set(DEFAULT_KEPT) | {"linear"}),
    "DeepSeek-V3 (fp8 blocks)": (
        "deepseek-ai/DeepSeek-V3 config.json (the shipped preset, verbatim)",
        preset_config(find_preset("deepseek-v3"))["quantization_config"],
        "fp8-b128", set(DEFAULT_KEPT)),
    "Kimi-K2-Thinking (compressed-tensors W4A16 g32)": (
        "moonshotai/Kimi-K2-Thinking config.json, quantization_config as quoted in public GitHub notes "
        "(found with the code search of this project, 2026-11-25)",
        {"config_groups": {"group_0": {"input_activations": None, "output_activations": None, "targets": ["Linear"],
                                       "weights": {"actorder": None, "block_structure": None, "dynamic": False,
                                                   "group_size": 32, "num_bits": 4, "observer": "minmax",
                                                   "observer_kwargs": {}, "strategy": "group", "symmetric": True,
                                                   "type": "int"}}},
         "format": "pack-quantized",
         "ignore": ["lm_head", "re:.*self_attn.*", "re:.*shared_experts.*", "re:.*mlp\\.(gate|up|gate_up|down)_proj.*"],
         "kv_cache_scheme": None, "quant_method": "compressed-tensors", "quantization_status": "compressed"},
        "int4-sym-g32", {"bias", "embedding", "norm", "other", "router", "lm_head", "linear"}),
    "Qwen3-Coder-Next NVFP4 (compressed-tensors)": (
        "RedHatAI/Qwen3-Coder-Next-NVFP4 config.json, as transcribed in a public test (ignore list cut to one "
        "of each class, as there)",
        {"config_groups": {"group_0": {
            "format": "nvfp4-pack-quantized",
            "input_activations": {"actorder": None, "block_structure": None, "dynamic": "local", "group_size": 16,
                                  "num_bits": 4, "observer": "static_minmax", "observer_kwargs": {},
                                  "scale_dtype": "torch.float8_e4m3fn", "strategy": "tensor_group",
                                  "symmetric": True, "type": "float", "zp_dtype": None},
            "output_activations": None, "targets": ["Linear"],
            "weights": {"actorder": None, "block_structure": None, "dynamic": False, "group_size": 16, "num_bits": 4,
                        "observer": "mse", "observer_kwargs": {}, "scale_dtype": "torch.float8_e4m3fn",
                        "strategy": "tensor_group", "symmetric": True, "type": "float", "zp_dtype": None}}},
         "format": "nvfp4-pack-quantized", "global_compression_ratio": None,
         "ignore": ["model.layers.0.linear_attn.in_proj_qkvz", "model.layers.0.linear_attn.in_proj_ba",
                    "model.layers.0.linear_attn.out_proj", "model.layers.0.mlp.gate",
                    "model.layers.0.mlp.shared_expert_gate", "lm_head"],
         "kv_cache_scheme": None, "quant_method": "compressed-tensors", "quantization_status": "compressed",
         "sparsity_config": {}, "transform_config": {}, "version": "0.13.1.dev47+gcfc24ef"},
        "nvfp4", {"bias", "embedding", "norm", "other", "router", "lm_head", "linear"}),
    "Qwen3-32B W8A8 (compressed-tensors int8 per channel)": (
        "a Qwen3-32B W8A8 compressed-tensors config.json quoted in public deployment notes",
        {"config_groups": {"group_0": {
            "input_activations": {"actorder": None, "block_structure": None, "dynamic": True, "group_size": None,
                                  "num_bits": 8, "observer": "memoryless", "observer_kwargs": {},
                                  "strategy": "token", "symmetric": True, "type": "int"},
            "output_activations": None, "targets": ["Linear"],
            "weights": {"actorder": None, "block_structure": None, "dynamic": False, "group_size": None,
                        "num_bits": 8, "observer": "mse", "observer_kwargs": {}, "strategy": "channel",
                        "symmetric": True, "type": "int"}}},
         "format": "int-quantized", "global_compression_ratio": None, "ignore": ["lm_head"],
         "kv_cache_scheme": None, "quant_method": "compressed-tensors", "quantization_status": "compressed"},
        "int8", {"bias", "embedding", "norm", "other", "router", "lm_head"}),
    "Mistral FP8 (compressed-tensors per tensor)": (
        "a Mistral FP8 conversion script's quantization block (float-quantized, strategy tensor), public GitHub",
        {"config_groups": {"group_0": {
            "input_activations": {"dynamic": True, "num_bits": 8, "observer": None, "strategy": "token",
                                  "symmetric": True, "type": "float"},
            "targets": ["Linear"],
            "weights": {"dynamic": False, "num_bits": 8, "observer": "minmax", "strategy": "tensor",
                        "symmetric": True, "type": "float"}}},
         "format": "float-quantized", "ignore": ["lm_head", "output"], "quant_method": "compressed-tensors",
         "quantization_status": "compressed"},
        "fp8", {"bias", "embedding", "norm", "other", "router", "lm_head"}),
    "DeepSeek-V3.2-Exp AWQ (whole layers kept)": (
        "QuantTrio/DeepSeek-V3.2-Exp-AWQ config.json, quoted in a vLLM issue (Dec 2025, 'An error will occur "
        "when using a quantization configuration with modules_to_not_convert for the DeepSeek-V3.2 model')",
        {"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemm", "zero_point": True,
         "modules_to_not_convert": ["mlp.gate.", "indexer", "model.layers.0.", "model.layers.1.", "model.layers.2.",
                                    "model.layers.60.", "model.layers.61."]},
        "awq-g128", set(DEFAULT_KEPT) | {"linear"}),
    "Qwen3-30B-A3B GPTQ (gptqmodel 4.0)": (
        "a Qwen3-30B-A3B GPTQ quantization_config written by gptqmodel 4.0.0, quoted in a public README",
        {"bits": 4, "checkpoint_format": "gptq", "damp_percent": 0.01, "desc_act": False, "group_size": 128,
         "model_file_base_name": None, "model_name_or_path": None, "quant_method": "gptq", "static_groups": False,
         "sym": True, "true_sequential": True},
        "gptq-g128", set(DEFAULT_KEPT)),
    "fbgemm_fp8": (
        "huggingface/transformers tests/quantization/fbgemm_fp8/test_fbgemm_fp8.py (test_from_dict)",
        {"modules_to_not_convert": ["lm_head.weight"], "quant_method": "fbgemm_fp8"},
        "fp8-ch", set(DEFAULT_KEPT)),
    "bitsandbytes 8-bit": (
        "BitsAndBytesConfig(load_in_8bit=True).to_dict(), as asserted in huggingface/diffusers' bnb tests",
        {"_load_in_4bit": False, "_load_in_8bit": True, "bnb_4bit_compute_dtype": "float32",
         "bnb_4bit_quant_storage": "uint8", "bnb_4bit_quant_type": "fp4", "bnb_4bit_use_double_quant": False,
         "llm_int8_enable_fp32_cpu_offload": False, "llm_int8_has_fp16_weight": False,
         "llm_int8_skip_modules": None, "llm_int8_threshold": 6.0, "load_in_4bit": False, "load_in_8bit": True,
         "quant_method": "bitsandbytes"},
        "int8", set(DEFAULT_KEPT)),
    "bitsandbytes 4-bit fp4, double quant": (
        "BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_use_double_quant=True) as printed in a public notebook",
        {"_load_in_4bit": True, "_load_in_8bit": False, "bnb_4bit_compute_dtype": "bfloat16",
         "bnb_4bit_quant_storage": "uint8", "bnb_4bit_quant_type": "fp4", "bnb_4bit_use_double_quant": True,
         "llm_int8_enable_fp32_cpu_offload": False, "llm_int8_has_fp16_weight": False, "llm_int8_skip_modules": None,
         "llm_int8_threshold": 6.0, "load_in_4bit": True, "load_in_8bit": False, "quant_method": "bitsandbytes"},
        "bnb-fp4", set(DEFAULT_KEPT)),
    "bitsandbytes nf4, double quant (QLoRA)": (
        "the bitsandbytes config of a QLoRA checkpoint (hiyouga/LLaMA-Factory saved checkpoint README)",
        {"load_in_8bit": False, "load_in_4bit": True, "llm_int8_threshold": 6.0, "llm_int8_skip_modules": None,
         "llm_int8_enable_fp32_cpu_offload": False, "llm_int8_has_fp16_weight": False, "bnb_4bit_quant_type": "nf4",
         "bnb_4bit_use_double_quant": True, "bnb_4bit_compute_dtype": "float16", "quant_method": "bitsandbytes"},
        "nf4", set(DEFAULT_KEPT)),
}

# Published configs ridgeline cannot size from the config alone: each must ask for --weights.
UNREADABLE = {
    "GLM-5.3 int4/int8 release (groups mix int8 g64 and int4 g64)": (
        {"config_groups": {
            "group_0": {"format": "pack-quantized", "input_activations": None, "output_activations": None,
                        "targets": ["re:model\\.layers\\.(?:[3-9]|[1-6][0-9]|7[0-7])\\.(?:self_attn\\.(?:q_a_proj|"
                                    "q_b_proj|kv_a_proj_with_mqa|kv_b_proj|o_proj)|mlp\\.shared_experts\\.(?:gate_proj"
                                    "|up_proj|down_proj))$"],
                        "weights": {"actorder": None, "block_structure": None, "dynamic": False, "group_size": 64,
                                    "num_bits": 8, "observer": "memoryless_minmax", "observer_kwargs": {},
                                    "scale_dtype": None, "strategy": "group", "symmetric": True, "type": "int",
                                    "zp_dtype": None}},
            "group_1": {"format": "pack-quantized", "input_activations": None, "output_activations": None,
                        "targets": ["re:model\\.layers\\.(?:[3-9]|[1-6][0-9]|7[0-7])\\.mlp\\.experts\\.\\d+\\."
                                    "(?:gate_proj|up_proj|down_proj)$"],
                        "weights": {"actorder": None, "block_structure": None, "dynamic": False, "group_size": 64,
                                    "num_bits": 4, "observer": "memoryless_minmax", "observer_kwargs": {},
                                    "scale_dtype": None, "strategy": "group", "symmetric": True, "type": "int",
                                    "zp_dtype": None}}},
         "format": "pack-quantized", "global_compression_ratio": None,
         "ignore": ["lm_head", "re:.*embed_tokens.*", "re:model\\.layers\\.[0-2]\\..*", "re:.*self_attn\\.indexer\\..*",
                    "re:.*norm.*", "re:.*mlp\\.gate$"],
         "kv_cache_scheme": None, "quant_method": "compressed-tensors", "quantization_status": "compressed",
         "sparsity_config": {}, "transform_config": {}, "version": "0.18.0"},
        "config_groups mix weight formats"),
    "Intel Qwen3-Coder-Next AutoRound": (
        {"bits": 4, "data_type": "int", "group_size": 128, "sym": True, "autoround_version": "0.10.0",
         "quant_method": "auto-round", "packing_format": "auto_round:auto_gptq",
         "extra_config": {"model.layers.0.mlp.shared_expert_gate": {"bits": 16, "data_type": "fp"}}},
        "quant_method 'auto-round' is not one ridgeline reads"),
    "GLM-5.3-NF4I8 (dgpp_nf4i8)": (
        {"format": "mixed-codebook-packed", "format_version": 1, "quant_method": "dgpp_nf4i8"},
        "quant_method 'dgpp_nf4i8'"),
}

MALFORMED = {
    "not an object": ([4, "bit"], "expected an object, got list"),
    "no method": ({"bits": 4}, "field 'quant_method' is missing"),
    "method not a string": ({"quant_method": 4}, "'quant_method' is not a string"),
    "gptq bits as text": ({"quant_method": "gptq", "bits": "four"}, "field 'bits' must be an integer"),
    "gptq 5 bits": ({"quant_method": "gptq", "bits": 5, "group_size": 128}, "field 'bits' is 5"),
    "gptq group -7": ({"quant_method": "gptq", "bits": 4, "group_size": -7}, "field 'group_size' is -7"),
    "bnb neither": ({"quant_method": "bitsandbytes", "load_in_4bit": False, "load_in_8bit": False},
                    "exactly one of 'load_in_4bit' and 'load_in_8bit'"),
    "bnb unknown type": ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf3"},
                         "'bnb_4bit_quant_type' is 'nf3'"),
    "fp8 block not a pair": ({"quant_method": "fp8", "weight_block_size": [128]}, "'weight_block_size' must be two"),
    "ct without groups": ({"quant_method": "compressed-tensors", "format": "pack-quantized"}, "'config_groups'"),
    "ct unknown format": ({"quant_method": "compressed-tensors", "format": "marlin-24", "config_groups": {}},
                          "field 'format' is 'marlin-24'"),
    "skip list not a list": ({"quant_method": "awq", "modules_to_not_convert": "lm_head"},
                             "'modules_to_not_convert' must be a list"),
    # found by hypothesis: an unhashable 'format' raised TypeError from the set membership test
    "ct format a list": ({"quant_method": "compressed-tensors", "format": [], "config_groups": {}},
                         "field 'format' is []"),
    "ct format an object": ({"quant_method": "compressed-tensors", "format": {"a": 1}, "config_groups": {}},
                            "field 'format' is {'a': 1}"),
    "ct group format a list": ({"quant_method": "compressed-tensors", "format": "pack-quantized", "config_groups": {
        "group_0": {"format": [1], "weights": {"num_bits": 4, "strategy": "group", "group_size": 128}}}},
        "field 'config_groups.group_0.format' is [1]"),
    "ct group name with a newline": ({"quant_method": "compressed-tensors", "config_groups": {"a\nb": 5}},
                                     "field 'config_groups.a\\nb' must be an object"),
    "ct symmetric as text": ({"quant_method": "compressed-tensors", "format": "pack-quantized", "config_groups": {
        "group_0": {"weights": {"num_bits": 4, "strategy": "group", "group_size": 128, "symmetric": "yes"}}}},
        "'config_groups.group_0.weights.symmetric' must be true or false"),
    "awq zero_point a list": ({"quant_method": "awq", "bits": 4, "zero_point": []},
                              "field 'zero_point' must be true or false"),
    "gptq bits huge": ({"quant_method": "gptq", "bits": 2**200}, "field 'bits' is an integer of 201 bits"),
    "modelopt algo a list": ({"quant_method": "modelopt", "quant_algo": ["FP8"]}, "field 'quant_algo' is ['FP8']"),
}


@pytest.mark.parametrize("case", sorted(REAL))
def test_real_quantization_configs(case):
    source, q, fmt, kept = REAL[case]
    assert source
    s = read_quantization(q)
    assert s.problem is None, s.problem
    assert s.weights == fmt
    assert set(s.kept_roles) == kept
    get_format(s.weights)  # every format it names is one ridgeline sizes


def _tiny(q) -> dict:
    return {"model_type": "llama", "vocab_size": 1000, "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "torch_dtype": "bfloat16", "quantization_config": q}


def test_kimi_precision_end_to_end():
    # int4 symmetric groups of 32: 4 + 16/32 = 4.5 bits for the experts; attention, dense MLP,
    # shared experts and lm_head stay bf16 (the ignore list).
    spec = spec_from_config(_tiny(REAL["Kimi-K2-Thinking (compressed-tensors W4A16 g32)"][1]))
    p = Precision.build(spec)
    assert p.weights.name == "int4-sym-g32" and p.weights.bits_per_element == 4.5
    assert p.format_for("expert").name == "int4-sym-g32"
    for role in ("linear", "lm_head", "embedding", "norm"):
        assert p.format_for(role).name == "bf16"


def test_compressed_tensors_quantizes_lm_head_unless_ignored():
    q = json.loads(json.dumps(REAL["Qwen3-32B W8A8 (compressed-tensors int8 per channel)"][1]))
    q["ignore"] = []
    p = Precision.build(spec_from_config(_tiny(q)))
    assert p.format_for("lm_head").name == "int8" and p.format_for("embedding").name == "bf16"


def test_gptq_notes_g_idx_and_per_channel():
    s = read_quantization({"quant_method": "gptq", "bits": 4, "group_size": -1, "desc_act": True})
    assert s.weights == "int4-gch"
    assert any("g_idx" in n and "desc_act" in n for n in s.notes)
    assert read_quantization({"quant_method": "gptq", "bits": 8, "group_size": 32}).weights == "int8-g32"
    assert "lm_head" not in read_quantization({"quant_method": "gptq", "bits": 4, "lm_head": True}).kept_roles


def test_bnb_skip_modules_gate_proj_is_linear_not_router():
    # llm_int8_skip_modules from transformers' BitsAndBytesConfig documentation example
    s = read_quantization({"quant_method": "bitsandbytes", "load_in_8bit": True,
                           "llm_int8_skip_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj"]})
    assert "linear" in s.kept_roles and s.weights == "int8"
    assert roles_of_names(["mlp.gate_proj"])[0] == {"linear"}
    assert roles_of_names(["model.layers.3.mlp.gate"])[0] == {"router"}


def test_whole_layers_and_kv_scheme_are_noted():
    s = read_quantization(REAL["DeepSeek-V3.2-Exp AWQ (whole layers kept)"][1])
    assert any("5 whole layer(s)" in n for n in s.notes)
    q = json.loads(json.dumps(REAL["Mistral FP8 (compressed-tensors per tensor)"][1]))
    q["kv_cache_scheme"] = {"num_bits": 8, "type": "float", "strategy": "tensor", "dynamic": False, "symmetric": True}
    assert any("--kv-dtype fp8" in n for n in read_quantization(q).notes)


@pytest.mark.parametrize("case", sorted(UNREADABLE) + sorted(MALFORMED))
def test_unreadable_asks_for_weights_never_bf16(case, tmp_path, capsys):
    q, needle = (UNREADABLE | MALFORMED)[case]
    s = read_quantization(q)
    assert s.weights is None and needle in s.problem and "--weights" in s.problem
    spec = spec_from_config(_tiny(q))
    with pytest.raises(InputError, match="pass --weights"):
        Precision.build(spec)
    assert Precision.build(spec, weights="int4").weights.name == "int4-g128"
    f = tmp_path / "config.json"
    f.write_text(json.dumps(_tiny(q)))
    assert main(["fit", str(f), "--gpu", "h100"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "quantization_config" in err[0] and "--weights" in err[0]
    assert main(["fit", str(f), "--gpu", "h100", "--weights", "int4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["precision"]["weights"] == "int4-g128"
    assert main(["model", str(f)]) == 0  # the architecture is still shown
    assert "pass --weights" in capsys.readouterr().out.replace("\n", " ")


def test_null_quantization_config_is_unquantized():
    assert read_quantization(None) is None
    assert spec_from_config(_tiny(None)).quant_method is None


def test_values_too_long_to_print_still_give_the_one_line_problem():
    # Python refuses str() of an integer above 4300 digits; the message must not need it
    s = read_quantization({"quant_method": "gptq", "bits": 10**5000})
    assert s.weights is None and "field 'bits' is an integer of" in s.problem and "--weights" in s.problem
    nested: list = []
    for _ in range(10_000):
        nested = [nested]
    s = read_quantization({"quant_method": "fp8", "weight_block_size": nested})
    assert s.weights is None and "'weight_block_size' must be two" in s.problem


ODD_VALUES = [None, True, 0, -1, 2**200, 1.5, float("nan"), "", "x", [], [1], [[]], {}, {"a": []}]


@pytest.mark.parametrize("case", sorted(REAL))
def test_every_field_of_a_real_config_set_to_a_wrong_type_never_raises(case):
    """Each field of each real config (and of its first config group's weights), one at a time, set to
    each wrong-typed value: a scheme or the one-line problem, never an exception (the class of the
    hypothesis-found TypeError on an unhashable 'format')."""
    import copy

    q0 = REAL[case][1]
    paths = [(k,) for k in q0]
    groups = q0.get("config_groups")
    if isinstance(groups, dict) and groups:
        g = next(iter(groups))
        paths += [("config_groups", g, k) for k in groups[g]]
        if isinstance(groups[g].get("weights"), dict):
            paths += [("config_groups", g, "weights", k) for k in groups[g]["weights"]]
    for path in paths:
        for v in ODD_VALUES:
            q = copy.deepcopy(q0)
            d = q
            for k in path[:-1]:
                d = d[k]
            d[path[-1]] = v
            s = read_quantization(q)
            assert s is not None and (s.problem is None) != (s.weights is None), (path, v)
            assert s.problem is None or ("--weights" in s.problem and "\n" not in s.problem), (path, v)
