import doctest

import pytest

import ridgeline.units
from ridgeline.errors import InputError, UnknownNameError
from ridgeline.formats import get_format


def test_units_doctests():
    assert doctest.testmod(ridgeline.units).failed == 0


@pytest.mark.parametrize("name,bits", [
    ("fp32", 32), ("bf16", 16), ("fp16", 16), ("fp8", 8), ("int8", 8), ("int4", 4 + 20 / 128),
    ("awq-g64", 4 + 20 / 64), ("nf4", 4.126953125), ("mxfp4", 4.25), ("nvfp4", 4.5), ("fp4", 4.5),
    ("q8_0", 8.5), ("q4_0", 4.5), ("Q4_K_M", 4.5), ("q6_k", 6.5625), ("q2_k", 2.625),
])
def test_bits(name, bits):
    assert get_format(name).bits_per_element == bits


def test_int4_is_never_zero_bytes():
    assert get_format("int4").nbytes(2) > 1


def test_unknown_format():
    with pytest.raises(UnknownNameError):
        get_format("int5")


def test_parse_bytes_rejects_negative():
    with pytest.raises(InputError):
        ridgeline.units.parse_bytes("-1GB")
