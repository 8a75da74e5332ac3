"""TFLite models written directly are what litert-torch converts, op for op, and they run."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert", reason="needs the tflite extra: pip install 'zenbench[tflite]'")

from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter

from zenbench.backends.tflite_graph import head_tflite, network_tflite, same_padding_matches, units_tflite
from zenbench.space.spec import NetworkSpec

# res 112: stride 2 on even inputs (112, 56, 28, 14: PAD + VALID) and on the odd 7 (SAME); depth-wise K3/K5/K7;
# identity and projection shortcuts; K1KXK1 and KXKX bodies; a plain 1x1 conv before the head
EVERY_CASE = ("SuperConvK3BNRELU(3,16,2,1)SuperResK1K3K1(16,24,2,16,2)SuperResIDWE4K5(24,32,2,16,1)"
              "SuperResK3K3(32,40,2,24,1)SuperResIDWE1K7(40,48,2,40,1)SuperResIDWE2K3(48,48,2,32,1)"
              "SuperConvK1BNRELU(48,96,1,1)")

_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
_KEPT = ("padding", "strideW", "strideH", "fusedActivationFunction", "depthMultiplier", "keepDims", "keepNumDims")


def ops(data: bytes) -> list[tuple]:
    """Each operator: its builtin, its output shape, its input shapes and the options that decide its kernel."""
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    graph = model.subgraphs[0]
    out = []
    for op in graph.operators:
        options = vars(op.builtinOptions) if op.builtinOptions is not None else {}
        out.append((_NAMES[model.operatorCodes[op.opcodeIndex].builtinCode],
                    tuple(int(d) for d in graph.tensors[op.outputs[0]].shape),
                    tuple(tuple(int(d) for d in graph.tensors[i].shape) for i in op.inputs),
                    tuple(sorted((k, v) for k, v in options.items() if k in _KEPT))))
    return out


def run(data: bytes) -> np.ndarray:
    interpreter = Interpreter(model_content=data, num_threads=1)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.random.default_rng(0).standard_normal(detail["shape"]).astype(np.float32))
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def test_same_padding_only_where_it_equals_pytorchs() -> None:
    assert same_padding_matches(56, 3, 1) and same_padding_matches(7, 3, 2) and same_padding_matches(7, 5, 2)
    assert not same_padding_matches(56, 3, 2) and not same_padding_matches(56, 5, 2)


def test_written_models_run_with_nhwc_inputs_and_the_expected_outputs() -> None:
    spec = NetworkSpec.parse(EVERY_CASE)
    out = run(network_tflite(spec, 1, 112, 1000))
    assert out.shape == (1, 1000) and np.isfinite(out).all() and out.std() > 0
    unit = next(iter(spec.units()))
    assert run(units_tflite([unit], 1, 112)).shape == (1, 56, 56, 16)
    assert run(head_tflite(96, 10, 1, 7)).shape == (1, 10)


def test_a_written_network_is_what_litert_torch_converts() -> None:
    pytest.importorskip("litert_torch", reason="needs litert-torch (the tflite extra)")
    from zenbench.backends.tflite_convert import to_tflite
    from zenbench.space.network import build_model

    spec = NetworkSpec.parse(EVERY_CASE)
    converted = to_tflite(build_model(spec, 1000).eval(), (1, 3, 112, 112))
    written = network_tflite(spec, 1, 112, 1000)
    assert ops(written) == ops(converted)
    assert {op[0] for op in ops(written)} >= {"PAD", "CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MEAN", "FULLY_CONNECTED"}
