"""What a latency table is keyed and regressed on: unit keys, kinds, and the work a unit does.

A unit's key holds everything that decides its latency in deployment form (residual links on,
BN folded, no SE); its features are the work the per-kind model is linear in. Runtimes compute
convolutions in channel tiles, so features count channels rounded up to a tile (:class:`Padding`),
and which tiles a device uses is chosen per table from its measurements (see docs/latency-model.md).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from zenbench.space.units import Conv, Shortcut, Unit


class Padding(NamedTuple):
    """Channel tiles a runtime computes in: dense convs' outputs and inputs, depth-wise channels (1: none)."""

    dense_out: int
    dense_in: int
    depthwise: int

    @staticmethod
    def of(value: Padding | int | list[int] | tuple[int, ...]) -> Padding:
        """A padding from a table's metadata: three tiles, or one tile for all (tables before format 2)."""
        if isinstance(value, int):
            return Padding(value, value, value)
        return Padding(*(int(v) for v in value))


class Core(NamedTuple):
    """What of one CPU core the features count in: activation elements one SIMD register holds (elementwise and
    (de)quantising passes run over whole registers, so a tensor's channels count rounded up to it) and weight
    elements the core's private cache holds (a unit whose weights exceed it streams the rest from the shared
    cache at every tile of pixels; 0: not counted). See :func:`core_of`."""

    vector: int = 1
    cache_weights: int = 0


PLAIN_CORE = Core()


