"""Analytic counts agree with the built module, and the paper convention with the Zen-NAS code."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from zenbench import build_model, get_zoo_model, list_models, parse_structure

MIXED = ("SuperConvK3BNRELU(3,24,2,1)SuperResK3K3(24,32,2,16,2)SuperResK1K7K1(32,64,1,24,2)"
         "SuperResIDWE4K5(64,72,2,40,2)SuperConvK1BNRELU(72,256,1,1)")


def measured(spec, resolution: int, num_classes: int, **flags: bool) -> tuple[int, int]:
    """(MACs, params) of the real module: torch's FLOP counter on the meta device."""
    with torch.device("meta"):
        model = build_model(spec, num_classes, **flags).eval()
        with FlopCounterMode(display=False) as counter:
            model(torch.empty(1, 3, resolution, resolution))
    return counter.get_total_flops() // 2, sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", list_models())
def test_exact_count_matches_torch_flop_counter_on_zoo(name: str) -> None:
    m = get_zoo_model(name)
    counts = m.spec.counts(m.resolution, m.num_classes, se=m.use_se)
    assert (counts.macs, counts.params) == measured(m.spec, m.resolution, m.num_classes, se=m.use_se)


@pytest.mark.parametrize(("residual", "bn", "se"), list(itertools.product([True, False], repeat=3)))
@pytest.mark.parametrize("resolution", [32, 57])  # 57: odd sizes, where ceil(res/stride) matters
def test_exact_count_matches_for_every_flag_combination(residual: bool, bn: bool, se: bool, resolution: int) -> None:
    spec = parse_structure(MIXED)
    counts = spec.counts(resolution, 10, residual=residual, bn=bn, se=se)
    assert (counts.macs, counts.params) == measured(spec, resolution, 10, residual=residual, bn=bn, se=se)


@pytest.mark.parametrize("name", list_models())
def test_zoo_counts_close_to_published(name: str) -> None:
    """Published figures are rounded, and the zoo README is not consistent about SE: the closest of our
    counts (exact / paper convention, with / without SE) is within 4 % (MACs) and 2 % (params)."""
    m = get_zoo_model(name)
    candidates = [m.spec.counts(m.resolution, m.num_classes, se=se, convention=conv)
                  for se in {m.use_se, False} for conv in ("exact", "paper")]
    assert min(abs(c.macs / m.published_macs - 1) for c in candidates) < 0.04
    # CIFAR-100 models are published with the 10-class figure (the heads differ by 46k params)
    params_tolerance = 0.10 if m.num_classes == 100 else 0.02
    assert min(abs(c.params / m.published_params - 1) for c in candidates) < params_tolerance


# Values of the Zen-NAS code's get_FLOPs / get_model_size (ImageNet, 1000 classes, no SE), as its README reports them
# rounded: latency01ms 1.7G / 30.1M, latency02ms 3.4G / 49.7M, latency12ms 22G / 180M.
@pytest.mark.parametrize(("name", "macs", "params"), [
    ("zennet_imagenet1k_latency01ms_res224", 1.746e9, 30.05e6),
    ("zennet_imagenet1k_latency02ms_res224", 3.400e9, 49.65e6),
    ("zennet_imagenet1k_latency12ms_res224", 21.84e9, 180.5e6),
    ("zennet_imagenet1k_flops400M_SE_res224", 400.0e6, 5.674e6),
])
def test_paper_convention_reproduces_the_official_counters(name: str, macs: float, params: float) -> None:
    m = get_zoo_model(name)
    paper = m.spec.counts(224, 1000, se=False, convention="paper")
    assert paper.macs == pytest.approx(macs, rel=2e-3)
    assert paper.params == pytest.approx(params, rel=2e-3)


def test_paper_projection_quirk_divides_resolution_twice() -> None:
    """One stride-2 K3K3 block: the paper counts its projection on (res/2/2)² positions."""
    spec = parse_structure("SuperResK3K3(8,16,2,8,1)")
    exact = spec.counts(32, 0, bn=False)
    paper = spec.counts(32, 0, bn=False, convention="paper")
    convs = 8 * 8 * 9 * 16 * 16 + 8 * 16 * 9 * 16 * 16
    assert exact.macs == convs + 8 * 16 * 16 * 16
    assert paper.macs == convs + (8 * 16 + 16) * 8 * 8


@pytest.mark.parametrize(("name", "layers"), [
    ("zennet_imagenet1k_latency01ms_res224", 10), ("zennet_imagenet1k_latency02ms_res224", 13),
    ("zennet_imagenet1k_latency03ms_res224", 16), ("zennet_imagenet1k_latency05ms_res224", 20),
    ("zennet_imagenet1k_latency08ms_res224", 25), ("zennet_imagenet1k_latency12ms_res224", 30),
    ("zennet_cifar10_model_size1M_res32", 18),
])
def test_layer_count_is_the_sum_of_sub_layers(name: str, layers: int) -> None:
    """The latency models were searched with max_layers 10/13/16/20/25/30, CIFAR-1M with 18."""
    assert get_zoo_model(name).spec.layers == layers


def test_unknown_convention_is_a_clear_error() -> None:
    from zenbench.errors import SpecError

    with pytest.raises(SpecError, match="exact"):
        parse_structure(MIXED).counts(224, convention="official")  # type: ignore[arg-type]
