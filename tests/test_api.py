import doctest
import subprocess
import sys

import ridgeline


def test_all_is_pinned():
    assert ridgeline.__all__ == [
        "Accelerator", "CheckpointError", "ConfigError", "Efficiencies", "EngineSettings", "FitRequest",
        "FitResult", "HubError",
        "InferResult", "InferenceWorkload", "InputError", "KVLayout", "MemoryLedger", "ModelSpec",
        "NumberFormat", "Overheads", "ParallelPlan", "ParamCount", "PlanError", "Precision",
        "RidgelineError", "SUPPORTED_MODEL_TYPES", "UnknownNameError", "accelerators", "count_params",
        "fit", "fit_request", "get_accelerator", "get_format", "inference_ledger", "infer", "inspect_checkpoint",
        "kv_cache_elements", "load_model", "op_table", "presets", "spec_from_config",
    ]
    for name in ridgeline.__all__:
        assert hasattr(ridgeline, name)


def test_package_doctest():
    assert doctest.testmod(ridgeline).failed == 0


def test_cli_start_does_not_import_heavy_modules():
    code = ("import sys; from ridgeline.cli import main; main(['fit', 'llama-3-70b', '--json']); "
            "bad = [m for m in ('torch', 'transformers', 'matplotlib', 'numpy') if m in sys.modules]; "
            "sys.stderr.write(repr(bad))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stderr == "[]", p.stderr


def test_import_ridgeline_and_the_fit_door_load_no_numpy():
    # FitRequest / fit_request / EngineSettings are eager exports: they must stay numpy-free
    code = ("import sys, ridgeline as rl; r = rl.fit_request(rl.FitRequest('llama-3-8b', 'h100', "
            "engine='vllm')); assert r.engine == 'vllm' and isinstance(rl.EngineSettings(), rl.EngineSettings); "
            "sys.stderr.write(repr([m for m in ('numpy', 'torch') if m in sys.modules]))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stderr == "[]", p.stderr
