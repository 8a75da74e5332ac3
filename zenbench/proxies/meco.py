"""MeCo (Jiang et al., NeurIPS 2023): minimum eigenvalue of the channel correlation of feature maps.

Protocol, as the authors' code computes it (``correlation/NAS_Bench_201.py``): one input image
(batch of one), PyTorch's default initialisation, the network in train mode, one forward pass.
A forward hook on *every* module reads the first sample of the module's output, a (C, H, W)
map; the C x C Pearson correlation matrix of its channels (each channel's H·W values a variable)
has NaN/inf entries set to 0 (a constant channel, e.g. the all-zero ``none`` op); its smallest
eigenvalue is taken; the score is the sum over modules (NaN and inf terms dropped).

Outputs that are not 4-D feature maps (logits, pooled vectors) contribute the degenerate
matrices of the original code (a 0 or a constant) and are skipped here. The input is a
Gaussian image at the network's resolution unless the user passes images (``data``): the
authors' NB201 script read one training image, their ``zero-cost-nas`` measure a 64x64 Gaussian.
"""

from __future__ import annotations

import torch
from torch import nn

from zenbench.proxies.base import FORWARD, ProxyRequest, register_proxy


def min_correlation_eigenvalue(feature: torch.Tensor) -> float:
    """Smallest eigenvalue of the channel x channel Pearson correlation of one (C, H, W) map, NaN/inf set to 0."""
    rows = feature.reshape(feature.shape[0], -1).double()
    if rows.shape[0] < 2:
        return float("nan")
    if rows.shape[1] < 2:  # a 1x1 map: every correlation is NaN, set to 0 as the authors' code does: eigenvalue 0
        return 0.0
    corr = torch.corrcoef(rows)
    corr = torch.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0)
    return float(torch.linalg.eigvalsh(corr)[0])


@register_proxy("meco", needs=(FORWARD,), gaussian_init=False)
def meco(model: nn.Module, request: ProxyRequest) -> dict[str, float]:
    """MeCo: Σ over modules of the minimum eigenvalue of the channel correlation of the output, one input."""
    values: list[float] = []

    def record(_module: nn.Module, _args: tuple, output: object) -> None:
        out = output[0] if isinstance(output, (tuple, list)) and output else output
        if isinstance(out, torch.Tensor) and out.dim() == 4:
            value = min_correlation_eigenvalue(out[0].detach())
            if value == value and abs(value) != float("inf"):
                values.append(value)

    hooks = [m.register_forward_hook(record) for m in model.modules()]
    try:
        model.train()
        with torch.no_grad():
            model(request.randn(1) if request.data is None else request.batch()[:1])
    finally:
        for hook in hooks:
            hook.remove()
    return {"score": float(sum(values)), "layers": float(len(values))}
