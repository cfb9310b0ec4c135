"""Named, sourced factors of ``ridgeline fleet``: facility overhead, device power, demand peaks, prices.

Each is a :class:`ridgeline.factors.Factor` (value, unit, source); the CLI overrides any of them and
the result lists the ones it used. Prices are dated: they move fast, so a default applies only where
a dated public figure exists, and ``--price-per-gpu-hour`` replaces it.
"""

from __future__ import annotations

from ridgeline.factors import Factor

PUE = Factor(
    "facility.pue", 1.56, "facility power / IT power",
    "Uptime Institute Global Data Center Survey 2024: average annual PUE 1.56 reported by operators for their "
    "largest data centre (1.58 in 2023, 1.55-1.59 since 2020: Uptime Intelligence update 221, 'Large data "
    "centers are mostly more efficient, analysis confirms', Nov 2023). New hyperscale sites report ~1.1-1.3",
)

POWER_UTILISATION = Factor(
    "power.utilisation", 0.77, "fraction of provisioned (TDP-rated) server power drawn",
    "POLCA (Patel et al., Microsoft Azure, arXiv 2308.12908, 2023): production LLM inference clusters leave "
    "enough power headroom to deploy 30% more servers under the same provisioned power with minimal "
    "performance loss, i.e. inference draws at most ~1/1.3 = 0.77 of nameplate; derived, not measured here. "
    "Set 1.0 to size for nameplate power",
)

HOST_OVERHEAD = Factor(
    "power.host_overhead", 10200 / (8 * 700), "server power / sum of accelerator TDPs",
    "NVIDIA DGX H100 user guide, power specifications: 10.2 kW maximum system input for 8 H100 SXM GPUs of "
    "700 W TDP each (CPUs, memory, NVSwitch, NICs, fans included): 10,200 / 5,600 = 1.82. Measured for an "
    "8-GPU HGX-class server; other platforms differ (unverified elsewhere)",
)

PEAK_TO_AVERAGE = Factor(
    "demand.peak_to_average", 1.0, "peak demand rate / daily average rate",
    "none applied: the fleet is sized for the daily average. Production LLM traffic is diurnal and bursty "
    "(BurstGPT, Wang et al., arXiv 2401.17644: Azure OpenAI GPT traces; Microsoft Office 365 LLM workloads, "
    "SageServe arXiv 2502.14617), but no single published ratio fits every service: pass --peak-to-average "
    "from your own traffic",
)

AMORTISATION_YEARS = Factor(
    "capex.amortisation_years", 5.0, "years",
    "Amazon.com 10-K for 2024 (filed Feb 2025): from January 2025 the useful life of a subset of its servers "
    "and networking equipment falls from 6 to 5 years, citing the pace of AI/ML technology",
)

#: On-demand price per accelerator-hour (USD), by hardware id: (price, source with date).
#: Only devices with a dated public figure; anything else needs --price-per-gpu-hour.
PRICE_PER_GPU_HOUR_USD: dict[str, tuple[float, str]] = {
    "h100-sxm": (2.99, "Lambda on-demand H100 SXM, $2.99 per GPU-hour, as listed in 'The GPU market just "
                       "changed' (costnimbus.com, March 2026); hyperscalers list $3.00-$6.98 (GCP A3-High ~$3.00, "
                       "AWS P5 ~$3.90, Azure NC H100 v5 ~$6.98) in the same table"),
}


def price_factor(hardware_id: str, override: float | None) -> Factor | None:
    """The price per device-hour: the user's figure, else the dated table entry, else None."""
    if override is not None:
        return Factor("cost.price_per_gpu_hour", override, "USD per device-hour", "user override (--price-per-gpu-hour)")
    hit = PRICE_PER_GPU_HOUR_USD.get(hardware_id)
    if hit is None:
        return None
    return Factor("cost.price_per_gpu_hour", hit[0], "USD per device-hour", hit[1])


#: Published demand and site figures the memory-wall essay tests (each with its source).
GOOGLE_TOKENS_PER_MONTH_2024 = Factor(
    "demand.google_tokens_per_month_2024", 9.7e12, "tokens per month",
    "Google I/O 2025 keynote (S. Pichai, 20 May 2025): 9.7 trillion tokens a month across Google's surfaces "
    "a year earlier",
)
GOOGLE_TOKENS_PER_MONTH_2025 = Factor(
    "demand.google_tokens_per_month_2025", 480e12, "tokens per month",
    "Google I/O 2025 keynote (S. Pichai, 20 May 2025): over 480 trillion tokens a month, 50x in a year",
)
SITE_POWER_5GW = Factor(
    "site.power_w", 5e9, "W",
    "Meta Hyperion (Richland Parish, Louisiana): 'able to scale up to 5GW over several years' (M. Zuckerberg, "
    "Threads, 14 July 2025); Meta's Prometheus (New Albany, Ohio) is 1 GW, due 2026",
)
