"""HTML shells of the pages: a labelled form whose fields mirror the CLI's options, and an empty
result area that ``static/app.js`` fills from the JSON API. Every asset is local (``/static/...``)."""

from __future__ import annotations

from html import escape

#: (name, label, kind, placeholder or default shown, help). kind: text | select:<a,b,c> | list:<datalist id>
Field = tuple[str, str, str, str, str]

FIT_FIELDS: tuple[Field, ...] = (
    ("model", "Model", "list:dl-models", "llama-3-70b", "A preset name (see Models)."),
    ("gpu", "Device", "list:dl-gpus", "h100", "An accelerator id or alias (see Hardware)."),
    ("weights", "Weights", "list:dl-formats", "checkpoint's", "bf16, fp8, int8, int4, awq, nf4, q4_k_m, ..."),
    ("kv_dtype", "KV cache", "list:dl-formats", "as weights", "Format of the KV cache."),
    ("batch", "Batch", "text", "1", "Concurrent sequences, or max."),
    ("context", "Context", "text", "min(4096, model max)", "Tokens per sequence: 8192, 8k, 128k, or max."),
    ("engine", "Engine", "select:ideal,vllm,sglang,trtllm", "ideal", "Whose memory rule sizes the KV pool."),
    ("tp", "Tensor parallel", "text", "1", "Tensor-parallel degree."),
    ("pp", "Pipeline stages", "text", "1", "Pipeline-parallel stages."),
    ("memory_fraction", "Memory fraction", "text", "engine's", "gpu_memory_utilization / mem_fraction_static."),
    ("max_model_len", "Max model len", "text", "model's", "Engine's longest request in tokens."),
)

INFER_FIELDS: tuple[Field, ...] = (
    ("model", "Model", "list:dl-models", "llama-3-70b", "A preset name (see Models)."),
    ("gpu", "Device", "list:dl-gpus", "h100", "An accelerator id or alias (see Hardware)."),
    ("batch", "Batch", "text", "1", "Concurrent requests, or max (offline max throughput)."),
    ("prompt", "Prompt tokens", "text", "1024", "Prompt tokens per request: 2048, 2k."),
    ("gen", "Generated tokens", "text", "128", "Generated tokens per request."),
    ("tp", "Tensor parallel", "text", "1", "Tensor-parallel degree."),
    ("pp", "Pipeline stages", "text", "1", "Pipeline-parallel stages."),
    ("ep", "Expert parallel", "text", "1", "1, or equal to tensor parallel."),
    ("weights", "Weights", "list:dl-formats", "checkpoint's", "Weight format."),
    ("kv_dtype", "KV cache", "list:dl-formats", "as weights", "KV-cache format."),
    ("act_dtype", "Activations", "list:dl-formats", "bf16", "fp8 for W8A8."),
    ("engine", "Engine", "select:ideal,vllm,sglang,trtllm", "ideal", "Whose KV pool batch max uses."),
    ("eff_memory", "eff.memory", "text", "0.8", "Fraction of peak bandwidth reached."),
    ("eff_gemm", "eff.gemm", "text", "0.5", "Fraction of dense peak reached by GEMMs."),
    ("step_overhead", "Step overhead", "text", "default", "Fixed time per step, e.g. 2ms."),
)

