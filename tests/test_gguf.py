"""GGUF headers: real files written by llama.cpp's own ``gguf`` package (GGUFWriter), read by
ridgeline's bounded reader; stored bytes checked against gguf-py's type table and GGUFReader,
and the parameter count of the GGUF-derived spec against transformers on the meta device."""

from __future__ import annotations

import json
import math
import os
import struct

import pytest

gguf = pytest.importorskip("gguf")
np = pytest.importorskip("numpy")

from ridgeline.errors import CheckpointError, ConfigError, InputError  # noqa: E402
from ridgeline.model import gguf as rg  # noqa: E402
from ridgeline.model.params import count_params  # noqa: E402
from tiny_configs import TINY  # noqa: E402

Q = gguf.GGMLQuantizationType


def _tensor_bytes(ne, qtype):
    blk, size = gguf.GGML_QUANT_SIZES[qtype]
    return math.prod(ne) // blk * size


def write_gguf(path, arch, meta, tensors, **writer_kw):
    """``tensors``: (name, ne (innermost first, as ggml), ggml type). Data are zeros of the exact size."""
    w = gguf.GGUFWriter(str(path), arch, **writer_kw)
    for k, v in meta.items():
        if isinstance(v, bool):
            w.add_bool(k, v)
        elif isinstance(v, int):
            w.add_uint32(k, v)
        elif isinstance(v, float):
            w.add_float32(k, v)
        elif isinstance(v, str):
            w.add_string(k, v)
        elif isinstance(v, list):
            w.add_array(k, v)
    for name, ne, qtype in tensors:
        shape = tuple(reversed(ne))  # numpy order
        if qtype == Q.F32:
            w.add_tensor(name, np.zeros(shape, np.float32))
        elif qtype == Q.F16:
            w.add_tensor(name, np.zeros(shape, np.float16))
        else:
            blk, size = gguf.GGML_QUANT_SIZES[qtype]
            byte_shape = (*shape[:-1], shape[-1] // blk * size)
            w.add_tensor(name, np.zeros(byte_shape, np.uint8), raw_shape=byte_shape, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


# ----------------------------------------------------------------------------- type sizes

def test_type_table_matches_gguf_py():
    """Our block sizes (from ggml-common.h) against the gguf package's GGML_QUANT_SIZES. The
    one difference: gguf-py 0.19 keeps Q8_1's old float layout (40 bytes); ggml-common.h
    static_asserts sizeof(block_q8_1) == 2*sizeof(ggml_half) + 32 = 36."""
    theirs = {t.value: (t.name, b, s) for t, (b, s) in gguf.GGML_QUANT_SIZES.items()}
    for tid, (name, blk, size) in rg.GGML_TYPES.items():
        if name == "Q8_1":
            assert (blk, size) == (32, 36) and theirs[tid][1:] == (32, 40)
            continue
        assert theirs[tid] == (name, blk, size), name
    assert set(theirs) == set(rg.GGML_TYPES)


# every type a file can hold, in one file; rows of 256 are whole blocks for all of them
ALL_TYPES = [t for t in Q if t.name not in ("Q8_1",)]


def test_exact_bytes_per_type(tmp_path):
    tensors = [(f"t.{t.name}", (256, 3), t) for t in ALL_TYPES]
    f = write_gguf(tmp_path / "types.gguf", "llama", {}, tensors)
    info = rg.inspect_gguf(f)
    by = info.by_dtype()
    for name, ne, t in tensors:
        assert by[t.name] == {"tensors": 1, "elements": 768, "bytes": _tensor_bytes(ne, t)}, t.name
    assert info.total_bytes == sum(_tensor_bytes(ne, t) for _, ne, t in tensors)
    # the same bytes as llama.cpp's own reader reports
    reader = gguf.GGUFReader(str(f))
    assert {t.name: int(t.n_bytes) for t in reader.tensors} == {t.name: t.nbytes for t in info.tensors}
    assert rg.gguf_weight_bytes(f) == info.total_bytes
    # spot values from the block structs: Q4_K 144 B / 256, Q6_K 210 B, IQ2_XXS 66 B, MXFP4 17 B / 32
    assert by["Q4_K"]["bytes"] == 3 * 144 and by["Q6_K"]["bytes"] == 3 * 210
    assert by["IQ2_XXS"]["bytes"] == 3 * 66 and by["MXFP4"]["bytes"] == 3 * 8 * 17


# ----------------------------------------------------------------------------- metadata -> spec

def _hf_to_gguf_meta(cfg, arch):
    """The keys llama.cpp's convert_hf_to_gguf.py writes (TextModel.set_gguf_parameters and the
    family subclasses), for the tiny configs."""
    a = arch
    m = {f"{a}.context_length": cfg["max_position_embeddings"], f"{a}.embedding_length": cfg["hidden_size"],
         f"{a}.block_count": cfg["num_hidden_layers"], f"{a}.feed_forward_length": cfg["intermediate_size"],
         f"{a}.attention.head_count": cfg["num_attention_heads"],
         f"{a}.attention.head_count_kv": cfg.get("num_key_value_heads", cfg["num_attention_heads"]),
         f"{a}.rope.freq_base": 10000.0, "general.name": "tiny"}
    if "head_dim" in cfg:
        m[f"{a}.attention.key_length"] = m[f"{a}.attention.value_length"] = cfg["head_dim"]
    if cfg.get("sliding_window"):
        m[f"{a}.attention.sliding_window"] = cfg["sliding_window"]
    for hf_key, key in (("num_local_experts", "expert_count"), ("num_experts", "expert_count"),
                        ("num_experts_per_tok", "expert_used_count"), ("moe_intermediate_size",
                        "expert_feed_forward_length"), ("shared_expert_intermediate_size",
                        "expert_shared_feed_forward_length")):
        if hf_key in cfg:
            m[f"{a}.{key}"] = cfg[hf_key]
    if arch == "gpt-oss":
        m[f"{a}.expert_feed_forward_length"] = cfg["intermediate_size"]
    if arch == "deepseek2":
        m.pop(f"{a}.attention.key_length", None)
        m.pop(f"{a}.attention.value_length", None)
        kv, rope = cfg["kv_lora_rank"], cfg["qk_rope_head_dim"]
        m.update({f"{a}.attention.head_count_kv": 1, f"{a}.leading_dense_block_count": cfg["first_k_dense_replace"],
                  f"{a}.attention.kv_lora_rank": kv, f"{a}.attention.key_length": kv + rope,
                  f"{a}.attention.value_length": kv,
                  f"{a}.attention.key_length_mla": cfg["qk_nope_head_dim"] + rope,
                  f"{a}.attention.value_length_mla": cfg["v_head_dim"], f"{a}.rope.dimension_count": rope,
                  f"{a}.expert_count": cfg["n_routed_experts"], f"{a}.expert_shared_count": cfg["n_shared_experts"],
                  f"{a}.expert_gating_func": 2 if cfg["model_type"] == "deepseek_v3" else 1})
        if cfg.get("q_lora_rank") is not None:
            m[f"{a}.attention.q_lora_rank"] = cfg["q_lora_rank"]
    return m


def _hf_tensors(cfg, arch_enum):
    """The reference model's parameters under llama.cpp's tensor names (gguf.TensorNameMap); the fused
    3-D expert tensors of transformers 5.x are split as llama.cpp stores them (ffn_{gate,up,down}_exps)."""
    from ridgeline.validate.reference import meta_model

    model = meta_model(cfg, "float32")
    nmap = gguf.get_tensor_name_map(arch_enum, cfg["num_hidden_layers"])
    out = []
    for hf_name, p in model.named_parameters():
        ne = tuple(reversed(p.shape))
        name = nmap.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None and "experts.gate_up_proj" in hf_name and p.dim() == 3:
            i = hf_name.split(".")[2]
            half = tuple(reversed((p.shape[0], p.shape[1] // 2, p.shape[2])))
            if "bias" in hf_name:
                out += [(f"blk.{i}.ffn_gate_exps.bias", half, Q.F32), (f"blk.{i}.ffn_up_exps.bias", half, Q.F32)]
            else:
                out += [(f"blk.{i}.ffn_gate_exps.weight", half, Q.F16), (f"blk.{i}.ffn_up_exps.weight", half, Q.F16)]
            continue
        name = name or f"hf.{hf_name}"
        qtype = Q.F32 if p.dim() == 1 else (Q.Q8_0 if ne[0] % 32 == 0 else Q.F16)
        out.append((name, ne, qtype))
    return out


FAMILIES = {  # tiny config -> (GGUF architecture, gguf.MODEL_ARCH)
    "llama": ("llama", "LLAMA"), "llama-bias-tied": ("llama", "LLAMA"), "mixtral": ("llama", "LLAMA"),
    "mistral-no-window": ("llama", "LLAMA"), "mistral-window": ("mistral3", "MISTRAL3"), "qwen2": ("qwen2", "QWEN2"), "qwen3": ("qwen3", "QWEN3"),
    "qwen2_moe": ("qwen2moe", "QWEN2MOE"), "qwen3_moe": ("qwen3moe", "QWEN3MOE"), "gemma": ("gemma", "GEMMA"),
    "gemma2": ("gemma2", "GEMMA2"), "gemma3_text": ("gemma3", "GEMMA3"), "phi3": ("phi3", "PHI3"),
    "deepseek_v2-lite": ("deepseek2", "DEEPSEEK2"), "deepseek_v3": ("deepseek2", "DEEPSEEK2"),
    "gpt_oss": ("gpt-oss", "GPT_OSS"),
    "olmo2": ("olmo2", "OLMO2"), "granite": ("granite", "GRANITE"), "cohere2": ("cohere2", "COHERE2"),
    "smollm3": ("smollm3", "SMOLLM3"), "exaone4": ("exaone4", "EXAONE4"),
}


@pytest.mark.reference
@pytest.mark.parametrize("key", sorted(FAMILIES))
def test_gguf_spec_equals_transformers(tmp_path, key):
    from ridgeline.model.hf import SUPPORTED_MODEL_TYPES
    from ridgeline.validate.reference import meta_param_count

    if key not in TINY or TINY[key]["model_type"] not in SUPPORTED_MODEL_TYPES:
        pytest.skip(f"the adapter does not support {key} yet")
    cfg = dict(TINY[key])
    if key == "deepseek_v2-lite":
        cfg["q_lora_rank"] = None  # as V2-Lite's config.json says (the tiny config drops None keys)
    arch, arch_enum = FAMILIES[key]
    tensors = _hf_tensors(cfg, getattr(gguf.MODEL_ARCH, arch_enum))
    f = write_gguf(tmp_path / "m.gguf", arch, _hf_to_gguf_meta(cfg, arch), tensors)
    spec = rg.spec_from_gguf(f)
    info = rg.inspect_gguf(f)
    ref = meta_param_count(cfg)
    assert count_params(spec).total == ref
    assert rg.parameter_elements(info) == ref
    assert info.total_bytes == sum(_tensor_bytes(ne, t) for _, ne, t in tensors)
    assert spec.num_layers == cfg["num_hidden_layers"]
    assert spec.tie_word_embeddings == ("output.weight" not in {t.name for t in info.tensors})
    assert spec.attention.num_kv_heads == (cfg.get("num_key_value_heads", cfg["num_attention_heads"])
                                           if arch != "deepseek2" else cfg["num_attention_heads"])
    assert (spec.sliding_window or None) == (cfg.get("sliding_window") if key != "mistral-no-window" else None)


@pytest.mark.reference
def test_load_model_and_cli_on_gguf(tmp_path, capsys):
    from ridgeline.cli import main
    from ridgeline.model.load import load_model

    cfg = TINY["qwen3"]
    tensors = _hf_tensors(cfg, gguf.MODEL_ARCH.QWEN3)
    f = write_gguf(tmp_path / "Tiny-Q8_0.gguf", "qwen3", _hf_to_gguf_meta(cfg, "qwen3"), tensors)
    spec = load_model(str(f))
    assert spec.model_type == "qwen3" and spec.name == "tiny" and "GGUF" in spec.source
    capsys.readouterr()
    assert main(["model", str(f), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ck = out["checkpoint"]
    assert ck["bytes"] == sum(_tensor_bytes(ne, t) for _, ne, t in tensors)
    assert ck["by_dtype"]["Q8_0"]["bytes"] == sum(_tensor_bytes(ne, t) for _, ne, t in tensors if t == Q.Q8_0)
    assert ck["difference_vs_config"] == 0 and out["params"]["total"] == ck["elements"]
    assert main(["fit", str(f), "--gpu", "h100", "--json"]) == 0


@pytest.mark.reference
def test_fit_on_gguf_uses_the_stored_bytes(tmp_path, capsys):
    """fit on a .gguf file sizes the weights from the file's tensor table (Q8_0 matrices, F32 norms:
    a mixed file no single format describes), exactly; --weights overrides it."""
    from ridgeline.analyses.fit import FitRequest, fit_request
    from ridgeline.cli import main
    from ridgeline.model.load import stored_weights_bytes

    cfg = TINY["qwen3"]
    tensors = _hf_tensors(cfg, gguf.MODEL_ARCH.QWEN3)
    f = write_gguf(tmp_path / "Tiny-Q8_0.gguf", "qwen3", _hf_to_gguf_meta(cfg, "qwen3"), tensors)
    stored = sum(_tensor_bytes(ne, t) for _, ne, t in tensors)
    assert stored_weights_bytes(str(f)) == stored
    capsys.readouterr()
    assert main(["fit", str(f), "--gpu", "l4", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["memory"]["weights_bytes"] == stored
    weights = sum(v for k, v in d["per_device"]["terms"].items() if k.startswith("weights."))
    assert weights == pytest.approx(stored, rel=1e-12)
    assert any("read from the checkpoint's headers" in n for n in d["notes"])
    r = fit_request(FitRequest(str(f), "l4", weights="fp32"))
    assert r.memory.weights_bytes != stored
    assert not any("checkpoint's headers" in n for n in r.notes)


def test_deepseek_mtp_layers_and_old_mla_keys(tmp_path):
    cfg = TINY["deepseek_v3"]
    meta = _hf_to_gguf_meta(cfg, "deepseek2")
    L = cfg["num_hidden_layers"]
    meta |= {"deepseek2.block_count": L + 1, "deepseek2.nextn_predict_layers": 1}
    f = write_gguf(tmp_path / "ds.gguf", "deepseek2", meta, [("token_embd.weight", (64, 257), Q.F16)])
    c = rg.gguf_config(rg.inspect_gguf(f))
    assert c["num_hidden_layers"] == L and c["num_nextn_predict_layers"] == 1
    assert c["model_type"] == "deepseek_v3"
    assert (c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"]) == (
        cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"])
    # files from before llama.cpp's MLA refactor: per-head sizes in key_length / value_length
    for k in ("key_length_mla", "value_length_mla"):
        meta.pop(f"deepseek2.attention.{k}")
    meta |= {"deepseek2.attention.key_length": cfg["qk_nope_head_dim"] + cfg["qk_rope_head_dim"],
             "deepseek2.attention.value_length": cfg["v_head_dim"]}
    f = write_gguf(tmp_path / "ds-old.gguf", "deepseek2", meta, [("token_embd.weight", (64, 257), Q.F16)])
    c2 = rg.gguf_config(rg.inspect_gguf(f))
    assert (c2["qk_nope_head_dim"], c2["v_head_dim"]) == (c["qk_nope_head_dim"], c["v_head_dim"])


def test_vocab_from_tokens_when_no_embedding(tmp_path):
    meta = _hf_to_gguf_meta(TINY["llama"], "llama") | {"tokenizer.ggml.tokens": [f"t{i}" for i in range(300)]}
    f = write_gguf(tmp_path / "v.gguf", "llama", meta, [])
    assert rg.gguf_config(rg.inspect_gguf(f))["vocab_size"] == 300


def test_split_files(tmp_path):
    tensors = [(f"blk.{i}.ffn_down.weight", (256, 4), Q.Q4_K) for i in range(5)]
    write_gguf(tmp_path / "big.gguf", "llama", {}, tensors, split_max_tensors=2)
    names = sorted(os.listdir(tmp_path))
    assert names == [f"big-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    info = rg.inspect_gguf(tmp_path / names[0])
    assert info.files == tuple(names) and len(info.tensors) == 5
    assert info.total_bytes == 5 * 4 * 144
    with pytest.raises(CheckpointError, match="pass the first file"):
        rg.inspect_gguf(tmp_path / names[1])
    (tmp_path / names[2]).unlink()
    with pytest.raises(CheckpointError, match="missing"):
        rg.inspect_gguf(tmp_path / names[0])


# ----------------------------------------------------------------------------- bad files

def _one_line(e: Exception) -> str:
    msg = str(e)
    assert "\n" not in msg and len(msg) < 400, msg
    return msg


def _good(tmp_path):
    meta = _hf_to_gguf_meta(TINY["llama"], "llama") | {"tokenizer.ggml.tokens": ["a", "b", "c"]}
    return write_gguf(tmp_path / "good.gguf", "llama", meta, [("token_embd.weight", (64, 257), Q.Q8_0)]).read_bytes()


def _raw(version=3, n_tensors=0, n_kv=0, body=b""):
    return b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv) + body


def _kv_string(key, n_claimed, payload=b""):
    k = key.encode()
    return struct.pack("<Q", len(k)) + k + struct.pack("<I", 8) + struct.pack("<Q", n_claimed) + payload


BAD = {
    "empty": b"",
    "bad magic": b"GGML" + b"\0" * 40,
    "version 1": _raw(version=1) + b"\0" * 8,
    "big-endian": b"GGUF" + struct.pack(">IQQ", 3, 0, 0),
    "absurd tensor count": _raw(n_tensors=2**40),
    "absurd kv count": _raw(n_kv=2**40),
    "huge string": _raw(n_kv=1, body=_kv_string("general.name", 2**40)),
    "string past end": _raw(n_kv=1, body=_kv_string("general.name", 1000, b"abc")),
    "bad value type": _raw(n_kv=1, body=struct.pack("<Q", 1) + b"k" + struct.pack("<I", 99)),
    "huge array": _raw(n_kv=1, body=struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", 9, 4, 2**40)),
    "deep arrays": _raw(n_kv=1, body=struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", 9, 9, 1)
                        + struct.pack("<IQ", 9, 1) + struct.pack("<IQ", 9, 1) + struct.pack("<IQ", 4, 0)),
    "too many dims": _raw(n_tensors=1, body=struct.pack("<Q", 1) + b"t" + struct.pack("<I", 9)
                          + struct.pack("<9Q", *[1] * 9) + struct.pack("<IQ", 0, 0) + b"\0" * 64),
    "unknown ggml type": _raw(n_tensors=1, body=struct.pack("<Q", 1) + b"t" + struct.pack("<IQ", 1, 32)
                              + struct.pack("<IQ", 77, 0) + b"\0" * 200),
    "tensor past end": _raw(n_tensors=1, body=struct.pack("<Q", 1) + b"t" + struct.pack("<IQ", 1, 10**6)
                            + struct.pack("<IQ", 0, 0) + b"\0" * 64),
    "partial block": _raw(n_tensors=1, body=struct.pack("<Q", 1) + b"t" + struct.pack("<IQ", 1, 100)
                          + struct.pack("<IQ", 12, 0) + b"\0" * 200),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_files_are_one_line(tmp_path, case):
    f = tmp_path / "bad.gguf"
    f.write_bytes(BAD[case])
    with pytest.raises(CheckpointError) as e:
        rg.inspect_gguf(f)
    _one_line(e.value)


def test_truncated_at_every_point_is_one_line(tmp_path):
    good = _good(tmp_path)
    t = gguf.GGUFReader(str(tmp_path / "good.gguf")).tensors[0]
    data_end = int(t.data_offset) + int(t.n_bytes)  # the writer pads the file after the last tensor
    f = tmp_path / "t.gguf"
    for n in list(range(0, 24 + 2000, 7)) + [data_end - 1]:
        f.write_bytes(good[:n])
        with pytest.raises(CheckpointError) as e:
            rg.inspect_gguf(f)
        _one_line(e.value)


def test_unsupported_architecture_and_missing_keys(tmp_path):
    f = write_gguf(tmp_path / "m.gguf", "mamba", {"mamba.block_count": 2}, [])
    with pytest.raises(ConfigError, match="architecture 'mamba' is not supported"):
        rg.spec_from_gguf(f)
    f = write_gguf(tmp_path / "n.gguf", "llama", {"llama.block_count": 2}, [])
    with pytest.raises(ConfigError, match="llama.embedding_length"):
        rg.spec_from_gguf(f)


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.gguf"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        rg.inspect_gguf(fifo)


def test_cli_bad_gguf_exit_2(tmp_path, capsys):
    from ridgeline.cli import main

    f = tmp_path / "x.gguf"
    f.write_bytes(BAD["huge string"])
    for cmd in (["model", str(f)], ["fit", str(f)]):
        assert main(cmd) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_long_vocabulary_is_counted_not_kept_and_truncation_inside_it_fails(tmp_path):
    n = rg.MAX_KEPT_ARRAY + 1000
    meta = _hf_to_gguf_meta(TINY["llama"], "llama") | {"tokenizer.ggml.tokens": [f"tok{i}" for i in range(n)]}
    f = write_gguf(tmp_path / "v.gguf", "llama", meta, [])
    info = rg.inspect_gguf(f)
    arr = info.metadata["tokenizer.ggml.tokens"]
    assert arr.length == n and arr.values is None
    assert rg.gguf_config(info)["vocab_size"] == n
    data = f.read_bytes()
    cut = data.index(b"tok3000")  # inside the array
    (tmp_path / "cut.gguf").write_bytes(data[:cut])
    with pytest.raises(CheckpointError, match="tokenizer.ggml.tokens") as e:
        rg.inspect_gguf(tmp_path / "cut.gguf")
    _one_line(e.value)


_GOOD_CACHE: dict[str, bytes] = {}


def _good_bytes(tmp_path_factory) -> bytes:
    if "b" not in _GOOD_CACHE:
        _GOOD_CACHE["b"] = _good(tmp_path_factory.mktemp("good"))
    return _GOOD_CACHE["b"]


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 1500), st.integers(0, 255)), min_size=1, max_size=8),
       cut=st.one_of(st.none(), st.integers(0, 20000)))
def test_mutated_headers_fail_in_one_line_or_parse(tmp_path_factory, edits, cut):
    """Random byte edits in the header region (and random truncation): the reader and the mapping
    either succeed or raise one-line InputErrors; never another exception, never a hang."""
    data = bytearray(_good_bytes(tmp_path_factory))
    for pos, val in edits:
        if pos < len(data):
            data[pos] = val
    if cut is not None:
        data = data[:cut]
    f = tmp_path_factory.mktemp("fuzz") / "f.gguf"
    f.write_bytes(bytes(data))
    try:
        info = rg.inspect_gguf(f)
        count_params(rg.spec_from_gguf(f, info))
    except InputError as e:
        _one_line(e)


# ----------------------------------------------------------------------------- real files' sizes

def _more_bits(i, n):
    """llama.cpp src/llama-quant.cpp use_more_bits(): the layers whose attn_v / ffn_down get Q6_K in Q4_K_M."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _q4_k_m_tensors(cfg):
    """The tensors of a Q4_K_M file as llama.cpp's quantizer lays them out (llama-quant.cpp
    llama_tensor_get_type: output Q6_K, attn_v and ffn_down(_exps) Q6_K on use_more_bits layers,
    norms, biases and the router F32, the rest Q4_K), shapes from the model's config.json."""
    H, L, V = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    N, K = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg.get("head_dim", H // N)
    out = [("token_embd.weight", (H, V), Q.Q4_K), ("output.weight", (H, V), Q.Q6_K), ("output_norm.weight", (H,), Q.F32)]
    for i in range(L):
        hi = Q.Q6_K if _more_bits(i, L) else Q.Q4_K
        b = f"blk.{i}."
        out += [(b + "attn_q.weight", (H, N * D), Q.Q4_K), (b + "attn_k.weight", (H, K * D), Q.Q4_K),
                (b + "attn_v.weight", (H, K * D), hi), (b + "attn_output.weight", (N * D, H), Q.Q4_K),
                (b + "attn_norm.weight", (H,), Q.F32), (b + "ffn_norm.weight", (H,), Q.F32)]
        if cfg["model_type"] == "qwen2":
            out += [(b + "attn_q.bias", (N * D,), Q.F32), (b + "attn_k.bias", (K * D,), Q.F32),
                    (b + "attn_v.bias", (K * D,), Q.F32)]
        if cfg["model_type"] == "qwen3_moe":
            E, Ie = cfg["num_experts"], cfg["moe_intermediate_size"]
            out += [(b + "attn_q_norm.weight", (D,), Q.F32), (b + "attn_k_norm.weight", (D,), Q.F32),
                    (b + "ffn_gate_inp.weight", (H, E), Q.F32), (b + "ffn_gate_exps.weight", (H, Ie, E), Q.Q4_K),
                    (b + "ffn_up_exps.weight", (H, Ie, E), Q.Q4_K), (b + "ffn_down_exps.weight", (Ie, H, E), hi)]
        else:
            I = cfg["intermediate_size"]
            out += [(b + "ffn_gate.weight", (H, I), Q.Q4_K), (b + "ffn_up.weight", (H, I), Q.Q4_K),
                    (b + "ffn_down.weight", (I, H), hi)]
    return out


def write_sparse_gguf(path, arch, meta, tensors):
    """Header and tensor infos written by GGUFWriter; the data section left as a hole (a sparse file)."""
    w = gguf.GGUFWriter(str(path), arch)
    for k, v in meta.items():
        (w.add_uint32 if isinstance(v, int) else w.add_float32 if isinstance(v, float) else w.add_string)(k, v)
    total = 0
    for name, ne, t in tensors:
        nbytes = _tensor_bytes(ne, t)
        total += nbytes + 32
        w.add_tensor_info(name, tuple(reversed(ne)), np.dtype(np.float32), nbytes, raw_dtype=t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    os.truncate(path, path.stat().st_size + 32 + total)
    return path


# Published llama.cpp load logs of Q4_K_M files (the GiB and BPW figures are rounded to 2 decimals
# there, so the tolerance is that rounding: +-0.005):
# - Qwen3-30B-A3B: github.com/ggml-org/llama.cpp/issues/14235 ("type f32: 241, q4_K: 289, q6_K: 49 tensors",
#   "file size = 17.28 GiB (4.86 BPW)", qwen3moe, n_embd 2048, n_layer 48, n_expert 128)
# - DeepSeek-R1-Distill-Qwen-14B (Qwen2.5-14B shapes): github.com/ollama/ollama/issues/9245
#   ("model params = 14.77 B", "model size = 8.37 GiB (4.87 BPW)")
REAL_Q4_K_M = {
    "Qwen3-30B-A3B": ("qwen3moe", 17.28, 4.86, {"F32": 241, "Q4_K": 289, "Q6_K": 49}),
    "Qwen2.5-14B": ("qwen2", 8.37, 4.87, {"F32": 241, "Q4_K": 289, "Q6_K": 49}),
}


@pytest.mark.parametrize("preset", sorted(REAL_Q4_K_M))
def test_full_size_q4_k_m_bytes_match_llama_cpp_logs(tmp_path, preset):
    from ridgeline.model.load import find_preset, load_model, preset_config

    arch, gib, bpw, counts = REAL_Q4_K_M[preset]
    cfg = preset_config(find_preset(preset))
    f = write_sparse_gguf(tmp_path / f"{preset}-Q4_K_M.gguf", arch, _hf_to_gguf_meta(cfg, arch), _q4_k_m_tensors(cfg))
    info = rg.inspect_gguf(f)
    spec = rg.spec_from_gguf(f, info)
    params = count_params(spec).total
    assert params == count_params(load_model(preset)).total == info.num_elements
    assert {k: v["tensors"] for k, v in info.by_dtype().items()} == counts
    assert abs(info.total_bytes / 2**30 - gib) <= 0.005
    assert abs(info.total_bytes * 8 / params - bpw) <= 0.005


@pytest.mark.parametrize("key, value", [("llama.attention.head_count", 0), ("llama.block_count", 4_000_000_000),
                                        ("llama.block_count", 4.5), ("llama.embedding_length", 0)])
def test_absurd_sizes_are_one_line(tmp_path, key, value):
    meta = _hf_to_gguf_meta(TINY["llama"], "llama")
    meta[key] = value
    f = write_gguf(tmp_path / "a.gguf", "llama", meta, [])
    with pytest.raises(ConfigError, match=key.split(".", 1)[1]) as e:
        rg.spec_from_gguf(f)
    _one_line(e.value)


_KEYS = ["block_count", "embedding_length", "feed_forward_length", "attention.head_count", "attention.head_count_kv",
         "attention.key_length", "attention.value_length", "context_length", "expert_count", "expert_used_count",
         "expert_feed_forward_length", "attention.sliding_window", "nextn_predict_layers", "rope.dimension_count",
         "attention.kv_lora_rank", "attention.key_length_mla", "leading_dense_block_count"]
_VALUES = st.one_of(st.integers(-2**31, 2**32 - 1), st.floats(allow_nan=True, allow_infinity=True, width=32),
                    st.text(max_size=20), st.booleans())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arch=st.sampled_from(sorted(rg.GGUF_ARCHITECTURES)),
       changes=st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=5))
def test_random_metadata_values_fail_in_one_line_or_load(tmp_path_factory, arch, changes):
    cfg = TINY["deepseek_v3"] if arch == "deepseek2" else TINY["llama"]
    meta = _hf_to_gguf_meta(cfg, arch)
    for k, v in changes.items():
        meta[f"{arch}.{k}"] = v
    w = gguf.GGUFWriter(str(tmp_path_factory.mktemp("meta") / "m.gguf"), arch)
    for k, v in meta.items():
        if isinstance(v, bool):
            w.add_bool(k, v)
        elif isinstance(v, int):
            (w.add_int64 if v < 0 else w.add_uint32)(k, v)
        elif isinstance(v, float):
            w.add_float32(k, v)
        else:
            w.add_string(k, v)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    try:
        count_params(rg.spec_from_gguf(w.path))
    except InputError as e:
        _one_line(e)
