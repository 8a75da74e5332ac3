"""The primitives every block expands into, and the residual *unit* they form.

A super block is a stack of units; a unit is a short chain of layers with an optional
residual link. Counting (MACs, params), module construction and, later, latency profiling
all work on units, so every block family shares that code by construction: a block type only
says how it expands into units (see ``blocks.py``).

Everything here is plain data without torch, so specs can be counted and searched cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


def conv_out_resolution(resolution: int, stride: int) -> int:
    """Spatial size after a 'same'-padded conv (padding k//2, odd k): ceil(res / stride)."""
    return (resolution - 1) // stride + 1


@dataclass(frozen=True)
class Conv:
    """A bias-free KxK convolution with padding K//2; ``groups == in_channels`` is depth-wise."""

    in_channels: int
    out_channels: int
    kernel: int
    stride: int = 1
    groups: int = 1

    def out_resolution(self, resolution: int) -> int:
        return conv_out_resolution(resolution, self.stride)

    @property
    def params(self) -> int:
        return self.out_channels * (self.in_channels // self.groups) * self.kernel * self.kernel

    def macs(self, resolution: int) -> int:
        """Multiply-accumulates on a ``resolution``² input."""
        out = self.out_resolution(resolution)
        return self.params * out * out


@dataclass(frozen=True)
class BN:
    """BatchNorm2d; removed when a network is built with ``bn=False``."""

    channels: int

    @property
    def params(self) -> int:
        return 2 * self.channels  # affine weight and bias; running stats are buffers


@dataclass(frozen=True)
class ReLU:
    channels: int


@dataclass(frozen=True)
class SE:
    """Squeeze-and-excitation as in the Zen-NAS code: GAP, 1x1 reduce (ratio 1/4), BN, ReLU,
    1x1 expand, BN, sigmoid, scale. Present only when a network is built with ``se=True``."""

    channels: int

    @property
    def reduced(self) -> int:
        return max(1, round(self.channels * 0.25))

    @property
    def params(self) -> int:
        # two bias-free 1x1 convs plus their BN layers
        return 2 * self.channels * self.reduced + 2 * self.reduced + 2 * self.channels

    @property
    def macs(self) -> int:
        return 2 * self.channels * self.reduced


Layer = Conv | BN | ReLU | SE


class Shortcut(str, Enum):
    """How a unit's input reaches its output when residual links are on."""

    NONE = "none"  # a plain conv-BN-ReLU stack
    IDENTITY = "identity"  # body(x) + x
    PROJECTION = "projection"  # body(x) + BN(conv1x1_stride(x))


@dataclass(frozen=True)
class Unit:
    """One residual unit: ``relu?(body(x) + shortcut(x))``.

    ``family`` and ``kernel``/``expansion``/``mid_channels`` identify the unit's kind for latency
    tables; ``layers`` is the body, in order.
    """

    family: str
    layers: tuple[Layer, ...]
    in_channels: int
    out_channels: int
    stride: int
    shortcut: Shortcut
    relu_after: bool

    def active_layers(self, *, bn: bool, se: bool) -> tuple[Layer, ...]:
        """The body's layers present in a network built with these flags."""
        return tuple(
            layer
            for layer in self.layers
            if (bn or not isinstance(layer, BN)) and (se or not isinstance(layer, SE))
        )

    def effective_shortcut(self, residual: bool) -> Shortcut:
        return self.shortcut if residual else Shortcut.NONE

    def out_resolution(self, resolution: int) -> int:
        return conv_out_resolution(resolution, self.stride)

    def projection_conv(self) -> Conv:
        return Conv(self.in_channels, self.out_channels, 1, self.stride)
