"""Timing samples and the context they were taken in.

A :class:`Measurement` keeps the raw samples and derives the statistics every printed number
needs (median, mean, p10/p90, IQR, CV); :func:`environment` describes the machine and library
versions, so a number is never separated from what produced it.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Measurement:
    """Raw timing samples in seconds plus their context."""

    samples: tuple[float, ...]
    context: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError("a measurement needs at least one sample")

    @property
    def median(self) -> float:
        return float(np.median(self.samples))

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.samples, q))

    @property
    def p10(self) -> float:
        return self.percentile(10)

    @property
    def p90(self) -> float:
        return self.percentile(90)

    @property
    def iqr(self) -> float:
        return self.percentile(75) - self.percentile(25)

    @property
    def cv(self) -> float:
        """Coefficient of variation (std / mean); above ~0.05 a timing is noisy."""
        return statistics.pstdev(self.samples) / self.mean if len(self.samples) > 1 and self.mean > 0 else 0.0

    def summary(self, scale: float = 1.0) -> dict[str, float]:
        return {"median": self.median * scale, "mean": self.mean * scale, "min": self.min * scale,
                "p10": self.p10 * scale, "p90": self.p90 * scale, "iqr": self.iqr * scale, "cv": self.cv,
                "runs": len(self.samples)}


def time_calls(fn: Callable[[], object], *, runs: int = 10, warmup: int = 1, min_seconds: float = 0.0) -> Measurement:
    """Call ``fn`` ``warmup`` times, then at least ``runs`` times and for at least ``min_seconds``."""
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    started = time.perf_counter()
    while len(samples) < runs or time.perf_counter() - started < min_seconds:
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return Measurement(tuple(samples))


@cache
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(threads: int | None = None) -> dict[str, Any]:
    """Host and library versions to store next to every measured number."""
    import onnxruntime
    import torch

    env: dict[str, Any] = {
        "host": platform.node(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
        "torch_threads": threads if threads is not None else torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name()
        env["cuda"] = torch.version.cuda
    return env
