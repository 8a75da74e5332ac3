"""AZ-NAS (Lee & Ham, CVPR 2024): four components of one random-input forward/backward, rank-aggregated.

Protocol, as the authors' NB201 code computes it (``ZeroShotProxy/compute_az_nas_score.py``):
Kaiming-normal (fan-in, ReLU gain) conv/linear weights, zero biases, BN weight 1 and bias 0; the
network in train mode; one batch of Gaussian inputs (64 images at the data set's resolution);
the feature maps ``f_0 .. f_L`` of the stem and of every stage (NB201: every cell and reduction
block, not the final BN-ReLU).

* **expressivity**: Σ_l of the entropy of the normalised eigenvalues of the channel covariance
  of ``f_l`` (each of the B·H·W positions a sample);
* **progressivity**: min_l of (entropy_l − entropy_{l−1});
* **trainability**: mean over consecutive pairs of ``2 − σ − 1/σ``, σ the largest singular value
  of the channel cross-covariance between a Rademacher cotangent ``g`` at ``f_l`` and its
  back-propagation to ``f_{l−1}`` (pixel-unshuffled where the resolution halves); an identity
  stage gives −inf;
* **complexity**: FLOPs.

AZ-NAS's score is not a per-network number: over a set of N networks it is
Σ_components log(rank / N) (:func:`rank_aggregate`). A single :func:`zenbench.score` call returns
the four components and, as ``score``, a standalone surrogate that is monotone in each of them
(expressivity + progressivity + trainability + log FLOPs); rank a set with :func:`rank_aggregate`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from scipy import stats
from torch import nn

from zenbench.proxies.base import GRADIENTS, ProxyRequest, register_proxy
from zenbench.proxies.flops import flops

#: the four per-network components, in the order they are reported
COMPONENTS = ("expressivity", "progressivity", "trainability", "complexity")


def rank_aggregate(components: Mapping[str, Sequence[float]]) -> np.ndarray:
    """AZ-NAS's set score: Σ over components of log(rank / N), ranks ascending (ties averaged), NaN ranked last."""
    total: np.ndarray | None = None
    for values in components.values():
        array = np.asarray(values, dtype=float)
        array = np.where(np.isnan(array), -np.inf, array)
        term = np.log(stats.rankdata(array) / len(array))
        total = term if total is None else total + term
    if total is None:
        raise ValueError("rank_aggregate needs at least one component")
    return total


