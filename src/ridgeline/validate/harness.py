"""``ridgeline validate``: real transformers models with random weights, timed and weighed, against
ridgeline's predictions from a measured profile.

Per model (the real Llama, Qwen, Mixtral and Gemma classes; configs scaled to this machine, built
from a config dict, nothing downloaded):

Time is the process's CPU time (``time.process_time``, one thread; see ridgeline.measure.bench): on
a shared machine it leaves out the time the scheduler gives to other processes.

- decode: a KV cache of B x C tokens is filled (constant values: no prefill needed to reach a long
  context), then decode steps ``model(next_ids, cache=cache, use_cache=True, logits_to_keep=1)`` are
  timed (warm-up, repeats, min). Predicted: ``infer(...).decode_step_time_s`` at C cached tokens.
- prefill: ``model(ids[B, S], use_cache=True, logits_to_keep=1)`` timed the same way (points above a
  FLOP budget are skipped so a run stays minutes long). Predicted: ``infer(...).ttft_s``.
- memory: the bytes of tensors held (parameters + cache, ``numel * element_size``) against the
  ledger's weights + KV; and the process peak (VmHWM, reset before each step, minus the resident
  size before the model was built) against the ledger's weights + KV + activations + logits.

Errors are (predicted - measured) / measured. The summary gives the median and maximum absolute
error per metric.
"""

from __future__ import annotations

import gc
import math
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

#: Configs scaled to this machine (0.1 to 1.1 B parameters): config.json dicts, fp32.
MODELS: dict[str, dict[str, Any]] = {
    "llama-0.1b": {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 768,
                   "intermediate_size": 2048, "num_hidden_layers": 12, "num_attention_heads": 12,
                   "num_key_value_heads": 4, "vocab_size": 32000, "max_position_embeddings": 4096,
                   "tie_word_embeddings": False},
    "qwen3-0.3b": {"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"], "hidden_size": 1024,
                   "intermediate_size": 3072, "num_hidden_layers": 20, "num_attention_heads": 16,
                   "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 32000, "max_position_embeddings": 4096,
                   "tie_word_embeddings": True},
    "llama-1.1b": {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 2048,
                   "intermediate_size": 5632, "num_hidden_layers": 22, "num_attention_heads": 32,
                   "num_key_value_heads": 4, "vocab_size": 32000, "max_position_embeddings": 4096,
                   "tie_word_embeddings": False},
    "mixtral-0.1b": {"model_type": "mixtral", "architectures": ["MixtralForCausalLM"], "hidden_size": 512,
                     "intermediate_size": 1024, "num_hidden_layers": 8, "num_attention_heads": 8,
                     "num_key_value_heads": 4, "num_local_experts": 8, "num_experts_per_tok": 2,
                     "vocab_size": 32000, "max_position_embeddings": 4096, "tie_word_embeddings": False},
    "gemma-0.1b": {"model_type": "gemma", "architectures": ["GemmaForCausalLM"], "hidden_size": 768,
                   "intermediate_size": 3072, "num_hidden_layers": 8, "num_attention_heads": 8,
                   "num_key_value_heads": 1, "head_dim": 128, "vocab_size": 32000, "max_position_embeddings": 4096},
    # --quick (tests): seconds, not minutes
    "tiny-llama": {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 256,
                   "intermediate_size": 688, "num_hidden_layers": 4, "num_attention_heads": 4,
                   "num_key_value_heads": 2, "vocab_size": 4096, "max_position_embeddings": 1024,
                   "tie_word_embeddings": False},
}
#: The three sizes the targets are judged on; the other families run a smaller grid.
MAIN_MODELS = ("llama-0.1b", "qwen3-0.3b", "llama-1.1b")
EXTRA_MODELS = ("mixtral-0.1b", "gemma-0.1b")


@dataclass(frozen=True)
class Grid:
    decode: tuple[tuple[int, int], ...]
    """(batch, cached tokens) of the decode points."""
    prefill: tuple[tuple[int, int], ...]
    """(batch, prompt tokens) of the prefill points."""
    prefill_flop_budget: float = 1.5e12
    """Prefill points whose forward pass exceeds this many FLOPs are skipped (run time)."""
    repeats: int = 3


