"""GGUF files (llama.cpp): the header only, read by a small bounded parser; never tensor data.

Layout (ggml docs/gguf.md, version 3; version 2 is identical): the magic ``GGUF``, a uint32
version, uint64 tensor and key-value counts, the key-value metadata (a string key, a uint32
value type, the value; arrays carry an element type and a uint64 length), then one info per
tensor (name, uint32 n_dims, n_dims uint64 dims ``ne`` innermost first, uint32 ggml type, uint64
offset into the data section), then the tensor data, aligned to ``general.alignment`` (32).
Every integer is little-endian. Version 1 (32-bit counts, August 2023) is rejected.

Why our own reader rather than the ``gguf`` package: the core stays light (typer, rich, numpy)
and every read of an untrusted header is bounded here: counts, key and string lengths, array
lengths, nesting, n_dims, and every tensor's extent against the file size. The package
(``gguf.GGUFWriter``) is used in the tests to build real files.

The stored bytes of a tensor are exact: ``numel / block_elements * block_bytes`` from the
block structs in ggml (``ggml/src/ggml-common.h``, llama.cpp commit 01243c5) and the type ids of
``enum ggml_type`` (``ggml/include/ggml.h``). The metadata is mapped to a Hugging Face style
config dict and goes through the one adapter, :func:`ridgeline.model.hf.spec_from_config`.
"""

from __future__ import annotations

import math
import mmap
import re
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ridgeline.errors import CheckpointError, ConfigError

# ----------------------------------------------------------------------------- ggml types

#: ggml type id -> (name, elements per block, bytes per block). ggml-common.h block structs
#: (ggml_half = 2 bytes, QK_K = 256); ids from enum ggml_type. Ids 4, 5 (Q4_2, Q4_3) and
#: 31-33, 36-38 (repacked Q4_0_4_4 ... IQ4_NL_8_8) were removed from ggml and are errors.
#: Q8_1 is 2*ggml_half + 32 = 36 bytes in ggml-common.h (gguf-py 0.19 still lists 40, its
#: old float layout); Q8_1 and Q8_K are intermediate types that files do not normally hold.
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 2 + 16),            # d, qs[16]
    3: ("Q4_1", 32, 2 + 2 + 16),        # d, m, qs[16]
    6: ("Q5_0", 32, 2 + 4 + 16),        # d, qh[4], qs[16]
    7: ("Q5_1", 32, 2 + 2 + 4 + 16),    # d, m, qh[4], qs[16]
    8: ("Q8_0", 32, 2 + 32),            # d, qs[32]
    9: ("Q8_1", 32, 2 + 2 + 32),        # d, s, qs[32]
    10: ("Q2_K", 256, 16 + 64 + 2 + 2),           # scales[16], qs[64], d, dmin
    11: ("Q3_K", 256, 32 + 64 + 12 + 2),          # hmask[32], qs[64], scales[12], d
    12: ("Q4_K", 256, 2 + 2 + 12 + 128),          # d, dmin, scales[12], qs[128]
    13: ("Q5_K", 256, 2 + 2 + 12 + 32 + 128),     # d, dmin, scales[12], qh[32], qs[128]
    14: ("Q6_K", 256, 128 + 64 + 16 + 2),         # ql[128], qh[64], scales[16], d
    15: ("Q8_K", 256, 4 + 256 + 32),              # float d, qs[256], int16 bsums[16]
    16: ("IQ2_XXS", 256, 2 + 64),                 # d, uint16 qs[32]
    17: ("IQ2_XS", 256, 2 + 64 + 8),              # d, uint16 qs[32], scales[8]
    18: ("IQ3_XXS", 256, 2 + 96),                 # d, qs[96]
    19: ("IQ1_S", 256, 2 + 32 + 16),              # d, qs[32], uint16 qh[8]
    20: ("IQ4_NL", 32, 2 + 16),                   # d, qs[16]
    21: ("IQ3_S", 256, 2 + 64 + 8 + 32 + 4),      # d, qs[64], qh[8], signs[32], scales[4]
    22: ("IQ2_S", 256, 2 + 64 + 8 + 8),           # d, qs[64], qh[8], scales[8]
    23: ("IQ4_XS", 256, 2 + 2 + 4 + 128),         # d, scales_h, scales_l[4], qs[128]
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 32 + 16 + 8),              # qs[32], qh[16], scales[8]
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 48 + 4 + 2),               # qs[(256 - 16) / 5], qh[4], d
    35: ("TQ2_0", 256, 64 + 2),                   # qs[64], d
    39: ("MXFP4", 32, 1 + 16),                    # E8M0 e, qs[16]
    40: ("NVFP4", 64, 4 + 32),                    # UE4M3 d[4], qs[32]
    41: ("Q1_0", 128, 2 + 16),                    # d, qs[16]
}

