"""NASWOT (Mellor et al., 2021): how differently the ReLUs split a batch of random inputs."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from zenbench.errors import ProxyRequirementError
from zenbench.proxies.base import FORWARD, ProxyRequest, finite, register_proxy


@register_proxy("naswot", needs=(FORWARD,))
def naswot(model: nn.Module, request: ProxyRequest) -> dict[str, float]:
    """NASWOT: log|det K| of the Hamming-similarity kernel of the binary ReLU codes of a batch."""
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise ProxyRequirementError("NASWOT needs nn.ReLU modules to read activation codes; this module has none")
    batch = request.batch_size
    kernel = torch.zeros(batch, batch, dtype=torch.float64)

    def record(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        codes = (args[0].detach().reshape(batch, -1) > 0).double()
        kernel.add_(codes @ codes.T + (1 - codes) @ (1 - codes).T)

    # a pre-hook sees the input before an in-place ReLU overwrites it
    hooks = [m.register_forward_pre_hook(record) for m in relus]
    try:
        model.train()
        with torch.inference_mode():
            model(request.batch())
    finally:
        for hook in hooks:
            hook.remove()
    _sign, logdet = np.linalg.slogdet(kernel.numpy())
    return {"score": finite(float(logdet))}
