"""The Zen-NAS search over plain-network structures (``evolution_search.py``): settings and the space adapter.

The loop itself is :class:`~zenbench.search.engine.Evolution`; this module says what a candidate
is here: a :class:`~zenbench.space.spec.NetworkSpec` mutated as the paper's code does (the
initial structure mutated once while the population has at most 10 members, else a random
member mutated twice, deep blocks split), checked against :class:`~zenbench.budget.Constraints`
(layers, params, MACs, then predicted latency: cheapest first, stopping at the first failure),
and recorded with its counts. Scoring runs through a :mod:`~zenbench.search.parallel` scorer.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zenbench.budget import Constraints
from zenbench.errors import SearchInterrupted, SettingError
from zenbench.latency import LatencyTable
from zenbench.search.engine import (
    CHECKPOINT,
    HISTORY,
    CandidateScorer,
    Checked,
    Evolution,
    LoopSettings,
    Member,
    SearchState,
    candidate_seed,
)
from zenbench.space.mutate import mutate
from zenbench.space.spec import NetworkSpec

BEST_STRUCTURE = "best_structure.txt"


@dataclass(frozen=True)
class SearchSettings:
    """Everything that defines a search; stored with its checkpoint so --resume cannot mix settings."""

    space: str
    init: str
    resolution: int = 224
    num_classes: int = 1000
    population: int = 64
    iterations: int = 1000
    proxy: str = "zen"
    batch_size: int = 16
    seed: int = 0
    workers: int = 1
    checkpoint_every: int = 50
    constraints: Constraints = field(default_factory=Constraints)
    pareto: bool = False

    def __post_init__(self) -> None:
        _ = self.loop  # validates population, iterations, workers, checkpoint_every
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise SettingError(f"batch_size must be a whole number of at least 1, not {self.batch_size!r}; "
                               f"pass --batch-size 1 or more")

    @property
    def loop(self) -> LoopSettings:
        return LoopSettings(self.population, self.iterations, self.seed, self.workers, self.checkpoint_every,
                            self.pareto)

    def as_dict(self) -> dict[str, Any]:
        """The settings as a checkpoint stores them (a one-device search's exactly as before several were allowed)."""
        return {**asdict(self), "constraints": self.constraints.as_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSettings:
        """The settings a checkpoint stored (the inverse of :meth:`as_dict`)."""
        return cls(**{**data, "constraints": Constraints.from_dict(data["constraints"])})


#: the latency table of a one-device search, or each device's table (by device name) for several
Tables = LatencyTable | Mapping[str, LatencyTable] | None


class PlainNetSpace:
    """Zen-NAS structures as a :class:`~zenbench.search.engine.SearchSpace`.

    With several devices (``constraints.devices``) ``table`` maps each device to its table; a row's
    ``latency_ms`` is the first device's prediction and the engine adds every device's."""

    memoize = False  # the paper's code rescores a structure that recurs, with the new iteration's seed
    best_file = BEST_STRUCTURE

    def __init__(self, settings: SearchSettings, table: Tables) -> None:
        self.settings = settings
        self.devices = [b.device for b in settings.constraints.devices]
        if self.devices:
            if not isinstance(table, Mapping) or any(d not in table for d in self.devices):
                raise SettingError(f"a search on {', '.join(self.devices)} needs a latency table for each device")
            self.tables = {d: table[d] for d in self.devices}
            self.table: LatencyTable | None = self.tables[self.devices[0]]
        else:
            if isinstance(table, Mapping):
                raise SettingError("several latency tables need one latency budget per device (Constraints.devices)")
            self.tables, self.table = {}, table
        self.init = NetworkSpec.parse(settings.init)

    def mutate(self, parent: str | None, rng: random.Random) -> NetworkSpec:
        if parent is None:
            return mutate(self.init, self.settings.space, rng, replaces=1)
        return mutate(NetworkSpec.parse(parent), self.settings.space, rng, replaces=2)

    def check(self, candidate: NetworkSpec) -> Checked:
        if self.devices:
            return self._check_devices(candidate)
        verdict = self.settings.constraints.check(candidate, self.table, stop_at_first=True)
        latency = verdict.latency.value_ms if verdict.latency else self._latency(candidate, self.table)
        return Checked(latency, None if verdict.ok else verdict.failures[0].limit)

    def _check_devices(self, candidate: NetworkSpec) -> Checked:
        """Every device's budget; the row holds every device's prediction, even those the check stopped before."""
        verdict = self.settings.constraints.check(candidate, self.tables, stop_at_first=True)
        known = {device: p.value_ms for device, p in verdict.latencies}
        by_device = {d: known[d] if d in known else self._latency(candidate, self.tables[d]) for d in self.devices}
        first = by_device[self.devices[0]]
        return Checked(first, None if verdict.ok else verdict.failures[0].key,
                       by_device if all(v is not None for v in by_device.values()) else None)

    def _latency(self, spec: NetworkSpec, table: LatencyTable | None) -> float | None:
        """The predicted latency for the history row when the constraints did not need it."""
        if table is None:
            return None
        from zenbench.latency import predict_latency

        return predict_latency(spec, table, self.settings.resolution, self.settings.num_classes).value_ms

    def row(self, iteration: int, candidate: NetworkSpec, status: str, latency_ms: float | None,
            score: float | None, error: str | None) -> dict[str, Any]:
        counts = candidate.counts(self.settings.resolution, self.settings.num_classes)
        return {"iteration": iteration, "structure": str(candidate), "status": status, "score": score,
                "latency_ms": latency_ms, "macs": counts.macs, "params": counts.params, "layers": counts.layers,
                "error": error}


def plainnet_evolution(settings: SearchSettings, out: Path, table: Tables,
                       scorer: CandidateScorer) -> Evolution:
    """The Zen-NAS search of ``settings`` in the results folder ``out``, scoring with ``scorer``."""
    return Evolution(PlainNetSpace(settings, table), settings.loop, settings.as_dict(), out, scorer)


__all__ = ["BEST_STRUCTURE", "CHECKPOINT", "HISTORY", "Evolution", "Member", "PlainNetSpace", "SearchInterrupted",
           "SearchSettings", "SearchState", "candidate_seed", "plainnet_evolution"]
