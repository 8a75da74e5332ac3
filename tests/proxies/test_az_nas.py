"""AZ-NAS: four finite components per network, rank-aggregated over a set."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from zenbench.bench import nb201_proxies
from zenbench.proxies import get_proxy, list_proxies, score
from zenbench.proxies.az_nas import COMPONENTS, rank_aggregate, stage_modules
from zenbench.space.nb201 import build_nb201

CONV_CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
POOL_CELL = "|avg_pool_3x3~0|+|none~0|avg_pool_3x3~1|+|none~0|none~1|avg_pool_3x3~2|"
SKIP_CELL = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"


def az(cell: str) -> dict[str, float]:
    result = score(build_nb201(cell, "imagenet16"), "az_nas", input_shape=(3, 16, 16), batch_size=16, seed=0)
    return {"score": result.mean, **result.extras}


def test_az_nas_is_registered_with_a_backward_pass() -> None:
    assert "az_nas" in list_proxies()
    assert get_proxy("az_nas").needs == {"gradients"}


def test_rank_aggregate_matches_a_hand_computation() -> None:
    # ranks (1, 2, 3) and (3, 2, 1) of 3: log(1/3) + log(1), 2 log(2/3), log(1) + log(1/3)
    agg = rank_aggregate({"a": [1.0, 2.0, 3.0], "b": [3.0, 2.0, 1.0]})
    assert np.allclose(agg, [math.log(1 / 3), 2 * math.log(2 / 3), math.log(1 / 3)])


def test_rank_aggregate_is_monotone_in_every_component() -> None:
    rng = np.random.default_rng(0)
    parts = {name: rng.normal(size=50) for name in COMPONENTS}
    before = rank_aggregate(parts)
    parts["trainability"] = parts["trainability"].copy()
    parts["trainability"][7] = 10.0  # network 7 becomes the best on one component, unchanged on the others
    after = rank_aggregate(parts)
    others = np.arange(50) != 7
    assert after[7] > before[7] and (after[others] <= before[others]).all()
    # a network ranked last on every component has the lowest score; NaN counts as last
    parts = {"a": [np.nan, 1.0, 2.0], "b": [-1.0, 0.0, 5.0]}
    assert np.argmin(rank_aggregate(parts)) == 0


def test_components_are_finite_and_a_conv_cell_beats_pooling_and_identity_cells() -> None:
    torch.manual_seed(0)
    conv, pool, skip = az(CONV_CELL), az(POOL_CELL), az(SKIP_CELL)
    assert all(math.isfinite(conv[k]) for k in ("score", *COMPONENTS))
    assert skip["trainability"] == -math.inf  # every cell is the identity: AZ-NAS scores it -inf
    assert conv["expressivity"] > pool["expressivity"] and conv["complexity"] > pool["complexity"]
    agg = rank_aggregate({k: [conv[k], pool[k], skip[k]] for k in COMPONENTS})
    assert agg[0] == agg.max() and agg[0] > agg[1] and agg[0] > agg[2]


def test_az_nas_stages_of_the_two_spaces() -> None:
    # NB201: stem, 15 cells, 2 reduction blocks; not the final BN-ReLU
    assert len(stage_modules(build_nb201(CONV_CELL))) == 18
    result = score("zennet_cifar10_model_size05M_res32", "az_nas", resolution=32, batch_size=8)
    assert all(math.isfinite(result.extras[k]) for k in COMPONENTS)


def test_benchmark_replaces_az_nas_by_its_rank_aggregate(tmp_path) -> None:
    cache = nb201_proxies.ScoreCache(tmp_path / "cache.csv")
    values = {0: (1.0, 5.0), 1: (2.0, 6.0), 2: (3.0, 7.0)}
    for index, (low, high) in values.items():
        for part in COMPONENTS:
            cache.add(index, f"az_nas.{part}", low if part == "trainability" else high, 0.0)
        cache.add(index, "az_nas", 100.0 - index, 0.5)
    indices = np.array([0, 1, 2])
    frame = nb201_proxies.pd.DataFrame({"az_nas": [100.0, 99.0, 98.0]}, index=indices)
    added = nb201_proxies.aggregate_columns(frame, cache, indices, ("az_nas",))
    assert added[0] == "az_nas.standalone" and set(added[1:]) == {f"az_nas.{p}" for p in COMPONENTS}
    assert list(frame["az_nas.standalone"]) == [100.0, 99.0, 98.0]
    assert np.argmax(frame["az_nas"].to_numpy()) == 2
    assert nb201_proxies.seconds_per_network(cache, indices, ("az_nas",)) == {"az_nas": 0.5}
    assert nb201_proxies._cached(cache, 0, "az_nas") and not nb201_proxies._cached(cache, 3, "az_nas")


@pytest.mark.parametrize("name", ["az_nas", "meco"])
def test_new_proxies_are_in_the_benchmark_defaults_with_published_figures(name: str) -> None:
    assert name in nb201_proxies.DEFAULT_PROXIES and nb201_proxies.PUBLISHED[name]["cifar10"] > 0.85


def test_a_cell_of_none_ops_scores_lowest_without_crashing() -> None:
    """Its cells output a constant zero map, so no gradient reaches the stage below: σ = 0 there (2 − 1/1e-6)
    and the zero feature maps have no spectrum (expressivity −inf), as in the authors' code."""
    empty = az("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert empty["expressivity"] == -math.inf
    assert empty["trainability"] == pytest.approx(2 - 1e6, rel=1e-3)
    conv = az(CONV_CELL)
    assert rank_aggregate({k: [conv[k], empty[k]] for k in COMPONENTS}).argmax() == 0
