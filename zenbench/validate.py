"""Whole networks measured end to end, and a latency table's predictions checked against them.

``measure_network`` times a network on a device with the same backend and timing rules as the
profiler. ``validate_table`` draws a calibration sample and a separate validation sample of
random networks across the space's latency range (plus, optionally, the ZenNet zoo), fits the
whole-network calibration (``budget.fit_calibration``) on the first, reports the error on the
second, plots predicted vs measured, and writes calibration and error into the table's metadata.
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
from zenbench.budget import error_metrics, fit_calibration, predict_latency
from zenbench.devices import DeviceProfile
from zenbench.fileio import atomic_write_text
from zenbench.measure import Measurement
from zenbench.space.sampling import random_network
from zenbench.space.spec import NetworkSpec
from zenbench.tables import LatencyTable


def network_workload(spec: NetworkSpec, batch: int, resolution: int, num_classes: int, se: bool = False) -> Workload:
    def make_torch():
        from zenbench.space.network import build_model

        return build_model(spec, num_classes, se=se).eval()

    return Workload((batch, spec.in_channels, resolution, resolution),
                    lambda: network_graph(spec, batch, resolution, num_classes, se=se), make_torch, str(spec))


def measure_network(spec: NetworkSpec, profile: DeviceProfile, resolution: int = 224, num_classes: int = 1000,
                    se: bool = False) -> Measurement:
    """End-to-end latency of the whole network on the device (batch latency; see ``per_image``)."""
    backend = get_backend(profile.backend)
    runnable = backend.prepare(network_workload(spec, profile.batch, resolution, num_classes, se), profile.settings)
    try:
        return backend.time(runnable, profile.timing)
    finally:
        runnable.close()


@dataclass
class ValidationPoint:
    structure: str
    name: str
    raw_sum_ms: float
    units: int
    measured_ms: float
    measured_p10_ms: float
    measured_p90_ms: float
    predicted_ms: float = 0.0


def _measure_points(specs: list[tuple[str, NetworkSpec, int, int]], table: LatencyTable, profile: DeviceProfile,
                    on_progress: Callable[[int, int], None] | None, offset: int, total: int) -> list[ValidationPoint]:
    points = []
    for i, (name, spec, resolution, classes) in enumerate(specs):
        raw = predict_latency(spec, table, resolution, classes)
        units = sum(len(b.units()) for b in spec.blocks) + (1 if classes else 0)
        m = measure_network(spec, profile, resolution, classes)
        points.append(ValidationPoint(str(spec), name, raw.raw_sum_ms * (table.batch if table.per_image else 1), units,
                                      m.median * 1000, m.p10 * 1000, m.p90 * 1000))
        if on_progress:
            on_progress(offset + i + 1, total)
    return points


def validate_table(table_path: Path, profile: DeviceProfile, *, n: int = 100, calibration_n: int = 40, seed: int = 0,
                   space: str | None = None, resolution: int = 224, num_classes: int = 1000, zoo: bool = True,
                   out_dir: Path | None = None, on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Calibrate on ``calibration_n`` random networks, report the error on ``n`` others (and the zoo)."""
    from zenbench.zoo import get_zoo_model, list_models

    table = LatencyTable.load(table_path, expect=profile.describe())
    table.metadata.pop("calibration", None)
    spaces = [space] if space else sorted({t["space"] for t in table.metadata["grid"]["targets"]
                                           if t["resolution"] == resolution})
    rng = random.Random(seed)

    def sample(count: int, tag: str) -> list[tuple[str, NetworkSpec, int, int]]:
        return [(f"{tag}-{i}", random_network(spaces[i % len(spaces)], resolution, rng), resolution, num_classes)
                for i in range(count)]

    calibration_specs, validation_specs = sample(calibration_n, "cal"), sample(n, "val")
    zoo_specs = []
    if zoo:
        for name in list_models("zennet_imagenet1k_*"):
            m = get_zoo_model(name)
            if m.resolution == resolution:
                zoo_specs.append((name, m.spec, m.resolution, m.num_classes))
    total = len(calibration_specs) + len(validation_specs) + len(zoo_specs)
    cal = _measure_points(calibration_specs, table, profile, on_progress, 0, total)
    val = _measure_points(validation_specs, table, profile, on_progress, len(cal), total)
    zoo_points = _measure_points(zoo_specs, table, profile, on_progress, len(cal) + len(val), total)
    calibration = fit_calibration([p.raw_sum_ms for p in cal], [p.units for p in cal], [p.measured_ms for p in cal])
    table.metadata["calibration"] = calibration
    for p in cal + val + zoo_points:
        p.predicted_ms = table_predicted(table, p)
    metrics = error_metrics([p.predicted_ms for p in val], [p.measured_ms for p in val])
    uncalibrated = error_metrics([p.raw_sum_ms for p in val], [p.measured_ms for p in val])
    zoo_metrics = error_metrics([p.predicted_ms for p in zoo_points], [p.measured_ms for p in zoo_points]) \
        if len(zoo_points) > 2 else {}
    table.metadata["validation"] = {**metrics, "uncalibrated": uncalibrated, "zoo": zoo_metrics, "seed": seed,
                                    "calibration_n": calibration_n, "spaces": spaces, "resolution": resolution}
    table.save(table_path)
    out_dir = out_dir or table_path.with_suffix("").with_name(table_path.stem + "-validation")
    result = {"table": str(table_path), "device": profile.name, "calibration": calibration, "metrics": metrics,
              "uncalibrated": uncalibrated, "zoo_metrics": zoo_metrics,
              "points": {"calibration": [p.__dict__ for p in cal], "validation": [p.__dict__ for p in val],
                         "zoo": [p.__dict__ for p in zoo_points]}}
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "validation.json", json.dumps(result, indent=2))
    result["plot"] = str(scatter(val, zoo_points, metrics, profile.name, out_dir / "predicted_vs_measured.png"))
    return result


def table_predicted(table: LatencyTable, point: ValidationPoint) -> float:
    from zenbench.budget import calibrated

    return calibrated(point.raw_sum_ms, point.units, table.metadata["calibration"])


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
