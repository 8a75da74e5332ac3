"""The search is deterministic per seed, resumes exactly after SIGKILL, and respects its constraints."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from conftest import run_patiently

from zenbench.budget import Constraints
from zenbench.search import SearchSettings, search
from zenbench.search.presets import CIFAR_INIT
from zenbench.space.spec import NetworkSpec

SMALL = dict(space="xxbl", init=CIFAR_INIT, resolution=16, num_classes=10, population=8, iterations=40,
             batch_size=4, checkpoint_every=5)
CLI = ["search", "--preset", "cifar-params1M", "--params", "300k", "--resolution", "16", "--num-classes", "10",
       "--population", "8", "--iterations", "60", "--batch-size", "4", "--checkpoint-every", "5", "--seed", "3"]


def test_same_seed_same_search(tmp_path) -> None:
    settings = SearchSettings(**SMALL, seed=1, constraints=Constraints(params=3e5, resolution=16, num_classes=10))
    a = search(settings, tmp_path / "a")
    b = search(settings, tmp_path / "b")
    c = search(SearchSettings(**{**SMALL, "seed": 2}, constraints=settings.constraints), tmp_path / "c")
    assert a["best"] == b["best"]
    assert a["best"]["structure"] != c["best"]["structure"] or a["best"]["score"] != c["best"]["score"]
    history = pd.read_parquet(tmp_path / "a" / "history.parquet")
    assert len(history) == 40 and list(history.iteration) == list(range(40))
    for row in history[history.status == "scored"].itertuples():
        assert row.params <= 3e5  # every scored candidate meets the budget
    assert (history[history.status == "rejected: params"].params > 3e5).all()


def test_killed_search_resumes_to_the_same_result(tmp_path) -> None:
    root = Path(__file__).parents[2]
    clean = tmp_path / "clean"
    assert run_patiently([sys.executable, "-m", "zenbench.cli", *CLI, "--out", str(clean), "--json"],
                         cwd=root).returncode == 0
    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "zenbench.cli", *CLI, "--out", str(killed), "--json"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=root)
    history = killed / "history.jsonl"
    deadline = time.time() + 300
    target = random.Random(0).randint(12, 40)
    while time.time() < deadline and (not history.exists() or len(history.read_text().splitlines()) < target):
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    resumed = run_patiently([sys.executable, "-m", "zenbench.cli", *CLI, "--out", str(killed), "--resume", "--json"],
                            cwd=root)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (killed / "best_structure.txt").read_text() == (clean / "best_structure.txt").read_text()
    a = pd.read_parquet(clean / "history.parquet")
    b = pd.read_parquet(killed / "history.parquet")
    assert list(a.structure) == list(b.structure)


def test_resume_refuses_other_settings(tmp_path) -> None:
    from zenbench.errors import ZenbenchError

    settings = SearchSettings(**{**SMALL, "iterations": 6}, seed=1,
                              constraints=Constraints(params=3e5, resolution=16, num_classes=10))
    search(settings, tmp_path / "run")
    other = SearchSettings(**{**SMALL, "iterations": 6}, seed=2, constraints=settings.constraints)
    try:
        search(other, tmp_path / "run", resume=True)
    except ZenbenchError as error:
        assert "seed" in str(error)
    else:  # pragma: no cover
        raise AssertionError("resume with another seed must be refused")


def test_results_folder(tmp_path) -> None:
    settings = SearchSettings(**SMALL, seed=0, constraints=Constraints(params=3e5, layers=12, resolution=16,
                                                                       num_classes=10))
    result = search(settings, tmp_path)
    best = NetworkSpec.parse((tmp_path / "best_structure.txt").read_text().strip())
    assert best.layers <= 12 and best.counts(16, 10).params <= 3e5
    top = json.loads((tmp_path / "top_k.json").read_text())
    assert top[0]["structure"] == str(best) and top == sorted(top, key=lambda t: -t["score"])
    assert (tmp_path / "report.md").read_text().startswith("# zenbench search")
    assert (tmp_path / "best_score.png").stat().st_size > 0
    assert result["best"]["structure"] == str(best)


def test_parallel_workers_are_deterministic(tmp_path) -> None:
    settings = SearchSettings(**{**SMALL, "iterations": 16, "workers": 2}, seed=5,
                              constraints=Constraints(params=3e5, resolution=16, num_classes=10))
    a = search(settings, tmp_path / "a")
    b = search(settings, tmp_path / "b")
    assert a["best"] == b["best"]


def test_pareto_mode_keeps_a_front_over_latency(tmp_path) -> None:
    """With --pareto the population keeps non-dominated (score, latency) members; the report lists the front."""
    from zenbench.latency import LatencyTable
    from zenbench.search.report import history_frame, pareto_front

    table = LatencyTable.load(Path(__file__).parents[2] / "zenbench" / "latency_tables" / "cpu.parquet")  # its per-kind models
    settings = SearchSettings(**{**SMALL, "iterations": 30}, seed=2, pareto=True,
                              constraints=Constraints(resolution=16, num_classes=10, layers=14))
    search(settings, tmp_path, table=table)
    front = json.loads((tmp_path / "pareto_front.json").read_text())
    assert len(front) >= 2
    latencies = [f["latency_ms"] for f in front]
    scores = [f["score"] for f in front]
    assert latencies == sorted(latencies) and scores == sorted(scores)  # slower members only if they score higher
    frame = history_frame(tmp_path)
    assert len(pareto_front(frame)) == len(front)
