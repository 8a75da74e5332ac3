"""The NAS-Bench-201 cell space: 15,625 cells with known accuracy and real-device latency.

A cell is a DAG on 4 nodes; each of its 6 edges (i -> j, i < j) carries one of five ops. The
benchmark's string lists the edges into node 1, 2, 3 in turn::

    |nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|

The network is the benchmark's: a 3x3 conv stem (16 channels) + BN; three stages of 5 cells
(C = 16, 32, 64) joined by residual reduction blocks; BN-ReLU; global average pooling; linear
classifier. ``nor_conv_*`` is ReLU-Conv-BN; ``avg_pool_3x3`` excludes padding from the mean;
``none`` edges are absent (an input with no live edge is zero).

Benchmark indices follow the benchmark's own order, which is not the base-5 enumeration; the
mapping comes from the shipped accuracy table (``zenbench/data/nb201``).
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import torch
from torch import nn

from zenbench.errors import StructureError, UnknownNameError

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: (from, to) of the 6 edges in string order
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
NUM_CELLS = len(OPS) ** len(EDGES)
STAGE_CHANNELS = (16, 32, 64)
CELLS_PER_STAGE = 5
#: (resolution, classes) of the benchmark's data sets
DATASETS = {"cifar10": (32, 10), "cifar100": (32, 100), "imagenet16": (16, 120)}

_EDGE = re.compile(r"([a-z_0-9]+)~(\d+)")


@dataclass(frozen=True)
class Cell:
    """One NAS-Bench-201 cell: the op on each edge, in string order (see ``EDGES``)."""

    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.ops) != len(EDGES) or any(op not in OPS for op in self.ops):
            raise ValueError(f"a cell needs {len(EDGES)} ops from {OPS}, got {self.ops}")

    def __str__(self) -> str:
        nodes = []
        for node in (1, 2, 3):
            nodes.append("|" + "|".join(f"{op}~{i}" for (i, j), op in zip(EDGES, self.ops, strict=True) if j == node) + "|")
        return "+".join(nodes)

    @property
    def index(self) -> int:
        """The benchmark's index of this cell."""
        return _index_of()[str(self)]

    def live_edges(self) -> tuple[bool, ...]:
        """Whether each edge affects the output: its op is not ``none``, its input is reachable from the
        cell input, and its output reaches the cell output. Dead edges cost nothing on a device that
        prunes them, and cannot change the function."""
        reach_from_input = {0}
        for (i, j), op in zip(EDGES, self.ops, strict=True):  # EDGES is in topological order of j
            if op != "none" and i in reach_from_input:
                reach_from_input.add(j)
        reaches_output = {3}
        for (i, j), op in sorted(zip(EDGES, self.ops, strict=True), key=lambda e: -e[0][1]):
            if op != "none" and j in reaches_output:
                reaches_output.add(i)
        return tuple(op != "none" and i in reach_from_input and j in reaches_output
                     for (i, j), op in zip(EDGES, self.ops, strict=True))

    def mutate(self, rng: random.Random) -> Cell:
        """The same cell with one edge changed to a different op."""
        ops = list(self.ops)
        edge = rng.randrange(len(ops))
        ops[edge] = rng.choice([op for op in OPS if op != ops[edge]])
        return Cell(tuple(ops))


def parse_cell(text: str) -> Cell:
    """Parse the benchmark's string; errors name the offset and what was expected."""
    if not isinstance(text, str):
        raise TypeError(f"cell must be a str, got {type(text).__name__}")
    ops: dict[tuple[int, int], str] = {}
    nodes = text.split("+")
    if len(nodes) != 3:
        raise StructureError(text, 0 if not text else len(text), text[:20], "three '+'-separated node groups like |op~0|+|op~0|op~1|+|…|")
    offset = 0
    for node, group in enumerate(nodes, start=1):
        if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
            raise StructureError(text, offset, group[:20], f"node {node} written as |op~i|…| between bars")
        pos = offset + 1
        entries = group[1:-1].split("|")
        if len(entries) != node:
            raise StructureError(text, offset, group[:30], f"{node} edge(s) into node {node}")
        for entry in entries:
            match = _EDGE.fullmatch(entry)
            if not match:
                raise StructureError(text, pos, entry, "an edge written op~input, e.g. nor_conv_3x3~0")
            op, source = match.group(1), int(match.group(2))
            if op not in OPS:
                close = UnknownNameError("op", op, OPS).suggestions
                raise StructureError(text, pos, op, f"one of {', '.join(OPS)}", f"did you mean {close[0]}?" if close else "")
            if source >= node or (source, node) in ops:
                raise StructureError(text, pos + len(op) + 1, str(source), f"each input 0..{node - 1} of node {node} once")
            ops[(source, node)] = op
            pos += len(entry) + 1
        offset += len(group) + 1
    return Cell(tuple(ops[edge] for edge in EDGES))


