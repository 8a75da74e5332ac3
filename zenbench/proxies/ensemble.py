"""An ensemble of three cheap data-free proxies: MeCo, SynFlow and the parameter count.

Why these three: each is data-free and label-free, together they cost about one Zen-Score
(one one-image forward for MeCo, one float64 forward/backward for SynFlow, a count), and they
read different things (channel correlation at init, gradient flow, size). They are computed
exactly as their own proxies compute them (same weights, same input stream), so the ensemble's
components equal the ``meco``, ``synflow`` and ``params`` scores of the same seed.

Two ways to combine them, both reported by the benchmark:

* **over a set** (the benchmark's ``ensemble`` row): Σ over components of log(rank / N), ranks
  over the N scored networks, as AZ-NAS aggregates its own components
  (:func:`zenbench.proxies.az_nas.rank_aggregate`). Scale-free, but it needs the whole set.
* **one network at a time** (``score``, the benchmark's ``ensemble.standalone`` row, what a
  search sees): Σ over components of log(component), the log of their product. Multiplying a
  component by a constant shifts every network's score alike, so no unit or normalisation is
  assumed; but a component that spans more orders of magnitude weighs more.

A component ≤ 0 (MeCo of a network whose feature maps are all constant) gives −inf: it ranks last.
"""

from __future__ import annotations

import math

from torch import nn

from zenbench.proxies.base import GRADIENTS, ProxyRequest, register_proxy
from zenbench.proxies.meco import meco
from zenbench.proxies.params import params
from zenbench.proxies.synflow import synflow

#: the per-network components, in the order they are reported
COMPONENTS = ("meco", "synflow", "params")


def log_product(values: dict[str, float]) -> float:
    """Σ log(value) over the components; −inf when any is ≤ 0 or not finite."""
    total = 0.0
    for value in values.values():
        if not (value > 0 and math.isfinite(value)):
            return -math.inf
        total += math.log(value)
    return total


@register_proxy("ensemble", needs=(GRADIENTS,), gaussian_init=False, components=COMPONENTS)
def ensemble(model: nn.Module, request: ProxyRequest) -> dict[str, float]:
    """Ensemble: log(MeCo × SynFlow × params) per network; rank-aggregated over a set by the benchmark."""
    values = {
        "meco": meco(model, request)["score"],  # first: it draws the input stream exactly as `meco` alone does
        "synflow": synflow(model, request)["score"],  # on a copy: the model's weights are untouched
        "params": params(model, request)["score"],
    }
    return {"score": log_product(values), **values}
