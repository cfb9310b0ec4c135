"""Property tests (hypothesis): generated configs, quantization configs, safetensors headers and
command lines. Whatever goes in, the CLI exits 0, or exits 2 with one line on stderr; the
library returns or raises an InputError. Never a traceback, never a hang.

The examples are derandomized (the same inputs on every run) and bounded in number and time.
``test_zz_counts`` prints how many generated inputs ran.
"""

import json
import math
import os
import struct
from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ridgeline.cli import main
from ridgeline.errors import InputError
from ridgeline.formats import DTYPE_BITS
from ridgeline.model.checkpoint import inspect_checkpoint
from ridgeline.model.hf import SUPPORTED_MODEL_TYPES, WRAPPER_TYPES, spec_from_config
from ridgeline.model.params import count_params
from ridgeline.model.quant import read_quantization
from ridgeline.units import parse_bytes, parse_tokens

RAN: Counter = Counter()
EXITS: Counter = Counter()
#: RIDGELINE_FUZZ_SCALE=10 runs ten times the examples (a longer local hunt); CI keeps 1.
SCALE = max(1, int(os.environ.get("RIDGELINE_FUZZ_SCALE", "1")))
#: RIDGELINE_FUZZ_RANDOM=1 draws new inputs each run instead of the fixed derandomized ones.
FIXED = os.environ.get("RIDGELINE_FUZZ_RANDOM", "") != "1"
FAST = settings(max_examples=150 * SCALE, deadline=timedelta(seconds=5), derandomize=FIXED, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
CLI = settings(FAST, max_examples=120 * SCALE)

# Values a config field may hold: sensible sizes, edge cases, and the wrong types.
ints = st.one_of(st.integers(-3, 300), st.sampled_from([0, 1, 2**31, 10**12, 10**40]))
odd = st.one_of(st.none(), st.booleans(), st.floats(allow_nan=True, allow_infinity=True),
                st.text(max_size=8), st.lists(st.integers(-2, 9), max_size=4), st.just({}))
value = st.one_of(ints, ints, odd)
KEYS = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
        "num_key_value_heads", "head_dim", "max_position_embeddings", "sliding_window", "layer_types",
        "num_local_experts", "num_experts", "num_experts_per_tok", "moe_intermediate_size", "n_routed_experts",
        "first_k_dense_replace", "kv_lora_rank", "q_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim",
        "v_head_dim", "n_embd", "n_layer", "n_head", "ffn_dim", "tie_word_embeddings", "attention_bias",
        "use_sliding_window", "max_window_layers", "torch_dtype", "dtype", "shared_expert_intermediate_size",
        "decoder_sparse_step", "mlp_only_layers", "new_decoder_architecture", "multi_query", "num_kv_heads",
        "text_config", "quantization_config", "sliding_window_pattern"]
BASE = {"vocab_size": 128, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
        "num_attention_heads": 4}

quant_values = st.one_of(odd, ints, st.sampled_from(["gptq", "awq", "fp8", "nf4", "fp4", "int", "float", "group",
                                                     "channel", "tensor", "block", "lm_head", "re:.*attn.*"]))
quant_configs = st.fixed_dictionaries(
    {"quant_method": st.one_of(st.sampled_from(["gptq", "awq", "bitsandbytes", "fp8", "fbgemm_fp8", "mxfp4",
                                                "compressed-tensors", "modelopt", "hqq", "GPTQ"]), odd)},
    optional={k: quant_values for k in ("bits", "group_size", "desc_act", "sym", "zero_point", "load_in_4bit",
                                        "load_in_8bit", "bnb_4bit_quant_type", "bnb_4bit_use_double_quant",
                                        "weight_block_size", "format", "quant_algo")}
    | {"modules_to_not_convert": st.one_of(odd, st.lists(st.sampled_from(
        ["lm_head", "model.layers.0.", "mlp.gate", "gate_proj", "re:.*self_attn.*", "experts", "x"]), max_size=4)),
       "config_groups": st.one_of(odd, st.dictionaries(st.sampled_from(["group_0", "group_1"]), st.one_of(
           odd, st.fixed_dictionaries({"weights": st.one_of(odd, st.fixed_dictionaries(
               {}, optional={"num_bits": quant_values, "type": quant_values, "strategy": quant_values,
                             "group_size": quant_values, "symmetric": quant_values,
                             "block_structure": quant_values}))})), max_size=2))})


