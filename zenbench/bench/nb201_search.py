"""The NAS-Bench-201 search judged by the truth: what it found against the oracle under the same budget."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zenbench.errors import ZenbenchError


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


#: where a search's latencies come from: a model fitted on ``samples`` cells, or every cell's measurement
LATENCY_SOURCES = ("fitted", "measured")


def compare_proxies(measurements: Path, column: str, proxies: tuple[str, ...], *, latency_ms: float | None = None,
                    samples: int = 100, iterations: int = 300, population: int = 32, seed: int = 0,
                    latency: str = "fitted", finalists: int | None = None,
                    on_proxy: Callable[[str], None] | None = None) -> dict[str, Any]:
    """One search per proxy on the same table, budget, seed and iterations, each judged by the truth.

    ``latency`` is ``fitted`` (a model fitted on ``samples`` measured cells, as for a device one profiles)
    or ``measured`` (every cell's measurement: the search then meets the oracle's own budget, so what it
    misses is the proxy's and the evolution's). The budget defaults to the column's 30th percentile.
    ``finalists`` overrides how many top cells the search scores again (0: the loop's best stands).
    Returns ``device``, ``budget_ms``, ``latency``, ``fit`` (the latency model's form and cross-validated
    error) and one row per proxy (``best`` None when no cell met the predicted budget; ``loop_best_accuracy``:
    the loop's own best before the finalists' draws)."""
    from zenbench.bench.nb201_proxies import ACCURACY_COLUMN, accuracy_table
    from zenbench.latency.nb201 import fit_table, lookup_table
    from zenbench.search.nb201 import search_nb201

    if latency not in LATENCY_SOURCES:
        raise ZenbenchError(f"latency must be one of {', '.join(LATENCY_SOURCES)}, not {latency!r}")
    fitted, model = (fit_table(measurements, column, samples, seed) if latency == "fitted"
                     else lookup_table(measurements, column))
    budget = latency_ms if latency_ms is not None else float(pd.read_csv(measurements)[column].quantile(0.3))
    truth = accuracy_table().set_index("arch")[ACCURACY_COLUMN["cifar10"]]
    reachable = reachable_best(fitted, measurements, column, budget)
    rows: list[dict[str, Any]] = []
    for name in proxies:
        if on_proxy:
            on_proxy(name)
        result = search_nb201(fitted, latency_ms=budget, proxy=name, population=population, iterations=iterations,
                              seed=seed, **({} if finalists is None else {"finalists": finalists}))
        if result["best"] is None:
            rows.append({"proxy": name, "best": None})
            continue
        loop_best = result["loop_best"]["arch"]
        rows.append({"proxy": name, "best": result["best"], "scored": result["scored"], "seconds": result["seconds"],
                     **oracle_comparison(str(measurements), column, result["best"]["arch"], budget),
                     "loop_best": loop_best, "finalists": len(result["finalists"]),
                     "loop_best_accuracy": float(truth[loop_best])})
    return {"device": column, "budget_ms": budget, "iterations": iterations, "population": population, "seed": seed,
            "latency": latency, "samples": samples if latency == "fitted" else None,
            "fit": {k: v for k, v in model.items() if k != "coefficients"},
            "reachable": reachable, "results": rows}


def reachable_best(fitted: Any, measurements: Path, column: str, latency_ms: float,
                   dataset: str = "cifar10") -> dict[str, Any]:
    """The best a search on ``fitted`` can find: the most accurate cell that the table *predicts* within the
    budget and that meets it when measured. Below the oracle when the table's error shuts the oracle out."""
    from zenbench.bench.nb201_proxies import ACCURACY_COLUMN, accuracy_table
    from zenbench.latency.nb201 import predict_cells

    frame = accuracy_table().set_index("arch").join(pd.read_csv(measurements).set_index("arch")[column].rename("ms"))
    frame["predicted"] = predict_cells(fitted, list(frame.index))
    allowed = frame[(frame["predicted"] <= latency_ms) & (frame["ms"] <= latency_ms)]
    column_acc = ACCURACY_COLUMN[dataset]
    best = allowed[column_acc].idxmax()
    return {"arch": best, "accuracy": float(allowed.loc[best, column_acc]), "cells": int(len(allowed))}


#: the suite's devices: a phone (whole milliseconds) and a GPU column of the shipped measurements
SUITE_COLUMNS = ("pixel2", "2080ti_32")
#: Zen-Score, the strongest older proxy, and the new ones
SUITE_PROXIES = ("zen", "synflow", "meco", "az_nas", "ensemble")


def run(runs: int | None = None, iterations: int = 300) -> dict[str, Any]:
    """The ``nb201_search`` bench suite: every suite proxy on every suite column, under a fitted table and under
    the measurements themselves (``runs`` is unused)."""
    from zenbench.bench.adapt_nb201 import shipped_measurements

    return {"suite": "nb201_search",
            "comparisons": [compare_proxies(shipped_measurements(), column, SUITE_PROXIES, iterations=iterations,
                                            latency=latency)
                            for latency in LATENCY_SOURCES for column in SUITE_COLUMNS]}


def render(result: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    for c in result["comparisons"]:
        measured = c.get("latency") == "measured"
        table = Table(title=f"NAS-Bench-201 search on {c['device']}, budget {c['budget_ms']:.4g} ms, "
                            f"{c['iterations']} iterations, " + ("every cell measured" if measured else
                                                                 f"table fitted on {c['samples']} cells")
                            + " (CIFAR-10 test accuracy)", title_justify="left")
        reach = c["reachable"]
        if not measured:
            table.caption = (f"reachable: {reach['accuracy']:.2f} % is the best cell the fitted table lets a search "
                             f"take ({reach['cells']} cells predicted and measured within the budget)")
        for col in ("proxy", "found acc. %", "oracle acc. %", "gap", "rank among feasible", "measured ms"):
            table.add_column(col, justify="left" if col == "proxy" else "right")
        for r in c["results"]:
            if r["best"] is None:
                table.add_row(r["proxy"], "-", "-", "-", "no cell", "-")
                continue
            table.add_row(r["proxy"], f"{r['found_accuracy']:.2f}", f"{r['oracle_accuracy']:.2f}",
                          f"{r['oracle_accuracy'] - r['found_accuracy']:.2f}",
                          f"{r['found_rank_among_feasible']:.0f} of {r['feasible_cells']}",
                          f"{r['found_latency_ms']:.4g}" + ("" if r["found_meets_budget"] else " (over)"))
        console.print(table)
