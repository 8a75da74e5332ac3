"""The evolutionary loop of Zen-NAS, written once for every search space.

Each iteration, as in the paper's code: drop the lowest-scoring member while the population is
over size (with ``pareto``, the most dominated one in score and latency); take a parent (the
initial member while the population has at most 10 members, else a uniformly random member);
let the space mutate it; reject the child if it breaks a constraint; otherwise score it and add
it. In a space whose scores are memoized (a small space such as NAS-Bench-201's, where children
recur), a child already scored, or one that breaks a constraint, is drawn again, up to
``NOVELTY_DRAWS`` times, so that an iteration spends its proxy call on a new cell within the budget
instead of copying a member or being rejected (a check costs a table lookup, a proxy call a forward
pass; in 1,000 NB201 iterations this turns about 420 scored cells into about 960). What a
candidate is, how it mutates, which constraints it must meet and what its history row holds are the
space's business (:class:`SearchSpace`); ``evolution.py`` adapts Zen-NAS
structures and ``nb201.py`` NAS-Bench-201 cells.

Determinism: one ``random.Random(seed)`` draws every mutation, and each candidate's proxy seed is
:func:`candidate_seed` of (seed, iteration), so the same seed gives the same search. With
``workers = K`` the loop proposes K children from the same population before scoring them
together; the result is deterministic for a given seed and K (K = 1 is the paper's loop).

A proxy whose score belongs to a set (AZ-NAS, the ensemble: its scorer declares ``components``) is
ranked as its authors' search ranks it: after each batch, every member's score becomes its rank
aggregate over all candidates scored so far (:mod:`zenbench.search.set_ranking`).

Resume: rows go to an append-only :class:`~zenbench.fileio.Journal` (``history.jsonl``) batch by
batch; the state (population, RNG state, iteration, journal length) is committed only after its
batch's rows are written and is checkpointed atomically every ``checkpoint_every`` iterations, on
Ctrl-C and at the end. A resume cuts the journal back to the checkpoint's length, so a run
stopped by Ctrl-C or SIGKILL and resumed writes exactly the bytes an uninterrupted run writes.
"""

from __future__ import annotations

import json
import math
import numbers
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from zenbench.errors import NoFeasibleCandidate, SearchInterrupted, SettingError, ZenbenchError
from zenbench.fileio import Journal, atomic_write_text
from zenbench.search.set_ranking import Scored, SetRanking, split_result
from zenbench.search.state import (
    CHECKPOINT,
    Member,
    MemoryJournal,
    SearchState,
    read_checkpoint,
    rng_to_json,
)

HISTORY = "history.jsonl"
BEST = "best.json"
#: settings a resume may change: how long to run and how often to checkpoint (``minutes`` is never stored)
RESUMABLE_CHANGES = ("iterations", "checkpoint_every")
#: why a run stopped: it did every iteration, its time ran out, or Ctrl-C
STOP_ITERATIONS, STOP_MINUTES, STOP_INTERRUPTED = "iterations", "minutes", "interrupted"
#: how many times a memoized space's child is drawn before a recurring or rejected one is accepted
NOVELTY_DRAWS = 32
#: the loop's clock (a test replaces it to make a time budget deterministic)
_now = time.perf_counter
#: the command-line option that relaxes each constraint, for the "no candidate" message
RELAX_HINTS = {"latency_ms": "--latency-ms", "macs": "--flops", "params": "--params", "layers": "--max-layers",
               "peak_activation_bytes": "the activation-memory budget"}


def candidate_seed(seed: int, iteration: int) -> int:
    """The proxy seed of the candidate made at ``iteration``: fixed by (seed, iteration) alone, so resumes agree."""
    return (seed * 1_000_003 + iteration) % (2**31 - 1)


@dataclass(frozen=True)
class Checked:
    """A candidate's constraint verdict: its predicted latency (for the row) and the first limit it breaks.

    ``latency_by_device`` holds every device's prediction when a search budgets several devices
    (``latency_ms`` is then the first device's); it is None for one device, so its rows stay as they were."""

    latency_ms: float | None
    rejected: str | None = None
    latency_by_device: dict[str, float] | None = None


