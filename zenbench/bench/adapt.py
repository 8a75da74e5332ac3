"""Benchmark: how well a table profiled on another host predicts this one once adapted, by budget (issue #30).

For each device, a pool of held-out random networks and the adaptation's own networks (the sequence
``zenbench profile --minutes`` measures, seed 0) are measured once, in round-robin passes. Then for each
budget of B adaptation networks (the first B of that sequence) the source table is adapted
(:func:`~zenbench.builder.adapt_forms.adapt_calibration`) and scored on the held-out pool: share within
±10 %, MAPE, Spearman ρ, beside the unadapted source's figures and the measuring minutes the B networks
took. For ``cpu-litert`` the ``cpu`` table is adapted too, on the same measurements: how far a table of
another runtime carries. Run it on a quiet host: every figure here is a timing.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Any

from zenbench.builder.adapt_forms import MIN_ADAPT_NETWORKS, adapt_calibration, predict
from zenbench.builder.adapt_source import (
    SampledNetwork,
    network_sums,
    pass_seconds,
    predicted_ms,
    sample_networks,
    source_targets,
)
from zenbench.builder.measuring import measure_networks
from zenbench.devices import DeviceProfile, SpaceTarget, load_device
from zenbench.latency import LatencyTable, error_metrics
from zenbench.locate import SHIPPED_TABLES, table_file_name
from zenbench.measure import environment

#: other devices' tables also adapted to a device, on the same measurements (across runtimes)
CROSS_SOURCES = {"cpu-litert": ("cpu",)}
DEFAULT_BUDGETS = (10, 20, 40, 80)


def _networks(targets: list[SpaceTarget], count: int, seed: int, tag: str) -> list[SampledNetwork]:
    return list(itertools.islice(sample_networks(targets, seed, tag), count))


def plan_seconds(table: LatencyTable, profile: DeviceProfile, nets: Sequence[SampledNetwork], passes: int,
                 quick: bool) -> float:
    """Estimated measuring time of ``nets`` (the same estimate as the profile's budget check)."""
    rules = profile.timing.quick() if quick else profile.timing
    return sum(pass_seconds(predicted_ms(table, n), rules) for n in nets) * passes


def _measure(profile: DeviceProfile, nets: list[SampledNetwork], passes: int, quick: bool
             ) -> tuple[list[float], list[float]]:
    """Each network's median-pass latency (batch ms) and the seconds its passes took in all."""
    marks = [time.monotonic()]
    measured = measure_networks([(n.spec, n.resolution, n.num_classes) for n in nets], profile, passes=passes,
                                rules=profile.timing.quick() if quick else None,
                                on_progress=lambda done: marks.append(time.monotonic()))
    seconds = [0.0] * len(nets)
    for k in range(len(marks) - 1):  # measurement k is pass k // len(nets) of network k % len(nets)
        seconds[k % len(nets)] += marks[k + 1] - marks[k]
    return [m.median * 1000 for m in measured], seconds


def _as_networks(nets: Sequence[SampledNetwork], ms: Sequence[float]) -> list[dict[str, Any]]:
    return [{"structure": n.structure, "resolution": n.resolution, "num_classes": n.num_classes, "median_ms": m}
            for n, m in zip(nets, ms, strict=True)]


def score_source(source: LatencyTable, held: list[dict[str, Any]], adapt_nets: list[dict[str, Any]],
                 adapt_seconds: list[float], budgets: Sequence[int]) -> dict[str, Any]:
    """The source's figures on the held-out networks, unadapted and adapted with each budget."""
    held_sums = network_sums(source, held)
    adapt_sums = network_sums(source, adapt_nets)
    measured = [s.measured_ms for s in held_sums]
    base = source.calibration
    rows = []
    for budget in budgets:
        adaptation = adapt_calibration(base, adapt_sums[:budget])
        metrics = error_metrics([predict(adaptation.calibration, s) for s in held_sums], measured)
        rows.append({"networks": budget, "minutes": sum(adapt_seconds[:budget]) / 60, "form": adaptation.form,
                     "loo_mape": dict(adaptation.loo_mape), "factors": dict(adaptation.factors), **metrics})
    unadapted = error_metrics([predict(base, s) if base else sum(s.raw_by_group.values()) for s in held_sums],
                              measured)
    host = (source.metadata.get("environment") or {}).get("cpu")
    return {"source_host": host, "source_backend": (source.metadata.get("device") or {}).get("backend"),
            "unadapted": unadapted, "budgets": rows}


def run(runs: int = 10, *, devices: Sequence[str] = ("cpu", "cpu-litert"), held_out: int = 30,
        budgets: Sequence[int] = DEFAULT_BUDGETS, passes: int = 3, quick: bool = False, resolution: int | None = None,
        plan: bool = False, seed: int = 0) -> dict[str, Any]:
    """Measure and score every device (``runs`` is unused: the timing rules are the device's). ``plan`` only
    estimates the measuring time; ``resolution`` overrides the sampled networks' (a smoke test's 32)."""
    budgets = sorted({max(MIN_ADAPT_NETWORKS, b) for b in budgets})
    out: dict[str, Any] = {"environment": environment(1), "held_out": held_out, "budgets": budgets,
                           "passes": passes, "quick": quick, "devices": {}}
    for name in devices:
        profile = load_device(name)
        own = LatencyTable.load(SHIPPED_TABLES / table_file_name(name))
        targets = source_targets(own)
        if resolution:
            targets = [SpaceTarget(t.space, resolution) for t in targets]
        held = _networks(targets, held_out, seed, "adapt-bench-held-out")
        adapt = _networks(targets, budgets[-1], 0, "adapt")  # what `zenbench profile --minutes` measures first
        estimate = plan_seconds(own, profile, held + adapt, passes, quick)
        entry: dict[str, Any] = {"estimated_minutes": estimate / 60}
        out["devices"][name] = entry
        if plan:
            continue
        started = time.monotonic()
        ms, seconds = _measure(profile, held + adapt, passes, quick)
        entry["measured_minutes"] = (time.monotonic() - started) / 60
        held_nets, adapt_nets = _as_networks(held, ms[:held_out]), _as_networks(adapt, ms[held_out:])
        sources = {name: own} | {s: LatencyTable.load(SHIPPED_TABLES / table_file_name(s))
                                 for s in CROSS_SOURCES.get(name, ())}
        entry["sources"] = {s: score_source(t, held_nets, adapt_nets, seconds[held_out:], budgets)
                            for s, t in sources.items()}
        entry["held_out_networks"] = held_nets
    return out


def render(result: dict[str, Any], console: Any) -> None:
    """One table per device and source: within ±10 %, MAPE and Spearman by budget."""
    from rich.table import Table

    for device, entry in result["devices"].items():
        if "sources" not in entry:
            console.print(f"{device}: about {entry['estimated_minutes']:.1f} minutes of measuring "
                          f"({result['held_out']} held-out + {result['budgets'][-1]} adaptation networks, "
                          f"{result['passes']} passes)")
            continue
        for source, scored in entry["sources"].items():
            table = Table(title=f"{source} table ({scored['source_host']}, {scored['source_backend']}) adapted to "
                                f"{device} here, on {result['held_out']} held-out networks", title_justify="left")
            for col in ("networks", "minutes", "form", "within ±10 %", "MAPE", "Spearman"):
                table.add_column(col, justify="left" if col == "form" else "right")
            u = scored["unadapted"]
            table.add_row("0", "0", "unadapted", f"{u['within_10']:.0%}", f"{u['mape']:.1%}", f"{u['spearman']:.3f}")
            for r in scored["budgets"]:
                table.add_row(str(r["networks"]), f"{r['minutes']:.1f}", r["form"], f"{r['within_10']:.0%}",
                              f"{r['mape']:.1%}", f"{r['spearman']:.3f}")
            console.print(table)


__all__ = ["render", "run", "score_source"]
