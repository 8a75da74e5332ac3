"""Predict a network's latency from a device's table; the constraints a search enforces.

A network is its units plus the classifier, so the first estimate is the sum of their table
latencies. The whole network differs from that sum in ways units timed in isolation cannot
show: every isolated run pays the runtime's per-call cost (input binding, output allocation,
thread wake-up) that a network pays once, and a sequence of units runs with warm caches and
fewer layout changes at unit boundaries. zenbench measures that difference instead of guessing
it: ``zenbench profile`` also times a sample of whole random networks end to end, interleaved with
its units (and ``zenbench validate`` can add more), and fits a calibration

    latency = a + Σ_g b_g * Σ unit_ms of group g − c * units + d * weight traffic (MiB)

(a: the network's own per-call cost; b_g: a scale for what happens across unit boundaries, per
group of units: plain convs (stem, head, classifier), ResNet-like units, depth-wise units; c: the
per-call cost each isolated unit over-counts; d: the cost of reading weights from beyond a cache).
Each form also competes with a tied to c ("(a=c)"): the network's call costs what a unit's does, so the
sum over-counts it by units − 1. A free intercept has no cause of its own; on the AVX-512 cpu table it
settled at 0.24 ms against c's 5 µs and over-predicted the held-out networks under 4 ms by 7 % on
average; tied, by 4 %, and the leave-one-out error fell from 2.29 % to 2.26 %.

The last term is the one isolated units cannot show at all. A unit timed alone, call after call,
keeps its weights in a cache; a network whose weights together exceed that cache evicts them
between one inference and the next. Two ways of counting what it reads again compete
(``weight_traffic_mib``): the MiB beyond the cache ("spilled"), or the weights of every unit that fit
the cache alone ("refetched"; a unit too large for it streamed its weights in the table already).
Measured on the one-thread cpu table (Intel Xeon VM): without the term, networks above ~30 MiB of
fp32 weights came out 10-16 % slower than predicted; the fitted d of 0.04 ms/MiB spilled past the
last-level cache is ~25 GB/s, one core's DRAM bandwidth, and the term took the validation networks
within ±10 % from 89 % to 98 %. On the AVX-512 host every table has chosen weights refetched past 4 or
8 MiB (a core's 1 MiB L2 and its share of a shared L3): networks whose weights all fit ran as fast as
their units, those just past it 7-10 % slower, and the power correction alone had over-predicted the
smallest networks by up to 15 %. The per-group scales have a cause of their own on ONNX Runtime: a
plain conv timed alone converts its output out of the blocked NCHWc layout (a 32-channel stem at 224:
40 of its 278 µs) and the next unit converts it back in, which the network never does; the cpu table
fitted 0.70 to its plain convs.

``calibrate_table`` lets the forms compete by leave-one-out error on the measured networks: none,
one scale for all groups, one per group, each with the weight term at every candidate cache size
(the host's own last-level cache among them). On top of the plain sum or the chosen form, a
size-dependent correction ``L · e^shift · (L / ref)^power`` competes the same way: on the AVX-512 host
both runtimes ran large networks a few per cent faster, relative to their units, than small ones (the
linear forms read 2 % low under 15 ms and 3 % high over 50 ms); with it the cpu table's leave-one-out
error fell from 3.9 % to 2.9 %. The calibration and the measured error live in the table's metadata,
so a prediction carries its expected error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zenbench.space.blocks import BlockSpec
from zenbench.space.spec import NetworkSpec, unit_macs_params
from zenbench.tables import LatencyTable


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
    calibration: dict[str, Any] = field(default_factory=dict)
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
                "calibration": self.calibration, "expected_error": self.expected_error, "per_image": self.per_image,
                "raw_by_group": self.raw_by_group, "unit_count": self.unit_count, "weight_mib": self.weight_mib,
                "units": [u.__dict__ for u in self.units]}


def unit_costs(spec: NetworkSpec, table: LatencyTable, resolution: int) -> tuple[list[UnitCost], int]:
    """Per-unit table latencies (batch latency, ms) and the final resolution."""
    from zenbench.tables import unit_key

    costs = []
    res = resolution
    for b, block in enumerate(spec.blocks):
        for u, unit in enumerate(block.units()):
            key = unit_key(unit, res, table.batch)
            ms = table.unit_ms(unit, res)
            costs.append(UnitCost(b, u, key, res, ms, key in table._by_key))
            res = unit.out_resolution(res)
    return costs, res


#: unit groups with their own calibration scale: plain convs (stem, head) and the classifier; ResNet-like
#: units; depth-wise (MobileNet-like) units
CALIBRATION_GROUPS = ("conv", "xxbl", "idw")

#: bytes per weight at a table's precision (int8 weights are one byte; anything unknown counts as fp32)
BYTES_PER_WEIGHT = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}

#: how much lower (mean relative error) a calibration form's leave-one-out error must be to beat a simpler one
LOO_TOLERANCE = 0.001

#: last-level cache sizes (MiB) the weight-streaming term is tried at, besides the host's own
CACHE_CANDIDATES_MIB = (4.0, 8.0, 16.0, 24.0, 32.0, 48.0, 64.0, 96.0, 128.0)

#: cache sizes (MiB) the weights-refetched term is tried at: a core's L2 and the share of a last-level cache one
#: core keeps to itself on a shared host are a few MiB
REFETCH_CACHE_CANDIDATES_MIB = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


def block_ms(table: LatencyTable, block: BlockSpec, resolution: int,
             limit: float = 0.0) -> tuple[float, int, int, str, int, int]:
    """(Σ unit ms, units, output resolution, calibration group, weights, weights of the units that fit within
    ``limit`` weights each) of one block, weights in elements, memoised on the table: a search's children share
    almost every block with their parents, so a prediction is a handful of dictionary hits."""
    cache = table.__dict__.setdefault("_block_cache", {})
    # a plain tuple hashes and compares in C, several times faster than the dataclass's generated methods
    key = (block.type, block.in_channels, block.out_channels, block.stride, block.sub_layers, block.bottleneck,
           resolution, limit)
    hit = cache.get(key)
    if hit is None:
        from zenbench.space.blocks import BLOCKS

        total, res, weights = 0.0, resolution, []
        units = block.units()
        for unit in units:
            total += table.unit_ms(unit, res)
            weights.append(unit_macs_params(unit, res, residual=True, bn=False, se=False)[0][1])  # BN folded away
            res = unit.out_resolution(res)
        family = BLOCKS.get(block.type).family
        hit = cache[key] = (total, len(units), res, family if family in CALIBRATION_GROUPS else "conv", sum(weights),
                            sum(w for w in weights if w <= limit))
    return hit


def weight_traffic_mib(term: str, cache_mib: float, total_mib: float, fitting_mib: float) -> float:
    """MiB of weights a whole network reads from beyond a cache of ``cache_mib`` that its units, each timed
    alone, did not; 0 when all its weights fit.

    ``spilled``: the weights beyond the cache, read again on every inference.
    ``refetched``: a unit whose weights fit the cache keeps them there while it is timed alone, call after
    call. In a network whose weights do not fit, the other units evict them between one inference and the
    next, so all of them are read again (``fitting_mib``, the weights of the units that fit alone). A unit
    too large for the cache streamed its weights in the table already."""
    if total_mib <= cache_mib:
        return 0.0
    return total_mib - cache_mib if term == "spilled" else fitting_mib


def _table_constants(table: LatencyTable) -> tuple[int, bool, int]:
    """(bytes per weight, per image, batch) of a table, memoised: a prediction is a few microseconds, and
    reading them from the metadata each time cost a fifth of it."""
    hit = table.__dict__.get("_constants")
    if hit is None:
        hit = table.__dict__["_constants"] = (BYTES_PER_WEIGHT.get(table.precision, 4), table.per_image, table.batch)
    return hit


def _classifier_ms(table: LatencyTable, channels: int, num_classes: int, resolution: int) -> float:
    cache = table.__dict__.setdefault("_classifier_cache", {})
    key = (channels, num_classes, resolution)
    if key not in cache:
        cache[key] = table.classifier_ms(channels, num_classes, resolution)
    return cache[key]


def predict_latency(spec: NetworkSpec, table: LatencyTable, resolution: int = 224, num_classes: int = 1000,
                    *, breakdown: bool = False) -> Prediction:
    """Latency of ``spec`` on the table's device, calibrated if the table has been validated.

    ``breakdown=True`` also lists every unit's cost (slower; for reports)."""
    calibration = table.metadata.get("calibration") or {}
    bytes_per_weight, per_image, batch = _table_constants(table)
    refetched = calibration.get("weight_term") == "refetched" and bool(calibration.get("d"))
    limit = calibration["cache_mib"] * 2**20 / bytes_per_weight if refetched else 0.0  # in weights
    groups = dict.fromkeys(CALIBRATION_GROUPS, 0.0)
    units, res, weights, fitting = 0, resolution, 0, 0
    cache = table.__dict__.setdefault("_block_cache", {})
    for block in spec.blocks:
        # block_ms's memo read in line: a prediction is a dozen of these, and the call cost a tenth of it
        hit = cache.get((block.type, block.in_channels, block.out_channels, block.stride, block.sub_layers,
                         block.bottleneck, res, limit))
        ms, n, res, group, w, fits = hit or block_ms(table, block, res, limit)
        groups[group] += ms
        units += n
        weights += w
        fitting += fits
    channels = spec.blocks[-1].out_channels
    head = _classifier_ms(table, channels, num_classes, res) if num_classes else 0.0
    groups["conv"] += head
    units += 1 if num_classes else 0
    head_weights = (channels + 1) * num_classes
    weight_mib = (weights + head_weights) * bytes_per_weight / 2**20
    if refetched and head_weights <= limit:
        fitting += head_weights
    raw = sum(groups.values())
    value = calibrated(groups, units, calibration, weight_mib, fitting * bytes_per_weight / 2**20)
    if per_image:
        raw, value, head = raw / batch, value / batch, head / batch
        groups = {g: ms / batch for g, ms in groups.items()}
    costs = tuple(unit_costs(spec, table, resolution)[0]) if breakdown else ()
    validation = table.metadata.get("validation") or {}
    return Prediction(value, raw, costs, head, raw_by_group=groups, unit_count=units, weight_mib=weight_mib,
                      calibration=calibration,
                      expected_error=validation.get("mape"), per_image=per_image)


