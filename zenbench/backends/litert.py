"""The LiteRT (TFLite) interpreter on this host, XNNPACK on, threads from the device profile.

fp32 runs the workload's float flatbuffer; int8 runs its full-integer one
(:mod:`zenbench.backends.tflite_int8`), which the interpreter's default XNNPACK delegate runs with its
signed-int8 (QS8) kernels. An int8 unit's graph takes and returns the int8 tensors it has inside a
network (the workload's ``quantized_input`` / ``quantized_output``), so it is timed on an int8 input.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from zenbench.backends.base import BACKENDS, Backend, BackendSettings, Runnable, Workload, random_input
from zenbench.errors import BackendUnavailable
from zenbench.quiet import captured_stderr, quiet_libraries

#: precisions the LiteRT backend runs
PRECISIONS = ("fp32", "int8")


class LiteRTBackend(Backend):
    name = "litert"
    install_hint = "pip install 'zenbench[tflite]' (ai-edge-litert and litert-torch)"

    def available(self, settings: BackendSettings) -> str | None:
        from zenbench.backends.tflite_convert import converter_missing, interpreter_missing

        missing = interpreter_missing()
        if missing:
            return missing
        if settings.precision not in PRECISIONS:
            return f"precision {settings.precision} is not supported by the LiteRT backend ({', '.join(PRECISIONS)})"
        return converter_missing()

    def interpreter(self, model: bytes | str | Path, settings: BackendSettings):
        from zenbench.backends.tflite_convert import require_tflite

        require_tflite(converter=False)  # before the import: a missing extra is one line, not a traceback
        quiet_libraries()
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        kwargs = {"num_threads": settings.threads or 1}
        if not settings.options.get("xnnpack", True):
            kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        with captured_stderr():  # the runtime's start-up and delegate notices
            if isinstance(model, bytes):
                interpreter = Interpreter(model_content=model, **kwargs)
            else:
                interpreter = Interpreter(model_path=str(model), **kwargs)
            interpreter.allocate_tensors()
        return interpreter

    def prepare(self, workload: Workload, settings: BackendSettings) -> Runnable:
        self.require(settings)
        if settings.precision == "int8":
            if workload.make_tflite_int8 is None:
                raise BackendUnavailable(f"workload {workload.name!r} has no int8 TFLite form (networks with SE are "
                                         "not written in int8); time it in fp32 or without SE")
            data = workload.make_tflite_int8(workload.quantized_input, workload.quantized_output)
        elif workload.make_tflite is not None:
            data = workload.make_tflite()
        elif workload.make_torch is not None:
            from zenbench.backends.tflite_convert import to_tflite

            data = to_tflite(workload.make_torch(), workload.input_shape)
        else:
            raise BackendUnavailable(f"workload {workload.name!r} has neither a TFLite nor a torch form")
        with tempfile.TemporaryDirectory() as tmp:  # Interpreter keeps its own copy of the model
            path = Path(tmp) / "model.tflite"
            path.write_bytes(data)
            interpreter = self.interpreter(path, settings)
        return self.runnable(interpreter, settings)

    def runnable(self, interpreter, settings: BackendSettings) -> Runnable:
        """Time ``invoke`` on a fixed random input. The input is set once: invoke() leaves it in place, and
        a deployed network receives its input where the camera or the caller wrote it. Setting it in every
        run would time a copy of each unit's input (3 MB for a 112x112x64 activation) that the same unit
        inside a network never pays."""
        detail = interpreter.get_input_details()[0]
        interpreter.set_tensor(detail["index"], random_input(detail["dtype"], tuple(detail["shape"])))

        def run() -> object:
            interpreter.invoke()
            return None

        context = {"backend": self.name, "precision": settings.precision, "batch": int(detail["shape"][0]),
                   "threads": settings.threads or 1, "xnnpack": bool(settings.options.get("xnnpack", True)),
                   "input_dtype": np.dtype(detail["dtype"]).name}
        return Runnable(run, context)

    def versions(self) -> dict[str, str]:
        from importlib.metadata import PackageNotFoundError, version

        out = {}
        for package in ("ai-edge-litert", "litert-torch"):
            try:
                out[package] = version(package)
            except PackageNotFoundError:
                pass
        return out


BACKENDS.add("litert", LiteRTBackend())
