"""The sizes zenbench accepts before it builds or allocates anything, as one overridable value.

A structure string is user input: ``SuperResK3K3(32,1000000000000,1,8,100000)`` is well formed,
but counting it would build a hundred thousand unit objects and building it would ask for
terabytes. :class:`Limits` bounds what the parser accepts (channels, sub-layers per block and in
the whole network, so that counting a parsed spec always finishes quickly) and what a build or a
forward pass may allocate (parameters, activation memory for a batch at a resolution, checked
analytically by :func:`zenbench.space.allocation.check_allocation`). Every bound is a field with
a default that covers the published zoo and the search spaces with a wide margin; a caller who
means a bigger network passes ``limits=Limits(max_channels=...)``. A value over a limit is a
:class:`~zenbench.errors.LimitError` that names the limit.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from zenbench.errors import LimitError, SpecError
from zenbench.space.blocks import BlockSpec

#: integer tokens longer than this are refused before ``int()`` is called (Python refuses
#: conversions of more than 4,300 digits with a traceback; no limit below needs more than 18)
MAX_INT_DIGITS = 18

CHANNEL_ARGS = ("in_channels", "out_channels", "bottleneck")


@dataclass(frozen=True)
class Limits:
    """Upper bounds on network size and on what building or running one may allocate.

    The defaults leave a margin of two to five times over the largest published ZenNet
    (``zennet_imagenet1k_latency03ms_res224``: 6,704 channels; ``latency08ms``: 1.8e8
    parameters; ``latency12ms``: 11 GiB of activations at batch 64 and 224 px) and over the search
    spaces (at most 5 sub-layers a block after splitting, 2,048 XXBL channels).
    """

    #: any channel argument of a block (in, out, bottleneck)
    max_channels: int = 32_768
    #: ``sub_layers`` of one block
    max_sub_layers: int = 64
    #: the sum of ``sub_layers`` over the network (the paper's layer count); bounds the work of counting
    max_total_sub_layers: int = 1_024
    #: input resolution in pixels (square)
    max_resolution: int = 4_096
    #: images in one forward pass
    max_batch: int = 4_096
    #: parameters of the built network, classifier included (4 bytes each in fp32)
    max_params: int = 1_000_000_000
    #: fp32 bytes of every layer's output for one batch, input included: what a forward pass with
    #: autograd keeps (an upper bound of what an inference pass needs at once)
    max_activation_bytes: int = 32 * 2**30

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SpecError(f"Limits.{f.name} must be a positive integer, got {value!r}")


DEFAULT_LIMITS = Limits()


def block_problem(block: BlockSpec, limits: Limits) -> tuple[str, LimitError] | None:
    """``(argument, error)`` for the first argument of ``block`` over a per-block limit, or None."""
    for arg in CHANNEL_ARGS:
        value = getattr(block, arg)
        if value is not None and value > limits.max_channels:
            return arg, LimitError("max_channels", value, limits.max_channels, f"{arg} of {block.type}")
    if block.sub_layers > limits.max_sub_layers:
        return "sub_layers", LimitError("max_sub_layers", block.sub_layers, limits.max_sub_layers,
                                        f"sub_layers of {block.type}")
    return None


def check_blocks(blocks: tuple[BlockSpec, ...], limits: Limits | None = None) -> None:
    """Raise :class:`LimitError` if any block, or the network's total sub-layers, is over a limit."""
    limits = limits or DEFAULT_LIMITS
    total = 0
    for block in blocks:
        problem = block_problem(block, limits)
        if problem:
            raise problem[1]
        total += block.sub_layers
        if total > limits.max_total_sub_layers:
            raise LimitError("max_total_sub_layers", total, limits.max_total_sub_layers,
                             "the network's total sub_layers (so far)")


def check_resolution(resolution: int, limits: Limits | None = None) -> None:
    """A positive integer no larger than ``limits.max_resolution`` (0 is an error, never a default)."""
    limits = limits or DEFAULT_LIMITS
    if not isinstance(resolution, int) or isinstance(resolution, bool) or resolution < 1:
        raise SpecError(f"resolution must be a positive number of pixels, got {resolution!r}; pass e.g. 224")
    if resolution > limits.max_resolution:
        raise LimitError("max_resolution", resolution, limits.max_resolution, "the resolution")


def check_batch(batch: int, limits: Limits | None = None) -> None:
    """A positive integer no larger than ``limits.max_batch``."""
    limits = limits or DEFAULT_LIMITS
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise SpecError(f"batch must be a positive number of images, got {batch!r}; pass e.g. 1 or 64")
    if batch > limits.max_batch:
        raise LimitError("max_batch", batch, limits.max_batch, "the batch")
