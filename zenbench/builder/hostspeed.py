"""The host's speed over time, read off a fixed reference network timed between measurements.

A shared host changes speed in regimes lasting seconds to minutes, by nearly the same factor for
every workload. So a profile times a small fixed *reference* network between every two measurements
(:class:`ProbedTimer`), records the reference latency around each timing, and when the table is
written :func:`normalise` scales every timing to the profile's typical speed, by the ratio raised to
the *elasticity* the calibration networks' repeated passes show (:func:`fit_elasticity`). The
measurements behind this design are in docs/latency-model.md.
"""


from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from zenbench.backends.base import Backend, BackendSettings, Runnable
from zenbench.builder.workloads import network_workload

#: dense 3x3, bottleneck, inverted-residual depth-wise and 1x1 units at four resolutions: the kinds of work a
#: profile times, in about 1.5 ms on one CPU core (ONNX Runtime, LiteRT)
REFERENCE_STRUCTURE = ("SuperConvK3BNRELU(3,24,2,1)SuperResIDWE4K3(24,32,2,24,1)SuperResK1K3K1(32,64,2,32,1)"
                       "SuperResK3K3(64,128,2,64,1)SuperConvK1BNRELU(128,512,1,1)")
REFERENCE_RESOLUTION = 192
REFERENCE_CLASSES = 10
#: timing fields of a profile row that the host factor scales
TIMING_FIELDS = ("median_ms", "mean_ms", "min_ms", "p10_ms", "p90_ms", "iqr_ms")


@dataclass
class HostSpeedProbe:
    """The reference network, loaded once; calling the probe times one short round of it (ms)."""

    runnable: Runnable
    seconds: float = 0.04
    min_calls: int = 5
    warmup_calls: int = 2

    @classmethod
    def build(cls, backend: Backend, settings: BackendSettings, seconds: float = 0.04) -> HostSpeedProbe:
        from zenbench.space.spec import NetworkSpec

        spec = NetworkSpec.parse(REFERENCE_STRUCTURE)
        workload = network_workload(spec, settings.batch, REFERENCE_RESOLUTION, REFERENCE_CLASSES)
        return cls(backend.prepare(workload, settings), seconds=seconds)

    def __call__(self) -> float:
        from zenbench.measure import TimingRules, measure

        rules = TimingRules(warmup_runs=self.warmup_calls, warmup_seconds=0.0, min_runs=self.min_calls,
                            min_seconds=self.seconds, rounds=1, max_spread=1e9, retries=0)
        return measure(self.runnable, rules, sync=self.runnable.sync, timer=self.runnable.timer).median * 1000.0

    def close(self) -> None:
        self.runnable.close()


class Probe(Protocol):
    def __call__(self) -> float: ...

    def close(self) -> None: ...


class ProbedTimer:
    """Probes between measurements, and gives each measurement the reference latency around it: the
    geometric mean of the probe before and the probe after (one probe serves both of its neighbours)."""

    def __init__(self, probe: Probe | None) -> None:
        self.probe = probe
        self._last: float | None = None

    @classmethod
    def for_backend(cls, backend: Backend, settings: BackendSettings, min_seconds: float,
                    enabled: bool = True) -> ProbedTimer:
        """A timer probing the reference on ``backend`` (rounds no longer than ``min_seconds``, the
        rules' own round), or one that probes nothing when disabled or the backend is not on a shared host."""
        probe = HostSpeedProbe.build(backend, settings, seconds=min(0.04, min_seconds)) \
            if enabled and backend.shared_host else None
        return cls(probe)

    def around(self) -> _Around:
        return _Around(self)

    def _read(self) -> float | None:
        if self.probe is None:
            return None
        self._last = self.probe()
        return self._last

    def close(self) -> None:
        if self.probe is not None:
            self.probe.close()


class _Around:
    def __init__(self, timer: ProbedTimer) -> None:
        self.timer = timer
        self.reference_ms: float | None = None

    def __enter__(self) -> _Around:
        self._before = self.timer._last if self.timer._last is not None else self.timer._read()
        return self

    def __exit__(self, *exc: object) -> None:
        after = self.timer._read()
        if self._before is not None and after is not None:
            self.reference_ms = math.sqrt(self._before * after)


def typical_reference_ms(rows: Iterable[dict[str, Any]]) -> float | None:
    """The median reference latency over the rows that recorded one (None when none did)."""
    values = [float(r["reference_ms"]) for r in rows if r.get("reference_ms")]
    return statistics.median(values) if values else None


#: probes whose median gives a row's host speed: one probe round varies by ±2-3 % on its own, the host's
#: regimes last ten seconds and more, and a profile probes about once a second
SMOOTHING_PROBES = 5


