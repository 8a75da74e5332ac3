"""SNIP (Lee et al., 2019) as a zero-cost proxy (Abdelfattah et al., 2021)."""

from __future__ import annotations

import torch
from torch import nn

from zenbench.proxies.base import GRADIENTS, LABELS, ProxyRequest, finite, register_proxy
from zenbench.proxies.gradients import backward_on_random_labels, weighted_layers


@register_proxy("snip", needs=(GRADIENTS, LABELS), gaussian_init=False)
def snip(model: nn.Module, request: ProxyRequest) -> dict[str, float]:
    """SNIP saliency: Σ |θ ⊙ ∂L/∂θ| over conv and linear weights, PyTorch's default init."""
    backward_on_random_labels(model, request)
    with torch.no_grad():
        total = sum(float((m.weight.grad * m.weight).abs().double().sum())
                    for m in weighted_layers(model) if m.weight.grad is not None)
    return {"score": finite(total)}
