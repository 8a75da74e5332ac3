"""Random networks of a space, spread over the whole size (and so latency) range it produces.

Used to validate latency predictions: sampling only small networks would hide the errors that
matter for a search, whose winners sit at the budget, often among the largest candidates. A
network follows the space's stride layout (stem, four stride-2 stages, an optional stride-1 block
after each, a 1x1 head); a log-uniform ``scale`` sets its widths, so the sample covers tiny to
large networks evenly in log-latency.
"""

from __future__ import annotations

import random

from zenbench.space.blocks import BLOCKS, BlockSpec
from zenbench.space.spaces import FAMILIES, HEAD, STEM, stem_stride
from zenbench.space.spec import NetworkSpec

_STAGE_WIDTHS = (48, 96, 192, 384, 768)


def _round8(x: float) -> int:
    return max(8, 8 * round(x / 8))


def random_network(space: str, resolution: int, rng: random.Random, *, max_layers: int = 30,
                   max_params: float = 100e6, max_macs: float = 12e9) -> NetworkSpec:
    """One random network of ``space`` for inputs of ``resolution``, within the size of the ZenNet zoo."""
    while True:
        spec = _draw(space, resolution, rng, max_layers)
        counts = spec.counts(resolution)
        if counts.params <= max_params and counts.macs <= max_macs:
            return spec


def _draw(space: str, resolution: int, rng: random.Random, max_layers: int) -> NetworkSpec:
    types = FAMILIES[space]
    scale = 2 ** rng.uniform(-2.5, 1.2)
    blocks: list[BlockSpec] = []
    width = _round8(rng.uniform(16, 48) * min(scale, 1.5))
    blocks.append(BLOCKS.get(STEM).make(3, width, stem_stride(resolution), 1))
    layers = 1
    for stage, base in enumerate(_STAGE_WIDTHS):
        stride = 2 if stage < 4 else 1
        extra = rng.random() < 0.5
        for position in range(2 if extra else 1):
            if layers >= max_layers - 1:
                break
            block_type = BLOCKS.get(rng.choice(types))
            out = _round8(base * scale * rng.uniform(0.6, 1.6))
            mid = _round8(out * rng.uniform(0.15, 0.6)) if block_type.family == "xxbl" else _round8(out * rng.uniform(0.3, 1.2))
            sub = min(rng.randint(1, 4), max_layers - 1 - layers)
            blocks.append(block_type.make(width, out, stride if position == 0 else 1, mid, sub))
            width = out
            layers += sub
    head = _round8(rng.uniform(512, 2560) * min(1.0, scale))
    blocks.append(BLOCKS.get(HEAD).make(width, head, 1, 1))
    return NetworkSpec(tuple(blocks))
