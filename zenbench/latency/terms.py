"""The terms a whole-network calibration is built from, as plain numerical functions.

A network is not the sum of its units timed alone (per-call costs, layouts, caches); the
calibration corrects the sum with a per-unit cost, per-group scales, a weight-traffic term and a
size-dependent power law. The formulas are in docs/latency-model.md; :mod:`calibration` chooses
among them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: unit groups with their own calibration scale: plain convs (stem, head) and the classifier; ResNet-like
#: units; depth-wise (MobileNet-like) units
CALIBRATION_GROUPS = ("conv", "xxbl", "idw")

#: how much lower (mean relative error) a calibration form's leave-one-out error must be to beat a simpler one
LOO_TOLERANCE = 0.001

#: last-level cache sizes (MiB) the weight-streaming term is tried at, besides the host's own
CACHE_CANDIDATES_MIB = (4.0, 8.0, 16.0, 24.0, 32.0, 48.0, 64.0, 96.0, 128.0)

#: cache sizes (MiB) the weights-refetched term is tried at: a core's L2 and the share of a last-level cache one
#: core keeps to itself on a shared host are a few MiB
REFETCH_CACHE_CANDIDATES_MIB = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)

WEIGHT_TERMS = ("spilled", "refetched")


def weight_traffic_mib(term: str, cache_mib: float, total_mib: float, fitting_mib: float) -> float:
    """MiB of weights a whole network reads from beyond a cache of ``cache_mib`` that its units, each timed
    alone, did not; 0 when all its weights fit.

    ``spilled``: the weights beyond the cache, read again on every inference.
    ``refetched``: the weights of every unit that fits the cache alone (``fitting_mib``): in a network whose
    weights do not fit, the other units evict them between one inference and the next. A unit too large
    for the cache streamed its weights in the table already."""
    if total_mib <= cache_mib:
        return 0.0
    return total_mib - cache_mib if term == "spilled" else fitting_mib


def power_corrected(value: float, power: float, shift: float, ref_ms: float) -> float:
    """``value · e^shift · (value / ref_ms)^power``: a size-dependent correction of a linear calibration whose
    errors drift with the network's latency."""
    return value * math.exp(shift) * (value / ref_ms) ** power


def fit_power(linear: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    """Least squares in log space of ``log(measured / linear) = shift + power · log(linear / ref)``, ref the
    sample's geometric mean so that the shift stays a small level correction."""
    ref = float(np.exp(np.mean(np.log(linear))))
    x, y = np.log(linear / ref), np.log(measured / linear)
    if np.ptp(x) < 0.1:  # networks within 10 % of each other in latency: no slope to read, only a level
        return {"power": 0.0, "power_shift": float(np.mean(y)), "power_ref_ms": ref}
    power, shift = np.polyfit(x, y, 1)
    return {"power": float(power), "power_shift": float(shift), "power_ref_ms": ref}


def fit_linear(raw_by_group: list[dict[str, float]], units: list[int], measured: list[float],
               groups: tuple[str, ...] = CALIBRATION_GROUPS, weight_mib: list[float] | None = None,
               cache_mib: float | None = None, *, fitting_mib: list[float] | None = None,
               weight_term: str = "spilled", tied: bool = False) -> dict[str, Any]:
    """(a, b_g, c[, d]) minimising the squared *relative* error of
    ``a + Σ_g b_g·Σ_g − c·units [+ d·weight_traffic_mib(weight_term, cache_mib, ...)]`` against measurements;
    the weight term only with a ``cache_mib`` (``refetched`` also needs each network's ``fitting_mib``). A
    group too rare in the sample to be fitted (in fewer than 5 networks) shares the others' pooled scale.
    ``tied``: a = c, one parameter fewer (a network pays one call's fixed cost, its units' sum one per unit)."""
    from scipy.optimize import lsq_linear

    y = np.asarray(measured, dtype=float)
    n = np.asarray(units, dtype=float)
    sums = {g: np.asarray([r.get(g, 0.0) for r in raw_by_group], dtype=float) for g in groups}
    fitted = [g for g in groups if np.count_nonzero(sums[g]) >= 5]
    pooled_raw = sum(sums.values())
    traffic = [] if cache_mib is None else [np.array([
        weight_traffic_mib(weight_term, cache_mib, w, f)
        for w, f in zip(weight_mib or [], fitting_mib or [0.0] * len(y), strict=True)])]

    # tied (a = c): no intercept column, and the units' column counts every call but the network's own
    intercept = [] if tied else [np.ones_like(y)]
    per_unit = 1.0 - n if tied else -n

    def solve(columns: list[np.ndarray]) -> tuple[float, np.ndarray, float, float]:
        """The fit's a, scales, c and d."""
        design = np.column_stack([*intercept, *columns, per_unit, *traffic]) / y[:, None]
        lower = [-np.inf] * len(intercept) + [0.0] * (len(columns) + 1 + len(traffic))
        x = lsq_linear(design, np.ones_like(y), bounds=(lower, [np.inf] * len(lower))).x
        scales, c = x[len(intercept):len(intercept) + len(columns)], float(x[len(intercept) + len(columns)])
        return (c if tied else float(x[0])), scales, c, float(x[-1]) if traffic else 0.0

    rest = pooled_raw - sum((sums[g] for g in fitted), np.zeros_like(y))
    a, x, c, d = solve([sums[g] for g in fitted] + ([rest] if np.any(rest) else []))
    scales = {g: float(v) for g, v in zip(fitted, x[:len(fitted)], strict=True)}
    unfitted = [g for g in groups if g not in fitted]
    if unfitted:  # the scale of the rest where it ran, else that of one scale fitted to the whole sum
        shared = float(x[len(fitted)]) if np.any(rest) else float(solve([pooled_raw])[1][0])
        scales.update(dict.fromkeys(unfitted, shared))
    fit: dict[str, Any] = {"a": a, "b": scales, "c": c, "n": len(y)}
    if tied:
        fit["tied"] = True
    if cache_mib is not None:
        fit.update({"d": d, "cache_mib": float(cache_mib)})
        if weight_term != "spilled":
            fit["weight_term"] = weight_term
    return fit
