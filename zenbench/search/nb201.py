"""The Zen-NAS evolution on NAS-Bench-201 cells, where the truth is known: the cell space's adapter.

The loop is :class:`~zenbench.search.engine.Evolution`, as for Zen-NAS structures; here a
candidate is a :class:`~zenbench.space.nb201.Cell`. A mutation changes one edge's op (a random
member's child gets a second change with probability 1/2); the latency constraint uses a table
fitted from whole-network measurements (``zenbench table fit``); each distinct cell is scored
once with the proxy on the benchmark's network, seeded by its first iteration, and a child that was
scored before or breaks the budget is drawn again (the loop's ``NOVELTY_DRAWS``), so each iteration
scores a new cell within the budget. Because every
cell's accuracy and measured latency are known, the result can be compared with the oracle
(``zenbench.bench.nb201_search.oracle_comparison``).

With a results folder the search is resumable exactly like the block search (``history.jsonl``
journal, ``checkpoint.json``, ``best_cell.txt`` and ``best.json`` at every checkpoint) and the
folder is locked while it runs.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
from pathlib import Path
from typing import Any

from zenbench.fileio import FolderLock, atomic_write_text
from zenbench.latency import LatencyTable
from zenbench.search.engine import Checked, Evolution, LoopSettings
from zenbench.search.finalists import FINALIST_DRAWS, FINALISTS, rescore_finalists
from zenbench.search.set_ranking import Scored
from zenbench.space.nb201 import DATASETS, Cell, parse_cell

BEST_CELL = "best_cell.txt"


class CellSpace:
    """NAS-Bench-201 cells under a predicted-latency budget, as a :class:`~zenbench.search.engine.SearchSpace`."""

    memoize = True  # cells recur often; a cell's score depends on the cell and its first iteration
    best_file = BEST_CELL

    def __init__(self, table: LatencyTable, latency_ms: float, start: Cell) -> None:
        self.table = table
        self.latency_ms = latency_ms
        self.start = start

    def mutate(self, parent: str | None, rng: random.Random) -> Cell:
        if parent is None:
            return self.start.mutate(rng)
        child = parse_cell(parent).mutate(rng)
        return child.mutate(rng) if rng.random() < 0.5 else child

    def check(self, candidate: Cell) -> Checked:
        from zenbench.latency.nb201 import predict_cells

        predicted = float(predict_cells(self.table, [str(candidate)])[0])
        return Checked(predicted, "latency_ms" if predicted > self.latency_ms else None)

    def row(self, iteration: int, candidate: Cell, status: str, latency_ms: float | None, score: float | None,
            error: str | None) -> dict[str, Any]:
        row = {"iteration": iteration, "arch": str(candidate), "status": status, "latency_ms": latency_ms,
               "score": score}
        return {**row, "error": error} if error else row


class CellScorer:
    """Scores cells with a proxy on the benchmark's network for ``dataset``, in this process."""

    def __init__(self, proxy: str, dataset: str, batch_size: int) -> None:
        from zenbench.proxies import get_proxy

        self.proxy, self.dataset, self.batch_size = proxy, dataset, batch_size
        #: the result fields a set-ranked proxy is ranked by (empty: the score stands alone)
        self.components = get_proxy(proxy).components

    def score(self, candidates: list[Cell],
              seeds: list[int]) -> list[Scored]:
        import torch

        from zenbench.proxies import score
        from zenbench.space.nb201 import build_nb201

        resolution, classes = DATASETS[self.dataset]
        results: list[Scored] = []
        for cell, seed in zip(candidates, seeds, strict=True):
            torch.manual_seed(seed)
            try:
                result = score(build_nb201(cell, self.dataset), self.proxy, input_shape=(3, resolution, resolution),
                               num_classes=classes, batch_size=self.batch_size, seed=seed)
            except Exception as error:  # a cell that cannot be scored must not stop the search
                results.append((-math.inf, f"{type(error).__name__}: {error}"))
                continue
            if self.components:
                results.append((result.mean, None, {c: result.extras[c] for c in self.components}))
            else:
                results.append((result.mean, None))
        return results


