"""Timing rules: the spread decides noise, bursts are retried, one outlier run is not noise."""

from __future__ import annotations

import itertools

import pytest

from zenbench.measure import Measurement, TimingRules, measure, median_instance

RULES = TimingRules(warmup_runs=2, warmup_seconds=0.0, min_runs=20, min_seconds=0.0, rounds=1, max_spread=0.15,
                    retries=2)


def fake_timer(durations):
    """A ``timer`` that returns the given call durations in order (seconds)."""
    it = iter(durations)
    return lambda fn: next(it)


def test_one_outlier_run_is_not_noise() -> None:
    m = Measurement(tuple([1.0] * 19 + [50.0]))
    assert m.cv > 1.0  # the coefficient of variation would call this noisy
    assert m.spread == pytest.approx(0.0) and m.median == 1.0


def test_a_bimodal_attempt_is_measured_again_and_the_steady_one_kept() -> None:
    burst = [1.0, 2.0] * 10  # another process took a core for half the calls
    steady = [1.0] * 20
    m = measure(lambda: None, RULES, timer=fake_timer([1.0, 1.0] + burst + steady))
    assert m.median == 1.0 and not m.noisy and m.context["attempts"] == 2


def test_a_timing_that_stays_bimodal_is_flagged() -> None:
    burst = [1.0, 2.0] * 10
    calls = []
    durations = iter(itertools.chain([1.0, 1.0], burst * 3))
    m = measure(lambda: None, RULES, timer=lambda fn: calls.append(1) or next(durations))
    assert m.noisy and len(calls) == 2 + 3 * 20  # warm-up, then the first try and both retries


def test_summary_reports_the_spread() -> None:
    m = Measurement(tuple(float(x) for x in range(1, 12)))
    stats = m.summary(scale=1000.0)
    assert stats["spread"] == pytest.approx((m.p90 - m.p10) / m.median)
    assert stats["median"] == pytest.approx(6000.0)


def test_a_disturbed_round_is_dropped() -> None:
    rules = TimingRules(warmup_runs=0, warmup_seconds=0.0, min_runs=10, min_seconds=0.0, rounds=3,
                        round_tolerance=0.05, retries=0)
    quiet, burst = [1.0] * 10, [1.6] * 10  # a neighbour took the core for the whole second round
    m = measure(lambda: None, rules, timer=fake_timer(quiet + burst + [1.02] * 10))
    assert m.context["rounds_dropped"] == 1 and m.runs == 20
    assert m.median == pytest.approx(1.01) and not m.noisy


def test_the_median_instance_is_kept_with_every_instance_recorded() -> None:
    instances = [Measurement((0.021,) * 5), Measurement((0.015,) * 5), Measurement((0.017,) * 5)]
    m = median_instance(instances)
    assert m.median == pytest.approx(0.017)
    assert m.context["instance_medians"] == pytest.approx([0.021, 0.015, 0.017])
    assert m.context["instance_spread"] == pytest.approx((0.021 - 0.015) / 0.017)
    assert median_instance(instances[:1]) is instances[0]  # one instance: nothing to choose
    with pytest.raises(ValueError):
        median_instance([])


def test_a_network_is_timed_in_many_short_rounds_that_see_past_a_burst() -> None:
    rules = TimingRules(warmup_runs=0, warmup_seconds=0.0, min_runs=5, min_seconds=0.0, rounds=3,
                        round_tolerance=0.05, retries=0, network_rounds=12, network_min_runs=2)
    network = rules.for_networks()
    assert (network.rounds, network.min_runs) == (12, 2)
    # a burst (1.5x) covering the first 15 calls: the unit rules' three rounds of five are all inside it
    calls = [1.5] * 15 + [1.0] * 9
    assert measure(lambda: None, rules, timer=fake_timer(calls)).median == pytest.approx(1.5)
    m = measure(lambda: None, network, timer=fake_timer(calls))
    assert m.median == pytest.approx(1.0) and m.context["rounds_dropped"] == 8


def test_devices_that_time_one_long_round_keep_it_for_networks() -> None:
    from zenbench.devices import load_device

    assert TimingRules().quick().for_networks().rounds == 1  # smoke tests stay short
    for name in ("gpu", "t4", "pixel2"):
        rules = load_device(name).timing
        assert rules.for_networks() == rules
    cpu = load_device("cpu").timing
    assert cpu.for_networks().rounds > cpu.rounds and cpu.for_networks().min_seconds == cpu.min_seconds


def crowd(monkeypatch: pytest.MonkeyPatch, load: float, cores: int = 2) -> None:
    """Make this host report ``load`` (1-minute load average) on ``cores`` usable cores."""
    import os

    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)


def test_a_measurement_on_a_busy_host_says_so_with_the_same_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    from zenbench.measure import busy_warning

    calls = [1.0] * 22
    crowd(monkeypatch, 1.2)
    quiet = measure(lambda: None, RULES, timer=fake_timer(calls))
    crowd(monkeypatch, 20.1)
    busy = measure(lambda: None, RULES, timer=fake_timer(calls))
    assert not quiet.busy and busy_warning(quiet) is None and quiet.context["host_load"] == [1.2, 1.2]
    assert busy.busy and busy.context["cores"] == 2
    assert busy_warning(busy) == ("host busy: load 20.1 on 2 cores; the figure is not this device's latency — "
                                  "re-run on a quiet host")
    assert busy.samples == quiet.samples and busy.summary() == quiet.summary()  # only the flag differs


def test_load_is_judged_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    crowd(monkeypatch, 20.1, cores=16)  # 1.3 per core: the timed process and a few neighbours
    assert not measure(lambda: None, RULES, timer=fake_timer([1.0] * 22)).busy
    crowd(monkeypatch, 3.5, cores=2)
    assert measure(lambda: None, RULES, timer=fake_timer([1.0] * 22)).busy


def test_a_device_off_this_host_is_not_judged_by_its_load(monkeypatch: pytest.MonkeyPatch) -> None:
    crowd(monkeypatch, 20.1)
    m = measure(lambda: None, RULES, timer=fake_timer([1.0] * 22), watch_host=False)
    assert not m.busy and "host_load" not in m.context


def test_one_busy_instance_flags_the_median_instance() -> None:
    from zenbench.measure import busy_warning

    busy = Measurement((0.021,) * 5, {"busy": True, "busy_reason": "load 9.0 on 2 cores"})
    chosen = median_instance([busy, Measurement((0.015,) * 5), Measurement((0.017,) * 5)])
    assert chosen.median == pytest.approx(0.017) and chosen.busy
    assert busy_warning(chosen).startswith("host busy: load 9.0 on 2 cores;")