class SearchSpace(Protocol):
    """What the loop needs from a search space; candidates are any objects whose ``str`` is their identity."""

    #: score each distinct candidate once (its first iteration's seed) and reuse the score when it recurs
    memoize: bool
    #: the file in the results folder that holds the best candidate's string
    best_file: str

    def mutate(self, parent: str | None, rng: random.Random) -> Any:
        """A child of ``parent`` (a member's string), or of the initial member when ``parent`` is None."""
        ...

    def check(self, candidate: Any) -> Checked:
        """The constraint verdict, cheapest checks first."""
        ...

    def row(self, iteration: int, candidate: Any, status: str, latency_ms: float | None, score: float | None,
            error: str | None) -> dict[str, Any]:
        """The candidate's history row."""
        ...


class CandidateScorer(Protocol):
    """Scores a batch of candidates with their seeds; returns (score, error) for each, in order, with the
    components as a third item where the scorer declares ``components`` (a proxy ranked over a set)."""

    def score(self, candidates: list[Any], seeds: list[int]) -> list[Scored]:
        ...


@dataclass(frozen=True)
class LoopSettings:
    """The loop's own knobs; nonsensical values are refused, not silently replaced."""

    population: int
    iterations: int
    seed: int = 0
    workers: int = 1
    checkpoint_every: int = 50
    pareto: bool = False

    def __post_init__(self) -> None:
        for name in ("population", "iterations", "workers", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise SettingError(f"{name} must be a whole number of at least 1, not {value!r}; "
                                    f"pass --{name.replace('_', '-')} 1 or more")


class Evolution:
    """One search run over ``space`` with its results in ``out`` (or in memory when ``out`` is None).

    ``identity`` is every setting of the run (JSON-able); it is stored with each checkpoint and a
    resume with other values (except ``RESUMABLE_CHANGES``) is refused. The caller holds the
    folder's :class:`~zenbench.fileio.FolderLock` while the run writes there.
    """

    def __init__(self, space: SearchSpace, loop: LoopSettings, identity: dict[str, Any], out: Path | None,
                 scorer: CandidateScorer) -> None:
        self.space = space
        self.loop = loop
        self.identity = json.loads(json.dumps(identity))
        self.out = out
        self.scorer = scorer
        #: a proxy scored over a set (its scorer declares ``components``) is ranked against every candidate so far
        components = tuple(getattr(scorer, "components", ()) or ())
        self.ranking = SetRanking(components, space.memoize) if components else None
        self.journal: Journal | MemoryJournal = Journal(out / HISTORY) if out is not None else MemoryJournal()
        #: the iteration the last ``run`` started at (0 unless it resumed)
        self.resumed_from = 0
        #: why the last ``run`` stopped (``STOP_*``), None while it runs
        self.stopped: str | None = None

    # ------------------------------------------------------------------ state files
    def _start(self, resume: bool) -> SearchState:
        fresh = SearchState(0, [], random.Random(self.loop.seed).getstate(), 0)
        if self.out is None:
            self.journal.truncate(0)
            return fresh
        self.out.mkdir(parents=True, exist_ok=True)
        saved = read_checkpoint(self.out)
        if saved is None:
            self.journal.truncate(0)  # rows of a run killed before its first checkpoint
            return fresh
        if not resume:
            raise ZenbenchError(f"{self.out} already holds a search; pass --resume to continue it or choose "
                                f"another --out")
        settings, state = saved
        if self.ranking is not None and state.population and not state.archive:
            raise ZenbenchError(f"{self.out} was searched by an older zenbench that scored {self.identity.get('proxy')} "
                                f"one network at a time; start the search again in a new folder")
        for key in [*self.identity, *(k for k in settings if k not in self.identity)]:
            if key not in RESUMABLE_CHANGES and settings.get(key) != self.identity.get(key):
                raise ZenbenchError(f"cannot resume {self.out}: it was started with {key}={settings.get(key)!r}, now "
                                    f"{self.identity.get(key)!r}; use the same settings or a new --out folder")
        if self.journal.truncate(state.history_rows) < state.history_rows:
            raise ZenbenchError(f"{self.out / HISTORY} has fewer rows than {CHECKPOINT} counts ({state.history_rows}); "
                                f"it was edited or replaced: restore it or start again in a new folder")
        return state

    def save(self, state: SearchState) -> None:
        """Checkpoint ``state`` (a committed one) and the best member so far, each file atomically."""
        if self.out is None:
            return
        best = state.best
        if best is not None:
            atomic_write_text(self.out / self.space.best_file, best.structure + "\n")
            atomic_write_text(self.out / BEST, json.dumps({**best.as_json(), "after_iterations": state.iteration,
                                                          "of_iterations": self.loop.iterations,
                                                          **({"stopped": self.stopped} if self.stopped else {})},
                                                         indent=2))
        data = {"settings": self.identity, "iteration": state.iteration, "history_rows": state.history_rows,
                "population": [m.as_json() for m in state.population], "rng": rng_to_json(state.rng_state),
                "best_scores": state.best_scores, "seconds": state.seconds, "scores": state.scores,
                **({"archive": state.archive} if state.archive else {}),
                **({"stopped": self.stopped} if self.stopped else {})}
        atomic_write_text(self.out / CHECKPOINT, json.dumps(data))

    # ------------------------------------------------------------------ the loop
    def run(self, *, resume: bool = False, on_progress: Callable[[SearchState, dict[str, Any]], None] | None = None,
            minutes: float | None = None) -> SearchState:
        """Run (or resume) to ``loop.iterations``, or until the run's total time (resumed runs included) reaches
        ``minutes``, whichever comes first, at a batch boundary; :attr:`stopped` says which. Ctrl-C
        checkpoints the last completed batch and raises :class:`SearchInterrupted` (a plain
        KeyboardInterrupt when there is no results folder).

        A time limit makes the run's length depend on the machine, not its rows: the checkpoint records
        the iteration it stopped at, and a resume with a larger budget continues from there exactly."""
        if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, numbers.Real)
                                    or not minutes > 0):
            raise SettingError(f"minutes must be a number above 0, not {minutes!r}; pass --minutes 1 or more")
        self.stopped = None
        committed = self._start(resume)
        self.resumed_from = committed.iteration
        rng = random.Random()
        rng.setstate(committed.rng_state)
        accepted = len(committed.population)
        started = _now() - committed.seconds
        last_checkpoint = committed.iteration
        try:
            while committed.iteration < self.loop.iterations:
                if minutes is not None and committed.seconds >= minutes * 60.0:
                    self.stopped = STOP_MINUTES
                    break
                trial = replace(committed, population=list(committed.population))
                rows = self._batch(trial, rng)
                accepted += sum(1 for r in rows if r["status"] == "scored")
                self.journal.extend(rows)
                trial.history_rows += len(rows)
                best = trial.best
                if best is not None:
                    trial.best_scores.append((trial.iteration, best.score))
                trial.rng_state = rng.getstate()
                trial.seconds = _now() - started
                committed = trial  # the commit point: rows written == state
                if committed.iteration - last_checkpoint >= self.loop.checkpoint_every:
                    self.save(committed)
                    last_checkpoint = committed.iteration
                if on_progress and best is not None:
                    on_progress(committed, {"best": best, "accepted": accepted, "rows": rows})
        except KeyboardInterrupt:
            if self.out is None:
                raise
            committed = committed.trimmed()  # drop what the unfinished batch added to shared lists
            self.stopped = STOP_INTERRUPTED
            self.save(committed)
            stop = SearchInterrupted(f"interrupted after iteration {committed.iteration}; state saved in {self.out}; "
                                     f"run the same command with --resume to continue")
            stop.state = committed
            raise stop from None
        self.stopped = self.stopped or STOP_ITERATIONS
        self.save(committed)
        return committed

    def _batch(self, state: SearchState, rng: random.Random) -> list[dict[str, Any]]:
        """Propose up to ``workers`` children that pass the constraints, score them; their rows by iteration."""
        batch: list[tuple[int, Any, Checked]] = []
        rows: list[dict[str, Any]] = []
        while len(batch) < self.loop.workers and state.iteration < self.loop.iterations:
            it = state.iteration
            state.iteration += 1
            self._prune(state.population)
            parent = None if len(state.population) <= 10 else \
                state.population[rng.randrange(len(state.population))].structure
            child, checked = self._child(parent, state, batch, rng)
            if checked.rejected is not None:
                rows.append(self._row(it, child, f"rejected: {checked.rejected}", checked, None, None))
                continue
            batch.append((it, child, checked))
        scored = self._score(state, batch)
        ranks = self.ranking.ranks(state.archive) if self.ranking is not None else None
        for (it, child, checked), (score, error) in zip(batch, scored, strict=True):
            if ranks is not None and self.ranking is not None:
                score = ranks[self.ranking.key(str(child), it)]
            state.population.append(Member(str(child), score, checked.latency_ms, it, checked.latency_by_device))
            rows.append(self._row(it, child, "scored", checked, score, error))
        if ranks is not None and self.ranking is not None:
            state.population = self.ranking.rescore(state.population, ranks)
        rows.sort(key=lambda r: r["iteration"])
        return rows

    def _child(self, parent: str | None, state: SearchState, batch: list[tuple[int, Any, Checked]],
               rng: random.Random) -> tuple[Any, Checked]:
        """A child of ``parent`` and its constraint verdict. In a memoized space, one that meets the constraints
        and is neither scored yet nor waiting in this batch, when ``NOVELTY_DRAWS`` draws find one (else the last
        draw: a recurring child reuses its score, a rejected one makes a rejected row)."""
        child = self.space.mutate(parent, rng)
        checked = self.space.check(child)
        if not self.space.memoize:
            return child, checked
        pending = {str(c) for _, c, _ in batch}
        for _ in range(NOVELTY_DRAWS - 1):
            if checked.rejected is None and str(child) not in state.scores and str(child) not in pending:
                break
            child = self.space.mutate(parent, rng)
            checked = self.space.check(child)
        return child, checked

    def _row(self, iteration: int, child: Any, status: str, checked: Checked, score: float | None,
             error: str | None) -> dict[str, Any]:
        """The space's row, with every device's prediction when the search budgets several."""
        row = self.space.row(iteration, child, status, checked.latency_ms, score, error)
        if checked.latency_by_device is not None:
            row["latency_ms_by_device"] = dict(checked.latency_by_device)
        return row

    def _score(self, state: SearchState, batch: list[tuple[int, Any, Checked]]) -> list[tuple[float, str | None]]:
        """Each child's (score, error); a set-ranked search also files each fresh result's components."""
        seeds = [candidate_seed(self.loop.seed, it) for it, _, _ in batch]
        if not self.space.memoize:
            results = [split_result(r) for r in self.scorer.score([child for _, child, _ in batch], seeds)]
            if self.ranking is not None:
                for (it, child, _), (_, _, values) in zip(batch, results, strict=True):
                    self.ranking.record(state.archive, self.ranking.key(str(child), it), it, values)
            return [(score, error) for score, error, _ in results]
        todo: dict[str, int] = {}
        for index, (_, child, _) in enumerate(batch):
            if str(child) not in state.scores and str(child) not in todo:
                todo[str(child)] = index
        fresh = self.scorer.score([batch[i][1] for i in todo.values()], [seeds[i] for i in todo.values()])
        for (key, index), result in zip(todo.items(), fresh, strict=True):
            score, error, values = split_result(result)
            state.scores[key] = [score, batch[index][0], error]
            if self.ranking is not None:
                self.ranking.record(state.archive, key, batch[index][0], values)
        return [(state.scores[str(child)][0], state.scores[str(child)][2] if str(child) in todo else None)
                for _, child, _ in batch]

    def _prune(self, population: list[Member]) -> None:
        while len(population) > self.loop.population:
            if self.loop.pareto:
                population.pop(_most_dominated(population))
            else:
                population.pop(min(range(len(population)), key=lambda i: population[i].score))

    def no_candidate_error(self, state: SearchState) -> NoFeasibleCandidate:
        """The error for a run in which every candidate broke a constraint: which ones, and what to relax."""
        limits = Counter(r["status"].removeprefix("rejected: ") for r in self.journal.records()
                         if str(r.get("status", "")).startswith("rejected: "))
        seen = ", ".join(f"{limit} {n}" for limit, n in limits.most_common()) or "none recorded"
        hints = dict.fromkeys(RELAX_HINTS.get(limit.split("@")[0], limit) for limit in limits)
        relax = " or ".join(hints) or "the budgets"
        return NoFeasibleCandidate(f"no candidate met the constraints in {state.iteration} iterations (rejected by: "
                                   f"{seen}); relax {relax}, or start from a smaller initial structure")


def _most_dominated(population: list[Member]) -> int:
    """Index of the member dominated by the most others in (higher score, lower latency); ties: lowest score."""
    def dominated_by(i: int) -> int:
        a = population[i]
        la = a.latency_ms if a.latency_ms is not None else math.inf
        return sum(1 for b in population if b is not a and b.score >= a.score and
                   (b.latency_ms if b.latency_ms is not None else math.inf) <= la and
                   (b.score > a.score or (b.latency_ms or math.inf) < la))

    return max(range(len(population)), key=lambda i: (dominated_by(i), -population[i].score))
