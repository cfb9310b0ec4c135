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


@pytest.mark.parametrize("name,bits", [
    # symmetric groups: a 16-bit scale and no zero point (compressed-tensors pack-quantized)
    ("int4-sym-g128", 4 + 16 / 128), ("int4-sym-g32", 4.5),
    # per channel: scale (and zero) per output row, not counted (formats.py states the bound)
    ("int4-gch", 4), ("gptq-gch", 4), ("int8-gch", 8), ("fp8-ch", 8),
    # fp32 scale per block
    ("fp8-b128", 8 + 32 / 128**2), ("fp8-b128x128", 8 + 32 / 128**2), ("fp8-b64x128", 8 + 32 / (64 * 128)),
    ("bnb-fp4", 4 + 8 / 64 + 32 / (64 * 256)), ("bnb-fp4-nodq", 4.5), ("fp64", 64), ("float8_e4m3fn", 8),
])
def test_new_format_bits(name, bits):
    assert get_format(name).bits_per_element == bits


def test_kv_capable():
    from ridgeline.formats import kv_capable

    assert all(kv_capable(get_format(n)) for n in ("fp32", "bf16", "fp16", "fp8", "int8"))
    assert not any(kv_capable(get_format(n)) for n in ("int4", "awq", "nf4", "mxfp4", "q4_k_m", "fp8-b128", "int8-g64"))


def test_torch_dtypes():
    from ridgeline.formats import format_from_torch_dtype

    assert format_from_torch_dtype("torch.bfloat16").name == "bf16"
    assert format_from_torch_dtype("float64").name == "fp64"
    assert format_from_torch_dtype("float128") is None and format_from_torch_dtype("int8") is None


@pytest.mark.parametrize("text", ["1e400", "1e30TB", "1000001TB", "1e19", "inf", "-1GB", "nan", "lots", "1" * 5000])
def test_parse_bytes_rejects_overflow_and_junk(text):
    with pytest.raises(InputError) as e:
        ridgeline.units.parse_bytes(text, "--runtime-overhead")
    assert str(e.value).startswith("--runtime-overhead: ") and len(str(e.value)) < 300


def test_parse_bytes_limits():
    assert ridgeline.units.parse_bytes("1000000TB") == 10**18
    assert ridgeline.units.parse_bytes(float("1e3")) == 1000


@pytest.mark.parametrize("text,tokens", [("8k", 8192), ("1M", 2**20), (" 12 ", 12), (4096, 4096)])
def test_parse_tokens(text, tokens):
    assert ridgeline.units.parse_tokens(text, "--context") == tokens


@pytest.mark.parametrize("text", ["1e400", "99999999999999999k", "8.5k", "lots", True, "k"])
def test_parse_tokens_rejects(text):
    with pytest.raises(InputError, match="--context"):
        ridgeline.units.parse_tokens(text, "--context")


def test_suggestions_name_each_thing_once():
    # aliases of one preset, and spellings that differ only in punctuation, are one suggestion
    e = UnknownNameError("model", "llama-3-71b", {"llama-3-70b": "A", "llama3-70b": "A", "Llama-3-70B": "A",
                                                 "llama-31-70b": "B", "llama-3.1-70b": "B"})
    assert e.suggestions == ["llama-3-70b", "llama-31-70b"]
    e = UnknownNameError("model", "x" * 5000, ["xx"])
    assert "(5,000 chars)" in str(e) and len(str(e)) < 200


def test_input_error_is_one_line_and_names_its_field():
    e = InputError("--weights: bad\nvalue")
    assert "\n" not in str(e) and e.field_name == "--weights"
    assert InputError("/x/config.json: field 'hidden_size' is missing").field_name == "hidden_size"
    assert InputError("anything", field="batch").field_name == "batch"
