"""GradNorm: the L2 norm of all parameter gradients of a random-label cross-entropy loss."""

from __future__ import annotations

import math

from torch import nn

from zenbench.proxies.base import GRADIENTS, LABELS, ProxyRequest, finite, register_proxy
from zenbench.proxies.gradients import backward_on_random_labels


@register_proxy("grad_norm", needs=(GRADIENTS, LABELS))
def grad_norm(model: nn.Module, request: ProxyRequest) -> dict[str, float]:
    """Gradient norm: sqrt(Σ‖∂L/∂θ‖²) over all parameters (the Zen-NAS code's GradNorm)."""
    backward_on_random_labels(model, request)
    total = sum(float(p.grad.double().pow(2).sum()) for p in model.parameters() if p.grad is not None)
    return {"score": finite(math.sqrt(total))}
