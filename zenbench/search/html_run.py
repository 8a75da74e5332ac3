"""What the HTML report of a search shows, as read from its results folder: the run, its table, the winner's
blocks. Kept apart from the reader (:mod:`zenbench.search.html_report`) and the page
(:mod:`zenbench.search.html_page`) so that each depends on these and not on the other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zenbench.search.engine import Member, SearchState
from zenbench.search.evolution import SearchSettings


@dataclass(frozen=True)
class BlockShare:
    """One block of the winner (or its classifier): its input resolution, cost (ms or MACs) and share."""

    index: int
    block: str
    resolution: int
    value: float
    share: float


@dataclass(frozen=True)
class TableInfo:
    """The latency table the winner's blocks were predicted with, and the error its validation expects."""

    device: str | None
    path: str
    settings: dict[str, Any]
    validation: dict[str, Any]
    predicted_ms: float
    per_image: bool

    @property
    def expected_error(self) -> float | None:
        """The table's validated mean absolute percentage error (a fraction), if it was validated."""
        value = self.validation.get("mape")
        return None if value is None else float(value)


@dataclass(frozen=True)
class RunReport:
    """Everything the page shows, read from one results folder."""

    folder: Path
    settings: SearchSettings
    state: SearchState
    rows: tuple[dict[str, Any], ...]
    devices: tuple[str, ...]
    table: TableInfo | None
    table_note: str
    blocks: tuple[BlockShare, ...]
    block_basis: str  # "latency" or "MACs"
    exports: tuple[dict[str, Any], ...]

    @property
    def best(self) -> Member | None:
        return self.state.best

    @property
    def interrupted(self) -> bool:
        return self.state.iteration < self.settings.iterations

    @property
    def scored(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r.get("status") == "scored" and r.get("score") is not None]


__all__ = ["BlockShare", "RunReport", "TableInfo"]
