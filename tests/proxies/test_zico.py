"""ZiCo: log of the inverse coefficient of variation of weight gradients across batches, summed over layers."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from zenbench.errors import ProxyRequirementError
from zenbench.proxies import get_proxy, list_proxies, score
from zenbench.proxies.zico import layer_zico
from zenbench.space.nb201 import build_nb201

CONV_CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
EMPTY_CELL = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def small_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))


def test_zico_is_registered_as_needing_gradients_and_labels() -> None:
    assert "zico" in list_proxies()
    proxy = get_proxy("zico")
    assert proxy.higher_is_better and proxy.needs == {"gradients", "labels"} and not proxy.gaussian_init


def test_one_layer_by_hand() -> None:
    # weights' gradients over two batches: (1, 3), (2, 2), (0, 0): mean |g| (2, 2, 0), population std (1, 0, 0);
    # only the first weight has a non-zero std: log(2 / 1)
    assert layer_zico(torch.tensor([[1.0, 2.0, 0.0], [3.0, 2.0, 0.0]])) == pytest.approx(math.log(2.0))
    assert layer_zico(torch.tensor([[1.0, 2.0], [1.0, 2.0]])) is None  # no spread anywhere: the layer is skipped


def test_zico_is_deterministic_under_a_seed_and_prefers_a_conv_cell_to_an_empty_one() -> None:
    conv = build_nb201(CONV_CELL, "imagenet16")
    first = score(conv, "zico", input_shape=(3, 16, 16), num_classes=120, batch_size=8, seed=2)
    again = score(conv, "zico", input_shape=(3, 16, 16), num_classes=120, batch_size=8, seed=2)
    empty = score(build_nb201(EMPTY_CELL, "imagenet16"), "zico", input_shape=(3, 16, 16), batch_size=8, seed=2)
    assert first.mean == again.mean and math.isfinite(first.mean)
    assert first.mean > empty.mean


def test_zico_works_on_any_classifier_module_and_reads_more_batches_on_request() -> None:
    two = score(small_cnn(), "zico", input_shape=(3, 8, 8), batch_size=4, seed=0)
    three = score(small_cnn(), "zico", input_shape=(3, 8, 8), batch_size=4, seed=0, batches=3)
    assert math.isfinite(two.mean) and math.isfinite(three.mean) and two.extras["layers"] == 3
    assert two.mean != three.mean


def test_zico_needs_two_batches_and_logits() -> None:
    with pytest.raises(ProxyRequirementError, match="batches"):
        score(small_cnn(), "zico", input_shape=(3, 8, 8), batch_size=4, batches=1)
    with pytest.raises(ProxyRequirementError, match="logits"):
        score(nn.Conv2d(3, 4, 3), "zico", input_shape=(3, 8, 8), batch_size=4)
