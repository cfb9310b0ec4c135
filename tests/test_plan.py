"""``ridgeline plan``: the search equals a brute-force loop over ``infer``, every reported configuration
meets its SLO when re-run through ``infer``, monotonic properties, the nearest miss, prices, the CLI."""

import json
import math
import os
import re
import subprocess
import sys
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ridgeline.analyses.engines import EngineSettings
from ridgeline.analyses.fit import _Model, default_overheads, fit
from ridgeline.analyses.infer import infer
from ridgeline.analyses.plan import PlanQuery, evaluate, kv_capacity, layouts, plan, plan_dict
from ridgeline.analyses.plan_disagg import kv_request_bytes
from ridgeline.analyses.plan_prices import PRICES, PriceOverride, parse_price_override, price_for
from ridgeline.errors import InputError
from ridgeline.hardware.load import accelerators, get_accelerator
from ridgeline.model.kv import KVLayout
from ridgeline.model.load import load_model
from ridgeline.plots_plan import pareto_frontier
from ridgeline.timing import Efficiencies
from ridgeline.workload import InferenceWorkload, ParallelPlan, Precision

H100, A100, L40S = (get_accelerator(n) for n in ("h100", "a100-sxm4-80gb", "l40s-pcie"))
EFF = Efficiencies()
#: Agreement between the search's affine-in-batch evaluation and infer's matrix evaluation: the same
#: sums in another order, so equal to rounding (relative 1e-9 leaves six orders of magnitude of room).
REL = 1e-9


def _infer(spec, hw, prec, plan_, b, S, G):
    return infer(spec, hw, b, S, G, prec, plan_, EFF)


@pytest.mark.parametrize("name,hw,plan_,w,kv", [
    ("llama-3.1-8b", H100, ParallelPlan(2, 2), "fp8", "fp8"),
    ("mixtral-8x7b-v0.1", H100, ParallelPlan(4, 1, 4), None, None),
    ("gemma-2-9b-it", A100, ParallelPlan(1, 1), None, None),
    ("deepseek-v3", H100, ParallelPlan(8, 2, 8), "fp8", None),
])
def test_evaluate_equals_infer(name, hw, plan_, w, kv):
    spec = load_model(name)
    prec = Precision.build(spec, w, kv)
    B = np.array([1, 2, 3, 17, 64, 255, 1000], dtype=float)
    S, G = 1500, 300
    pre, ttft, tpot = evaluate(spec, hw, prec, plan_, B, S, G, EFF)
    r = _infer(spec, hw, prec, plan_, B, S, G)
    np.testing.assert_allclose(ttft, r.ttft_s, rtol=REL)
    np.testing.assert_allclose(tpot, r.tpot_s, rtol=REL)
    np.testing.assert_allclose(pre, r.prefill.time_s, rtol=REL)


def test_kv_capacity_is_fits_and_the_engines_pool():
    spec = load_model("llama-3.1-8b")
    prec = Precision.build(spec, "fp8", "fp8")
    ctx = 4096
    n, why = kv_capacity(spec, L40S, prec, ParallelPlan(1, 2), ctx, "ideal")
    f = fit(spec, L40S, InferenceWorkload(1, ctx, ctx), prec, ParallelPlan(1, 2))
    assert (n, why) == (f.max_concurrent_sequences, "KV pool") and n > 1
    for engine in ("vllm", "sglang", "trtllm"):
        n, why = kv_capacity(spec, H100, prec, ParallelPlan(2), ctx, engine)
        a = _Model(spec, prec, KVLayout(), default_overheads(H100), None).engine(
            EngineSettings(engine, max_model_len=ctx), ParallelPlan(2), H100, H100.usable_bytes)
        assert a.holds(n, ctx)
        assert why == "engine max_num_seqs" and n == a.max_num_seqs or why == "KV pool" and not a.holds(n + 1, ctx)


def _small_query(**kw):
    spec = load_model("llama-3.1-8b")
    base = dict(spec=spec, prompt_tokens=1024, gen_tokens=128, ttft_slo_s=0.25, tpot_slo_s=0.012, gpus=(H100, L40S),
                max_devices_per_replica=2, weights=(None, "fp8"), kv_dtypes=(None,), max_batch=48)
    base.update(kw)
    return PlanQuery(**base)


