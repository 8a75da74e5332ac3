"""FLOPs (multiply-accumulates) as a proxy: the trivial baseline every zero-shot paper reports."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from zenbench.proxies.base import ANALYTIC, ProxyRequest, register_proxy


@register_proxy("flops", needs=(ANALYTIC,), gaussian_init=False)
def flops(model: nn.Module, request: ProxyRequest) -> dict[str, float]:
    """FLOPs: multiply-accumulates of one image (analytic for structures, torch's counter for modules)."""
    if request.spec is not None:
        counts = request.spec.counts(request.input_shape[1], request.num_classes, residual=False)
        return {"score": float(counts.macs)}
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros((1, *request.input_shape), dtype=request.dtype, device=device))
    return {"score": counter.get_total_flops() / 2.0}
