"""A hub id resolves offline from the local Hugging Face cache: the real layout
(models--org--name/refs/main -> snapshots/<commit>/config.json, the file a symlink into blobs/),
built in tmp_path, found through HF_HUB_CACHE / HF_HOME / XDG_CACHE_HOME. Never the network."""

from __future__ import annotations

import json
import sys

import pytest

from ridgeline.errors import HubError
from ridgeline.model import load
from ridgeline.model.load import cached_hub_config, hub_cache_dir, load_model, resolve
from tiny_configs import TINY

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", "HF_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    def no_network(*a, **k):
        raise AssertionError("the network was touched")

    monkeypatch.setattr(load, "_hub_reachable", no_network)


def make_cache(cache, repo="some-org/Tiny-Model", cfg=None, commit=COMMIT, ref=True):
    """huggingface_hub's cache layout (file_download.py): blobs by etag, snapshot files as symlinks."""
    folder = cache / ("models--" + repo.replace("/", "--"))
    (folder / "blobs").mkdir(parents=True)
    blob = folder / "blobs" / "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    blob.write_text(json.dumps(cfg or TINY["qwen3"]))
    snap = folder / "snapshots" / commit
    snap.mkdir(parents=True)
    (snap / "config.json").symlink_to(blob)
    if ref:
        (folder / "refs").mkdir()
        (folder / "refs" / "main").write_text(commit)
    return snap / "config.json"


def test_cache_dir_order(monkeypatch, tmp_path):
    assert hub_cache_dir() == tmp_path / "home" / ".cache" / "huggingface" / "hub"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub_cache_dir() == tmp_path / "xdg" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert hub_cache_dir() == tmp_path / "hf" / "hub"
    monkeypatch.setenv("HUGGINGFACE_HUB_CACHE", str(tmp_path / "legacy"))
    assert hub_cache_dir() == tmp_path / "legacy"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "c"))
    assert hub_cache_dir() == tmp_path / "c"


@pytest.mark.parametrize("how", ["HF_HUB_CACHE", "HF_HOME", "default"])
def test_cached_hub_id_resolves_offline(monkeypatch, tmp_path, how):
    if how == "HF_HUB_CACHE":
        cache = tmp_path / "c"
        monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    elif how == "HF_HOME":
        cache = tmp_path / "hf" / "hub"
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    else:
        cache = tmp_path / "home" / ".cache" / "huggingface" / "hub"
    cfg_file = make_cache(cache)
    assert cached_hub_config("some-org/Tiny-Model") == cfg_file
    spec = load_model("some-org/Tiny-Model")
    assert spec.model_type == "qwen3" and spec.hidden_size == TINY["qwen3"]["hidden_size"]
    assert spec.num_layers == TINY["qwen3"]["num_hidden_layers"] and "local cache" in spec.source


def test_no_huggingface_hub_import(tmp_path):
    """The cache is read without importing huggingface_hub (a fresh interpreter to be sure)."""
    import os
    import subprocess

    cache = tmp_path / "c"
    make_cache(cache)
    code = ("import sys; from ridgeline.model.load import load_model; s = load_model('some-org/Tiny-Model'); "
            "assert 'huggingface_hub' not in sys.modules; print(s.model_type)")
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "qwen3"


def test_case_insensitive_and_pinned_snapshot(monkeypatch, tmp_path):
    cache = tmp_path / "c"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    make_cache(cache, repo="Org/Pinned", ref=False)  # snapshot_download(revision=<commit>) writes no refs/main
    assert cached_hub_config("org/pinned") is not None
    assert load_model("org/pinned").model_type == "qwen3"


def test_not_cached_offline_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    with pytest.raises(HubError) as e:
        load_model("some-org/Not-Cached")
    msg = str(e.value)
    assert "HF_HUB_OFFLINE" in msg and "local cache" in msg and "\n" not in msg


def test_ref_without_snapshot_and_corrupt_ref(monkeypatch, tmp_path):
    cache = tmp_path / "c"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    f = make_cache(cache)
    (cache / "models--some-org--Tiny-Model" / "refs" / "main").write_text("f" * 40)  # points at no snapshot
    assert cached_hub_config("some-org/Tiny-Model") is None
    (cache / "models--some-org--Tiny-Model" / "refs" / "main").write_text("../../../etc")
    with pytest.raises(HubError, match="not a commit id"):
        cached_hub_config("some-org/Tiny-Model")
    assert f.exists()


def test_cached_instruct_config_wins_over_base_preset(monkeypatch, tmp_path):
    """A hub id in the cache is read as cached (its real config), not mapped to a base preset."""
    cache = tmp_path / "c"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    make_cache(cache, repo="meta-llama/Llama-3.1-405B-Instruct", cfg=TINY["llama"])
    r = resolve("meta-llama/Llama-3.1-405B-Instruct")
    assert r.config == TINY["llama"] and not r.notes


@pytest.mark.parametrize("endpoint", ["htp:/bad", "https://huggingface.co:99999", "https://", "://x",
                                      "https://" + "a" * 300 + ".co", "https://hf.co:port"])
def test_bad_hf_endpoint_is_one_line(monkeypatch, tmp_path, endpoint):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    with pytest.raises(HubError, match="HF_ENDPOINT") as e:
        load_model("some-org/Not-Cached")
    assert "\n" not in str(e.value)


def test_good_endpoint_parsed(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://localhost:8080/mirror")
    assert load._endpoint() == ("localhost", 8080)
    monkeypatch.setenv("HF_ENDPOINT", "https://hf-mirror.com")
    assert load._endpoint() == ("hf-mirror.com", 443)
