"""zenbench: hardware-aware latency benchmarking and zero-shot NAS (Zen-NAS) for CNNs.

The pipeline in Python::

    import zenbench
    model = zenbench.create_model("zennet_imagenet1k_latency01ms_res224")    # or a structure string
    zenbench.score("zennet_imagenet1k_latency01ms_res224", "zen")             # Zen-Score, data-free
    zenbench.predict_latency("zennet_imagenet1k_latency01ms_res224", device="cpu").value_ms
    run = zenbench.search(latency_ms=9, device="cpu", iterations=200)       # writes runs/search-9ms-s0/
    zenbench.export(run["folder"], "onnx")                                  # artifact + parity + manifest
    zenbench.list_models("*cifar*"), zenbench.list_proxies(), zenbench.list_devices()

Names are imported on first use, so ``import zenbench`` (and the CLI's ``--help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "ZenbenchError": "zenbench.errors", "StructureError": "zenbench.errors", "LimitError": "zenbench.errors",
    "create_model": "zenbench.models", "resolve_network": "zenbench.models",
    "parse_structure": "zenbench.space.grammar", "format_structure": "zenbench.space.grammar",
    "BlockSpec": "zenbench.space.blocks", "list_blocks": "zenbench.space.blocks",
    "NetworkSpec": "zenbench.space.spec", "Counts": "zenbench.space.spec",
    "ZenNet": "zenbench.space.network", "build_model": "zenbench.space.network",
    "Limits": "zenbench.space.limits", "check_allocation": "zenbench.space.allocation",
    "get_zoo_model": "zenbench.zoo", "list_models": "zenbench.zoo",
    "score": "zenbench.proxies", "list_proxies": "zenbench.proxies",
    "list_devices": "zenbench.devices", "load_device": "zenbench.devices",
    "list_backends": "zenbench.backends.base", "list_export_formats": "zenbench.export",
    "LatencyTable": "zenbench.latency", "Predictor": "zenbench.latency", "Calibration": "zenbench.latency",
    "predict_latency": "zenbench.api",
}
#: subpackages that are also the pipeline call of their name (``zenbench.search(...)``, ``zenbench.export(...)``)
_CALLABLE_PACKAGES = ("search", "export")

__all__ = sorted([*_EXPORTS, *_CALLABLE_PACKAGES, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _CALLABLE_PACKAGES:
        return importlib.import_module(f"zenbench.{name}")
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'zenbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
