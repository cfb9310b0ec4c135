"""The ``ridgeline`` command line. Parse, call an analysis, show (table or --json).

Heavy modules (torch, transformers, matplotlib) are never imported here.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ridgeline.errors import InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Exact memory, KV-cache and parameter accounting for transformer LLMs on any accelerator.")


def _version(value: bool) -> None:
    if value:
        from ridgeline import __version__  # noqa: PLC0415

        sys.stdout.write(f"ridgeline {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", is_eager=True, metavar="", callback=_version,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Exact memory, KV-cache and parameter accounting for transformer LLMs on any accelerator."""


def _console():
    from rich.console import Console  # noqa: PLC0415

    # A terminal gets its own width (COLUMNS, else the tty's): the tables drop their least
    # important columns rather than cut an id or an exact count. Piped output keeps every
    # column on one line.
    return Console() if sys.stdout.isatty() else Console(width=200)


def _json_safe(obj: Any, in_bytes: bool = False) -> Any:
    """Byte quantities that are whole numbers become JSON integers (``80000000000``, not
    ``80000000000.0``): values whose key names bytes (``memory_bytes``, ``kv_bytes_per_token``) and
    the values of a byte breakdown (a ``terms`` or ``*bytes*`` object). Fractional ones stay floats."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            key_bytes = in_bytes or "bytes" in str(k)
            if isinstance(v, float) and key_bytes and v.is_integer():
                out[k] = int(v)
            else:
                out[k] = _json_safe(v, isinstance(v, dict) and (key_bytes or k == "terms"))
        return out
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(_json_safe(obj), indent=2) + "\n")


def _stat_kind(path: Path) -> str | None:
    """"file", "dir", "other" (FIFO, device, socket) or None (absent, or a name the OS refuses)."""
    import stat  # noqa: PLC0415

    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    return "file" if stat.S_ISREG(mode) else "dir" if stat.S_ISDIR(mode) else "other"


JsonOpt = Annotated[bool, typer.Option("--json", metavar="", help="Print one JSON object (SI base units) instead of tables; errors too.")]


@app.command()
def fit(
    model: Annotated[str, typer.Argument(help="Preset name, config.json path, checkpoint folder or hub id.")],
    gpu: Annotated[str, typer.Option("--gpu", "-g", help="Accelerator name (see `ridgeline hardware`) or a .toml file.")] = "h100",
    weights: Annotated[Optional[str], typer.Option(help="Weight format: bf16, fp16, fp8, int8, int4[-gN], awq, gptq, nf4, mxfp4, nvfp4, q4_k_m, ...")] = None,
    kv_dtype: Annotated[Optional[str], typer.Option("--kv-dtype", help="KV-cache format (default: the unquantized weight format).")] = None,
    batch: Annotated[int, typer.Option(help="Concurrent sequences.")] = 1,
    context: Annotated[str, typer.Option(help="Tokens per sequence (prompt + output): 8192, 8k, 128k. Default: min(4096, model max).")] = "",
    tp: Annotated[int, typer.Option(help="Tensor-parallel degree.")] = 1,
    pp: Annotated[int, typer.Option(help="Pipeline-parallel stages.")] = 1,
    prefill_chunk: Annotated[int, typer.Option(help="Tokens per prefill forward pass (sets the activation peak).")] = 8192,
    kv_convention: Annotated[str, typer.Option(help="engine (W-token windows, KV heads as stored) or transformers (the reference's DynamicCache).")] = "engine",
    mla_cache: Annotated[str, typer.Option(help="MLA cache layout: latent (engines, transformers 5.x) or expanded (per head).")] = "latent",
    keep: Annotated[Optional[str], typer.Option(help="Tensor roles left unquantized, comma-separated (default: embedding,lm_head,norm,bias,router,other; 'none' quantizes all).")] = None,
    unquantized: Annotated[Optional[str], typer.Option(help="Format of the kept tensors (default: checkpoint dtype or bf16).")] = None,
    runtime_overhead: Annotated[Optional[str], typer.Option(help="Per-device runtime overhead, e.g. 1GiB (default 0.75 GiB).")] = None,
    kv_fragmentation: Annotated[Optional[float], typer.Option(help="KV fragmentation fraction (default 0.04).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Does MODEL fit on GPU? The per-device memory ledger, the fewest devices, the KV room.

    On a checkpoint folder with safetensors files (and no --weights), the weight bytes are the
    exact sum over the stored tensors, read from the headers.
    """
    from ridgeline.analyses.fit import default_overheads  # noqa: PLC0415
    from ridgeline.analyses.fit import fit as run_fit  # noqa: PLC0415
    from ridgeline.analyses.memory import Overheads  # noqa: PLC0415
    from ridgeline.factors import KV_FRAGMENTATION, RUNTIME_OVERHEAD  # noqa: PLC0415
    from ridgeline.hardware.load import get_accelerator  # noqa: PLC0415
    from ridgeline.model.kv import KVLayout  # noqa: PLC0415
    from ridgeline.model.load import load_model  # noqa: PLC0415
    from ridgeline.model.params import ROLES  # noqa: PLC0415
    from ridgeline.units import parse_bytes, parse_tokens  # noqa: PLC0415
    from ridgeline.workload import InferenceWorkload, ParallelPlan, Precision  # noqa: PLC0415

    spec = load_model(model)
    hw = get_accelerator(gpu)
    ctx = parse_tokens(context, "--context") if context else min(4096, spec.max_position_embeddings or 4096)
    keep_roles = None
    for opt, val in (("--weights", weights), ("--kv-dtype", kv_dtype), ("--keep", keep), ("--unquantized", unquantized)):
        if val is not None and not val.strip():
            raise InputError(f"{opt}: empty value; give a value or leave the option out")
    if keep is not None:
        keep_roles = frozenset() if keep.strip().lower() == "none" else frozenset(
            k.strip().lower() for k in keep.split(",") if k.strip())
        bad = sorted(keep_roles - set(ROLES))
        if bad:
            raise InputError(f"--keep: unknown role {bad[0]!r}; use some of {', '.join(ROLES)} or 'none'")
    prec = Precision.build(spec, weights, kv_dtype, None, unquantized, keep_roles)
    ov = None  # None: fit() picks the device's default overheads and says so
    if runtime_overhead is not None or kv_fragmentation is not None:
        ov = default_overheads(hw)
        if runtime_overhead is not None:
            ov = Overheads(RUNTIME_OVERHEAD.with_value(parse_bytes(runtime_overhead, "--runtime-overhead")),
                           ov.kv_fragmentation)
        if kv_fragmentation is not None:
            if not 0 <= kv_fragmentation < 1:
                raise InputError(f"--kv-fragmentation: must be in [0, 1), got {kv_fragmentation}")
            ov = Overheads(ov.runtime, KV_FRAGMENTATION.with_value(kv_fragmentation))
    stored = None
    mpath = Path(model).expanduser()
    if weights is None and mpath.is_dir() and (any(mpath.glob("*.safetensors"))
                                               or (mpath / "model.safetensors.index.json").is_file()):
        from ridgeline.model.checkpoint import inspect_checkpoint  # noqa: PLC0415

        stored = inspect_checkpoint(mpath).total_bytes
    result = run_fit(spec, hw, InferenceWorkload(batch, ctx, prefill_chunk), prec, ParallelPlan(tp, pp),
                     KVLayout(kv_convention, mla_cache), ov, stored)
    if as_json:
        _emit(result.to_dict())
    else:
        from ridgeline.render import fit_table  # noqa: PLC0415

        fit_table(result, _console())


