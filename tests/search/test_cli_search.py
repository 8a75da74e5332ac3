"""`zenbench search` with several --device options, one budget each, and --minutes."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from zenbench.cli import app

runner = CliRunner()
SMALL = ["--preset", "cifar-params1M", "--params", "300k", "--resolution", "16", "--num-classes", "10",
         "--population", "4", "--iterations", "6", "--proxy", "params", "--batch-size", "2", "--force"]


def test_search_on_two_devices_with_a_budget_each_and_a_time_limit(tmp_path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["search", "--device", "cpu", "--device", "cpu-litert", "--latency-ms", "50",
                                 "--latency-ms", "60", "--minutes", "30", "--out", str(out), "--json", *SMALL])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    assert summary["stopped"] == "iterations"
    assert set(summary["best"]["latency_ms_by_device"]) == {"cpu", "cpu-litert"}
    settings = json.loads((out / "checkpoint.json").read_text())["settings"]
    assert [(d["device"], d["latency_ms"]) for d in settings["constraints"]["devices"]] == \
        [("cpu", 50.0), ("cpu-litert", 60.0)]


def test_budgets_that_do_not_pair_with_devices_are_one_error_line(tmp_path) -> None:
    result = runner.invoke(app, ["search", "--device", "cpu", "--device", "cpu-litert", "--latency-ms", "5",
                                 "--latency-ms", "6", "--latency-ms", "7", "--out", str(tmp_path / "run"), *SMALL])
    assert result.exit_code != 0 and "one per --device" in result.output
    assert "Traceback" not in result.output


def test_minutes_must_be_positive(tmp_path) -> None:
    result = runner.invoke(app, ["search", "--minutes", "0", "--out", str(tmp_path / "run"), *SMALL])
    assert result.exit_code == 2 and "--minutes" in result.output
