"""Host-speed normalisation: timings taken in a slow minute come back to the profile's typical speed."""

from __future__ import annotations

import pytest

from zenbench.hostspeed import ProbedTimer, normalise, speed_summary, typical_reference_ms


def rows_in_regimes(regimes: list[tuple[int, float]], latency_ms: float = 2.0) -> list[dict]:
    """Rows of units that all take ``latency_ms`` at speed 1, measured one a second through ``regimes``
    of (count, slowdown); each unit and its reference probe slow down together."""
    rows, t = [], 0.0
    for count, slowdown in regimes:
        for _ in range(count):
            rows.append({"key": f"u{len(rows)}", "measured_at": t, "reference_ms": 1.5 * slowdown,
                         "median_ms": latency_ms * slowdown, "p10_ms": 0.95 * latency_ms * slowdown,
                         "p90_ms": 1.05 * latency_ms * slowdown})
            t += 1.0
    return rows


def test_timings_from_a_slow_regime_are_scaled_to_the_typical_speed() -> None:
    rows = rows_in_regimes([(12, 1.0), (8, 1.2), (10, 1.0)])  # a neighbour slowed the host for 8 s
    typical = typical_reference_ms(rows)
    assert typical == pytest.approx(1.5)
    scaled = normalise(rows, typical)
    assert [r["median_ms"] for r in scaled] == pytest.approx([2.0] * len(rows))
    assert [r["p90_ms"] for r in scaled] == pytest.approx([2.1] * len(rows))
    # the raw timing stays recoverable
    assert [r["median_ms"] / r["host_factor"] for r in scaled] == pytest.approx([r["median_ms"] for r in rows])
    summary = speed_summary(rows, typical)
    assert summary["factor_min"] == pytest.approx(1 / 1.2) and summary["factor_max"] == pytest.approx(1.0)


def test_one_disturbed_probe_does_not_move_the_units_around_it() -> None:
    rows = rows_in_regimes([(20, 1.0)])
    rows[7]["reference_ms"] = 2.5  # the probe alone caught a burst; the unit did not
    scaled = normalise(rows, typical_reference_ms(rows))
    assert [r["median_ms"] for r in scaled] == pytest.approx([2.0] * 20)


def test_rows_without_a_probe_keep_their_timing() -> None:
    rows = rows_in_regimes([(6, 1.1)])
    for r in rows:
        r["reference_ms"] = None
    assert typical_reference_ms(rows) is None
    scaled = normalise(rows, None)
    assert all(r["host_factor"] == 1.0 for r in scaled)
    assert [r["median_ms"] for r in scaled] == [r["median_ms"] for r in rows]


class CountingProbe:
    def __init__(self, readings: list[float]) -> None:
        self.readings = iter(readings)
        self.calls = 0
        self.closed = False

    def __call__(self) -> float:
        self.calls += 1
        return next(self.readings)

    def close(self) -> None:
        self.closed = True


def test_each_measurement_gets_the_probes_before_and_after_it() -> None:
    probe = CountingProbe([1.0, 4.0, 9.0, 16.0])
    timer = ProbedTimer(probe)
    found = []
    for _ in range(3):
        with timer.around() as probed:
            pass
        found.append(probed.reference_ms)
    assert found == pytest.approx([2.0, 6.0, 12.0])  # geometric means of neighbouring probes
    assert probe.calls == 4  # one probe serves the measurements on both sides of it
    timer.close()
    assert probe.closed


def test_without_a_probe_nothing_is_recorded() -> None:
    timer = ProbedTimer(None)
    with timer.around() as probed:
        pass
    assert probed.reference_ms is None