@app.command()
def models(as_json: JsonOpt = False) -> None:
    """List the presets with their exact parameter counts."""
    from ridgeline.model.hf import spec_from_config  # noqa: PLC0415
    from ridgeline.model.load import preset_config, presets  # noqa: PLC0415
    from ridgeline.model.params import count_params  # noqa: PLC0415

    rows = [(p, count_params(spec_from_config(preset_config(p), p.name))) for p in presets()]
    if as_json:
        _emit({"schema_version": 1, "models": [
            {"name": p.name, "hf_repo": p.hf_repo, "model_type": p.model_type, "aliases": list(p.aliases),
             "params_total": pc.total, "params_active": pc.active, "verification": p.verification,
             "source": p.source} for p, pc in rows]})
    else:
        from ridgeline.render import models_table  # noqa: PLC0415

        models_table(rows, _console())


@app.command()
def model(
    name: Annotated[str, typer.Argument(help="Preset, config.json, checkpoint folder, .safetensors file or hub id.")],
    as_json: JsonOpt = False,
) -> None:
    """Show a model's spec and exact per-component parameter breakdown (and a checkpoint's stored tensors)."""
    from ridgeline.model.checkpoint import inspect_checkpoint  # noqa: PLC0415
    from ridgeline.model.load import find_preset, load_model  # noqa: PLC0415
    from ridgeline.model.params import count_params  # noqa: PLC0415

    path = Path(name).expanduser()
    kind = _stat_kind(path)
    if kind == "other":
        raise InputError(f"model: {name[:120]!r} is not a regular file or folder (a pipe, socket or device); "
                         "pass a config.json, a checkpoint folder or a preset name", field="model")
    if kind == "file" and path.suffix == ".safetensors":
        ck = inspect_checkpoint(path)
        if as_json:
            _emit({"schema_version": 1, "checkpoint": _ck_dict(ck)})
        else:
            from ridgeline.render import checkpoint_table  # noqa: PLC0415

            checkpoint_table(ck, _console())
        return
    ck = None
    if kind == "dir" and (any(path.glob("*.safetensors")) or (path / "model.safetensors.index.json").exists()):
        ck = inspect_checkpoint(path)
    spec = load_model(name)
    pc = count_params(spec)
    preset = None if kind else find_preset(name)
    if as_json:
        out = {"schema_version": 1, "model": spec.to_dict(), "params": pc.to_dict()}
        if preset is not None:
            out["preset"] = {"hf_repo": preset.hf_repo, "source": preset.source, "verification": preset.verification,
                             "published_params": preset.published_params}
        if ck is not None:
            out["checkpoint"] = _ck_dict(ck) | {"difference_vs_config": ck.num_elements - pc.total}
        _emit(out)
    else:
        from ridgeline.render import model_detail  # noqa: PLC0415

        model_detail(spec, pc, _console(), preset, ck)


