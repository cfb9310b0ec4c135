"""Checkpoint headers: real safetensors files written by the safetensors library."""

import json
import struct

import pytest

from ridgeline.errors import CheckpointError
from ridgeline.model.checkpoint import inspect_checkpoint
from ridgeline.model.hf import spec_from_config
from ridgeline.model.params import count_params
from tiny_configs import TINY

pytestmark = pytest.mark.reference


def _save_tiny(folder, name="llama", shards=1, dtype="bfloat16"):
    import torch
    import transformers
    from safetensors.torch import save_file

    from ridgeline.validate.reference import hf_config

    cfg = TINY[name]
    model = transformers.AutoModelForCausalLM.from_config(hf_config(cfg), dtype=getattr(torch, dtype))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if cfg.get("tie_word_embeddings", False) or model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
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


@pytest.mark.parametrize("shards", [1, 3])
def test_stored_count_and_bytes_match_config(tmp_path, shards):
    cfg, state = _save_tiny(tmp_path, shards=shards)
    ck = inspect_checkpoint(tmp_path)
    assert ck.num_elements == count_params(spec_from_config(cfg)) .total
    assert ck.total_bytes == sum(t.numel() * t.element_size() for t in state.values())
    assert set(ck.by_dtype()) == {"BF16"}
    assert len(ck.files) == shards


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
