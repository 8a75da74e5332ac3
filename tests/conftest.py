"""Shared fixtures; hardware markers skip with the reason when the hardware is absent."""

from __future__ import annotations

import shutil

import pytest
import torch


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reasons = {}
    if not torch.cuda.is_available():
        reasons["gpu"] = "needs a CUDA GPU (none visible to torch)"
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        reasons["tensorrt"] = "needs TensorRT: pip install 'zenbench[tensorrt]' on a CUDA machine"
    if shutil.which("adb") is None:
        reasons["android"] = "needs adb and an Android phone connected"
    for item in items:
        for marker, reason in reasons.items():
            if marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))
