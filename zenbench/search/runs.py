"""A search's results folder: its default name, and reading a finished or interrupted run back for export."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zenbench.errors import ZenbenchError


def default_search_folder(latency_ms: float | None, flops: str | None, params: str | None, seed: int,
                          devices: tuple[tuple[str, float], ...] = ()) -> Path:
    """``runs/search-BUDGET-sSEED``, BUDGET being the latency in ms, else the MACs or params text, else 'free';
    a search on several devices names each budget with its device (``search-9ms-cpu+12ms-cpu-litert-s0``)."""
    if len(devices) > 1:
        return Path("runs") / f"search-{'+'.join(f'{ms:g}ms-{name}' for name, ms in devices)}-s{seed}"
    budget = f"{latency_ms:g}ms" if latency_ms is not None else (flops or params or "free")
    return Path("runs") / f"search-{budget}-s{seed}"


@dataclass(frozen=True)
class SearchRun:
    """What export needs from a search's results folder: the winner's file and the run's settings."""

    structure_file: Path
    resolution: int | None
    num_classes: int | None
    latency_ms: float | None
    #: a search on several devices: each device's latency budget, in order (empty for one device)
    budgets: tuple[tuple[str, float], ...] = ()


def read_search_run(folder: Path) -> SearchRun | None:
    """The search run in ``folder`` (its best structure and checkpoint.json settings), or None when
    ``folder`` is not a search's results folder. A damaged checkpoint is a ZenbenchError."""
    best = folder / "best_structure.txt"
    if not (folder.is_dir() and best.exists()):
        return None
    settings: dict[str, Any] = {}
    checkpoint = folder / "checkpoint.json"
    if checkpoint.exists():
        try:
            data = json.loads(checkpoint.read_text(encoding="utf-8"))
            settings = data["settings"]
            if not isinstance(settings, dict):
                raise TypeError("settings is not an object")
        except (ValueError, KeyError, TypeError) as error:
            raise ZenbenchError(f"{checkpoint} is damaged ({error}); pass --resolution and --num-classes, "
                                f"or export {best} directly") from None
    constraints = settings.get("constraints") or {}
    budgets = tuple((d["device"], d["latency_ms"]) for d in constraints.get("devices") or ())
    return SearchRun(best, settings.get("resolution"), settings.get("num_classes"), constraints.get("latency_ms"),
                     budgets)
