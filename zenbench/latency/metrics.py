"""Error metrics and leave-one-out, written once for every model the latency side fits.

Unit models, the residual smoother, the whole-network calibration and the NAS-Bench-201 cell model
are all chosen by how well they predict what they were not fitted on; this module holds that loop
and the summary of relative errors every report prints.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np


def leave_one_out(n: int, held_out_error: Callable[[list[int], int], float]) -> list[float]:
    """``held_out_error(keep, i)`` for every i in ``range(n)``, ``keep`` the other indices in order."""
    everyone = list(range(n))
    return [held_out_error([j for j in everyone if j != i], i) for i in everyone]


def error_metrics(predicted: Sequence[float], measured: Sequence[float]) -> dict[str, float]:
    """Relative errors of predictions: MAPE, RMSPE, shares within ±5 / ±10 %, Spearman ρ, bias, p90."""
    from scipy import stats

    p, m = np.asarray(predicted, dtype=float), np.asarray(measured, dtype=float)
    rel = (p - m) / m
    return {"n": len(m), "mape": float(np.mean(np.abs(rel))), "rmspe": float(np.sqrt(np.mean(rel**2))),
            "within_5": float(np.mean(np.abs(rel) <= 0.05)), "within_10": float(np.mean(np.abs(rel) <= 0.10)),
            "spearman": float(stats.spearmanr(p, m).statistic) if len(m) > 2 else math.nan,
            "bias": float(np.mean(rel)), "p90_ape": float(np.percentile(np.abs(rel), 90))}
