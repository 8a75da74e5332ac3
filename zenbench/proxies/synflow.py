"""SynFlow (Tanaka et al., 2020) as a zero-cost proxy (Abdelfattah et al., 2021)."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from zenbench.proxies.base import GRADIENTS, ProxyRequest, register_proxy
from zenbench.proxies.gradients import weighted_layers


def without_batch_norm(model: nn.Module) -> nn.Module:
    """A copy with every BatchNorm replaced by identity (SynFlow is defined on the BN-free network)."""
    model = copy.deepcopy(model)
    for name, child in list(model.named_children()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(model, name, nn.Identity())
        else:
            setattr(model, name, without_batch_norm(child))
    return model


@register_proxy("synflow", needs=(GRADIENTS,), gaussian_init=False)
def synflow(model: nn.Module, request: ProxyRequest) -> dict[str, float]:
    """SynFlow: Σ |θ ⊙ ∂R/∂θ| with R the sum of outputs of the |θ| network on an all-ones input, in float64, BN off."""
    net = without_batch_norm(model).double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad(set_to_none=True)
    ones = torch.ones((1, *request.input_shape), dtype=torch.float64, device=request.device)
    net(ones).sum().backward()
    with torch.no_grad():
        total = sum(float((m.weight * m.weight.grad).abs().sum()) for m in weighted_layers(net)
                    if m.weight.grad is not None)
    return {"score": total, "log_score": math.log(total) if total > 0 else -math.inf}
