"""Rich tables for the CLI. The only module that formats numbers for people."""

from __future__ import annotations

import dataclasses

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from ridgeline.units import GB, MB, MiB, fmt_bytes, fmt_count, fmt_flops, fmt_gb, fmt_gib, fmt_rate


def _gbgib(b: float) -> tuple[str, str]:
    """Decimal and binary columns; terms under 0.01 GB show in MB / MiB rather than as a bare 0.00."""
    if b == 0 or abs(b) >= 0.01 * GB:
        return fmt_gb(b, 2), fmt_gib(b, 2)
    return f"{b / MB:,.2f} MB", f"{b / MiB:,.2f} MiB"


def _factor(f) -> str:
    if f.unit.startswith("bytes"):
        size = fmt_gib(f.value, 2) if f.value >= 0.1 * 2**30 or f.value == 0 else f"{f.value / MiB:g} MiB"
        return f"{f.name} = {size}{f.unit.removeprefix('bytes')}"
    if f.unit.startswith("fraction"):
        return f"{f.name} = {100 * f.value:g}%{f.unit.removeprefix('fraction')}"
    return f"{f.name} = {f.value:g} {f.unit}"


_ENGINE_NAMES = {"vllm": "vLLM", "sglang": "SGLang", "trtllm": "TensorRT-LLM"}
_FRACTION_NAMES = {"vllm": "gpu_memory_utilization", "sglang": "mem_fraction_static",
                   "trtllm": "kv_cache_free_gpu_mem_fraction"}


def _engine_lines(r, console: Console) -> None:
    """The engine's own start-up quantities, named as its log names them (GiB = 2^30 bytes, as engines print)."""
    a = r.engine_allocation
    gib = lambda b: f"{b / 2**30:.2f} GiB"  # noqa: E731
    rule = a.rule.split(": ", 1)[-1]
    console.print(f"[bold]{a.rule.split(':', 1)[0]}[/bold]: {rule}; {_FRACTION_NAMES[a.engine]} {a.memory_fraction:g} "
                  f"({a.memory_fraction_origin}) of {gib(a.device_total_bytes)}")
    t = Table(show_header=False, box=None, padding=(0, 2))
    t.add_column("quantity")
    t.add_column("value", justify="right")
    if a.engine == "vllm":
        t.add_row("Model loading took (weights per device)", gib(a.weights_bytes))
        t.add_row(f"Activation peak of the profiling run ({a.max_num_batched_tokens:,} tokens, "
                  f"{a.max_num_seqs:,} seqs)", gib(a.activation_peak_bytes))
        t.add_row("Non-torch memory", gib(a.other_bytes))
        t.add_row("Available KV cache memory", gib(a.available_kv_cache_bytes))
        t.add_row("GPU KV cache size", f"{a.max_kv_tokens:,} tokens")
        t.add_row(f"Maximum concurrency for {a.max_model_len:,} tokens per request", f"{a.max_concurrency:.2f}x")
    elif a.engine == "sglang":
        t.add_row("Load weight end: weights per device", gib(a.weights_bytes))
        t.add_row("Memory for the KV pool", gib(a.available_kv_cache_bytes))
        t.add_row("KV Cache is allocated. #tokens", f"{a.max_kv_tokens:,}")
        t.add_row(f"Requests of {a.max_model_len:,} tokens at once", f"{a.max_concurrency:.2f}")
    else:
        t.add_row("Weights per device", gib(a.weights_bytes))
        t.add_row(f"Runtime activation buffers ({a.max_num_batched_tokens:,} tokens)", gib(a.activation_peak_bytes))
        t.add_row("Free after load x fraction", gib(a.available_kv_cache_bytes))
        t.add_row("Allocated for max tokens in paged KV cache", f"{gib(a.kv_pool_bytes)} ({a.max_kv_tokens:,})")
        t.add_row(f"Requests of {a.max_model_len:,} tokens at once", f"{a.max_concurrency:.2f}")
    console.print(t)


