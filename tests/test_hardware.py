"""Hardware data files: schema, short names, a source and a verification level for every number."""

import pytest

from ridgeline.errors import ConfigError, UnknownNameError
from ridgeline.hardware.load import accelerators, get_accelerator
from ridgeline.hardware.spec import PEAK_DTYPES

REQUIRED_SHORT = ["h100", "h200", "b200", "gb200", "b300", "mi300x", "mi325x", "mi355x", "mi250x", "a100",
                  "v100", "l4", "l40s", "rtx4090", "rtx5090", "tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e", "gaudi2",
                  "gaudi3", "m2-ultra", "m3-max", "m4-max"]
VERIFICATION = {"verified_primary", "verified_secondary", "unverified", "derived"}


def test_at_least_25_accelerators():
    assert len(accelerators()) >= 25


@pytest.mark.parametrize("name", REQUIRED_SHORT)
def test_short_names(name):
    assert get_accelerator(name).id


def test_a100_is_80gb_and_h100_is_sxm():
    assert get_accelerator("a100").memory_bytes == 80e9
    assert "SXM" in get_accelerator("h100").name


@pytest.mark.parametrize("acc", accelerators(), ids=lambda a: a.id)
def test_every_number_has_a_source_and_level(acc):
    assert acc.source_of("memory_bytes") and acc.source_of("mem_bw_bytes_per_s")
    for k in acc.peak_flops_per_s:
        assert k in PEAK_DTYPES
        assert acc.source_of(f"peak_flops_per_s.{k}")
    for level in acc.verification.values():
        assert level in VERIFICATION
    assert 1e9 < acc.memory_bytes < 1e13 or acc.kind in ("wafer", "lpu")
    assert acc.mem_bw_bytes_per_s > 1e11


def test_custom_toml(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text('id = "mine"\nname = "My accelerator"\nvendor = "Me"\nkind = "gpu"\nlaunch_year = 2026\n'
                 'memory_bytes = 48e9\nmem_bw_bytes_per_s = 1e12\n[peak_flops_per_s]\nbf16 = 200e12\n'
                 '[sources]\n"*" = "my measurement"\n')
    a = get_accelerator(str(f))
    assert a.memory_bytes == 48e9 and a.peak("bf16") == 200e12
    f.write_text('id = "mine"\nname = "x"\n')
    with pytest.raises(ConfigError, match="'vendor' is missing"):
        get_accelerator(str(f))


def test_unknown_suggests():
    with pytest.raises(UnknownNameError, match="did you mean"):
        get_accelerator("h10")
