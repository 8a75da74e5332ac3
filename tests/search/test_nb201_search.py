from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
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
