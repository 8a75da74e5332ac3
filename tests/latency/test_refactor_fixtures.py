"""Behaviour pinned across refactors: the committed tables' predictions and a seeded search's history.

The fixtures were written by ``tests/data/make_refactor_fixtures.py`` before the latency stage was
restructured; a change that moves code must leave both exactly as they were."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zenbench.budget import Constraints
from zenbench.latency import LatencyTable, predict_latency
from zenbench.search import SearchSettings, search
from zenbench.search.presets import CIFAR_INIT
from zenbench.space.grammar import parse_structure

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


@pytest.mark.parametrize("device", ["cpu", "cpu-litert"])
def test_committed_tables_predict_as_before(device: str) -> None:
    fixture = json.loads((DATA / "prediction_fixture.json").read_text())
    table = LatencyTable.load(ROOT / "zenbench" / "latency_tables" / f"{device}.parquet")
    for net, expected in zip(fixture["networks"], fixture["predictions"][device], strict=True):
        got = predict_latency(parse_structure(net["structure"]), table, net["resolution"], net["num_classes"]).value_ms
        assert got == pytest.approx(expected, rel=1e-9), net["name"]


def test_seeded_search_history_is_unchanged(tmp_path) -> None:
    expected = json.loads((DATA / "search_history_fixture.json").read_text())
    table = LatencyTable.load(ROOT / "zenbench" / "latency_tables" / "cpu.parquet")
    settings = SearchSettings(space="xxbl", init=CIFAR_INIT, resolution=32, num_classes=10, population=8,
                              iterations=60, batch_size=4, checkpoint_every=5, proxy="params", seed=7,
                              constraints=Constraints(latency_ms=0.3, resolution=32, num_classes=10))
    search(settings, tmp_path / "run", table=table)
    rows = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert [(r["iteration"], r["structure"], r["status"], r["score"]) for r in rows] == \
        [(r["iteration"], r["structure"], r["status"], r["score"]) for r in expected]
    for got, want in zip(rows, expected, strict=True):
        assert got["latency_ms"] == pytest.approx(want["latency_ms"], rel=1e-9)
