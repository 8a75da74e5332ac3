"""Mutation operators of the Zen-NAS search spaces (``SearchSpace/search_space_XXBL.py``, ``..._IDW_fixfc.py``).

A mutation replaces one block with a random candidate built from it:

* widths: the current width × {2.5, 2, 1.5, 1.25, 1, 1/1.25, 1/1.5, 1/2, 1/2.5}, clamped to
  [8, 2048] (XXBL) or >= 8 (IDW), rounded to a multiple of 8 (``smart_round``, Python's round);
* sub-layers: n + {0, 1, 2, -1, -2}, at least 1;
* block type: any type of the space's families. The official code builds its candidate lists
  cumulatively by mistake, which weights the types 3:2:1 within each XXBL family (K3 > K5 > K7)
  and 12:11:…:1 over the IDW types; zenbench keeps those weights, so searches match the paper's;
* the stem (``SuperConvK3BNRELU``) changes width only; the 1x1 head changes width in XXBL and is
  fixed in IDW ("fixfc");
* in-channels and strides never change: after a mutation every block's in_channels is re-chained.

Blocks with 6 or more sub-layers are then split in two. (The official ``split(6)`` always yields
3 + 3 sub-layers, silently dropping one from a 7-sub-layer block; zenbench splits ⌊n/2⌋ + ⌈n/2⌉.)
"""

from __future__ import annotations

import random
from dataclasses import replace

from zenbench.space.blocks import BLOCKS, BlockSpec
from zenbench.space.spaces import FAMILIES
from zenbench.space.spec import NetworkSpec

CHANNEL_SCALES = (2.5, 2.0, 1.5, 1.25, 1.0, 1 / 1.25, 1 / 1.5, 1 / 2, 1 / 2.5)
SUB_LAYER_STEPS = (0, 1, 2, -1, -2)
SPLIT_THRESHOLD = 6
_XXBL_GROUPS = (("SuperResK1K3K1", "SuperResK1K5K1", "SuperResK1K7K1"), ("SuperResK3K3", "SuperResK5K5", "SuperResK7K7"))


def type_weights(space: str) -> dict[str, float]:
    """Sampling weight of each block type, as the official candidate lists produce them."""
    if space == "xxbl":
        return {name: float(3 - i) for group in _XXBL_GROUPS for i, name in enumerate(group)}
    if space == "idw":
        names = [f"SuperResIDWE{e}K{k}" for k in (3, 5, 7) for e in (1, 2, 4, 6)]
        return {name: float(len(names) - i) for i, name in enumerate(names)}
    raise ValueError(f"no mutation rules for space {space!r}; choose one of {', '.join(FAMILIES)}")


def round8(x: float) -> int:
    return max(8, int(round(x / 8.0)) * 8)


def channel_candidates(channels: int, space: str) -> list[int]:
    cap = 2048 if space == "xxbl" else None
    values = {round8(min(cap, max(8.0, channels * s)) if cap else max(8.0, channels * s)) for s in CHANNEL_SCALES}
    return sorted(values, reverse=True)


def sub_layer_candidates(sub_layers: int) -> list[int]:
    return sorted({max(1, sub_layers + step) for step in SUB_LAYER_STEPS}, reverse=True)


def mutate_block(block: BlockSpec, space: str, rng: random.Random, *, is_head: bool) -> BlockSpec:
    """A random candidate replacing ``block`` (same in_channels and stride)."""
    block_type = BLOCKS.get(block.type)
    if block_type.family == "conv":
        if is_head and space == "idw":
            return block
        return replace(block, out_channels=rng.choice(channel_candidates(block.out_channels, space)), sub_layers=1)
    weights = type_weights(space)
    names = list(weights)
    new_type = rng.choices(names, weights=[weights[n] for n in names])[0]
    return BlockSpec(new_type, block.in_channels, rng.choice(channel_candidates(block.out_channels, space)),
                     block.stride, rng.choice(sub_layer_candidates(block.sub_layers)),
                     rng.choice(channel_candidates(block.bottleneck or block.out_channels, space)))


def rechain(blocks: list[BlockSpec]) -> NetworkSpec:
    """Fix every block's in_channels to its predecessor's out_channels."""
    fixed = [blocks[0]]
    for block in blocks[1:]:
        fixed.append(replace(block, in_channels=fixed[-1].out_channels))
    return NetworkSpec(tuple(fixed))


def split_deep_blocks(spec: NetworkSpec, threshold: int = SPLIT_THRESHOLD) -> NetworkSpec:
    blocks: list[BlockSpec] = []
    for block in spec.blocks:
        if BLOCKS.get(block.type).family != "conv" and block.sub_layers >= threshold:
            first = block.sub_layers // 2
            blocks.append(replace(block, sub_layers=first))
            blocks.append(replace(block, in_channels=block.out_channels, stride=1, sub_layers=block.sub_layers - first))
        else:
            blocks.append(block)
    return NetworkSpec(tuple(blocks))


def mutate(spec: NetworkSpec, space: str, rng: random.Random, replaces: int = 1) -> NetworkSpec:
    """Draw ``replaces`` block positions (a repeat draws nothing new, as in the official code) and replace them."""
    blocks = list(spec.blocks)
    chosen: set[int] = set()
    for _ in range(replaces):
        index = rng.randint(0, len(blocks) - 1)
        if index in chosen:
            continue
        chosen.add(index)
        blocks[index] = mutate_block(blocks[index], space, rng, is_head=index == len(blocks) - 1)
    return split_deep_blocks(rechain(blocks))
