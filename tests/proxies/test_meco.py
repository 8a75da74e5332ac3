"""MeCo: the minimum eigenvalue of the channel correlation, summed over every module's output."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from zenbench.proxies import get_proxy, list_proxies, score
from zenbench.proxies.meco import min_correlation_eigenvalue
from zenbench.space.nb201 import build_nb201

CONV_CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
EMPTY_CELL = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def two_channel_image() -> torch.Tensor:
    """Channels (1, 2, 3, 4) and (1, 3, 2, 4): deviations (-1.5, -.5, .5, 1.5) and (-1.5, .5, -.5, 1.5),
    covariance 4, variances 5, so r = 0.8 and the correlation matrix's eigenvalues are 1 ± 0.8."""
    return torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[1.0, 3.0], [2.0, 4.0]]]])


def test_meco_is_registered_as_a_forward_only_proxy() -> None:
    assert "meco" in list_proxies()
    proxy = get_proxy("meco")
    assert proxy.higher_is_better and proxy.needs == {"forward"} and not proxy.gaussian_init


def test_min_eigenvalue_of_a_hand_computed_correlation() -> None:
    assert min_correlation_eigenvalue(two_channel_image()[0]) == pytest.approx(0.2, abs=1e-12)
    # a constant channel has no correlation: NaN entries count as 0, leaving eigenvalues {0, 1}
    constant = torch.stack([torch.ones(2, 2), torch.tensor([[1.0, 2.0], [3.0, 4.0]])])
    assert min_correlation_eigenvalue(constant) == pytest.approx(0.0, abs=1e-12)


def test_meco_sums_over_every_module_that_outputs_a_feature_map() -> None:
    image = two_channel_image()
    one = score(nn.Identity(), "meco", input_shape=(2, 2, 2), data=image)
    assert one.mean == pytest.approx(0.2, abs=1e-9) and one.extras["layers"] == 1
    # the Sequential and both of its children each see the same map: 3 x 0.2
    three = score(nn.Sequential(nn.Identity(), nn.Identity()), "meco", input_shape=(2, 2, 2), data=image)
    assert three.mean == pytest.approx(0.6, abs=1e-9) and three.extras["layers"] == 3


def test_meco_prefers_a_conv_cell_to_an_empty_one() -> None:
    torch.manual_seed(0)
    conv = score(build_nb201(CONV_CELL, "imagenet16"), "meco", input_shape=(3, 16, 16), seed=1)
    empty = score(build_nb201(EMPTY_CELL, "imagenet16"), "meco", input_shape=(3, 16, 16), seed=1)
    assert math.isfinite(conv.mean) and conv.mean > empty.mean + 1.0


def test_meco_runs_on_a_zen_nas_structure() -> None:
    result = score("zennet_cifar10_model_size05M_res32", "meco", resolution=32)
    assert math.isfinite(result.mean) and result.extras["layers"] > 10


def test_a_one_pixel_map_adds_zero_without_a_warning() -> None:
    import warnings

    import torch

    from zenbench.proxies.meco import min_correlation_eigenvalue

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert min_correlation_eigenvalue(torch.randn(8, 1, 1)) == 0.0
