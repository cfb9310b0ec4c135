"""Checkpoint headers: real safetensors files written by the safetensors library."""

import json
import struct

import pytest

from ridgeline.errors import CheckpointError
from ridgeline.model.checkpoint import inspect_checkpoint
from ridgeline.model.hf import spec_from_config
from ridgeline.model.params import count_params
from tiny_configs import TINY




def _save_tiny(folder, name="llama", shards=1, dtype="bfloat16"):
    import torch
    import transformers
    from safetensors.torch import save_file

    from ridgeline.validate.reference import hf_config, model_class

    cfg = TINY[name]
    transformers.utils.logging.set_verbosity_error()
    # The reference class (a multimodal wrapper's ForConditionalGeneration, not the text-only causal
    # LM that AutoModelForCausalLM builds for some wrappers), as tests/test_params_exact.py counts it.
    model = model_class(cfg)._from_config(hf_config(cfg), dtype=getattr(torch, dtype))
    # A tied lm_head shares the embedding's storage; a checkpoint stores it once, as save_model does.
    state, seen = {}, set()
    for k, v in model.state_dict().items():
        ptr = v.untyped_storage().data_ptr()
        if ptr in seen:
            continue
        seen.add(ptr)
        state[k] = v.contiguous()
    (folder / "config.json").write_text(json.dumps(cfg))
    names = sorted(state)
    if shards == 1:
        save_file(state, str(folder / "model.safetensors"))
    else:
        wm = {}
        for s in range(shards):
            part = {n: state[n] for n in names[s::shards]}
            fn = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            save_file(part, str(folder / fn))
            wm.update({n: fn for n in part})
        (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": wm}))
    return cfg, state


@pytest.mark.reference
@pytest.mark.parametrize("shards", [1, 3])
def test_stored_count_and_bytes_match_config(tmp_path, shards):
    cfg, state = _save_tiny(tmp_path, shards=shards)
    ck = inspect_checkpoint(tmp_path)
    assert ck.num_elements == count_params(spec_from_config(cfg)) .total
    assert ck.total_bytes == sum(t.numel() * t.element_size() for t in state.values())
    assert set(ck.by_dtype()) == {"BF16"}
    assert len(ck.files) == shards


@pytest.mark.reference
def test_cli_model_on_checkpoint_folder(tmp_path):
    from ridgeline.cli import main

    _save_tiny(tmp_path)
    assert main(["model", str(tmp_path), "--json"]) == 0


def test_absurd_header_length(tmp_path):
    f = tmp_path / "bad.safetensors"
    f.write_bytes(struct.pack("<Q", 10**15) + b"{}")
    with pytest.raises(CheckpointError, match="header length field"):
        inspect_checkpoint(f)


def test_offsets_outside_file(tmp_path):
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    f = tmp_path / "trunc.safetensors"
    f.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    with pytest.raises(CheckpointError, match="outside the file"):
        inspect_checkpoint(f)


def test_index_pointing_outside_folder(tmp_path):
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"w": "../x.safetensors"}}))
    with pytest.raises(CheckpointError, match="outside the folder"):
        inspect_checkpoint(tmp_path)


