"""Limits: refused at parse time or before a build, with the limit named; the defaults cover the zoo."""

from __future__ import annotations

import pickle
from unittest import mock

import pytest
import torch
from torch import nn

from zenbench import StructureError, create_model, get_zoo_model, list_models, parse_structure
from zenbench.errors import LimitError, SpecError, StructureLimitError
from zenbench.space.allocation import activation_elements, check_allocation
from zenbench.space.limits import DEFAULT_LIMITS, Limits
from zenbench.space.network import ResidualUnit, SqueezeExcite, build_model
from zenbench.space.spec import NetworkSpec

STEM = "SuperConvK3BNRELU(3,32,2,1)"
WIDE = "SuperConvK3BNRELU(3,30000,2,1)SuperConvK1BNRELU(30000,30000,1,1)"  # 9e8 params
SMALL = f"{STEM}SuperResK1K3K1(32,64,2,16,2)SuperResIDWE2K5(64,48,1,24,1)SuperResK3K3(48,48,1,16,2)"


def error_of(call, *args, **kwargs) -> LimitError:
    with pytest.raises(LimitError) as info:
        call(*args, **kwargs)
    return info.value


@pytest.mark.parametrize(("text", "limit", "offset"), [
    ("SuperConvK3BNRELU(3,1000000000000,2,1)", "max_channels", 20),
    ("SuperConvK3BNRELU(3,32,2,100000)", "max_sub_layers", 25),
    (f"{STEM}SuperResK3K3(32,64,2,40000,1)", "max_channels", 48),
    (STEM + "SuperConvK3BNRELU(32,32,1,60)" * 20, "max_total_sub_layers", None),
])
def test_parse_refuses_sizes_over_the_limits_with_the_offset(text: str, limit: str, offset: int | None) -> None:
    error = error_of(parse_structure, text)
    assert isinstance(error, StructureLimitError) and isinstance(error, StructureError)
    assert error.limit == limit and limit in str(error) and "Limits(" in str(error)
    assert error.value > getattr(DEFAULT_LIMITS, limit) == error.maximum
    if offset is not None:
        assert error.offset == offset


def test_long_integers_are_refused_before_conversion() -> None:
    with pytest.raises(StructureError, match="at most 18 digits") as info:
        parse_structure("SuperConvK3BNRELU(3," + "9" * 5000 + ",2,1)")
    assert info.value.offset == 20 and len(str(info.value)) < 1000


def test_limits_are_overridable_where_a_network_is_parsed_built_or_created() -> None:
    big = Limits(max_channels=65_536, max_params=4 * 10**9)
    assert parse_structure("SuperConvK3BNRELU(3,40000,2,1)", limits=big).out_channels == 40000
    assert NetworkSpec.parse("SuperConvK3BNRELU(3,40000,2,1)", limits=big).out_channels == 40000
    assert error_of(build_model, SMALL, limits=Limits(max_params=1000)).limit == "max_params"
    assert error_of(create_model, SMALL, limits=Limits(max_activation_bytes=1000)).limit == "max_activation_bytes"
    assert error_of(create_model, SMALL, resolution=64, batch=100, limits=Limits(max_batch=64)).limit == "max_batch"
    assert isinstance(create_model(SMALL, num_classes=10, resolution=32, batch=2), nn.Module)


def test_nothing_is_built_before_the_check() -> None:
    spec = parse_structure(WIDE)
    with mock.patch.object(nn.Module, "__init__", side_effect=AssertionError("a module was built")):
        assert error_of(build_model, spec, resolution=224, batch=64).limit == "max_activation_bytes"
        assert error_of(build_model, WIDE, limits=Limits(max_params=10**8)).limit == "max_params"
        assert error_of(create_model, WIDE, limits=Limits(max_params=10**8)).limit == "max_params"


