"""Full-integer TFLite models written directly run on LiteRT, have the edges their flags ask for, and are what
litert-torch's PT2E static quantization converts, op for op."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert", reason="needs the tflite extra: pip install 'zenbench[tflite]'")

from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter

from zenbench.backends.tflite_int8 import head_tflite_int8, network_tflite_int8, units_tflite_int8
from zenbench.space.spec import NetworkSpec

# as in test_tflite_graph: PAD + VALID and SAME stride 2, depth-wise K3/K5/K7, identity and projection shortcuts
EVERY_CASE = ("SuperConvK3BNRELU(3,16,2,1)SuperResK1K3K1(16,24,2,16,2)SuperResIDWE4K5(24,32,2,16,1)"
              "SuperResK3K3(32,40,2,24,1)SuperResIDWE1K7(40,48,2,40,1)SuperResIDWE2K3(48,48,2,32,1)"
              "SuperConvK1BNRELU(48,96,1,1)")

_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
_TYPES = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
_KEPT = ("padding", "strideW", "strideH", "fusedActivationFunction", "depthMultiplier", "keepDims", "keepNumDims",
         "potScaleInt16")


def _quant(model, graph, index: int) -> tuple:
    """A tensor's type, shape and how it is quantised: per tensor, or per channel (count, axis, zero points all 0)."""
    t = graph.tensors[index]
    q = t.quantization
    constant = model.buffers[t.buffer].data is not None and len(model.buffers[t.buffer].data) > 0
    kind: tuple = ("none",)
    if q is not None and q.scale is not None and len(q.scale):
        kind = ("per-tensor",) if len(q.scale) == 1 and not constant else (
            "per-channel", len(q.scale), int(q.quantizedDimension), bool((np.asarray(q.zeroPoint) == 0).all()))
    return _TYPES[t.type], tuple(int(d) for d in t.shape), constant, kind


def int8_ops(data: bytes) -> list[tuple]:
    """Each operator: builtin, version, the kernel-deciding options, each input's and the output's type, shape and
    quantisation, and for a layout op (PAD, TRANSPOSE, MEAN) whether its output keeps its input's (scale, zero
    point)."""
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    graph = model.subgraphs[0]
    out = []
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        options = vars(op.builtinOptions) if op.builtinOptions is not None else {}
        first, result = graph.tensors[op.inputs[0]].quantization, graph.tensors[op.outputs[0]].quantization
        name = _NAMES[max(code.builtinCode, code.deprecatedBuiltinCode)]
        same = (name in ("PAD", "TRANSPOSE", "MEAN") and first is not None and result is not None
                and first.scale is not None and result.scale is not None
                and np.array_equal(first.scale, result.scale) and np.array_equal(first.zeroPoint, result.zeroPoint))
        out.append((name, code.version,
                    tuple(sorted((k, v) for k, v in options.items() if k in _KEPT)),
                    tuple(_quant(model, graph, i) for i in op.inputs), _quant(model, graph, op.outputs[0]), same))
    return out


def edges(data: bytes) -> tuple[str, str]:
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    graph = model.subgraphs[0]
    return _TYPES[graph.tensors[graph.inputs[0]].type], _TYPES[graph.tensors[graph.outputs[0]].type]


def run(data: bytes) -> np.ndarray:
    interpreter = Interpreter(model_content=data, num_threads=1)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    rng = np.random.default_rng(0)
    if detail["dtype"] == np.int8:
        x = rng.integers(-128, 127, detail["shape"], endpoint=True).astype(np.int8)
    else:
        x = rng.standard_normal(detail["shape"]).astype(np.float32)
    interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def test_int8_unit_head_and_network_run_with_the_edges_their_flags_ask_for() -> None:
    spec = NetworkSpec.parse(EVERY_CASE)
    unit = list(spec.units())[1]  # K1K3K1, stride 2 on an even input: PAD, projection shortcut
    data = units_tflite_int8([unit], 1, 56)
    assert edges(data) == ("INT8", "INT8")
    out = run(data)
    assert out.shape == (1, 28, 28, 24) and out.dtype == np.int8 and out.std() > 0
    assert edges(units_tflite_int8([unit], 1, 56, quantized_input=False, quantized_output=False)) == (
        "FLOAT32", "FLOAT32")
    head = head_tflite_int8(96, 10, 1, 7)
    assert edges(head) == ("INT8", "FLOAT32")
    assert run(head).shape == (1, 10)
    network = network_tflite_int8(spec, 1, 112, 1000)
    assert edges(network) == ("FLOAT32", "FLOAT32")
    out = run(network)
    assert out.shape == (1, 1000) and out.dtype == np.float32 and np.isfinite(out).all() and out.std() > 0
    names = [op[0] for op in int8_ops(network)]
    assert names[0] == "QUANTIZE" and names[-1] == "DEQUANTIZE"
    assert "QUANTIZE" not in [op[0] for op in int8_ops(data)]


