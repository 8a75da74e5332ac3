"""Zero-shot proxies: one registry, one entry point.

``score(network, proxy="zen", ...)`` scores a structure string, a zoo name, a ``NetworkSpec``
or any ``nn.Module``. Structures are built as the Zen-NAS search scores them: residual links
off, SE off, BN on. A module passed in is deep-copied first, so its weights are never touched.
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from zenbench.errors import ProxyRequirementError, SettingError
from zenbench.proxies import (  # noqa: F401 (register)
    az_nas,
    ensemble,
    entropy,
    flops,
    grad_norm,
    jacov,
    meco,
    naswot,
    params,
    snip,
    swap,
    synflow,
    tenas,
    zen,
    zico,
)
from zenbench.proxies.base import (
    ANALYTIC,
    PROXIES,
    FeatureFn,
    Proxy,
    ProxyRequest,
    default_init,
    gaussian_init,
    reset_bn_statistics,
    seeded_generators,
)
from zenbench.space.allocation import check_allocation
from zenbench.space.limits import Limits
from zenbench.space.network import ZenNet, build_model
from zenbench.space.spec import NetworkSpec


@dataclass(frozen=True)
class ScoreResult:
    """A proxy's value over ``repeat`` draws: mean, spread, the raw values and extra fields."""

    proxy: str
    mean: float
    std: float
    #: half-width of the 95 % interval of the mean, Student-t over the repeats (:func:`t_interval95`); 0 for one
    ci95: float
    values: tuple[float, ...]
    extras: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    higher_is_better: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"proxy": self.proxy, "mean": self.mean, "std": self.std, "ci95": self.ci95, "values": list(self.values),
                "extras": self.extras, "seconds": self.seconds, "higher_is_better": self.higher_is_better}


def t_interval95(values: list[float] | tuple[float, ...]) -> float:
    """Half-width of the 95 % confidence interval of the mean of ``values``: t(0.975, n-1) · s / √n with the
    sample standard deviation s. A handful of repeats is the usual case here, where the normal 1.96 would
    claim far more certainty than n values give (n = 3: t = 4.30). 0.0 for fewer than two values."""
    n = len(values)
    if n < 2:
        return 0.0
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1) * statistics.stdev(values) / math.sqrt(n))


def _check_settings(batch_size: int, repeat: int) -> None:
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise SettingError(f"batch_size must be a whole number of at least 1, got {batch_size!r}; pass --batch-size 1 "
                           f"or more (64 is the Zen-NAS setting)")
    if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
        raise SettingError(f"repeat must be a whole number of at least 1, got {repeat!r}; pass --repeat 1 or more")


def list_proxies(pattern: str = "*") -> list[str]:
    return PROXIES.names(pattern)


def get_proxy(name: str) -> Proxy:
    return PROXIES.get(name)


def build_for_scoring(spec: NetworkSpec, num_classes: int, *, residual: bool = False,
                      device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                      memory_format: torch.memory_format = torch.contiguous_format) -> ZenNet:
    """The network as the search scores it, with *uninitialised* weights: every proxy draws its own
    (``gaussian_init`` or ``default_init``), so PyTorch's init at construction would be wasted work,
    a large share of the cost of scoring a wide network."""
    with torch.device("meta"):
        model = build_model(spec, num_classes, residual=residual, se=False)
    model = model.to_empty(device=device)
    reset_bn_statistics(model)
    return model.to(dtype=dtype, memory_format=memory_format)


