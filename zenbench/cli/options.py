"""The CLI's shared options and choices: every value a user types is range-checked or chosen from a list here.

Nothing is silently replaced: a value out of range is a usage error (exit 2), and defaults are applied
with ``is None`` checks, never ``or``.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class Convention(str, Enum):
    exact = "exact"
    paper = "paper"


class Protocol(str, Enum):
    official = "official"
    paper = "paper"


class UnitSpace(str, Enum):
    """Spaces a device can be profiled and validated on."""

    xxbl = "xxbl"
    idw = "idw"


class SearchSpaceName(str, Enum):
    xxbl = "xxbl"
    idw = "idw"
    nb201 = "nb201"


class GroundTruthSpace(str, Enum):
    """Spaces with measured ground truth (accuracy, whole-network latency)."""

    nb201 = "nb201"


class Dataset(str, Enum):
    cifar10 = "cifar10"
    cifar100 = "cifar100"
    imagenet16 = "imagenet16"


class CellSet(str, Enum):
    all = "all"
    live = "live"


class LatencySource(str, Enum):
    fitted = "fitted"
    measured = "measured"


class Precision(str, Enum):
    fp32 = "fp32"
    fp16 = "fp16"
    int8 = "int8"


FORMATS = ("onnx", "ort", "tflite", "tensorrt")

#: accepted spellings of --dtype -> the torch dtype's name
DTYPES = {"float32": "float32", "fp32": "float32", "float64": "float64", "fp64": "float64", "bfloat16": "bfloat16",
          "bf16": "bfloat16", "float16": "float16", "fp16": "float16"}

MIN_RESOLUTION = 8

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
NetworkArgument = Annotated[str, typer.Argument(help="Zoo name, structure string, or file holding one.")]
ResolutionOption = Annotated[int | None, typer.Option(min=MIN_RESOLUTION,
                                                      help="Input resolution (default: the zoo model's, else 224).")]
NumClassesOption = Annotated[int | None, typer.Option(min=1, help="Classes (default: the zoo model's, else 1000).")]
SeedOption = Annotated[int, typer.Option(min=0, help="Random seed.")]
TableOption = Annotated[Path | None, typer.Option("--table", exists=True, dir_okay=False,
                                                  help="Latency table (default: the device's).")]
MeasurementsOption = Annotated[Path, typer.Option(exists=True, dir_okay=False,
                                                  help="CSV with 'arch' and one latency column (ms) per device.")]
DType = Enum("DType", {name: name for name in DTYPES}, type=str)  # type: ignore[misc]
DtypeOption = Annotated[DType, typer.Option(case_sensitive=False, help="Tensor dtype.")]


def positive(value: float | None, name: str) -> float | None:
    """``value`` if it is None or > 0, else a usage error naming the option."""
    if value is not None and not value > 0:
        raise typer.BadParameter(f"{value:g} is not > 0", param_hint=f"'{name}'")
    return value


def parse_quantity(text: str | None, what: str) -> float | None:
    """'400M', '1.5G', '2e6', '900k' -> a float > 0 (None stays None); anything else is a usage error."""
    if text is None:
        return None
    units = {"k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "g": 1e9, "G": 1e9}
    try:
        value = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except (ValueError, OverflowError):
        raise typer.BadParameter(f"{text!r} is not a number such as 400M, 1.5G or 2e6",
                                 param_hint=f"'--{what}'") from None
    if not 0 < value < float("inf"):
        raise typer.BadParameter(f"{text!r} is not > 0", param_hint=f"'--{what}'")
    return value


def parse_guard(text: str) -> float | None:
    """--guard: 'auto' -> None (the table's validated error), 'none' -> 0, else a fraction in [0, 1]."""
    if text == "auto":
        return None
    if text == "none":
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 1:
        raise typer.BadParameter(f"{text!r}: use auto, none or a fraction between 0 and 1", param_hint="'--guard'")
    return value


def split_choices(text: str, allowed: tuple[str, ...], name: str) -> list[str]:
    """A comma-separated list whose every item is one of ``allowed``; empty or unknown items are usage errors."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in items if item not in allowed]
    if unknown or not items:
        raise typer.BadParameter(f"{text!r}: choose from {', '.join(allowed)} (comma-separated)",
                                 param_hint=f"'{name}'")
    return items


def split_names(text: str) -> list[str]:
    """A comma-separated list of names (checked by the registry that knows them)."""
    return [item.strip() for item in text.split(",") if item.strip()]
