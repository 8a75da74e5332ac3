"""Parse and format Zen-NAS structure strings: the public entry points.

``format_structure(parse_structure(s)) == s`` for every canonical string. The parser itself (and
the grammar it reads) is :mod:`zenbench.space.parser`; this module adds the ``NetworkSpec`` on
top, so that ``spec.py`` and the parser do not import each other.
"""

from __future__ import annotations

from zenbench.errors import SpecError, StructureError
from zenbench.space.limits import Limits
from zenbench.space.parser import parse_blocks
from zenbench.space.spec import NetworkSpec


def parse_structure(text: str, *, limits: Limits | None = None) -> NetworkSpec:
    """Parse a structure string into a validated :class:`NetworkSpec`.

    Channels and sub-layers over ``limits`` (default :class:`Limits`) are a
    :class:`~zenbench.errors.StructureLimitError`, so counting the result always finishes quickly.
    """
    return NetworkSpec(parse_blocks(text, limits))


def format_structure(spec: NetworkSpec) -> str:
    """The canonical structure string of a spec (the inverse of :func:`parse_structure`)."""
    return str(spec)


def try_parse(text: str, *, limits: Limits | None = None) -> NetworkSpec | None:
    """Parse, or return None when ``text`` is not a structure string (used to tell names from strings)."""
    try:
        return parse_structure(text, limits=limits)
    except (StructureError, SpecError):
        return None
