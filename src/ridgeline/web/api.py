"""The web API's answers: plain query values in, the CLI's ``--json`` object out.

No web framework here (the app in :mod:`ridgeline.web.app` is a thin shell over these functions).
Same core, same numbers: ``fit_json`` calls :func:`ridgeline.analyses.fit.fit_request` and the
project's serializer, as ``ridgeline fit --json`` does; ``infer_json`` builds the objects that
``ridgeline infer`` builds and passes them through the CLI's own JSON conversion.

Untrusted input: a request names a model by preset only (never a path or a hub id) and a device
by its id or alias only (never a .toml path), so nothing a request sends reaches the file system
or the network. Every value is bounded in length.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from ridgeline.errors import InputError, UnknownNameError

#: Characters one query value may hold (a sweep list of 4096 values fits).
MAX_VALUE_CHARS = 32768
#: Query parameters one request may carry.
MAX_PARAMS = 40

#: Values of a tp or gpu sweep (one estimate each; batch, prompt and gen sweeps are one array pass).
MAX_LOOP_SWEEP = 64

_STR, _INT, _FLOAT, _BOOL = "str", "int", "float", "bool"

#: Query name -> (kind, default). Names are the CLI's option names (``kv-dtype`` or ``kv_dtype``).
FIT_PARAMS: dict[str, tuple[str, Any]] = {
    "model": (_STR, None), "gpu": (_STR, "h100"), "weights": (_STR, None), "kv_dtype": (_STR, None),
    "batch": (_STR, "1"), "context": (_STR, None), "tp": (_INT, 1), "pp": (_INT, 1),
    "prefill_chunk": (_INT, 8192), "kv_convention": (_STR, "engine"), "mla_cache": (_STR, "latent"),
    "keep": (_STR, None), "unquantized": (_STR, None), "runtime_overhead": (_STR, None),
    "kv_fragmentation": (_FLOAT, None), "engine": (_STR, "ideal"), "memory_fraction": (_FLOAT, None),
    "max_model_len": (_STR, None), "max_num_batched_tokens": (_STR, None), "max_num_seqs": (_INT, None),
    "block_size": (_INT, None), "engine_version": (_STR, None),
}

INFER_PARAMS: dict[str, tuple[str, Any]] = {
    "model": (_STR, None), "gpu": (_STR, "h100"), "batch": (_STR, "1"), "prompt": (_STR, "1024"),
    "gen": (_STR, "128"), "tp": (_INT, 1), "pp": (_INT, 1), "ep": (_INT, 1), "attention_dp": (_BOOL, False),
    "weights": (_STR, None), "kv_dtype": (_STR, None), "act_dtype": (_STR, None), "mla_path": (_STR, "absorbed"),
    "engine": (_STR, "ideal"), "engine_version": (_STR, None), "memory_fraction": (_FLOAT, None),
    "eff_memory": (_FLOAT, None), "eff_gemm": (_FLOAT, None), "step_overhead": (_STR, None),
    "sweep": (_STR, None), "explain": (_BOOL, False),
}

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def parse_params(query: Mapping[str, str], spec: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    """Typed values from a query: unknown names, oversized values and malformed numbers are one-line
    InputErrors naming the field. An empty value means "not given" (the default)."""
    if len(query) > MAX_PARAMS:
        raise InputError(f"request: {len(query)} parameters is too many (limit {MAX_PARAMS})")
    out = {k: d for k, (_, d) in spec.items()}
    for raw, value in query.items():
        name = str(raw).strip().replace("-", "_")
        if name not in spec:
            known = ", ".join(sorted(spec))
            raise InputError(f"unknown parameter {str(raw)[:40]!r}; use some of {known}", field=name[:40])
        if len(value) > MAX_VALUE_CHARS:
            raise InputError(f"{_flag(name)}: {len(value):,} characters is too long (limit {MAX_VALUE_CHARS:,})",
                             field=name)
        value = value.strip()
        if not value:
            continue
        kind = spec[name][0]
        if kind == _INT:
            if not re.fullmatch(r"[+-]?\d{1,18}", value):
                raise InputError(f"{_flag(name)}: expected a whole number, got {value[:40]!r}", field=name)
            out[name] = int(value)
        elif kind == _FLOAT:
            try:
                out[name] = float(value)
            except ValueError:
                raise InputError(f"{_flag(name)}: expected a number, got {value[:40]!r}", field=name) from None
        elif kind == _BOOL:
            if value.lower() not in _TRUE + _FALSE:
                raise InputError(f"{_flag(name)}: expected true or false, got {value[:40]!r}", field=name)
            out[name] = value.lower() in _TRUE
        else:
            out[name] = value
    return out


# --- names only: a request never names a path ------------------------------------------------------

def safe_model(ref: str | None) -> str:
    """The preset a request names (its canonical name), or a one-line error for anything else."""
    from ridgeline.model.load import find_base_preset, find_preset, suggest_presets  # noqa: PLC0415

    if ref is None or not ref.strip():
        raise InputError("model: empty name; give a preset such as llama-3-70b (see the models page)", field="model")
    p = find_preset(ref)
    if p is not None:
        return p.name
    base = find_base_preset(ref)
    if base is not None:
        raise InputError(f"model: {ref[:80]!r} is a fine-tune of preset {base.name} (same shapes); use {base.name}",
                         field="model")
    close = suggest_presets(ref[:200])
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise InputError(f"model: unknown preset {ref[:80]!r}{hint} (the web page takes preset names; "
                     "see the models page, or use the CLI for a config.json or a checkpoint)", field="model")


def _norm(name: str) -> str:
    return re.sub(r"[\s_]+", "-", name.strip().lower())


@lru_cache(maxsize=1)
def _devices() -> dict[str, Any]:
    from ridgeline.hardware.load import accelerators  # noqa: PLC0415

    table: dict[str, Any] = {}
    for a in accelerators():
        for k in (a.id, *a.aliases):
            table[_norm(k)] = a
            table.setdefault(_norm(k).replace("-", ""), a)
    return table


def safe_gpu(name: str | None):
    """The shipped accelerator a request names (id or alias), never a file."""
    from ridgeline.hardware.load import accelerators  # noqa: PLC0415

    name = (name or "").strip()
    key = _norm(name[:200])
    hit = _devices().get(key) or _devices().get(key.replace("-", ""))
    if hit is None:
        known = sorted({a for acc in accelerators() for a in (acc.id, *acc.aliases)})
        e = UnknownNameError("GPU", name[:200], known, "see the hardware page")
        e.field = "gpu"
        raise e
    return hit


# --- the answers -----------------------------------------------------------------------------------

def json_safe(obj: dict) -> dict:
    """The CLI's own JSON conversion for infer/model/hardware (whole byte counts as integers)."""
    from ridgeline.cli import _json_safe  # noqa: PLC0415

    return _json_safe(obj)


