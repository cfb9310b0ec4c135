"""Resolve what a user typed into a ModelSpec: a preset name, a config.json path, a checkpoint
folder, a GGUF file, or a Hugging Face hub id.

Order: an existing path (``.gguf`` files read through :mod:`ridgeline.model.gguf`); a preset
(verbatim ``config.json`` files in ``ridgeline/model/presets``, ``index.json`` records their
provenance); a hub id already in the local Hugging Face cache (offline, no huggingface_hub
import); a fine-tuned name (``-Instruct``, ``-it``, ``-chat``, ``-Base``) whose base preset
exists, with a note; the hub over the network, only when it is reachable.
"""

from __future__ import annotations

import difflib
import errno
import json
import os
import re
import stat
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ridgeline.errors import ConfigError, HubError, InputError, UnknownNameError
from ridgeline.model.hf import spec_from_config
from ridgeline.model.spec import ModelSpec

#: A config.json larger than this is not a config (bounded read of untrusted input).
MAX_CONFIG_BYTES = 16 * 2**20
#: A model reference longer than this is not a name, a path or a hub id (PATH_MAX is 4096).
MAX_REF_CHARS = 1024
#: Bytes read from a hub cache ``refs/<branch>`` file (a 40-hex commit id).
MAX_REF_FILE_BYTES = 256
#: Cache folders scanned for a case-insensitive hub id match.
MAX_CACHE_ENTRIES = 100_000


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


@dataclass(frozen=True)
class Resolved:
    """A model reference resolved to a config dict."""

    config: dict[str, Any]
    name: str
    source: str
    notes: tuple[str, ...] = ()
    preset: PresetInfo | None = None
    gguf_path: Path | None = None


def _norm(name: str) -> str:
    return re.sub(r"[\s_]+", "-", name.strip().lower())


def _show(ref: str, limit: int = 80) -> str:
    """A user's input for an error message: repr, cut to ``limit`` characters."""
    return repr(ref) if len(ref) <= limit else repr(ref[:limit]) + f"... ({len(ref):,} characters)"


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
    if not isinstance(name, str) or len(name) > MAX_REF_CHARS:
        return None
    return _preset_names().get(_norm(name))


#: Fine-tune suffixes of the names people type; the weights differ, the architecture does not.
_TUNE_SUFFIX = re.compile(r"[-_ ](instruct|it|chat|base)$", re.IGNORECASE)
_TUNE_ADD = ("-it", "-instruct", "-chat")


def find_base_preset(name: str) -> PresetInfo | None:
    """The preset of the same architecture for a fine-tuned or base variant's name:
    ``Llama-3.1-8B-Instruct`` -> Llama-3.1-8B, ``gemma-2-9b`` -> gemma-2-9b-it."""
    if not isinstance(name, str) or len(name) > MAX_REF_CHARS or find_preset(name) is not None:
        return None
    stem = name.strip()
    m = _TUNE_SUFFIX.search(stem)
    if m:
        stem = stem[:m.start()]
        if (p := find_preset(stem)) is not None:
            return p
    for suffix in _TUNE_ADD:  # gemma-2-9b -> gemma-2-9b-it; llama-3.2-1b-base -> llama-3.2-1b-instruct
        if (p := find_preset(stem + suffix)) is not None:
            return p
    return None


def suggest_presets(name: str, n: int = 3) -> list[str]:
    """Close preset names for a typo, each preset once (aliases map to their preset's name)."""
    table = _preset_names()
    close = difflib.get_close_matches(_norm(name), list(table), n=4 * n, cutoff=0.6)
    out: list[str] = []
    for k in close:
        if table[k].name not in out:
            out.append(table[k].name)
    return out[:n]


class UnknownModelError(UnknownNameError):
    """An unknown model name, with each suggested preset named once."""

    def __init__(self, name: str, hint: str):
        suggestions = suggest_presets(name) if len(name) <= MAX_REF_CHARS else []
        msg = f"unknown model {_show(name)}"
        if suggestions:
            msg += "; did you mean " + ", ".join(repr(s) for s in suggestions) + "?"
        InputError.__init__(self, f"{msg} ({hint})")
        self.name = name
        self.suggestions = suggestions