def search_nb201(table: LatencyTable, *, latency_ms: float, dataset: str = "cifar10", proxy: str = "zen",
                 population: int = 32, iterations: int = 300, batch_size: int = 16, seed: int = 0,
                 init: str | None = None, folder: Path | None = None, resume: bool = False,
                 checkpoint_every: int = 25, finalists: int = FINALISTS,
                 finalist_draws: int = FINALIST_DRAWS) -> dict[str, Any]:
    """Evolve cells under a predicted-latency budget; returns the best cell and the search's history.

    After the loop, the top ``finalists`` cells are scored ``finalist_draws`` more times and the best mean
    wins (:mod:`zenbench.search.finalists`; 0 keeps the loop's best). The result: ``best`` ({arch, score,
    latency_ms}, None when no cell met the budget), ``loop_best`` (the loop's own best), ``finalists``,
    ``history`` (its rows), ``seconds`` (of this call), ``scored`` (distinct cells scored) and
    ``resumed_from`` (the iteration this call started at). With ``folder``, checkpoints every
    ``checkpoint_every`` iterations and on Ctrl-C (raising :class:`~zenbench.errors.SearchInterrupted`);
    ``resume`` continues from the folder's checkpoint."""
    loop = LoopSettings(population, iterations, seed, 1, checkpoint_every)
    identity = {"latency_ms": latency_ms, "dataset": dataset, "proxy": proxy, "population": population,
                "batch_size": batch_size, "seed": seed, "init": init, "iterations": iterations,
                "checkpoint_every": checkpoint_every, "novel_children": True, "feasible_children": True}
    space = CellSpace(table, latency_ms, parse_cell(init) if init else Cell(("skip_connect",) * 6))
    started = time.perf_counter()
    scorer = CellScorer(proxy, dataset, batch_size)
    evolution = Evolution(space, loop, identity, folder, scorer)
    with FolderLock(folder) if folder is not None else contextlib.nullcontext():
        state = evolution.run(resume=resume) if folder is not None else evolution.run()
        # after the loop's last checkpoint: an interrupted or resumed run scores the same finalists again
        final = rescore_finalists(state, scorer, evolution.ranking, parse_cell,
                                  lambda cell: space.check(cell).latency_ms, seed=seed, count=finalists,
                                  draws=finalist_draws)
        best = state.best
        loop_best = None if best is None else {"arch": best.structure, "score": best.score,
                                               "latency_ms": best.latency_ms}
        chosen = {"arch": final[0].structure, "score": final[0].score, "latency_ms": final[0].latency_ms} \
            if final else loop_best
        result = {"best": chosen, "loop_best": loop_best, "finalists": [f.as_json() for f in final],
                  "history": evolution.journal.records(), "seconds": time.perf_counter() - started,
                  "scored": len(state.scores), "resumed_from": evolution.resumed_from}
        if folder is not None:
            write_nb201_results(folder, result)
    return result


def write_nb201_results(folder: Path, result: dict[str, Any]) -> None:
    """Write an NB201 search's ``best_cell.txt`` and ``best.json`` (when a cell met the budget; the pick after
    the finalists' draws, ``best.json`` with the loop's own best beside it), ``finalists.json`` and
    ``history.json``, atomically."""
    if result["best"]:
        atomic_write_text(folder / "best_cell.txt", result["best"]["arch"] + "\n")
        atomic_write_text(folder / "best.json", json.dumps({**result["best"], "loop_best": result.get("loop_best"),
                                                            "scored": result["scored"]}, indent=2))
    atomic_write_text(folder / "finalists.json", json.dumps({"loop_best": result.get("loop_best"),
                                                             "finalists": result.get("finalists", [])}, indent=1))
    atomic_write_text(folder / "history.json", json.dumps(result["history"]))
