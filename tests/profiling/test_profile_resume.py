"""Profiling survives SIGKILL at random moments: the final table has every unit exactly once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_patiently, wait_while_progressing

from zenbench.builder.grid import HEAVY_INSTANCES, HEAVY_WEIGHT_BYTES, grid
from zenbench.devices import SpaceTarget, load_device
from zenbench.latency import LatencyTable, TableError

ARGS = ["profile", "--device", "cpu", "--space", "xxbl", "--resolution", "32", "--points", "1", "--quick",
        "--networks", "10", "--grid-networks", "2"]


def run_cli(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "zenbench.cli", *ARGS, "--out", str(out), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=Path(__file__).parents[2])


def test_killed_twice_and_resumed_has_every_unit_once(tmp_path) -> None:
    out = tmp_path / "cpu.parquet"
    log = out.with_name(out.name + ".partial.jsonl")
    expected = {job.key for job in grid(SpaceTarget("xxbl", 32), points=1, batch=1, grid_networks=2)}
    rng = random.Random(7)
    for _ in range(2):
        before = len(log.read_text().splitlines()) if log.exists() else 0
        process = run_cli(out)
        deadline = time.time() + 120
        target = before + rng.randint(3, 20)
        while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < target):
            time.sleep(0.05)
        time.sleep(rng.random() * 0.2)  # land somewhere inside the next unit, or inside a write
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert not out.exists()
    finished = run_cli(out)
    assert wait_while_progressing(finished, (log,)) == 0, finished.stderr.read().decode()[-2000:]
    table = LatencyTable.load(out, expect=load_device("cpu").describe())
    keys = list(table.rows["key"])
    assert len(keys) == len(set(keys)) == len(expected)
    assert set(keys) == expected
    assert not log.exists()
    assert (table.rows["median_ms"] > 0).all()
    # weight-heavy units are timed in several instances (their latency depends on where the weights land)
    heavy = table.rows["weight_elems"] * 4 > HEAVY_WEIGHT_BYTES
    assert heavy.any() and (~heavy).any()
    assert (table.rows.loc[heavy, "instances"] == HEAVY_INSTANCES).all()
    assert (table.rows.loc[~heavy, "instances"] == 1).all()
    assert (table.rows.loc[~heavy, "instance_spread"] == 0).all()


@pytest.fixture(scope="module")
def profiled(tmp_path_factory) -> Path:
    """One small profile shared by the tests that only read it (or copy it first): profiling is the slow part."""
    out = tmp_path_factory.mktemp("profiled") / "cpu.parquet"
    process = run_cli(out)
    assert wait_while_progressing(process, (out.with_name(out.name + ".partial.jsonl"),)) == 0, process.stderr.read().decode()[-2000:]
    return out


def test_table_metadata_refuses_other_settings(profiled) -> None:
    out = profiled
    table = LatencyTable.load(out)
    meta = table.metadata
    assert meta["device"]["backend"] == "onnxruntime" and meta["device"]["batch"] == 1
    assert {"cpu", "torch", "onnxruntime", "host"} <= set(meta["environment"])
    assert meta["grid"]["units"] == len(table.rows)
    # the profile ends with whole networks timed end to end, and calibrates the table on them
    assert len(meta["networks"]) == 10 and all(n["median_ms"] > 0 for n in meta["networks"])
    assert table.calibration is not None and table.calibration.n == 10
    # a reference network timed between units followed the host's speed; timings are scaled to its typical speed
    assert meta["host_speed"]["probes"] >= len(table.rows) and meta["host_speed"]["typical_ms"] > 0
    assert (table.rows["reference_ms"] > 0).all() and (table.rows["host_factor"] > 0).all()
    assert all(n["host_factor"] > 0 and len(n["pass_host_factors"]) == len(n["pass_medians_ms"])
               for n in meta["networks"])
    # scaled by the ratio to the power the calibration networks' passes showed
    assert 0.0 <= meta["host_speed"]["elasticity"] <= 1.0 and meta["host_speed"]["elasticity_fit"]["networks"] == 10
    with pytest.raises(TableError, match="batch"):
        LatencyTable.load(out, expect={"backend": "onnxruntime", "precision": "fp32", "batch": 64})
    with pytest.warns(UserWarning, match="batch"):
        LatencyTable.load(out, expect={"backend": "onnxruntime", "precision": "fp32", "batch": 64}, force=True)


def test_validate_measures_new_networks_and_stores_the_error_in_the_table(profiled, tmp_path) -> None:
    import shutil

    out = Path(shutil.copy(profiled, tmp_path / "cpu.parquet"))
    result = run_patiently([sys.executable, "-m", "zenbench.cli", "validate", "--device", "cpu", "--table", str(out),
                            "--space", "xxbl", "--resolution", "32", "--n", "6", "--passes", "1", "--no-zoo",
                            "--seed", "5", "--json"], cwd=Path(__file__).parents[2])
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    metrics = report["metrics"]
    assert metrics["n"] == 6 and 0 <= metrics["within_10"] <= 1 and metrics["mape"] >= 0
    assert Path(report["plot"]).exists()
    # the host's speed while validating is compared with the profile's
    assert report["host_speed"]["slowdown_vs_profile"] > 0 and report["host_speed"]["at_profile_speed"]["n"] == 6
    points = json.loads((tmp_path / "cpu-validation" / "validation.json").read_text())["points"]["validation"]
    assert all(p["measured_ms"] > 0 and p["predicted_ms"] > 0 and p["at_profile_speed_ms"] > 0 for p in points)
    # the headline scores predictions against the measurements as `measure` reads them; the host-speed section
    # against the measurements scaled to the profile's typical speed
    as_measured = [p["predicted_ms"] / p["measured_ms"] - 1 for p in points]
    at_profile_speed = [p["predicted_ms"] / p["at_profile_speed_ms"] - 1 for p in points]
    assert metrics["bias"] == pytest.approx(sum(as_measured) / 6)
    assert report["host_speed"]["at_profile_speed"]["bias"] == pytest.approx(sum(at_profile_speed) / 6)
    # predict reports the expected error the validation stored
    stored = LatencyTable.load(out).metadata["validation"]
    assert stored["seed"] == 5 and stored["mape"] == pytest.approx(metrics["mape"])
    # recalibrating refits to the same networks and rescores the stored measurements: the same figures, nothing timed
    again = run_patiently([sys.executable, "-m", "zenbench.cli", "table", "recalibrate", str(out), "--json"],
                          cwd=Path(__file__).parents[2])
    assert again.returncode == 0, again.stderr[-2000:]
    rescored = json.loads(again.stdout)
    assert rescored["metrics"] == pytest.approx(metrics) and rescored["sample"]["seed"] == 5
    assert LatencyTable.load(out).metadata["validation"]["mape"] == pytest.approx(metrics["mape"])


def test_the_grid_holds_every_unit_of_its_drawn_networks() -> None:
    from zenbench.builder.grid import _grid_networks
    from zenbench.latency.units import unit_key

    target = SpaceTarget("idw", 224)
    sampled = {job.key for job in grid(target, grid_networks=0)}
    full = {job.key for job in grid(target, grid_networks=3)}
    assert full == {job.key for job in grid(target, grid_networks=3)}  # deterministic for a seed
    drawn = set()
    for spec in _grid_networks("idw", 224, 3, 0):
        res = 224
        for unit in spec.units():
            drawn.add(unit_key(unit, res, 1))
            res = unit.out_resolution(res)
    assert drawn <= full and not drawn <= sampled
    assert full - sampled <= drawn | {k for k in full if k.startswith("classifier")}


def test_missing_table_says_how_to_make_one(tmp_path) -> None:
    with pytest.raises(TableError, match="zenbench profile"):
        LatencyTable.load(tmp_path / "none.parquet")


def test_a_litert_profile_times_written_tflite_units_and_networks(tmp_path) -> None:
    pytest.importorskip("ai_edge_litert", reason="needs the tflite extra: pip install 'zenbench[tflite]'")
    out = tmp_path / "cpu-litert.parquet"
    args = [a if a != "cpu" else "cpu-litert" for a in ARGS]
    result = run_patiently([sys.executable, "-m", "zenbench.cli", *args, "--out", str(out)],
                           cwd=Path(__file__).parents[2], watch=(out.with_name(out.name + ".partial.jsonl"),))
    assert result.returncode == 0, result.stderr[-2000:]
    table = LatencyTable.load(out, expect=load_device("cpu-litert").describe())
    assert table.metadata["device"]["backend"] == "litert" and "ai-edge-litert" in table.metadata["versions"]
    assert (table.rows["median_ms"] > 0).all() and len(table.metadata["networks"]) == 10


def test_a_log_another_host_started_is_not_resumed_here(tmp_path) -> None:
    from zenbench.builder.profile import ProgressLog
    from zenbench.host import host_fingerprint

    out = tmp_path / "cpu.parquet"
    log = out.with_name(out.name + ".partial.jsonl")
    ProgressLog(log).claim("cpu")  # a new log is stamped with this host ...
    assert ProgressLog(log).host == host_fingerprint()
    ProgressLog(log).claim("cpu")  # ... and this host may resume it

    other = dict(host_fingerprint(), cpu="Imaginary CPU 9000")
    log.write_text(json.dumps({"host": other}) + "\n" + json.dumps({"key": "u", "median_ms": 1.0}) + "\n")
    before = log.read_text()
    process = run_cli(out)
    assert wait_while_progressing(process) != 0
    message = process.stderr.read().decode()
    assert "another machine" in message and "Imaginary CPU 9000" in message and "--restart" in message
    assert log.read_text() == before and not out.exists()  # nothing measured elsewhere is thrown away unasked


def test_a_line_a_kill_cut_short_is_dropped_and_the_log_goes_on_a_fresh_line(tmp_path) -> None:
    from zenbench.builder.profile import ProgressLog

    log = tmp_path / "cpu.parquet.partial.jsonl"
    ProgressLog(log).append({"key": "a", "median_ms": 1.0})
    log.write_bytes(log.read_bytes() + b'{"key": "b", "median_')  # killed inside a write
    resumed = ProgressLog(log)
    assert set(resumed.rows) == {"a"}  # the unit cut short is measured again
    resumed.append({"key": "b", "median_ms": 2.0})
    assert set(ProgressLog(log).rows) == {"a", "b"} and log.read_bytes().endswith(b'"median_ms": 2.0}\n')
