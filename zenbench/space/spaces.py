"""The search spaces' families and the unit configurations they can produce at a resolution.

``xxbl`` (ResNet-like: K1KXK1 and KXKX blocks) and ``idw`` (MobileNet-like inverted residual
blocks) as in the Zen-NAS code. The stride layout of a network is fixed by its initial structure
(mutation never changes strides), so the resolutions a unit can see follow from the stem's stride
and four stride-2 stages: at 224, stride-2 units read 112/56/28/14 and stride-1 units 56/28/14/7
(and 112 for blocks placed before the first reduction); at 32 (CIFAR), the stem keeps 32.
"""

from __future__ import annotations

from dataclasses import dataclass

from zenbench.errors import UnknownNameError
from zenbench.space.blocks import BLOCKS

FAMILIES = {
    "xxbl": ("SuperResK1K3K1", "SuperResK1K5K1", "SuperResK1K7K1", "SuperResK3K3", "SuperResK5K5", "SuperResK7K7"),
    "idw": tuple(f"SuperResIDWE{e}K{k}" for e in (1, 2, 4, 6) for k in (3, 5, 7)),
}
STEM = "SuperConvK3BNRELU"
HEAD = "SuperConvK1BNRELU"
MAX_CHANNELS = {"xxbl": 2048, "idw": 2048}


@dataclass(frozen=True)
class UnitPlacement:
    """Where a unit of a space can sit: the resolution it reads and its stride."""

    resolution: int
    stride: int


def space_block_types(space: str) -> tuple[str, ...]:
    if space not in FAMILIES:
        raise UnknownNameError("search space", space, FAMILIES)
    return FAMILIES[space]


def placements(resolution: int) -> list[UnitPlacement]:
    """(resolution, stride) pairs a body unit can take in a network for this input resolution."""
    stem_stride = 2 if resolution >= 64 else 1
    levels = [resolution // stem_stride]
    while len(levels) < 5 and levels[-1] >= 8:
        levels.append((levels[-1] + 1) // 2)
    out = [UnitPlacement(r, 2) for r in levels[:-1]]
    out += [UnitPlacement(r, 1) for r in levels]
    return out


def stem_stride(resolution: int) -> int:
    return 2 if resolution >= 64 else 1


def final_resolution(resolution: int) -> int:
    return placements(resolution)[-1].resolution


def is_block_type(name: str) -> bool:
    return name in BLOCKS