def _brute(q):
    """The cheapest feasible configuration by scalar infer calls: (cost per M tokens, identity)."""
    best = (math.inf, None)
    for hw in q.gpus:
        price = price_for(hw.id, q.prices).usd_per_device_hour
        for w in q.weights:
            for kv in q.kv_dtypes:
                prec = Precision.build(q.spec, w, kv)
                for lay in layouts(q.spec, hw, q.max_devices_per_replica):
                    n = min(kv_capacity(q.spec, hw, prec, lay, q.prompt_tokens + q.gen_tokens, "ideal")[0], q.max_batch)
                    for b in range(1, n + 1):
                        r = _infer(q.spec, hw, prec, lay, b, q.prompt_tokens, q.gen_tokens)
                        if r.ttft_s <= q.ttft_slo_s and r.tpot_s <= q.tpot_slo_s:
                            if q.demand_output_tokens_per_s:
                                devices = math.ceil(q.demand_output_tokens_per_s / r.output_tokens_per_s) * lay.devices
                                cost = devices * price / 3600 / q.demand_output_tokens_per_s * 1e6
                            else:
                                cost = lay.devices * price / 3600 / r.output_tokens_per_s * 1e6
                            ident = (hw.id, lay.tp, lay.pp, prec.weights.name, b)
                            if cost < best[0] * (1 - 1e-12):
                                best = (cost, ident)
    return best


@pytest.mark.parametrize("demand", [None, 20_000.0])
def test_best_equals_brute_force_over_infer(demand):
    q = _small_query(demand_output_tokens_per_s=demand)
    r = plan(q)
    cost, ident = _brute(q)
    assert r.feasible and ident is not None
    c = r.configs[0]
    assert c.cost_per_million_output_tokens == pytest.approx(cost, rel=REL)
    assert (c.gpu, c.tp, c.pp, c.weights, c.batch) == ident
    assert c.batch < q.max_batch  # an interior optimum: the SLO or the demand, not the search bound, sets it


def test_every_reported_config_meets_the_slo_through_infer():
    spec = load_model("qwen3-30b-a3b")  # MoE: ep searched too
    q = PlanQuery(spec, 2048, 256, 1.0, 0.03, (H100, A100, get_accelerator("b200")), demand_output_tokens_per_s=5e4,
                  max_devices_per_replica=8, top_k=20)
    r = plan(q)
    assert len(r.configs) == 20 and r.configs_evaluated > 10_000
    for c in r.configs:
        ri = _infer(spec, get_accelerator(c.gpu), Precision.build(spec, c.weights, c.kv_dtype),
                    ParallelPlan(c.tp, c.pp, c.ep, c.attention_dp), c.batch, 2048, 256)
        assert ri.ttft_s <= q.ttft_slo_s and ri.tpot_s <= q.tpot_slo_s
        assert c.ttft_s == pytest.approx(ri.ttft_s, rel=REL) and c.tpot_s == pytest.approx(ri.tpot_s, rel=REL)
        assert c.output_tokens_per_s_per_device == pytest.approx(ri.output_tokens_per_s_per_device, rel=REL)
        assert c.devices == c.replicas * c.tp * c.pp
        assert c.replicas * ri.output_tokens_per_s >= q.demand_output_tokens_per_s
        assert 0 <= c.ttft_margin < 1 and 0 <= c.tpot_margin < 1
    keys = [c.cost_per_million_output_tokens for c in r.configs]
    assert keys == sorted(keys)
    assert "runner-up" in r.why_best


@pytest.mark.parametrize("objective", ["cost", "devices", "power", "throughput"])
def test_a_looser_slo_never_ranks_worse(objective):
    def best(ttft, tpot):
        r = plan(_small_query(ttft_slo_s=ttft, tpot_slo_s=tpot, objective=objective, demand_output_tokens_per_s=5e4))
        if not r.feasible:
            return math.inf
        c = r.configs[0]
        return {"cost": c.cost_per_million_output_tokens, "devices": c.devices, "power": c.power_w,
                "throughput": -c.output_tokens_per_s_per_device}[objective]
    slos = [(0.2, 0.008), (0.3, 0.01), (0.6, 0.02), (1.0, 0.05), (5.0, 0.2)]
    vals = [best(*s) for s in slos]
    assert all(b <= a for a, b in zip(vals, vals[1:])), vals
    assert math.isfinite(vals[-1])


