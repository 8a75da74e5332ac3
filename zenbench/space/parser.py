"""The recursive-descent parser of Zen-NAS structure strings, down to a tuple of blocks.

Grammar (whitespace is allowed between tokens; the canonical form has none)::

    structure := block+
    block     := NAME "(" INT ("," INT)* ")"
    NAME      := a registered block type, e.g. SuperResK1K5K1

The parser knows blocks, not networks: :mod:`zenbench.space.spec` builds a ``NetworkSpec`` from
what it returns, and :mod:`zenbench.space.grammar` is the public entry point, so neither of those
two imports the other. Every problem is a :class:`StructureError` with the offset and token
where it was found and what was expected. Integers are length-checked before conversion, and
channels and sub-layers are checked against :class:`~zenbench.space.limits.Limits` as each block
is read, so no string can make the parser, or counting what it returns, run away.
"""

from __future__ import annotations

import re

from zenbench.errors import StructureError, StructureLimitError, UnknownNameError
from zenbench.space.blocks import BLOCKS, BlockSpec
from zenbench.space.limits import DEFAULT_LIMITS, MAX_INT_DIGITS, Limits, block_problem

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT = re.compile(r"[+-]?\d+")
_SPACE = re.compile(r"\s*")
_TOKEN = re.compile(r"[A-Za-z0-9_.+-]+|\S")


class _Cursor:
    """A position in the text with the helpers the recursive-descent parser needs."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_space(self) -> None:
        match = _SPACE.match(self.text, self.pos)
        assert match is not None  # \s* always matches
        self.pos = match.end()

    def at_end(self) -> bool:
        self.skip_space()
        return self.pos >= len(self.text)

    def token_here(self) -> str:
        match = _TOKEN.match(self.text, self.pos)
        token = match.group() if match else ""
        return token if len(token) <= 40 else token[:40] + "…"

    def fail(self, expected: str, hint: str = "", at: int | None = None, token: str | None = None) -> StructureError:
        if at is not None:
            self.pos = at
        return StructureError(self.text, self.pos, self.token_here() if token is None else token, expected, hint)

    def expect(self, literal: str, expected: str) -> None:
        self.skip_space()
        if not self.text.startswith(literal, self.pos):
            raise self.fail(expected)
        self.pos += len(literal)

    def name(self) -> tuple[str, int]:
        self.skip_space()
        match = _NAME.match(self.text, self.pos)
        if not match:
            raise self.fail("a block name such as SuperResK1K3K1")
        self.pos = match.end()
        return match.group(), match.start()

    def integer(self, what: str) -> tuple[int, int]:
        self.skip_space()
        start = self.pos
        match = _INT.match(self.text, self.pos)
        if not match or _NAME.match(self.text, match.end()) or self.text.startswith(".", match.end()):
            raise self.fail(f"an integer ({what})")
        digits = match.group().lstrip("+-")
        if len(digits) > MAX_INT_DIGITS:
            raise self.fail(f"an integer ({what}) of at most {MAX_INT_DIGITS} digits",
                            hint=f"this one has {len(digits):,}")
        self.pos = match.end()
        return int(match.group()), start


def parse_blocks(text: str, limits: Limits | None = None) -> tuple[BlockSpec, ...]:
    """The blocks of a structure string, validated, chained and within ``limits``."""
    if not isinstance(text, str):
        raise TypeError(f"structure must be a str, got {type(text).__name__}")
    limits = limits or DEFAULT_LIMITS
    cursor = _Cursor(text)
    blocks: list[BlockSpec] = []
    total_sub_layers = 0
    if cursor.at_end():
        raise cursor.fail("at least one block such as SuperConvK3BNRELU(3,32,2,1)")
    while not cursor.at_end():
        block, offsets = _parse_block(cursor, limits)
        if blocks and block.in_channels != blocks[-1].out_channels:
            raise cursor.fail(
                f"in_channels {blocks[-1].out_channels}",
                hint=f"channel chain mismatch: the previous block {blocks[-1]} writes {blocks[-1].out_channels} channels",
                at=offsets["in_channels"],
            )
        total_sub_layers += block.sub_layers
        if total_sub_layers > limits.max_total_sub_layers:
            at = offsets["sub_layers"]
            cursor.pos = at
            raise StructureLimitError(text, at, cursor.token_here(), "max_total_sub_layers", total_sub_layers,
                                      limits.max_total_sub_layers, "total sub_layers of the network")
        blocks.append(block)
    return tuple(blocks)


def _parse_block(cursor: _Cursor, limits: Limits) -> tuple[BlockSpec, dict[str, int]]:
    """One block, and the offset of each argument (for error positions)."""
    name, start = cursor.name()
    if name not in BLOCKS:
        close = UnknownNameError("block type", name, BLOCKS).suggestions
        hint = f"did you mean {' or '.join(close)}?" if close else "see zenbench.list_blocks()"
        raise cursor.fail("a registered block type", hint=hint, at=start, token=name)
    block_type = BLOCKS.get(name)
    arity = len(block_type.arg_names)
    cursor.expect("(", f"'(' after {name}")
    values: list[tuple[int, int]] = []
    while True:
        arg_name = block_type.arg_names[len(values)] if len(values) < arity else "extra argument"
        values.append(cursor.integer(arg_name))
        cursor.skip_space()
        if cursor.text.startswith(",", cursor.pos):
            cursor.pos += 1
            continue
        break
    cursor.expect(")", "',' or ')'")
    if len(values) != arity:
        raise cursor.fail(
            f"{arity} arguments ({','.join(block_type.arg_names)})",
            hint=f"{name} got {len(values)}",
            at=start,
            token=name,
        )
    offsets = {n: at for n, (_, at) in zip(block_type.arg_names, values, strict=True)}
    spec = BlockSpec(type=name, **{n: v for n, (v, _) in zip(block_type.arg_names, values, strict=True)})
    problem = block_type.problem(spec)
    if problem:
        arg, expected = problem
        raise cursor.fail(expected, hint=f"argument {arg} of {name}", at=offsets.get(arg, start))
    over = block_problem(spec, limits)
    if over:
        arg, error = over
        cursor.pos = offsets[arg]
        raise StructureLimitError(cursor.text, cursor.pos, cursor.token_here(), error.limit, error.value,
                                  error.maximum, f"{arg} of {name}")
    return spec, offsets