FULL_GRID = Grid(decode=tuple((b, c) for b in (1, 8, 32) for c in (128, 512, 2048)),
                 prefill=((1, 128), (1, 512), (1, 2048), (4, 512), (8, 128), (32, 128)))
EXTRA_GRID = Grid(decode=((1, 128), (8, 512), (32, 2048)), prefill=((1, 128), (1, 512), (8, 128)))
QUICK_GRID = Grid(decode=((1, 32), (4, 128)), prefill=((1, 32), (2, 64)), repeats=2)

METRICS = ("decode_step_s", "prefill_s", "peak_memory_bytes", "tensor_bytes", "process_peak_bytes")


@dataclass(frozen=True)
class Point:
    """One measured configuration and its prediction."""

    model: str
    phase: str
    """decode or prefill."""
    batch: int
    tokens: int
    """Cached tokens (decode) or prompt tokens (prefill)."""
    params: int
    measured_s: float
    """Best (min) time of the step over the repeats."""
    measured_median_s: float
    predicted_s: float
    predicted_ideal_s: float
    """The bare roofline at the profile's peaks (no framework factors)."""
    measured_tensor_bytes: float
    """Parameters + cache after the step: sum of numel * element_size."""
    predicted_tensor_bytes: float
    measured_peak_bytes: float
    """Peak bytes of live tensors during the step: those held before it (parameters, cache; exact) plus the
    peak the step allocates above them (see peak_tensor_bytes)."""
    predicted_peak_bytes: float
    """The ledger: weights + KV cache + activations of the step's tokens + logits (no runtime overhead)."""
    measured_process_bytes: float
    """Process peak resident size during the step (VmHWM), minus the resident size of the process without
    the model. Above the tensor peak by what the C allocator keeps (freed heap chunks); no target."""
    bound: str
    """What the model says bounds the step."""

    def error(self, metric: str) -> float:
        m, p = {"decode_step_s": (self.measured_s, self.predicted_s), "prefill_s": (self.measured_s, self.predicted_s),
                "peak_memory_bytes": (self.measured_peak_bytes, self.predicted_peak_bytes),
                "tensor_bytes": (self.measured_tensor_bytes, self.predicted_tensor_bytes),
                "process_peak_bytes": (self.measured_process_bytes, self.predicted_peak_bytes)}[metric]
        return (p - m) / m

    def metrics(self) -> tuple[str, ...]:
        return ("decode_step_s" if self.phase == "decode" else "prefill_s", "peak_memory_bytes", "tensor_bytes",
                "process_peak_bytes")


@dataclass(frozen=True)
class Summary:
    metric: str
    points: int
    median_abs_error: float
    max_abs_error: float
    target: float | None
    """The issue's target for the median absolute error (None: no target)."""

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.median_abs_error <= self.target


#: Targets (issue 13): decode within 10%, prefill within 15%, peak tensor memory within 5%.
TARGETS = {"decode_step_s": 0.10, "prefill_s": 0.15, "peak_memory_bytes": 0.05, "tensor_bytes": 0.0,
           "process_peak_bytes": None}


@dataclass(frozen=True)
class Report:
    points: tuple[Point, ...]
    summary: tuple[Summary, ...]
    profile: dict[str, Any]
    """The [measured] table's summary figures (no raw rows) and where the profile came from."""
    factors: tuple[dict, ...]
    machine: dict[str, str]
    software: dict[str, str]
    quick: bool
    seconds: float
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {"schema_version": 1, "quick": self.quick, "seconds": self.seconds, "machine": self.machine,
                "software": self.software, "profile": self.profile, "factors": list(self.factors),
                "summary": [asdict(s) | {"met": s.met} for s in self.summary],
                "points": [asdict(p) | {"errors": {m: p.error(m) for m in p.metrics()}} for p in self.points],
                "notes": list(self.notes)}


