"""Benchmark: one HW-NAS-Bench device's NAS-Bench-201 table adapted to another from K measured cells (issue #30).

For every ordered pair of the measured devices, the source's cell model (:func:`zenbench.latency.nb201.choose_and_fit`,
the model ``zenbench table fit`` writes) is fitted on ``source_samples`` random source cells. Then K cells of the
target (K = 10, 20, 50; ``repeats`` draws of them, seeds 0..repeats-1) adapt it, and every other target cell scores
the result: Spearman ρ (what HELP reports), share within ±10 %, MAPE. The forms compete by leave-one-out error on the
K cells, as :mod:`zenbench.builder.adapt_forms` does for CPU tables:

``source``       the source table as it is (scale 1: the order carries, the scale does not);
``scale``        the source's prediction P times one factor (geometric mean of measured / P);
``elasticity``   ``s · P^α``, a least-squares line in log-log space;
``kind-scales``  one factor per op kind of the table's features (conv3x3, conv1x1, pool, other = skeleton, skip and
                 merges), fitted in log space with a mild pull towards the one scale so that K = 10 stays stable.
                 A quadratic table's product term belongs to the heavier of its two ops (conv3x3 > conv1x1 > pool).

Beside them, ``target-only`` is the cell model fitted on the K target cells alone: what no transfer gives. The
phones' measurements (``samsung_a50``, ``pixel2``) are whole milliseconds, so a few per cent of every figure on them
is rounding, not model error. HELP's published figures are kept here, with their source, to print beside ours.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zenbench.latency.metrics import error_metrics, leave_one_out
from zenbench.latency.nb201 import PRUNING, choose_and_fit, counts_matrix, design, feature_names
from zenbench.latency.terms import LOO_TOLERANCE

DEFAULT_BUDGETS = (10, 20, 50)
#: source-based forms in order of complexity: of two within LOO_TOLERANCE, the earlier wins
FORMS = ("source", "scale", "elasticity", "kind-scales")
KINDS = ("conv3x3", "conv1x1", "pool", "other")
#: devices whose measurements are whole milliseconds
QUANTISED = ("samsung_a50", "pixel2")
#: weight of the pull of each log op-kind factor towards the log of the one scale (per cell measured)
KIND_PRIOR = 0.05

#: HELP (Lee et al., "HELP: Hardware-Adaptive Efficient Latency Prediction for NAS via Meta-Learning", NeurIPS 2021,
#: arXiv 2106.08630), Table 3 as reproduced in the authors' README (github.com/HayeonLee/HELP, "Architecture Ranking
#: Correlation Results (Table 3)"): Spearman ρ between predicted and measured latency of NAS-Bench-201 cells on
#: unseen devices. HELP adapts with 10 target samples after meta-training on 9 other devices (samsung_a50 among them);
#: BRP-NAS is trained on 900 (3,200) target samples; FLOPs and the layer-wise predictor use none. Only the devices
#: we also have are kept; HELP's others are Titan RTX (batch 256), Raspi4, ASIC (Eyeriss) and FPGA.
HELP_PUBLISHED: dict[str, dict[str, float | None]] = {
    "gold_6226": {"HELP (10 samples)": 0.989, "BRP-NAS (900)": 0.796, "BRP-NAS (3200)": 0.805,
                  "layer-wise predictor": 0.866, "FLOPs": 0.826},
    "pixel2": {"HELP (10 samples)": 0.802, "BRP-NAS (900)": 0.666, "BRP-NAS (3200)": 0.693,
               "layer-wise predictor": None, "FLOPs": 0.765},
}
HELP_SOURCE = ("HELP, Lee et al., NeurIPS 2021 (arXiv 2106.08630), Table 3, as in github.com/HayeonLee/HELP README")


def shipped_measurements() -> Path:
    """The shipped copy of the HW-NAS-Bench / HELP whole-network latencies (zenbench/data/nb201)."""
    return Path(str(resources.files("zenbench").joinpath("data/nb201/latency_ms.csv.gz")))


def _kind(feature: str) -> str:
    ops = feature.split("*")
    for op, kind in (("nor_conv_3x3", "conv3x3"), ("nor_conv_1x1", "conv1x1"), ("avg_pool_3x3", "pool")):
        if op in ops:
            return kind
    return "other"


class SourceModel:
    """A source device's fitted cell model and, for every cell, its prediction split by op kind."""

    def __init__(self, model: dict[str, Any], counts: dict[str, np.ndarray]) -> None:
        self.model = model
        coef = np.array([model["coefficients"][n] for n in feature_names(model["form"])])
        terms = design(counts[model["pruning"]], model["form"]) * coef
        kinds = np.array([_kind(n) for n in feature_names(model["form"])])
        self.by_kind = np.column_stack([terms[:, kinds == k].sum(axis=1) for k in KINDS])
        self.predicted = np.maximum(self.by_kind.sum(axis=1), 1e-9)