def test_check_allocation_names_each_limit() -> None:
    spec = parse_structure(SMALL)
    allocation = check_allocation(spec, 224, 8, num_classes=10)
    assert allocation.params == spec.counts(224, 10).params and allocation.param_bytes == 4 * allocation.params
    assert allocation.activation_bytes == 8 * 4 * (activation_elements(spec, 224) + 10)
    assert check_allocation(spec, None).activation_bytes is None  # weights only
    assert error_of(check_allocation, spec, 8192).limit == "max_resolution"
    assert error_of(check_allocation, spec, 224, 10**6).limit == "max_batch"
    assert error_of(check_allocation, parse_structure(WIDE), 32, 1, Limits(max_params=10**8)).limit == "max_params"
    assert error_of(check_allocation, spec, 4096, 4096).limit == "max_activation_bytes"
    unparsed = NetworkSpec((parse_structure("SuperConvK3BNRELU(3,32,2,1)").blocks[0].__class__(
        "SuperConvK3BNRELU", 3, 32, 2, 10**9),))  # built directly, never parsed: still refused, quickly
    assert error_of(check_allocation, unparsed, 224).limit == "max_sub_layers"


@pytest.mark.parametrize("bad", [0, -1, -224])
def test_zero_or_negative_resolution_and_batch_are_errors_not_defaults(bad: int) -> None:
    spec = parse_structure(SMALL)
    with pytest.raises(SpecError, match="resolution"):
        check_allocation(spec, bad)
    with pytest.raises(SpecError, match="resolution"):
        spec.counts(bad)
    with pytest.raises(SpecError, match="batch"):
        check_allocation(spec, 224, bad)
    with pytest.raises(SpecError, match="resolution"):
        create_model(SMALL, resolution=bad)


def test_limits_themselves_are_validated_and_errors_pickle() -> None:
    with pytest.raises(SpecError, match="max_channels"):
        Limits(max_channels=0)
    for error in (LimitError("max_batch", 5000, 4096, "the batch"),
                  error_of(parse_structure, "SuperConvK3BNRELU(3,32,2,100000)")):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error) and copy.limit == error.limit


@pytest.mark.parametrize("name", list_models())
def test_defaults_cover_every_zoo_model_with_margin(name: str) -> None:
    """At batch 64 and the model's resolution, every bound holds at twice the model's size."""
    m = get_zoo_model(name)
    spec = m.spec
    allocation = check_allocation(spec, m.resolution, 64, num_classes=m.num_classes, se=m.use_se)
    widest = max(max(b.in_channels, b.out_channels, b.bottleneck or 0) for b in spec.blocks)
    assert 2 * widest <= DEFAULT_LIMITS.max_channels
    assert 2 * max(b.sub_layers for b in spec.blocks) <= DEFAULT_LIMITS.max_sub_layers
    assert 2 * spec.layers <= DEFAULT_LIMITS.max_total_sub_layers
    assert 2 * allocation.params <= DEFAULT_LIMITS.max_params
    assert allocation.activation_bytes is not None and 2 * allocation.activation_bytes <= DEFAULT_LIMITS.max_activation_bytes


def test_defaults_cover_the_search_spaces() -> None:
    from zenbench.space.mutate import SPLIT_THRESHOLD, SUB_LAYER_STEPS, channel_candidates
    from zenbench.space.spaces import MAX_CHANNELS

    assert 2 * max(MAX_CHANNELS.values()) <= DEFAULT_LIMITS.max_channels
    assert max(channel_candidates(2048, "xxbl")) <= DEFAULT_LIMITS.max_channels
    assert SPLIT_THRESHOLD + max(SUB_LAYER_STEPS) <= DEFAULT_LIMITS.max_sub_layers


@pytest.mark.parametrize(("residual", "bn", "se"), [(True, True, False), (False, True, False), (True, False, True),
                                                     (False, False, True)])
def test_activation_estimate_is_every_output_the_built_module_makes(residual: bool, bn: bool, se: bool) -> None:
    """Count the outputs of a real forward pass with hooks; the analytic count must agree exactly."""
    spec = parse_structure(SMALL)
    model = build_model(spec, 0, residual=residual, bn=bn, se=se).eval()
    inside_se = {id(m) for s in model.modules() if isinstance(s, SqueezeExcite) for m in s.gate.modules()}
    total = 0

    def add(module: nn.Module, inputs: object, output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel()

    for module in model.modules():
        counted = isinstance(module, nn.Conv2d | nn.BatchNorm2d | SqueezeExcite) and id(module) not in inside_se
        if counted or (isinstance(module, ResidualUnit) and (module.shortcut is not None or module.identity)):
            module.register_forward_hook(add)
    x = torch.zeros(1, 3, 40, 40)
    with torch.no_grad():
        model(x)
    assert total + x.numel() == activation_elements(spec, 40, residual=residual, bn=bn, se=se)
