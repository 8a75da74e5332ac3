"""Whole networks measured end to end, and a latency table's predictions checked against them.

``measure_network`` times a network on a device with the profiler's backend and its timing rules for
whole networks (``TimingRules.for_networks``). ``validate_table`` draws random networks across the
space's latency range that the table has never seen (plus, optionally, the ZenNet zoo), measures
them, reports the table's error on them, plots predicted vs measured, and writes the error into the
table's metadata. The calibration comes from the networks ``zenbench profile`` measured; an optional
extra calibration sample, drawn separately, is measured and added to them first.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zenbench.backends.base import Workload, get_backend
from zenbench.backends.onnx_graph import network_graph
from zenbench.backends.tflite_graph import network_tflite
from zenbench.budget import calibrate_table, error_metrics, predict_latency
from zenbench.devices import DeviceProfile
from zenbench.errors import ZenbenchError
from zenbench.fileio import atomic_write_text
from zenbench.hostspeed import ProbedTimer, profile_elasticity
from zenbench.measure import Measurement, TimingRules, median_instance
from zenbench.space.sampling import random_network
from zenbench.space.spec import NetworkSpec
from zenbench.tables import LatencyTable


def network_workload(spec: NetworkSpec, batch: int, resolution: int, num_classes: int, se: bool = False) -> Workload:
    def make_torch():
        from zenbench.space.network import build_model

        return build_model(spec, num_classes, se=se).eval()

    # TFLite: written directly, op for op what litert-torch converts (seconds a network); SE is left to the converter
    make_tflite = None if se else (lambda: network_tflite(spec, batch, resolution, num_classes))
    return Workload((batch, spec.in_channels, resolution, resolution),
                    lambda: network_graph(spec, batch, resolution, num_classes, se=se), make_torch, str(spec),
                    make_tflite=make_tflite)


def measure_network(spec: NetworkSpec, profile: DeviceProfile, resolution: int = 224, num_classes: int = 1000,
                    se: bool = False, rules: TimingRules | None = None, instances: int = 1) -> Measurement:
    """End-to-end latency of the whole network on the device (batch latency; see ``per_image``): the
    median of ``instances`` separately built instances (``measure.median_instance``), each timed under
    ``rules.for_networks()``."""
    backend = get_backend(profile.backend)
    return backend.time_instances(network_workload(spec, profile.batch, resolution, num_classes, se),
                                  profile.settings, (rules or profile.timing).for_networks(), instances)


@dataclass
class ValidationPoint:
    structure: str
    name: str
    resolution: int
    num_classes: int
    measured_ms: float
    measured_p10_ms: float
    measured_p90_ms: float
    raw_sum_ms: float = 0.0
    units: int = 0
    predicted_ms: float = 0.0
    #: the measured latency scaled to the profile's typical host speed (``zenbench.hostspeed``): what the
    #: network would have measured at the speed the table was profiled at; 0 when the speed was not probed
    at_profile_speed_ms: float = 0.0
    #: reference network latency around the chosen pass (ms; 0 when not probed)
    reference_ms: float = 0.0

    def as_network(self) -> dict[str, Any]:
        """The row a table's ``networks`` list keeps for its calibration: at the profile's host speed when
        that was probed, like the networks the profile timed itself."""
        factor = self.at_profile_speed_ms / self.measured_ms if self.at_profile_speed_ms else 1.0
        return {"structure": self.structure, "space": self.name.split("-")[0], "resolution": self.resolution,
                "num_classes": self.num_classes, "median_ms": self.measured_ms * factor,
                "p10_ms": self.measured_p10_ms * factor, "p90_ms": self.measured_p90_ms * factor,
                "host_factor": factor}


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


def _predict_points(table: LatencyTable, points: list[ValidationPoint]) -> None:
    """Fill in each point's prediction (batch latency, like the measurement)."""
    scale = table.batch if table.per_image else 1
    for p in points:
        prediction = predict_latency(NetworkSpec.parse(p.structure), table, p.resolution, p.num_classes)
        p.raw_sum_ms, p.units = prediction.raw_sum_ms * scale, prediction.unit_count
        p.predicted_ms = prediction.value_ms * scale


