"""Export a network to a deployable artifact, prove it computes the same function, and time it.

``export(network, fmt)`` builds the deployable network (residual links on, SE as the structure
says, BN statistics calibrated on random batches, then folded into the convolutions), writes
the artifact with the format's own tool, runs it on its runtime against the torch model on the
same random inputs (a failed parity check raises), optionally times it on a device, and writes a
manifest next to it. Formats register in ``EXPORTERS``: one file each.

The artifact and its manifest are written into a staging folder and committed together
(``export.staging``): an export killed at any point leaves the folder's old artifact/manifest pair
or the new one, and a manifest never describes a file it did not write.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from zenbench._callable_module import make_callable
from zenbench.backends.quantization import QuantizationSettings
from zenbench.errors import ZenbenchError
from zenbench.export import staging
from zenbench.export.parity import Parity, compare
from zenbench.fileio import atomic_write_text
from zenbench.registry import Registry

OPSET = 17


@dataclass
class ExportContext:
    """What an exporter gets: the folded torch model, its input shape and where to write."""

    model: nn.Module
    input_shape: tuple[int, int, int, int]
    out_dir: Path
    name: str
    precision: str
    inputs: np.ndarray  # parity inputs, NCHW float32
    #: int8: how to quantise, and the user's calibration images (None: the synthetic set)
    quantization: QuantizationSettings = field(default_factory=lambda: QuantizationSettings(calibration_batches=32))
    calibration_images: np.ndarray | None = None
    calibration_source: str = "synthetic"

    def reference(self) -> np.ndarray:
        with torch.inference_mode():
            return self.model(torch.from_numpy(self.inputs)).numpy()


@dataclass
class Artifact:
    path: Path
    run: Callable[[np.ndarray], np.ndarray]  # NCHW batch -> outputs, on the artifact's runtime
    runtime: str
    extra: dict[str, Any] = field(default_factory=dict)
    #: a quantised artifact's fp32 graph (staging only), timed beside it for the speed-up
    reference_path: Path | None = None


Exporter = Callable[[ExportContext], Artifact]
EXPORTERS: Registry[Exporter] = Registry("export format")
PRECISIONS = {"onnx": ("fp32", "int8"), "ort": ("fp32",), "tflite": ("fp32",), "tensorrt": ("fp32", "fp16", "int8")}
#: per format, a check run before anything is built or written: raises ``BackendUnavailable`` (one line
#: naming the package to install or the hardware to connect) when the format's runtime is missing
REQUIREMENTS: dict[str, Callable[[str], None]] = {}


def deployable(spec: Any, num_classes: int, *, se: bool, resolution: int, seed: int = 0) -> nn.Module:
    """The network with calibrated BN statistics, BN folded into the convolutions, in eval mode."""
    from zenbench.space.network import build_model

    torch.manual_seed(seed)
    model = build_model(spec, num_classes, residual=True, se=se)
    model.train()
    with torch.no_grad():  # a few random batches give BN realistic statistics, so folding is exercised
        for _ in range(3):
            model(torch.randn(8, spec.in_channels, resolution, resolution))
    return fold_batch_norms(model.eval())


def fold_batch_norms(module: nn.Module) -> nn.Module:
    """Fold every Conv2d -> BatchNorm2d pair inside a Sequential into one convolution (eval mode)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for child in module.children():
        fold_batch_norms(child)
    if isinstance(module, nn.Sequential):
        items = list(module._modules.items())
        for (name, conv), (bn_name, bn) in zip(items, items[1:], strict=False):
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                module._modules[name] = fuse_conv_bn_eval(conv, bn)
                module._modules[bn_name] = nn.Identity()
    return module


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("torch", "onnx", "onnxruntime", "ai-edge-litert", "litert-torch", "tensorrt"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            pass
    return out


def export(network: Any, fmt: str, *, precision: str = "fp32", out_dir: Path = Path("exports"), resolution: int = 224,
           num_classes: int = 1000, se: bool = False, name: str = "model", samples: int = 8, seed: int = 0,
           measure_on: Any = None, budget_ms: float | None = None, predicted_ms: float | None = None,
           calibration_data: Path | None = None) -> dict[str, Any]:
    """Export ``network`` (a NetworkSpec) as ``fmt``; check parity; time on ``measure_on`` (a DeviceProfile).

    An int8 artifact is calibrated on ``calibration_data`` (an ``.npy`` of normalised NCHW images) or the
    synthetic set, and, when timed, its fp32 graph is timed beside it in the same run for the speed-up."""
    import zenbench.export.formats  # noqa: F401  (registers the formats)

    exporter = EXPORTERS.get(fmt)
    if precision not in PRECISIONS[fmt]:
        raise ZenbenchError(f"{fmt} export supports {', '.join(PRECISIONS[fmt])}, not {precision}")
    if fmt in REQUIREMENTS:
        REQUIREMENTS[fmt](precision)
    from zenbench.space.allocation import check_allocation

    # BN calibration runs batches of 8, parity ``samples`` images: refuse an oversize network before building it
    check_allocation(network, resolution, max(8, samples), num_classes=num_classes, residual=True, se=se)
    images = None
    if calibration_data is not None:
        if precision != "int8":
            raise ZenbenchError(f"--calibration-data calibrates an int8 export; this one is {precision} "
                                f"(pass --precision int8, or drop --calibration-data)")
        from zenbench.backends.quantization import load_calibration_images

        images = load_calibration_images(Path(calibration_data), network.in_channels, resolution)
    out_dir = Path(out_dir)
    staging.recover(out_dir)  # finish (or clear away) what a killed export left here
    folder = staging.stage(out_dir)
    try:
        artifact, parity, manifest = _export_into(folder, network, fmt, exporter, precision=precision,
                                                  resolution=resolution, num_classes=num_classes, se=se, name=name,
                                                  samples=samples, seed=seed, images=images,
                                                  calibration_source=str(calibration_data or "synthetic"))
        if measure_on is not None:
            manifest["latency"] = measure_artifact(artifact, fmt, measure_on, budget_ms, predicted_ms)
        atomic_write_text(staging.manifest_path(artifact.path), json.dumps(manifest, indent=2))
    except BaseException:
        staging.discard(folder)  # the folder keeps its old pair; nothing of this export is shown
        raise
    # a failed parity check is committed too: its manifest records the failure, then the export raises
    staging.commit(folder, out_dir)
    parity.check(str(out_dir / artifact.path.name))
    return manifest


def _export_into(folder: Path, network: Any, fmt: str, exporter: Exporter, *, precision: str, resolution: int,
                 num_classes: int, se: bool, name: str, samples: int, seed: int, images: np.ndarray | None = None,
                 calibration_source: str = "synthetic") -> tuple[Artifact, Parity, dict[str, Any]]:
    """Write the artifact into ``folder``, check its parity; the manifest describing it (not yet written)."""
    model = deployable(network, num_classes, se=se, resolution=resolution, seed=seed)
    shape = (1, network.in_channels, resolution, resolution)
    inputs = np.random.default_rng(seed).standard_normal((samples, *shape[1:]), dtype=np.float32)
    context = ExportContext(model, shape, folder, name, precision, inputs, calibration_images=images,
                            calibration_source=calibration_source)
    started = time.perf_counter()
    artifact = exporter(context)
    seconds = time.perf_counter() - started
    parity: Parity = compare(artifact.run(inputs), context.reference(), precision)
    manifest: dict[str, Any] = {
        "structure": str(network), "format": fmt, "precision": precision, "file": artifact.path.name,
        "sha256": sha256(artifact.path), "bytes": artifact.path.stat().st_size, "input_shape": list(shape),
        "input_layout": artifact.extra.get("input_layout", "NCHW"), "num_classes": num_classes, "se": se,
        "resolution": resolution, "runtime": artifact.runtime, "export_seconds": seconds, "versions": versions(),
        "parity": parity.as_dict(), **{k: v for k, v in artifact.extra.items() if k != "input_layout"},
    }
    return artifact, parity, manifest


def measure_artifact(artifact: Artifact, fmt: str, profile: Any, budget_ms: float | None,
                     predicted_ms: float | None) -> dict[str, Any]:
    """Time the artifact itself on the device's runtime; compare with the budget and the prediction. A quantised
    artifact's fp32 graph is timed in the same passes, alternating, and the speed-up is their ratio."""
    from zenbench.export.timing import time_artifacts

    paths = [artifact.path] + ([artifact.reference_path] if artifact.reference_path is not None else [])
    timed = time_artifacts(paths, fmt, profile)
    result = timed[0].as_dict()
    if len(timed) > 1:
        result["fp32_ms"] = timed[1].stats
        result["speedup_over_fp32"] = timed[1].stats["median"] / timed[0].stats["median"]
    if budget_ms is not None:
        result["budget_ms"] = budget_ms
        result["within_budget"] = timed[0].stats["median"] <= budget_ms
    if predicted_ms is not None:
        result["predicted_ms"] = predicted_ms
        result["prediction_error"] = predicted_ms / timed[0].stats["median"] - 1
    return result


def list_export_formats(pattern: str = "*") -> list[str]:
    """Registered export formats whose name matches ``pattern`` (a glob)."""
    import zenbench.export.formats  # noqa: F401  (registers the formats)

    return EXPORTERS.names(pattern)


make_callable(__name__, "zenbench.api:export")
