"""Model references: fine-tune names, "did you mean", and the bad inputs of the load path
(absurd names, symlink loops, FIFOs and devices, deeply nested JSON): each one line, never a hang."""

from __future__ import annotations

import json
import os
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ridgeline.errors import ConfigError, HubError, InputError, UnknownNameError
from ridgeline.model.load import find_base_preset, load_model, presets, resolve, suggest_presets


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-cache"))


def _one_line(e: BaseException) -> str:
    msg = str(e)
    assert msg and "\n" not in msg and len(msg) < 500, msg
    return msg


# ----------------------------------------------------------------------------- names

# (Llama-3.1-8B-Instruct and Qwen2.5-7B-Instruct now ship as presets of their own, so they resolve
# exactly, without a note: names without their own preset are the ones mapped to a base.)
@pytest.mark.parametrize("typed, preset", [
    ("Llama-3.1-405B-Instruct", "Llama-3.1-405B"),
    ("meta-llama/Llama-3.1-405B-Instruct", "Llama-3.1-405B"),
    ("Meta-Llama-3-70B-Instruct", "Meta-Llama-3-70B"),
    ("Qwen/Qwen2.5-14B-Instruct", "Qwen2.5-14B"),
    ("qwen2.5-72b-chat", "Qwen2.5-72B"),
    ("gemma-2-9b", "Gemma-2-9B-it"),          # the preset is the -it model: the base name finds it
    ("google/gemma-2-27b", "Gemma-2-27B-it"),
    ("Llama-2-7b-chat", "Llama-2-7B"),
    ("llama-3.2-1b-base", "Llama-3.2-1B-Instruct"),
])
def test_finetune_names_resolve_to_the_base_architecture(typed, preset):
    spec = load_model(typed)
    assert spec.name == preset
    note = [n for n in spec.notes if "resolved to the base architecture" in n]
    assert len(note) == 1 and "same parameters" in note[0] and typed in note[0]
    from ridgeline.model.params import count_params
    assert count_params(spec).total == count_params(load_model(preset)).total


def test_exact_preset_names_get_no_note():
    for p in presets():
        r = resolve(p.name)
        assert r.preset == p and not r.notes
    assert find_base_preset("Llama-3.1-8B") is None  # already a preset


def test_suffix_only_at_the_end():
    assert find_base_preset("mistral-7b-instruct-v0.2") is None  # v0.2 is another architecture than v0.1
    with pytest.raises(UnknownNameError):
        load_model("mistral-7b-instruct-v0.2")


def test_hub_like_typo_offline_suggests_presets():
    with pytest.raises(HubError) as e:
        load_model("meta-llama/llama-3.1-8bx")
    msg = _one_line(e.value)
    assert "HF_HUB_OFFLINE" in msg and msg.count("'Llama-3.1-8B'") == 1


@pytest.mark.parametrize("typo", ["llama-3.1-8c", "lama-3-70b", "qwen2.5-7bb", "gemma-2-9b-itt", "deepseek-v4"])
def test_did_you_mean_names_each_preset_once(typo):
    with pytest.raises(UnknownNameError) as e:
        load_model(typo)
    msg = _one_line(e.value)
    s = e.value.suggestions
    assert len(s) == len(set(s)) and all(x in {p.name for p in presets()} for x in s)
    assert s and "did you mean" in msg
    for x in s:
        assert msg.count(repr(x)) == 1


def test_suggestions_for_an_alias_typo_name_the_preset():
    assert suggest_presets("meta-llama/meta-llama-3.1-8bb")[0] == "Llama-3.1-8B"


# ----------------------------------------------------------------------------- bad references

@pytest.mark.parametrize("ref", ["x" * 5000, "a/" * 3000, "/" + "d/" * 2500, "llama" * 1200, "org/" + "n" * 6000])
def test_absurdly_long_names_are_one_line(ref):
    with pytest.raises(ConfigError) as e:
        load_model(ref)
    msg = _one_line(e.value)
    assert "characters" in msg


def test_long_but_plausible_path_component(tmp_path):
    with pytest.raises(InputError) as e:
        load_model(str(tmp_path / ("n" * 300) / "config.json"))  # one component over NAME_MAX (255)
    _one_line(e.value)


