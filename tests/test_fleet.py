"""ridgeline fleet: consistency with infer, hand-checked arithmetic, invariants, the inverse, the CLI."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ridgeline.analyses import fleet as F
from ridgeline.analyses import fleet_factors as FF
from ridgeline.analyses.infer import infer
from ridgeline.errors import InputError
from ridgeline.factors import Factor
from ridgeline.hardware.load import get_accelerator
from ridgeline.model.load import load_model
from ridgeline.workload import ParallelPlan, Precision


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ridgeline", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "160"})


@pytest.fixture(scope="module")
def llama8():
    return load_model("llama-3.1-8b")


@pytest.fixture(scope="module")
def h100():
    return get_accelerator("h100")


def _replica(hw, tps=1000.0, tp=2, S=900, G=100) -> F.Replica:
    """A replica with a round throughput, for arithmetic checked by hand."""
    return F.Replica(hw, ParallelPlan(tp), 64, True, 64, S, G, tps, 1.0, 0.05, "memory")


def _factors(**kw) -> F.FleetFactors:
    return F.FleetFactors(price_per_gpu_hour=FF.price_factor("h100-sxm", None), **kw)


def test_throughput_is_infer_at_the_largest_batch(llama8, h100):
    prec = Precision.build(llama8)
    plan = ParallelPlan(2)
    rp = F.choose_replica(llama8, h100, 1024, 256, prec, plan)
    from ridgeline.analyses.fit import fit
    from ridgeline.workload import InferenceWorkload

    bmax = fit(llama8, h100, InferenceWorkload(1, 1280, 1280), prec, plan).max_concurrent_sequences
    r = infer(llama8, h100, bmax, 1024, 256, prec, plan, offline=True)
    assert rp.batch == rp.max_batch == bmax and rp.offline
    assert rp.output_tokens_per_s == r.output_tokens_per_s
    assert rp.output_tokens_per_s_per_device == r.output_tokens_per_s_per_device == r.output_tokens_per_s / 2


def test_devices_are_demand_over_throughput_rounded_up_to_whole_replicas(llama8, h100):
    prec = Precision.build(llama8)
    rp = F.choose_replica(llama8, h100, 1024, 256, prec, ParallelPlan(2))
    tokens = 3.7e11
    r = F.size_for_demand(llama8, rp, _factors(), tokens_per_day=tokens)
    out_rate = tokens / (1024 + 256) * 256 / 86400
    assert r.size.replicas == math.ceil(out_rate / rp.output_tokens_per_s)
    assert r.size.devices == 2 * r.size.replicas
    assert (r.size.replicas - 1) * rp.output_tokens_per_s < out_rate <= r.size.replicas * rp.output_tokens_per_s


def test_hand_computed_fleet(h100):
    """S=900, G=100, 1000 output tokens/s per replica of 2 H100s, 8.64e9 tokens/day: by hand,
    8.64e6 requests, 8.64e8 output tokens/day = 10,000 tokens/s -> 10 replicas, 20 devices.
    Wall power per device 700 W x 1.8214 (DGX H100 10.2 kW / 8 x 700 W) x 0.77 (POLCA) = 981.75 W;
    IT 19,635 W; facility x 1.56 (Uptime 2024) = 30,630.6 W; cost 20 x 24 h x $2.99 = $1,435.20/day."""
    r = F.size_for_demand(None, _replica(h100), _factors(), tokens_per_day=8.64e9)
    s = r.size
    assert s.requests_per_day == pytest.approx(8.64e6, rel=1e-12)
    assert s.output_tokens_per_day == pytest.approx(8.64e8, rel=1e-12)
    assert s.input_tokens_per_day == pytest.approx(7.776e9, rel=1e-12)
    assert s.peak_output_tokens_per_s == pytest.approx(1e4, rel=1e-12)
    assert (s.replicas, s.devices) == (10, 20)
    assert s.device_power_w == pytest.approx(981.75, rel=1e-12)
    assert s.it_power_w == pytest.approx(19635.0, rel=1e-12)
    assert s.facility_power_w == pytest.approx(30630.6, rel=1e-12)
    assert s.energy_per_million_tokens_j == pytest.approx(30630.6 * 86400 / 8640, rel=1e-12)
    assert s.cost_per_day == pytest.approx(1435.2, rel=1e-12)
    assert s.cost_per_million_tokens == pytest.approx(1435.2 / 8640, rel=1e-12)
    assert s.cost_per_million_output_tokens == pytest.approx(1435.2 / 864, rel=1e-12)


def test_peak_to_average_scales_the_rate_not_the_tokens(h100):
    a = F.size_for_demand(None, _replica(h100), _factors(), tokens_per_day=8.64e9).size
    b = F.size_for_demand(None, _replica(h100), _factors(peak_to_average=FF.PEAK_TO_AVERAGE.with_value(2.0)),
                          tokens_per_day=8.64e9).size
    assert b.tokens_per_day == a.tokens_per_day and b.replicas == 2 * a.replicas == 20


def test_capex_cost(h100):
    f = F.FleetFactors(capex_per_device=Factor("capex.per_device", 30000.0, "USD", "test"),
                       electricity_price=Factor("energy.price", 0.1, "USD/kWh", "test"))
    s = F.size_for_demand(None, _replica(h100), f, tokens_per_day=8.64e9).size
    # 20 devices x $30,000 / (5 years x 365 days) + 30,630.6 W x 24 h / 1000 x $0.1
    assert s.cost_per_day == pytest.approx(20 * 30000 / (5 * 365) + 30630.6 * 24 / 1000 * 0.1, rel=1e-12)


H100 = get_accelerator("h100")
demands = st.floats(min_value=1e6, max_value=1e16, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(demands, demands)
def test_more_demand_never_needs_fewer_devices(d1, d2):
    h100 = H100
    lo, hi = sorted((d1, d2))
    a = F.size_for_demand(None, _replica(h100), _factors(), tokens_per_day=lo).size
    b = F.size_for_demand(None, _replica(h100), _factors(), tokens_per_day=hi).size
    assert b.devices >= a.devices and b.facility_power_w >= a.facility_power_w and b.cost_per_day >= a.cost_per_day


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=1.0, max_value=3.0), st.floats(min_value=1.0, max_value=3.0), demands)
def test_higher_pue_never_lowers_facility_power(p1, p2, d):
    h100 = H100
    lo, hi = sorted((p1, p2))
    a = F.size_for_demand(None, _replica(h100), _factors(pue=FF.PUE.with_value(lo)), tokens_per_day=d).size
    b = F.size_for_demand(None, _replica(h100), _factors(pue=FF.PUE.with_value(hi)), tokens_per_day=d).size
    assert b.facility_power_w >= a.facility_power_w and b.it_power_w == a.it_power_w and b.devices == a.devices


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=10**6))
def test_power_and_cost_are_linear_in_devices(n):
    h100 = H100
    rp = _replica(h100)
    f = _factors()
    s1 = F._size(rp, f, 1.0, 1)
    sn = F._size(rp, f, 1.0, n)
    assert sn.devices == n * s1.devices
    assert sn.it_power_w == pytest.approx(n * s1.it_power_w, rel=1e-12)
    assert sn.facility_power_w == pytest.approx(n * s1.facility_power_w, rel=1e-12)
    assert sn.cost_per_day == pytest.approx(n * s1.cost_per_day, rel=1e-12)


def test_inverse_round_trip(h100):
    """A site with exactly the facility power of a demand's fleet holds that fleet."""
    rp = _replica(h100)
    fwd = F.size_for_demand(None, rp, _factors(), tokens_per_day=5e12).size
    inv = F.size_for_power(None, rp, _factors(), fwd.facility_power_w).size
    assert inv.devices == fwd.devices and inv.replicas == fwd.replicas
    assert inv.tokens_per_day >= 5e12 * (1 - 1e-12)
    assert inv.fleet_utilisation == pytest.approx(1.0)


