"""The CLI through its real entry point: outputs, --json, and one-line errors with exit status 2."""

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from ridgeline.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ridgeline", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "160"})


def test_fit_json_has_required_keys():
    p = run("fit", "llama-3-70b", "--gpu", "h100", "--weights", "bf16", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    for key in ("schema_version", "kv_bytes_per_token", "fits", "min_devices", "max_kv_tokens"):
        assert key in d
    assert d["model"]["name"] == "Meta-Llama-3-70B"
    assert d["model"]["params_total"] == d["model"]["params_active"] == 70_553_706_496
    assert d["hardware"]["name"].startswith("NVIDIA H100")
    for key in ("weights_bytes", "kv_cache_bytes", "activations_bytes", "overhead_bytes", "total_bytes"):
        assert isinstance(d["memory"][key], (int, float))
    # the usable total the framework sees (79.19 GiB of the datasheet's 80 GB), see hardware/data/h100-sxm.toml
    assert d["per_device"]["total_bytes"] > d["per_device"]["capacity_bytes"] == 85_027_979_264
    assert d["fits"] is False and d["min_devices"] == 2


def test_fit_table_says_it_does_not_fit():
    p = run("fit", "llama-3-70b", "--gpu", "h100", "--weights", "bf16")
    assert p.returncode == 0
    assert "does not fit" in p.stdout and "Fewest devices that fit: 2" in p.stdout and "GiB" in p.stdout


def test_fit_int8_8x8k_tp2_fits():
    d = json.loads(run("fit", "llama-3-70b", "--gpu", "h100", "--weights", "int8", "--batch", "8",
                       "--context", "8k", "--tp", "2", "--json").stdout)
    assert d["fits"] is True and d["workload"]["context_tokens"] == 8192


def test_models_lists_presets():
    d = json.loads(run("models", "--json").stdout)
    assert len(d["models"]) >= 30
    assert any(m["name"] == "DeepSeek-V3" and m["params_total"] == 671_026_404_352 for m in d["models"])


def test_model_breakdown():
    d = json.loads(run("model", "mixtral-8x7b-v0.1", "--json").stdout)
    assert sum(d["params"]["by_term"].values()) == d["params"]["total"]
    assert "moe.experts" in d["params"]["by_term"]


def test_hardware_list_and_detail():
    assert main(["hardware"]) == 0
    d = json.loads(run("hardware", "mi300x", "--json").stdout)
    assert d["hardware"]["memory_bytes"] == 192e9 and d["hardware"]["sources"]


def test_config_path_and_folder(tmp_path):
    cfg = {"model_type": "llama", "vocab_size": 1000, "hidden_size": 64, "intermediate_size": 128,
           "num_hidden_layers": 2, "num_attention_heads": 4}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    for ref in (str(tmp_path), str(tmp_path / "config.json")):
        d = json.loads(run("model", ref, "--json").stdout)
        assert d["params"]["total"] == 2 * 1000 * 64 + 2 * (4 * 64 * 64 + 3 * 64 * 128 + 2 * 64) + 64


def _bad(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "broken.json").write_text("{\"model_type\": ")
    (tmp_path / "missing.json").write_text(json.dumps({"model_type": "llama", "vocab_size": 10}))
    (tmp_path / "typed.json").write_text(json.dumps({"model_type": "llama", "vocab_size": 10, "hidden_size": "64"}))
    (tmp_path / "neg.json").write_text(json.dumps({"model_type": "llama", "vocab_size": 10, "hidden_size": -64}))
    (tmp_path / "arch.json").write_text(json.dumps({"model_type": "mamba", "vocab_size": 10}))
    (tmp_path / "nofolder").mkdir()
    inf = tmp_path / "inf.toml"
    inf.write_text('id = "x"\nname = "x"\nvendor = "x"\nkind = "gpu"\nlaunch_year = 2026\n'
                   'memory_bytes = inf\nmem_bw_bytes_per_s = 1e12\n[peak_flops_per_s]\nbf16 = 1e14\n')
    base = {"model_type": "mixtral", "vocab_size": 100, "hidden_size": 64, "intermediate_size": 96,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "num_local_experts": 8}
    topk = tmp_path / "topk.json"
    topk.write_text(json.dumps(base | {"num_experts_per_tok": 9}))
    layers = tmp_path / "layers.json"
    layers.write_text(json.dumps(base | {"num_hidden_layers": 10**10}))
    st = tmp_path / "absurd.safetensors"
    st.write_bytes(struct.pack("<Q", 2**60) + b"{}")
    return {
        "unknown preset": (["fit", "llama-3-71b"], "did you mean"),
        "unknown gpu": (["fit", "gpt2", "--gpu", "h1000"], "unknown GPU 'h1000'"),
        "empty json": (["model", str(tmp_path / "empty.json")], "file is empty"),
        "non-object json": (["model", str(tmp_path / "list.json")], "expected a JSON object"),
        "malformed json": (["model", str(tmp_path / "broken.json")], "invalid JSON"),
        "missing field": (["model", str(tmp_path / "missing.json")], "'hidden_size' is missing"),
        "wrongly typed field": (["model", str(tmp_path / "typed.json")], "'hidden_size' must be an integer"),
        "negative size": (["model", str(tmp_path / "neg.json")], "'hidden_size' must be >= 1"),
        "unsupported type": (["model", str(tmp_path / "arch.json")], "unsupported model_type 'mamba'; supported: llama"),
        "folder without config": (["model", str(tmp_path / "nofolder")], "has no config.json"),
        "batch zero": (["fit", "gpt2", "--batch", "0"], "batch: must be at least 1"),
        "batch negative": (["fit", "gpt2", "--batch", "-3"], "batch: must be at least 1"),
        "tp not dividing heads": (["fit", "llama-3-70b", "--tp", "3"], "tp=3 does not divide the 64 attention heads"),
        "unknown format": (["fit", "gpt2", "--weights", "int5"], "unknown number format"),
        "unknown kv format": (["fit", "gpt2", "--kv-dtype", "fp7"], "unknown number format"),
        "absurd safetensors header": (["model", str(st)], "header length field says"),
        "bad context": (["fit", "gpt2", "--context", "lots"], "--context: expected a whole number"),
        "hub offline": (["fit", "someone/not-a-preset-xyz"], "hub"),
        "bad hardware toml": (["fit", "gpt2", "--gpu", str(tmp_path / "list.json")[:-5] + ".toml"], "no such hardware file"),
        "non-integer tp": (["fit", "gpt2", "--tp", "abc"], "Invalid value for '--tp'"),
        "unknown option": (["fit", "gpt2", "--bogus"], "No such option"),
        "unknown command": (["frobnicate"], "No such command"),
        "missing model": (["fit"], "Missing argument"),
        "infinite memory in toml": (["fit", "gpt2", "--gpu", str(inf)], "must be a positive finite number"),
        "top-k above experts": (["model", str(topk)], "exceeds the number of experts"),
        "absurd layer count": (["model", str(layers)], "beyond any real model"),
        "unquantized not float": (["fit", "gpt2", "--weights", "int4", "--unquantized", "int4"], "--unquantized"),
        "empty weights": (["fit", "gpt2", "--weights", ""], "--weights: empty value"),
    }


CASES = ["unknown preset", "unknown gpu", "empty json", "non-object json", "malformed json", "missing field",
         "wrongly typed field", "negative size", "unsupported type", "folder without config", "batch zero",
         "batch negative", "tp not dividing heads", "unknown format", "unknown kv format",
         "absurd safetensors header", "bad context", "hub offline", "bad hardware toml", "non-integer tp",
         "unknown option", "unknown command", "missing model", "infinite memory in toml", "top-k above experts",
         "absurd layer count", "unquantized not float", "empty weights"]


def test_cases_cover_every_bad_input(tmp_path):
    assert sorted(_bad(tmp_path)) == sorted(CASES)


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_exit_2(tmp_path, case):
    args, needle = _bad(tmp_path)[case]
    p = run(*args)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    assert needle in lines[0], lines[0]
    assert p.stdout == ""


def test_quantization_config_sets_default_weights():
    # gpt-oss-120b ships MXFP4 experts with attention, router, embeddings and lm_head in bf16
    # (config.json quantization_config.modules_to_not_convert): ~65.2 GB, one 80 GB GPU.
    d = json.loads(run("fit", "gpt-oss-120b", "--gpu", "h100", "--json").stdout)
    assert d["precision"]["weights"] == "mxfp4" and "linear" in d["precision"]["kept_unquantized"]
    assert d["fits"] is True and d["min_devices"] == 1
    assert any("quantization_config" in n for n in d["notes"])


def test_no_args_prints_help_and_exits_0():
    p = run()
    assert p.returncode == 0 and "Usage" in p.stdout and "Traceback" not in p.stderr


def test_non_gpu_device_gets_no_cuda_overhead():
    d = json.loads(run("fit", "llama-3.2-3b", "--gpu", "tpu-v5e", "--json").stdout)
    assert d["per_device"]["terms"]["overhead.runtime"] == 0
    assert any("no sourced runtime overhead" in n for n in d["notes"])


# --------------------------------------------------------------------------- a CLI that reads well

def test_version(capsys):
    import ridgeline

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"ridgeline {ridgeline.__version__}"


def test_json_is_shown_as_a_flag():
    p = run("models", "--help")
    line = next(ln for ln in p.stdout.splitlines() if "--json" in ln)
    assert "<bool>" not in line and "--no-json" not in line


def _narrow(command: list[str]) -> list[str]:
    """The command's table as an 80-column terminal shows it (rich Console(width=80))."""
    import io

    from rich.console import Console

    from ridgeline import render
    from ridgeline.hardware.load import accelerators
    from ridgeline.model.hf import spec_from_config
    from ridgeline.model.load import preset_config, presets
    from ridgeline.model.params import count_params

    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=False, color_system=None)
    if command == ["models"]:
        render.models_table([(p, count_params(spec_from_config(preset_config(p), p.name))) for p in presets()],
                            console)
    else:
        render.hardware_table(accelerators(), console)
    return buf.getvalue().splitlines()


