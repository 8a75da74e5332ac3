from __future__ import annotations

import pytest
import torch
from torch import nn

from zenbench import create_model, get_zoo_model, list_models, parse_structure
from zenbench.space.network import BN_EPS, ResidualUnit


@pytest.mark.parametrize("name", list_models())
def test_every_zoo_model_builds_and_runs_at_its_resolution(name: str) -> None:
    m = get_zoo_model(name)
    model = create_model(name).eval()
    with torch.inference_mode():
        logits = model(torch.randn(1, 3, m.resolution, m.resolution))
        features = model.forward_pre_gap(torch.randn(1, 3, m.resolution, m.resolution))
    assert logits.shape == (1, m.num_classes)
    out_res = m.spec.out_resolution(m.resolution)
    assert features.shape == (1, m.spec.out_channels, out_res, out_res)
    assert str(m.spec) == m.structure


def test_flags_remove_what_they_name() -> None:
    spec = "SuperConvK3BNRELU(3,16,2,1)SuperResK1K3K1(16,32,2,16,2)SuperResIDWE2K5(32,48,1,24,1)"
    full = create_model(spec, num_classes=10, use_se=True)
    bare = create_model(spec, num_classes=10, use_se=False, residual=False, bn=False)
    kinds = lambda m, t: sum(isinstance(x, t) for x in m.modules())  # noqa: E731
    assert kinds(full, nn.BatchNorm2d) > 0 and kinds(bare, nn.BatchNorm2d) == 0
    assert all(u.shortcut is None and not u.identity for u in bare.modules() if isinstance(u, ResidualUnit))
    assert any(u.identity for u in full.modules() if isinstance(u, ResidualUnit))
    assert kinds(full, nn.Sigmoid) > 0 and kinds(bare, nn.Sigmoid) == 0
    assert all(m.eps == BN_EPS for m in full.modules() if isinstance(m, nn.BatchNorm2d))


def test_sub_layer_structure_matches_the_official_code() -> None:
    """K1KXK1 and IDW: two units per sub-layer; projection on the first; IDW's first unit ends at the bottleneck."""
    spec = parse_structure("SuperResK1K5K1(16,64,2,24,2)SuperResIDWE4K3(64,64,1,40,1)")
    k1, idw = spec.blocks
    units = k1.units()
    assert len(units) == 4
    assert [u.shortcut.value for u in units] == ["projection", "identity", "identity", "identity"]
    assert [u.stride for u in units] == [2, 1, 1, 1]
    convs = [layer for layer in units[0].layers if type(layer).__name__ == "Conv"]
    assert [(c.kernel, c.stride, c.out_channels) for c in convs] == [(1, 1, 24), (5, 2, 24), (1, 1, 64)]
    first, second = idw.units()
    assert (first.in_channels, first.out_channels, second.in_channels, second.out_channels) == (64, 40, 40, 64)
    # expanded widths: round8(40*4)=160, round8(64*4)=256; both units project (40 != 64)
    assert [layer.out_channels for layer in first.layers if type(layer).__name__ == "Conv"][0] == 160
    assert [layer.out_channels for layer in second.layers if type(layer).__name__ == "Conv"][0] == 256
    assert first.shortcut.value == second.shortcut.value == "projection"


def test_depthwise_width_rounds_to_multiple_of_8_min_8() -> None:
    from zenbench.space.blocks import round_channels

    assert [round_channels(x) for x in (1, 4, 11, 12, 13, 20, 100)] == [8, 8, 8, 16, 16, 16, 96]


def test_forward_pre_gap_feeds_the_classifier() -> None:
    model = create_model("SuperConvK3BNRELU(3,8,1,1)SuperResK3K3(8,16,2,8,1)", num_classes=5).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.inference_mode():
        expected = model.classifier(model.forward_pre_gap(x).mean(dim=(2, 3)))
        assert torch.allclose(model(x), expected)


def test_unknown_name_suggests_close_matches() -> None:
    from zenbench import ZenbenchError

    with pytest.raises(ZenbenchError, match="zennet_imagenet1k_latency01ms_res224"):
        create_model("zennet_imagenet1k_latency01ms_res244")
