"""Jacobian covariance (Mellor et al., 2020 v1; zero-cost-nas ``jacob_cov``)."""

from __future__ import annotations

import math

import numpy as np
from torch import nn

from zenbench.proxies.base import GRADIENTS, ProxyRequest, finite, register_proxy


@register_proxy("jacov", needs=(GRADIENTS,), gaussian_init=False)
def jacov(model: nn.Module, request: ProxyRequest) -> dict[str, float]:
    """Jacobian covariance: -Σ (log(λ+k) + 1/(λ+k)) over eigenvalues λ of the input-Jacobian correlation."""
    model.train()
    model.zero_grad(set_to_none=True)
    x = request.batch().requires_grad_(True)
    out = model(x).sum()
    if not out.requires_grad:  # the output does not depend on the input (e.g. a cell with no live path)
        return {"score": -math.inf}
    out.backward()
    if x.grad is None:
        return {"score": -math.inf}
    jacobian = x.grad.reshape(x.shape[0], -1).double().cpu().numpy()
    corr = np.nan_to_num(np.corrcoef(jacobian), nan=0.0)
    eigenvalues = np.linalg.eigvalsh(corr)
    k = 1e-5
    return {"score": finite(float(-np.sum(np.log(eigenvalues + k) + 1.0 / (eigenvalues + k))))}
