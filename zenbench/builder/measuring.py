"""Whole networks measured end to end on a device, and a table validated against them.

``measure_network`` times one network with the profile's backend and its rules for whole networks;
``measure_networks`` times many in round-robin passes (a shared host's speed drifts over tens of
seconds, longer than one measurement) and keeps each one's median pass. ``validate_table`` measures
random networks the table has never seen (and the ZenNet zoo) and hands them to
:func:`zenbench.latency.evaluation.evaluate`, which scores them and writes the report.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zenbench.backends.base import get_backend
from zenbench.builder.hostspeed import ProbedTimer, profile_elasticity
from zenbench.builder.workloads import network_workload
from zenbench.devices import DeviceProfile
from zenbench.errors import ZenbenchError
from zenbench.latency.evaluation import ValidationPoint, evaluate, validation_dir
from zenbench.latency.table import LatencyTable
from zenbench.measure import Measurement, TimingRules, median_instance
from zenbench.space.sampling import random_network
from zenbench.space.spec import NetworkSpec


def measure_network(spec: NetworkSpec, profile: DeviceProfile, resolution: int = 224, num_classes: int = 1000,
                    se: bool = False, rules: TimingRules | None = None, instances: int = 1) -> Measurement:
    """End-to-end latency of the whole network on the device (batch latency; see ``per_image``): the
    median of ``instances`` separately built instances (``measure.median_instance``), each timed under
    ``rules.for_networks()``."""
    backend = get_backend(profile.backend)
    return backend.time_instances(network_workload(spec, profile.batch, resolution, num_classes, se),
                                  profile.settings, (rules or profile.timing).for_networks(), instances)


def measure_networks(specs: list[tuple[NetworkSpec, int, int]], profile: DeviceProfile, *, passes: int = 3,
                     rules: TimingRules | None = None, timer: ProbedTimer | None = None,
                     on_progress: Callable[[int], None] | None = None) -> list[Measurement]:
    """Measure many networks in ``passes`` round-robin passes (each as ``zenbench measure`` times one
    instance, under the same rules) and keep, per network, the samples of its median pass
    (``median_instance``, every pass's median in its context).

    On a shared host the machine's speed drifts in regimes of tens of seconds (measured here: a
    memory-bound network runs at 3.3 ms for a minute, then 3.7 ms, then 4.4 ms), far longer than
    one measurement, so repeating a measurement at once cannot see it. Passes spread each
    network's timing over the whole run; the median pass is immune to one disturbed pass. With a
    ``timer`` each pass also records the reference network's latency around it (``pass_references_ms``)."""
    rules = rules or profile.timing
    timer = timer or ProbedTimer(None)
    found: list[list[Measurement]] = [[] for _ in specs]
    references: list[list[float | None]] = [[] for _ in specs]
    for p in range(max(1, passes)):
        for i, (spec, resolution, classes) in enumerate(specs):
            with timer.around() as probed:
                found[i].append(measure_network(spec, profile, resolution, classes, rules=rules))
            references[i].append(probed.reference_ms)
            if on_progress:
                on_progress(p * len(specs) + i + 1)
    chosen = []
    for runs, refs in zip(found, references, strict=True):
        middle = median_instance(runs)
        context = {k: v for k, v in middle.context.items() if not k.startswith("instance_")}
        chosen.append(Measurement(middle.samples, {**context, "pass_medians": [m.median for m in runs],
                                                   "pass_references_ms": refs}, middle.reported))
    return chosen


