"""``/api/train``: what ``ridgeline train MODEL ... --json [--explain]`` prints, key for key.

The CLI's ``train`` command builds its result inline (cli.py); :func:`train_result` repeats those
steps with the web's name-only model and device lookups, and a test compares the two on several
inputs. A pasted config.json or device TOML (POST body) replaces the model or the device, as on the
fit and infer pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ridgeline.errors import InputError
from ridgeline.web.api import _BOOL, _FLOAT, _INT, _STR, json_safe, parse_params, pasted, safe_gpu, safe_model

#: Query name -> (kind, default): the CLI's options and defaults (``ridgeline train --help``).
TRAIN_PARAMS: dict[str, tuple[str, Any]] = {
    "model": (_STR, None), "gpu": (_STR, "h100"), "gpus": (_STR, "8"), "tp": (_INT, 1), "pp": (_INT, 1),
    "cp": (_INT, 1), "ep": (_INT, 1), "zero": (_INT, 0), "fsdp": (_STR, None), "seq": (_STR, "4096"),
    "micro_batch": (_INT, 1), "global_batch": (_INT, None), "recompute": (_STR, "none"),
    "optimizer": (_STR, "adamw"), "precision": (_STR, "bf16-mixed"), "lora_rank": (_INT, 0),
    "lora_modules": (_STR, "all"), "qlora": (_BOOL, False), "virtual_stages": (_INT, 1),
    "no_sequence_parallel": (_BOOL, False), "unfused_attention": (_BOOL, False), "dropout": (_BOOL, False),
    "tokens": (_STR, None), "eff_gemm": (_FLOAT, None), "explain": (_BOOL, False),
}


def train_result(spec, hw, p: dict):
    """(TrainResult, the ``--gpus min`` count or None), built step for step as cli.py's ``train``."""
    from ridgeline.analyses.train import min_gpus, train as run_train  # noqa: PLC0415
    from ridgeline.analyses.train_setup import TrainSetup  # noqa: PLC0415
    from ridgeline.analyses.train_time import train_efficiencies  # noqa: PLC0415
    from ridgeline.cli import _parse_count  # noqa: PLC0415
    from ridgeline.units import parse_tokens  # noqa: PLC0415

    S = parse_tokens(p["seq"], "--seq")
    n_tokens = _parse_count(p["tokens"], "--tokens") if p["tokens"] is not None else None
    find_min = p["gpus"].strip().lower() == "min"
    tp, pp, cp = p["tp"], p["pp"], p["cp"]
    G = tp * pp * cp if find_min else parse_tokens(p["gpus"], "--gpus")
    eff = train_efficiencies(hw)
    if p["eff_gemm"] is not None:
        if not 0 < p["eff_gemm"] <= 1:
            raise InputError(f"--eff-gemm: must be in (0, 1], got {p['eff_gemm']}")
        eff = eff.override(gemm=p["eff_gemm"])
    setup = TrainSetup(gpus=G, tp=tp, pp=pp, cp=cp, ep=p["ep"] if not find_min else 1, zero=p["zero"],
                       fsdp=p["fsdp"], seq=S, micro_batch=p["micro_batch"],
                       global_batch=None if find_min else p["global_batch"], recompute=p["recompute"],
                       optimizer=p["optimizer"], precision=p["precision"], lora_rank=p["lora_rank"],
                       lora_modules=p["lora_modules"], qlora=p["qlora"],
                       sequence_parallel=not p["no_sequence_parallel"], fused_attention=not p["unfused_attention"],
                       dropout=p["dropout"], virtual_stages=p["virtual_stages"], tokens=n_tokens)
    n_min = None
    if find_min:
        n_min, setup, _ = min_gpus(spec, hw, setup)
    return run_train(spec, hw, setup, eff), n_min


def train_json(query: Mapping[str, str], body: bytes = b"") -> dict:
    """What ``ridgeline train MODEL --gpu ... --json [--explain]`` prints, key for key."""
    from ridgeline.analyses.train import explain as explain_rows, train_dict  # noqa: PLC0415
    from ridgeline.model.load import load_model  # noqa: PLC0415

    p = parse_params(query, TRAIN_PARAMS)
    spec, hw = pasted(body)
    spec = spec or load_model(safe_model(p["model"]))
    hw = hw or safe_gpu(p["gpu"])
    r, n_min = train_result(spec, hw, p)
    d = train_dict(r)
    if n_min is not None:
        d["min_gpus"] = n_min
    if p["explain"]:
        d["explain"] = explain_rows(r)
    return json_safe(d)
