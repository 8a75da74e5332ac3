"""Exports compute the same function as the torch model, and say so in their manifest."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from zenbench.export import deployable, export
from zenbench.export.parity import THRESHOLDS, ParityError, compare
from zenbench.space.spec import NetworkSpec
from zenbench.zoo import get_zoo_model, list_models

K1 = "SuperConvK3BNRELU(3,16,2,1)SuperResK1K5K1(16,32,2,16,2)SuperConvK1BNRELU(32,128,1,1)"
IDW = "SuperConvK3BNRELU(3,16,2,1)SuperResIDWE4K5(16,24,2,16,2)SuperConvK1BNRELU(24,128,1,1)"


def meets_thresholds(manifest: dict) -> None:
    """The recorded parity figures themselves are within the precision's tolerance (not only its verdict)."""
    parity = manifest["parity"]
    cosine, relative, top1 = THRESHOLDS[manifest["precision"]]
    assert parity["cosine"] >= cosine and parity["relative_error"] <= relative and parity["top1_agreement"] >= top1
    assert parity["samples"] >= 1 and parity["passed"]


def rerun_from_disk(folder, manifest: dict, spec: NetworkSpec, samples: int = 8, seed: int = 0) -> None:
    """Run the file the manifest names, as written, against a fresh torch model: the same figures as recorded."""
    import hashlib

    path = folder / manifest["file"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == manifest["sha256"]
    _, channels, res, _ = manifest["input_shape"]
    inputs = np.random.default_rng(seed).standard_normal((samples, channels, res, res), dtype=np.float32)
    model = deployable(spec, manifest["num_classes"], se=manifest["se"], resolution=res, seed=seed)
    with torch.inference_mode():
        reference = model(torch.from_numpy(inputs)).numpy()
    if manifest["format"] == "tflite":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
        detail, output = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        outs = []
        for x in inputs:
            interpreter.set_tensor(detail["index"], np.ascontiguousarray(x[None].transpose(0, 2, 3, 1)))
            interpreter.invoke()
            outs.append(interpreter.get_tensor(output["index"]).copy())
    else:
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        outs = [session.run(None, {name: x[None]})[0] for x in inputs]
    again = compare(np.concatenate(outs), reference, manifest["precision"])
    assert again.passed
    assert again.cosine == pytest.approx(manifest["parity"]["cosine"], abs=1e-9)
    assert again.max_abs_error == pytest.approx(manifest["parity"]["max_abs_error"], rel=1e-3, abs=1e-7)


def test_folding_batch_norm_keeps_the_function() -> None:
    from zenbench.space.network import build_model

    spec = NetworkSpec.parse(K1)
    torch.manual_seed(0)
    folded = deployable(spec, 10, se=False, resolution=32)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    torch.manual_seed(0)
    reference = build_model(spec, 10).train()
    with torch.no_grad():
        for _ in range(3):
            reference(torch.randn(8, 3, 32, 32))
    reference.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(folded(x), reference(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("structure", [K1, IDW])
def test_onnx_and_ort_exports_pass_parity(tmp_path, structure: str) -> None:
    spec = NetworkSpec.parse(structure)
    for fmt in ("onnx", "ort"):
        manifest = export(spec, fmt, out_dir=tmp_path, resolution=32, num_classes=10, name=fmt)
        meets_thresholds(manifest)
        assert manifest["parity"]["top1_agreement"] == 1.0
        rerun_from_disk(tmp_path, manifest, spec)
        saved = json.loads((tmp_path / (manifest["file"] + ".manifest.json")).read_text())
        assert saved["sha256"] == manifest["sha256"] and saved["structure"] == structure


def test_int8_onnx_reports_its_drift(tmp_path) -> None:
    manifest = export(NetworkSpec.parse(K1), "onnx", precision="int8", out_dir=tmp_path, resolution=32, num_classes=10)
    assert manifest["file"].endswith(".int8.onnx")
    assert 0 < manifest["parity"]["relative_error"] < 0.25 and manifest["parity"]["cosine"] > 0.98
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "model.int8.onnx", "model.int8.onnx.manifest.json"]  # the fp32 intermediate is not left behind
    rerun_from_disk(tmp_path, manifest, NetworkSpec.parse(K1))


@pytest.mark.parametrize("structure", [K1, IDW])
def test_tflite_export_passes_parity(tmp_path, structure: str) -> None:
    manifest = export(NetworkSpec.parse(structure), "tflite", out_dir=tmp_path, resolution=32, num_classes=10)
    meets_thresholds(manifest)
    assert manifest["input_layout"] == "NHWC"
    rerun_from_disk(tmp_path, manifest, NetworkSpec.parse(structure))


def test_parity_failure_is_loud() -> None:
    reference = np.random.default_rng(0).standard_normal((4, 10)).astype(np.float32)
    with pytest.raises(ParityError, match="cosine"):
        compare(-reference, reference, "fp32").check("bad.onnx")


def test_a_broken_artifact_fails_its_export_and_its_manifest_says_so(monkeypatch, tmp_path) -> None:
    """An artifact computing another function (here: its runtime's outputs negated) raises, and the manifest
    committed beside it records the failing figures, not a pass."""
    import zenbench.export.onnx as onnx_export

    real = onnx_export.ort_runner
    def negated(path):
        run = real(path)
        return lambda x: -run(x)

    monkeypatch.setattr(onnx_export, "ort_runner", negated)
    with pytest.raises(ParityError, match="cosine"):
        export(NetworkSpec.parse(K1), "onnx", out_dir=tmp_path, resolution=32, num_classes=10)
    saved = json.loads((tmp_path / "model.onnx.manifest.json").read_text())
    assert not saved["parity"]["passed"] and saved["parity"]["cosine"] < THRESHOLDS["fp32"][0]


@pytest.mark.slow
@pytest.mark.parametrize("name", list_models())
def test_every_zoo_model_exports_to_onnx_with_parity(tmp_path, name: str) -> None:
    m = get_zoo_model(name)
    manifest = export(m.spec, "onnx", out_dir=tmp_path, resolution=m.resolution, num_classes=m.num_classes, se=m.use_se,
                      samples=2)
    meets_thresholds(manifest)


@pytest.mark.tensorrt
def test_tensorrt_fp16_engine_passes_parity(tmp_path) -> None:
    manifest = export(NetworkSpec.parse(K1), "tensorrt", precision="fp16", out_dir=tmp_path, resolution=32,
                      num_classes=10)
    meets_thresholds(manifest)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "model.fp16.engine", "model.fp16.engine.manifest.json"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["zennet_imagenet1k_flops400M_SE_res224", "zennet_cifar10_model_size1M_res32"])
def test_an_idw_and_a_k1kxk1_zoo_model_export_to_tflite(tmp_path, name: str) -> None:
    m = get_zoo_model(name)
    manifest = export(m.spec, "tflite", out_dir=tmp_path, resolution=m.resolution, num_classes=m.num_classes,
                      se=m.use_se, samples=2)
    meets_thresholds(manifest)
