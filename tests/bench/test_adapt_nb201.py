from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zenbench.bench import adapt_nb201
from zenbench.latency.nb201 import PRUNING, choose_and_fit, counts_matrix


@pytest.fixture(scope="module")
def result() -> dict:
    return adapt_nb201.run(devices=["gold_6226", "pixel2"], cells=300, source_samples=200, budgets=(10, 50),
                           repeats=2)


def test_adapting_with_50_cells_beats_the_unadapted_source_whose_scale_differs(result) -> None:
    pair = next(p for p in result["pairs"] if (p["source"], p["target"]) == ("gold_6226", "pixel2"))
    assert pair["unadapted"]["mape"] > 0.25  # the CPU's milliseconds are not the phone's
    k50 = next(b for b in pair["budgets"] if b["k"] == 50)
    assert k50["chosen"]["mape"]["mean"] < pair["unadapted"]["mape"] / 2
    assert k50["chosen"]["within_10"]["mean"] > pair["unadapted"]["within_10"]
    assert k50["held_out"] == result["cells"] - 50
    assert set(k50["chosen_forms"]) <= set(adapt_nb201.FORMS)


def test_every_figure_is_a_correlation_or_a_share(result) -> None:
    assert len(result["pairs"]) == 2 and result["quantised_devices"] == ["pixel2"]
    for pair in result["pairs"]:
        assert -1 <= pair["unadapted"]["spearman"] <= 1
        for b in pair["budgets"]:
            for form in (*adapt_nb201.FORMS, "target-only"):
                s = b["forms"][form]
                assert -1 <= s["spearman"]["min"] <= s["spearman"]["mean"] <= s["spearman"]["max"] <= 1
                assert 0 <= s["within_10"]["mean"] <= 1 and s["mape"]["mean"] >= 0


def _source(n: int = 200) -> tuple[adapt_nb201.SourceModel, list[str], dict[str, np.ndarray]]:
    frame = pd.read_csv(adapt_nb201.shipped_measurements()).iloc[:n]
    archs = list(frame["arch"])
    counts = {p: counts_matrix(archs, p) for p in PRUNING}
    model = choose_and_fit(archs, frame["gold_6226"].to_numpy(dtype=float))
    return adapt_nb201.SourceModel(model, counts), archs, counts


def test_the_k_cells_are_not_scored() -> None:
    source, archs, counts = _source()
    pick = np.arange(10)
    target = source.predicted.copy()
    target[pick] *= 10  # only the K cells disagree with the source
    out = adapt_nb201.adapt_once(source, target, pick, archs, counts)
    assert out["held_out"] == len(target) - 10
    assert out["forms"]["source"]["mape"] == pytest.approx(0, abs=1e-9)
    assert out["forms"]["scale"]["mape"] > 1  # fitted on the K cells' tenfold scale, scored on the others


def test_per_kind_scales_recover_a_target_whose_kinds_speed_up_differently() -> None:
    source, _, _ = _source()
    factors = np.array([3.0, 1.0, 1.0, 1.0])  # conv3x3 three times slower on the target, nothing else
    target = source.by_kind @ factors
    fit, rest = np.arange(50), np.arange(50, len(target))

    def mape(form: str) -> float:
        predicted = adapt_nb201.fit_form(form, source.by_kind[fit], target[fit])(source.by_kind[rest])
        return float(np.mean(np.abs(predicted / target[rest] - 1)))

    assert mape("kind-scales") < mape("scale") / 2
    loo = {f: adapt_nb201.loo_mape(f, source.by_kind[fit], target[fit]) for f in adapt_nb201.FORMS}
    assert min(loo, key=loo.get) == "kind-scales"


def test_help_figures_name_devices_we_have() -> None:
    columns = set(pd.read_csv(adapt_nb201.shipped_measurements(), nrows=1).columns)
    assert set(adapt_nb201.HELP_PUBLISHED) <= columns
    for figures in adapt_nb201.HELP_PUBLISHED.values():
        assert all(v is None or -1 <= v <= 1 for v in figures.values())
    assert "2106.08630" in adapt_nb201.HELP_SOURCE
