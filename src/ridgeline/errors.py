"""The exception tree. Every user error is an :class:`InputError`; the CLI prints
its one-line message and exits with status 2 (with ``--json``: a JSON object
``{"error": ..., "type": ..., "field": ...}`` on stdout, exit status 2).

    RidgelineError
    └── InputError (also a ValueError)
        ├── UnknownNameError      unknown preset, GPU or number format (with suggestions)
        ├── ConfigError           malformed, incomplete or unsupported config.json
        ├── CheckpointError       a weights file that is not what it claims
        ├── PlanError             a parallel plan the model cannot take (tp vs heads)
        └── HubError              the hub cannot be reached or has no such repo
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

#: Names echoed in messages are cut to this many characters, so that a 5,000-character
#: argument still gives a one-line message a person can read.
MAX_ECHO_CHARS = 80


def echo(value: object, limit: int = MAX_ECHO_CHARS) -> str:
    """``repr`` of user input, shortened: ``'aaaa…' (5000 chars)``.

    >>> echo("x" * 100, 10)
    "'xxxxxxxxxx…' (100 chars)"
    """
    s = str(value)
    if len(s) <= limit:
        return repr(value) if isinstance(value, str) else repr(s)
    return f"{s[:limit] + '…'!r} ({len(s):,} chars)"


class RidgelineError(Exception):
    """Base of every error ridgeline raises on purpose."""


_FIELD_RE = re.compile(r"^(--[a-z][\w-]*)[:\s]|field '([^']+)'|^([A-Za-z_][\w.]*): ")


class InputError(RidgelineError, ValueError):
    """Bad user input: the message names the field and the fix, on one line."""

    def __init__(self, message: str, field: str | None = None):
        message = " ".join(str(message).split())  # one line, whatever went into it
        super().__init__(message)
        self.field = field

    @property
    def field_name(self) -> str | None:
        """The field the message names: the one given, else read from the message
        (``--weights: ...``, ``field 'hidden_size' ...``, ``batch: ...``)."""
        if self.field:
            return self.field
        m = _FIELD_RE.search(str(self))
        if not m:
            return None
        return next(g for g in m.groups() if g)


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


class UnknownNameError(InputError):
    """A name (preset, accelerator, number format) that is not known.

    ``known`` is the list of valid names, or a mapping from each valid name (aliases
    included) to the thing it names: suggestions never name one thing twice.
    """

    def __init__(self, kind: str, name: str, known: Iterable[str] | Mapping[str, str], hint: str = ""):
        target = dict(known) if isinstance(known, Mapping) else {k: k for k in known}
        by_lower: dict[str, str] = {}
        for k in target:
            by_lower.setdefault(str(k).lower(), k)
        query = str(name).lower()[:200]  # difflib is quadratic; a 5,000-char name needs no full comparison
        close = difflib.get_close_matches(query, list(by_lower), n=8, cutoff=0.6)
        seen: set[str] = set()
        suggestions: list[str] = []
        for c in close:
            k = by_lower[c]
            # one suggestion per target, and one per spelling that differs only in punctuation
            key_t, key_s = f"t:{target[k]}", f"s:{_squash(k)}"
            if key_t in seen or key_s in seen:
                continue
            seen.update((key_t, key_s))
            suggestions.append(k)
            if len(suggestions) == 3:
                break
        msg = f"unknown {kind} {echo(name)}"
        if suggestions:
            msg += "; did you mean " + ", ".join(repr(s) for s in suggestions) + "?"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)
        self.name = name
        self.suggestions = suggestions


class ConfigError(InputError):
    """A config.json (or hardware TOML) that is malformed, incomplete or unsupported."""


class CheckpointError(InputError):
    """A checkpoint file whose header is unreadable, absurd or inconsistent."""


class PlanError(InputError):
    """A parallelism plan that does not fit the model (e.g. tp does not divide the heads)."""


class HubError(InputError):
    """The Hugging Face hub could not be reached, or the repo has no config.json."""
