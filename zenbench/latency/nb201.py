"""The NAS-Bench-201 cell model: latency learned from whole-network measurements.

For a device one can only run whole models on (a phone, or a published data set), the units'
costs can still be recovered: every NAS-Bench-201 network is the same skeleton around copies of
one cell, so its latency is the skeleton's cost plus each edge's op, plus one sum per node that
merges two or more edges. Whether dead edges are pruned (``graph``) or run (``none``), and whether
costs add (``linear``) or interact (``quadratic``), is chosen by cross-validation on the measured
cells (docs/latency-model.md). The model is stored as an ordinary :class:`LatencyTable` (one row per
coefficient, the model in the metadata) and predicts through :class:`CellPredictor`, the same
protocol ``budget.Constraints`` uses.

Where every cell was measured (HW-NAS-Bench's devices), no model is needed: :func:`lookup_table`
stores each cell's measurement as a row (form ``lookup``), so a search's budget is the device's own.
"""


from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zenbench.errors import ZenbenchError
from zenbench.latency.meta import new_metadata
from zenbench.latency.metrics import error_metrics
from zenbench.latency.predictor import Prediction
from zenbench.latency.table import LatencyTable
from zenbench.space.nb201 import EDGES, OPS, Cell, parse_cell

COSTED_OPS = tuple(op for op in OPS if op != "none")
PRUNING = ("none", "graph")
FORMS = ("linear", "quadratic")


def cell_counts(cell: Cell, pruning: str) -> np.ndarray:
    """[edges per op..., merges] of one cell under a pruning rule."""
    active = cell.live_edges() if pruning == "graph" else tuple(op != "none" for op in cell.ops)
    counts = {op: 0 for op in COSTED_OPS}
    inputs = {1: 0, 2: 0, 3: 0}
    for (_, j), op, on in zip(EDGES, cell.ops, active, strict=True):
        if on:
            counts[op] += 1
            inputs[j] += 1
    return np.array([*(counts[op] for op in COSTED_OPS), float(sum(max(0, n - 1) for n in inputs.values()))])


def design(counts: np.ndarray, form: str) -> np.ndarray:
    """The regression design: a constant (the skeleton), the counts, and for ``quadratic`` their pairwise products."""
    columns = [np.ones(len(counts)), *counts.T]
    if form == "quadratic":
        n = counts.shape[1]
        columns += [counts[:, a] * counts[:, b] for a in range(n) for b in range(a, n)]
    return np.column_stack(columns)


def feature_names(form: str) -> list[str]:
    names = ["overhead", *COSTED_OPS, "merge"]
    if form == "quadratic":
        base = names[1:]
        names += [f"{a}*{b}" for i, a in enumerate(base) for b in base[i:]]
    return names


def counts_matrix(archs: list[str] | pd.Series, pruning: str) -> np.ndarray:
    return np.stack([cell_counts(parse_cell(a), pruning) for a in archs])


def fit_costs(x: np.ndarray, latency: np.ndarray, form: str = "linear") -> np.ndarray:
    """Coefficients minimising relative error: non-negative for ``linear``, ridge for ``quadratic``."""
    weights = 1.0 / np.maximum(latency, 1e-9)
    a, b = x * weights[:, None], latency * weights
    if form == "linear":
        from scipy.optimize import nnls

        return nnls(a, b)[0]
    ridge = 1e-5 * np.eye(x.shape[1])
    ridge[0, 0] = 0.0
    return np.linalg.solve(a.T @ a + ridge * len(b), a.T @ b)


def cross_validated_error(counts: np.ndarray, latency: np.ndarray, form: str, folds: int | None = None,
                          seed: int = 0) -> float:
    """Mean absolute percentage error on held-out cells: leave-one-out up to 100 samples, else 10-fold."""
    folds = folds or (len(latency) if len(latency) <= 100 else 10)
    order = np.random.default_rng(seed).permutation(len(latency))
    errors = []
    for fold in range(folds):
        test = order[fold::folds]
        train = np.setdiff1d(order, test)
        if len(train) < design(counts[:1], form).shape[1]:
            return np.inf  # fewer samples than coefficients: this form cannot be fitted
        coef = fit_costs(design(counts[train], form), latency[train], form)
        pred = design(counts[test], form) @ coef
        errors.extend(np.abs(pred - latency[test]) / latency[test])
    return float(np.mean(errors))


