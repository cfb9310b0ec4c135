"""Number formats: effective bits per element, including block/group scale overhead.

Bits are stored, never bytes, so that a 4-bit format is 0.5 bytes and not 0.
``bits_per_element = value_bits + (scale_bits + zero_bits) / group_size``.

Sources for the block layouts:
- GPTQ / AWQ: per-group fp16 scale and a 4-bit zero point packed into int32
  (AutoGPTQ / AutoAWQ checkpoint layout: ``qweight``, ``qzeros``, ``scales``).
  GPTQ's ``g_idx`` (one int32 per input row of each quantized linear) depends on the
  layer's shape, not on the element count: ridgeline.model.quant states it in bytes.
- Per-channel formats (``int4-gch``, ``int8``, ``fp8-ch``; GPTQ ``group_size: -1``,
  compressed-tensors ``strategy: channel``, fbgemm_fp8): one scale (and zero point) per
  output row, i.e. (scale + zero bits) / in_features per element: below 0.02 bits for any
  in_features >= 2048, so not counted (a checkpoint folder gives the exact bytes).
- Symmetric integer groups (``int4-sym-g128``; compressed-tensors ``pack-quantized`` with
  ``symmetric: true``): a 16-bit scale per group and no zero point
  (neuralmagic/compressed-tensors, ``weight_packed`` / ``weight_scale``).
- FP8 blocks (``fp8-b128``, ``fp8-bNxM``): one fp32 scale per N x M block
  (transformers ``FineGrainedFP8Config.weight_block_size``; DeepSeek-V3 ``weight_scale_inv``).
- bitsandbytes FP4 (``bnb-fp4``): same blocks as NF4 (64 values, absmax, optional double
  quantization), another 4-bit code book (bitsandbytes ``quant_type="fp4"``).
- NF4: QLoRA (Dettmers et al. 2023, arXiv 2305.14314, sec. 3 "Double Quantization"):
  blocks of 64 with an 8-bit absmax, re-quantized with one fp32 per 256 blocks:
  4 + 8/64 + 32/(64*256) = 4.127 bits.
- MXFP4 / MXFP8: OCP Microscaling Formats (MX) Specification v1.0, blocks of 32 with
  one E8M0 (8-bit) shared scale.
- NVFP4: NVIDIA Blackwell NVFP4: blocks of 16 with an FP8 (E4M3) scale (the per-tensor
  fp32 scale is negligible and not counted).
- GGUF: block structs in ggml (``ggml-common.h``): Q8_0 = 34 bytes / 32 weights,
  Q4_0 = 18/32, Q4_1 = 20/32, Q5_0 = 22/32, Q5_1 = 24/32, Q2_K = 84/256,
  Q3_K = 110/256, Q4_K = 144/256, Q5_K = 176/256, Q6_K = 210/256.
  Mixed file types (Q4_K_M, ...) mix these per tensor; the name given here is the
  format of the bulk of the linear weights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ridgeline.errors import UnknownNameError


@dataclass(frozen=True)
class NumberFormat:
    """A storage format for tensors."""

    name: str
    """Canonical lower-case name, e.g. ``"int4-g128"``."""
    bits_per_element: float
    """Effective storage bits per element, scale and zero-point overhead included."""
    is_float: bool
    """True for unscaled floating formats (fp32, bf16, fp16, fp8) usable for compute and KV."""
    description: str
    """One line saying what the bits are made of."""

    @property
    def bytes_per_element(self) -> float:
        return self.bits_per_element / 8

    def nbytes(self, num_elements: int | float) -> float:
        """Bytes to store ``num_elements`` elements (exact for whole-byte formats)."""
        return num_elements * self.bits_per_element / 8


def _grouped(name: str, value_bits: int, group: int, scale_bits: int, zero_bits: int, what: str) -> NumberFormat:
    bits = value_bits + (scale_bits + zero_bits) / group
    return NumberFormat(name, bits, False, f"{value_bits}-bit values + {what} per {group} elements = {bits:.4g} bits")


_FIXED: dict[str, NumberFormat] = {
    "fp64": NumberFormat("fp64", 64, True, "IEEE binary64"),
    "fp32": NumberFormat("fp32", 32, True, "IEEE binary32"),
    "bf16": NumberFormat("bf16", 16, True, "bfloat16"),
    "fp16": NumberFormat("fp16", 16, True, "IEEE binary16"),
    "fp8": NumberFormat("fp8", 8, True, "FP8 (E4M3/E5M2), per-tensor scale (negligible)"),
    "fp8-b128": NumberFormat("fp8-b128", 8 + 32 / (128 * 128), False,
                             "FP8 E4M3 with an fp32 scale per 128x128 block (DeepSeek-V3 checkpoints) = 8.002 bits"),
    "fp8-ch": NumberFormat("fp8-ch", 8, False,
                           "FP8 E4M3, one scale per output channel (scale bits / in_features: negligible)"),
    "int8": NumberFormat("int8", 8, False, "8-bit integer, per-channel scale (negligible)"),
    "nf4": NumberFormat("nf4", 4 + 8 / 64 + 32 / (64 * 256), False,
                        "NF4, block 64, double-quantized absmax (QLoRA) = 4.127 bits"),
    "nf4-nodq": NumberFormat("nf4-nodq", 4 + 32 / 64, False, "NF4, block 64, fp32 absmax = 4.5 bits"),
    "bnb-fp4": NumberFormat("bnb-fp4", 4 + 8 / 64 + 32 / (64 * 256), False,
                            "bitsandbytes FP4, block 64, double-quantized absmax = 4.127 bits"),
    "bnb-fp4-nodq": NumberFormat("bnb-fp4-nodq", 4 + 32 / 64, False,
                                 "bitsandbytes FP4, block 64, fp32 absmax = 4.5 bits"),
    "mxfp4": NumberFormat("mxfp4", 4 + 8 / 32, False, "MXFP4 (E2M1), E8M0 scale per 32 = 4.25 bits"),
    "mxfp8": NumberFormat("mxfp8", 8 + 8 / 32, False, "MXFP8 (E4M3), E8M0 scale per 32 = 8.25 bits"),
    "nvfp4": NumberFormat("nvfp4", 4 + 8 / 16, False, "NVFP4 (E2M1), FP8 scale per 16 = 4.5 bits"),
    "q8_0": NumberFormat("q8_0", 34 * 8 / 32, False, "GGUF Q8_0: 34 bytes per 32 = 8.5 bits"),
    "q4_0": NumberFormat("q4_0", 18 * 8 / 32, False, "GGUF Q4_0: 18 bytes per 32 = 4.5 bits"),
    "q4_1": NumberFormat("q4_1", 20 * 8 / 32, False, "GGUF Q4_1: 20 bytes per 32 = 5 bits"),
    "q5_0": NumberFormat("q5_0", 22 * 8 / 32, False, "GGUF Q5_0: 22 bytes per 32 = 5.5 bits"),
    "q5_1": NumberFormat("q5_1", 24 * 8 / 32, False, "GGUF Q5_1: 24 bytes per 32 = 6 bits"),
    "q2_k": NumberFormat("q2_k", 84 * 8 / 256, False, "GGUF Q2_K: 84 bytes per 256 = 2.625 bits"),
    "q3_k": NumberFormat("q3_k", 110 * 8 / 256, False, "GGUF Q3_K: 110 bytes per 256 = 3.4375 bits"),
    "q4_k": NumberFormat("q4_k", 144 * 8 / 256, False, "GGUF Q4_K: 144 bytes per 256 = 4.5 bits"),
    "q5_k": NumberFormat("q5_k", 176 * 8 / 256, False, "GGUF Q5_K: 176 bytes per 256 = 5.5 bits"),
    "q6_k": NumberFormat("q6_k", 210 * 8 / 256, False, "GGUF Q6_K: 210 bytes per 256 = 6.5625 bits"),
}

_ALIASES = {
    "float64": "fp64", "double": "fp64", "f64": "fp64",
    "float32": "fp32", "f32": "fp32", "float": "fp32",
    "bfloat16": "bf16",
    "float16": "fp16", "half": "fp16", "f16": "fp16",
    "fp8_e4m3": "fp8", "fp8-e4m3": "fp8", "e4m3": "fp8", "fp8_e5m2": "fp8", "float8": "fp8",
    "float8_e4m3fn": "fp8", "float8_e5m2": "fp8", "float8_e4m3fnuz": "fp8", "float8_e5m2fnuz": "fp8",
    "fp8-b128x128": "fp8-b128",
    "fp4": "nvfp4",
    "q4_k_m": "q4_k", "q4_k_s": "q4_k", "q5_k_m": "q5_k", "q5_k_s": "q5_k", "q3_k_m": "q3_k",
    "q3_k_s": "q3_k", "q3_k_l": "q3_k", "q2_k_s": "q2_k",
    "int4": "int4-g128", "awq": "awq-g128", "gptq": "gptq-g128",
}

_GROUPED_RE = re.compile(r"^(int4|awq|gptq|int8|int3|int2)(-sym)?-g(\d+|ch)$")
_FP8_BLOCK_RE = re.compile(r"^fp8-b(\d+)(?:x(\d+))?$")
_INT_BITS = {"int8": 8, "int3": 3, "int2": 2, "int4": 4, "awq": 4, "gptq": 4}

#: Names shown in help and error messages.
KNOWN_FORMATS: tuple[str, ...] = tuple(sorted(_FIXED)) + (
    "int4[-gN]", "int4-sym-gN", "int4-gch", "awq[-gN]", "gptq[-gN]", "int8-gN", "int8-gch", "fp8-bNxM", "fp4")

#: dtype strings found in config.json (``torch_dtype``) and safetensors headers.
DTYPE_BITS: dict[str, int] = {
    "F64": 64, "F32": 32, "F16": 16, "BF16": 16, "F8_E4M3": 8, "F8_E5M2": 8, "F8_E8M0": 8,
    "I64": 64, "I32": 32, "I16": 16, "I8": 8, "U8": 8, "U16": 16, "U32": 32, "U64": 64, "BOOL": 8,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "I4": 4, "U4": 4,
}


def get_format(name: str, field: str = "format") -> NumberFormat:
    """Look a format up by name (case-insensitive): ``bf16``, ``int4``, ``awq-g64``, ``q4_k_m``."""
    key = str(name).strip().lower().replace(" ", "")
    key = _ALIASES.get(key, key)
    if key in _FIXED:
        return _FIXED[key]
    m = _GROUPED_RE.match(key)
    if m:
        kind, sym, g = m.group(1), bool(m.group(2)), m.group(3)
        bits = _INT_BITS[kind]
        if g == "ch":
            if kind == "int8" and not sym:
                return _FIXED["int8"]
            return NumberFormat(key, bits, False, f"{bits}-bit integer, one scale{'' if sym else ' and zero point'} "
                                                  "per output channel (bits / in_features: negligible)")
        group = int(g)
        if not 0 < group <= 2**20:
            raise UnknownNameError(f"number format for {field}", name, KNOWN_FORMATS,
                                   "the group size must be between 1 and 2^20")
        if sym:  # symmetric: a 16-bit scale per group, no zero point (compressed-tensors pack-quantized)
            return _grouped(key, bits, group, 16, 0, "16-bit scale")
        # Integer weight-only formats: fp16 scale and a packed zero point of the same width per group.
        return _grouped(key, bits, group, 16, bits, f"fp16 scale + {bits}-bit zero point")
    m = _FP8_BLOCK_RE.match(key)
    if m:
        rows, cols = int(m.group(1)), int(m.group(2) or m.group(1))
        if not (0 < rows <= 2**16 and 0 < cols <= 2**16):
            raise UnknownNameError(f"number format for {field}", name, KNOWN_FORMATS,
                                   "block sides must be between 1 and 65536")
        bits = 8 + 32 / (rows * cols)
        return NumberFormat(key, bits, False, f"FP8 E4M3 with an fp32 scale per {rows}x{cols} block = {bits:.4g} bits")
    known = {k: k for k in _FIXED} | dict(_ALIASES)
    raise UnknownNameError(f"number format for {field}", name, known, "try bf16, fp8, int8, int4, awq, nf4, mxfp4, q4_k_m")


def kv_capable(fmt: NumberFormat) -> bool:
    """Formats a KV cache can be stored in: unscaled floats (fp32, bf16, fp16, fp8) and int8
    (vLLM ``--kv-cache-dtype fp8``; TensorRT-LLM INT8/FP8 KV cache). Weight-only block formats
    (int4-g128, awq, nf4, GGUF quants, ...) are not."""
    return fmt.is_float or fmt.name == "int8"


def format_from_torch_dtype(dtype: str | None) -> NumberFormat | None:
    """Map a config's ``torch_dtype`` / ``dtype`` string (``bfloat16``, ``torch.float16``) to a
    float format, or None if absent or not a float dtype ridgeline knows."""
    if not dtype or not isinstance(dtype, str):
        return None
    key = dtype.replace("torch.", "").strip().lower()
    key = _ALIASES.get(key, key)
    fmt = _FIXED.get(key)
    return fmt if fmt is not None and fmt.is_float else None
