"""The web app through its ASGI interface, in-process (no socket, no browser): the JSON API equals
``--json`` key for key, errors are the CLI's one-line objects, the pages load nothing from outside,
no request reaches the file system, and the server answers fit and infer well within 200 ms."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import statistics
import time
from urllib.parse import urlencode

import pytest

pytest.importorskip("starlette", reason="the web extra is not installed (pip install -e '.[web]')")

from ridgeline.cli import main  # noqa: E402
from ridgeline.web.app import create_app  # noqa: E402

APP = create_app()


def get(path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One request through the ASGI app: (status, headers, body)."""
    path, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    out: dict = {"body": b""}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(msg):
        if msg["type"] == "http.response.start":
            out["status"] = msg["status"]
            out["headers"] = {k.decode().lower(): v.decode() for k, v in msg["headers"]}
        elif msg["type"] == "http.response.body":
            out["body"] += msg.get("body", b"")

    asyncio.run(APP(scope, receive, send))
    return out["status"], out["headers"], out["body"]


def post(path: str, body: bytes) -> tuple[int, dict]:
    """A POST through the ASGI app, the body in 64 KiB chunks; (status, JSON)."""
    path, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    chunks = [body[i:i + 65536] for i in range(0, len(body), 65536)] or [b""]
    out: dict = {"body": b""}

    async def receive():
        c = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": c, "more_body": bool(chunks)}

    async def send(msg):
        if msg["type"] == "http.response.start":
            out["status"] = msg["status"]
        elif msg["type"] == "http.response.body":
            out["body"] += msg.get("body", b"")

    asyncio.run(APP(scope, receive, send))
    return out["status"], json.loads(out["body"])


def get_json(path: str) -> tuple[int, dict]:
    status, _, body = get(path)
    return status, json.loads(body)


