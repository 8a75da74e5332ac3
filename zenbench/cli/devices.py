"""Commands that run on a device: devices, profile, measure, validate."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from zenbench.cli.latency import print_validation
from zenbench.cli.options import (
    MIN_RESOLUTION,
    JsonOption,
    NetworkArgument,
    NumClassesOption,
    ResolutionOption,
    SeedOption,
    UnitSpace,
)
from zenbench.cli.render import console, print_json, progress_bar, table, warn

if TYPE_CHECKING:
    from zenbench.devices import DeviceProfile, SpaceTarget

DeviceOption = Annotated[str, typer.Option(help="Device profile name (`zenbench devices`) or a YAML file.")]


def devices(json_out: JsonOption = False) -> None:
    """The device profiles, and whether each can be used on this machine (and why not)."""
    from zenbench.devices import list_devices, load_device

    rows = []
    for name in list_devices():
        base = load_device(name)
        for full in [name, *(f"{name}:{v}" for v in sorted(base.variants))]:
            profile = load_device(full)
            reason = profile.availability()
            own = full == name or profile.description != base.description  # a variant may inherit its base's
            rows.append({**profile.describe(), "device": full,
                         "description": profile.description if own else f"variant of {name}",
                         "available": reason is None, "reason": reason,
                         "variants": sorted(base.variants) if full == name else [], "source": profile.source})
    if json_out:
        print_json(rows)
        return
    columns = ("device", "backend", "precision", "batch", "threads", "available", "description / why not")
    out = table("device profiles", columns, left=columns)
    for r in rows:
        out.add_row(r["device"], r["backend"], r["precision"],
                    str(r["batch"]) + (" (per image)" if r["per_image"] else ""), str(r["threads"] or "-"),
                    "[green]yes[/]" if r["available"] else "[red]no[/]",
                    r["description"] if r["available"] else f"[red]{r['reason']}[/]")
    console.print(out)


def profile(
    device: DeviceOption = "cpu",
    space: Annotated[list[UnitSpace] | None, typer.Option(help="Space to profile; repeat for several "
                                                               "(default: the device profile's).")] = None,
    resolution: Annotated[int, typer.Option(min=MIN_RESOLUTION, help="Input resolution for --space.")] = 224,
    out: Annotated[Path | None, typer.Option(help="Table file (default latency_tables/DEVICE.parquet).")] = None,
    resume: Annotated[bool, typer.Option("--resume/--restart", help="Continue an interrupted profile.")] = True,
    points: Annotated[int, typer.Option(min=1, help="Sampled channel configurations per unit kind and "
                                                    "position.")] = 8,
    networks: Annotated[int, typer.Option(min=0, help="Random whole networks timed to fit the calibration.")] = 60,
    grid_networks: Annotated[int, typer.Option(min=0, help="Random networks per space whose units join the "
                                                           "grid.")] = 24,
    seed: SeedOption = 0,
    host_speed: Annotated[bool, typer.Option("--host-speed/--no-host-speed",
                                             help="Scale timings to the host's typical speed, tracked by a reference "
                                                  "network.")] = True,
    retry_noisy: Annotated[bool, typer.Option("--retry-noisy/--no-retry-noisy",
                                              help="Time units still noisy after the first pass once more.")] = True,
    quick: Annotated[bool, typer.Option(help="Smoke-test timing (3 runs, no warm-up): never for a real table.")
                     ] = False,
    minutes: Annotated[float | None, typer.Option(min=0.0, help="Adapt a table profiled elsewhere to this host "
                                                                "within this many minutes of measuring whole networks "
                                                                "(default: the full profile).")] = None,
    from_table: Annotated[Path | None, typer.Option("--from", dir_okay=False,
                                                    help="With --minutes: the table to adapt (default: the "
                                                         "device's shipped table); another runtime's is allowed.")
                          ] = None,
    json_out: JsonOption = False,
) -> None:
    """Write a device's latency table: every unit timed (resumable), or with --minutes an existing table adapted.

    With --minutes M, whole networks are measured for M minutes and the device's shipped table (or --from) is
    adapted to this host; see docs/adapting-a-table.md.
    """
    from zenbench.builder.profile import default_table_path, profile_device
    from zenbench.devices import SpaceTarget, load_device

    chosen = load_device(device)
    targets = [SpaceTarget(s.value, resolution) for s in space] if space else None
    path = out if out is not None else default_table_path(chosen.name)
    if minutes is not None or from_table is not None:
        _adapt(chosen, minutes, from_table, path, targets=targets, resume=resume, seed=seed, quick=quick,
              json_out=json_out)
        return
    with progress_bar(f"profiling {chosen.name} ({chosen.backend}, {chosen.precision}, batch {chosen.batch})",
                      disable=json_out) as bar:
        task = bar.add_task("units", total=None)
        result = profile_device(chosen, targets=targets, out=path, resume=resume, points=points, seed=seed,
                                networks=networks, grid_networks=grid_networks, host_speed=host_speed,
                                retry_noisy=retry_noisy, rules=chosen.timing.quick() if quick else None,
                                on_progress=lambda done, total, key: bar.update(task, completed=done, total=total))
    coverage = result.coverage()
    if json_out:
        print_json({"table": str(path), "units": len(result.rows), "coverage": coverage.to_dict(orient="records")})
        return
    report = table(f"coverage of {path} ({len(result.rows)} units)",
                   ("kind", "units", "resolutions", "in", "out", "median ms", "noisy", "model LOO error (mean / p90)"),
                   left=("kind",))
    for r in coverage.to_dict(orient="records"):
        report.add_row(r["kind"], str(r["units"]), ",".join(map(str, r["resolutions"])), r["in"], r["out"],
                       r["median_ms"], str(r["noisy"]), f"{r['loo_mape']:.1%} / {r['loo_p90_ape']:.1%}")
    console.print(report)
    speed = result.metadata.get("host_speed") or {}
    if speed.get("reference"):
        fit = speed.get("elasticity_fit") or {}
        slope = f"slope {fit['slope']:.2f} ± {fit['se']:.2f} over {fit['networks']} networks' passes" \
            if fit.get("slope") is not None else "too few networks' passes to fit it"
        console.print(f"host speed during the profile: reference network {speed['typical_ms']:.3g} ms typical, "
                      f"{speed['factor_p10']:.3f}-{speed['factor_p90']:.3f} (p10-p90) times as fast; timings "
                      f"scaled to it by that ratio to the power {speed.get('elasticity', 1.0):.2f} ({slope})")


def _adapt(chosen: DeviceProfile, minutes: float | None, source: Path | None, path: Path, *,
           targets: list[SpaceTarget] | None, resume: bool, seed: int, quick: bool, json_out: bool) -> None:
    """``profile --minutes``: adapt a table to this host (``zenbench.builder.adapt``) and report the forms."""
    from zenbench.builder.adapt import adapt_device
    from zenbench.errors import SettingError

    if minutes is None:
        raise SettingError("--from adapts a table within a time budget: add --minutes M (e.g. --minutes 5)")
    with progress_bar(f"adapting a table to {chosen.name} within {minutes:g} min (seconds measured / budget)",
                      disable=json_out) as bar:
        task = bar.add_task("seconds", total=minutes * 60)
        result, written = adapt_device(
            chosen, minutes=minutes, source=source, out=path, resume=resume, seed=seed, targets=targets,
            rules=chosen.timing.quick() if quick else None,
            on_progress=lambda p: bar.update(task, completed=round(min(p.spent_s, p.budget_s))))
    record = result.meta.adaptation
    if json_out:
        print_json({"table": str(written), "adaptation": dict(record), "calibration": result.calibration.as_dict()})
        return
    src = record["source"]
    unit_seconds = float((record.get("refined_units") or {}).get("seconds", 0.0))
    console.print(f"adapted {src['path']} (profiled on {src['host'].get('cpu')}, {src['backend']}) to this host from "
                  f"{record['networks']} networks measured in {record['seconds_measured'] - unit_seconds:.0f} s"
                  + (" [yellow](another runtime)[/]" if record.get("cross_runtime") else ""))
    report = table("forms (leave-one-out error on this host's networks)", ("form", "LOO MAPE", ""), left=("form",))
    for form, loo in record["loo_mape"].items():
        report.add_row(form, f"{loo:.1%}", "[green]chosen[/]" if form == record["form"] else "")
    console.print(report)
    refined = record.get("refined_units") or {}
    if refined.get("kinds"):
        kinds = ", ".join(f"{k['kind']} (×{k['scale']:.2f}·work^{k['exponent']:+.2f})" for k in refined["kinds"])
        verdict = "kept" if refined["kept"] else "not kept: no better than the networks alone"
        console.print(f"units timed here in {refined['seconds']:.0f} s for the kinds the networks showed most wrong: "
                      f"{kinds}; leave-one-out "
                      f"{refined['loo_mape_before']:.1%} -> {refined['loo_mape_after']:.1%}, {verdict}",
                      soft_wrap=True, highlight=False)
    console.print(f"wrote {written}: {result.calibration}")


def measure(
    network: NetworkArgument,
    device: DeviceOption = "cpu",
    resolution: ResolutionOption = None,
    num_classes: NumClassesOption = None,
    instances: Annotated[int, typer.Option(min=1, help="Separately built instances to time; the median one is "
                                                       "reported.")] = 3,
    json_out: JsonOption = False,
) -> None:
    """Measure a whole network end to end on a device, as the profiler does."""
    from zenbench.builder.measuring import measure_network
    from zenbench.devices import load_device
    from zenbench.measure import busy_warning, environment
    from zenbench.models import resolve_network

    net = resolve_network(network)
    chosen = load_device(device)
    res = net.resolution if resolution is None else resolution
    classes = net.num_classes if num_classes is None else num_classes
    m = measure_network(net.spec, chosen, res, classes, instances=instances)
    scale = 1000.0 / (chosen.batch if chosen.per_image else 1)
    stats = m.summary(scale)
    busy = busy_warning(m)
    if busy:
        warn(busy)  # on stderr, under --json too: a busy host's figure is never reported silently
    if json_out:
        print_json({"network": net.name, "structure": str(net.spec), "resolution": res, "per_image": chosen.per_image,
                    "latency_ms": stats, "settings": chosen.describe(), "environment": environment(chosen.threads),
                    "context": m.context})
        return
    unit = "ms/image" if chosen.per_image else "ms"
    console.print(f"[bold]{net.name}[/] on {chosen.name} ({chosen.backend}, {chosen.precision}, batch {chosen.batch}, "
                  f"{chosen.threads or '-'} threads) @ {res}x{res}")
    console.print(f"  median {stats['median']:.4f} {unit}   mean {stats['mean']:.4f}   min {stats['min']:.4f}   "
                  f"p10 {stats['p10']:.4f}   p90 {stats['p90']:.4f}   spread {stats['spread']:.1%}   runs {stats['runs']}")
    if "instance_medians" in m.context:
        medians = ", ".join(f"{x * scale:.4f}" for x in m.context["instance_medians"])
        console.print(f"  the median of {instances} instances (their medians: {medians}; "
                      f"spread {m.context['instance_spread']:.1%})")
    if m.noisy:
        warn("run-to-run variation stayed above the profile's max_spread; close other programs and measure again")


def validate(
    device: DeviceOption = "cpu",
    table_path: Annotated[Path | None, typer.Option("--table", dir_okay=False,
                                                    help="Latency table (default: the device's).")] = None,
    n: Annotated[int, typer.Option(min=1, help="Random networks to validate on.")] = 100,
    calibration_n: Annotated[int, typer.Option(min=0, help="More random networks to measure and add to the "
                                                           "calibration.")] = 0,
    seed: SeedOption = 0,
    space: Annotated[UnitSpace | None, typer.Option(help="Sample one space only (default: the table's).")] = None,
    resolution: Annotated[int, typer.Option(min=MIN_RESOLUTION, help="Input resolution of the sampled networks.")
                          ] = 224,
    zoo: Annotated[bool, typer.Option(help="Also validate the ZenNet zoo models of this resolution.")] = True,
    passes: Annotated[int, typer.Option(min=1, help="Round-robin passes over the networks; each keeps its "
                                                    "median.")] = 3,
    json_out: JsonOption = False,
) -> None:
    """Measure sampled networks end to end and report how well the table predicts them."""
    from zenbench.builder.measuring import validate_table
    from zenbench.devices import load_device
    from zenbench.locate import find_table

    chosen = load_device(device)
    path = table_path if table_path is not None else find_table(chosen.name)
    with progress_bar(f"measuring networks on {chosen.name}", disable=json_out) as bar:
        task = bar.add_task("networks", total=None)
        result = validate_table(path, chosen, n=n, calibration_n=calibration_n, seed=seed,
                                space=None if space is None else space.value, resolution=resolution, zoo=zoo,
                                passes=passes, on_progress=lambda done, total: bar.update(task, completed=done,
                                                                                           total=total))
    print_validation(result, path, chosen.name, json_out)


__all__ = ["devices", "measure", "profile", "validate"]
