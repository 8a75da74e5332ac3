"""Zen-Score follows the official protocol exactly, in any memory layout, and fails clearly without BN."""

from __future__ import annotations

import math
import statistics

import pytest
import torch
from torch import nn

from zenbench.errors import ProxyRequirementError
from zenbench.proxies import score

SMALL = ("SuperConvK3BNRELU(3,16,1,1)SuperResK3K3(16,24,2,16,1)SuperResK1K5K1(24,32,2,16,2)"
         "SuperResIDWE2K3(32,40,1,24,1)SuperConvK1BNRELU(40,64,1,1)")


def official_by_hand(structure: str, resolution: int, batch: int, seed: int, gamma: float = 1e-2) -> float:
    """The protocol spelled out with explicit running-variance algebra instead of nn.BatchNorm2d's update."""
    from zenbench.proxies.base import gaussian_init, seeded_generators
    from zenbench.space.network import build_model

    weights, generator = seeded_generators(seed)
    model = build_model(structure, 10, residual=False, se=False).train()
    gaussian_init(model, weights)
    batch_vars: dict[nn.Module, list[torch.Tensor]] = {}
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        bn.register_forward_pre_hook(lambda m, a: batch_vars.setdefault(m, []).append(a[0].var(dim=(0, 2, 3), unbiased=True)))
    x1 = torch.randn(batch, 3, resolution, resolution, generator=generator)
    x2 = torch.randn(batch, 3, resolution, resolution, generator=generator)
    with torch.no_grad():
        delta = (model.forward_pre_gap(x1) - model.forward_pre_gap(x1 + gamma * x2)).abs().sum(dim=(1, 2, 3)).mean()
    # running_var starts at 1 and takes two momentum-0.1 updates with the unbiased batch variance
    bn_term = sum(math.log(math.sqrt(float((0.81 + 0.09 * v1 + 0.1 * v2).mean()))) for v1, v2 in batch_vars.values())
    return math.log(float(delta)) + bn_term


@pytest.mark.parametrize("channels_last", [False, True])
def test_zen_score_equals_the_protocol_by_hand(channels_last: bool) -> None:
    ours = score(SMALL, "zen", resolution=32, batch_size=16, seed=3, channels_last=channels_last).mean
    assert ours == pytest.approx(official_by_hand(SMALL, 32, 16, seed=3), abs=1e-3)


def test_score_does_not_depend_on_the_classifier_width() -> None:
    a = score(SMALL, "zen", resolution=32, batch_size=8, num_classes=10).mean
    b = score(SMALL, "zen", resolution=32, batch_size=8, num_classes=1000).mean
    assert a == b


def test_same_seed_same_score_other_seed_other_score() -> None:
    a = score(SMALL, "zen", resolution=32, batch_size=8, seed=1).mean
    b = score(SMALL, "zen", resolution=32, batch_size=8, seed=1).mean
    c = score(SMALL, "zen", resolution=32, batch_size=8, seed=2).mean
    assert a == b and a != c


def test_repeats_are_independent_draws_unless_asked_to_accumulate() -> None:
    fresh = score(SMALL, "zen", resolution=32, batch_size=8, repeat=4, seed=0)
    # the 95 % interval is Student-t over the 4 repeats (it was 1.96·σ/√n before issue #29)
    from scipy.stats import t

    assert len(fresh.values) == 4 and fresh.std > 0
    assert fresh.ci95 == pytest.approx(t.ppf(0.975, 3) * statistics.stdev(fresh.values) / 2)
    # the stand-alone script's accumulation inflates later repeats' BN term
    accumulated = score(SMALL, "zen", resolution=32, batch_size=8, repeat=4, seed=0, fresh_bn_stats=False)
    assert accumulated.values[0] == pytest.approx(fresh.values[0])
    assert accumulated.values[-1] > fresh.values[-1]


def test_wider_network_scores_higher() -> None:
    """Zen-Score grows with expressivity: doubling every width raises it clearly."""
    narrow = "SuperConvK3BNRELU(3,16,1,1)SuperResK3K3(16,16,2,16,2)SuperConvK1BNRELU(16,64,1,1)"
    wide = "SuperConvK3BNRELU(3,32,1,1)SuperResK3K3(32,32,2,32,2)SuperConvK1BNRELU(32,128,1,1)"
    kw = {"resolution": 32, "batch_size": 16, "repeat": 3}
    assert score(wide, "zen", **kw).mean > score(narrow, "zen", **kw).mean + 1


def test_paper_protocol_is_offered_and_differs() -> None:
    official = score(SMALL, "zen", resolution=32, batch_size=8).mean
    paper = score(SMALL, "zen", resolution=32, batch_size=8, protocol="paper").mean
    assert math.isfinite(paper) and paper != official
    with pytest.raises(ProxyRequirementError, match="official"):
        score(SMALL, "zen", resolution=32, batch_size=8, protocol="other")


def test_module_without_bn_is_a_clear_error() -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3))
    with pytest.raises(ProxyRequirementError, match="BatchNorm"):
        score(net, "zen", input_shape=(3, 16, 16), batch_size=4)


def test_scoring_a_module_leaves_its_weights_alone() -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
    before = {k: v.clone() for k, v in net.state_dict().items()}
    score(net, "zen", input_shape=(3, 16, 16), batch_size=4)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_feature_fn_selects_the_feature_map() -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(8, 4))
    pre_gap = score(net, "zen", input_shape=(3, 16, 16), batch_size=4, feature_fn=lambda m, x: m[:3](x)).mean
    logits = score(net, "zen", input_shape=(3, 16, 16), batch_size=4).mean
    assert pre_gap != logits