def summarize(points: list[Point]) -> tuple[Summary, ...]:
    out = []
    for metric in METRICS:
        errs = [abs(p.error(metric)) for p in points if metric in p.metrics()]
        if errs:
            out.append(Summary(metric, len(errs), statistics.median(errs), max(errs), TARGETS.get(metric)))
    return tuple(out)


# -- process memory --------------------------------------------------------------------------------

def _status_kib(key: str) -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        m = re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.M)
    return float(m.group(1)) * 1024 if m else float("nan")


def _release() -> None:
    """Free what Python and the C heap hold, so the resident size reflects live tensors."""
    gc.collect()
    try:
        import ctypes  # noqa: PLC0415

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - non-glibc
        pass


class _MallInfo2:
    """glibc's mallinfo2(): bytes the C allocator has handed out and not had back (glibc >= 2.33)."""

    def __init__(self):
        import ctypes  # noqa: PLC0415

        class S(ctypes.Structure):
            _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                        "fsmblks", "uordblks", "fordblks", "keepcost")]

        self.fn = ctypes.CDLL("libc.so.6").mallinfo2
        self.fn.restype = S

    def live_bytes(self) -> int:
        m = self.fn()
        return m.uordblks + m.hblkhd  # in use in the heap + in mmapped chunks (large tensors)


