"""A larger adaptation budget times the units of the kinds the networks show to be most wrong: the ranking, the
efficiency curve, the refined table, and a run that refines without timing a unit twice after an interrupt."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from zenbench.builder import adapt as adapt_run
from zenbench.builder import adapt_refine
from zenbench.builder.adapt import NETWORKS_BEFORE_REFINING, adapt_device
from zenbench.builder.adapt_refine import KindCurve, fit_curve, grid_jobs, kind_jobs, rank_kinds, refine, refined_table
from zenbench.builder.profile import ProgressLog
from zenbench.devices import SpaceTarget, load_device
from zenbench.latency import LatencyTable
from zenbench.locate import SHIPPED_TABLES
from zenbench.measure import Measurement

KIND = "SuperResK3K3/projection"


@pytest.fixture(scope="module")
def source() -> LatencyTable:
    return LatencyTable.load(SHIPPED_TABLES / "cpu.parquet")


def test_the_kind_that_explains_the_residual_ranks_first() -> None:
    rng = np.random.default_rng(0)
    shares = rng.dirichlet([2, 2, 2, 0.05], size=40)  # the last kind is rare: below the share worth timing
    residuals = 0.4 * shares[:, 1] + rng.normal(0, 0.005, 40)
    ranked = rank_kinds(["a", "b", "c", "rare"], shares, residuals)
    assert ranked[0][0] == "b" and "rare" not in [k for k, _ in ranked]
    assert ranked[0][1] > 5 * ranked[1][1]


def test_the_curve_recovers_a_size_dependent_speed_up_and_is_bounded() -> None:
    works = np.geomspace(1e5, 1e9, 12)
    curve = fit_curve("k", works, 2.0 * works**-0.1, 0.1)
    assert curve.exponent == pytest.approx(-0.1, abs=1e-9) and math.exp(curve.log_scale) == pytest.approx(2.0)
    assert fit_curve("k", works, works**3, 0.1).exponent == adapt_refine.MAX_EXPONENT
    assert fit_curve("k", works[:2], [0.5, 0.7], 0.1).exponent == 0.0  # two units cannot carry a slope


def test_refined_table_times_and_rescales_only_its_kinds(source: LatencyTable) -> None:
    rows = source.rows[source.rows["kind"] == KIND]
    timed_key = rows["key"].iloc[0]
    refined = refined_table(source, {timed_key: 1.234}, [KindCurve(KIND, math.log(0.5), 0.0, 1, 0.1)])
    new = dict(zip(refined.rows["key"], refined.rows["median_ms"], strict=True))
    assert new[timed_key] == 1.234
    for key in rows["key"].iloc[1:4]:
        assert new[key] == pytest.approx(0.5 * source.measured[key])
    other = source.rows[source.rows["kind"] != KIND]["key"].iloc[0]
    assert new[other] == source.measured[other]
    assert refined.calibration == source.calibration and refined.models[KIND] != source.models[KIND]


def test_units_spread_over_the_kind_work_range(source: LatencyTable) -> None:
    jobs = kind_jobs(grid_jobs(source), KIND, source.batch, count=12)
    assert len(jobs) == 12 and {j.kind for j in jobs} == {KIND}
    works = [adapt_refine._work(j.row(1)) for j in jobs]
    assert works == sorted(works) and works[-1] > 100 * works[0]


class FakeUnits:
    """A backend that 'times' a unit at a known factor of the source's latency, on a fake clock."""

    def __init__(self, source: LatencyTable, clock: list[float]) -> None:
        self.source, self.clock, self.timed = source, clock, []
        self.settings = None

    def time_instances(self, workload, settings, rules, instances=1):
        self.timed.append(workload.name)
        self.clock[0] += 1.0
        ms = 0.6 * self.source.measured[workload.name]
        return Measurement((ms / 1000,) * 3)


def test_refine_times_whole_kinds_within_the_budget_and_resumes(tmp_path: Path, monkeypatch,
                                                               source: LatencyTable) -> None:
    clock = [0.0]
    fake = FakeUnits(source, clock)
    monkeypatch.setattr(adapt_refine, "get_backend", lambda name: fake)
    device = load_device("cpu")
    log = ProgressLog(tmp_path / "log.jsonl")
    ranked = [(KIND, 0.2), ("SuperResK5K5/projection", 0.1)]
    # one kind's 12 units are estimated at well under 14 s and take 12 s on the fake clock: the second kind's
    # units no longer fit in what is left, and none of them is started
    table, curves = refine(source, ranked, device, device.timing, log, lambda: 14.0 - clock[0],
                           clock=lambda: clock[0])
    assert [c.kind for c in curves] == [KIND] and curves[0].timed == 12
    assert math.exp(curves[0].log_scale) == pytest.approx(0.6) and curves[0].exponent == pytest.approx(0, abs=1e-9)
    for key in source.rows[source.rows["kind"] == KIND]["key"].iloc[:5]:
        assert table.measured[key] == pytest.approx(0.6 * source.measured[key])
    again = ProgressLog(tmp_path / "log.jsonl")  # a resumed run finds the kind's units timed
    refine(source, ranked[:1], device, device.timing, again, lambda: 0.0, clock=lambda: clock[0])
    assert len(fake.timed) == 12


def test_a_large_budget_refines_after_the_networks(tmp_path: Path, monkeypatch, source: LatencyTable) -> None:
    """Networks first (a fake host whose networks run at 0.7 of the table's prediction), then units."""
    now = [0.0]

    def measure(spec, profile, resolution, num_classes, rules=None):
        from zenbench.latency import predict_latency

        now[0] += 2.0
        return Measurement((0.7 * predict_latency(spec, source, resolution, num_classes).value_ms / 1000,) * 3)

    monkeypatch.setattr(adapt_run, "measure_network", measure)
    monkeypatch.setattr(adapt_refine, "get_backend", lambda name: FakeUnits(source, now))
    table, _ = adapt_device(load_device("cpu"), minutes=30, out=tmp_path / "cpu.parquet", passes=1,
                            targets=[SpaceTarget("xxbl", 224)], clock=lambda: now[0])
    record = table.meta.adaptation
    assert record["networks"] == NETWORKS_BEFORE_REFINING
    refined = record["refined_units"]
    assert refined["kinds"] and refined["ranked"]  # units were timed for the kinds ranked most wrong
    assert "loo_mape_before" in refined and isinstance(refined["kept"], bool)
    units = sum(k["timed"] for k in refined["kinds"])
    assert record["seconds_measured"] == pytest.approx(NETWORKS_BEFORE_REFINING * 2.0 + units * 1.0)
    assert refined["seconds"] == pytest.approx(units * 1.0)
    assert not (tmp_path / "cpu.parquet.adapt.partial.jsonl").exists()
