"""The ASGI app behind ``ridgeline serve`` (Starlette): pages, the JSON API and the shipped assets.

- ``/fit``, ``/infer``, ``/train``, ``/plan``, ``/model``, ``/hardware``: HTML pages; their state lives in the query
  string, whose names are the CLI's options (``/fit?model=llama-3-70b&gpu=h100&weights=bf16``).
- ``/api/fit``, ``/api/infer``, ``/api/train``, ``/api/plan``, ``/api/model``, ``/api/models``,
  ``/api/hardware``: what the same command prints with ``--json``; a user error is the CLI's error object with status 400.
- ``POST /api/fit``, ``POST /api/infer``, ``POST /api/train``: the same, with a pasted ``config.json`` and/or device TOML
  in a JSON body (``{"config": "...", "hardware": "..."}``, at most ``MAX_BODY_BYTES``).
- ``/static/<name>``: a fixed set of files shipped in the package, looked up by name in a table
  (a request never builds a path).

Every response carries ``Server-Timing: compute;dur=<ms>`` (time spent in the handler).
"""

from __future__ import annotations

import json
import logging
import math
import time
from functools import lru_cache
from importlib import resources

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ridgeline.errors import InputError
from ridgeline.web import api
from ridgeline.web.api_plan import plan_json
from ridgeline.web.api_train import train_json
from ridgeline.web.pages import PAGES, render_page

#: Longest query string accepted (bytes); longer requests get 414.
MAX_QUERY_BYTES = 65536

_ASSETS = {"app.js": "text/javascript; charset=utf-8", "train_plan.js": "text/javascript; charset=utf-8",
           "app.css": "text/css; charset=utf-8",
           "icon.svg": "image/svg+xml"}

#: Only this origin: scripts, styles, images and fetches never leave the machine.
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_HEADERS = {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

log = logging.getLogger("ridgeline.web")


@lru_cache(maxsize=None)
def _asset(name: str) -> bytes:
    return resources.files("ridgeline.web").joinpath("static", name).read_bytes()


def _timed(resp: Response, t0: float) -> Response:
    resp.headers["Server-Timing"] = f"compute;dur={(time.perf_counter() - t0) * 1e3:.2f}"
    for k, v in _HEADERS.items():
        resp.headers.setdefault(k, v)
    return resp


def _too_long(request: Request) -> bool:
    return len(request.url.query.encode()) > MAX_QUERY_BYTES


def _finite(obj):
    """Non-finite floats become null (a browser's JSON.parse refuses ``Infinity``; the CLI prints it)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


class _Json(JSONResponse):
    def render(self, content) -> bytes:
        return json.dumps(_finite(content), indent=2, allow_nan=False).encode("utf-8")


async def _body(request: Request) -> bytes | None:
    """The POST body, or None once it passes MAX_BODY_BYTES (read no further)."""
    if request.method != "POST":
        return b""
    chunks, n = [], 0
    async for chunk in request.stream():
        n += len(chunk)
        if n > api.MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _api(fn, post: bool = False):
    """Wrap an answer function: query (+ POST body) -> JSON, InputError -> 400 with the CLI's error
    object. The computation runs in a worker thread."""
    async def endpoint(request: Request) -> Response:
        t0 = time.perf_counter()
        if _too_long(request):
            return _timed(_Json({"error": f"query longer than {MAX_QUERY_BYTES} bytes", "type": "InputError"}, 414), t0)
        body = await _body(request)
        if body is None:
            return _timed(_Json({"error": f"body longer than {api.MAX_BODY_BYTES} bytes; paste one config.json",
                                 "type": "InputError", "field": "config"}, 413), t0)
        t0 = time.perf_counter()
        query = dict(request.query_params)
        try:
            out = await run_in_threadpool(fn, query, body) if post else await run_in_threadpool(fn, query)
            return _timed(_Json(out), t0)
        except InputError as e:
            return _timed(_Json(api.error_json(e), 400), t0)
        except RecursionError:
            return _timed(_Json({"error": "input nested too deeply", "type": "InputError"}, 400), t0)
        except Exception:  # a bug, not the user's input: one line to the page, the trace to the log
            log.exception("internal error on %s", request.url.path)
            return _timed(_Json({"error": "internal error (the server log has the details); please report it",
                                 "type": "InternalError"}, 500), t0)
    endpoint.__name__ = fn.__name__
    return endpoint


def _page(name: str):
    def endpoint(request: Request) -> Response:
        t0 = time.perf_counter()
        if _too_long(request):
            return _timed(Response("query too long", 414, media_type="text/plain"), t0)
        return _timed(Response(_html(name), media_type="text/html; charset=utf-8"), t0)
    endpoint.__name__ = f"page_{name}"
    return endpoint


@lru_cache(maxsize=None)
def _html(name: str) -> str:
    return render_page(name, api.options_json())


def _static(request: Request) -> Response:
    t0 = time.perf_counter()
    name = request.path_params["name"]
    if name not in _ASSETS:
        return _timed(Response("not found", 404, media_type="text/plain"), t0)
    resp = Response(_asset(name), media_type=_ASSETS[name])
    resp.headers["Cache-Control"] = "no-cache"
    return _timed(resp, t0)


def _options(request: Request) -> Response:
    return _timed(_Json(api.options_json()), time.perf_counter())


def _root(request: Request) -> Response:
    return RedirectResponse("/fit", 307)


def create_app() -> Starlette:
    """The app ``ridgeline serve`` runs (also usable in-process by tests)."""
    routes = [Route("/", _root)]
    routes += [Route(f"/{p}", _page(p)) for p in PAGES]
    routes += [Route("/api/fit", _api(api.fit_json, True), methods=["GET", "POST"]),
               Route("/api/infer", _api(api.infer_json, True), methods=["GET", "POST"]),
               Route("/api/train", _api(train_json, True), methods=["GET", "POST"]),
               Route("/api/plan", _api(plan_json)),
               Route("/api/model", _api(api.model_json)), Route("/api/models", _api(api.models_json)),
               Route("/api/hardware", _api(api.hardware_json)), Route("/api/options", _options),
               Route("/static/{name}", _static)]
    return Starlette(routes=routes)