def fit_json(query: Mapping[str, str], body: bytes = b"") -> dict:
    """What ``ridgeline fit MODEL --gpu ... --json`` prints, key for key.

    ``body`` (a POST): ``{"config": "<config.json text>", "hardware": "<device TOML text>"}``, either
    optional; a pasted config replaces the model, a pasted device the gpu."""
    from ridgeline.analyses.fit import FitRequest, fit_request  # noqa: PLC0415
    from ridgeline.serialize import to_jsonable  # noqa: PLC0415

    p = parse_params(query, FIT_PARAMS)
    spec, hw = pasted(body)
    if spec is None and hw is None:
        model = safe_model(p.pop("model"))
        gpu = safe_gpu(p.pop("gpu")).id
        return to_jsonable(fit_request(FitRequest(model=model, gpu=gpu, **p)))
    from ridgeline.model.load import load_model  # noqa: PLC0415

    spec = spec or load_model(safe_model(p["model"]))
    hw = hw or safe_gpu(p["gpu"])
    return to_jsonable(fit_objects(spec, hw, FitRequest(**(p | {"model": spec.name, "gpu": hw.id}))))


#: Largest POST body: a pasted config.json and a device TOML (real configs are under 100 kB).
MAX_BODY_BYTES = 2 * 2**20


