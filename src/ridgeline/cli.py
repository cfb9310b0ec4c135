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
    batch: Annotated[str, typer.Option(help="Concurrent sequences, or 'max' for the most that fit at the context.")] = "1",
    context: Annotated[str, typer.Option(help="Tokens per sequence (prompt + output): 8192, 8k, 128k, or 'max' for the longest that fits at the batch. Default: --max-model-len if given, else min(4096, model max).")] = "",
    tp: Annotated[int, typer.Option(help="Tensor-parallel degree.")] = 1,
    pp: Annotated[int, typer.Option(help="Pipeline-parallel stages.")] = 1,
    prefill_chunk: Annotated[int, typer.Option(help="Tokens per prefill forward pass (sets the activation peak).")] = 8192,
    kv_convention: Annotated[str, typer.Option(help="engine (W-token windows, KV heads as stored) or transformers (the reference's DynamicCache).")] = "engine",
    mla_cache: Annotated[str, typer.Option(help="MLA cache layout: latent (engines, transformers 5.x) or expanded (per head).")] = "latent",
    keep: Annotated[Optional[str], typer.Option(help="Tensor roles left unquantized, comma-separated (default: embedding,lm_head,norm,bias,router,other; 'none' quantizes all).")] = None,
    unquantized: Annotated[Optional[str], typer.Option(help="Format of the kept tensors (default: checkpoint dtype or bf16).")] = None,
    runtime_overhead: Annotated[Optional[str], typer.Option(help="Per-device runtime overhead, e.g. 1GiB (default 0.75 GiB).")] = None,
    kv_fragmentation: Annotated[Optional[float], typer.Option(help="KV fragmentation fraction (default 0.04).")] = None,
    engine: Annotated[str, typer.Option(help="Whose memory rule sizes the KV pool: ideal (ridgeline's ledger), vllm, sglang, trtllm.")] = "ideal",
    memory_fraction: Annotated[Optional[float], typer.Option(help="vLLM gpu_memory_utilization / SGLang mem_fraction_static / TensorRT-LLM kv_cache_free_gpu_mem_fraction (default: the engine's).")] = None,
    max_model_len: Annotated[Optional[str], typer.Option(help="Engine's longest request in tokens (default: the model's maximum).")] = None,
    max_num_batched_tokens: Annotated[Optional[str], typer.Option(help="Engine's tokens per forward pass (vLLM; SGLang chunked prefill; TensorRT-LLM max_num_tokens).")] = None,
    max_num_seqs: Annotated[Optional[int], typer.Option(help="vLLM max_num_seqs (default: vLLM's for the device).")] = None,
    block_size: Annotated[Optional[int], typer.Option(help="Tokens per KV block (vLLM 16, 64 for MLA; SGLang page 1; TensorRT-LLM 32).")] = None,
    engine_version: Annotated[Optional[str], typer.Option(help="Engine version whose rule applies, e.g. 0.10.1 (default: the newest checked, vLLM 0.19).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Does MODEL fit on GPU? The per-device ledger, the fewest devices, the KV room in tokens.

    With --engine, the KV pool, token capacity and concurrency follow that engine's own rule and
    are named as its start-up log names them. On a checkpoint (a folder with safetensors files, or a
    .gguf file) and no --weights, the weight bytes are the exact sum over the stored tensors, read
    from the headers. Mamba and linear-attention layers add a fixed state per sequence (state_cache).
    """
    from ridgeline.analyses.fit import FitRequest, fit_request  # noqa: PLC0415

    result = fit_request(FitRequest(
        model=model, gpu=gpu, weights=weights, kv_dtype=kv_dtype, batch=batch, context=context or None, tp=tp, pp=pp,
        prefill_chunk=prefill_chunk, kv_convention=kv_convention, mla_cache=mla_cache, keep=keep,
        unquantized=unquantized, runtime_overhead=runtime_overhead, kv_fragmentation=kv_fragmentation, engine=engine,
        memory_fraction=memory_fraction, max_model_len=max_model_len, max_num_batched_tokens=max_num_batched_tokens,
        max_num_seqs=max_num_seqs, block_size=block_size, engine_version=engine_version))
    if as_json:
        from ridgeline.serialize import dumps  # noqa: PLC0415

        sys.stdout.write(dumps(result) + "\n")
    else:
        from ridgeline.render import fit_table  # noqa: PLC0415

        fit_table(result, _console())


@app.command()
def infer(
    model: Annotated[str, typer.Argument(help="Preset name, config.json path, checkpoint folder or hub id.")],
    gpu: Annotated[str, typer.Option("--gpu", "-g", help="Accelerator name or a .toml file.")] = "h100",
    batch: Annotated[str, typer.Option(help="Concurrent sequences, or 'max': the most the KV room holds "
                                            "(offline max-throughput mode).")] = "1",
    prompt: Annotated[str, typer.Option(help="Prompt tokens per request: 2048, 2k.")] = "1024",
    gen: Annotated[str, typer.Option(help="Generated tokens per request.")] = "128",
    tp: Annotated[int, typer.Option(help="Tensor-parallel degree.")] = 1,
    pp: Annotated[int, typer.Option(help="Pipeline-parallel stages.")] = 1,
    ep: Annotated[int, typer.Option(help="Expert parallelism: 1, or = tp to spread whole experts over the tp group.")] = 1,
    attention_dp: Annotated[bool, typer.Option("--attention-dp", help="Attention data-parallel over the tp group, experts expert-parallel (needs --ep = --tp).")] = False,
    weights: Annotated[Optional[str], typer.Option(help="Weight format (default: the checkpoint's).")] = None,
    kv_dtype: Annotated[Optional[str], typer.Option("--kv-dtype", help="KV-cache format.")] = None,
    act_dtype: Annotated[Optional[str], typer.Option("--act-dtype", help="Activation format (fp8 for W8A8).")] = None,
    mla_path: Annotated[str, typer.Option(help="MLA attention: absorbed (engines' decode) or naive.")] = "absorbed",
    engine: Annotated[str, typer.Option(help="Whose KV pool and batch limits --batch max uses: ideal, vllm, sglang, trtllm.")] = "ideal",
    engine_version: Annotated[Optional[str], typer.Option(help="Engine version whose rule applies (vLLM).")] = None,
    memory_fraction: Annotated[Optional[float], typer.Option(help="gpu_memory_utilization / mem_fraction_static / kv fraction.")] = None,
    eff_memory: Annotated[Optional[float], typer.Option(help="Override eff.memory (fraction of peak bandwidth).")] = None,
    eff_gemm: Annotated[Optional[float], typer.Option(help="Override eff.gemm (fraction of dense peak).")] = None,
    step_overhead: Annotated[Optional[str], typer.Option(help="Override overhead.step_s, e.g. 2ms.")] = None,
    sweep: Annotated[Optional[str], typer.Option(help="VAR=V1,V2,... or VAR=LO:HI (powers of 2); VAR in batch, prompt, gen, tp, gpu.")] = None,
    plot: Annotated[Optional[str], typer.Option(help="Write a PNG of throughput and TPOT against batch.")] = None,
    explain: Annotated[bool, typer.Option("--explain", help="Show every figure's formula, inputs and factor sources.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """How fast MODEL runs on GPU: TTFT, time per output token, throughput, and what bounds each step."""
    from ridgeline.analyses.infer import explain as explain_rows  # noqa: PLC0415
    from ridgeline.analyses.infer_request import InferRequest, kv_room, run_infer_request  # noqa: PLC0415
    from ridgeline.hardware.load import get_accelerator  # noqa: PLC0415
    from ridgeline.model.load import load_model  # noqa: PLC0415

    spec = load_model(model)
    hw = get_accelerator(gpu)
    if plot and sweep and not sweep.strip().lower().startswith("batch="):
        raise InputError("--plot draws a sweep over batch; use --sweep batch=... (or no --sweep)")
    req = InferRequest(batch=batch, prompt=prompt, gen=gen, tp=tp, pp=pp, ep=ep, attention_dp=attention_dp,
                       weights=weights, kv_dtype=kv_dtype, act_dtype=act_dtype, mla_path=mla_path, engine=engine,
                       engine_version=engine_version, memory_fraction=memory_fraction, eff_memory=eff_memory,
                       eff_gemm=eff_gemm, step_overhead=step_overhead,
                       sweep=sweep or ("batch=1:512" if plot else None), explain=explain)
    out = run_infer_request(spec, hw, req)
    if plot:
        from ridgeline.plots import batch_sweep_plot  # noqa: PLC0415

        batch_sweep_plot(out.result, plot, kv_room(spec, hw, req))
    if as_json:
        _emit(out.json)
        return
    if out.sweep_var:
        from ridgeline.render_time import sweep_table  # noqa: PLC0415

        sweep_table(out.sweep_var, out.sweep_values, out.rows, _console())
        if plot:
            _console().print(f"plot written to {plot}")
        return
    from ridgeline.render_time import explain_table, infer_table  # noqa: PLC0415

    infer_table(out.result, _console(), out.json["bound_reason"])
    if explain:
        explain_table(explain_rows(out.result), out.result.efficiencies.factors(), _console())


@app.command()
def roofline(
    gpu: Annotated[str, typer.Option("--gpu", "-g", help="Accelerator name or a .toml file.")] = "h100",
    model: Annotated[Optional[str], typer.Option(help="Place this model's prefill and decode operators on it.")] = None,
    batch: Annotated[int, typer.Option(help="Decode batch for the model's operators.")] = 1,
    prompt: Annotated[str, typer.Option(help="Prompt tokens (prefill) and cached context (decode).")] = "1024",
    tp: Annotated[int, typer.Option(help="Tensor-parallel degree.")] = 1,
    weights: Annotated[Optional[str], typer.Option(help="Weight format.")] = None,
    plot: Annotated[Optional[str], typer.Option(help="Write the roofline as a PNG.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The device's roofline: ridge points per format, and a model's operators placed on it."""
    from ridgeline.hardware.load import get_accelerator  # noqa: PLC0415
    from ridgeline.units import parse_tokens  # noqa: PLC0415

    hw = get_accelerator(gpu)
    peaks = {k: v for k, v in hw.peak_flops_per_s.items() if k != "fp64"}
    rows: list[dict] = []
    if model:
        from ridgeline.model.load import load_model  # noqa: PLC0415
        from ridgeline.ops import op_table  # noqa: PLC0415
        from ridgeline.timing import roofline as make_roofline  # noqa: PLC0415
        from ridgeline.workload import ParallelPlan, Precision  # noqa: PLC0415

        spec = load_model(model)
        S = parse_tokens(prompt, "--prompt")
        if batch < 1:
            raise InputError("--batch: must be at least 1")
        table = op_table(spec, Precision.build(spec, weights), ParallelPlan(tp))
        rf = make_roofline(table, hw)
        for phase, f in (("prefill", table.features(1, S, 0)), ("decode", table.features(batch, 1, S))):
            fl, by = table.evaluate(f)
            tc, tm = fl[:, None] * rf.inv_peak, by * rf.inv_bw
            for i, op in enumerate(table.ops):
                if fl[i] == 0 and by[i] == 0:
                    continue
                from ridgeline.timing import peak_for  # noqa: PLC0415

                rows.append({"phase": phase, "op": op.name + (f" [{op.layer_kind}]" if op.layer_kind else ""),
                             "layers": op.layers, "flops": float(fl[i]), "bytes": float(by[i]),
                             "peak_flops_per_s": peak_for(hw, op.compute)[0],
                             "intensity": float(fl[i] / by[i]) if by[i] else float("inf"),
                             "bound": "on-chip (fused)" if by[i] == 0 else ("compute" if tc[i, 0] > tm[i] else "memory")})
    if plot:
        from ridgeline.plots import roofline_plot  # noqa: PLC0415

        pts = [(r["op"].split(" ")[0], r["intensity"], min(r["peak_flops_per_s"], r["intensity"] * hw.mem_bw_bytes_per_s),
                r["phase"]) for r in rows if r["bytes"] > 0]
        roofline_plot(hw, pts, plot, peaks)
    if as_json:
        _emit({"schema_version": 1, "hardware": hw.id, "mem_bw_bytes_per_s": hw.mem_bw_bytes_per_s,
               "peaks": peaks, "ridge_points": {k: v / hw.mem_bw_bytes_per_s for k, v in peaks.items()},
               "operators": rows})
        return
    from ridgeline.render_time import roofline_table  # noqa: PLC0415

    roofline_table(hw, peaks, rows, _console())
    if plot:
        _console().print(f"plot written to {plot}")


@app.command()
def train(
    model: Annotated[str, typer.Argument(help="Preset name, config.json path, checkpoint folder or hub id.")],
    gpu: Annotated[str, typer.Option("--gpu", "-g", help="Accelerator name or a .toml file.")] = "h100",
    gpus: Annotated[str, typer.Option(help="Devices in all, or 'min': the fewest that hold the training state.")] = "8",
    tp: Annotated[int, typer.Option(help="Tensor-parallel degree.")] = 1,
    pp: Annotated[int, typer.Option(help="Pipeline-parallel stages.")] = 1,
    cp: Annotated[int, typer.Option(help="Context-parallel degree (sequence split over ranks).")] = 1,
    ep: Annotated[int, typer.Option(help="Expert-parallel degree (MoE; divides the data-parallel degree).")] = 1,
    zero: Annotated[int, typer.Option(help="ZeRO stage 0-3.")] = 0,
    fsdp: Annotated[Optional[str], typer.Option(help="FSDP sharding: full or hybrid (instead of --zero).")] = None,
    seq: Annotated[str, typer.Option(help="Sequence length in tokens: 4096, 8k.")] = "4096",
    micro_batch: Annotated[int, typer.Option("--micro-batch", help="Sequences per micro-batch per replica.")] = 1,
    global_batch: Annotated[Optional[int], typer.Option("--global-batch", help="Sequences per optimizer step (default: micro-batch x dp).")] = None,
    recompute: Annotated[str, typer.Option(help="Activation recomputation: none, selective or full.")] = "none",
    optimizer: Annotated[str, typer.Option(help="adamw, adam8bit, adafactor or sgd (with momentum).")] = "adamw",
    precision: Annotated[str, typer.Option(help="bf16-mixed (fp32 master), bf16 (pure), fp8 (fp8 matmuls) or fp32.")] = "bf16-mixed",
    lora_rank: Annotated[int, typer.Option("--lora-rank", help="LoRA rank r (0 = full fine-tune / pre-training).")] = 0,
    lora_modules: Annotated[str, typer.Option("--lora-modules", help="LoRA targets: all (every linear), attn, or qv.")] = "all",
    qlora: Annotated[bool, typer.Option("--qlora", help="Base weights in NF4 (QLoRA); needs --lora-rank.")] = False,
    virtual_stages: Annotated[int, typer.Option("--virtual-stages", help="Interleaved 1F1B: model chunks per device.")] = 1,
    no_sequence_parallel: Annotated[bool, typer.Option("--no-sequence-parallel", help="tp without Megatron sequence parallelism.")] = False,
    unfused_attention: Annotated[bool, typer.Option("--unfused-attention", help="Store the s x s attention scores (no FlashAttention).")] = False,
    dropout: Annotated[bool, typer.Option("--dropout", help="Count dropout masks (GPT-3-era recipes).")] = False,
    tokens: Annotated[Optional[str], typer.Option(help="Tokens to train on: 15T, 2e12 (time, GPU-hours, energy).")] = None,
    eff_gemm: Annotated[Optional[float], typer.Option(help="Override eff.gemm (fraction of dense peak).")] = None,
    explain: Annotated[bool, typer.Option("--explain", help="Show every figure's formula, inputs and factor sources.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Memory per device and time per step of training or fine-tuning MODEL on GPUS devices."""
    from ridgeline.analyses.train import explain as explain_rows, min_gpus, train as run_train, train_dict  # noqa: PLC0415
    from ridgeline.analyses.train_setup import TrainSetup  # noqa: PLC0415
    from ridgeline.analyses.train_time import train_efficiencies  # noqa: PLC0415
    from ridgeline.hardware.load import get_accelerator  # noqa: PLC0415
    from ridgeline.model.load import load_model  # noqa: PLC0415
    from ridgeline.units import parse_tokens  # noqa: PLC0415

    spec = load_model(model)
    hw = get_accelerator(gpu)
    S = parse_tokens(seq, "--seq")
    n_tokens = None
    if tokens is not None:
        n_tokens = _parse_count(tokens, "--tokens")
    find_min = gpus.strip().lower() == "min"
    G = tp * pp * cp if find_min else parse_tokens(gpus, "--gpus")
    eff = train_efficiencies(hw)
    if eff_gemm is not None:
        if not 0 < eff_gemm <= 1:
            raise InputError(f"--eff-gemm: must be in (0, 1], got {eff_gemm}")
        eff = eff.override(gemm=eff_gemm)
    setup = TrainSetup(gpus=G, tp=tp, pp=pp, cp=cp, ep=ep if not find_min else 1, zero=zero, fsdp=fsdp, seq=S,
                       micro_batch=micro_batch, global_batch=None if find_min else global_batch, recompute=recompute,
                       optimizer=optimizer, precision=precision, lora_rank=lora_rank, lora_modules=lora_modules,
                       qlora=qlora, sequence_parallel=not no_sequence_parallel, fused_attention=not unfused_attention,
                       dropout=dropout, virtual_stages=virtual_stages, tokens=n_tokens)
    n_min = None
    if find_min:
        n_min, setup, _ = min_gpus(spec, hw, setup)
    r = run_train(spec, hw, setup, eff)
    if as_json:
        d = train_dict(r)
        if n_min is not None:
            d["min_gpus"] = n_min
        if explain:
            d["explain"] = explain_rows(r)
        _emit(d)
        return
    from ridgeline.render_train import min_gpus_line, train_tables  # noqa: PLC0415

    con = _console()
    if n_min is not None:
        min_gpus_line(n_min, r, con)
    train_tables(r, con)
    if explain:
        from ridgeline.render_time import explain_table  # noqa: PLC0415

        from ridgeline.analyses.train import _factors  # noqa: PLC0415

        explain_table(explain_rows(r), _factors(r), con)


def _parse_count(text: str, field: str) -> float:
    """A large count with an SI suffix: 15T, 2.5e12, 300B (decimal)."""
    t = text.strip().upper().replace(",", "").replace("_", "")
    mult = {"K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12, "P": 1e15}
    try:
        v = float(t[:-1]) * mult[t[-1]] if t and t[-1] in mult else float(t)
    except ValueError:
        raise InputError(f"{field}: cannot read {text!r}; use a count such as 15T, 300B or 2e12") from None
    if not v > 0 or v != v or v > 1e18:
        raise InputError(f"{field}: must be a positive count below 1e18, got {text!r}")
    return v


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
    from ridgeline.model.load import check_path, find_preset, load_model  # noqa: PLC0415
    from ridgeline.model.params import count_params  # noqa: PLC0415

    path = check_path(name)  # one line for absurd names, symlink loops, dangling links
    kind = _stat_kind(path)
    if kind == "other":
        raise InputError(f"model: {name[:120]!r} is not a regular file or folder (a pipe, socket or device); "
                         "pass a config.json, a checkpoint folder or a preset name", field="model")
    gguf = None
    if kind == "file" and path.suffix.lower() == ".gguf":
        from ridgeline.model.gguf import inspect_gguf  # noqa: PLC0415

        gguf = inspect_gguf(path)  # stored bytes per ggml type, headers only
    if kind == "file" and path.suffix == ".safetensors":
        ck = inspect_checkpoint(path)
        if as_json:
            _emit({"schema_version": 1, "checkpoint": _ck_dict(ck)})
        else:
            from ridgeline.render import checkpoint_table  # noqa: PLC0415

            checkpoint_table(ck, _console())
        return
    ck = gguf
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
            "bytes": ck.total_bytes, "by_dtype": ck.by_dtype(),
            "bytes_by_role": ck.bytes_by_role() if hasattr(ck, "bytes_by_role") else None}


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


@app.command()
def fleet(
    model: Annotated[str, typer.Argument(help="Preset name, config.json path, checkpoint folder or hub id.")],
    tokens_per_day: Annotated[Optional[str], typer.Option(help="Demand: prompt + generated tokens per day (1e12, 16T, 2.5B).")] = None,
    requests_per_day: Annotated[Optional[str], typer.Option(help="Demand: requests per day, each of --prompt in and --gen out.")] = None,
    power: Annotated[Optional[str], typer.Option(help="Inverse: what a site of this facility power serves (5GW, 500MW).")] = None,
    gpu: Annotated[Optional[list[str]], typer.Option("--gpu", "-g", help="Accelerator (repeat to compare several).")] = None,
    prompt: Annotated[str, typer.Option(help="Prompt (input) tokens per request.")] = "1024",
    gen: Annotated[str, typer.Option(help="Generated (output) tokens per request.")] = "128",
    tp: Annotated[Optional[int], typer.Option(help="Tensor-parallel degree per replica (default: the fewest devices that fit).")] = None,
    pp: Annotated[int, typer.Option(help="Pipeline stages per replica (with --tp).")] = 1,
    weights: Annotated[Optional[str], typer.Option(help="Weight format (default: the checkpoint's).")] = None,
    kv_dtype: Annotated[Optional[str], typer.Option("--kv-dtype", help="KV-cache format.")] = None,
    ttft: Annotated[Optional[str], typer.Option(help="TTFT target (e.g. 500ms): pick the best batch meeting it.")] = None,
    tpot: Annotated[Optional[str], typer.Option(help="Time-per-output-token target (e.g. 50ms).")] = None,
    pue: Annotated[Optional[float], typer.Option(help="Facility PUE (default 1.56, Uptime Institute 2024 survey average).")] = None,
    power_utilisation: Annotated[Optional[float], typer.Option(help="Fraction of provisioned power drawn (default 0.77, POLCA).")] = None,
    host_overhead: Annotated[Optional[float], typer.Option(help="Server power / accelerator TDPs (default 1.82, DGX H100).")] = None,
    device_power: Annotated[Optional[float], typer.Option(help="Accelerator power in W (replaces the data file's TDP).")] = None,
    peak_to_average: Annotated[Optional[float], typer.Option(help="Peak demand / daily average (default 1: no peak allowance).")] = None,
    price_per_gpu_hour: Annotated[Optional[float], typer.Option(help="USD per device-hour (default: a dated figure where one exists).")] = None,
    capex: Annotated[Optional[float], typer.Option(help="Purchase cost per device in USD, amortised instead of an hourly price.")] = None,
    amortisation_years: Annotated[Optional[float], typer.Option(help="Years over which --capex is spread (default 5).")] = None,
    electricity_price: Annotated[Optional[float], typer.Option(help="USD per kWh of facility energy (with --capex).")] = None,
    eff_memory: Annotated[Optional[float], typer.Option(help="Override eff.memory (fraction of peak bandwidth).")] = None,
    eff_gemm: Annotated[Optional[float], typer.Option(help="Override eff.gemm (fraction of dense peak).")] = None,
    growth: Annotated[Optional[str], typer.Option(help="Demand growth per year, e.g. 2x.")] = None,
    years: Annotated[int, typer.Option(help="Years of growth to show (with --growth).")] = 5,
    plot: Annotated[Optional[str], typer.Option(help="Write a PNG: devices and facility power per year (with --growth) or per GPU.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """How many replicas, devices, watts and dollars a token demand needs; or what a site of P watts serves.

    Throughput per device is `infer`'s, at the largest batch the KV room holds (offline) or at the best
    batch meeting --ttft/--tpot. Every factor (PUE, utilisation, host overhead, peak-to-average, price)
    is named with its source in the output.
    """
    from ridgeline.analyses import fleet as F  # noqa: PLC0415
    from ridgeline.analyses import fleet_factors as FF  # noqa: PLC0415
    from ridgeline.hardware.load import get_accelerator  # noqa: PLC0415
    from ridgeline.model.load import load_model  # noqa: PLC0415
    from ridgeline.units import parse_seconds, parse_tokens  # noqa: PLC0415
    from ridgeline.workload import ParallelPlan, Precision  # noqa: PLC0415

    given = [n for n, v in (("--tokens-per-day", tokens_per_day), ("--requests-per-day", requests_per_day),
                            ("--power", power)) if v is not None]
    if len(given) != 1:
        raise InputError("fleet: give exactly one of --tokens-per-day, --requests-per-day or --power"
                         + (f" (got {', '.join(given)})" if given else ""), field="--tokens-per-day")
    if growth is not None and power is not None:
        raise InputError("--growth: grows a demand; use it with --tokens-per-day or --requests-per-day, not --power")
    if capex is not None and price_per_gpu_hour is not None:
        raise InputError("--capex: give either --capex or --price-per-gpu-hour, not both")
    spec = load_model(model)
    S, G = parse_tokens(prompt, "--prompt"), parse_tokens(gen, "--gen")
    if S < 1 or G < 1:
        raise InputError("--prompt/--gen: each must be at least 1 token")
    prec = Precision.build(spec, weights, kv_dtype)
    slo_ttft = parse_seconds(ttft, "--ttft") if ttft is not None else None
    slo_tpot = parse_seconds(tpot, "--tpot") if tpot is not None else None

    def user(name: str, v: float | None, lo: float, hi: float, flag: str, unit: str):
        if v is None:
            return None
        if not (lo < v <= hi):
            raise InputError(f"{flag}: must be in ({lo:g}, {hi:g}], got {v}")
        from ridgeline.factors import Factor  # noqa: PLC0415

        return Factor(name, float(v), unit, f"user override ({flag})")

    base = F.FleetFactors()
    over = {k: v for k, v in {
        "pue": user("facility.pue", pue, 0.99, 5, "--pue", FF.PUE.unit),
        "utilisation": user("power.utilisation", power_utilisation, 0, 1, "--power-utilisation", FF.POWER_UTILISATION.unit),
        "host_overhead": user("power.host_overhead", host_overhead, 0.99, 10, "--host-overhead", FF.HOST_OVERHEAD.unit),
        "peak_to_average": user("demand.peak_to_average", peak_to_average, 0.99, 1000, "--peak-to-average",
                                FF.PEAK_TO_AVERAGE.unit),
        "amortisation_years": user("capex.amortisation_years", amortisation_years, 0, 50, "--amortisation-years", "years"),
        "device_power": user("power.device_w", device_power, 0, 1e5, "--device-power", "W per accelerator"),
        "capex_per_device": user("capex.per_device", capex, 0, 1e9, "--capex", "USD per device"),
        "electricity_price": user("energy.price", electricity_price, 0, 100, "--electricity-price", "USD per kWh"),
    }.items() if v is not None}
    if "pue" in over and over["pue"].value < 1:
        raise InputError(f"--pue: a PUE is facility power / IT power, at least 1; got {pue}")
    from dataclasses import replace  # noqa: PLC0415

    from ridgeline.timing import Efficiencies  # noqa: PLC0415

    eff_over = {}
    for name, v in (("memory", eff_memory), ("gemm", eff_gemm)):
        if v is not None:
            if not 0 < v <= 1:
                raise InputError(f"--eff-{name}: must be in (0, 1], got {v}")
            eff_over[name] = v
    eff = Efficiencies().override(**eff_over) if eff_over else None
    results = []
    for name in (gpu or ["h100"]):
        hw = get_accelerator(name)
        plan = ParallelPlan(tp, pp) if tp is not None else (
            F.default_plan(spec, hw, S, G, prec) if pp == 1 else ParallelPlan(1, pp))
        plan.check(spec)
        factors = replace(base, **over, price_per_gpu_hour=None if capex is not None else
                          FF.price_factor(hw.id, price_per_gpu_hour))
        rep = F.choose_replica(spec, hw, S, G, prec, plan, eff, ttft_s=slo_ttft, tpot_s=slo_tpot)
        if power is not None:
            results.append(F.size_for_power(spec, rep, factors, F.parse_amount(power, "--power", "W")))
        else:
            results.append(F.size_for_demand(
                spec, rep, factors,
                tokens_per_day=F.parse_amount(tokens_per_day, "--tokens-per-day") if tokens_per_day else None,
                requests_per_day=F.parse_amount(requests_per_day, "--requests-per-day") if requests_per_day else None,
                growth_per_year=F.parse_growth(growth) if growth is not None else None, years=years))
    if plot:
        from ridgeline.plots_fleet import fleet_plot  # noqa: PLC0415

        fleet_plot(results, plot)
    if as_json:
        dicts = [F.fleet_dict(r) for r in results]
        _emit(dicts[0] if len(dicts) == 1 else {"schema_version": 1, "fleets": dicts})
        return
    from ridgeline.render_fleet import fleet_tables  # noqa: PLC0415

    fleet_tables(results, _console())
    if plot:
        _console().print(f"plot written to {plot}")


@app.command()
def trends(
    kind: Annotated[str, typer.Option(help="Devices: gpu, tpu or all (GPUs, TPUs and other accelerators).")] = "all",
    model: Annotated[str, typer.Option(help="Model whose batch-1 decode step is timed on each generation.")] = "llama-3.1-8b",
    plot: Annotated[Optional[str], typer.Option(help="Write a PNG: compute, bandwidth, capacity and links over the years, normalised.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """How the memory wall moved: growth per year of peak FLOP/s, memory bandwidth, capacity and links.

    Each vendor line is its record-setting devices (a device joins its line when its dense bf16/fp16
    peak beats every earlier one of the vendor). Growth is a log-linear least-squares fit over
    launch years, one slope shared by the lines (each line its own level).
    """
    from ridgeline.analyses.trends import trends as run_trends, trends_dict  # noqa: PLC0415

    r = run_trends(kind, model)
    if plot:
        from ridgeline.plots_fleet import trends_plot  # noqa: PLC0415

        trends_plot(r, plot)
    if as_json:
        _emit(trends_dict(r))
        return
    from ridgeline.render_fleet import trends_tables  # noqa: PLC0415

    trends_tables(r, _console())
    if plot:
        _console().print(f"plot written to {plot}")


@app.command()
def plan(
    model: Annotated[str, typer.Argument(help="Preset name, config.json path, checkpoint folder or hub id.")],
    prompt: Annotated[str, typer.Option(help="Prompt tokens per request: 2048, 2k.")] = "1024",
    gen: Annotated[str, typer.Option(help="Generated tokens per request.")] = "128",
    ttft: Annotated[str, typer.Option(help="Time-to-first-token SLO: 1s, 500ms.")] = "1s",
    tpot: Annotated[str, typer.Option(help="Time-per-output-token SLO: 50ms.")] = "50ms",
    rate: Annotated[Optional[str], typer.Option(help="Demand in requests per second.")] = None,
    tokens_per_day: Annotated[Optional[str], typer.Option(help="Demand in tokens per day, prompt + generated (as fleet counts them): 1e10.")] = None,
    gpu: Annotated[Optional[list[str]], typer.Option("--gpu", "-g", help="Device types to search (repeat or comma-separate; default: every device with a price, or every GPU/NPU/TPU for the other objectives).")] = None,
    max_gpus: Annotated[int, typer.Option(help="Most devices per replica (tp x pp).")] = 8,
    weights: Annotated[Optional[str], typer.Option(help="Weight formats to search, comma-separated (default: the checkpoint's and fp8).")] = None,
    kv_dtype: Annotated[Optional[str], typer.Option("--kv-dtype", help="KV-cache formats to search, comma-separated (default: the unquantized format and fp8).")] = None,
    engine: Annotated[str, typer.Option(help="Engine profiles whose KV pool and max_num_seqs cap the batch, comma-separated: ideal, vllm, sglang, trtllm.")] = "ideal",
    objective: Annotated[str, typer.Option(help="cost (USD per million output tokens), devices, power or throughput (per device).")] = "cost",
    disagg: Annotated[bool, typer.Option("--disagg", help="Also search disaggregated prefill and decode pools.")] = False,
    top: Annotated[int, typer.Option(help="How many configurations to show.")] = 5,
    price_per_gpu_hour: Annotated[Optional[str], typer.Option(help="USD per device-hour: one number for every device, or NAME=USD pairs (h100=2.5,b200=5); replaces the sourced table.")] = None,
    plot: Annotated[Optional[str], typer.Option(help="Write a PNG of the Pareto frontier (throughput per device vs tokens/s per user).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The cheapest deployment of MODEL that meets a TTFT and TPOT SLO: device type, devices, tp/pp/ep, formats, batch."""
    from ridgeline.analyses.plan import PlanRequest, plan_dict, plan_request  # noqa: PLC0415

    if plot:
        from ridgeline.plots_plan import check_plot_path  # noqa: PLC0415

        check_plot_path(plot)
    _, r = plan_request(PlanRequest(model, prompt, gen, ttft, tpot, rate, tokens_per_day, tuple(gpu or ()), max_gpus,
                                    weights, kv_dtype, engine, objective, disagg, top, price_per_gpu_hour,
                                    keep_points=bool(plot)))
    if plot:
        from ridgeline.plots_plan import pareto_plot  # noqa: PLC0415

        pareto_plot(r, plot)
    if as_json:
        _emit(plan_dict(r))
        return
    from ridgeline.render_plan import plan_table  # noqa: PLC0415

    plan_table(r, _console())
    if plot:
        _console().print(f"plot written to {plot}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind. Only 127.0.0.1 / localhost / ::1 unless --allow-remote.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 8000,
    allow_remote: Annotated[bool, typer.Option("--allow-remote", help="Allow binding a non-loopback address (the page has no authentication).")] = False,
) -> None:
    """A local web page with every answer (fit, infer, models, hardware) and its JSON API. Needs the web extra."""
    import ipaddress  # noqa: PLC0415

    loopback = host in ("localhost",)
    try:
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if not loopback and not allow_remote:
        raise InputError(f"--host: {host[:80]!r} is not a loopback address; the page has no authentication, so it "
                         "binds 127.0.0.1 by default. Pass --allow-remote to serve other machines on purpose", field="--host")
    if not 0 <= port <= 65535:
        raise InputError(f"--port: must be in 0..65535, got {port}")
    try:
        import uvicorn  # noqa: PLC0415

        from ridgeline.web.app import create_app  # noqa: PLC0415
    except ImportError as e:
        raise InputError(f"serve: the web extra is not installed ({e.name} missing); "
                         "run: pip install 'ridgeline[web]'") from None
    import socket  # noqa: PLC0415

    from ridgeline.web.api import warm  # noqa: PLC0415

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1" if host == "localhost" else host, port))
    except OSError as e:
        sock.close()
        raise InputError(f"--port: cannot listen on {host}:{port} ({e.strerror}); pass another --port "
                         "(0 picks a free one)") from None
    port = sock.getsockname()[1]
    warm()  # imports and caches before listening: the first answer is as fast as the others
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(f"ridgeline: serving on http://{shown}:{port}/ (Ctrl-C stops it)\n")
    sys.stderr.flush()
    uvicorn.Server(uvicorn.Config(create_app(), log_level="warning", lifespan="off")).run(sockets=[sock])


@app.command()
def measure(
    device: Annotated[str, typer.Option(help="cpu, or cuda when torch sees a GPU.")] = "cpu",
    quick: Annotated[bool, typer.Option("--quick", help="A seconds-long run (fewer, smaller cases).")] = False,
    out: Annotated[Optional[Path], typer.Option(help="Write the profile here (.toml, or .json); pass it as --gpu FILE.")] = None,
    threads: Annotated[int, typer.Option(help="Threads the timings use (1: the stable choice on shared cores).")] = 1,
    plot: Annotated[Optional[str], typer.Option(help="Write the measured roofline with its points as a PNG.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Measure this machine's roofline: bandwidth, GEMM/GEMV, attention, framework overhead; save a profile.

    Every timing: warm-up, repeats, min/median/max, a fixed thread count. The profile is a hardware file
    (`--gpu FILE` in every command) whose [measured] table `ridgeline validate --profile FILE` reads.
    """
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise InputError(f"--device: {device!r} is not known; use cpu or cuda")
    if not 1 <= threads <= 1024:
        raise InputError("--threads: give 1 to 1024 threads")
    if out is not None and out.suffix not in (".toml", ".json"):
        raise InputError(f"--out: {str(out)!r} must end in .toml or .json")
    if out is not None and not out.expanduser().parent.is_dir():
        raise InputError(f"--out: folder {str(out.parent)!r} does not exist; create it or choose another path")
    if device.startswith("cuda"):
        from ridgeline.measure.bench import _torch  # noqa: PLC0415

        if not _torch().cuda.is_available():
            raise InputError("--device cuda: torch sees no CUDA device here; use --device cpu")
    from rich.progress import Progress  # noqa: PLC0415
    from rich.console import Console  # noqa: PLC0415

    from ridgeline.measure.profile import to_toml, write_profile  # noqa: PLC0415
    from ridgeline.measure.run import run_measure  # noqa: PLC0415

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("measuring", total=1)

        def progress(label: str, done: int, total: int) -> None:
            bar.update(task, total=total, completed=done, description=label)

        prof = run_measure(device, threads, quick, progress)
    if out is not None:
        write_profile(prof, out.expanduser())
    if plot:
        from ridgeline.render_measure import plot_profile  # noqa: PLC0415

        plot_profile(prof, plot)
    if as_json:
        import tomllib  # noqa: PLC0415

        _emit(tomllib.loads(to_toml(prof)) | ({"written_to": str(out)} if out else {}))
        return
    from ridgeline.render_measure import measure_table  # noqa: PLC0415

    console = _console()
    measure_table(prof, console)
    if out is not None:
        console.print(f"profile written to {out}; use it as --gpu {out} or ridgeline validate --profile {out}")
    if plot:
        console.print(f"plot written to {plot}")


@app.command()
def validate(
    models: Annotated[Optional[list[str]], typer.Argument(help="Validation models (default: all; see the list in docs/validation/README.md).")] = None,
    profile: Annotated[Optional[str], typer.Option(help="Profile from `ridgeline measure --out FILE` (default: measure --quick now).")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="A seconds-long run: one tiny model, four points.")] = False,
    out: Annotated[Optional[Path], typer.Option(help="Write validation.csv, validation.png and validation.json here.")] = None,
    threads: Annotated[Optional[int], typer.Option(help="Threads (default: the profile's).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run real transformers models (random weights) and compare time and memory with the predictions.

    Prefill (logits_to_keep=1) and decode steps with the KV cache, over batch and context; predicted by
    `infer` and the memory ledger from the measured profile. Prints predicted, measured and the error
    per point, and the median and maximum absolute error per metric.
    """
    if out is not None and out.exists() and not out.is_dir():
        raise InputError(f"--out: {str(out)!r} is a file; give a folder")
    if threads is not None and not 1 <= threads <= 1024:
        raise InputError("--threads: give 1 to 1024 threads")
    if profile is not None and _stat_kind(Path(profile).expanduser()) != "file":
        raise InputError(f"--profile: {profile!r} is not a file; write one with `ridgeline measure --out FILE`")
    from rich.console import Console  # noqa: PLC0415

    from ridgeline.validate.harness import run_validation  # noqa: PLC0415

    err = Console(stderr=True)
    rep = run_validation(models or None, profile, quick, threads, lambda s: err.print(s, style="dim"))
    if out is not None:
        from ridgeline.render_measure import plot_validation, write_csv  # noqa: PLC0415

        out.mkdir(parents=True, exist_ok=True)
        write_csv(rep, out / "validation.csv")
        (out / "validation.json").write_text(json.dumps(rep.to_dict(), indent=1) + "\n", encoding="utf-8")
        plot_validation(rep, out / "validation.png")
    if as_json:
        _emit(rep.to_dict())
        return
    from ridgeline.render_measure import validate_table  # noqa: PLC0415

    console = _console()
    validate_table(rep, console)
    if out is not None:
        console.print(f"written to {out}/validation.csv, validation.json, validation.png")


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
