"""The pipeline from Python: every name the README's API section uses exists and works end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import zenbench
from zenbench.errors import ZenbenchError

NET = "zennet_imagenet1k_latency01ms_res224"


def test_import_is_light_and_lists_every_registry() -> None:
    code = ("import sys, zenbench; heavy = [m for m in ('torch', 'onnxruntime', 'pandas') if m in sys.modules];"
            "print(heavy)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    assert NET in zenbench.list_models("*imagenet*")
    assert "zen" in zenbench.list_proxies() and "cpu" in zenbench.list_devices()
    assert {"onnx", "tflite"} <= set(zenbench.list_export_formats())
    assert "onnxruntime" in zenbench.list_backends()
    with pytest.raises(AttributeError):
        zenbench.no_such_name  # noqa: B018


def test_predict_latency_from_a_name_matches_the_predictor_on_the_shipped_table() -> None:
    from zenbench.latency import LatencyTable, Predictor
    from zenbench.locate import SHIPPED_TABLES

    prediction = zenbench.predict_latency(NET, device="cpu")
    table = LatencyTable.load(SHIPPED_TABLES / "cpu.parquet")
    expected = Predictor(table).predict(zenbench.get_zoo_model(NET).spec, 224, 1000).value_ms
    assert prediction.value_ms == pytest.approx(expected, rel=1e-12)
    assert prediction.value_ms > 0


def test_search_then_export_the_run_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default results folder is relative to the working directory
    run = zenbench.search(params=3e5, preset="cifar-params1M", resolution=16, num_classes=10, population=6,
                          iterations=12, batch_size=2, proxy="params", seed=1)
    assert run["folder"] == "runs/search-300k-s1"
    assert run["best"]["params"] <= 3e5
    manifest = zenbench.export(run["folder"], format="onnx")
    assert manifest["parity"]["passed"] and manifest["format"] == "onnx"
    import hashlib

    folder = tmp_path / run["folder"] / "export"
    stored = json.loads((folder / "best.onnx.manifest.json").read_text())
    assert stored["sha256"] == hashlib.sha256((folder / "best.onnx").read_bytes()).hexdigest() == manifest["sha256"]


def test_search_on_two_devices_under_a_time_budget(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = zenbench.search([50.0, 60.0], device=["cpu", "cpu-litert"], params=3e5, preset="cifar-params1M",
                          resolution=16, num_classes=10, population=4, iterations=6, batch_size=2, proxy="params",
                          minutes=30, force=True)
    assert run["folder"] == "runs/search-50ms-cpu+60ms-cpu-litert-s0" and run["stopped"] == "iterations"
    assert set(run["best"]["latency_ms_by_device"]) == {"cpu", "cpu-litert"}
    target = zenbench.api.export_target(run["folder"])
    assert (target.budget_on("cpu"), target.budget_on("cpu-litert"), target.budget_on("t4")) == (50.0, 60.0, None)


def test_search_refuses_a_budget_below_zero() -> None:
    with pytest.raises(ZenbenchError, match="above 0"):
        zenbench.search(latency_ms=-5)


def test_search_and_export_stay_packages() -> None:
    import zenbench.search

    assert callable(zenbench.search) and hasattr(zenbench.search, "SearchSettings")
    assert callable(zenbench.export) and hasattr(zenbench.export, "EXPORTERS")
