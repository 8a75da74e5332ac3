"""Timing samples and the context they were taken in.

A :class:`Measurement` keeps the raw samples and derives the statistics every printed number
needs (median, mean, p10/p90, IQR, CV); :func:`environment` describes the machine and library
versions, so a number is never separated from what produced it. :func:`measure` also reads the
host's load average before and after timing: a measurement taken while other processes crowd the
cores is flagged ``busy`` with the reason (:func:`busy_warning` renders it), never reported as the
device's latency without a word.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from zenbench.host import host_fingerprint, l2_cache_mib


@dataclass(frozen=True)
class Measurement:
    """Raw timing samples in seconds plus their context."""

    samples: tuple[float, ...]
    context: dict[str, Any] = field(default_factory=dict)
    #: statistics reported by an external tool that keeps its raw samples (benchmark_model, trtexec):
    #: keys among median, mean, min, max, std, p10, p90, p25, p75, runs; used only when ``samples`` is empty
    reported: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.samples and "mean" not in self.reported and "median" not in self.reported:
            raise ValueError("a measurement needs samples, or a tool's reported mean or median")

    def _reported(self, key: str, fallback: str = "mean") -> float:
        return float(self.reported.get(key, self.reported.get(fallback, self.reported.get("median", 0.0))))

    @property
    def median(self) -> float:
        return float(np.median(self.samples)) if self.samples else self._reported("median")

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples) if self.samples else self._reported("mean", "median")

    @property
    def min(self) -> float:
        return min(self.samples) if self.samples else self._reported("min")

    @property
    def noisy(self) -> bool:
        return bool(self.context.get("noisy", False))

    @property
    def busy(self) -> bool:
        """Whether the host was crowded while this was timed (see :func:`measure`)."""
        return bool(self.context.get("busy", False))

    @property
    def busy_reason(self) -> str | None:
        return self.context.get("busy_reason") if self.busy else None

    def percentile(self, q: float) -> float:
        if not self.samples:
            return self._reported(f"p{q:g}", "median")
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
    def spread(self) -> float:
        """(p90 − p10) / median: the run-to-run spread that decides whether a timing is noisy.

        Unlike the coefficient of variation, one outlier run (a page fault) barely moves it, while a
        bimodal timing (another process taking a core for part of the run) shows up in full."""
        median = self.median
        return (self.p90 - self.p10) / median if median > 0 else 0.0

    @property
    def cv(self) -> float:
        """Coefficient of variation (std / mean); above ~0.05 a timing is noisy."""
        if not self.samples:
            return self.reported.get("std", 0.0) / self.mean if self.mean > 0 else 0.0
        return statistics.pstdev(self.samples) / self.mean if len(self.samples) > 1 and self.mean > 0 else 0.0

    @property
    def runs(self) -> int:
        return len(self.samples) if self.samples else int(self.reported.get("runs", 0))

    def summary(self, scale: float = 1.0) -> dict[str, float]:
        return {"median": self.median * scale, "mean": self.mean * scale, "min": self.min * scale,
                "p10": self.p10 * scale, "p90": self.p90 * scale, "iqr": self.iqr * scale, "cv": self.cv,
                "spread": self.spread, "runs": self.runs}


@dataclass(frozen=True)
class TimingRules:
    """How every latency in zenbench is taken (profiling units, measuring networks, exports).

    Warm up for ``warmup_runs`` calls and at least ``warmup_seconds``. Then time ``rounds``
    rounds, each of at least ``min_runs`` calls and ``min_seconds``. Interference on a shared host
    (another process, a neighbour VM) only ever adds time and comes in bursts that can cover a
    whole round, so a round whose median is more than ``round_tolerance`` above the fastest
    round's is dropped as disturbed, and the measurement pools the remaining rounds' samples.
    Its median, which single outlier calls barely move, is the reported latency. If the pooled
    spread ((p90 − p10) / median) exceeds ``max_spread`` the whole measurement is taken again, up
    to ``retries`` times, keeping the least spread one, and flagged ``noisy`` if it stays above.
    """

    warmup_runs: int = 5
    warmup_seconds: float = 0.05
    min_runs: int = 10
    min_seconds: float = 0.1
    max_runs: int = 100_000
    rounds: int = 3
    round_tolerance: float = 0.05
    max_spread: float = 0.15
    retries: int = 2
    #: whole networks (``for_networks``): more, shorter rounds
    network_rounds: int = 15
    network_min_runs: int = 2

    def quick(self) -> TimingRules:
        """Rules for a smoke test: few runs, one round, no retries."""
        return TimingRules(warmup_runs=1, warmup_seconds=0.0, min_runs=3, min_seconds=0.0, rounds=1,
                           max_spread=1e9, retries=0, network_rounds=1, network_min_runs=3)

    def for_networks(self) -> TimingRules:
        """The rules for a whole network measured end to end (``zenbench measure``, a profile's and a
        validation's networks, exports): ``network_rounds`` rounds of at least ``min_seconds`` and
        ``network_min_runs`` calls, the same round dropping.

        A unit's timing error averages out over the dozens of units a prediction sums; a network's
        measurement is one number and has to average by itself. On a shared host the speed comes in
        bursts of half a second to two seconds, 30-60 % slow, between steadier regimes: three rounds
        of 60 ms often sit inside one burst, fifteen let the dropping see past it. Measured here on six
        networks, alternating the two: 69 % -> 85 % of measurements within ±10 % of the same network's
        median, reading 1-6 % lower (disturbed time no longer counted; the calibration, fitted to
        networks timed by these rules, absorbs the level)."""
        if self.network_rounds <= self.rounds:
            return self
        return replace(self, rounds=self.network_rounds, min_runs=min(self.min_runs, self.network_min_runs))


#: a host whose 1-minute load average exceeds this many runnable threads per usable core is busy: the
#: timed process itself accounts for up to one per core, the rest is other work competing for them
BUSY_LOAD_PER_CORE = 1.5


@dataclass(frozen=True)
class HostLoad:
    """The host's 1-minute load average and the cores this process may run on."""

    load: float
    cores: int

    @property
    def busy(self) -> bool:
        return self.load > BUSY_LOAD_PER_CORE * self.cores


def host_load() -> HostLoad | None:
    """This host's load now, or None where the OS does not report a load average."""
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return HostLoad(float(load), max(1, cores))


def load_context(before: HostLoad | None, after: HostLoad | None) -> dict[str, Any]:
    """The context fields of the load around a measurement: ``host_load`` (before, after), ``cores``,
    ``busy`` and, when busy, ``busy_reason``."""
    seen = [x for x in (before, after) if x is not None]
    if not seen:
        return {}
    worst = max(seen, key=lambda x: x.load / x.cores)
    context: dict[str, Any] = {"host_load": [x.load if x else None for x in (before, after)], "cores": worst.cores,
                               "busy": worst.busy}
    if worst.busy:
        context["busy_reason"] = f"load {worst.load:.1f} on {worst.cores} core{'s' if worst.cores != 1 else ''}"
    return context


def busy_warning(m: Measurement) -> str | None:
    """The line to print under a measurement taken on a busy host, or None when the host was quiet."""
    if not m.busy:
        return None
    return (f"host busy: {m.busy_reason or 'other processes competed for the cores'}; the figure is not this "
            f"device's latency — re-run on a quiet host")


def measure(fn: Callable[[], object], rules: TimingRules = TimingRules(), *,
            sync: Callable[[], object] | None = None, timer: Callable[[Callable[[], object]], float] | None = None,
            context: dict[str, Any] | None = None, watch_host: bool = True) -> Measurement:
    """Time ``fn`` under ``rules``. ``sync`` runs before each clock read (e.g. a GPU synchronise);
    ``timer`` replaces the wall clock for one call (e.g. CUDA events) and returns seconds. With
    ``watch_host`` the load average is read before and after, and a crowded host flags the result
    ``busy`` (:func:`load_context`); the samples are the same either way."""
    load_before = host_load() if watch_host else None

    def one_call() -> float:
        if timer is not None:
            return timer(fn)
        if sync:
            sync()
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        return time.perf_counter() - t0

    def one_round() -> list[float]:
        samples: list[float] = []
        started = time.perf_counter()
        while (len(samples) < rules.min_runs or time.perf_counter() - started < rules.min_seconds) \
                and len(samples) < rules.max_runs:
            samples.append(one_call())
        return samples

    started = time.perf_counter()
    done = 0
    while done < rules.warmup_runs or time.perf_counter() - started < rules.warmup_seconds:
        one_call()
        done += 1
    best: Measurement | None = None
    for attempt in range(rules.retries + 1):
        rounds = [one_round() for _ in range(max(1, rules.rounds))]
        medians = [float(np.median(r)) for r in rounds]
        fastest = min(medians)
        kept = [r for r, m in zip(rounds, medians, strict=True) if m <= fastest * (1.0 + rules.round_tolerance)]
        found = Measurement(tuple(x for r in kept for x in r),
                            {**(context or {}), "attempts": attempt + 1, "round_medians": medians,
                             "rounds_dropped": len(rounds) - len(kept)})
        if best is None or found.spread < best.spread:
            best = found
        if best.spread <= rules.max_spread:
            break
    assert best is not None
    load = load_context(load_before, host_load()) if watch_host else {}
    return Measurement(best.samples, {**best.context, "noisy": best.spread > rules.max_spread, **load})


def median_instance(measurements: list[Measurement]) -> Measurement:
    """Of one workload timed in several separately built instances, the instance with the median latency,
    with every instance's median kept in its context.

    Where a network's weights land in memory decides how well they stream through the caches: two
    instances of one weight-heavy network differ by far more than the runs of either (measured with
    LiteRT here: a 45 MB unit at 15.3 to 21.5 ms over four instances, each within 5 % run to run). A
    single instance is one draw of that; the median instance is the latency to expect."""
    if not measurements:
        raise ValueError("no measurements to choose from")
    ordered = sorted(measurements, key=lambda m: m.median)
    middle = ordered[(len(ordered) - 1) // 2]
    if len(ordered) == 1:
        return middle
    medians = [m.median for m in measurements]
    context = {**middle.context, "instance_medians": medians,
               "instance_spread": (max(medians) - min(medians)) / middle.median}
    busy = [m for m in measurements if m.busy]
    if busy:  # one crowded instance is enough to doubt the choice among them
        context.update(busy=True, busy_reason=busy[0].busy_reason)
    return Measurement(middle.samples, context, middle.reported)


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


def environment(threads: int | None = None) -> dict[str, Any]:
    """Host and library versions to store next to every measured number."""
    import onnxruntime
    import torch

    env: dict[str, Any] = {
        "host": platform.node(),
        **host_fingerprint(),
        "l2_cache_mib": l2_cache_mib(),
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
