"""The Zen-NAS evolution on NAS-Bench-201 cells, where the truth is known.

Same loop as ``evolution.py`` (population, pruning of the lowest score, uniform parent choice,
mutation, constraint check, proxy score), over cells: a mutation changes one edge's op, the
latency constraint uses a table fitted from whole-network measurements (``zenbench table fit``),
and each candidate is scored with the proxy on the benchmark's network. Because every cell's
accuracy and measured latency are known, the result can be compared with the oracle: the most
accurate cell whose *measured* latency meets the same budget.

Resumable like the block search: with a results folder, the state (members, RNG state, scores,
history) is written atomically to ``checkpoint.json`` every ``checkpoint_every`` iterations and
on Ctrl-C; ``resume=True`` continues from it. Candidate seeds depend only on (seed, iteration),
so a killed and resumed search makes exactly the choices of an uninterrupted one.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from zenbench.errors import ZenbenchError
from zenbench.fileio import atomic_write_text
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


CHECKPOINT = "checkpoint.json"


@dataclass
class _CellSearch:
    """The evolving state of one cell search; ``step`` is one iteration of the loop."""

    table: LatencyTable
    settings: dict[str, Any]
    rng: random.Random
    start_cell: Cell
    members: list[CellMember]
    history: list[dict[str, Any]]
    scores: dict[str, float]

    def step(self, it: int) -> None:
        s = self.settings
        resolution, classes = DATASETS[s["dataset"]]
        while len(self.members) > s["population"]:
            self.members.pop(min(range(len(self.members)), key=lambda i: self.members[i].score))
        parent = self.start_cell if len(self.members) <= 10 else \
            parse_cell(self.members[self.rng.randrange(len(self.members))].arch)
        child = parent.mutate(self.rng)
        if len(self.members) > 10 and self.rng.random() < 0.5:
            child = child.mutate(self.rng)
        arch = str(child)
        predicted = float(predict_cells(self.table, [arch])[0])
        if predicted > s["latency_ms"]:
            self.history.append({"iteration": it, "arch": arch, "status": "rejected: latency_ms",
                                 "latency_ms": predicted, "score": None})
            return
        if arch not in self.scores:  # cells repeat; a cell's score depends on the cell and its first iteration
            seed = candidate_seed(s["seed"], it)
            torch.manual_seed(seed)
            self.scores[arch] = score(build_nb201(child, s["dataset"]), s["proxy"],
                                      input_shape=(3, resolution, resolution), num_classes=classes,
                                      batch_size=s["batch_size"], seed=seed).mean
        self.members.append(CellMember(arch, self.scores[arch], predicted))
        self.history.append({"iteration": it, "arch": arch, "status": "scored", "latency_ms": predicted,
                             "score": self.scores[arch]})

    def save(self, folder: Path, iteration: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        state = {"settings": self.settings, "iteration": iteration, "members": [asdict(m) for m in self.members],
                 "scores": self.scores, "history": self.history, "rng": self.rng.getstate()}
        atomic_write_text(folder / CHECKPOINT, json.dumps(state))

    def load(self, folder: Path) -> int:
        """Restore a checkpoint; returns the iteration to continue from."""
        state = json.loads((folder / CHECKPOINT).read_text())
        if state["settings"] != self.settings:
            changed = sorted(k for k in self.settings if state["settings"].get(k) != self.settings[k])
            raise ZenbenchError(f"{folder} holds a search with other settings ({', '.join(changed)}); "
                                f"use another --out or drop --resume")
        self.history, self.scores = state["history"], state["scores"]
        self.members = [CellMember(**m) for m in state["members"]]
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        return int(state["iteration"])


def search_nb201(table: LatencyTable, *, latency_ms: float, dataset: str = "cifar10", proxy: str = "zen",
                 population: int = 32, iterations: int = 300, batch_size: int = 16, seed: int = 0,
                 init: str | None = None, folder: Path | None = None, resume: bool = False,
                 checkpoint_every: int = 25) -> dict[str, Any]:
    """Evolve cells under a predicted-latency budget; returns the best cell and the search's history.

    With ``folder``, checkpoints every ``checkpoint_every`` iterations and on Ctrl-C; ``resume``
    continues from the folder's checkpoint."""
    settings = {"latency_ms": latency_ms, "dataset": dataset, "proxy": proxy, "population": population,
                "batch_size": batch_size, "seed": seed, "init": init}
    state = _CellSearch(table, settings, random.Random(seed), parse_cell(init) if init else Cell(("skip_connect",) * 6),
                        [], [], {})
    first = state.load(folder) if resume and folder is not None and (folder / CHECKPOINT).exists() else 0
    started = time.perf_counter()
    for it in range(first, iterations):
        before = (state.rng.getstate(), list(state.members), len(state.history))
        try:
            state.step(it)
        except KeyboardInterrupt:
            if folder is not None:  # back to the start of the unfinished iteration, which resume runs again
                state.rng.setstate(before[0])
                state.members, state.history = before[1], state.history[:before[2]]
                state.save(folder, it)
            raise
        if folder is not None and ((it + 1) % checkpoint_every == 0 or it + 1 == iterations):
            state.save(folder, it + 1)
    best = max(state.members, key=lambda m: m.score) if state.members else None
    return {"best": None if best is None else best.__dict__, "history": state.history,
            "seconds": time.perf_counter() - started, "scored": len(state.scores), "resumed_from": first}


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