# ----------------------------------------------------------------------------- bounds

GGUF_MAGIC = b"GGUF"
#: Bounds on an untrusted header (real files: a few hundred keys, < 1e5 tensors, vocabularies
#: of ~2.6e5 tokens plus ~4e5 merges, chat templates of tens of kB).
MAX_TENSORS = 1 << 20
MAX_KV = 1 << 16
MAX_KEY_BYTES = 65_535           # gguf.md: keys are at most 2^16 - 1 bytes
MAX_STRING_BYTES = 1 << 24
MAX_ARRAY_LEN = 1 << 24
MAX_STRING_ELEMENTS = 1 << 23    # all string-array elements of a file together (each is a loop step)
MAX_NESTING = 2                  # arrays of arrays of scalars, no deeper
MAX_DIMS = 4                     # GGML_MAX_DIMS
MAX_SHARDS = 1024
#: Arrays kept in memory whole (per-layer hyperparameters); longer ones keep only their length.
MAX_KEPT_ARRAY = 4096

# value types (gguf.md): size in bytes and struct code of the scalars
_SCALARS = {0: (1, "B"), 1: (1, "b"), 2: (2, "H"), 3: (2, "h"), 4: (4, "I"), 5: (4, "i"), 6: (4, "f"),
            7: (1, "?"), 10: (8, "Q"), 11: (8, "q"), 12: (8, "d")}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class GGUFArray:
    """A metadata array: its element type and length; values only when short (<= MAX_KEPT_ARRAY)."""

    element_type: int
    length: int
    values: tuple | None


@dataclass(frozen=True)
class GGUFTensor:
    name: str
    ggml_type: str
    """ggml type name, e.g. "Q4_K"."""
    shape: tuple[int, ...]
    """ggml ``ne``: innermost (row length) first, the reverse of the PyTorch shape."""
    offset: int
    """Byte offset in the file's data section."""
    nbytes: int
    """Stored bytes, exact (whole blocks)."""
    file: str

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class GGUFInfo:
    """A GGUF model's header: metadata and tensor infos over all its split files."""

    path: str
    files: tuple[str, ...]
    version: int
    metadata: dict[str, Any]
    tensors: tuple[GGUFTensor, ...]

    @property
    def architecture(self) -> str | None:
        a = self.metadata.get("general.architecture")
        return a if isinstance(a, str) else None

    @property
    def num_elements(self) -> int:
        return sum(t.numel for t in self.tensors)

    @property
    def total_bytes(self) -> int:
        """Stored bytes of every tensor (the weights a runtime loads), exact."""
        return sum(t.nbytes for t in self.tensors)

    def by_dtype(self) -> dict[str, dict[str, int]]:
        """Tensors, elements and bytes per ggml type (same shape as a safetensors summary)."""
        from ridgeline.model.checkpoint import summary_by  # noqa: PLC0415

        return summary_by(self.tensors, lambda t: t.ggml_type)


# ----------------------------------------------------------------------------- the reader

def _q(x: Any, limit: int = 60) -> str:
    """A name or value from the file for a one-line message: repr, cut to ``limit`` characters."""
    r = repr(x)
    return r if len(r) <= limit else r[:limit] + "..."


