from __future__ import annotations

import pytest

from zenbench import StructureError, list_blocks, parse_structure
from zenbench.space.blocks import BLOCKS

STEM = "SuperConvK3BNRELU(3,32,2,1)"


def test_every_official_block_type_is_registered() -> None:
    expected = (
        [f"SuperConvK{k}BNRELU" for k in (1, 3, 5, 7)]
        + [f"SuperResK{k}K{k}" for k in (3, 5, 7)]
        + [f"SuperResK1K{k}K1" for k in (3, 5, 7)]
        + [f"SuperResIDWE{e}K{k}" for e in (1, 2, 4, 6) for k in (3, 5, 7)]
    )
    assert sorted(expected) == list_blocks()
    assert len(list_blocks("SuperResIDW*")) == 12


@pytest.mark.parametrize("name", list_blocks())
def test_round_trip_every_block_type(name: str) -> None:
    block_type = BLOCKS.get(name)
    args = "32,64,2,1" if not block_type.has_bottleneck else "32,64,2,24,3"
    text = f"{STEM}{name}({args})"
    spec = parse_structure(text)
    assert str(spec) == text
    assert parse_structure(str(spec)) == spec


def test_whitespace_is_tolerated_and_formatting_is_canonical() -> None:
    spec = parse_structure(f" {STEM}\n  SuperResK3K3( 32, 64, 1, 8, 1 )\n")
    assert str(spec) == f"{STEM}SuperResK3K3(32,64,1,8,1)"


def error_of(text: str) -> StructureError:
    with pytest.raises(StructureError) as info:
        parse_structure(text)
    return info.value


def test_unknown_block_names_offset_and_close_match() -> None:
    error = error_of(f"{STEM}SuperResK1K5K2(32,64,2,32,2)")
    assert error.offset == len(STEM)
    assert error.token == "SuperResK1K5K2"
    assert "SuperResK1K5K1" in str(error)


def test_wrong_arity_names_the_expected_arguments() -> None:
    error = error_of(f"{STEM}SuperResK3K3(32,64,2,1)")
    assert error.offset == len(STEM)
    assert "5 arguments" in error.expected and "bottleneck" in error.expected


def test_non_integer_argument() -> None:
    error = error_of("SuperConvK3BNRELU(3,3.5,2,1)")
    assert error.offset == len("SuperConvK3BNRELU(3,")
    assert error.token == "3.5"
    assert "integer" in error.expected


def test_channel_chain_mismatch_points_at_in_channels() -> None:
    error = error_of(f"{STEM}SuperResK3K3(16,64,2,8,1)")
    assert error.offset == len(STEM) + len("SuperResK3K3(")
    assert "32" in error.expected and "mismatch" in error.hint


@pytest.mark.parametrize(("text", "arg"), [
    ("SuperConvK3BNRELU(3,32,3,1)", "stride"),
    ("SuperConvK3BNRELU(3,0,2,1)", "out_channels"),
    ("SuperConvK3BNRELU(3,32,2,0)", "sub_layers"),
    (f"{STEM}SuperResK1K3K1(32,64,2,0,1)", "bottleneck"),
    (f"{STEM}SuperResK1K3K1(32,64,2,-8,1)", "bottleneck"),
])
def test_out_of_range_arguments_name_the_argument(text: str, arg: str) -> None:
    error = error_of(text)
    assert arg in str(error)


@pytest.mark.parametrize("text", ["", "   ", "SuperConvK3BNRELU", "SuperConvK3BNRELU(", "SuperConvK3BNRELU(3,32,2,1",
                                  "SuperConvK3BNRELU(3,32,2,1))", "(3,32,2,1)", "SuperConvK3BNRELU(3,,2,1)"])
def test_truncated_or_garbled_strings(text: str) -> None:
    error = error_of(text)
    assert 0 <= error.offset <= len(text)
    assert "offset" in str(error)
