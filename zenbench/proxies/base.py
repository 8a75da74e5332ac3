"""What every zero-shot proxy shares: its declaration, the request it gets, and model preparation.

A proxy is a function ``fn(model, request, **options) -> dict[str, float]`` whose dict has a
``"score"`` key (plus any extra fields, e.g. TE-NAS's linear-region count), registered with
:func:`register_proxy` together with what it needs and which direction is better.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from zenbench.registry import Registry
from zenbench.space.spec import NetworkSpec

FeatureFn = Callable[[nn.Module, torch.Tensor], torch.Tensor]

FORWARD = "forward"  # only forward passes, no autograd
GRADIENTS = "gradients"  # a backward pass
LABELS = "labels"  # (random) class labels for a loss
ANALYTIC = "analytic"  # no forward at all: counts from the structure
SPEC = "spec"  # needs the structure, not just a module


@dataclass(frozen=True)
class ProxyRequest:
    """Everything a proxy may use to score one network; made by :func:`zenbench.score`."""

    input_shape: tuple[int, int, int]  # (channels, height, width)
    batch_size: int
    num_classes: int
    generator: torch.Generator
    dtype: torch.dtype = torch.float32
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    feature_fn: FeatureFn | None = None
    spec: NetworkSpec | None = None
    memory_format: torch.memory_format = torch.contiguous_format
    #: real images (N, C, H, W) to use instead of Gaussian inputs where a proxy reads data
    data: torch.Tensor | None = None

    def randn(self, batch_size: int | None = None) -> torch.Tensor:
        """Gaussian inputs, always (Zen-Score's perturbation, TE-NAS's line)."""
        shape = (batch_size or self.batch_size, *self.input_shape)
        x = torch.randn(shape, generator=self.generator, dtype=self.dtype, device=self.device)
        return x.contiguous(memory_format=self.memory_format)

    def batch(self) -> torch.Tensor:
        """The inputs a data-dependent proxy sees: a random draw of the user's images, else Gaussian noise."""
        if self.data is None:
            return self.randn()
        picks = torch.randperm(self.data.shape[0], generator=self.generator)[: self.batch_size]
        x = self.data[picks].to(device=self.device, dtype=self.dtype)
        return x.contiguous(memory_format=self.memory_format)

    def features(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The pre-GAP feature map: ``feature_fn``, else ``forward_pre_gap``/``forward_features``, else the output."""
        if self.feature_fn is not None:
            return self.feature_fn(model, x)
        for name in ("forward_pre_gap", "forward_pre_GAP", "forward_features"):
            method = getattr(model, name, None)
            if callable(method):
                return method(x)
        return model(x)


@dataclass(frozen=True)
class Proxy:
    """A registered proxy and its declaration."""

    name: str
    fn: Callable[..., dict[str, float]]
    higher_is_better: bool
    needs: frozenset[str]
    #: redraw weights N(0,1) before scoring (as the Zen-NAS code does); False keeps PyTorch's init
    gaussian_init: bool
    description: str
    #: per-network components whose ranks over a set make the proxy's score (AZ-NAS, the ensemble); empty
    #: for a proxy whose score stands alone. A search ranks them against a reference sample
    #: (:mod:`zenbench.proxies.reference`).
    components: tuple[str, ...] = ()

    def __call__(self, model: nn.Module, request: ProxyRequest, **options: Any) -> dict[str, float]:
        return self.fn(model, request, **options)


PROXIES: Registry[Proxy] = Registry("proxy")


def register_proxy(name: str, *, higher_is_better: bool = True, needs: tuple[str, ...] = (FORWARD,),
                   gaussian_init: bool = True, components: tuple[str, ...] = (),
                   ) -> Callable[[Callable[..., dict[str, float]]], Callable[..., dict[str, float]]]:
    """Decorator: register ``fn`` as proxy ``name``; the docstring's first line describes it. ``components``
    names the fields of its result that are rank-aggregated over a set."""

    def decorate(fn: Callable[..., dict[str, float]]) -> Callable[..., dict[str, float]]:
        doc = (fn.__doc__ or "").strip().splitlines()
        PROXIES.add(name, Proxy(name, fn, higher_is_better, frozenset(needs), gaussian_init, doc[0] if doc else "",
                                tuple(components)))
        return fn

    return decorate


@torch.no_grad()
def gaussian_init(model: nn.Module, generator: torch.Generator) -> None:
    """The Zen-NAS ``network_weight_gaussian_init``: conv/linear weights N(0,1), biases 0, norm weight 1, bias 0."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            _fill_normal(m.weight, generator)
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)) and m.weight is not None:
            m.weight.fill_(1.0)
            m.bias.zero_()


def seeded_generators(seed: int, device: torch.device | str = "cpu") -> tuple[torch.Generator, torch.Generator]:
    """Separate streams for weights and inputs, so a score does not depend on how many weights
    come before the inputs (e.g. the classifier's width, which the pre-GAP Zen-Score never reads)."""
    weights = torch.Generator(device=device).manual_seed(seed)
    inputs = torch.Generator(device=device).manual_seed(seed + 0x9E3779B9)
    return weights, inputs


def default_init(model: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's own initialisation (``reset_parameters``), seeded from ``generator`` without touching
    the global RNG state; also resets BN running statistics."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for m in model.modules():
            reset = getattr(m, "reset_parameters", None)
            if callable(reset):
                reset()


def _fill_normal(weight: torch.Tensor, generator: torch.Generator) -> None:
    """N(0,1) by logical index: the same values whatever the memory format, and fast for channels-last
    weights, where an in-place ``normal_`` falls back to a slow element-wise path."""
    if weight.is_contiguous():
        weight.normal_(generator=generator)
    else:
        weight.copy_(torch.randn(weight.shape, generator=generator, dtype=weight.dtype, device=weight.device))


def reset_bn_statistics(model: nn.Module) -> None:
    """Fresh running statistics (mean 0, var 1), as in a newly built network."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()


def batch_norms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def finite(value: float) -> float:
    """NaN/inf are reported as -inf so they always rank last, never crash a search."""
    return value if math.isfinite(value) else -math.inf
