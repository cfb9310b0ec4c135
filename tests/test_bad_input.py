"""Every bad input the new-user sweep found: one line naming the field and the fix, exit 2,
no traceback, never a hang. In-process through the real entry point (ridgeline.cli.main)."""

import json
import os
import signal
import struct

import pytest

from ridgeline.cli import main
from ridgeline.errors import CheckpointError
from ridgeline.model.checkpoint import inspect_checkpoint


@pytest.fixture(autouse=True)
def no_hang():
    """A test that blocks (a FIFO opened for reading) fails after 20 s instead of hanging."""
    def boom(*_):
        raise TimeoutError("blocked: a read that should have been refused")
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _st(path, header: object, data: bytes = b"") -> None:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


def _cases(tmp_path) -> dict[str, tuple[list[str], str]]:
    t = tmp_path
    deep = "[" * 100_000 + "]" * 100_000
    (t / "deep.json").write_text(deep)
    _st(t / "deep.safetensors", ("{\"a\": " + deep + "}").encode())
    (t / "deepidx").mkdir()
    (t / "deepidx" / "model.safetensors.index.json").write_text('{"weight_map": ' + deep + "}")
    (t / "deep.toml").write_text("x = " + "[" * 50_000 + "]" * 50_000 + "\n")
    fifo = t / "pipe.safetensors"
    os.mkfifo(fifo)
    (t / "fifoshard").mkdir()
    os.mkfifo(t / "fifoshard" / "model-00001-of-00001.safetensors")
    (t / "fifoshard" / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"w": "model-00001-of-00001.safetensors"}}))
    (t / "fifoidx").mkdir()
    os.mkfifo(t / "fifoidx" / "model.safetensors.index.json")
    _st(t / "overlap.safetensors", {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                                    "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}, b"\0" * 24)
    _st(t / "boolshape.safetensors", {"a": {"dtype": "F32", "shape": [True, 4], "data_offsets": [0, 16]}}, b"\0" * 16)
    _st(t / "negshape.safetensors", {"a": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 0]}})
    _st(t / "strshape.safetensors", {"a": {"dtype": "F32", "shape": "4", "data_offsets": [0, 16]}}, b"\0" * 16)
    _st(t / "floatshape.safetensors", {"a": {"dtype": "F32", "shape": [4.0], "data_offsets": [0, 16]}}, b"\0" * 16)
    _st(t / "badoffsets.safetensors", {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0]}}, b"\0" * 16)
    _st(t / "baddtype.safetensors", {"a": {"dtype": ["F32"], "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 16)
    base = {"model_type": "llama", "vocab_size": 1000, "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4}
    (t / "f128.json").write_text(json.dumps(base | {"torch_dtype": "float128"}))
    (t / "dtype16.json").write_text(json.dumps(base | {"torch_dtype": 16}))
    (t / "textcfg.json").write_text(json.dumps({"model_type": "gemma3", "text_config": ["not", "an", "object"]}))
    (t / "huge.json").write_text('{"model_type": "llama", "vocab_size": 10, "hidden_size": 1e400}')
    (t / "neg.json").write_text(json.dumps(base | {"num_hidden_layers": -2}))
    inf = t / "inf.toml"
    inf.write_text('id = "x"\nname = "x"\nvendor = "x"\nkind = "gpu"\nlaunch_year = 2026\n'
                   "memory_bytes = 1e400\nmem_bw_bytes_per_s = 1e12\n[peak_flops_per_s]\nbf16 = 1e14\n")
    long = "x" * 5_000
    return {
        "deeply nested config.json": (["model", str(t / "deep.json")], "nested too deeply"),
        "deeply nested safetensors header": (["model", str(t / "deep.safetensors")], "nested too deeply"),
        "deeply nested shard index": (["model", str(t / "deepidx")],
                                      "nested too deeply"),
        "deeply nested hardware toml": (["fit", "gpt2", "--gpu", str(t / "deep.toml")], "nested too deeply"),
        "FIFO as safetensors file": (["model", str(fifo)], "not a regular file"),
        "FIFO as shard": (["model", str(t / "fifoshard")], "not a regular file"),
        "FIFO as shard index": (["model", str(t / "fifoidx")], "not a regular file"),
        "device as model": (["model", "/dev/null"], "not a regular file"),
        "5,000-char model name": (["fit", long], "too long"),
        "5,000-char model name (model)": (["model", long], "too long"),
        "5,000-char GPU name": (["fit", "gpt2", "--gpu", long], "too long"),
        "5,000-char weights": (["fit", "gpt2", "--weights", long], "(5,000 chars)"),
        "1e400 in a config": (["model", str(t / "huge.json")], "'hidden_size' must be an integer"),
        "1e400 in hardware toml": (["fit", "gpt2", "--gpu", str(inf)], "must be a positive finite number"),
        "1e30TB overhead": (["fit", "gpt2", "--runtime-overhead", "1e30TB"], "--runtime-overhead: '1e30TB' is beyond"),
        "1e400 overhead": (["fit", "gpt2", "--runtime-overhead", "1e400"], "is beyond any real device"),
        "1e400 context": (["fit", "gpt2", "--context", "1e400"], "--context: expected a whole number"),
        "huge context": (["fit", "gpt2", "--context", "99999999999999999999k"], "--context"),
        "negative overhead": (["fit", "gpt2", "--runtime-overhead", "-1GB"], "must not be negative"),
        "negative layers": (["model", str(t / "neg.json")], "'num_hidden_layers' must be >= 1"),
        "overlapping offsets": (["model", str(t / "overlap.safetensors")], "overlap"),
        "shape with a bool": (["model", str(t / "boolshape.safetensors")], "list of non-negative integers"),
        "negative shape": (["model", str(t / "negshape.safetensors")], "list of non-negative integers"),
        "shape not a list": (["model", str(t / "strshape.safetensors")], "list of non-negative integers"),
        "shape of floats": (["model", str(t / "floatshape.safetensors")], "list of non-negative integers"),
        "offsets not a pair": (["model", str(t / "badoffsets.safetensors")], "expected [begin, end]"),
        "dtype not a string": (["model", str(t / "baddtype.safetensors")], "unknown dtype"),
        "kv-dtype weight-only": (["fit", "gpt2", "--kv-dtype", "int4-g128"],
                                 "--kv-dtype: int4-g128 is a weight-only format; the KV cache needs a float"),
        "kv-dtype nf4": (["fit", "gpt2", "--kv-dtype", "nf4"], "weight-only"),
        "torch_dtype float128": (["model", str(t / "f128.json")], "field 'torch_dtype' is 'float128', not a float dtype"),
        "torch_dtype a number": (["fit", str(t / "dtype16.json")], "field 'torch_dtype'"),
        "text_config not an object": (["model", str(t / "textcfg.json")],
                                      "field 'text_config' must be an object, got list"),
        "group size zero": (["fit", "gpt2", "--weights", "int4-g0"], "group size"),
        "unknown command": (["frobnicate"], "No such command"),
    }


CASES = ["deeply nested config.json", "deeply nested safetensors header", "deeply nested shard index",
         "deeply nested hardware toml", "FIFO as safetensors file", "FIFO as shard", "FIFO as shard index",
         "device as model", "5,000-char model name", "5,000-char model name (model)", "5,000-char GPU name",
         "5,000-char weights", "1e400 in a config", "1e400 in hardware toml", "1e30TB overhead", "1e400 overhead",
         "1e400 context", "huge context", "negative overhead", "negative layers", "overlapping offsets",
         "shape with a bool", "negative shape", "shape not a list", "shape of floats", "offsets not a pair",
         "dtype not a string", "kv-dtype weight-only", "kv-dtype nf4", "torch_dtype float128",
         "torch_dtype a number", "text_config not an object", "group size zero", "unknown command"]


def test_every_case_is_listed(tmp_path):
    assert sorted(_cases(tmp_path)) == sorted(CASES)


@pytest.mark.parametrize("case", CASES)
def test_one_line_exit_2(tmp_path, capsys, case):
    args, needle = _cases(tmp_path)[case]
    assert main(args) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1, (out, err)
    assert lines[0].startswith("error: ") and "Traceback" not in err
    assert needle in lines[0], lines[0]
    assert len(lines[0]) < 600  # a 5,000-character argument is never echoed whole


@pytest.mark.parametrize("case", ["kv-dtype weight-only", "torch_dtype float128", "overlapping offsets",
                                  "5,000-char weights", "unknown command", "deeply nested config.json"])
def test_json_errors_are_json(tmp_path, capsys, case):
    args, needle = _cases(tmp_path)[case]
    assert main([*args, "--json"]) == 2
    out, err = capsys.readouterr()
    d = json.loads(out)
    assert needle in d["error"] and d["type"] and err == ""


def test_json_error_names_the_field(capsys):
    assert main(["fit", "gpt2", "--kv-dtype", "int4", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["field"] == "--kv-dtype"


def test_overlap_is_found_in_any_order(tmp_path):
    f = tmp_path / "o.safetensors"
    _st(f, {"b": {"dtype": "F32", "shape": [4], "data_offsets": [12, 28]},
            "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 28)
    with pytest.raises(CheckpointError, match="overlap"):
        inspect_checkpoint(f)


def test_kv_int8_and_fp8_still_allowed(capsys):
    for kv in ("fp8", "int8", "bf16"):
        assert main(["fit", "gpt2", "--kv-dtype", kv, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["precision"]["kv"] == kv


def test_read_regular_file_refuses_without_blocking(tmp_path):
    from ridgeline.errors import ConfigError
    from ridgeline.files import read_regular_file

    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ConfigError, match="not a regular file"):
        read_regular_file(tmp_path / "fifo", 100, "config.json", ConfigError)
    with pytest.raises(ConfigError, match="not a regular file"):
        read_regular_file("/dev/zero", 100, "config.json", ConfigError)  # would never end if read
    with pytest.raises(ConfigError, match="is a folder"):
        read_regular_file(tmp_path, 100, "config.json", ConfigError)
    (tmp_path / "big").write_bytes(b"x" * 101)
    with pytest.raises(ConfigError, match="too large"):
        read_regular_file(tmp_path / "big", 100, "config.json", ConfigError)
    with pytest.raises(ConfigError, match="name is too long"):
        read_regular_file(tmp_path / ("x" * 5000), 100, "config.json", ConfigError)
    (tmp_path / "ok").write_bytes(b"{}")
    assert read_regular_file(tmp_path / "ok", 100, "config.json") == b"{}"