def preset_config(p: PresetInfo) -> dict[str, Any]:
    text = resources.files("ridgeline.model.presets").joinpath(p.file).read_text("utf-8")
    return json.loads(text)


def read_regular_file(path: Path, limit: int, what: str, error: type[InputError] = ConfigError) -> bytes:
    """:func:`ridgeline.files.read_regular_file` with ConfigError as the default error."""
    from ridgeline.files import read_regular_file as read  # noqa: PLC0415

    return read(path, limit, what, error)


def parse_json_object(data: bytes, where: str, what: str = "config.json") -> dict[str, Any]:
    """Parse untrusted JSON into a dict; every failure (nesting included) is one line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not a UTF-8 text file; pass the model's {what}") from None
    if not text.strip():
        raise ConfigError(f"{where}: file is empty; pass the model's {what}")
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{where}: invalid JSON at line {e.lineno} column {e.colno} ({e.msg}); fix the file") from None
    except RecursionError:
        raise ConfigError(f"{where}: JSON nested too deeply to be a {what}; fix the file") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"{where}: expected a JSON object, got {type(cfg).__name__}; pass the model's {what}")
    return cfg


def read_config_file(path: Path) -> dict[str, Any]:
    """Read and parse a config.json with a size bound; errors name the file and the fix."""
    return parse_json_object(read_regular_file(path, MAX_CONFIG_BYTES, "config.json"), str(path))


def _path_state(path: Path) -> str:
    """'missing', 'loop', 'dangling', 'dir' or 'other' without following a loop forever or raising."""
    try:
        st = os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "loop"
        if e.errno == errno.ENAMETOOLONG:
            return "toolong"
        if e.errno == errno.ENOENT and os.path.islink(path):
            return "dangling"
        return "missing"
    return "dir" if stat.S_ISDIR(st.st_mode) else "other"


def check_path(ref: str) -> Path:
    """The reference as a Path, after the checks that must come before any ``stat`` by the caller:
    an empty or absurdly long name, a NUL, a symlink loop, a dangling link (one line each)."""
    if not isinstance(ref, str) or not ref.strip():
        raise ConfigError("model: empty name; give a preset (see `ridgeline models`), a config.json path or a folder")
    if len(ref) > MAX_REF_CHARS:
        raise ConfigError(f"model: a name of {len(ref):,} characters is too long for a preset, path or hub id "
                          f"(limit {MAX_REF_CHARS:,}); check the argument")
    if "\x00" in ref:
        raise ConfigError(f"model: {_show(ref)} contains a NUL character; check the argument")
    try:
        path = Path(ref).expanduser()
    except RuntimeError:  # "~user" with no such user: not a home folder, so a missing path
        path = Path(ref)
    state = _path_state(path)
    if state == "loop":
        raise ConfigError(f"{path}: symlink loop; point at the config.json, folder or .gguf file itself")
    if state == "dangling":
        raise ConfigError(f"{path}: symlink to a missing file ({os.readlink(path)}); fix the link or the path")
    if state == "toolong":
        raise ConfigError(f"model: path {_show(ref)} is too long for the file system; check the argument")
    return path


def resolve(ref: str) -> Resolved:
    """Resolve a model reference (see the module docstring for the order)."""
    path = check_path(ref)
    state = _path_state(path)
    if state == "dir":
        cfg_path = path / "config.json"
        cstate = _path_state(cfg_path)
        if cstate == "loop":
            raise ConfigError(f"{cfg_path}: symlink loop; point at the config file itself")
        if cstate in ("missing", "dangling"):
            raise ConfigError(f"{path}: folder has no config.json; point at a checkpoint folder that has one "
                              "or at the config file itself")
        return Resolved(read_config_file(cfg_path), path.resolve().name, str(cfg_path))
    if state == "other":
        if path.suffix.lower() == ".gguf":
            return Resolved({}, path.name.removesuffix(".gguf"), f"{path} (GGUF header)", gguf_path=path)
        name = path.parent.resolve().name if path.name == "config.json" else path.stem
        return Resolved(read_config_file(path), name, str(path))
    p = find_preset(ref)
    if p is not None:
        return Resolved(preset_config(p), p.name, f"preset {p.name} ({p.hf_repo or 'no hub repo'})", preset=p)
    if ref.endswith((".json", ".gguf")) or (os.sep in ref.strip("/") and ref.startswith((".", "/", "~"))):
        raise ConfigError(f"{ref}: no such file or folder; check the path")
    hub = is_hub_id(ref)
    if hub:
        cached = cached_hub_config(ref)
        if cached is not None:
            return Resolved(read_config_file(cached), ref.split("/", 1)[1], f"hub {ref} (local cache {cached})")
    base = find_base_preset(ref)
    if base is not None:
        note = (f"{ref} resolved to the base architecture (preset {base.name}): same parameters "
                "(a fine-tune changes the weights, not the shapes)")
        return Resolved(preset_config(base), base.name, f"preset {base.name} ({base.hf_repo or 'no hub repo'})",
                        (note,), preset=base)
    if hub:
        try:
            return Resolved(_from_hub(ref), ref.split("/", 1)[1], f"hub {ref}")
        except HubError as e:
            close = suggest_presets(ref)
            if close:  # a typo of a preset's hub id is likelier than an uncached repo
                raise HubError(f"{e}; or did you mean {', '.join(repr(c) for c in close)}?") from None
            raise
    raise UnknownModelError(ref, "see `ridgeline models`, or pass a config.json path, a .gguf file or a hub id")


def load_config(ref: str) -> tuple[dict[str, Any], str, str]:
    """Return (config dict, display name, source description) for a model reference."""
    r = resolve(ref)
    if r.gguf_path is not None:
        from ridgeline.model.gguf import gguf_config, inspect_gguf  # noqa: PLC0415

        return gguf_config(inspect_gguf(r.gguf_path)), r.name, r.source
    return r.config, r.name, r.source


# ----------------------------------------------------------------------------- the hub

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}")


def is_hub_id(ref: str) -> bool:
    """``org/name`` as the hub spells repo ids (no ``..``, no leading or trailing separators)."""
    return bool(_HUB_ID.fullmatch(ref)) and ".." not in ref and not ref.endswith((".", "-"))


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache, as huggingface_hub finds it (``constants.py``): HF_HUB_CACHE,
    else the legacy HUGGINGFACE_HUB_CACHE, else HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub,
    else ~/.cache/huggingface/hub."""
    env = os.environ
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(var):
            return Path(os.path.expandvars(env[var])).expanduser()
    home = env.get("HF_HOME") or os.path.join(env.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "huggingface")
    return Path(os.path.expandvars(home)).expanduser() / "hub"


