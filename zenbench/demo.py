"""The whole pipeline on this machine's CPU in 20-30 minutes: profile, validate, search, export, measure.

Each step is the library call behind a CLI command; the demo only picks small settings (a
sparse grid, a short search) so it finishes quickly, and prints where every result is.

It works on both of this CPU's runtimes, ``cpu`` (ONNX Runtime) and ``cpu-litert`` (LiteRT), because
its two artifacts run on different runtimes: the ONNX file is timed on ONNX Runtime and the TFLite
file on LiteRT, so each is judged against its own device's budget and table. Both sparse tables are
profiled here (the LiteRT units are written as flatbuffers directly, as fast as the ONNX ones) rather
than borrowing the shipped LiteRT table, which describes another machine: a budget judged on another
host's table is the "over" the demo used to report. The search keeps a candidate only if both tables
predict it under the budget, each with its own guard band.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zenbench.quiet import captured_stderr, quiet_libraries

#: each artifact format and the device (runtime) that times it
ARTIFACTS = (("onnx", "cpu"), ("tflite", "cpu-litert"))
#: what the demo costs on the 2-core development VM, for --help and the first line it prints
EXPECTED_MINUTES = "20-30"


class Ticker:
    """Progress for a log as well as a terminal: one ``say`` line at most every ``every`` seconds."""

    def __init__(self, say: Callable[[str], None], what: str, every: float = 15.0) -> None:
        self.say, self.what, self.every = say, what, every
        self.started = self.last = time.perf_counter()

    def __call__(self, done: int, total: int, *_: Any) -> None:
        now = time.perf_counter()
        if now - self.last >= self.every and 0 < done < total:
            self.last = now
            elapsed = now - self.started
            self.say(f"    {self.what} {done}/{total} ({elapsed:.0f} s, about {elapsed * (total - done) / done:.0f} s "
                     f"left)")


@dataclass(frozen=True)
class DeviceTable:
    """One runtime's sparse table in the demo, with its validation and the guard band that follows from it."""

    device: str
    path: Path
    table: Any
    validation: dict[str, Any]
    guard: float


