"""Parse and format Zen-NAS structure strings.

Grammar (whitespace is allowed between tokens; the canonical form has none)::

    structure := block+
    block     := NAME "(" INT ("," INT)* ")"
    NAME      := a registered block type, e.g. SuperResK1K5K1

``format_structure(parse_structure(s)) == s`` for every canonical string. Every problem is a
:class:`StructureError` with the offset and token where it was found and what was expected.
"""

from __future__ import annotations

import re

from zenbench.errors import SpecError, StructureError, UnknownNameError
from zenbench.space.blocks import BLOCKS, BlockSpec
from zenbench.space.spec import NetworkSpec

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
        self.pos = _SPACE.match(self.text, self.pos).end()

    def at_end(self) -> bool:
        self.skip_space()
        return self.pos >= len(self.text)

    def token_here(self) -> str:
        match = _TOKEN.match(self.text, self.pos)
        return match.group() if match else ""

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
        self.pos = match.end()
        return int(match.group()), start


def parse_structure(text: str) -> NetworkSpec:
    """Parse a structure string into a validated :class:`NetworkSpec`."""
    if not isinstance(text, str):
        raise TypeError(f"structure must be a str, got {type(text).__name__}")
    cursor = _Cursor(text)
    blocks: list[BlockSpec] = []
    if cursor.at_end():
        raise cursor.fail("at least one block such as SuperConvK3BNRELU(3,32,2,1)")
    while not cursor.at_end():
        block, in_channels_at = _parse_block(cursor)
        if blocks and block.in_channels != blocks[-1].out_channels:
            raise cursor.fail(
                f"in_channels {blocks[-1].out_channels}",
                hint=f"channel chain mismatch: the previous block {blocks[-1]} writes {blocks[-1].out_channels} channels",
                at=in_channels_at,
            )
        blocks.append(block)
    return NetworkSpec(tuple(blocks))


def _parse_block(cursor: _Cursor) -> tuple[BlockSpec, int]:
    """One block, and the offset of its in_channels argument (for chain errors)."""
    name, start = cursor.name()
    if name not in BLOCKS:
        close = UnknownNameError("block type", name, BLOCKS).suggestions
        hint = f"did you mean {' or '.join(close)}?" if close else "see zenbench.list_blocks()"
        raise cursor.fail("a registered block type", hint=hint, at=start, token=name)
    block_type = BLOCKS.get(name)
    cursor.expect("(", f"'(' after {name}")
    values: list[tuple[int, int]] = []
    while True:
        arg_name = block_type.arg_names[len(values)] if len(values) < len(block_type.arg_names) else "extra argument"
        values.append(cursor.integer(arg_name))
        cursor.skip_space()
        if cursor.text.startswith(",", cursor.pos):
            cursor.pos += 1
            continue
        break
    cursor.expect(")", "',' or ')'")
    arity = len(block_type.arg_names)
    if len(values) != arity:
        raise cursor.fail(
            f"{arity} arguments ({','.join(block_type.arg_names)})",
            hint=f"{name} got {len(values)}",
            at=start,
            token=name,
        )
    spec = BlockSpec(type=name, **{n: v for n, (v, _) in zip(block_type.arg_names, values, strict=True)})
    problem = block_type.problem(spec)
    if problem:
        arg, expected = problem
        at = values[block_type.arg_names.index(arg)][1] if arg in block_type.arg_names else start
        raise cursor.fail(expected, hint=f"argument {arg} of {name}", at=at)
    return spec, values[0][1]


def format_structure(spec: NetworkSpec) -> str:
    """The canonical structure string of a spec (the inverse of :func:`parse_structure`)."""
    return str(spec)


def try_parse(text: str) -> NetworkSpec | None:
    """Parse, or return None when ``text`` is not a structure string (used to tell names from strings)."""
    try:
        return parse_structure(text)
    except (StructureError, SpecError):
        return None
