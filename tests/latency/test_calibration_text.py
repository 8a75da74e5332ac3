"""A calibration renders itself as its formula, leaving out terms fitted to zero."""

from __future__ import annotations

from typing import Any

from zenbench.latency import Calibration


def calibration_text(stored: dict[str, Any]) -> str:
    return str(Calibration.from_dict(stored))


def test_calibration_is_printed_as_its_formula_without_zeroed_terms() -> None:
    single = calibration_text({"a": 0.0357, "b": 1.027, "c": 7.6e-14, "n": 60, "form": "single",
                               "loo_mape": {"single": 0.0314}})
    assert single == "latency = 0.0357 ms + 1.03 x Σ unit ms (form single, fitted on 60 networks, leave-one-out 3.1%)"
    assert "units" not in single.split("(")[0]  # a per-unit term of 1e-13 ms is not shown
    groups = calibration_text({"a": -0.24, "b": {"conv": 1.01, "xxbl": 0.96}, "c": 0.01, "d": 0.087,
                               "cache_mib": 8.0, "n": 60, "form": "groups+weights@8MiB"})
    assert groups.startswith("latency = -0.24 ms + 1.01 x Σ conv ms + 0.96 x Σ xxbl ms - 0.01 ms x units "
                             "+ 0.087 ms x MiB of weights beyond 8 MiB")
    tied = calibration_text({"a": 0.006, "b": 1.01, "c": 0.006, "tied": True, "n": 60, "form": "single(a=c)"})
    assert tied.startswith("latency = 1.01 x Σ unit ms - 0.006 ms x (units - 1) (form single(a=c)")
    assert calibration_text({"a": 0.0, "b": 1.0, "c": 0.0, "n": 60, "form": "none"}).startswith(
        "latency = Σ unit ms (the plain sum")
    powered = calibration_text({"a": 0.0, "b": 1.0, "c": 0.0, "n": 60, "form": "none+power", "power": -0.0222,
                                "power_shift": 0.0582, "power_ref_ms": 22.34})
    assert powered.startswith("latency = L x 1.06 x (L / 22.3 ms)^-0.0222, L = Σ unit ms (form none+power")
