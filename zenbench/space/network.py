"""Build a ``torch.nn.Module`` from a :class:`NetworkSpec`.

Switches are explicit keyword arguments, not fields of the string: ``residual`` (the residual
links and their projection convolutions), ``bn`` (every BatchNorm), ``se`` (squeeze-excitation
after each depth-wise / middle conv). Zen-Score builds with ``residual=False, se=False``; a
deployable model keeps ``residual=True`` and ``se`` as the zoo entry says.

Layout: ``blocks`` (one ``nn.Sequential`` of units per super block) -> global average pooling
-> ``classifier`` (``nn.Linear`` with bias), exactly the Zen-NAS master network.
"""

from __future__ import annotations

import torch
from torch import nn

from zenbench.space.allocation import check_allocation
from zenbench.space.limits import Limits
from zenbench.space.spec import NetworkSpec
from zenbench.space.units import BN, SE, Conv, Layer, ReLU, Shortcut, Unit

BN_EPS = 1e-3  # the Zen-NAS code's BatchNorm eps
BN_MOMENTUM = 0.1


class SqueezeExcite(nn.Module):
    """The Zen-NAS SE layer: x * sigmoid(BN(conv(ReLU(BN(conv(GAP(x))))))."""

    def __init__(self, channels: int, reduced: int, bn: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, reduced, 1, bias=False)]
        if bn:
            layers.append(_batch_norm(reduced))
        layers += [nn.ReLU(inplace=True), nn.Conv2d(reduced, channels, 1, bias=False)]
        if bn:
            layers.append(_batch_norm(channels))
        layers.append(nn.Sigmoid())
        self.gate = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class ResidualUnit(nn.Module):
    """``relu?(body(x) + shortcut(x))``; the shortcut is absent, identity or a 1x1 projection."""

    def __init__(self, body: nn.Sequential, shortcut: nn.Module | None, identity: bool, relu_after: bool) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self.identity = identity
        self.relu = nn.ReLU(inplace=True) if relu_after else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        elif self.identity:
            out = out + x
        if self.relu is not None:
            out = self.relu(out)
        return out


class ZenNet(nn.Module):
    """A network built from a structure string, with the pre-GAP feature map Zen-Score needs."""

    def __init__(self, spec: NetworkSpec, num_classes: int = 1000, *, residual: bool = True, bn: bool = True,
                 se: bool = False) -> None:
        super().__init__()
        self.spec = spec
        self.num_classes = num_classes
        self.residual, self.bn, self.se = residual, bn, se
        self.blocks = nn.Sequential(
            *(nn.Sequential(*(build_unit(u, residual=residual, bn=bn, se=se) for u in block.units()))
              for block in spec.blocks)
        )
        self.classifier = nn.Linear(spec.out_channels, num_classes) if num_classes else None

    def forward_pre_gap(self, x: torch.Tensor) -> torch.Tensor:
        """The feature map before global average pooling."""
        return self.blocks(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.forward_pre_gap(x).mean(dim=(2, 3))
        return features if self.classifier is None else self.classifier(features)

    def extra_repr(self) -> str:
        return f"residual={self.residual}, bn={self.bn}, se={self.se}, num_classes={self.num_classes}"


def _batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


def build_layer(layer: Layer, *, bn: bool) -> nn.Module:
    if isinstance(layer, Conv):
        return nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel, layer.stride,
                         padding=layer.kernel // 2, groups=layer.groups, bias=False)
    if isinstance(layer, BN):
        return _batch_norm(layer.channels)
    if isinstance(layer, ReLU):
        return nn.ReLU(inplace=True)
    if isinstance(layer, SE):
        return SqueezeExcite(layer.channels, layer.reduced, bn)
    raise TypeError(f"no module for layer {layer!r}")


def build_unit(unit: Unit, *, residual: bool, bn: bool, se: bool) -> ResidualUnit:
    body = nn.Sequential(*(build_layer(layer, bn=bn) for layer in unit.active_layers(bn=bn, se=se)))
    shortcut_kind = unit.effective_shortcut(residual)
    shortcut = None
    if shortcut_kind is Shortcut.PROJECTION:
        proj = unit.projection_conv()  # the official code keeps the projection conv's bias
        conv = nn.Conv2d(proj.in_channels, proj.out_channels, 1, proj.stride, bias=True)
        shortcut = nn.Sequential(conv, *([_batch_norm(proj.out_channels)] if bn else []))
    return ResidualUnit(body, shortcut, shortcut_kind is Shortcut.IDENTITY, unit.relu_after)


def build_model(spec: NetworkSpec | str, num_classes: int = 1000, *, residual: bool = True, bn: bool = True,
                se: bool = False, resolution: int | None = None, batch: int = 1,
                limits: Limits | None = None) -> ZenNet:
    """``NetworkSpec`` (or structure string) -> :class:`ZenNet`.

    :func:`~zenbench.space.allocation.check_allocation` runs first, against ``limits`` (default
    :class:`~zenbench.space.limits.Limits`): the parameters always, the activation memory of
    ``batch`` images when the caller says the ``resolution`` it will feed.
    """
    if isinstance(spec, str):
        spec = NetworkSpec.parse(spec, limits=limits)
    check_allocation(spec, resolution, batch, limits, num_classes=num_classes, residual=residual, bn=bn, se=se)
    return ZenNet(spec, num_classes, residual=residual, bn=bn, se=se)
