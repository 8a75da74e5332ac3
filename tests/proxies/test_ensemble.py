"""The ensemble proxy: MeCo, SynFlow and params, as their own proxies compute them, combined."""

from __future__ import annotations

import math

import numpy as np
import pytest
from torch import nn

from zenbench.proxies import get_proxy, list_proxies, score
from zenbench.proxies.az_nas import rank_aggregate
from zenbench.proxies.ensemble import COMPONENTS, log_product
from zenbench.space.nb201 import build_nb201

CONV_CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
POOL_CELL = "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|skip_connect~1|avg_pool_3x3~2|"


def test_ensemble_is_registered_and_the_benchmark_rank_aggregates_it() -> None:
    assert "ensemble" in list_proxies() and not get_proxy("ensemble").gaussian_init
    assert get_proxy("ensemble").components == COMPONENTS == ("meco", "synflow", "params")


def test_log_product_by_hand() -> None:
    assert log_product({"a": math.e, "b": math.e**2}) == pytest.approx(3.0)
    assert log_product({"a": 0.0, "b": 5.0}) == -math.inf
    assert log_product({"a": math.nan}) == -math.inf


def test_components_equal_the_proxies_alone_with_the_same_seed() -> None:
    model = build_nb201(CONV_CELL, "imagenet16")
    together = score(model, "ensemble", input_shape=(3, 16, 16), num_classes=120, seed=5)
    for name in COMPONENTS:
        alone = score(model, name, input_shape=(3, 16, 16), num_classes=120, seed=5)
        assert together.extras[name] == pytest.approx(alone.mean, rel=1e-12)
    assert together.mean == pytest.approx(sum(math.log(together.extras[n]) for n in COMPONENTS))


def test_ensemble_is_deterministic_and_prefers_a_conv_cell_to_a_pooling_one() -> None:
    conv = build_nb201(CONV_CELL, "imagenet16")
    first = score(conv, "ensemble", input_shape=(3, 16, 16), seed=1)
    again = score(conv, "ensemble", input_shape=(3, 16, 16), seed=1)
    pool = score(build_nb201(POOL_CELL, "imagenet16"), "ensemble", input_shape=(3, 16, 16), seed=1)
    assert first.mean == again.mean and first.mean > pool.mean


def test_ensemble_works_on_any_module_and_its_set_score_follows_the_ranks() -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    result = score(net, "ensemble", input_shape=(3, 8, 8), seed=0)
    assert math.isfinite(result.mean) and result.extras["params"] == sum(p.numel() for p in net.parameters())
    # a network first in every component gets the best set score: log(1) * 3 = 0
    ranks = rank_aggregate({"meco": [1.0, 2.0, 3.0], "synflow": [1.0, 3.0, 9.0], "params": [3.0, 4.0, 5.0]})
    assert ranks[2] == 0.0 and np.argmax(ranks) == 2
