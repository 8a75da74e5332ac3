"""``minutes``: a search stops at a batch boundary when its time is up, says so, and resumes exactly."""

from __future__ import annotations

import itertools
import json

import pytest

import zenbench.search.engine as engine
from zenbench.api import plan_search
from zenbench.budget import Constraints
from zenbench.errors import SettingError
from zenbench.search import SearchSettings, search
from zenbench.search.presets import CIFAR_INIT
from zenbench.search.report import report_folder


def _settings(iterations: int = 30) -> SearchSettings:
    return SearchSettings(space="xxbl", init=CIFAR_INIT, resolution=32, num_classes=10, population=6,
                          iterations=iterations, batch_size=4, checkpoint_every=5, proxy="params", seed=3,
                          constraints=Constraints(resolution=32, num_classes=10))


@pytest.fixture
def one_second_per_batch(monkeypatch):
    """A clock that advances one second each time the loop reads it (once at the start, once per batch)."""
    ticks = itertools.count()
    monkeypatch.setattr(engine, "_now", lambda: float(next(ticks)))


def test_time_budget_stops_at_a_batch_boundary_and_says_why(tmp_path, one_second_per_batch) -> None:
    result = search(_settings(), tmp_path / "run", minutes=10 / 60)
    assert result["stopped"] == "minutes"
    assert result["iterations"] == 10  # ten one-second batches fill ten seconds
    report = (tmp_path / "run" / "report.md").read_text()
    assert "stopped by the time budget" in report and "after 10 of 30 iterations" in report
    best = json.loads((tmp_path / "run" / "best.json").read_text())
    assert best["stopped"] == "minutes" and best["after_iterations"] == 10
    checkpoint = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert checkpoint["iteration"] == 10 and checkpoint["stopped"] == "minutes"
    assert "minutes" not in checkpoint["settings"]  # a time budget is not part of the search's identity
    again = report_folder(tmp_path / "run")  # the report written back from the checkpoint alone
    assert again["stopped"] == "minutes" and "stopped by the time budget after 10 of 30" in again["stop_reason"]


def test_resume_with_a_larger_budget_writes_what_an_uninterrupted_run_writes(tmp_path, one_second_per_batch) -> None:
    whole = search(_settings(), tmp_path / "whole")
    assert whole["stopped"] == "iterations" and "finished all 30 iterations" in whole["stop_reason"]
    first = search(_settings(), tmp_path / "parts", minutes=8 / 60)
    assert first["stopped"] == "minutes" and first["iterations"] < 30
    again = search(_settings(), tmp_path / "parts", minutes=8 / 60, resume=True)  # no time left: no new rows
    assert again["iterations"] == first["iterations"]
    second = search(_settings(), tmp_path / "parts", minutes=20 / 60, resume=True)
    assert first["iterations"] < second["iterations"] < 30
    last = search(_settings(), tmp_path / "parts", resume=True)
    assert last["stopped"] == "iterations" and last["iterations"] == 30
    assert (tmp_path / "parts" / "history.jsonl").read_bytes() == (tmp_path / "whole" / "history.jsonl").read_bytes()
    assert last["best"] == whole["best"]


def test_iterations_stop_first_when_they_come_first(tmp_path) -> None:
    result = search(_settings(iterations=6), tmp_path / "run", minutes=60)
    assert result["stopped"] == "iterations" and result["iterations"] == 6


@pytest.mark.parametrize("minutes", [0, -1.0, True])
def test_a_time_budget_must_be_positive(tmp_path, minutes) -> None:
    with pytest.raises(SettingError, match="minutes"):
        search(_settings(), tmp_path / "run", minutes=minutes)


def test_plan_search_carries_the_time_budget() -> None:
    assert plan_search(params=3e5, preset="cifar-params1M", minutes=2.5).minutes == 2.5
    with pytest.raises(SettingError, match="--minutes"):
        plan_search(params=3e5, preset="cifar-params1M", minutes=0)
