"""Static int8 quantisation as the int8 devices time it: U8S8 QDQ, integer tensors at a unit's edges."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, numpy_helper

from zenbench.backends.base import get_backend
from zenbench.backends.onnx_graph import units_graph
from zenbench.backends.quantization import QuantizationSettings, integer_edges, quantize
from zenbench.builder.workloads import head_workload, unit_workload
from zenbench.devices import load_device
from zenbench.errors import ProfileError, SettingError
from zenbench.latency import LatencyTable
from zenbench.latency.meta import TableError
from zenbench.locate import SHIPPED_TABLES
from zenbench.space.spec import NetworkSpec

UNIT = next(NetworkSpec.parse("SuperResK1K3K1(16,32,1,16,1)").units())
SETTINGS = QuantizationSettings(calibration_batches=2)


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_weights_are_int8_per_channel_and_activations_uint8() -> None:
    graph = units_graph([UNIT], 1, 16)
    model = quantize(graph, (1, 16, 16, 16), SETTINGS)
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    int8_weights = [w for w in weights.values() if w.dtype == np.int8 and w.ndim == 4]
    assert len(int8_weights) == sum(n.op_type == "Conv" for n in graph.graph.node) == 4  # 3 body + projection
    scales = [weights[n.input[1]] for n in model.graph.node if n.op_type == "DequantizeLinear"
              and weights.get(n.input[0]) is not None and weights[n.input[0]].ndim == 4]
    assert sorted(s.size for s in scales) == sorted(w.shape[0] for w in int8_weights)  # one scale per out channel
    zero_points = [weights[n.input[2]] for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert zero_points and all(z.dtype == np.uint8 for z in zero_points)


def test_integer_edges_compute_what_the_float_edges_compute() -> None:
    model = quantize(units_graph([UNIT], 1, 16), (1, 16, 16, 16), SETTINGS)
    inner = integer_edges(onnx.ModelProto.FromString(model.SerializeToString()), quantized_input=True,
                          quantized_output=True)
    assert inner.graph.input[0].type.tensor_type.elem_type == TensorProto.UINT8
    assert inner.graph.output[0].type.tensor_type.elem_type == TensorProto.UINT8
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    quant_in = next(n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "input")
    dequant_out = next(n for n in model.graph.node if n.output[0] == model.graph.output[0].name)
    in_scale, in_zero = init[quant_in.input[1]], init[quant_in.input[2]]
    out_scale, out_zero = init[dequant_out.input[1]], init[dequant_out.input[2]]
    x = np.random.default_rng(0).standard_normal((1, 16, 16, 16)).astype(np.float32)
    q = np.clip(np.rint(x / in_scale) + in_zero, 0, 255).astype(np.uint8)
    expected = _session(model).run(None, {"input": x})[0]
    got = _session(inner).run(None, {inner.graph.input[0].name: q})[0]
    np.testing.assert_allclose((got.astype(np.float32) - out_zero) * out_scale, expected, atol=1e-6)


def test_the_int8_device_times_units_on_integer_tensors_and_networks_on_floats() -> None:
    profile = load_device("cpu:int8")
    assert profile.precision == "int8" and profile.options["quantization"]["activations"] == "uint8"
    backend = get_backend(profile.backend)
    unit = backend.prepare(unit_workload(UNIT, 1, 16, "u"), profile.settings)
    head = backend.prepare(head_workload(32, 10, 1, 4, "h"), profile.settings)
    try:
        assert unit.run()[0].dtype == np.uint8
        assert head.run()[0].dtype == np.float32
    finally:
        unit.close()
        head.close()


def test_an_fp32_table_is_refused_for_the_int8_device() -> None:
    with pytest.raises(TableError, match="precision"):
        LatencyTable.load(SHIPPED_TABLES / "cpu.parquet", expect=load_device("cpu:int8").describe())


@pytest.mark.parametrize("settings", [{"activations": "int4"}, {"method": "entropy"}, {"calibration_batches": 0},
                                      {"bits": 8}])
def test_bad_quantization_settings_are_refused(settings: dict) -> None:
    with pytest.raises(SettingError):
        QuantizationSettings.from_options({"quantization": settings})


def test_a_profile_with_bad_quantization_names_the_key(tmp_path) -> None:
    path = tmp_path / "q.yaml"
    path.write_text("name: q\ndescription: d\nbackend: onnxruntime\nprecision: int8\nbatch: 1\nper_image: false\n"
                    "threads: 1\noptions: {quantization: {activations: int4}}\n")
    with pytest.raises(ProfileError, match=r"options\.quantization"):
        load_device(str(path))
