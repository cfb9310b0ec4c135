"""The one way results become JSON: a generic walk over typed (frozen dataclass) results.

Rules (so every door, CLI ``--json``, Python API and web page, prints the same object):

- a dataclass becomes an object of its fields in declaration order, minus the names in its
  class attribute ``__json_skip__`` (heavy inputs such as the full ModelSpec kept for the API);
- tuples and lists become arrays, sets and frozensets sorted arrays, dict keys strings;
- a float under a key ending in ``_bytes`` or ``_tokens`` that holds a whole number becomes an
  int (exact byte counts stay exact), other floats stay floats; non-finite floats become null.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class R:
    ...     __json_skip__ = ("big",)
    ...     kv_pool_bytes: float
    ...     share: float
    ...     big: object = None
    >>> to_jsonable(R(1024.0, 0.5))
    {'kv_pool_bytes': 1024, 'share': 0.5}
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

_INT_SUFFIXES = ("_bytes", "_tokens")


def _num(v: float, key: str | None) -> Any:
    if not math.isfinite(v):
        return None
    if key is not None and (key.endswith(_INT_SUFFIXES) or "_bytes_per_" in key) and v.is_integer() \
            and abs(v) < 2**63:
        return int(v)
    return v


def to_jsonable(obj: Any, key: str | None = None) -> Any:
    """Convert a result (dataclasses, containers, numbers, strings) to plain JSON values."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return _num(obj, key)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        skip = set(getattr(type(obj), "__json_skip__", ()))
        return {f.name: to_jsonable(getattr(obj, f.name), f.name) for f in dataclasses.fields(obj)
                if f.name not in skip}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, str(k) if key is None or not key.endswith("terms") else key + "_bytes")
                for k, v in obj.items()}
    if isinstance(obj, (set, frozenset)):
        return sorted(to_jsonable(v, key) for v in obj)
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, key) for v in obj]
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def dumps(obj: Any) -> str:
    """JSON text of ``obj`` (indented, as the CLI prints it)."""
    return json.dumps(to_jsonable(obj), indent=2)
