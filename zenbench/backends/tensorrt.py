"""TensorRT (extra ``zenbench[tensorrt]``): ONNX -> engine -> timed execution context.

TensorRT 10.x API: ``create_network(0)`` (explicit batch is the only mode), ``OnnxParser``,
``set_memory_pool_limit``, precision builder flags (fp16; int8 with an entropy calibrator fed
random or user images, as the paper's T4 column is INT8), ``build_serialized_network`` and
``execute_async_v3`` on torch-owned CUDA buffers. TensorRT 11 removed the precision flags and
calibrators (everything is strongly typed), so the extra pins ``tensorrt<11``. Timing uses CUDA
events on the execution stream; the device is synchronised before the events are read. The
number compares with trtexec's "GPU Compute Time" (not its "Latency", which adds copies).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from zenbench.backends.base import BACKENDS, Backend, BackendSettings, Runnable, Workload
from zenbench.errors import BackendUnavailable


class TensorRTBackend(Backend):
    name = "tensorrt"
    install_hint = "pip install 'zenbench[tensorrt]' (TensorRT 10.x) on a machine with an NVIDIA GPU and driver"

    def available(self, settings: BackendSettings) -> str | None:
        import torch

        if not torch.cuda.is_available():  # check first: creating TensorRT objects without a GPU can crash
            return ("no CUDA GPU visible: TensorRT needs an NVIDIA GPU with its driver and a CUDA build of torch; "
                    "connect one, then pip install 'zenbench[tensorrt]'")
        try:
            import tensorrt as trt
        except ImportError as error:  # only this check imports tensorrt before require() has passed
            detail = str(error).splitlines()[0] if str(error) else type(error).__name__
            return f"TensorRT is not installed or its libraries are missing ({detail}); {self.install_hint}"
        if int(trt.__version__.split(".")[0]) >= 11 and settings.precision in ("fp16", "int8"):
            return (f"TensorRT {trt.__version__} removed the fp16/int8 builder flags and calibrators; install "
                    "tensorrt>=10,<11 (or give a Q/DQ-quantised ONNX model)")
        if settings.precision not in ("fp32", "fp16", "int8"):
            return f"precision {settings.precision} is not supported (fp32, fp16, int8)"
        return None

    def build_engine(self, onnx_bytes: bytes, settings: BackendSettings,
                     calibration: Callable[[], Iterator[Any]] | None = None) -> bytes:
        """A serialised engine for this GPU and TensorRT version."""
        self.require(settings)
        import tensorrt as trt

        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse(onnx_bytes):
            errors = "\n".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise BackendUnavailable(f"TensorRT could not parse the ONNX model:\n{errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(settings.options.get("workspace_mb", 2048)) << 20)
        calibrator = None
        if settings.precision in ("fp16", "int8"):
            config.set_flag(trt.BuilderFlag.FP16)  # int8 engines fall back to fp16 where a layer cannot quantise
        if settings.precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)
            shape = tuple(network.get_input(0).shape)
            calibrator = _calibrator(trt, calibration or calibration_tensors(shape, int(settings.options.get(
                "calibration_batches", 4))))
            config.int8_calibrator = calibrator  # must stay alive until the build returns
        plan = builder.build_serialized_network(network, config)
        del calibrator
        if plan is None:
            raise BackendUnavailable("TensorRT failed to build the engine (see the TensorRT log above)")
        return bytes(plan)

    def prepare(self, workload: Workload, settings: BackendSettings) -> Runnable:
        self.require(settings)  # before the import: a missing TensorRT is one line, not a traceback
        import tensorrt as trt
        import torch

        engine_bytes = self.build_engine(workload.make_onnx().SerializeToString(), settings)
        engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(engine_bytes)
        if engine is None:
            raise BackendUnavailable("TensorRT could not load the engine it just built")
        context = engine.create_execution_context()
        device = torch.device(settings.options.get("device", "cuda"))
        buffers = {}
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            shape = tuple(context.get_tensor_shape(name))
            dtype = torch.float16 if engine.get_tensor_dtype(name) == trt.DataType.HALF else torch.float32
            buffers[name] = torch.randn(shape, device=device, dtype=dtype)
            context.set_tensor_address(name, buffers[name].data_ptr())
        stream = torch.cuda.Stream(device)

        def run() -> object:
            context.execute_async_v3(stream.cuda_stream)
            return None

        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

        def timed(fn: Callable[[], object]) -> float:
            start.record(stream)
            fn()
            end.record(stream)
            end.synchronize()
            return start.elapsed_time(end) / 1000.0

        info = {"backend": self.name, "precision": settings.precision, "batch": workload.input_shape[0],
                "gpu": torch.cuda.get_device_name(device), "tensorrt": trt.__version__,
                "engine_bytes": len(engine_bytes)}
        alive = [engine, context, buffers]  # the context reads these buffers: they live as long as the runnable

        def close() -> None:
            stream.synchronize()
            alive.clear()

        return Runnable(run, info, sync=lambda: stream.synchronize(), timer=timed, close=close)

    def versions(self) -> dict[str, str]:
        try:
            import tensorrt as trt
        except ImportError:
            return {}
        return {"tensorrt": trt.__version__}


def calibration_tensors(shape: tuple[int, ...], count: int,
                    images: Any = None) -> Callable[[], Iterator[Any]]:
    """The calibration set every int8 path shares (:func:`zenbench.backends.quantization.calibration_batches`:
    the user's images, else seeded standard-normal batches), as torch tensors for the calibrator."""
    import torch

    from zenbench.backends.quantization import QuantizationSettings, calibration_batches

    arrays = calibration_batches(shape, QuantizationSettings(calibration_batches=count), images)

    def batches() -> Iterator[Any]:
        for array in arrays:
            yield torch.from_numpy(array)

    return batches


def _calibrator(trt: Any, batches: Callable[[], Iterator[Any]]) -> Any:
    """An entropy calibrator reading torch tensors (CPU or GPU) of the network's input shape."""
    import torch

    class Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.source = iter(batches())
            self.current: torch.Tensor | None = None

        def get_batch_size(self) -> int:
            return int(self.current.shape[0]) if self.current is not None else 1

        def get_batch(self, names: list[str]) -> list[int] | None:
            try:
                batch = next(self.source)
            except StopIteration:
                return None
            self.current = batch.to("cuda", torch.float32).contiguous()  # TensorRT reads it after we return
            return [int(self.current.data_ptr())]

        def read_calibration_cache(self) -> bytes | None:
            return None

        def write_calibration_cache(self, cache: bytes) -> None:
            return None

    return Calibrator()


BACKENDS.add("tensorrt", TensorRTBackend())
