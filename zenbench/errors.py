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


class FolderBusy(ZenbenchError):
    """Another live process holds the lock on a results folder; names its PID and what to do."""

    def __init__(self, folder: object, pid: int | None) -> None:
        self.folder = folder
        self.pid = pid
        who = f"process {pid}" if pid is not None else "another process"
        super().__init__(f"{folder} is being written by {who}; wait for it to finish, stop it "
                         f"({'kill ' + str(pid) if pid is not None else 'see lsof'}), or use another output folder")

    def __reduce__(self) -> tuple[type, tuple[object, int | None]]:  # picklable across worker processes
        return (type(self), (self.folder, self.pid))


class LimitError(SpecError):
    """A size over one of zenbench's limits (``zenbench.space.limits.Limits``), found before anything
    is built or allocated. Names the limit, the value, and how to raise it."""

    def __init__(self, limit: str, value: int, maximum: int, what: str) -> None:
        self.limit, self.value, self.maximum, self.what = limit, value, maximum, what
        super().__init__(f"{what} is {value:,}, over the limit {limit}={maximum:,}; if you mean it, pass "
                         f"limits=Limits({limit}=...) (zenbench.space.limits) to the call that builds or scores it")

    def __reduce__(self) -> tuple[type, tuple[str, int, int, str]]:  # picklable across worker processes
        return (type(self), (self.limit, self.value, self.maximum, self.what))


class StructureLimitError(StructureError, LimitError):
    """A structure string whose channels or sub-layers exceed a limit: a :class:`StructureError` (with
    the offset) and a :class:`LimitError` (with the limit) at once."""

    def __init__(self, text: str, offset: int, token: str, limit: str, value: int, maximum: int, what: str) -> None:
        self.limit, self.value, self.maximum, self.what = limit, value, maximum, what
        self.text, self.offset, self.token = text, offset, token
        self.expected = f"{what} of at most {maximum:,}"
        self.hint = f"it is {value:,}, over the limit {limit}; pass limits=Limits({limit}=...) to parse_structure to raise it"
        Exception.__init__(self, self._render())  # both parents' __init__ take other arguments

    def __reduce__(self) -> tuple[type, tuple[str, int, str, str, int, int, str]]:
        return (type(self), (self.text, self.offset, self.token, self.limit, self.value, self.maximum, self.what))


class ProfileError(ZenbenchError):
    """A device profile that cannot be read or does not validate: names the file and the key."""


class SettingError(ZenbenchError, ValueError):
    """A setting outside the range it can take (a batch of 0, no repeats): names the setting and the range."""


class NoFeasibleCandidate(ZenbenchError):
    """A search in which every candidate broke a constraint: names the limits that rejected them and what to relax."""


class SearchInterrupted(ZenbenchError):
    """Ctrl-C during a search: the last completed batch was checkpointed; ``--resume`` continues exactly.

    ``state`` is the checkpointed search state, so the caller can still write a report."""

    state: object = None


class AdaptSourceError(ZenbenchError):
    """A source table that cannot be adapted to a device: another device kind, backend, precision or batch."""


class BudgetTooSmall(ZenbenchError):
    """A time budget too small for the fewest networks an adaptation needs: says what fits and what budget does."""
