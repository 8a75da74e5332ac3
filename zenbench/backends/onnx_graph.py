"""Inference ONNX graphs built straight from units and specs, in milliseconds.

Profiling times thousands of units; exporting each through ``torch.onnx.export`` would cost more
than timing it. Units are simple (conv, BN, ReLU, SE, add), so the graph is written directly, with
BN already folded into the preceding convolution's bias, which is what ONNX Runtime's optimiser
does to an exported model anyway. Weights are random (scaled like He init, so activations stay
in range and no denormals slow the kernels); latency does not depend on their values.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from zenbench.space.spec import NetworkSpec
from zenbench.space.units import BN, SE, Conv, ReLU, Shortcut, Unit

OPSET = 17


class GraphBuilder:
    """Accumulates nodes and initialisers; names are generated, so callers only pass tensor names around."""

    def __init__(self, seed: int = 0) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.rng = np.random.default_rng(seed)
        self._count = 0

    def name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def constant(self, array: np.ndarray, prefix: str) -> str:
        name = self.name(prefix)
        self.initializers.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def op(self, op_type: str, inputs: list[str], **attrs: object) -> str:
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def conv(self, x: str, conv: Conv, bias: bool = True) -> str:
        fan_in = conv.in_channels // conv.groups * conv.kernel * conv.kernel
        weight = self.rng.standard_normal((conv.out_channels, conv.in_channels // conv.groups, conv.kernel, conv.kernel),
                                          dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
        inputs = [x, self.constant(weight, "w")]
        if bias:
            inputs.append(self.constant(self.rng.standard_normal(conv.out_channels).astype(np.float32) * 0.01, "b"))
        pad = conv.kernel // 2
        return self.op("Conv", inputs, kernel_shape=[conv.kernel] * 2, strides=[conv.stride] * 2,
                       pads=[pad] * 4, group=conv.groups)

    def se(self, x: str, se: SE) -> str:
        pooled = self.op("GlobalAveragePool", [x])
        reduced = self.op("Relu", [self.conv(pooled, Conv(se.channels, se.reduced, 1))])
        gate = self.op("Sigmoid", [self.conv(reduced, Conv(se.reduced, se.channels, 1))])
        return self.op("Mul", [x, gate])

    def unit(self, x: str, unit: Unit, *, residual: bool = True, se: bool = False) -> str:
        """One unit as built for deployment: BN folded, so each Conv carries a bias."""
        y = x
        for layer in unit.active_layers(bn=False, se=se):
            if isinstance(layer, Conv):
                y = self.conv(y, layer)
            elif isinstance(layer, ReLU):
                y = self.op("Relu", [y])
            elif isinstance(layer, SE):
                y = self.se(y, layer)
            elif not isinstance(layer, BN):  # pragma: no cover - a new layer type needs a case here
                raise TypeError(f"no ONNX lowering for {layer!r}")
        shortcut = unit.effective_shortcut(residual)
        if shortcut is Shortcut.PROJECTION:
            y = self.op("Add", [y, self.conv(x, unit.projection_conv())])
        elif shortcut is Shortcut.IDENTITY:
            y = self.op("Add", [y, x])
        if unit.relu_after:
            y = self.op("Relu", [y])
        return y

    def model(self, input_shape: tuple[int, ...], output: str, name: str) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(input_shape))],
            [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
            self.initializers,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="zenbench")
        model.ir_version = 8
        return model


def units_graph(units: list[Unit], batch: int, resolution: int, *, residual: bool = True, se: bool = False,
                seed: int = 0) -> onnx.ModelProto:
    """A graph running ``units`` in sequence on a (batch, C, resolution, resolution) input."""
    builder = GraphBuilder(seed)
    x = "input"
    for unit in units:
        x = builder.unit(x, unit, residual=residual, se=se)
    return builder.model((batch, units[0].in_channels, resolution, resolution), x, "units")


def head_graph(channels: int, num_classes: int, batch: int, resolution: int, seed: int = 0) -> onnx.ModelProto:
    """Global average pooling and the classifier."""
    builder = GraphBuilder(seed)
    flat = builder.op("Flatten", [builder.op("GlobalAveragePool", ["input"])])
    weight = builder.rng.standard_normal((num_classes, channels), dtype=np.float32) / np.float32(np.sqrt(channels))
    out = builder.op("Gemm", [flat, builder.constant(weight, "fc_w"), builder.constant(np.zeros(num_classes), "fc_b")],
                     transB=1)
    return builder.model((batch, channels, resolution, resolution), out, "head")


def network_graph(spec: NetworkSpec, batch: int, resolution: int, num_classes: int = 1000, *, residual: bool = True,
                  se: bool = False, seed: int = 0) -> onnx.ModelProto:
    """The whole network (blocks, GAP, classifier) as deployed: BN folded into the convolutions."""
    builder = GraphBuilder(seed)
    x = "input"
    for unit in spec.units():
        x = builder.unit(x, unit, residual=residual, se=se)
    if num_classes:
        flat = builder.op("Flatten", [builder.op("GlobalAveragePool", [x])])
        weight = builder.rng.standard_normal((num_classes, spec.out_channels), dtype=np.float32)
        x = builder.op("Gemm", [flat, builder.constant(weight / np.sqrt(spec.out_channels), "fc_w"),
                                builder.constant(np.zeros(num_classes), "fc_b")], transB=1)
    return builder.model((batch, spec.in_channels, resolution, resolution), x, "network")