def smoothed_references(rows: list[dict[str, Any]], window: int = SMOOTHING_PROBES) -> dict[str, float]:
    """Per row key, the median reference latency of the ``window`` rows measured nearest it in time."""
    import numpy as np

    probed = sorted((r for r in rows if r.get("reference_ms")), key=lambda r: r.get("measured_at", 0.0))
    values = np.array([float(r["reference_ms"]) for r in probed])
    half = max(0, window // 2)
    return {r["key"]: float(np.median(values[max(0, i - half):i + half + 1])) for i, r in enumerate(probed)}


def normalise(rows: list[dict[str, Any]], typical_ms: float | None,
              window: int = SMOOTHING_PROBES, elasticity: float = 1.0) -> list[dict[str, Any]]:
    """Copies of ``rows`` with every timing scaled to the typical host speed; each gets ``host_factor``
    ((typical / its smoothed reference latency) ** elasticity; 1 where it recorded none)."""
    smoothed = smoothed_references(rows, window)
    out = []
    for row in rows:
        reference = smoothed.get(row["key"])
        factor = (typical_ms / reference) ** elasticity if typical_ms and reference else 1.0
        out.append({**row, **{f: float(row[f]) * factor for f in TIMING_FIELDS if f in row and row[f] is not None},
                    "host_factor": factor})
    return out


#: fewer calibration networks with two probed passes, or a slope less certain than this, and the
#: elasticity stays 1 (the plain ratio): too little evidence to scale by anything else
MIN_ELASTICITY_NETWORKS = 8
MAX_ELASTICITY_SE = 0.25


def fit_elasticity(rows: list[dict[str, Any]], window: int = SMOOTHING_PROBES) -> dict[str, Any]:
    """How far timings follow the reference: the slope of log(timing) on log(smoothed reference
    latency) across the passes of each network timed more than once (rows with ``network`` and
    ``structure``), each network's own level removed. Returns ``elasticity`` (clipped to [0, 1]; 1
    when the evidence is too thin) and the fit behind it (``slope``, its standard error ``se``,
    ``networks``, ``passes``).

    Within one network the workload is fixed, so whatever moves its passes apart is the host; the
    slope is what a reading of the reference predicts about that move, its own noise included."""
    import numpy as np

    smoothed = smoothed_references(rows, window)
    by_network: dict[tuple[str, Any], list[tuple[float, float]]] = {}
    for row in rows:
        if row.get("network") and row.get("structure") and row["key"] in smoothed and row.get("median_ms"):
            by_network.setdefault((row["structure"], row.get("resolution")), []).append(
                (math.log(smoothed[row["key"]]), math.log(float(row["median_ms"]))))
    groups = [np.array(g) for g in by_network.values() if len(g) >= 2]
    fit: dict[str, Any] = {"elasticity": 1.0, "slope": None, "se": None, "networks": len(groups),
                           "passes": sum(len(g) for g in groups)}
    if len(groups) < MIN_ELASTICITY_NETWORKS:
        return fit
    x = np.concatenate([g[:, 0] - g[:, 0].mean() for g in groups])
    y = np.concatenate([g[:, 1] - g[:, 1].mean() for g in groups])
    sxx = float(x @ x)
    dof = len(x) - len(groups) - 1
    if sxx <= 0 or dof <= 0:
        return fit
    slope = float(x @ y) / sxx
    se = math.sqrt(float(np.sum((y - slope * x) ** 2)) / dof / sxx)
    fit.update(slope=slope, se=se)
    if se <= MAX_ELASTICITY_SE:
        fit["elasticity"] = min(1.0, max(0.0, slope))
    return fit


def speed_summary(rows: list[dict[str, Any]], typical_ms: float | None,
                  elasticity: dict[str, Any] | None = None) -> dict[str, Any]:
    """How much the host's speed moved during a run: the reference's typical latency, the p10/p90 of
    its speed factor (typical / smoothed reference) and the elasticity fit that turned them into the
    factors applied (for a table's metadata and the README)."""
    import numpy as np

    factors = [typical_ms / ms for ms in smoothed_references(rows).values()] if typical_ms else []
    if not factors:
        return {"reference": None}
    elasticity = elasticity or {"elasticity": 1.0}
    return {"reference": REFERENCE_STRUCTURE, "reference_resolution": REFERENCE_RESOLUTION,
            "typical_ms": typical_ms, "factor_p10": float(np.percentile(factors, 10)),
            "factor_p90": float(np.percentile(factors, 90)), "factor_min": min(factors), "factor_max": max(factors),
            "probes": len(factors), "elasticity": elasticity["elasticity"], "elasticity_fit": elasticity}


def profile_elasticity(table_metadata: dict[str, Any]) -> float:
    """The elasticity a table was normalised with (1 for tables from before it was fitted)."""
    return float((table_metadata.get("host_speed") or {}).get("elasticity", 1.0))