def _ck_dict(ck) -> dict:
    return {"path": ck.path, "files": list(ck.files), "tensors": len(ck.tensors), "elements": ck.num_elements,
            "bytes": ck.total_bytes, "by_dtype": ck.by_dtype(), "bytes_by_role": ck.bytes_by_role()}


@app.command()
def hardware(
    name: Annotated[Optional[str], typer.Argument(help="Accelerator id/alias or .toml file; omit to list all.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List accelerators, or show one with the source of every number."""
    from ridgeline.hardware.load import accelerators, get_accelerator  # noqa: PLC0415

    if name is None:
        accs = accelerators()
        if as_json:
            _emit({"schema_version": 1, "hardware": [a.to_dict() for a in accs]})
        else:
            from ridgeline.render import hardware_table  # noqa: PLC0415

            hardware_table(accs, _console())
        return
    a = get_accelerator(name)
    if as_json:
        _emit({"schema_version": 1, "hardware": a.to_dict()})
    else:
        from ridgeline.render import hardware_detail  # noqa: PLC0415

        hardware_detail(a, _console())


def _wants_json(argv: list[str]) -> bool:
    return "--json" in (argv[:argv.index("--")] if "--" in argv else argv)


def _fail(message: str, as_json: bool, kind: str = "InputError", field: str | None = None) -> int:
    """Report a user error: one line on stderr, or (with --json) one JSON object on stdout. Status 2."""
    message = " ".join(message.split())
    if as_json:
        obj: dict[str, Any] = {"error": message, "type": kind}
        if field:
            obj["field"] = field
        sys.stdout.write(json.dumps(obj) + "\n")
    else:
        sys.stderr.write(f"error: {message}\n")
    return 2


def _quiet_stdout() -> None:
    """After a closed pipe (``ridgeline models | head -1``): point stdout at /dev/null so the
    interpreter's final flush cannot raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one line on stderr (or a JSON object on stdout with
    ``--json``) and exit status 2; a closed output pipe ends quietly."""
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = _wants_json(args)
    try:
        try:
            app(args=args, prog_name="ridgeline", standalone_mode=False)
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except InputError as e:
        return _fail(str(e), as_json, type(e).__name__, e.field_name)
    except RecursionError:
        return _fail("input is nested too deeply to be a real config, header or hardware file; check the file",
                     as_json, "InputError")
    except OSError as e:  # a path the OS refuses (name too long, symlink loop, permissions)
        what = f" ({str(e.filename)[:120]})" if e.filename else ""
        return _fail(f"cannot read{what}: {e.strerror or type(e).__name__}; check the path", as_json, "InputError")
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        sys.stderr.write("aborted\n")
        return 1
    except Exception as e:  # usage errors from typer's bundled click (or click itself)
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):
            if type(e).__name__ == "NoArgsIsHelpError":
                return 0
            return _fail(f"{e.format_message()} (see `ridgeline --help`)", as_json, "UsageError")
        raise
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
