"""Replay the NB201 search's loop with each cell's proxy values read from ``ceiling_scores.csv.gz``.

A real search spends its time in proxy calls (0.1-0.4 s a cell); with every feasible cell's values
already computed (``ceiling.py``), the same loop (``zenbench.search.engine.Evolution`` with the
``CellSpace`` of ``zenbench.search.nb201``) runs in seconds, so a loop setting can be judged over
20 seeds instead of 3. The latency is each cell's measurement (``lookup_table``), so every cell the
loop scores is in the ceiling set. What differs from a real run: a cell's values come from one
proxy seed (its index) instead of the search's (seed, iteration) one.

    python docs/measurements/nb201_search/replay.py > replay.json    # ~20 minutes on one core

Settings compared: the paper's loop (``NOVELTY_DRAWS`` = 1: recurring children are copied and
rejected ones spend their iteration) against the loop that redraws both; 300 and 1,000 iterations;
populations 16 and 32. Run from the repository root.
"""
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from zenbench.bench.nb201_proxies import accuracy_table
from zenbench.latency.nb201 import lookup_table
from zenbench.search import engine
from zenbench.search.engine import Evolution, LoopSettings
from zenbench.search.nb201 import CellSpace
from zenbench.space.nb201 import Cell

HERE = Path(__file__).parent
MEASUREMENTS = Path("zenbench/data/nb201/latency_ms.csv.gz")
COLUMNS = ("pixel2", "2080ti_32")
#: proxy -> the ceiling columns it is ranked by (one column: the value itself, no set ranking)
PROXIES = {"meco": ("meco",), "az_nas": ("expressivity", "progressivity", "trainability", "complexity"),
           "ensemble": ("meco", "synflow", "params")}
SEEDS = 20


class ReplayScorer:
    """The search's scorer protocol, answered from stored values instead of forward passes."""

    def __init__(self, values: dict[str, dict[str, float]], parts: tuple[str, ...]) -> None:
        self.values, self.parts = values, parts
        self.components = parts if len(parts) > 1 else ()

    def score(self, candidates: list[Cell], seeds: list[int]) -> list[tuple]:
        rows = [self.values[str(c)] for c in candidates]
        if self.components:
            return [(float("nan"), None, {p: row[p] for p in self.parts}) for row in rows]
        return [(row[self.parts[0]], None) for row in rows]


def main() -> None:
    latency = pd.read_csv(MEASUREMENTS)
    stored = pd.read_csv(HERE / "ceiling_scores.csv.gz")
    arch = dict(zip(latency["index"], latency["arch"], strict=True))
    values = {arch[i]: row for i, row in zip(stored["index"], stored.to_dict("records"), strict=True)}
    truth = accuracy_table().set_index("arch")["cifar10_test_acc"]
    results = []
    for column in COLUMNS:
        table, _ = lookup_table(MEASUREMENTS, column)
        budget = float(latency[column].quantile(0.3))
        oracle = float(truth[latency.loc[latency[column] <= budget, "arch"]].max())
        for proxy, parts in PROXIES.items():
            for draws in (1, 32):
                engine.NOVELTY_DRAWS = draws
                for iterations in (300, 1000):
                    for population in (16, 32):
                        found, scored = [], []
                        for seed in range(SEEDS):
                            loop = LoopSettings(population, iterations, seed, 1, 10**9)
                            space = CellSpace(table, budget, Cell(("skip_connect",) * 6))
                            state = Evolution(space, loop, {}, None, ReplayScorer(values, parts)).run()
                            found.append(float(truth[state.best.structure]))
                            scored.append(len(state.scores))
                        found_array = np.array(found)
                        row = {"device": column, "budget_ms": budget, "oracle": oracle, "proxy": proxy,
                               "loop": "paper" if draws == 1 else "redrawn", "iterations": iterations,
                               "population": population, "seeds": SEEDS, "mean": float(found_array.mean()),
                               "within_0.5": float((found_array >= oracle - 0.5).mean()),
                               "scored_cells": float(np.mean(scored)), "found": found}
                        results.append(row)
                        print(f"{column} {proxy} {row['loop']} {iterations} it pop {population}: mean "
                              f"{row['mean']:.2f}, within 0.5 {row['within_0.5']:.0%}, scored {row['scored_cells']:.0f}",
                              file=sys.stderr, flush=True)
    json.dump({"seeds": SEEDS, "results": results}, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
