"""The models that predict a unit nobody measured: a per-kind linear model and a residual smoother.

Each unit kind (block type x shortcut) gets a non-negative least-squares fit of latency on the work
a unit does (:data:`~zenbench.latency.units.FEATURES`), the same scheme nn-Meter uses for off-grid
kernels. Runtimes are not linear in work (narrow convs waste SIMD lanes, small planes waste tiles),
so a kernel smoother over the measured neighbours' residuals corrects it. Both, and the channel
padding the features use, are chosen by leave-one-out error on the table's own rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from zenbench.latency.metrics import leave_one_out
from zenbench.latency.units import (
    CHANNEL_BLOCKS,
    FEATURES,
    NO_PADDING,
    PLAIN_CORE,
    SHAPE_COLUMNS,
    Core,
    Padding,
    row_features,
)


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

        x = frame.reindex(columns=list(FEATURES)).fillna(0.0).to_numpy(dtype=float)  # rows written before a feature
        y = frame["median_ms"].to_numpy(dtype=float)
        # relative errors matter (a 10 % miss is as bad on a small unit as on a big one): weight rows by 1/y
        scale = np.maximum(np.abs(x).max(axis=0), 1e-30)
        weights = 1.0 / np.maximum(y, 1e-6)
        coef, _ = nnls((x / scale) * weights[:, None], y * weights)
        coef = coef / scale

        def held_out(keep: list[int], i: int) -> float:
            c, _ = nnls((x[keep] / scale) * weights[keep, None], y[keep] * weights[keep])
            return abs(float((x[i] / scale) @ c) - y[i]) / y[i]

        errors = leave_one_out(len(y), held_out) if len(y) >= 4 else []
        mape = float(np.mean(errors)) if errors else float("nan")  # too few points to hold one out
        p90 = float(np.percentile(errors, 90)) if errors else float("nan")
        return KindModel(kind, dict(zip(FEATURES, map(float, coef), strict=True)), len(y), mape, p90)


#: candidate (bandwidth in log2 units of width and resolution, prior weight) of the residual smoother
SMOOTHING_GRID = ((0.5, 0.5), (0.5, 1.0), (0.75, 0.5), (0.75, 1.0), (1.0, 1.0), (1.0, 2.0), (1.5, 2.0))


def shape_coordinates(in_channels: Any, mid: Any, out: Any, resolution: Any) -> np.ndarray:
    """Where a unit sits for the residual smoother: log2 of its widths and resolution."""
    return np.log2(np.column_stack([np.maximum(np.asarray(v, dtype=float), 1.0)
                                    for v in (in_channels, mid, out, resolution)]))


@dataclass(frozen=True)
class ResidualSmoother:
    """Scales a kind's model by the residuals of the measured units near the query, weighted by a
    Gaussian kernel over log widths and resolution and shrunk towards zero where few are near.
    ``bandwidth`` None means the smoother did not help and is off."""

    bandwidth: float | None
    prior: float
    loo_mape: float
    base_loo_mape: float

    @staticmethod
    def choose(groups: list[tuple[np.ndarray, np.ndarray]]) -> ResidualSmoother:
        """Pick (bandwidth, prior) on groups of (coordinates, log residuals), leaving each unit out (the
        kernel's zeroed diagonal)."""
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

    def as_dict(self) -> dict[str, Any]:
        return {"bandwidth": self.bandwidth, "prior": self.prior, "loo_mape": self.loo_mape,
                "base_loo_mape": self.base_loo_mape}


SMOOTHER_OFF = ResidualSmoother(None, 0.0, 0.0, 0.0)

Residuals = dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]


def unit_residuals(rows: pd.DataFrame, models: dict[str, KindModel], block: Padding,
                   core: Core = PLAIN_CORE) -> Residuals:
    """Per (kind, stride): coordinates and log(measured / model) of every measured unit."""
    out: Residuals = {}
    if not set(SHAPE_COLUMNS) <= set(rows.columns):
        return out
    for (kind, stride), group in rows.groupby(["kind", "stride"]):
        model = models.get(kind)
        if model is None:
            continue
        predicted = np.array([model.predict(row_features(r, block, core)) for r in group.to_dict("records")])
        residual = np.log(group["median_ms"].to_numpy(dtype=float) / np.maximum(predicted, 1e-9))
        out[(kind, int(stride))] = (shape_coordinates(group["in_channels"], group["mid_channels"],
                                                      group["out_channels"], group["resolution"]), residual)
    return out


@dataclass(frozen=True)
class UnitModels:
    """One channel padding's unit models and the smoother on top, with the pair's leave-one-out error on units."""

    block: Padding
    models: dict[str, KindModel]
    smoother: ResidualSmoother
    unit_loo_mape: float
    core: Core = PLAIN_CORE


def unit_model_candidates(rows: pd.DataFrame, core: Core = PLAIN_CORE) -> list[UnitModels]:
    """Every kind's model and the residual smoother on top of them, under each candidate channel padding.

    Each candidate's error is the smoother's leave-one-out error (each unit's residual predicted from its
    neighbours', the linear models fitted on every unit), i.e. that of what predicts, not the linear models'
    alone: a padding can fit the linear models a little better and still leave a staircase the smoother
    cannot undo (int8 kernels' cost grows smoothly with width, docs/int8.md). ``core`` is the table's
    (:func:`~zenbench.latency.units.core_of`)."""
    has_shapes = set(SHAPE_COLUMNS) <= set(rows.columns)
    candidates = []
    for block in CHANNEL_BLOCKS if has_shapes else (NO_PADDING,):
        frame = rows
        if has_shapes:
            features = pd.DataFrame([row_features(r, block, core) for r in rows.to_dict("records")],
                                    index=rows.index)
            frame = pd.concat([rows.drop(columns=list(FEATURES), errors="ignore"), features], axis=1)
        models = {kind: KindModel.fit(kind, group) for kind, group in frame.groupby("kind")}
        if has_shapes:
            smoother = ResidualSmoother.choose(list(unit_residuals(rows, models, block, core).values()))
            error = smoother.loo_mape
        else:
            smoother = SMOOTHER_OFF
            scored = [(m.loo_mape, m.n) for m in models.values() if not np.isnan(m.loo_mape)]
            error = sum(e * n for e, n in scored) / max(1, sum(n for _, n in scored))
        # rows without shapes are fitted on the features they were stored with, counted on the plain core
        candidates.append(UnitModels(block, models, smoother, error, core if has_shapes else PLAIN_CORE))
    return candidates


def fit_unit_models(rows: pd.DataFrame, core: Core = PLAIN_CORE) -> tuple[Padding, dict[str, KindModel], ResidualSmoother]:
    """The candidate (:func:`unit_model_candidates`) that predicts held-out units best."""
    best = min(unit_model_candidates(rows, core), key=lambda c: c.unit_loo_mape)
    return best.block, best.models, best.smoother
