"""Latency tables: measured unit latencies of one device, with the context they were measured in.

A table is a Parquet file: one row per measured unit (its key, shape, features and timing
statistics) and, in the schema metadata, the device profile, backend versions, host, date, the
grid that was profiled, and the per-kind regression fitted to the rows.

A unit that was measured is looked up; any other unit is predicted by its kind's model, a
non-negative least-squares fit of latency on the unit's work (dense and depth-wise MACs, bytes
of activations read and written, weights, and a constant per-call cost). This is how nn-Meter
handles off-grid configurations too: a sampled grid plus a fitted per-kernel model.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zenbench.errors import ZenbenchError
from zenbench.space.units import Conv, Shortcut, Unit

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


def unit_features(unit: Unit, resolution: int, batch: int) -> dict[str, float]:
    """The work a unit does for one batch, which the per-kind model is linear in."""
    totals = {"dense_macs": 0.0, "dw_macs": 0.0, "act_elems": 0.0, "weight_elems": 0.0}

    def add(conv: Conv, res_in: int) -> int:
        res_out = (res_in - 1) // conv.stride + 1
        totals["dw_macs" if conv.groups > 1 else "dense_macs"] += conv.params * res_out * res_out * batch
        totals["act_elems"] += (conv.in_channels * res_in * res_in + conv.out_channels * res_out * res_out) * batch
        totals["weight_elems"] += conv.params
        return res_out

    res = resolution
    for layer in unit.layers:
        if isinstance(layer, Conv):
            res = add(layer, res)
    if unit.shortcut is Shortcut.PROJECTION:
        add(unit.projection_conv(), resolution)  # reads the unit's input
    return {"const": 1.0, **totals, "out_elems": float(unit.out_channels * res * res * batch)}


def classifier_features(channels: int, num_classes: int, resolution: int, batch: int) -> dict[str, float]:
    return {"const": 1.0, "dense_macs": float(channels * num_classes * batch), "dw_macs": 0.0,
            "act_elems": float(channels * resolution * resolution * batch), "weight_elems": float(channels * num_classes),
            "out_elems": float(num_classes * batch)}


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
        self.models = {kind: KindModel.fit(kind, group) for kind, group in self.rows.groupby("kind")}

    def unit_ms(self, unit: Unit, resolution: int) -> float:
        """Latency of one unit: measured if the table has it, else its kind's model."""
        batch = self.batch
        key = unit_key(unit, resolution, batch)
        if key in self._by_key:
            return float(self._by_key[key])
        return self._model(unit_kind(unit)).predict(unit_features(unit, resolution, batch))

    def classifier_ms(self, channels: int, num_classes: int, resolution: int) -> float:
        key = classifier_key(channels, num_classes, resolution, self.batch)
        if key in self._by_key:
            return float(self._by_key[key])
        return self._model("classifier/gap-linear").predict(classifier_features(channels, num_classes, resolution,
                                                                                self.batch))

    def _model(self, kind: str) -> KindModel:
        if kind not in self.models:
            raise TableError(f"the table has no measurements of {kind} units; profile a space that contains them "
                             f"(zenbench profile --device {self.metadata.get('device', {}).get('device', '…')} --space …)")
        return self.models[kind]

    @property
    def batch(self) -> int:
        return int(self.metadata.get("device", {}).get("batch", 1))

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
