"""ZiCo (Li et al., ICLR 2023): inverse coefficient of variation of the weight gradients over batches.

Protocol, as the authors' code computes it (``SLDGroup/ZiCo``, ``ZeroShotProxy/compute_zico.py``;
AZ-NAS's NB201 port ``compute_zico_score.py`` runs it on two batches of 64): the network in train
mode with its own (PyTorch default) initialisation; for each of ``batches`` (two or more) batches,
a cross-entropy loss on labelled inputs is back-propagated and the gradient of every Conv2d and
Linear weight recorded. Per layer, over the batches, each weight's mean absolute gradient and its
standard deviation (population, as ``np.std``) are taken; over the weights whose deviation is not
zero, ``Σ mean|g| / std(g)`` is summed; the score is the sum over layers of the natural log of that
sum (a layer whose sum is 0 is skipped).

ZiCo needs labels. With ``data`` the batches are random draws of the user's images; without, they
are Gaussian noise. The labels are always random classes (``data`` carries images only): on noise
that is all there is, and the published figures (real CIFAR images and labels) are not what this
measures without real data. Gradients are kept in float32 per batch, as the authors' numpy arrays.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from zenbench.errors import ProxyRequirementError
from zenbench.proxies.base import GRADIENTS, LABELS, ProxyRequest, finite, register_proxy
from zenbench.proxies.gradients import weighted_layers


def layer_zico(gradients: torch.Tensor) -> float | None:
    """log Σ mean|g| / std(g) over the weights of one layer whose std is non-zero; None when that sum is 0.

    ``gradients`` is (batches, weights)."""
    g = gradients.double()
    std = g.std(dim=0, unbiased=False)
    keep = std != 0
    total = float((g.abs().mean(dim=0)[keep] / std[keep]).sum())
    return math.log(total) if total > 0 else None


def gradient_batches(model: nn.Module, request: ProxyRequest, batches: int) -> list[list[torch.Tensor]]:
    """Per layer, the flattened weight gradient of each batch's cross-entropy on random labels."""
    layers = weighted_layers(model)
    recorded: list[list[torch.Tensor]] = [[] for _ in layers]
    model.train()
    for _ in range(batches):
        model.zero_grad(set_to_none=True)
        x = request.batch()
        with torch.enable_grad():
            logits = model(x)
            if logits.dim() != 2:
                raise ProxyRequirementError(f"ZiCo needs (batch, classes) logits, got shape {tuple(logits.shape)}; "
                                            f"score a classifier (a module whose forward returns logits)")
            labels = torch.randint(0, logits.shape[1], (x.shape[0],), generator=request.generator, device=x.device)
            F.cross_entropy(logits.float(), labels).backward()
        for slot, layer in zip(recorded, layers, strict=True):
            if layer.weight.grad is not None:
                slot.append(layer.weight.grad.detach().reshape(-1).float().clone())
    return recorded


@register_proxy("zico", needs=(GRADIENTS, LABELS), gaussian_init=False)
def zico(model: nn.Module, request: ProxyRequest, *, batches: int = 2) -> dict[str, float]:
    """ZiCo: Σ over layers of log Σ mean|∂L/∂θ| / std(∂L/∂θ) across batches (random labels without --data)."""
    if not isinstance(batches, int) or batches < 2:
        raise ProxyRequirementError(f"ZiCo compares gradients across batches: batches must be 2 or more, got "
                                    f"{batches!r}; pass batches=2 (the authors' setting)")
    total = 0.0
    counted = 0
    for grads in gradient_batches(model, request, batches):
        if len(grads) < batches:  # a layer the loss never reached (e.g. behind a `none` edge)
            continue
        value = layer_zico(torch.stack(grads))
        if value is not None:
            total += value
            counted += 1
    model.zero_grad(set_to_none=True)
    return {"score": finite(total) if counted else -math.inf, "layers": float(counted)}
