from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_patiently
from typer.testing import CliRunner

from zenbench.cli import app

SHIPPED = Path(__file__).parents[2] / "zenbench" / "data" / "nb201" / "latency_ms.csv.gz"


def test_nb201_search_meets_the_budget_and_reports_the_oracle(tmp_path) -> None:
    csv = tmp_path / "latency.csv"
    pd.read_csv(SHIPPED).to_csv(csv, index=False)
    result = CliRunner().invoke(app, ["benchmark", "nb201-search", "--measurements", str(csv), "--column", "2080ti_32",
                                      "--proxy", "params", "--iterations", "40", "--population", "8", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    row = data["results"][0]
    assert row["found_latency_ms"] <= data["budget_ms"] * 1.1  # the prediction's error, at most
    assert row["oracle_accuracy"] >= row["found_accuracy"] and row["feasible_cells"] > 100


def test_killed_cell_search_resumes_to_the_same_history(tmp_path) -> None:
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    root = Path(__file__).parents[2]
    csv = tmp_path / "latency.csv"
    pd.read_csv(SHIPPED).to_csv(csv, index=False)
    table = tmp_path / "nb201.parquet"
    fitted = CliRunner().invoke(app, ["table", "fit", "--measurements", str(csv), "--column", "2080ti_32",
                                      "--samples", "60", "--out", str(table)])
    assert fitted.exit_code == 0, fitted.output
    cli = [sys.executable, "-m", "zenbench.cli", "search", "--space", "nb201", "--table", str(table),
           "--latency-ms", "14", "--proxy", "synflow", "--population", "8", "--iterations", "60",
           "--checkpoint-every", "3", "--seed", "5", "--json"]
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    assert run_patiently([*cli, "--out", str(clean)], cwd=root).returncode == 0
    process = subprocess.Popen([*cli, "--out", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=root)
    checkpoint, target = killed / "checkpoint.json", random.Random(1).randint(6, 40)
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        try:
            if json.loads(checkpoint.read_text())["iteration"] >= target:
                break
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    resumed = run_patiently([*cli, "--out", str(killed), "--resume"], cwd=root)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads(resumed.stdout)["resumed_from"] > 0
    assert (killed / "best_cell.txt").read_text() == (clean / "best_cell.txt").read_text()
    assert json.loads((killed / "history.json").read_text()) == json.loads((clean / "history.json").read_text())


def _cell_table(tmp_path):
    from zenbench.latency.nb201 import fit_table

    csv = tmp_path / "latency.csv"
    pd.read_csv(SHIPPED).to_csv(csv, index=False)
    table, _ = fit_table(csv, "2080ti_32", 60, 0)
    return table


def test_ctrl_c_cell_search_resumes_to_the_same_bytes(tmp_path, monkeypatch) -> None:
    """Ctrl-C mid-scoring, then resume: the cell search's journal and best equal an uninterrupted run's."""
    import pytest

    from zenbench.errors import SearchInterrupted
    from zenbench.search import nb201

    table = _cell_table(tmp_path)
    kwargs = dict(latency_ms=5.0, proxy="params", population=14, iterations=50, seed=1, checkpoint_every=4)
    clean = nb201.search_nb201(table, folder=tmp_path / "clean", **kwargs)
    real, calls = nb201.CellScorer.score, []

    def interrupted(self, candidates, seeds):
        calls.append(1)
        if len(calls) == 19:
            raise KeyboardInterrupt
        return real(self, candidates, seeds)

    monkeypatch.setattr(nb201.CellScorer, "score", interrupted)
    with pytest.raises(SearchInterrupted):
        nb201.search_nb201(table, folder=tmp_path / "stopped", **kwargs)
    checkpoint = json.loads((tmp_path / "stopped" / "checkpoint.json").read_text())
    assert checkpoint["iteration"] >= 18 and (tmp_path / "stopped" / "best_cell.txt").exists()
    monkeypatch.setattr(nb201.CellScorer, "score", real)
    resumed = nb201.search_nb201(table, folder=tmp_path / "stopped", resume=True, **kwargs)
    assert resumed["resumed_from"] == checkpoint["iteration"]
    assert (tmp_path / "stopped" / "history.jsonl").read_bytes() == (tmp_path / "clean" / "history.jsonl").read_bytes()
    assert resumed["best"] == clean["best"] and resumed["history"] == clean["history"]
    assert resumed["scored"] == clean["scored"]


def test_a_cell_search_with_no_feasible_cell_returns_no_best(tmp_path) -> None:
    from zenbench.search.nb201 import search_nb201

    result = search_nb201(_cell_table(tmp_path), latency_ms=-5, iterations=1, population=4, proxy="params")
    assert result["best"] is None and [r["status"] for r in result["history"]] == ["rejected: latency_ms"]


def test_the_bench_suite_compares_proxies_on_one_fitted_table_and_renders_the_gap(tmp_path) -> None:
    from io import StringIO

    from rich.console import Console

    from zenbench.bench.nb201_search import compare_proxies, render

    summary = compare_proxies(SHIPPED, "2080ti_32", ("params", "flops"), iterations=30, population=8, samples=60)
    assert [r["proxy"] for r in summary["results"]] == ["params", "flops"]
    assert summary["budget_ms"] == pytest.approx(pd.read_csv(SHIPPED)["2080ti_32"].quantile(0.3))
    reachable = summary["reachable"]
    for row in summary["results"]:
        assert row["oracle_accuracy"] >= reachable["accuracy"] and row["found_rank_among_feasible"] >= 1
        if row["found_meets_budget"]:
            assert reachable["accuracy"] >= row["found_accuracy"]
    console = Console(file=StringIO(), width=200)
    render({"comparisons": [summary]}, console)
    text = console.file.getvalue()
    assert "params" in text and "of " + str(summary["results"][0]["feasible_cells"]) in text


def test_a_search_on_every_cell_measured_never_ends_over_the_budget() -> None:
    from zenbench.bench.nb201_search import compare_proxies

    summary = compare_proxies(SHIPPED, "pixel2", ("params",), latency="measured", iterations=30, population=8)
    row = summary["results"][0]
    assert summary["latency"] == "measured" and summary["samples"] is None
    assert row["found_meets_budget"] and row["best"]["latency_ms"] == row["found_latency_ms"]
    assert summary["reachable"]["accuracy"] == row["oracle_accuracy"]  # nothing the budget admits is shut out
    from io import StringIO

    from rich.console import Console

    from zenbench.bench.nb201_search import render

    console = Console(file=StringIO(), width=200)
    render({"comparisons": [summary]}, console)
    assert "every cell measured" in console.file.getvalue() and "reachable" not in console.file.getvalue()
    from zenbench.errors import ZenbenchError

    with pytest.raises(ZenbenchError, match="measured"):
        compare_proxies(SHIPPED, "pixel2", ("params",), latency="guessed")


def test_a_cell_search_spends_its_iterations_on_cells_it_has_not_scored(tmp_path, monkeypatch) -> None:
    """In a space of 15,625 cells a mutation often recurs; a recurring child is drawn again, so every scored row
    is a new cell, and the search sees more of the space in the same iterations."""
    from zenbench.search import engine, nb201

    table = _cell_table(tmp_path)
    kwargs = dict(latency_ms=6.0, proxy="params", population=16, iterations=120, seed=0)
    novel = nb201.search_nb201(table, **kwargs)
    scored = [r["arch"] for r in novel["history"] if r["status"] == "scored"]
    assert len(scored) == len(set(scored)) == novel["scored"] > 40
    monkeypatch.setattr(engine, "NOVELTY_DRAWS", 1)  # the loop as it was: recurring children are accepted
    plain = nb201.search_nb201(table, **kwargs)
    plain_scored = [r["arch"] for r in plain["history"] if r["status"] == "scored"]
    assert len(set(plain_scored)) < len(plain_scored) and plain["scored"] < novel["scored"]


def test_a_cell_search_spends_its_iterations_on_cells_within_the_budget(tmp_path, monkeypatch) -> None:
    """A child the table rejects costs a lookup, not a proxy call: it is drawn again, so nearly every iteration
    scores a cell within the budget, where the paper's loop spends many on rejected rows."""
    from zenbench.search import engine, nb201

    table = _cell_table(tmp_path)
    kwargs = dict(latency_ms=6.0, proxy="params", population=16, iterations=120, seed=0)
    drawn = nb201.search_nb201(table, **kwargs)
    statuses = [r["status"] for r in drawn["history"]]
    assert statuses.count("scored") >= 115 and all(r["latency_ms"] <= 6.0 for r in drawn["history"]
                                                   if r["status"] == "scored")
    monkeypatch.setattr(engine, "NOVELTY_DRAWS", 1)
    plain = nb201.search_nb201(table, **kwargs)
    rejected = [r for r in plain["history"] if r["status"] != "scored"]
    assert len(rejected) > 20 and all(r["latency_ms"] > 6.0 for r in rejected)
    assert drawn["scored"] > plain["scored"] + 20


@pytest.mark.parametrize("setting", ["novel_children", "feasible_children"])
def test_a_cell_search_checkpointed_before_redrawn_children_is_not_resumed_with_them(tmp_path, setting) -> None:
    from zenbench.errors import ZenbenchError
    from zenbench.search import nb201

    table = _cell_table(tmp_path)
    kwargs = dict(latency_ms=6.0, proxy="params", population=8, iterations=12, seed=0, checkpoint_every=4)
    nb201.search_nb201(table, folder=tmp_path / "run", **kwargs)
    checkpoint = tmp_path / "run" / "checkpoint.json"
    data = json.loads(checkpoint.read_text())
    del data["settings"][setting]  # as an older zenbench wrote it
    checkpoint.write_text(json.dumps(data))
    with pytest.raises(ZenbenchError, match=setting):
        nb201.search_nb201(table, folder=tmp_path / "run", resume=True, **{**kwargs, "iterations": 20})
