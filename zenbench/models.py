"""One entry point for networks, in the style of timm's ``create_model``.

``resolve_network`` turns whatever a user typed (a zoo name, a structure string, or a file
holding one) into a spec plus the settings that go with it; ``create_model`` builds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zenbench.errors import StructureError, UnknownNameError, ZenbenchError
from zenbench.space.grammar import parse_structure
from zenbench.space.limits import Limits
from zenbench.space.network import ZenNet, build_model
from zenbench.space.spec import NetworkSpec
from zenbench.zoo import ZooModel, get_zoo_model, is_zoo_name, list_models


@dataclass(frozen=True)
class ResolvedNetwork:
    """A spec with the defaults its source implies (a zoo entry's classes, resolution, SE)."""

    spec: NetworkSpec
    source: str  # "zoo", "string" or "file"
    name: str
    num_classes: int = 1000
    resolution: int = 224
    use_se: bool = False
    zoo: ZooModel | None = None


#: a structure file larger than this is refused unread (the largest zoo string is under 1 kB)
MAX_STRUCTURE_FILE_BYTES = 16 * 2**20


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False for a name the OS cannot even look up (too long, NUL bytes)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def read_structure_file(path: Path) -> list[str]:
    """The non-blank lines of a structure file, read as UTF-8; a clear error naming the file otherwise."""
    try:
        if path.stat().st_size > MAX_STRUCTURE_FILE_BYTES:
            raise ZenbenchError(f"{path} is over {MAX_STRUCTURE_FILE_BYTES // 2**20} MiB; a structure file holds "
                                "one structure string a line")
        data = path.read_bytes()
    except OSError as error:
        raise ZenbenchError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ZenbenchError(f"{path} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
                            "save it as UTF-8 with one structure string a line") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def resolve_network(text: str | NetworkSpec, *, limits: Limits | None = None) -> ResolvedNetwork:
    """A zoo name, a structure string, or a path to a file whose first line is one."""
    if isinstance(text, NetworkSpec):
        return ResolvedNetwork(text, "string", str(text))
    text = text.strip()
    if is_zoo_name(text):
        zoo = get_zoo_model(text)
        return ResolvedNetwork(zoo.spec, "zoo", zoo.name, zoo.num_classes, zoo.resolution, zoo.use_se, zoo)
    if "(" in text:
        return ResolvedNetwork(parse_structure(text, limits=limits), "string", text)
    path = Path(text)
    if _is_file(path):
        lines = read_structure_file(path)
        if not lines:
            raise ZenbenchError(f"{path} is empty; expected a structure string on its first line")
        return ResolvedNetwork(parse_structure(lines[0], limits=limits), "file", str(path))
    close = UnknownNameError("zoo model", text[:200], list_models()).suggestions
    shown = text if len(text) <= 80 else text[:80] + "…"
    raise ZenbenchError(
        f"{shown!r} is not a zoo model, a structure string (those contain '('), or a file"
        + (f"; did you mean {', '.join(close)}?" if close else "; `zenbench zoo` lists the models")
    )


def iter_networks(items: list[str], *, limits: Limits | None = None) -> list[ResolvedNetwork]:
    """Expand command-line items: a file with several lines gives one network per line ('#' comments)."""
    networks: list[ResolvedNetwork] = []
    for item in items:
        path = Path(item)
        if "(" not in item and not is_zoo_name(item) and _is_file(path):
            lines = [ln for ln in read_structure_file(path) if not ln.startswith("#")]
            if not lines:
                raise ZenbenchError(f"{path} holds no structure strings")
            for number, line in enumerate(lines, start=1):
                try:
                    net = resolve_network(line, limits=limits)
                except ZenbenchError as error:
                    raise ZenbenchError(f"{path}, line {number}: {error}") from None
                networks.append(ResolvedNetwork(net.spec, "file", f"{path.name}:{number}", net.num_classes,
                                                net.resolution, net.use_se, net.zoo))
        else:
            networks.append(resolve_network(item, limits=limits))
    return networks


def create_model(name_or_structure: str | NetworkSpec, *, num_classes: int | None = None,
                 use_se: bool | None = None, residual: bool = True, bn: bool = True, resolution: int | None = None,
                 batch: int = 1, limits: Limits | None = None) -> ZenNet:
    """Build a network by zoo name or structure string; zoo entries bring their own defaults.

    Before building, :func:`~zenbench.space.allocation.check_allocation` checks the parameters and the
    activation memory of ``batch`` images at ``resolution`` (default: the entry's, else 224)
    against ``limits``.

    >>> model = create_model("zennet_imagenet1k_latency01ms_res224")
    >>> model = create_model("SuperConvK3BNRELU(3,16,2,1)SuperResK3K3(16,32,2,16,1)", num_classes=10)
    """
    resolved = resolve_network(name_or_structure, limits=limits)
    return build_model(
        resolved.spec,
        resolved.num_classes if num_classes is None else num_classes,
        residual=residual,
        bn=bn,
        se=resolved.use_se if use_se is None else use_se,
        resolution=resolved.resolution if resolution is None else resolution,
        batch=batch,
        limits=limits,
    )


__all__ = ["ResolvedNetwork", "StructureError", "create_model", "iter_networks", "list_models", "read_structure_file",
           "resolve_network"]
