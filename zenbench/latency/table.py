"""Latency tables: the measured unit latencies of one device, with the context they were measured in.

A table is a Parquet file: one row per measured unit (key, shape, features, timing statistics) and,
in the schema metadata, the device's settings, versions, host, grid, the per-kind models fitted to
the rows and the whole-network calibration. It is the hand-over between the builder (which
measures on a device) and the predictor (which needs no device), so loading checks all of it.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from zenbench.errors import ZenbenchError
from zenbench.latency.calibration import Calibration
from zenbench.latency.meta import (
    FORMAT,
    MIN_CALIBRATION_NETWORKS,
    REQUIRED_COLUMNS,
    TableError,
    TableMeta,
    check_metadata,
    check_models,
)
from zenbench.latency.models import SMOOTHER_OFF, KindModel, ResidualSmoother, UnitModels, unit_model_candidates
from zenbench.latency.units import FEATURES, LEGACY_FEATURES, PLAIN_CORE, SHAPE_COLUMNS, Core, Padding, core_of

#: settings that make two tables incomparable; a mismatch refuses to load unless forced
CRITICAL_SETTINGS = ("backend", "precision", "batch")
#: settings whose mismatch only warns
SOFT_SETTINGS = ("threads",)


@dataclass(eq=False)
class LatencyTable:
    """Measured unit latencies of one device, the per-kind models fitted to them, and the calibration.

    ``metadata`` holds the stored JSON metadata except the models and the calibration, which are typed
    attributes; ``meta`` is the checked, typed view of it."""

    rows: pd.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)
    models: dict[str, KindModel] = field(default_factory=dict)
    calibration: Calibration | None = None
    #: bumped whenever the unit models change, so predictors drop what they memoised from the old ones
    revision: int = field(default=0, init=False)
    #: the shared :class:`~zenbench.latency.predictor.Predictor` that ``predict_latency(spec, table)`` uses
    _predictor: Any = field(default=None, init=False, repr=False)
    #: (the rows they were fitted to, the core they counted on, every padding's unit models), see :meth:`unit_candidates`
    _candidates: tuple[pd.DataFrame, Core, list[UnitModels]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if "calibration" in self.metadata:  # metadata written by hand or by an older caller
            raw = self.metadata.pop("calibration")
            if self.calibration is None and raw:
                self.calibration = raw if isinstance(raw, Calibration) else Calibration.from_dict(raw)
        self.measured: dict[str, float] = dict(zip(self.rows["key"], self.rows["median_ms"], strict=True)) \
            if len(self.rows) else {}
        if not self.models and len(self.rows) and set(LEGACY_FEATURES) <= set(self.rows.columns):
            self.fit()  # unit tables; tables fitted from whole networks (nb201) carry their model in metadata

    def fit(self) -> None:
        """Fit every kind's model, with the channel padding whose models predict held-out units best."""
        self.use_models(min(self.unit_candidates(), key=lambda c: c.unit_loo_mape))

    def unit_candidates(self) -> list[UnitModels]:
        """Every candidate padding's unit models (:func:`~zenbench.latency.models.unit_model_candidates`),
        fitted once per ``rows`` object: a profile chooses among them twice (by units, then by networks)."""
        core = self.host_core
        if self._candidates is None or self._candidates[0] is not self.rows or self._candidates[1] != core:
            self._candidates = (self.rows, core, unit_model_candidates(self.rows, core))
        return self._candidates[2]

    def use_models(self, candidate: UnitModels) -> None:
        """Predict with these unit models (one padding's, see ``zenbench.latency.models``) from now on."""
        self.models = candidate.models
        self.metadata["channel_block"] = list(candidate.block)
        self.metadata["smoother"] = candidate.smoother.as_dict()
        self.metadata["core"] = list(candidate.core)
        self.revision += 1

    @property
    def meta(self) -> TableMeta:
        """The metadata, checked and typed."""
        return check_metadata({**self.metadata, **({"calibration": self.calibration.as_dict()}
                                                   if self.calibration else {})})

    @property
    def smoother(self) -> ResidualSmoother:
        raw = self.metadata.get("smoother")
        return ResidualSmoother(**raw) if raw else SMOOTHER_OFF

    @property
    def core(self) -> Core:
        """The core the unit models' features were counted on: stored with them, else the plain one (models
        fitted before it was recorded do not use the features that depend on it)."""
        raw = self.metadata.get("core")
        return Core(*raw) if raw else PLAIN_CORE

    @property
    def host_core(self) -> Core:
        """The core of the host that measured the rows, at the table's precision: what a fit counts on."""
        return core_of(self.precision, self.metadata.get("environment") or {})

    @property
    def channel_block(self) -> Padding:
        return Padding.of(self.metadata.get("channel_block", 1))

    @property
    def batch(self) -> int:
        return int(self.metadata.get("device", {}).get("batch", 1))

    @property
    def precision(self) -> str:
        return str(self.metadata.get("device", {}).get("precision", "fp32"))

    @property
    def per_image(self) -> bool:
        return bool(self.metadata.get("device", {}).get("per_image", False))

    def model(self, kind: str) -> KindModel:
        """The model of one unit kind; a :class:`TableError` saying how to get one when the table has none."""
        if kind not in self.models:
            raise TableError(f"the table has no measurements of {kind} units; profile a space that contains them "
                             f"(zenbench profile --device {self.metadata.get('device', {}).get('device', '…')} --space …)")
        return self.models[kind]

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

        meta = {**self.metadata, "format": FORMAT, "models": {k: m.__dict__ for k, m in self.models.items()}}
        if self.calibration is not None:
            meta["calibration"] = self.calibration.as_dict()
        table = pa.Table.from_pandas(self.rows, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"zenbench": json.dumps(meta).encode()})
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        return atomic_write_bytes(path, sink.getvalue().to_pybytes())

    @staticmethod
    def load(path: str | Path, *, expect: dict[str, Any] | None = None, force: bool = False,
             require_calibration: bool = True) -> LatencyTable:
        """Load and check a table; ``expect`` (a device's settings) refuses a table measured under other
        settings. A table that lists enough calibration networks but lost its calibration is refused unless
        ``require_calibration`` is off (what ``zenbench table recalibrate`` does to restore it)."""
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
        damaged = f"; re-profile the device, or restore the file from the repository (git checkout -- {path})"
        try:
            meta = json.loads(raw)
            checked = check_metadata(meta)
            models = check_models(meta.pop("models", {}), checked.core)
            rows = table.to_pandas()
            check_rows(rows, signed="nb201_model" in meta)
        except (ValueError, TypeError, AttributeError) as error:
            raise TableError(f"{path} is damaged: {error}{damaged}") from None
        if "channel_block" not in meta or "smoother" not in meta:
            models = {}  # fitted before channel padding and the smoother were modelled: refit
        calibration = checked.calibration
        meta.pop("calibration", None)
        if calibration is None and require_calibration and len(checked.networks) >= MIN_CALIBRATION_NETWORKS:
            raise TableError(f"{path} lists {len(checked.networks)} networks measured end to end but no calibration, "
                             f"so it would predict uncalibrated; restore it with `zenbench table recalibrate {path}`")
        try:
            result = LatencyTable(rows, meta, models, calibration)
        except ZenbenchError as error:
            raise TableError(f"{path} is damaged: {error}{damaged}") from None
        except (ValueError, TypeError, KeyError) as error:
            raise TableError(f"{path} is damaged: its rows cannot be fitted ({error}){damaged}") from None
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


def check_rows(rows: pd.DataFrame, signed: bool = False) -> None:
    """The table's rows: the required columns, finite latencies (non-negative unless ``signed``: a fitted
    model's coefficients), numeric features and shapes."""
    missing = [c for c in REQUIRED_COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(f"its rows have no {', '.join(missing)} column")
    for column in ("median_ms", *FEATURES, *(c for c in SHAPE_COLUMNS if c not in ("family", "shortcut"))):
        if column in rows.columns and not pd.api.types.is_numeric_dtype(rows[column]):
            raise ValueError(f"its {column} column is not numeric")
    median = rows["median_ms"].to_numpy(dtype=float)
    if len(median) and not all(math.isfinite(v) and (signed or v >= 0) for v in median):
        raise ValueError("its median_ms column has a negative, missing or infinite latency")
    if not all(isinstance(k, str) for k in rows["key"]) or not all(isinstance(k, str) for k in rows["kind"]):
        raise ValueError("its key and kind columns must be text")