TRAIN_FIELDS: tuple[Field, ...] = (
    ("model", "Model", "list:dl-models", "llama-3.1-8b", "A preset name (see Models)."),
    ("gpu", "Device", "list:dl-gpus", "h100", "An accelerator id or alias (see Hardware)."),
    ("gpus", "Devices in all", "text", "8", "Or min: the fewest that hold the training state."),
    ("seq", "Sequence length", "text", "4096", "Tokens per sequence: 4096, 8k."),
    ("micro_batch", "Micro-batch", "text", "1", "Sequences per micro-batch per replica."),
    ("zero", "ZeRO stage", "select:0,1,2,3", "0", "ZeRO stage 0-3."),
    ("recompute", "Recompute", "select:none,selective,full", "none", "Activation recomputation."),
    ("precision", "Precision", "select:bf16-mixed,bf16,fp8,fp32", "bf16-mixed", "bf16-mixed keeps fp32 masters."),
    ("tp", "Tensor parallel", "text", "1", "Tensor-parallel degree."),
    ("pp", "Pipeline stages", "text", "1", "Pipeline-parallel stages."),
    ("cp", "Context parallel", "text", "1", "Sequence split over ranks."),
    ("ep", "Expert parallel", "text", "1", "MoE; divides the data-parallel degree."),
    ("fsdp", "FSDP", "select:,full,hybrid", "none", "FSDP sharding instead of ZeRO."),
    ("global_batch", "Global batch", "text", "micro-batch x dp", "Sequences per optimizer step."),
    ("optimizer", "Optimizer", "select:adamw,adam8bit,adafactor,sgd", "adamw", "sgd is with momentum."),
    ("lora_rank", "LoRA rank", "text", "0", "0 = full fine-tune / pre-training."),
    ("lora_modules", "LoRA targets", "select:all,attn,qv", "all", "Which linears get adapters."),
    ("qlora", "QLoRA", "select:false,true", "false", "Base weights in NF4; needs a LoRA rank."),
    ("virtual_stages", "Virtual stages", "text", "1", "Interleaved 1F1B: model chunks per device."),
    ("tokens", "Tokens to train on", "text", "none", "15T, 2e12: time, GPU-hours, energy."),
    ("eff_gemm", "eff.gemm", "text", "fitted", "Fraction of dense peak (training)."),
    ("no_sequence_parallel", "No sequence parallel", "select:false,true", "false", "tp without Megatron SP."),
    ("unfused_attention", "Unfused attention", "select:false,true", "false", "Store the s x s scores."),
    ("dropout", "Dropout masks", "select:false,true", "false", "GPT-3-era recipes."),
)

PLAN_FIELDS: tuple[Field, ...] = (
    ("model", "Model", "list:dl-models", "llama-3-70b", "A preset name (see Models)."),
    ("prompt", "Prompt tokens", "text", "1024", "Prompt tokens per request: 2048, 2k."),
    ("gen", "Generated tokens", "text", "128", "Generated tokens per request."),
    ("ttft", "TTFT SLO", "text", "1s", "Time to first token: 1s, 500ms."),
    ("tpot", "TPOT SLO", "text", "50ms", "Time per output token."),
    ("objective", "Objective", "select:cost,devices,power,throughput", "cost", "What the ranking minimises."),
    ("gpu", "Devices searched", "text", "every priced device", "Comma-separated ids or aliases."),
    ("rate", "Requests/s", "text", "none", "Demand; or tokens per day below."),
    ("tokens_per_day", "Tokens per day", "text", "none", "Prompt + generated tokens: 1e10."),
    ("max_gpus", "Max devices per replica", "text", "8", "tp x pp, at most 64 here."),
    ("weights", "Weight formats", "text", "checkpoint's, fp8", "Comma-separated."),
    ("kv_dtype", "KV formats", "text", "unquantized, fp8", "Comma-separated."),
    ("engine", "Engines", "text", "ideal", "ideal, vllm, sglang, trtllm (comma-separated)."),
    ("disagg", "Disaggregated", "select:false,true", "false", "Also search prefill/decode pools."),
    ("top", "Top", "text", "5", "Configurations shown."),
    ("price_per_gpu_hour", "USD per device-hour", "text", "sourced table", "2.5, or h100=2.5,b200=5."),
)

MODEL_FIELDS: tuple[Field, ...] = (
    ("name", "Model", "list:dl-models", "all presets", "A preset name; leave empty for the list."),
)

HARDWARE_FIELDS: tuple[Field, ...] = (
    ("name", "Device", "list:dl-gpus", "all devices", "An accelerator id or alias; empty for the list."),
)

PAGES = {
    "fit": ("Fit", "Does the model fit? Memory per device, the fewest devices, the KV room.", FIT_FIELDS),
    "infer": ("Infer", "How fast: TTFT, time per output token, throughput, and what bounds each step.", INFER_FIELDS),
    "train": ("Train", "Memory per device and time per step of training or fine-tuning, with every figure's source.",
              TRAIN_FIELDS),
    "plan": ("Plan", "The cheapest deployment that meets a TTFT and TPOT SLO: the ranked table and the Pareto frontier.",
             PLAN_FIELDS),
    "model": ("Models", "A model's shape and exact parameter count, with the source of its config.", MODEL_FIELDS),
    "hardware": ("Hardware", "Accelerators: capacity, bandwidth, peaks and links, each with its source.",
                 HARDWARE_FIELDS),
}

#: Fields shown at once; the rest sit in a "More options" disclosure.
_PRIMARY = 8


