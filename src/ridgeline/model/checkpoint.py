"""Checkpoint inspection from safetensors headers only: never tensor data, never pickles.

safetensors layout (huggingface/safetensors, README "Format"): an 8-byte little-endian
unsigned header length N, then N bytes of JSON mapping tensor names to
``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the end of the
header), plus an optional ``__metadata__`` string map. The reference implementation
rejects headers above 100 MB and tensors whose byte ranges overlap; so do we.

Every file is opened only if it is a regular file (``stat`` before ``open``, and
``O_NONBLOCK`` so that a FIFO swapped in between can never block; see ridgeline.files), and
every read is bounded.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
import struct
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ridgeline.errors import CheckpointError
from ridgeline.files import os_reason as _why
from ridgeline.files import open_regular, read_regular_file
from ridgeline.files import short_path as _short
from ridgeline.formats import DTYPE_BITS

MAX_HEADER_BYTES = 100_000_000
MAX_INDEX_BYTES = 64 * 2**20
#: More shards than any public checkpoint has (DeepSeek-V3: 163).
MAX_SHARDS = 10_000
#: More dimensions than any tensor has; a longer shape is a corrupt header.
MAX_DIMS = 16


def _parse_json(raw: bytes, path: Path, what: str) -> object:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{_short(path)}: {what} is not valid JSON; the file is corrupt") from None
    except RecursionError:
        raise CheckpointError(f"{_short(path)}: {what} is nested too deeply to be a real {what}; "
                              "the file is corrupt") from None


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int
    file: str

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def role(self) -> str:
        return tensor_role(self.name)


# Roles from tensor names (the HF module paths of the supported families and the auxiliary
# tensors of quantized checkpoints: qweight/qzeros/scales/g_idx, weight_scale(_inv),
# weight_packed, absmax/quant_map, *_blocks/*_scales). Tried in order, on the lower-cased name;
# they agree with the groups of ridgeline.model.params (tests/test_checkpoint.py checks every
# family's real state dict). Names are lower-cased, so Mamba's ``A_log`` / ``D`` read ``a_log`` / ``d``.
_ROLE_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), r) for p, r in (
    # the vision tower and projector of a multimodal wrapper (Gemma 3 / Mistral 3 vision_tower,
    # Llama 4 / Mllama vision_model, Qwen2.5-VL visual, every multi_modal_projector)
    (r"(^|\.)(vision_tower|vision_model|visual|multi_modal_projector)(\.|$)", "vision"),
    (r"(^|\.)(lm_head|embed_out)\.bias$", "bias"),
    (r"(^|\.)(lm_head|embed_out)\.", "lm_head"),
    (r"(^|\.)(embed_tokens|embed_positions|wte|wpe|word_embeddings|embed_in|tok_embeddings|embeddings)\.",
     "embedding"),
    (r"norm|(^|\.)ln_\w*\.|(^|\.)ln_f\.", "norm"),
    (r"(^|\.)(router|gate|shared_expert_gate)\.|e_score_correction_bias", "router"),
    (r"(^|\.)experts\.(\d+\.)?\w*bias$", "bias"),
    (r"(^|\.)shared_experts?\.", "linear"),
    (r"(^|\.)experts\.", "expert"),
    # Mamba / gated delta-net per-channel tensors: A_log, D, dt_bias, the conv1d kernel, and
    # Mamba 1's dt_proj bias (params.py counts it with A_log and D); conv1d.bias stays a bias
    (r"(^|\.)(a_log|d|dt_bias)$|(^|\.)conv1d\.weight|(^|\.)(mamba|mixer)\.dt_proj\.bias$", "ssm"),
    # Mllama's tanh gates of its cross-attention layers (params.py: cross_attn.gates)
    (r"\.sinks$|rotary|inv_freq|(^|\.)cross_attn_\w*gate$", "other"),
    (r"\.bias$", "bias"),
    (r"(^|\.)(layers|h|blocks)\.\d+\.|(^|\.)project_(in|out)\.", "linear"),
))


def tensor_role(name: str) -> str:
    """The role (one of ridgeline.model.params.ROLES) of a tensor
    from its checkpoint name: ``model.layers.0.mlp.experts.3.down_proj.weight`` -> ``expert``.

    >>> tensor_role("model.layers.0.self_attn.q_proj.qweight"), tensor_role("model.norm.weight")
    ('linear', 'norm')
    """
    n = name.lower()
    for pattern, role in _ROLE_RULES:
        if pattern.search(n):
            return role
    return "other"


def summary_by(tensors, key) -> dict[str, dict[str, int]]:
    """Tensors, elements and bytes per ``key(tensor)`` (a dtype, a ggml type), sorted by key."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"tensors": 0, "elements": 0, "bytes": 0})
    for t in tensors:
        d = out[key(t)]
        d["tensors"] += 1
        d["elements"] += t.numel
        d["bytes"] += t.nbytes
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class CheckpointInfo:
    """The tensors of a safetensors checkpoint (a folder, a sharded index or one file)."""

    path: str
    files: tuple[str, ...]
    tensors: tuple[TensorInfo, ...]

    @property
    def num_elements(self) -> int:
        return sum(t.numel for t in self.tensors)

    @property
    def total_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)

    def by_dtype(self) -> dict[str, dict[str, int]]:
        return summary_by(self.tensors, lambda t: t.dtype)

    def elements_by_role(self) -> dict[str, int]:
        """Stored elements per tensor role (packed quantized tensors count their storage elements)."""
        out: dict[str, int] = defaultdict(int)
        for t in self.tensors:
            out[t.role] += t.numel
        return dict(sorted(out.items()))

    def bytes_by_role(self) -> dict[str, int]:
        """Exact stored bytes per tensor role, summed over the header's tensors (scales,
        zero points and packed blocks count with the weight they belong to). Sums to
        ``total_bytes``."""
        out: dict[str, int] = defaultdict(int)
        for t in self.tensors:
            out[t.role] += t.nbytes
        return dict(sorted(out.items()))


