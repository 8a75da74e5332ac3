"""The Zen-NAS search: ``search(...)`` runs (or resumes) an evolution and writes its results folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from zenbench.search.evolution import Evolution, SearchSettings, SearchState
from zenbench.search.parallel import ScoreJob, make_scorer
from zenbench.search.report import write_report
from zenbench.tables import LatencyTable


def search(settings: SearchSettings, out: Path, *, table: LatencyTable | None = None, resume: bool = False,
           ray_address: str | None = None, device: str | None = None,
           on_progress: Callable[[SearchState, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run the evolution under ``settings`` into ``out`` and write the report; returns its summary."""
    job = ScoreJob(settings.proxy, settings.resolution, settings.batch_size, settings.num_classes)
    scorer = make_scorer(job, settings.workers, ray_address)
    try:
        state = Evolution(settings, out, table, scorer).run(resume=resume, on_progress=on_progress)
    finally:
        scorer.close()
    return write_report(out, settings, state, device=device)


__all__ = ["SearchSettings", "search"]
