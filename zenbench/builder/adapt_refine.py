"""What a larger ``profile --minutes`` budget buys after the networks: the units of the kinds the networks show
to be most wrong, timed on this host.

An adaptation's forms correct the source table's *groups* (plain convs, ResNet units, inverted depth-wise
units) by a scale each. What they cannot correct is a kind whose speed-up here depends on its size, say
wide dense convolutions gaining more than narrow ones on a host with wider vector units. The networks
measured end to end point at such kinds: a network's remaining log error grows with the share of its
time a wrong kind takes. :func:`rank_kinds` orders kinds by that (slope × mean share), and for each kind in
turn, while the budget lasts, :func:`refine` times up to ``UNITS_PER_KIND`` of its grid units spread over its
work range, fits the kind's efficiency curve ``this host / source = e^a · work^b`` on them, puts the timed
units in the table and rescales the kind's other units by the curve. The refined table then competes with
the unrefined one by the adaptation's leave-one-out error: it is kept only where it predicts better.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from zenbench.backends.base import get_backend
from zenbench.builder.adapt_source import timing_seconds
from zenbench.builder.grid import HEAVY_INSTANCES, HEAVY_WEIGHT_BYTES, UnitJob, grid
from zenbench.builder.profile import ProgressLog
from zenbench.devices import DeviceProfile, SpaceTarget
from zenbench.latency import LatencyTable
from zenbench.latency.predictor import as_predictor
from zenbench.measure import TimingRules
from zenbench.space.spec import NetworkSpec

#: grid units timed per kind: enough to fit a two-parameter curve through the kind's work range
UNITS_PER_KIND = 12
#: a kind that takes less than this share of the networks' time on average is not worth timing
MIN_SHARE = 0.02
#: the ridge penalty of the kinds' regression, relative to the mean squared share (a few dozen networks
#: cannot separate dozens of kinds without one)
RIDGE = 0.01
#: the efficiency curve's exponent is kept within this (a dozen noisy units cannot support a steeper one)
MAX_EXPONENT = 0.5
#: seconds to build one unit for timing beyond its timed runs (an estimate, corrected as units are timed)
UNIT_BUILD_SECONDS = 0.3


@dataclass(frozen=True)
class KindCurve:
    """One kind refined: the units timed here, and the curve that rescales the rest of its units."""

    kind: str
    log_scale: float
    exponent: float
    timed: int
    impact: float

    def factor(self, work: float) -> float:
        return math.exp(self.log_scale + self.exponent * math.log(max(work, 1.0)))

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "scale": math.exp(self.log_scale), "exponent": self.exponent, "timed": self.timed,
                "impact": self.impact}


def _kind(key: str) -> str:
    family, shortcut = key.split("|")[:2]
    return f"{family}/{shortcut}"


def kind_shares(table: LatencyTable, networks: Sequence[dict[str, Any]]) -> tuple[list[str], np.ndarray]:
    """Each kind's share of each network's summed unit time under ``table`` (networks × kinds)."""
    predictor = as_predictor(table)
    per_network: list[dict[str, float]] = []
    for net in networks:
        p = predictor.predict(NetworkSpec.parse(net["structure"]), net["resolution"], net["num_classes"],
                              breakdown=True)
        shares: dict[str, float] = {}
        for cost in p.units:
            shares[_kind(cost.key)] = shares.get(_kind(cost.key), 0.0) + cost.ms
        total = sum(shares.values()) or 1.0
        per_network.append({k: v / total for k, v in shares.items()})
    kinds = sorted({k for s in per_network for k in s})
    return kinds, np.array([[s.get(k, 0.0) for k in kinds] for s in per_network])


def rank_kinds(kinds: list[str], shares: np.ndarray, log_residuals: np.ndarray) -> list[tuple[str, float]]:
    """Kinds by how much of the networks' remaining log error they explain: each kind's coefficient in a
    ridge regression of the residual on all kinds' shares (shares sum to one, so one kind's share moves the
    others'; a kind's own slope alone would blame its neighbours), times its mean share. Kinds under
    ``MIN_SHARE`` are left out."""
    keep = [j for j in range(len(kinds)) if shares[:, j].mean() >= MIN_SHARE]
    if not keep or len(log_residuals) < 2:
        return []
    x = shares[:, keep]
    gram = x.T @ x
    ridge = RIDGE * float(np.trace(gram)) / len(keep)
    coefficients = np.linalg.solve(gram + ridge * np.eye(len(keep)), x.T @ log_residuals)
    ranked = [(kinds[j], abs(float(c)) * float(shares[:, j].mean())) for j, c in zip(keep, coefficients, strict=True)]
    return sorted(ranked, key=lambda item: -item[1])


def _work(row: pd.Series | dict[str, Any]) -> float:
    return float(row["dense_macs"]) + float(row["dw_macs"]) + float(row["act_elems"])


def grid_jobs(table: LatencyTable) -> list[UnitJob]:
    """The source grid's units that the table holds (the grid rebuilt from the table's own grid settings, so
    the keys match its rows)."""
    settings = table.metadata["grid"]
    jobs: dict[str, UnitJob] = {}
    for target in settings["targets"]:
        for job in grid(SpaceTarget(target["space"], int(target["resolution"])), points=settings["points"],
                        mac_cap=settings["mac_cap"], seed=settings["seed"], batch=table.batch,
                        grid_networks=settings.get("grid_networks", 0)):
            if job.key in table.measured:
                jobs.setdefault(job.key, job)
    return list(jobs.values())


def kind_jobs(jobs: Sequence[UnitJob], kind: str, batch: int, count: int = UNITS_PER_KIND) -> list[UnitJob]:
    """Up to ``count`` of ``jobs`` of ``kind``, spread evenly over their work."""
    ordered = sorted((j for j in jobs if j.kind == kind), key=lambda j: _work(j.row(batch)))
    if len(ordered) <= count:
        return ordered
    picks = np.unique(np.round(np.linspace(0, len(ordered) - 1, count)).astype(int))
    return [ordered[i] for i in picks]


def fit_curve(kind: str, works: Sequence[float], ratios: Sequence[float], impact: float) -> KindCurve:
    """``ln(ratio) = a + b·ln(work)`` by least squares, ``b`` within ±``MAX_EXPONENT`` (0 under 3 units)."""
    x, y = np.log(np.maximum(works, 1.0)), np.log(ratios)
    if len(x) < 3 or float(np.ptp(x)) < 1e-9:
        return KindCurve(kind, float(np.median(y)), 0.0, len(x), impact)
    b = float(np.clip(np.polyfit(x, y, 1)[0], -MAX_EXPONENT, MAX_EXPONENT))
    return KindCurve(kind, float(np.median(y - b * x)), b, len(x), impact)


def refined_table(table: LatencyTable, timed: dict[str, float], curves: Sequence[KindCurve]) -> LatencyTable:
    """The table with the timed units' latencies and the rest of each refined kind rescaled by its curve; the
    unit models are fitted again, the metadata and calibration kept."""
    rows = table.rows.copy()
    by_kind = {c.kind: c for c in curves}
    for i in rows.index[rows["kind"].isin(list(by_kind))]:
        key = rows.at[i, "key"]
        rows.at[i, "median_ms"] = timed[key] if key in timed else \
            float(rows.at[i, "median_ms"]) * by_kind[rows.at[i, "kind"]].factor(_work(rows.loc[i]))
    return LatencyTable(rows, dict(table.metadata), {}, table.calibration)


def unit_seconds(source_ms: float, rules: TimingRules) -> float:
    """Estimated wall time of timing one unit of ``source_ms`` under the unit ``rules``."""
    return timing_seconds(source_ms, rules, UNIT_BUILD_SECONDS)


def refine(table: LatencyTable, ranked: Sequence[tuple[str, float]], profile: DeviceProfile, rules: TimingRules,
           log: ProgressLog, seconds_left: Callable[[], float], on_unit: Callable[[str], None] | None = None,
           clock: Callable[[], float] = time.monotonic) -> tuple[LatencyTable, list[KindCurve]]:
    """Time the units of each ranked kind in turn while ``seconds_left()`` covers them (a kind is refined only
    when all its chosen units are timed), journalled in ``log`` (``refine|KEY`` rows, with their seconds) so a
    resumed run does not time them again. Returns the refined table and the kinds' curves."""
    backend = get_backend(profile.backend)
    timed: dict[str, float] = {}
    curves: list[KindCurve] = []
    every = grid_jobs(table) if ranked else []
    for kind, impact in ranked:
        jobs = kind_jobs(every, kind, table.batch)
        cost = sum(unit_seconds(table.measured[j.key], rules) for j in jobs if f"refine|{j.key}" not in log.rows)
        if not jobs or cost > seconds_left():
            break
        for job in jobs:
            if f"refine|{job.key}" in log.rows:
                continue
            if on_unit:
                on_unit(f"timing {kind} units for the refinement ({job.key})")
            row = job.row(profile.batch)
            instances = HEAVY_INSTANCES if row["weight_elems"] * 4 > HEAVY_WEIGHT_BYTES else 1
            started = clock()
            stats = backend.time_instances(job.workload(profile.batch), profile.settings, rules, instances
                                           ).summary(scale=1000.0)
            log.append({"key": f"refine|{job.key}", "unit": job.key, "kind": kind, "median_ms": stats["median"],
                        "spread": stats["spread"], "seconds": clock() - started,
                        "estimate_s": unit_seconds(table.measured[job.key], rules), "measured_at": time.time()})
        here = {j.key: float(log.rows[f"refine|{j.key}"]["median_ms"]) for j in jobs}
        timed.update(here)
        works = [_work(j.row(table.batch)) for j in jobs]
        curves.append(fit_curve(kind, works, [here[j.key] / table.measured[j.key] for j in jobs], impact))
    return (refined_table(table, timed, curves) if curves else table), curves


__all__ = ["UNITS_PER_KIND", "KindCurve", "fit_curve", "grid_jobs", "kind_jobs", "kind_shares", "rank_kinds", "refine",
           "refined_table", "unit_seconds"]
