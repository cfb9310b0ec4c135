"""Reading untrusted files: regular files only, never blocking, always bounded.

Every reader of a user-supplied path (config.json, safetensors headers and indexes, hardware
TOML) should come through :func:`read_regular_file`: a FIFO, socket or device named in place of
a file is refused before it is opened (``stat``), the open itself is non-blocking
(``O_NONBLOCK``) in case the path changes in between, the descriptor is checked again
(``fstat``), and the read stops one byte past the limit.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ridgeline.errors import InputError


@contextmanager
def open_regular(path: Path | str, what: str, error: type[InputError] = InputError) -> Iterator[tuple[BinaryIO, int]]:
    """Open ``path`` for reading if, and only if, it is a regular file: ``(file, size in bytes)``.

    Refused with one line (``error``): a missing path, a symlink loop, a folder, a FIFO, socket or
    device. The open is non-blocking, so a FIFO swapped in after the ``stat`` cannot block, and the
    descriptor is checked again with ``fstat`` before anything is read.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise error(f"{short_path(path)}: symlink loop; point at the {what} itself") from None
        raise error(f"{short_path(path)}: cannot read ({os_reason(e)}); check the path") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{short_path(path)}: is a folder, not a {what}; pass the {what} itself")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{short_path(path)}: not a regular file (a pipe, socket or device); pass the {what} itself")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise error(f"{short_path(path)}: cannot open ({os_reason(e)}); check the path and its permissions") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{short_path(path)}: not a regular file; pass the {what} itself")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            try:
                yield fh, st.st_size
            except OSError as e:
                raise error(f"{short_path(path)}: cannot read ({os_reason(e)})") from None
    finally:
        os.close(fd)


def read_regular_file(path: Path | str, limit: int, what: str, error: type[InputError] = InputError) -> bytes:
    """The bytes of ``path`` (at most ``limit``), refusing anything that is not a regular file
    (see :func:`open_regular`). Errors are ``error`` with one line naming the path and the fix."""
    with open_regular(path, what, error) as (fh, size):
        if size > limit:
            raise error(f"{short_path(path)}: {size:,} bytes is too large for a {what} (limit {limit:,})")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise error(f"{short_path(path)}: more than {limit:,} bytes; too large for a {what}")
    return data


def short_path(path: Path | str, limit: int = 120) -> str:
    """A path for a one-line message: cut to ``limit`` characters, with its length."""
    s = str(path)
    return s if len(s) <= limit else s[:limit] + f"… ({len(s):,} chars)"


def os_reason(e: OSError) -> str:
    """Why the OS refused a path, in words a user can act on."""
    if e.errno == errno.ENAMETOOLONG:
        return "the name is too long"
    if e.errno == errno.ELOOP:
        return "a symlink loop"
    return e.strerror or type(e).__name__


