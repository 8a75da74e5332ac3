from __future__ import annotations

import random
from collections import Counter

from zenbench.search.presets import FLOPS_INIT, LATENCY_INIT
from zenbench.space.blocks import BLOCKS
from zenbench.space.mutate import channel_candidates, mutate, split_deep_blocks, sub_layer_candidates, type_weights
from zenbench.space.spec import NetworkSpec


def test_channel_and_sub_layer_candidates_follow_the_official_lists() -> None:
    assert channel_candidates(64, "xxbl") == [160, 128, 96, 80, 64, 48, 40, 32, 24]
    assert max(channel_candidates(2048, "xxbl")) == 2048 and max(channel_candidates(2048, "idw")) == 5120
    assert sub_layer_candidates(1) == [3, 2, 1] and sub_layer_candidates(4) == [6, 5, 4, 3, 2]


def test_mutation_keeps_strides_and_chains_channels() -> None:
    rng = random.Random(0)
    spec = NetworkSpec.parse(LATENCY_INIT)
    strides = [b.stride for b in spec.blocks]
    for _ in range(300):
        spec = mutate(spec, "xxbl", rng, replaces=2)
        assert [b.stride for b in spec.blocks if b.stride == 2] == [s for s in strides if s == 2]
        assert all(b.sub_layers < 6 for b in spec.blocks)
        assert all(b.type.startswith("SuperRes") for b in spec.blocks[1:-1])  # NetworkSpec checks the chain


def test_idw_keeps_its_head_and_family() -> None:
    rng = random.Random(1)
    spec = NetworkSpec.parse(FLOPS_INIT)
    for _ in range(200):
        spec = mutate(spec, "idw", rng, replaces=2)
        assert spec.blocks[-1].out_channels == 2048
        assert all(BLOCKS.get(b.type).family == "idw" for b in spec.blocks[1:-1])


def test_type_weights_reproduce_the_official_bias() -> None:
    weights = type_weights("xxbl")
    assert weights["SuperResK1K3K1"] / weights["SuperResK1K7K1"] == 3
    rng = random.Random(0)
    spec = NetworkSpec.parse(LATENCY_INIT)
    counts = Counter(mutate(spec, "xxbl", rng).blocks[2].type for _ in range(3000))
    assert counts["SuperResK3K3"] > counts["SuperResK7K7"]


def test_split_keeps_every_sub_layer() -> None:
    spec = NetworkSpec.parse("SuperConvK3BNRELU(3,8,1,1)SuperResK3K3(8,16,2,8,7)")
    split = split_deep_blocks(spec)
    assert [b.sub_layers for b in split.blocks[1:]] == [3, 4] and split.layers == spec.layers
    assert split.blocks[2].stride == 1 and split.blocks[2].in_channels == 16
