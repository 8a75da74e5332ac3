"""TFLite through litert-torch, run on the LiteRT interpreter (XNNPACK) for the parity check."""

from __future__ import annotations

import numpy as np

from zenbench.backends.tflite_convert import require_tflite, to_tflite
from zenbench.export import EXPORTERS, REQUIREMENTS, Artifact, ExportContext
from zenbench.fileio import atomic_write_bytes
from zenbench.quiet import captured_stderr, quiet_libraries


def export_tflite(ctx: ExportContext) -> Artifact:
    require_tflite()  # before any LiteRT import: without the extra, one line naming it
    quiet_libraries()
    from ai_edge_litert.interpreter import Interpreter

    path = ctx.out_dir / f"{ctx.name}.tflite"
    atomic_write_bytes(path, to_tflite(ctx.model, ctx.input_shape, channels_last_io=True))
    with captured_stderr():  # the runtime's start-up and delegate notices
        interpreter = Interpreter(model_path=str(path), num_threads=1)
        interpreter.allocate_tensors()
    detail, output = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

    def run(x: np.ndarray) -> np.ndarray:  # the artifact takes NHWC input
        outs = []
        for i in range(len(x)):
            interpreter.set_tensor(detail["index"], np.ascontiguousarray(x[i:i + 1].transpose(0, 2, 3, 1)))
            interpreter.invoke()
            outs.append(interpreter.get_tensor(output["index"]).copy())
        return np.concatenate(outs)

    return Artifact(path, run, "LiteRT interpreter (XNNPACK)", {"input_layout": "NHWC"})


EXPORTERS.add("tflite", export_tflite)
REQUIREMENTS["tflite"] = lambda precision: require_tflite()
