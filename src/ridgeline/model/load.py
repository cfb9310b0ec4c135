"""Resolve what a user typed into a ModelSpec: a preset name, a config.json path,
a checkpoint folder, or a Hugging Face hub id (config.json only, when online).

Presets are verbatim ``config.json`` files shipped in ``ridgeline/model/presets``
with ``index.json`` recording their provenance.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ridgeline.errors import ConfigError, HubError, UnknownNameError
from ridgeline.model.hf import spec_from_config
from ridgeline.model.spec import ModelSpec

#: A config.json larger than this is not a config (bounded read of untrusted input).
MAX_CONFIG_BYTES = 16 * 2**20


@dataclass(frozen=True)
class PresetInfo:
    name: str
    file: str
    hf_repo: str | None
    aliases: tuple[str, ...]
    model_type: str
    source: str
    verification: str
    published_params: dict | None
    notes: str = ""


def _norm(name: str) -> str:
    return re.sub(r"[\s_]+", "-", name.strip().lower())


@lru_cache(maxsize=1)
def presets() -> tuple[PresetInfo, ...]:
    """The shipped presets, in index order."""
    raw = json.loads(resources.files("ridgeline.model.presets").joinpath("index.json").read_text("utf-8"))
    out = []
    for e in raw:
        out.append(PresetInfo(
            name=e["name"], file=e["file"], hf_repo=e.get("hf_repo"), aliases=tuple(e.get("aliases", ())),
            model_type=e["model_type"], source=e.get("source", ""), verification=e.get("verification", "unverified"),
            published_params=e.get("published_params"), notes=e.get("notes", ""),
        ))
    return tuple(out)


@lru_cache(maxsize=1)
def _preset_names() -> dict[str, PresetInfo]:
    table: dict[str, PresetInfo] = {}
    for p in presets():
        keys = {p.name, p.file.removesuffix(".json"), *p.aliases}
        if p.hf_repo:
            keys.add(p.hf_repo)
            keys.add(p.hf_repo.split("/", 1)[-1])
        for k in keys:
            table.setdefault(_norm(k), p)
    return table


def find_preset(name: str) -> PresetInfo | None:
    return _preset_names().get(_norm(name))


def preset_config(p: PresetInfo) -> dict[str, Any]:
    text = resources.files("ridgeline.model.presets").joinpath(p.file).read_text("utf-8")
    return json.loads(text)


def read_config_file(path: Path) -> dict[str, Any]:
    """Read and parse a config.json with a size bound; errors name the file and the fix."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror}); check the path") from None
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {size} bytes is too large for a config.json (limit {MAX_CONFIG_BYTES}); "
                          "pass the model's config.json")
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file; pass the model's config.json") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror}); check the path") from None
    if not text.strip():
        raise ConfigError(f"{path}: file is empty; pass the model's config.json")
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: invalid JSON at line {e.lineno} column {e.colno} ({e.msg}); fix the file") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: expected a JSON object, got {type(cfg).__name__}; pass the model's config.json")
    return cfg


def load_config(ref: str) -> tuple[dict[str, Any], str, str]:
    """Return (config dict, display name, source description) for a model reference."""
    if not isinstance(ref, str) or not ref.strip():
        raise ConfigError("model: empty name; give a preset (see `ridgeline models`), a config.json path or a folder")
    path = Path(ref).expanduser()
    if path.exists():
        if path.is_dir():
            cfg_path = path / "config.json"
            if not cfg_path.is_file():
                raise ConfigError(f"{path}: folder has no config.json; point at a checkpoint folder that has one "
                                  "or at the config file itself")
            return read_config_file(cfg_path), path.resolve().name, str(cfg_path)
        return read_config_file(path), path.parent.resolve().name if path.name == "config.json" else path.stem, str(path)
    p = find_preset(ref)
    if p is not None:
        return preset_config(p), p.name, f"preset {p.name} ({p.hf_repo or 'no hub repo'})"
    looks_like_path = ref.endswith(".json") or os.sep in ref.strip("/") and (ref.startswith((".", "/", "~")))
    if looks_like_path:
        raise ConfigError(f"{ref}: no such file or folder; check the path")
    if re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", ref):
        return _from_hub(ref), ref.split("/", 1)[1], f"hub {ref}"
    names = [q.name for q in presets()] + [a for q in presets() for a in q.aliases]
    raise UnknownNameError("model", ref, names, "see `ridgeline models`, or pass a config.json path or hub id")


def _from_hub(repo_id: str) -> dict[str, Any]:
    """Fetch only config.json from the hub (huggingface_hub, optional), never code or weights."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    if offline or not _hub_reachable():
        raise HubError(f"model {repo_id!r} is not a preset and the Hugging Face hub is not reachable "
                       f"({'HF_HUB_OFFLINE is set' if offline else 'offline?'}); pass a local config.json "
                       "or a preset name (see `ridgeline models`)")
    try:
        from huggingface_hub import hf_hub_download  # noqa: PLC0415 (lazy: optional and slow)
        from huggingface_hub.errors import (EntryNotFoundError, LocalEntryNotFoundError,  # noqa: PLC0415
                                            RepositoryNotFoundError)
        from huggingface_hub.utils import logging as hf_logging  # noqa: PLC0415
    except ImportError:
        raise HubError(f"model {repo_id!r} is not a preset and huggingface_hub is not installed; "
                       "`pip install 'ridgeline[hub]'` or pass a local config.json") from None
    hf_logging.set_verbosity_error()
    try:
        local = hf_hub_download(repo_id, "config.json", etag_timeout=5)
    except LocalEntryNotFoundError:
        raise HubError(f"cannot fetch {repo_id}/config.json: the hub is not reachable and it is not cached; "
                       "pass a local config.json or a preset name") from None
    except (RepositoryNotFoundError, EntryNotFoundError):
        raise HubError(f"hub repo {repo_id!r} has no config.json or does not exist (gated repos need a token); "
                       "pass a local config.json instead") from None
    except Exception as e:  # network errors come in many types (requests, httpx, OSError)
        raise HubError(f"cannot fetch {repo_id}/config.json from the hub ({type(e).__name__}); offline? "
                       "pass a local config.json or a preset name") from None
    return read_config_file(Path(local))


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    """One TCP connection attempt to the hub: a fast 'no' instead of minutes of retries offline."""
    import socket  # noqa: PLC0415

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").split("://", 1)[-1].split("/", 1)[0]
    host, _, port = endpoint.partition(":")
    try:
        with socket.create_connection((host, int(port or 443)), timeout=timeout_s):
            return True
    except OSError:
        return False


def load_model(ref: str) -> ModelSpec:
    """Resolve a model reference to a ModelSpec (see module docstring)."""
    cfg, name, source = load_config(ref)
    return spec_from_config(cfg, name=name, source=source)
