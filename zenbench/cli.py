"""The ``zenbench`` command line: parse, call the library, render for people or ``--json``.

Every user-facing failure is a :class:`ZenbenchError`; it is printed as one clear message
(exit code 2) instead of a traceback.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from zenbench.errors import ZenbenchError

app = typer.Typer(
    name="zenbench",
    help=(
        "Hardware-aware latency benchmarking and zero-shot NAS (Zen-NAS) for CNNs.\n\n"
        "Networks are given as a ZenNet zoo name (see `zenbench zoo`), a structure string such as "
        "'SuperConvK3BNRELU(3,32,2,1)SuperResK1K5K1(32,64,2,32,2)SuperConvK1BNRELU(64,512,1,1)', "
        "or a file whose first line is one. FLOPs are multiply-accumulates (MACs), as in the paper."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
# Tables are wide; when output goes to a pipe or file, do not squeeze them to 80 columns.
benchmark_app = typer.Typer(help="Benchmarks against ground truth: proxies vs NAS-Bench-201 accuracy, latency fits.",
                            no_args_is_help=True, rich_markup_mode="markdown")
app.add_typer(benchmark_app, name="benchmark")

console = Console() if sys.stdout.isatty() else Console(width=200)
err_console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=200)

F = TypeVar("F", bound=Callable[..., Any])

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
ResolutionOption = Annotated[int | None, typer.Option(help="Input resolution (default: the zoo model's, else 224).")]
NumClassesOption = Annotated[int | None, typer.Option(help="Classifier width (default: the zoo model's, else 1000).")]


def friendly_errors(func: F) -> F:
    """Turn a ZenbenchError into one red message and exit code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ZenbenchError as error:
            err_console.print(f"[bold red]error:[/] {error}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def human(value: float, unit: str = "") -> str:
    """3 significant digits with a k/M/G suffix: 1.75G, 30.1M."""
    for threshold, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / threshold:.3g}{suffix}{unit}"
    return f"{value:.3g}{unit}"


@app.command()
@friendly_errors
def inspect(
    network: Annotated[str, typer.Argument(help="Zoo name, structure string, or file holding one.")],
    resolution: ResolutionOption = None,
    num_classes: NumClassesOption = None,
    se: Annotated[bool | None, typer.Option("--se/--no-se", help="Count SE blocks (default: as the zoo model).")] = None,
    convention: Annotated[str, typer.Option(help="'exact' (built module) or 'paper' (Zen-NAS code's counters).")] = "exact",
    json_out: JsonOption = False,
) -> None:
    """Per-block table of a network: type, channels, stride, sub-layers, resolution, MACs, params."""
    from zenbench.models import resolve_network

    net = resolve_network(network)
    res = resolution or net.resolution
    classes = net.num_classes if num_classes is None else num_classes
    use_se = net.use_se if se is None else se
    shapes = net.spec.block_shapes(res, se=use_se, convention=convention)  # type: ignore[arg-type]
    total = net.spec.counts(res, classes, se=use_se, convention=convention)  # type: ignore[arg-type]
    head_macs = net.spec.out_channels * classes
    if json_out:
        print_json({
            "name": net.name,
            "structure": str(net.spec),
            "resolution": res,
            "num_classes": classes,
            "use_se": use_se,
            "convention": convention,
            "macs": total.macs,
            "params": total.params,
            "layers": total.layers,
            "blocks": [
                {"index": s.index, "type": s.block.type, "in": s.block.in_channels, "out": s.block.out_channels,
                 "stride": s.block.stride, "bottleneck": s.block.bottleneck, "sub_layers": s.block.sub_layers,
                 "in_resolution": s.in_resolution, "out_resolution": s.out_resolution, "macs": s.macs,
                 "params": s.params}
                for s in shapes
            ],
        })
        return
    table = Table(title=f"{net.name if net.source != 'string' else 'network'} @ {res}x{res}, "
                        f"{classes} classes, SE {'on' if use_se else 'off'}, {convention} count",
                  title_justify="left")
    for col in ("#", "type", "in", "out", "stride", "bottleneck", "sub-layers", "out res", "MACs", "params"):
        table.add_column(col, justify="left" if col == "type" else "right", no_wrap=col == "type")
    for s in shapes:
        b = s.block
        table.add_row(str(s.index), b.type, str(b.in_channels), str(b.out_channels), str(b.stride),
                      "-" if b.bottleneck is None else str(b.bottleneck), str(b.sub_layers),
                      f"{s.out_resolution}x{s.out_resolution}", human(s.macs), human(s.params))
    if classes:
        table.add_row("", "GAP + Linear", str(net.spec.out_channels), str(classes), "", "", "", "1x1",
                      human(head_macs), human(net.spec.out_channels * classes + classes))
    table.add_section()
    table.add_row("", "total", "", "", "", "", f"{total.layers} layers", "", human(total.macs), human(total.params))
    console.print(table)
    console.print(f"MACs = multiply-accumulates (the paper's 'FLOPs'): {total.macs:,}; params: {total.params:,}; "
                  f"layers (sum of sub-layers, the paper's max_layers count): {total.layers}")


@app.command()
@friendly_errors
def zoo(
    pattern: Annotated[str, typer.Argument(help="Glob over model names, e.g. `*cifar10_*`.")] = "*",
    json_out: JsonOption = False,
) -> None:
    """The ZenNet models with their published figures beside the counts computed here."""
    from zenbench.zoo import get_zoo_model, list_models

    rows = []
    for name in list_models(pattern):
        m = get_zoo_model(name)
        exact = m.spec.counts(m.resolution, m.num_classes, se=m.use_se)
        paper = m.spec.counts(m.resolution, m.num_classes, se=m.use_se, convention="paper")
        rows.append({
            "name": name, "resolution": m.resolution, "num_classes": m.num_classes, "use_se": m.use_se,
            "layers": exact.layers, "macs": exact.macs, "params": exact.params,
            "paper_macs": paper.macs, "paper_params": paper.params, "published": m.published,
            "structure": m.structure,
        })
    if json_out:
        print_json(rows)
        return
    table = Table(title="ZenNet zoo: published vs computed (MACs = multiply-accumulates)", title_justify="left")
    for col in ("name", "res", "SE", "layers", "MACs pub.", "MACs exact", "MACs paper", "params pub.",
                "params exact", "params paper", "top-1 pub."):
        table.add_column(col, justify="left" if col == "name" else "right", no_wrap=col == "name")
    for r in rows:
        pub = r["published"]
        top1 = pub.get("top1", pub.get("top1_imagenet"))
        table.add_row(r["name"], str(r["resolution"]), "yes" if r["use_se"] else "no", str(r["layers"]),
                      human(pub.get("flops_macs", float("nan"))), human(r["macs"]), human(r["paper_macs"]),
                      human(pub.get("params", float("nan"))), human(r["params"]), human(r["paper_params"]),
                      f"{top1:.1f}" if top1 is not None else "-")
    console.print(table)
    console.print("'exact': the built module (torch's FLOP counter agrees); 'paper': the Zen-NAS code's counters.")