def fit_table(r, console: Console) -> None:
    led = r.ledger
    cap = "datasheet" if r.hardware.capacity_basis == "memory_bytes" else "usable"
    title = (f"{r.model.name} on {r.plan.devices} x {r.hardware.name}  (tp={r.plan.tp}, pp={r.plan.pp}; "
             f"batch {r.workload.batch} x {r.workload.context_tokens:,} tokens; weights {r.precision.weights}, "
             f"KV {r.precision.kv})")
    console.print(title, style="bold")
    t = Table()
    t.add_column("per device", style="bold")
    t.add_column("GB", justify="right")
    t.add_column("GiB", justify="right")
    for term, b in led.per_device_terms.items():
        t.add_row(term, *_gbgib(b))
    t.add_section()
    t.add_row("total", *_gbgib(led.per_device_total_bytes), style="bold")
    t.add_row(f"capacity ({cap})", *_gbgib(r.capacity_bytes))
    t.add_row("headroom", *_gbgib(r.headroom_bytes), style="green" if r.headroom_bytes >= 0 else "red")
    console.print(t)
    if r.engine_allocation is not None:
        _engine_lines(r, console)
    verdict = "[green]fits[/green]" if r.fits else "[red]does not fit[/red]"
    who = "" if r.engine == "ideal" else f" under {_ENGINE_NAMES[r.engine]}'s rule"
    console.print(f"{verdict}{who} on {r.plan.devices} device(s).  ", end="")
    if r.min_devices is None:
        console.print("No plan up to 4096 devices fits.")
    else:
        p = r.min_devices_plan
        console.print(f"Fewest devices that fit: [bold]{r.min_devices}[/bold] (tp={p.tp}, pp={p.pp}).")
    kv = f"KV {fmt_bytes(r.kv_bytes_per_token)} per token"
    if r.kv_bytes_per_token_full_layers != r.kv_bytes_per_token:
        kv += (f" inside the sliding window, {fmt_bytes(r.kv_bytes_per_token_full_layers)} per token beyond it "
               "(full-attention layers only)")
    console.print(f"params {fmt_count(r.model.params_total)} total, {fmt_count(r.model.params_active)} active per "
                  f"token; {kv}; {fmt_bytes(r.kv_bytes_per_sequence)} per sequence of "
                  f"{r.workload.context_tokens:,} tokens"
                  + (f", plus {fmt_bytes(r.state_bytes_per_sequence)} of Mamba / linear-attention state"
                     if getattr(r, "state_bytes_per_sequence", 0) else "") + ".")
    if r.engine == "ideal":
        n = r.max_concurrent_sequences
        console.print(f"KV room beside the weights: {fmt_gib(r.kv_pool_bytes, 2)} per device = "
                      f"{r.max_kv_tokens:,} tokens; {n:,} sequence{'' if n == 1 else 's'} of "
                      f"{r.workload.context_tokens:,} tokens"
                      + (" (each with its state)" if getattr(r, "state_bytes_per_sequence", 0) else "") + ".")
    console.print("factors: " + "; ".join(_factor(f) for f in r.factors), style="dim")
    for n in r.notes:
        console.print(f"note: {n}", style="dim")


def _narrow_table(console: Console, title: str | None, columns: list[tuple[str, str, bool]],
                  rows: list[list[str]], drop_order: list[str]) -> Table:
    """A table whose ``keep`` columns (ids, exact counts) are never cut or wrapped: when the
    console is too narrow, whole optional columns go, in ``drop_order``, instead."""
    shown = [c[0] for c in columns]
    while True:
        t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
        for name, justify, keep in columns:
            if name in shown:
                t.add_column(name, justify=justify, no_wrap=keep, overflow="fold" if not keep else "ignore")
        for r in rows:
            t.add_row(*(v for (name, _, _), v in zip(columns, r) if name in shown))
        width = Measurement.get(console, console.options.update_width(100_000), t).maximum
        droppable = [c for c in drop_order if c in shown]
        if width <= console.width or not droppable:
            return t
        shown.remove(droppable[0])


_CHECK = {"verified_primary": "primary", "verified_secondary": "secondary", "unverified": "unverified",
          "metadata_differs": "differs", "derived": "derived"}