def all_cells() -> list[Cell]:
    """All 15,625 cells, in benchmark index order."""
    return [parse_cell(arch) for arch in _arch_strings()]


def cell_at(index: int) -> Cell:
    if not 0 <= index < NUM_CELLS:
        raise IndexError(f"NAS-Bench-201 index must be in 0..{NUM_CELLS - 1}, got {index}")
    return parse_cell(_arch_strings()[index])


@cache
def _arch_strings() -> tuple[str, ...]:
    import pandas as pd

    with resources.files("zenbench").joinpath("data/nb201/accuracy.csv.gz").open("rb") as f:
        table = pd.read_csv(f, compression="gzip")
    return tuple(table.sort_values("index")["arch"])


@cache
def _index_of() -> dict[str, int]:
    return {arch: i for i, arch in enumerate(_arch_strings())}


def enumerate_cells() -> itertools.product:
    """Every op assignment, in base-5 order (use :func:`all_cells` for the benchmark's order)."""
    return itertools.product(OPS, repeat=len(EDGES))


# ----------------------------------------------------------------------------------------- modules


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, bn: bool = True) -> None:
        layers: list[nn.Module] = [nn.ReLU(inplace=False), nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False)]
        if bn:
            layers.append(nn.BatchNorm2d(c_out))
        super().__init__(*layers)


def make_op(op: str, channels: int, bn: bool = True) -> nn.Module:
    if op == "skip_connect":
        return nn.Identity()
    if op == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, bn)
    if op == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, bn)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"no module for op {op!r}")


class CellModule(nn.Module):
    """One cell: node j = Σ op(node i) over its non-``none`` incoming edges; the output is node 3."""

    def __init__(self, cell: Cell, channels: int, bn: bool = True) -> None:
        super().__init__()
        self.edges = [(i, j) for (i, j), op in zip(EDGES, cell.ops, strict=True) if op != "none"]
        self.ops = nn.ModuleList(make_op(op, channels, bn) for op in cell.ops if op != "none")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for (i, j), op in zip(self.edges, self.ops, strict=True):
            source = nodes[i] if nodes[i] is not None else torch.zeros_like(x)
            out = op(source)
            nodes[j] = out if nodes[j] is None else nodes[j] + out
        return nodes[3] if nodes[3] is not None else torch.zeros_like(x)


class ReductionBlock(nn.Module):
    """The benchmark's residual block between stages: stride 2, channels doubled."""

    def __init__(self, c_in: int, c_out: int, bn: bool = True) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, bn)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, bn)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.downsample(x)


class NB201Network(nn.Module):
    """The NAS-Bench-201 macro skeleton around one cell."""

    def __init__(self, cell: Cell | str, num_classes: int = 10, *, bn: bool = True) -> None:
        super().__init__()
        self.cell = parse_cell(cell) if isinstance(cell, str) else cell
        stem: list[nn.Module] = [nn.Conv2d(3, STAGE_CHANNELS[0], 3, padding=1, bias=False)]
        if bn:
            stem.append(nn.BatchNorm2d(STAGE_CHANNELS[0]))
        layers: list[nn.Module] = [nn.Sequential(*stem)]
        for stage, channels in enumerate(STAGE_CHANNELS):
            if stage:
                layers.append(ReductionBlock(STAGE_CHANNELS[stage - 1], channels, bn))
            layers.extend(CellModule(self.cell, channels, bn) for _ in range(CELLS_PER_STAGE))
        tail: list[nn.Module] = [nn.BatchNorm2d(STAGE_CHANNELS[-1])] if bn else []
        layers.append(nn.Sequential(*tail, nn.ReLU(inplace=False)))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(STAGE_CHANNELS[-1], num_classes)

    def forward_pre_gap(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.forward_pre_gap(x).mean(dim=(2, 3)))


def build_nb201(cell: Cell | str, dataset: str = "cifar10", *, bn: bool = True) -> NB201Network:
    if dataset not in DATASETS:
        raise UnknownNameError("NAS-Bench-201 data set", dataset, DATASETS)
    return NB201Network(cell, DATASETS[dataset][1], bn=bn)


def nb201_counts(cell: Cell | str, dataset: str = "cifar10") -> tuple[int, int]:
    """(MACs, params) of the network for one image of ``dataset``, counted by torch on the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    resolution = DATASETS[dataset][0]
    with torch.device("meta"):
        model = build_nb201(cell, dataset).eval()
        with FlopCounterMode(display=False) as counter:
            model(torch.empty(1, 3, resolution, resolution))
    return counter.get_total_flops() // 2, sum(p.numel() for p in model.parameters())
