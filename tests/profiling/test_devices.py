from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from zenbench.cli import app
from zenbench.devices import DeviceProfileError, list_devices, load_device, parse_profile
from zenbench.errors import ProfileError, ZenbenchError


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
    assert "pixel2" in rows and set(rows["pixel2"]) >= {"available", "reason"}
    # a variant with a description of its own shows it; one that inherits its base's says whose variant it is
    assert "int8" in rows["cpu:int8"]["description"] and rows["cpu:all-cores"]["description"] == "variant of cpu"


def _fake_adb(folder: Path, listing: str) -> None:
    """An `adb` on PATH that answers `adb devices` with ``listing``."""
    folder.mkdir(exist_ok=True)
    script = folder / "adb"
    script.write_text(f"#!/bin/sh\nprintf 'List of devices attached\\n{listing}'\n")
    script.chmod(0o755)


@pytest.mark.parametrize(("listing", "available", "reason"), [
    (None, False, "adb is not on PATH"),
    ("", False, "no phone connected"),
    ("ABC123\\tdevice\\n", True, None),
    ("ABC123\\tdevice\\nDEF456\\tdevice\\n", False, "several phones"),
])
def test_devices_reports_the_phone_as_adb_sees_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  listing: str | None, available: bool, reason: str | None) -> None:
    """`available` and `reason` of the adb profile follow what `adb devices` answers (a fake adb here)."""
    if listing is not None:
        _fake_adb(tmp_path / "bin", listing)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    result = CliRunner().invoke(app, ["devices", "--json"])
    assert result.exit_code == 0, result.output
    row = {r["device"]: r for r in json.loads(result.stdout)}["pixel2"]
    assert row["available"] is available
    assert row["reason"] is None if reason is None else reason in row["reason"]


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


GOOD = "name: x\nbackend: onnxruntime\nprecision: fp32\nbatch: 1\n"


@pytest.mark.parametrize(("text", "key"), [
    ("name: ../../x\nbackend: onnxruntime\nprecision: fp32\nbatch: 1\n", "name"),
    ("name: a/b\nbackend: onnxruntime\nprecision: fp32\nbatch: 1\n", "name"),
    ("name: .hidden\nbackend: onnxruntime\nprecision: fp32\nbatch: 1\n", "name"),
    ("name: [x]\nbackend: onnxruntime\nprecision: fp32\nbatch: 1\n", "name"),
    ("name: x\nbackend: [onnxruntime]\nprecision: fp32\nbatch: 1\n", "backend"),
    ("name: x\nbackend: onnxruntime\nprecision: {a: 1}\nbatch: 1\n", "precision"),
    ("name: x\nbackend: onnxruntime\nprecision: fp32\nbatch: true\n", "batch"),
    ("name: x\nbackend: onnxruntime\nprecision: fp32\nbatch: 1000000000000\n", "batch"),
    (GOOD + "threads: 0\n", "threads"),
    (GOOD + "threads: 1.5\n", "threads"),
    (GOOD + "description: [1, 2]\n", "description"),
    (GOOD + "options: {cpu_mask: [f0]}\n", "options.cpu_mask"),
    (GOOD + "options: {1: x}\n", "options"),
    (GOOD + "spaces: [{space: xxbl, resolution: 0}]\n", "spaces"),
    (GOOD + "spaces: {space: xxbl}\n", "spaces"),
    (GOOD + "timing: {min_runs: 0}\n", "timing.min_runs"),
    (GOOD + "timing: {min_seconds: fast}\n", "timing.min_seconds"),
    (GOOD + "timing: {rounds: 2.5}\n", "timing.rounds"),
    (GOOD + "1: x\n", "1"),
    (GOOD + "variants: {fp16: {precision: fp8}}\n", "variants.fp16.precision"),
    (GOOD + "variants: {fp16: {name: ../y}}\n", "variants.fp16.name"),
    (GOOD + "variants: {../up: {precision: fp16}}\n", "variants"),
    (GOOD + "variants: {fp16: precision}\n", "variants"),
])
def test_every_field_is_validated_on_load(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ProfileError) as info:
        parse_profile(path)
    assert str(path) in str(info.value) and repr(key) in str(info.value)


@pytest.mark.parametrize("data", [b"name: caf\xe9\nbackend: onnxruntime\nprecision: fp32\nbatch: 1\n", b"\xff\xfe\x00x",
                                  b"[" * 100_000, b"name: x\n\tbad: indent\n"])
def test_unreadable_profiles_are_profile_errors_naming_the_file(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "broken.yaml"
    path.write_bytes(data)
    with pytest.raises(ProfileError) as info:
        load_device(str(path))
    assert str(path) in str(info.value)


def test_a_good_profile_and_its_variant_load(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(GOOD.replace("name: x", "name: my-cpu_2.0") + "variants: {fast: {threads: 2, batch: 4}}\n"
                    "timing: {min_seconds: 1, rounds: 2}\noptions: {provider: CPUExecutionProvider, level: 3}\n")
    profile = load_device(f"{path}:fast")
    assert profile.name == "my-cpu_2.0:fast" and profile.threads == 2 and profile.batch == 4
    assert profile.timing.rounds == 2 and profile.timing.min_seconds == 1
    assert DeviceProfileError is ProfileError and issubclass(ProfileError, ZenbenchError)