def core_of(precision: str, environment: dict[str, Any]) -> Core:
    """A table's core: 64-byte registers on AVX-512 hosts, 32 on AVX ones, else 16; the L2 per core when the
    table's environment recorded it (``l2_cache_mib``)."""
    isa = set(environment.get("cpu_isa") or ())
    register = 64 if "avx512f" in isa else 32 if isa & {"avx", "avx2"} else 16
    element = BYTES_PER_ELEMENT.get(precision, 4)
    l2 = environment.get("l2_cache_mib")
    known = isinstance(l2, (int, float)) and not isinstance(l2, bool) and math.isfinite(l2) and l2 > 0
    cached = int(l2 * 2**20 / element) if known else 0
    return Core(max(1, register // element), cached)


NO_PADDING = Padding(1, 1, 1)
#: candidate paddings; widths are multiples of 8 already, so a tile of 8 would equal 1
CHANNEL_BLOCKS = (NO_PADDING, Padding(16, 1, 1), Padding(16, 16, 16), Padding(32, 1, 1), Padding(32, 32, 32))
#: columns that describe a unit's shape, from which its features are recomputed for any block
SHAPE_COLUMNS = ("family", "shortcut", "in_channels", "mid_channels", "out_channels", "stride", "resolution")
#: the work a unit's latency is linear in; models stored before the last four read them as 0 (:data:`LEGACY_FEATURES`)
FEATURES = ("const", "dense_macs", "dw_macs", "act_elems", "weight_elems", "out_elems",
            "vector_elems", "im2col_elems", "narrow_macs", "spill_macs")
LEGACY_FEATURES = FEATURES[:6]
#: the features whose count depends on the table's :class:`Core`
CORE_FEATURES = ("vector_elems", "spill_macs")
#: a dense conv with this many input or output channels or fewer runs a slower kernel path (int8: about 20 %
#: above the linear model at 8 channels, docs/int8.md); image planes (<= 4 channels) are the stem's and excluded
NARROW_CHANNELS = 8
#: bytes each weight or activation element takes at a precision
BYTES_PER_ELEMENT = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}
TIMING_COLUMNS = ("median_ms", "mean_ms", "min_ms", "p10_ms", "p90_ms", "iqr_ms", "cv", "runs", "noisy")
CLASSIFIER_KIND = "classifier/gap-linear"


def unit_kind(unit: Unit) -> str:
    """The family a unit's latency model is fitted over: its block type and shortcut kind."""
    return f"{unit.family}/{unit.shortcut.value}"


def unit_mid(unit: Unit) -> int:
    """The unit's inner width: its first conv's outputs when it has several convs, else its output width."""
    convs = [layer for layer in unit.layers if isinstance(layer, Conv)]
    return convs[0].out_channels if len(convs) > 1 else unit.out_channels


def unit_key(unit: Unit, resolution: int, batch: int) -> str:
    """Everything that decides a unit's latency (deployment form: residual links on, BN folded, no SE)."""
    return (f"{unit.family}|{unit.shortcut.value}|in{unit.in_channels}|mid{unit_mid(unit)}|out{unit.out_channels}"
            f"|s{unit.stride}|r{resolution}|b{batch}")


def classifier_key(channels: int, num_classes: int, resolution: int, batch: int) -> str:
    """The key of the global-average-pool + linear classifier."""
    return f"classifier|gap-linear|in{channels}|mid0|out{num_classes}|s1|r{resolution}|b{batch}"


def padded(channels: int, block: int) -> int:
    """``channels`` rounded up to a multiple of ``block``; image planes (<= 4 channels) are read as they are."""
    if block <= 1 or channels <= 4:
        return channels
    return -(-channels // block) * block


def unit_features(unit: Unit, resolution: int, batch: int, block: Padding | int = NO_PADDING,
                  core: Core = PLAIN_CORE) -> dict[str, float]:
    """The work a unit does for one batch, which the per-kind model is linear in (channels padded to ``block``;
    ``vector_elems`` and ``spill_macs`` counted on ``core``)."""
    pad = Padding.of(block)
    vector = core.vector
    convs, res = [], resolution
    for layer in unit.layers:
        if isinstance(layer, Conv):
            convs.append((layer, res))
            res = (res - 1) // layer.stride + 1
    if unit.shortcut is Shortcut.PROJECTION:
        convs.append((unit.projection_conv(), resolution))  # reads the unit's input
    dense = dw = act = weights = vectors = im2col = narrow = 0.0
    for conv, res_in in convs:  # local sums, not a dict: this runs for every unit a search predicts
        k2, in_ch, out_ch = conv.kernel * conv.kernel, conv.in_channels, conv.out_channels
        res_out = (res_in - 1) // conv.stride + 1
        pixels_in, pixels_out = res_in * res_in * batch, res_out * res_out * batch
        if conv.groups > 1:
            cin = cout = padded(out_ch, pad.depthwise)
            dw += cout * k2 * pixels_out
        else:
            cin, cout = padded(in_ch, pad.dense_in), padded(out_ch, pad.dense_out)
            dense += cout * cin * k2 * pixels_out
            if k2 > 1:  # the input unrolled into columns before the matrix product
                im2col += in_ch * k2 * pixels_out
            if 4 < in_ch and min(in_ch, out_ch) <= NARROW_CHANNELS:
                narrow += in_ch * out_ch * k2 * pixels_out
        act += cin * pixels_in + cout * pixels_out
        vectors += padded(in_ch, vector) * pixels_in + padded(out_ch, vector) * pixels_out
        weights += conv.params
    out = {"const": 1.0, "dense_macs": dense, "dw_macs": dw, "act_elems": act, "weight_elems": weights,
           "vector_elems": vectors, "im2col_elems": im2col, "narrow_macs": narrow,
           "out_elems": float(padded(unit.out_channels, pad.dense_out) * res * res * batch)}
    out["spill_macs"] = _spilled(out, core)
    return out


def _spilled(features: dict[str, float], core: Core) -> float:
    """MACs whose weights lie beyond the core's cache: every MAC times the share of the weights that do not fit."""
    weights = features["weight_elems"]
    if not core.cache_weights or weights <= core.cache_weights:
        return 0.0
    return (features["dense_macs"] + features["dw_macs"]) * (1.0 - core.cache_weights / weights)


def classifier_features(channels: int, num_classes: int, resolution: int, batch: int,
                        block: Padding | int = NO_PADDING, core: Core = PLAIN_CORE) -> dict[str, float]:
    """The classifier's work, in the same features as a unit's (its pooling pass reads whole registers)."""
    pad = Padding.of(block)
    inputs, outputs = padded(channels, pad.dense_in), padded(num_classes, pad.dense_out)
    out = {"const": 1.0, "dense_macs": float(inputs * outputs * batch), "dw_macs": 0.0,
           "act_elems": float(inputs * resolution * resolution * batch), "weight_elems": float(channels * num_classes),
           "out_elems": float(outputs * batch),
           "vector_elems": float(padded(channels, core.vector) * resolution * resolution * batch),
           "im2col_elems": 0.0, "narrow_macs": 0.0}
    out["spill_macs"] = _spilled(out, core)
    return out


def row_features(row: dict[str, Any], block: Padding | int, core: Core = PLAIN_CORE) -> dict[str, float]:
    """A table row's features recomputed from its shape with channels padded to ``block``, on ``core``."""
    from zenbench.space.blocks import BLOCKS

    batch, resolution = int(row.get("batch", 1)), int(row["resolution"])
    if row["family"] == "classifier":
        return classifier_features(int(row["in_channels"]), int(row["out_channels"]), resolution, batch, block, core)
    unit = BLOCKS.get(row["family"]).make_unit(int(row["in_channels"]), int(row["mid_channels"]),
                                               int(row["out_channels"]), int(row["stride"]),
                                               row["shortcut"] != Shortcut.IDENTITY.value)
    return unit_features(unit, resolution, batch, block, core)
