"""What building and running a network would allocate, computed from its spec before anything is.

:func:`check_allocation` is the one gate every caller passes before it builds a module or makes an
input batch: ``build_model`` and ``create_model`` call it, and so should anything that allocates
``batch x 3 x resolution²`` inputs (scoring, measuring, exporting). It checks the structure
against :class:`~zenbench.space.limits.Limits` first (so the counting that follows is bounded even
for a spec that was not parsed), then the parameter count and the activation memory, all
analytically. A value over a limit is a :class:`~zenbench.errors.LimitError` naming the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from zenbench.errors import LimitError, SpecError
from zenbench.space.limits import DEFAULT_LIMITS, Limits, check_batch, check_blocks, check_resolution
from zenbench.space.spec import NetworkSpec
from zenbench.space.units import BN, SE, Conv, Shortcut

FP32_BYTES = 4


@dataclass(frozen=True)
class Allocation:
    """The memory one build and one forward pass of a network would take, in fp32."""

    params: int
    param_bytes: int
    #: every layer's output for one batch, input included (``None``: no resolution was given)
    activation_bytes: int | None
    resolution: int | None
    batch: int


def activation_elements(spec: NetworkSpec, resolution: int, *, residual: bool = True, bn: bool = True,
                        se: bool = False) -> int:
    """Elements of every tensor one image's forward pass produces: the input, each convolution's,
    BN's and SE's output, each projection shortcut's and each unit's sum (ReLUs work in place)."""
    elements = spec.in_channels * resolution * resolution
    for unit in spec.units():
        res = resolution
        for layer in unit.active_layers(bn=bn, se=se):
            if isinstance(layer, Conv):
                res = layer.out_resolution(res)
                elements += layer.out_channels * res * res
            elif isinstance(layer, BN | SE):
                elements += layer.channels * res * res
        area = unit.out_channels * res * res
        shortcut = unit.effective_shortcut(residual)
        if shortcut is Shortcut.PROJECTION:
            elements += area * (2 if bn else 1)
        if shortcut is not Shortcut.NONE:
            elements += area
        resolution = res
    return elements


def check_allocation(spec: NetworkSpec, resolution: int | None, batch: int = 1, limits: Limits | None = None, *,
                     num_classes: int = 1000, residual: bool = True, bn: bool = True,
                     se: bool = False) -> Allocation:
    """Raise a :class:`~zenbench.errors.LimitError` if building ``spec`` or running ``batch`` images of
    ``resolution`` px through it would exceed ``limits``; else return what it would take.

    ``resolution=None`` checks the build only (structure and parameters), for callers that do not
    yet know their input size. Nothing is built or allocated.
    """
    limits = limits or DEFAULT_LIMITS
    if not isinstance(spec, NetworkSpec):
        raise TypeError(f"spec must be a NetworkSpec, got {type(spec).__name__}")
    if num_classes < 0:
        raise SpecError(f"num_classes must be 0 (no classifier) or positive, got {num_classes}")
    check_blocks(spec.blocks, limits)
    check_batch(batch, limits)
    if resolution is not None:
        check_resolution(resolution, limits)
    params = spec.counts(resolution or 1, num_classes, residual=residual, bn=bn, se=se).params
    if params > limits.max_params:
        raise LimitError("max_params", params, limits.max_params, "the network's parameter count")
    activation_bytes = None
    if resolution is not None:
        per_image = activation_elements(spec, resolution, residual=residual, bn=bn, se=se) + num_classes
        activation_bytes = per_image * batch * FP32_BYTES
        if activation_bytes > limits.max_activation_bytes:
            raise LimitError("max_activation_bytes", activation_bytes, limits.max_activation_bytes,
                             f"activation memory (bytes) for batch {batch} at {resolution} px")
    return Allocation(params, params * FP32_BYTES, activation_bytes, resolution, batch)
