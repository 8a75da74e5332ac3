"""Inference TFLite models written straight from units and specs, in milliseconds.

Profiling the LiteRT device times thousands of units; converting each through litert-torch
(torch.export, decompositions, MLIR) costs 3-10 s a unit here, which made a profile of the default
grid take hours. Units are simple, so the flatbuffer is written directly, op for op what
litert-torch emits for the same module (``backends.tflite_convert.to_tflite``, checked by a test):

- NHWC activations; BN folded into the convolution's bias; a ReLU after a convolution or the
  residual ADD fused into it (``fused_activation_function``);
- a KxK convolution whose PyTorch padding (K//2 on each side) equals TFLite's SAME padding runs
  with SAME; otherwise (stride 2 on an even input) an explicit PAD and a VALID convolution;
- groups == channels is DEPTHWISE_CONV_2D (weights 1 x K x K x C); 1x1 convolutions are VALID;
- the projection shortcut's 1x1 convolution after the body, then ADD(body, shortcut);
- the head as litert-torch lowers ``AdaptiveAvgPool2d(1) + Flatten + Linear`` on an NHWC input:
  TRANSPOSE to NCHW, MEAN over H and W, FULLY_CONNECTED.

Weights are random (He-scaled, as in ``onnx_graph``); latency does not depend on their values.
Needs ai-edge-litert (the ``tflite`` extra) for the schema's flatbuffer bindings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zenbench.errors import BackendUnavailable
from zenbench.space.spec import NetworkSpec
from zenbench.space.units import Conv, ReLU, Shortcut, Unit, conv_out_resolution

#: builtin operator -> (operator version, builtin options table), as litert-torch 0.10 writes them in fp32
FP32_OPS = {
    "CONV_2D": (1, "Conv2DOptions"),
    "DEPTHWISE_CONV_2D": (1, "DepthwiseConv2DOptions"),
    "PAD": (1, "PadOptions"),
    "ADD": (1, "AddOptions"),
    "TRANSPOSE": (1, "TransposeOptions"),
    "MEAN": (1, "ReducerOptions"),
    "FULLY_CONNECTED": (5, "FullyConnectedOptions"),
}


def _schema() -> Any:
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError as e:  # pragma: no cover - the tflite extra is part of the dev install
        raise BackendUnavailable("writing TFLite models needs ai-edge-litert (pip install 'zenbench[tflite]')") from e
    return schema_py_generated


def same_padding_matches(resolution: int, kernel: int, stride: int) -> bool:
    """Whether TFLite's SAME padding of this convolution is PyTorch's symmetric K//2 padding."""
    out = conv_out_resolution(resolution, stride)
    total = max((out - 1) * stride + kernel - resolution, 0)
    return total // 2 == kernel // 2 and total - total // 2 == kernel // 2