def _field(f: Field) -> str:
    name, label, kind, shown, help_ = f
    fid, eid, hid = f"f-{name}", f"e-{name}", f"h-{name}"
    common = (f'id="{fid}" name="{name}" aria-describedby="{hid} {eid}" autocomplete="off" '
              f'spellcheck="false" autocapitalize="off"')
    if kind.startswith("select:"):
        opts = "".join(f'<option value="{escape(o)}">{escape(o or shown)}</option>' for o in kind[7:].split(","))
        control = f"<select {common}>{opts}</select>"
    else:
        lst = f' list="{kind[5:]}"' if kind.startswith("list:") else ""
        control = f'<input type="text" {common}{lst} placeholder="{escape(shown)}" maxlength="4096">'
    return (f'<div class="field" data-field="{name}"><label for="{fid}">{escape(label)}</label>{control}'
            f'<small id="{hid}" class="help">{escape(help_)}</small>'
            f'<p id="{eid}" class="err" role="alert" hidden></p></div>')


#: Inputs that stay in the page (too large for a URL): a pasted config.json and a device TOML.
_PASTE = """<details class="more" id="paste"><summary>Your own config.json or device</summary>
<p class="help">Validated exactly as the CLI validates a config.json or a hardware .toml file. It stays in this
tab: a shared link carries the other fields only.</p>
<div class="grid wide">
<div class="field" data-field="config"><label for="f-config">config.json (replaces the model)</label>
<textarea id="f-config" name="config" data-local="1" rows="5" spellcheck="false" aria-describedby="e-config"
placeholder='{"model_type": "llama", "hidden_size": 4096, ...}'></textarea>
<label for="f-config-file" class="file">or read a file</label>
<input type="file" id="f-config-file" data-target="f-config" accept=".json,application/json">
<p id="e-config" class="err" role="alert" hidden></p></div>
<div class="field" data-field="hardware"><label for="f-hardware">Device TOML (replaces the device)</label>
<textarea id="f-hardware" name="hardware" data-local="1" rows="5" spellcheck="false" aria-describedby="e-hardware"
placeholder="id = 'my-gpu' ... (the schema of hardware/data/h100-sxm.toml)"></textarea>
<label for="f-hardware-file" class="file">or read a file</label>
<input type="file" id="f-hardware-file" data-target="f-hardware" accept=".toml">
<p id="e-hardware" class="err" role="alert" hidden></p></div>
</div></details>"""


def _datalists(options: dict) -> str:
    models = "".join(f'<option value="{escape(m)}"></option>' for m in options["models"])
    gpus = "".join(f'<option value="{escape(g["id"])}">{escape(g["name"])}</option>' for g in options["gpus"])
    fmts = "".join(f'<option value="{escape(f)}"></option>' for f in options["formats"])
    return (f'<datalist id="dl-models">{models}</datalist><datalist id="dl-gpus">{gpus}</datalist>'
            f'<datalist id="dl-formats">{fmts}</datalist>')


def render_page(page: str, options: dict) -> str:
    """The HTML of one page (no user input goes into it: the script reads the URL)."""
    title, lede, fields = PAGES[page]
    current = ' aria-current="page"'
    nav = "".join(f'<a href="/{p}"{current if p == page else ""}>{escape(PAGES[p][0])}</a>' for p in PAGES)
    head, rest = fields[:_PRIMARY], fields[_PRIMARY:]
    body = "".join(_field(f) for f in head)
    if rest:
        body += ('<details class="more"><summary>More options</summary><div class="grid">'
                 + "".join(_field(f) for f in rest) + "</div></details>")
    if page in ("fit", "infer", "train"):
        body += _PASTE
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>ridgeline · {escape(title)}</title>
<link rel="icon" href="/static/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/app.css">
</head>
<body data-page="{page}">
<a class="skip" href="#result">Skip to the result</a>
<header><a class="brand" href="/fit">ridgeline</a><nav aria-label="Pages">{nav}</nav></header>
<main>
<h1>{escape(title)}</h1>
<p class="lede">{escape(lede)}</p>
<div class="layout">
<form id="form" class="inputs" novalidate aria-label="{escape(title)} inputs">
<div class="grid">{body}</div>
<p id="e-form" class="err" role="alert" hidden></p>
</form>
<section id="result" aria-live="polite" tabindex="-1"></section>
</div>
</main>
<footer><span id="timing"></span> · every number comes from the same core as the <code>ridgeline</code> CLI;
the JSON behind this page: <a id="api-link" href="/api/{page}">/api/{page}</a></footer>
{_datalists(options)}
<script src="/static/train_plan.js" defer></script>
<script src="/static/app.js" defer></script>
</body>
</html>
"""
