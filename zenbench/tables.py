"""Latency tables: measured unit latencies of one device, with the context they were measured in.

A table is a Parquet file: one row per measured unit (its key, shape, features and timing
statistics) and, in the schema metadata, the device profile, backend versions, host, date, the
grid that was profiled, and the per-kind regression fitted to the rows.

A unit that was measured is looked up; any other unit is predicted by its kind's model, a
non-negative least-squares fit of latency on the unit's work (dense and depth-wise MACs, bytes
of activations read and written, weights, and a constant per-call cost). This is how nn-Meter
handles off-grid configurations too: a sampled grid plus a fitted per-kernel model.

Channel padding. Runtimes compute convolutions in channel tiles: a GEMM microkernel produces a
fixed number of output channels at a time (XNNPACK's f32 AVX-512 kernels 16; ONNX Runtime's
NCHWc convolutions 16-channel blocks), so a 3x3 conv of 56 output channels costs what one of 64
does (ONNX Runtime here: 1.11 vs 1.11 ms at 56x56). Work counted on raw widths is then a poor
regressor. The features therefore count channels rounded up to a tile, and which tiles
(:class:`Padding`: dense outputs, dense inputs, depth-wise channels) is chosen per table by
which gives the smallest leave-one-out error: the data says how the device pads, no CPU-flag
guessing. On both CPU backends here, padding only the dense convs' outputs to 16 wins (LOO
error ONNX Runtime 6.7 % against 7.9 % with inputs padded too and 10.9 % unpadded; LiteRT 10.6 %
against 16.1 % and 13.8 %): the reduction over input channels is not tiled.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from zenbench.errors import ZenbenchError
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


NO_PADDING = Padding(1, 1, 1)
#: candidate paddings; widths are multiples of 8 already, so a tile of 8 would equal 1
CHANNEL_BLOCKS = (NO_PADDING, Padding(16, 1, 1), Padding(16, 16, 16), Padding(32, 1, 1), Padding(32, 32, 32))
#: columns that describe a unit's shape, from which its features are recomputed for any block
SHAPE_COLUMNS = ("family", "shortcut", "in_channels", "mid_channels", "out_channels", "stride", "resolution")
FEATURES = ("const", "dense_macs", "dw_macs", "act_elems", "weight_elems", "out_elems")
TIMING_COLUMNS = ("median_ms", "mean_ms", "min_ms", "p10_ms", "p90_ms", "iqr_ms", "cv", "runs", "noisy")
#: settings that make two tables incomparable; a mismatch refuses to load unless forced
CRITICAL_SETTINGS = ("backend", "precision", "batch")
#: settings whose mismatch only warns
SOFT_SETTINGS = ("threads",)


class TableError(ZenbenchError):
    """A latency table that is missing, unreadable, or was measured under other settings."""


def unit_kind(unit: Unit) -> str:
    """The family a unit's latency model is fitted over: its block type and shortcut kind."""
    return f"{unit.family}/{unit.shortcut.value}"


def unit_mid(unit: Unit) -> int:
    convs = [layer for layer in unit.layers if isinstance(layer, Conv)]
    return convs[0].out_channels if len(convs) > 1 else unit.out_channels


def unit_key(unit: Unit, resolution: int, batch: int) -> str:
    """Everything that decides a unit's latency (deployment form: residual links on, BN folded, no SE)."""
    return (f"{unit.family}|{unit.shortcut.value}|in{unit.in_channels}|mid{unit_mid(unit)}|out{unit.out_channels}"
            f"|s{unit.stride}|r{resolution}|b{batch}")


def classifier_key(channels: int, num_classes: int, resolution: int, batch: int) -> str:
    return f"classifier|gap-linear|in{channels}|mid0|out{num_classes}|s1|r{resolution}|b{batch}"


