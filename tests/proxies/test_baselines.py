"""Every proxy runs on zoo networks and on hand-built modules, and declares what it needs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from zenbench import get_zoo_model, list_models
from zenbench.proxies import get_proxy, list_proxies, score

EXPECTED = {"zen", "grad_norm", "synflow", "naswot", "tenas", "jacov", "snip", "flops", "params", "entropy"}


def small_kwargs(name: str) -> dict:
    return {"batch_size": 4, "region_samples": 64} if name == "tenas" else {"batch_size": 8}


def test_registry_has_the_papers_baselines() -> None:
    assert EXPECTED <= set(list_proxies())
    for name in list_proxies():
        proxy = get_proxy(name)
        assert proxy.needs and proxy.description and isinstance(proxy.higher_is_better, bool)


def hand_built() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_proxy_runs_on_a_hand_built_sequential(name: str) -> None:
    result = score(hand_built(), name, input_shape=(3, 16, 16), num_classes=10, **small_kwargs(name))
    assert math.isfinite(result.mean), result


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_proxy_runs_on_a_cifar_and_a_depthwise_zoo_model(name: str) -> None:
    for model in ("zennet_cifar10_model_size05M_res32", "zennet_imagenet1k_flops400M_SE_res224"):
        result = score(model, name, resolution=32, **small_kwargs(name))
        assert math.isfinite(result.mean), (model, result)


@pytest.mark.slow
@pytest.mark.parametrize("model", list_models())
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_proxy_on_every_zoo_model_at_its_resolution(name: str, model: str) -> None:
    result = score(model, name, resolution=get_zoo_model(model).resolution, **small_kwargs(name))
    assert math.isfinite(result.mean), result


def test_analytic_proxies_match_the_counts_and_allocate_nothing() -> None:
    zoo = get_zoo_model("zennet_imagenet1k_latency12ms_res224")  # 180M params: would be slow to allocate
    flops = score(zoo.name, "flops")
    assert flops.mean == zoo.spec.counts(224, 1000, residual=False).macs
    assert flops.seconds < 5
    assert score(zoo.name, "entropy").mean > score("zennet_imagenet1k_latency01ms_res224", "entropy").mean


def test_flops_of_a_module_uses_torchs_counter() -> None:
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    assert score(conv, "flops", input_shape=(3, 10, 10)).mean == 3 * 8 * 9 * 100


def test_synflow_ignores_batch_norm_and_is_data_independent() -> None:
    net = hand_built()
    a = score(net, "synflow", input_shape=(3, 16, 16), seed=0).mean
    b = score(net.eval(), "synflow", input_shape=(3, 16, 16), seed=99).mean
    assert a == b  # same weights, BN removed, all-ones input: nothing random is left


def test_tenas_reports_condition_number_and_linear_regions() -> None:
    result = score("zennet_cifar10_model_size05M_res32", "tenas", resolution=16, batch_size=4)
    assert result.mean == pytest.approx(-result.extras["ntk_condition"])
    assert result.extras["ntk_condition"] >= 1 and result.extras["linear_regions"] >= 1


def test_naswot_kernel_grows_with_distinct_codes() -> None:
    """A network whose ReLUs see the same codes for every input has a singular kernel: -inf."""
    class Constant(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.ones_like(x)

    dead = nn.Sequential(nn.Conv2d(3, 4, 1), Constant(), nn.ReLU())
    assert score(dead, "naswot", input_shape=(3, 4, 4), batch_size=4).mean == -math.inf
    assert math.isfinite(score(hand_built(), "naswot", input_shape=(3, 16, 16), batch_size=8).mean)
