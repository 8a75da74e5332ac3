"""A table's predictions scored against networks measured end to end: the validation report and plot.

Pure evaluation: the measuring is the builder's (``zenbench.builder.measuring``), which hands the
measured points here. ``evaluate`` refits the calibration, scores the held-out networks and the zoo,
writes the error into the table (``zenbench predict`` reports it, ``search --guard auto`` uses it),
the report and the plot; ``recalibrate`` does the same on a stored report without measuring anew.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zenbench.errors import ZenbenchError
from zenbench.fileio import atomic_write_text
from zenbench.latency.metrics import error_metrics
from zenbench.latency.predictor import calibrate_table, fit_units_on_networks, predict_latency
from zenbench.latency.table import LatencyTable
from zenbench.space.spec import NetworkSpec


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
    #: the measured latency scaled to the profile's typical host speed: what the network would have measured
    #: at the speed the table was profiled at; 0 when the speed was not probed
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


def validation_dir(table_path: Path) -> Path:
    """Where a table's validation report and plot go: ``latency_tables/DEVICE-validation/``."""
    return table_path.with_suffix("").with_name(table_path.stem + "-validation")


def predict_points(table: LatencyTable, points: list[ValidationPoint]) -> None:
    """Fill in each point's prediction (batch latency, like the measurement)."""
    scale = table.batch if table.per_image else 1
    for p in points:
        prediction = predict_latency(NetworkSpec.parse(p.structure), table, p.resolution, p.num_classes)
        p.raw_sum_ms, p.units = prediction.raw_sum_ms * scale, prediction.unit_count
        p.predicted_ms = prediction.value_ms * scale


def evaluate(table: LatencyTable, table_path: Path, device: str, cal: list[ValidationPoint],
             val: list[ValidationPoint], zoo_points: list[ValidationPoint], out_dir: Path, sample: dict[str, Any],
             profile_reference_ms: float | None) -> dict[str, Any]:
    """Fit the calibration, score the measured points, and write the table, the report and the plot.
    An adapted table (``zenbench profile --minutes``) keeps the calibration its adaptation chose: refitting
    it here would replace the winning form with a full recalibration on the same networks."""
    adapted = bool(table.metadata.get("adaptation")) and table.calibration is not None
    calibration = table.calibration if adapted else calibrate_table(table)
    if calibration is None:
        raise ZenbenchError(f"{table_path} has fewer than 8 networks measured end to end to calibrate on; "
                            f"re-profile it with `zenbench profile` or pass --calibration-n 40")
    predict_points(table, cal + val + zoo_points)
    metrics = error_metrics([p.predicted_ms for p in val], [p.measured_ms for p in val])
    uncalibrated = error_metrics([p.raw_sum_ms for p in val], [p.measured_ms for p in val])
    zoo_metrics = error_metrics([p.predicted_ms for p in zoo_points], [p.measured_ms for p in zoo_points]) \
        if len(zoo_points) > 2 else {}
    host = host_speed_report(val, profile_reference_ms)
    table.metadata["validation"] = {**metrics, "uncalibrated": uncalibrated, "zoo": zoo_metrics, **sample,
                                    "calibration_networks": len(table.metadata["networks"]), "host_speed": host}
    table.save(table_path)
    result = {"table": str(table_path), "device": device, "calibration": calibration.as_dict(), "metrics": metrics,
              "uncalibrated": uncalibrated, "zoo_metrics": zoo_metrics, "host_speed": host, "sample": sample,
              "points": {"calibration": [p.__dict__ for p in cal], "validation": [p.__dict__ for p in val],
                         "zoo": [p.__dict__ for p in zoo_points]}}
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "validation.json", json.dumps(result, indent=2))
    result["plot"] = str(scatter(val, zoo_points, metrics, device, out_dir / "predicted_vs_measured.png"))
    return result


def recalibrate(table_path: Path, out_dir: Path | None = None, *, refit_units: bool = False) -> dict[str, Any]:
    """Refit a table's calibration to the networks it stores and, where it was validated, score the stored
    validation measurements again: what a change to the calibration model does, without measuring anew.
    ``refit_units`` first refits the unit models (channel padding, smoother) with this version's rules
    (:func:`~zenbench.latency.predictor.fit_units_on_networks`). Returns the new calibration, and the
    validation report when there was one to rescore."""
    table = LatencyTable.load(table_path, require_calibration=False)
    if refit_units:
        if table.metadata.get("adaptation"):
            raise ZenbenchError(f"{table_path} is adapted (zenbench profile --minutes): its calibration belongs to its "
                                f"unit models, so they are not refitted; re-profile it to use this version's rules")
        record_host_caches(table)
        fit_units_on_networks(table)
    report_path = (out_dir or validation_dir(table_path)) / "validation.json"
    if not report_path.exists():
        if table.metadata.get("adaptation") and table.calibration is not None:
            raise ZenbenchError(f"{table_path} is adapted (zenbench profile --minutes) and keeps the calibration "
                                f"its adaptation chose; run `zenbench validate` to score it")
        calibration = calibrate_table(table)
        if calibration is None:
            raise ZenbenchError(f"{table_path} has fewer than 8 networks measured end to end to calibrate on")
        table.save(table_path)
        return {"table": str(table_path), "calibration": calibration.as_dict()}
    report = json.loads(report_path.read_text())
    known = set(ValidationPoint.__dataclass_fields__)
    points = {kind: [ValidationPoint(**{k: v for k, v in p.items() if k in known}) for p in report["points"][kind]]
              for kind in ("calibration", "validation", "zoo")}
    stored = table.metadata.get("validation") or {}
    sample = report.get("sample") or {k: stored[k] for k in ("seed", "spaces", "resolution") if k in stored}
    reference = (report.get("host_speed") or {}).get("profile_reference_ms")
    return evaluate(table, table_path, report["device"], points["calibration"], points["validation"], points["zoo"],
                    report_path.parent, sample, reference)


def record_host_caches(table: LatencyTable) -> None:
    """Record this host's L2 in a table profiled before zenbench recorded it, when this host is the kind that
    profiled it (same CPU, vector extensions and last-level cache): a refit then counts the weights that spill
    out of it (``zenbench.latency.units.Core``). A table from another kind of host is left as it is."""
    from zenbench.host import host_differences, l2_cache_mib

    environment = table.metadata.get("environment")
    if isinstance(environment, dict) and environment.get("cpu") and "l2_cache_mib" not in environment \
            and not host_differences(environment):
        environment["l2_cache_mib"] = l2_cache_mib()


def host_speed_report(points: list[ValidationPoint], profile_reference_ms: float | None) -> dict[str, Any]:
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
    """Predicted against measured latency, log-log, with the ±10 % band; written atomically."""
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