def choose_and_fit(archs: list[str] | pd.Series, latency: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """The pruning rule and form with the lowest cross-validated error, fitted on every sample."""
    best: dict[str, Any] | None = None
    for pruning in PRUNING:
        counts = counts_matrix(archs, pruning)
        for form in FORMS:
            error = cross_validated_error(counts, latency, form, seed=seed)
            if best is None or error < best["cv_mape"]:
                best = {"pruning": pruning, "form": form, "cv_mape": error, "counts": counts}
    assert best is not None
    coef = fit_costs(design(best.pop("counts"), best["form"]), latency, best["form"])
    return {**best, "coefficients": dict(zip(feature_names(best["form"]), map(float, coef), strict=True))}


#: the model form of a table that stores every cell's measurement
LOOKUP = "lookup"
#: the cells of NAS-Bench-201: 5 ops on each of 6 edges
ALL_CELLS = len(OPS) ** len(EDGES)


def _measured(measurements: Path, column: str) -> pd.DataFrame:
    """The cells of ``measurements`` with a positive, finite latency in ``column``."""
    frame = pd.read_csv(measurements)
    if "arch" not in frame.columns or column not in frame.columns:
        devices = [c for c in frame.columns if c not in ("index", "arch")]
        raise ZenbenchError(f"{measurements} needs an 'arch' column and the device column {column!r}; "
                            f"device columns: {', '.join(devices)}")
    return frame[np.isfinite(frame[column]) & (frame[column] > 0)]


def _cell_table(rows: pd.DataFrame, measurements: Path, column: str, grid: dict[str, Any],
                model: dict[str, Any]) -> LatencyTable:
    rows = rows.assign(noisy=False, resolution=0, in_channels=0, out_channels=0)
    meta = new_metadata({"device": column, "backend": "whole-network measurements", "precision": "as measured",
                         "batch": 1, "per_image": False}, {"source": str(measurements)}, {},
                        {"targets": [{"space": "nb201", "resolution": 32}], "fitted_from": column, **grid})
    meta["nb201_model"] = model
    return LatencyTable(rows, meta, models={})


def lookup_table(measurements: Path, column: str) -> tuple[LatencyTable, dict[str, Any]]:
    """Every cell's measured latency in device ``column`` as a table: a search's budget without a model's error.

    Needs all 15,625 cells measured (a cell without a measurement could not be judged by the budget)."""
    frame = _measured(measurements, column)
    archs = []
    for row, text in enumerate(frame["arch"], start=1):
        try:
            archs.append(str(parse_cell(text)))
        except (ValueError, TypeError) as error:
            raise ZenbenchError(f"{measurements}: measured cell {row} of {column!r} is not a NAS-Bench-201 cell: "
                                f"{error}") from None
    latency = dict(zip(archs, frame[column].to_numpy(dtype=float), strict=True))  # a repeated cell: its last row
    missing = ALL_CELLS - len(latency)
    if missing:
        raise ZenbenchError(f"a lookup table needs every cell measured; {column!r} of {measurements} lacks "
                            f"{missing} of {ALL_CELLS}: fit a model on the measured ones instead (drop --lookup)")
    rows = pd.DataFrame({"key": [f"nb201|cell|{a}" for a in latency], "kind": "nb201/cell",
                         "median_ms": list(latency.values())})
    model = {"pruning": None, "form": LOOKUP, "cv_mape": 0.0}
    return _cell_table(rows, measurements, column, {"samples": len(rows), "seed": None}, model), model


def fit_table(measurements: Path, column: str, samples: int, seed: int = 0) -> tuple[LatencyTable, dict[str, Any]]:
    """Fit device ``column`` of ``measurements`` on ``samples`` random cells; the result is a latency table."""
    frame = _measured(measurements, column)
    if not 2 <= samples <= len(frame):
        raise ZenbenchError(f"--samples must be between 2 and the {len(frame)} measured cells, got {samples}")
    chosen = frame.iloc[np.random.default_rng(seed).choice(len(frame), size=samples, replace=False)]
    model = choose_and_fit(list(chosen["arch"]), chosen[column].to_numpy(dtype=float), seed)
    names = list(model["coefficients"])
    rows = pd.DataFrame({"key": [f"nb201|{n}" for n in names], "kind": [f"nb201/{n}" for n in names],
                         "median_ms": [model["coefficients"][n] for n in names]})
    stored = {k: v for k, v in model.items() if k != "coefficients"}
    return _cell_table(rows, measurements, column, {"samples": samples, "seed": seed}, stored), model


_COSTS: weakref.WeakKeyDictionary[LatencyTable, dict[str, float]] = weakref.WeakKeyDictionary()


def _costs(table: LatencyTable) -> dict[str, float]:
    """The table's rows as {key: ms}, built once per table (a search predicts one cell at a time)."""
    if table not in _COSTS:
        _COSTS[table] = dict(zip(table.rows["key"], table.rows["median_ms"].astype(float), strict=True))
    return _COSTS[table]


def predict_cells(table: LatencyTable, archs: list[str] | pd.Series) -> np.ndarray:
    """Latency of NAS-Bench-201 cells from a fitted table."""
    model = table.metadata.get("nb201_model")
    if not model:
        raise ZenbenchError("this table was not fitted on NAS-Bench-201 measurements (zenbench table fit)")
    costs = _costs(table)
    if model["form"] == LOOKUP:
        keys = [f"nb201|cell|{parse_cell(a) if isinstance(a, str) else a}" for a in archs]
        unknown = [k for k in keys if k not in costs]
        if unknown:
            raise ZenbenchError(f"the lookup table has no measurement of {unknown[0].split('|')[-1]}")
        return np.array([costs[k] for k in keys])
    coef = np.array([costs[f"nb201|{n}"] for n in feature_names(model["form"])])
    return design(counts_matrix(archs, model["pruning"]), model["form"]) @ coef


def evaluate_fit(measurements: Path, samples_list: tuple[int, ...] = (20, 50, 100, 500), seed: int = 0,
                 columns: list[str] | None = None) -> list[dict[str, Any]]:
    """For each device column and K: choose and fit a model on K random cells, score it on every cell."""
    frame = pd.read_csv(measurements)
    columns = columns or [c for c in frame.columns if c not in ("index", "arch")]
    archs = list(frame["arch"])
    counts = {p: counts_matrix(archs, p) for p in PRUNING}
    results = []
    for column in columns:
        y = frame[column].to_numpy(dtype=float)
        ok = np.flatnonzero(np.isfinite(y) & (y > 0))
        for k in samples_list:
            pick = np.random.default_rng(seed).choice(ok, size=min(k, len(ok)), replace=False)
            model = choose_and_fit([archs[i] for i in pick], y[pick], seed)
            coef = np.array(list(model["coefficients"].values()))
            pred = design(counts[model["pruning"]][ok], model["form"]) @ coef
            metrics = error_metrics(pred, y[ok])
            results.append({"device": column, "samples": int(k), "pruning": model["pruning"], "form": model["form"],
                            "spearman": metrics["spearman"], "mape": metrics["mape"],
                            "within_10": metrics["within_10"], "cells": len(ok)})
    return results


class CellPredictor:
    """Predicts NAS-Bench-201 cells (``arch`` strings or :class:`Cell`) from a table fitted by
    :func:`fit_table`; the ``predict`` protocol of :class:`~zenbench.latency.Predictor`."""

    def __init__(self, table: LatencyTable) -> None:
        if not table.metadata.get("nb201_model"):
            raise ZenbenchError("this table was not fitted on NAS-Bench-201 measurements (zenbench table fit)")
        self.table = table

    def predict(self, spec: Any, resolution: int = 32, num_classes: int = 10, *, breakdown: bool = False) -> Prediction:
        value = float(predict_cells(self.table, [str(spec)])[0])
        validation = self.table.metadata.get("validation") or {}
        return Prediction(value, value, (), 0.0, expected_error=validation.get("mape"))