def peak_tensor_bytes(torch, step: Callable[[], object]) -> float:
    """Peak of the bytes allocated (and not freed) during ``step()``, above those allocated before it.

    Sampled after every torch op through a dispatch mode, from glibc's ``mallinfo2`` (bytes handed out,
    not what the allocator keeps resident): the live tensors at each op boundary, plus negligible small
    Python allocations. Workspaces an op frees before it returns are not seen. Run apart from the timed
    steps (the mode slows each op a little). NaN where mallinfo2 is missing (not glibc).
    """
    try:
        info = _MallInfo2()
    except (OSError, AttributeError):  # pragma: no cover - non-glibc
        return float("nan")
    from torch.utils._python_dispatch import TorchDispatchMode  # noqa: PLC0415

    base = info.live_bytes()
    peak = [0]

    class Sampler(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            peak[0] = max(peak[0], info.live_bytes() - base)
            return out

    with Sampler():
        step()
    peak[0] = max(peak[0], info.live_bytes() - base)
    return float(peak[0])


def _reset_peak() -> bool:
    """Reset VmHWM to the current resident size (Linux >= 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


# -- predictions -----------------------------------------------------------------------------------

def predict(spec, hw, eff, phase: str, batch: int, tokens: int):
    """(predicted time, ideal time, bound, predicted tensor bytes, predicted peak bytes) of one point."""
    from ridgeline.analyses.infer import infer  # noqa: PLC0415
    from ridgeline.analyses.memory import Overheads, inference_ledger  # noqa: PLC0415
    from ridgeline.model.kv import KVLayout  # noqa: PLC0415
    from ridgeline.workload import InferenceWorkload, ParallelPlan, Precision  # noqa: PLC0415

    prec = Precision.build(spec)
    if phase == "decode":
        r = infer(spec, hw, batch=batch, prompt_tokens=tokens, gen_tokens=2, prec=prec, eff=eff)
        t, ideal, bound, ctx, step_tokens = r.decode_step_time_s, r.ideal["decode_step_time_s"], r.bound, tokens + 1, batch
    else:
        r = infer(spec, hw, batch=batch, prompt_tokens=tokens, gen_tokens=1, prec=prec, eff=eff)
        t, ideal, bound, ctx, step_tokens = r.ttft_s, r.ideal["ttft_s"], r.prefill_bound, tokens, batch * tokens
    # the ledger on one CPU: no CUDA context, no paged-cache fragmentation; transformers' cache layout
    zero = Overheads()
    zero = Overheads(zero.runtime.with_value(0.0, "CPU: no device runtime"),
                     zero.kv_fragmentation.with_value(0.0, "DynamicCache: exact tensors"))
    wl = InferenceWorkload(batch=batch, context_tokens=ctx, prefill_chunk_tokens=step_tokens)
    led = inference_ledger(spec, wl, prec, ParallelPlan(), KVLayout(convention="transformers"), zero)
    tensors = led.weights_bytes + led.kv_cache_bytes
    return float(t), float(ideal), str(bound), float(tensors), float(led.per_device_total_bytes)


# -- running the models ----------------------------------------------------------------------------

def _flops_estimate(params: int, batch: int, tokens: int) -> float:
    return 2.0 * params * batch * tokens


def build_model(cfg: dict[str, Any]):
    """The transformers model for ``cfg`` with random weights, fp32, eval mode (nothing downloaded)."""
    from ridgeline.validate.reference import _imports, hf_config, model_class  # noqa: PLC0415

    torch, _ = _imports()
    c = hf_config(cfg)
    torch.manual_seed(0)
    model = model_class(cfg)._from_config(c, dtype=torch.float32)
    return model.eval()


def _fill_cache(torch, model, batch: int, tokens: int):
    """A DynamicCache holding ``tokens`` tokens per sequence in every layer (constant values)."""
    from transformers import DynamicCache  # noqa: PLC0415

    cfg = model.config
    kv = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
    hd = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    cache = DynamicCache(config=cfg)
    for i in range(cfg.num_hidden_layers):
        k = torch.full((batch, kv, tokens, hd), 0.01, dtype=torch.float32)
        v = torch.full((batch, kv, tokens, hd), 0.01, dtype=torch.float32)
        cache.update(k, v, i)
    return cache


def _tensor_bytes(model, cache) -> float:
    from ridgeline.validate.reference import cache_bytes  # noqa: PLC0415

    params = sum(p.numel() * p.element_size() for p in model.parameters())
    return float(params + (cache_bytes(cache) if cache is not None else 0))


def _time_decode(torch, model, batch: int, tokens: int, repeats: int):
    """(min s, median s, tensor bytes, process peak resident bytes) of decode steps from C cached tokens."""
    ids = torch.randint(0, model.config.vocab_size, (batch, 1))
    times, peak, tensors = [], 0.0, 0.0
    with torch.no_grad():
        for i in range(repeats + 1):
            cache = _fill_cache(torch, model, batch, tokens)  # every step from C cached tokens
            _release()
            _reset_peak()
            t0 = time.process_time()
            out = model(input_ids=ids, cache=cache, use_cache=True, logits_to_keep=1)
            dt = time.process_time() - t0
            if i:  # the first step warms up
                times.append(dt)
            peak = max(peak, _status_kib("VmHWM"))
            tensors = _tensor_bytes(model, out.cache)
            del out, cache
        st = {"cache": _fill_cache(torch, model, batch, tokens)}
        held = _tensor_bytes(model, st["cache"])
        delta = peak_tensor_bytes(torch, lambda: st.update(
            cache=model(input_ids=ids, cache=st["cache"], use_cache=True, logits_to_keep=1).cache))
        st.clear()  # drop the cache before the next point
    return min(times), statistics.median(times), tensors, peak, held + delta


def _time_prefill(torch, model, batch: int, tokens: int, repeats: int):
    ids = torch.randint(0, model.config.vocab_size, (batch, tokens))
    times, peak, tensors = [], 0.0, 0.0
    with torch.no_grad():
        model(input_ids=ids[:1, :8], use_cache=True, logits_to_keep=1)  # warm-up on a short prompt
        for _ in range(repeats):
            _release()
            _reset_peak()
            t0 = time.process_time()
            out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
            times.append(time.process_time() - t0)
            peak = max(peak, _status_kib("VmHWM"))
            tensors = _tensor_bytes(model, out.cache)
            del out
        delta = peak_tensor_bytes(torch, lambda: model(input_ids=ids, use_cache=True, logits_to_keep=1))
    return min(times), statistics.median(times), tensors, peak, _tensor_bytes(model, None) + delta


def validate_model(name: str, cfg: dict[str, Any], grid: Grid, hw, eff, progress: Callable[[str], None] | None = None,
                   threads: int = 1) -> list[Point]:
    """Every grid point of one model: measured and predicted."""
    from ridgeline.model.hf import spec_from_config  # noqa: PLC0415
    from ridgeline.validate.reference import _imports  # noqa: PLC0415

    torch, _ = _imports()
    torch.set_num_threads(threads)
    spec = spec_from_config(dict(cfg, dtype="float32"), name=name, source="ridgeline.validate.harness.MODELS")
    model = build_model(cfg)
    params = sum(p.numel() for p in model.parameters())
    weights = float(sum(p.numel() * p.element_size() for p in model.parameters()))
    with torch.no_grad():  # load the code paths (lazy imports, kernels) before the baseline is taken
        model(input_ids=torch.zeros((1, 4), dtype=torch.long), use_cache=True, logits_to_keep=1)
    _release()
    # the process without the model: its resident size now, less the parameters (large tensors are
    # resident exactly; the build's temporaries are freed)
    rss0 = _status_kib("VmRSS") - weights
    points = []
    todo = [("decode", b, c) for b, c in grid.decode] + \
           [("prefill", b, s) for b, s in grid.prefill if _flops_estimate(params, b, s) <= grid.prefill_flop_budget]
    for phase, b, n in todo:
        if progress:
            progress(f"{name} {phase} batch={b} tokens={n}")
        run = _time_decode if phase == "decode" else _time_prefill
        mn, med, tensors, hwm, tensor_peak = run(torch, model, b, n, grid.repeats)
        t, ideal, bound, p_tensors, p_peak = predict(spec, hw, eff, phase, b, n)
        measured_peak = hwm - rss0  # the process peak above its resident size without the model
        points.append(Point(name, phase, b, n, params, mn, med, t, ideal, tensors, p_tensors, tensor_peak, p_peak,
                            measured_peak, bound))
    del model
    _release()
    return points


def run_validation(models: list[str] | None = None, profile_path: str | None = None, quick: bool = False,
                   threads: int | None = None, progress: Callable[[str], None] | None = None) -> Report:
    """Measure every model's grid and compare with predictions from the profile (measured on the spot,
    ``--quick``, when none is given)."""
    from ridgeline.errors import InputError  # noqa: PLC0415
    from ridgeline.measure.profile import (  # noqa: PLC0415
        efficiencies_from_profile,
        load_profile,
        machine_description,
        software_versions,
    )

    t0 = time.time()
    notes = []
    if models:
        unknown = [m for m in models if m not in MODELS]
        if unknown:
            raise InputError(f"validate: unknown model {unknown[0]!r}; choose from {', '.join(MODELS)}", field="MODEL")
    else:
        models = ["tiny-llama"] if quick else [*MAIN_MODELS, *EXTRA_MODELS]
    if profile_path:
        hw, measured = load_profile(profile_path)
        source = str(profile_path)
    else:
        import tempfile  # noqa: PLC0415
        from pathlib import Path  # noqa: PLC0415

        from ridgeline.measure.profile import write_profile  # noqa: PLC0415
        from ridgeline.measure.run import run_measure  # noqa: PLC0415

        if progress:
            progress("no --profile: measuring this machine (ridgeline measure --quick)")
        prof = run_measure("cpu", threads or 1, quick=True)
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "profile.toml"
            write_profile(prof, path)
            hw, measured = load_profile(path)
        source = "ridgeline measure --quick, run by validate"
        notes.append("profile measured on the spot with --quick")
    th = threads or int(measured.get("threads", 1))
    eff = efficiencies_from_profile(measured)
    points: list[Point] = []
    for name in models:
        if quick:
            grid = QUICK_GRID
        else:
            grid = FULL_GRID if name in MAIN_MODELS else EXTRA_GRID
        points += validate_model(name, MODELS[name], grid, hw, eff, progress, th)
    if not _reset_peak():
        notes.append("this OS cannot reset the peak resident size: peak memory is the run's high-water mark")
    prof_summary = {k: v for k, v in measured.items() if k != "rows"} | {"source": source}
    return Report(tuple(points), summarize(points), prof_summary, tuple(f.to_dict() for f in eff.factors()),
                  machine_description("cpu"), software_versions(), quick, time.time() - t0, tuple(notes))


def fmt_error(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:+.1f}%"
