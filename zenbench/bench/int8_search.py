"""The same millisecond budget searched in fp32 and in int8 on this host's CPU, and the int8 table's validation.

For each budget, one Zen-NAS search per precision (``cpu`` and ``cpu:int8``: same seed, iterations,
preset and guard rule), each under its own table. Both winners are then re-scored with the same
Zen-Score protocol (three draws) and *measured* on this host in both precisions, in alternating
passes, so the comparison does not rest on either table. How the winners differ is told by their
depth, widths, parameters, MACs and block types.

The validation half reports the int8 table's accuracy on networks it never saw, from the
validation that ``zenbench validate --device cpu:int8`` wrote next to the table.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from zenbench.measure import environment

DEVICES = ("cpu", "cpu:int8")


def describe_structure(structure: str, resolution: int = 224, num_classes: int = 1000) -> dict[str, Any]:
    """What a winner is made of: depth, widths, size and its blocks' types."""
    from zenbench.space.spec import NetworkSpec

    spec = NetworkSpec.parse(structure)
    counts = spec.counts(resolution, num_classes)
    units = list(spec.units())
    return {"layers": spec.layers, "units": len(units), "params_m": counts.params / 1e6, "macs_g": counts.macs / 1e9,
            "max_width": max(u.out_channels for u in units), "final_width": spec.out_channels,
            "block_types": dict(Counter(u.family for u in units))}


def _measure(structures: list[str]) -> dict[str, list[float]]:
    """Each structure's measured ms on both devices (3 alternating passes, median pass)."""
    from zenbench.builder.measuring import measure_networks
    from zenbench.devices import load_device
    from zenbench.space.spec import NetworkSpec

    specs = [(NetworkSpec.parse(s), 224, 1000) for s in structures]
    return {device: [m.median * 1000 for m in measure_networks(specs, load_device(device))] for device in DEVICES}


def compare_budget(budget_ms: float, iterations: int, seed: int, folder: Path) -> dict[str, Any]:
    """One budget: a search per precision, both winners re-scored and measured in both precisions."""
    from zenbench.api import search
    from zenbench.errors import NoFeasibleCandidate
    from zenbench.proxies import score

    winners, width_factors = {}, {}
    for device in DEVICES:
        try:
            result = search(budget_ms, device=device, iterations=iterations, seed=seed, preset="imagenet-latency",
                            out=folder / f"{device.replace(':', '-')}-{budget_ms:g}ms")
        except NoFeasibleCandidate as error:  # a budget below what this host's table allows the preset's start
            return {"budget_ms": budget_ms, "iterations": iterations, "seed": seed, "winners": {},
                    "no_candidate": {"device": device, "error": str(error)}}
        winners[device] = result["best"]
        width_factors[device] = result.get("init_width_factor", 1.0)  # < 1: the preset's start was narrowed
    structures = [winners[d]["structure"] for d in DEVICES]
    measured = _measure(structures)
    rows = {}
    for i, device in enumerate(DEVICES):
        rescored = score(structures[i], "zen", resolution=224, batch_size=16, repeat=3)
        rows[device] = {"structure": structures[i], "search_score": winners[device]["score"],
                        "zen_score": rescored.mean, "zen_ci95": rescored.ci95,
                        "predicted_ms": winners[device].get("latency_ms"), "init_width_factor": width_factors[device],
                        "measured_ms": {d: measured[d][i] for d in DEVICES}, **describe_structure(structures[i])}
    fp32, int8 = rows["cpu"], rows["cpu:int8"]
    return {"budget_ms": budget_ms, "iterations": iterations, "seed": seed, "winners": rows,
            "int8_minus_fp32_zen_score": int8["zen_score"] - fp32["zen_score"],
            "fp32_winner_int8_speedup": fp32["measured_ms"]["cpu"] / fp32["measured_ms"]["cpu:int8"],
            "int8_winner_int8_speedup": int8["measured_ms"]["cpu"] / int8["measured_ms"]["cpu:int8"]}


def table_validation() -> dict[str, Any]:
    """The int8 table's validation summary (``zenbench validate --device cpu:int8``), with the table's host."""
    from zenbench.latency import LatencyTable
    from zenbench.latency.evaluation import validation_dir
    from zenbench.locate import find_table

    path = find_table("cpu:int8")
    if not path.exists():
        return {"table": str(path), "missing": "profile it: zenbench profile --device cpu:int8"}
    table = LatencyTable.load(path)
    report = validation_dir(path) / "validation.json"
    out = {"table": str(path), "host": (table.metadata.get("environment") or {}).get("cpu"),
           "quantization": ((table.metadata.get("device") or {}).get("options") or {}).get("quantization")}
    if report.exists():
        data = json.loads(report.read_text())
        out["metrics"] = data.get("metrics")
        out["zoo_metrics"] = data.get("zoo_metrics")
    else:
        out["missing"] = "validate it: zenbench validate --device cpu:int8"
    return out


def run(budgets: tuple[float, ...] = (5.0, 10.0), iterations: int = 500, seed: int = 0,
        runs: int | None = None) -> dict[str, Any]:
    """Both halves (``runs``, the bench runner's shared option, is unused: the device profiles time)."""
    with tempfile.TemporaryDirectory() as tmp:
        comparisons = [compare_budget(b, iterations, seed, Path(tmp)) for b in budgets]
    return {"suite": "int8_search", "environment": environment(1), "validation": table_validation(),
            "comparisons": comparisons}


def render(result: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    v = result["validation"]
    metrics = v.get("metrics") or {}
    if metrics:
        console.print(f"int8 table {v['table']} ({v.get('host')}): {metrics.get('within_10', 0):.0%} within ±10 %, "
                      f"MAPE {metrics.get('mape', 0):.1%}, Spearman {metrics.get('spearman', 0):.3f} on "
                      f"{metrics.get('n', '?')} held-out networks")
    else:
        console.print(f"int8 table: {v.get('missing')}")
    table = Table(title="best Zen-Score under the same budget, fp32 vs int8 (cpu)", title_justify="left")
    for col in ("budget", "search on", "Zen-Score (±95 %)", "measured fp32 ms", "measured int8 ms", "layers",
                "params M", "MACs G", "final width"):
        table.add_column(col, justify="left" if col == "search on" else "right")
    for c in result["comparisons"]:
        if c.get("no_candidate"):
            console.print(f"{c['budget_ms']:g} ms: no {c['no_candidate']['device']} network fits on this host's table")
            continue
        for device, w in c["winners"].items():
            table.add_row(f"{c['budget_ms']:g} ms", device, f"{w['zen_score']:.1f} ± {w['zen_ci95']:.1f}",
                          f"{w['measured_ms']['cpu']:.2f}", f"{w['measured_ms']['cpu:int8']:.2f}", str(w["layers"]),
                          f"{w['params_m']:.1f}", f"{w['macs_g']:.2f}", str(w["final_width"]))
    console.print(table)
