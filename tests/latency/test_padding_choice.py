"""The channel padding a table's unit models use is chosen by what predicts: models and smoother together."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from zenbench.latency import LatencyTable
from zenbench.latency.models import KindModel, ResidualSmoother, fit_unit_models, unit_residuals
from zenbench.latency.units import CHANNEL_BLOCKS, FEATURES, row_features

INT8_TABLE = Path(__file__).parents[2] / "zenbench" / "latency_tables" / "cpu-int8.parquet"


def _errors(rows: pd.DataFrame) -> dict[tuple[int, ...], tuple[float, float]]:
    """Per padding: (the linear models' leave-one-out error, the models + smoother's)."""
    out = {}
    for block in CHANNEL_BLOCKS:
        features = pd.DataFrame([row_features(r, block) for r in rows.to_dict("records")], index=rows.index)
        frame = pd.concat([rows.drop(columns=list(FEATURES)), features], axis=1)
        models = {kind: KindModel.fit(kind, group) for kind, group in frame.groupby("kind")}
        linear = [(m.loo_mape, m.n) for m in models.values() if not np.isnan(m.loo_mape)]
        smoother = ResidualSmoother.choose(list(unit_residuals(rows, models, block).values()))
        out[tuple(block)] = (sum(e * n for e, n in linear) / sum(n for _, n in linear), smoother.loo_mape)
    return out


def test_the_units_alone_judge_a_padding_by_what_predicts_them() -> None:
    """Int8 kernels' cost grows smoothly with width. Padding every width to 32 fits the linear models about as
    well as any padding, but leaves a staircase the smoother cannot undo; judged on the models and the
    smoother together, a finer padding wins."""
    rows = LatencyTable.load(INT8_TABLE).rows
    errors = _errors(rows)
    block, _, smoother = fit_unit_models(rows)
    assert smoother.loo_mape == min(e for _, e in errors.values()) == errors[tuple(block)][1]
    linear_choice = min(errors, key=lambda b: errors[b][0])
    assert linear_choice == (32, 32, 32) and tuple(block) != linear_choice
    assert errors[linear_choice][1] > 1.1 * smoother.loo_mape


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
    table.metadata["channel_block"] = [32, 32, 32]  # as the linear models alone chose it
    table.models = {kind: KindModel.fit(kind, group) for kind, group in pd.concat(
        [table.rows.drop(columns=list(FEATURES)), pd.DataFrame(
            [row_features(r, (32, 32, 32)) for r in table.rows.to_dict("records")], index=table.rows.index)],
        axis=1).groupby("kind")}
    table.save(table_path)
    before = CliRunner().invoke(app, ["table", "recalibrate", str(table_path), "--json"])
    after = CliRunner().invoke(app, ["table", "recalibrate", str(table_path), "--refit-units", "--json"])
    assert before.exit_code == 0 and after.exit_code == 0, before.output + after.output
    assert LatencyTable.load(table_path).metadata["channel_block"] != [32, 32, 32]
    assert json.loads(after.stdout)["metrics"]["mape"] < json.loads(before.stdout)["metrics"]["mape"]


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
