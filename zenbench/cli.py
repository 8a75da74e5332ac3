"""The ``zenbench`` command line: parse, call the library, render for people or ``--json``.

Every user-facing failure is a :class:`ZenbenchError`; it is printed as one clear message
(exit code 2) instead of a traceback.
"""

from __future__ import annotations

import json
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
)
# Tables are wide; when output goes to a pipe or file, do not squeeze them to 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=200)
err_console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=200)

F = TypeVar("F", bound=Callable[..., Any])

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]


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
    resolution: Annotated[int | None, typer.Option(help="Input resolution (default: the zoo model's, else 224).")] = None,
    num_classes: Annotated[int | None, typer.Option(help="Classifier width (default: the zoo model's, else 1000).")] = None,
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
    pattern: Annotated[str, typer.Argument(help="Glob over model names, e.g. '*cifar10_*'.")] = "*",
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
    resolution: Annotated[int | None, typer.Option(help="Input resolution (default: the zoo model's, else 224).")] = None,
    batch_size: Annotated[int, typer.Option(help="Random inputs per forward pass (the official search uses 64).")] = 64,
    repeat: Annotated[int, typer.Option(help="Independent draws of weights and inputs; reports mean, std, 95 % CI.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of weights and inputs: same seed, same score.")] = 0,
    num_classes: Annotated[int | None, typer.Option(help="Classifier width (default: the zoo model's, else 1000).")] = None,
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


benchmark_app = typer.Typer(help="Benchmarks against ground truth: proxies vs NAS-Bench-201 accuracy, latency fits.",
                            no_args_is_help=True)
app.add_typer(benchmark_app, name="benchmark")


def progress_bar(description: str, disable: bool = False):  # noqa: ANN201 - rich's Progress
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