def pasted(body: bytes):
    """(spec, accelerator) from a POST body, each None when not given. Validated exactly as the CLI
    validates a config.json file and a hardware .toml file; errors name the pasted field."""
    if not body:
        return None, None
    import json  # noqa: PLC0415
    import tomllib  # noqa: PLC0415

    from ridgeline.errors import ConfigError  # noqa: PLC0415
    from ridgeline.hardware.load import MAX_TOML_BYTES, accelerator_from_dict  # noqa: PLC0415
    from ridgeline.model.hf import spec_from_config  # noqa: PLC0415
    from ridgeline.model.load import MAX_CONFIG_BYTES, parse_json_object  # noqa: PLC0415

    if len(body) > MAX_BODY_BYTES:
        raise InputError(f"request: body over {MAX_BODY_BYTES:,} bytes; paste one config.json", field="config")
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        raise InputError("request: the body must be a JSON object {\"config\": ..., \"hardware\": ...}") from None
    if not isinstance(obj, dict) or set(obj) - {"config", "hardware"}:
        raise InputError("request: the body takes only \"config\" (config.json text) and \"hardware\" (TOML text)")
    spec = hw = None
    cfg_text, hw_text = obj.get("config"), obj.get("hardware")
    if cfg_text is not None and (not isinstance(cfg_text, str) or cfg_text.strip()):
        try:
            if not isinstance(cfg_text, str) or len(cfg_text) > MAX_CONFIG_BYTES:
                raise ConfigError("config.json: paste the text of one config.json file")
            cfg = parse_json_object(cfg_text.encode("utf-8", "replace"), "pasted config.json")
            spec = spec_from_config(cfg, name="pasted-config", source="config.json pasted in the page")
        except InputError as e:
            e.field = "config"
            raise
    if hw_text is not None and (not isinstance(hw_text, str) or hw_text.strip()):
        where = "pasted device TOML"
        try:
            if not isinstance(hw_text, str) or len(hw_text) > MAX_TOML_BYTES:
                raise ConfigError(f"{where}: paste the text of one hardware .toml file (at most {MAX_TOML_BYTES:,} bytes)")
            try:
                d = tomllib.loads(hw_text)
            except tomllib.TOMLDecodeError as e:
                raise ConfigError(f"{where}: invalid TOML ({e}); fix the text") from None
            except RecursionError:
                raise ConfigError(f"{where}: nested too deeply to be a hardware file") from None
            hw = accelerator_from_dict(d, where)
        except InputError as e:
            e.field = "hardware"
            raise
    return spec, hw


def fit_objects(spec, hw, req):
    """:func:`ridgeline.analyses.fit.fit_request` for an already built spec and device (a pasted
    config.json or device TOML): the same door, minus the file and name lookups."""
    from ridgeline.analyses.fit import fit_request_for  # noqa: PLC0415

    return fit_request_for(spec, hw, req)


def infer_json(query: Mapping[str, str], body: bytes = b"") -> dict:
    """What ``ridgeline infer MODEL ... --json [--explain] [--sweep ...]`` prints, key for key.

    Mirrors the CLI's infer command (minus --plot): the same spec, device, precision, efficiencies,
    plans and batch limit, the same ``infer_dict`` + ``bound_reason`` (+ ``explain``)."""
    from ridgeline.analyses.infer_request import InferRequest, run_infer_request  # noqa: PLC0415
    from ridgeline.model.load import load_model  # noqa: PLC0415

    p = parse_params(query, INFER_PARAMS)
    spec, hw = pasted(body)
    spec = spec or load_model(safe_model(p["model"]))
    hw = hw or safe_gpu(p["gpu"])
    req = InferRequest(batch=p["batch"], prompt=p["prompt"], gen=p["gen"], tp=p["tp"], pp=p["pp"], ep=p["ep"],
                       attention_dp=p["attention_dp"], weights=p["weights"], kv_dtype=p["kv_dtype"],
                       act_dtype=p["act_dtype"], mla_path=p["mla_path"], engine=p["engine"],
                       engine_version=p["engine_version"], memory_fraction=p["memory_fraction"],
                       eff_memory=p["eff_memory"], eff_gemm=p["eff_gemm"], step_overhead=p["step_overhead"],
                       sweep=p["sweep"], explain=bool(p["explain"]))
    return json_safe(run_infer_request(spec, hw, req, get_gpu=safe_gpu, max_loop_values=MAX_LOOP_SWEEP).json)