def calibrated(raw_by_group: dict[str, float], units: int, calibration: dict[str, Any], weight_mib: float = 0.0,
               fitting_mib: float = 0.0) -> float:
    """The calibrated latency from per-group sums of unit latencies (batch latency, ms), the network's weights
    and those of its units that fit the calibration's cache alone (MiB; see ``weight_traffic_mib``)."""
    raw = sum(raw_by_group.values())
    if not calibration:
        return raw
    scale = calibration["b"]  # per group, or one number for every group
    if isinstance(scale, dict):
        scaled = 0.0
        for g, ms in raw_by_group.items():  # a loop, not sum() over a generator: a third of this call's cost
            scaled += scale.get(g, 1.0) * ms
    else:
        scaled = float(scale) * raw
    value = calibration["a"] + scaled - calibration["c"] * units
    if calibration.get("d"):
        value += calibration["d"] * weight_traffic_mib(calibration.get("weight_term", "spilled"),
                                                       calibration["cache_mib"], weight_mib, fitting_mib)
    value = max(value, 0.05 * raw)
    if calibration.get("power") is not None:
        value = power_corrected(value, calibration)
    return value


def power_corrected(value: float, calibration: dict[str, Any]) -> float:
    """``value · e^shift · (value / ref_ms)^power``: a size-dependent correction of a linear calibration whose
    errors drift with the network's latency (on the AVX-512 cpu table the linear form read 2 % low on
    networks under 15 ms and 3 % high on those over 50 ms, the same both in the fit and out of it)."""
    return value * math.exp(calibration["power_shift"]) * (value / calibration["power_ref_ms"]) ** calibration["power"]


