"""What an adaptation starts from: the source table (found, checked against the device), the networks it
samples, the sums a calibration is fitted on, and what a time budget buys.

Kept apart from the run (:mod:`zenbench.builder.adapt`) because the benchmark and the tests use these
without measuring anything.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from zenbench.builder.grid import CLASSES
from zenbench.devices import DeviceProfile, SpaceTarget
from zenbench.errors import AdaptSourceError
from zenbench.latency import LatencyTable
from zenbench.latency.predictor import as_predictor, network_sums
from zenbench.locate import SHIPPED_TABLES, find_table, table_file_name
from zenbench.measure import TimingRules
from zenbench.space.sampling import random_network
from zenbench.space.spec import NetworkSpec

#: what kind of device a backend times: a source table is only adapted within one kind
DEVICE_KINDS = {"onnxruntime": "host CPU", "litert": "host CPU", "torch": "host CPU", "tensorrt": "GPU",
                "adb": "phone"}
#: seconds to build one network for timing (export, session, warm caches) beyond its timed runs; an
#: estimate for the budget, corrected by the ratio of measured to estimated time as passes complete
BUILD_SECONDS = 0.6


@dataclass(frozen=True)
class SampledNetwork:
    """One random network an adaptation (or its benchmark) measures: its index in the seeded sequence."""

    index: int
    space: str
    structure: str
    resolution: int
    num_classes: int

    @property
    def spec(self) -> NetworkSpec:
        return NetworkSpec.parse(self.structure)


def source_path(profile: DeviceProfile, source: Path | None) -> Path:
    """``source``, else the device's shipped table (the one profiled elsewhere), else :func:`find_table`."""
    if source is not None:
        return source
    shipped = SHIPPED_TABLES / table_file_name(profile.name)
    found = shipped if shipped.exists() else find_table(profile.name)
    if not found.exists():
        raise AdaptSourceError(f"no {profile.name} table to adapt (none shipped, none at {found}); pass --from "
                               f"TABLE, or run the full profile: zenbench profile --device {profile.name}")
    return found


def check_source(table: LatencyTable, path: Path, profile: DeviceProfile, explicit: bool) -> bool:
    """Refuse a source of another device kind, precision or batch (by name); another backend of the same kind
    only when named with ``--from`` (``explicit``). Returns whether the source is of another runtime."""
    device = table.metadata.get("device") or {}
    backend, wanted = device.get("backend"), profile.backend
    kind, wanted_kind = DEVICE_KINDS.get(str(backend), str(backend)), DEVICE_KINDS.get(wanted, wanted)
    if kind != wanted_kind:
        raise AdaptSourceError(f"{path} is a {kind} table ({backend}); {profile.name} is a {wanted_kind} "
                               f"({wanted}): pass --from a {wanted_kind} table")
    for key in ("precision", "batch", "per_image"):
        if device.get(key, {"precision": "fp32", "batch": 1, "per_image": False}[key]) != profile.describe()[key]:
            raise AdaptSourceError(f"{path} was measured with {key}={device.get(key)!r}, {profile.name} runs with "
                                   f"{key}={profile.describe()[key]!r}: pass --from a table of the same {key}")
    if backend != wanted and not explicit:
        raise AdaptSourceError(f"{path} was measured with backend {backend!r}, {profile.name} runs {wanted!r}; "
                               f"to adapt across runtimes, name the table with --from {path}")
    if "grid" not in table.metadata or not table.metadata["grid"].get("targets"):
        raise AdaptSourceError(f"{path} lists no spaces it was profiled for; pass --from a table made by "
                               f"`zenbench profile`")
    return backend != wanted


def source_targets(table: LatencyTable) -> list[SpaceTarget]:
    """The spaces and resolutions the source table was profiled for (what the adaptation samples)."""
    return [SpaceTarget(t["space"], int(t["resolution"])) for t in table.metadata["grid"]["targets"]]


def sample_networks(targets: Sequence[SpaceTarget], seed: int, tag: str = "adapt") -> Iterator[SampledNetwork]:
    """Random networks round-robin over ``targets``, with validation's sampler; the same sequence for the same
    seed and tag, so a resumed adaptation meets the networks it measured before."""
    rng = random.Random(f"{tag}-{seed}")
    index = 0
    while True:
        target = targets[index % len(targets)]
        spec = random_network(target.space, target.resolution, rng)
        yield SampledNetwork(index, target.space, str(spec), target.resolution, CLASSES.get(target.resolution, 1000))
        index += 1


def predicted_ms(table: LatencyTable, network: SampledNetwork) -> float:
    """The source table's prediction of a network's batch latency (ms): what the budget estimate starts from."""
    p = as_predictor(table).predict(network.spec, network.resolution, network.num_classes)
    return p.value_ms * (table.batch if table.per_image else 1)


def timing_seconds(latency_ms: float, rules: TimingRules, build_seconds: float) -> float:
    """Estimated wall time of timing one model of ``latency_ms`` under ``rules`` as given: building it, the
    warm-up, and every round of at least ``min_runs`` calls and ``min_seconds``."""
    seconds = latency_ms / 1000
    warmup = max(rules.warmup_runs * seconds, rules.warmup_seconds)
    return build_seconds + warmup + rules.rounds * max(rules.min_runs * seconds, rules.min_seconds)


def pass_seconds(latency_ms: float, rules: TimingRules) -> float:
    """Estimated wall time of one timing pass of a whole network of ``latency_ms`` (``rules.for_networks()``)."""
    return timing_seconds(latency_ms, rules.for_networks(), BUILD_SECONDS)


__all__ = ["BUILD_SECONDS", "DEVICE_KINDS", "SampledNetwork", "check_source", "network_sums", "pass_seconds",
           "predicted_ms", "sample_networks", "source_path", "source_targets", "timing_seconds"]
