"""The export command: a network (e.g. a search's winner) to ONNX, ORT, TFLite or TensorRT, with parity checks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zenbench.cli.options import (
    FORMATS,
    MIN_RESOLUTION,
    JsonOption,
    NumClassesOption,
    Precision,
    split_choices,
)
from zenbench.cli.render import console, err_console, print_json, table, warn


def export(
    network: Annotated[str, typer.Argument(help="A search's results folder, a zoo name, a structure string, or a "
                                                "file.")],
    formats: Annotated[str, typer.Option("--format", help=f"{', '.join(FORMATS)} (comma-separated for several).")
                       ] = "onnx",
    precision: Annotated[Precision, typer.Option(help="Artifact precision (which formats take which: see docs/).")
                         ] = Precision.fp32,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: RUN_DIR/export or exports/NAME).")] = None,
    device: Annotated[str | None, typer.Option(help="Also time the artifact on this device against the budget and "
                                                    "the table's prediction.")] = None,
    resolution: Annotated[int | None, typer.Option(min=MIN_RESOLUTION, help="Input resolution (default: the run's "
                                                                            "or zoo model's, else 224).")] = None,
    num_classes: NumClassesOption = None,
    calibration_data: Annotated[Path | None, typer.Option(help="int8: calibrate on these images (.npy, N x C x H x W, "
                                                               "normalised) instead of the synthetic set.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Export a network with a parity check against torch and a manifest; optionally time it on a device."""
    from zenbench.api import export_device, export_target
    from zenbench.export import export as export_network

    chosen_formats = split_choices(formats, FORMATS, "--format")
    target = export_target(network, out=out, resolution=resolution, num_classes=num_classes)
    name, folder, res = target.name, target.folder, target.resolution
    profile, predicted = export_device(device, precision.value, target)
    manifests = []
    for fmt in chosen_formats:
        with err_console.status(f"exporting {name} to {fmt} ({precision.value})"):
            manifests.append(export_network(target.spec, fmt, precision=precision.value, out_dir=folder,
                                            resolution=res, num_classes=target.num_classes, se=target.se, name=name,
                                            measure_on=profile,
                                            budget_ms=target.budget_on(None if profile is None else profile.name),
                                            predicted_ms=predicted, calibration_data=calibration_data))
    for m in manifests:
        if (m.get("latency") or {}).get("busy"):
            warn(f"{m['file']}: host busy while timing ({m['latency'].get('busy_reason')}); re-run on a quiet host")
    if json_out:
        print_json(manifests)
        return
    out_table = table(f"export of {name} @ {res}x{res} to {folder}",
                      ("file", "MB", "runtime", "parity (cos / rel. err / top-1)", "measured ms (p10-p90)", "budget",
                       "predicted", "speed-up"), left=("file", "runtime", "parity (cos / rel. err / top-1)"))
    for m in manifests:
        p = m["parity"]
        lat = m.get("latency") or {}
        ms = lat.get("ms") or {}
        out_table.add_row(m["file"], f"{m['bytes'] / 1e6:.2f}", m["runtime"],
                          f"[green]pass[/] {p['cosine']:.6f} / {p['relative_error']:.1e} / {p['top1_agreement']:.0%}",
                          f"{ms['median']:.3f} ({ms['p10']:.3f}-{ms['p90']:.3f})" if ms else "-",
                          "-" if lat.get("budget_ms") is None else
                          f"{lat['budget_ms']:g} {'[green]ok[/]' if lat['within_budget'] else '[red]over[/]'}",
                          "-" if lat.get("predicted_ms") is None else
                          f"{lat['predicted_ms']:.3f} ({lat['prediction_error']:+.1%})",
                          "-" if lat.get("speedup_over_fp32") is None else
                          f"{lat['speedup_over_fp32']:.2f}x vs fp32 {lat['fp32_ms']['median']:.3f} ms")
    console.print(out_table)
