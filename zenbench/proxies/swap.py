"""SWAP (Peng et al., ICLR 2024): sample-wise activation patterns, regularised by model size.

Protocol, as the authors' code computes it (``pym1024/SWAP``, ``src/metrics/swap.py`` and
``correlation.py``): conv/linear weights N(0, 1), BN weight 1 and bias 0 (``gaussian_init``);
the network in train mode; one batch of 16 inputs; one forward pass. A forward hook on every
``nn.ReLU`` whose input is a 4-D feature map records the sign of its output, per sample, so each
post-ReLU neuron has a binary pattern over the batch (its "sample-wise activation pattern");
SWAP is the number of *distinct* patterns over all those neurons. The regularised SWAP-Score
multiplies it by ``f(Θ) = exp(−(Θ − μ)² / σ)``, Θ the parameter count in thousands (the authors'
``count_parameters`` divides by 1e3, auxiliary heads excluded).

``score`` is the natural log of the regularised SWAP-Score, ``log(SWAP) − (Θ − μ)² / σ``: the
same ranking as the product, without the underflow of ``exp`` far from μ (a 100M-parameter
network against an NB201-sized μ). ``mu``/``sigma`` are options in thousands of parameters;
``sigma=math.inf`` is the unregularised SWAP-Score. The defaults are chosen for NAS-Bench-201
(the paper's headline figure); how they were chosen is in ``docs/proxies.md``. ``nn.ReLU6``
counts as a ReLU (its sign pattern is the ReLU's). A module with no ReLU layers is an error.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from zenbench.errors import ProxyRequirementError
from zenbench.proxies.base import FORWARD, ProxyRequest, register_proxy

#: μ and σ of the regulariser for NAS-Bench-201, in thousands of parameters (see docs/proxies.md)
DEFAULT_MU = 1000.0
DEFAULT_SIGMA = 3.0e6
_WORD = 52  # pattern bits per word beyond 24 samples: float64 sums are exact below 2^53
BITMAP_BATCH = 20  # up to this batch, distinct patterns are marked in a 2^batch bitmap


def pack_patterns(active: torch.Tensor) -> torch.Tensor:
    """(batch, neurons) booleans -> (neurons, words) int64 codes, one row per neuron's pattern over the batch.

    A word is a weighted sum of up to 24 samples' bits as one float32 matrix product (exact below 2^24),
    or up to 52 in float64 (exact below 2^53)."""
    words = []
    dtype, width = (torch.float32, 24) if active.shape[0] <= 24 else (torch.float64, _WORD)
    for chunk in active.split(width, dim=0):
        weights = torch.pow(2.0, torch.arange(chunk.shape[0], dtype=dtype, device=chunk.device))
        words.append((weights @ chunk.to(dtype)).to(torch.int64))
    return torch.stack(words, dim=1)


def distinct_rows(codes: torch.Tensor) -> torch.Tensor:
    """The distinct rows of a (n, words) code matrix."""
    if codes.shape[1] == 1:
        return torch.unique(codes[:, 0]).unsqueeze(1)
    return torch.unique(codes, dim=0)


class PatternCounter:
    """Accumulates the distinct activation patterns seen by ReLU hooks (at most 2^batch of them).

    Up to ``BITMAP_BATCH`` samples a pattern is an index into a presence bitmap (linear time);
    beyond, each hook's distinct codes are merged by sorting."""

    def __init__(self) -> None:
        self.seen: torch.Tensor | None = None
        self.bitmap: torch.Tensor | None = None
        self.layers = 0

    def add(self, output: torch.Tensor) -> None:
        active = (output.detach() > 0).reshape(output.shape[0], -1)  # sign of a ReLU output: 0 or 1
        codes = pack_patterns(active)
        self.layers += 1
        if active.shape[0] <= BITMAP_BATCH:
            if self.bitmap is None:
                self.bitmap = torch.zeros(1 << active.shape[0], dtype=torch.bool, device=codes.device)
            self.bitmap[codes[:, 0]] = True
            return
        found = distinct_rows(codes)
        self.seen = found if self.seen is None else distinct_rows(torch.cat([self.seen, found]))

    @property
    def count(self) -> int:
        if self.bitmap is not None:
            return int(self.bitmap.sum())
        return 0 if self.seen is None else int(self.seen.shape[0])


def thousands_of_parameters(model: nn.Module) -> float:
    """Θ as the authors count it: every named parameter outside an ``auxiliary`` head, in thousands."""
    return sum(p.numel() for name, p in model.named_parameters() if "auxiliary" not in name) / 1e3


def log_regulariser(params_k: float, mu: float, sigma: float) -> float:
    """log f(Θ) = −(Θ − μ)² / σ; 0 for σ = inf (no regularisation)."""
    if math.isinf(sigma):
        return 0.0
    if sigma <= 0:
        raise ProxyRequirementError(f"SWAP's sigma must be positive, got {sigma}; pass sigma > 0 (or inf for none)")
    return -((params_k - mu) ** 2) / sigma


@register_proxy("swap", needs=(FORWARD,), gaussian_init=True)
def swap(model: nn.Module, request: ProxyRequest, *, mu: float = DEFAULT_MU,
         sigma: float = DEFAULT_SIGMA) -> dict[str, float]:
    """SWAP: log of the distinct post-ReLU sample-wise activation patterns of one batch, size-regularised."""
    counter = PatternCounter()

    def record(_module: nn.Module, args: tuple, output: object) -> None:
        if args and isinstance(args[0], torch.Tensor) and args[0].dim() == 4 and isinstance(output, torch.Tensor):
            counter.add(output)

    relus = [m for m in model.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]
    if not relus:
        raise ProxyRequirementError("SWAP counts patterns of nn.ReLU layers and this module has none; "
                                    "use a network with nn.ReLU modules or another proxy (e.g. meco)")
    hooks = [m.register_forward_hook(record) for m in relus]
    try:
        model.train()
        with torch.no_grad():
            model(request.batch())
    finally:
        for hook in hooks:
            hook.remove()
    params_k = thousands_of_parameters(model)
    log_f = log_regulariser(params_k, mu, sigma)
    patterns = counter.count
    log_swap = math.log(patterns) if patterns > 0 else -math.inf
    return {"score": log_swap + log_f, "patterns": float(patterns), "log_regulariser": log_f,
            "params_k": params_k, "relu_layers": float(counter.layers)}
