"""Hostile structure strings, resolutions and batches, and the one check every one must pass.

Shared by the property-based fuzz test (``test_fuzz_limits.py``) and the 10,000-string run
(``test_fuzz_10k.py``, slow). ``run_one`` parses, counts at 224 px and checks the allocation; it
returns ``"value"`` or ``"error"`` (a ZenbenchError) and lets anything else propagate.
"""

from __future__ import annotations

import random

from zenbench import ZenbenchError, parse_structure
from zenbench.space.allocation import check_allocation
from zenbench.space.blocks import list_blocks

VALID = (
    "SuperConvK3BNRELU(3,24,2,1)SuperResK1K5K1(24,32,2,32,1)SuperResK3K3(32,64,2,32,2)"
    "SuperResIDWE6K7(64,96,2,48,3)SuperConvK1BNRELU(96,512,1,1)"
)
BLOCK = "SuperResK3K3({c},{c},1,{b},{n})"
SNIPPETS = ["(", ")", ",", "-", "+", " ", "\n", "\t", ".", "0", "1", "9", "e9", "\x00", "\ud800", "٣", "３", "é",
            "😀", "K3", "BNRELU", "SuperRes", "SuperConv", "IDWE6K7", *list_blocks()]


def hostile_int(rng: random.Random) -> str:
    """An integer token a user should never type: zero, negative, huge, thousands of digits."""
    kind = rng.randrange(9)
    if kind == 0:
        return rng.choice(["0", "-0", "+0", "-1", "-32", "+32"])
    if kind == 1:
        return str(10 ** rng.randrange(3, 40))
    if kind == 2:
        return "9" * rng.choice([18, 19, 100, 4300, 4301, 5000, 20000])
    if kind == 3:
        return "0" * rng.randrange(1, 200) + str(rng.randrange(1, 64))
    if kind == 4:
        return str(rng.choice([10**5, 10**6, 2**31, 2**63, 2**64 + 1, 32768, 32769, 65, 1024, 1025]))
    if kind == 5:
        return "-" + "9" * rng.randrange(1, 30)
    if kind == 6:
        return rng.choice(["٣٢", "３２", "1_000", "1e5", "0x20", "32.0", "inf", "nan", ""])
    if kind == 7:
        return str(rng.randrange(1, 100_000))
    return str(rng.randrange(1, 64))


def _replace_ints(text: str, rng: random.Random, count: int) -> str:
    """Replace ``count`` random integer tokens of ``text`` with hostile ones."""
    import re

    spans = [m.span() for m in re.finditer(r"\d+", text)]
    for start, end in sorted(rng.sample(spans, min(count, len(spans))), reverse=True):
        text = text[:start] + hostile_int(rng) + text[end:]
    return text


def hostile_string(rng: random.Random) -> str:
    """One hostile structure string (a mix of near-valid strings with bad values and pure garbage)."""
    kind = rng.randrange(10)
    if kind <= 2:
        return _replace_ints(VALID, rng, rng.randint(1, 3))
    if kind == 3:  # a long chain of blocks, each with plausible or huge sub-layers
        c, n = rng.choice([8, 32, 512, 4096]), rng.randrange(1, 2000)
        sub = rng.choice(["1", "5", "63", "64", "65", hostile_int(rng)])
        return f"SuperConvK3BNRELU(3,{c},2,1)" + BLOCK.format(c=c, b=max(8, c // 4), n=sub) * n
    if kind == 4:  # deep nesting and unbalanced brackets
        depth = rng.choice([10, 1000, 100_000])
        return rng.choice(["(" * depth, "SuperConvK3BNRELU(" * depth, "SuperConvK3BNRELU(3," + "(" * depth + ")" * depth,
                           ")" * depth, "SuperConvK3BNRELU(3,32,2,1)" + "(" * depth])
    if kind == 5:  # token soup with unicode
        return "".join(rng.choice(SNIPPETS) for _ in range(rng.randrange(0, 80)))
    if kind == 6:  # mutations of a valid string
        text = VALID
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(len(text) + 1)
            piece = rng.choice(SNIPPETS + [hostile_int(rng)])
            action = rng.randrange(4)
            if action == 0:
                text = text[:pos] + text[pos + 1:]
            elif action == 1:
                text = text[:pos] + piece + text[pos:]
            elif action == 2:
                text = text[:pos] + piece + text[pos + 1:]
            else:
                text = text[:pos]
        return text
    if kind == 7:  # many arguments, or huge whitespace
        return rng.choice(["SuperConvK3BNRELU(" + ",".join(["3"] * rng.randrange(5, 50_000)) + ")",
                           " " * rng.randrange(1, 1_000_000) + VALID, VALID + "\n" * rng.randrange(1, 100_000)])
    if kind == 8:  # wide layers: fine to parse, too big to build
        c = rng.choice([2048, 8192, 16384, 32768, 50_000])
        return f"SuperConvK3BNRELU(3,{c},2,1)SuperConvK1BNRELU({c},{c},1,{rng.randrange(1, 65)})"
    return _replace_ints(VALID, rng, 15)


def hostile_size(rng: random.Random) -> int:
    """A resolution or batch: mostly sane, sometimes zero, negative or absurd."""
    if rng.random() < 0.7:
        return rng.choice([1, 2, 16, 32, 64, 224])
    return rng.choice([0, -1, -224, 4096, 4097, 10**6, 10**12, 2**63])


def run_one(text: str, resolution: int = 224, batch: int = 1) -> str:
    """Parse, count, check the allocation: ``"value"``, or ``"error"`` for a ZenbenchError."""
    try:
        spec = parse_structure(text)
        spec.counts(224, 1000)
        check_allocation(spec, resolution, batch)
    except ZenbenchError:
        return "error"
    return "value"
