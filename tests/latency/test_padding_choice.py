"""The channel padding a table's unit models use is chosen by what predicts: models and smoother together."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from zenbench.latency import LatencyTable
from zenbench.latency.models import KindModel, fit_unit_models, unit_model_candidates
from zenbench.latency.units import CHANNEL_BLOCKS, FEATURES, LEGACY_FEATURES, PLAIN_CORE, Core, row_features

INT8_TABLE = Path(__file__).parents[2] / "zenbench" / "latency_tables" / "cpu-int8.parquet"


def _errors(rows: pd.DataFrame, core: Core) -> dict[tuple[int, ...], tuple[float, float]]:
    """Per padding: (the linear models' leave-one-out error, the models + smoother's)."""
    out = {}
    for candidate in unit_model_candidates(rows, core):
        linear = [(m.loo_mape, m.n) for m in candidate.models.values() if not np.isnan(m.loo_mape)]
        out[tuple(candidate.block)] = (sum(e * n for e, n in linear) / sum(n for _, n in linear),
                                       candidate.smoother.loo_mape)
    return out


def test_the_units_alone_judge_a_padding_by_what_predicts_them() -> None:
    """Int8 kernels' cost grows smoothly with width. Padding every width to 32 leaves a staircase that neither the
    linear models nor the smoother undo; judged on the models and the smoother together, a finer padding wins."""
    table = LatencyTable.load(INT8_TABLE)
    errors = _errors(table.rows, table.host_core)
    block, _, smoother = fit_unit_models(table.rows, table.host_core)
    assert smoother.loo_mape == min(e for _, e in errors.values()) == errors[tuple(block)][1]
    assert tuple(block) != (32, 32, 32) and errors[(32, 32, 32)][1] > 1.1 * smoother.loo_mape


def test_a_profiled_table_judges_a_padding_by_its_networks() -> None:
    """With networks measured end to end, the padding is the one whose calibrated network predictions err least
    when each network is left out; on the int8 table that is not the staircase either."""
    from zenbench.latency.predictor import fit_units_on_networks

    table = LatencyTable.load(INT8_TABLE)
    errors = fit_units_on_networks(table)
    assert set(errors) == {"x".join(map(str, b)) for b in CHANNEL_BLOCKS}
    chosen = "x".join(map(str, table.channel_block))
    assert errors[chosen] == min(errors.values()) and errors["32x32x32"] > 1.1 * errors[chosen]
    bare = LatencyTable.load(INT8_TABLE)
    bare.metadata["networks"] = bare.metadata["networks"][:5]  # too few to calibrate on: the units choose
    assert fit_units_on_networks(bare) == {} and bare.channel_block == fit_unit_models(bare.rows)[0]


def test_recalibrate_refit_units_refits_the_padding_and_rescores_the_stored_validation(tmp_path) -> None:
    """``table recalibrate --refit-units`` measures nothing: it refits the unit models with this version's rules,
    then the calibration, and scores the stored validation measurements again."""
    import json
    import shutil

    from typer.testing import CliRunner

    from zenbench.cli import app

    table_path = tmp_path / "cpu-int8.parquet"
    shutil.copy(INT8_TABLE, table_path)
    shutil.copytree(INT8_TABLE.parent / "cpu-int8-validation", tmp_path / "cpu-int8-validation")
    table = LatencyTable.load(table_path)
    # as the first int8 table was fitted: padding [32,32,32], the six features of then, no core recorded
    table.metadata["channel_block"] = [32, 32, 32]
    del table.metadata["core"], table.metadata["environment"]["l2_cache_mib"]
    legacy = pd.DataFrame([row_features(r, (32, 32, 32)) for r in table.rows.to_dict("records")],
                          index=table.rows.index)[list(LEGACY_FEATURES)]
    table.models = {kind: KindModel.fit(kind, group) for kind, group in pd.concat(
        [table.rows.drop(columns=list(FEATURES), errors="ignore"), legacy], axis=1).groupby("kind")}
    table.save(table_path)
    before = CliRunner().invoke(app, ["table", "recalibrate", str(table_path), "--json"])
    after = CliRunner().invoke(app, ["table", "recalibrate", str(table_path), "--refit-units", "--json"])
    assert before.exit_code == 0 and after.exit_code == 0, before.output + after.output
    refitted = LatencyTable.load(table_path)
    assert refitted.metadata["channel_block"] != [32, 32, 32] and refitted.core == refitted.host_core != PLAIN_CORE
    first, second = json.loads(before.stdout), json.loads(after.stdout)
    assert second["metrics"]["n"] == first["metrics"]["n"] == 30  # the stored sample, scored again

    def loo(report: dict) -> float:
        return report["calibration"]["loo_mape"][report["calibration"]["form"]]

    assert loo(second) < 0.85 * loo(first)  # what a refit is chosen by: its networks, each left out


def test_refit_units_refuses_tables_it_cannot_refit_in_one_line(tmp_path) -> None:
    from typer.testing import CliRunner

    from zenbench.cli import app
    from zenbench.latency.nb201 import fit_table

    shipped = Path(__file__).parents[2] / "zenbench" / "data" / "nb201" / "latency_ms.csv.gz"
    cells, _ = fit_table(shipped, "pixel2", 50)
    cells.save(tmp_path / "cells.parquet")
    result = CliRunner().invoke(app, ["table", "recalibrate", str(tmp_path / "cells.parquet"), "--refit-units"])
    assert result.exit_code == 2 and "no unit models to refit" in result.stderr
    adapted = LatencyTable.load(INT8_TABLE)
    adapted.metadata["adaptation"] = {"form": "recalibrated"}
    adapted.save(tmp_path / "adapted.parquet")
    (tmp_path / "adapted-validation").mkdir()
    result = CliRunner().invoke(app, ["table", "recalibrate", str(tmp_path / "adapted.parquet"), "--refit-units"])
    assert result.exit_code == 2 and "re-profile" in result.stderr and "Traceback" not in result.output
