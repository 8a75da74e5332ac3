"""Per-unit costs fitted from whole-network measurements; predict/measure on the committed CPU table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import stats
from typer.testing import CliRunner

from zenbench.cli import app
from zenbench.latency.nb201 import fit_table, predict_cells

ROOT = Path(__file__).parents[2]
DATA = ROOT.parent / "shared" / "data" / "nb201" / "latency_ms.csv"
SHIPPED = ROOT / "zenbench" / "data" / "nb201" / "latency_ms.csv.gz"
runner = CliRunner()


def measurements(tmp_path: Path) -> Path:
    """The shipped copy of the NB201 latency data as a plain CSV."""
    import pandas as pd

    path = tmp_path / "latency.csv"
    pd.read_csv(SHIPPED).to_csv(path, index=False)
    return path


def test_fit_from_100_cells_ranks_all_cells(tmp_path) -> None:
    import pandas as pd

    path = measurements(tmp_path)
    table, model = fit_table(path, "gold_6226", samples=100, seed=1)
    assert model["pruning"] == "none"  # these devices kept dead edges: the data says so
    frame = pd.read_csv(path)
    predicted = predict_cells(table, frame["arch"])
    assert stats.spearmanr(predicted, frame["gold_6226"]).statistic > 0.97
    saved = table.save(tmp_path / "t.parquet")
    from zenbench.latency import LatencyTable

    again = LatencyTable.load(saved)
    assert np.allclose(predict_cells(again, frame["arch"][:50]), predicted[:50])


def test_table_fit_cli_and_bad_column(tmp_path) -> None:
    path = measurements(tmp_path)
    ok = runner.invoke(app, ["table", "fit", "--measurements", str(path), "--column", "pixel2", "--samples", "50",
                             "--out", str(tmp_path / "p.parquet"), "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["pruning"] in ("none", "graph")
    bad = runner.invoke(app, ["table", "fit", "--measurements", str(path), "--column", "pixel3"])
    assert bad.exit_code == 2 and "pixel2" in bad.stderr


def test_a_lookup_table_predicts_every_cell_as_measured_and_refuses_an_incomplete_column(tmp_path) -> None:
    import pandas as pd

    path = measurements(tmp_path)
    out = tmp_path / "lookup.parquet"
    ok = runner.invoke(app, ["table", "fit", "--measurements", str(path), "--column", "2080ti_32", "--lookup",
                             "--out", str(out), "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["form"] == "lookup"
    from zenbench.latency import LatencyTable
    from zenbench.space.nb201 import parse_cell

    frame = pd.read_csv(path).sample(200, random_state=0)
    table = LatencyTable.load(out)
    assert np.array_equal(predict_cells(table, frame["arch"]), frame["2080ti_32"].to_numpy())
    assert np.array_equal(predict_cells(table, [parse_cell(a) for a in frame["arch"][:5]]),
                          frame["2080ti_32"].to_numpy()[:5])
    pd.read_csv(path).iloc[:-3].to_csv(path, index=False)  # three cells never measured
    short = runner.invoke(app, ["table", "fit", "--measurements", str(path), "--column", "2080ti_32", "--lookup"])
    assert short.exit_code == 2 and "lacks 3 of 15625" in short.stderr and "drop --lookup" in short.stderr


def test_predict_on_the_committed_cpu_table_lists_units() -> None:
    result = runner.invoke(app, ["predict", "zennet_imagenet1k_latency01ms_res224", "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["latency_ms"] > 0 and len(data["units"]) > 10
    assert data["calibration"] and data["expected_error"] is not None


def test_measure_reports_median_and_spread() -> None:
    result = runner.invoke(app, ["measure", "SuperConvK3BNRELU(3,16,2,1)SuperResK3K3(16,32,2,16,1)", "--resolution",
                                 "64", "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    ms = data["latency_ms"]
    assert 0 < ms["p10"] <= ms["median"] <= ms["p90"] and ms["runs"] >= 15
    assert data["settings"]["backend"] == "onnxruntime" and "cpu" in data["environment"]


def test_predict_warns_when_the_table_describes_another_cpu(tmp_path) -> None:
    from zenbench.host import cpu_isa, cpu_model, last_level_cache_mib
    from zenbench.latency import LatencyTable

    table = LatencyTable.load(ROOT / "zenbench" / "latency_tables" / "cpu.parquet")
    args = ["predict", "zennet_imagenet1k_latency01ms_res224", "--device", "cpu", "--json", "--table"]
    this_host = {"cpu": cpu_model(), "cpu_isa": list(cpu_isa()), "last_level_cache_mib": last_level_cache_mib()}
    other_isa = [f for f in ("avx2", "avx512f") if f not in cpu_isa()] + [f for f in cpu_isa() if f != "avx2"]
    cases = ((dict(this_host, cpu="Imaginary CPU 9000"), "Imaginary CPU 9000"),
             # same model name, other vector extensions: cloud hosts named alike differ in them
             (dict(this_host, cpu_isa=other_isa), "vector extensions differ"),
             (this_host, None))
    for environment, warning in cases:
        table.metadata["environment"].update(environment)
        path = table.save(tmp_path / "cpu.parquet")
        result = runner.invoke(app, [*args, str(path)])
        assert result.exit_code == 0, result.output
        if warning:
            assert warning in result.stderr and "zenbench profile --device cpu" in result.stderr
        else:
            assert "profiled on another machine" not in result.stderr
        assert json.loads(result.stdout)["latency_ms"] > 0  # the warning keeps the JSON on stdout clean
