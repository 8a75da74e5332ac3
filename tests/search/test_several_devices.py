"""A search on several devices: every device's table must hold, and rows and best record each prediction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zenbench.api import plan_search
from zenbench.budget import Constraints, DeviceBudget
from zenbench.errors import SettingError
from zenbench.latency import LatencyTable, predict_latency
from zenbench.search import SearchSettings, search
from zenbench.search.presets import CIFAR_INIT
from zenbench.space.spec import NetworkSpec

ROOT = Path(__file__).resolve().parents[2]
TABLES = {d: LatencyTable.load(ROOT / "zenbench" / "latency_tables" / f"{d}.parquet") for d in ("cpu", "cpu-litert")}
BUDGETS = (DeviceBudget("cpu", 0.3, 0.05), DeviceBudget("cpu-litert", 0.2, 0.04))


def _predict(structure: str, device: str) -> float:
    return predict_latency(NetworkSpec.parse(structure), TABLES[device], 32, 10).value_ms


def test_a_candidate_over_any_device_budget_is_rejected_with_that_device_named() -> None:
    spec = NetworkSpec.parse(CIFAR_INIT)
    cpu, litert = _predict(CIFAR_INIT, "cpu"), _predict(CIFAR_INIT, "cpu-litert")
    both = Constraints(devices=(DeviceBudget("cpu", cpu * 2, 0.0), DeviceBudget("cpu-litert", litert * 2, 0.0)),
                       resolution=32, num_classes=10)
    verdict = both.check(spec, TABLES)
    assert verdict.ok and [d for d, _ in verdict.latencies] == ["cpu", "cpu-litert"]
    assert verdict.latencies[1][1].value_ms == pytest.approx(litert)
    tight = Constraints(devices=(DeviceBudget("cpu", cpu * 2, 0.0), DeviceBudget("cpu-litert", litert * 1.05, 0.1)),
                        resolution=32, num_classes=10)  # fits the LiteRT budget, but not with its guard band
    verdict = tight.check(spec, TABLES)
    assert not verdict.ok and [f.key for f in verdict.failures] == ["latency_ms@cpu-litert"]
    assert "cpu-litert" in str(verdict)
    with pytest.raises(ValueError, match="mapping"):
        tight.check(spec, TABLES["cpu"])


def test_one_device_constraints_are_stored_as_before() -> None:
    one = Constraints(latency_ms=9.0, latency_guard=0.1)
    assert "devices" not in one.as_dict() and Constraints.from_dict(one.as_dict()) == one
    several = Constraints.for_devices(BUDGETS, layers=18)
    assert several.latency_ms == 0.3 and Constraints.from_dict(json.loads(json.dumps(several.as_dict()))) == several
    assert Constraints.for_devices(BUDGETS[:1]).devices == ()


def _settings(constraints: Constraints) -> SearchSettings:
    return SearchSettings(space="xxbl", init=CIFAR_INIT, resolution=32, num_classes=10, population=6, iterations=24,
                          batch_size=4, checkpoint_every=5, proxy="params", seed=5, constraints=constraints)


def test_search_on_two_devices_keeps_every_budget_and_records_each_prediction(tmp_path) -> None:
    settings = _settings(Constraints.for_devices(BUDGETS, resolution=32, num_classes=10))
    result = search(settings, tmp_path / "run", table=TABLES)
    rows = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    scored = [r for r in rows if r["status"] == "scored"]
    assert scored and len(scored) < len(rows), "the budgets should pass some candidates and reject others"
    for row in rows:
        assert set(row["latency_ms_by_device"]) == {"cpu", "cpu-litert"}
        assert row["latency_ms"] == row["latency_ms_by_device"]["cpu"]
    for row in scored:
        for budget in BUDGETS:
            assert row["latency_ms_by_device"][budget.device] * (1 + budget.guard) <= budget.latency_ms
    assert {r["status"] for r in rows} - {"scored"} <= {"rejected: latency_ms@cpu", "rejected: latency_ms@cpu-litert"}
    best = json.loads((tmp_path / "run" / "best.json").read_text())
    assert set(best["latency_by_device"]) == {"cpu", "cpu-litert"}
    assert result["best"]["latency_ms_by_device"] == best["latency_by_device"]
    report = (tmp_path / "run" / "report.md").read_text()
    assert "0.3 ms on cpu" in report and "0.2 ms on cpu-litert" in report
    resumed = search(settings, tmp_path / "run", table=TABLES, resume=True)
    assert resumed["best"] == result["best"]


def test_one_device_rows_and_checkpoint_have_no_per_device_fields(tmp_path) -> None:
    search(_settings(Constraints(latency_ms=0.3, resolution=32, num_classes=10)), tmp_path / "run",
           table=TABLES["cpu"])
    rows = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert all("latency_ms_by_device" not in r for r in rows)
    checkpoint = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert "devices" not in checkpoint["settings"]["constraints"]
    assert all("latency_by_device" not in m for m in checkpoint["population"])


def test_several_devices_need_a_table_each(tmp_path) -> None:
    with pytest.raises(SettingError, match="table for each device"):
        search(_settings(Constraints.for_devices(BUDGETS)), tmp_path / "run", table=TABLES["cpu"])


def test_plan_search_pairs_devices_with_budgets() -> None:
    plan = plan_search([9.0, 12.0], device=["cpu", "cpu-litert"], preset="cifar-params1M", params=3e5, force=True)
    budgets = plan.settings.constraints.devices
    assert [(b.device, b.latency_ms) for b in budgets] == [("cpu", 9.0), ("cpu-litert", 12.0)]
    assert all(b.guard > 0 for b in budgets)  # each table's own validated error
    assert set(plan.search_tables) == {"cpu", "cpu-litert"} and plan.folder.name == "search-9ms-cpu+12ms-cpu-litert-s0"
    shared = plan_search(9.0, device=["cpu", "cpu-litert"], preset="cifar-params1M", params=3e5, force=True)
    assert [b.latency_ms for b in shared.settings.constraints.devices] == [9.0, 9.0]
    single = plan_search(9.0, device=["cpu"], preset="cifar-params1M", params=3e5, force=True)
    assert single.settings.constraints.devices == () and single.search_tables is single.table


@pytest.mark.parametrize(("budgets", "devices", "message"), [
    ([9.0, 12.0, 3.0], ["cpu", "cpu-litert"], "one per --device"),
    (None, ["cpu", "cpu-litert"], "needs --latency-ms"),
    (9.0, ["cpu", "cpu"], "each device once"),
])
def test_plan_search_refuses_budgets_that_do_not_pair_up(budgets, devices, message) -> None:
    with pytest.raises(SettingError, match=message):
        plan_search(budgets, device=devices, preset="cifar-params1M", params=3e5)


def test_plan_search_refuses_one_table_for_several_devices(tmp_path) -> None:
    with pytest.raises(SettingError, match="--table"):
        plan_search(9.0, device=["cpu", "cpu-litert"], table=tmp_path / "t.parquet")
