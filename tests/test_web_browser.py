"""The pages in a real browser: Debian's headless Chromium driven by playwright, against a server
started here on an ephemeral 127.0.0.1 port.

Loads each page, changes inputs, checks that the numbers shown are the API's (exactly: the page
keeps each headline figure's raw value beside its text), that a bad value gives the one-line error
beside its field, that hovering the chart shows a value with its unit, that the explanation is one
click away, that the keyboard reaches the inputs, and that no request leaves the machine. Takes
screenshots at phone and desktop width in light and dark (into ``RIDGELINE_SCREENSHOTS`` when set,
e.g. ``docs/web``; else a temporary folder).

Skips, with the reason, when playwright, the web extra or a chromium binary is missing
(``make install-test`` installs all three).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the web extra is not installed (pip install -e '.[web]')")
uvicorn = pytest.importorskip("uvicorn", reason="the web extra is not installed (pip install -e '.[web]')")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")

CHROMIUM = os.environ.get("RIDGELINE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    pytest.skip("no chromium binary (Debian: apt-get install -y chromium; or set RIDGELINE_CHROMIUM)",
                allow_module_level=True)

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
WAIT_MS = 15000  # bound on every wait for the page


@pytest.fixture(scope="module")
def server():
    from ridgeline.web.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning", lifespan="off"))
    th = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    th.start()
    for _ in range(200):  # bounded: at most ~10 s
        if srv.started:
            break
        time.sleep(0.05)
    assert srv.started, "server did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    th.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def browser(server, tmp_path_factory):
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport=DESKTOP)
        requests: list[str] = []
        problems: list[str] = []  # console errors (a CSP violation is one) and uncaught exceptions
        ctx.on("request", lambda r: requests.append(r.url))
        ctx.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        ctx.on("weberror", lambda e: problems.append(str(e.error)))

        def only_local(route):
            if route.request.url.startswith(server + "/"):
                route.continue_()
            else:
                route.abort()

        ctx.route("**/*", only_local)
        ctx.requests = requests
        ctx.problems = problems
        yield ctx
        ctx.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    d = os.environ.get("RIDGELINE_SCREENSHOTS")
    out = Path(d) if d else tmp_path_factory.mktemp("screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def api(server: str, path: str) -> dict:
    with urllib.request.urlopen(server + path, timeout=30) as r:  # noqa: S310 - 127.0.0.1 only
        return json.loads(r.read())


def settle(page, url_part: str | None = None) -> None:
    """Wait until the page has answered its latest input (bounded)."""
    if url_part:
        page.wait_for_function("p => location.search.includes(p)", arg=url_part, timeout=WAIT_MS)
    page.wait_for_function("() => document.body.dataset.state === 'done' && !document.body.classList.contains('busy')",
                           timeout=WAIT_MS)


def raw(page, key: str) -> str:
    return page.locator(f'.card[data-key="{key}"] .v').get_attribute("data-raw")


def test_fit_page_numbers_inputs_errors(browser, server, shots):
    page = browser.new_page()
    q = "model=llama-3-70b&gpu=h100&weights=bf16"
    page.goto(f"{server}/fit?{q}")
    settle(page)
    want = api(server, f"/api/fit?{q}")
    assert float(raw(page, "per_device.total_bytes")) == want["per_device"]["total_bytes"]
    assert float(raw(page, "headroom_bytes")) == want["headroom_bytes"]
    assert int(raw(page, "min_devices")) == want["min_devices"] == 2
    assert page.locator("#verdict .verdict").get_attribute("data-fits") == "false"
    assert page.locator(".card[data-key='per_device.total_bytes'] .v").inner_text() == \
        f"{want['per_device']['total_bytes'] / 2**30:.2f} GiB"
    # every ledger term is in the table, in GiB to 3 decimals
    table_text = page.locator("table").first.inner_text()
    for term, b in want["per_device"]["terms"].items():
        assert term in table_text and f"{b / 2**30:.3f}" in table_text
    # change a field: the URL and the numbers follow
    page.fill("#f-weights", "int4")
    settle(page, "weights=int4")
    want4 = api(server, "/api/fit?model=llama-3-70b&gpu=h100&weights=int4")
    assert float(raw(page, "per_device.total_bytes")) == want4["per_device"]["total_bytes"]
    assert page.locator("#verdict .verdict").get_attribute("data-fits") == "true"
    # a bad value: the API's one-line message beside the field, no trace anywhere
    page.fill("#f-weights", "bogus")
    settle(page, "weights=bogus")
    err = page.locator("#e-weights")
    assert err.is_visible()
    bad = urllib.request.Request(f"{server}/api/fit?model=llama-3-70b&gpu=h100&weights=bogus")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad, timeout=30)  # noqa: S310
    assert err.inner_text() == json.loads(e.value.read())["error"]
    assert page.locator("#f-weights").get_attribute("aria-invalid") == "true"
    assert "Traceback" not in page.content()
    # unknown model: beside the model field
    page.fill("#f-weights", "bf16")
    page.fill("#f-model", "no-such-model-xyz")
    settle(page, "no-such-model-xyz")
    assert page.locator("#e-model").is_visible() and "unknown preset" in page.locator("#e-model").inner_text()
    page.close()


def test_infer_page_chart_explain_keyboard_timing(browser, server, shots):
    page = browser.new_page()
    q = "model=llama-3-70b&gpu=h100&tp=4&batch=64"
    page.goto(f"{server}/infer?{q}")
    settle(page)
    want = api(server, f"/api/infer?{q}")
    for key in ("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s", "mbu", "mfu"):
        assert float(raw(page, key)) == want[key], key
    assert page.locator("#bound-reason").inner_text() == want["bound_reason"]
    # the chart: hover shows a value and its unit
    chart = page.locator("#sweep-svg")
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    tip = page.locator("#sweep-tip")
    assert tip.is_visible()
    text = tip.inner_text()
    assert "tokens/s" in text and " ms" in text and text.startswith("batch ")
    page.locator("#sweep-chart").screenshot(path=str(shots / "infer-chart-hover.png"))
    # the KV room marker is the batch that `--batch max` uses
    room = api(server, f"/api/infer?{q.replace('batch=64', 'batch=max')}")["batch"]
    assert f"({int(room):,})" in page.locator("#kv-room").inner_text()
    # keyboard: the chart takes the arrow keys
    chart.focus()
    page.keyboard.press("ArrowLeft")
    assert tip.inner_text().startswith("batch ")
    # the explanation is one click away
    det = page.locator('.card[data-key="tpot_s"] details')
    det.locator("summary").click()
    assert det.locator("div").first.is_visible()
    assert "mean context" in det.inner_text()
    # change a field; the answer follows within 200 ms of server time
    page.fill("#f-batch", "8")
    settle(page, "batch=8")
    want8 = api(server, "/api/infer?model=llama-3-70b&gpu=h100&tp=4&batch=8")
    assert float(raw(page, "tpot_s")) == want8["tpot_s"]
    server_ms = float(page.evaluate("document.body.dataset.serverMs"))
    assert server_ms < 200, f"server took {server_ms} ms"
    # keyboard: Tab from the skip link reaches the first input
    page.keyboard.press("Escape")
    page.locator(".skip").focus()
    for _ in range(12):  # bounded
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "f-model":
            break
    assert page.evaluate("document.activeElement.id") == "f-model"
    page.close()


def test_pasted_config_error_beside_it_then_the_answer(browser, server):
    from ridgeline.model.load import find_preset, preset_config

    page = browser.new_page()
    page.goto(f"{server}/fit?gpu=h100&weights=bf16")
    settle(page)
    page.locator("#paste summary").click()
    page.fill("#f-config", '{"model_type": "llama", "num_hidden_layers": 2}')
    page.wait_for_function("() => !document.getElementById('e-config').hidden", timeout=WAIT_MS)
    settle(page)
    msg = page.locator("#e-config").inner_text()
    assert "is missing" in msg and "\n" not in msg and "Traceback" not in page.content()
    page.fill("#f-config", json.dumps(preset_config(find_preset("qwen3-8b"))))
    page.wait_for_function("() => document.getElementById('e-config').hidden", timeout=WAIT_MS)
    settle(page)
    assert "pasted-config" in page.locator("#verdict").inner_text()
    want = api(server, "/api/fit?model=qwen3-8b&gpu=h100&weights=bf16")
    assert float(raw(page, "per_device.total_bytes")) == want["per_device"]["total_bytes"]
    assert "config.json" not in page.evaluate("location.search")  # the pasted text stays in the tab
    page.close()


def test_model_and_hardware_pages(browser, server):
    page = browser.new_page()
    page.goto(f"{server}/model?name=deepseek-v3")
    settle(page)
    want = api(server, "/api/model?name=deepseek-v3")
    assert f"{want['params']['total']:,}" in page.locator(".headline").inner_text()
    assert "aiconfigurator" in page.content()  # the preset's source
    page.goto(f"{server}/hardware?name=h100")
    settle(page)
    assert "NVIDIA H100 SXM5 80GB" in page.locator(".headline").inner_text()
    assert "datasheet" in page.content()  # each figure's source
    page.goto(f"{server}/hardware?name=not-a-gpu")
    settle(page)
    assert page.locator("#e-name").is_visible() and "unknown GPU" in page.locator("#e-name").inner_text()
    page.close()


def test_train_page_numbers_explain_errors(browser, server, shots):
    page = browser.new_page()
    q = "model=llama-3.1-8b&gpu=h100&gpus=min&recompute=full"
    page.goto(f"{server}/train?{q}")
    settle(page)
    want = api(server, f"/api/train?{q}")
    for key in ("step_time_s", "tokens_per_s", "mfu", "hfu"):
        assert float(raw(page, key)) == want[key], key
    assert float(raw(page, "per_device.total_bytes")) == want["per_device"]["total_bytes"]
    assert int(page.locator("#min-gpus").get_attribute("data-raw")) == want["min_gpus"]
    assert page.locator("#verdict .verdict").get_attribute("data-fits") == str(want["fits"]).lower()
    table_text = page.locator("table.ledger, .ledger table").first.inner_text()
    for term, b in want["per_device"]["terms"].items():
        assert term in table_text and f"{b / 2**30:.3f}" in table_text
    # the explanation is one click away
    det = page.locator('.card[data-key="step_time_s"] details')
    det.locator("summary").click()
    assert det.locator("div").first.is_visible() and "formula" in det.inner_text()
    # the command line printed under the answer is the CLI's
    assert page.locator(".cmd").inner_text() == "ridgeline train llama-3.1-8b --gpu h100 --gpus min --recompute full"
    # change a select: URL and numbers follow
    page.select_option("#f-zero", "3")
    settle(page, "zero=3")
    want3 = api(server, "/api/train?" + page.evaluate("location.search.slice(1)"))
    assert float(raw(page, "step_time_s")) == want3["step_time_s"]
    # a bad value: the API's one-line message beside its field
    page.fill("#f-seq", "lots")
    settle(page, "seq=lots")
    assert page.locator("#e-seq").is_visible() and "--seq" in page.locator("#e-seq").inner_text()
    assert "Traceback" not in page.content()
    page.close()


def test_plan_page_table_pareto_chart_errors(browser, server, shots):
    page = browser.new_page()
    q = "model=llama-3-70b&gpu=h100,h200,mi300x&tpot=30ms"
    page.goto(f"{server}/plan?{q}")
    settle(page)
    want = api(server, f"/api/plan?{q}")
    best = want["configs"][0]
    for key in ("cost_per_million_output_tokens", "ttft_s", "tpot_s", "output_tokens_per_s_per_device"):
        assert float(raw(page, f"configs.0.{key}")) == best[key], key
    assert page.locator("#why-best").inner_text() == want["why_best"]
    rows = page.locator("table").first.locator("tbody tr")
    assert rows.count() == len(want["configs"]) == 5
    for i, c in enumerate(want["configs"]):
        assert rows.nth(i).locator("td").nth(1).inner_text() == f"{c['gpu']} × {c['devices']}"
    # the Pareto chart: the SLO line, the chosen point, hover shows values with units
    chart = page.locator("#pareto-svg")
    chart.scroll_into_view_if_needed()
    assert page.locator("#slo-line").count() == 1 and page.locator("#chosen-point").count() == 1
    box = page.locator("#chosen-point").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tip = page.locator("#pareto-tip")
    assert tip.is_visible()
    text = tip.inner_text()
    assert text.startswith(f"chosen: {best['gpu']} tp{best['tp']} batch {best['batch']}")
    assert "tokens/s per user" in text and "tokens/s per device" in text
    page.locator("#pareto-chart").screenshot(path=str(shots / "plan-chart-hover.png"))
    chart.focus()
    page.keyboard.press("ArrowRight")
    assert "tokens/s per device" in tip.inner_text()
    # an SLO nothing meets: the nearest miss and what to change
    page.fill("#f-tpot", "1ms")
    settle(page, "tpot=1ms")
    assert page.locator("#verdict .verdict").get_attribute("data-feasible") == "false"
    assert page.locator("#to-make-feasible li").count() >= 1
    # a bad device name: beside the field, one line
    page.fill("#f-gpu", "h100,h1000")
    settle(page, "h1000")
    assert page.locator("#e-gpu").is_visible() and "unknown GPU 'h1000'" in page.locator("#e-gpu").inner_text()
    page.close()


@pytest.mark.parametrize("name, path", [("fit", "/fit?model=llama-3-70b&gpu=h100&weights=bf16"),
                                        ("infer", "/infer?model=llama-3-70b&gpu=h100&tp=4&batch=64"),
                                        ("fit-vllm", "/fit?model=llama-3.1-8b&gpu=h100&engine=vllm&max_model_len=8192"),
                                        ("hardware", "/hardware?name=h100"), ("model", "/model?name=deepseek-v3"),
                                        ("train", "/train?model=llama-3.1-8b&gpus=min&recompute=full"),
                                        ("plan", "/plan?model=llama-3-70b&gpu=h100,h200,mi300x&tpot=30ms")])
def test_screenshots_phone_desktop_light_dark(browser, server, shots, name, path):
    page = browser.new_page()
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
            page.set_viewport_size(size)
            page.goto(server + path)
            settle(page)
            # nothing wider than the viewport but the scrollable tables
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{label} {scheme}: page {overflow}px wider than the viewport"
            bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert (bg == "rgb(18, 20, 22)") == (scheme == "dark"), bg
            page.screenshot(path=str(shots / f"{name}-{label}-{scheme}.png"),
                            full_page=label == "phone" and name in ("fit", "infer"))
    page.close()


def test_no_request_left_the_machine_and_no_script_error(browser, server):
    # runs last in this module: every request of every page above went to the local server, and
    # no page logged an error (the 400 answers to the bad inputs above excepted)
    page = browser.new_page()
    for path in ("/fit", "/infer", "/train", "/plan", "/model", "/hardware"):  # also when this test runs alone
        page.goto(server + path)
        settle(page)
    page.close()
    assert browser.requests, "no requests recorded"
    outside = [u for u in browser.requests if not u.startswith(server + "/")]
    assert not outside, outside[:5]
    errors = [p for p in browser.problems if "status of 400" not in p]
    assert not errors, errors[:5]
