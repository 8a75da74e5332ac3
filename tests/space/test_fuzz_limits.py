"""Property-based: every hostile structure string, resolution and batch ends in a value or a
ZenbenchError, quickly, and nothing builds a module on the way.

The per-example bound is a hang detector (the issue found strings that never returned), not a
speed test: it is five seconds for work that takes milliseconds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import torch
from hostile_structures import VALID, hostile_int, hostile_size, hostile_string, run_one
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HANG_SECONDS = 5.0


@contextmanager
def no_module_built() -> Iterator[None]:
    """Fail if anything constructs a torch module while the block runs."""
    with mock.patch.object(torch.nn.Module, "__init__", side_effect=AssertionError("a module was built")):
        yield


def check(text: str, resolution: int = 224, batch: int = 1) -> str:
    start = time.perf_counter()
    with no_module_built():
        outcome = run_one(text, resolution, batch)
    elapsed = time.perf_counter() - start
    assert elapsed < HANG_SECONDS, f"{elapsed:.1f} s for {text[:200]!r}"
    return outcome


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@fuzz_settings(300)
@given(st.randoms(use_true_random=False))
def test_hostile_strings_end_in_a_value_or_an_error(rng: random.Random) -> None:
    check(hostile_string(rng), hostile_size(rng), hostile_size(rng))


@fuzz_settings(200)
@given(st.lists(st.sampled_from(["SuperConvK3BNRELU", "SuperResK3K3", "SuperResIDWE6K7", "(", ")", ","]) | st.text(),
                max_size=40).map("".join),
       st.integers(-2**70, 2**70), st.integers(-2**70, 2**70))
def test_arbitrary_text_and_sizes(text: str, resolution: int, batch: int) -> None:
    check(text, resolution, batch)


@fuzz_settings(200)
@given(st.data())
def test_one_hostile_argument_in_a_valid_string(data: st.DataObject) -> None:
    import re

    rng = data.draw(st.randoms(use_true_random=False))
    spans = [m.span() for m in re.finditer(r"\d+", VALID)]
    start, end = data.draw(st.sampled_from(spans))
    value = data.draw(st.one_of(st.integers(-10**30, 10**30).map(str), st.builds(hostile_int, st.just(rng))))
    check(VALID[:start] + value + VALID[end:])


def test_the_issue_examples_are_refused_quickly() -> None:
    """The strings that hung or crashed in the issue: sub-layers of 1e5, 4,301 digits, 1e12 channels."""
    assert check("SuperConvK3BNRELU(3,32,2,100000)") == "error"
    assert check("SuperConvK3BNRELU(3,32,2," + "9" * 4301 + ")") == "error"
    assert check("SuperConvK3BNRELU(3,1000000000000,2,1)") == "error"
    assert check("SuperConvK3BNRELU(3,50000,2,1)SuperConvK1BNRELU(50000,50000,1,1)") == "error"
    assert check(VALID, resolution=0) == "error"
    assert check(VALID, batch=0) == "error"
    assert check(VALID) == "value"


def test_the_checker_can_fail() -> None:
    """``no_module_built`` really catches a build, and ``run_one`` lets a non-Zenbench error through."""
    from zenbench.space.network import build_model

    try:
        with no_module_built():
            build_model(VALID)
    except AssertionError as error:
        assert "module was built" in str(error)
    else:  # pragma: no cover
        raise AssertionError("building a model inside no_module_built() did not fail")
    try:
        run_one(12345)  # type: ignore[arg-type]
    except TypeError:
        pass
    else:  # pragma: no cover
        raise AssertionError("a non-string structure should raise TypeError, not be swallowed")
