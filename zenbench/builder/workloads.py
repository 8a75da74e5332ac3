"""What the builder hands a backend to time: a unit, the classifier head, or a whole network.

Each is a :class:`~zenbench.backends.base.Workload`: an input shape and builders of the same
computation in every form a backend runs (ONNX graph, torch module, TFLite flatbuffer), in
deployment form (residual links on, BN folded by the runtime, no SE).
"""

from __future__ import annotations

from zenbench.backends.base import Workload
from zenbench.backends.onnx_graph import head_graph, network_graph, units_graph
from zenbench.backends.tflite_graph import head_tflite, network_tflite, units_tflite
from zenbench.backends.tflite_int8 import head_tflite_int8, network_tflite_int8, units_tflite_int8
from zenbench.space.spec import NetworkSpec
from zenbench.space.units import Unit


def unit_workload(unit: Unit, batch: int, resolution: int, key: str) -> Workload:
    """One unit at a resolution."""

    def make_torch():
        from torch import nn

        from zenbench.space.network import build_unit

        return nn.Sequential(build_unit(unit, residual=True, bn=True, se=False))

    return Workload((batch, unit.in_channels, resolution, resolution), lambda: units_graph([unit], batch, resolution),
                    make_torch, key, make_tflite=lambda: units_tflite([unit], batch, resolution),
                    quantized_input=True, quantized_output=True,
                    make_tflite_int8=lambda qi, qo: units_tflite_int8([unit], batch, resolution, quantized_input=qi,
                                                                      quantized_output=qo))


def head_workload(channels: int, classes: int, batch: int, resolution: int, key: str) -> Workload:
    """The global-average-pool + linear classifier."""

    def make_head():
        from torch import nn

        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, classes))

    return Workload((batch, channels, resolution, resolution), lambda: head_graph(channels, classes, batch, resolution),
                    make_head, key, make_tflite=lambda: head_tflite(channels, classes, batch, resolution),
                    quantized_input=True,
                    make_tflite_int8=lambda qi, qo: head_tflite_int8(channels, classes, batch, resolution,
                                                                     quantized_input=qi, quantized_output=qo))


def network_workload(spec: NetworkSpec, batch: int, resolution: int, num_classes: int, se: bool = False) -> Workload:
    """A whole network, as ``zenbench measure`` times it."""

    def make_torch():
        from zenbench.space.network import build_model

        return build_model(spec, num_classes, se=se).eval()

    # TFLite: written directly, op for op what litert-torch converts (seconds a network); SE is left to the converter
    make_tflite = None if se else (lambda: network_tflite(spec, batch, resolution, num_classes))
    make_int8 = None if se else (lambda qi, qo: network_tflite_int8(spec, batch, resolution, num_classes,
                                                                    quantized_input=qi, quantized_output=qo))
    return Workload((batch, spec.in_channels, resolution, resolution),
                    lambda: network_graph(spec, batch, resolution, num_classes, se=se), make_torch, str(spec),
                    make_tflite=make_tflite, make_tflite_int8=make_int8)
