"""SWAP: distinct sample-wise activation patterns of the ReLU outputs, regularised by model size."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from zenbench.errors import ProxyRequirementError
from zenbench.proxies import get_proxy, list_proxies, score
from zenbench.proxies.swap import distinct_rows, log_regulariser, pack_patterns
from zenbench.space.nb201 import build_nb201

CONV_CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
EMPTY_CELL = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def test_swap_is_registered_as_a_forward_proxy_with_gaussian_weights() -> None:
    assert "swap" in list_proxies()
    proxy = get_proxy("swap")
    assert proxy.higher_is_better and proxy.needs == {"forward"} and proxy.gaussian_init


@pytest.mark.parametrize("batch", [3, 24, 30, 70])
def test_patterns_are_counted_exactly_at_any_batch(batch: int) -> None:
    g = torch.Generator().manual_seed(batch)
    active = torch.rand(batch, 400, generator=g) > 0.5
    active[:, 200:] = active[:, :200]  # every pattern twice
    expected = torch.unique(active.T.to(torch.int8), dim=0).shape[0]
    assert distinct_rows(pack_patterns(active)).shape[0] == expected <= 200


def test_a_hand_counted_pattern_set() -> None:
    # neurons (columns) over 3 samples: (1,0,1), (0,0,1), (1,1,1), (1,1,1): three distinct patterns
    active = torch.tensor([[1, 0, 1, 1], [0, 0, 1, 1], [1, 1, 1, 1]], dtype=torch.bool)
    assert distinct_rows(pack_patterns(active)).shape[0] == 3


def test_swap_of_a_lone_relu_counts_the_sign_patterns_of_its_input() -> None:
    # 3 images of 1x1x2 pixels: pixel 0 signs (+, -, +), pixel 1 (+, -, -): two patterns, in any sample order
    images = torch.tensor([[[[1.0, 2.0]]], [[[-1.0, -2.0]]], [[[3.0, -1.0]]]])
    result = score(nn.ReLU(), "swap", input_shape=(1, 1, 2), batch_size=3, data=images, sigma=math.inf)
    assert result.extras["patterns"] == 2 and result.mean == pytest.approx(math.log(2))


def test_the_regulariser_is_the_papers_gaussian_in_thousands_of_parameters() -> None:
    assert log_regulariser(1200.0, 1000.0, 4e4) == pytest.approx(-1.0)
    assert log_regulariser(5.0, 1000.0, math.inf) == 0.0
    with pytest.raises(ProxyRequirementError):
        log_regulariser(5.0, 1000.0, 0.0)
    layer = nn.Sequential(nn.Conv2d(1, 2, 1), nn.ReLU())
    plain = score(layer, "swap", input_shape=(1, 4, 4), batch_size=8, sigma=math.inf)
    regular = score(layer, "swap", input_shape=(1, 4, 4), batch_size=8, mu=0.0, sigma=1e-6)
    # 4 parameters = 0.004 thousand: log f = -(0.004)^2 / 1e-6 = -16
    assert regular.mean == pytest.approx(plain.mean - 16.0)


def test_swap_is_deterministic_under_a_seed_and_prefers_a_conv_cell_to_an_empty_one() -> None:
    conv = build_nb201(CONV_CELL, "imagenet16")
    first = score(conv, "swap", input_shape=(3, 16, 16), batch_size=16, seed=4)
    again = score(conv, "swap", input_shape=(3, 16, 16), batch_size=16, seed=4)
    empty = score(build_nb201(EMPTY_CELL, "imagenet16"), "swap", input_shape=(3, 16, 16), batch_size=16, seed=4)
    assert first.mean == again.mean
    assert first.extras["patterns"] > 1000 and empty.extras["patterns"] == 1
    assert first.mean > empty.mean + 5.0


def test_swap_runs_on_a_zen_nas_structure() -> None:
    result = score("zennet_cifar10_model_size05M_res32", "swap", resolution=32, batch_size=8)
    assert math.isfinite(result.mean) and result.extras["relu_layers"] > 10


def test_a_module_without_relus_is_refused() -> None:
    with pytest.raises(ProxyRequirementError, match="ReLU"):
        score(nn.Conv2d(3, 4, 3), "swap", input_shape=(3, 8, 8), batch_size=4)
