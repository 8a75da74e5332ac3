"""Search throughput (sequential vs ``--workers 2``) and how close the search gets to the ZenNet zoo.

Throughput: iterations per second of the paper's CIFAR params-1M preset and the ImageNet latency
preset (under the cpu table), one process vs two worker processes, same seed.

Zoo comparison: under a zoo model's own budget (its params for CIFAR; its predicted latency on
this device for ImageNet) and the paper's ``max_layers``, the Zen-Score the search reaches after
N iterations against the zoo model's own Zen-Score, both computed with the same protocol,
resolution and batch.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from zenbench.budget import Constraints
from zenbench.latency import LatencyTable, predict_latency
from zenbench.locate import SHIPPED_TABLES
from zenbench.measure import environment
from zenbench.proxies import score
from zenbench.search import SearchSettings, search
from zenbench.search.presets import get_preset
from zenbench.zoo import get_zoo_model

TABLE = SHIPPED_TABLES / "cpu.parquet"


def _settings(preset: str, constraints: Constraints, iterations: int, workers: int, batch: int,
              checkpoint_every: int = 10**9) -> SearchSettings:
    p = get_preset(preset)
    return SearchSettings(space=p.space, init=p.init, resolution=p.resolution, num_classes=p.num_classes, population=64,
                          iterations=iterations, batch_size=batch, seed=0, workers=workers,
                          checkpoint_every=checkpoint_every, constraints=constraints)


def throughput(iterations: int = 300) -> list[dict[str, Any]]:
    """Steady-state iterations/s: long enough that starting the worker processes (~2 s) is a small share."""
    table = LatencyTable.load(TABLE) if TABLE.exists() else None
    cases = [("cifar-params1M", Constraints(params=1e6, layers=18, resolution=32, num_classes=100), None, 64, iterations)]
    if table is not None:
        cases.append(("imagenet-latency", Constraints(latency_ms=20.0, layers=10, resolution=224), table, 16,
                      iterations // 3))
    rows = []
    for preset, constraints, tab, batch, iterations in cases:
        for workers in (1, 2):
            with tempfile.TemporaryDirectory() as tmp:
                started = time.perf_counter()
                result = search(_settings(preset, constraints, iterations, workers, batch), Path(tmp), table=tab)
                seconds = time.perf_counter() - started
            rows.append({"preset": preset, "workers": workers, "iterations": iterations, "batch": batch,
                         "seconds": seconds, "iterations_per_second": iterations / seconds, "scored": result["scored"]})
    return rows


def zoo_gap(name: str, iterations: int, batch: int = 64, milestones: tuple[int, ...] = (2000, 10000),
            workers: int = 1, out: Path | None = None) -> dict[str, Any]:
    """The search's best Zen-Score at each milestone iteration (from one run) against the zoo model's.

    With ``out``, the search runs in that folder, checkpoints every 100 iterations and resumes from
    it when called again with the same arguments: a 10k-iteration run takes most of an hour here.
    """
    import contextlib

    import pandas as pd

    zoo = get_zoo_model(name)
    if zoo.num_classes != 1000:
        preset = "cifar-params1M"
        counts = zoo.spec.counts(zoo.resolution, zoo.num_classes)
        constraints = Constraints(params=counts.params, layers=zoo.spec.layers, resolution=zoo.resolution,
                                  num_classes=zoo.num_classes)
        table = None
    else:
        preset = "imagenet-latency"
        table = LatencyTable.load(TABLE)
        budget = predict_latency(zoo.spec, table, zoo.resolution, zoo.num_classes).value_ms
        constraints = Constraints(latency_ms=budget, layers=zoo.spec.layers, resolution=zoo.resolution)
    with contextlib.ExitStack() as stack:
        folder = out if out is not None else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        resume = (folder / "checkpoint.json").exists()
        settings = _settings(preset, constraints, iterations, workers, batch, checkpoint_every=100)
        result = search(settings, folder, table=table, resume=resume)
        seconds = result["seconds"]
        history = pd.read_parquet(folder / "history.parquet")
    scored = history[history["status"] == "scored"]
    best_at = {int(m): float(scored[scored["iteration"] < m]["score"].max()) for m in milestones if m <= iterations}
    zoo_score = score(zoo.spec, "zen", resolution=zoo.resolution, batch_size=batch, repeat=3).mean
    return {"zoo_model": name, "iterations": iterations, "batch": batch, "constraints": constraints.__dict__,
            "search_best_score": result["best"]["score"] if result["best"] else None,
            "search_best": result["best"], "zoo_score": zoo_score, "best_score_at": best_at, "seconds": seconds}


def run(runs: int = 10, iterations: int = 2000, zoo: bool = True) -> dict[str, Any]:
    return {"suite": "search_speed", "environment": environment(), "throughput": throughput(),
            "zoo": [zoo_gap("zennet_cifar100_model_size1M_res32", iterations)] if zoo else []}
