"""The benchmark group: proxies against NAS-Bench-201 accuracy, NB201 search against the oracle, latency fits."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from zenbench.cli.options import (
    CellSet,
    Dataset,
    GroundTruthSpace,
    JsonOption,
    LatencySource,
    MeasurementsOption,
    SeedOption,
    positive,
    split_names,
)
from zenbench.cli.render import console, err_console, print_json, progress_bar, table
from zenbench.search.finalists import FINALIST_DRAWS, FINALISTS

SpaceOption = Annotated[GroundTruthSpace, typer.Option(help="Search space with ground truth.")]


def proxies(
    space: SpaceOption = GroundTruthSpace.nb201,
    dataset: Annotated[Dataset, typer.Option(help="NAS-Bench-201 dataset whose accuracy to rank against.")
                       ] = Dataset.cifar10,
    sample: Annotated[int, typer.Option(min=0, help="Cells to score, drawn at random (0: all 15,625).")] = 1000,
    cells: Annotated[CellSet, typer.Option(help="Draw from all cells, or the 9,445 live ones (every op reaches the "
                                                "output: the set VKDNW's table ranks).")] = CellSet.all,
    seed: SeedOption = 0,
    proxy: Annotated[str, typer.Option(help="Comma-separated proxies (default: all but tenas, which is slow).")] = "",
    batch_size: Annotated[int, typer.Option(min=1, help="Inputs per forward pass.")] = 16,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (default: one per core).")] = None,
    data: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                              help="A .npy batch of real images instead of noise.")] = None,
    out: Annotated[Path, typer.Option(help="Results folder.")] = Path("runs/nb201-proxies"),
    json_out: JsonOption = False,
) -> None:
    """Spearman/Kendall of each proxy against NAS-Bench-201 test accuracy, next to the published figures."""
    from zenbench.bench import nb201_proxies

    chosen = tuple(split_names(proxy)) or nb201_proxies.DEFAULT_PROXIES
    with progress_bar(f"scoring NAS-Bench-201 cells ({dataset.value})", disable=json_out) as bar:
        task = bar.add_task("cells", total=None)
        summary = nb201_proxies.run(dataset=dataset.value, sample=sample, seed=seed, proxies=chosen,
                                    batch_size=batch_size, data=data, out_dir=out, cells=cells.value,
                                    workers=workers if workers is not None else (os.cpu_count() or 1),
                                    on_progress=lambda done, total: bar.update(task, completed=done, total=total))
    if json_out:
        print_json(summary)
        return
    which = " live" if cells is CellSet.live else ""
    out_table = table(f"NAS-Bench-201 {dataset.value}: {summary['sample']}{which} cells, {summary['inputs']} inputs, "
                      f"batch {batch_size}, seed {seed}",
                      ("proxy", "Spearman ρ", "95 % interval", "Kendall τ", "published ρ", "difference"),
                      left=("proxy",))
    for c in sorted(summary["correlations"], key=lambda c: -c["spearman"]):
        pub = c["published"]
        out_table.add_row(c["proxy"], f"{c['spearman']:.3f}", f"[{c['spearman_low']:.3f}, {c['spearman_high']:.3f}]",
                          f"{c['kendall']:.3f}", "-" if pub is None else f"{pub:.3f}",
                          "-" if pub is None else f"{c['spearman'] - pub:+.3f}")
    console.print(out_table)
    console.print(f"scores: {summary['scores_csv']}; plots: {out}/scatter_*.png; {summary['seconds']:.0f} s")


def nb201_search(
    measurements: MeasurementsOption,
    column: Annotated[str, typer.Option(help="Device column: the table is fitted on it and the oracle judged by it.")],
    latency_ms: Annotated[float | None, typer.Option(help="Budget (default: the column's 30th percentile).")] = None,
    samples: Annotated[int, typer.Option(min=1, help="Measured cells the latency table is fitted on.")] = 100,
    latency: Annotated[LatencySource, typer.Option(
        help="fitted: a table fitted on --samples cells; measured: every cell's measurement.")] = LatencySource.fitted,
    proxy: Annotated[str, typer.Option(help="Comma-separated proxies to search with.")] = "zen,az_nas,ensemble",
    iterations: Annotated[int, typer.Option(min=1, help="Evolution iterations.")] = 300,
    population: Annotated[int, typer.Option(min=1, help="Population size.")] = 32,
    finalists: Annotated[int, typer.Option(
        min=0, help=f"Top cells scored {FINALIST_DRAWS} more times at the end, best mean wins (0: the loop's best).")
    ] = FINALISTS,
    seed: SeedOption = 0,
    json_out: JsonOption = False,
) -> None:
    """Search NAS-Bench-201 under a device's latency budget and compare with the oracle (true accuracy)."""
    from zenbench.bench.nb201_search import compare_proxies

    positive(latency_ms, "--latency-ms")
    names = tuple(split_names(proxy))
    with err_console.status("searching") as status:
        summary = compare_proxies(measurements, column, names, latency_ms=latency_ms, samples=samples,
                                  iterations=iterations, population=population, seed=seed,
                                  latency=latency.value, finalists=finalists, on_proxy=lambda name: status.update(f"searching with {name}"))
    budget, rows = summary["budget_ms"], summary["results"]
    if json_out:
        print_json(summary)
        return
    source = f"table fitted on {samples} cells" if latency is LatencySource.fitted else "every cell measured"
    out = table(f"NAS-Bench-201 search on {column}, budget {budget:.4g} ms ({source})",
                ("proxy", "found acc. %", "found latency ms", "oracle acc. %", "rank among feasible", "meets budget"),
                left=("proxy",))
    for r in rows:
        if r["best"] is None:
            out.add_row(r["proxy"], "-", "-", "-", "-", "no cell")
            continue
        out.add_row(r["proxy"], f"{r['found_accuracy']:.2f}", f"{r['found_latency_ms']:.4g}",
                    f"{r['oracle_accuracy']:.2f}", f"{r['found_rank_among_feasible']:.0f} of {r['feasible_cells']}",
                    "yes" if r["found_meets_budget"] else "no")
    console.print(out)
    reach = summary["reachable"]
    console.print(f"the best cell the fitted table lets a search take: {reach['accuracy']:.2f} % "
                  f"({reach['cells']} cells predicted and measured within the budget)")


def latency_fit(
    measurements: MeasurementsOption,
    space: SpaceOption = GroundTruthSpace.nb201,
    samples: Annotated[list[int] | None, typer.Option(min=1, help="K cells to fit on; repeat for several "
                                                                  "(default 20 50 100 500).")] = None,
    seed: SeedOption = 0,
    json_out: JsonOption = False,
) -> None:
    """How well K measured cells predict all 15,625: Spearman ρ, MAPE, share within ±10 %, per device column."""
    from zenbench.latency.nb201 import evaluate_fit

    rows = evaluate_fit(measurements, tuple(samples or (20, 50, 100, 500)), seed)
    if json_out:
        print_json(rows)
        return
    out = table(f"per-unit costs fitted on K cells of {measurements}, checked on all cells",
                ("device", "K", "model", "Spearman ρ", "MAPE", "within ±10 %"), left=("device", "model"))
    for r in rows:
        out.add_row(r["device"], str(r["samples"]), f"{r['form']}, pruning {r['pruning']}", f"{r['spearman']:.3f}",
                    f"{r['mape']:.1%}", f"{r['within_10']:.0%}")
    console.print(out)