def fit_form(form: str, by_kind: np.ndarray, measured: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """One form fitted on cells (their source prediction by op kind, their measured latency): a predictor of
    latency from the same by-kind rows."""
    p, m = np.log(np.maximum(by_kind.sum(axis=1), 1e-9)), np.log(measured)
    log_scale = float(np.mean(m - p))
    if form == "source":
        return lambda rows: rows.sum(axis=1)
    if form == "scale":
        return lambda rows: math.exp(log_scale) * rows.sum(axis=1)
    if form == "elasticity":
        alpha, shift = (np.polyfit(p, m, 1) if len(m) >= 3 and float(np.ptp(p)) > 1e-9 else (1.0, log_scale))
        return lambda rows: np.exp(shift) * np.maximum(rows.sum(axis=1), 1e-9) ** alpha
    if form == "kind-scales":
        from scipy.optimize import least_squares

        used = by_kind.max(axis=0) > 0
        weight = math.sqrt(KIND_PRIOR * len(m))

        def residuals(logs: np.ndarray) -> np.ndarray:
            factors = np.where(used, np.exp(np.clip(logs, -30, 30)), 0.0)
            fit = np.log(np.maximum(by_kind @ factors, 1e-12)) - m
            return np.concatenate([fit, weight * (logs[used] - log_scale)])

        logs = least_squares(residuals, np.full(len(KINDS), log_scale)).x
        factors = np.where(used, np.exp(logs), math.exp(log_scale))  # a kind no cell had keeps the one scale
        return lambda rows: rows @ factors
    raise ValueError(f"unknown form {form!r}; choose from {', '.join(FORMS)}")


def loo_mape(form: str, by_kind: np.ndarray, measured: np.ndarray) -> float:
    """The form's leave-one-out mean absolute relative error on the K cells."""

    def held_out(keep: list[int], i: int) -> float:
        predicted = fit_form(form, by_kind[keep], measured[keep])(by_kind[i:i + 1])[0]
        return abs(predicted / measured[i] - 1)

    return float(np.mean(leave_one_out(len(measured), held_out)))


def _scores(predicted: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    metrics = error_metrics(predicted, measured)
    return {k: metrics[k] for k in ("spearman", "within_10", "mape")}


def adapt_once(source: SourceModel, target: np.ndarray, pick: np.ndarray, archs: Sequence[str],
               counts: dict[str, np.ndarray]) -> dict[str, Any]:
    """Every form and the chosen one fitted on the ``pick`` cells of ``target``, scored on all the other cells."""
    rest = np.setdiff1d(np.arange(len(target)), pick)
    rows, measured = source.by_kind[pick], target[pick]
    loo = {f: loo_mape(f, rows, measured) for f in FORMS}
    forms = {f: _scores(fit_form(f, rows, measured)(source.by_kind[rest]), target[rest]) for f in FORMS}
    chosen = next(f for f in FORMS if loo[f] <= min(loo.values()) + LOO_TOLERANCE)
    own = choose_and_fit([archs[i] for i in pick], measured, seed=0)
    coef = np.array(list(own["coefficients"].values()))
    forms["target-only"] = _scores(design(counts[own["pruning"]][rest], own["form"]) @ coef, target[rest])
    loo["target-only"] = float(own["cv_mape"])
    return {"chosen": chosen, "loo_mape": loo, "forms": forms, "held_out": len(rest)}


def _summary(values: Sequence[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=float)
    return {"mean": float(np.mean(a)), "sd": float(np.std(a)), "min": float(np.min(a)), "max": float(np.max(a))}


def summarise(draws: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread over the draws of K cells: per form, for the chosen form, and which forms were chosen."""
    names = [*FORMS, "target-only"]
    out: dict[str, Any] = {"forms": {f: {m: _summary([d["forms"][f][m] for d in draws])
                                         for m in ("spearman", "within_10", "mape")} for f in names},
                           "chosen_forms": [d["chosen"] for d in draws]}
    out["chosen"] = {m: _summary([d["forms"][d["chosen"]][m] for d in draws]) for m in ("spearman", "within_10", "mape")}
    out["loo_mape"] = {f: float(np.mean([d["loo_mape"][f] for d in draws])) for f in names}
    return out


def run(runs: int = 10, *, measurements: Path | None = None, budgets: Sequence[int] = DEFAULT_BUDGETS,
        repeats: int = 5, source_samples: int = 1000, devices: Sequence[str] | None = None,
        cells: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Score every ordered pair of ``devices`` (default: every device column) at each K. ``runs`` is unused (nothing
    is timed); ``cells`` keeps a random subset of the cells (a quick run)."""
    path = measurements or shipped_measurements()
    frame = pd.read_csv(path)
    devices = list(devices or [c for c in frame.columns if c not in ("index", "arch")])
    frame = frame[np.all(np.isfinite(frame[devices]) & (frame[devices] > 0), axis=1)].reset_index(drop=True)
    if cells:
        keep = np.sort(np.random.default_rng(seed).choice(len(frame), size=min(cells, len(frame)), replace=False))
        frame = frame.iloc[keep].reset_index(drop=True)
    archs = list(frame["arch"])
    counts = {p: counts_matrix(archs, p) for p in PRUNING}
    n = len(frame)
    source_pick = np.random.default_rng(seed).choice(n, size=min(source_samples, n), replace=False)
    sources: dict[str, SourceModel] = {}
    for device in devices:
        y = frame[device].to_numpy(dtype=float)
        sources[device] = SourceModel(choose_and_fit([archs[i] for i in source_pick], y[source_pick], seed), counts)
    pairs = []
    for src in devices:
        for tgt in devices:
            if src == tgt:
                continue
            target = frame[tgt].to_numpy(dtype=float)
            entry: dict[str, Any] = {"source": src, "target": tgt,
                                     "unadapted": _scores(sources[src].predicted, target), "budgets": []}
            for k in budgets:
                draws = [adapt_once(sources[src], target,
                                    np.random.default_rng(1000 + r).choice(n, size=k, replace=False), archs, counts)
                         for r in range(repeats)]
                entry["budgets"].append({"k": int(k), "held_out": draws[0]["held_out"], **summarise(draws)})
            pairs.append(entry)
    return {"data": str(path), "cells": n, "devices": devices, "budgets": [int(k) for k in budgets],
            "repeats": repeats, "source_samples": int(min(source_samples, n)),
            "quantised_devices": [d for d in devices if d in QUANTISED],
            "sources": {d: {k: v for k, v in s.model.items() if k != "coefficients"} | {"coefficients": dict(
                s.model["coefficients"])} for d, s in sources.items()},
            "pairs": pairs, "help_published": HELP_PUBLISHED, "help_source": HELP_SOURCE}


def by_source(result: dict[str, Any], target: str, k: int, key: str = "chosen") -> dict[str, float]:
    """Mean ρ on ``target`` at K = ``k`` of each source's adapted table (``key`` "chosen") or of a form."""
    return {p["source"]: (b["chosen"] if key == "chosen" else b["forms"][key])["spearman"]["mean"]
            for p in result["pairs"] if p["target"] == target for b in p["budgets"] if b["k"] == k}


def render(result: dict[str, Any], console: Any) -> None:
    """The pairs by K (chosen form, no-transfer fit, unadapted source), then HELP's figures beside ours."""
    from rich.table import Table

    def cell(s: dict[str, Any], metric: str) -> str:
        if metric == "spearman":
            return f"{s[metric]['mean']:.3f}±{s[metric]['sd']:.3f}"
        return f"{s[metric]['mean']:.1%}" if metric == "mape" else f"{s[metric]['mean']:.0%}"

    table = Table(title=f"NAS-Bench-201: a device's table adapted to another ({result['cells']} cells, source fitted "
                        f"on {result['source_samples']}, {result['repeats']} draws of K target cells, scored on the "
                        "rest; mean±sd)", title_justify="left")
    for col in ("source → target", "K", "unadapted ρ", "adapted ρ", "±10 %", "MAPE", "forms chosen",
                "target-only ρ", "±10 % ", "MAPE "):
        table.add_column(col, justify="left" if col in ("source → target", "forms chosen") else "right")
    for p in result["pairs"]:
        for b in p["budgets"]:
            picked = pd.Series(b["chosen_forms"]).value_counts()
            own = b["forms"]["target-only"]
            table.add_row(f"{p['source']} → {p['target']}", str(b["k"]), f"{p['unadapted']['spearman']:.3f}",
                          cell(b["chosen"], "spearman"), cell(b["chosen"], "within_10"), cell(b["chosen"], "mape"),
                          ", ".join(f"{f}×{c}" for f, c in picked.items()), cell(own, "spearman"),
                          cell(own, "within_10"), cell(own, "mape"))
    console.print(table)
    if result["quantised_devices"]:
        console.print(f"{', '.join(result['quantised_devices'])}: measured in whole milliseconds; rounding alone "
                      "costs a few per cent of error on them.")
    k = min(result["budgets"])
    help_table = Table(title=f"Spearman ρ on unseen devices beside HELP's published figures (K = {k}; HELP scores its own "
                             f"test cells, we score all cells but the K). Source: {result['help_source']}", title_justify="left")
    for col in ("device", f"ours adapted, K={k}: mean of sources (best)", f"ours target-only, K={k}",
                *next(iter(HELP_PUBLISHED.values()))):
        help_table.add_column(col, justify="left" if col == "device" else "right")
    for device, published in result["help_published"].items():
        ours, own = by_source(result, device, k), by_source(result, device, k, "target-only")
        if not ours:
            continue
        best = max(ours, key=ours.__getitem__)
        help_table.add_row(device, f"{np.mean(list(ours.values())):.3f} ({ours[best]:.3f} from {best})",
                           f"{next(iter(own.values())):.3f}",
                           *("-" if v is None else f"{v:.3f}" for v in published.values()))
    console.print(help_table)


__all__ = ["FORMS", "HELP_PUBLISHED", "HELP_SOURCE", "KINDS", "SourceModel", "adapt_once", "by_source", "fit_form",
           "loo_mape", "render", "run", "shipped_measurements", "summarise"]