def test_inverse_5gw_by_hand(h100):
    """5 GW / 1.56 / 981.75 W = 3,264,709.6 devices -> 1,632,354 replicas of 2 x 1000 tokens/s."""
    s = F.size_for_power(None, _replica(h100), _factors(), 5e9).size
    assert s.devices == 2 * 1_632_354 and s.replicas == 1_632_354
    assert s.output_tokens_per_day == pytest.approx(1_632_354 * 1000 * 86400, rel=1e-12)


def test_growth_years_equal_separate_sizings(h100):
    rp = _replica(h100)
    r = F.size_for_demand(None, rp, _factors(), tokens_per_day=1e12, growth_per_year=3.0, years=4)
    assert r.years == (0, 1, 2, 3, 4)
    for k in r.years:
        one = F.size_for_demand(None, rp, _factors(), tokens_per_day=1e12 * 3.0 ** k).size
        assert r.years_size.devices[k] == one.devices
        assert r.years_size.facility_power_w[k] == pytest.approx(one.facility_power_w, rel=1e-12)


def test_slo_batch_is_the_best_feasible_one(llama8, h100):
    prec = Precision.build(llama8)
    plan = ParallelPlan(1)
    rp = F.choose_replica(llama8, h100, 1024, 128, prec, plan, ttft_s=0.5, tpot_s=0.02)
    B = np.arange(1, rp.max_batch + 1, dtype=float)
    r = infer(llama8, h100, B, 1024, 128, prec, plan)  # brute force over every batch
    ok = (r.ttft_s <= 0.5) & (r.tpot_s <= 0.02)
    best = int(B[np.argmax(np.where(ok, r.output_tokens_per_s, -np.inf))])
    assert rp.batch == best and not rp.offline
    again = infer(llama8, h100, rp.batch, 1024, 128, prec, plan)
    assert again.ttft_s <= 0.5 and again.tpot_s <= 0.02
    assert rp.output_tokens_per_s == pytest.approx(again.output_tokens_per_s, rel=1e-12)


