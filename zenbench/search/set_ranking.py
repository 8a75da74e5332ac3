"""Searching with a proxy whose score belongs to a set: every candidate ranked against all scored so far.

AZ-NAS's score, and the ensemble's, is not a number a network has on its own: over N networks it is
Σ over components of log(rank / N) (:func:`zenbench.proxies.az_nas.rank_aggregate`). The authors'
evolutionary search (``ImageNet_MBV2/evolution_search_az.py`` in ``cvlab-yonsei/AZ-NAS``) keeps every
candidate's components and, after each new one, re-ranks all of them; parents come from the top of
that ranking. :class:`SetRanking` does the same inside :class:`~zenbench.search.engine.Evolution`:
each scored candidate's components go into the state's ``archive``, and after every batch each
population member's score becomes its aggregate over the whole archive, so pruning, parent choice
and the best member all follow the set score. One difference from the authors' loop: a member
pruned from the population does not come back if later ranks would lift it again.

The archive is part of the checkpoint, and the ranks are a pure function of it, so a resumed
search continues exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from zenbench.proxies.az_nas import rank_aggregate
from zenbench.search.state import Member

#: a candidate's (score, error), with its components when the proxy is ranked over a set
Scored = tuple[float, str | None] | tuple[float, str | None, dict[str, float]]


@dataclass(frozen=True)
class SetRanking:
    """Which result fields are ranked (the proxy's ``components``), and how entries are keyed: by the
    candidate's string in a space that scores each distinct candidate once, else by its iteration."""

    components: tuple[str, ...]
    memoize: bool

    def key(self, structure: str, iteration: int) -> str:
        return structure if self.memoize else str(iteration)

    def record(self, archive: dict[str, list[float]], key: str, iteration: int,
               values: Mapping[str, float] | None) -> None:
        """Add a scored entry; a candidate that could not be scored (``values`` None) ranks last in every component."""
        row = [-math.inf if values is None else float(values.get(c, math.nan)) for c in self.components]
        archive[key] = [float(iteration), *row]

    def ranks(self, archive: Mapping[str, Sequence[float]]) -> dict[str, float]:
        """Every entry's set score over the whole archive."""
        keys = list(archive)
        if not keys:
            return {}
        columns = {c: [archive[k][1 + i] for k in keys] for i, c in enumerate(self.components)}
        return dict(zip(keys, map(float, rank_aggregate(columns)), strict=True))

    def rescore(self, population: list[Member], ranks: Mapping[str, float]) -> list[Member]:
        """The population with each member's score replaced by its current set score."""
        return [replace(m, score=ranks[self.key(m.structure, m.iteration)]) for m in population]


def split_result(result: Scored | Sequence[Any]) -> tuple[float, str | None, Mapping[str, float] | None]:
    """A scorer's (score, error) or (score, error, components) as all three."""
    return result[0], result[1], (result[2] if len(result) > 2 else None)
