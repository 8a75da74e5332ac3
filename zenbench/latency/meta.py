"""A latency table's metadata, typed and checked: what a table file must hold to be trusted.

A table is shipped and used where its device is absent, so a damaged file must be caught on load
and named, never half-read: :func:`check_metadata` turns the stored JSON into a frozen
:class:`TableMeta` or raises :class:`TableError` saying what is wrong and what to do.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from zenbench.errors import ZenbenchError
from zenbench.latency.calibration import Calibration
from zenbench.latency.models import SMOOTHER_OFF, KindModel, ResidualSmoother
from zenbench.latency.units import CORE_FEATURES, FEATURES, LEGACY_FEATURES, Core, Padding

#: the table format this version writes; it reads every format up to it
FORMAT = 2
#: networks measured end to end needed to fit a calibration
MIN_CALIBRATION_NETWORKS = 8
#: columns every table has, whatever it was measured from
REQUIRED_COLUMNS = ("key", "kind", "median_ms")


class TableError(ZenbenchError):
    """A latency table that is missing, unreadable, damaged, or was measured under other settings."""


@dataclass(frozen=True)
class DeviceSettings:
    """The settings a table was measured under (those that make two tables comparable)."""

    name: str | None
    backend: str | None
    precision: str
    batch: int
    per_image: bool
    threads: int | None


@dataclass(frozen=True)
class TableMeta:
    """A table's metadata, checked: the device's settings, the unit models' choices, the calibration and
    its networks, the validation; the rest (environment, versions, grid, host speed) as stored."""

    format: int
    device: DeviceSettings
    channel_block: Padding
    smoother: ResidualSmoother
    #: the core the unit models' features were counted on (:class:`~zenbench.latency.units.Core`); None in tables
    #: fitted before it was recorded, whose models do not use the features that depend on it
    core: Core | None
    calibration: Calibration | None
    networks: tuple[Mapping[str, Any], ...]
    validation: Mapping[str, Any]
    created: str | None
    other: Mapping[str, Any]
    #: how a table adapted from another host's was made (``zenbench profile --minutes``); empty otherwise
    adaptation: Mapping[str, Any] = field(default_factory=dict)


def new_metadata(device: dict[str, Any], environment: dict[str, Any], versions: dict[str, str],
                 grid: dict[str, Any]) -> dict[str, Any]:
    """The metadata of a table about to be measured or fitted."""
    return {"format": FORMAT, "device": device, "environment": environment, "versions": versions, "grid": grid,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _object(meta: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = meta.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"its {key!r} metadata is a {type(value).__name__}, not an object")
    return value


def check_models(raw: Any, core: Core | None = None) -> dict[str, KindModel]:
    """The stored per-kind unit models; ``ValueError`` naming the first bad one. Models fitted before the
    core-dependent features have the six legacy coefficients; models with all of them need the ``core``
    they were counted on, or they would predict on another one."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"its 'models' metadata is a {type(raw).__name__}, not an object")
    fields = set(KindModel.__dataclass_fields__)
    models = {}
    for kind, value in raw.items():
        if not isinstance(value, Mapping) or set(value) != fields:
            keys = sorted(value) if isinstance(value, Mapping) else type(value).__name__
            raise ValueError(f"its model of {kind!r} has keys {keys}, expected {sorted(fields)}")
        coefficients = value["coefficients"]
        if not isinstance(coefficients, Mapping) or set(coefficients) not in (set(LEGACY_FEATURES), set(FEATURES)) \
                or not all(_is_number(v) for v in coefficients.values()):
            raise ValueError(f"its model of {kind!r} needs a number for each of {', '.join(FEATURES)}")
        if core is None and any(coefficients.get(f) for f in CORE_FEATURES):
            raise ValueError(f"its model of {kind!r} counts {', '.join(CORE_FEATURES)} but the table records no "
                             f"core to count them on")
        coefficients = {f: coefficients.get(f, 0.0) for f in FEATURES}  # models fitted before a feature existed
        if not isinstance(value["n"], int) or isinstance(value["n"], bool) or value["kind"] != kind or not all(
                isinstance(value[k], (int, float)) and not isinstance(value[k], bool)
                for k in ("loo_mape", "loo_p90_ape")):
            raise ValueError(f"its model of {kind!r} has a wrong kind, count or error")
        models[kind] = KindModel(kind, {f: float(v) for f, v in coefficients.items()}, value["n"],
                                 float(value["loo_mape"]), float(value["loo_p90_ape"]))
    return models


