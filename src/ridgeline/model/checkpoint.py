"""Checkpoint inspection from safetensors headers only: never tensor data, never pickles.

safetensors layout (huggingface/safetensors, README "Format"): an 8-byte little-endian
unsigned header length N, then N bytes of JSON mapping tensor names to
``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the end of the
header), plus an optional ``__metadata__`` string map. The reference implementation
rejects headers above 100 MB; so do we.
"""

from __future__ import annotations

import json
import math
import struct
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ridgeline.errors import CheckpointError
from ridgeline.formats import DTYPE_BITS

MAX_HEADER_BYTES = 100_000_000
MAX_INDEX_BYTES = 64 * 2**20


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


@dataclass(frozen=True)
class CheckpointSummary:
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
        out: dict[str, dict[str, int]] = defaultdict(lambda: {"tensors": 0, "elements": 0, "bytes": 0})
        for t in self.tensors:
            d = out[t.dtype]
            d["tensors"] += 1
            d["elements"] += t.numel
            d["bytes"] += t.nbytes
        return dict(sorted(out.items()))


def read_safetensors_header(path: Path) -> list[TensorInfo]:
    """Parse one file's header, validating it against the file size."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise CheckpointError(f"{path}: too short for a safetensors file (needs an 8-byte header length)")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER_BYTES or n + 8 > size:
                raise CheckpointError(f"{path}: header length field says {n} bytes (file is {size}); "
                                      "not a valid safetensors file, re-download or re-convert it")
            raw = fh.read(n)
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read ({e.strerror}); check the path") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{path}: safetensors header is not valid JSON; the file is corrupt") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: safetensors header is not a JSON object; the file is corrupt")
    data_len = size - 8 - n
    out = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = info["dtype"], tuple(int(x) for x in info["shape"]), info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{path}: tensor {name!r} lacks dtype/shape/data_offsets; the file is corrupt") from None
        if dtype not in DTYPE_BITS:
            raise CheckpointError(f"{path}: tensor {name!r} has unknown dtype {dtype!r}")
        if any(d < 0 for d in shape) or not (isinstance(begin, int) and isinstance(end, int)) \
                or not 0 <= begin <= end <= data_len:
            raise CheckpointError(f"{path}: tensor {name!r} has offsets outside the file; the file is truncated or corrupt")
        expected = math.ceil(math.prod(shape) * DTYPE_BITS[dtype] / 8)
        if end - begin != expected:
            raise CheckpointError(f"{path}: tensor {name!r} spans {end - begin} bytes but {dtype}{list(shape)} "
                                  f"needs {expected}; the file is corrupt")
        out.append(TensorInfo(name, dtype, shape, end - begin, path.name))
    return out


def inspect_checkpoint(path: str | Path) -> CheckpointSummary:
    """Summarise a folder (sharded index or single file) or one ``.safetensors`` file."""
    p = Path(path)
    if p.is_file():
        files = [p]
    elif p.is_dir():
        index = p / "model.safetensors.index.json"
        if index.is_file():
            if index.stat().st_size > MAX_INDEX_BYTES:
                raise CheckpointError(f"{index}: index file is too large to be a safetensors index")
            try:
                wm = json.loads(index.read_text("utf-8"))["weight_map"]
                names = sorted(set(wm.values()))
            except (KeyError, TypeError, AttributeError, json.JSONDecodeError, UnicodeDecodeError):
                raise CheckpointError(f"{index}: not a valid safetensors index (needs a 'weight_map' object)") from None
            files = []
            for n in names:
                if not isinstance(n, str) or "/" in n or "\\" in n or n.startswith("."):
                    raise CheckpointError(f"{index}: weight_map names a file outside the folder ({n!r})")
                f = p / n
                if not f.is_file():
                    raise CheckpointError(f"{index}: shard {n} is missing; download every shard")
                files.append(f)
        else:
            files = sorted(p.glob("*.safetensors"))
        if not files:
            raise CheckpointError(f"{p}: no .safetensors files; ridgeline reads safetensors checkpoints only "
                                  "(never pickled .bin files)")
    else:
        raise CheckpointError(f"{p}: no such file or folder")
    tensors: list[TensorInfo] = []
    for f in files:
        tensors.extend(read_safetensors_header(f))
    return CheckpointSummary(str(p), tuple(f.name for f in files), tuple(tensors))
