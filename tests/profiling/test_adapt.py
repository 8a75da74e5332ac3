"""Adapting a table to a new host (``zenbench profile --minutes``): the forms' refit on synthetic
measurements, refusals of a source of another kind and of a budget too small, and resume of a real run."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest

from zenbench.builder import adapt as adapt_run
from zenbench.builder.adapt import adapt_device
from zenbench.builder.adapt_forms import adapt_calibration, predict, with_elasticity
from zenbench.builder.adapt_source import network_sums, sample_networks, source_targets
from zenbench.devices import SpaceTarget, load_device
from zenbench.errors import AdaptSourceError, BudgetTooSmall
from zenbench.latency import LatencyTable, NetworkSums
from zenbench.locate import SHIPPED_TABLES

CPU = SHIPPED_TABLES / "cpu.parquet"
FACTORS = {"conv": 0.9, "xxbl": 0.7, "idw": 1.25}


@pytest.fixture(scope="module")
def source() -> LatencyTable:
    return LatencyTable.load(CPU)


@pytest.fixture(scope="module")
def sums(source: LatencyTable) -> list[NetworkSums]:
    nets = list(itertools.islice(sample_networks(source_targets(source), seed=3), 24))
    return network_sums(source, [{"structure": n.structure, "resolution": n.resolution,
                                  "num_classes": n.num_classes, "median_ms": 1.0} for n in nets])


def measured_as(samples: list[NetworkSums], truth, noise: float, seed: int = 0) -> list[NetworkSums]:
    rng = np.random.default_rng(seed)
    return [dataclasses.replace(s, measured_ms=truth(s) * (1 + rng.normal(0, noise))) for s in samples]


def test_per_group_factors_are_recovered_and_chosen(source: LatencyTable, sums: list[NetworkSums]) -> None:
    cal = source.calibration

    def truth(s: NetworkSums) -> float:  # this host: each group's units run at their own speed-up
        return cal.apply({g: FACTORS[g] * ms for g, ms in s.raw_by_group.items()}, s.units, s.weight_mib,
                         sum(w for w in s.unit_weight_mib if w <= (cal.cache_mib or 0)))

    samples = measured_as(sums, truth, 0.01)
    adaptation = adapt_calibration(cal, samples)
    assert adaptation.form == "group-scales", adaptation.loo_mape
    for group in ("xxbl", "idw"):  # the blocks; "conv" (stem, head, classifier) is a few % of a network, so
        assert adaptation.factors[group] == pytest.approx(FACTORS[group], rel=0.03)  # 1 % noise blurs its factor
    assert adaptation.loo_mape["group-scales"] < 0.03 < adaptation.loo_mape["scale"]
    assert adaptation.loo_mape["source"] > 0.1  # the unadapted table is far off
    assert adaptation.calibration.form == "adapted:group-scales"
    errors = [abs(predict(adaptation.calibration, s) / s.measured_ms - 1) for s in samples]
    assert np.mean(errors) < 0.02


def test_one_scale_wins_when_the_host_is_uniformly_faster(source: LatencyTable, sums: list[NetworkSums]) -> None:
    cal = source.calibration
    samples = measured_as(sums, lambda s: 0.8 * predict(cal, s), 0.005, seed=1)
    adaptation = adapt_calibration(cal, samples)
    assert adaptation.form == "scale", adaptation.loo_mape
    assert adaptation.factors["scale"] == pytest.approx(0.8, rel=0.01)


def test_elasticity_is_folded_into_the_size_correction(source: LatencyTable, sums: list[NetworkSums]) -> None:
    cal = source.calibration
    for s in sums[:5]:
        p = predict(cal, s)
        assert predict(with_elasticity(cal, np.log(0.5), 1.2), s) == pytest.approx(0.5 * p**1.2, rel=1e-9)
    powered = dataclasses.replace(cal, power=0.1, power_shift=0.2, power_ref_ms=5.0)
    s = sums[0]
    assert predict(with_elasticity(powered, np.log(2.0), 0.9), s) == pytest.approx(2.0 * predict(powered, s) ** 0.9)


def test_adapted_table_round_trips_its_record(tmp_path: Path, source: LatencyTable, sums: list[NetworkSums]) -> None:
    samples = measured_as(sums, lambda s: 0.8 * predict(source.calibration, s), 0.01)
    adaptation = adapt_calibration(source.calibration, samples)
    nets = [{"structure": "x", "resolution": 224, "num_classes": 1000, "median_ms": s.measured_ms} for s in samples]
    table = adapt_run.adapted_table(source, CPU, load_device("cpu"), nets, adaptation, {"cross_runtime": False})
    table.save(tmp_path / "cpu.parquet")
    loaded = LatencyTable.load(tmp_path / "cpu.parquet", expect=load_device("cpu").describe())
    record = loaded.meta.adaptation
    assert record["form"] == "scale" and record["networks"] == len(samples)
    assert record["source"]["path"] == str(CPU) and record["source"]["host"]["cpu"] == "AMD EPYC"
    assert loaded.metadata["validation"]["mape"] == pytest.approx(adaptation.loo_mape["scale"])
    assert loaded.calibration == adaptation.calibration


def test_source_of_another_kind_or_runtime_is_refused(tmp_path: Path, source: LatencyTable) -> None:
    for device, match in ((dict(backend="tensorrt"), "GPU"), (dict(precision="fp16"), "precision")):
        other = LatencyTable(source.rows, {**source.metadata, "device": {**source.metadata["device"], **device}},
                             dict(source.models), source.calibration)
        path = other.save(tmp_path / "other.parquet")
        with pytest.raises(AdaptSourceError, match=match):
            adapt_device(load_device("cpu"), minutes=5, source=path, out=tmp_path / "out.parquet")
    # another runtime of the same kind: only when named with --from, never the device's default source
    from zenbench.builder.adapt_source import check_source

    with pytest.raises(AdaptSourceError, match="--from"):
        check_source(source, CPU, load_device("cpu-litert"), explicit=False)
    assert check_source(source, CPU, load_device("cpu-litert"), explicit=True) is True


def test_a_budget_too_small_says_what_it_can_do(tmp_path: Path) -> None:
    with pytest.raises(BudgetTooSmall, match=r"0.05 minutes measure about \d of the 8 networks.*--minutes \d"):
        adapt_device(load_device("cpu"), minutes=0.05, out=tmp_path / "cpu.parquet")
    assert not (tmp_path / "cpu.parquet").exists()
    assert not (tmp_path / "cpu.parquet.adapt.partial.jsonl").exists()  # nothing started, nothing to resume


class Interrupt(Exception):
    pass


class FakeHost:
    """measure_network without a device: a latency from the structure, and a clock each pass moves on."""

    def __init__(self, seconds: dict[int, float] | None = None) -> None:
        self.now, self.calls, self.seconds = 0.0, [], seconds or {}

    def measure(self, spec, profile, resolution, num_classes, rules=None):
        from zenbench.measure import Measurement

        self.calls.append(str(spec))
        self.now += self.seconds.get(len(self.calls), 10.0)
        ms = 1 + len(str(spec)) / 100
        return Measurement((ms / 1000,) * 3)


def fake_run(monkeypatch, host: FakeHost, out: Path, **kwargs):
    monkeypatch.setattr(adapt_run, "measure_network", host.measure)
    return adapt_device(load_device("cpu"), out=out, targets=[SpaceTarget("xxbl", 32)], passes=2,
                        clock=lambda: host.now, **kwargs)


def test_a_network_the_budget_cuts_short_is_not_counted(tmp_path: Path, monkeypatch) -> None:
    host = FakeHost({17: 30.0})  # 8 networks x 2 passes of 10 s, then the 9th network's first pass overruns
    table, _ = fake_run(monkeypatch, host, tmp_path / "cpu.parquet", minutes=3)
    assert len(host.calls) == 17  # its second pass would end past the budget: not started
    assert len(table.metadata["networks"]) == 8 == table.meta.adaptation["networks"]
    assert host.calls[16] not in {n["structure"] for n in table.metadata["networks"]}
    assert all(len(n["pass_medians_ms"]) == 2 for n in table.metadata["networks"])


def test_interrupted_adaptation_continues_where_it_stopped(tmp_path: Path, monkeypatch) -> None:
    host, out = FakeHost(), tmp_path / "cpu.parquet"

    def stop_after_eleven(progress) -> None:
        if len(host.calls) >= 11 and progress.doing:
            raise Interrupt

    with pytest.raises(Interrupt):
        fake_run(monkeypatch, host, out, minutes=60, max_networks=8, on_progress=stop_after_eleven)
    assert not out.exists()
    left: list[float] = []
    fake_run(monkeypatch, host, out, minutes=60, max_networks=8, on_progress=lambda p: left.append(p.left_s))
    assert len(host.calls) == 16 and len(set(host.calls)) == 8  # every pass of every network once
    assert left[0] == pytest.approx(3600 - 110)  # the time the first run spent is off the budget
    assert LatencyTable.load(out).meta.adaptation["seconds_measured"] == pytest.approx(160)


@pytest.mark.slow
def test_interrupted_adaptation_resumes_without_remeasuring(tmp_path: Path, monkeypatch) -> None:
    """A real run (quick timing, resolution-32 networks), interrupted after 10 passes, then run again."""
    device = load_device("cpu")
    measured: list[str] = []
    real = adapt_run.measure_network

    def counting(spec, *args, **kwargs):
        measured.append(str(spec))
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(adapt_run, "measure_network", counting)
    out = tmp_path / "cpu.parquet"
    kwargs = dict(minutes=30, out=out, rules=device.timing.quick(), targets=[SpaceTarget("xxbl", 32)],
                  max_networks=8, passes=2)

    def stop_after_ten(progress) -> None:
        if len(measured) >= 10 and progress.doing:
            raise Interrupt

    with pytest.raises(Interrupt):
        adapt_device(device, on_progress=stop_after_ten, **kwargs)
    assert len(measured) == 10 and not out.exists()
    seen: list[float] = []
    _, path = adapt_device(device, on_progress=lambda p: seen.append(p.left_s), **kwargs)
    assert len(measured) == 16  # 8 networks x 2 passes, none twice
    assert len(set(measured[10:]) | set(measured[:10])) <= 8
    assert path == out and out.exists() and not out.with_name(out.name + ".adapt.partial.jsonl").exists()
    record = LatencyTable.load(out).meta.adaptation
    assert record["networks"] == 8 and record["form"] in record["loo_mape"]
    assert 0 < seen[-1] < 30 * 60  # progress shows the time left


def test_benchmark_scores_the_source_before_and_after_adapting(source: LatencyTable) -> None:
    from zenbench.bench.adapt import score_source

    nets = list(itertools.islice(sample_networks(source_targets(source), seed=5), 20))
    sums = network_sums(source, [{"structure": n.structure, "resolution": n.resolution,
                                  "num_classes": n.num_classes, "median_ms": 1.0} for n in nets])
    measured = [{"structure": n.structure, "resolution": n.resolution, "num_classes": n.num_classes,
                 "median_ms": 0.8 * predict(source.calibration, s)} for n, s in zip(nets, sums, strict=True)]
    scored = score_source(source, measured[:8], measured[8:], [6.0] * 12, [8, 12])
    assert scored["unadapted"]["within_10"] == 0 and scored["unadapted"]["spearman"] == pytest.approx(1)
    assert [r["networks"] for r in scored["budgets"]] == [8, 12]
    assert scored["budgets"][1]["minutes"] == pytest.approx(1.2)
    assert all(r["within_10"] == 1 and r["form"] == "scale" for r in scored["budgets"])


def test_a_damaged_adaptation_record_is_refused_on_load(tmp_path: Path, source: LatencyTable) -> None:
    from zenbench.latency import TableError

    damaged = LatencyTable(source.rows, {**source.metadata, "adaptation": {"form": "scale"}}, dict(source.models),
                           source.calibration)
    path = damaged.save(tmp_path / "cpu.parquet")
    with pytest.raises(TableError, match="adaptation record"):
        LatencyTable.load(path)


def test_a_run_stopped_after_measuring_finishes_without_measuring(tmp_path: Path, monkeypatch) -> None:
    """Killed while fitting, with the whole budget spent: the same command fits what the journal holds."""
    host, out = FakeHost(), tmp_path / "cpu.parquet"
    monkeypatch.setattr(adapt_run, "adapt_calibration", lambda *a, **k: (_ for _ in ()).throw(Interrupt()))
    with pytest.raises(Interrupt):
        fake_run(monkeypatch, host, out, minutes=160 / 60, max_networks=8)
    monkeypatch.undo()
    calls = len(host.calls)
    table, _ = fake_run(monkeypatch, host, out, minutes=160 / 60, max_networks=8)
    assert len(host.calls) == calls == 16 and len(table.metadata["networks"]) == 8
