"""Every failure a user can cause or fix, with what to do next.

All user-facing errors derive from :class:`ZenbenchError`, so the CLI can print them
without a traceback and library callers can catch one type.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ZenbenchError(Exception):
    """Base class of every error zenbench raises on purpose."""


class StructureError(ZenbenchError, ValueError):
    """A malformed structure string: says where (offset), what was found, what was expected."""

    def __init__(self, text: str, offset: int, token: str, expected: str, hint: str = "") -> None:
        self.text = text
        self.offset = offset
        self.token = token
        self.expected = expected
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        found = repr(self.token) if self.token else "end of input"
        lines = [f"at offset {self.offset}: found {found}, expected {self.expected}"]
        if self.hint:
            lines[0] += f" ({self.hint})"
        # Show a window of the string with a caret under the offending offset.
        start = max(0, self.offset - 40)
        window = self.text[start : self.offset + 40]
        if window:
            prefix = "…" if start > 0 else ""
            lines.append("  " + prefix + window.replace("\n", " "))
            lines.append("  " + " " * (len(prefix) + self.offset - start) + "^")
        return "\n".join(lines)


class UnknownNameError(ZenbenchError, KeyError):
    """A name that no registry knows; suggests the close matches."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        known = sorted(known)
        self.suggestions = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        msg = f"unknown {kind} {name!r}"
        if self.suggestions:
            msg += f"; did you mean {', '.join(map(repr, self.suggestions))}?"
        elif known:
            shown = ", ".join(known[:12]) + (", …" if len(known) > 12 else "")
            msg += f"; known: {shown}"
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class SpecError(ZenbenchError, ValueError):
    """A network or block spec that is well-formed text but not a valid network."""


class ProxyRequirementError(ZenbenchError):
    """A proxy cannot run on this module (e.g. Zen-Score on a network without BN)."""


class BackendUnavailable(ZenbenchError):
    """A runtime, package or device is missing; the message says what to install or connect."""
