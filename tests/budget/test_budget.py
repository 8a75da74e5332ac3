"""Prediction from a table, calibration fitting, constraints."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from zenbench.budget import Constraints, peak_activation_bytes
from zenbench.latency import Calibration, LatencyTable, Predictor, calibrate_table, predict_latency
from zenbench.latency.units import NO_PADDING, Padding, unit_features, unit_key, unit_kind, unit_mid
from zenbench.space.sampling import random_network
from zenbench.space.spec import NetworkSpec

NET = ("SuperConvK3BNRELU(3,16,2,1)SuperResK1K3K1(16,32,2,16,2)SuperResK3K3(32,64,2,32,1)"
       "SuperConvK1BNRELU(64,256,1,1)")


def synthetic_table(spec: NetworkSpec | list[NetworkSpec], resolution: int, ms_per_gmac: float = 10.0) -> LatencyTable:
    """A table whose units cost exactly ms_per_gmac per GMAC plus 0.01 ms: prediction must add them up."""
    rows = []
    for one in spec if isinstance(spec, list) else [spec]:
        res = resolution
        for unit in one.units():
            f = unit_features(unit, res, 1)
            rows.append({"key": unit_key(unit, res, 1), "kind": unit_kind(unit), "resolution": res, **f,
                         "median_ms": 0.01 + ms_per_gmac * (f["dense_macs"] + f["dw_macs"]) / 1e9, "noisy": False})
            res = unit.out_resolution(res)
    for channels in (64, 256, 1024):
        rows.append({"key": f"classifier|gap-linear|in{channels}|mid0|out1000|s1|r{res}|b1",
                     "kind": "classifier/gap-linear", "resolution": res, "const": 1.0,
                     "dense_macs": channels * 1000.0, "dw_macs": 0.0, "act_elems": 0.0, "weight_elems": 0.0,
                     "out_elems": 1000.0, "median_ms": 0.005 + channels * 1e-6, "noisy": False})
    frame = pd.DataFrame(rows)
    for column in ("in_channels", "out_channels"):
        frame[column] = 8
    return LatencyTable(frame, {"device": {"batch": 1, "per_image": False}})


def test_prediction_is_the_sum_of_units_and_classifier() -> None:
    spec = NetworkSpec.parse(NET)
    table = synthetic_table(spec, 64)
    p = predict_latency(spec, table, 64, 1000, breakdown=True)
    expected = sum(u.ms for u in p.units) + p.classifier_ms
    assert p.raw_sum_ms == pytest.approx(expected) and p.value_ms == pytest.approx(expected)
    assert all(u.measured for u in p.units) and len(p.units) == len(list(spec.units()))
    assert p.classifier_ms == pytest.approx(0.005 + 256e-6)


def test_calibration_recovers_known_terms() -> None:
    rng = np.random.default_rng(0)
    xxbl, idw, conv = rng.uniform(0, 40, 60), rng.uniform(0, 40, 60), rng.uniform(0.2, 2, 60)
    idw[:30] = 0.0  # half the networks are ResNet-like only
    units = rng.integers(10, 60, 60)
    measured = 0.3 + 0.98 * xxbl + 0.9 * idw + 1.1 * conv - 0.02 * units
    groups = [{"conv": c, "xxbl": x, "idw": i} for c, x, i in zip(conv, xxbl, idw, strict=True)]
    fit = Calibration.fit(groups, list(units), list(measured))
    assert fit.a == pytest.approx(0.3, abs=1e-6) and fit.c == pytest.approx(0.02, abs=1e-6)
    assert fit.b == pytest.approx({"conv": 1.1, "xxbl": 0.98, "idw": 0.9}, abs=1e-6)
    # and the fit, applied group by group, gives back every network's latency
    assert [fit.apply(g, int(n)) for g, n in zip(groups, units, strict=True)] == pytest.approx(measured)


def test_a_group_too_rare_to_fit_shares_the_pooled_scale() -> None:
    rng = np.random.default_rng(1)
    xxbl, conv = rng.uniform(1, 40, 30), rng.uniform(0.2, 2, 30)
    measured = 0.95 * (xxbl + conv)
    fit = Calibration.fit([{"conv": c, "xxbl": x, "idw": 0.0} for c, x in zip(conv, xxbl, strict=True)],
                          [20] * 30, list(measured))
    assert fit.b["idw"] == pytest.approx(0.95, abs=1e-3)  # no depth-wise networks: the pooled scale


def test_profiled_networks_calibrate_the_table() -> None:
    spec = NetworkSpec.parse(NET)
    table = synthetic_table(spec, 64)
    raw = predict_latency(spec, table, 64, 1000).raw_sum_ms
    table.metadata["networks"] = [{"structure": NET, "resolution": 64, "num_classes": 1000,
                                   "median_ms": 0.9 * raw}] * 10
    calibration = calibrate_table(table)
    assert calibration is not None and calibration.n == 10
    assert predict_latency(spec, table, 64, 1000).value_ms == pytest.approx(0.9 * raw, rel=1e-3)
    table.metadata["networks"] = table.metadata["networks"][:3]
    assert calibrate_table(table) is None and table.calibration is None


def test_prediction_counts_the_weights_the_network_reads() -> None:
    spec = NetworkSpec.parse(NET)
    p = predict_latency(spec, synthetic_table(spec, 64), 64, 1000)
    # BN's scale and shift fold into the convolutions at inference (as a bias, too small to matter here)
    assert p.weight_mib * 2**20 / 4 == pytest.approx(spec.counts(64, 1000, bn=False).params, rel=1e-3)


def test_calibration_recovers_the_weight_streaming_term() -> None:
    rng = np.random.default_rng(2)
    raw, weights, units = rng.uniform(1, 80, 60), rng.uniform(1, 120, 60), rng.integers(10, 60, 60)
    measured = 0.2 + 1.02 * raw - 0.01 * units + 0.04 * np.maximum(0, weights - 32)
    fit = Calibration.fit([{"all": r} for r in raw], list(units), list(measured), groups=("all",),
                          weight_mib=list(weights), cache_mib=32)
    assert fit.d == pytest.approx(0.04, abs=1e-6) and fit.b["all"] == pytest.approx(1.02, abs=1e-6)
    assert fit.a == pytest.approx(0.2, abs=1e-6) and fit.cache_mib == 32


def calibrated_on(table: LatencyTable, specs: list[NetworkSpec], truth: list[float]) -> Calibration:
    """Calibrate ``table`` on networks measured at ``truth`` (ms, 32 px) and check it then predicts every one
    of them within 0.1 %."""
    table.metadata["networks"] = [{"structure": str(s), "resolution": 32, "num_classes": 1000, "median_ms": ms}
                                  for s, ms in zip(specs, truth, strict=True)]
    calibration = calibrate_table(table)
    for spec, ms in zip(specs, truth, strict=True):
        assert predict_latency(spec, table, 32, 1000).value_ms == pytest.approx(ms, rel=1e-3)
    return calibration


def test_calibration_finds_the_cache_size_the_networks_spill_out_of() -> None:
    """Networks with more weights than the cache are slower than their units by the spilled MiB: the table's
    calibration must choose the weight term at that cache size and predict both sides of it."""
    specs = [NetworkSpec.parse(f"SuperConvK3BNRELU(3,{w // 4},2,1)SuperResK3K3({w // 4},{w},2,{w},{n})"
                               f"SuperConvK1BNRELU({w},{w},1,1)")
             for w in (64, 256, 512, 768, 1024, 1280, 1536) for n in (1, 2)]
    table = synthetic_table(specs, 32)
    truth = []
    for spec in specs:
        p = predict_latency(spec, table, 32, 1000)
        truth.append(p.raw_sum_ms + 0.05 * max(0.0, p.weight_mib - 24))
    assert min(predict_latency(s, table, 32, 1000).weight_mib for s in specs) < 8
    assert max(predict_latency(s, table, 32, 1000).weight_mib for s in specs) > 150
    calibration = calibrated_on(table, specs, truth)
    # no intercept in the truth: the form with a tied to the per-unit cost (both 0 here) is the simpler one
    assert calibration.form == "single(a=c)+weights@24MiB" and calibration.d == pytest.approx(0.05, rel=1e-3)


def test_calibration_finds_the_cache_units_refetch_their_weights_from() -> None:
    """A unit timed alone keeps weights that fit the cache there; in a network whose weights do not fit, it
    reads them again on every inference, while a unit too large for the cache streamed them in the table
    already. The calibration must choose that term, at that cache size, over the spilled-weights one."""
    from zenbench.latency.predictor import unit_weight_mib
    from zenbench.latency.terms import weight_traffic_mib

    specs = [NetworkSpec.parse(f"SuperConvK3BNRELU(3,{w // 4},2,1)SuperResK3K3({w // 4},{w},2,{w},{n})"
                               f"SuperConvK1BNRELU({w},{v},1,1)")
             for w in (64, 128, 256, 384, 512, 768) for n, v in ((1, 256), (2, 1024), (3, 2048))]
    table = synthetic_table(specs, 32)
    truth, fitting = [], []
    for spec in specs:
        p = predict_latency(spec, table, 32, 1000)
        fitting.append(sum(w for w in unit_weight_mib(spec, table, 32, 1000) if w <= 2.0))
        truth.append(p.raw_sum_ms + 0.04 * weight_traffic_mib("refetched", 2.0, p.weight_mib, fitting[-1]))
    totals = [predict_latency(s, table, 32, 1000).weight_mib for s in specs]
    assert min(totals) < 2.0  # networks whose weights all fit the cache, and ones with units on both sides of it
    assert any(0 < f < total for f, total in zip(fitting, totals, strict=True) if total > 2.0)
    calibration = calibrated_on(table, specs, truth)
    assert calibration.form == "single(a=c)+refetched@2MiB" and calibration.d == pytest.approx(0.04, rel=1e-3)


def test_tied_intercept_recovers_one_call_per_network() -> None:
    rng = np.random.default_rng(3)
    raw, units = rng.uniform(1, 80, 60), rng.integers(10, 60, 60)
    measured = 1.01 * raw - 0.006 * (units - 1)  # each unit's timing holds one call's cost; the network, one
    fit = Calibration.fit([{"all": r} for r in raw], list(units), list(measured), groups=("all",), tied=True)
    assert fit.a == fit.c == pytest.approx(0.006, abs=1e-6) and fit.b["all"] == pytest.approx(1.01, abs=1e-6)
    assert fit.tied is True


def test_calibration_ties_the_intercept_only_when_the_networks_allow_it() -> None:
    """A network pays one call's fixed cost where its units' sum pays one per unit, so a = c: the calibration
    prefers that form, one parameter fewer, and keeps a free intercept when the networks show one."""
    specs = [NetworkSpec.parse(f"SuperConvK3BNRELU(3,{w // 4},2,1)SuperResK3K3({w // 4},{w},2,{w},{n})"
                               f"SuperConvK1BNRELU({w},{w},1,1)")
             for w in (32, 64, 128, 256, 384, 512) for n in (1, 2, 3, 4)]
    table = synthetic_table(specs, 32)
    sums = [(p.raw_sum_ms, p.unit_count) for p in (predict_latency(s, table, 32, 1000) for s in specs)]
    one_call = calibrated_on(table, specs, [1.02 * r - 0.001 * (n - 1) for r, n in sums])
    assert one_call.form == "single(a=c)" and one_call.c == pytest.approx(0.001, rel=1e-2)
    intercept = calibrated_on(table, specs, [0.05 + 1.02 * r - 0.001 * n for r, n in sums])
    assert intercept.form == "single" and intercept.a == pytest.approx(0.05, rel=1e-2)


def test_calibration_adds_the_power_correction_only_where_it_pays() -> None:
    """Whole networks that run sub-linearly in their units' sum (large ones relatively faster, as on the
    AVX-512 cpu host) get the size-dependent correction on top of the linear form; networks that are an
    exact linear function of their units do not."""
    specs = [NetworkSpec.parse(f"SuperConvK3BNRELU(3,{w // 4},2,1)SuperResK3K3({w // 4},{w},2,{w},{n})"
                               f"SuperConvK1BNRELU({w},{w},1,1)")
             for w in (32, 64, 128, 256, 384, 512, 768, 1024) for n in (1, 2, 3)]
    table = synthetic_table(specs, 32)
    raws = [predict_latency(s, table, 32, 1000).raw_sum_ms for s in specs]
    assert max(raws) / min(raws) > 100
    for law, corrected in ((lambda r: 1.5 * r ** 0.9, True), (lambda r: 0.1 + 0.95 * r, False)):
        truth = [law(r) for r in raws]
        table.metadata["networks"] = [{"structure": str(s), "resolution": 32, "num_classes": 1000, "median_ms": ms}
                                      for s, ms in zip(specs, truth, strict=True)]
        calibration = calibrate_table(table)
        assert calibration.form.endswith("+power") is corrected, calibration.form
        errors = [predict_latency(s, table, 32, 1000).value_ms / ms - 1 for s, ms in zip(specs, truth, strict=True)]
        assert max(map(abs, errors)) < 0.01
        if corrected:
            linear = calibration.form.removesuffix("+power")
            assert calibration.loo_mape[calibration.form] < calibration.loo_mape[linear] / 3


def test_constraints_report_which_limit_and_by_how_much() -> None:
    spec = NetworkSpec.parse(NET)
    counts = spec.counts(64, 1000)
    verdict = Constraints(params=counts.params * 0.5, macs=counts.macs * 2, layers=100, resolution=64).check(spec)
    assert not verdict and [f.limit for f in verdict.failures] == ["params"]
    assert verdict.failures[0].excess == pytest.approx(1.0, rel=1e-6)
    assert Constraints(layers=3).check(spec, stop_at_first=True).failures[0].limit == "layers"
    assert Constraints(params=1e9, macs=1e12, layers=100, resolution=64).check(spec)
    table = synthetic_table(spec, 64)
    latency = predict_latency(spec, table, 64).value_ms
    assert not Constraints(latency_ms=latency * 0.9, resolution=64).check(spec, table)
    assert Constraints(latency_ms=latency * 1.1, resolution=64).check(spec, table)


def test_peak_activation_memory_counts_the_largest_unit() -> None:
    spec = NetworkSpec.parse("SuperConvK3BNRELU(3,8,1,1)")
    # input 3x32x32 + conv output 8x32x32 (widest) + unit output 8x32x32, fp32
    assert peak_activation_bytes(spec, 32) == (3 + 8 + 8) * 32 * 32 * 4


def test_random_networks_span_sizes_and_stay_valid() -> None:
    rng = random.Random(0)
    macs = [random_network(space, 224, rng).counts(224).macs for space in ("xxbl", "idw") for _ in range(60)]
    assert max(macs) / min(macs) > 50


def test_guard_band_tightens_the_latency_check() -> None:
    from zenbench.budget import table_guard

    spec = NetworkSpec.parse(NET)
    table = synthetic_table(spec, 64)
    latency = predict_latency(spec, table, 64).value_ms
    assert Constraints(latency_ms=latency * 1.05, resolution=64).check(spec, table)
    assert not Constraints(latency_ms=latency * 1.05, resolution=64, latency_guard=0.1).check(spec, table)
    assert table_guard(table) == 0.0
    table.metadata["validation"] = {"mape": 0.05, "rmspe": 0.07}
    assert table_guard(table) == 0.07


def test_the_residual_smoother_learns_what_the_linear_model_cannot() -> None:
    """Narrow units run at a fraction of the wide ones' efficiency: the per-kind model (linear in work)
    cannot express that, the smoother learns it from the measured neighbours of an unseen unit."""
    from zenbench.space.blocks import BLOCKS

    block = BLOCKS.get("SuperResK3K3")
    rng = np.random.default_rng(0)

    def true_ms(unit, res: int) -> float:
        f = unit_features(unit, res, 1, 16)
        return 0.01 + f["dense_macs"] / 5e9 * (1 + 3 * np.exp(-unit.out_channels / 24))

    rows = []
    for width, mid in {(int(8 * rng.integers(1, 64)), int(8 * rng.integers(1, 32))) for _ in range(80)}:
        unit = block.make_unit(width, mid, width, 1, False)
        rows.append({"key": unit_key(unit, 28, 1), "kind": unit_kind(unit), "family": unit.family,
                     "shortcut": unit.shortcut.value, "in_channels": width, "mid_channels": unit_mid(unit),
                     "out_channels": width, "stride": 1, "resolution": 28, "batch": 1,
                     **unit_features(unit, 28, 1), "median_ms": true_ms(unit, 28), "noisy": False})
    table = LatencyTable(pd.DataFrame(rows), {"device": {"batch": 1, "per_image": False}})
    assert table.smoother.bandwidth is not None
    assert table.smoother.loo_mape < 0.7 * table.smoother.base_loo_mape
    unseen = block.make_unit(24, 16, 24, 1, False)
    assert unit_key(unseen, 28, 1) not in table.measured
    base = table.model(unit_kind(unseen)).predict(unit_features(unseen, 28, 1, table.channel_block))
    truth = true_ms(unseen, 28)
    assert abs(Predictor(table).unit_ms(unseen, 28) / truth - 1) < abs(base / truth - 1)


@pytest.mark.parametrize("truth", [Padding(16, 1, 1), Padding(16, 16, 16), NO_PADDING])
def test_the_table_learns_how_the_device_pads_channels(truth: Padding) -> None:
    """A runtime that computes output channels in tiles of 16 charges a conv of 40 outputs for 48: the
    table must find that tiling (and not pad where the device does not) from the measurements alone."""
    from zenbench.space.blocks import BLOCKS

    block = BLOCKS.get("SuperResK1K3K1")
    rng = np.random.default_rng(1)
    rows = []
    for cin, mid, cout in {tuple(int(8 * v) for v in rng.integers(1, 40, size=3)) for _ in range(120)}:
        unit = block.make_unit(cin, mid, cout, 1, True)
        work = unit_features(unit, 28, 1, truth)
        rows.append({"key": unit_key(unit, 28, 1), "kind": unit_kind(unit), "family": unit.family,
                     "shortcut": unit.shortcut.value, "in_channels": cin, "mid_channels": unit_mid(unit),
                     "out_channels": cout, "stride": 1, "resolution": 28, "batch": 1, **unit_features(unit, 28, 1),
                     "median_ms": 0.02 + work["dense_macs"] / 4e9 + work["act_elems"] / 2e9, "noisy": False})
    table = LatencyTable(pd.DataFrame(rows), {"device": {"batch": 1, "per_image": False}})
    assert table.channel_block == truth
    assert table.models[unit_kind(unit)].loo_mape < 1e-3
    assert Padding.of(16) == Padding(16, 16, 16)  # tables written before the three tiles were told apart
