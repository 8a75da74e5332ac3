"""torch -> .tflite through litert-torch (extra ``zenbench[tflite]``), and whether the TFLite runtime is here.

It lives with the backends because both the LiteRT backend (timing a torch workload) and the
TFLite export convert with it; an export may use a backend's helper, never the reverse.

litert-torch installs beside torch 2.13 without replacing it and converts the networks of every
space here (BN folded into the convolutions). Inputs and outputs are made channels-last
(``to_channel_last_io``), which is the layout TFLite runs in: a plain conversion keeps the
NCHW signature and adds a TRANSPOSE at the start of the graph, which would be timed with every
model. The ONNX -> TFLite route (onnx2tf) needs TensorFlow and pins versions that clash with
the rest of the stack.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from torch import nn

from zenbench.errors import BackendUnavailable
from zenbench.quiet import captured_stderr, quiet_libraries

INSTALL = "pip install 'zenbench[tflite]' (litert-torch and ai-edge-litert)"


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported, found without importing it (the LiteRT packages are slow and noisy)."""
    from importlib.util import find_spec

    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module entry set to None
        return False


def interpreter_missing() -> str | None:
    """Why the LiteRT interpreter cannot run here, or None."""
    if not _installed("ai_edge_litert"):
        return f"the LiteRT interpreter ai-edge-litert is not installed ({INSTALL})"
    return None


def converter_missing() -> str | None:
    """Why torch -> TFLite conversion cannot run here, or None."""
    if not _installed("litert_torch"):
        return f"the torch -> TFLite converter litert-torch is not installed ({INSTALL})"
    return None


def require_tflite(*, converter: bool = True) -> None:
    """Raise a one-line :class:`BackendUnavailable` naming the extra unless the interpreter (and converter) are here."""
    reason = interpreter_missing() or (converter_missing() if converter else None)
    if reason:
        raise BackendUnavailable(reason)


def to_tflite(module: nn.Module, input_shape: tuple[int, ...], *, channels_last_io: bool = True) -> bytes:
    """The module as a .tflite flatbuffer (fp32), taking NHWC input when ``channels_last_io``."""
    reason = converter_missing()
    if reason:
        raise BackendUnavailable(reason)
    quiet_libraries()
    import litert_torch

    module = module.eval()
    example = torch.randn(input_shape)
    if channels_last_io and len(input_shape) == 4:
        outputs = [0] if _output_rank(module, example) == 4 else []
        module = litert_torch.to_channel_last_io(module, args=[0], outputs=outputs).eval()
        example = example.permute(0, 2, 3, 1).contiguous()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the converter's pytree deprecation notices
        with captured_stderr():
            edge = litert_torch.convert(module, (example,))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        with captured_stderr():
            edge.export(str(path))
        return path.read_bytes()


def _output_rank(module: nn.Module, example: torch.Tensor) -> int:
    with torch.inference_mode():
        return module(example).dim()