@st.composite
def configs(draw):
    mt = draw(st.sampled_from(SUPPORTED_MODEL_TYPES + tuple(WRAPPER_TYPES) + ("mamba",)))
    cfg = dict(BASE) if draw(st.booleans()) else {}
    cfg["model_type"] = mt
    for k in draw(st.lists(st.sampled_from(KEYS), max_size=6, unique=True)):
        if k == "quantization_config":
            cfg[k] = draw(st.one_of(odd, quant_configs))
        elif k == "text_config":
            cfg[k] = draw(st.one_of(odd, st.just(dict(BASE))))
        elif k in ("torch_dtype", "dtype"):
            cfg[k] = draw(st.one_of(odd, st.sampled_from(["bfloat16", "float16", "float32", "float128", "auto"])))
        else:
            cfg[k] = draw(value)
    return cfg


@FAST
@given(configs())
def test_generated_configs_build_or_raise_input_error(cfg):
    RAN["configs (library)"] += 1
    try:
        spec = spec_from_config(cfg)
    except InputError as e:
        assert "\n" not in str(e) and str(e)
        return
    pc = count_params(spec)
    assert pc.total == sum(pc.by_term.values()) and 0 <= pc.active <= pc.total


@FAST
@given(st.one_of(quant_configs, odd))
def test_generated_quantization_configs_never_raise(q):
    RAN["quantization configs"] += 1
    s = read_quantization(q)
    if s is not None:
        assert (s.problem is None) != (s.weights is None)
        assert s.problem is None or ("--weights" in s.problem and "\n" not in s.problem)


def _check_cli(capsys, args: list[str]) -> None:
    rc = main(args)
    out, err = capsys.readouterr()
    EXITS[rc] += 1
    assert rc in (0, 2), (args, rc, err)
    assert "Traceback" not in err
    if rc == 2:
        lines = err.strip().splitlines()
        if "--json" in args:
            assert json.loads(out)["error"] and not lines
        else:
            assert len(lines) == 1 and lines[0].startswith("error: "), (args, err)
            assert out == ""


@CLI
@given(cfg=configs(), command=st.sampled_from(["model", "fit"]), as_json=st.booleans())
def test_generated_configs_through_the_cli(tmp_path_factory, capsys, monkeypatch, cfg, command, as_json):
    RAN["configs (CLI)"] += 1
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    f = tmp_path_factory.mktemp("cfg") / "config.json"
    f.write_text(json.dumps(cfg))
    _check_cli(capsys, [command, str(f)] + (["--gpu", "h100"] if command == "fit" else [])
               + (["--json"] if as_json else []))


DTYPES = sorted(DTYPE_BITS)
shapes = st.one_of(st.lists(st.integers(0, 64), max_size=3), st.lists(st.integers(-5, 5), max_size=3), odd)