def models_table(rows, console: Console) -> None:
    cols = [("name", "left", True), ("exact count", "right", True), ("params", "right", False),
            ("active", "right", False), ("model_type", "left", False), ("config check", "left", False)]
    body = [[p.name, f"{pc.total:,}", fmt_count(pc.total), fmt_count(pc.active), p.model_type,
             _CHECK.get(p.verification, p.verification)] for p, pc in rows]
    console.print("ridgeline presets: verbatim config.json files; counts exact vs transformers 5.24", style="bold")
    t = _narrow_table(console, None, cols, body, ["config check", "model_type", "params", "active"])
    console.print(t)
    if any(c.header == "config check" for c in t.columns):
        console.print("config check: primary / secondary = config read in the model's own repository / in a "
                      "verbatim public copy; differs = the hub's metadata count differs.", style="dim")
    console.print("The source of every preset: `ridgeline models --json` or `ridgeline model NAME`.", style="dim")


def model_detail(spec, pc, console: Console, preset=None, checkpoint=None) -> None:
    a = spec.attention
    console.print(f"[bold]{spec.name}[/bold]  ({spec.model_type}; {spec.source})")
    kind = a.kind.upper()
    att = f"{kind}: {a.num_heads} heads, {a.num_kv_heads} KV heads, head_dim {a.head_dim}"
    if a.mla:
        m = a.mla
        att += (f"; q_lora {m.q_lora_rank}, kv_lora {m.kv_lora_rank}, rope {m.qk_rope_head_dim}, "
                f"nope {m.qk_nope_head_dim}, v {m.v_head_dim}")
    console.print(f"layers {spec.num_layers}, hidden {spec.hidden_size}, vocab {spec.vocab_size:,}, "
                  f"{'gated' if spec.mlp.gated else 'plain'} MLP {spec.mlp.intermediate_size}, {spec.norm}, "
                  f"tied embeddings: {spec.tie_word_embeddings}, dtype {spec.dtype}")
    console.print(att)
    if spec.sliding_window:
        console.print(f"sliding window {spec.sliding_window} on {spec.num_sliding_layers} of {spec.num_layers} layers")
    if spec.moe:
        m = spec.moe
        console.print(f"MoE: {m.num_experts} experts, top-{m.top_k}, expert width {m.expert_intermediate_size}, "
                      f"shared width {m.shared_intermediate_size}, {len(m.moe_layers)} MoE layers")
    t = Table(title="parameters by term (exact)")
    t.add_column("term")
    t.add_column("params", justify="right")
    t.add_column("active", justify="right")
    t.add_column("share", justify="right")
    for term, n in pc.by_term.items():
        t.add_row(term, f"{n:,}", f"{pc.active_by_term[term]:,}", f"{100 * n / pc.total:.2f}%")
    t.add_section()
    t.add_row("total", f"{pc.total:,}", f"{pc.active:,}", "100%", style="bold")
    console.print(t)
    if preset is not None and preset.published_params:
        pp = preset.published_params
        console.print(f"published: {pp.get('total'):,} ({pp.get('kind', '')}); source: {pp.get('source', '')}",
                      style="dim")
    if checkpoint is not None:
        checkpoint_table(checkpoint, console, pc.total)
    if spec.quant_method:
        kept = ", ".join(spec.quant_unconverted_roles or ()) or "-"
        console.print(f"quantization_config: weights stored as {spec.quant_method}; kept unquantized: {kept}")
    if spec.quant_problem:
        console.print(f"weights: {spec.quant_problem}", style="yellow")
    for n in spec.notes:
        console.print(f"note: {n}", style="dim")


def checkpoint_table(ck, console: Console, config_total: int | None = None) -> None:
    t = Table(title=f"checkpoint {ck.path} ({len(ck.files)} file(s), headers only)")
    for c in ("dtype", "tensors", "elements", "GB", "GiB"):
        t.add_column(c, justify="right" if c != "dtype" else "left")
    for dt, d in ck.by_dtype().items():
        t.add_row(dt, f"{d['tensors']:,}", f"{d['elements']:,}", *_gbgib(d["bytes"]))
    t.add_section()
    t.add_row("total", f"{len(ck.tensors):,}", f"{ck.num_elements:,}", *_gbgib(ck.total_bytes), style="bold")
    console.print(t)
    r = Table(title="stored bytes by tensor role (exact)")
    for c in ("role", "bytes", "GB", "GiB"):
        r.add_column(c, justify="right" if c != "role" else "left", no_wrap=c == "bytes")
    for role, b in ck.bytes_by_role().items():
        r.add_row(role, f"{b:,}", *_gbgib(b))
    console.print(r)
    if config_total is not None:
        diff = ck.num_elements - config_total
        if diff == 0:
            console.print("stored elements equal the config-derived parameter count exactly.")
        else:
            console.print(f"stored elements differ from the config-derived count by {diff:+,} "
                          "(packed quantized tensors, scales, rotary buffers or extra modules such as MTP).")


