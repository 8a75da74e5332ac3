"""Every latency table is checked on load: a damaged file is a TableError naming it, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zenbench.latency import Calibration, LatencyTable, TableError, predict_latency
from zenbench.space.grammar import parse_structure

ROOT = Path(__file__).resolve().parents[2]
CPU = ROOT / "zenbench" / "latency_tables" / "cpu.parquet"


def rewrite(source: Path, target: Path, meta: object = None, rows: pa.Table | None = None) -> Path:
    """``source`` with its zenbench metadata replaced by ``meta`` (JSON) and/or its rows by ``rows``."""
    table = rows if rows is not None else pq.read_table(source)
    raw = json.dumps(meta).encode() if meta is not None else pq.read_table(source).schema.metadata[b"zenbench"]
    pq.write_table(table.replace_schema_metadata({b"zenbench": raw}), target)
    return target


def cpu_meta() -> dict:
    return json.loads(pq.read_table(CPU).schema.metadata[b"zenbench"])


def test_the_committed_tables_load_with_a_typed_calibration() -> None:
    for name in ("cpu", "cpu-litert"):
        table = LatencyTable.load(ROOT / "zenbench" / "latency_tables" / f"{name}.parquet")
        assert isinstance(table.calibration, Calibration) and table.calibration.tied
        assert table.meta.device.batch == 1 and table.meta.format == 1
        assert "latency = " in str(table.calibration)


def test_a_saved_table_round_trips_its_calibration_and_predictions(tmp_path) -> None:
    table = LatencyTable.load(CPU)
    spec = parse_structure("SuperConvK3BNRELU(3,32,2,1)SuperResK3K3(32,64,2,32,2)SuperConvK1BNRELU(64,512,1,1)")
    before = predict_latency(spec, table, 224, 1000).value_ms
    table.save(tmp_path / "t.parquet")
    again = LatencyTable.load(tmp_path / "t.parquet")
    assert again.calibration == table.calibration and again.meta.format == 2
    assert predict_latency(spec, again, 224, 1000).value_ms == pytest.approx(before, rel=1e-12)


@pytest.mark.parametrize(("damage", "message"), [
    (lambda m: [m], "not an object"),
    (lambda m: {**m, "calibration": json.dumps(m["calibration"])}, "calibration is a str"),
    (lambda m: {**m, "calibration": {**m["calibration"], "a": "zero"}}, "'a'"),
    (lambda m: {**m, "calibration": {**m["calibration"], "weight_term": "sideways"}}, "weight_term"),
    (lambda m: {**m, "format": 99}, "newer"),
    (lambda m: {**m, "models": {k: {**v, "extra": 1} for k, v in m["models"].items()}}, "model of"),
    (lambda m: {**m, "device": {**m["device"], "batch": "one"}}, "batch"),
    (lambda m: {**m, "networks": {"a": 1}}, "networks"),
])
def test_damaged_metadata_is_a_table_error_naming_the_file(tmp_path, damage, message) -> None:
    path = rewrite(CPU, tmp_path / "damaged.parquet", damage(cpu_meta()))
    with pytest.raises(TableError, match=message) as error:
        LatencyTable.load(path)
    assert str(path) in str(error.value)


def test_a_table_without_its_calibration_says_how_to_restore_it(tmp_path) -> None:
    meta = cpu_meta()
    del meta["calibration"]
    path = rewrite(CPU, tmp_path / "cpu.parquet", meta)
    with pytest.raises(TableError, match="recalibrate"):
        LatencyTable.load(path)
    assert LatencyTable.load(path, require_calibration=False).calibration is None


def test_rows_without_a_required_column_are_refused(tmp_path) -> None:
    rows = pq.read_table(CPU).drop(["median_ms"])
    with pytest.raises(TableError, match="median_ms"):
        LatencyTable.load(rewrite(CPU, tmp_path / "t.parquet", rows=rows))


JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=True) | st.text(max_size=4),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=6)
KEYS = ["format", "device", "calibration", "networks", "validation", "models", "channel_block", "smoother",
        "environment", "grid", "created", "nb201_model"]


@pytest.fixture(scope="module")
def small_table(tmp_path_factory) -> tuple[Path, dict]:
    """A small unit table (a few rows, so that a refit on load stays quick) and its metadata."""
    table = LatencyTable.load(CPU)
    kinds = table.rows["kind"].unique()[:2]
    small = LatencyTable(table.rows[table.rows["kind"].isin(kinds)].reset_index(drop=True),
                         {k: v for k, v in table.metadata.items() if k != "networks"})
    small.calibration = table.calibration
    path = small.save(tmp_path_factory.mktemp("small") / "small.parquet")
    return path, json.loads(pq.read_table(path).schema.metadata[b"zenbench"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damaged_metadata_loads_or_is_a_table_error(small_table, tmp_path, data) -> None:
    path, meta = small_table
    damaged = json.loads(json.dumps(meta))
    for key in data.draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3, unique=True)):
        target = damaged
        if key in ("calibration", "device", "smoother") and isinstance(damaged.get(key), dict) and data.draw(
                st.booleans()):
            target, key = damaged[key], data.draw(st.sampled_from(sorted(damaged[key])))
        if data.draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key] = data.draw(JSON)
    out = rewrite(path, tmp_path / "damaged.parquet", damaged)
    try:
        LatencyTable.load(out)
    except TableError as error:
        assert str(out) in str(error)
