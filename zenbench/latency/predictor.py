"""Predict a network's latency from a latency table: the sum of its units, calibrated.

:class:`Predictor` wraps one table and owns what it memoises (block sums, classifier latencies,
the smoother's residuals): a search's children share almost every block with their parents, so a
prediction is a handful of dictionary hits. ``predict_latency(spec, table)`` shares one Predictor
per table. The calibration that turns the sum into a network's latency is in :mod:`calibration`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zenbench.errors import ZenbenchError
from zenbench.latency.calibration import Calibration, NetworkSums
from zenbench.latency.meta import MIN_CALIBRATION_NETWORKS
from zenbench.latency.models import UnitModels, shape_coordinates, unit_residuals
from zenbench.latency.table import LatencyTable
from zenbench.latency.terms import CALIBRATION_GROUPS
from zenbench.latency.units import (
    BYTES_PER_ELEMENT,
    CLASSIFIER_KIND,
    classifier_features,
    classifier_key,
    unit_features,
    unit_key,
    unit_kind,
    unit_mid,
)
from zenbench.space.blocks import BlockSpec
from zenbench.space.spec import NetworkSpec, unit_macs_params
from zenbench.space.units import Unit


@dataclass(frozen=True)
class UnitCost:
    block: int
    unit: int
    key: str
    resolution: int
    ms: float
    measured: bool  # True: the table has this exact unit; False: predicted by its kind's model


@dataclass(frozen=True)
class Prediction:
    """A network's predicted latency (ms; per image when the device reports per image)."""

    value_ms: float
    raw_sum_ms: float
    units: tuple[UnitCost, ...]
    classifier_ms: float
    calibration: Calibration | None = None
    #: expected relative error from the table's validation (e.g. its MAPE), if validated
    expected_error: float | None = None
    per_image: bool = False
    #: Σ unit ms per calibration group (see ``CALIBRATION_GROUPS``), the classifier in "conv"
    raw_by_group: dict[str, float] = field(default_factory=dict)
    unit_count: int = 0
    #: the network's weights (MiB at the table's precision), for the calibration's weight-streaming term
    weight_mib: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"latency_ms": self.value_ms, "raw_sum_ms": self.raw_sum_ms, "classifier_ms": self.classifier_ms,
                "calibration": self.calibration.as_dict() if self.calibration else {},
                "expected_error": self.expected_error, "per_image": self.per_image,
                "raw_by_group": self.raw_by_group, "unit_count": self.unit_count, "weight_mib": self.weight_mib,
                "units": [u.__dict__ for u in self.units]}


