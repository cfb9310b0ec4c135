"""ridgeline: exact memory, KV-cache and parameter accounting for transformer LLMs.

    >>> import ridgeline as rl
    >>> spec = rl.load_model("llama-3-70b")
    >>> rl.count_params(spec).total
    70553706496
"""

from ridgeline.analyses.engines import EngineSettings
from ridgeline.analyses.fit import FitRequest, FitResult, fit, fit_request
from ridgeline.analyses.memory import MemoryLedger, Overheads, inference_ledger
from ridgeline.errors import (CheckpointError, ConfigError, HubError, InputError, PlanError, RidgelineError,
                              UnknownNameError)
from ridgeline.formats import NumberFormat, get_format
from ridgeline.hardware.load import accelerators, get_accelerator
from ridgeline.hardware.spec import Accelerator
from ridgeline.model.checkpoint import inspect_checkpoint
from ridgeline.model.hf import SUPPORTED_MODEL_TYPES, spec_from_config
from ridgeline.model.kv import KVLayout, kv_cache_elements
from ridgeline.model.load import load_model, presets
from ridgeline.model.params import ParamCount, count_params
from ridgeline.model.spec import ModelSpec
from ridgeline.workload import InferenceWorkload, ParallelPlan, Precision

__version__ = "0.1.0"

#: Names imported on first use (they need numpy, which the fit/model CLI path never loads).
_LAZY = {"infer": ("ridgeline.analyses.infer", "infer"), "InferResult": ("ridgeline.analyses.infer", "InferResult"),
         "op_table": ("ridgeline.ops", "op_table"), "Efficiencies": ("ridgeline.timing", "Efficiencies")}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib  # noqa: PLC0415

        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(mod), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ridgeline' has no attribute {name!r}")


__all__ = [
    "Accelerator", "CheckpointError", "ConfigError", "Efficiencies", "EngineSettings", "FitRequest", "FitResult",
    "HubError", "InferResult", "InferenceWorkload", "InputError", "KVLayout", "MemoryLedger", "ModelSpec",
    "NumberFormat", "Overheads", "ParallelPlan", "ParamCount", "PlanError", "Precision", "RidgelineError",
    "SUPPORTED_MODEL_TYPES", "UnknownNameError", "accelerators", "count_params", "fit", "fit_request",
    "get_accelerator", "get_format", "inference_ledger", "infer", "inspect_checkpoint", "kv_cache_elements",
    "load_model", "op_table", "presets", "spec_from_config",
]