@st.composite
def headers(draw):
    """A safetensors file: mostly well-formed tensors, with corruption drawn in."""
    n = draw(st.integers(0, 4))
    header: dict = {}
    offset = 0
    for i in range(n):
        dtype = draw(st.one_of(st.sampled_from(DTYPES), odd))
        shape = draw(shapes)
        size = 0
        if isinstance(dtype, str) and dtype in DTYPE_BITS and isinstance(shape, list) and all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            size = math.ceil(math.prod(shape) * DTYPE_BITS[dtype] / 8)
        begin = offset + draw(st.sampled_from([0, 0, 0, -4, 3]))
        offsets = draw(st.one_of(st.just([begin, begin + size]), odd))
        name = draw(st.sampled_from(["model.layers.0.self_attn.q_proj.weight", "model.embed_tokens.weight",
                                     "lm_head.weight", "model.layers.0.mlp.experts.0.down_proj.qweight",
                                     f"t{i}", "x" * 300]))
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": offsets}
        offset += size
    if draw(st.booleans()):
        header["__metadata__"] = {"format": "pt"}
    raw = json.dumps(header).encode()
    if draw(st.integers(0, 9)) == 0:
        raw = draw(st.binary(max_size=40))  # not JSON at all
    length = len(raw) + draw(st.sampled_from([0, 0, 0, 1, -1, 2**40]))
    tail = b"\0" * (offset + draw(st.sampled_from([0, 0, 0, 8, -1])))
    return struct.pack("<Q", max(length, 0)) + raw + tail


@FAST
@given(data=headers())
def test_generated_headers(tmp_path_factory, capsys, data):
    RAN["safetensors headers"] += 1
    f = tmp_path_factory.mktemp("st") / "model.safetensors"
    f.write_bytes(data)
    try:
        ck = inspect_checkpoint(f)
    except InputError as e:
        assert "\n" not in str(e)
    else:
        assert sum(ck.bytes_by_role().values()) == ck.total_bytes
        assert all(t.nbytes >= 0 for t in ck.tensors)
    _check_cli(capsys, ["model", str(f)])


options = {
    "--gpu": st.sampled_from(["h100", "H100", "a100-80gb", "mi300x", "tpu-v5e", "rtx4090", "h1000", "", "x.toml"]),
    "--weights": st.sampled_from(["bf16", "int4", "awq-g64", "int4-gch", "fp8-b128", "nf4", "q4_k_m", "int5",
                                  "int4-g0", "fp8-b0", "", "bnb-fp4"]),
    "--kv-dtype": st.sampled_from(["fp8", "int8", "bf16", "int4", "nf4", "mxfp4", "fp7"]),
    "--batch": st.sampled_from(["1", "8", "0", "-3", "1e3", "999999999999999", "x"]),
    "--context": st.sampled_from(["4096", "8k", "128k", "1M", "0", "-1", "1e400", "99999999999k", "lots", ""]),
    "--tp": st.sampled_from(["1", "2", "3", "8", "0", "abc"]),
    "--pp": st.sampled_from(["1", "2", "100", "0"]),
    "--prefill-chunk": st.sampled_from(["512", "8192", "0"]),
    "--kv-convention": st.sampled_from(["engine", "transformers", "other"]),
    "--mla-cache": st.sampled_from(["latent", "expanded", "zip"]),
    "--keep": st.sampled_from(["none", "embedding,lm_head", "bogus", ""]),
    "--unquantized": st.sampled_from(["bf16", "fp32", "int4", ""]),
    "--runtime-overhead": st.sampled_from(["1GiB", "0", "-1GB", "1e30TB", "1e400", "lots"]),
    "--kv-fragmentation": st.sampled_from(["0.04", "1.5", "-0.1", "nan", "inf"]),
}
models_ = st.sampled_from(["gpt2", "llama-3.1-8b", "llama-3-70b", "mixtral-8x7b-v0.1", "deepseek-v3",
                           "gpt-oss-20b", "gemma-3-1b-it", "llama-3-71b", "x" * 5000, "", "./nope.json"])