def test_int8_layers_have_int8_activations_per_channel_weights_and_int32_biases() -> None:
    spec = NetworkSpec.parse(EVERY_CASE)
    ops = int8_ops(network_tflite_int8(spec, 1, 112, 1000, quantized_input=True, quantized_output=True))
    kinds = {op[0] for op in ops}
    assert kinds == {"PAD", "CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "TRANSPOSE", "MEAN", "FULLY_CONNECTED"}
    for name, version, _, inputs, output, same in ops:
        assert output[0] == "INT8" and output[3] == ("per-tensor",)
        assert inputs[0][0] == "INT8"
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            channels = output[1][-1]
            axis = 3 if name == "DEPTHWISE_CONV_2D" else 0
            assert inputs[1][0] == "INT8" and inputs[1][3] == ("per-channel", channels, axis, True)
            assert inputs[2][0] == "INT32" and inputs[2][3] == ("per-channel", channels, 0, True)
        if name in ("PAD", "TRANSPOSE", "MEAN"):
            assert same
        assert version == {"FULLY_CONNECTED": 5, "CONV_2D": 3, "DEPTHWISE_CONV_2D": 3}.get(name, 2)


def test_the_int8_litert_device_variant_loads_and_its_backend_is_available() -> None:
    from zenbench.backends.base import get_backend
    from zenbench.devices import load_device

    profile = load_device("cpu-litert:int8")
    assert profile.precision == "int8" and profile.backend == "litert"
    assert get_backend("litert").available(profile.settings) is None
    assert load_device("cpu-litert").precision == "fp32"


def test_the_litert_backend_feeds_each_int8_workload_the_input_its_flags_give() -> None:
    from zenbench.backends.base import get_backend
    from zenbench.builder.workloads import head_workload, network_workload, unit_workload
    from zenbench.devices import load_device

    spec = NetworkSpec.parse(EVERY_CASE)
    backend = get_backend("litert")
    int8, fp32 = load_device("cpu-litert:int8").settings, load_device("cpu-litert").settings
    cases = [(unit_workload(list(spec.units())[1], 1, 56, "k1k3k1"), int8, "int8"),
             (head_workload(96, 10, 1, 7, "head"), int8, "int8"),
             (network_workload(spec, 1, 112, 1000), int8, "float32"),
             (unit_workload(list(spec.units())[1], 1, 56, "k1k3k1"), fp32, "float32")]
    for workload, settings, dtype in cases:
        runnable = backend.prepare(workload, settings)
        try:
            runnable()
            assert runnable.context["precision"] == settings.precision
            assert runnable.context["input_dtype"] == dtype, workload.name
        finally:
            runnable.close()


# ---------------------------------------------------------------------------- faithfulness (litert-torch PT2E)
def _pt2e_convert(module, input_shape: tuple[int, ...], image_output: bool) -> bytes:
    """``module`` through litert-torch's PT2E static int8 quantization (per-channel weights), NHWC I/O."""
    import tempfile
    import warnings
    from pathlib import Path

    import litert_torch
    import torch
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from zenbench.quiet import captured_stderr, quiet_libraries

    quiet_libraries()
    module = litert_torch.to_channel_last_io(module.eval(), args=[0], outputs=[0] if image_output else []).eval()
    n, c, h, w = input_shape
    generator = torch.Generator().manual_seed(0)
    example = torch.randn((n, h, w, c), generator=generator)
    quantizer = PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    with warnings.catch_warnings(), captured_stderr():
        warnings.simplefilter("ignore")
        prepared = prepare_pt2e(torch.export.export(module, (example,)).module(), quantizer)
        for _ in range(3):
            prepared(torch.randn((n, h, w, c), generator=generator))
        converted = convert_pt2e(prepared, fold_quantize=False)
        edge = litert_torch.convert(converted, (example,), quant_config=QuantConfig(pt2e_quantizer=quantizer))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.tflite"
            edge.export(str(path))
            return path.read_bytes()


@pytest.mark.slow
def test_written_int8_models_are_what_litert_torch_pt2e_converts() -> None:
    pytest.importorskip("litert_torch", reason="needs litert-torch (the tflite extra)")
    pytest.importorskip("torchao", reason="litert-torch's PT2E quantizer needs torchao")
    from torch import nn

    from zenbench.space.network import build_model, build_unit

    spec = NetworkSpec.parse(EVERY_CASE)
    units = list(spec.units())
    for unit, resolution in ((units[1], 56), (units[2], 28)):  # K1K3K1 with projection; IDW with PAD + depth-wise
        converted = _pt2e_convert(nn.Sequential(build_unit(unit, residual=True, bn=True, se=False)),
                                  (1, unit.in_channels, resolution, resolution), image_output=True)
        assert int8_ops(units_tflite_int8([unit], 1, resolution)) == int8_ops(converted), unit
    converted = _pt2e_convert(build_model(spec, 1000), (1, 3, 112, 112), image_output=False)
    # PT2E folds the edges' QUANTIZE / DEQUANTIZE into int8 I/O: compare with the network written that way
    written = network_tflite_int8(spec, 1, 112, 1000, quantized_input=True, quantized_output=True)
    assert int8_ops(written) == int8_ops(converted)
