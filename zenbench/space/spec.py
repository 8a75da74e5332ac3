"""``NetworkSpec``: a network as plain data, with its shapes, MACs, params and layer count.

Counting is analytic (no torch), so the search can check FLOPs/params budgets for free.
Two conventions are offered:

* ``"exact"`` (default): what the built module really computes and stores: convolution and
  classifier multiply-accumulates (what ``torch.utils.flop_counter`` counts, divided by two)
  and ``sum(p.numel())`` of its parameters. Agrees exactly with the built module.
* ``"paper"``: the Zen-NAS code's own analytic counters, which the paper's budgets were set
  with. They differ from the exact count in known ways: BN layers count one MAC per output
  element; the projection shortcut's MACs use the resolution divided by the stride *twice*; the
  spatial size is ``res // stride`` (floor) rather than the true ``ceil(res / stride)``.

"FLOPs" everywhere in zenbench means multiply-accumulates, as in the paper.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from zenbench.errors import SpecError
from zenbench.space.blocks import BlockSpec
from zenbench.space.limits import Limits
from zenbench.space.parser import parse_blocks
from zenbench.space.units import BN, SE, Conv, Layer, Shortcut, Unit

Convention = Literal["exact", "paper"]


@dataclass(frozen=True)
class Counts:
    """Size of a network at one input resolution. ``macs`` are multiply-accumulates."""

    macs: int
    params: int
    layers: int
    resolution: int
    convention: str


@dataclass(frozen=True)
class BlockShape:
    """Where a block sits in the network at a given input resolution."""

    index: int
    block: BlockSpec
    in_resolution: int
    out_resolution: int
    macs: int
    params: int


@dataclass(frozen=True)
class NetworkSpec:
    """A chain of super blocks; ``str(spec)`` is its canonical structure string."""

    blocks: tuple[BlockSpec, ...]

    def __post_init__(self) -> None:
        if not self.blocks:
            raise SpecError("a network needs at least one block")
        for index, (prev, block) in enumerate(zip(self.blocks, self.blocks[1:], strict=False), start=1):
            if block.in_channels != prev.out_channels:
                raise SpecError(
                    f"block {index} ({block}) reads {block.in_channels} channels but block {index - 1} "
                    f"({prev}) writes {prev.out_channels}"
                )

    @classmethod
    def parse(cls, text: str, *, limits: Limits | None = None) -> NetworkSpec:
        """The same as :func:`zenbench.space.grammar.parse_structure`."""
        return cls(parse_blocks(text, limits))

    def __str__(self) -> str:
        return "".join(str(block) for block in self.blocks)

    def __len__(self) -> int:
        return len(self.blocks)

    @property
    def in_channels(self) -> int:
        return self.blocks[0].in_channels

    @property
    def out_channels(self) -> int:
        return self.blocks[-1].out_channels

    @property
    def layers(self) -> int:
        """The paper's layer count (``get_num_layers``), which its ``max_layers`` budget limits."""
        return sum(block.layers for block in self.blocks)

    def replace_block(self, index: int, block: BlockSpec) -> NetworkSpec:
        blocks = list(self.blocks)
        blocks[index] = block
        return NetworkSpec(tuple(blocks))

    def units(self) -> Iterator[Unit]:
        for block in self.blocks:
            yield from block.units()

    def out_resolution(self, resolution: int, convention: Convention = "exact") -> int:
        for block in self.blocks:
            resolution = _resolution_after(resolution, block.stride, convention)
        return resolution

    def block_shapes(self, resolution: int, *, residual: bool = True, bn: bool = True, se: bool = False,
                     convention: Convention = "exact") -> list[BlockShape]:
        """Per-block input/output resolution, MACs and params."""
        if convention not in ("exact", "paper"):
            raise SpecError(f"unknown counting convention {convention!r}; use 'exact' or 'paper'")
        if resolution < 1:
            raise SpecError(f"resolution must be a positive number of pixels, got {resolution!r}; pass e.g. 224")
        shapes = []
        for index, block in enumerate(self.blocks):
            res_in = resolution
            macs = params = 0
            for unit in block.units():
                unit_macs, resolution = unit_macs_params(unit, resolution, residual=residual, bn=bn, se=se,
                                                         convention=convention)
                macs += unit_macs[0]
                params += unit_macs[1]
            shapes.append(BlockShape(index, block, res_in, resolution, macs, params))
        return shapes

    def counts(self, resolution: int, num_classes: int = 1000, *, residual: bool = True, bn: bool = True,
               se: bool = False, convention: Convention = "exact") -> Counts:
        """MACs and params of the whole network, classifier included (``num_classes=0``: none)."""
        shapes = self.block_shapes(resolution, residual=residual, bn=bn, se=se, convention=convention)
        macs = sum(s.macs for s in shapes)
        params = sum(s.params for s in shapes)
        if num_classes:
            macs += self.out_channels * num_classes
            # the paper's Linear.get_model_size counts the bias as a single parameter
            params += self.out_channels * num_classes + (1 if convention == "paper" else num_classes)
        return Counts(macs=round(macs), params=params, layers=self.layers, resolution=resolution,
                      convention=convention)