def hardware_table(accs, console: Console) -> None:
    cols = [("id", "left", True), ("memory", "right", True), ("bandwidth", "right", True), ("bf16", "right", False),
            ("fp8", "right", False), ("year", "right", False), ("TDP", "right", False), ("name", "left", False)]
    body = [[a.id, fmt_gb(a.memory_bytes, 0), fmt_rate(a.mem_bw_bytes_per_s),
             fmt_flops(a.peak("bf16")) if a.peak("bf16") else "-",
             fmt_flops(a.peak("fp8")) if a.peak("fp8") else "-", str(a.launch_year),
             f"{a.tdp_w:g} W" if a.tdp_w else "-", a.name] for a in accs]
    console.print("ridgeline accelerators: dense peaks; GB = 1e9 bytes", style="bold")
    console.print(_narrow_table(console, None, cols, body, ["name", "TDP", "year", "fp8", "bf16"]))
    console.print("Every number's source: `ridgeline hardware ID`.", style="dim")


def hardware_detail(a, console: Console) -> None:
    console.print(f"[bold]{a.name}[/bold]  (id {a.id}; aliases: {', '.join(a.aliases) or '-'}; {a.origin})")
    rows = [("memory_bytes", f"{fmt_gb(a.memory_bytes)} / {fmt_gib(a.memory_bytes)}")]
    for f in ("usable_memory_bytes", "driver_total_memory_bytes"):
        if getattr(a, f) is not None:
            rows.append((f, f"{fmt_gb(getattr(a, f), 2)} / {fmt_gib(getattr(a, f), 2)}"))
    if a.gpu_working_set_fraction is not None:
        rows.append(("gpu_working_set_fraction", f"{a.gpu_working_set_fraction:g} of RAM = {fmt_gib(a.usable_bytes)}"))
    rows.append(("mem_bw_bytes_per_s", fmt_rate(a.mem_bw_bytes_per_s)))
    rows += [(f"peak_flops_per_s.{k}", fmt_flops(v)) for k, v in a.peak_flops_per_s.items()]
    if a.tdp_w:
        rows.append(("tdp_w", f"{a.tdp_w:g} W"))
    if a.on_chip_bytes:
        rows.append(("on_chip_bytes", fmt_bytes(a.on_chip_bytes)))
    ic = a.interconnect
    for f in dataclasses.fields(ic):
        v = getattr(ic, f.name)
        if v is None:
            continue
        if f.name.endswith("_bytes_per_s_per_direction"):
            v = f"{fmt_rate(v)} per direction"
        elif f.name.endswith("_latency_s"):
            v = f"{v * 1e6:g} us"
        rows.append((f"interconnect.{f.name}", str(v)))
    # each distinct source printed once, below the table, and referred to by number
    sources: dict[str, int] = {}
    body = []
    for f, v in rows:
        src = a.source_of(f)
        ref = f"[{sources.setdefault(src, len(sources) + 1)}]" if src else "-"
        ver = a.verification_of(f)
        body.append([f, v, _CHECK.get(ver, ver), ref])
    cols = [("field", "left", False), ("value", "left", True), ("verified", "left", False), ("src", "right", True)]
    console.print(_narrow_table(console, None, cols, body, []))
    for src, i in sources.items():
        console.print(f"[{i}] {src}", markup=False, style="dim")
    ridge = a.peak("bf16") or a.peak("fp16")
    if ridge:
        console.print(f"critical arithmetic intensity (bf16 peak / bandwidth): {ridge / a.mem_bw_bytes_per_s:.0f} FLOP/byte")