DTYPES = {"float32": "float32", "fp32": "float32", "float64": "float64", "fp64": "float64", "bfloat16": "bfloat16",
          "bf16": "bfloat16", "float16": "float16", "fp16": "float16"}


@app.command("score")
@friendly_errors
def score_command(
    networks: Annotated[list[str], typer.Argument(help="Zoo names, structure strings, or files (one structure per line).")],
    proxy: Annotated[str, typer.Option(help="Comma-separated proxies; `zenbench proxies` lists them.")] = "zen",
    resolution: ResolutionOption = None,
    batch_size: Annotated[int, typer.Option(help="Random inputs per forward pass (the official search uses 64).")] = 64,
    repeat: Annotated[int, typer.Option(help="Independent draws of weights and inputs; reports mean, std, 95 % CI.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of weights and inputs: same seed, same score.")] = 0,
    num_classes: NumClassesOption = None,
    protocol: Annotated[str, typer.Option(help="Zen-Score protocol: 'official' (the code) or 'paper' (the text).")] = "official",
    gamma: Annotated[float, typer.Option(help="Zen-Score input perturbation scale.")] = 1e-2,
    dtype: Annotated[str, typer.Option(help="float32 (default), float64, bfloat16 or float16.")] = "float32",
    device: Annotated[str, typer.Option(help="torch device, e.g. cpu or cuda.")] = "cpu",
    json_out: JsonOption = False,
) -> None:
    """Score networks with zero-shot proxies (Zen-Score by default), as the Zen-NAS search does."""
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from zenbench.models import iter_networks
    from zenbench.proxies import get_proxy, score

    if dtype not in DTYPES:
        raise ZenbenchError(f"unknown dtype {dtype!r}; choose one of {', '.join(sorted(set(DTYPES.values())))}")
    torch_dtype = getattr(torch, DTYPES[dtype])
    proxies = [p.strip() for p in proxy.split(",") if p.strip()]
    for name in proxies:
        get_proxy(name)  # unknown names fail before any work, with suggestions
    nets = iter_networks(networks)
    rows = []
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=err_console,
                  disable=json_out or len(nets) * len(proxies) < 2) as progress:
        task = progress.add_task("scoring", total=len(nets) * len(proxies))
        for net in nets:
            for name in proxies:
                options = {"gamma": gamma, "protocol": protocol} if name == "zen" else {}
                result = score(net.spec, name, resolution=resolution or net.resolution, batch_size=batch_size,
                               repeat=repeat, seed=seed, num_classes=num_classes if num_classes is not None else net.num_classes,
                               dtype=torch_dtype, device=device, **options)
                rows.append({"network": net.name, "structure": str(net.spec), "resolution": resolution or net.resolution,
                             **result.as_dict()})
                progress.advance(task)
    if json_out:
        print_json(rows)
        return
    table = Table(title=f"zero-shot scores (batch {batch_size}, {repeat} repeat(s), seed {seed})", title_justify="left")
    for col in ("network", "proxy", "mean", "std", "95% CI", "extras", "seconds"):
        table.add_column(col, justify="left" if col in ("network", "proxy", "extras") else "right")
    for r in rows:
        name = r["network"] if len(r["network"]) <= 60 else r["network"][:57] + "..."
        extras = ", ".join(f"{k}={v:.4g}" for k, v in r["extras"].items())
        table.add_row(name, r["proxy"], f"{r['mean']:.6g}", f"{r['std']:.3g}", f"±{r['ci95']:.3g}", extras,
                      f"{r['seconds']:.2f}")
    console.print(table)


@app.command("proxies")
@friendly_errors
def proxies_command(json_out: JsonOption = False) -> None:
    """The registered zero-shot proxies, what they need, and which direction is better."""
    from zenbench.proxies import get_proxy, list_proxies

    rows = [{"name": n, "higher_is_better": get_proxy(n).higher_is_better, "needs": sorted(get_proxy(n).needs),
             "gaussian_init": get_proxy(n).gaussian_init, "description": get_proxy(n).description}
            for n in list_proxies()]
    if json_out:
        print_json(rows)
        return
    table = Table(title="proxies", title_justify="left")
    for col in ("name", "better", "needs", "init", "what it measures"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], "higher" if r["higher_is_better"] else "lower", ", ".join(r["needs"]),
                      "N(0,1)" if r["gaussian_init"] else "default", r["description"])
    console.print(table)


@app.command("devices")
@friendly_errors
def devices_command(json_out: JsonOption = False) -> None:
    """The device profiles, and whether each can be used on this machine (and why not)."""
    from zenbench.devices import list_devices, load_device

    rows = []
    for name in list_devices():
        base = load_device(name)
        for full in [name, *(f"{name}:{v}" for v in sorted(base.variants))]:
            profile = load_device(full)
            reason = profile.availability()
            rows.append({**profile.describe(), "device": full, "description": profile.description,
                         "available": reason is None, "reason": reason, "variants": sorted(base.variants) if full == name
                         else [], "source": profile.source})
    if json_out:
        print_json(rows)
        return
    table = Table(title="device profiles", title_justify="left")
    for col in ("device", "backend", "precision", "batch", "threads", "available", "description / why not"):
        table.add_column(col)
    for r in rows:
        variant = ":" in r["device"]
        table.add_row(r["device"], r["backend"], r["precision"],
                      str(r["batch"]) + (" (per image)" if r["per_image"] else ""), str(r["threads"] or "-"),
                      "[green]yes[/]" if r["available"] else "[red]no[/]",
                      ("  variant of " + r["device"].split(":")[0]) if variant and r["available"]
                      else r["description"] if r["available"] else f"[red]{r['reason']}[/]")
    console.print(table)