def _device(meta: Mapping[str, Any]) -> DeviceSettings:
    device = _object(meta, "device")
    batch, per_image = device.get("batch", 1), device.get("per_image", False)
    threads, precision = device.get("threads"), device.get("precision", "fp32")
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise ValueError(f"its device batch is {batch!r}, not a positive whole number")
    if not isinstance(per_image, bool) or not isinstance(precision, str):
        raise ValueError("its device's per_image must be true/false and its precision a name")
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool)):
        raise ValueError(f"its device threads is {threads!r}, not a whole number")
    for key in ("device", "backend"):
        if device.get(key) is not None and not isinstance(device[key], str):
            raise ValueError(f"its device {key} is {device[key]!r}, not a name")
    return DeviceSettings(device.get("device"), device.get("backend"), precision, batch, per_image, threads)


def _networks(meta: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    networks = meta.get("networks") or []
    if not isinstance(networks, list):
        raise ValueError(f"its 'networks' metadata is a {type(networks).__name__}, not a list")
    for i, net in enumerate(networks):
        if not isinstance(net, Mapping) or not isinstance(net.get("structure"), str) or not all(
                isinstance(net.get(k), int) and not isinstance(net.get(k), bool) for k in ("resolution", "num_classes")) \
                or not _is_number(net.get("median_ms")) or net["median_ms"] <= 0:
            raise ValueError(f"its calibration network {i} needs a structure, resolution, num_classes and a "
                             f"positive median_ms")
    return tuple(networks)


def _padding_and_smoother(meta: Mapping[str, Any]) -> tuple[Padding, ResidualSmoother]:
    block = meta.get("channel_block", 1)
    if not (isinstance(block, int) and not isinstance(block, bool) and block >= 1) and not (
            isinstance(block, list) and len(block) == 3
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in block)):
        raise ValueError(f"its channel_block is {block!r}, not a tile or three tiles")
    raw = meta.get("smoother")
    if raw is None:
        return Padding.of(block), SMOOTHER_OFF
    if not isinstance(raw, Mapping) or set(raw) != set(ResidualSmoother.__dataclass_fields__) \
            or not all(_is_number(raw[k]) for k in ("prior", "loo_mape", "base_loo_mape")) \
            or not (raw["bandwidth"] is None or (_is_number(raw["bandwidth"]) and raw["bandwidth"] > 0)):
        raise ValueError(f"its smoother is {raw!r}, not a bandwidth, prior and errors")
    return Padding.of(block), ResidualSmoother(**raw)


def _core(meta: Mapping[str, Any]) -> Core | None:
    raw = meta.get("core")
    if raw is None:
        return None
    if not (isinstance(raw, list) and len(raw) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                            for v in raw) and raw[0] >= 1 and raw[1] >= 0):
        raise ValueError(f"its core is {raw!r}, not [vector elements, cached weights]")
    return Core(*raw)


def _adaptation(meta: Mapping[str, Any]) -> Mapping[str, Any]:
    """The optional record of an adaptation: its chosen form, that form's leave-one-out error, its networks
    and its source."""
    record = _object(meta, "adaptation")
    if not record:
        return {}
    if not isinstance(record.get("form"), str) or not _is_number(record.get("chosen_loo_mape")) \
            or not isinstance(record.get("networks"), int) or not isinstance(record.get("source"), Mapping):
        raise ValueError("its adaptation record needs a form, its chosen_loo_mape, a count of networks and a source")
    return record


def check_metadata(meta: Any) -> TableMeta:
    """The stored metadata as a :class:`TableMeta`; ``ValueError`` saying what is wrong (the loader adds
    the file)."""
    if not isinstance(meta, Mapping):
        raise ValueError(f"its metadata is a JSON {type(meta).__name__}, not an object")
    version = meta.get("format")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"its format is {version!r}, not a version number")
    if version > FORMAT:
        raise ValueError(f"it is in format {version}, newer than this zenbench reads ({FORMAT}); upgrade zenbench")
    raw_calibration = meta.get("calibration")
    calibration = None if raw_calibration is None else Calibration.from_dict(raw_calibration)
    validation = _object(meta, "validation")
    for key in ("mape", "rmspe", "p90_ape"):
        if validation.get(key) is not None and not _is_number(validation[key]):
            raise ValueError(f"its validation {key} is {validation[key]!r}, not a number")
    for key in ("environment", "versions", "grid", "host_speed", "nb201_model"):
        _object(meta, key)
    created = meta.get("created")
    if created is not None and not isinstance(created, str):
        raise ValueError(f"its creation date is {created!r}, not text")
    block, smoother = _padding_and_smoother(meta)
    known = {"format", "device", "channel_block", "smoother", "core", "calibration", "networks", "validation", "created",
             "adaptation"}
    return TableMeta(version, _device(meta), block, smoother, _core(meta), calibration, _networks(meta), validation, created,
                     {k: v for k, v in meta.items() if k not in known}, _adaptation(meta))