def test_slo_that_nothing_meets_is_one_clear_error(llama8, h100):
    with pytest.raises(InputError, match="--ttft/--tpot: no batch"):
        F.choose_replica(llama8, h100, 1024, 128, Precision.build(llama8), ParallelPlan(1), tpot_s=1e-4)


def test_parse_amount_and_growth():
    assert F.parse_amount("480T", "x") == 480e12
    assert F.parse_amount("5GW", "--power", "W") == 5e9
    assert F.parse_amount("500 MW", "--power", "W") == 5e8
    assert F.parse_amount("1.5e12", "x") == 1.5e12
    assert F.parse_growth("50x") == 50.0 and F.parse_growth("1.6") == 1.6
    for bad in ("-3", "abc", "0", "1e400", "5 parsecs"):
        with pytest.raises(InputError):
            F.parse_amount(bad, "--tokens-per-day")
    with pytest.raises(InputError, match="--growth"):
        F.parse_growth("fast")


def test_factors_all_have_sources():
    for f in (FF.PUE, FF.POWER_UTILISATION, FF.HOST_OVERHEAD, FF.PEAK_TO_AVERAGE, FF.AMORTISATION_YEARS,
              FF.GOOGLE_TOKENS_PER_MONTH_2024, FF.GOOGLE_TOKENS_PER_MONTH_2025, FF.SITE_POWER_5GW):
        assert len(f.source) > 40 and f.unit
    for price, source in FF.PRICE_PER_GPU_HOUR_USD.values():
        assert price > 0 and "20" in source  # dated


def test_cli_json_keys_and_consistency():
    p = run("fleet", "llama-3.1-8b", "--tokens-per-day", "1T", "--gpu", "h100", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    for key in ("replicas", "devices", "output_tokens_per_s_per_device", "it_power_w", "facility_power_w",
                "energy_per_million_tokens_j", "cost_per_day", "cost_per_million_tokens", "tokens_per_day", "factors"):
        assert key in d, key
    assert {f["name"] for f in d["factors"]} >= {"facility.pue", "power.utilisation", "power.host_overhead",
                                                 "demand.peak_to_average", "cost.price_per_gpu_hour"}
    assert all(f["source"] for f in d["factors"])
    assert d["tokens_per_day"] == pytest.approx(1e12)
    need = d["output_tokens_per_day"] / 86400
    assert d["replicas"] == math.ceil(need / d["output_tokens_per_s_per_replica"])
    assert d["facility_power_w"] == pytest.approx(d["it_power_w"] * 1.56)


def test_cli_growth_power_and_several_gpus():
    p = run("fleet", "llama-3.1-8b", "--tokens-per-day", "1T", "--growth", "2x", "--years", "3", "--json")
    d = json.loads(p.stdout)
    assert [y["year"] for y in d["years"]] == [0, 1, 2, 3]
    assert [y["devices"] for y in d["years"]] == sorted(y["devices"] for y in d["years"])
    p = run("fleet", "llama-3.1-8b", "--power", "1GW", "--gpu", "h100", "--gpu", "b200", "--json")
    assert p.returncode == 0, p.stderr
    fl = json.loads(p.stdout)["fleets"]
    assert [f["hardware"]["id"] for f in fl] == ["h100-sxm", "b200-hgx"]
    for f in fl:
        assert f["mode"] == "power" and 0.99e9 < f["facility_power_w"] <= 1e9
    assert fl[0]["cost_per_day"] > 0 and fl[1]["cost_per_day"] is None  # no dated B200 price: cost not guessed


def test_cli_table():
    p = run("fleet", "llama-3.1-8b", "--requests-per-day", "10M", "--prompt", "2000", "--gen", "500")
    assert p.returncode == 0, p.stderr
    assert "facility power" in p.stdout and "facility.pue = 1.56" in p.stdout


@pytest.mark.parametrize("args, needle", [
    ((), "exactly one of"),
    (("--tokens-per-day", "1T", "--power", "1GW"), "exactly one of"),
    (("--tokens-per-day", "1T", "--pue", "0.5"), "--pue"),
    (("--power", "1GW", "--growth", "2x"), "--growth"),
    (("--power", "1GW", "--gpu", "tpu-v5p"), "--device-power"),
    (("--tokens-per-day", "lots"), "--tokens-per-day"),
    (("--tokens-per-day", "1T", "--tpot", "0.1ms"), "--ttft/--tpot"),
    (("--tokens-per-day", "1T", "--capex", "30000", "--price-per-gpu-hour", "2"), "--capex"),
])
def test_cli_errors_are_one_line_exit_2(args, needle):
    p = run("fleet", "llama-3.1-8b", *args)
    assert p.returncode == 2
    assert needle in p.stderr and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "fleet.png"
    p = run("fleet", "llama-3.1-8b", "--tokens-per-day", "1T", "--growth", "2", "--years", "2", "--plot", str(out))
    assert p.returncode == 0, p.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
