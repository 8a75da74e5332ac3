"""Parameter count as a proxy."""

from __future__ import annotations

from torch import nn

from zenbench.proxies.base import ANALYTIC, ProxyRequest, register_proxy


@register_proxy("params", needs=(ANALYTIC,), gaussian_init=False)
def params(model: nn.Module, request: ProxyRequest) -> dict[str, float]:
    """Params: number of trainable parameters."""
    return {"score": float(sum(p.numel() for p in model.parameters()))}
