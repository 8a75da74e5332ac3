"""Host-speed normalisation: timings taken in a slow minute come back to the profile's typical speed."""

from __future__ import annotations

import math
import random

import pytest

from zenbench.builder.hostspeed import ProbedTimer, fit_elasticity, normalise, speed_summary, typical_reference_ms


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


def profile_with_networks(elasticity: float, networks: int = 12, passes: int = 3, seed: int = 0) -> list[dict]:
    """A profile's rows: for every pass of every network, a regime of the host's speed that lasts five
    measurements (four units and the network's pass). The reference follows the speed one for one,
    the networks only to the power ``elasticity``; every timing carries ±1 % of its own noise."""
    rng = random.Random(seed)
    rows, t = [], 0.0
    for p in range(passes):
        for i in range(networks):
            slowdown = math.exp(rng.uniform(-0.15, 0.15))
            for u in range(5):
                row = {"key": f"p{p}-n{i}-u{u}", "measured_at": t, "reference_ms": 1.5 * slowdown,
                       "median_ms": 2.0 * slowdown * rng.gauss(1.0, 0.01)}
                if u == 2:
                    row.update(key=f"network|{i}|p{p}", network=True, structure=f"net{i}", resolution=224,
                               median_ms=(5.0 + i) * slowdown**elasticity * rng.gauss(1.0, 0.01))
                rows.append(row)
                t += 1.0
    return rows


@pytest.mark.parametrize("true_elasticity", [0.5, 1.0])
def test_the_elasticity_is_read_off_the_calibration_networks_passes(true_elasticity: float) -> None:
    rows = profile_with_networks(true_elasticity)
    fit = fit_elasticity(rows)
    assert fit["networks"] == 12 and fit["passes"] == 36
    assert fit["slope"] == pytest.approx(true_elasticity, abs=0.1) and fit["se"] < 0.1
    assert fit["elasticity"] == pytest.approx(min(1.0, fit["slope"]))
    # scaled by that elasticity, each network's passes agree; scaled one for one, they would not
    def pass_spread(scaled: list[dict]) -> float:
        by_net: dict[str, list[float]] = {}
        for r in scaled:
            if r.get("network"):
                by_net.setdefault(r["structure"], []).append(r["median_ms"])
        return max(max(v) / min(v) - 1 for v in by_net.values())

    typical = typical_reference_ms(rows)
    assert pass_spread(normalise(rows, typical, elasticity=fit["elasticity"])) < 0.05
    if true_elasticity < 1:
        assert pass_spread(normalise(rows, typical)) > 0.1


def test_thin_or_contradictory_evidence_leaves_the_plain_ratio() -> None:
    few = [r for r in profile_with_networks(0.5) if not r.get("network") or r["structure"] in ("net0", "net1")]
    assert fit_elasticity(few)["elasticity"] == 1.0 and fit_elasticity(few)["networks"] == 2
    no_networks = [r for r in profile_with_networks(0.5) if not r.get("network")]
    assert fit_elasticity(no_networks)["elasticity"] == 1.0
    # networks that slow down more than the reference are clipped to one for one
    assert fit_elasticity(profile_with_networks(1.6))["elasticity"] == 1.0
    # passes whose timings have nothing to do with the host's speed: the slope is too uncertain to use
    noise = profile_with_networks(0.5, seed=3)
    rng = random.Random(1)
    for r in noise:
        if r.get("network"):
            r["median_ms"] *= math.exp(rng.uniform(-0.5, 0.5))
    fit = fit_elasticity(noise)
    assert fit["se"] > 0.25 and fit["elasticity"] == 1.0


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