def padded(channels: int, block: int) -> int:
    """``channels`` rounded up to a multiple of ``block``; image planes (<= 4 channels) are read as they are."""
    if block <= 1 or channels <= 4:
        return channels
    return -(-channels // block) * block


def unit_features(unit: Unit, resolution: int, batch: int,
                  block: Padding | int = NO_PADDING) -> dict[str, float]:
    """The work a unit does for one batch, which the per-kind model is linear in (channels padded to ``block``)."""
    pad = Padding.of(block)
    totals = {"dense_macs": 0.0, "dw_macs": 0.0, "act_elems": 0.0, "weight_elems": 0.0}

    def add(conv: Conv, res_in: int) -> int:
        res_out = (res_in - 1) // conv.stride + 1
        if conv.groups > 1:
            cin = cout = padded(conv.out_channels, pad.depthwise)
            totals["dw_macs"] += cout * conv.kernel * conv.kernel * res_out * res_out * batch
        else:
            cin, cout = padded(conv.in_channels, pad.dense_in), padded(conv.out_channels, pad.dense_out)
            totals["dense_macs"] += cout * cin * conv.kernel * conv.kernel * res_out * res_out * batch
        totals["act_elems"] += (cin * res_in * res_in + cout * res_out * res_out) * batch
        totals["weight_elems"] += conv.params
        return res_out

    res = resolution
    for layer in unit.layers:
        if isinstance(layer, Conv):
            res = add(layer, res)
    if unit.shortcut is Shortcut.PROJECTION:
        add(unit.projection_conv(), resolution)  # reads the unit's input
    return {"const": 1.0, **totals, "out_elems": float(padded(unit.out_channels, pad.dense_out) * res * res * batch)}


def classifier_features(channels: int, num_classes: int, resolution: int, batch: int,
                        block: Padding | int = NO_PADDING) -> dict[str, float]:
    pad = Padding.of(block)
    channels, outputs = padded(channels, pad.dense_in), padded(num_classes, pad.dense_out)
    return {"const": 1.0, "dense_macs": float(channels * outputs * batch), "dw_macs": 0.0,
            "act_elems": float(channels * resolution * resolution * batch), "weight_elems": float(channels * num_classes),
            "out_elems": float(outputs * batch)}


def row_features(row: dict[str, Any], block: Padding | int) -> dict[str, float]:
    """A table row's features recomputed from its shape with channels padded to ``block``."""
    from zenbench.space.blocks import BLOCKS

    batch, resolution = int(row.get("batch", 1)), int(row["resolution"])
    if row["family"] == "classifier":
        return classifier_features(int(row["in_channels"]), int(row["out_channels"]), resolution, batch, block)
    unit = BLOCKS.get(row["family"]).make_unit(int(row["in_channels"]), int(row["mid_channels"]),
                                               int(row["out_channels"]), int(row["stride"]),
                                               row["shortcut"] != Shortcut.IDENTITY.value)
    return unit_features(unit, resolution, batch, block)


@dataclass
class KindModel:
    """Non-negative least squares of latency (ms) on :data:`FEATURES` for one unit kind."""

    kind: str
    coefficients: dict[str, float]
    n: int
    #: leave-one-out absolute percentage errors: how well the model predicts a unit it has not seen
    loo_mape: float
    loo_p90_ape: float

    def predict(self, features: dict[str, float]) -> float:
        return sum(self.coefficients[f] * features[f] for f in FEATURES)

    @staticmethod
    def fit(kind: str, frame: pd.DataFrame) -> KindModel:
        from scipy.optimize import nnls

        x = frame[list(FEATURES)].to_numpy(dtype=float)
        y = frame["median_ms"].to_numpy(dtype=float)
        # relative errors matter (a 10 % miss is as bad on a small unit as on a big one): weight rows by 1/y
        scale = np.maximum(np.abs(x).max(axis=0), 1e-30)
        weights = 1.0 / np.maximum(y, 1e-6)
        coef, _ = nnls((x / scale) * weights[:, None], y * weights)
        coef = coef / scale
        errors = []
        if len(y) >= 4:
            for i in range(len(y)):
                keep = np.arange(len(y)) != i
                c, _ = nnls((x[keep] / scale) * weights[keep, None], y[keep] * weights[keep])
                errors.append(abs(float((x[i] / scale) @ c) - y[i]) / y[i])
        mape = float(np.mean(errors)) if errors else float("nan")  # too few points to hold one out
        p90 = float(np.percentile(errors, 90)) if errors else float("nan")
        return KindModel(kind, dict(zip(FEATURES, map(float, coef), strict=True)), len(y), mape, p90)


#: candidate (bandwidth in log2 units of width and resolution, prior weight) of the residual smoother
SMOOTHING_GRID = ((0.5, 0.5), (0.5, 1.0), (0.75, 0.5), (0.75, 1.0), (1.0, 1.0), (1.0, 2.0), (1.5, 2.0))


def shape_coordinates(in_channels: Any, mid: Any, out: Any, resolution: Any) -> np.ndarray:
    """Where a unit sits for the residual smoother: log2 of its widths and resolution."""
    return np.log2(np.column_stack([np.maximum(np.asarray(v, dtype=float), 1.0)
                                    for v in (in_channels, mid, out, resolution)]))


@dataclass
class ResidualSmoother:
    """Corrects a kind's model by the measured units around the query: the model is linear in the
    work a unit does, but a runtime's efficiency is not (narrow convolutions waste most of a SIMD
    block, small spatial sizes most of a tile), so the residuals of nearby units, weighted by a
    Gaussian kernel over log widths and resolution and shrunk towards zero where few are near,
    scale the model's prediction. Bandwidth and shrinkage are chosen by leave-one-out error;
    ``bandwidth`` None means the smoother did not help and is off."""

    bandwidth: float | None
    prior: float
    loo_mape: float
    base_loo_mape: float

    @staticmethod
    def choose(groups: list[tuple[np.ndarray, np.ndarray]]) -> ResidualSmoother:
        """Pick (bandwidth, prior) on groups of (coordinates, log residuals), leaving each unit out."""
        base = float(np.mean(np.concatenate([np.abs(np.expm1(-r)) for _, r in groups]))) if groups else 0.0
        best = ResidualSmoother(None, 0.0, base, base)
        for bandwidth, prior in SMOOTHING_GRID:
            errors = []
            for z, r in groups:
                d2 = ((z[:, None, :] - z[None, :, :]) ** 2).sum(axis=2)
                w = np.exp(-d2 / (2 * bandwidth**2))
                np.fill_diagonal(w, 0.0)
                correction = (w @ r) / (w.sum(axis=1) + prior)
                errors.append(np.abs(np.expm1(correction - r)))
            error = float(np.mean(np.concatenate(errors)))
            if error < best.loo_mape:
                best = ResidualSmoother(bandwidth, prior, error, base)
        return best

    def correction(self, z: np.ndarray, coordinates: np.ndarray, residuals: np.ndarray) -> float:
        """The factor by which to scale the model's prediction at ``z`` (1.0 when off)."""
        if self.bandwidth is None or len(residuals) == 0:
            return 1.0
        w = np.exp(-((coordinates - z) ** 2).sum(axis=1) / (2 * self.bandwidth**2))
        return float(np.exp((w @ residuals) / (w.sum() + self.prior)))


@dataclass
class LatencyTable:
    """Measured unit latencies of one device plus the per-kind models fitted to them."""

    rows: pd.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)
    models: dict[str, KindModel] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_key = dict(zip(self.rows["key"], self.rows["median_ms"], strict=True)) if len(self.rows) else {}
        if not self.models and len(self.rows) and set(FEATURES) <= set(self.rows.columns):
            self.fit()  # unit tables; tables fitted from whole networks (fit.py) carry their model in metadata

    # ------------------------------------------------------------------ lookup and prediction
    def fit(self) -> None:
        """Fit every kind's model, with the channel block whose models predict held-out units best."""
        has_shapes = set(SHAPE_COLUMNS) <= set(self.rows.columns)
        best: tuple[float, Padding, dict[str, KindModel]] | None = None
        for block in CHANNEL_BLOCKS if has_shapes else (NO_PADDING,):
            frame = self.rows
            if has_shapes:
                features = pd.DataFrame([row_features(r, block) for r in self.rows.to_dict("records")],
                                        index=self.rows.index)
                frame = pd.concat([self.rows.drop(columns=list(FEATURES), errors="ignore"), features], axis=1)
            models = {kind: KindModel.fit(kind, group) for kind, group in frame.groupby("kind")}
            scored = [(m.loo_mape, m.n) for m in models.values() if not np.isnan(m.loo_mape)]
            error = sum(e * n for e, n in scored) / max(1, sum(n for _, n in scored))
            if best is None or error < best[0]:
                best = (error, block, models)
        assert best is not None
        self.metadata["channel_block"], self.models = list(best[1]), best[2]
        for cache in ("_block_cache", "_classifier_cache", "_residuals"):  # memoised from the old models
            self.__dict__.pop(cache, None)
        self.metadata["smoother"] = ResidualSmoother.choose(list(self.residuals().values())).__dict__ \
            if has_shapes else ResidualSmoother(None, 0.0, 0.0, 0.0).__dict__

    def residuals(self) -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]:
        """Per (kind, stride): coordinates and log(measured / model) of every measured unit (memoised)."""
        cached = self.__dict__.get("_residuals")
        if cached is None:
            cached = {}
            if set(SHAPE_COLUMNS) <= set(self.rows.columns):
                block = self.channel_block
                for (kind, stride), group in self.rows.groupby(["kind", "stride"]):
                    model = self.models.get(kind)
                    if model is None:
                        continue
                    predicted = np.array([model.predict(row_features(r, block)) for r in group.to_dict("records")])
                    residual = np.log(group["median_ms"].to_numpy(dtype=float) / np.maximum(predicted, 1e-9))
                    cached[(kind, int(stride))] = (shape_coordinates(group["in_channels"], group["mid_channels"],
                                                                     group["out_channels"], group["resolution"]),
                                                   residual)
            self.__dict__["_residuals"] = cached
        return cached

    @property
    def smoother(self) -> ResidualSmoother:
        cached = self.__dict__.get("_smoother")
        if cached is None or cached.__dict__ != self.metadata.get("smoother"):
            cached = ResidualSmoother(**self.metadata["smoother"]) if "smoother" in self.metadata \
                else ResidualSmoother(None, 0.0, 0.0, 0.0)
            self.__dict__["_smoother"] = cached
        return cached

    @property
    def channel_block(self) -> Padding:
        return Padding.of(self.metadata.get("channel_block", 1))

    def unit_ms(self, unit: Unit, resolution: int) -> float:
        """Latency of one unit: measured if the table has it, else its kind's model."""
        batch = self.batch
        key = unit_key(unit, resolution, batch)
        if key in self._by_key:
            return float(self._by_key[key])
        kind = unit_kind(unit)
        base = self._model(kind).predict(unit_features(unit, resolution, batch, self.channel_block))
        near = self.residuals().get((kind, unit.stride))
        if near is None:
            return base
        z = shape_coordinates([unit.in_channels], [unit_mid(unit)], [unit.out_channels], [resolution])[0]
        return base * self.smoother.correction(z, *near)

    def classifier_ms(self, channels: int, num_classes: int, resolution: int) -> float:
        key = classifier_key(channels, num_classes, resolution, self.batch)
        if key in self._by_key:
            return float(self._by_key[key])
        return self._model("classifier/gap-linear").predict(
            classifier_features(channels, num_classes, resolution, self.batch, self.channel_block))

    def _model(self, kind: str) -> KindModel:
        if kind not in self.models:
            raise TableError(f"the table has no measurements of {kind} units; profile a space that contains them "
                             f"(zenbench profile --device {self.metadata.get('device', {}).get('device', '…')} --space …)")
        return self.models[kind]

    @property
    def batch(self) -> int:
        return int(self.metadata.get("device", {}).get("batch", 1))

    @property
    def precision(self) -> str:
        return str(self.metadata.get("device", {}).get("precision", "fp32"))

    @property
    def per_image(self) -> bool:
        return bool(self.metadata.get("device", {}).get("per_image", False))

    def coverage(self) -> pd.DataFrame:
        """Per kind: units measured, resolutions, channel ranges, and the model's leave-one-out error."""
        rows = []
        for kind, group in self.rows.groupby("kind"):
            model = self.models.get(kind)
            rows.append({"kind": kind, "units": len(group), "resolutions": sorted(set(group["resolution"])),
                         "in": f"{group['in_channels'].min()}-{group['in_channels'].max()}",
                         "out": f"{group['out_channels'].min()}-{group['out_channels'].max()}",
                         "median_ms": f"{group['median_ms'].min():.3g}-{group['median_ms'].max():.3g}",
                         "noisy": int(group["noisy"].sum()),
                         "loo_mape": model.loo_mape if model else float("nan"),
                         "loo_p90_ape": model.loo_p90_ape if model else float("nan")})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from zenbench.fileio import atomic_write_bytes

        meta = {**self.metadata, "models": {k: m.__dict__ for k, m in self.models.items()}}
        table = pa.Table.from_pandas(self.rows, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"zenbench": json.dumps(meta).encode()})
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        return atomic_write_bytes(path, sink.getvalue().to_pybytes())

    @staticmethod
    def load(path: str | Path, *, expect: dict[str, Any] | None = None, force: bool = False) -> LatencyTable:
        """Load a table; ``expect`` (a device's settings) refuses a table measured under other settings."""
        import pyarrow.parquet as pq

        path = Path(path)
        if not path.is_file():
            raise TableError(f"no latency table at {path}; make one with `zenbench profile --device …` "
                             f"or `make profile DEVICE=…`")
        try:
            table = pq.read_table(path)
        except Exception as error:  # pyarrow raises several types for a damaged file
            raise TableError(f"{path} is not a readable Parquet latency table: {error}") from None
        raw = (table.schema.metadata or {}).get(b"zenbench")
        if raw is None:
            raise TableError(f"{path} has no zenbench metadata; it was not written by `zenbench profile`")
        meta = json.loads(raw)
        models = {k: KindModel(**v) for k, v in meta.pop("models", {}).items()}
        if "channel_block" not in meta or "smoother" not in meta:
            models = {}  # fitted before channel padding and the smoother were modelled: refit
        result = LatencyTable(table.to_pandas(), meta, models)
        if expect:
            result.check_settings(expect, force=force, source=str(path))
        return result

    def check_settings(self, expect: dict[str, Any], *, force: bool = False, source: str = "") -> None:
        device = self.metadata.get("device", {})
        for key in CRITICAL_SETTINGS:
            if key in expect and device.get(key) != expect[key]:
                message = (f"latency table {source} was measured with {key}={device.get(key)!r}, but the device "
                           f"profile says {key}={expect[key]!r}; re-profile, or pass --force to use it anyway")
                if not force:
                    raise TableError(message)
                warnings.warn(message, stacklevel=2)
        for key in SOFT_SETTINGS:
            if key in expect and device.get(key) != expect[key]:
                warnings.warn(f"latency table {source} was measured with {key}={device.get(key)!r}, the device "
                              f"profile says {expect[key]!r}: latencies may differ", stacklevel=2)


def new_metadata(device: dict[str, Any], environment: dict[str, Any], versions: dict[str, str],
                 grid: dict[str, Any]) -> dict[str, Any]:
    return {"format": 1, "device": device, "environment": environment, "versions": versions, "grid": grid,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
