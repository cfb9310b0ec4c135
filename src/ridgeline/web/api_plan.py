"""``/api/plan``: what ``ridgeline plan MODEL ... --json`` prints, key for key.

The request goes through :class:`ridgeline.analyses.plan.PlanRequest` and ``plan_request``, as the
CLI's ``plan`` command does, after the web's own checks: the model is a preset name, every device
(``gpu`` and the names in ``price_per_gpu_hour``) a shipped id or alias, never a path, and the
search space is bounded (``MAX_WEB_DEVICES_PER_REPLICA``, ``MAX_WEB_LIST``, ``MAX_WEB_TOP``; the
CLI's defaults are well inside them and take well under a second).

``pareto=1`` (the page's chart; no CLI flag prints it, ``--plot`` draws it into a PNG) adds one key,
``"pareto"``: the data ``ridgeline plan --plot`` draws, thinned to frontiers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ridgeline.errors import InputError
from ridgeline.web.api import _BOOL, _INT, _STR, json_safe, parse_params, safe_gpu, safe_model

#: Most devices per replica a web request may search (the CLI allows 4096; its default is 8). The
#: search grows with the layouts this admits: 64 takes ~0.7 s for every priced device.
MAX_WEB_DEVICES_PER_REPLICA = 64
#: Most names in one comma-separated list (devices, weight formats, KV formats, prices).
MAX_WEB_LIST = 64
#: Most configurations one web answer ranks out (the CLI allows 1000; its default is 5).
MAX_WEB_TOP = 100

PLAN_PARAMS: dict[str, tuple[str, Any]] = {
    "model": (_STR, None), "prompt": (_STR, "1024"), "gen": (_STR, "128"), "ttft": (_STR, "1s"),
    "tpot": (_STR, "50ms"), "rate": (_STR, None), "tokens_per_day": (_STR, None), "gpu": (_STR, None),
    "max_gpus": (_INT, 8), "weights": (_STR, None), "kv_dtype": (_STR, None), "engine": (_STR, "ideal"),
    "objective": (_STR, "cost"), "disagg": (_BOOL, False), "top": (_INT, 5), "price_per_gpu_hour": (_STR, None),
    "pareto": (_BOOL, False),
}


def _items(text: str | None, field: str) -> list[str]:
    items = [x.strip() for x in (text or "").split(",") if x.strip()]
    if len(items) > MAX_WEB_LIST:
        raise InputError(f"--{field.replace('_', '-')}: at most {MAX_WEB_LIST} comma-separated values here, "
                         f"got {len(items)}", field=field)
    return items


def _gpu_id(name: str, field: str) -> str:
    try:
        return safe_gpu(name).id
    except InputError as e:
        e.field = field
        raise


def plan_request_of(p: dict):
    """The :class:`PlanRequest` of checked query values (names only; a bounded space)."""
    from ridgeline.analyses.plan import PlanRequest  # noqa: PLC0415

    if not 1 <= p["max_gpus"] <= MAX_WEB_DEVICES_PER_REPLICA:
        raise InputError(f"--max-gpus: give 1 to {MAX_WEB_DEVICES_PER_REPLICA} devices per replica here (the "
                         "CLI searches up to 4096)", field="max_gpus")
    if not 1 <= p["top"] <= MAX_WEB_TOP:
        raise InputError(f"--top: give 1 to {MAX_WEB_TOP} here", field="top")
    gpus = tuple(_gpu_id(n, "gpu") for n in _items(p["gpu"], "gpu"))
    prices = p["price_per_gpu_hour"]
    if prices is not None:
        parts = []
        for part in _items(prices, "price_per_gpu_hour"):
            name, sep, usd = part.partition("=")
            parts.append(f"{_gpu_id(name.strip(), 'price_per_gpu_hour')}={usd}" if sep else part)
        prices = ",".join(parts)
    for f in ("weights", "kv_dtype", "engine"):
        _items(p[f], f)
    return PlanRequest(safe_model(p["model"]), p["prompt"], p["gen"], p["ttft"], p["tpot"], p["rate"],
                       p["tokens_per_day"], gpus, p["max_gpus"], p["weights"], p["kv_dtype"], p["engine"],
                       p["objective"], p["disagg"], p["top"], prices, keep_points=p["pareto"])


def pareto_json(r) -> dict:
    """What ``plan --plot`` draws, as numbers: per device type its Pareto frontier of (output
    tokens/s per user, output tokens/s per device) over every aggregated configuration evaluated
    (those meeting the TTFT SLO when any does, as the plot filters), the frontier over all of them
    with the device of each point, the TPOT SLO line and the chosen (or nearest-miss) point."""
    import numpy as np  # noqa: PLC0415

    from ridgeline.plots_plan import pareto_frontier  # noqa: PLC0415 (numpy only; matplotlib stays unloaded)

    pts = r.points or {}
    ttft_ok = any(bool(ok.any()) for _, _, ok in pts.values())
    per_device, xs, ys, who = {}, [], [], []
    for gpu, (x, y, ok) in sorted(pts.items()):
        if ttft_ok:
            x, y = x[ok], y[ok]
        if not x.size:
            continue
        fx, fy = pareto_frontier(x, y)
        per_device[gpu] = [[float(a), float(b)] for a, b in zip(fx, fy, strict=True)]
        xs.append(fx)
        ys.append(fy)
        who += [gpu] * fx.size
    frontier = []
    if xs:
        # the overall frontier is the frontier of the per-device frontiers; keep each point's device
        x, y = np.concatenate(xs), np.concatenate(ys)
        fx, fy = pareto_frontier(x, y)
        index = {(float(a), float(b)): g for a, b, g in zip(x, y, who, strict=True)}
        frontier = [[float(a), float(b), index[(float(a), float(b))]] for a, b in zip(fx, fy, strict=True)]
    best = r.configs[0] if r.configs else r.nearest_miss
    chosen = None if best is None else {
        "gpu": best.gpu, "tp": best.tp, "pp": best.pp, "batch": best.batch, "mode": best.mode,
        "tokens_per_s_per_user": best.tokens_per_s_per_user,
        "output_tokens_per_s_per_device": best.output_tokens_per_s_per_device, "feasible": bool(r.configs)}
    return {"meets_ttft_only": ttft_ok, "slo_tokens_per_s_per_user": 1 / r.query_summary["tpot_slo_s"],
            "per_device": per_device, "frontier": frontier, "chosen": chosen}


def plan_json(query: Mapping[str, str]) -> dict:
    """What ``ridgeline plan MODEL ... --json`` prints, key for key (``pareto=1``: plus ``"pareto"``)."""
    from ridgeline.analyses.plan import plan_dict, plan_request  # noqa: PLC0415

    p = parse_params(query, PLAN_PARAMS)
    _, r = plan_request(plan_request_of(p))
    d = plan_dict(r)
    if p["pareto"]:
        d["pareto"] = pareto_json(r)
    return json_safe(d)
