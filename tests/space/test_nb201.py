from __future__ import annotations

import random

import pytest
import torch

from zenbench import StructureError
from zenbench.space.nb201 import NUM_CELLS, OPS, Cell, all_cells, build_nb201, cell_at, nb201_counts, parse_cell

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"


def test_every_cell_round_trips_and_indices_are_a_bijection() -> None:
    cells = all_cells()
    assert len(cells) == NUM_CELLS == len(set(cells))
    for index in random.Random(0).sample(range(NUM_CELLS), 200):
        assert cells[index].index == index
        assert parse_cell(str(cells[index])) == cells[index]


def test_best_cifar10_cell_has_the_published_size() -> None:
    cell = cell_at(13714)
    assert str(cell) == BEST
    macs, params = nb201_counts(cell, "cifar10")
    assert params == pytest.approx(1.073e6, rel=1e-3)
    assert macs == pytest.approx(153.27e6, rel=1e-3)


@pytest.mark.parametrize(("text", "offset", "expected"), [
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|", 48, "three"),
    ("|conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|", 1, "one of"),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|", 46, "once"),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|", 17, "2 edge"),
])
def test_malformed_cells_say_where(text: str, offset: int, expected: str) -> None:
    with pytest.raises(StructureError) as info:
        parse_cell(text)
    assert info.value.offset == offset and expected in info.value.expected


def test_live_edges_follow_the_graph() -> None:
    # node 1 has no input (none~0), so the conv from node 1 to the output is dead; node 2 -> 3 is live
    cell = parse_cell("|none~0|+|nor_conv_3x3~0|none~1|+|none~0|nor_conv_1x1~1|skip_connect~2|")
    assert cell.live_edges() == (False, True, False, False, False, True)
    assert all(parse_cell(BEST).live_edges())


def test_mutation_changes_exactly_one_edge() -> None:
    rng = random.Random(1)
    cell = parse_cell(BEST)
    for _ in range(50):
        child = cell.mutate(rng)
        assert sum(a != b for a, b in zip(cell.ops, child.ops, strict=True)) == 1
        assert set(child.ops) <= set(OPS)


@pytest.mark.parametrize(("dataset", "resolution", "classes"), [("cifar10", 32, 10), ("cifar100", 32, 100),
                                                                ("imagenet16", 16, 120)])
def test_network_runs_on_each_dataset(dataset: str, resolution: int, classes: int) -> None:
    model = build_nb201(BEST, dataset).eval()
    with torch.inference_mode():
        assert model(torch.randn(2, 3, resolution, resolution)).shape == (2, classes)


def test_a_cell_with_no_path_outputs_zeros() -> None:
    dead = Cell(("none",) * 6)
    model = build_nb201(dead).eval()
    with torch.inference_mode():
        assert torch.count_nonzero(model.features[1](torch.randn(1, 16, 8, 8))) == 0
