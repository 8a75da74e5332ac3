"""Garbled structure strings give a valid spec or a StructureError with a position, nothing else."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zenbench import StructureError, ZenbenchError, parse_structure
from zenbench.space.blocks import list_blocks

VALID = (
    "SuperConvK3BNRELU(3,24,2,1)SuperResK1K5K1(24,32,2,32,1)SuperResK3K3(32,64,2,32,2)"
    "SuperResIDWE6K7(64,96,2,48,3)SuperConvK1BNRELU(96,512,1,1)"
)
ALPHABET = st.sampled_from(list("()0123456789,-+ .xK\n") + ["SuperRes", "SuperConv", "BNRELU", "IDWE", "K1", "K3"])


def check(text: str) -> None:
    try:
        spec = parse_structure(text)
    except StructureError as error:
        assert 0 <= error.offset <= len(text)
        return
    except ZenbenchError as error:  # pragma: no cover - would be a bug: every parse error has a position
        raise AssertionError(f"parse error without a position: {error!r}") from error
    assert parse_structure(str(spec)) == spec


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ALPHABET, max_size=60).map("".join))
def test_random_token_soup(text: str) -> None:
    check(text)


@settings(max_examples=1500, deadline=None)
@given(st.data())
def test_mutated_valid_strings(data: st.DataObject) -> None:
    text = VALID
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(text)))
        action = data.draw(st.sampled_from(["delete", "insert", "replace", "truncate"]))
        char = data.draw(st.sampled_from(list("(),0123456789 aKZ.-") + list_blocks()))
        if action == "delete":
            text = text[:pos] + text[pos + 1:]
        elif action == "insert":
            text = text[:pos] + char + text[pos:]
        elif action == "replace":
            text = text[:pos] + char + text[pos + 1:]
        else:
            text = text[:pos]
    check(text)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_unicode(text: str) -> None:
    check(text)
