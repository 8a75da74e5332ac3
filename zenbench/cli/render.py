"""Shared rendering for the CLI: consoles, JSON, human-readable numbers, tables and progress bars."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

# Tables are wide; when output goes to a pipe or file, do not squeeze them to 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=200)
err_console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=200)


def print_json(data: Any) -> None:
    """``data`` as indented, strict JSON on stdout (nothing else goes to stdout under --json): NaN and infinities,
    which JSON has no words for, are written as null."""
    sys.stdout.write(json.dumps(_finite(data), indent=2, default=str, allow_nan=False) + "\n")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def human(value: float, unit: str = "") -> str:
    """3 significant digits with a k/M/G suffix: 1.75G, 30.1M."""
    for threshold, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / threshold:.3g}{suffix}{unit}"
    return f"{value:.3g}{unit}"


def table(title: str, columns: Iterable[str], left: Iterable[str] = (), no_wrap: Iterable[str] = ()) -> Table:
    """A left-titled rich table; ``left`` columns are left-justified, the others right-justified."""
    left, no_wrap = set(left), set(no_wrap)
    out = Table(title=title, title_justify="left")
    for col in columns:
        out.add_column(col, justify="left" if col in left else "right", no_wrap=col in no_wrap)
    return out


def progress_bar(description: str, disable: bool = False) -> Progress | LogProgress:
    """A progress bar on stderr with elapsed time and ETA; where stderr is a log rather than a terminal, a plain
    line every few seconds instead (a bar would print nothing until the end)."""
    if not disable and not err_console.is_terminal:
        return LogProgress(description)
    return Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("eta"), TimeRemainingColumn(), console=err_console, disable=disable)


def warn(message: str) -> None:
    """A yellow warning on stderr (stdout stays clean for --json)."""
    err_console.print(f"[yellow]warning: {message}[/]", highlight=False, soft_wrap=True)


class LogProgress:
    """The part of rich's ``Progress`` the CLI uses, printed as plain lines for a log: one when work starts,
    then at most one every ``every`` seconds with the count, the elapsed time and the ETA."""

    def __init__(self, description: str, every: float = 10.0) -> None:
        self.description, self.every = description, every
        self.total: float | None = None
        self.completed = 0.0
        self.started, self.printed = time.monotonic(), 0.0

    def __enter__(self) -> LogProgress:
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None and self.completed:
            self._line(final=True)

    def add_task(self, description: str, total: float | None = None, **_: Any) -> int:
        self.total = total
        return 0

    def update(self, task: int, *, completed: float | None = None, total: float | None = None,
               advance: float | None = None, **_: Any) -> None:
        if total is not None:
            self.total = total
        if completed is not None:
            self.completed = completed
        if advance is not None:
            self.completed += advance
        if time.monotonic() - self.printed >= self.every:
            self._line()

    def advance(self, task: int, advance: float = 1.0) -> None:
        self.update(task, advance=advance)

    def _line(self, final: bool = False) -> None:
        self.printed = now = time.monotonic()
        elapsed = now - self.started
        done = f"{self.completed:g}" + (f"/{self.total:g}" if self.total else "")
        eta = ""
        if self.total and 0 < self.completed < self.total:
            eta = f", eta {elapsed / self.completed * (self.total - self.completed):.0f} s"
        state = "done" if final else "progress"
        err_console.print(f"{self.description}: {state} {done} in {elapsed:.0f} s{eta}", highlight=False,
                          markup=False, soft_wrap=True)