class _Cursor:
    """Bounded little-endian reads from a memory map; any overrun is a one-line error."""

    def __init__(self, buf: mmap.mmap | bytes, path: Path):
        self.buf, self.pos, self.size, self.path = buf, 0, len(buf), path
        self.string_elements = 0

    def fail(self, what: str) -> CheckpointError:
        return CheckpointError(f"{self.path}: {what}; not a valid GGUF file (truncated or corrupt), "
                               "re-download or re-convert it")

    def take(self, n: int, what: str) -> int:
        if n < 0 or self.pos + n > self.size:
            raise self.fail(f"{what} runs past the end of the file (offset {self.pos:,}, file {self.size:,} bytes)")
        p = self.pos
        self.pos += n
        return p

    def scalar(self, code: str, n: int, what: str) -> Any:
        return struct.unpack_from("<" + code, self.buf, self.take(n, what))[0]

    def u32(self, what: str) -> int:
        return self.scalar("I", 4, what)

    def u64(self, what: str) -> int:
        return self.scalar("Q", 8, what)

    def string(self, what: str, limit: int = MAX_STRING_BYTES, keep: bool = True) -> str | None:
        n = self.u64(f"{what} length")
        if n > limit:
            raise self.fail(f"{what} claims {n:,} bytes (limit {limit:,})")
        p = self.take(n, what)
        if not keep:
            return None
        try:
            return bytes(self.buf[p:p + n]).decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not UTF-8") from None

    def skip_strings(self, n: int, what: str) -> None:
        """Step over ``n`` strings (a vocabulary, merges) without decoding them: a tight loop."""
        buf, pos, size, unpack = self.buf, self.pos, self.size, struct.Struct("<Q").unpack_from
        for _ in range(n):
            if pos + 8 > size:
                self.pos = pos
                raise self.fail(f"{what} runs past the end of the file")
            (k,) = unpack(buf, pos)
            pos += 8 + k
            if k > MAX_STRING_BYTES or pos > size:
                self.pos = pos - k
                raise self.fail(f"{what} holds a string of {k:,} bytes past the end of the file or the limit")
        self.pos = pos

    def value(self, vtype: int, what: str, depth: int = 0) -> Any:
        if vtype in _SCALARS:
            size, code = _SCALARS[vtype]
            return self.scalar(code, size, what)
        if vtype == _STRING:
            return self.string(what)
        if vtype != _ARRAY:
            raise self.fail(f"{what} has unknown value type {vtype}")
        if depth >= MAX_NESTING:
            raise self.fail(f"{what} nests arrays deeper than {MAX_NESTING}")
        etype = self.u32(f"{what} element type")
        n = self.u64(f"{what} length")
        if n > MAX_ARRAY_LEN:
            raise self.fail(f"{what} claims {n:,} elements (limit {MAX_ARRAY_LEN:,})")
        keep = n <= MAX_KEPT_ARRAY
        if etype in _SCALARS:
            size, code = _SCALARS[etype]
            p = self.take(n * size, what)
            return GGUFArray(etype, n, struct.unpack_from(f"<{n}{code}", self.buf, p) if keep else None)
        if etype == _STRING:
            self.string_elements += n
            if self.string_elements > MAX_STRING_ELEMENTS:
                raise self.fail(f"string arrays hold more than {MAX_STRING_ELEMENTS:,} elements in all")
            if not keep:
                self.skip_strings(n, what)
                return GGUFArray(etype, n, None)
            return GGUFArray(etype, n, tuple(self.string(f"{what}[{i}]") for i in range(n)))
        if etype == _ARRAY:
            vals = [self.value(_ARRAY, f"{what}[{i}]", depth + 1) for i in range(n)]
            return GGUFArray(etype, n, tuple(vals) if keep else None)
        raise self.fail(f"{what} has unknown element type {etype}")


def read_gguf_header(path: str | Path) -> tuple[int, dict[str, Any], list[GGUFTensor]]:
    """Parse one GGUF file's header: (version, metadata, tensors), validated against the file size."""
    from ridgeline.files import open_regular  # noqa: PLC0415

    p = Path(path)
    with open_regular(p, ".gguf file", CheckpointError) as (fh, size):
        if size < 24:
            raise CheckpointError(f"{p}: {size} bytes is too short for a GGUF file (needs a 24-byte header)")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return _parse(_Cursor(mm, p))


