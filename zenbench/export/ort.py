"""ORT format (.ort) for ONNX Runtime Mobile, via ``onnxruntime.tools.convert_onnx_models_to_ort``.

``Fixed`` optimisations bake in the graph optimiser's result for this build; ``Runtime`` keeps
them to be applied on the device (the mobile-optimised variant, ``--precision fp32`` either way).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from zenbench.export import EXPORTERS, Artifact, ExportContext
from zenbench.export.onnx import write_onnx


def export_ort(ctx: ExportContext, style: str = "Fixed") -> Artifact:
    import numpy as np
    import onnxruntime as ort
    from onnxruntime.tools.convert_onnx_models_to_ort import OptimizationStyle, convert_onnx_models_to_ort

    with tempfile.TemporaryDirectory(dir=ctx.out_dir) as tmp:  # same file system: the move below is a rename
        source = write_onnx(ctx, Path(tmp) / f"{ctx.name}.onnx")
        convert_onnx_models_to_ort(source, output_dir=Path(tmp), optimization_styles=[OptimizationStyle[style]])
        produced = next(Path(tmp).glob("*.ort"))
        path = ctx.out_dir / f"{ctx.name}.ort"
        produced.replace(path)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(x: np.ndarray) -> np.ndarray:
        return np.concatenate([session.run(None, {name: x[i:i + 1]})[0] for i in range(len(x))])

    return Artifact(path, run, "onnxruntime (ORT format)", {"optimization_style": style})


EXPORTERS.add("ort", export_ort)