def test_price_never_changes_feasibility_and_scales_cost():
    q = _small_query(top_k=1000)
    base = plan(q)
    cheap = plan(_small_query(top_k=1000, prices=PriceOverride(all_usd=0.5)))
    dear = plan(_small_query(top_k=1000, prices=PriceOverride(all_usd=1.0)))
    ident = lambda r: {(c.gpu, c.tp, c.pp, c.weights) for c in r.configs}  # noqa: E731
    assert ident(base) == ident(cheap) == ident(dear)
    assert cheap.configs[0].cost_per_million_output_tokens == pytest.approx(
        dear.configs[0].cost_per_million_output_tokens / 2)


@settings(max_examples=25, deadline=None)
@given(ttft=st.floats(0.05, 2.0), tpot=st.floats(0.002, 0.08), k1=st.floats(1.0, 4.0), k2=st.floats(1.0, 4.0),
       demand=st.sampled_from([None, 3e3, 4e4]))
def test_property_looser_slo_never_costs_more(ttft, tpot, k1, k2, demand):
    def best(a, b):
        r = plan(_small_query(ttft_slo_s=a, tpot_slo_s=b, demand_output_tokens_per_s=demand, gpus=(H100, A100)))
        return r.configs[0].cost_per_million_output_tokens if r.feasible else math.inf
    assert best(ttft * k1, tpot * k2) <= best(ttft, tpot)


@settings(max_examples=15, deadline=None)
@given(h100=st.floats(0.1, 20.0), a100=st.floats(0.1, 20.0))
def test_property_prices_never_change_feasibility(h100, a100):
    base = plan(_small_query(gpus=(H100, A100), top_k=1000))
    r = plan(_small_query(gpus=(H100, A100), top_k=1000,
                          prices=PriceOverride(by_device=(("h100-sxm", h100), ("a100-sxm4-80gb", a100)))))
    ident = lambda x: sorted((c.gpu, c.tp, c.pp, c.weights, c.batch) for c in x.configs)  # noqa: E731
    assert ident(r) == ident(base)  # same feasible set, same best batch per layout
    for c in r.configs:
        assert c.price_usd_per_device_hour == {"h100-sxm": h100, "a100-sxm4-80gb": a100}[c.gpu]


def test_infeasible_slo_gives_the_nearest_miss_and_what_would_fix_it():
    q = _small_query(ttft_slo_s=0.5, tpot_slo_s=0.0005)
    r = plan(q)
    assert not r.feasible and r.configs == () and r.nearest_miss is not None
    m = r.nearest_miss
    assert m.tpot_s > q.tpot_slo_s
    # it is the smallest violation over the whole space: every batch-1 candidate is at least as far
    worst = max(m.ttft_s / q.ttft_slo_s, m.tpot_s / q.tpot_slo_s)
    for hw in q.gpus:
        for w in q.weights:
            prec = Precision.build(q.spec, w)
            for lay in layouts(q.spec, hw, 2):
                ri = _infer(q.spec, hw, prec, lay, 1, 1024, 128)
                assert max(ri.ttft_s / q.ttft_slo_s, ri.tpot_s / q.tpot_slo_s) >= worst * (1 - REL)
    assert any("fastest TPOT" in h for h in r.to_make_feasible)
    d = plan_dict(r)
    assert d["feasible"] is False and d["nearest_miss"]["gpu"] == m.gpu


def test_nothing_fits_says_so():
    q = PlanQuery(load_model("llama-3.1-405b"), 1024, 128, 1.0, 0.05, (L40S,), max_devices_per_replica=1)
    r = plan(q)
    assert not r.feasible and r.nearest_miss is None and "holds one sequence" in r.to_make_feasible[0]


