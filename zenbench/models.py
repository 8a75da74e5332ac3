"""One entry point for networks, in the style of timm's ``create_model``.

``resolve_network`` turns whatever a user typed (a zoo name, a structure string, or a file
holding one) into a spec plus the settings that go with it; ``create_model`` builds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zenbench.errors import StructureError, UnknownNameError, ZenbenchError
from zenbench.space.grammar import parse_structure
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


def resolve_network(text: str | NetworkSpec) -> ResolvedNetwork:
    """A zoo name, a structure string, or a path to a file whose first line is one."""
    if isinstance(text, NetworkSpec):
        return ResolvedNetwork(text, "string", str(text))
    text = text.strip()
    if is_zoo_name(text):
        zoo = get_zoo_model(text)
        return ResolvedNetwork(zoo.spec, "zoo", zoo.name, zoo.num_classes, zoo.resolution, zoo.use_se, zoo)
    if "(" in text:
        return ResolvedNetwork(parse_structure(text), "string", text)
    path = Path(text)
    if path.is_file():
        lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        if not lines:
            raise ZenbenchError(f"{path} is empty; expected a structure string on its first line")
        return ResolvedNetwork(parse_structure(lines[0]), "file", str(path))
    close = UnknownNameError("zoo model", text, list_models()).suggestions
    raise ZenbenchError(
        f"{text!r} is not a zoo model, a structure string (those contain '('), or a file"
        + (f"; did you mean {', '.join(close)}?" if close else "; `zenbench zoo` lists the models")
    )


def iter_networks(items: list[str]) -> list[ResolvedNetwork]:
    """Expand command-line items: a file with several lines gives one network per line ('#' comments)."""
    networks: list[ResolvedNetwork] = []
    for item in items:
        path = Path(item)
        if "(" not in item and not is_zoo_name(item) and path.is_file():
            lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
            if not lines:
                raise ZenbenchError(f"{path} holds no structure strings")
            for number, line in enumerate(lines, start=1):
                try:
                    net = resolve_network(line)
                except ZenbenchError as error:
                    raise ZenbenchError(f"{path}, line {number}: {error}") from None
                networks.append(ResolvedNetwork(net.spec, "file", f"{path.name}:{number}", net.num_classes,
                                                net.resolution, net.use_se, net.zoo))
        else:
            networks.append(resolve_network(item))
    return networks


def create_model(name_or_structure: str | NetworkSpec, *, num_classes: int | None = None,
                 use_se: bool | None = None, residual: bool = True, bn: bool = True) -> ZenNet:
    """Build a network by zoo name or structure string; zoo entries bring their own defaults.

    >>> model = create_model("zennet_imagenet1k_latency01ms_res224")
    >>> model = create_model("SuperConvK3BNRELU(3,16,2,1)SuperResK3K3(16,32,2,16,1)", num_classes=10)
    """
    resolved = resolve_network(name_or_structure)
    return build_model(
        resolved.spec,
        resolved.num_classes if num_classes is None else num_classes,
        residual=residual,
        bn=bn,
        se=resolved.use_se if use_se is None else use_se,
    )


__all__ = ["ResolvedNetwork", "StructureError", "create_model", "iter_networks", "list_models", "resolve_network"]