def test_no_pickles(tmp_path):
    (tmp_path / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(CheckpointError, match="never pickled"):
        inspect_checkpoint(tmp_path)


@pytest.mark.reference
def test_fit_on_checkpoint_folder_uses_stored_bytes(tmp_path):
    import json as _json
    import subprocess
    import sys

    _, state = _save_tiny(tmp_path, "qwen3")
    stored = sum(t.numel() * t.element_size() for t in state.values())
    p = subprocess.run([sys.executable, "-m", "ridgeline", "fit", str(tmp_path), "--gpu", "l4", "--json"],
                       capture_output=True, text=True, timeout=60)
    d = _json.loads(p.stdout)
    assert d["memory"]["weights_bytes"] == stored
    weights = sum(v for k, v in d["per_device"]["terms"].items() if k.startswith("weights."))
    assert weights == pytest.approx(stored, rel=1e-12)


# --------------------------------------------------------------------------- tensor roles

FAMILIES = list(TINY)


@pytest.mark.reference
@pytest.mark.parametrize("name", FAMILIES)
def test_roles_match_the_parameter_groups(tmp_path, name):
    """Every stored tensor lands in the role ridgeline.model.params gives its parameters: element
    counts per role are equal, for every family (exact; DeepSeek's e_score_correction_bias is a
    buffer, not a parameter, and is left out of the comparison)."""
    from collections import defaultdict

    from ridgeline.model.params import param_groups

    cfg, state = _save_tiny(tmp_path, name)
    ck = inspect_checkpoint(tmp_path)
    want: dict[str, int] = defaultdict(int)
    for g in param_groups(spec_from_config(cfg)):
        want[g.role] += g.count
    got: dict[str, int] = defaultdict(int)
    for t in ck.tensors:
        if not t.name.endswith("e_score_correction_bias"):
            got[t.role] += t.numel
    assert dict(got) == dict(want)
    by_role = ck.bytes_by_role()
    assert sum(by_role.values()) == ck.total_bytes
    assert by_role == {r: sum(t.nbytes for t in ck.tensors if t.role == r) for r in by_role}


def _write(path, tensors: dict[str, tuple[str, list[int]]]) -> int:
    """A safetensors file of zeros with the given (dtype, shape) per name; returns the data bytes."""
    import math

    from ridgeline.formats import DTYPE_BITS

    header, offset = {}, 0
    for n, (dt, shape) in tensors.items():
        size = math.ceil(math.prod(shape) * DTYPE_BITS[dt] / 8)
        header[n] = {"dtype": dt, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)
    return offset


@pytest.mark.parametrize("layout", ["gptq", "compressed-tensors", "bnb-nf4", "mxfp4", "fp8-block"])
def test_quantized_tensors_sum_exactly_by_role(tmp_path, layout):
    """Auxiliary tensors (scales, zero points, g_idx, absmax, blocks) count with their weight's
    role; the sums are the header's bytes, not a pro-rated share. Names as the writers store them
    (AutoGPTQ, compressed-tensors, bitsandbytes, gpt-oss, DeepSeek-V3)."""
    L = "model.layers.0."
    t = {"model.embed_tokens.weight": ("BF16", [256, 64]), "lm_head.weight": ("BF16", [256, 64]),
         "model.norm.weight": ("BF16", [64]), L + "input_layernorm.weight": ("BF16", [64])}
    lin = {
        "gptq": {L + "self_attn.q_proj.qweight": ("I32", [8, 64]), L + "self_attn.q_proj.qzeros": ("I32", [1, 8]),
                 L + "self_attn.q_proj.scales": ("F16", [1, 64]), L + "self_attn.q_proj.g_idx": ("I32", [64]),
                 L + "mlp.experts.0.down_proj.qweight": ("I32", [8, 64]),
                 L + "mlp.experts.0.down_proj.scales": ("F16", [1, 64])},
        "compressed-tensors": {L + "self_attn.o_proj.weight_packed": ("I32", [64, 8]),
                               L + "self_attn.o_proj.weight_scale": ("BF16", [64, 2]),
                               L + "self_attn.o_proj.weight_shape": ("I64", [2]),
                               L + "mlp.shared_experts.up_proj.weight_packed": ("I32", [64, 8]),
                               L + "mlp.experts.3.up_proj.weight_packed": ("I32", [64, 8]),
                               L + "mlp.experts.3.up_proj.weight_scale": ("BF16", [64, 2])},
        "bnb-nf4": {L + "self_attn.k_proj.weight": ("U8", [2048, 1]),
                    L + "self_attn.k_proj.weight.absmax": ("U8", [64]),
                    L + "self_attn.k_proj.weight.nested_absmax": ("F32", [1]),
                    L + "self_attn.k_proj.weight.quant_map": ("F32", [16]),
                    L + "self_attn.k_proj.weight.quant_state.bitsandbytes__nf4": ("U8", [120])},
        "mxfp4": {L + "mlp.experts.gate_up_proj_blocks": ("U8", [4, 128, 2, 16]),
                  L + "mlp.experts.gate_up_proj_scales": ("U8", [4, 128, 2]),
                  L + "mlp.experts.gate_up_proj_bias": ("BF16", [4, 128]), L + "mlp.router.weight": ("BF16", [4, 64]),
                  L + "mlp.router.bias": ("BF16", [4]), L + "self_attn.sinks": ("BF16", [4])},
        "fp8-block": {L + "mlp.experts.0.down_proj.weight": ("F8_E4M3", [64, 128]),
                      L + "mlp.experts.0.down_proj.weight_scale_inv": ("F32", [1, 1]),
                      L + "mlp.gate.weight": ("BF16", [4, 64]), L + "mlp.gate.e_score_correction_bias": ("F32", [4]),
                      L + "self_attn.kv_a_proj_with_mqa.weight": ("F8_E4M3", [64, 64])},
    }[layout]
    f = tmp_path / "model.safetensors"
    total = _write(f, t | lin)
    ck = inspect_checkpoint(f)
    roles = ck.bytes_by_role()
    assert sum(roles.values()) == ck.total_bytes == total
    expect = {"gptq": {"linear": 2048 + 32 + 128 + 256, "expert": 2048 + 128},
              "compressed-tensors": {"linear": 2048 + 256 + 16 + 2048, "expert": 2048 + 256},
              "bnb-nf4": {"linear": 2048 + 64 + 4 + 64 + 120},
              "mxfp4": {"expert": 16384 + 1024, "bias": 1024, "router": 512 + 8, "other": 8},
              "fp8-block": {"expert": 8192 + 4, "router": 512 + 16, "linear": 4096}}[layout]
    for role, b in expect.items():
        assert roles[role] == b, (role, roles)
    assert roles["embedding"] == roles["lm_head"] == 256 * 64 * 2 and roles["norm"] == 2 * 64 * 2


def test_checkpoint_info_keeps_its_old_name():
    from ridgeline.model.checkpoint import CheckpointInfo, CheckpointSummary

    assert CheckpointSummary is CheckpointInfo


@pytest.mark.reference
def test_cli_model_json_has_bytes_by_role(tmp_path, capsys):
    from ridgeline.cli import main

    _save_tiny(tmp_path, "qwen3_moe")
    assert main(["model", str(tmp_path), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)["checkpoint"]
    assert sum(d["bytes_by_role"].values()) == d["bytes"] and d["bytes_by_role"]["expert"] > 0