def test_models_at_80_columns_never_cut_an_id_or_count():
    from ridgeline.model.hf import spec_from_config
    from ridgeline.model.load import preset_config, presets
    from ridgeline.model.params import count_params

    lines = _narrow(["models"])
    assert max(len(ln) for ln in lines) <= 80
    for p in presets():
        total = count_params(spec_from_config(preset_config(p), p.name)).total
        row = [ln for ln in lines if ln.strip().startswith(p.name + "  ")]
        assert len(row) == 1 and f"{total:,}" in row[0].split(), (p.name, row)


def test_hardware_at_80_columns_never_cuts_an_id():
    from ridgeline.hardware.load import accelerators

    lines = _narrow(["hardware"])
    assert max(len(ln) for ln in lines) <= 80
    firsts = {ln.split()[0] for ln in lines if ln.split()}
    for a in accelerators():
        assert a.id in firsts, a.id


def test_tables_in_a_real_80_column_terminal():
    """Through a pty: COLUMNS=80, a real terminal, the installed entry point."""
    import pty
    import select

    for cmd in ("models", "hardware"):
        pid, fd = pty.fork()
        if pid == 0:  # child
            os.environ.update({"COLUMNS": "80", "LINES": "500", "HF_HUB_OFFLINE": "1", "NO_COLOR": "1",
                               "TERM": "xterm"})
            os.execv(sys.executable, [sys.executable, "-m", "ridgeline", cmd])
        chunks = []
        while True:
            r, _, _ = select.select([fd], [], [], 60)
            if not r:
                break
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        import re as _re

        text = _re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", b"".join(chunks).decode())
        lines = text.replace("\r", "").splitlines()
        assert max(len(ln) for ln in lines) <= 80
        if cmd == "models":
            assert any("671,026,404,352" in ln.split() for ln in lines)  # DeepSeek-V3, whole
        else:
            assert any(ln.split()[:1] == ["h100-sxm"] for ln in lines)


