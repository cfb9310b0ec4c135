"""The cases ``ridgeline measure`` runs, full or ``--quick``, and the driver."""

from __future__ import annotations

from collections.abc import Callable

from ridgeline.measure.bench import Bench, BenchRow, framework_overhead
from ridgeline.measure.profile import MeasuredProfile, summarize

MiB = 2**20
#: Streaming sizes: from inside L2 to well beyond a server's last-level cache.
STREAM_BYTES = (256 * 1024, 2 * MiB, 16 * MiB, 64 * MiB, 256 * MiB)
STREAM_BYTES_QUICK = (256 * 1024, 64 * MiB)
#: GEMMs of M rows (M = 1 is the GEMV of batch-1 decode; M = B decode; M = B*S prefill) through the
#: matrices of a transformer layer of hidden size 1024 (H x H, H -> 3H, 3H -> H; 16 MiB in fp32), layers
#: taken in turn from a pool of 256 MiB, so that each comes from DRAM, as in a model's forward step.
STREAM_M = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
STREAM_M_QUICK = (1, 4, 32, 128)
STREAM_HIDDEN = 1024
POOL_BYTES = 256 * MiB
#: Square shapes: the compute peak (cache-blocked, compute-bound).
SQUARE = (512, 1024, 2048)
#: Slow formats (bf16/fp16 without hardware support on many CPUs) get fewer shapes.
SLOW_M = (1, 32)
#: Decode attention and cache appends over a cache far beyond the last-level cache (b=32: 2 x 64 MiB;
#: above glibc's largest mmap threshold, 32 MiB, so every append gets fresh pages, as a long cache's do).
KV_CASES = ((32, 2048),)

def cases(device: str, quick: bool) -> list[tuple[str, Callable[[Bench], object]]]:
    """(label, call) pairs; a call returns a BenchRow or a tuple of them."""
    out: list[tuple[str, Callable[[Bench], object]]] = []
    for size in (STREAM_BYTES_QUICK if quick else STREAM_BYTES):
        for kind in ("read", "copy", "triad"):
            out.append((f"{kind} {size // 1024} KiB", lambda b, k=kind, s=size: b.stream(k, s)))
    for m in (STREAM_M_QUICK if quick else STREAM_M):
        out.append((f"gemm fp32 m={m} (layer weights from DRAM)",
                    lambda b, m=m: b.gemm_layers(m, STREAM_HIDDEN, "fp32", POOL_BYTES // (2 if quick else 1))))
    for s in ((1024,) if quick else SQUARE):
        out.append((f"gemm fp32 {s}^3", lambda b, s=s: b.gemm(s, s, s, "fp32")))
    slow = ("bf16",) if device == "cpu" else ("bf16", "fp16")
    for dt in slow:
        for m in ((1,) if quick else SLOW_M):
            out.append((f"gemm {dt} m={m}", lambda b, m=m, dt=dt: b.gemm_layers(m, STREAM_HIDDEN, dt, POOL_BYTES // 2)))
        s = 512 if quick else 1024
        out.append((f"gemm {dt} {s}^3", lambda b, s=s, dt=dt: b.gemm(s, s, s, dt)))
    for t in ((256,) if quick else (512, 1024, 2048)):
        out.append((f"attention prefill t={t}", lambda b, t=t: b.attention_prefill(8, t, 64)))
    for bs, c in (((32, 1024),) if quick else KV_CASES):
        out.append((f"attention decode b={bs} c={c}", lambda b, bs=bs, c=c: b.attention_decode(bs, 12, 4, c, 64)))
        out.append((f"append b={bs} c={c}", lambda b, bs=bs, c=c: b.append(bs, 4, c, 64, 4 if quick else 8)))
    out.append(("framework overhead", lambda b: framework_overhead(b)))
    return out


def run_measure(device: str = "cpu", threads: int = 1, quick: bool = False,
                progress: Callable[[str, int, int], None] | None = None) -> MeasuredProfile:
    """Run every case and reduce to a profile. ``progress(label, done, total)`` after each case."""
    bench = Bench(device, threads, warmup=1 if quick else 2, repeats=3 if quick else 7,
                  min_time_s=0.0 if quick else 0.3)
    rows: list[BenchRow] = []
    todo = cases(device, quick)
    for i, (label, call) in enumerate(todo):
        if progress:
            progress(label, i, len(todo))
        got = call(bench)
        rows.extend(got if isinstance(got, tuple) else (got,))
    if progress:
        progress("done", len(todo), len(todo))
    return summarize(rows, device, threads, quick)
