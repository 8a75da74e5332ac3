from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from zenbench.cli import app
from zenbench.devices import DeviceProfileError, list_devices, load_device, parse_profile


def test_all_shipped_profiles_validate() -> None:
    assert {"cpu", "cpu-litert", "gpu", "t4", "pixel2"} <= set(list_devices())
    for name in list_devices():
        profile = load_device(name)
        assert profile.batch >= 1 and profile.precision in ("fp32", "fp16", "int8", "bf16")
    assert load_device("t4").precision == "int8" and load_device("t4").batch == 64 and load_device("t4").per_image
    assert load_device("t4:fp16").precision == "fp16"
    assert load_device("gpu").precision == "fp16" and load_device("gpu").batch == 64
    assert load_device("pixel2").batch == 1


def test_devices_lists_availability_with_reasons() -> None:
    result = CliRunner().invoke(app, ["devices", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["device"]: r for r in json.loads(result.stdout)}
    assert rows["cpu"]["available"] and rows["cpu-litert"]["available"]
    if not torch.cuda.is_available():
        assert not rows["gpu"]["available"] and "GPU" in rows["gpu"]["reason"]
        assert not rows["t4"]["available"] and rows["t4"]["reason"]
    assert rows["pixel2"]["available"] is (rows["pixel2"]["reason"] is None)


@pytest.mark.parametrize(("text", "key"), [
    ("name: x\nbackend: onnxruntime\nprecision: fp8\nbatch: 1\n", "precision"),
    ("name: x\nbackend: nope\nprecision: fp32\nbatch: 1\n", "backend"),
    ("name: x\nbackend: onnxruntime\nprecision: fp32\nbatch: 0\n", "batch"),
    ("name: x\nbackend: onnxruntime\nprecision: fp32\n", "batch"),
    ("name: x\nbackend: onnxruntime\nprecision: fp32\nbatch: 1\ncolour: red\n", "colour"),
    ("name: x\nbackend: onnxruntime\nprecision: fp32\nbatch: 1\ntiming: {min_rusn: 3}\n", "timing"),
])
def test_bad_profiles_name_the_file_and_key(tmp_path, text: str, key: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(DeviceProfileError) as info:
        parse_profile(path)
    assert str(path) in str(info.value) and repr(key) in str(info.value)


def test_unknown_device_and_variant() -> None:
    from zenbench.errors import ZenbenchError

    with pytest.raises(ZenbenchError, match="cpu"):
        load_device("cpuu")
    with pytest.raises(DeviceProfileError, match="t4:fp16"):
        load_device("t4:fp8")