#: The old name, kept for callers written before roles were added.
CheckpointSummary = CheckpointInfo


def _shape(v: object) -> tuple[int, ...] | None:
    if not isinstance(v, list) or len(v) > MAX_DIMS:
        return None
    if not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**63 for d in v):
        return None
    return tuple(v)


def read_safetensors_header(path: Path) -> list[TensorInfo]:
    """Parse one file's header, validating it against the file size."""
    with open_regular(path, "safetensors file", CheckpointError) as (fh, size):
        head = fh.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{_short(path)}: too short for a safetensors file (needs an 8-byte header length)")
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER_BYTES or n + 8 > size:
            raise CheckpointError(f"{_short(path)}: header length field says {n} bytes (file is {size}); "
                                  "not a valid safetensors file, re-download or re-convert it")
        raw = fh.read(n)
    header = _parse_json(raw, path, "safetensors header")
    if not isinstance(header, dict):
        raise CheckpointError(f"{_short(path)}: safetensors header is not a JSON object; the file is corrupt")
    data_len = size - 8 - n
    out = []
    spans: list[tuple[int, int, str]] = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        shown = repr(name[:80])
        if not isinstance(info, dict) or not all(k in info for k in ("dtype", "shape", "data_offsets")):
            raise CheckpointError(f"{_short(path)}: tensor {shown} lacks dtype/shape/data_offsets; the file is corrupt")
        dtype, offsets = info["dtype"], info["data_offsets"]
        shape = _shape(info["shape"])
        if shape is None:
            raise CheckpointError(f"{_short(path)}: tensor {shown} has shape {str(info['shape'])[:60]}; a shape is a "
                                  "list of non-negative integers; the file is corrupt")
        if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
            raise CheckpointError(f"{_short(path)}: tensor {shown} has unknown dtype {str(dtype)[:40]!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(
                isinstance(x, int) and not isinstance(x, bool) for x in offsets)):
            raise CheckpointError(f"{_short(path)}: tensor {shown} has data_offsets {str(offsets)[:60]}; expected "
                                  "[begin, end] integers; the file is corrupt")
        begin, end = offsets
        if not 0 <= begin <= end <= data_len:
            raise CheckpointError(f"{_short(path)}: tensor {shown} has offsets outside the file; the file is "
                                  "truncated or corrupt")
        expected = math.ceil(math.prod(shape) * DTYPE_BITS[dtype] / 8)
        if end - begin != expected:
            raise CheckpointError(f"{_short(path)}: tensor {shown} spans {end - begin} bytes but {dtype}{list(shape)} "
                                  f"needs {expected}; the file is corrupt")
        spans.append((begin, end, name))
        out.append(TensorInfo(name, dtype, shape, end - begin, path.name))
    spans.sort()
    for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise CheckpointError(f"{_short(path)}: tensors {n0[:60]!r} and {n1[:60]!r} overlap (bytes {b1}-{e0}); "
                                  "the file is corrupt or crafted")
    return out


def _index_files(p: Path, index: Path) -> list[Path]:
    raw = read_regular_file(index, MAX_INDEX_BYTES, "safetensors index", CheckpointError)
    data = _parse_json(raw, index, "safetensors index")
    wm = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(wm, dict) or not all(isinstance(v, str) for v in wm.values()):
        raise CheckpointError(f"{_short(index)}: not a valid safetensors index (needs a 'weight_map' object of "
                              "tensor name -> file name)")
    names = sorted(set(wm.values()))
    if len(names) > MAX_SHARDS:
        raise CheckpointError(f"{_short(index)}: weight_map names {len(names):,} files (limit {MAX_SHARDS:,}); "
                              "not a real checkpoint index")
    files = []
    for n in names:
        if "/" in n or "\\" in n or n.startswith(".") or "\0" in n:
            raise CheckpointError(f"{_short(index)}: weight_map names a file outside the folder ({n[:80]!r})")
        f = p / n
        if not f.exists():
            raise CheckpointError(f"{_short(index)}: shard {n[:80]} is missing; download every shard")
        files.append(f)
    return files


def inspect_checkpoint(path: str | Path) -> CheckpointInfo:
    """Summarise a folder (sharded index or single file) or one ``.safetensors`` file."""
    p = Path(path)
    try:
        st = os.stat(p)
    except OSError as e:
        if e.errno == errno.ENOENT:
            raise CheckpointError(f"{_short(p)}: no such file or folder") from None
        raise CheckpointError(f"{_short(p)}: cannot read ({_why(e)}); check the path") from None
    if stat.S_ISDIR(st.st_mode):
        index = p / "model.safetensors.index.json"
        if index.exists():
            files = _index_files(p, index)
        else:
            files = sorted(p.glob("*.safetensors"))[:MAX_SHARDS + 1]
            if len(files) > MAX_SHARDS:
                raise CheckpointError(f"{_short(p)}: more than {MAX_SHARDS:,} .safetensors files; not one checkpoint")
        if not files:
            raise CheckpointError(f"{_short(p)}: no .safetensors files; ridgeline reads safetensors checkpoints only "
                                  "(never pickled .bin files)")
    else:
        files = [p]  # read_safetensors_header refuses anything but a regular file
    tensors: list[TensorInfo] = []
    for f in files:
        tensors.extend(read_safetensors_header(f))
    return CheckpointInfo(str(p), tuple(f.name for f in files), tuple(tensors))