class TFLiteBuilder:
    """Accumulates tensors, buffers and operators of one subgraph; tensors are passed around by index.

    The int8 writer (``backends.tflite_int8``) subclasses it: ``OPS`` holds the operator versions, ``_op``
    takes a ready output tensor, and ``padded`` is the convolution's padding decision shared by both."""

    OPS: dict[str, tuple[int, str]] = FP32_OPS

    def __init__(self, seed: int = 0) -> None:
        self.s = _schema()
        self.rng = np.random.default_rng(seed)
        self.tensors: list[Any] = []
        self.buffers: list[Any] = [self.s.BufferT()]  # buffer 0: the empty sentinel every model starts with
        self.operators: list[Any] = []
        self.opcodes: dict[str, int] = {}
        self.shapes: list[tuple[int, ...]] = []

    # ------------------------------------------------------------------ tensors
    def tensor(self, shape: tuple[int, ...], data: np.ndarray | None = None, name: str = "",
               dtype: type | None = None) -> int:
        """A tensor of ``dtype`` (else ``data``'s, else float32), constant when ``data`` is given."""
        s = self.s
        t = s.TensorT()
        t.shape = np.array(shape, dtype=np.int32)
        kind = np.dtype(dtype or (data.dtype if data is not None else np.float32))
        t.type = {"float32": s.TensorType.FLOAT32, "int32": s.TensorType.INT32, "int8": s.TensorType.INT8}[kind.name]
        t.name = name or f"t{len(self.tensors)}"
        buffer = _AlignedBuffer()
        if data is not None:
            buffer.data = np.ascontiguousarray(data).view(np.uint8).reshape(-1)
        self.buffers.append(buffer)
        t.buffer = len(self.buffers) - 1
        self.tensors.append(t)
        self.shapes.append(tuple(shape))
        return len(self.tensors) - 1

    def _op(self, kind: str, inputs: list[int], out_shape: tuple[int, ...], out: int | None = None,
            **options: Any) -> int:
        """Append operator ``kind``, writing to ``out`` (a new float tensor of ``out_shape`` if None)."""
        s = self.s
        options_name = self.OPS[kind][1]
        self.opcodes.setdefault(kind, len(self.opcodes))
        opts = getattr(s, options_name + "T")()
        for key, value in options.items():
            setattr(opts, key, value)
        if out is None:
            out = self.tensor(out_shape)
        op = s.OperatorT()
        op.opcodeIndex = self.opcodes[kind]
        op.inputs = np.array(inputs, dtype=np.int32)
        op.outputs = np.array([out], dtype=np.int32)
        op.builtinOptionsType = getattr(s.BuiltinOptions, options_name)
        op.builtinOptions = opts
        self.operators.append(op)
        return out

    # ------------------------------------------------------------------ layers
    def conv(self, x: int, conv: Conv, relu: bool) -> int:
        weight, bias = self.conv_weights(conv)
        y, padding = self.padded(x, conv)
        return self.conv_op(y, conv, relu, padding, [self.tensor(weight.shape, weight), self.tensor(bias.shape, bias)],
                            self.conv_shape(x, conv))

    def conv_weights(self, conv: Conv) -> tuple[np.ndarray, np.ndarray]:
        """Random He-scaled weights in TFLite's layout (O x K x K x I; 1 x K x K x C depth-wise) and a small bias."""
        k = conv.kernel
        depthwise = conv.groups > 1
        if depthwise and not (conv.groups == conv.in_channels == conv.out_channels):
            raise ValueError(f"only depth-wise grouped convolutions are lowered, not {conv}")
        fan_in = conv.in_channels // conv.groups * k * k
        shape = (1, k, k, conv.out_channels) if depthwise else (conv.out_channels, k, k, conv.in_channels)
        weight = self.rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
        bias = self.rng.standard_normal(conv.out_channels).astype(np.float32) * np.float32(0.01)
        return weight, bias

    def conv_shape(self, x: int, conv: Conv) -> tuple[int, int, int, int]:
        n, h = self.shapes[x][:2]
        out = conv_out_resolution(h, conv.stride)
        return n, out, out, conv.out_channels

    def conv_op(self, x: int, conv: Conv, relu: bool, padding: int, params: list[int], out_shape: tuple[int, ...],
                out: int | None = None) -> int:
        """CONV_2D, or DEPTHWISE_CONV_2D for a depth-wise ``conv``, on the (padded) input ``x`` with weight and bias
        tensors ``params``."""
        act = self.s.ActivationFunctionType.RELU if relu else self.s.ActivationFunctionType.NONE
        common = {"padding": padding, "strideW": conv.stride, "strideH": conv.stride, "fusedActivationFunction": act}
        if conv.groups > 1:
            return self._op("DEPTHWISE_CONV_2D", [x, *params], out_shape, out, depthMultiplier=1, **common)
        return self._op("CONV_2D", [x, *params], out_shape, out, **common)

    def padded(self, x: int, conv: Conv) -> tuple[int, int]:
        """The convolution's input and padding: SAME where it is PyTorch's K//2 padding, VALID for 1x1, else an
        explicit PAD (written with ``_op``, so its output is whatever a subclass makes) and VALID."""
        n, h, _, c = self.shapes[x]
        k = conv.kernel
        if k > 1 and same_padding_matches(h, k, conv.stride):
            return x, self.s.Padding.SAME
        if k > 1:
            p = k // 2
            x = self._op("PAD", [x, self.tensor((4, 2), np.array([[0, 0], [p, p], [p, p], [0, 0]], np.int32))],
                         (n, h + 2 * p, h + 2 * p, c))
        return x, self.s.Padding.VALID

    def add(self, a: int, b: int, relu: bool, out: int | None = None) -> int:
        act = self.s.ActivationFunctionType.RELU if relu else self.s.ActivationFunctionType.NONE
        return self._op("ADD", [a, b], self.shapes[a], out, fusedActivationFunction=act, potScaleInt16=True)

    def unit(self, x: int, unit: Unit, *, residual: bool = True) -> int:
        """One unit as deployed: BN folded, each ReLU fused into the op before it."""
        layers = unit.active_layers(bn=False, se=False)  # networks with SE go through litert-torch
        shortcut = unit.effective_shortcut(residual)
        y = x
        for i, layer in enumerate(layers):
            if isinstance(layer, Conv):
                follows = layers[i + 1] if i + 1 < len(layers) else None
                last = follows is None
                relu = isinstance(follows, ReLU) or (last and unit.relu_after and shortcut is Shortcut.NONE)
                y = self.conv(y, layer, relu)
            elif not isinstance(layer, ReLU):  # pragma: no cover - a new layer type needs a case here
                raise TypeError(f"no TFLite lowering for {layer!r}")
        if shortcut is Shortcut.PROJECTION:
            y = self.add(y, self.conv(x, unit.projection_conv(), False), unit.relu_after)
        elif shortcut is Shortcut.IDENTITY:
            y = self.add(y, x, unit.relu_after)
        return y

    def head(self, x: int, num_classes: int) -> int:
        """GAP and the classifier, as litert-torch lowers them on an NHWC activation."""
        return self.classifier(self.pooled(x), num_classes)

    def pooled(self, x: int) -> int:
        """Global average pooling as litert-torch lowers it: TRANSPOSE to NCHW, MEAN over H and W."""
        n, h, w, c = self.shapes[x]
        nchw = self._op("TRANSPOSE", [x, self.tensor((4,), np.array([0, 3, 1, 2], np.int32))], (n, c, h, w))
        return self._op("MEAN", [nchw, self.tensor((2,), np.array([2, 3], np.int32))], (n, c), keepDims=False)

    def classifier(self, pooled: int, num_classes: int) -> int:
        """FULLY_CONNECTED on the pooled (N, C) features."""
        n, c = self.shapes[pooled]
        weight = self.classifier_weight(c, num_classes)
        return self._op("FULLY_CONNECTED", [pooled, self.tensor((num_classes, c), weight),
                                            self.tensor((num_classes,), np.zeros(num_classes, np.float32))],
                        (n, num_classes), keepNumDims=True)

    def classifier_weight(self, channels: int, num_classes: int) -> np.ndarray:
        """Random (num_classes, channels) classifier weights, scaled by 1/sqrt(channels)."""
        return self.rng.standard_normal((num_classes, channels), dtype=np.float32) / np.float32(np.sqrt(channels))

    # ------------------------------------------------------------------ the model
    def model(self, inputs: list[int], outputs: list[int]) -> bytes:
        import flatbuffers

        s = self.s
        graph = s.SubGraphT()
        graph.tensors = self.tensors
        graph.inputs = np.array(inputs, dtype=np.int32)
        graph.outputs = np.array(outputs, dtype=np.int32)
        graph.operators = self.operators
        graph.name = "main"
        codes = [None] * len(self.opcodes)
        for kind, index in self.opcodes.items():
            code = s.OperatorCodeT()
            code.builtinCode = code.deprecatedBuiltinCode = getattr(s.BuiltinOperator, kind)
            code.version = self.OPS[kind][0]
            codes[index] = code
        signature = s.SignatureDefT()
        signature.signatureKey = "serving_default"
        signature.inputs = [_tensor_map(s, f"args_{i}", t) for i, t in enumerate(inputs)]
        signature.outputs = [_tensor_map(s, f"output_{i}", t) for i, t in enumerate(outputs)]
        model = s.ModelT()
        model.version = 3
        model.description = "zenbench"
        model.operatorCodes = codes
        model.subgraphs = [graph]
        model.buffers = self.buffers
        model.signatureDefs = [signature]
        builder = flatbuffers.Builder(1024 + sum(b.data.size for b in self.buffers if b.data is not None))
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


