"""The features that depend on the CPU core (SIMD width, L2) and the kernel paths (im2col, narrow convs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zenbench.latency import LatencyTable
from zenbench.latency.meta import check_models
from zenbench.latency.models import fit_unit_models
from zenbench.latency.units import FEATURES, LEGACY_FEATURES, PLAIN_CORE, Core, core_of, unit_features, unit_key, unit_kind
from zenbench.space.blocks import BLOCKS

AVX512 = {"cpu": "Some Xeon", "cpu_isa": ["avx2", "avx512f"], "l2_cache_mib": 2.0}


def _unit(family: str, cin: int, mid: int, cout: int, stride: int = 1, projection: bool = False):
    return BLOCKS.get(family).make_unit(cin, mid, cout, stride, projection)


def test_a_core_counts_registers_and_cache_in_elements_of_the_tables_precision() -> None:
    assert core_of("int8", AVX512) == Core(64, 2 * 2**20)
    assert core_of("fp32", AVX512) == Core(16, 2**19)
    assert core_of("fp32", {"cpu_isa": ["avx2"]}) == Core(8, 0)  # no L2 recorded: spills are not counted
    assert core_of("fp16", {}) == Core(8, 0)
    for damaged in (-2.0, float("nan"), float("inf"), "2M", True):  # an environment written by hand
        assert core_of("int8", {**AVX512, "l2_cache_mib": damaged}).cache_weights == 0


def test_im2col_and_narrow_work_count_only_the_convs_that_do_them() -> None:
    wide = unit_features(_unit("SuperResK3K3", 32, 16, 32), 28, 1)
    assert wide["im2col_elems"] == (32 * 9 + 16 * 9) * 28 * 28 and wide["narrow_macs"] == 0.0
    pointwise = unit_features(_unit("SuperResK1K3K1", 32, 16, 32), 28, 1)
    assert pointwise["im2col_elems"] == 16 * 9 * 28 * 28  # only the 3x3 unrolls its input
    narrow = unit_features(_unit("SuperResK3K3", 32, 8, 32), 28, 1)
    assert narrow["narrow_macs"] == narrow["dense_macs"] == (32 * 8 + 8 * 32) * 9 * 28 * 28
    stem = unit_features(_unit("SuperConvK3BNRELU", 3, 0, 8, 2), 224, 1)
    assert stem["narrow_macs"] == 0.0  # image planes are the stem's, whatever its width


def test_vector_elements_round_each_tensor_up_to_whole_registers() -> None:
    unit = _unit("SuperResK3K3", 40, 24, 72, projection=True)
    plain = unit_features(unit, 14, 1)
    assert plain["vector_elems"] == plain["act_elems"]
    wide = unit_features(unit, 14, 1, core=Core(64, 0))
    # 40 -> 24 -> 72 and the 40 -> 72 projection, each tensor rounded up to 64 int8 lanes
    assert wide["vector_elems"] == ((64 + 64) + (64 + 128) + (64 + 128)) * 196


def test_macs_spill_in_proportion_to_the_weights_beyond_the_cache() -> None:
    unit = _unit("SuperResK3K3", 512, 512, 512)  # 4.7 M weights
    features = unit_features(unit, 7, 1, core=Core(64, 2**20))
    weights, macs = features["weight_elems"], features["dense_macs"]
    assert features["spill_macs"] == pytest.approx(macs * (1 - 2**20 / weights))
    assert unit_features(unit, 7, 1, core=Core(64, 8 * 2**20))["spill_macs"] == 0.0
    assert unit_features(unit, 7, 1)["spill_macs"] == 0.0


def test_models_stored_before_the_core_features_load_with_them_at_zero() -> None:
    legacy = {"kind": "k", "coefficients": dict.fromkeys(LEGACY_FEATURES, 1.0), "n": 9, "loo_mape": 0.1,
              "loo_p90_ape": 0.2}
    model = check_models({"k": legacy})["k"]
    assert set(model.coefficients) == set(FEATURES) and model.coefficients["spill_macs"] == 0.0
    with pytest.raises(ValueError, match="needs a number"):
        check_models({"k": {**legacy, "coefficients": {**legacy["coefficients"], "shadow_macs": 1.0}}})
    with pytest.raises(ValueError, match="needs a number"):  # some of the new features but not all
        check_models({"k": {**legacy, "coefficients": {**legacy["coefficients"], "spill_macs": 1.0}}})
    counted = {**legacy, "coefficients": {**dict.fromkeys(FEATURES, 0.0), "vector_elems": 1e-9}}
    assert check_models({"k": counted}, Core(64, 0))["k"].coefficients["vector_elems"] == 1e-9
    with pytest.raises(ValueError, match="records no core"):
        check_models({"k": counted})


@pytest.mark.parametrize("core", [[64], [0, 5], [64, -1], [64.0, 5], "x", None])
def test_a_damaged_or_missing_core_refuses_the_table_in_one_line(tmp_path, core) -> None:
    from zenbench.latency.meta import TableError

    table = LatencyTable(_synthetic_rows(penalty=0.0), {"device": {"batch": 1, "precision": "int8"},
                                                         "environment": AVX512})
    next(iter(table.models.values())).coefficients["vector_elems"] = 1e-9  # a model that counts on the core
    if core is None:
        del table.metadata["core"]
    else:
        table.metadata["core"] = core
    table.save(tmp_path / "t.parquet")
    with pytest.raises(TableError, match=r"damaged: its (core|model)") as error:
        LatencyTable.load(tmp_path / "t.parquet")
    assert "\n" not in str(error.value)


def _synthetic_rows(penalty: float) -> pd.DataFrame:
    """Units whose cost is linear in MACs, plus ``penalty`` more per MAC for convs with <= 8 channels."""
    rows = []
    rng = np.random.default_rng(0)
    for _ in range(60):
        mid = int(rng.choice([8, 16, 24, 32, 48, 64]))
        cin = int(rng.choice([16, 32, 64]))
        res = int(rng.choice([14, 28]))
        unit = _unit("SuperResK3K3", cin, mid, cin)
        f = unit_features(unit, res, 1)
        rows.append({"key": unit_key(unit, res, 1), "kind": unit_kind(unit), "family": unit.family,
                     "shortcut": unit.shortcut.value, "in_channels": cin, "mid_channels": mid, "out_channels": cin,
                     "stride": 1, "resolution": res, "batch": 1, **f,
                     "median_ms": 0.01 + 2e-9 * f["dense_macs"] + penalty * 2e-9 * f["narrow_macs"], "noisy": False})
    return pd.DataFrame(rows).drop_duplicates("key")


def test_a_slow_narrow_kernel_is_learnt_rather_than_smoothed_over() -> None:
    """A table whose 8-channel convs run at a third of the speed: the fitted model predicts an unseen narrow
    unit from the narrow ones it saw, within a few per cent."""
    rows = _synthetic_rows(penalty=2.0)
    _, models, _ = fit_unit_models(rows)
    unseen = _unit("SuperResK3K3", 48, 8, 48)
    f = unit_features(unseen, 28, 1)
    truth = 0.01 + 2e-9 * f["dense_macs"] + 4e-9 * f["narrow_macs"]
    assert models[unit_kind(unseen)].predict(f) == pytest.approx(truth, rel=0.03)


def test_a_fit_stores_the_core_it_counted_on_and_predicts_with_it() -> None:
    """The core is the measuring host's at the table's precision, stored beside the models, so a table adapted
    on another host (its environment replaced) still counts features as its models were fitted."""
    rows = _synthetic_rows(penalty=0.0)
    table = LatencyTable(rows, {"device": {"batch": 1, "precision": "int8"}, "environment": AVX512})
    assert table.metadata["core"] == [64, 2 * 2**20] and table.core == table.host_core == Core(64, 2 * 2**20)
    table.metadata["environment"] = {"cpu_isa": ["avx2"]}
    assert table.core == Core(64, 2 * 2**20) and table.host_core == Core(32, 0)
    older = LatencyTable(rows, {"device": {"batch": 1}}, dict(table.models))
    assert older.core == PLAIN_CORE  # models stored without a core use no core-dependent feature