def model_json(query: Mapping[str, str]) -> dict:
    """What ``ridgeline model PRESET --json`` prints."""
    from ridgeline.model.load import find_preset, load_model  # noqa: PLC0415
    from ridgeline.model.params import count_params  # noqa: PLC0415

    p = parse_params(query, {"name": (_STR, None)})
    name = safe_model(p["name"])
    spec = load_model(name)
    preset = find_preset(name)
    out = {"schema_version": 1, "model": spec.to_dict(), "params": count_params(spec).to_dict(),
           "preset": {"hf_repo": preset.hf_repo, "source": preset.source, "verification": preset.verification,
                      "published_params": preset.published_params}}
    return json_safe(out)


@lru_cache(maxsize=1)
def _models_list() -> dict:
    from ridgeline.model.hf import spec_from_config  # noqa: PLC0415
    from ridgeline.model.load import preset_config, presets  # noqa: PLC0415
    from ridgeline.model.params import count_params  # noqa: PLC0415

    rows = [(p, count_params(spec_from_config(preset_config(p), p.name))) for p in presets()]
    return json_safe({"schema_version": 1, "models": [
        {"name": p.name, "hf_repo": p.hf_repo, "model_type": p.model_type, "aliases": list(p.aliases),
         "params_total": pc.total, "params_active": pc.active, "verification": p.verification,
         "source": p.source} for p, pc in rows]})


def models_json(query: Mapping[str, str]) -> dict:
    """What ``ridgeline models --json`` prints."""
    parse_params(query, {})
    return _models_list()


def hardware_json(query: Mapping[str, str]) -> dict:
    """What ``ridgeline hardware [NAME] --json`` prints."""
    from ridgeline.hardware.load import accelerators  # noqa: PLC0415

    p = parse_params(query, {"name": (_STR, None)})
    if p["name"] is None:
        return json_safe({"schema_version": 1, "hardware": [a.to_dict() for a in accelerators()]})
    return json_safe({"schema_version": 1, "hardware": safe_gpu(p["name"]).to_dict()})


@lru_cache(maxsize=1)
def options_json() -> dict:
    """Names the page's inputs offer: presets, devices, number formats, engines."""
    from ridgeline.analyses.engines import ENGINES  # noqa: PLC0415
    from ridgeline.hardware.load import accelerators  # noqa: PLC0415
    from ridgeline.model.load import presets  # noqa: PLC0415

    formats = ["bf16", "fp16", "fp32", "fp8", "int8", "int4", "int4-g128", "awq", "gptq", "nf4", "mxfp4", "nvfp4",
               "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q4_0", "q3_k_m", "q2_k"]
    return {"models": [p.name for p in presets()], "gpus": [{"id": a.id, "name": a.name} for a in accelerators()],
            "formats": formats, "engines": list(ENGINES)}


def warm() -> None:
    """Import and fill the caches the first answer needs (the server calls it before listening,
    so that the first request is as fast as the others)."""
    fit_json({"model": "llama-3-70b"})
    infer_json({"model": "llama-3-70b", "explain": "1"})
    from ridgeline.web.api_plan import plan_json  # noqa: PLC0415
    from ridgeline.web.api_train import train_json  # noqa: PLC0415

    train_json({"model": "llama-3.1-8b", "explain": "1"})
    plan_json({"model": "llama-3-70b", "pareto": "1"})
    options_json()


def error_json(e: InputError) -> dict:
    """The object ``--json`` prints for a user error: ``{"error", "type", "field"}``."""
    field = e.field_name
    obj: dict[str, Any] = {"error": " ".join(str(e).split()), "type": type(e).__name__}
    if field:
        obj["field"] = field
    return obj
