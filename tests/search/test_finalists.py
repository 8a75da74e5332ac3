"""The NB201 search's finalists: its top cells scored again, the best mean over draws wins."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from zenbench.search.finalists import rescore_finalists
from zenbench.search.set_ranking import SetRanking
from zenbench.search.state import SearchState

SHIPPED = Path(__file__).parents[2] / "zenbench" / "data" / "nb201" / "latency_ms.csv.gz"


class SeededScorer:
    """A proxy whose draw is the cell's true value plus noise fixed by the seed."""

    components = ()

    def __init__(self, truth: dict[str, float], noise: dict[int, float]) -> None:
        self.truth, self.noise, self.seeds = truth, noise, []

    def score(self, candidates, seeds):
        self.seeds.extend(seeds)
        return [(self.truth[c] + self.noise.get(s, 0.0), None) for c, s in zip(candidates, seeds, strict=True)]


def test_a_lucky_single_draw_loses_to_the_best_mean() -> None:
    truth = {"a": 10.0, "b": 9.0, "c": 5.0}
    # the loop saw b on a lucky draw (12 > a's 10); the finalists' draws are unbiased
    state = SearchState(100, [], None, 0, scores={"a": [10.0, 3, None], "b": [12.0, 7, None], "c": [5.0, 9, None],
                                                  "broken": [float("-inf"), 11, "RuntimeError: x"]})
    scorer = SeededScorer(truth, {})
    final = rescore_finalists(state, scorer, None, str, lambda cell: 1.0, seed=0, count=2, draws=4)
    assert [f.structure for f in final] == ["a", "b"]  # c was not a finalist
    assert final[0].draws == (10.0, 10, 10, 10, 10) and final[1].score == (12 + 4 * 9) / 5
    assert len(set(scorer.seeds)) == 8  # every extra draw has its own seed
    everyone = rescore_finalists(state, SeededScorer(truth, {}), None, str, lambda cell: 1.0, seed=0, count=9, draws=1)
    assert {f.structure for f in everyone} == {"a", "b", "c"}  # a cell that could not be scored never is one


def test_a_draw_without_a_finite_value_is_left_out_and_bad_settings_are_refused() -> None:
    import pytest

    from zenbench.errors import SettingError

    state = SearchState(10, [], None, 0, scores={"a": [10.0, 3, None], "b": [9.0, 7, None]})
    lucky = SeededScorer({"a": 10.0, "b": 9.0}, {})
    lucky.score = lambda cells, seeds: [(float("inf") if c == "b" else 10.0, None) for c in cells]
    final = rescore_finalists(state, lucky, None, str, lambda cell: 1.0, seed=0, count=2, draws=2)
    assert final[0].structure == "a" and final[1].draws == (9.0,)
    for bad in (-1, 1.5, True):
        with pytest.raises(SettingError, match="finalists"):
            rescore_finalists(state, lucky, None, str, lambda cell: 1.0, seed=0, count=bad)


def test_set_ranked_finalists_are_ranked_against_every_scored_cell() -> None:
    ranking = SetRanking(("x", "y"), memoize=True)
    archive: dict[str, list[float]] = {}
    for i, (key, x, y) in enumerate([("a", 5.0, 5.0), ("b", 9.0, 9.0), ("c", 1.0, 1.0), ("d", 3.0, 2.0)]):
        ranking.record(archive, key, i, {"x": x, "y": y})
    state = SearchState(4, [], None, 0, scores={k: [0.0, i, None] for i, k in enumerate(archive)}, archive=archive)

    class Components:
        components = ("x", "y")

        def score(self, candidates, seeds):  # b's first draw was lucky: its mean falls below a's
            return [(0.0, None, {"x": 2.0, "y": 2.0} if c == "b" else {"x": 5.0, "y": 5.0}) for c in candidates]

    final = rescore_finalists(state, Components(), ranking, str, lambda cell: None, seed=0, count=2, draws=4)
    assert [f.structure for f in final] == ["a", "b"]
    assert final[1].draws[0] == (9.0, 9.0) and len(final[1].draws) == 5


def test_the_search_reports_its_finalists_and_the_loop_best(tmp_path) -> None:
    from zenbench.latency.nb201 import lookup_table
    from zenbench.search.nb201 import search_nb201

    csv = tmp_path / "latency.csv"
    pd.read_csv(SHIPPED).to_csv(csv, index=False)
    table, _ = lookup_table(csv, "pixel2")
    result = search_nb201(table, latency_ms=13.0, proxy="meco", population=8, iterations=30, seed=1,
                          finalists=3, finalist_draws=2, folder=tmp_path / "run")
    finalists = result["finalists"]
    assert len(finalists) == 3 and all(len(f["draws"]) == 3 and f["latency_ms"] <= 13.0 for f in finalists)
    assert result["best"]["arch"] == finalists[0]["arch"] and result["loop_best"] is not None
    assert finalists[0]["score"] == max(f["score"] for f in finalists)
    import json

    run = tmp_path / "run"
    assert (run / "best_cell.txt").read_text().strip() == finalists[0]["arch"]  # written by the search itself
    best = json.loads((run / "best.json").read_text())
    assert best["arch"] == finalists[0]["arch"] and best["loop_best"] == result["loop_best"]
    assert json.loads((run / "finalists.json").read_text())["finalists"] == finalists
    plain = search_nb201(table, latency_ms=13.0, proxy="meco", population=8, iterations=30, seed=1, finalists=0)
    assert plain["finalists"] == [] and plain["best"] == plain["loop_best"] == result["loop_best"]