def test_hardware_detail_prints_each_source_once():
    p = run("hardware", "h100")
    src = "NVIDIA H100 Tensor Core GPU datasheet"
    assert p.returncode == 0 and p.stdout.count(src) == 1
    assert "[1]" in p.stdout


def test_head_exits_quietly():
    p = subprocess.run(f"{sys.executable} -m ridgeline models | head -1", shell=True, capture_output=True,
                       text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert p.returncode == 0 and p.stderr == "" and len(p.stdout.splitlines()) == 1
    p = subprocess.run(f"set -o pipefail; {sys.executable} -m ridgeline hardware --json | head -c 10",
                       shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stderr == ""


def test_did_you_mean_has_no_repeats(capsys):
    assert main(["fit", "llama-3-71b"]) == 2
    err = capsys.readouterr().err
    suggestions = err.split("did you mean ")[1].split("?")[0].split(", ")
    squashed = [s.strip("'").replace("-", "").replace(".", "").lower() for s in suggestions]
    assert len(squashed) == len(set(squashed)), err


def test_byte_counts_are_json_integers():
    d = json.loads(run("hardware", "mi300x", "--json").stdout)
    assert isinstance(d["hardware"]["memory_bytes"], int) and d["hardware"]["memory_bytes"] == 192 * 10**9
    d = json.loads(run("model", "gpt2", "--json").stdout)
    assert isinstance(d["params"]["total"], int)


def test_json_error_is_an_object_on_stdout():
    p = run("fit", "llama-3-71b", "--json")
    assert p.returncode == 2 and p.stderr == ""
    d = json.loads(p.stdout)
    assert d["type"] == "UnknownModelError" and "did you mean" in d["error"]
    p = run("fit", "gpt2", "--tp", "abc", "--json")
    assert p.returncode == 2 and json.loads(p.stdout)["type"] == "UsageError"


def test_whole_byte_terms_are_integers(capsys):
    assert main(["fit", "llama-3-70b", "--weights", "int4", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    terms = d["per_device"]["terms"]
    assert all(isinstance(v, int) for v in terms.values() if float(v).is_integer())
    assert isinstance(d["precision"]["weights_bits"], float)  # not a byte count: left alone
