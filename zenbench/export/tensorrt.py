"""A TensorRT engine built from the exported ONNX graph (fp32, fp16, or int8 with an entropy calibrator).

The ONNX graph is an intermediate: only the engine (and its manifest) is kept.
"""

from __future__ import annotations

import numpy as np

from zenbench.backends.base import BackendSettings
from zenbench.export import EXPORTERS, REQUIREMENTS, Artifact, ExportContext
from zenbench.export.onnx import write_onnx
from zenbench.fileio import atomic_write_bytes


def require_tensorrt(precision: str) -> None:
    """Raise a one-line ``BackendUnavailable`` (what to install or connect) unless TensorRT can build here.
    Nothing of TensorRT is imported before this check has passed."""
    from zenbench.backends.tensorrt import TensorRTBackend

    TensorRTBackend().require(BackendSettings(precision=precision, batch=1))


def export_tensorrt(ctx: ExportContext) -> Artifact:
    require_tensorrt(ctx.precision)
    import onnx
    import tensorrt as trt
    import torch

    from zenbench.backends.tensorrt import TensorRTBackend

    backend = TensorRTBackend()
    settings = BackendSettings(precision=ctx.precision, batch=1)
    onnx_path = write_onnx(ctx, ctx.out_dir / f"{ctx.name}.source.onnx")
    model = onnx.load(str(onnx_path))
    onnx_path.unlink()
    for dim in model.graph.input[0].type.tensor_type.shape.dim[:1]:
        dim.ClearField("dim_param")
        dim.dim_value = 1  # a static batch of one: no optimisation profile needed
    calibration = None
    if ctx.precision == "int8":  # the int8 devices' calibration set: the user's images or the synthetic one
        from zenbench.backends.tensorrt import calibration_tensors

        calibration = calibration_tensors(ctx.input_shape, ctx.quantization.calibration_batches, ctx.calibration_images)
    engine_bytes = backend.build_engine(model.SerializeToString(), settings, calibration=calibration)
    path = ctx.out_dir / f"{ctx.name}.{ctx.precision}.engine"
    atomic_write_bytes(path, engine_bytes)
    engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(engine_bytes)
    context = engine.create_execution_context()
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]

    def run(x: np.ndarray) -> np.ndarray:
        outs = []
        for i in range(len(x)):
            buffers = {}
            for name in names:
                shape = tuple(context.get_tensor_shape(name))
                buffers[name] = torch.empty(shape, device="cuda", dtype=torch.float32)
                context.set_tensor_address(name, buffers[name].data_ptr())
            buffers[names[0]].copy_(torch.from_numpy(x[i:i + 1]))
            stream = torch.cuda.Stream()
            context.execute_async_v3(stream.cuda_stream)
            stream.synchronize()
            outs.append(buffers[names[-1]].cpu().numpy())
        return np.concatenate(outs)

    return Artifact(path, run, f"TensorRT {trt.__version__}", {"gpu": torch.cuda.get_device_name()})


EXPORTERS.add("tensorrt", export_tensorrt)
REQUIREMENTS["tensorrt"] = require_tensorrt
