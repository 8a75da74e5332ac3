"""Scoring candidates in this process, in local worker processes, or on a Ray cluster.

A scorer takes a batch of structures with their seeds and returns (score, error) for each in
order, so the search's result does not depend on which worker finished first. A candidate that
fails to score gets -inf (the official code's -9999) and the error is recorded in the history.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from zenbench.errors import BackendUnavailable
from zenbench.search.set_ranking import Scored


@dataclass(frozen=True)
class ScoreJob:
    proxy: str
    resolution: int
    batch_size: int
    num_classes: int
    threads: int | None = None


def score_structure(structure: str, seed: int, job: ScoreJob) -> Scored:
    """One candidate's proxy score (top-level, so worker processes and Ray can run it); for a proxy ranked over
    a set (it declares ``components``) the components too, which the search ranks
    (:mod:`zenbench.search.set_ranking`)."""
    import torch

    from zenbench.proxies import get_proxy, score

    if job.threads:
        torch.set_num_threads(job.threads)
    try:
        result = score(structure, job.proxy, resolution=job.resolution, batch_size=job.batch_size, seed=seed,
                       num_classes=job.num_classes)
    except Exception as error:  # a candidate that cannot be scored must not stop the search
        return -math.inf, f"{type(error).__name__}: {error}"
    value = result.mean if math.isfinite(result.mean) else -math.inf
    components = get_proxy(job.proxy).components
    return (value, None, {c: result.extras[c] for c in components}) if components else (value, None)


class Scorer(ABC):
    def __init__(self, job: ScoreJob) -> None:
        from zenbench.proxies import get_proxy

        self.job = job
        #: the result fields a set-ranked proxy is ranked by (empty: the score stands alone)
        self.components = get_proxy(job.proxy).components

    @abstractmethod
    def score(self, specs: list[Any], seeds: list[int]) -> list[Scored]:
        ...

    def close(self) -> None:
        return None


class InlineScorer(Scorer):
    def score(self, specs: list[Any], seeds: list[int]) -> list[Scored]:
        return [score_structure(str(spec), seed, self.job) for spec, seed in zip(specs, seeds, strict=True)]


class ProcessScorer(Scorer):
    """``workers`` local processes, each with an equal share of the cores."""

    def __init__(self, job: ScoreJob, workers: int) -> None:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        threads = max(1, (os.cpu_count() or 1) // workers)
        super().__init__(ScoreJob(job.proxy, job.resolution, job.batch_size, job.num_classes, threads))
        self.pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))

    def score(self, specs: list[Any], seeds: list[int]) -> list[Scored]:
        futures = [self.pool.submit(score_structure, str(spec), seed, self.job) for spec, seed in zip(specs, seeds,
                                                                                                     strict=True)]
        return [f.result() for f in futures]

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


class RayScorer(Scorer):
    """Candidates scored as Ray tasks on a cluster (``address="auto"`` or ``ray://host:port``)."""

    def __init__(self, job: ScoreJob, address: str | None) -> None:
        try:
            import ray
        except ImportError:
            raise BackendUnavailable("Ray is not installed: pip install 'zenbench[distributed]'") from None
        super().__init__(job)
        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=None if address in (None, "local") else address, ignore_reinit_error=True,
                     log_to_driver=False)
        self.remote = ray.remote(score_structure)

    def score(self, specs: list[Any], seeds: list[int]) -> list[Scored]:
        refs = [self.remote.remote(str(spec), seed, self.job) for spec, seed in zip(specs, seeds, strict=True)]
        return self.ray.get(refs)


def make_scorer(job: ScoreJob, workers: int = 1, ray_address: str | None = None) -> Scorer:
    if ray_address:
        return RayScorer(job, ray_address)
    if workers > 1:
        return ProcessScorer(job, workers)
    return InlineScorer(job)