def validate_table(table_path: Path, profile: DeviceProfile, *, n: int = 100, calibration_n: int = 0, seed: int = 0,
                   space: str | None = None, resolution: int = 224, num_classes: int = 1000, zoo: bool = True,
                   passes: int = 3, out_dir: Path | None = None,
                   on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Report the table's error on ``n`` random networks it has never seen (and on the zoo).

    The calibration comes from the networks the profile measured; ``calibration_n`` more (a
    separate sample) are measured and added to them first."""
    from zenbench.zoo import get_zoo_model, list_models

    table = LatencyTable.load(table_path, expect=profile.describe())
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
            if m.resolution == resolution:
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
    return _evaluate(table, table_path, profile.name, cal, val, zoo_points, out_dir,
                     {"seed": seed, "spaces": spaces, "resolution": resolution}, profile_reference_ms)


def validation_dir(table_path: Path) -> Path:
    """Where a table's validation report and plot go: ``latency_tables/DEVICE-validation/``."""
    return table_path.with_suffix("").with_name(table_path.stem + "-validation")


def _evaluate(table: LatencyTable, table_path: Path, device: str, cal: list[ValidationPoint],
              val: list[ValidationPoint], zoo_points: list[ValidationPoint], out_dir: Path, sample: dict[str, Any],
              profile_reference_ms: float | None) -> dict[str, Any]:
    """Fit the calibration, score the measured points, and write the table, the report and the plot."""
    calibration = calibrate_table(table)
    if calibration is None:
        raise ZenbenchError(f"{table_path} has fewer than 8 networks measured end to end to calibrate on; "
                            f"re-profile it with `zenbench profile` or pass --calibration-n 40")
    _predict_points(table, cal + val + zoo_points)
    metrics = error_metrics([p.predicted_ms for p in val], [p.measured_ms for p in val])
    uncalibrated = error_metrics([p.raw_sum_ms for p in val], [p.measured_ms for p in val])
    zoo_metrics = error_metrics([p.predicted_ms for p in zoo_points], [p.measured_ms for p in zoo_points]) \
        if len(zoo_points) > 2 else {}
    host = _host_speed_report(val, profile_reference_ms)
    table.metadata["validation"] = {**metrics, "uncalibrated": uncalibrated, "zoo": zoo_metrics, **sample,
                                    "calibration_networks": len(table.metadata["networks"]), "host_speed": host}
    table.save(table_path)
    result = {"table": str(table_path), "device": device, "calibration": calibration, "metrics": metrics,
              "uncalibrated": uncalibrated, "zoo_metrics": zoo_metrics, "host_speed": host, "sample": sample,
              "points": {"calibration": [p.__dict__ for p in cal], "validation": [p.__dict__ for p in val],
                         "zoo": [p.__dict__ for p in zoo_points]}}
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "validation.json", json.dumps(result, indent=2))
    result["plot"] = str(scatter(val, zoo_points, metrics, device, out_dir / "predicted_vs_measured.png"))
    return result


def recalibrate(table_path: Path, out_dir: Path | None = None) -> dict[str, Any]:
    """Refit a table's calibration to the networks it stores and, where it was validated, score the stored
    validation measurements again: what a change to the calibration model does, without measuring anew.
    Returns the new calibration, and the validation report when there was one to rescore."""
    table = LatencyTable.load(table_path)
    report_path = (out_dir or validation_dir(table_path)) / "validation.json"
    if not report_path.exists():
        calibration = calibrate_table(table)
        if calibration is None:
            raise ZenbenchError(f"{table_path} has fewer than 8 networks measured end to end to calibrate on")
        table.save(table_path)
        return {"table": str(table_path), "calibration": calibration}
    report = json.loads(report_path.read_text())
    known = set(ValidationPoint.__dataclass_fields__)
    points = {kind: [ValidationPoint(**{k: v for k, v in p.items() if k in known}) for p in report["points"][kind]]
              for kind in ("calibration", "validation", "zoo")}
    stored = table.metadata.get("validation") or {}
    sample = report.get("sample") or {k: stored[k] for k in ("seed", "spaces", "resolution") if k in stored}
    reference = (report.get("host_speed") or {}).get("profile_reference_ms")
    return _evaluate(table, table_path, report["device"], points["calibration"], points["validation"], points["zoo"],
                     report_path.parent, sample, reference)


def _host_speed_report(points: list[ValidationPoint], profile_reference_ms: float | None) -> dict[str, Any]:
    """How fast the host ran while validating, relative to the profile, and the table's error on the
    measurements scaled back to the profile's speed: the part of the error the table itself makes."""
    probed = [p for p in points if p.reference_ms > 0]
    if not profile_reference_ms or not probed:
        return {}
    references = sorted(p.reference_ms for p in probed)
    slowdown = references[len(references) // 2] / profile_reference_ms
    return {"slowdown_vs_profile": slowdown, "profile_reference_ms": profile_reference_ms,
            "at_profile_speed": error_metrics([p.predicted_ms for p in probed], [p.at_profile_speed_ms for p in probed])}


def scatter(points: list[ValidationPoint], zoo: list[ValidationPoint], metrics: dict[str, float], device: str,
            path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=110)
    measured = np.array([p.measured_ms for p in points + zoo])
    lo, hi = measured.min() * 0.7, measured.max() * 1.4
    line = np.geomspace(lo, hi, 50)
    ax.fill_between(line, line * 0.9, line * 1.1, color="tab:green", alpha=0.15, label="±10 %")
    ax.plot(line, line, color="tab:green", lw=1)
    ax.scatter([p.measured_ms for p in points], [p.predicted_ms for p in points], s=10, label="random networks")
    if zoo:
        ax.scatter([p.measured_ms for p in zoo], [p.predicted_ms for p in zoo], s=25, marker="*", color="tab:red",
                   label="ZenNet zoo")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured latency (ms, median)")
    ax.set_ylabel("predicted latency (ms)")
    ax.set_title(f"{device}: MAPE {metrics['mape']:.1%}, within ±10 % {metrics['within_10']:.0%}, "
                 f"Spearman {metrics['spearman']:.3f} (n={metrics['n']})", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path
