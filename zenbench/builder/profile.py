"""The profile run: time every grid unit and the calibration networks on a device, write a latency table.

Resumable: every timing is appended to ``<table>.partial.jsonl`` (one fsynced line) as soon as it is
made, so a run killed at any moment continues without losing or repeating one; a line cut short by a
kill is measured again, and a log another host started is not resumed here. Noisy units are timed
once more, calibration networks are interleaved with the units over the whole run, and a reference
network probes the host's speed between measurements (:mod:`zenbench.builder.hostspeed`). The table
is written atomically at the end, its unit models' channel padding chosen by the networks' error
(:func:`zenbench.latency.predictor.fit_units_on_networks`), and calibrated (:func:`zenbench.latency.calibrate_table`).
Why each of these is needed, with the measurements, is in docs/latency-model.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from zenbench.backends.base import get_backend
from zenbench.builder.grid import (
    CLASSES,
    DEFAULT_GRID_NETWORKS,
    DEFAULT_MAC_CAP,
    DEFAULT_NETWORKS,
    DEFAULT_POINTS,
    HEAVY_INSTANCES,
    HEAVY_WEIGHT_BYTES,
    UnitJob,
    calibration_networks,
    grid,
)
from zenbench.builder.hostspeed import ProbedTimer, fit_elasticity, normalise, speed_summary, typical_reference_ms
from zenbench.builder.measuring import measure_network
from zenbench.devices import DeviceProfile, SpaceTarget
from zenbench.errors import ZenbenchError
from zenbench.fileio import Journal
from zenbench.host import host_differences, host_fingerprint
from zenbench.latency import LatencyTable, calibrate_table, new_metadata
from zenbench.latency.predictor import fit_units_on_networks
from zenbench.locate import output_table_path
from zenbench.measure import TimingRules, environment


class ProgressLog:
    """The measured units of a profile, kept in an append-only :class:`~zenbench.fileio.Journal` that makes
    profiling resumable: of two timings of one unit, the one with the smaller spread wins."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.journal = Journal(path)
        self.rows: dict[str, dict[str, Any]] = {}
        self.retried: set[str] = set()
        self.host: dict[str, Any] | None = None  # the fingerprint of the host that started the log
        for row in self.journal.records():  # a line cut short by a kill is skipped: that unit is measured again
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
        """Record one row in the journal (fsynced) and in memory."""
        self.journal.append(row)
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
    """Where a profile writes its table: ``./latency_tables/DEVICE.parquet`` (:mod:`zenbench.locate`)."""
    return output_table_path(device)


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
    fit_units_on_networks(table)
    calibrate_table(table)
    table.save(out)
    log_path.unlink(missing_ok=True)
    return table