def _repo_folder(cache: Path, repo_id: str) -> Path | None:
    """``models--org--name`` (huggingface_hub ``repo_folder_name``); a case-insensitive match when
    the exact spelling is absent (the hub treats ids case-insensitively)."""
    folder = cache / ("models--" + repo_id.replace("/", "--"))
    if folder.is_dir():
        return folder
    want = folder.name.lower()
    try:
        with os.scandir(cache) as it:
            for i, e in enumerate(it):
                if i >= MAX_CACHE_ENTRIES:
                    break
                if e.name.lower() == want and e.is_dir():
                    return Path(e.path)
    except OSError:
        return None
    return None


def cached_hub_config(repo_id: str, revision: str = "main") -> Path | None:
    """The cached ``config.json`` of a hub repo, or None: ``refs/<revision>`` names the commit,
    ``snapshots/<commit>/config.json`` holds the file. Without the ref, the only snapshot that
    has a config.json (a download pinned to a commit). Reads the file system only."""
    cache = hub_cache_dir()
    try:
        folder = _repo_folder(cache, repo_id)
        if folder is None:
            return None
        ref_file = folder / "refs" / revision
        if ref_file.is_file():
            commit = read_regular_file(ref_file, MAX_REF_FILE_BYTES, "hub cache ref", HubError)
            commit_s = commit.decode("ascii", "replace").strip()
            if not re.fullmatch(r"[0-9a-fA-F]{40}|[\w.-]{1,96}", commit_s) or commit_s in (".", ".."):
                raise HubError(f"{ref_file}: not a commit id; the hub cache is corrupt, delete {folder}")
            cfg = folder / "snapshots" / commit_s / "config.json"
            return cfg if cfg.is_file() else None
        snaps = folder / "snapshots"
        if not snaps.is_dir():
            return None
        found = [s / "config.json" for s in sorted(snaps.iterdir())[:MAX_CACHE_ENTRIES] if (s / "config.json").is_file()]
        return found[0] if len(found) == 1 else None
    except OSError:
        return None