def test_nul_in_name():
    with pytest.raises(ConfigError, match="NUL"):
        load_model("llama\x00-3")


def test_symlink_loop(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(ConfigError, match="symlink loop"):
        load_model(str(a))
    folder = tmp_path / "ck"
    folder.mkdir()
    (folder / "config.json").symlink_to(folder / "config.json")
    with pytest.raises(ConfigError, match="symlink loop"):
        load_model(str(folder))


def test_dangling_symlink(tmp_path):
    (tmp_path / "cfg.json").symlink_to(tmp_path / "gone.json")
    with pytest.raises(ConfigError, match="missing file"):
        load_model(str(tmp_path / "cfg.json"))


def _must_not_block(fn):
    """Run fn in a thread; fail (instead of hanging the suite) if it does not return in 10 s."""
    out: list = []

    def run():
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 (handed to the caller)
            out.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "blocked on a non-regular file"
    return out[0] if out else None


def test_fifo_as_config_never_blocks(tmp_path):
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)
    e = _must_not_block(lambda: load_model(str(fifo)))
    assert isinstance(e, ConfigError) and "not a regular file" in _one_line(e)
    e = _must_not_block(lambda: load_model(str(tmp_path)))  # a folder whose config.json is a FIFO
    assert isinstance(e, ConfigError) and "not a regular file" in str(e)


@pytest.mark.parametrize("dev", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_devices_as_config(dev):
    if not os.path.exists(dev):
        pytest.skip(f"{dev} absent")
    e = _must_not_block(lambda: load_model(dev))
    assert isinstance(e, ConfigError) and "not a regular file" in _one_line(e)


@pytest.mark.parametrize("depth", [2_000, 100_000])
def test_deeply_nested_json_is_one_line(tmp_path, depth):
    f = tmp_path / "config.json"
    f.write_text('{"model_type": "llama", "x": ' + "[" * depth + "]" * depth + "}")
    with pytest.raises(ConfigError) as e:
        load_model(str(f))
    assert "nested too deeply" in _one_line(e.value)


def test_oversized_config(tmp_path, monkeypatch):
    from ridgeline.model import load

    monkeypatch.setattr(load, "MAX_CONFIG_BYTES", 100)
    f = tmp_path / "config.json"
    f.write_text(json.dumps({"model_type": "llama", "pad": "x" * 200}))
    with pytest.raises(ConfigError, match="too large"):
        load_model(str(f))


def test_cli_bad_references_exit_2(tmp_path, capsys):
    from ridgeline.cli import main

    fifo = tmp_path / "p.json"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)
    for ref in ("x" * 5000, str(fifo), str(loop), "llama-3.1-8c"):
        for cmd in ("model", "fit"):
            assert main([cmd, ref]) == 2
            err = capsys.readouterr().err
            assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=3000))
def test_any_name_loads_or_fails_in_one_line(ref):
    try:
        load_model(ref)
    except InputError as e:
        _one_line(e)


def test_stored_weights_bytes(tmp_path):
    from ridgeline.model.load import stored_weights_bytes

    np = pytest.importorskip("numpy")
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    assert stored_weights_bytes("llama-3.1-8b") is None
    (tmp_path / "config.json").write_text("{}")
    assert stored_weights_bytes(str(tmp_path / "config.json")) is None
    assert stored_weights_bytes(str(tmp_path)) is None  # a folder without safetensors
    safetensors_numpy.save_file({"a": np.zeros((3, 5), np.float16), "b": np.zeros(7, np.float32)},
                                str(tmp_path / "model.safetensors"))
    assert stored_weights_bytes(str(tmp_path)) == 3 * 5 * 2 + 7 * 4
    assert stored_weights_bytes(str(tmp_path / "model.safetensors")) == 58
    gguf = pytest.importorskip("gguf")
    w = gguf.GGUFWriter(str(tmp_path / "m.gguf"), "llama")
    w.add_tensor("t", np.zeros((2, 144), np.uint8), raw_shape=(2, 144), raw_dtype=gguf.GGMLQuantizationType.Q4_K)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    assert stored_weights_bytes(str(tmp_path / "m.gguf")) == 2 * 144