def cli_json(argv: list[str], capsys) -> dict:
    rc = main(argv + ["--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0, out
    return out


def _q(params: dict) -> str:
    return urlencode(params)


def _argv(params: dict, positional: str = "model") -> list[str]:
    out = [params[positional]]
    for k, v in params.items():
        if k == positional:
            continue
        flag = "--" + k.replace("_", "-")
        out += [flag] if v is True else [flag, str(v)]
    return out


FIT_CASES = [
    {"model": "llama-3-70b", "gpu": "h100", "weights": "bf16"},
    {"model": "llama-3-70b", "gpu": "h100", "weights": "int8", "batch": "8", "context": "8k"},
    {"model": "llama-3.1-8b", "gpu": "h100", "engine": "vllm", "memory_fraction": "0.95", "max_model_len": "8192"},
    {"model": "deepseek-v3", "gpu": "h200", "tp": "8", "context": "32k", "kv_dtype": "fp8"},
    {"model": "qwen3-8b", "gpu": "rtx-4090", "context": "max", "kv_dtype": "fp8"},
    {"model": "gpt-oss-120b", "gpu": "h100", "engine": "trtllm", "block_size": "64"},
]

INFER_CASES = [
    {"model": "llama-3-70b", "gpu": "h100", "tp": "4", "batch": "64", "prompt": "2048", "gen": "256"},
    {"model": "llama-3.1-8b", "gpu": "a100", "batch": "1"},
    {"model": "deepseek-v3", "gpu": "h200", "tp": "8", "ep": "8", "batch": "32", "kv_dtype": "fp8"},
    {"model": "qwen3-8b", "gpu": "h100", "batch": "max", "engine": "vllm"},
    {"model": "llama-3.1-8b", "gpu": "h100", "eff_memory": "0.7", "eff_gemm": "0.6", "step_overhead": "1ms",
     "explain": True},
    {"model": "llama-3.1-8b", "gpu": "h100", "sweep": "batch=1:256"},
    {"model": "llama-3.1-8b", "gpu": "h100", "sweep": "gpu=h100,a100,mi300x"},
]


@pytest.mark.parametrize("params", FIT_CASES, ids=lambda p: "-".join(p.values())[:60])
def test_api_fit_equals_cli_json(params, capsys):
    status, api = get_json("/api/fit?" + _q(params))
    assert status == 200, api
    assert api == cli_json(["fit", *_argv(params)], capsys)


@pytest.mark.parametrize("params", INFER_CASES, ids=lambda p: "-".join(str(v) for v in p.values())[:60])
def test_api_infer_equals_cli_json(params, capsys):
    q = {k: ("1" if v is True else v) for k, v in params.items()}
    status, api = get_json("/api/infer?" + _q(q))
    assert status == 200, api
    assert api == cli_json(["infer", *_argv(params)], capsys)


TRAIN_CASES = [
    {"model": "llama-3.1-8b", "gpu": "h100"},
    {"model": "llama-3-70b", "gpu": "h100", "gpus": "64", "tp": "8", "pp": "2", "zero": "1", "seq": "8k",
     "micro_batch": "2", "global_batch": "64", "recompute": "selective", "tokens": "15T", "explain": True},
    {"model": "llama-3.1-8b", "gpu": "a100", "gpus": "min", "recompute": "full"},
    {"model": "qwen3-8b", "gpu": "rtx-4090", "gpus": "1", "lora_rank": "16", "qlora": True,
     "lora_modules": "qv", "optimizer": "adam8bit"},
    {"model": "deepseek-v3", "gpu": "h200", "gpus": "256", "tp": "8", "ep": "8", "fsdp": "full", "precision": "fp8",
     "no_sequence_parallel": True, "eff_gemm": "0.4"},
]

PLAN_CASES = [
    {"model": "llama-3-70b"},
    {"model": "llama-3-70b", "gpu": "h100,h200,mi300x", "tpot": "30ms", "rate": "20", "top": "8"},
    {"model": "llama-3.1-8b", "objective": "throughput", "gpu": "h100", "engine": "vllm,sglang", "weights": "bf16,fp8"},
    {"model": "llama-3-70b", "gpu": "h100,b200", "disagg": True, "price_per_gpu_hour": "h100=2.5,b200=5",
     "tokens_per_day": "1e10"},
    {"model": "llama-3-70b", "gpu": "h100", "tpot": "1ms"},  # nothing meets it: the nearest miss and hints
]

#: Keys of ``plan --json`` that time the search (equal in kind, not in value, between two runs).
PLAN_TIMING_KEYS = ("search_time_s", "configs_per_s")


def _untimed(d: dict) -> dict:
    return {k: v for k, v in d.items() if k not in PLAN_TIMING_KEYS}


@pytest.mark.parametrize("params", TRAIN_CASES, ids=lambda p: "-".join(str(v) for v in p.values())[:60])
def test_api_train_equals_cli_json(params, capsys):
    q = {k: ("1" if v is True else v) for k, v in params.items()}
    status, api = get_json("/api/train?" + _q(q))
    assert status == 200, api
    assert api == cli_json(["train", *_argv(params)], capsys)


@pytest.mark.parametrize("params", PLAN_CASES, ids=lambda p: "-".join(str(v) for v in p.values())[:60])
def test_api_plan_equals_cli_json(params, capsys):
    q = {k: ("1" if v is True else v) for k, v in params.items()}
    status, api = get_json("/api/plan?" + _q(q))
    assert status == 200, api
    cli = cli_json(["plan", *_argv(params)], capsys)
    assert set(api) == set(cli)
    assert _untimed(api) == _untimed(cli)
    assert api["search_time_s"] > 0 and api["configs_per_s"] > 0


def test_api_plan_pareto_is_the_plots_data():
    """``pareto=1`` adds one key and changes nothing else; its frontiers are Pareto-optimal (no point
    beats another in both coordinates), the overall frontier is made of per-device frontier points,
    and the chosen point is the best configuration's."""
    q = "model=llama-3-70b&gpu=h100,h200,mi300x&tpot=30ms"
    plain = get_json("/api/plan?" + q)[1]
    status, d = get_json("/api/plan?" + q + "&pareto=1")
    assert status == 200 and set(d) == set(plain) | {"pareto"}
    assert _untimed({k: v for k, v in d.items() if k != "pareto"}) == _untimed(plain)
    p = d["pareto"]
    assert set(p["per_device"]) == {"h100-sxm", "h200-sxm-141gb", "mi300x-oam"} and p["meets_ttft_only"]
    assert p["slo_tokens_per_s_per_user"] == pytest.approx(1 / 0.030, rel=1e-12)
    for f in [*p["per_device"].values(), [x[:2] for x in p["frontier"]]]:
        xs, ys = [a[0] for a in f], [a[1] for a in f]
        assert xs == sorted(xs) and all(y1 > y2 for y1, y2 in itertools.pairwise(ys))  # x up, y strictly down
    for x, y, gpu in p["frontier"]:
        assert [x, y] in p["per_device"][gpu]
    best = d["configs"][0]
    assert p["chosen"]["output_tokens_per_s_per_device"] == best["output_tokens_per_s_per_device"]
    assert p["chosen"]["tokens_per_s_per_user"] == best["tokens_per_s_per_user"] and p["chosen"]["feasible"]
    # the chosen configuration is on its device's frontier (nothing of that device beats it in both)
    for x, y in p["per_device"][best["gpu"]]:
        assert not (x > best["tokens_per_s_per_user"] and y > best["output_tokens_per_s_per_device"])


@pytest.mark.parametrize("path, field, needle", [
    ("/api/train?model=llama-3.1-8b&seq=lots", None, "--seq"),
    ("/api/train?model=llama-3.1-8b&zero=4", None, "--zero"),
    ("/api/train?model=llama-3.1-8b&gpu=h1000", "gpu", "unknown GPU 'h1000'"),
    ("/api/train?model=/etc/passwd", "model", "unknown preset"),
    ("/api/plan?model=llama-3-70b&gpu=h100,h1000", "gpu", "unknown GPU 'h1000'"),
    ("/api/plan?model=llama-3-70b&gpu=/etc/hostname", "gpu", "unknown GPU"),
    ("/api/plan?model=llama-3-70b&price_per_gpu_hour=evil.toml%3D2", "price_per_gpu_hour", "unknown GPU"),
    ("/api/plan?model=llama-3-70b&max_gpus=65", "max_gpus", "1 to 64 devices per replica here"),
    ("/api/plan?model=llama-3-70b&top=101", "top", "1 to 100"),
    ("/api/plan?model=llama-3-70b&objective=speed", None, "--objective: unknown 'speed'"),
    ("/api/plan?model=llama-3-70b&rate=5&tokens_per_day=1e9", None, "--rate and --tokens-per-day together"),
    ("/api/plan?model=llama-3-70b&weights=" + ",".join(["fp8"] * 65), "weights", "at most 64"),
])
def test_train_plan_errors_are_one_line_objects(path, field, needle):
    status, d = get_json(path)
    assert status == 400, d
    assert set(d) <= {"error", "type", "field"} and "\n" not in d["error"] and "Traceback" not in d["error"]
    assert needle in d["error"], d
    if field:
        assert d["field"] == field


@pytest.mark.parametrize("cmd, path", [
    (["train", "llama-3.1-8b", "--seq", "lots"], "/api/train?model=llama-3.1-8b&seq=lots"),
    (["plan", "llama-3-70b", "--objective", "speed"], "/api/plan?model=llama-3-70b&objective=speed"),
])
def test_train_plan_errors_equal_the_cli_error(cmd, path, capsys):
    rc = main(cmd + ["--json"])
    cli = json.loads(capsys.readouterr().out)
    assert rc == 2
    assert get_json(path)[1] == cli


def test_pasted_config_for_train():
    body = json.dumps({"config": _preset_text("qwen3-8b"), "hardware": _device_text("h100-sxm.toml")}).encode()
    status, got = post("/api/train?gpus=8&zero=3&explain=1", body)
    want = get_json("/api/train?model=qwen3-8b&gpu=h100&gpus=8&zero=3&explain=1")[1]
    assert status == 200, got
    assert got["model"] == "pasted-config" and want["model"] != "pasted-config"
    got["model"] = want["model"]
    assert got == want


def test_plan_answers_well_under_a_second():
    """The CLI's defaults (every priced device, up to 8 per replica): the server's own time, warm."""
    get("/api/plan?model=llama-3-70b&pareto=1")
    status, headers, _ = get("/api/plan?model=llama-3-70b&pareto=1")
    assert status == 200 and float(headers["server-timing"].split("dur=")[1]) < 1000


def test_api_model_models_hardware_equal_cli(capsys):
    assert get_json("/api/model?name=deepseek-v3")[1] == cli_json(["model", "deepseek-v3"], capsys)
    assert get_json("/api/models")[1] == cli_json(["models"], capsys)
    assert get_json("/api/hardware?name=h100")[1] == cli_json(["hardware", "h100"], capsys)
    assert get_json("/api/hardware")[1] == cli_json(["hardware"], capsys)


def test_url_mirrors_the_cli_with_dashes_too(capsys):
    a = get_json("/api/fit?model=llama-3-70b&gpu=h100&kv-dtype=fp8")[1]
    assert a == cli_json(["fit", "llama-3-70b", "--gpu", "h100", "--kv-dtype", "fp8"], capsys)
    assert a["precision"]["kv"] == "fp8"


@pytest.mark.parametrize("query, field, needle", [
    ("model=llama-3-70b&weights=bogus", None, "unknown number format for --weights 'bogus'"),
    ("model=llama-3-70b&tp=two", "tp", "--tp: expected a whole number"),
    ("model=llama-3-70b&tp=3", None, "tp"),
    ("model=no-such-model", "model", "unknown preset"),
    ("model=llama-3-70b&gpu=h1000", "gpu", "unknown GPU 'h1000'; did you mean"),
    ("model=llama-3-70b&colour=blue", "colour", "unknown parameter 'colour'"),
    ("model=llama-3-70b&context=-5", None, "--context"),
])
def test_fit_errors_are_one_line_objects(query, field, needle):
    status, d = get_json("/api/fit?" + query)
    assert status == 400
    assert set(d) <= {"error", "type", "field"} and "\n" not in d["error"] and "Traceback" not in d["error"]
    assert needle in d["error"]
    if field:
        assert d["field"] == field


def test_fit_error_equals_the_cli_error_message(capsys):
    rc = main(["fit", "llama-3-70b", "--weights", "bogus", "--json"])
    cli = json.loads(capsys.readouterr().out)
    assert rc == 2
    assert get_json("/api/fit?model=llama-3-70b&weights=bogus")[1] == cli


@pytest.mark.parametrize("ref", ["/etc/passwd", "../../etc", "~/config.json", "meta-llama/Llama-2-7b-not-a-preset",
                                 "./tests/data", "tests/data/tiny.gguf"])
def test_no_path_or_hub_id_reaches_the_file_system(ref, monkeypatch):
    import ridgeline.model.load as load

    def refuse(*a, **k):
        raise AssertionError("a request reached the file system")

    monkeypatch.setattr(load, "read_config_file", refuse)
    monkeypatch.setattr(load, "_from_hub", refuse)
    for path in (f"/api/fit?model={ref}", f"/api/infer?model={ref}", f"/api/model?name={ref}"):
        status, d = get_json(path.replace(" ", "%20"))
        assert status == 400 and d.get("field") in ("model", "name") and "unknown preset" in d["error"], d


def test_gpu_names_only_never_a_toml_path(tmp_path):
    f = tmp_path / "evil.toml"
    f.write_text("id = 'x'\n")
    for name in (str(f), "/etc/hostname", "evil.toml"):
        status, d = get_json("/api/fit?" + _q({"model": "llama-3-70b", "gpu": name}))
        assert status == 400 and d["field"] == "gpu" and "unknown GPU" in d["error"]


def test_static_assets_by_name_only():
    assert get("/static/app.js")[0] == 200
    assert get("/static/app.css")[0] == 200
    for bad in ("/static/app.py", "/static/..%2Fapp.py", "/static/../api.py", "/static/%2e%2e/app.py"):
        assert get(bad)[0] == 404


def test_oversized_query_is_refused():
    status, d = get_json("/api/fit?model=" + "x" * 70000)
    assert status == 414 and "query longer" in d["error"]
    status, d = get_json("/api/infer?model=llama-3-70b&weights=" + "x" * 40000)
    assert status == 400 and "too long" in d["error"]


@pytest.mark.parametrize("page", ["fit", "infer", "train", "plan", "model", "hardware"])
def test_pages_reference_nothing_outside(page):
    status, headers, body = get(f"/{page}?model=llama-3-70b")
    html = body.decode()
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert not re.search(r"https?://", html), re.search(r".{40}https?://.{40}", html)
    assert not re.search(r"""(src|href)=["']//""", html)
    # every input has a label
    ids = re.findall(r'<(?:input|select|textarea)[^>]* id="([^"]+)"', html)
    assert ids and all(f'<label for="{i}"' in html for i in ids)
    assert "default-src 'none'" in headers["content-security-policy"]
    # the assets it loads are shipped, and reference no URL but the SVG namespace name
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        s, _, data = get(asset)
        assert s == 200
        urls = set(re.findall(rb"https?://[^\s\"')]+", data)) - {b"http://www.w3.org/2000/svg"}
        assert not urls, urls


def test_page_html_carries_no_request_values():
    # the page is a fixed shell; the script reads the URL (no reflected input)
    _, _, body = get("/fit?model=%3Cscript%3Ealert(1)%3C/script%3E")
    assert b"<script>alert" not in body


def test_root_redirects_to_fit():
    status, headers, _ = get("/")
    assert status == 307 and headers["location"] == "/fit"


def test_server_time_within_200_ms():
    """Server time per request (the handler, measured by the app itself) for a change on the fit
    and infer pages, warm: the median of 5 must be well under the 200 ms budget."""
    paths = ["/api/fit?model=llama-3-70b&gpu=h100&weights=bf16",
             "/api/fit?model=deepseek-v3&gpu=h200&tp=8&engine=vllm",
             "/api/infer?model=llama-3-70b&gpu=h100&tp=4&batch=64&explain=1",
             "/api/infer?model=llama-3-70b&gpu=h100&tp=4&batch=64&sweep=batch%3D1%3A1024"]
    for p in paths:
        get(p)  # warm the caches a first request fills (presets, tables)
    for p in paths:
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            status, headers, _ = get(p)
            times.append(time.perf_counter() - t0)
            assert status == 200
            assert float(headers["server-timing"].split("dur=")[1]) < 200
        assert statistics.median(times) < 0.2, (p, times)


def test_serve_refuses_a_non_loopback_host(capsys):
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--allow-remote" in err and "loopback" in err


def _preset_text(name: str) -> str:
    from ridgeline.model.load import find_preset, preset_config

    return json.dumps(preset_config(find_preset(name)))


def _device_text(file: str) -> str:
    from importlib import resources

    return resources.files("ridgeline.hardware.data").joinpath(file).read_text("utf-8")


def _without_names(d: dict) -> dict:
    d = json.loads(json.dumps(d))
    for k in ("name", "source"):
        d["model"].pop(k)
    return d


@pytest.mark.parametrize("query", ["gpu=h100&weights=bf16", "gpu=h200&tp=8&context=32k&kv_dtype=fp8",
                                   "gpu=h100&engine=vllm&batch=max&context=8k", "gpu=h100&context=max"])
@pytest.mark.parametrize("model", ["llama-3-70b", "deepseek-v3", "gemma-2-9b-it"])
def test_pasted_config_gives_the_presets_numbers(model, query):
    """A pasted config.json (the preset's own file) goes through fit_objects, the mirror of
    fit_request: every number equal, only the model's name and source differ."""
    status, got = post(f"/api/fit?{query}", json.dumps({"config": _preset_text(model)}).encode())
    assert status == 200, got
    want = get_json(f"/api/fit?model={model}&{query}")[1]
    assert got["model"]["source"] == "config.json pasted in the page"
    assert _without_names(got) == _without_names(want)


def test_pasted_device_toml_gives_the_devices_numbers():
    body = json.dumps({"hardware": _device_text("h100-sxm.toml")}).encode()
    status, got = post("/api/fit?model=llama-3-70b&weights=int8", body)
    assert status == 200, got
    want = get_json("/api/fit?model=llama-3-70b&gpu=h100&weights=int8")[1]
    assert got["per_device"] == want["per_device"] and got["min_devices"] == want["min_devices"]
    status, got = post("/api/infer?model=llama-3-70b&tp=4&batch=16", body)
    want = get_json("/api/infer?model=llama-3-70b&gpu=h100&tp=4&batch=16")[1]
    assert status == 200 and got == want


def test_pasted_config_for_infer():
    body = json.dumps({"config": _preset_text("qwen3-8b")}).encode()
    status, got = post("/api/infer?gpu=h100&batch=8&explain=1", body)
    want = get_json("/api/infer?model=qwen3-8b&gpu=h100&batch=8&explain=1")[1]
    assert status == 200 and _without_names(got) == _without_names(want)


@pytest.mark.parametrize("body, field, needle", [
    ({"config": "{not json"}, "config", "pasted config.json: invalid JSON at line 1"),
    ({"config": "[1, 2]"}, "config", "expected a JSON object"),
    ({"config": json.dumps({"model_type": "llama", "num_hidden_layers": 2})}, "config", "is missing; add"),
    ({"config": json.dumps({"model_type": "no-such-arch"})}, "config", "no-such-arch"),
    ({"config": "[" * 100000 + "]" * 100000}, "config", "pasted config.json"),
    ({"hardware": "id = "}, "hardware", "pasted device TOML: invalid TOML"),
    ({"hardware": "id = 'x'"}, "hardware", "missing"),
    ({"colour": "blue"}, None, "takes only"),
])
def test_pasted_errors_name_the_field(body, field, needle):
    status, d = post("/api/fit?model=llama-3-70b", json.dumps(body).encode())
    assert status == 400, d
    assert needle in d["error"] and "\n" not in d["error"] and "Traceback" not in d["error"]
    if field:
        assert d["field"] == field


def test_loop_sweeps_are_bounded():
    status, d = get_json("/api/infer?model=llama-3.1-8b&sweep=gpu%3D" + ",".join(["h100"] * 65))
    assert status == 400 and "at most 64 values of gpu" in d["error"]
    status, d = get_json("/api/infer?model=llama-3.1-8b&sweep=batch%3D" + ",".join(["1"] * 256))
    assert status == 200 and len(d["results"]) == 256  # one array pass, as in the CLI


def test_oversized_body_is_refused_unread():
    status, d = post("/api/fit?model=llama-3-70b", b'{"config": "' + b"x" * (3 * 2**20) + b'"}')
    assert status == 413 and d["field"] == "config"


def test_ridgeline_serve_answers_on_localhost():
    """The README's command: `ridgeline serve --port N` listens on 127.0.0.1 and answers the API."""
    import os
    import socket
    import subprocess
    import sys
    import urllib.request

    pytest.importorskip("uvicorn", reason="the web extra is not installed (pip install -e '.[web]')")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-m", "ridgeline", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        body = None
        for _ in range(300):  # bounded: ~30 s on a loaded 2-core machine
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/fit?model=llama-3-70b", timeout=5) as r:
                    body = json.loads(r.read())
                break
            except OSError:
                assert proc.poll() is None, "ridgeline serve exited early"
                time.sleep(0.1)
        assert body is not None and body["min_devices"] == 2
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "serving on http://127.0.0.1:" in err.decode()


def test_serve_on_a_busy_port_is_one_line(capsys):
    import socket

    pytest.importorskip("uvicorn", reason="the web extra is not installed (pip install -e '.[web]')")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--port: cannot listen on 127.0.0.1:{port}" in err
