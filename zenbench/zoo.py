"""The published ZenNet models: structures, settings and the figures the paper reports.

The data ships with the package (``zenbench/data/zennet_zoo.json``, copied from the project's
shared data). Published figures are rounded; ``flops_macs`` are multiply-accumulates.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from zenbench.errors import UnknownNameError
from zenbench.space.grammar import parse_structure
from zenbench.space.spec import NetworkSpec


@dataclass(frozen=True)
class ZooModel:
    """One ZenNet model and what was published about it."""

    name: str
    structure: str
    num_classes: int
    resolution: int
    use_se: bool
    eval_crop: int
    published: dict[str, float] = field(default_factory=dict)

    @property
    def spec(self) -> NetworkSpec:
        return parse_structure(self.structure)

    @property
    def published_macs(self) -> float | None:
        return self.published.get("flops_macs")

    @property
    def published_params(self) -> float | None:
        return self.published.get("params")


@cache
def _zoo() -> dict[str, ZooModel]:
    text = resources.files("zenbench").joinpath("data/zennet_zoo.json").read_text()
    models: list[dict[str, Any]] = json.loads(text)["models"]
    return {
        m["name"]: ZooModel(
            name=m["name"],
            structure=m["structure"],
            num_classes=int(m["num_classes"]),
            resolution=int(m["resolution"]),
            use_se=bool(m["use_se"]),
            eval_crop=int(m["eval_crop"]),
            published=dict(m.get("published", {})),
        )
        for m in models
    }


def list_models(pattern: str = "*") -> list[str]:
    """Names of the zoo models matching a glob pattern, e.g. ``"*cifar10_*"``."""
    return sorted(n for n in _zoo() if fnmatch.fnmatchcase(n, pattern))


def get_zoo_model(name: str) -> ZooModel:
    try:
        return _zoo()[name]
    except KeyError:
        raise UnknownNameError("zoo model", name, _zoo()) from None


def is_zoo_name(name: str) -> bool:
    return name in _zoo()