def _parse(c: _Cursor) -> tuple[int, dict[str, Any], list[GGUFTensor]]:
    p = c.path
    magic = bytes(c.buf[0:4])
    c.take(4, "magic")
    if magic != GGUF_MAGIC:
        raise CheckpointError(f"{p}: not a GGUF file (magic {magic!r}, expected b'GGUF'); pass a .gguf file")
    version = c.u32("version")
    if version not in (2, 3):
        if version == 1:
            raise CheckpointError(f"{p}: GGUF version 1 (2023) is obsolete; re-convert with a current llama.cpp")
        if version & 0xFFFF == 0:
            raise CheckpointError(f"{p}: a big-endian GGUF file; ridgeline reads little-endian GGUF only")
        raise CheckpointError(f"{p}: unknown GGUF version {version}; ridgeline reads versions 2 and 3")
    n_tensors = c.u64("tensor count")
    n_kv = c.u64("metadata count")
    if n_tensors > MAX_TENSORS:
        raise c.fail(f"tensor count {n_tensors:,} is absurd (limit {MAX_TENSORS:,})")
    if n_kv > MAX_KV:
        raise c.fail(f"metadata count {n_kv:,} is absurd (limit {MAX_KV:,})")
    meta: dict[str, Any] = {}
    for i in range(n_kv):
        key = c.string(f"metadata key #{i}", MAX_KEY_BYTES)
        vtype = c.u32(f"type of {_q(key)}")
        meta[key] = c.value(vtype, f"metadata {_q(key)}")
    align = meta.get("general.alignment", 32)
    if not isinstance(align, int) or isinstance(align, bool) or align < 1 or align & (align - 1) or align > 1 << 20:
        raise c.fail(f"general.alignment {_q(align)} is not a power of two")
    infos = []
    for i in range(n_tensors):
        name = c.string(f"tensor #{i} name", MAX_KEY_BYTES)
        nd = c.u32(f"tensor {_q(name)} n_dims")
        if nd > MAX_DIMS:
            raise c.fail(f"tensor {_q(name)} has {nd} dimensions (ggml allows {MAX_DIMS})")
        shape = tuple(c.u64(f"tensor {_q(name)} shape") for _ in range(nd))
        tid = c.u32(f"tensor {_q(name)} type")
        off = c.u64(f"tensor {_q(name)} offset")
        infos.append((name, shape, tid, off))
    data_start = -(-c.pos // align) * align
    data_len = c.size - data_start
    out = []
    for name, shape, tid, off in infos:
        if tid not in GGML_TYPES:
            raise CheckpointError(f"{p}: tensor {_q(name)} has ggml type id {tid}, which is not among the "
                                  f"{len(GGML_TYPES)} types ridgeline knows (F32 ... MXFP4, NVFP4); update ridgeline "
                                  "or re-quantize to a known type")
        tname, blk, tsize = GGML_TYPES[tid]
        numel = math.prod(shape)
        if numel >= 1 << 62:
            raise c.fail(f"tensor {_q(name)} shape {list(shape)} is absurd")
        if shape and shape[0] % blk:
            raise c.fail(f"tensor {_q(name)}: rows of {shape[0]} are not whole {tname} blocks of {blk}")
        nbytes = numel // blk * tsize
        if off % align or off + nbytes > data_len:
            raise c.fail(f"tensor {_q(name)} ({tname}, {nbytes:,} bytes at offset {off:,}) lies outside the data "
                         f"section ({max(data_len, 0):,} bytes)")
        out.append(GGUFTensor(name, tname, shape, off, nbytes, p.name))
    last_end, last_name = 0, ""
    for t in sorted(out, key=lambda t: t.offset):
        if t.offset < last_end:
            raise c.fail(f"tensors {_q(last_name)} and {_q(t.name)} overlap")
        last_end, last_name = t.offset + t.nbytes, t.name
    return version, meta, out


_SPLIT_RE = re.compile(r"^(?P<prefix>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$")


def inspect_gguf(path: str | Path) -> GGUFInfo:
    """Read a ``.gguf`` file's header; for a split model (``NAME-00001-of-0000N.gguf``, llama.cpp's
    ``gguf-split``), the first file's metadata and every file's tensors."""
    p = Path(path).expanduser()
    version, meta, tensors = read_gguf_header(p)
    files = [p.name]
    count = meta.get("split.count", 1)
    if isinstance(count, int) and not isinstance(count, bool) and count > 1:
        no = meta.get("split.no", 0)
        m = _SPLIT_RE.match(p.name)
        if no != 0 or m is None:
            raise CheckpointError(f"{p}: one part of a split GGUF (split.no {_q(no)}); pass the first file, "
                                  "named like NAME-00001-of-0000N.gguf")
        if count > MAX_SHARDS:
            raise CheckpointError(f"{p}: split.count {count:,} is absurd (limit {MAX_SHARDS})")
        for i in range(2, count + 1):
            f = p.with_name(f"{m['prefix']}-{i:05d}-of-{count:05d}.gguf")
            if not f.exists():
                raise CheckpointError(f"{p}: split part {f.name} is missing; download every part")
            _, m2, t2 = read_gguf_header(f)
            if m2.get("split.no") != i - 1:
                raise CheckpointError(f"{f}: split.no is {_q(m2.get('split.no'))}, expected {i - 1}; the parts are mixed up")
            tensors.extend(t2)
            files.append(f.name)
        want = meta.get("split.tensors.count")
        if isinstance(want, int) and want != len(tensors):
            raise CheckpointError(f"{p}: the parts hold {len(tensors)} tensors but split.tensors.count is {want}; "
                                  "a part is from another model or incomplete")
    return GGUFInfo(str(p), tuple(files), version, meta, tuple(tensors))


def gguf_weight_bytes(path: str | Path) -> int:
    """Exact stored bytes of every tensor of a GGUF model (all split parts), from headers only."""
    return inspect_gguf(path).total_bytes


# ----------------------------------------------------------------------------- metadata -> config

#: GGUF ``general.architecture`` -> Hugging Face ``model_type`` (text model). llama.cpp names its
#: architectures in ``src/llama-arch.cpp``; the keys written per family are those of
#: ``convert_hf_to_gguf.py``. ``mistral3`` (Mistral Small 3.x, Ministral 3, Devstral 2 text models;
#: the vision tower lives in a separate mmproj file) has Mistral's text shapes and the standard keys.
#: A llama file with experts is Mixtral; deepseek2 is V3 when its
#: router is sigmoid-gated (``expert_gating_func`` 2) or holds ``exp_probs_b``, else V2.
GGUF_ARCHITECTURES: dict[str, str] = {
    "llama": "llama", "qwen2": "qwen2", "qwen2moe": "qwen2_moe", "qwen3": "qwen3", "qwen3moe": "qwen3_moe",
    "gemma": "gemma", "gemma2": "gemma2", "gemma3": "gemma3_text", "phi3": "phi3", "deepseek2": "deepseek_v3",
    "gpt-oss": "gpt_oss", "mistral3": "mistral",
    "olmo2": "olmo2", "granite": "granite", "cohere2": "cohere2", "smollm3": "smollm3", "exaone4": "exaone4",
}
#: Layers beyond any real model (the adapter's own bound); checked before per-layer lists are built.
MAX_LAYERS = 10_000
#: Tensors llama.cpp stores that are not model parameters in transformers (rotary tables).
NON_PARAMETER_TENSORS = ("rope_freqs.weight", "rope_factors_long.weight", "rope_factors_short.weight")


class _Meta:
    """Typed access to ``{arch}.*`` keys; errors name the key."""

    def __init__(self, info: GGUFInfo, arch: str):
        self.m, self.arch, self.where = info.metadata, arch, info.path

    def get(self, key: str, default: Any = None, *, required: bool = False) -> Any:
        full = f"{self.arch}.{key}"
        v = self.m.get(full)
        if v is None:
            if required:
                raise ConfigError(f"{self.where}: GGUF key {_q(full)} is missing; the file lacks the model's "
                                  "hyperparameters, re-convert it with a current llama.cpp")
            return default
        if isinstance(v, GGUFArray):  # per-layer values: accepted when uniform
            vals = set(v.values or ())
            if v.values is None or len(vals) != 1:
                raise ConfigError(f"{self.where}: GGUF key {_q(full)} varies per layer; ridgeline needs one value "
                                  "for every layer (this architecture is not supported)")
            v = vals.pop()
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{self.where}: GGUF key {_q(full)} must be a number, got {_q(v)}")
        return v

    def size(self, key: str, limit: int = 1 << 30) -> int:
        """A required whole number in [1, limit] (layers, widths, heads): checked before any arithmetic."""
        v = self.get(key, required=True)
        if isinstance(v, float):
            if not v.is_integer():
                raise ConfigError(f"{self.where}: GGUF key {_q(f'{self.arch}.{key}')} must be a whole number, got {v}")
            v = int(v)
        if not 1 <= v <= limit:
            raise ConfigError(f"{self.where}: GGUF key {_q(f'{self.arch}.{key}')} is {v:,}; it must be in "
                              f"[1, {limit:,}], the file is corrupt")
        return v


def gguf_config(info: GGUFInfo) -> dict[str, Any]:
    """Map a GGUF header to a Hugging Face style config dict for :func:`spec_from_config`."""
    arch = info.architecture
    if arch is None:
        raise ConfigError(f"{info.path}: GGUF key 'general.architecture' is missing or not a string; "
                          "the file is not a llama.cpp model")
    if arch not in GGUF_ARCHITECTURES:
        raise ConfigError(f"{info.path}: GGUF architecture {_q(arch)} is not supported; supported: "
                          f"{', '.join(GGUF_ARCHITECTURES)}")
    g = _Meta(info, arch)
    names = {t.name: t for t in info.tensors}
    mt = GGUF_ARCHITECTURES[arch]
    H = g.size("embedding_length")
    L = g.size("block_count", MAX_LAYERS)
    N = g.size("attention.head_count")
    emb = names.get("token_embd.weight")
    vocab = emb.shape[1] if emb is not None and len(emb.shape) == 2 else None
    if vocab is None:
        vocab = g.get("vocab_size")
    if vocab is None:
        tokens = info.metadata.get("tokenizer.ggml.tokens")
        vocab = tokens.length if isinstance(tokens, GGUFArray) else None
    if vocab is None:
        raise ConfigError(f"{info.path}: no vocabulary size (no token_embd.weight, {arch}.vocab_size or "
                          "tokenizer.ggml.tokens); the file is incomplete")
    cfg: dict[str, Any] = {
        "model_type": mt, "vocab_size": vocab, "hidden_size": H, "num_hidden_layers": L,
        "num_attention_heads": N, "num_key_value_heads": g.get("attention.head_count_kv", N),
        "intermediate_size": g.get("feed_forward_length", required=mt != "gpt_oss" and mt != "qwen3_moe"),
        "max_position_embeddings": g.get("context_length"),
        # llama.cpp leaves the output matrix out when it is the embedding (tied)
        "tie_word_embeddings": "output.weight" not in names,
        # llama.cpp's default KV cache type is f16 (common_params::cache_type_k/v, common/common.h); weights as stored
        "torch_dtype": "float16",
    }
    # biases are not in the metadata: their tensors say (llama's attention_bias / mlp_bias)
    cfg["attention_bias"] = any(f"blk.0.{t}.bias" in names for t in ("attn_q", "attn_qkv", "attn_output"))
    if mt in ("llama", "granite", "smollm3"):
        cfg["mlp_bias"] = any(f"blk.0.{t}.bias" in names for t in ("ffn_up", "ffn_down", "ffn_gate"))
    if (rope := g.get("rope.freq_base")) is not None:
        cfg["rope_theta"] = rope
    # llama.cpp's head size when key_length is absent is n_embd / n_head (llama-model.cpp), not
    # transformers' family default (Qwen3 128, Gemma 256): set it explicitly.
    D = g.get("attention.key_length", H // N)
    Dv = g.get("attention.value_length", D)
    window = g.get("attention.sliding_window")
    n_experts = g.get("expert_count", 0)
    nextn = g.get("nextn_predict_layers", 0)
    if mt == "deepseek_v3":
        return _deepseek(info, g, cfg, names, L, nextn)
    if D != Dv:
        raise ConfigError(f"{info.path}: {arch}.attention.key_length ({D}) differs from value_length ({Dv}); "
                          "ridgeline supports equal key and value heads for this architecture")
    cfg["head_dim"] = D
    if mt in ("llama", "mistral", "phi3", "qwen2", "qwen3", "qwen2_moe", "qwen3_moe", "gemma"):
        cfg["sliding_window"] = window  # None when the file names no window
    elif window is not None:
        cfg["sliding_window"] = window
    if mt == "gemma3_text" and (pat := g.get("attention.sliding_window_pattern")) is not None:
        cfg["sliding_window_pattern"] = pat
    if mt == "llama" and n_experts:
        cfg.update(model_type="mixtral", num_local_experts=n_experts,
                   num_experts_per_tok=g.get("expert_used_count", required=True))
    elif mt in ("qwen2_moe", "qwen3_moe"):
        cfg.update(num_experts=n_experts, num_experts_per_tok=g.get("expert_used_count", required=True),
                   moe_intermediate_size=g.get("expert_feed_forward_length", required=True),
                   mlp_only_layers=[i for i in range(L) if f"blk.{i}.ffn_gate_inp.weight" not in names])
        if cfg["intermediate_size"] is None:
            cfg.pop("intermediate_size")
        if mt == "qwen2_moe":
            cfg["shared_expert_intermediate_size"] = g.get("expert_shared_feed_forward_length", 0)
    elif mt == "gpt_oss":
        cfg.update(num_local_experts=n_experts, experts_per_token=g.get("expert_used_count", required=True),
                   intermediate_size=g.get("expert_feed_forward_length", cfg["intermediate_size"]))
    if nextn:
        raise ConfigError(f"{info.path}: {arch}.nextn_predict_layers is set; multi-token-prediction layers are "
                          f"supported for deepseek2 only")
    return cfg


def _deepseek(info: GGUFInfo, g: _Meta, cfg: dict, names: dict, L: int, nextn: int) -> dict[str, Any]:
    """deepseek2 (DeepSeek-V2/V3, Kimi K2): MLA stored as MQA with one compressed head since
    llama.cpp's MLA refactor; head sizes then in ``key_length_mla`` / ``value_length_mla``."""
    rope = g.get("rope.dimension_count", required=True)
    k_mla = g.get("attention.key_length_mla")
    if k_mla is not None:
        qk, v = k_mla, g.get("attention.value_length_mla", required=True)
    else:  # files converted before the MLA refactor: per-head sizes in key_length / value_length
        qk, v = g.get("attention.key_length", required=True), g.get("attention.value_length", required=True)
    if qk <= rope:
        raise ConfigError(f"{info.path}: deepseek2 key length {qk} is not larger than rope.dimension_count {rope}")
    sigmoid = g.get("expert_gating_func", 0) == 2 or any(n.endswith("exp_probs_b.bias") for n in names)
    cfg.update(
        model_type="deepseek_v3" if sigmoid else "deepseek_v2",
        num_key_value_heads=cfg["num_attention_heads"],  # transformers' config; MLA caches one latent
        q_lora_rank=g.get("attention.q_lora_rank"), kv_lora_rank=g.get("attention.kv_lora_rank", required=True),
        qk_rope_head_dim=rope, qk_nope_head_dim=qk - rope, v_head_dim=v,
        n_routed_experts=g.get("expert_count", 0), num_experts_per_tok=g.get("expert_used_count", required=True),
        moe_intermediate_size=g.get("expert_feed_forward_length", required=True),
        n_shared_experts=g.get("expert_shared_count", 0),
        first_k_dense_replace=g.get("leading_dense_block_count", 0),
    )
    if nextn:
        # convert_hf_to_gguf counts MTP layers in block_count; transformers builds none
        cfg.update(num_hidden_layers=L - nextn, num_nextn_predict_layers=nextn)
    return cfg


def spec_from_gguf(path: str | Path, info: GGUFInfo | None = None):
    """A ModelSpec from a GGUF header, through the one config adapter."""
    from ridgeline.model.hf import spec_from_config  # noqa: PLC0415 (hf imports nothing from here)

    info = info or inspect_gguf(path)
    p = Path(path)
    name = info.metadata.get("general.name")
    name = name if isinstance(name, str) and 0 < len(name) <= 200 and name.isprintable() else p.stem
    spec = spec_from_config(gguf_config(info), name=name, source=f"{p} (GGUF header)")
    file_type = {t.ggml_type for t in info.tensors}
    note = (f"read from a GGUF header (architecture {info.architecture}); weights as stored "
            f"({', '.join(sorted(file_type))}); KV cache f16, llama.cpp's default")
    return replace(spec, notes=(*spec.notes, note))


def parameter_elements(info: GGUFInfo) -> int:
    """Elements of the tensors that are model parameters (rotary tables left out)."""
    return sum(t.numel for t in info.tensors if t.name not in NON_PARAMETER_TENSORS)