class Predictor:
    """Latency of networks on one table's device, with the table's calibration."""

    def __init__(self, table: LatencyTable) -> None:
        self.table = table
        self._refresh()

    def _refresh(self) -> None:
        """Read what predictions need from the table, and forget what was memoised from older models."""
        table = self.table
        self._revision = table.revision
        self._block_pad, self._smoother, self._core = table.channel_block, table.smoother, table.core
        self.bytes_per_weight = BYTES_PER_ELEMENT.get(table.precision, 4)
        self.per_image, self.batch = table.per_image, table.batch
        self._blocks: dict[tuple, tuple[float, int, int, str, int, int]] = {}
        self._classifiers: dict[tuple[int, int, int], float] = {}
        self._residuals: dict | None = None

    def residuals(self) -> dict:
        if self._residuals is None:
            self._residuals = unit_residuals(self.table.rows, self.table.models, self._block_pad, self._core)
        return self._residuals

    def unit_ms(self, unit: Unit, resolution: int) -> float:
        """Latency of one unit: measured if the table has it, else its kind's model and the smoother."""
        key = unit_key(unit, resolution, self.batch)
        if key in self.table.measured:
            return float(self.table.measured[key])
        kind = unit_kind(unit)
        base = self.table.model(kind).predict(unit_features(unit, resolution, self.batch, self._block_pad,
                                                                         self._core))
        near = self.residuals().get((kind, unit.stride))
        if near is None:
            return base
        z = shape_coordinates([unit.in_channels], [unit_mid(unit)], [unit.out_channels], [resolution])[0]
        return base * self._smoother.correction(z, *near)

    def classifier_ms(self, channels: int, num_classes: int, resolution: int) -> float:
        cache_key = (channels, num_classes, resolution)
        hit = self._classifiers.get(cache_key)
        if hit is None:
            key = classifier_key(channels, num_classes, resolution, self.batch)
            hit = float(self.table.measured[key]) if key in self.table.measured else self.table.model(
                CLASSIFIER_KIND).predict(classifier_features(channels, num_classes, resolution, self.batch,
                                                             self._block_pad, self._core))
            self._classifiers[cache_key] = hit
        return hit

    def block_ms(self, block: BlockSpec, resolution: int,
                 limit: float = 0.0) -> tuple[float, int, int, str, int, int]:
        """(Σ unit ms, units, output resolution, calibration group, weights, weights of the units that fit within
        ``limit`` weights each) of one block, weights in elements, memoised."""
        # a plain tuple hashes and compares in C, several times faster than the dataclass's generated methods
        key = (block.type, block.in_channels, block.out_channels, block.stride, block.sub_layers, block.bottleneck,
               resolution, limit)
        hit = self._blocks.get(key)
        if hit is None:
            from zenbench.space.blocks import BLOCKS

            total, res, weights = 0.0, resolution, []
            units = block.units()
            for unit in units:
                total += self.unit_ms(unit, res)
                weights.append(unit_macs_params(unit, res, residual=True, bn=False, se=False)[0][1])  # BN folded
                res = unit.out_resolution(res)
            family = BLOCKS.get(block.type).family
            hit = self._blocks[key] = (total, len(units), res, family if family in CALIBRATION_GROUPS else "conv",
                                       sum(weights), sum(w for w in weights if w <= limit))
        return hit

    def predict(self, spec: NetworkSpec, resolution: int = 224, num_classes: int = 1000, *,
                breakdown: bool = False) -> Prediction:
        """Latency of ``spec`` on the table's device, calibrated if the table has a calibration.

        ``breakdown=True`` also lists every unit's cost (slower; for reports)."""
        if self.table.revision != self._revision:
            self._refresh()
        calibration = self.table.calibration
        bytes_per_weight = self.bytes_per_weight
        refetched = calibration is not None and calibration.refetched
        limit = calibration.cache_mib * 2**20 / bytes_per_weight if refetched else 0.0  # type: ignore[union-attr,operator]
        groups = dict.fromkeys(CALIBRATION_GROUPS, 0.0)
        units, res, weights, fitting = 0, resolution, 0, 0
        cache = self._blocks
        for block in spec.blocks:
            # block_ms's memo read in line: a prediction is a dozen of these, and the call cost a tenth of it
            hit = cache.get((block.type, block.in_channels, block.out_channels, block.stride, block.sub_layers,
                             block.bottleneck, res, limit))
            ms, n, res, group, w, fits = hit or self.block_ms(block, res, limit)
            groups[group] += ms
            units += n
            weights += w
            fitting += fits
        channels = spec.blocks[-1].out_channels
        head = self.classifier_ms(channels, num_classes, res) if num_classes else 0.0
        groups["conv"] += head
        units += 1 if num_classes else 0
        head_weights = (channels + 1) * num_classes
        weight_mib = (weights + head_weights) * bytes_per_weight / 2**20
        if refetched and head_weights <= limit:
            fitting += head_weights
        raw = sum(groups.values())
        value = raw if calibration is None else calibration.apply(groups, units, weight_mib,
                                                                  fitting * bytes_per_weight / 2**20)
        if self.per_image:
            batch = self.batch
            raw, value, head = raw / batch, value / batch, head / batch
            groups = {g: ms / batch for g, ms in groups.items()}
        costs = tuple(self.unit_costs(spec, resolution)) if breakdown else ()
        validation = self.table.metadata.get("validation") or {}
        return Prediction(value, raw, costs, head, raw_by_group=groups, unit_count=units, weight_mib=weight_mib,
                          calibration=calibration, expected_error=validation.get("mape"), per_image=self.per_image)

    def unit_costs(self, spec: NetworkSpec, resolution: int) -> list[UnitCost]:
        """Per-unit table latencies (batch latency, ms)."""
        costs, res = [], resolution
        for b, block in enumerate(spec.blocks):
            for u, unit in enumerate(block.units()):
                key = unit_key(unit, res, self.batch)
                costs.append(UnitCost(b, u, key, res, self.unit_ms(unit, res), key in self.table.measured))
                res = unit.out_resolution(res)
        return costs

    def unit_weight_mib(self, spec: NetworkSpec, resolution: int = 224, num_classes: int = 1000) -> list[float]:
        """Each unit's weights in MiB at the table's precision, the classifier's last."""
        scale = self.bytes_per_weight / 2**20
        out, res = [], resolution
        for unit in spec.units():
            (_, params), res = unit_macs_params(unit, res, residual=True, bn=False, se=False)  # BN folded away
            out.append(params * scale)
        if num_classes:
            out.append((spec.blocks[-1].out_channels + 1) * num_classes * scale)
        return out


