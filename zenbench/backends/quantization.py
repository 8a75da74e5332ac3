"""Static int8 quantisation of ONNX graphs, shared by the int8 devices, the int8 exports and TensorRT's calibration.

One set of choices, recorded with every table and artifact (:class:`QuantizationSettings`):
ONNX Runtime's static quantisation in QDQ form, weights int8 symmetric per output channel,
activations uint8 asymmetric, min-max ranges from a calibration set. uint8 activations (U8S8),
not int8 (S8S8), because on x86 the U8S8 kernels are the fast ones: measured on an AVX-512 VNNI
host, S8S8 ran a 7x7 projection unit 2.1x *slower* than fp32 and U8S8 2.1x faster (docs/int8.md).

The calibration set is synthetic unless the user gives images: standard-normal values per element,
the mean and variance of ImageNet-normalised images without their spatial structure. It is enough
for latency (int8 kernels take the same time whatever the ranges) and for a parity check on the
same distribution; for accuracy on real data pass ``--calibration-data images.npy``.

Inside a network, a unit receives its input already quantised by the unit before and hands its
output on quantised (ORT fuses DQ -> op -> Q into one integer kernel). :func:`integer_edges` makes a
stand-alone unit's graph do the same, so a unit is not timed with a quantise and a dequantise that
the network never runs.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from zenbench.errors import SettingError

#: element types of the quantised tensors, by name
INTEGER_TYPES = {"uint8": TensorProto.UINT8, "int8": TensorProto.INT8}
#: at most this many calibration images are read from a user's file (a calibration needs tens, not thousands)
MAX_CALIBRATION_IMAGES = 1024


@dataclass(frozen=True)
class QuantizationSettings:
    """How a graph is quantised; stored in a table's device settings and in an export's manifest."""

    activations: str = "uint8"
    weights: str = "int8"
    per_channel: bool = True
    method: str = "minmax"
    #: calibration batches of synthetic inputs (one image each at batch 1)
    calibration_batches: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        if self.activations not in INTEGER_TYPES or self.weights not in INTEGER_TYPES:
            raise SettingError(f"quantization types must be uint8 or int8, got activations={self.activations!r}, "
                               f"weights={self.weights!r}")
        if self.method != "minmax":
            raise SettingError(f"quantization method {self.method!r} is not supported (minmax)")
        if not 1 <= self.calibration_batches <= MAX_CALIBRATION_IMAGES:
            raise SettingError(f"calibration_batches must be 1..{MAX_CALIBRATION_IMAGES}, "
                               f"got {self.calibration_batches}")

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> QuantizationSettings:
        """The settings a device profile's ``options.quantization`` names (defaults for the rest)."""
        raw = options.get("quantization") or {}
        if not isinstance(raw, dict) or not set(raw) <= set(cls.__dataclass_fields__):
            raise SettingError(f"options.quantization must be a mapping with keys among "
                               f"{', '.join(cls.__dataclass_fields__)}, got {raw!r}")
        return cls(**raw)

    def describe(self, calibration: str = "synthetic") -> dict[str, Any]:
        return {**asdict(self), "format": "QDQ", "calibration": calibration}


def load_calibration_images(path: Path, channels: int, resolution: int) -> np.ndarray:
    """A user's calibration images from an ``.npy`` file: (N, C, H, W) float32, NCHW as the network takes them,
    normalised as in training. Read memory-mapped and bounded, checked before use."""
    from zenbench.fileio import read_npy_images

    expected = (channels, resolution, resolution)
    return read_npy_images(path, option="--calibration-data", kinds="f", limit=MAX_CALIBRATION_IMAGES,
                           expected=f"an (N, {channels}, {resolution}, {resolution}) float32 array of normalised "
                                    f"images (NCHW)", fits=lambda shape: shape[1:] == expected)


def calibration_batches(shape: tuple[int, ...], settings: QuantizationSettings,
                        images: np.ndarray | None = None) -> list[np.ndarray]:
    """The inputs the ranges are calibrated on: the user's images in batches of ``shape[0]``, else
    ``settings.calibration_batches`` synthetic standard-normal batches (seeded)."""
    if images is not None:
        batch = shape[0]
        return [images[i:i + batch] for i in range(0, len(images) - batch + 1, batch)] or [images[:batch]]
    rng = np.random.default_rng(settings.seed)
    return [rng.standard_normal(shape, dtype=np.float32) for _ in range(settings.calibration_batches)]


class _Reader:
    """onnxruntime.quantization's CalibrationDataReader protocol over a list of batches."""

    def __init__(self, name: str, batches: list[np.ndarray]) -> None:
        self._items: Iterator[dict[str, np.ndarray]] = iter([{name: b} for b in batches])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)


def quantize(model: onnx.ModelProto, input_shape: tuple[int, ...], settings: QuantizationSettings,
             images: np.ndarray | None = None) -> onnx.ModelProto:
    """``model`` (fp32) statically quantised to QDQ int8 under ``settings``; float input and output."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    types = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}
    name = model.graph.input[0].name
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # its "consider pre-processing" hint
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "quantized.onnx"
        quantize_static(model, out, _Reader(name, calibration_batches(input_shape, settings, images)),
                        quant_format=QuantFormat.QDQ, per_channel=settings.per_channel,
                        activation_type=types[settings.activations], weight_type=types[settings.weights],
                        calibrate_method=CalibrationMethod.MinMax)
        return onnx.load(str(out))


def integer_edges(model: onnx.ModelProto, *, quantized_input: bool, quantized_output: bool) -> onnx.ModelProto:
    """The QDQ ``model`` with its input's QuantizeLinear and/or its output's DequantizeLinear removed: the graph
    then takes (returns) the integer tensor, as the unit does inside a network."""
    graph = model.graph
    if quantized_input:
        name = graph.input[0].name
        quantizers = [n for n in graph.node if n.op_type == "QuantizeLinear" and n.input[0] == name]
        if len(quantizers) == 1 and not any(name in n.input for n in graph.node if n is not quantizers[0]):
            node = quantizers[0]
            shape = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
            graph.node.remove(node)
            del graph.input[:]
            graph.input.append(helper.make_tensor_value_info(node.output[0], _zero_point_type(graph, node), shape))
    if quantized_output:
        for index, output in enumerate(list(graph.output)):
            node = next((n for n in graph.node if n.op_type == "DequantizeLinear" and n.output[0] == output.name), None)
            if node is None:
                continue
            graph.node.remove(node)
            replacement = onnx.ValueInfoProto()
            replacement.CopyFrom(output)
            replacement.name = node.input[0]
            replacement.type.tensor_type.elem_type = _zero_point_type(graph, node)
            graph.output.remove(output)
            graph.output.insert(index, replacement)
    onnx.checker.check_model(model)
    return model


def _zero_point_type(graph: onnx.GraphProto, node: onnx.NodeProto) -> int:
    """The integer element type a Quantize/DequantizeLinear node works in (its zero point's type)."""
    if len(node.input) > 2:
        for init in graph.initializer:
            if init.name == node.input[2]:
                return init.data_type
    return TensorProto.UINT8
