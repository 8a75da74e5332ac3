"""Zen-Score (Lin et al., ICCV 2021), as the official code computes it during search.

Protocol ``"official"`` (the default; ``ZeroShotProxy/compute_zen_score.py`` as called by
``evolution_search.py``):

1. the network is built without residual links (no projection convs) and without SE, BN kept
   (eps 1e-3, momentum 0.1) and in *train* mode, with fresh running statistics;
2. Conv/Linear weights are drawn from N(0, 1), BN weight 1 and bias 0;
3. x1, x2 ~ N(0, 1) of shape (batch, 3, res, res); Δ = mean over the batch of the **L1 norm**
   ``Σ_{c,h,w} |f(x1) − f(x1 + γ·x2)|`` of the pre-GAP feature map, γ = 1e-2;
4. score = log Δ + Σ over every BN layer of log √(mean over channels of its ``running_var``)
   after the two forward passes, i.e. ``0.81 + 0.09·var(x1-pass) + 0.1·var(mixed pass)`` with
   the unbiased batch variance.

Where the official code differs from the paper's text, and what ``protocol="paper"`` does
instead: the paper writes Δ with the Frobenius norm ``‖f(x1) − f(x1 + γ·x2)‖_F``, and σ_i as the
mini-batch standard deviation of BN layer i (here: of the x1 pass, biased, averaged over
channels as the square root of the mean variance); the code uses the L1 norm and the BN layers'
``running_var`` after both passes. With ``repeat > 1`` the official stand-alone script redraws
weights and inputs but never resets the running statistics, so they accumulate across repeats;
the search calls it with ``repeat=1`` on a freshly built network. zenbench resets the statistics
before every draw by default, so each repeat is an independent sample of exactly what the search
computes; ``fresh_bn_stats=False`` reproduces the stand-alone script's accumulation. The
``"paper"`` protocol does not read the running statistics at all.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from zenbench.errors import ProxyRequirementError
from zenbench.proxies.base import FORWARD, ProxyRequest, batch_norms, finite, register_proxy, reset_bn_statistics

PROTOCOLS = ("official", "paper")


@register_proxy("zen", needs=(FORWARD,))
def zen_score(model: nn.Module, request: ProxyRequest, *, gamma: float = 1e-2, protocol: str = "official",
              fresh_bn_stats: bool = True) -> dict[str, float]:
    """Zen-Score: log of the feature-map change under a small input perturbation, BN-rescaled."""
    if protocol not in PROTOCOLS:
        raise ProxyRequirementError(f"unknown Zen-Score protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    bns = batch_norms(model)
    if not bns:
        raise ProxyRequirementError(
            "Zen-Score needs BatchNorm layers: its rescaling term sums log σ over them. This module has none; "
            "build it with BN (bn=True) or use another proxy (e.g. synflow, naswot)."
        )
    if fresh_bn_stats:
        reset_bn_statistics(model)
    model.train()
    x1 = request.batch()  # Gaussian unless the user supplied images
    x2 = request.randn()
    mixed = x1 + gamma * x2
    captured: list[torch.Tensor] = []
    hooks = []
    if protocol == "paper":
        hooks = [bn.register_forward_pre_hook(lambda _m, args: captured.append(_channel_variance(args[0])))
                 for bn in bns]
    with torch.inference_mode():
        f1 = request.features(model, x1)
        for hook in hooks:
            hook.remove()
        f2 = request.features(model, mixed)
        diff = (f1 - f2).flatten(1).float()
        if protocol == "official":
            delta = diff.abs().sum(dim=1).mean()
            bn_term = sum(0.5 * math.log(bn.running_var.float().mean().item()) for bn in bns)
        else:
            delta = diff.norm(dim=1).mean()
            bn_term = sum(0.5 * math.log(v.mean().item()) for v in captured)
    return {"score": finite(math.log(delta.item()) + bn_term) if delta.item() > 0 else -math.inf,
            "log_delta": math.log(delta.item()) if delta.item() > 0 else -math.inf,
            "log_bn_scale": bn_term}


def _channel_variance(x: torch.Tensor) -> torch.Tensor:
    """Per-channel biased batch variance, what train-mode BN normalises with."""
    dims = [d for d in range(x.dim()) if d != 1]
    return x.float().var(dim=dims, unbiased=False)