@torch.no_grad()
def kaiming_init(model: nn.Module, generator: torch.Generator) -> None:
    """Kaiming-normal fan-in (ReLU gain) conv/linear weights, zero biases, norm weight 1 and bias 0 (AZ-NAS's init)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            std = math.sqrt(2.0 / fan_in) if fan_in else 0.0
            m.weight.copy_(torch.randn(m.weight.shape, generator=generator, dtype=m.weight.dtype,
                                       device=m.weight.device) * std)
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)) and m.weight is not None:
            m.weight.fill_(1.0)
            m.bias.zero_()


def stage_modules(model: nn.Module) -> list[nn.Module]:
    """The modules whose outputs are AZ-NAS's feature maps f_0 .. f_L, in forward order.

    A model may say itself with ``az_nas_stages()``; NB201 networks give the stem and every
    cell and reduction block (not the final BN-ReLU), Zen-NAS networks every block; any other
    module the children of its first multi-child ``nn.Sequential`` attribute, else its own children.
    """
    custom = getattr(model, "az_nas_stages", None)
    if callable(custom):
        return list(custom())
    from zenbench.space.nb201 import NB201Network
    from zenbench.space.network import ZenNet

    if isinstance(model, NB201Network):
        return list(model.features)[:-1]
    if isinstance(model, ZenNet):
        return list(model.blocks)
    for child in model.children():
        if isinstance(child, nn.Sequential) and len(child) > 1:
            return list(child)
    return list(model.children())


def covariance_entropy(feature: torch.Tensor) -> float:
    """Entropy of the normalised eigenvalue spectrum of the channel covariance of a (B, C, H, W) map."""
    b, c, h, w = feature.shape
    rows = feature.detach().permute(0, 2, 3, 1).reshape(b * h * w, c).double()
    rows = rows - rows.mean(dim=0, keepdim=True)
    eigenvalues = torch.linalg.eigvalsh(rows.T @ rows / rows.shape[0])
    p = eigenvalues / eigenvalues.sum()
    return float((-p * torch.log(p + 1e-8)).sum())


def pair_trainability(f_out: torch.Tensor, f_in: torch.Tensor, generator: torch.Generator) -> float | None:
    """2 − σ − 1/σ for one pair of consecutive feature maps; None where the resolutions cannot be matched.

    Where f_out does not depend on f_in (a cell of ``none`` ops outputs a constant zero map) the
    back-propagated cotangent is zero, σ = 0, as in the authors' code, whose zero op stays in the graph.
    """
    g_out = torch.randint(0, 2, f_out.shape, generator=generator, device=f_out.device).to(f_out.dtype) * 2 - 1
    g_in = None
    if f_out.requires_grad and f_in.requires_grad:
        (g_in,) = torch.autograd.grad(f_out, f_in, g_out, retain_graph=True, allow_unused=True)
    if g_in is None:
        g_in = torch.zeros_like(f_in)
    if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
        return -math.inf
    if g_in.shape[2:] != g_out.shape[2:]:
        stride = g_in.shape[2] // g_out.shape[2]
        if stride < 1 or g_in.shape[2] != stride * g_out.shape[2] or g_in.shape[3] != stride * g_out.shape[3]:
            return None
        g_in = nn.functional.pixel_unshuffle(g_in, stride)
    bo, co, ho, wo = g_out.shape
    left = g_in.permute(0, 2, 3, 1).reshape(bo * ho * wo, -1).double()
    right = g_out.permute(0, 2, 3, 1).reshape(bo * ho * wo, co).double()
    sigma = float(torch.linalg.svdvals(left.T @ right / (bo * ho * wo)).max())
    return 2.0 - sigma - 1.0 / (sigma + 1e-6)


def _finite_or_neginf(value: float) -> float:
    return value if not math.isnan(value) else -math.inf


@register_proxy("az_nas", needs=(GRADIENTS,), gaussian_init=False, components=COMPONENTS)
def az_nas(model: nn.Module, request: ProxyRequest, *, init: bool = True) -> dict[str, float]:
    """AZ-NAS components (expressivity, progressivity, trainability, FLOPs); rank-aggregate them over a set."""
    complexity = flops(model, request)["score"]
    if init:  # the protocol re-draws every weight; init=False keeps a given module's own
        kaiming_init(model, request.generator)
    for m in model.modules():  # an in-place op after a stage would overwrite its recorded output
        if getattr(m, "inplace", False):
            m.inplace = False
    outputs: list[object] = []
    hooks = [m.register_forward_hook(lambda _m, _a, out: outputs.append(out)) for m in stage_modules(model)]
    try:
        model.train()
        model.zero_grad(set_to_none=True)
        x = request.batch()
        with torch.enable_grad():
            model(x)
            features = [f for f in outputs if isinstance(f, torch.Tensor) and f.dim() == 4]
            entropies = [covariance_entropy(f) for f in features]
            pairs = [pair_trainability(features[i], features[i - 1], request.generator)
                     for i in reversed(range(1, len(features)))]
    finally:
        for hook in hooks:
            hook.remove()
    expressivity = _finite_or_neginf(float(np.sum(entropies))) if entropies else -math.inf
    steps = np.diff(entropies)
    progressivity = _finite_or_neginf(float(steps.min())) if len(steps) else -math.inf
    kept = [t for t in pairs if t is not None]
    trainability = _finite_or_neginf(float(np.mean(kept))) if kept else -math.inf
    log_flops = math.log(complexity) if complexity > 0 else -math.inf
    standalone = expressivity + progressivity + trainability + log_flops
    return {"score": _finite_or_neginf(standalone), "expressivity": expressivity, "progressivity": progressivity,
            "trainability": trainability, "complexity": float(complexity)}
