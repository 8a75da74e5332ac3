"""Commands on latency tables: predict, table fit, table recalibrate, and the validation report they share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from zenbench.cli.options import (
    GroundTruthSpace,
    JsonOption,
    MeasurementsOption,
    NetworkArgument,
    NumClassesOption,
    ResolutionOption,
    SeedOption,
    TableOption,
)
from zenbench.cli.render import console, print_json, table, warn
from zenbench.latency import Calibration
from zenbench.locate import load_device_table

ForceOption = Annotated[bool, typer.Option(help="Use a table measured under other settings.")]


def formula(calibration: Any) -> str:
    """A calibration as its formula: a ``Calibration`` renders itself; a stored dict is rendered here."""
    return str(Calibration.from_dict(calibration) if isinstance(calibration, dict) else calibration)


def load_table(device: str, path: Path | None, force: bool = False) -> tuple[Any, Any]:
    """The device's profile and table; warns on stderr when the table describes another host's CPU."""
    profile, loaded, differences = load_device_table(device, path, force)
    warn_other_host(profile.name, path, differences)
    return profile, loaded


def warn_other_host(device: str, path: Path | None, differences: Any) -> None:
    """One warning line when the table was profiled on another machine than this one."""
    if differences:
        shown = path if path is not None else f"the {device} table"
        warn(f"{shown} was profiled on another machine ({'; '.join(differences)}): its latencies describe that "
             f"machine. Re-profile here: zenbench profile --device {device}")


def predict(
    network: NetworkArgument,
    device: Annotated[str, typer.Option(help="Device profile whose table to use.")] = "cpu",
    table_path: TableOption = None,
    resolution: ResolutionOption = None,
    num_classes: NumClassesOption = None,
    force: ForceOption = False,
    json_out: JsonOption = False,
) -> None:
    """Predicted latency of a network from the device's latency table, unit by unit."""
    from zenbench.latency import predict_latency
    from zenbench.models import resolve_network

    net = resolve_network(network)
    profile, tab = load_table(device, table_path, force)
    res = net.resolution if resolution is None else resolution
    classes = net.num_classes if num_classes is None else num_classes
    prediction = predict_latency(net.spec, tab, res, classes, breakdown=True)
    if json_out:
        print_json({"network": net.name, "device": profile.name, "resolution": res, **prediction.as_dict()})
        return
    unit = "ms/image" if prediction.per_image else "ms"
    out = table(f"{net.name} on {profile.name} @ {res}: predicted {prediction.value_ms:.4g} {unit}",
                ("block", "unit", "resolution", "ms", "source"), left=("block", "unit", "source"))
    for cost in prediction.units:
        block = net.spec.blocks[cost.block]
        out.add_row(f"{cost.block} {block.type}" if cost.unit == 0 else "", str(cost.unit), str(cost.resolution),
                    f"{cost.ms:.4f}", "measured" if cost.measured else "model")
    out.add_row("classifier", "", "", f"{prediction.classifier_ms * (tab.batch if prediction.per_image else 1):.4f}",
                "")
    out.add_section()
    out.add_row("sum of units", "", "", f"{prediction.raw_sum_ms:.4f}", "")
    cal = prediction.calibration
    out.add_row("calibrated" if cal else "uncalibrated", "", "", f"{prediction.value_ms:.4f}",
                formula(cal) if cal else "re-profile: the table has no whole-network calibration")
    console.print(out)
    if prediction.expected_error is not None:
        method = (tab.metadata.get("validation") or {}).get("method", "validation MAPE")
        console.print(f"expected error ({method}): {prediction.expected_error:.1%}")