class _AlignedBuffer:
    """A constant buffer whose bytes start on a 16-byte boundary, as the MLIR exporter writes them
    (the schema's own ``BufferT`` aligns a byte vector to 1)."""

    data: np.ndarray | None = None

    def Pack(self, builder: Any) -> int:  # the flatbuffers object API calls it by this name
        s = _schema()
        vector = None
        if self.data is not None and self.data.size:
            payload = self.data.tobytes()
            builder.StartVector(1, len(payload), 16)
            builder.head -= len(payload)
            builder.Bytes[builder.head:builder.head + len(payload)] = payload
            builder.vectorNumElems = len(payload)
            vector = builder.EndVector()
        s.BufferStart(builder)
        if vector is not None:
            s.BufferAddData(builder, vector)
        return s.BufferEnd(builder)


def _tensor_map(s: Any, name: str, index: int) -> Any:
    m = s.TensorMapT()
    m.name = name
    m.tensorIndex = index
    return m


def units_tflite(units: list[Unit], batch: int, resolution: int, *, residual: bool = True, seed: int = 0) -> bytes:
    """A model running ``units`` in sequence on a (batch, resolution, resolution, C) input."""
    builder = TFLiteBuilder(seed)
    x = first = builder.tensor((batch, resolution, resolution, units[0].in_channels), name="input")
    for unit in units:
        x = builder.unit(x, unit, residual=residual)
    return builder.model([first], [x])


def head_tflite(channels: int, num_classes: int, batch: int, resolution: int, seed: int = 0) -> bytes:
    """Global average pooling and the classifier on a (batch, resolution, resolution, channels) input."""
    builder = TFLiteBuilder(seed)
    x = builder.tensor((batch, resolution, resolution, channels), name="input")
    return builder.model([x], [builder.head(x, num_classes)])


def network_tflite(spec: NetworkSpec, batch: int, resolution: int, num_classes: int = 1000, *, residual: bool = True,
                   seed: int = 0) -> bytes:
    """The whole network (blocks, GAP, classifier) as litert-torch deploys it, without SE."""
    builder = TFLiteBuilder(seed)
    x = first = builder.tensor((batch, resolution, resolution, spec.in_channels), name="input")
    for unit in spec.units():
        x = builder.unit(x, unit, residual=residual)
    if num_classes:
        x = builder.head(x, num_classes)
    return builder.model([first], [x])
