"""ONNX: ``torch.onnx.export`` (TorchScript exporter, opset 17), ``onnx.checker``, an ORT-simplified graph,
and int8 through the static quantisation the int8 devices time (:mod:`zenbench.backends.quantization`),
calibrated on the synthetic set or the user's images."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import torch

from zenbench.export import EXPORTERS, OPSET, Artifact, ExportContext


def ort_runner(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: np.concatenate([session.run(None, {name: x[i:i + 1]})[0] for i in range(len(x))])


def write_onnx(ctx: ExportContext, path: Path) -> Path:
    example = torch.from_numpy(ctx.inputs[:1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation on every call
        torch.onnx.export(ctx.model, (example,), str(path), opset_version=OPSET, dynamo=False,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    onnx.checker.check_model(str(path), full_check=True)
    simplify(path)
    return path


def simplify(path: Path) -> None:
    """Constant folding and redundant-node elimination by ONNX Runtime's basic optimiser, written back in place."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    tmp = path.with_name(f".{path.stem}.simplified.onnx")
    options.optimized_model_filepath = str(tmp)
    options.log_severity_level = 3
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    onnx.checker.check_model(str(tmp))
    tmp.replace(path)


def export_onnx(ctx: ExportContext) -> Artifact:
    if ctx.precision == "int8":
        from zenbench.backends.quantization import quantize

        # the fp32 graph is an intermediate, left in the staging folder (and timed beside the int8 one for the
        # speed-up): only the artifact and its manifest are kept, so an int8 export never replaces an fp32
        # export's model.onnx behind that export's manifest
        source = write_onnx(ctx, ctx.out_dir / f"{ctx.name}.fp32-source.onnx")
        quantized = ctx.out_dir / f"{ctx.name}.int8.onnx"
        onnx.save(quantize(onnx.load(str(source)), ctx.input_shape, ctx.quantization, ctx.calibration_images),
                  str(quantized))
        onnx.checker.check_model(str(quantized))
        return Artifact(quantized, ort_runner(quantized), "onnxruntime",
                        {"opset": OPSET, "quantization": ctx.quantization.describe(ctx.calibration_source)},
                        reference_path=source)
    path = write_onnx(ctx, ctx.out_dir / f"{ctx.name}.onnx")
    return Artifact(path, ort_runner(path), "onnxruntime", {"opset": OPSET})


EXPORTERS.add("onnx", export_onnx)