@st.composite
def command_lines(draw):
    cmd = draw(st.sampled_from(["fit", "fit", "fit", "model", "models", "hardware", "bogus"]))
    args = [cmd]
    if cmd in ("fit", "model"):
        args.append(draw(models_))
    if cmd == "hardware" and draw(st.booleans()):
        args.append(draw(options["--gpu"]))
    if cmd == "fit":
        for opt in draw(st.lists(st.sampled_from(sorted(options)), max_size=4, unique=True)):
            args += [opt, draw(options[opt])]
    if draw(st.booleans()):
        args.append("--json")
    if draw(st.integers(0, 9)) == 0:
        args.append(draw(st.sampled_from(["--bogus", "--version", "--help", "--"])))
    return args


@CLI
@given(args=command_lines())
def test_generated_command_lines(capsys, monkeypatch, args):
    RAN["command lines"] += 1
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _check_cli(capsys, args)


@FAST
@given(st.one_of(st.text(max_size=30), st.floats(allow_nan=True, allow_infinity=True),
                 st.integers(-10**30, 10**30), st.booleans()))
def test_generated_sizes_and_token_counts(text):
    RAN["sizes and token counts"] += 2
    for parse in (lambda t: parse_bytes(t, "--size"), lambda t: parse_tokens(t, "--context")):
        try:
            v = parse(text)
        except InputError as e:
            assert "\n" not in str(e)
        else:
            assert isinstance(v, int)


def test_zz_counts(capsys):
    """How many generated inputs ran (read this in the test log; the issue asks for the figure)."""
    with capsys.disabled():
        print(f"\nfuzz: {sum(RAN.values())} generated inputs: " + ", ".join(f"{k} {v}" for k, v in sorted(RAN.items()))
              + "; CLI exit statuses " + ", ".join(f"{k}: {v}" for k, v in sorted(EXITS.items())))
    if RAN:
        assert sum(RAN.values()) >= 100
    else:
        pytest.skip("run with the other tests of this file to count")


infer_options = {
    "--gpu": options["--gpu"],
    "--weights": options["--weights"],
    "--kv-dtype": options["--kv-dtype"],
    "--batch": st.sampled_from(["1", "64", "max", "0", "-3", "8k", "1e3", "x", "99999999999"]),
    "--prompt": st.sampled_from(["1", "2048", "128k", "0", "-1", "1e400", "lots"]),
    "--gen": st.sampled_from(["1", "256", "0", "x"]),
    "--tp": options["--tp"],
    "--pp": options["--pp"],
    "--ep": st.sampled_from(["1", "2", "8", "0"]),
    "--engine": st.sampled_from(["ideal", "vllm", "sglang", "trtllm", "tgi"]),
    "--mla-path": st.sampled_from(["absorbed", "naive", "other"]),
    "--eff-memory": st.sampled_from(["0.8", "0", "1.5", "nan", "x"]),
    "--step-overhead": st.sampled_from(["2ms", "0", "-1s", "1e400", "fast"]),
    "--sweep": st.sampled_from(["batch=1,2,4", "batch=1:64", "gpu=h100,a100", "tp=1,2", "prompt=1k,2k",
                                "batch=0:4", "color=1", "batch=", "tp=x", "gen=1:1e9"]),
}


@st.composite
def infer_command_lines(draw):
    cmd = draw(st.sampled_from(["infer", "infer", "infer", "roofline"]))
    args = [cmd]
    if cmd == "infer":
        args.append(draw(models_))
        for opt in draw(st.lists(st.sampled_from(sorted(infer_options)), max_size=4, unique=True)):
            args += [opt, draw(infer_options[opt])]
        if draw(st.integers(0, 4)) == 0:
            args.append(draw(st.sampled_from(["--explain", "--attention-dp"])))
    else:
        if draw(st.booleans()):
            args += ["--model", draw(models_)]
        args += ["--gpu", draw(options["--gpu"])]
    if draw(st.booleans()):
        args.append("--json")
    return args


@CLI
@given(args=infer_command_lines())
def test_generated_infer_command_lines(capsys, monkeypatch, args):
    # infer and roofline: exit 0, or exit 2 with one line; never a traceback
    RAN["command lines"] += 1
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _check_cli(capsys, args)
