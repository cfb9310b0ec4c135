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
from pathlib import Path

from ridgeline.errors import InputError


def read_regular_file(path: Path | str, limit: int, what: str, error: type[InputError] = InputError) -> bytes:
    """The bytes of ``path`` (at most ``limit``), refusing anything that is not a regular file.

    Errors are ``error`` (an InputError subclass) with one line naming the path and the fix.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as e:
        raise error(f"{short_path(path)}: cannot read ({os_reason(e)}); check the path") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a pipe, socket or device)"
        raise error(f"{short_path(path)}: is {kind}; pass the {what} file itself")
    if st.st_size > limit:
        raise error(f"{short_path(path)}: {st.st_size:,} bytes is too large for a {what} (limit {limit:,})")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as e:
        raise error(f"{short_path(path)}: cannot open ({os_reason(e)}); check the path and its permissions") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise error(f"{short_path(path)}: is not a regular file; pass the {what} file itself")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    except OSError as e:
        raise error(f"{short_path(path)}: cannot read ({os_reason(e)})") from None
    finally:
        os.close(fd)
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


