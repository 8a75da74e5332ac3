"""Exports compute the same function as the torch model, and say so in their manifest."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from zenbench.export import deployable, export
from zenbench.export.parity import ParityError, compare
from zenbench.space.spec import NetworkSpec
from zenbench.zoo import get_zoo_model, list_models

K1 = "SuperConvK3BNRELU(3,16,2,1)SuperResK1K5K1(16,32,2,16,2)SuperConvK1BNRELU(32,128,1,1)"
IDW = "SuperConvK3BNRELU(3,16,2,1)SuperResIDWE4K5(16,24,2,16,2)SuperConvK1BNRELU(24,128,1,1)"


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
        assert manifest["parity"]["passed"] and manifest["parity"]["top1_agreement"] == 1.0
        saved = json.loads((tmp_path / (manifest["file"] + ".manifest.json")).read_text())
        assert saved["sha256"] == manifest["sha256"] and saved["structure"] == structure


def test_int8_onnx_reports_its_drift(tmp_path) -> None:
    manifest = export(NetworkSpec.parse(K1), "onnx", precision="int8", out_dir=tmp_path, resolution=32, num_classes=10)
    assert manifest["file"].endswith(".int8.onnx")
    assert 0 < manifest["parity"]["relative_error"] < 0.25 and manifest["parity"]["cosine"] > 0.98


@pytest.mark.parametrize("structure", [K1, IDW])
def test_tflite_export_passes_parity(tmp_path, structure: str) -> None:
    manifest = export(NetworkSpec.parse(structure), "tflite", out_dir=tmp_path, resolution=32, num_classes=10)
    assert manifest["parity"]["passed"] and manifest["input_layout"] == "NHWC"


def test_parity_failure_is_loud() -> None:
    reference = np.random.default_rng(0).standard_normal((4, 10)).astype(np.float32)
    with pytest.raises(ParityError, match="cosine"):
        compare(-reference, reference, "fp32").check("bad.onnx")


@pytest.mark.slow
@pytest.mark.parametrize("name", list_models())
def test_every_zoo_model_exports_to_onnx_with_parity(tmp_path, name: str) -> None:
    m = get_zoo_model(name)
    manifest = export(m.spec, "onnx", out_dir=tmp_path, resolution=m.resolution, num_classes=m.num_classes, se=m.use_se,
                      samples=2)
    assert manifest["parity"]["passed"]


@pytest.mark.tensorrt
def test_tensorrt_fp16_engine_passes_parity(tmp_path) -> None:
    manifest = export(NetworkSpec.parse(K1), "tensorrt", precision="fp16", out_dir=tmp_path, resolution=32,
                      num_classes=10)
    assert manifest["parity"]["passed"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["zennet_imagenet1k_flops400M_SE_res224", "zennet_cifar10_model_size1M_res32"])
def test_an_idw_and_a_k1kxk1_zoo_model_export_to_tflite(tmp_path, name: str) -> None:
    m = get_zoo_model(name)
    manifest = export(m.spec, "tflite", out_dir=tmp_path, resolution=m.resolution, num_classes=m.num_classes,
                      se=m.use_se, samples=2)
    assert manifest["parity"]["passed"]