def table_fit(
    measurements: MeasurementsOption,
    column: Annotated[str, typer.Option(help="The device column to fit.")],
    space: Annotated[GroundTruthSpace, typer.Option(help="Search space of the measurements.")] = GroundTruthSpace.nb201,
    samples: Annotated[int, typer.Option(min=1, help="Measured cells to fit on (K).")] = 100,
    lookup: Annotated[bool, typer.Option(
        "--lookup", help="Store every cell's measurement instead of fitting (all 15,625 measured; no --samples).")
    ] = False,
    seed: SeedOption = 0,
    out: Annotated[Path | None, typer.Option(help="Table file (default latency_tables/nb201-COLUMN.parquet).")] = None,
    json_out: JsonOption = False,
) -> None:
    """Learn per-unit costs from K whole-network measurements and write a latency table."""
    from zenbench.latency.nb201 import fit_table, lookup_table

    fitted, model = lookup_table(measurements, column) if lookup else fit_table(measurements, column, samples, seed)
    path = out if out is not None else Path("latency_tables") / f"nb201-{column}.parquet"
    fitted.save(path)
    if json_out:
        print_json({"table": str(path), **model})
        return
    if lookup:
        console.print(f"stored {len(fitted.rows)} measured cells of {column} (a lookup, no model)\nwrote {path}")
        return
    console.print(f"fitted {column} on {samples} cells: pruning={model['pruning']}, form={model['form']}, "
                  f"cross-validated MAPE {model['cv_mape']:.1%}")
    for name, value in model["coefficients"].items():
        console.print(f"  {name:>32s}  {value:+.4f} ms")
    console.print(f"wrote {path}")


def table_recalibrate(
    table_path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, metavar="TABLE",
                                               help="Latency table to refit, e.g. latency_tables/cpu.parquet.")],
    refit_units: Annotated[bool, typer.Option(
        "--refit-units", help="Also refit the unit models (channel padding, smoother) with this version's rules.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Refit a table's calibration to the networks it stores and rescore its validation (measures nothing)."""
    from zenbench.latency.evaluation import recalibrate

    result = recalibrate(table_path, refit_units=refit_units)
    if "metrics" in result:
        print_validation(result, table_path, result["device"], json_out)
    elif json_out:
        print_json(result)
    else:
        console.print(f"{table_path}: calibration {formula(result['calibration'])} (not validated yet: "
                      f"zenbench validate --table {table_path})")


def print_validation(result: dict[str, Any], path: Path, device: str, json_out: bool) -> None:
    """A validation's metrics (calibrated, sum of units, zoo), calibration and host speed, or its JSON."""
    if json_out:
        print_json({k: v for k, v in result.items() if k != "points"})
        return
    out = table(f"{path} vs end-to-end measurements on {device}",
                ("sample", "n", "MAPE", "RMSPE", "within ±5 %", "within ±10 %", "Spearman ρ", "bias"), left=("sample",))
    for label, metrics in (("validation (calibrated)", result["metrics"]),
                           ("validation (sum of units)", result["uncalibrated"]),
                           ("ZenNet zoo (calibrated)", result["zoo_metrics"])):
        if metrics:
            out.add_row(label, str(metrics["n"]), f"{metrics['mape']:.1%}", f"{metrics['rmspe']:.1%}",
                        f"{metrics['within_5']:.0%}", f"{metrics['within_10']:.0%}", f"{metrics['spearman']:.3f}",
                        f"{metrics['bias']:+.1%}")
    console.print(out)
    console.print(f"calibration: {formula(result['calibration'])}; plot: {result['plot']}")
    host = result.get("host_speed") or {}
    if host:
        at = host["at_profile_speed"]
        ratio = host["slowdown_vs_profile"]
        pace = f"{ratio - 1:.1%} slower" if ratio >= 1 else f"{1 / ratio - 1:.1%} faster"
        console.print(f"host speed: the reference network ran {pace} than during the profile ({ratio:.3f}x its "
                      f"time); scaled to the profile's speed, the table is within ±10 % on {at['within_10']:.0%} "
                      f"(MAPE {at['mape']:.1%}, bias {at['bias']:+.1%})")