def as_predictor(source: LatencyTable | Predictor) -> Predictor:
    """``source`` if it is a Predictor, else the Predictor its table shares with every caller."""
    if isinstance(source, LatencyTable):
        if source._predictor is None:
            source._predictor = Predictor(source)
        return source._predictor
    return source


def predict_latency(spec: NetworkSpec, table: LatencyTable | Predictor, resolution: int = 224,
                    num_classes: int = 1000, *, breakdown: bool = False) -> Prediction:
    """Latency of ``spec`` from a table (or a Predictor), calibrated if the table has been."""
    return as_predictor(table).predict(spec, resolution, num_classes, breakdown=breakdown)


def unit_weight_mib(spec: NetworkSpec, table: LatencyTable | Predictor, resolution: int = 224,
                    num_classes: int = 1000) -> list[float]:
    """Each unit's weights in MiB at the table's precision, the classifier's last."""
    return as_predictor(table).unit_weight_mib(spec, resolution, num_classes)


def network_sums(table: LatencyTable, networks: Sequence[Mapping[str, Any]]) -> list[NetworkSums]:
    """What a calibration is fitted on, per network measured end to end (``structure``, ``resolution``,
    ``num_classes``, ``median_ms`` of the batch): its unit sums per group (batch ms), unit count and weights."""
    predictor = as_predictor(table)
    scale = table.batch if table.per_image else 1
    samples = []
    for net in networks:
        spec = NetworkSpec.parse(net["structure"])
        p = predictor.predict(spec, net["resolution"], net["num_classes"])
        samples.append(NetworkSums({g: ms * scale for g, ms in p.raw_by_group.items()}, p.unit_count, p.weight_mib,
                                   tuple(predictor.unit_weight_mib(spec, net["resolution"], net["num_classes"])),
                                   float(net["median_ms"])))
    return samples


def fit_units_on_networks(table: LatencyTable) -> dict[str, float]:
    """Refit the table's unit models with the channel padding under which its calibrated predictions of the
    networks it measured end to end err least (the chosen calibration form's leave-one-out error): networks
    are what a table predicts, and the units' own leave-one-out error can prefer a padding whose errors add
    up along a network (docs/latency-model.md). Without enough networks, the units' error chooses.
    The table's calibration is left as it was: call :func:`calibrate_table` next. Returns each padding's
    network error ({} when the units chose)."""
    if not table.models:
        raise ZenbenchError("this table has no unit models to refit (a table fitted from whole networks, such as "
                            "NAS-Bench-201's, keeps its model; fit it again with `zenbench table fit`)")
    networks = table.metadata.get("networks") or []
    if len(networks) < MIN_CALIBRATION_NETWORKS:
        table.fit()
        return {}
    host_cache = (table.metadata.get("environment") or {}).get("last_level_cache_mib")
    errors: dict[str, float] = {}
    best: tuple[float, UnitModels] | None = None
    for candidate in table.unit_candidates():
        table.use_models(candidate)
        calibration = Calibration.select(network_sums(table, networks), host_cache)
        error = float((calibration.loo_mape or {}).get(calibration.form or "", math.inf))
        error = error if math.isfinite(error) else math.inf
        errors["x".join(map(str, candidate.block))] = error
        if best is None or error < best[0]:
            best = (error, candidate)
    assert best is not None
    table.use_models(best[1])
    return errors


def calibrate_table(table: LatencyTable, min_networks: int = MIN_CALIBRATION_NETWORKS) -> Calibration | None:
    """Fit the table's calibration (:meth:`Calibration.select`) to the networks measured end to end that its
    metadata lists (``networks``: structure, resolution, num_classes, median_ms of the batch), and store it.
    Returns it, or None (and removes any old one) when fewer than ``min_networks`` were measured."""
    networks = table.metadata.get("networks") or []
    table.calibration = None
    if len(networks) < min_networks:
        return None
    host_cache = (table.metadata.get("environment") or {}).get("last_level_cache_mib")
    table.calibration = Calibration.select(network_sums(table, networks), host_cache)
    return table.calibration


__all__ = ["Prediction", "Predictor", "UnitCost", "as_predictor", "calibrate_table",
           "fit_units_on_networks", "network_sums", "predict_latency", "unit_weight_mib"]
