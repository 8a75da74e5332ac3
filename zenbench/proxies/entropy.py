"""A forward-free expressivity score in the spirit of MAE-DET / DeepMAD, for very fast screening.

Treating the network as a multi-layer perceptron of its convolutions, the entropy of the final
feature map grows with Σ log(c_i · k_i² / g_i) over the main-path convolutions (c_i output
channels, k_i kernel, g_i groups); residual links do not count. It needs no forward pass and
no weights, so it costs microseconds per structure.
"""

from __future__ import annotations

import math

from torch import nn

from zenbench.proxies.base import ANALYTIC, ProxyRequest, register_proxy
from zenbench.space.units import Conv


@register_proxy("entropy", needs=(ANALYTIC,), gaussian_init=False)
def entropy(model: nn.Module, request: ProxyRequest) -> dict[str, float]:
    """Analytic entropy: Σ log(c·k²/g) over main-path convolutions, no forward pass."""
    if request.spec is not None:
        convs = [(c.out_channels, c.kernel, c.groups) for u in request.spec.units() for c in u.layers
                 if isinstance(c, Conv)]
    else:
        shortcut_convs = {id(m) for unit in model.modules() if isinstance(getattr(unit, "shortcut", None), nn.Module)
                          for m in unit.shortcut.modules()}
        convs = [(m.out_channels, m.kernel_size[0], m.groups) for m in model.modules()
                 if isinstance(m, nn.Conv2d) and id(m) not in shortcut_convs]
    return {"score": sum(math.log(c * k * k / g) for c, k, g in convs)}
