"""What a search run carries from batch to batch and keeps in its checkpoint: members, state, journal.

The loop (:mod:`zenbench.search.engine`) commits a :class:`SearchState` after each batch and writes it
to ``checkpoint.json``; :func:`read_checkpoint` restores it, so a resumed run continues bit for bit.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from zenbench.errors import ZenbenchError

CHECKPOINT = "checkpoint.json"


@dataclass(frozen=True)
class Member:
    """One population member: its string, proxy score, predicted latency and the iteration that made it."""

    structure: str
    score: float
    latency_ms: float | None
    iteration: int
    latency_by_device: dict[str, float] | None = None

    def as_json(self) -> dict[str, Any]:
        """The member as stored; ``latency_by_device`` only when the search budgets several devices."""
        data = asdict(self)
        if self.latency_by_device is None:
            del data["latency_by_device"]
        return data


@dataclass
class SearchState:
    """The loop's state after a completed batch: what a checkpoint holds and a resume restores.

    ``scores`` (memoizing spaces) maps a candidate to [score, first iteration, error]. ``archive`` (a search
    whose proxy is ranked over a set, :mod:`zenbench.search.set_ranking`) maps each scored entry to
    [iteration, component values...]."""

    iteration: int
    population: list[Member]
    rng_state: Any
    history_rows: int
    best_scores: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0
    scores: dict[str, list[Any]] = field(default_factory=dict)
    archive: dict[str, list[float]] = field(default_factory=dict)

    @property
    def best(self) -> Member | None:
        """The highest-scoring member (the first of equals), or None while no candidate has passed."""
        return max(self.population, key=lambda m: m.score) if self.population else None

    def trimmed(self) -> SearchState:
        """This state without anything from a batch that started after it (shared lists are filtered)."""
        return replace(self, best_scores=[b for b in self.best_scores if b[0] <= self.iteration],
                       scores={k: v for k, v in self.scores.items() if v[1] < self.iteration},
                       archive={k: v for k, v in self.archive.items() if v[0] < self.iteration})


class MemoryJournal:
    """The journal of a search run without a results folder."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def records(self) -> list[dict[str, Any]]:
        return list(self.rows)

    def extend(self, rows: list[dict[str, Any]]) -> None:
        self.rows.extend(json.loads(json.dumps(rows)))

    def truncate(self, n: int) -> int:
        del self.rows[n:]
        return len(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def rng_to_json(state: Any) -> Any:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def rng_from_json(data: Any) -> Any:
    return (data[0], tuple(data[1]), data[2])


def read_checkpoint(out: Path) -> tuple[dict[str, Any], SearchState] | None:
    """The settings and state checkpointed in ``out`` (None when it holds none)."""
    path = out / CHECKPOINT
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        state = SearchState(data["iteration"], [Member(**m) for m in data["population"]], rng_from_json(data["rng"]),
                            data["history_rows"], [tuple(x) for x in data["best_scores"]], data.get("seconds", 0.0),
                            data.get("scores", {}), data.get("archive", {}))
    except (ValueError, KeyError, TypeError) as error:
        raise ZenbenchError(f"{path} is damaged or from an older zenbench ({type(error).__name__}: {error}); "
                            f"start the search again in a new folder") from None
    return data["settings"], state