def score(network: nn.Module | NetworkSpec | str, proxy: str = "zen", *, input_shape: tuple[int, int, int] | None = None,
          resolution: int | None = None, batch_size: int = 64, repeat: int = 1, seed: int = 0,
          num_classes: int | None = None, dtype: torch.dtype = torch.float32,
          device: str | torch.device = "cpu",
          feature_fn: FeatureFn | None = None, channels_last: bool | None = None, data: torch.Tensor | None = None,
          limits: Limits | None = None, **options: Any) -> ScoreResult:
    """Score a network with a registered proxy; ``options`` go to the proxy (e.g. ``gamma``, ``protocol`` for zen).

    With ``repeat > 1`` weights and inputs are redrawn each time on the same network (BN running
    statistics accumulate, as in the official stand-alone script); the result reports mean, std
    and the 95 % interval. ``data`` (N, C, H, W) replaces Gaussian inputs where a proxy reads data
    (the published zero-cost figures used a batch of real training images). Proxies declared with
    PyTorch's default init re-draw it per repeat on a
    structure, but keep a given module's own weights. ``channels_last`` defaults to on for structures (measured 1.5-2x faster
    on CPU for small-resolution and depth-wise networks, same values) and off for modules.

    A structure is checked against ``limits`` (``zenbench.space.limits.Limits``: channels, parameters,
    activation memory for the batch at the resolution) before any module or input is made; a
    ``batch_size`` or ``repeat`` below 1 is a :class:`SettingError`.
    """
    _check_settings(batch_size, repeat)
    chosen = PROXIES.get(proxy)
    device = torch.device(device)
    if channels_last is None:
        channels_last = not isinstance(network, nn.Module)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    spec: NetworkSpec | None = None
    if isinstance(network, nn.Module):
        if input_shape is None:
            raise ProxyRequirementError("scoring an nn.Module needs input_shape=(channels, height, width)")
        model = copy.deepcopy(network).to(device=device, dtype=dtype, memory_format=memory_format)
        classes = num_classes or 0
    else:
        from zenbench.models import resolve_network

        resolved = resolve_network(network)
        spec = resolved.spec
        res = resolution if resolution is not None else (input_shape[1] if input_shape else resolved.resolution)
        input_shape = input_shape or (spec.in_channels, res, res)
        classes = resolved.num_classes if num_classes is None else num_classes
        # before anything is built or allocated (an analytic proxy allocates no batch, only counts)
        check_allocation(spec, input_shape[1], 1 if ANALYTIC in chosen.needs else batch_size, limits,
                         num_classes=classes, residual=False, se=False)
        if ANALYTIC in chosen.needs:
            with torch.device("meta"):  # analytic proxies never touch weights: do not allocate any
                model = build_model(spec, classes, residual=False, se=False)
        else:
            model = build_for_scoring(spec, classes, device=device, dtype=dtype, memory_format=memory_format)
    weight_generator, input_generator = seeded_generators(seed, device)
    request = ProxyRequest(input_shape=tuple(input_shape), batch_size=batch_size, num_classes=classes,
                           generator=input_generator, dtype=dtype, device=device, feature_fn=feature_fn, spec=spec,
                           memory_format=memory_format, data=data)
    values: list[float] = []
    extras: dict[str, list[float]] = {}
    start = time.perf_counter()
    for _ in range(1 if ANALYTIC in chosen.needs else repeat):
        if chosen.gaussian_init:
            gaussian_init(model, weight_generator)
        elif spec is not None:  # a module handed in keeps its own weights for default-init proxies
            default_init(model, weight_generator)
        out = chosen(model, request, **options)
        values.append(out["score"])
        for key, value in out.items():
            if key != "score":
                extras.setdefault(key, []).append(value)
    seconds = time.perf_counter() - start
    mean = statistics.fmean(values)
    finite = all(math.isfinite(v) for v in values)  # a degenerate draw (-inf) leaves the spread undefined
    std = statistics.pstdev(values) if len(values) > 1 and finite else 0.0 if finite else math.nan
    return ScoreResult(proxy=proxy, mean=mean, std=std, ci95=t_interval95(values) if finite else math.nan,
                       values=tuple(values),
                       extras={k: statistics.fmean(v) for k, v in extras.items()}, seconds=seconds,
                       higher_is_better=chosen.higher_is_better)


__all__ = ["PROXIES", "ProxyRequest", "ScoreResult", "build_for_scoring", "get_proxy", "list_proxies", "score",
           "t_interval95"]
