"""The whole pipeline on this machine's CPU in a few minutes: profile, validate, search, export, measure.

Each step is the library call behind a CLI command; the demo only picks small settings (a
sparse grid, a short search) so it finishes quickly, and prints where every result is.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zenbench.budget import Constraints, table_guard
from zenbench.builder.measuring import validate_table
from zenbench.builder.profile import profile_device
from zenbench.devices import SpaceTarget, load_device
from zenbench.export import export
from zenbench.latency import LatencyTable, predict_latency
from zenbench.search import SearchSettings, search
from zenbench.search.presets import LATENCY_INIT
from zenbench.space.spec import NetworkSpec


def run_demo(out: Path = Path("runs/demo"), *, latency_ms: float = 10.0, iterations: int = 200, points: int = 2,
             say: Callable[[str], None] = print) -> dict[str, Any]:
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    cpu = load_device("cpu")
    table_path = out / "cpu-demo.parquet"

    say(f"1/5 profiling a sparse grid of ResNet-like units on {cpu.name} ({cpu.backend}, "
        f"{cpu.threads or 'all'} thread{'' if cpu.threads == 1 else 's'})")
    table = profile_device(cpu, targets=[SpaceTarget("xxbl", 224)], out=table_path, points=points, networks=16)
    say(f"    {len(table.rows)} units and {len(table.metadata['networks'])} whole networks -> {table_path}")

    say("2/5 validating the table on end-to-end measurements of random networks it has not seen")
    validation = validate_table(table_path, cpu, n=12, seed=0, space="xxbl", zoo=False, out_dir=out / "validation")
    metrics = validation["metrics"]
    say(f"    MAPE {metrics['mape']:.1%}, within ±10 % {metrics['within_10']:.0%}, Spearman {metrics['spearman']:.3f}")
    table = LatencyTable.load(table_path)

    say(f"3/5 searching under {latency_ms:g} ms ({iterations} iterations, Zen-Score; guard band "
        f"{table_guard(table):.0%} from the validation, so the measured latency meets the budget)")
    settings = SearchSettings(space="xxbl", init=LATENCY_INIT, resolution=224, num_classes=1000, population=32,
                              iterations=iterations, batch_size=8, seed=0, checkpoint_every=25,
                              constraints=Constraints(latency_ms=latency_ms, layers=18, resolution=224,
                                                      latency_guard=table_guard(table)))
    result = search(settings, out / "search", table=table, device=cpu.name, resume=(out / "search" / "checkpoint.json").exists())
    best = result["best"]
    if best is None:
        raise RuntimeError("the demo search found no network under the budget")
    spec = NetworkSpec.parse(best["structure"])
    predicted = predict_latency(spec, table, 224, 1000).value_ms
    say(f"    best: score {best['score']:.2f}, predicted {predicted:.2f} ms, {best['macs'] / 1e6:.0f}M MACs")

    say("4/5 exporting the winner to ONNX and TFLite, checking parity, timing each on its runtime")
    artifacts = {}
    for fmt, device in (("onnx", "cpu"), ("tflite", "cpu-litert")):
        profile = load_device(device)
        manifest = export(spec, fmt, out_dir=out / "export", resolution=224, num_classes=1000, name="best",
                          measure_on=profile if profile.availability() is None else None, budget_ms=latency_ms,
                          predicted_ms=predicted)
        artifacts[fmt] = manifest
    say("5/5 done")
    summary = {
        "seconds": time.perf_counter() - started, "table": str(table_path), "validation": metrics,
        "budget_ms": latency_ms, "best": best, "predicted_ms": predicted,
        "artifacts": {fmt: {"file": str(out / "export" / m["file"]), "parity": m["parity"],
                            "measured_ms": (m.get("latency") or {}).get("ms", {}).get("median"),
                            "within_budget": (m.get("latency") or {}).get("within_budget")} for fmt, m in artifacts.items()},
        "search": str(out / "search"),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
