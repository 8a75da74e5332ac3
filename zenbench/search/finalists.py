"""A memoized search's last step: its finalists scored again with more proxy draws, the best mean wins.

A data-free proxy's value is one draw of a random initialisation and input: MeCo's spread between
seeds is about 2 % of its value at NAS-Bench-201's top cells, as large as the gaps between them. The
evolution scores each cell once, so the best of a thousand single draws is partly the luckiest draw
(the winner's curse): a cell 1.4 points below the oracle won a 1,000-iteration search on a draw 2 sd
above its mean (docs/search.md). Scoring the top ``count`` cells ``draws`` more times and keeping the
best mean costs ``count × draws`` proxy calls.

A proxy ranked over a set (AZ-NAS, the ensemble) averages each finalist's components over its draws
and ranks the finalists against every cell the search scored, as the loop ranks them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from zenbench.errors import SettingError
from zenbench.search.engine import CandidateScorer, candidate_seed
from zenbench.search.set_ranking import SetRanking, split_result
from zenbench.search.state import SearchState

#: how many cells are scored again, and how many more draws each gets
FINALISTS, FINALIST_DRAWS = 10, 4


@dataclass(frozen=True)
class Finalist:
    """One finalist: its string, every draw of its score (set-ranked: of its components), its final score."""

    structure: str
    draws: tuple[Any, ...]
    score: float
    latency_ms: float | None

    def as_json(self) -> dict[str, Any]:
        return {"arch": self.structure, "score": self.score, "latency_ms": self.latency_ms, "draws": list(self.draws)}


def current_scores(state: SearchState, ranking: SetRanking | None) -> dict[str, float]:
    """Every scored cell's score now: its set rank, or its one draw; cells that could not be scored are left out."""
    if ranking is not None:
        ranks = ranking.ranks(state.archive)
        return {k: v for k, v in ranks.items() if state.scores.get(k, [None, 0, None])[2] is None}
    return {k: float(v[0]) for k, v in state.scores.items() if v[2] is None and math.isfinite(float(v[0]))}


def rescore_finalists(state: SearchState, scorer: CandidateScorer, ranking: SetRanking | None,
                      parse: Callable[[str], Any], latency_of: Callable[[Any], float | None], *, seed: int,
                      count: int = FINALISTS, draws: int = FINALIST_DRAWS) -> list[Finalist]:
    """The top ``count`` scored cells, each scored ``draws`` more times (seeds after the search's own), best first.
    A draw that fails, or gives no finite value, is left out of its finalist's mean."""
    for name, value in (("finalists", count), ("finalist_draws", draws)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SettingError(f"{name} must be a whole number of at least 0, not {value!r}")
    scores = current_scores(state, ranking)
    top = sorted(scores, key=lambda k: -scores[k])[:count]
    if not top or draws < 1:
        return []
    cells = [parse(key) for key in top]
    first = state.iteration
    extra: dict[str, list[Any]] = {key: [] for key in top}
    for d in range(draws):
        seeds = [candidate_seed(seed, first + d * len(top) + i) for i in range(len(top))]
        for key, result in zip(top, scorer.score(cells, seeds), strict=True):
            value, error, components = split_result(result)
            if error is not None:
                continue
            if ranking is None and math.isfinite(float(value)):
                extra[key].append(float(value))
            elif ranking is not None and components is not None:
                extra[key].append(dict(components))
    finalists = []
    if ranking is None:
        for key, cell in zip(top, cells, strict=True):
            values = [float(state.scores[key][0]), *map(float, extra[key])]
            finalists.append(Finalist(key, tuple(values), float(np.mean(values)), latency_of(cell)))
    else:
        archive = dict(state.archive)
        draws_by_key: dict[str, list[list[float]]] = {}
        for key in top:
            stored = state.archive[key]
            rows = [list(stored[1:]), *([float(c.get(name, math.nan)) for name in ranking.components]
                                        for c in extra[key])]
            draws_by_key[key] = rows
            with warnings.catch_warnings():  # a component no draw could compute stays NaN, ranked last
                warnings.simplefilter("ignore", RuntimeWarning)
                archive[key] = [stored[0], *np.nanmean(np.array(rows, dtype=float), axis=0).tolist()]
        ranks = ranking.ranks(archive)
        for key, cell in zip(top, cells, strict=True):
            finalists.append(Finalist(key, tuple(tuple(r) for r in draws_by_key[key]), float(ranks[key]),
                                      latency_of(cell)))
    return sorted(finalists, key=lambda f: -f.score)