def test_disaggregated_pools():
    spec = load_model("llama-3.1-70b")
    q = PlanQuery(spec, 4096, 512, 0.8, 0.04, (H100, get_accelerator("h200")), demand_output_tokens_per_s=2e5,
                  disagg=True, top_k=50)
    r = plan(q)
    agg = plan(PlanQuery(spec, 4096, 512, 0.8, 0.04, (H100, get_accelerator("h200")), demand_output_tokens_per_s=2e5))
    assert r.configs[0].cost_per_million_output_tokens <= agg.configs[0].cost_per_million_output_tokens
    dis = [c for c in r.configs if c.mode == "disaggregated"]
    assert dis and r.configs_evaluated_disaggregated > 0
    for c in dis[:5]:
        p, d = c.prefill, c.decode
        prec = Precision.build(spec, c.weights, c.kv_dtype)
        rp = _infer(spec, get_accelerator(p.gpu), prec, ParallelPlan(p.tp, p.pp, p.ep), p.batch, 4096, 512)
        rd = _infer(spec, get_accelerator(d.gpu), prec, ParallelPlan(d.tp, d.pp, d.ep), d.batch, 4096, 512)
        hp, hd = get_accelerator(p.gpu).interconnect, get_accelerator(d.gpu).interconnect
        bw = min(p.devices_per_replica * hp.scale_out_bw_bytes_per_s_per_direction,
                 d.devices_per_replica * hd.scale_out_bw_bytes_per_s_per_direction)
        kv_bytes = 4096 * spec.num_layers * 2 * 8 * 128 * prec.kv.bytes_per_element  # 8 KV heads x 128 dims, K and V
        assert kv_request_bytes(spec, prec, 4096) == kv_bytes
        lat = max(hp.scale_out_latency_s or EFF.comm_latency.value, hd.scale_out_latency_s or EFF.comm_latency.value)
        assert c.kv_transfer_s == pytest.approx(lat + kv_bytes / (bw * EFF.link.value), rel=1e-12)
        assert c.ttft_s == pytest.approx(rp.ttft_s + c.kv_transfer_s, rel=REL) and c.ttft_s <= q.ttft_slo_s
        assert c.tpot_s == pytest.approx(rd.tpot_s, rel=REL) and c.tpot_s <= q.tpot_slo_s
        # enough replicas in each pool for the demand
        assert p.replicas * p.batch / rp.prefill.time_s >= 2e5 / 512
        assert d.replicas * d.batch / rd.tpot_s >= 2e5
        assert c.devices == p.replicas * p.devices_per_replica + d.replicas * d.devices_per_replica
        assert p.cost_per_million_output_tokens + d.cost_per_million_output_tokens == pytest.approx(
            c.cost_per_million_output_tokens)
        assert c.cost_per_million_tokens == pytest.approx(c.cost_per_million_output_tokens * 512 / (4096 + 512))


def test_prices_are_sourced_dated_and_name_real_devices():
    ids = {a.id for a in accelerators()}
    for k, p in PRICES.items():
        assert k == p.device_id and k in ids
        assert 0 < p.usd_per_device_hour < 100
        assert re.search(r"\(\w[\w.-]+\.\w+/", p.source), p.source  # a URL-like citation
        assert date.fromisoformat(p.date) <= date(2026, 12, 31)
    o = parse_price_override("h100=2.5,3")
    assert price_for("h100-sxm", o).usd_per_device_hour == 2.5 and price_for("b200-hgx", o).usd_per_device_hour == 3
    with pytest.raises(InputError, match="--price-per-gpu-hour"):
        parse_price_override("h100=cheap")
    with pytest.raises(InputError, match="--price-per-gpu-hour"):
        parse_price_override("-1")


def test_layouts_shard_the_model_and_have_links():
    spec = load_model("mixtral-8x7b-v0.1")
    lays = layouts(spec, H100, 16)
    assert ParallelPlan(8, 2, 8) in lays and ParallelPlan(8, 2, 1) in lays and ParallelPlan(16, 1) not in lays
    assert all(p.devices <= 16 and p.problem(spec) is None for p in lays)
    assert layouts(spec, get_accelerator("mi300a"), 8) == [ParallelPlan(1, 1)]  # no link data: one device only
    pcie = layouts(spec, get_accelerator("l40s"), 8)  # PCIe only: tp and pp over PCIe
    assert ParallelPlan(8, 1, 8) in pcie


def test_pareto_frontier_is_the_undominated_set():
    rng = np.random.default_rng(1)
    x, y = rng.random(500), rng.random(500)
    fx, fy = pareto_frontier(x, y)
    front = {(a, b) for a, b in zip(fx, fy)}
    for a, b in zip(x, y):
        dominated = np.any((x >= a) & (y >= b) & ((x > a) | (y > b)))
        assert ((a, b) in front) == (not dominated)
    assert np.all(np.diff(fx) > 0) and np.all(np.diff(fy) < 0)


