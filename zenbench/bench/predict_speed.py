"""Latency predictions per second on one core, for networks of the default spaces.

Networks are drawn with the random sampler (the sizes a search visits) and mutated as the search
mutates them, so most blocks repeat, as they do in a search; the first pass over a network fills
the per-block cache ("cold"), later passes hit it ("warm").
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from zenbench.latency import LatencyTable, predict_latency
from zenbench.locate import SHIPPED_TABLES
from zenbench.measure import environment
from zenbench.space.mutate import mutate
from zenbench.space.sampling import random_network


def run(runs: int = 10, networks: int = 20_000, table: Path = SHIPPED_TABLES / "cpu.parquet") -> dict[str, Any]:
    tab = LatencyTable.load(table)
    rng = random.Random(0)
    specs = []
    for i in range(networks):
        space = "xxbl" if i % 2 else "idw"
        base = random_network(space, 224, rng) if i % 100 == 0 or not specs else specs[-1]
        specs.append(mutate(base, space, rng, replaces=2) if i % 100 else base)
    started = time.perf_counter()
    for spec in specs:
        predict_latency(spec, tab)
    cold = time.perf_counter() - started
    warm = []
    for _ in range(runs):
        started = time.perf_counter()
        for spec in specs:
            predict_latency(spec, tab)
        warm.append(time.perf_counter() - started)
    warm.sort()
    blocks = sum(len(s.blocks) for s in specs) / len(specs)
    return {"suite": "predict_speed", "environment": environment(), "networks": networks, "mean_blocks": blocks,
            "cold_per_second": networks / cold, "warm_per_second": networks / warm[len(warm) // 2]}
