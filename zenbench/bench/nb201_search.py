"""The NAS-Bench-201 search judged by the truth: what it found against the oracle under the same budget."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def oracle_comparison(measurements: str, column: str, found_arch: str, latency_ms: float,
                      dataset: str = "cifar10") -> dict[str, Any]:
    """The found cell's true accuracy and measured latency against the oracle: the most accurate cell whose
    *measured* latency (``column`` of ``measurements``) meets the same budget, and the found cell's rank
    among the feasible cells."""
    from zenbench.bench.nb201_proxies import ACCURACY_COLUMN, accuracy_table

    accuracy = accuracy_table()
    latency = pd.read_csv(measurements).set_index("arch")[column]
    frame = accuracy.set_index("arch").join(latency.rename("latency"))
    feasible = frame[frame["latency"] <= latency_ms]
    column_acc = ACCURACY_COLUMN[dataset]
    oracle = feasible[column_acc].idxmax()
    ranks = feasible[column_acc].rank(ascending=False)
    return {"found_accuracy": float(frame.loc[found_arch, column_acc]),
            "found_latency_ms": float(frame.loc[found_arch, "latency"]),
            "oracle_arch": oracle, "oracle_accuracy": float(feasible.loc[oracle, column_acc]),
            "oracle_latency_ms": float(feasible.loc[oracle, "latency"]), "feasible_cells": int(len(feasible)),
            "found_rank_among_feasible": float(ranks.get(found_arch, np.nan)),
            "found_meets_budget": bool(frame.loc[found_arch, "latency"] <= latency_ms)}