def test_bad_query_fields():
    spec = load_model("gpt2")
    with pytest.raises(InputError, match="--objective"):
        PlanQuery(spec, 10, 10, 1.0, 0.1, (H100,), objective="speed")
    with pytest.raises(InputError, match="--tpot"):
        PlanQuery(spec, 10, 10, 1.0, 0.0, (H100,))


# --- the CLI through its entry point ---------------------------------------------------------------

def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ridgeline", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"})


def test_cli_json_has_the_issue_keys():
    p = run("plan", "llama-3.1-8b", "--prompt", "1k", "--gen", "128", "--ttft", "500ms", "--tpot", "30ms",
            "--rate", "20", "--gpu", "h100,a100-sxm4-80gb", "--gpu", "l40s", "--top", "3", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["feasible"] is True and len(d["configs"]) == 3
    for key in ("gpu", "devices", "tp", "pp", "ep", "batch", "weights", "kv_dtype", "engine", "ttft_s", "tpot_s",
                "output_tokens_per_s_per_device", "cost_per_million_tokens", "cost_per_million_output_tokens"):
        assert key in d["configs"][0], key
    assert d["configs_evaluated"] > 1000 and d["search_time_s"] > 0
    assert d["query"]["demand_output_tokens_per_s"] == 20 * 128
    assert d["query"]["gpus"] == ["h100-sxm", "a100-sxm4-80gb", "l40s-pcie"]
    c = d["configs"][0]
    assert c["cost_per_million_tokens"] == pytest.approx(c["cost_per_million_output_tokens"] * 128 / (1024 + 128))


def test_cli_tokens_per_day_counts_prompt_and_generated_tokens_as_fleet_does():
    p = run("plan", "llama-3.1-8b", "--prompt", "1000", "--gen", "152", "--tokens-per-day", "1e10", "--gpu", "h100",
            "--json")
    d = json.loads(p.stdout)
    assert d["query"]["demand_output_tokens_per_s"] == pytest.approx(1e10 / 1152 * 152 / 86400, rel=1e-12)


def test_cli_table_plot_and_engines(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "pareto.png"
    p = run("plan", "llama-3.1-8b", "--ttft", "1s", "--tpot", "40ms", "--tokens-per-day", "1e9", "--gpu", "h100",
            "--engine", "vllm,ideal", "--disagg", "--plot", str(png))
    assert p.returncode == 0, p.stderr
    assert "why:" in p.stdout and "configurations" in p.stdout and "plot written" in p.stdout
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args,field", [
    (("--objective", "speed"), "--objective"),
    (("--rate", "1", "--tokens-per-day", "1e9"), "--rate"),
    (("--ttft", "soon"), "--ttft"),
    (("--engine", "tgi"), "--engine"),
    (("--gpu", "h100", "--objective", "cost", "--price-per-gpu-hour", "x"), "--price-per-gpu-hour"),
    (("--plot", "out.svg"), "--plot"),
    (("--gpu", "mi300a"), "--price-per-gpu-hour"),  # no sourced price and none given
])
def test_cli_bad_input_is_one_line_exit_2(args, field):
    p = run("plan", "gpt2", *args)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.startswith("error: ") and field in p.stderr and p.stderr.count("\n") == 1


def test_attention_dp_is_searched_for_moe_and_holds_more_mla_sequences():
    # Under tensor parallelism every rank keeps the whole MLA latent of every sequence; with attention
    # data-parallel each rank keeps only its own sequences' (DeepSeek-V2 paper sec. 2.1.3; SGLang's
    # DP attention), so one replica holds ~tp times as many sequences, less the replicated attention weights.
    from ridgeline.analyses.plan_space import kv_capacity, layouts

    spec = load_model("deepseek-v3")
    h200 = get_accelerator("h200")
    lays = layouts(spec, h200, 8)
    assert ParallelPlan(8, 1, 8, attention_dp=True) in lays
    assert not any(p.attention_dp for p in layouts(load_model("llama-3.1-8b"), h200, 8))  # dense: never
    prec = Precision.build(spec, "fp8")
    tp_n, _ = kv_capacity(spec, h200, prec, ParallelPlan(8, 1, 8), 4096, "ideal")
    dp_n, _ = kv_capacity(spec, h200, prec, ParallelPlan(8, 1, 8, attention_dp=True), 4096, "ideal")
    assert 0 < tp_n < dp_n <= 8 * tp_n
    assert dp_n % 8 == 0  # every rank holds a whole number of sequences