def _endpoint() -> tuple[str, int]:
    """Host and port of HF_ENDPOINT (default https://huggingface.co); a malformed value is one line."""
    raw = os.environ.get("HF_ENDPOINT", "") or "https://huggingface.co"
    m = re.fullmatch(r"(https?)://([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::(\d{1,5}))?(/[^\s]*)?", raw.strip())
    port = int(m.group(3)) if m and m.group(3) else None
    if m is None or (port is not None and not 0 < port < 65536) or any(len(x) > 63 for x in m.group(2).split(".")):
        raise HubError(f"HF_ENDPOINT {_show(raw)} is not a URL like https://huggingface.co; fix or unset it")
    return m.group(2).strip("[]"), port or (443 if m.group(1) == "https" else 80)


def _from_hub(repo_id: str) -> dict[str, Any]:
    """Fetch only config.json from the hub (huggingface_hub, optional), never code or weights."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    where = f"the local cache ({hub_cache_dir()}) has no config.json for it"
    if offline:
        raise HubError(f"model {repo_id!r} is not a preset, {where}, and HF_HUB_OFFLINE is set; pass a local "
                       "config.json or a preset name (see `ridgeline models`)")
    host, port = _endpoint()
    if not _hub_reachable(host, port):
        raise HubError(f"model {repo_id!r} is not a preset, {where}, and the hub ({host}) is not reachable "
                       "(offline?); pass a local config.json or a preset name (see `ridgeline models`)")
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


def _hub_reachable(host: str, port: int, timeout_s: float = 3.0) -> bool:
    """One TCP connection attempt to the hub: a fast 'no' instead of minutes of retries offline."""
    import socket  # noqa: PLC0415

    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except (OSError, UnicodeError, ValueError):
        return False


def stored_weights_bytes(ref: str) -> int | None:
    """Exact stored bytes of the weights when ``ref`` is a checkpoint on disk, from headers only:
    a ``.gguf`` file (every split part), a ``.safetensors`` file, or a folder with safetensors
    files (sharded index included). None for presets, config files and hub ids."""
    path = check_path(ref)
    state = _path_state(path)
    if state == "other" and path.suffix.lower() == ".gguf":
        from ridgeline.model.gguf import gguf_weight_bytes  # noqa: PLC0415

        return gguf_weight_bytes(path)
    if (state == "other" and path.suffix == ".safetensors") or (state == "dir" and (
            any(path.glob("*.safetensors")) or (path / "model.safetensors.index.json").is_file())):
        from ridgeline.model.checkpoint import inspect_checkpoint  # noqa: PLC0415

        return inspect_checkpoint(path).total_bytes
    return None


def load_model(ref: str) -> ModelSpec:
    """Resolve a model reference to a ModelSpec (see module docstring)."""
    r = resolve(ref)
    if r.gguf_path is not None:
        from ridgeline.model.gguf import spec_from_gguf  # noqa: PLC0415

        return spec_from_gguf(r.gguf_path)
    spec = spec_from_config(r.config, name=r.name, source=r.source)
    return replace(spec, notes=(*spec.notes, *r.notes)) if r.notes else spec
