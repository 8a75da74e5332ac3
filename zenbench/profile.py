"""Time the units a search space is made of on a device, and write a latency table.

The grid. A space at a resolution can place a unit of each of its block types at a few
(resolution, stride) positions (``space.spaces.placements``), with a projection shortcut (a
block's first unit, or a width change) or an identity one, and with any channel widths that are
multiples of 8 up to 2048. That is far too many to time, so each kind (type x shortcut) gets a
sampled grid: ``points`` channel configurations per position, drawn log-uniformly from a
scrambled Sobol sequence (deterministic for a seed) over the widths networks use at that
resolution (``WIDTH_RESOLUTION``), plus ``WIDE_POINTS`` over the full range; widths are rounded to
multiples of 8 and scaled down where a unit would exceed ``mac_cap`` multiply-accumulates (no
budget of interest admits it). Stems, final 1x1 convs and the GAP + classifier are profiled the same way. Off-grid
units are predicted by each kind's fitted model (``tables.KindModel``), whose leave-one-out
error the coverage report shows.

Resumable. Each measured unit is appended to ``<table>.partial.jsonl`` (one line, flushed and
fsynced) as soon as it is measured; ``resume=True`` skips every key already there, so a run
killed at any moment (Ctrl-C or SIGKILL) continues without losing or repeating a unit. A line cut
short by a kill is ignored and re-measured. The Parquet table is written atomically at the end.
The log's first line names the host (CPU, vector extensions, cache) of a CPU device: a log another
machine started is not resumed here (its timings describe that machine), it is kept until --restart.

Noisy units get a second chance. Interference on a shared host comes in bursts that make a
timing bimodal (its median lands wherever the burst ended), and retrying at once often lands in
the same burst. So after the first pass every unit still flagged noisy is measured once more, and
the log keeps whichever of its two timings has the smaller spread.

Whole networks too. A network is more than its units timed alone (no per-call cost between
units, activations already in cache), so the profile also times ``networks`` random networks of
its spaces end to end (``space.sampling``, across the whole latency range), three times each, and
fits the table's calibration to them (``budget.calibrate_table``). Their timings are interleaved
with the units' over the whole profile: this host's speed drifts by a few per cent over minutes,
and networks timed in one window after the units learn that window's speed as a "network
effect" (measured: a calibration 4 % off that way). Each keeps its median pass; they are logged
and resumed like units.

Host speed. A shared host's speed moves by several per cent for seconds to minutes at a time, by
the same factor for every workload. A small reference network is timed between every two
measurements, and when the table is written every timing is scaled to the profile's typical
speed, by the ratio raised to the elasticity that the calibration networks' passes show
(``zenbench.hostspeed``); the log keeps the raw timings, so a resumed profile is scaled as a whole.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zenbench.backends.base import Workload, get_backend
from zenbench.backends.onnx_graph import head_graph, units_graph
from zenbench.backends.tflite_graph import head_tflite, units_tflite
from zenbench.budget import calibrate_table
from zenbench.devices import DeviceProfile, SpaceTarget
from zenbench.errors import ZenbenchError
from zenbench.hostspeed import ProbedTimer, fit_elasticity, normalise, speed_summary, typical_reference_ms
from zenbench.measure import TimingRules, environment, host_differences, host_fingerprint
from zenbench.space.blocks import BLOCKS
from zenbench.space.spaces import FAMILIES, HEAD, MAX_CHANNELS, STEM, final_resolution, placements, stem_stride
from zenbench.space.units import Unit
from zenbench.tables import (
    LatencyTable,
    classifier_features,
    classifier_key,
    new_metadata,
    unit_features,
    unit_key,
    unit_kind,
    unit_mid,
)

DEFAULT_POINTS = 8
#: extra points per position drawn over the full width range, so the models also see wide units at
#: high resolution (which the search may propose) and do not only extrapolate there
WIDE_POINTS = 2
#: widths at resolution r are drawn up to WIDTH_RESOLUTION / r (128 at 112, 2048 at 7): networks are narrow
#: where activations are large, and a log-uniform draw over [8, 2048] at 112x112 would spend almost every
#: point on units no network of the space has, leaving the narrow ones (the common case) to extrapolation
WIDTH_RESOLUTION = 14336
#: (in, mid, out) corners timed exactly at every position: the narrowest units, where the models extrapolate
#: worst (a conv of 8 channels wastes half of each 16-channel SIMD block) and which small networks are full of
NARROW_CORNERS = ((8, 8, 8), (8, 8, 16), (16, 8, 16), (16, 16, 16), (16, 8, 32), (32, 16, 32))
DEFAULT_NETWORKS = 60
#: random networks per space whose every unit is timed too. The Sobol grid spreads its points evenly over
#: log-widths, but a network's widths are correlated (a unit's input is its predecessor's output, mid tracks
#: out), so most of a real network's units sit between grid points; these put measured neighbours there
DEFAULT_GRID_NETWORKS = 24
#: a unit whose fp32 weights exceed this many bytes is timed in ``HEAVY_INSTANCES`` separately built instances
#: and keeps the median one (``measure.median_instance``: instances of a weight-heavy unit differ by up to 30 %);
#: below a core's L2 (2 MiB here) instances agree within run-to-run noise
HEAVY_WEIGHT_BYTES = 2 * 2**20
HEAVY_INSTANCES = 3
DEFAULT_MAC_CAP = 1.5e9
CLASSES = {224: 1000, 32: 100}


@dataclass(frozen=True)
class UnitJob:
    """One thing to time: a unit (or the classifier) at a resolution."""

    key: str
    kind: str
    resolution: int
    unit: Unit | None = None
    classifier: tuple[int, int] | None = None  # (channels, classes)

    def workload(self, batch: int) -> Workload:
        shape = (batch, self.in_channels, self.resolution, self.resolution)
        if self.unit is not None:
            unit = self.unit

            def make_torch():
                from torch import nn

                from zenbench.space.network import build_unit

                return nn.Sequential(build_unit(unit, residual=True, bn=True, se=False))

            return Workload(shape, lambda: units_graph([unit], batch, self.resolution), make_torch, self.key,
                            make_tflite=lambda: units_tflite([unit], batch, self.resolution))
        channels, classes = self.classifier  # type: ignore[misc]

        def make_head():
            from torch import nn

            return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, classes))

        return Workload(shape, lambda: head_graph(channels, classes, batch, self.resolution), make_head, self.key,
                        make_tflite=lambda: head_tflite(channels, classes, batch, self.resolution))

    @property
    def in_channels(self) -> int:
        return self.unit.in_channels if self.unit is not None else self.classifier[0]  # type: ignore[index]

    def row(self, batch: int) -> dict[str, Any]:
        if self.unit is not None:
            u = self.unit
            features = unit_features(u, self.resolution, batch)
            shape = {"family": u.family, "shortcut": u.shortcut.value, "in_channels": u.in_channels,
                     "mid_channels": unit_mid(u), "out_channels": u.out_channels, "stride": u.stride}
        else:
            channels, classes = self.classifier  # type: ignore[misc]
            features = classifier_features(channels, classes, self.resolution, batch)
            shape = {"family": "classifier", "shortcut": "gap-linear", "in_channels": channels, "mid_channels": 0,
                     "out_channels": classes, "stride": 1}
        return {"key": self.key, "kind": self.kind, "resolution": self.resolution, "batch": batch, **shape, **features}


def _sobol(dims: int, points: int, seed: int) -> np.ndarray:
    from scipy.stats import qmc

    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Sobol prefers powers of two; any count is fine here
            return qmc.Sobol(dims, scramble=True, seed=seed).random(points)


def _widths(u: np.ndarray, max_channels: int) -> list[int]:
    """Log-uniform widths in [8, max_channels], rounded to multiples of 8."""
    lo, hi = math.log(8), math.log(max_channels)
    return [int(max(8, min(max_channels, 8 * round(math.exp(lo + x * (hi - lo)) / 8)))) for x in u]


def _capped(make: Callable[[float], Unit], resolution: int, mac_cap: float) -> Unit:
    """``make(scale)`` with the largest scale <= 1 whose unit stays under ``mac_cap`` MACs."""
    scale = 1.0
    for _ in range(40):
        unit = make(scale)
        macs = unit_features(unit, resolution, 1)
        if macs["dense_macs"] + macs["dw_macs"] <= mac_cap:
            return unit
        scale *= 0.8
    return unit


def grid(target: SpaceTarget, *, points: int = DEFAULT_POINTS, mac_cap: float = DEFAULT_MAC_CAP, seed: int = 0,
         batch: int = 1, grid_networks: int = DEFAULT_GRID_NETWORKS) -> list[UnitJob]:
    """Every unit configuration profiled for one space at one resolution (deterministic for a seed): the
    sampled grid, plus every unit of ``grid_networks`` random networks of the space."""
    space, resolution = target.space, target.resolution
    if space not in FAMILIES:
        raise ZenbenchError(f"space {space!r} has no unit grid; profile one of {', '.join(FAMILIES)}")
    max_c = MAX_CHANNELS[space]
    jobs: dict[str, UnitJob] = {}

    def add(unit: Unit, res: int) -> None:
        key = unit_key(unit, res, batch)
        jobs.setdefault(key, UnitJob(key, unit_kind(unit), res, unit=unit))

    def scaled(c: int, scale: float) -> int:
        return max(8, 8 * round(c * scale / 8))

    rng_seed = seed * 7919
    stem = BLOCKS.get(STEM)
    for c in _widths(_sobol(1, points, rng_seed)[:, 0], 128):
        add(stem.make_unit(3, c, c, stem_stride(resolution), True), resolution)
    head = BLOCKS.get(HEAD)
    last = final_resolution(resolution)
    for cin, cout in _sobol(2, points * 2, rng_seed + 1):
        cin_, cout_ = _widths(np.array([cin, cout]), max_c)
        add(_capped(lambda s, a=cin_, b=cout_: head.make_unit(scaled(a, s), 0, scaled(b, s), 1, True), last, mac_cap),
            last)
    classes = CLASSES.get(resolution, 1000)
    for (c,) in _sobol(1, points, rng_seed + 2):
        channels = _widths(np.array([c]), 4096)[0]
        key = classifier_key(channels, classes, last, batch)
        jobs.setdefault(key, UnitJob(key, "classifier/gap-linear", last, classifier=(channels, classes)))
    for t, type_name in enumerate(FAMILIES[space]):
        block_type = BLOCKS.get(type_name)
        for p, place in enumerate(placements(resolution)):
            local_max = max(32, min(max_c, WIDTH_RESOLUTION // place.resolution))
            sample = _sobol(3, points + WIDE_POINTS, rng_seed + 100 * t + p + 3)
            drawn = [tuple(_widths(np.array(row), local_max if i < points else max_c)) for i, row in enumerate(sample)]
            for a, m, b in drawn + list(NARROW_CORNERS if points >= 4 else ()):
                add(_capped(lambda s, a=a, m=m, b=b, st=place.stride, bt=block_type: bt.make_unit(
                    scaled(a, s), scaled(m, s), scaled(b, s), st, True), place.resolution, mac_cap), place.resolution)
                if place.stride == 1:  # an identity unit: same width in and out
                    add(_capped(lambda s, m=m, b=b, bt=block_type: bt.make_unit(scaled(b, s), scaled(m, s), scaled(b, s), 1,
                                                                          False), place.resolution, mac_cap),
                        place.resolution)
    for spec in _grid_networks(space, resolution, grid_networks, seed):
        res = resolution
        for unit in spec.units():
            add(unit, res)
            res = unit.out_resolution(res)
        key = classifier_key(spec.out_channels, classes, res, batch)
        jobs.setdefault(key, UnitJob(key, "classifier/gap-linear", res, classifier=(spec.out_channels, classes)))
    return list(jobs.values())


def _grid_networks(space: str, resolution: int, count: int, seed: int) -> list:
    """Random networks whose units join the grid: the units networks of the space are really made of, drawn
    from the same sampler as (but other seeds than) the calibration and validation networks."""
    import random

    from zenbench.space.sampling import random_network

    rng = random.Random(f"grid-{space}-{resolution}-{seed}")
    return [random_network(space, resolution, rng) for _ in range(count)]


class ProgressLog:
    """The append-only record of measured units that makes profiling resumable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: dict[str, dict[str, Any]] = {}
        self.retried: set[str] = set()
        self.host: dict[str, Any] | None = None  # the fingerprint of the host that started the log
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill: that unit is measured again
                if isinstance(row, dict) and "key" in row and "median_ms" in row:
                    self._keep(row)
                elif isinstance(row, dict) and "host" in row and self.host is None:
                    self.host = row["host"]

    def claim(self, name: str) -> None:
        """Refuse to resume a log another host started (its timings describe that machine); stamp a new
        log with this host. ``name`` is the device, for the way out the error gives."""
        if self.host is None:
            if not self.rows:
                self.host = host_fingerprint()
                self.append({"host": self.host})
            return
        differences = host_differences(self.host)
        if differences:
            raise ZenbenchError(f"{self.path} was started on another machine ({'; '.join(differences)}); "
                                f"its {len(self.rows)} timings describe that machine, not this one. Start over "
                                f"here: zenbench profile --device {name} --restart")

    def _keep(self, row: dict[str, Any]) -> None:
        """Record a timing; of two timings of one unit, the one with the smaller spread wins."""
        key = row["key"]
        if row.get("retried"):
            self.retried.add(key)
        old = self.rows.get(key)
        if old is None or _spread(row) < _spread(old):
            self.rows[key] = row

    def append(self, row: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab+") as f:  # writes go to the end whatever was read
            # a line that a previous kill cut short has no newline: start on a fresh line
            if f.seek(0, os.SEEK_END) > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    f.write(b"\n")
            f.write((json.dumps(row) + "\n").encode())
            f.flush()
            os.fsync(f.fileno())
        if "key" in row:
            self._keep(row)


NETWORK_PASSES = 3


@dataclass(frozen=True)
class NetworkJob:
    """One timing pass of one calibration network."""

    key: str
    index: int
    structure: str
    target: SpaceTarget
    pass_: int


def network_jobs(networks: list[tuple[str, SpaceTarget]], batch: int,
                 passes: int = NETWORK_PASSES) -> list[NetworkJob]:
    """Every pass of every network, pass-major, so a network's passes land far apart in time."""
    return [NetworkJob(f"network|{i}|p{p}|{structure}|r{target.resolution}|b{batch}", i, structure, target, p)
            for p in range(passes) for i, (structure, target) in enumerate(networks)]


def _time_network(job: NetworkJob, profile: DeviceProfile, rules: TimingRules, log: ProgressLog,
                  timer: ProbedTimer) -> None:
    from zenbench.space.spec import NetworkSpec
    from zenbench.validate import measure_network

    classes = CLASSES.get(job.target.resolution, 1000)
    with timer.around() as probed:  # timed as `zenbench measure` times it: the same rules, one instance a pass
        m = measure_network(NetworkSpec.parse(job.structure), profile, job.target.resolution, classes, rules=rules)
    stats = m.summary(scale=1000.0)
    log.append({"key": job.key, "network": True, "structure": job.structure, "space": job.target.space,
                "resolution": job.target.resolution, "num_classes": classes, "pass": job.pass_,
                "median_ms": stats["median"], "p10_ms": stats["p10"], "p90_ms": stats["p90"],
                "spread": stats["spread"], "noisy": bool(m.context.get("noisy")), "reference_ms": probed.reference_ms,
                "measured_at": time.time()})


def _network_rows(networks: list[tuple[str, SpaceTarget]], batch: int, rows: dict[str, dict[str, Any]]
                  ) -> list[dict[str, Any]]:
    """Per calibration network: its median pass (with every pass's median kept for the record)."""
    by_network: dict[int, list[dict[str, Any]]] = {}
    for job in network_jobs(networks, batch):
        if job.key in rows:
            by_network.setdefault(job.index, []).append(rows[job.key])
    out = []
    for runs in by_network.values():
        ordered = sorted(runs, key=lambda r: r["median_ms"])
        middle = ordered[(len(ordered) - 1) // 2]
        out.append({**{k: middle.get(k) for k in ("structure", "space", "resolution", "num_classes", "median_ms",
                                                   "p10_ms", "p90_ms", "spread", "noisy", "host_factor")},
                    "pass_medians_ms": [r["median_ms"] for r in runs],
                    "pass_host_factors": [r.get("host_factor", 1.0) for r in runs]})
    return out


def _spread(row: dict[str, Any]) -> float:
    return float(row.get("spread", row.get("cv", 0.0)))


def default_table_path(device: str) -> Path:
    return Path("latency_tables") / f"{device.replace(':', '-')}.parquet"


def calibration_networks(targets: Iterable[SpaceTarget], count: int, seed: int) -> list[tuple[str, SpaceTarget]]:
    """``count`` random networks spread over ``targets`` (deterministic for a seed), as structure strings."""
    import random

    from zenbench.space.sampling import random_network

    rng = random.Random(f"calibration-{seed}")
    targets = [t for t in targets if t.space in FAMILIES]
    return [(str(random_network(t.space, t.resolution, rng)), t) for t in (targets[i % len(targets)]
                                                                         for i in range(count if targets else 0))]


def profile_device(profile: DeviceProfile, *, targets: Iterable[SpaceTarget] | None = None, out: Path | None = None,
                   resume: bool = True, points: int = DEFAULT_POINTS, mac_cap: float = DEFAULT_MAC_CAP, seed: int = 0,
                   networks: int = DEFAULT_NETWORKS, grid_networks: int = DEFAULT_GRID_NETWORKS,
                   rules: TimingRules | None = None, host_speed: bool = True, retry_noisy: bool = True,
                   on_progress: Callable[[int, int, str], None] | None = None) -> LatencyTable:
    """Profile every grid unit of ``targets`` (default: the profile's spaces), then ``networks`` whole
    networks for the calibration, and write the table. With ``host_speed`` (and a backend that runs on
    a shared host) a reference network is timed between measurements and the table's timings are
    scaled to the profile's typical host speed (``zenbench.hostspeed``). Units still noisy after the
    first pass are timed once more unless ``retry_noisy`` is off."""
    backend = get_backend(profile.backend)
    backend.require(profile.settings)
    targets = tuple(targets or profile.spaces)
    if not targets:
        raise ZenbenchError(f"device {profile.name} lists no spaces to profile; pass --space/--resolution")
    out = out or default_table_path(profile.name)
    rules = rules or profile.timing
    jobs: dict[str, UnitJob] = {}
    for target in targets:
        for job in grid(target, points=points, mac_cap=mac_cap, seed=seed, batch=profile.batch,
                        grid_networks=grid_networks):
            jobs.setdefault(job.key, job)
    log_path = out.with_name(out.name + ".partial.jsonl")
    if not resume and log_path.exists():
        log_path.unlink()
    log = ProgressLog(log_path)
    if backend.shared_host:
        log.claim(profile.name)
    todo = [job for key, job in jobs.items() if key not in log.rows]
    done = len(jobs) - len(todo)
    if on_progress:
        on_progress(done, len(jobs), "")

    timer = ProbedTimer.for_backend(backend, profile.settings, rules.min_seconds, enabled=host_speed)

    def time_job(job: UnitJob, retried: bool = False) -> None:
        row = job.row(profile.batch)
        instances = HEAVY_INSTANCES if row["weight_elems"] * 4 > HEAVY_WEIGHT_BYTES else 1
        with timer.around() as probed:
            measurement = backend.time_instances(job.workload(profile.batch), profile.settings, rules, instances)
        stats = measurement.summary(scale=1000.0)
        log.append({**row, "median_ms": stats["median"], "mean_ms": stats["mean"],
                    "min_ms": stats["min"], "p10_ms": stats["p10"], "p90_ms": stats["p90"], "iqr_ms": stats["iqr"],
                    "cv": stats["cv"], "spread": stats["spread"], "runs": stats["runs"], "instances": instances,
                    "instance_spread": float(measurement.context.get("instance_spread", 0.0)),
                    "noisy": bool(measurement.context.get("noisy")), "retried": retried,
                    "reference_ms": probed.reference_ms, "measured_at": time.time()})

    try:
        net_jobs = [job for job in network_jobs(calibration_networks(targets, networks, seed), profile.batch)
                    if job.key not in log.rows]
        every = max(1, len(todo) // max(1, len(net_jobs)))  # spread the networks' passes over the whole profile
        for i, job in enumerate(todo):
            time_job(job)
            done += 1
            if on_progress:
                on_progress(done, len(jobs), job.key)
            if (i + 1) % every == 0 and net_jobs:
                _time_network(net_jobs.pop(0), profile, rules, log, timer)
        again = [job for key, job in jobs.items()
                 if retry_noisy and log.rows[key].get("noisy") and key not in log.retried]
        for i, job in enumerate(again):
            if on_progress:
                on_progress(done, len(jobs), f"re-measuring noisy unit {i + 1}/{len(again)}: {job.key}")
            time_job(job, retried=True)
        for i, net_job in enumerate(net_jobs):  # what the unit loop left (e.g. when resuming a finished unit pass)
            if on_progress:
                on_progress(done, len(jobs), f"whole network {i + 1}/{len(net_jobs)} for the calibration")
            _time_network(net_job, profile, rules, log, timer)
    finally:
        timer.close()
    logged = list(log.rows.values())
    typical = typical_reference_ms(logged)
    elasticity = fit_elasticity(logged)
    normalised = {row["key"]: row for row in normalise(logged, typical, elasticity=elasticity["elasticity"])}
    measured_networks = _network_rows(calibration_networks(targets, networks, seed), profile.batch, normalised)
    rows = pd.DataFrame([normalised[key] for key in jobs if key in normalised])
    grid_meta = {"targets": [t.__dict__ for t in targets], "points": points, "mac_cap": mac_cap, "seed": seed,
                 "grid_networks": grid_networks,
                 "units": len(jobs), "networks": networks, "timing": rules.__dict__}
    table = LatencyTable(rows, {**new_metadata(profile.describe(), environment(profile.threads), backend.versions(),
                                               grid_meta), "networks": measured_networks,
                                "host_speed": speed_summary(logged, typical, elasticity)})
    calibrate_table(table)
    table.save(out)
    log_path.unlink(missing_ok=True)
    return table
