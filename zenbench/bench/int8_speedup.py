"""Where int8 pays: the int8/fp32 speed-up of each unit kind and width range, on each CPU runtime of this host.

Units are drawn from the profile grid (``builder.grid``) of both spaces at 224: per unit kind and
width range of the unit's middle (bottleneck) channels, up to ``per_cell`` units. Each unit is built in
both precisions on one runtime and timed under the device's unit rules in alternating passes
(fp32, int8, fp32, int8, ...), so both see the same host; the speed-up is fp32 ms / int8 ms of the
median passes. int8 units are timed as the int8 profile times them: integer tensors at their edges.
"""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from zenbench.backends.base import get_backend
from zenbench.builder.grid import grid
from zenbench.devices import SpaceTarget, load_device
from zenbench.errors import ZenbenchError
from zenbench.latency.units import unit_mid
from zenbench.measure import environment, median_instance

#: width ranges of a unit's middle channels: (label, lowest, highest)
WIDTHS = (("8-32", 8, 32), ("40-96", 33, 96), ("104-256", 97, 256), ("264+", 257, 10**9))
RUNTIMES = ("cpu", "cpu-litert")
PASSES = 3


def width_range(channels: int) -> str:
    return next(label for label, lo, hi in WIDTHS if lo <= channels <= hi)


def sample_units(per_cell: int, seed: int = 0, spaces: tuple[str, ...] = ("xxbl", "idw")) -> list[Any]:
    """Up to ``per_cell`` grid units per (kind, width range), drawn with ``seed``."""
    cells: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for space in spaces:
        for job in grid(SpaceTarget(space, 224), batch=1):
            if job.unit is not None:
                cells[(job.kind, width_range(unit_mid(job.unit)))].append(job)
    rng = random.Random(seed)
    picked = []
    for key in sorted(cells):
        jobs = sorted(cells[key], key=lambda j: j.key)
        picked += rng.sample(jobs, min(per_cell, len(jobs)))
    return picked


def _time_pair(job: Any, runtime: str) -> dict[str, float]:
    """fp32 and int8 ms of one unit on ``runtime``, timed in alternating passes."""
    profiles = {p: load_device(runtime if p == "fp32" else f"{runtime}:int8") for p in ("fp32", "int8")}
    found: dict[str, list[Any]] = {"fp32": [], "int8": []}
    backend = get_backend(profiles["fp32"].backend)
    runnables = {p: backend.prepare(job.workload(1), profile.settings) for p, profile in profiles.items()}
    try:
        for _ in range(PASSES):
            for p, runnable in runnables.items():
                found[p].append(backend.time(runnable, profiles[p].timing))
    finally:
        for runnable in runnables.values():
            runnable.close()
    return {p: median_instance(runs).median * 1000 for p, runs in found.items()}


def available_runtimes() -> list[str]:
    """The CPU runtimes whose fp32 and int8 devices both run here."""
    out = []
    for runtime in RUNTIMES:
        try:
            if load_device(runtime).availability() is None and load_device(f"{runtime}:int8").availability() is None:
                out.append(runtime)
        except ZenbenchError:  # a runtime without an int8 variant is simply not mapped
            continue
    return out


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median speed-up per (runtime, kind, width range), with its unit count and range."""
    groups: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in rows:
        groups[(r["runtime"], r["kind"], r["width"])].append(r["speedup"])
    return [{"runtime": k[0], "kind": k[1], "width": k[2], "units": len(v), "median_speedup": statistics.median(v),
             "min_speedup": min(v), "max_speedup": max(v)} for k, v in sorted(groups.items())]


def plot(summary: list[dict[str, Any]], out: Path) -> list[str]:
    """One heat map per runtime (kinds x width ranges, log-scaled speed-up; red: int8 slower). Returns the files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import LogNorm

    files = []
    for runtime in sorted({s["runtime"] for s in summary}):
        cells = [s for s in summary if s["runtime"] == runtime]
        kinds = sorted({s["kind"] for s in cells})
        grid_values = np.full((len(kinds), len(WIDTHS)), np.nan)
        for s in cells:
            grid_values[kinds.index(s["kind"]), [w[0] for w in WIDTHS].index(s["width"])] = s["median_speedup"]
        fig, ax = plt.subplots(figsize=(6.5, 0.32 * len(kinds) + 1.6))
        image = ax.imshow(grid_values, cmap="RdYlGn", norm=LogNorm(vmin=0.25, vmax=4.0), aspect="auto")
        for (i, j), value in np.ndenumerate(grid_values):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(WIDTHS)), [w[0] for w in WIDTHS])
        ax.set_yticks(range(len(kinds)), kinds, fontsize=7)
        ax.set_xlabel("middle channels")
        ax.set_title(f"int8 speed-up over fp32 ({runtime}, batch 1, one thread)", fontsize=9)
        fig.colorbar(image, ax=ax, label="fp32 ms / int8 ms")
        fig.tight_layout()
        path = out / f"int8_speedup_{runtime}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(str(path))
    return files


def run(per_cell: int = 2, seed: int = 0, out: Path = Path("bench_results"), runtimes: list[str] | None = None,
        on_progress: Any = None, runs: int | None = None, limit: int | None = None) -> dict[str, Any]:
    """The speed-up map: every sampled unit on every available runtime, summarised and plotted into ``out``
    (``runs`` is the bench runner's shared option; the device profiles' timing rules decide the runs here).
    ``limit`` keeps every ``len // limit``-th sampled unit only (a smoke run)."""
    units = sample_units(per_cell, seed)
    if limit:
        units = units[:: max(1, len(units) // limit)][:limit]
    rows = []
    chosen = runtimes or available_runtimes()
    for runtime in chosen:
        for i, job in enumerate(units):
            ms = _time_pair(job, runtime)
            u = job.unit
            rows.append({"runtime": runtime, "key": job.key, "kind": job.kind, "width": width_range(unit_mid(u)),
                         "resolution": job.resolution, "in": u.in_channels, "mid": unit_mid(u), "out": u.out_channels,
                         "fp32_ms": ms["fp32"], "int8_ms": ms["int8"], "speedup": ms["fp32"] / ms["int8"]})
            if on_progress:
                on_progress(f"{runtime} {i + 1}/{len(units)}")
    summary = summarise(rows)
    out.mkdir(parents=True, exist_ok=True)
    versions = {r: get_backend(load_device(r).backend).versions() for r in chosen}
    return {"environment": environment(1), "versions": versions, "runtimes": chosen, "per_cell": per_cell,
            "seed": seed, "passes": PASSES, "units": rows, "summary": summary, "plots": plot(summary, out)}


def render(result: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    for runtime in result["runtimes"]:
        cells = [s for s in result["summary"] if s["runtime"] == runtime]
        table = Table(title=f"int8 speed-up over fp32 on {runtime} (median per kind and middle width; units)",
                      title_justify="left")
        table.add_column("kind")
        for label, _, _ in WIDTHS:
            table.add_column(label, justify="right")
        for kind in sorted({s["kind"] for s in cells}):
            by_width = {s["width"]: s for s in cells if s["kind"] == kind}
            table.add_row(kind, *(f"{by_width[w]['median_speedup']:.2f}x ({by_width[w]['units']})"
                                  if w in by_width else "-" for w, _, _ in WIDTHS))
        console.print(table)
        speedups = [r["speedup"] for r in result["units"] if r["runtime"] == runtime]
        slower = sum(s < 1 for s in speedups)
        console.print(f"{runtime}: median {statistics.median(speedups):.2f}x over {len(speedups)} units; "
                      f"{slower} slower in int8")