def run_demo(out: Path = Path("runs/demo"), *, latency_ms: float = 10.0, iterations: int = 200, points: int = 2,
             say: Callable[[str], None] = print) -> dict[str, Any]:
    """Profile and validate both CPU runtimes' tables, search under ``latency_ms`` on both, export the winner
    to ONNX and TFLite, time each on its runtime; writes ``out/summary.json`` and returns it."""
    quiet_libraries()  # before anything imports TensorFlow/LiteRT
    from zenbench.search.engine import CHECKPOINT

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    say(f"zenbench demo: about {EXPECTED_MINUTES} minutes on 2 cores (longer on a busy host); everything goes to {out}/")
    tables = [_profile(device, out, points, say) for _, device in ARTIFACTS]
    say("2/5 validating each table on end-to-end measurements of random networks it has not seen")
    tables = [_validate(t, out, say) for t in tables]

    budgets = " and ".join(f"{t.device} (guard band {t.guard:.0%})" for t in tables)
    say(f"3/5 searching under {latency_ms:g} ms on {budgets} ({iterations} iterations, Zen-Score): a candidate "
        f"must fit on both runtimes")
    result = _search(tables, out / "search", latency_ms, iterations, say, resume=(out / "search" / CHECKPOINT).exists())
    best = result["best"]
    if best is None:
        raise RuntimeError("the demo search found no network under the budget")
    from zenbench.latency import predict_latency
    from zenbench.space.spec import NetworkSpec

    spec = NetworkSpec.parse(best["structure"])
    predicted = {t.device: predict_latency(spec, t.table, 224, 1000).value_ms for t in tables}
    say(f"    best: score {best['score']:.2f}, predicted "
        f"{', '.join(f'{ms:.2f} ms on {d}' for d, ms in predicted.items())}, {best['macs'] / 1e6:.0f}M MACs")

    say("4/5 exporting the winner to ONNX and TFLite, checking parity, timing each on its own runtime")
    artifacts = {fmt: _export(spec, fmt, device, out, latency_ms, predicted[device],
                              next(t for t in tables if t.device == device).guard) for fmt, device in ARTIFACTS}
    from zenbench.search.html_report import write_html_report

    page = write_html_report(out / "search", device=tables[0].device, table=tables[0].path)["out"]
    say(f"5/5 done; the search's report: {page}")
    summary = {
        "seconds": time.perf_counter() - started, "budget_ms": latency_ms, "best": best,
        "tables": {t.device: str(t.path) for t in tables}, "validation": {t.device: t.validation for t in tables},
        "predicted_ms": predicted, "artifacts": artifacts, "search": str(out / "search"), "report": str(page),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _profile(device: str, out: Path, points: int, say: Callable[[str], None]) -> DeviceTable:
    from zenbench.builder.profile import profile_device
    from zenbench.devices import SpaceTarget, load_device

    profile = load_device(device)
    path = out / f"{device}-demo.parquet"
    say(f"1/5 profiling a sparse grid of ResNet-like units on {profile.name} ({profile.backend}, "
        f"{profile.threads or 'all'} thread{'' if profile.threads == 1 else 's'})")
    table = profile_device(profile, targets=[SpaceTarget("xxbl", 224)], out=path, points=points, networks=16,
                           on_progress=Ticker(say, "measured"))
    say(f"    {len(table.rows)} units and {len(table.metadata['networks'])} whole networks -> {path}")
    return DeviceTable(profile.name, path, table, {}, 0.0)


def _validate(entry: DeviceTable, out: Path, say: Callable[[str], None]) -> DeviceTable:
    from zenbench.budget import table_guard
    from zenbench.builder.measuring import validate_table
    from zenbench.devices import load_device
    from zenbench.latency import LatencyTable

    validation = validate_table(entry.path, load_device(entry.device), n=12, seed=0, space="xxbl", zoo=False,
                                out_dir=out / f"validation-{entry.device}", on_progress=Ticker(say, "networks"))
    metrics = validation["metrics"]
    table = LatencyTable.load(entry.path)
    guard = table_guard(table)
    say(f"    {entry.device}: MAPE {metrics['mape']:.1%}, within ±10 % {metrics['within_10']:.0%}, Spearman "
        f"{metrics['spearman']:.3f}; guard band {guard:.0%}")
    return DeviceTable(entry.device, entry.path, table, metrics, guard)


def _search(tables: list[DeviceTable], folder: Path, latency_ms: float, iterations: int, say: Callable[[str], None],
            *, resume: bool) -> dict[str, Any]:
    from zenbench.budget import Constraints, DeviceBudget
    from zenbench.search import SearchSettings, search
    from zenbench.search.presets import LATENCY_INIT

    budgets = tuple(DeviceBudget(t.device, latency_ms, t.guard) for t in tables)
    settings = SearchSettings(space="xxbl", init=LATENCY_INIT, resolution=224, num_classes=1000, population=32,
                              iterations=iterations, batch_size=8, seed=0, checkpoint_every=25,
                              constraints=Constraints.for_devices(budgets, layers=18, resolution=224))
    ticker = Ticker(say, "iteration")
    return search(settings, folder, table={t.device: t.table for t in tables},
                  device=", ".join(t.device for t in tables), resume=resume,
                  on_progress=lambda state, _: ticker(state.iteration, iterations))


def _export(spec: Any, fmt: str, device: str, out: Path, budget_ms: float, predicted_ms: float,
            guard: float) -> dict[str, Any]:
    """Export ``spec`` as ``fmt``, time it on ``device`` (if this machine has it) against that device's budget."""
    from zenbench.devices import load_device
    from zenbench.export import export

    profile = load_device(device)
    missing = profile.availability()
    with captured_stderr():  # the converters' and runtimes' start-up notices
        manifest = export(spec, fmt, out_dir=out / "search" / "export", resolution=224, num_classes=1000, name="best",
                          measure_on=profile if missing is None else None, budget_ms=budget_ms,
                          predicted_ms=predicted_ms)
    latency = manifest.get("latency") or {}
    measured = (latency.get("ms") or {}).get("median")
    within = latency.get("within_budget")
    return {"file": str(out / "search" / "export" / manifest["file"]), "parity": manifest["parity"], "device": device,
            "budget_ms": budget_ms, "predicted_ms": predicted_ms, "measured_ms": measured, "within_budget": within,
            "note": verdict_note(measured, budget_ms, predicted_ms, guard, missing)}


def verdict_note(measured: float | None, budget_ms: float, predicted_ms: float, guard: float,
                 missing: str | None = None) -> str:
    """The artifact's verdict against its budget and why, in a few words (a reason is always said when it is over)."""
    if measured is None:
        return f"not timed: {missing}" if missing else "not timed"
    if measured <= budget_ms:
        return f"within, {budget_ms - measured:.2f} ms to spare"
    error = measured / predicted_ms - 1
    if error > guard:
        return (f"over by {measured - budget_ms:.2f} ms: measured {error:+.0%} off the table's {predicted_ms:.2f} ms, "
                f"more than its {guard:.0%} guard band (a noisy host or a table to re-profile)")
    return (f"over by {measured - budget_ms:.2f} ms although within the {guard:.0%} guard band of the "
            f"prediction: the host was slower while timing; rerun `zenbench export --device` to retime")


__all__ = ["ARTIFACTS", "EXPECTED_MINUTES", "run_demo", "verdict_note"]
