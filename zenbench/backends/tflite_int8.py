"""Full-integer (int8) TFLite models written straight from units and specs, for timing on LiteRT.

The int8 twin of :mod:`zenbench.backends.tflite_graph` (same graph, same layers, same padding
decisions; its builder is subclassed, not copied). Written rather than converted for the fp32 writer's
reason, more so: a PT2E conversion adds export, calibration and quantized lowering to each unit's
seconds of conversion, while writing takes milliseconds. Op for op it is what litert-torch's PT2E static
quantization (``PT2EQuantizer`` with ``get_symmetric_quantization_config(is_per_channel=True)``)
converts for the same module, checked by a slow test:

- activations int8, asymmetric, one (scale, zero point) per tensor; the output of a fused ReLU has
  zero point -128, as a min-max calibration of a non-negative range gives;
- CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED weights int8, symmetric per output channel (zero point
  0; axis 0, or 3 for the depth-wise 1 x K x K x C kernel), biases int32 with scale
  ``input_scale * weight_scale[c]``; the operator versions TFLite gives int8 kernels (per-channel
  CONV_2D and DEPTHWISE_CONV_2D are version 3, int8 ADD / PAD / TRANSPOSE / MEAN version 2);
- ReLU fused (``fused_activation_function``), ADD int8 with its own output scale (a rescale of both
  inputs), PAD / TRANSPOSE / MEAN keeping their input's quantization (no requantization).

Edges. ``quantized_input`` / ``quantized_output`` say whether the graph's input / output is the int8
tensor itself, as for a unit inside a network (it receives and hands on int8 tensors), or a float
tensor with a QUANTIZE (DEQUANTIZE) at that edge, as for a whole network taking an image and returning
float logits. litert-torch's PT2E conversion (and ai-edge-quantizer's ``static_wi8_ai8``) fold both
edges into int8 inputs and outputs; a TensorFlow-converted full-integer model with float I/O keeps
them; the two differ by one elementwise op at each end.

Scales. Activation scales and zero points are fixed plausible values (an image normalised to about
[-4, 4] at the input, [0, 6] after a ReLU, [-8, 8] for a linear output), not calibrated: XNNPACK's
QS8 kernels (the device's default) do the same work whatever they are, so latency does not depend on
them (a written model and the PT2E-converted one time alike there). TFLite's own int8 kernels
(``xnnpack: false``) choose code paths by zero points and scales, so without XNNPACK these fixed values
are an approximation. Weights are random (He-scaled floats quantized per channel); latency does not
depend on their values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zenbench.backends.tflite_graph import TFLiteBuilder
from zenbench.space.spec import NetworkSpec
from zenbench.space.units import Conv, Unit

#: builtin operator -> (operator version, builtin options table), as litert-torch 0.10 writes an int8 model
#: (QUANTIZE / DEQUANTIZE as TFLite's op_version gives them for float <-> per-tensor int8)
INT8_OPS = {
    "CONV_2D": (3, "Conv2DOptions"),
    "DEPTHWISE_CONV_2D": (3, "DepthwiseConv2DOptions"),
    "PAD": (2, "PadOptions"),
    "ADD": (2, "AddOptions"),
    "TRANSPOSE": (2, "TransposeOptions"),
    "MEAN": (2, "ReducerOptions"),
    "FULLY_CONNECTED": (5, "FullyConnectedOptions"),
    "QUANTIZE": (1, "QuantizeOptions"),
    "DEQUANTIZE": (2, "DequantizeOptions"),
}

#: (scale, zero point) of a graph's first int8 activation: an image normalised to about [-4, 4]
INPUT_Q = (8 / 255, 0)
#: after a fused ReLU: [0, 6]
RELU_Q = (6 / 255, -128)
#: a linear output (a body's last convolution before the residual ADD, a projection, the logits): [-8, 8]
LINEAR_Q = (16 / 255, 0)


class Int8TFLiteBuilder(TFLiteBuilder):
    """The fp32 builder with int8 activations, per-channel int8 weights and int32 biases."""

    OPS = INT8_OPS

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self.qparams: dict[int, tuple[float, int]] = {}  # activation tensor -> (scale, zero point)

    # ------------------------------------------------------------------ tensors
    def quantize_params(self, index: int, scale: np.ndarray, zero_point: np.ndarray, axis: int = 0) -> None:
        q = self.s.QuantizationParametersT()
        q.scale = np.asarray(scale, dtype=np.float32).reshape(-1)
        q.zeroPoint = np.asarray(zero_point, dtype=np.int64).reshape(-1)
        q.quantizedDimension = axis
        self.tensors[index].quantization = q

    def activation(self, shape: tuple[int, ...], qparams: tuple[float, int], name: str = "") -> int:
        """An int8 activation tensor with one (scale, zero point)."""
        t = self.tensor(shape, name=name, dtype=np.int8)
        self.quantize_params(t, np.array([qparams[0]]), np.array([qparams[1]]))
        self.qparams[t] = qparams
        return t

    def weights(self, weight: np.ndarray, bias: np.ndarray, input_scale: float, axis: int) -> list[int]:
        """Constant tensors of ``weight`` quantized symmetrically per output channel (along ``axis``) and ``bias``
        as int32 with scale ``input_scale * weight_scale``."""
        reduce = tuple(d for d in range(weight.ndim) if d != axis)
        scale = np.maximum(np.abs(weight).max(axis=reduce), np.float32(1e-8)) / np.float32(127)
        shape = [1] * weight.ndim
        shape[axis] = -1
        q = np.clip(np.round(weight / scale.reshape(shape)), -127, 127).astype(np.int8)
        bias_scale = (np.float32(input_scale) * scale).astype(np.float32)
        q_bias = np.round(bias / bias_scale).astype(np.int32)
        w = self.tensor(q.shape, q)
        self.quantize_params(w, scale, np.zeros(scale.size, np.int64), axis)
        b = self.tensor(q_bias.shape, q_bias)
        self.quantize_params(b, bias_scale, np.zeros(scale.size, np.int64), 0)
        return [w, b]

    def _op(self, kind: str, inputs: list[int], out_shape: tuple[int, ...], out: int | None = None,
            **options: Any) -> int:
        """As in fp32; an op given no output (PAD, TRANSPOSE, MEAN) writes an int8 tensor with its input's
        quantization, as the converter writes them."""
        if out is None:
            out = self.activation(out_shape, self.qparams[inputs[0]])
        return super()._op(kind, inputs, out_shape, out, **options)

    # ------------------------------------------------------------------ layers
    def conv(self, x: int, conv: Conv, relu: bool) -> int:
        weight, bias = self.conv_weights(conv)
        params = self.weights(weight, bias, self.qparams[x][0], axis=3 if conv.groups > 1 else 0)
        y, padding = self.padded(x, conv)
        shape = self.conv_shape(x, conv)
        return self.conv_op(y, conv, relu, padding, params, shape, self.activation(shape, RELU_Q if relu else LINEAR_Q))

    def add(self, a: int, b: int, relu: bool, out: int | None = None) -> int:
        return super().add(a, b, relu, out if out is not None else self.activation(
            self.shapes[a], RELU_Q if relu else LINEAR_Q))

    def classifier(self, pooled: int, num_classes: int) -> int:
        n, c = self.shapes[pooled]
        params = self.weights(self.classifier_weight(c, num_classes), np.zeros(num_classes, np.float32),
                              self.qparams[pooled][0], axis=0)
        return self._op("FULLY_CONNECTED", [pooled, *params], (n, num_classes),
                        self.activation((n, num_classes), LINEAR_Q), keepNumDims=True)

    # ------------------------------------------------------------------ the edges
    def graph_input(self, shape: tuple[int, ...], quantized: bool) -> tuple[int, int]:
        """The graph's input tensor and the int8 activation the first layer reads: the same tensor when
        ``quantized``, else a float input and its QUANTIZE."""
        if quantized:
            x = self.activation(shape, INPUT_Q, name="input")
            return x, x
        first = self.tensor(shape, name="input")
        return first, self._op("QUANTIZE", [first], shape, self.activation(shape, INPUT_Q))

    def graph_output(self, x: int, quantized: bool) -> int:
        """``x`` itself when ``quantized``, else its DEQUANTIZE to float."""
        if quantized:
            return x
        return self._op("DEQUANTIZE", [x], self.shapes[x], self.tensor(self.shapes[x]))


def units_tflite_int8(units: list[Unit], batch: int, resolution: int, *, residual: bool = True, seed: int = 0,
                      quantized_input: bool = True, quantized_output: bool = True) -> bytes:
    """``units`` in sequence on a (batch, resolution, resolution, C) input, int8 (int8 edges by default, as a unit
    inside a network has them)."""
    builder = Int8TFLiteBuilder(seed)
    first, x = builder.graph_input((batch, resolution, resolution, units[0].in_channels), quantized_input)
    for unit in units:
        x = builder.unit(x, unit, residual=residual)
    return builder.model([first], [builder.graph_output(x, quantized_output)])


def head_tflite_int8(channels: int, num_classes: int, batch: int, resolution: int, seed: int = 0, *,
                     quantized_input: bool = True, quantized_output: bool = False) -> bytes:
    """Global average pooling and the classifier, int8, on a (batch, resolution, resolution, channels) input (an
    int8 input and float logits by default, as the head of a network has them)."""
    builder = Int8TFLiteBuilder(seed)
    first, x = builder.graph_input((batch, resolution, resolution, channels), quantized_input)
    return builder.model([first], [builder.graph_output(builder.head(x, num_classes), quantized_output)])


def network_tflite_int8(spec: NetworkSpec, batch: int, resolution: int, num_classes: int = 1000, *,
                        residual: bool = True, seed: int = 0, quantized_input: bool = False,
                        quantized_output: bool = False) -> bytes:
    """The whole network (blocks, GAP, classifier) in int8, without SE; float input and output by default."""
    builder = Int8TFLiteBuilder(seed)
    first, x = builder.graph_input((batch, resolution, resolution, spec.in_channels), quantized_input)
    for unit in spec.units():
        x = builder.unit(x, unit, residual=residual)
    if num_classes:
        x = builder.head(x, num_classes)
    return builder.model([first], [builder.graph_output(x, quantized_output)])
