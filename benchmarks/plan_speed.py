"""Speed of ``ridgeline plan``: configurations evaluated per second, and the time of a full search.

Run: ``PYTHONPATH=src python benchmarks/plan_speed.py`` (pin it to one core with ``taskset -c 0`` and
``OPENBLAS_NUM_THREADS=1`` for the one-core figure). Prints a markdown table (docs/plan.md quotes it).

1. The evaluator alone: ``LinearStep.times`` (the search's inner loop, affine in batch) against
   ``Roofline.step`` through ``infer`` (the operator matrices), both over the same batches.
2. A full search: 10 device types x every layout of up to 8 devices x 4 weight formats x 2 KV formats x
   every batch the KV pool holds (up to 4096), aggregated, then with --disagg. Cold (operator tables
   built inside the timed call) and warm (tables cached, as in a second query in the same process).
   Wall time and CPU time of the process are both reported.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np

from ridgeline.analyses.infer import infer
from ridgeline.analyses.plan import LinearStep, PlanQuery, plan
from ridgeline.analyses.plan_prices import PriceOverride
from ridgeline.hardware.load import get_accelerator
from ridgeline.model.load import load_model
from ridgeline.ops import op_table
from ridgeline.timing import Efficiencies, roofline
from ridgeline.workload import ParallelPlan, Precision

DEVICES = ("h100-sxm", "h200-sxm-141gb", "b200-hgx", "a100-sxm4-80gb", "mi300x-oam", "mi325x-oam", "gaudi3-oam",
           "l40s-pcie", "h100-pcie-80gb", "google-tpu-v5p")
MODEL, S, G = "llama-3.1-70b", 2048, 256


def _best(fn, repeat: int = 5) -> tuple[float, float]:
    """(wall s, cpu s) of the fastest of ``repeat`` runs."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - w, time.process_time() - c))
    return best


def evaluator() -> list[tuple[str, int, float, float]]:
    spec = load_model(MODEL)
    hw = get_accelerator("h100")
    prec = Precision.build(spec, "fp8", "fp8")
    plan_ = ParallelPlan(4, 2)
    table = op_table(spec, prec, plan_)
    ls = LinearStep(table, roofline(table, hw, Efficiencies()), S, G, plan_.pp)
    rows = []
    for n in (1024, 4096):
        B = np.arange(1, n + 1, dtype=np.float64)
        w, c = _best(lambda B=B: ls.times(B), 20)
        rows.append(("LinearStep.times (plan's inner loop)", n, n / w, n / c))
        w, c = _best(lambda B=B: infer(spec, hw, B, S, G, prec, plan_), 5)
        rows.append(("infer over a batch array (Roofline.step)", n, n / w, n / c))
    return rows


def search(disagg: bool) -> dict:
    spec = load_model(MODEL)
    gpus = tuple(get_accelerator(d) for d in DEVICES)
    q = PlanQuery(spec, S, G, 1.0, 0.05, gpus, demand_output_tokens_per_s=1e10 / 86400, max_devices_per_replica=8,
                  weights=("bf16", "fp8", "int8", "int4"), kv_dtypes=("bf16", "fp8"), disagg=disagg,
                  prices=PriceOverride(all_usd=2.0))
    from ridgeline.analyses.plan_space import _ledger_room  # noqa: PLC0415
    from ridgeline.ops import _op_table  # noqa: PLC0415

    _op_table.cache_clear()
    _ledger_room.cache_clear()
    w, c = time.perf_counter(), time.process_time()
    r = plan(q)
    cold = (time.perf_counter() - w, time.process_time() - c)
    warm = _best(lambda: plan(q), 3)
    return {"configs": r.configs_evaluated, "aggregated": r.configs_evaluated_aggregated,
            "disaggregated": r.configs_evaluated_disaggregated, "candidates": r.candidates, "cold": cold,
            "warm": warm, "best": r.configs[0] if r.configs else None}


def cli_seconds() -> float:
    """Wall time of the whole command in a fresh process (imports, model load, search, JSON): what a user waits."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    args = [sys.executable, "-m", "ridgeline", "plan", MODEL, "--prompt", str(S), "--gen", str(G), "--ttft", "1s",
            "--tpot", "50ms", "--tokens-per-day", "1e10", "--weights", "bf16,fp8,int8,int4", "--kv-dtype", "bf16,fp8",
            "--price-per-gpu-hour", "2", "--json"] + [a for d in DEVICES for a in ("--gpu", d)]
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
          f"Python {platform.python_version()}, numpy {np.__version__}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
          f"affinity {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'} CPU(s)\n")
    print("| evaluator | batches per call | configs/s (wall) | configs/s (CPU) |")
    print("| --- | ---: | ---: | ---: |")
    for name, n, pw, pc in evaluator():
        print(f"| {name} | {n:,} | {pw:,.0f} | {pc:,.0f} |")
    print(f"\n| search ({len(DEVICES)} devices, {MODEL}, {S} in / {G} out) | configurations | layouts x formats | "
          "cold wall s | warm wall s | warm CPU s | configs/s (warm wall) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for disagg in (False, True):
        d = search(disagg)
        label = "aggregated + disaggregated" if disagg else "aggregated"
        print(f"| {label} | {d['configs']:,} | {d['candidates']:,} | {d['cold'][0]:.2f} | {d['warm'][0]:.2f} | "
              f"{d['warm'][1]:.2f} | {d['configs'] / d['warm'][0]:,.0f} |")
    print(f"\nthe same aggregated search as a fresh `ridgeline plan ... --json` process, end to end: {cli_seconds():.2f} s")


if __name__ == "__main__":
    main()
