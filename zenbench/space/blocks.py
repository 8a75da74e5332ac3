"""The super-block registry: every block type of the Zen-NAS structure strings.

A block type knows its argument list and how one *sub-layer* expands into units; stacking
sub-layers (the first one takes the block's input channels and stride, the rest take its
output channels and stride 1) is shared by all of them. Adding a type is one class (or one
registration of an existing family with new parameters) in this file.

Internal structure per sub-layer follows the Zen-NAS code (``PlainNet/super_blocks.py``,
``SuperResKXKX.py``, ``SuperResK1KXK1.py``, ``SuperResIDWEXKX.py``):

* ``SuperConvK{k}BNRELU(in,out,stride,sub_layers)``: conv-BN-ReLU per sub-layer, no residual.
* ``SuperResK{k}K{k}(in,out,stride,bottleneck,sub_layers)``: one basic unit per sub-layer,
  KxK conv (stride) in->bottleneck, BN, ReLU, [SE], KxK conv bottleneck->out, BN; residual, ReLU.
* ``SuperResK1K{k}K1(...)``: two bottleneck units per sub-layer: 1x1 in->bottleneck, BN, ReLU,
  KxK (stride) bottleneck->bottleneck, BN, ReLU, [SE], 1x1 bottleneck->out, BN; residual, ReLU.
* ``SuperResIDWE{e}K{k}(...)``: two MobileNetV2-style inverted-residual units per sub-layer:
  1x1 expand, BN, ReLU, KxK depth-wise (stride on the first), BN, ReLU, [SE], 1x1 project, BN;
  residual, ReLU. As in the official code the first unit projects to the *bottleneck* width
  (expanded width ``round8(bottleneck * e)``) and the second from it to ``out`` (expanded width
  ``round8(out * e)``); widths are multiples of 8, at least 8.

Every unit's residual link is a projection (1x1 conv with bias and the unit's stride, then BN)
on the block's first unit, and wherever the unit changes width or resolution; otherwise identity.
The paper's layer count (``get_num_layers``, limited by ``max_layers``) is the sum of
``sub_layers``, whatever the family.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from zenbench.errors import SpecError
from zenbench.registry import Registry
from zenbench.space.units import BN, SE, Conv, Layer, ReLU, Shortcut, Unit


def round_channels(value: float, base: int = 8) -> int:
    """Round to the nearest multiple of ``base``, at least ``base`` (the code's ``smart_round``)."""
    return max(base, round(value / base) * base)


@dataclass(frozen=True)
class BlockSpec:
    """One super block of a structure string, e.g. ``SuperResK1K5K1(32,64,2,32,2)``.

    ``bottleneck`` is ``None`` for the conv blocks, which take no bottleneck argument.
    """

    type: str
    in_channels: int
    out_channels: int
    stride: int
    sub_layers: int
    bottleneck: int | None = None

    @property
    def block_type(self) -> BlockType:
        return BLOCKS.get(self.type)

    @property
    def args(self) -> tuple[int, ...]:
        return tuple(getattr(self, name) for name in self.block_type.arg_names)

    def __str__(self) -> str:
        return f"{self.type}({','.join(str(a) for a in self.args)})"

    def units(self) -> tuple[Unit, ...]:
        return self.block_type.units(self)

    @property
    def layers(self) -> int:
        """Layer count as the paper's budget counts it (``get_num_layers``): one per sub-layer."""
        return self.sub_layers


class BlockType(ABC):
    """A registered super-block type: its string name, arguments and unit expansion."""

    #: argument names in structure-string order
    arg_names: tuple[str, ...] = ("in_channels", "out_channels", "stride", "bottleneck", "sub_layers")
    #: mutation family: "xxbl", "idw", or "conv" for stems/heads
    family: str

    def __init__(self, name: str, kernel: int, expansion: int | None = None) -> None:
        self.name = name
        self.kernel = kernel
        self.expansion = expansion

    @property
    def has_bottleneck(self) -> bool:
        return "bottleneck" in self.arg_names

    def make(self, *args: int) -> BlockSpec:
        """Build a spec from positional arguments in string order (validates them)."""
        if len(args) != len(self.arg_names):
            raise SpecError(f"{self.name} takes {len(self.arg_names)} arguments ({', '.join(self.arg_names)}), got {len(args)}")
        spec = BlockSpec(type=self.name, **dict(zip(self.arg_names, args, strict=True)))
        self.validate(spec)
        return spec

    def validate(self, spec: BlockSpec) -> None:
        """Raise :class:`SpecError` naming the argument that is out of range."""
        problem = self.problem(spec)
        if problem:
            raise SpecError(f"{spec}: expected {problem[1]}, got {problem[0]} = {getattr(spec, problem[0])}")

    def problem(self, spec: BlockSpec) -> tuple[str, str] | None:
        """``(argument, what it should be)`` for the first invalid argument of ``spec``, or None."""
        for name in self.arg_names:
            value = getattr(spec, name)
            if name == "stride":
                if value not in (1, 2):
                    return name, "stride 1 or 2"
            elif value is None or value < 1:
                return name, f"a positive {name}"
        if not self.has_bottleneck and spec.bottleneck is not None:
            return "bottleneck", f"no bottleneck argument for {self.name}"
        return None

    def units(self, spec: BlockSpec) -> tuple[Unit, ...]:
        """The first sub-layer's units, then the same (immutable) units of each further sub-layer."""
        if spec.sub_layers < 1:
            return ()
        first = self.sub_layer_units(spec, spec.in_channels, spec.stride, first=True)
        if spec.sub_layers == 1:
            return tuple(first)
        rest = self.sub_layer_units(spec, spec.out_channels, 1, first=False)
        return tuple(first + rest * (spec.sub_layers - 1))

    @abstractmethod
    def sub_layer_units(self, spec: BlockSpec, in_channels: int, stride: int, first: bool) -> list[Unit]:
        """The units of one sub-layer that reads ``in_channels`` at ``stride``."""

    @abstractmethod
    def make_unit(self, in_channels: int, mid: int, out: int, stride: int, first: bool) -> Unit:
        """One unit of this type on its own (what latency tables time); ``mid`` is the bottleneck width."""

    def _unit(self, layers: list[Layer], in_channels: int, out_channels: int, stride: int, first: bool) -> Unit:
        """A residual unit with a projection shortcut on the block's first unit or on a shape change."""
        project = first or in_channels != out_channels or stride != 1
        return Unit(
            family=self.name,
            layers=tuple(layers),
            in_channels=in_channels,
            out_channels=out_channels,
            stride=stride,
            shortcut=Shortcut.PROJECTION if project else Shortcut.IDENTITY,
            relu_after=True,
        )


def conv_bn_relu(in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1) -> list[Layer]:
    return [Conv(in_channels, out_channels, kernel, stride, groups), BN(out_channels), ReLU(out_channels)]


def conv_bn(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> list[Layer]:
    return [Conv(in_channels, out_channels, kernel, stride), BN(out_channels)]


class ConvBNReLU(BlockType):
    """``SuperConvK{k}BNRELU``: the stem and head blocks; plain conv-BN-ReLU per sub-layer."""

    arg_names = ("in_channels", "out_channels", "stride", "sub_layers")
    family = "conv"

    def sub_layer_units(self, spec: BlockSpec, in_channels: int, stride: int, first: bool) -> list[Unit]:
        return [self.make_unit(in_channels, spec.out_channels, spec.out_channels, stride, first)]

    def make_unit(self, in_channels: int, mid: int, out: int, stride: int, first: bool) -> Unit:
        layers = conv_bn(in_channels, out, self.kernel, stride)
        return Unit(self.name, tuple(layers), in_channels, out, stride, Shortcut.NONE, True)


class ResKXKX(BlockType):
    """``SuperResK{k}K{k}``: ResNet basic units, one per sub-layer."""

    family = "xxbl"

    def sub_layer_units(self, spec: BlockSpec, in_channels: int, stride: int, first: bool) -> list[Unit]:
        return [self.make_unit(in_channels, spec.bottleneck, spec.out_channels, stride, first)]

    def make_unit(self, in_channels: int, mid: int, out: int, stride: int, first: bool) -> Unit:
        k = self.kernel
        layers = conv_bn_relu(in_channels, mid, k, stride) + [SE(mid)] + conv_bn(mid, out, k)
        return self._unit(layers, in_channels, out, stride, first)


class ResK1KXK1(BlockType):
    """``SuperResK1K{k}K1``: ResNet bottleneck units, two per sub-layer."""

    family = "xxbl"

    def sub_layer_units(self, spec: BlockSpec, in_channels: int, stride: int, first: bool) -> list[Unit]:
        mid, out = spec.bottleneck, spec.out_channels
        return [self.make_unit(in_channels, mid, out, stride, first), self.make_unit(out, mid, out, 1, False)]

    def make_unit(self, in_channels: int, mid: int, out: int, stride: int, first: bool) -> Unit:
        layers = (conv_bn_relu(in_channels, mid, 1) + conv_bn_relu(mid, mid, self.kernel, stride)
                  + [SE(mid)] + conv_bn(mid, out, 1))
        return self._unit(layers, in_channels, out, stride, first)


class ResIDW(BlockType):
    """``SuperResIDWE{e}K{k}``: MobileNetV2-style inverted residual units, two per sub-layer."""

    family = "idw"

    def sub_layer_units(self, spec: BlockSpec, in_channels: int, stride: int, first: bool) -> list[Unit]:
        mid, out = spec.bottleneck, spec.out_channels
        return [self.make_unit(in_channels, 0, mid, stride, first), self.make_unit(mid, 0, out, 1, False)]

    def make_unit(self, in_channels: int, mid: int, out: int, stride: int, first: bool) -> Unit:
        """An inverted-residual unit; its expanded width is ``round8(out * e)`` (``mid`` is not used)."""
        wide = round_channels(out * self.expansion)
        layers = (conv_bn_relu(in_channels, wide, 1) + conv_bn_relu(wide, wide, self.kernel, stride, groups=wide)
                  + [SE(wide)] + conv_bn(wide, out, 1))
        return self._unit(layers, in_channels, out, stride, first)


BLOCKS: Registry[BlockType] = Registry("block type")

for _k in (1, 3, 5, 7):
    BLOCKS.add(f"SuperConvK{_k}BNRELU", ConvBNReLU(f"SuperConvK{_k}BNRELU", _k))
for _k in (3, 5, 7):
    BLOCKS.add(f"SuperResK{_k}K{_k}", ResKXKX(f"SuperResK{_k}K{_k}", _k))
    BLOCKS.add(f"SuperResK1K{_k}K1", ResK1KXK1(f"SuperResK1K{_k}K1", _k))
for _e in (1, 2, 4, 6):
    for _k in (3, 5, 7):
        BLOCKS.add(f"SuperResIDWE{_e}K{_k}", ResIDW(f"SuperResIDWE{_e}K{_k}", _k, _e))


def list_blocks(pattern: str = "*") -> list[str]:
    """Names of the registered block types matching a glob pattern."""
    return BLOCKS.names(pattern)
