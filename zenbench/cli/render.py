"""Shared rendering for the CLI: consoles, JSON, human-readable numbers, tables and progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

# Tables are wide; when output goes to a pipe or file, do not squeeze them to 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=200)
err_console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=200)


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (nothing else goes to stdout under --json)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


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


def progress_bar(description: str, disable: bool = False) -> Progress:
    """A progress bar on stderr with elapsed time and ETA."""
    return Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("eta"), TimeRemainingColumn(), console=err_console, disable=disable)


def warn(message: str) -> None:
    """A yellow warning on stderr (stdout stays clean for --json)."""
    err_console.print(f"[yellow]warning: {message}[/]", highlight=False, soft_wrap=True)
