"""ONNX Runtime: the default backend, on the CPU (or any execution provider a profile names).

In int8 a workload's fp32 graph is quantised statically (:mod:`zenbench.backends.quantization`, the
settings in the profile's ``options.quantization``) before the session is made, and a unit's graph
takes and returns the integer tensors it has inside a network.
"""

from __future__ import annotations

import numpy as np

from zenbench.backends.base import BACKENDS, Backend, BackendSettings, Runnable, Workload, random_input

LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED",
          "all": "ORT_ENABLE_ALL"}


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    install_hint = "pip install onnxruntime"

    def available(self, settings: BackendSettings) -> str | None:
        try:
            import onnxruntime as ort
        except ImportError:
            return f"onnxruntime is not installed ({self.install_hint})"
        if settings.precision not in ("fp32", "int8"):
            return f"precision {settings.precision} is not supported on the ONNX Runtime CPU backend (fp32, int8)"
        provider = settings.options.get("provider", "CPUExecutionProvider")
        if provider not in ort.get_available_providers():
            return f"execution provider {provider} is not in this onnxruntime build ({ort.get_available_providers()})"
        return None

    def session(self, model_bytes: bytes, settings: BackendSettings):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if settings.threads:
            options.intra_op_num_threads = settings.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        level = settings.options.get("graph_optimization", "all")
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, LEVELS[level])
        options.log_severity_level = 3
        provider = settings.options.get("provider", "CPUExecutionProvider")
        return ort.InferenceSession(model_bytes, options, providers=[provider])

    def prepare(self, workload: Workload, settings: BackendSettings) -> Runnable:
        self.require(settings)
        model = workload.make_onnx()
        if settings.precision == "int8":
            from zenbench.backends.quantization import QuantizationSettings, integer_edges, quantize

            model = integer_edges(quantize(model, workload.input_shape, QuantizationSettings.from_options(
                settings.options)), quantized_input=workload.quantized_input,
                quantized_output=workload.quantized_output)
        session = self.session(model.SerializeToString(), settings)
        feeds = {session.get_inputs()[0].name: session_input(session.get_inputs()[0].type, workload.input_shape)}
        output_names = [o.name for o in session.get_outputs()]
        context = {"backend": self.name, "precision": settings.precision, "batch": workload.input_shape[0],
                   "threads": settings.threads, "provider": session.get_providers()[0],
                   "graph_optimization": settings.options.get("graph_optimization", "all")}
        return Runnable(lambda: session.run(output_names, feeds), context)

    def versions(self) -> dict[str, str]:
        import onnxruntime as ort

        return {"onnxruntime": ort.__version__}


#: ONNX Runtime's names of the input element types a workload can have
INPUT_TYPES = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8, "tensor(int8)": np.int8}


def session_input(onnx_type: str, shape: tuple[int, ...]) -> np.ndarray:
    """A fixed random input for a session input of ``onnx_type`` (``tensor(float)``, ``tensor(uint8)``, ...)."""
    return random_input(INPUT_TYPES[onnx_type], shape)


BACKENDS.add("onnxruntime", OnnxRuntimeBackend())
