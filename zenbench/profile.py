"""Time the units a search space is made of on a device, and write a latency table.

The grid. A space at a resolution can place a unit of each of its block types at a few
(resolution, stride) positions (``space.spaces.placements``), with a projection shortcut (a
block's first unit, or a width change) or an identity one, and with any channel widths that are
multiples of 8 up to 2048. That is far too many to time, so each kind (type x shortcut) gets a
sampled grid: ``points`` channel configurations per position, drawn log-uniformly from a
scrambled Sobol sequence (deterministic for a seed), widths rounded to multiples of 8, and
scaled down where a unit would exceed ``mac_cap`` multiply-accumulates (no budget of interest
admits it). Stems, final 1x1 convs and the GAP + classifier are profiled the same way. Off-grid
units are predicted by each kind's fitted model (``tables.KindModel``), whose leave-one-out
error the coverage report shows.

Resumable. Each measured unit is appended to ``<table>.partial.jsonl`` (one line, flushed and
fsynced) as soon as it is measured; ``resume=True`` skips every key already there, so a run
killed at any moment (Ctrl-C or SIGKILL) continues without losing or repeating a unit. A line cut
short by a kill is ignored and re-measured. The Parquet table is written atomically at the end.
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
from zenbench.devices import DeviceProfile, SpaceTarget
from zenbench.errors import ZenbenchError
from zenbench.measure import TimingRules, environment
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

            return Workload(shape, lambda: units_graph([unit], batch, self.resolution), make_torch, self.key)
        channels, classes = self.classifier  # type: ignore[misc]

        def make_head():
            from torch import nn

            return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, classes))

        return Workload(shape, lambda: head_graph(channels, classes, batch, self.resolution), make_head, self.key)

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
         batch: int = 1) -> list[UnitJob]:
    """Every unit configuration profiled for one space at one resolution (deterministic for a seed)."""
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
            sample = _sobol(3, points, rng_seed + 100 * t + p + 3)
            for cin, mid, cout in sample:
                a, m, b = _widths(np.array([cin, mid, cout]), max_c)
                add(_capped(lambda s, a=a, m=m, b=b, st=place.stride, bt=block_type: bt.make_unit(
                    scaled(a, s), scaled(m, s), scaled(b, s), st, True), place.resolution, mac_cap), place.resolution)
                if place.stride == 1:  # an identity unit: same width in and out
                    add(_capped(lambda s, m=m, b=b, bt=block_type: bt.make_unit(scaled(b, s), scaled(m, s), scaled(b, s), 1,
                                                                          False), place.resolution, mac_cap),
                        place.resolution)
    return list(jobs.values())


class ProgressLog:
    """The append-only record of measured units that makes profiling resumable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: dict[str, dict[str, Any]] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill: that unit is measured again
                if isinstance(row, dict) and "key" in row and "median_ms" in row:
                    self.rows.setdefault(row["key"], row)

    def append(self, row: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            # a line that a previous kill cut short has no newline: start on a fresh line
            if f.tell() > 0 and not self.path.read_bytes().endswith(b"\n"):
                f.write("\n")
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.rows[row["key"]] = row


def default_table_path(device: str) -> Path:
    return Path("latency_tables") / f"{device.replace(':', '-')}.parquet"


def profile_device(profile: DeviceProfile, *, targets: Iterable[SpaceTarget] | None = None, out: Path | None = None,
                   resume: bool = True, points: int = DEFAULT_POINTS, mac_cap: float = DEFAULT_MAC_CAP, seed: int = 0,
                   rules: TimingRules | None = None,
                   on_progress: Callable[[int, int, str], None] | None = None) -> LatencyTable:
    """Profile every grid unit of ``targets`` (default: the profile's spaces) and write the table."""
    backend = get_backend(profile.backend)
    backend.require(profile.settings)
    targets = tuple(targets or profile.spaces)
    if not targets:
        raise ZenbenchError(f"device {profile.name} lists no spaces to profile; pass --space/--resolution")
    out = out or default_table_path(profile.name)
    rules = rules or profile.timing
    jobs: dict[str, UnitJob] = {}
    for target in targets:
        for job in grid(target, points=points, mac_cap=mac_cap, seed=seed, batch=profile.batch):
            jobs.setdefault(job.key, job)
    log_path = out.with_name(out.name + ".partial.jsonl")
    if not resume and log_path.exists():
        log_path.unlink()
    log = ProgressLog(log_path)
    todo = [job for key, job in jobs.items() if key not in log.rows]
    done = len(jobs) - len(todo)
    if on_progress:
        on_progress(done, len(jobs), "")
    for job in todo:
        runnable = backend.prepare(job.workload(profile.batch), profile.settings)
        try:
            measurement = backend.time(runnable, rules)
        finally:
            runnable.close()
        stats = measurement.summary(scale=1000.0)
        log.append({**job.row(profile.batch), "median_ms": stats["median"], "mean_ms": stats["mean"],
                    "min_ms": stats["min"], "p10_ms": stats["p10"], "p90_ms": stats["p90"], "iqr_ms": stats["iqr"],
                    "cv": stats["cv"], "runs": stats["runs"], "noisy": bool(measurement.context.get("noisy")),
                    "measured_at": time.time()})
        done += 1
        if on_progress:
            on_progress(done, len(jobs), job.key)
    rows = pd.DataFrame([log.rows[key] for key in jobs if key in log.rows])
    grid_meta = {"targets": [t.__dict__ for t in targets], "points": points, "mac_cap": mac_cap, "seed": seed,
                 "units": len(jobs), "timing": rules.__dict__}
    table = LatencyTable(rows, new_metadata(profile.describe(), environment(profile.threads), backend.versions(),
                                            grid_meta))
    table.save(out)
    log_path.unlink(missing_ok=True)
    return table
