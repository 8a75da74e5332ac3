"""A missing optional runtime is one line naming what to install or connect, on every path that needs it.

Absence is simulated (``sys.modules[name] = None`` makes ``import name`` fail, as an uninstalled
package does), so these run where the extras are installed too.
"""

from __future__ import annotations

import sys

import pytest
import torch

from zenbench.errors import BackendUnavailable
from zenbench.space.spec import NetworkSpec

SPEC = NetworkSpec.parse("SuperConvK3BNRELU(3,8,2,1)SuperResK1K3K1(8,16,2,8,1)SuperConvK1BNRELU(16,32,1,1)")
LITERT_MODULES = ("ai_edge_litert", "ai_edge_litert.interpreter", "litert_torch")


def hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


def one_line(error: pytest.ExceptionInfo[BackendUnavailable]) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


def test_tflite_export_without_the_extra_names_it_and_writes_nothing(monkeypatch, tmp_path) -> None:
    from zenbench.export import export

    hide(monkeypatch, *LITERT_MODULES)
    with pytest.raises(BackendUnavailable) as error:
        export(SPEC, "tflite", out_dir=tmp_path / "out", resolution=32, num_classes=10)
    assert "pip install 'zenbench[tflite]'" in one_line(error)
    assert not (tmp_path / "out").exists()


def test_litert_without_the_extra_is_unavailable_on_every_path(monkeypatch) -> None:
    from zenbench.backends.litert import LiteRTBackend
    from zenbench.backends.tflite_convert import to_tflite
    from zenbench.builder.measuring import measure_network
    from zenbench.devices import load_device

    hide(monkeypatch, *LITERT_MODULES)
    backend = LiteRTBackend()
    assert "zenbench[tflite]" in backend.available(backend_settings())
    with pytest.raises(BackendUnavailable) as error:
        measure_network(SPEC, load_device("cpu-litert"), 32, 10)
    assert "pip install 'zenbench[tflite]'" in one_line(error)
    with pytest.raises(BackendUnavailable, match="zenbench\\[tflite\\]"):
        backend.interpreter(b"", backend_settings())
    with pytest.raises(BackendUnavailable, match="zenbench\\[tflite\\]"):
        to_tflite(torch.nn.Identity(), (1, 3, 8, 8))


def backend_settings():
    from zenbench.backends.base import BackendSettings

    return BackendSettings()


def test_only_the_converter_missing_is_named(monkeypatch) -> None:
    from zenbench.backends.tflite_convert import converter_missing, interpreter_missing

    hide(monkeypatch, "litert_torch")
    assert interpreter_missing() is None and "litert-torch" in converter_missing()


@pytest.mark.parametrize("gpu", [True, False])
def test_tensorrt_missing_is_one_line_for_export_and_measure(monkeypatch, tmp_path, gpu: bool) -> None:
    """``export --format tensorrt`` and ``measure --device t4``: with a GPU the package is named, without one
    the hardware; nothing of TensorRT is imported before the check."""
    from zenbench.builder.measuring import measure_network
    from zenbench.devices import load_device
    from zenbench.export import export

    hide(monkeypatch, "tensorrt")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    expected = "pip install 'zenbench[tensorrt]'" if gpu else "NVIDIA GPU"
    with pytest.raises(BackendUnavailable) as error:
        export(SPEC, "tensorrt", precision="fp16", out_dir=tmp_path / "out", resolution=32, num_classes=10)
    assert expected in one_line(error)
    assert not (tmp_path / "out").exists()
    with pytest.raises(BackendUnavailable) as error:
        measure_network(SPEC, load_device("t4"), 32, 10)
    assert expected in one_line(error)


def test_litert_does_not_import_from_export() -> None:
    """The backends sit below the exporters: the TFLite converter they share lives in backends/."""
    from pathlib import Path

    import zenbench.backends

    for path in Path(zenbench.backends.__file__).parent.glob("*.py"):
        assert "zenbench.export" not in path.read_text(), path.name
