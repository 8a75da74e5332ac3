"""FLOPs (multiply-accumulates) as a proxy: the trivial baseline every zero-shot paper reports."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from zenbench.proxies.base import ANALYTIC, ProxyRequest, register_proxy


@register_proxy("flops", needs=(ANALYTIC,), gaussian_init=False)
def flops(model: nn.Module, request: ProxyRequest) -> dict[str, float]:
    """FLOPs: multiply-accumulates of one image (analytic for structures; torch's counter plus pooling for modules)."""
    if request.spec is not None:
        counts = request.spec.counts(request.input_shape[1], request.num_classes, residual=False)
        return {"score": float(counts.macs)}
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    model.eval()
    pooling = [0.0]

    def count_pool(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        kernel = module.kernel_size if isinstance(module.kernel_size, tuple) else (module.kernel_size,) * 2
        pooling[0] += output.numel() * kernel[0] * kernel[1]

    # torch's counter skips pooling; NAS-Bench-201's counter (and so its published FLOPs figures) charges a
    # k x k pool k^2 per output element, which matters in a space where avg_pool_3x3 is an op
    hooks = [m.register_forward_hook(count_pool) for m in model.modules() if isinstance(m, (nn.AvgPool2d, nn.MaxPool2d))]
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(torch.zeros((1, *request.input_shape), dtype=request.dtype, device=device))
    finally:
        for hook in hooks:
            hook.remove()
    return {"score": counter.get_total_flops() / 2.0 + pooling[0]}
