"""The search command: Zen-NAS evolution under budgets, or NAS-Bench-201 cells under a latency budget."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from zenbench.cli.latency import ForceOption, warn_other_host
from zenbench.cli.options import (
    MIN_RESOLUTION,
    JsonOption,
    NumClassesOption,
    SearchSpaceName,
    SeedOption,
    TableOption,
    parse_guard,
    parse_quantity,
    positive,
)
from zenbench.cli.render import LogProgress, console, err_console, print_json
from zenbench.errors import ZenbenchError


def search(
    latency_ms: Annotated[list[float] | None, typer.Option(metavar="MS", help="Latency budget in ms (> 0): one for every "
                                                                "--device, or one per --device in order.")] = None,
    device: Annotated[list[str] | None, typer.Option(metavar="NAME", help="Device whose latency table predicts latency; repeat "
                                                          "for several (every budget must hold). [default: cpu]")
                      ] = None,
    table_path: TableOption = None,
    flops: Annotated[str | None, typer.Option(help="MACs budget, e.g. 400M (the paper's 'FLOPs').")] = None,
    params: Annotated[str | None, typer.Option(help="Parameter budget, e.g. 1M.")] = None,
    max_layers: Annotated[int | None, typer.Option(min=1, help="Layer budget (sum of sub-layers).")] = None,
    preset: Annotated[str | None, typer.Option(help="A paper script's init and budgets, e.g. imagenet-latency, "
                                                    "imagenet-flops400M, cifar-params1M.")] = None,
    space: Annotated[SearchSpaceName | None, typer.Option(help="Search space (default: the preset's).")] = None,
    init: Annotated[str | None, typer.Option(help="Initial structure (default: the preset's).")] = None,
    resolution: Annotated[int | None, typer.Option(min=MIN_RESOLUTION, help="Input resolution (default: the "
                                                                            "preset's).")] = None,
    num_classes: NumClassesOption = None,
    population: Annotated[int, typer.Option(min=1, help="Population size.")] = 64,
    iterations: Annotated[int, typer.Option(min=1, help="Evolution iterations.")] = 1000,
    minutes: Annotated[float | None, typer.Option(metavar="MIN", help="Stop after this many minutes (checkpointed; --resume "
                                                       "with more continues) if --iterations are not done.")] = None,
    proxy: Annotated[str, typer.Option(help="Score to maximise (`zenbench proxies`); az_nas and ensemble rank "
                                            "each candidate among all scored.")] = "zen",
    batch_size: Annotated[int, typer.Option(min=1, help="Proxy batch size.")] = 16,
    seed: SeedOption = 0,
    out: Annotated[Path | None, typer.Option(help="Results folder (default `runs/search-BUDGET-sSEED`).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the search in --out from its checkpoint.")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Candidates scored in parallel in local processes.")] = 1,
    ray: Annotated[str | None, typer.Option(help="Score on a Ray cluster: auto, local or ray://ADDRESS.")] = None,
    pareto: Annotated[bool, typer.Option(help="Keep the latency-score Pareto front.")] = False,
    guard: Annotated[str, typer.Option(help="Latency guard band: auto (the table's validated error), none, or a "
                                            "fraction such as 0.1.")] = "auto",
    checkpoint_every: Annotated[int, typer.Option(min=1, help="Iterations between checkpoints.")] = 50,
    force: ForceOption = False,
    json_out: JsonOption = False,
) -> None:
    """Zen-NAS evolution under latency, MACs, params or layer budgets into runs/search-BUDGET-sSEED (resumable)."""
    from zenbench.api import plan_search
    from zenbench.search import run_search

    budgets = [positive(ms, "--latency-ms") for ms in latency_ms or []]
    positive(minutes, "--minutes")
    devices = device or ["cpu"]
    band = parse_guard(guard)
    macs, param_budget = parse_quantity(flops, "flops"), parse_quantity(params, "params")
    if space is SearchSpaceName.nb201:
        if len(budgets) > 1 or len(devices) > 1:
            raise ZenbenchError("--space nb201 takes one --latency-ms and one table (--table)")
        _search_nb201(budgets[0] if budgets else None, table_path, proxy, population, iterations, batch_size, seed, out, json_out, resume,
                      checkpoint_every)
        return
    budget: float | list[float] | None = budgets[0] if len(budgets) == 1 else budgets or None
    plan = plan_search(budget, device=devices, table=table_path, macs=macs, params=param_budget,
                       max_layers=max_layers, preset=preset, space=None if space is None else space.value, init=init,
                       resolution=resolution, num_classes=num_classes, population=population, iterations=iterations,
                       proxy=proxy, batch_size=batch_size, seed=seed, out=out, workers=workers, pareto=pareto,
                       guard=band, checkpoint_every=checkpoint_every, force=force, minutes=minutes)
    for each in plan.devices:
        warn_other_host(each.device, table_path, each.host_differences)
    if plan.init_fit is not None and plan.init_fit.narrowed:
        err_console.print(plan.init_fit.describe(plan.settings.constraints.latency_ms), highlight=False)
    folder = plan.folder
    log = None if json_out or err_console.is_terminal else LogProgress(f"search into {folder} (iterations)")

    def show(state: Any, info: dict[str, Any]) -> None:
        if log is not None:
            log.update(0, completed=state.iteration, total=iterations)
        elif not json_out:
            live.update(_view(state, info, iterations, minutes))

    with Live(Table.grid(), console=err_console, refresh_per_second=2, transient=True,
              auto_refresh=not json_out and log is None) as live:
        result = run_search(plan.settings, folder, table=plan.search_tables, resume=resume, ray_address=ray,
                            device=", ".join(d.device for d in plan.devices) or None, on_progress=show,
                            minutes=minutes)
    if json_out:
        print_json(result)
        return
    best = result["best"]
    if best is None:
        console.print(f"[red]no candidate met the constraints[/]; see {folder}/report.md")
        return
    console.print(f"[bold]best[/] (score {best['score']:.4f}, predicted latency {_latency_text(best)}, "
                  f"{best['macs'] / 1e6:.0f}M MACs, {best['params'] / 1e6:.2f}M params, {best['layers']} layers):")
    console.print(best["structure"], soft_wrap=True, highlight=False)
    console.print(result["stop_reason"], highlight=False)
    console.print(f"results: {folder}/ (best_structure.txt, top_k.json, history.parquet, report.md, plots)")


def _latency_text(best: dict[str, Any]) -> str:
    """'3.1 ms', or '3.1 ms on cpu, 4.2 ms on cpu-litert' for a search on several devices."""
    by_device = best.get("latency_ms_by_device")
    if by_device:
        return ", ".join(f"{ms:.4g} ms on {name}" for name, ms in by_device.items())
    return f"{'-' if best['latency_ms'] is None else format(best['latency_ms'], '.4g')} ms"


def _view(state: Any, info: dict[str, Any], iterations: int, minutes: float | None = None) -> Table:
    """The live status lines: iteration, rate, ETA (the sooner of the iterations' and the time budget's),
    best score and its latency, acceptance."""
    best = info["best"]
    rate = state.iteration / max(state.seconds, 1e-9)
    eta = (iterations - state.iteration) / max(rate, 1e-9)
    if minutes is not None:
        eta = max(0.0, min(eta, minutes * 60.0 - state.seconds))
    grid = Table.grid(padding=(0, 2))
    grid.add_row("iteration", f"{state.iteration}/{iterations}", "it/s", f"{rate:.2f}", "ETA", f"{eta:.0f} s")
    grid.add_row("best score", f"{best.score:.4f}", "its latency",
                 "-" if best.latency_ms is None else f"{best.latency_ms:.4g} ms", "accepted",
                 f"{info['accepted']}/{state.iteration} ({info['accepted'] / max(state.iteration, 1):.0%})")
    return grid


def _search_nb201(latency_ms: float | None, table: Path | None, proxy: str, population: int, iterations: int,
                  batch_size: int, seed: int, out: Path | None, json_out: bool, resume: bool,
                  checkpoint_every: int) -> None:
    """``zenbench search --space nb201``: cells under a latency budget from a fitted table."""
    from zenbench.latency import LatencyTable
    from zenbench.search.nb201 import search_nb201

    if latency_ms is None or table is None:
        raise ZenbenchError("--space nb201 needs --latency-ms and --table (a table from `zenbench table fit`)")
    folder = out if out is not None else Path("runs") / f"nb201-{latency_ms:g}ms-s{seed}"
    try:
        result = search_nb201(LatencyTable.load(table), latency_ms=latency_ms, proxy=proxy, population=population,
                              iterations=iterations, batch_size=batch_size, seed=seed, folder=folder, resume=resume,
                              checkpoint_every=checkpoint_every)
    except KeyboardInterrupt:
        typer.echo(f"interrupted: checkpoint saved in {folder}; add --resume to continue", err=True)
        raise typer.Exit(130) from None
    if json_out:
        print_json({k: v for k, v in result.items() if k != "history"})
        return
    best = result["best"]
    console.print("no cell met the budget" if best is None else
                  f"best cell {best['arch']} (score {best['score']:.4f}"
                  + (f", the best mean of {len(result['finalists'])} finalists" if result["finalists"] else "")
                  + f", predicted {best['latency_ms']:.3g} ms); "
                  f"{result['scored']} cells scored in {result['seconds']:.0f} s; results: {folder}")
