"""The Zen-NAS evolution on NAS-Bench-201 cells, where the truth is known.

Same loop as ``evolution.py`` (population, pruning of the lowest score, uniform parent choice,
mutation, constraint check, proxy score), over cells: a mutation changes one edge's op, the
latency constraint uses a table fitted from whole-network measurements (``zenbench table fit``),
and each candidate is scored with the proxy on the benchmark's network. Because every cell's
accuracy and measured latency are known, the result can be compared with the oracle: the most
accurate cell whose *measured* latency meets the same budget.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from zenbench.fit import predict_cells
from zenbench.proxies import score
from zenbench.search.evolution import candidate_seed
from zenbench.space.nb201 import DATASETS, Cell, build_nb201, parse_cell
from zenbench.tables import LatencyTable


@dataclass
class CellMember:
    arch: str
    score: float
    latency_ms: float


def search_nb201(table: LatencyTable, *, latency_ms: float, dataset: str = "cifar10", proxy: str = "zen",
                 population: int = 32, iterations: int = 300, batch_size: int = 16, seed: int = 0,
                 init: str | None = None) -> dict[str, Any]:
    """Evolve cells under a predicted-latency budget; returns the best cell and the search's history."""
    rng = random.Random(seed)
    resolution, classes = DATASETS[dataset]
    start_cell = parse_cell(init) if init else Cell(("skip_connect",) * 6)
    members: list[CellMember] = []
    history = []
    scores: dict[str, float] = {}
    started = time.perf_counter()
    for it in range(iterations):
        while len(members) > population:
            members.pop(min(range(len(members)), key=lambda i: members[i].score))
        parent = start_cell if len(members) <= 10 else parse_cell(members[rng.randrange(len(members))].arch)
        child = parent.mutate(rng)
        if len(members) > 10 and rng.random() < 0.5:
            child = child.mutate(rng)
        arch = str(child)
        predicted = float(predict_cells(table, [arch])[0])
        if predicted > latency_ms:
            history.append({"iteration": it, "arch": arch, "status": "rejected: latency_ms", "latency_ms": predicted,
                            "score": None})
            continue
        if arch not in scores:  # the benchmark's cells repeat; a cell's score is a function of the cell and seed
            torch.manual_seed(candidate_seed(seed, it))
            scores[arch] = score(build_nb201(child, dataset), proxy, input_shape=(3, resolution, resolution),
                                 num_classes=classes, batch_size=batch_size, seed=candidate_seed(seed, it)).mean
        members.append(CellMember(arch, scores[arch], predicted))
        history.append({"iteration": it, "arch": arch, "status": "scored", "latency_ms": predicted,
                        "score": scores[arch]})
    best = max(members, key=lambda m: m.score) if members else None
    return {"best": None if best is None else best.__dict__, "history": history,
            "seconds": time.perf_counter() - started, "scored": len(scores)}


def oracle_comparison(measurements: str, column: str, found_arch: str, latency_ms: float,
                      dataset: str = "cifar10") -> dict[str, Any]:
    """The found cell's true accuracy and latency against the best cell that truly meets the budget."""
    from zenbench.bench.nb201_proxies import ACCURACY_COLUMN, accuracy_table

    accuracy = accuracy_table()
    latency = pd.read_csv(measurements).set_index("arch")[column]
    frame = accuracy.set_index("arch").join(latency.rename("latency"))
    feasible = frame[frame["latency"] <= latency_ms]
    column_acc = ACCURACY_COLUMN[dataset]
    oracle = feasible[column_acc].idxmax()
    ranks = feasible[column_acc].rank(ascending=False)
    return {"found_accuracy": float(frame.loc[found_arch, column_acc]), "found_latency_ms": float(frame.loc[found_arch,
                                                                                                             "latency"]),
            "oracle_arch": oracle, "oracle_accuracy": float(feasible.loc[oracle, column_acc]),
            "oracle_latency_ms": float(feasible.loc[oracle, "latency"]), "feasible_cells": int(len(feasible)),
            "found_rank_among_feasible": float(ranks.get(found_arch, np.nan)),
            "found_meets_budget": bool(frame.loc[found_arch, "latency"] <= latency_ms)}