@app.command("profile")
@friendly_errors
def profile_command(
    device: Annotated[str, typer.Option(help="Device profile name (zenbench devices) or a YAML file.")] = "cpu",
    space: Annotated[list[str] | None, typer.Option(help="Space to profile (xxbl, idw); repeat for several. "
                                                         "Default: the device profile's spaces.")] = None,
    resolution: Annotated[int, typer.Option(help="Input resolution for --space.")] = 224,
    out: Annotated[Path | None, typer.Option(help="Table file (default latency_tables/DEVICE.parquet).")] = None,
    resume: Annotated[bool, typer.Option("--resume/--restart", help="Continue an interrupted profile (default).")] = True,
    points: Annotated[int, typer.Option(help="Sampled channel configurations per unit kind and position.")] = 8,
    networks: Annotated[int, typer.Option(help="Random whole networks timed end to end at the end, to calibrate "
                                               "what units timed alone miss.")] = 60,
    grid_networks: Annotated[int, typer.Option(help="Random networks per space whose every unit joins the grid "
                                                    "(where real networks' correlated widths put their units).")] = 24,
    seed: Annotated[int, typer.Option(help="Seed of the sampled grid.")] = 0,
    host_speed: Annotated[bool, typer.Option("--host-speed/--no-host-speed",
                                             help="Time a reference network between units and scale every timing to "
                                                  "the profile's typical host speed (on by default; a phone over adb "
                                                  "never needs it).")] = True,
    retry_noisy: Annotated[bool, typer.Option("--retry-noisy/--no-retry-noisy",
                                              help="Time units still noisy after the first pass once more, keeping "
                                                   "the quieter timing (default). On a busy host half the units can "
                                                   "be noisy; --no-retry-noisy writes the table from what is "
                                                   "measured (resume with it to finish early).")] = True,
    quick: Annotated[bool, typer.Option(help="Smoke-test timing (3 runs, no warm-up): never for a real table.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Time every unit of a space's grid on a device and write its latency table (resumable).

    A shared host changes speed by several per cent for seconds to minutes at a time, the same
    factor for every workload; a small reference network timed between units follows it, and
    the table stores every timing at the profile's typical speed (the raw one is timing/host_factor). Workloads
    follow the reference less than one for one, so the ratio is raised to the power (the elasticity) that the
    calibration networks' three passes, far apart in time, show.

    Each unit is appended to TABLE.partial.jsonl as soon as it is measured: interrupt at any moment
    (Ctrl-C, kill -9) and run the same command again to continue. Units still noisy after the first
    pass are timed once more. Then --networks random networks are timed end to end and the table's
    whole-network calibration is fitted to them. The table is written at the end.
    """
    from zenbench.devices import SpaceTarget, load_device
    from zenbench.profile import default_table_path, profile_device

    profile = load_device(device)
    targets = [SpaceTarget(s, resolution) for s in space] if space else None
    path = out or default_table_path(profile.name)
    last = {"key": ""}
    with progress_bar(f"profiling {profile.name} ({profile.backend}, {profile.precision}, batch {profile.batch})",
                      disable=json_out) as bar:
        task = bar.add_task("units", total=None)

        def on_progress(done: int, total: int, key: str) -> None:
            last["key"] = key
            bar.update(task, completed=done, total=total)

        table = profile_device(profile, targets=targets, out=path, resume=resume, points=points, seed=seed,
                               networks=networks, grid_networks=grid_networks, host_speed=host_speed,
                               retry_noisy=retry_noisy, rules=profile.timing.quick() if quick else None, on_progress=on_progress)
    coverage = table.coverage()
    if json_out:
        print_json({"table": str(path), "units": len(table.rows), "coverage": coverage.to_dict(orient="records")})
        return
    report = Table(title=f"coverage of {path} ({len(table.rows)} units)", title_justify="left")
    for col in ("kind", "units", "resolutions", "in", "out", "median ms", "noisy", "model LOO error (mean / p90)"):
        report.add_column(col, justify="left" if col == "kind" else "right")
    for r in coverage.to_dict(orient="records"):
        report.add_row(r["kind"], str(r["units"]), ",".join(map(str, r["resolutions"])), r["in"], r["out"],
                       r["median_ms"], str(r["noisy"]), f"{r['loo_mape']:.1%} / {r['loo_p90_ape']:.1%}")
    console.print(report)
    speed = table.metadata.get("host_speed") or {}
    if speed.get("reference"):
        fit = speed.get("elasticity_fit") or {}
        slope = f"slope {fit['slope']:.2f} ± {fit['se']:.2f} over {fit['networks']} networks' passes" \
            if fit.get("slope") is not None else "too few networks' passes to fit it"
        console.print(f"host speed during the profile: reference network {speed['typical_ms']:.3g} ms typical, "
                      f"{speed['factor_p10']:.3f}-{speed['factor_p90']:.3f} (p10-p90) times as fast; timings "
                      f"scaled to it by that ratio to the power {speed.get('elasticity', 1.0):.2f} ({slope})")


def _load_table(device: str, table: Path | None, force: bool = False):
    from zenbench.devices import load_device
    from zenbench.profile import default_table_path
    from zenbench.tables import LatencyTable

    profile = load_device(device)
    path = table or default_table_path(profile.name)
    loaded = LatencyTable.load(path, expect=profile.describe(), force=force)
    _warn_if_other_host(loaded, profile, path)
    return profile, loaded


def _warn_if_other_host(table, profile, path: Path) -> None:
    """A table of a device on this host (not a phone, not a GPU elsewhere) describes the CPU it was profiled on;
    say so when that is not this one (measured: an Intel Xeon table predicted an AMD EPYC host 30 % fast, and a
    table from an AVX-512 "AMD EPYC" predicted an AVX2 one with the same name 33 % fast)."""
    from zenbench.backends.base import get_backend
    from zenbench.measure import host_differences

    if not get_backend(profile.backend).shared_host:
        return
    differences = host_differences(table.metadata.get("environment") or {})
    if differences:
        err_console.print(f"[yellow]warning: {path} was profiled on another machine ({'; '.join(differences)}): "
                          f"its latencies describe that machine. Re-profile here: zenbench profile --device "
                          f"{profile.name}[/]")


@app.command("predict")
@friendly_errors
def predict_command(
    network: Annotated[str, typer.Argument(help="Zoo name, structure string, or file holding one.")],
    device: Annotated[str, typer.Option(help="Device profile whose table to use.")] = "cpu",
    table: Annotated[Path | None, typer.Option(help="Latency table (default latency_tables/DEVICE.parquet).")] = None,
    resolution: ResolutionOption = None,
    num_classes: NumClassesOption = None,
    force: Annotated[bool, typer.Option(help="Use a table measured under other settings.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Predicted latency of a network from the device's latency table, unit by unit."""
    from zenbench.budget import predict_latency
    from zenbench.models import resolve_network

    net = resolve_network(network)
    profile, tab = _load_table(device, table, force)
    res = resolution or net.resolution
    classes = net.num_classes if num_classes is None else num_classes
    prediction = predict_latency(net.spec, tab, res, classes, breakdown=True)
    if json_out:
        print_json({"network": net.name, "device": profile.name, "resolution": res, **prediction.as_dict()})
        return
    unit = "ms/image" if prediction.per_image else "ms"
    out = Table(title=f"{net.name} on {profile.name} @ {res}: predicted {prediction.value_ms:.4g} {unit}",
                title_justify="left")
    for col in ("block", "unit", "resolution", "ms", "source"):
        out.add_column(col, justify="right" if col in ("ms", "resolution") else "left")
    for cost in prediction.units:
        block = net.spec.blocks[cost.block]
        out.add_row(f"{cost.block} {block.type}" if cost.unit == 0 else "", str(cost.unit), str(cost.resolution),
                    f"{cost.ms:.4f}", "measured" if cost.measured else "model")
    out.add_row("classifier", "", "", f"{prediction.classifier_ms * (tab.batch if prediction.per_image else 1):.4f}", "")
    out.add_section()
    out.add_row("sum of units", "", "", f"{prediction.raw_sum_ms:.4f}", "")
    cal = prediction.calibration
    out.add_row("calibrated" if cal else "uncalibrated", "", "", f"{prediction.value_ms:.4f}",
                calibration_text(cal) if cal else "re-profile: the table has no whole-network calibration")
    console.print(out)
    if prediction.expected_error is not None:
        console.print(f"expected error (validation MAPE): {prediction.expected_error:.1%}")


def calibration_text(cal: dict[str, Any]) -> str:
    """The fitted formula as a reader would write it: terms the fit drove to zero are left out."""
    form, n = cal.get("form", "?"), cal.get("n", "?")
    loo = (cal.get("loo_mape") or {}).get(form)
    fitted = (f"{'the plain sum' if form == 'none' else 'form ' + form}, fitted on {n} networks"
              + (f", leave-one-out {loo:.1%}" if loo is not None else ""))
    linear = "Σ unit ms" if form.split("+")[0] == "none" else _linear_text(cal)
    if cal.get("power") is None:
        return f"latency = {linear} ({fitted})"
    factor = math.exp(cal["power_shift"])
    return (f"latency = L x {factor:.3g} x (L / {cal['power_ref_ms']:.3g} ms)^{cal['power']:.3g}, L = {linear} "
            f"({fitted})")


def _linear_text(cal: dict[str, Any]) -> str:
    scale = cal["b"]
    tied = bool(cal.get("tied"))  # a = c: one call's cost per network, counted once per unit in the sum
    terms = [f"{cal['a']:.3g} ms"] if abs(cal["a"]) >= 5e-4 and not tied else []
    if isinstance(scale, dict):
        terms += [f"{b:.3g} x Σ {group} ms" for group, b in scale.items()]
    else:
        terms.append(f"{scale:.3g} x Σ unit ms")
    text = " + ".join(terms)
    if cal.get("c", 0.0) >= 5e-5:  # under 0.05 µs per unit: nothing a timer can see
        text += f" - {cal['c']:.3g} ms x (units - 1)" if tied else f" - {cal['c']:.3g} ms x units"
    if cal.get("d") and cal.get("weight_term") == "refetched":
        text += (f" + {cal['d']:.3g} ms x MiB of weights refetched (those of units within {cal['cache_mib']:g} MiB "
                 f"each, once the network's exceed {cal['cache_mib']:g} MiB)")
    elif cal.get("d"):
        text += f" + {cal['d']:.3g} ms x MiB of weights beyond {cal['cache_mib']:g} MiB"
    return text


@app.command("measure")
@friendly_errors
def measure_command(
    network: Annotated[str, typer.Argument(help="Zoo name, structure string, or file holding one.")],
    device: Annotated[str, typer.Option(help="Device profile to measure on.")] = "cpu",
    resolution: ResolutionOption = None,
    num_classes: NumClassesOption = None,
    instances: Annotated[int, typer.Option(min=1, help="Separately built instances to time; the median one is "
                                                       "reported (a weight-heavy network's latency depends on where "
                                                       "its weights land in memory).")] = 3,
    json_out: JsonOption = False,
) -> None:
    """Measure a whole network end to end on a device: the profiler's runtime and its rules for whole
    networks (many short rounds, those a burst of host load slowed dropped), the median of several
    separately built instances."""
    from zenbench.devices import load_device
    from zenbench.measure import environment
    from zenbench.models import resolve_network
    from zenbench.validate import measure_network

    net = resolve_network(network)
    profile = load_device(device)
    res = resolution or net.resolution
    classes = net.num_classes if num_classes is None else num_classes
    m = measure_network(net.spec, profile, res, classes, instances=instances)
    scale = 1000.0 / (profile.batch if profile.per_image else 1)
    stats = m.summary(scale)
    if json_out:
        print_json({"network": net.name, "structure": str(net.spec), "resolution": res, "per_image": profile.per_image,
                    "latency_ms": stats, "settings": profile.describe(), "environment": environment(profile.threads),
                    "context": m.context})
        return
    unit = "ms/image" if profile.per_image else "ms"
    console.print(f"[bold]{net.name}[/] on {profile.name} ({profile.backend}, {profile.precision}, batch {profile.batch}, "
                  f"{profile.threads or '-'} threads) @ {res}x{res}")
    console.print(f"  median {stats['median']:.4f} {unit}   mean {stats['mean']:.4f}   min {stats['min']:.4f}   "
                  f"p10 {stats['p10']:.4f}   p90 {stats['p90']:.4f}   spread {stats['spread']:.1%}   runs {stats['runs']}")
    if "instance_medians" in m.context:
        medians = ", ".join(f"{x * scale:.4f}" for x in m.context["instance_medians"])
        console.print(f"  the median of {instances} instances (their medians: {medians}; "
                      f"spread {m.context['instance_spread']:.1%})")
    if m.noisy:
        console.print("[yellow]warning: run-to-run variation stayed above the profile's max_spread; "
                      "close other programs and measure again[/]")


@app.command("validate")
@friendly_errors
def validate_command(
    device: Annotated[str, typer.Option(help="Device profile to measure on.")] = "cpu",
    table: Annotated[Path | None, typer.Option(help="Latency table (default latency_tables/DEVICE.parquet).")] = None,
    n: Annotated[int, typer.Option(help="Random networks to validate on.")] = 100,
    calibration_n: Annotated[int, typer.Option(help="More random networks to measure and add to the calibration "
                                                    "the profile fitted (a separate sample).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of both samples.")] = 0,
    space: Annotated[str | None, typer.Option(help="Sample one space only (default: the table's spaces).")] = None,
    resolution: Annotated[int, typer.Option(help="Input resolution of the sampled networks.")] = 224,
    zoo: Annotated[bool, typer.Option(help="Also validate the ZenNet zoo models of this resolution.")] = True,
    passes: Annotated[int, typer.Option(help="Round-robin passes over the networks; each keeps its median pass "
                                             "(the host's speed drifts over tens of seconds).")] = 3,
    json_out: JsonOption = False,
) -> None:
    """Measure sampled networks end to end and report how well the table predicts them.

    The networks are drawn from the table's spaces across their whole latency range and were never
    used to fit the table. Reports MAPE, RMSPE, the share within ±5 % and ±10 %, Spearman ρ, and
    the same for the ZenNet zoo; plots predicted vs measured; stores the errors in the table so
    `zenbench predict` reports its expected error and `search --guard auto` its guard band.
    --calibration-n N first measures N more networks and refits the calibration with them.
    """
    from zenbench.devices import load_device
    from zenbench.profile import default_table_path
    from zenbench.validate import validate_table

    profile = load_device(device)
    path = table or default_table_path(profile.name)
    with progress_bar(f"measuring networks on {profile.name}", disable=json_out) as bar:
        task = bar.add_task("networks", total=None)
        result = validate_table(path, profile, n=n, calibration_n=calibration_n, seed=seed, space=space,
                                resolution=resolution, zoo=zoo, passes=passes,
                                on_progress=lambda done, total: bar.update(task, completed=done, total=total))
    print_validation(result, path, profile.name, json_out)


def print_validation(result: dict[str, Any], path: Path, device: str, json_out: bool) -> None:
    if json_out:
        print_json({k: v for k, v in result.items() if k != "points"})
        return
    out = Table(title=f"{path} vs end-to-end measurements on {device}", title_justify="left")
    for col in ("sample", "n", "MAPE", "RMSPE", "within ±5 %", "within ±10 %", "Spearman ρ", "bias"):
        out.add_column(col, justify="left" if col == "sample" else "right")
    for label, metrics in (("validation (calibrated)", result["metrics"]), ("validation (sum of units)",
                                                                           result["uncalibrated"]),
                           ("ZenNet zoo (calibrated)", result["zoo_metrics"])):
        if metrics:
            out.add_row(label, str(metrics["n"]), f"{metrics['mape']:.1%}", f"{metrics['rmspe']:.1%}",
                        f"{metrics['within_5']:.0%}", f"{metrics['within_10']:.0%}", f"{metrics['spearman']:.3f}",
                        f"{metrics['bias']:+.1%}")
    console.print(out)
    console.print(f"calibration: {calibration_text(result['calibration'])}; plot: {result['plot']}")
    host = result.get("host_speed") or {}
    if host:
        at = host["at_profile_speed"]
        ratio = host["slowdown_vs_profile"]
        pace = f"{ratio - 1:.1%} slower" if ratio >= 1 else f"{1 / ratio - 1:.1%} faster"
        console.print(f"host speed: the reference network ran {pace} than during the profile ({ratio:.3f}x its "
                      f"time); scaled to the profile's speed, the table is within ±10 % on {at['within_10']:.0%} "
                      f"(MAPE {at['mape']:.1%}, bias {at['bias']:+.1%})")


def parse_quantity(text: str | None, what: str) -> float | None:
    """'400M', '1.5G', '2e6', '900k' -> float."""
    if text is None:
        return None
    units = {"k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "g": 1e9, "G": 1e9}
    try:
        if text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except (ValueError, IndexError):
        raise ZenbenchError(f"--{what} {text!r}: expected a number such as 400M, 1.5G or 2e6") from None


@app.command("search")
@friendly_errors
def search_command(
    latency_ms: Annotated[float | None, typer.Option(help="Latency budget in ms on --device (per image if the device "
                                                          "reports per image).")] = None,
    device: Annotated[str, typer.Option(help="Device whose latency table predicts latency.")] = "cpu",
    table: Annotated[Path | None, typer.Option(help="Latency table (default latency_tables/DEVICE.parquet).")] = None,
    flops: Annotated[str | None, typer.Option(help="MACs budget, e.g. 400M (the paper's 'FLOPs').")] = None,
    params: Annotated[str | None, typer.Option(help="Parameter budget, e.g. 1M.")] = None,
    max_layers: Annotated[int | None, typer.Option(help="Layer budget (sum of sub-layers), as the paper's max_layers.")] = None,
    preset: Annotated[str | None, typer.Option(help="A paper script's init and budgets: imagenet-latency, "
                                                    "imagenet-latency0.1ms…1.2ms, imagenet-flops400M/600M/800M, "
                                                    "cifar-params1M/2M.")] = None,
    space: Annotated[str | None, typer.Option(help="xxbl (ResNet-like), idw (MobileNet-like) or nb201 (cells; "
                                                   "needs --table from `zenbench table fit`).")] = None,
    init: Annotated[str | None, typer.Option(help="Initial structure (default: the preset's).")] = None,
    resolution: Annotated[int | None, typer.Option(help="Input resolution (default: the preset's).")] = None,
    num_classes: Annotated[int | None, typer.Option(help="Classes (default: the preset's).")] = None,
    population: Annotated[int, typer.Option(help="Population size (the paper: 512).")] = 64,
    iterations: Annotated[int, typer.Option(help="Evolution iterations (the paper: 480,000 on a GPU).")] = 1000,
    proxy: Annotated[str, typer.Option(help="Score to maximise (zenbench proxies).")] = "zen",
    batch_size: Annotated[int, typer.Option(help="Proxy batch size (the paper: 64).")] = 16,
    seed: Annotated[int, typer.Option(help="Seed: same seed (and workers), same search.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Results folder (default `runs/search-BUDGET-sSEED`).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the search in --out from its checkpoint.")] = False,
    workers: Annotated[int, typer.Option(help="Candidates scored in parallel in local processes.")] = 1,
    ray: Annotated[str | None, typer.Option(help="Score on a Ray cluster: 'auto', 'local' or ray://ADDRESS.")] = None,
    pareto: Annotated[bool, typer.Option(help="Keep the latency-score Pareto front instead of one budget's best.")] = False,
    guard: Annotated[str, typer.Option(help="Latency guard band: 'auto' (the table's validated p90 error), 'none', "
                                            "or a fraction such as 0.1; prediction x (1 + guard) must meet the budget "
                                            "so the measured latency does.")] = "auto",
    checkpoint_every: Annotated[int, typer.Option(help="Iterations between checkpoints.")] = 50,
    force: Annotated[bool, typer.Option(help="Use a table measured under other settings.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Zen-NAS evolutionary search under latency / FLOPs / params / layer budgets (resumable, parallel).

    Example: `zenbench search --latency-ms 9` searches under 9 ms on the cpu device's table (run
    `make profile` first to measure that table on this machine).
    """
    from rich.live import Live

    from zenbench.budget import Constraints
    from zenbench.search import SearchSettings, search
    from zenbench.search.presets import get_preset

    if space == "nb201":
        _search_nb201(latency_ms, table, proxy, population, iterations, batch_size, seed, out, json_out, resume,
                      checkpoint_every)
        return
    chosen = get_preset(preset or ("cifar-params1M" if params and not latency_ms and not flops else "imagenet-latency"))
    space = space or chosen.space
    latency = latency_ms if latency_ms is not None else (chosen.latency_ms if preset else None)
    macs = parse_quantity(flops, "flops") or chosen.macs
    param_budget = parse_quantity(params, "params") or chosen.params
    res = resolution or chosen.resolution
    classes = num_classes or chosen.num_classes
    constraints = Constraints(latency_ms=latency, macs=macs, params=param_budget,
                              layers=max_layers if max_layers is not None else chosen.max_layers, resolution=res,
                              num_classes=classes)
    tab = None
    profile_name = None
    if latency is not None or pareto:
        from dataclasses import replace as _replace

        from zenbench.budget import table_guard

        profile, tab = _load_table(device, table, force)
        profile_name = profile.name
        band = table_guard(tab) if guard == "auto" else 0.0 if guard == "none" else parse_quantity(guard, "guard")
        constraints = _replace(constraints, latency_guard=band or 0.0)
    settings = SearchSettings(space=space, init=init or chosen.init, resolution=res, num_classes=classes,
                              population=population, iterations=iterations, proxy=proxy, batch_size=batch_size,
                              seed=seed, workers=max(1, workers), checkpoint_every=checkpoint_every,
                              constraints=constraints, pareto=pareto)
    budget = f"{latency:g}ms" if latency else (flops or params or "free")
    folder = out or Path("runs") / f"search-{budget}-s{seed}"
    status = Table.grid(padding=(0, 2))

    def view(state, info) -> Table:
        best = info["best"]
        rate = state.iteration / max(state.seconds, 1e-9)
        eta = (iterations - state.iteration) / max(rate, 1e-9)
        grid = Table.grid(padding=(0, 2))
        grid.add_row("iteration", f"{state.iteration}/{iterations}", "it/s", f"{rate:.2f}", "ETA", f"{eta:.0f} s")
        grid.add_row("best score", f"{best.score:.4f}", "its latency",
                     "-" if best.latency_ms is None else f"{best.latency_ms:.4g} ms", "accepted",
                     f"{info['accepted']}/{state.iteration} ({info['accepted'] / max(state.iteration, 1):.0%})")
        return grid

    with Live(status, console=err_console, refresh_per_second=2, transient=True, auto_refresh=not json_out) as live:
        result = search(settings, folder, table=tab, resume=resume, ray_address=ray, device=profile_name,
                        on_progress=lambda st, info: None if json_out else live.update(view(st, info)))
    if json_out:
        print_json(result)
        return
    best = result["best"]
    if best is None:
        console.print(f"[red]no candidate met the constraints[/]; see {folder}/report.md")
        return
    console.print(f"[bold]best[/] (score {best['score']:.4f}, predicted latency "
                  f"{'-' if best['latency_ms'] is None else format(best['latency_ms'], '.4g')} ms, "
                  f"{best['macs'] / 1e6:.0f}M MACs, {best['params'] / 1e6:.2f}M params, {best['layers']} layers):")
    console.print(best["structure"], soft_wrap=True, highlight=False)
    console.print(f"results: {folder}/ (best_structure.txt, top_k.json, history.parquet, report.md, plots)")


def _search_nb201(latency_ms: float | None, table: Path | None, proxy: str, population: int, iterations: int,
                  batch_size: int, seed: int, out: Path | None, json_out: bool, resume: bool,
                  checkpoint_every: int) -> None:
    """``zenbench search --space nb201``: cells under a latency budget from a fitted table."""
    from zenbench.fileio import atomic_write_text
    from zenbench.search.nb201 import search_nb201
    from zenbench.tables import LatencyTable

    if latency_ms is None or table is None:
        raise ZenbenchError("--space nb201 needs --latency-ms and --table (a table from `zenbench table fit`)")
    folder = out or Path("runs") / f"nb201-{latency_ms:g}ms-s{seed}"
    try:
        result = search_nb201(LatencyTable.load(table), latency_ms=latency_ms, proxy=proxy, population=population,
                              iterations=iterations, batch_size=batch_size, seed=seed, folder=folder, resume=resume,
                              checkpoint_every=checkpoint_every)
    except KeyboardInterrupt:
        err_console.print(f"interrupted: checkpoint saved in {folder}; add --resume to continue")
        raise typer.Exit(130) from None
    if result["best"]:
        atomic_write_text(folder / "best_cell.txt", result["best"]["arch"] + "\n")
    atomic_write_text(folder / "history.json", json.dumps(result["history"]))
    if json_out:
        print_json({k: v for k, v in result.items() if k != "history"})
        return
    best = result["best"]
    console.print("no cell met the budget" if best is None else
                  f"best cell {best['arch']} (score {best['score']:.4f}, predicted {best['latency_ms']:.3g} ms); "
                  f"{result['scored']} cells scored in {result['seconds']:.0f} s; results: {folder}")


@benchmark_app.command("nb201-search")
@friendly_errors
def benchmark_nb201_search(
    measurements: Annotated[Path, typer.Option(help="CSV with 'arch' and latency columns (e.g. the NB201 data).")],
    column: Annotated[str, typer.Option(help="Device column: the table is fitted on it and the oracle judged by it.")],
    latency_ms: Annotated[float | None, typer.Option(help="Budget (default: the column's 30th percentile).")] = None,
    samples: Annotated[int, typer.Option(help="Measured cells the latency table is fitted on.")] = 100,
    proxy: Annotated[str, typer.Option(help="Comma-separated proxies to search with.")] = "zen,synflow",
    iterations: Annotated[int, typer.Option(help="Evolution iterations.")] = 300,
    population: Annotated[int, typer.Option(help="Population size.")] = 32,
    seed: Annotated[int, typer.Option(help="Seed of the fit sample and the search.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Search NAS-Bench-201 under a device's latency budget and compare with the oracle (true accuracy)."""
    import pandas as pd

    from zenbench.fit import fit_table
    from zenbench.search.nb201 import oracle_comparison, search_nb201

    table, model = fit_table(measurements, column, samples, seed)
    budget = latency_ms if latency_ms is not None else float(pd.read_csv(measurements)[column].quantile(0.3))
    rows = []
    for name in [p.strip() for p in proxy.split(",") if p.strip()]:
        with err_console.status(f"searching with {name}"):
            result = search_nb201(table, latency_ms=budget, proxy=name, population=population, iterations=iterations,
                                  seed=seed)
        if result["best"] is None:
            rows.append({"proxy": name, "best": None})
            continue
        rows.append({"proxy": name, "best": result["best"], "scored": result["scored"], "seconds": result["seconds"],
                     **oracle_comparison(str(measurements), column, result["best"]["arch"], budget)})
    if json_out:
        print_json({"device": column, "budget_ms": budget, "fit": {k: v for k, v in model.items() if k != "coefficients"},
                    "results": rows})
        return
    out = Table(title=f"NAS-Bench-201 search on {column}, budget {budget:.4g} ms (table fitted on {samples} cells)",
                title_justify="left")
    for col in ("proxy", "found acc. %", "found latency ms", "oracle acc. %", "rank among feasible", "meets budget"):
        out.add_column(col, justify="left" if col == "proxy" else "right")
    for r in rows:
        if r["best"] is None:
            out.add_row(r["proxy"], "-", "-", "-", "-", "no cell")
            continue
        out.add_row(r["proxy"], f"{r['found_accuracy']:.2f}", f"{r['found_latency_ms']:.4g}", f"{r['oracle_accuracy']:.2f}",
                    f"{r['found_rank_among_feasible']:.0f} of {r['feasible_cells']}", "yes" if r["found_meets_budget"] else "no")
    console.print(out)


@app.command("export")
@friendly_errors
def export_command(
    network: Annotated[str, typer.Argument(help="A search's results folder, a zoo name, a structure string, or a file.")],
    format: Annotated[str, typer.Option("--format", help="onnx, ort, tflite or tensorrt (comma-separated for several).")] = "onnx",
    precision: Annotated[str, typer.Option(help="fp32; int8 (onnx: ORT static quantisation; tensorrt); fp16 (tensorrt).")] = "fp32",
    out: Annotated[Path | None, typer.Option(help="Output folder (default: RUN_DIR/export or exports/NAME).")] = None,
    device: Annotated[str | None, typer.Option(help="Also time the artifact on this device and compare with the "
                                                    "budget and the table's prediction.")] = None,
    resolution: Annotated[int | None, typer.Option(help="Input resolution (default: the run's or zoo model's, else 224).")] = None,
    num_classes: Annotated[int | None, typer.Option(help="Classes (default: the run's or zoo model's, else 1000).")] = None,
    json_out: JsonOption = False,
) -> None:
    """Export a network (e.g. a search's winner) with a parity check against torch, and optionally time it.

    The network is built for deployment: residual links on, SE as the zoo entry says, BN folded into the
    convolutions. Each artifact gets a manifest (structure, input shape, format, precision, versions,
    SHA-256, parity figures, measured latency). A failed parity check is an error.
    """
    from zenbench.export import export
    from zenbench.models import resolve_network

    run_dir = Path(network)
    budget = predicted = None
    if run_dir.is_dir() and (run_dir / "best_structure.txt").exists():
        net = resolve_network(str(run_dir / "best_structure.txt"))
        settings = json.loads((run_dir / "checkpoint.json").read_text())["settings"] if (
            run_dir / "checkpoint.json").exists() else {}
        res = resolution or settings.get("resolution", 224)
        classes = num_classes or settings.get("num_classes", 1000)
        budget = (settings.get("constraints") or {}).get("latency_ms")
        name, use_se = "best", False
        folder = out or run_dir / "export"
    else:
        net = resolve_network(network)
        res, classes = resolution or net.resolution, num_classes or net.num_classes
        name = net.name if net.source == "zoo" else "model"
        use_se = net.use_se
        folder = out or Path("exports") / name
    profile = None
    if device:
        from zenbench.devices import load_device

        profile = load_device(device)
        try:
            from zenbench.budget import predict_latency

            _, tab = _load_table(device, None)
            predicted = predict_latency(net.spec, tab, res, classes).value_ms
        except ZenbenchError:
            predicted = None
    manifests = []
    for fmt in [f.strip() for f in format.split(",") if f.strip()]:
        with err_console.status(f"exporting {name} to {fmt} ({precision})"):
            manifests.append(export(net.spec, fmt, precision=precision, out_dir=folder, resolution=res,
                                    num_classes=classes, se=use_se, name=name, measure_on=profile, budget_ms=budget,
                                    predicted_ms=predicted))
    if json_out:
        print_json(manifests)
        return
    table = Table(title=f"export of {name} @ {res}x{res} to {folder}", title_justify="left")
    for col in ("file", "MB", "runtime", "parity (cos / rel. err / top-1)", "measured ms (p10-p90)", "budget", "predicted"):
        table.add_column(col)
    for m in manifests:
        p = m["parity"]
        lat = m.get("latency") or {}
        ms = lat.get("ms") or {}
        table.add_row(m["file"], f"{m['bytes'] / 1e6:.2f}", m["runtime"],
                      f"[green]pass[/] {p['cosine']:.6f} / {p['relative_error']:.1e} / {p['top1_agreement']:.0%}",
                      f"{ms['median']:.3f} ({ms['p10']:.3f}-{ms['p90']:.3f})" if ms else "-",
                      "-" if lat.get("budget_ms") is None else
                      f"{lat['budget_ms']:g} {'[green]ok[/]' if lat['within_budget'] else '[red]over[/]'}",
                      "-" if lat.get("predicted_ms") is None else f"{lat['predicted_ms']:.3f} ({lat['prediction_error']:+.1%})")
    console.print(table)




def progress_bar(description: str, disable: bool = False):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("eta"), TimeRemainingColumn(), console=err_console, disable=disable)


@benchmark_app.command("proxies")
@friendly_errors
def benchmark_proxies(
    space: Annotated[str, typer.Option(help="Search space with ground truth; only 'nb201' has it.")] = "nb201",
    dataset: Annotated[str, typer.Option(help="cifar10, cifar100 or imagenet16.")] = "cifar10",
    sample: Annotated[int, typer.Option(help="Cells to score, drawn at random (0: all 15,625).")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the sample, the weights and the inputs.")] = 0,
    proxy: Annotated[str, typer.Option(help="Comma-separated proxies (default: all but tenas, which is slow).")] = "",
    batch_size: Annotated[int, typer.Option(help="Inputs per forward pass (16 keeps N=1000 to minutes).")] = 16,
    workers: Annotated[int, typer.Option(help="Single-threaded worker processes (default: one per core).")] = 0,
    data: Annotated[Path | None, typer.Option(help="A .npy batch of real images (N,3,H,W or N,H,W,3) instead of noise.")] = None,
    out: Annotated[Path, typer.Option(help="Results folder (scores.csv, summary.json, scatter_*.png, cache/).")] = Path(
        "runs/nb201-proxies"),
    json_out: JsonOption = False,
) -> None:
    """Spearman/Kendall of each proxy against NAS-Bench-201 test accuracy, next to the published figures.

    Resumable: per-cell scores are cached under OUT/cache, so an interrupted run continues and a
    larger sample only scores the new cells.
    """
    from zenbench.bench import nb201_proxies

    if space != "nb201":
        raise ZenbenchError(f"space {space!r} has no ground-truth accuracy; use --space nb201")
    proxies = tuple(p.strip() for p in proxy.split(",") if p.strip()) or nb201_proxies.DEFAULT_PROXIES
    with progress_bar(f"scoring NAS-Bench-201 cells ({dataset})", disable=json_out) as bar:
        task = bar.add_task("cells", total=None)
        summary = nb201_proxies.run(dataset=dataset, sample=sample, seed=seed, proxies=proxies, batch_size=batch_size,
                                    data=data, out_dir=out, workers=workers or (os.cpu_count() or 1),
                                    on_progress=lambda done, total: bar.update(task, completed=done, total=total))
    if json_out:
        print_json(summary)
        return
    table = Table(title=f"NAS-Bench-201 {dataset}: {summary['sample']} cells, {summary['inputs']} inputs, "
                        f"batch {batch_size}, seed {seed}", title_justify="left")
    for col in ("proxy", "Spearman ρ", "95 % interval", "Kendall τ", "published ρ", "difference"):
        table.add_column(col, justify="left" if col == "proxy" else "right")
    for c in sorted(summary["correlations"], key=lambda c: -c["spearman"]):
        pub = c["published"]
        table.add_row(c["proxy"], f"{c['spearman']:.3f}", f"[{c['spearman_low']:.3f}, {c['spearman_high']:.3f}]",
                      f"{c['kendall']:.3f}", "-" if pub is None else f"{pub:.3f}",
                      "-" if pub is None else f"{c['spearman'] - pub:+.3f}")
    console.print(table)
    console.print(f"scores: {summary['scores_csv']}; plots: {out}/scatter_*.png; {summary['seconds']:.0f} s")


@app.command("demo")
@friendly_errors
def demo_command(
    out: Annotated[Path, typer.Option(help="Where the demo writes everything.")] = Path("runs/demo"),
    latency_ms: Annotated[float, typer.Option(help="Latency budget on this CPU (ms, batch 1).")] = 10.0,
    iterations: Annotated[int, typer.Option(help="Search iterations.")] = 200,
) -> None:
    """The whole pipeline on this CPU in minutes: profile, validate, search, export (ONNX + TFLite), measure."""
    from zenbench.demo import run_demo

    summary = run_demo(out, latency_ms=latency_ms, iterations=iterations, say=lambda m: console.print(m))
    table = Table(title=f"zenbench demo: budget {latency_ms:g} ms on this CPU, done in {summary['seconds']:.0f} s",
                  title_justify="left")
    for col in ("artifact", "parity", "measured median ms", "budget"):
        table.add_column(col)
    for a in summary["artifacts"].values():
        p = a["parity"]
        table.add_row(a["file"], f"{'pass' if p['passed'] else 'FAIL'} (cos {p['cosine']:.6f}, top-1 {p['top1_agreement']:.0%})",
                      "-" if a["measured_ms"] is None else f"{a['measured_ms']:.2f}",
                      "-" if a["within_budget"] is None else ("within" if a["within_budget"] else "over"))
    console.print(table)
    console.print(f"winner: {summary['best']['structure']}", soft_wrap=True, highlight=False)
    console.print(f"predicted {summary['predicted_ms']:.2f} ms; search report: {summary['search']}/report.md; "
                  f"summary: {out}/summary.json")


table_app = typer.Typer(help="Latency tables: fit one from whole-network measurements, or refit a profiled "
                             "table's calibration.", no_args_is_help=True,
                        rich_markup_mode="markdown")
app.add_typer(table_app, name="table")


@table_app.command("fit")
@friendly_errors
def table_fit(
    measurements: Annotated[Path, typer.Option(help="CSV with 'arch' and one column of latency (ms) per device.")],
    column: Annotated[str, typer.Option(help="The device column to fit.")],
    space: Annotated[str, typer.Option(help="Search space of the measurements (nb201).")] = "nb201",
    samples: Annotated[int, typer.Option(help="Measured cells to fit on (K).")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the K cells.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Table file (default latency_tables/nb201-COLUMN.parquet).")] = None,
    json_out: JsonOption = False,
) -> None:
    """Learn per-unit costs from K whole-network measurements and write a latency table."""
    from zenbench.fit import fit_table

    if space != "nb201":
        raise ZenbenchError("fitting from whole-network measurements is implemented for --space nb201")
    table, model = fit_table(measurements, column, samples, seed)
    path = out or Path("latency_tables") / f"nb201-{column}.parquet"
    table.save(path)
    if json_out:
        print_json({"table": str(path), **model})
        return
    console.print(f"fitted {column} on {samples} cells: pruning={model['pruning']}, form={model['form']}, "
                  f"cross-validated MAPE {model['cv_mape']:.1%}")
    for name, value in model["coefficients"].items():
        console.print(f"  {name:>32s}  {value:+.4f} ms")
    console.print(f"wrote {path}")


@table_app.command("recalibrate")
@friendly_errors
def table_recalibrate(
    table: Annotated[Path, typer.Argument(help="Latency table to refit (e.g. latency_tables/cpu.parquet).")],
    json_out: JsonOption = False,
) -> None:
    """Refit a table's whole-network calibration to the networks it stores, and rescore its validation.

    Nothing is measured: the calibration is fitted again, with this version's model, to the networks
    the profile (and validate --calibration-n) measured, and where the table was validated, the
    stored measurements of TABLE's validation directory are scored again and the report, the plot and
    the table's expected error rewritten. Run it after upgrading zenbench on a table profiled before.
    """
    from zenbench.validate import recalibrate

    result = recalibrate(table)
    if "metrics" in result:
        print_validation(result, table, result["device"], json_out)
    elif json_out:
        print_json(result)
    else:
        console.print(f"{table}: calibration {calibration_text(result['calibration'])} (not validated yet: "
                      f"zenbench validate --table {table})")


@benchmark_app.command("latency-fit")
@friendly_errors
def benchmark_latency_fit(
    measurements: Annotated[Path, typer.Option(help="CSV with 'arch' and latency columns (e.g. the NB201 data).")],
    space: Annotated[str, typer.Option(help="Search space of the measurements (nb201).")] = "nb201",
    samples: Annotated[list[int] | None, typer.Option(help="K cells to fit on; repeat for several (default 20 50 100 500).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the K cells.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """How well K measured cells predict all 15,625: Spearman ρ, MAPE, share within ±10 %, per device column."""
    from zenbench.fit import evaluate_fit

    if space != "nb201":
        raise ZenbenchError("the latency-fit benchmark is implemented for --space nb201")
    rows = evaluate_fit(measurements, tuple(samples or (20, 50, 100, 500)), seed)
    if json_out:
        print_json(rows)
        return
    table = Table(title=f"per-unit costs fitted on K cells of {measurements}, checked on all cells", title_justify="left")
    for col in ("device", "K", "model", "Spearman ρ", "MAPE", "within ±10 %"):
        table.add_column(col, justify="left" if col in ("device", "model") else "right")
    for r in rows:
        table.add_row(r["device"], str(r["samples"]), f"{r['form']}, pruning {r['pruning']}", f"{r['spearman']:.3f}",
                      f"{r['mape']:.1%}", f"{r['within_10']:.0%}")
    console.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
