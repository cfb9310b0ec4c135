"""Microbenchmarks of the machine at hand: streaming bandwidth, GEMM/GEMV, attention, framework overhead.

Every benchmark runs warm-up calls, then ``repeats`` timed calls, and keeps min, median and max.
On a CPU the clock is the process's CPU time (user + system, ``time.process_time``): with one
thread it equals wall time on an idle machine, and on a shared one it leaves out the time the
scheduler gives to other processes (what remains of the contention: shared caches and memory
bandwidth). On CUDA it is wall time around a synchronize.
The work of a call (FLOPs, bytes moved) is counted from its shapes, so achieved rates are
work / time (tinygrad's habit). Counting conventions: a multiply-add is 2 FLOPs; a read of N bytes
is N bytes, a copy is 2N (read + write), a triad 3N (two reads, one write). Write-allocate traffic
that the hardware adds is not counted: it shows up as a lower achieved rate.

torch is imported lazily (the ``reference`` extra); nothing here runs on the CLI's start-up path.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BenchRow:
    """One measured case: its shape, the work of one call and the time per call."""

    kind: str
    """read, copy, triad, append, gemm (square, cache-blocked), gemm_stream and gemv (weights from DRAM),
    attention_prefill, attention_decode, overhead."""
    dtype: str
    """Peak key of the format (fp32, bf16, fp16)."""
    shape: str
    """Full input shape, e.g. "m=1 n=2048 k=2048" or "bytes=67108864"."""
    flops: float
    """FLOPs of one call."""
    bytes: float
    """Bytes one call moves (see the module's counting conventions)."""
    min_s: float
    median_s: float
    max_s: float
    repeats: int

    @property
    def flops_per_s(self) -> float:
        """Achieved FLOP/s at the best (min) time: the least contended run on a shared machine."""
        return self.flops / self.min_s

    @property
    def bytes_per_s(self) -> float:
        return self.bytes / self.min_s

    def to_dict(self) -> dict:
        return {"kind": self.kind, "dtype": self.dtype, "shape": self.shape, "flops": self.flops,
                "bytes": self.bytes, "min_s": self.min_s, "median_s": self.median_s, "max_s": self.max_s,
                "repeats": self.repeats}


def _torch():
    try:
        import torch  # noqa: PLC0415
    except ImportError as e:  # pragma: no cover - only without the extra
        from ridgeline.errors import InputError  # noqa: PLC0415

        raise InputError("ridgeline measure needs torch: pip install 'ridgeline[reference]'") from e
    return torch


def clock_for(device: str) -> Callable[[], float]:
    """CPU time of the process on a CPU (see the module docstring), wall time on an accelerator."""
    return time.perf_counter if device.startswith("cuda") else time.process_time


TORCH_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


class Bench:
    """Times callables on one device with a fixed thread count."""

    def __init__(self, device: str = "cpu", threads: int = 1, warmup: int = 2, repeats: int = 5,
                 min_time_s: float = 0.0):
        torch = _torch()
        self.torch, self.device, self.warmup, self.repeats = torch, device, warmup, repeats
        self.min_time_s = min_time_s
        if device == "cpu":
            torch.set_num_threads(threads)
        self.sync: Callable[[], None] = (torch.cuda.synchronize if device.startswith("cuda") else (lambda: None))
        self.clock = clock_for(device)

    def time(self, fn: Callable[[], object], repeats: int | None = None) -> tuple[float, float, float, int]:
        """(min, median, max, n) seconds per call over ``repeats`` timed calls after warm-up."""
        for _ in range(self.warmup):
            fn()
        self.sync()
        ts = []
        n = repeats or self.repeats
        start = time.perf_counter()
        while len(ts) < n or (time.perf_counter() - start < self.min_time_s and len(ts) < 50):
            t0 = self.clock()
            fn()
            self.sync()
            ts.append(self.clock() - t0)
        return min(ts), statistics.median(ts), max(ts), len(ts)

    def row(self, kind: str, dtype: str, shape: str, flops: float, nbytes: float, fn: Callable[[], object],
            repeats: int | None = None) -> BenchRow:
        mn, med, mx, n = self.time(fn, repeats)
        return BenchRow(kind, dtype, shape, float(flops), float(nbytes), mn, med, mx, n)

    def tensor(self, *shape: int, dtype: str = "fp32"):
        t = self.torch
        return t.randn(*shape, dtype=getattr(t, TORCH_DTYPES[dtype]), device=self.device)

    # -- memory -------------------------------------------------------------------------------
    def stream(self, kind: str, nbytes: int) -> BenchRow:
        """read: sum of a vector; copy: y <- x; triad: a <- b + s*c (fp32 vectors of ``nbytes`` each)."""
        t = self.torch
        n = max(nbytes // 4, 1024)
        x = self.tensor(n)
        shape = f"bytes={n * 4}"
        with t.no_grad():
            if kind == "read":
                return self.row("read", "fp32", shape, n, 4 * n, lambda: x.sum())
            y = t.empty_like(x)
            if kind == "copy":
                return self.row("copy", "fp32", shape, 0, 8 * n, lambda: y.copy_(x))
            z = self.tensor(n)
            return self.row("triad", "fp32", shape, 2 * n, 12 * n, lambda: t.add(x, z, alpha=1.5, out=y))

    def append(self, batch: int, kv_heads: int, tokens: int, head_dim: int, tensors: int = 8) -> BenchRow:
        """A growing cache's append, as transformers' DynamicLayer.update does it in a decode step: for each
        of ``tensors`` cached K/V tensors in turn, ``torch.cat([cache, one_token], dim=-2)`` into fresh
        memory, replacing (freeing) the old one. ``bytes`` is the cache held; the time per byte held is
        the overhead.kv_append factor (page faults on the fresh memory included)."""
        t = self.torch
        cache = [t.full((batch, kv_heads, tokens, head_dim), 0.01, device=self.device) for _ in range(tensors)]
        new = self.tensor(batch, kv_heads, 1, head_dim)
        nbytes = sum(c.numel() * c.element_size() for c in cache)

        def call():
            for i in range(tensors):
                # keep the length fixed: drop the oldest token as the new one is appended
                cache[i] = t.cat([cache[i][:, :, 1:], new], dim=-2)

        return self.row("append", "fp32", f"b={batch} kv_heads={kv_heads} tokens={tokens} d={head_dim} "
                        f"tensors={tensors}", 0, nbytes, call)

    # -- compute ------------------------------------------------------------------------------
    def gemm(self, m: int, n: int, k: int, dtype: str) -> BenchRow:
        """[m, k] x [k, n]^T as nn.Linear runs it; bytes: both operands read, the output written."""
        t = self.torch
        a = self.tensor(m, k, dtype=dtype)
        w = self.tensor(n, k, dtype=dtype)
        es = a.element_size()
        kind = "gemv" if m == 1 else "gemm"
        with t.no_grad():
            return self.row(kind, dtype, f"m={m} n={n} k={k}", 2.0 * m * n * k, es * (m * k + n * k + m * n),
                            lambda: t.nn.functional.linear(a, w))

    def gemm_layers(self, m: int, hidden: int, dtype: str, pool_bytes: int) -> BenchRow:
        """One call: [m, H] through the matrices of one transformer layer in turn: H x H (attention
        projections), H -> 3H (MLP up) and 3H -> H (MLP down), as nn.Linear runs them. Layers are taken
        in turn from a pool that exceeds the last-level cache, so each comes from DRAM, as in a model's
        forward step. GEMV speed depends on the row length (a per-row reduction), hence model shapes."""
        t = self.torch
        H = hidden
        shapes = ((H, H), (3 * H, H), (H, 3 * H))
        es = 2 if dtype != "fp32" else 4
        layer_bytes = sum(n * k for n, k in shapes) * es
        layers = [[self.tensor(n, k, dtype=dtype) for n, k in shapes] for _ in range(max(2, -(-pool_bytes // layer_bytes)))]
        xs = {k: self.tensor(m, k, dtype=dtype) for k in (H, 3 * H)}
        state = {"i": 0}

        def call():
            state["i"] = (state["i"] + 1) % len(layers)
            for w in layers[state["i"]]:
                t.nn.functional.linear(xs[w.shape[1]], w)

        flops = sum(2.0 * m * n * k for n, k in shapes)
        nbytes = sum(es * (m * k + n * k + m * n) for n, k in shapes)
        kind = "gemv" if m == 1 else "gemm_stream"
        with t.no_grad():
            return self.row(kind, dtype, f"m={m} hidden={H} pool={len(layers)}", flops, nbytes, call)

    def attention_prefill(self, heads: int, tokens: int, head_dim: int, dtype: str = "fp32") -> BenchRow:
        """Causal SDPA over ``tokens`` (batch 1). FLOPs count the causal pairs T(T+1)/2 the way the
        operator table does: 4*D per pair per head (scores and AV), so the achieved rate is comparable."""
        t = self.torch
        q, k, v = (self.tensor(1, heads, tokens, head_dim, dtype=dtype) for _ in range(3))
        pairs = tokens * (tokens + 1) / 2
        with t.no_grad():
            return self.row("attention_prefill", dtype, f"b=1 heads={heads} t={tokens} d={head_dim}",
                            4.0 * head_dim * heads * pairs, 4 * q.numel() * q.element_size(),
                            lambda: t.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True))

    def attention_decode(self, batch: int, heads: int, kv_heads: int, context: int, head_dim: int,
                         dtype: str = "fp32") -> BenchRow:
        """One query token over ``context`` cached tokens, grouped heads (SDPA ``enable_gqa``, the call
        transformers 5.24 makes when no mask is needed). ``bytes``: K and V read."""
        t = self.torch
        q = self.tensor(batch, heads, 1, head_dim, dtype=dtype)
        k, v = (self.tensor(batch, kv_heads, context, head_dim, dtype=dtype) for _ in range(2))
        kw = {"enable_gqa": True} if heads != kv_heads else {}
        with t.no_grad():
            return self.row("attention_decode", dtype,
                            f"b={batch} heads={heads} kv_heads={kv_heads} c={context} d={head_dim}",
                            4.0 * head_dim * heads * batch * context, 2 * k.numel() * k.element_size(),
                            lambda: t.nn.functional.scaled_dot_product_attention(q, k, v, **kw))


def framework_overhead(bench: Bench, layers: tuple[int, int] = (2, 10), hidden: int = 64) -> tuple[BenchRow, BenchRow]:
    """Decode steps of a tiny transformers Llama (hidden 64: the math is negligible) at two layer counts.

    The slope of step time over layers is the per-layer framework overhead (op dispatch, views,
    casts); the intercept is the per-step overhead (embedding, masks, final norm, head, Python).
    """
    torch = bench.torch
    import transformers  # noqa: PLC0415

    transformers.utils.logging.set_verbosity_error()
    rows = []
    for n in layers:
        cfg = transformers.LlamaConfig(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=n,
                                       num_attention_heads=4, num_key_value_heads=2, vocab_size=256,
                                       max_position_embeddings=4096)
        torch.manual_seed(0)
        model = transformers.LlamaForCausalLM(cfg).to(dtype=torch.float32, device=bench.device).eval()
        ids = torch.zeros((1, 16), dtype=torch.long, device=bench.device)
        nxt = torch.zeros((1, 1), dtype=torch.long, device=bench.device)
        with torch.no_grad():
            state = {"cache": model(input_ids=ids, use_cache=True, logits_to_keep=1).cache}

            def step(state=state, model=model, nxt=nxt):
                state["cache"] = model(input_ids=nxt, cache=state["cache"], use_cache=True, logits_to_keep=1).cache

            mn, med, mx, k = bench.time(step, repeats=max(bench.repeats, 10))
        rows.append(BenchRow("overhead", "fp32", f"layers={n} hidden={hidden}", 0, 0, mn, med, mx, k))
    return rows[0], rows[1]
