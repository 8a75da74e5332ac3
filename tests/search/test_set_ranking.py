"""Searching with a proxy scored over a set (AZ-NAS, the ensemble): members ranked over every scored candidate."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zenbench.proxies.az_nas import rank_aggregate
from zenbench.search import nb201
from zenbench.search.set_ranking import SetRanking
from zenbench.search.state import Member

SHIPPED = Path(__file__).parents[2] / "zenbench" / "data" / "nb201" / "latency_ms.csv.gz"


def _table(tmp_path):
    from zenbench.latency.nb201 import fit_table

    csv = tmp_path / "latency.csv"
    pd.read_csv(SHIPPED).to_csv(csv, index=False)
    return fit_table(csv, "2080ti_32", 60, 0)[0]


def _fake_components(self, candidates, seeds):
    """Deterministic components per cell, so the ranking logic is tested apart from the proxies' cost."""
    out = []
    for cell in candidates:
        digest = hashlib.sha256(str(cell).encode()).digest()
        values = {c: digest[i] / 255.0 for i, c in enumerate(self.components)}
        out.append((sum(values.values()), None, values))
    return out


def test_ranks_are_the_rank_aggregate_and_an_unscorable_entry_ranks_last() -> None:
    ranking = SetRanking(("a", "b"), memoize=True)
    archive: dict[str, list[float]] = {}
    ranking.record(archive, "x", 0, {"a": 1.0, "b": 3.0})
    ranking.record(archive, "y", 1, {"a": 2.0, "b": 1.0})
    ranking.record(archive, "z", 2, None)
    ranks = ranking.ranks(archive)
    expected = rank_aggregate({"a": [1.0, 2.0, -math.inf], "b": [3.0, 1.0, -math.inf]})
    assert [ranks[k] for k in "xyz"] == pytest.approx(list(expected))
    assert min(ranks, key=ranks.get) == "z"
    members = ranking.rescore([Member("x", 0.0, 1.0, 0), Member("y", 0.0, 1.0, 1)], ranks)
    assert [m.score for m in members] == pytest.approx([ranks["x"], ranks["y"]])
    assert SetRanking(("a",), memoize=False).key("cell", 7) == "7"


def test_a_set_ranked_search_scores_members_over_the_whole_archive(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(nb201.CellScorer, "score", _fake_components)
    out = tmp_path / "run"
    result = nb201.search_nb201(_table(tmp_path), latency_ms=6.0, proxy="ensemble", population=8, iterations=60,
                                seed=2, folder=out)
    checkpoint = json.loads((out / "checkpoint.json").read_text())
    archive = checkpoint["archive"]
    assert len(archive) == result["scored"] == len(checkpoint["scores"]) > 8
    keys = list(archive)
    columns = {c: [archive[k][1 + i] for k in keys] for i, c in enumerate(("meco", "synflow", "params"))}
    ranks = dict(zip(keys, rank_aggregate(columns), strict=True))
    population = checkpoint["population"]
    assert len(population) <= 9
    for member in population:
        assert member["score"] == pytest.approx(ranks[member["structure"]])
    assert result["best"]["score"] == pytest.approx(max(m["score"] for m in population))
    # the population holds the top of the archive, not the cells with the largest standalone sums
    assert np.mean([ranks[m["structure"]] for m in population]) > np.mean(list(ranks.values()))


def test_a_set_ranked_search_stopped_by_ctrl_c_resumes_to_the_same_bytes(tmp_path, monkeypatch) -> None:
    from zenbench.errors import SearchInterrupted

    table = _table(tmp_path)
    kwargs = dict(latency_ms=6.0, proxy="az_nas", population=8, iterations=40, seed=3, checkpoint_every=4)
    monkeypatch.setattr(nb201.CellScorer, "score", _fake_components)
    clean = nb201.search_nb201(table, folder=tmp_path / "clean", **kwargs)
    calls = []

    def interrupted(self, candidates, seeds):
        calls.append(1)
        if len(calls) == 17:
            raise KeyboardInterrupt
        return _fake_components(self, candidates, seeds)

    monkeypatch.setattr(nb201.CellScorer, "score", interrupted)
    with pytest.raises(SearchInterrupted):
        nb201.search_nb201(table, folder=tmp_path / "stopped", **kwargs)
    monkeypatch.setattr(nb201.CellScorer, "score", _fake_components)
    resumed = nb201.search_nb201(table, folder=tmp_path / "stopped", resume=True, **kwargs)
    assert resumed["resumed_from"] > 0
    assert (tmp_path / "stopped" / "history.jsonl").read_bytes() == (tmp_path / "clean" / "history.jsonl").read_bytes()
    assert resumed["best"] == clean["best"]


def test_the_real_scorers_hand_over_the_components() -> None:
    from zenbench.search.parallel import ScoreJob, score_structure
    from zenbench.space.nb201 import parse_cell

    cell = parse_cell("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|")
    [(value, error, values)] = nb201.CellScorer("az_nas", "cifar10", 4).score([cell], [0])
    assert error is None and math.isfinite(value) and set(values) == {"expressivity", "progressivity", "trainability", "complexity"}
    assert nb201.CellScorer("zen", "cifar10", 4).components == ()
    structure = "SuperConvK3BNRELU(3,8,1,1)SuperResK3K3(8,16,2,8,1)SuperConvK1BNRELU(16,32,1,1)"
    scored = score_structure(structure, 0, ScoreJob("ensemble", 32, 4, 10))
    assert scored[1] is None and set(scored[2]) == {"meco", "synflow", "params"}
    assert len(score_structure(structure, 0, ScoreJob("zen", 32, 4, 10))) == 2


class _NumberSpace:
    """A toy space that rescored recurring candidates (as the block space does): integers, mutated by ±1..3."""

    memoize = False
    best_file = "best.txt"

    def mutate(self, parent, rng):
        return (int(parent) if parent is not None else 50) + rng.choice((-3, -2, -1, 1, 2, 3))

    def check(self, candidate):
        from zenbench.search.engine import Checked

        return Checked(float(candidate))

    def row(self, iteration, candidate, status, latency_ms, score, error):
        return {"iteration": iteration, "structure": str(candidate), "status": status, "score": score}


class _TwoComponentScorer:
    """Component a rewards large numbers, b numbers near 40: their set score peaks in between."""

    components = ("a", "b")

    def score(self, candidates, seeds):
        return [(0.0, None, {"a": float(c), "b": -abs(c - 40.0)}) for c in candidates]


def test_a_space_that_rescores_recurring_candidates_keys_the_archive_by_iteration() -> None:
    from zenbench.search.engine import Evolution, LoopSettings

    evolution = Evolution(_NumberSpace(), LoopSettings(6, 80, seed=4), {"proxy": "toy"}, None, _TwoComponentScorer())
    state = evolution.run()
    scored = [r for r in evolution.journal.records() if r["status"] == "scored"]
    assert sorted(map(int, state.archive)) == [r["iteration"] for r in scored]  # one entry per scoring, repeats too
    ranks = evolution.ranking.ranks(state.archive)
    assert all(m.score == pytest.approx(ranks[str(m.iteration)]) for m in state.population)
    assert 40 <= int(state.best.structure) <= 60  # neither component alone: the aggregate's compromise
