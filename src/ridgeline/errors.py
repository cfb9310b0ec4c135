"""The exception tree. Every user error is an :class:`InputError`; the CLI prints
its one-line message and exits with status 2.

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
from collections.abc import Iterable


class RidgelineError(Exception):
    """Base of every error ridgeline raises on purpose."""


class InputError(RidgelineError, ValueError):
    """Bad user input: the message names the field and the fix, on one line."""


class UnknownNameError(InputError):
    """A name (preset, accelerator, number format) that is not known."""

    def __init__(self, kind: str, name: str, known: Iterable[str], hint: str = ""):
        known = list(known)
        close = difflib.get_close_matches(name.lower(), [k.lower() for k in known], n=3, cutoff=0.6)
        by_lower = {k.lower(): k for k in known}
        msg = f"unknown {kind} {name!r}"
        if close:
            msg += "; did you mean " + ", ".join(repr(by_lower[c]) for c in close) + "?"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)
        self.name = name
        self.suggestions = [by_lower[c] for c in close]


class ConfigError(InputError):
    """A config.json (or hardware TOML) that is malformed, incomplete or unsupported."""


class CheckpointError(InputError):
    """A checkpoint file whose header is unreadable, absurd or inconsistent."""


class PlanError(InputError):
    """A parallelism plan that does not fit the model (e.g. tp does not divide the heads)."""


class HubError(InputError):
    """The Hugging Face hub could not be reached, or the repo has no config.json."""
