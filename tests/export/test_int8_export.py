"""An int8 export: calibrated as the int8 devices quantise, judged by parity, timed beside its fp32 graph."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from zenbench.devices import load_device
from zenbench.errors import SettingError, ZenbenchError
from zenbench.export import export
from zenbench.export.parity import ParityError
from zenbench.space.spec import NetworkSpec

K1 = "SuperConvK3BNRELU(3,16,2,1)SuperResK1K5K1(16,32,2,16,2)SuperConvK1BNRELU(32,128,1,1)"


def test_an_int8_export_timed_on_the_cpu_reports_its_speedup_over_fp32(tmp_path) -> None:
    manifest = export(NetworkSpec.parse(K1), "onnx", precision="int8", out_dir=tmp_path, resolution=32,
                      num_classes=10, measure_on=load_device("cpu:int8"))
    quantization = manifest["quantization"]
    assert quantization["activations"] == "uint8" and quantization["weights"] == "int8"
    assert quantization["per_channel"] and quantization["calibration"] == "synthetic"
    parity = manifest["parity"]
    assert parity["passed"] and set(parity["thresholds"]) == {"cosine", "relative_error", "top1"}
    latency = manifest["latency"]
    int8_ms, fp32_ms = latency["ms"]["median"], latency["fp32_ms"]["median"]
    assert int8_ms > 0 and fp32_ms > 0
    assert latency["speedup_over_fp32"] == pytest.approx(fp32_ms / int8_ms)
    assert len(latency["ms"]["pass_medians"]) == len(latency["fp32_ms"]["pass_medians"]) == 3
    model = onnx.load(str(tmp_path / manifest["file"]))
    assert any(n.op_type == "QuantizeLinear" for n in model.graph.node)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "model.int8.onnx", "model.int8.onnx.manifest.json"]  # the fp32 graph it was timed against is not kept


def test_calibration_images_are_used_and_recorded(tmp_path) -> None:
    images = np.random.default_rng(1).standard_normal((16, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "images.npy", images)
    manifest = export(NetworkSpec.parse(K1), "onnx", precision="int8", out_dir=tmp_path / "out", resolution=32,
                      num_classes=10, calibration_data=tmp_path / "images.npy")
    assert manifest["quantization"]["calibration"].endswith("images.npy") and manifest["parity"]["passed"]


def test_a_quantisation_that_destroys_the_outputs_fails_and_says_so(tmp_path) -> None:
    # ranges calibrated on images 10,000 times larger than the inputs: every activation rounds to zero
    np.save(tmp_path / "huge.npy", np.random.default_rng(1).standard_normal((8, 3, 32, 32)).astype(np.float32) * 1e4)
    with pytest.raises(ParityError, match="destroyed the outputs"):
        export(NetworkSpec.parse(K1), "onnx", precision="int8", out_dir=tmp_path / "out", resolution=32,
               num_classes=10, calibration_data=tmp_path / "huge.npy")


@pytest.mark.parametrize(("array", "message"), [
    (np.zeros((4, 3, 16, 16), np.float32), "expected"),
    (np.zeros((4, 3, 32, 32), np.int64), "dtype"),
    (np.full((4, 3, 32, 32), np.nan, np.float32), "NaN"),
])
def test_bad_calibration_images_are_one_line_errors(tmp_path, array: np.ndarray, message: str) -> None:
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(SettingError, match=message):
        export(NetworkSpec.parse(K1), "onnx", precision="int8", out_dir=tmp_path / "out", resolution=32,
               num_classes=10, calibration_data=tmp_path / "bad.npy")


def test_calibration_images_on_an_fp32_export_are_refused(tmp_path) -> None:
    np.save(tmp_path / "images.npy", np.zeros((4, 3, 32, 32), np.float32))
    with pytest.raises(ZenbenchError, match="--precision int8"):
        export(NetworkSpec.parse(K1), "onnx", out_dir=tmp_path / "out", resolution=32, num_classes=10,
               calibration_data=tmp_path / "images.npy")
