"""The Zen-NAS search: ``search(...)`` runs (or resumes) an evolution and writes its results folder.

The folder is locked (:class:`~zenbench.fileio.FolderLock`) while the run writes it, so a second
run on the same folder is refused with the holder's PID; the lock dies with its process, so a
killed run can always be resumed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from zenbench._callable_module import make_callable
from zenbench.errors import SearchInterrupted
from zenbench.fileio import FolderLock
from zenbench.search.evolution import SearchSettings, SearchState, Tables, plainnet_evolution
from zenbench.search.parallel import ScoreJob, make_scorer
from zenbench.search.report import write_report


def search(settings: SearchSettings, out: Path, *, table: Tables = None, resume: bool = False,
           ray_address: str | None = None, device: str | None = None,
           on_progress: Callable[[SearchState, dict[str, Any]], None] | None = None,
           minutes: float | None = None) -> dict[str, Any]:
    """Run the evolution under ``settings`` into ``out`` and write the report; returns its summary.

    It stops after ``settings.iterations`` or ``minutes`` (the run's total, resumes included), whichever
    comes first; the summary's ``stopped`` says which. ``table`` is one device's table, or a mapping of
    each device to its table when ``settings.constraints.devices`` budgets several.

    Ctrl-C writes the report of the checkpointed state and raises :class:`SearchInterrupted`; a run
    in which no candidate met the constraints writes its report and raises
    :class:`~zenbench.errors.NoFeasibleCandidate` saying what to relax."""
    out = Path(out)
    with FolderLock(out):
        job = ScoreJob(settings.proxy, settings.resolution, settings.batch_size, settings.num_classes)
        scorer = make_scorer(job, settings.workers, ray_address)
        evolution = plainnet_evolution(settings, out, table, scorer)
        try:
            state = evolution.run(resume=resume, on_progress=on_progress, minutes=minutes)
        except SearchInterrupted as stop:
            if isinstance(stop.state, SearchState):
                write_report(out, settings, stop.state, device=device, stopped=evolution.stopped)
            raise
        finally:
            scorer.close()
        result = write_report(out, settings, state, device=device, stopped=evolution.stopped, minutes=minutes)
        if state.best is None:
            raise evolution.no_candidate_error(state)
    return result


#: the evolution on ready-made settings; ``zenbench.search(...)`` (the package called) plans them from budgets
run_search = search

__all__ = ["SearchSettings", "run_search", "search"]

make_callable(__name__, "zenbench.api:search")