def _resolution_after(resolution: int, stride: int, convention: Convention) -> int:
    if convention == "paper":
        return resolution // stride
    return (resolution - 1) // stride + 1


def unit_macs_params(unit: Unit, resolution: int, *, residual: bool, bn: bool, se: bool,
                     convention: Convention = "exact") -> tuple[tuple[float, int], int]:
    """((MACs, params), output resolution) of one unit as built with these flags."""
    count = _count_paper if convention == "paper" else _count_exact
    macs: float = 0
    params = 0
    res = resolution
    for layer in unit.active_layers(bn=bn, se=se):
        layer_macs, layer_params, res = count(layer, res, bn)
        macs += layer_macs
        params += layer_params
    if unit.effective_shortcut(residual) is Shortcut.PROJECTION:
        proj = unit.projection_conv()
        if convention == "paper":
            # ResBlockProj.get_FLOPs: (in*out + out) * (res_out / stride)**2 -- the resolution is
            # divided by the stride a second time, in float; get_model_size: in*out + out.
            shrunk = res / unit.stride
            macs += (proj.in_channels * proj.out_channels + proj.out_channels) * shrunk * shrunk
            params += proj.params + proj.out_channels
        else:
            macs += proj.params * res * res
            params += proj.params + proj.out_channels + (2 * proj.out_channels if bn else 0)  # conv bias, BN
    return (macs, params), res


def _count_exact(layer: Layer, res: int, bn: bool) -> tuple[int, int, int]:
    """What the built module computes: conv MACs only; every parameter tensor element."""
    if isinstance(layer, Conv):
        res = layer.out_resolution(res)
        return layer.params * res * res, layer.params, res
    if isinstance(layer, BN):
        return 0, 2 * layer.channels, res
    if isinstance(layer, SE):
        convs = 2 * layer.channels * layer.reduced
        return convs, convs + (2 * layer.reduced + 2 * layer.channels if bn else 0), res
    return 0, 0, res


def _count_paper(layer: Layer, res: int, bn: bool) -> tuple[int, int, int]:
    """The Zen-NAS code's ``get_FLOPs``/``get_model_size`` of each basic block."""
    if isinstance(layer, Conv):
        k2 = layer.kernel * layer.kernel
        macs = layer.in_channels * layer.out_channels * k2 * res * res // layer.stride**2 // layer.groups
        return macs, layer.in_channels * layer.out_channels * k2 // layer.groups, res // layer.stride
    if isinstance(layer, BN):
        return layer.channels * res * res, layer.channels, res
    if isinstance(layer, SE):
        c, r = layer.channels, layer.reduced
        return 2 * c * r + c + c * res * res, 2 * c * r + 2 * r + 2 * c, res
    return 0, 0, res
