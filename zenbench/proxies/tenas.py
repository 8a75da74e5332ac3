"""TE-NAS (Chen et al., 2021): trainability from the NTK's condition number, expressivity from linear regions."""

from __future__ import annotations

import math

import torch
from torch import nn

from zenbench.proxies.base import GRADIENTS, ProxyRequest, register_proxy

#: per-sample gradients are kept in memory up to this many floats, then parameters are taken in groups
_MAX_GRADIENT_FLOATS = 2**28


def ntk_condition_number(model: nn.Module, x: torch.Tensor) -> float:
    """λ_max / λ_min of the empirical NTK Θ = J Jᵀ, J the per-sample gradients of the summed logits.

    As in TE-NAS, J covers every parameter whose name contains "weight" (conv, BN gamma, linear).
    """
    params = [p for name, p in model.named_parameters() if "weight" in name and p.requires_grad]
    batch = x.shape[0]
    groups: list[list[torch.nn.Parameter]] = [[]]
    size = 0
    for p in params:
        if groups[-1] and (size + p.numel()) * batch > _MAX_GRADIENT_FLOATS:
            groups.append([])
            size = 0
        groups[-1].append(p)
        size += p.numel()
    ntk = torch.zeros(batch, batch, dtype=torch.float64)
    for group in groups:
        logits = model(x)
        rows = []
        for i in range(batch):
            grads = torch.autograd.grad(logits[i].sum(), group, retain_graph=i < batch - 1, allow_unused=True)
            flat = [g.reshape(-1) if g is not None else torch.zeros(p.numel()) for g, p in zip(grads, group, strict=True)]
            rows.append(torch.cat(flat))
        jac = torch.stack(rows).double()
        ntk += jac @ jac.T
    eigenvalues = torch.linalg.eigvalsh(ntk)
    low, high = float(eigenvalues[0]), float(eigenvalues[-1])
    return high / low if low > 0 else math.inf


def linear_regions(model: nn.Module, request: ProxyRequest, samples: int) -> int:
    """Linear regions of the network crossed by a random line segment through input space.

    ``samples`` points on the segment between two random inputs; a region boundary is where the
    binary ReLU pattern changes between neighbours. (Counting distinct patterns of independent
    random inputs, as TE-NAS does on 3x3 inputs, saturates at ``samples`` on wide networks: every
    input lands in its own region.)
    """
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    codes: list[torch.Tensor] = []
    hooks = [m.register_forward_pre_hook(lambda _m, args: codes.append(args[0].reshape(args[0].shape[0], -1) > 0))
             for m in relus]
    try:
        start, end = request.randn(1), request.randn(1)
        t = torch.linspace(0, 1, samples, dtype=request.dtype, device=request.device).view(-1, 1, 1, 1)
        model.eval()  # each point alone: batch statistics would couple the points
        with torch.inference_mode():
            for chunk in torch.split(start + t * (end - start), 128):
                model(chunk.contiguous(memory_format=request.memory_format))
    finally:
        for hook in hooks:
            hook.remove()
    if not codes:
        return 0
    per_relu = len(relus)
    chunks = [torch.cat(codes[i:i + per_relu], dim=1) for i in range(0, len(codes), per_relu)]
    patterns = torch.cat(chunks, dim=0)
    return 1 + int((patterns[1:] != patterns[:-1]).any(dim=1).sum())


@register_proxy("tenas", needs=(GRADIENTS,), gaussian_init=False)
def tenas(model: nn.Module, request: ProxyRequest, *, region_samples: int = 512) -> dict[str, float]:
    """TE-NAS: minus the NTK condition number (higher is better), plus the linear-region count."""
    model.train()
    cond = ntk_condition_number(model, request.batch())
    regions = linear_regions(model, request, region_samples)
    return {"score": -cond if math.isfinite(cond) else -math.inf, "ntk_condition": cond, "linear_regions": float(regions)}
