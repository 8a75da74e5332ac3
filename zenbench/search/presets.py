"""The initial structures and budgets of the Zen-NAS paper's search scripts (``scripts/*.sh``).

The official ImageNet latency scripts start from a structure whose last two blocks disagree on
channels (``…SuperResK3K3(256,512,2,256,1)SuperConvK1BNRELU(256,512,1,1)``); the official search
never validates it and its first mutation re-chains the channels. zenbench fixes the head's
in_channels to 512 up front. Latency budgets of the paper are V100 fp16 batch-64 figures; on
another device pass ``--latency-ms`` in that device's terms and keep the preset for its init and
``max_layers``.
"""

from __future__ import annotations

from dataclasses import dataclass

from zenbench.errors import UnknownNameError

LATENCY_INIT = ("SuperConvK3BNRELU(3,32,2,1)SuperResK3K3(32,64,2,32,1)SuperResK3K3(64,128,2,64,1)"
                "SuperResK3K3(128,256,2,128,1)SuperResK3K3(256,512,2,256,1)SuperConvK1BNRELU(512,512,1,1)")
FLOPS_INIT = ("SuperConvK3BNRELU(3,8,2,1)SuperResIDWE6K3(8,32,2,8,1)SuperResIDWE6K3(32,48,2,32,1)"
              "SuperResIDWE6K3(48,96,2,48,1)SuperResIDWE6K3(96,128,2,96,1)SuperConvK1BNRELU(128,2048,1,1)")
CIFAR_INIT = ("SuperConvK3BNRELU(3,8,1,1)SuperResK3K3(8,16,1,8,1)SuperResK3K3(16,32,2,16,1)"
              "SuperResK3K3(32,64,2,32,1)SuperResK3K3(64,64,2,32,1)SuperConvK1BNRELU(64,128,1,1)")


@dataclass(frozen=True)
class Preset:
    name: str
    space: str
    init: str
    resolution: int
    num_classes: int
    max_layers: int
    latency_ms: float | None = None  # the paper's budget (V100 fp16, batch 64, per image)
    macs: float | None = None
    params: float | None = None
    description: str = ""


PRESETS: dict[str, Preset] = {}


def _add(preset: Preset) -> None:
    PRESETS[preset.name] = preset


_add(Preset("imagenet-latency", "xxbl", LATENCY_INIT, 224, 1000, 30,
            description="the latency scripts' init and space; budget from --latency-ms (max_layers 30)"))
for _ms, _layers in ((0.1, 10), (0.2, 13), (0.3, 16), (0.5, 20), (0.8, 25), (1.2, 30)):
    _add(Preset(f"imagenet-latency{_ms:g}ms", "xxbl", LATENCY_INIT, 224, 1000, _layers, latency_ms=_ms,
                description=f"Zen_NAS_ImageNet_latency{_ms:g}ms.sh: V100 budget {_ms:g} ms/image, max_layers {_layers}"))
for _m, _layers in ((400, 14), (600, 14), (800, 16)):
    _add(Preset(f"imagenet-flops{_m}M", "idw", FLOPS_INIT, 224, 1000, _layers, macs=_m * 1e6,
                description=f"Zen_NAS_ImageNet_flops{_m}M.sh: {_m}M MACs, max_layers {_layers}"))
_add(Preset("cifar-params1M", "xxbl", CIFAR_INIT, 32, 100, 18, params=1e6,
            description="Zen_NAS_cifar_params1M.sh: 1M params, max_layers 18"))
_add(Preset("cifar-params2M", "xxbl", CIFAR_INIT, 32, 100, 20, params=2e6,
            description="Zen_NAS_cifar_params2M.sh: 2M params, max_layers 20"))


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise UnknownNameError("search preset", name, PRESETS)
    return PRESETS[name]


def choose_preset(preset: str | None, *, latency_ms: float | None, macs: float | None, params: float | None) -> Preset:
    """The paper preset a search starts from: ``preset`` by name, else 'cifar-params1M' when only a
    parameter budget is given, else 'imagenet-latency'."""
    if preset is not None:
        return get_preset(preset)
    only_params = params is not None and latency_ms is None and macs is None
    return get_preset("cifar-params1M" if only_params else "imagenet-latency")