def fit_power(linear: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    """Least squares in log space of ``log(measured / linear) = shift + power · log(linear / ref)``, ref the
    sample's geometric mean so that the shift stays a small level correction."""
    ref = float(np.exp(np.mean(np.log(linear))))
    x, y = np.log(linear / ref), np.log(measured / linear)
    if np.ptp(x) < 0.1:  # networks within 10 % of each other in latency: no slope to read, only a level
        return {"power": 0.0, "power_shift": float(np.mean(y)), "power_ref_ms": ref}
    power, shift = np.polyfit(x, y, 1)
    return {"power": float(power), "power_shift": float(shift), "power_ref_ms": ref}


def fit_calibration(raw_by_group: list[dict[str, float]], units: list[int], measured: list[float],
                    groups: tuple[str, ...] = CALIBRATION_GROUPS, weight_mib: list[float] | None = None,
                    cache_mib: float | None = None, *, fitting_mib: list[float] | None = None,
                    weight_term: str = "spilled", tied: bool = False) -> dict[str, Any]:
    """(a, b_g, c[, d]) minimising the squared *relative* error of
    ``a + Σ_g b_g·Σ_g − c·units [+ d·weight_traffic_mib(weight_term, cache_mib, ...)]`` against measurements;
    the weight term only with a ``cache_mib`` (``refetched`` also needs each network's ``fitting_mib``). A
    group too rare in the sample to be fitted (in fewer than 5 networks) shares the others' pooled scale.

    ``tied``: a = c, one parameter fewer. Every unit's timing includes one call's fixed cost and so does the
    network's, so a network pays it once where its units' sum counts it once per unit; a free intercept
    has no such cause and, fitted on networks of a few ms and up, only leans on the smallest ones."""
    from scipy.optimize import lsq_linear

    y = np.asarray(measured, dtype=float)
    n = np.asarray(units, dtype=float)
    sums = {g: np.asarray([r.get(g, 0.0) for r in raw_by_group], dtype=float) for g in groups}
    fitted = [g for g in groups if np.count_nonzero(sums[g]) >= 5]
    pooled_raw = sum(sums.values())
    traffic = [] if cache_mib is None else [np.array([
        weight_traffic_mib(weight_term, cache_mib, w, f)
        for w, f in zip(weight_mib or [], fitting_mib or [0.0] * len(y), strict=True)])]

    # tied (a = c): no intercept column, and the units' column counts every call but the network's own
    intercept = [] if tied else [np.ones_like(y)]
    per_unit = 1.0 - n if tied else -n

    def solve(columns: list[np.ndarray]) -> tuple[float, np.ndarray, float, float]:
        """The fit's a, scales, c and d."""
        design = np.column_stack([*intercept, *columns, per_unit, *traffic]) / y[:, None]
        lower = [-np.inf] * len(intercept) + [0.0] * (len(columns) + 1 + len(traffic))
        x = lsq_linear(design, np.ones_like(y), bounds=(lower, [np.inf] * len(lower))).x
        scales, c = x[len(intercept):len(intercept) + len(columns)], float(x[len(intercept) + len(columns)])
        return (c if tied else float(x[0])), scales, c, float(x[-1]) if traffic else 0.0

    rest = pooled_raw - sum((sums[g] for g in fitted), np.zeros_like(y))
    a, x, c, d = solve([sums[g] for g in fitted] + ([rest] if np.any(rest) else []))
    scales = {g: float(v) for g, v in zip(fitted, x, strict=True)}
    unfitted = [g for g in groups if g not in fitted]
    if unfitted:  # the scale of the rest where it ran, else that of one scale fitted to the whole sum
        shared = float(x[len(fitted)]) if np.any(rest) else float(solve([pooled_raw])[1][0])
        scales.update(dict.fromkeys(unfitted, shared))
    fit = {"a": a, "b": scales, "c": c, "n": len(y)}
    if tied:
        fit["tied"] = True
    if cache_mib is not None:
        fit.update({"d": d, "cache_mib": float(cache_mib)})
        if weight_term != "spilled":
            fit["weight_term"] = weight_term
    return fit


def error_metrics(predicted: list[float], measured: list[float]) -> dict[str, float]:
    from scipy import stats

    p, m = np.asarray(predicted, dtype=float), np.asarray(measured, dtype=float)
    rel = (p - m) / m
    return {"n": len(m), "mape": float(np.mean(np.abs(rel))), "rmspe": float(np.sqrt(np.mean(rel**2))),
            "within_5": float(np.mean(np.abs(rel) <= 0.05)), "within_10": float(np.mean(np.abs(rel) <= 0.10)),
            "spearman": float(stats.spearmanr(p, m).statistic) if len(m) > 2 else math.nan,
            "bias": float(np.mean(rel)), "p90_ape": float(np.percentile(np.abs(rel), 90))}


# --------------------------------------------------------------------------------------------- constraints


def peak_activation_bytes(spec: NetworkSpec, resolution: int, batch: int = 1, bytes_per_element: int = 4) -> int:
    """Largest live activation set of any unit: its input (kept for the shortcut), its widest
    intermediate and its output. An estimate of the memory a runtime must hold at once."""
    from zenbench.space.units import Conv

    peak = 0
    res = resolution
    for unit in spec.units():
        in_elems = unit.in_channels * res * res
        widest = 0
        r = res
        for layer in unit.layers:
            if isinstance(layer, Conv):
                r = (r - 1) // layer.stride + 1
                widest = max(widest, layer.out_channels * r * r)
        out_res = unit.out_resolution(res)
        peak = max(peak, in_elems + widest + unit.out_channels * out_res * out_res)
        res = out_res
    return peak * batch * bytes_per_element


@dataclass(frozen=True)
class Failure:
    limit: str
    value: float
    maximum: float

    @property
    def excess(self) -> float:
        """How far over, as a fraction of the limit (0.1 = 10 % over)."""
        return self.value / self.maximum - 1.0

    def __str__(self) -> str:
        return f"{self.limit} {self.value:.4g} > {self.maximum:.4g} (+{self.excess:.1%})"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    failures: tuple[Failure, ...] = ()
    latency: Prediction | None = None

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return "ok" if self.ok else "; ".join(map(str, self.failures))


@dataclass(frozen=True)
class Constraints:
    """Budgets a network must meet; ``None`` means unconstrained. MACs are multiply-accumulates.

    ``check`` runs the cheapest checks first (layers, params, MACs, activation memory are analytic;
    latency needs the table) and, with ``stop_at_first``, stops at the first failure as the
    Zen-NAS search does (its order: layers, params, FLOPs, latency).
    """

    latency_ms: float | None = None
    macs: float | None = None
    params: float | None = None
    layers: int | None = None
    peak_activation_bytes: float | None = None
    resolution: int = 224
    num_classes: int = 1000
    #: count params/MACs as the paper's code did ("paper") or exactly ("exact")
    convention: str = "exact"
    #: guard band on predicted latency: a network passes if prediction x (1 + guard) <= latency_ms, so that
    #: the *measured* latency meets the budget despite the table's error (see ``table_guard``)
    latency_guard: float = 0.0

    def check(self, spec: NetworkSpec, table: LatencyTable | None = None, *, stop_at_first: bool = False) -> Verdict:
        failures: list[Failure] = []

        def over(limit: str, value: float, maximum: float | None) -> bool:
            if maximum is not None and value > maximum:
                failures.append(Failure(limit, value, maximum))
                return stop_at_first
            return False

        if over("layers", spec.layers, self.layers):
            return Verdict(False, tuple(failures))
        if self.params is not None or self.macs is not None:
            counts = spec.counts(self.resolution, self.num_classes, convention=self.convention)  # type: ignore[arg-type]
            if over("params", counts.params, self.params) or over("macs", counts.macs, self.macs):
                return Verdict(False, tuple(failures))
        if self.peak_activation_bytes is not None and over(
                "peak_activation_bytes", peak_activation_bytes(spec, self.resolution), self.peak_activation_bytes):
            return Verdict(False, tuple(failures))
        prediction = None
        if self.latency_ms is not None:
            if table is None:
                raise ValueError("a latency constraint needs a latency table")
            prediction = predict_latency(spec, table, self.resolution, self.num_classes)
            over("latency_ms", prediction.value_ms * (1.0 + self.latency_guard), self.latency_ms)
        return Verdict(not failures, tuple(failures), prediction)


def table_guard(table: LatencyTable) -> float:
    """A guard band from the table's own validation: its 90th-percentile error (else RMSPE, else MAPE; 0 if
    the table was never validated)."""
    validation = table.metadata.get("validation") or {}
    for key in ("p90_ape", "rmspe", "mape"):
        if validation.get(key) is not None:
            return float(validation[key])
    return 0.0


# --------------------------------------------------------------------------------------------- calibration


def unit_weight_mib(spec: NetworkSpec, table: LatencyTable, resolution: int = 224,
                    num_classes: int = 1000) -> list[float]:
    """Each unit's weights in MiB at the table's precision, the classifier's last."""
    scale = _table_constants(table)[0] / 2**20
    out, res = [], resolution
    for unit in spec.units():
        (_, params), res = unit_macs_params(unit, res, residual=True, bn=False, se=False)  # BN folded away
        out.append(params * scale)
    if num_classes:
        out.append((spec.blocks[-1].out_channels + 1) * num_classes * scale)
    return out


def calibrate_table(table: LatencyTable, min_networks: int = 8) -> dict[str, Any] | None:
    """Fit the table's whole-network calibration to the networks measured end to end that its metadata
    lists (``networks``: structure, resolution, num_classes, median_ms of the batch). Returns it, or
    None (and removes any old one) when fewer than ``min_networks`` were measured.

    The forms compete by leave-one-out error on the measured networks: none (the plain sum of
    units); one scale for every unit, each with the intercept tied to the per-unit cost and free
    (``fit_calibration``'s ``tied``), without a weight term or with one of each kind
    (``weight_traffic_mib``) at each candidate cache size (``CACHE_CANDIDATES_MIB`` and the profiling
    host's last-level cache for weights spilled, ``REFETCH_CACHE_CANDIDATES_MIB`` for weights
    refetched); one scale per group, without the term or with the best single-scale one; then the power
    correction on the plain sum and on the best of those. A sample too small or too noisy to support the
    extra terms falls back to a simpler form."""
    networks = table.metadata.get("networks") or []
    table.metadata.pop("calibration", None)
    if len(networks) < min_networks:
        return None
    scale = table.batch if table.per_image else 1
    groups, units, weights, unit_weights, measured = [], [], [], [], []
    for net in networks:
        spec = NetworkSpec.parse(net["structure"])
        p = predict_latency(spec, table, net["resolution"], net["num_classes"])
        groups.append({g: ms * scale for g, ms in p.raw_by_group.items()})
        units.append(p.unit_count)
        weights.append(p.weight_mib)
        unit_weights.append(unit_weight_mib(spec, table, net["resolution"], net["num_classes"]))
        measured.append(net["median_ms"])
    def pooled(g: dict[str, float]) -> dict[str, float]:
        return {"all": sum(g.values())}

    # a view: how the groups are scaled, and whether the intercept is tied to the per-unit cost (a = c)
    views: dict[str, tuple[Callable[[dict[str, float]], dict[str, float]], bool]] = {
        "single(a=c)": (pooled, True), "single": (pooled, False), "groups(a=c)": (dict, True), "groups": (dict, False)}
    Term = tuple[str, float] | None  # (weight term, cache MiB)

    fitting_by_cache: dict[float, list[float]] = {}

    def fitting(j: int, term: Term) -> float:
        """Weights of network j's units that fit the term's cache alone, summed once per cache size: every
        leave-one-out fit asks for them again."""
        if term is None:
            return 0.0
        if term[1] not in fitting_by_cache:
            fitting_by_cache[term[1]] = [sum(w for w in ws if w <= term[1]) for ws in unit_weights]
        return fitting_by_cache[term[1]][j]

    def fit(view: str, term: Term, keep: list[int]) -> dict[str, Any]:
        kind, cache = term or ("spilled", None)
        grouped, tied = views[view]
        return fit_calibration([grouped(groups[j]) for j in keep], [units[j] for j in keep],
                               [measured[j] for j in keep], groups=tuple(grouped(groups[0])),
                               weight_mib=[weights[j] for j in keep], cache_mib=cache,
                               fitting_mib=[fitting(j, term) for j in keep], weight_term=kind, tied=tied)

    def predict(view: str, term: Term, f: dict[str, Any], i: int) -> float:
        return calibrated(views[view][0](groups[i]), units[i], f, weights[i], fitting(i, term))

    def loo_error(view: str, term: Term) -> float:
        errors = []
        for i in range(len(measured)):
            f = fit(view, term, [j for j in range(len(measured)) if j != i])
            errors.append(abs(predict(view, term, f, i) / measured[i] - 1))
        return float(np.mean(errors))

    def name(view: str, term: Term) -> str:
        if term is None:
            return view
        return f"{view}+{'weights' if term[0] == 'spilled' else 'refetched'}@{term[1]:g}MiB"

    # in order of complexity
    loo = {"none": float(np.mean([abs(sum(g.values()) / m - 1) for g, m in zip(groups, measured, strict=True)]))}
    forms: dict[str, tuple[str, Term]] = {}
    host_cache = (table.metadata.get("environment") or {}).get("last_level_cache_mib")
    terms: list[Term] = [None]
    terms += [("spilled", c) for c in sorted({*CACHE_CANDIDATES_MIB, *([float(host_cache)] if host_cache else [])})]
    terms += [("refetched", c) for c in REFETCH_CACHE_CANDIDATES_MIB]
    for term in terms:
        for view in ("single(a=c)", "single"):
            forms[name(view, term)] = (view, term)
            loo[name(view, term)] = loo_error(view, term)
    best_term = forms[min((f for f in forms if forms[f][1] is not None), key=loo.get)][1]
    for term in (None, best_term):
        for view in ("groups(a=c)", "groups"):
            forms[name(view, term)] = (view, term)
            loo[name(view, term)] = loo_error(view, term)
    # the simplest form within LOO_TOLERANCE of the best: a term that buys nothing measurable is not kept
    best = next(f for f in loo if loo[f] <= min(loo.values()) + LOO_TOLERANCE)

    def linear_fit(form: str, keep: list[int]) -> Callable[[int], float]:
        """A linear form fitted on ``keep``, as a function of a network's index."""
        if form == "none":
            return lambda i: sum(groups[i].values())
        view, term = forms[form]
        f = fit(view, term, keep)
        return lambda i: predict(view, term, f, i)

    # a size-dependent correction, on the plain sum or on the chosen linear form, kept only when it also
    # earns its place out of sample
    everyone = list(range(len(measured)))
    for base in dict.fromkeys(("none", best)):
        power_errors = []
        for i in everyone:
            keep = [j for j in everyone if j != i]
            linear = linear_fit(base, keep)
            correction = fit_power(np.array([linear(j) for j in keep]), np.array([measured[j] for j in keep]))
            power_errors.append(abs(power_corrected(linear(i), correction) / measured[i] - 1))
        loo[f"{base}+power"] = float(np.mean(power_errors))
    powered = min(dict.fromkeys(("none", best)), key=lambda base: loo[f"{base}+power"])
    use_power = loo[f"{powered}+power"] < loo[best] - LOO_TOLERANCE
    base = powered if use_power else best
    if base == "none":
        calibration: dict[str, Any] = {"a": 0.0, "b": 1.0, "c": 0.0, "n": len(measured)}
    else:
        view, term = forms[base]
        calibration = fit(view, term, everyone)
        if views[view][0] is pooled:
            calibration["b"] = calibration["b"]["all"]
    if use_power:  # on the linear fit just made, not a second one
        linear = [calibrated(groups[j], units[j], calibration, weights[j],
                             fitting(j, forms[base][1] if base != "none" else None)) for j in everyone]
        calibration.update(fit_power(np.array(linear), np.array(measured)))
    calibration.update({"form": f"{base}+power" if use_power else base, "loo_mape": loo})
    table.metadata["calibration"] = calibration
    return calibration
