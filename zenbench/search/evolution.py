"""The Zen-NAS evolutionary search (``evolution_search.py``), resumable and parallel.

Each iteration, as in the paper's code: drop the lowest-scoring member while the population is
over size; take a parent (the initial structure while the population has at most 10 members,
mutated once; else a uniformly random member, mutated twice); split deep blocks; reject the
child if it breaks a constraint (layers, params, MACs, then predicted latency: cheapest first);
otherwise score it with the proxy and add it. The best member at the end is the result.

Determinism: one ``random.Random(seed)`` draws every mutation, and each candidate's proxy seed is
derived from (seed, iteration), so the same seed gives the same search. With ``workers = K`` the
loop proposes K children from the same population before scoring them together; the result is
deterministic for a given seed and K (K = 1 is the paper's sequential loop).

Resume: the state (population, RNG state, iteration, history length) is checkpointed atomically
at batch boundaries every ``checkpoint_every`` iterations and on Ctrl-C; the history is appended
row by row and cut back to the checkpoint on resume, so a run killed with SIGKILL and resumed
evaluates exactly the candidates an uninterrupted run would.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zenbench.budget import Constraints
from zenbench.errors import ZenbenchError
from zenbench.fileio import atomic_write_text
from zenbench.search.parallel import Scorer
from zenbench.space.mutate import mutate
from zenbench.space.spec import NetworkSpec
from zenbench.tables import LatencyTable

CHECKPOINT = "checkpoint.json"
HISTORY = "history.jsonl"


@dataclass(frozen=True)
class SearchSettings:
    """Everything that defines a search; stored with its checkpoint so --resume cannot mix settings."""

    space: str
    init: str
    resolution: int = 224
    num_classes: int = 1000
    population: int = 64
    iterations: int = 1000
    proxy: str = "zen"
    batch_size: int = 16
    seed: int = 0
    workers: int = 1
    checkpoint_every: int = 50
    constraints: Constraints = field(default_factory=Constraints)
    pareto: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Member:
    structure: str
    score: float
    latency_ms: float | None
    iteration: int


@dataclass
class SearchState:
    iteration: int
    population: list[Member]
    rng_state: Any
    history_rows: int
    best_scores: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0


class SearchInterrupted(ZenbenchError):
    """Ctrl-C during a search: the state was checkpointed; ``--resume`` continues."""


def _rng_to_json(state: Any) -> Any:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _rng_from_json(data: Any) -> Any:
    return (data[0], tuple(data[1]), data[2])


def candidate_seed(seed: int, iteration: int) -> int:
    return (seed * 1_000_003 + iteration) % (2**31 - 1)


class Evolution:
    """One search run in one results folder."""

    def __init__(self, settings: SearchSettings, out_dir: Path, table: LatencyTable | None, scorer: Scorer) -> None:
        self.settings = settings
        self.out = out_dir
        self.table = table
        self.scorer = scorer
        self.init = NetworkSpec.parse(settings.init)

    # ------------------------------------------------------------------ state files
    def _save(self, state: SearchState) -> None:
        data = {"settings": self.settings.as_dict(), "iteration": state.iteration, "history_rows": state.history_rows,
                "population": [asdict(m) for m in state.population], "rng": _rng_to_json(state.rng_state),
                "best_scores": state.best_scores, "seconds": state.seconds}
        atomic_write_text(self.out / CHECKPOINT, json.dumps(data))

    def _load(self) -> SearchState | None:
        path = self.out / CHECKPOINT
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        saved = data["settings"]
        current = json.loads(json.dumps(self.settings.as_dict()))
        for key in ("space", "init", "resolution", "num_classes", "population", "proxy", "batch_size", "seed", "workers",
                    "constraints", "pareto"):
            if saved.get(key) != current.get(key):
                raise ZenbenchError(f"cannot resume {self.out}: it was started with {key}={saved.get(key)!r}, now "
                                    f"{current.get(key)!r}; use the same settings or a new --out folder")
        return SearchState(data["iteration"], [Member(**m) for m in data["population"]], _rng_from_json(data["rng"]),
                           data["history_rows"], [tuple(x) for x in data["best_scores"]], data.get("seconds", 0.0))

    def _truncate_history(self, rows: int) -> None:
        path = self.out / HISTORY
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
            return
        lines = path.read_text().splitlines(keepends=True)[:rows]
        atomic_write_text(path, "".join(line for line in lines if line.endswith("\n")))

    def _append_history(self, rows: list[dict[str, Any]]) -> None:
        import os

        with (self.out / HISTORY).open("a") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())

    # ------------------------------------------------------------------ the loop
    def run(self, *, resume: bool = False, on_progress: Callable[[SearchState, dict[str, Any]], None] | None = None
            ) -> SearchState:
        s = self.settings
        self.out.mkdir(parents=True, exist_ok=True)
        state = self._load() if resume else None
        if state is None:
            if (self.out / CHECKPOINT).exists() and not resume:
                raise ZenbenchError(f"{self.out} already holds a search; pass --resume to continue it or choose "
                                    f"another --out")
            state = SearchState(0, [], random.Random(s.seed).getstate(), 0)
        self._truncate_history(state.history_rows)
        rng = random.Random()
        rng.setstate(state.rng_state)
        accepted_total = sum(1 for _ in state.population)
        started = time.perf_counter() - state.seconds
        last_checkpoint = state.iteration
        try:
            while state.iteration < s.iterations:
                batch, rows = self._propose(state, rng)
                results = self.scorer.score([spec for _, spec, _ in batch],
                                            [candidate_seed(s.seed, it) for it, _, _ in batch])
                for (it, spec, latency), (score, error) in zip(batch, results, strict=True):
                    member = Member(str(spec), score, latency, it)
                    state.population.append(member)
                    rows.append(self._row(it, spec, "scored", latency, score, error))
                    accepted_total += 1
                rows.sort(key=lambda r: r["iteration"])
                self._append_history(rows)
                state.history_rows += len(rows)
                best = max(state.population, key=lambda m: m.score)
                state.best_scores.append((state.iteration, best.score))
                state.rng_state = rng.getstate()
                state.seconds = time.perf_counter() - started
                if state.iteration - last_checkpoint >= s.checkpoint_every or state.iteration >= s.iterations:
                    self._save(state)
                    last_checkpoint = state.iteration
                if on_progress:
                    on_progress(state, {"best": best, "accepted": accepted_total, "rows": rows})
        except KeyboardInterrupt:
            self._save(state)
            raise SearchInterrupted(f"interrupted at iteration {state.iteration}; state saved in {self.out}; "
                                    f"run the same command with --resume to continue") from None
        self._save(state)
        return state

    def _propose(self, state: SearchState, rng: random.Random) -> tuple[list[tuple[int, NetworkSpec, float | None]],
                                                                         list[dict[str, Any]]]:
        """Up to ``workers`` children that pass the constraints (rejected ones are recorded too)."""
        s = self.settings
        batch: list[tuple[int, NetworkSpec, float | None]] = []
        rows: list[dict[str, Any]] = []
        while len(batch) < s.workers and state.iteration < s.iterations:
            it = state.iteration
            state.iteration += 1
            self._prune(state.population)
            if len(state.population) <= 10:
                child = mutate(self.init, s.space, rng, replaces=1)
            else:
                parent = state.population[rng.randrange(len(state.population))]
                child = mutate(NetworkSpec.parse(parent.structure), s.space, rng, replaces=2)
            verdict = s.constraints.check(child, self.table, stop_at_first=True)
            latency = verdict.latency.value_ms if verdict.latency else self._latency(child)
            if not verdict.ok:
                rows.append(self._row(it, child, f"rejected: {verdict.failures[0].limit}", latency, None, None))
                continue
            batch.append((it, child, latency))
        return batch, rows

    def _latency(self, spec: NetworkSpec) -> float | None:
        if self.table is None:
            return None
        from zenbench.budget import predict_latency

        return predict_latency(spec, self.table, self.settings.resolution, self.settings.num_classes).value_ms

    def _prune(self, population: list[Member]) -> None:
        while len(population) > self.settings.population:
            if self.settings.pareto:
                population.pop(_most_dominated(population))
            else:
                population.pop(min(range(len(population)), key=lambda i: population[i].score))

    def _row(self, it: int, spec: NetworkSpec, status: str, latency: float | None, score: float | None,
             error: str | None) -> dict[str, Any]:
        s = self.settings
        counts = spec.counts(s.resolution, s.num_classes)
        return {"iteration": it, "structure": str(spec), "status": status, "score": score, "latency_ms": latency,
                "macs": counts.macs, "params": counts.params, "layers": counts.layers, "error": error}


def _most_dominated(population: list[Member]) -> int:
    """Index of the member dominated by the most others in (higher score, lower latency); ties: lowest score."""
    def dominated_by(i: int) -> int:
        a = population[i]
        la = a.latency_ms if a.latency_ms is not None else math.inf
        return sum(1 for b in population if b is not a and b.score >= a.score and
                   (b.latency_ms if b.latency_ms is not None else math.inf) <= la and
                   (b.score > a.score or (b.latency_ms or math.inf) < la))

    return max(range(len(population)), key=lambda i: (dominated_by(i), -population[i].score))