def _measure_points(specs: list[tuple[str, NetworkSpec, int, int]], profile: DeviceProfile, passes: int,
                    on_progress: Callable[[int, int], None] | None, offset: int, total: int,
                    timer: ProbedTimer, profile_reference_ms: float | None,
                    elasticity: float = 1.0) -> list[ValidationPoint]:
    measured = measure_networks([(spec, res, classes) for _, spec, res, classes in specs], profile, passes=passes,
                                timer=timer,
                                on_progress=lambda done: on_progress(offset + done, total) if on_progress else None)
    points = []
    for (name, spec, resolution, classes), m in zip(specs, measured, strict=True):
        point = ValidationPoint(str(spec), name, resolution, classes, m.median * 1000, m.p10 * 1000, m.p90 * 1000)
        refs = m.context["pass_references_ms"]
        if profile_reference_ms and all(refs):
            scaled = sorted(ms * 1000 * (profile_reference_ms / ref) ** elasticity
                            for ms, ref in zip(m.context["pass_medians"], refs, strict=True))
            point.at_profile_speed_ms = scaled[(len(scaled) - 1) // 2]
            point.reference_ms = float(sorted(refs)[(len(refs) - 1) // 2])
        points.append(point)
    return points


def _covers(table: LatencyTable, spec: NetworkSpec, resolution: int, num_classes: int) -> bool:
    """Whether the table can predict ``spec`` (its unit kinds were profiled): a zoo model of a space the table
    does not cover is left out of its validation rather than measured and then refused."""
    from zenbench.latency import predict_latency

    try:
        predict_latency(spec, table, resolution, num_classes)
    except ZenbenchError:
        return False
    return True


def validate_table(table_path: Path, profile: DeviceProfile, *, n: int = 100, calibration_n: int = 0, seed: int = 0,
                   space: str | None = None, resolution: int = 224, num_classes: int = 1000, zoo: bool = True,
                   passes: int = 3, out_dir: Path | None = None,
                   on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Report the table's error on ``n`` random networks it has never seen (and on the zoo).

    The calibration comes from the networks the profile measured; ``calibration_n`` more (a
    separate sample) are measured and added to them first."""
    from zenbench.zoo import get_zoo_model, list_models

    table = LatencyTable.load(table_path, expect=profile.describe())
    if calibration_n and table.metadata.get("adaptation"):
        raise ZenbenchError(f"{table_path} is adapted and keeps its adaptation's calibration; to adapt it on more "
                            f"networks run `zenbench profile --device {profile.name} --minutes M` with a larger M")
    spaces = [space] if space else sorted({t["space"] for t in table.metadata["grid"]["targets"]
                                           if t["resolution"] == resolution})
    rng = random.Random(f"validate-{seed}")

    def sample(count: int, tag: str) -> list[tuple[str, NetworkSpec, int, int]]:
        return [(f"{spaces[i % len(spaces)]}-{tag}-{i}", random_network(spaces[i % len(spaces)], resolution, rng),
                 resolution, num_classes) for i in range(count)]

    calibration_specs, validation_specs = sample(calibration_n, "cal"), sample(n, "val")
    zoo_specs = []
    if zoo:
        for name in list_models("zennet_imagenet1k_*"):
            m = get_zoo_model(name)
            if m.resolution == resolution and _covers(table, m.spec, m.resolution, m.num_classes):
                zoo_specs.append((name, m.spec, m.resolution, m.num_classes))
    total = (len(calibration_specs) + len(validation_specs) + len(zoo_specs)) * max(1, passes)
    profile_reference_ms = (table.metadata.get("host_speed") or {}).get("typical_ms")
    elasticity = profile_elasticity(table.metadata)  # scale measurements to the profile's speed as the profile did
    backend = get_backend(profile.backend)
    timer = ProbedTimer.for_backend(backend, profile.settings, profile.timing.min_seconds,
                                    enabled=bool(profile_reference_ms))
    try:
        cal = _measure_points(calibration_specs, profile, passes, on_progress, 0, total, timer, profile_reference_ms,
                              elasticity)
        val = _measure_points(validation_specs, profile, passes, on_progress, len(cal) * passes, total, timer,
                              profile_reference_ms, elasticity)
        zoo_points = _measure_points(zoo_specs, profile, passes, on_progress, (len(cal) + len(val)) * passes, total,
                                     timer, profile_reference_ms, elasticity)
    finally:
        timer.close()
    table.metadata["networks"] = (table.metadata.get("networks") or []) + [p.as_network() for p in cal]
    out_dir = out_dir or validation_dir(table_path)
    return evaluate(table, table_path, profile.name, cal, val, zoo_points, out_dir,
                     {"seed": seed, "spaces": spaces, "resolution": resolution}, profile_reference_ms)


