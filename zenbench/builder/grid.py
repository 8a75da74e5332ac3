"""The units a profile times: a sampled grid per unit kind and position, plus the units of real networks.

A space at a resolution admits far too many unit configurations to time, so each kind (block type x
shortcut) gets a deterministic scrambled-Sobol sample of widths per (resolution, stride) position,
log-uniform over the widths networks use there, plus wide points, the narrowest corners, and every
unit of a few random networks of the space (whose widths are correlated in ways a grid is not).
Off-grid units are predicted by the table's models (:mod:`zenbench.latency.models`). The reasons
behind each constant are in docs/latency-model.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from zenbench.backends.base import Workload
from zenbench.builder.workloads import head_workload, unit_workload
from zenbench.devices import SpaceTarget
from zenbench.errors import ZenbenchError
from zenbench.latency.units import CLASSIFIER_KIND, classifier_features, classifier_key, unit_features, unit_key, unit_kind, unit_mid
from zenbench.space.blocks import BLOCKS
from zenbench.space.spaces import FAMILIES, HEAD, MAX_CHANNELS, STEM, final_resolution, placements, stem_stride
from zenbench.space.units import Unit

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
        if self.unit is not None:
            return unit_workload(self.unit, batch, self.resolution, self.key)
        channels, classes = self.classifier  # type: ignore[misc]
        return head_workload(channels, classes, batch, self.resolution, self.key)

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
        jobs.setdefault(key, UnitJob(key, CLASSIFIER_KIND, last, classifier=(channels, classes)))
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
        jobs.setdefault(key, UnitJob(key, CLASSIFIER_KIND, res, classifier=(spec.out_channels, classes)))
    return list(jobs.values())


def _grid_networks(space: str, resolution: int, count: int, seed: int) -> list:
    """Random networks whose units join the grid: the units networks of the space are really made of, drawn
    from the same sampler as (but other seeds than) the calibration and validation networks."""
    import random

    from zenbench.space.sampling import random_network

    rng = random.Random(f"grid-{space}-{resolution}-{seed}")
    return [random_network(space, resolution, rng) for _ in range(count)]


def calibration_networks(targets: Iterable[SpaceTarget], count: int, seed: int) -> list[tuple[str, SpaceTarget]]:
    """``count`` random networks spread over ``targets`` (deterministic for a seed), as structure strings."""
    import random

    from zenbench.space.sampling import random_network

    rng = random.Random(f"calibration-{seed}")
    targets = [t for t in targets if t.space in FAMILIES]
    return [(str(random_network(t.space, t.resolution, rng)), t) for t in (targets[i % len(targets)]
                                                                         for i in range(count if targets else 0))]


