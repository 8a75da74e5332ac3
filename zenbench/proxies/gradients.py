"""Shared pieces of the gradient-based proxies: a labelled random batch and one backward pass."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zenbench.proxies.base import ProxyRequest


def backward_on_random_labels(model: nn.Module, request: ProxyRequest) -> torch.Tensor:
    """Cross-entropy of the logits on random inputs and random labels, back-propagated; returns the loss."""
    model.train()
    model.zero_grad(set_to_none=True)
    x = request.batch()
    logits = model(x)
    if logits.dim() != 2:
        raise ValueError(f"expected (batch, classes) logits, got shape {tuple(logits.shape)}")
    labels = torch.randint(0, logits.shape[1], (x.shape[0],), generator=request.generator, device=x.device)
    loss = F.cross_entropy(logits.float(), labels)
    loss.backward()
    return loss


def weighted_layers(model: nn.Module) -> list[nn.Module]:
    """The conv and linear layers, whose weights the pruning-style proxies score."""
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
