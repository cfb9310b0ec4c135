"""Time the Python API's fit() (ledger + fewest-devices search) on one core.

Run: ``PYTHONPATH=src python benchmarks/fit_speed.py``. Prints min and median microseconds per
call over repeated runs (the model and hardware are loaded once, outside the timing, as an API
user holding a ModelSpec would). Targets (issue 9): <= 200 us for Llama-3-70B, <= 1 ms for DeepSeek-V3.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ridgeline.analyses.engines import EngineSettings  # noqa: E402
from ridgeline.analyses.fit import fit  # noqa: E402
from ridgeline.hardware.load import get_accelerator  # noqa: E402
from ridgeline.model.load import load_model  # noqa: E402

CASES = (("llama-3-70b", "ideal"), ("deepseek-v3", "ideal"), ("llama-3-70b", "vllm"), ("deepseek-v3", "vllm"))


def main(repeats: int = 7, number: int = 200) -> int:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    hw = get_accelerator("h100")
    print("| model | engine | min us | median us | fewest devices |")
    print("| --- | --- | --- | --- | --- |")
    for name, engine in CASES:
        spec = load_model(name)
        eng = EngineSettings(engine)
        r = fit(spec, hw, engine=eng)  # warm the per-model caches, as any second call finds them
        runs = []
        for _ in range(repeats):
            t = time.perf_counter()
            for _ in range(number):
                fit(spec, hw, engine=eng)
            runs.append((time.perf_counter() - t) / number * 1e6)
        print(f"| {name} | {engine} | {min(runs):.0f} | {statistics.median(runs):.0f} | "
              f"{r.min_devices} (tp={r.min_devices_plan.tp}, pp={r.min_devices_plan.pp}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
