"""``zenbench profile --minutes M``: adapt a source table to this host from whole networks measured end to end.

Under a time budget the run measures random networks of the source table's spaces (validation's sampler,
three round-robin passes each, in chunks so a chunk's passes land apart in time), then lets the forms of
:mod:`zenbench.builder.adapt_forms` compete by leave-one-out error and writes the source's units with the
winning calibration. Every pass is appended to ``<table>.adapt.partial.jsonl`` (a
:class:`~zenbench.builder.profile.ProgressLog`) with the seconds it took, so a run interrupted at any moment
and started again with the same command continues, with the time already spent taken off its budget. A
network counts only once all its passes are in: one the budget cut short is not half-counted. A budget
larger than ``NETWORKS_BEFORE_REFINING`` networks need goes to the units of the kinds the networks show to
be most wrong (:mod:`zenbench.builder.adapt_refine`); the refined table is kept only where its leave-one-out
error beats the unrefined one's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zenbench.backends.base import get_backend
from zenbench.builder.adapt_forms import MIN_ADAPT_NETWORKS, Adaptation, adapt_calibration, predict
from zenbench.builder.adapt_refine import kind_shares, rank_kinds, refine
from zenbench.builder.adapt_source import (
    SampledNetwork,
    check_source,
    network_sums,
    pass_seconds,
    predicted_ms,
    sample_networks,
    source_path,
    source_targets,
)
from zenbench.builder.measuring import measure_network
from zenbench.builder.profile import NETWORK_PASSES, ProgressLog, default_table_path
from zenbench.devices import DeviceProfile, SpaceTarget
from zenbench.errors import BudgetTooSmall, ZenbenchError
from zenbench.latency import LatencyTable, NetworkSums, new_metadata
from zenbench.latency.terms import LOO_TOLERANCE
from zenbench.measure import TimingRules, environment

#: networks measured (all their passes) before the next chunk starts
CHUNK = MIN_ADAPT_NETWORKS
#: networks measured before what is left of the budget goes to timing units (docs/adapting-a-table.md: the
#: adaptation's error on held-out networks levels off by about this many)
NETWORKS_BEFORE_REFINING = 40
#: the least budget left (seconds) worth starting a refinement with
MIN_REFINE_SECONDS = 30.0
#: metadata of the source that describes its own host and measurements, not the adapted table's
HOST_KEYS = ("device", "environment", "versions", "created", "networks", "host_speed", "validation", "adaptation")


@dataclass(frozen=True)
class AdaptProgress:
    """What the progress display shows: seconds spent of the budget, networks complete, and what is running."""

    spent_s: float
    budget_s: float
    networks: int
    doing: str

    @property
    def left_s(self) -> float:
        return max(0.0, self.budget_s - self.spent_s)


def _key(net: SampledNetwork, pass_: int, batch: int) -> str:
    return f"adapt|{net.index}|p{pass_}|{net.structure}|r{net.resolution}|b{batch}"


class _Run:
    """One adaptation's measuring state: the journal, the seconds spent, and the measured/estimated ratio."""

    def __init__(self, log: ProgressLog, source: LatencyTable, profile: DeviceProfile, rules: TimingRules,
                 budget_s: float, passes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.log, self.source, self.profile, self.rules = log, source, profile, rules
        self.budget_s, self.passes, self.clock = budget_s, passes, clock
        self.estimates: dict[int, float] = {}

    @property
    def spent(self) -> float:
        return sum(float(r.get("seconds", 0.0)) for r in self.log.rows.values())

    def estimate(self, net: SampledNetwork) -> float:
        """One pass's seconds: the source's prediction under the timing rules, scaled by how the passes
        measured so far compare with their estimates."""
        if net.index not in self.estimates:
            self.estimates[net.index] = pass_seconds(predicted_ms(self.source, net), self.rules)
        rows = [r for r in self.log.rows.values() if r.get("estimate_s") and str(r["key"]).startswith("adapt|")]
        ratio = sum(r["seconds"] for r in rows) / sum(r["estimate_s"] for r in rows) if rows else 1.0
        return self.estimates[net.index] * ratio

    def missing(self, net: SampledNetwork) -> list[int]:
        batch = self.profile.batch
        return [p for p in range(self.passes) if _key(net, p, batch) not in self.log.rows]

    def cost(self, nets: list[SampledNetwork]) -> float:
        return sum(self.estimate(n) * len(self.missing(n)) for n in nets)

    def complete(self, net: SampledNetwork) -> bool:
        return not self.missing(net)

    def measure(self, net: SampledNetwork, pass_: int) -> None:
        estimate = self.estimates.get(net.index) or self.estimate(net)
        started = self.clock()
        m = measure_network(net.spec, self.profile, net.resolution, net.num_classes, rules=self.rules)
        stats = m.summary(scale=1000.0)
        self.log.append({"key": _key(net, pass_, self.profile.batch), "network": net.index, "pass": pass_,
                         "structure": net.structure, "space": net.space, "resolution": net.resolution,
                         "num_classes": net.num_classes, "median_ms": stats["median"], "p10_ms": stats["p10"],
                         "p90_ms": stats["p90"], "spread": stats["spread"], "noisy": bool(m.context.get("noisy")),
                         "seconds": self.clock() - started, "estimate_s": estimate, "measured_at": time.time()})


def budget_message(minutes: float, first: list[SampledNetwork], run: _Run) -> str:
    """What ``minutes`` can do when it cannot measure the fewest networks: how many fit, and what budget does."""
    per_network = [run.estimate(n) * run.passes for n in first]
    fits, total = 0, 0.0
    for seconds in per_network:
        if total + seconds > minutes * 60:
            break
        fits, total = fits + 1, total + seconds
    need = math.ceil(sum(per_network) / 60 * 10) / 10
    return (f"{minutes:g} minutes measure about {fits} of the {len(first)} networks an adaptation needs at least "
            f"({run.passes} passes each, about {sum(per_network) / len(first):.1f} s a network on this device); "
            f"pass --minutes {max(need, 0.1):g} or more")


def _chunks(run: _Run, networks: Iterator[SampledNetwork], max_networks: int | None
            ) -> Iterator[list[SampledNetwork]]:
    """Chunks of networks to measure: the first of ``CHUNK``, then as many of the next ``CHUNK`` as the budget
    left is estimated to finish (a network the budget cannot finish is not started)."""
    taken = 0
    while max_networks is None or taken < max_networks:
        size = CHUNK if max_networks is None else min(CHUNK, max_networks - taken)
        chunk = [next(networks) for _ in range(size)]
        taken += size
        left = max(0.0, run.budget_s - run.spent)  # networks already complete cost nothing, even past it
        fitting = []
        for net in chunk:
            if run.cost([*fitting, net]) > left:
                break
            fitting.append(net)
        if not fitting:
            return
        yield fitting
        if len(fitting) < len(chunk):
            return


def measure_for_adaptation(run: _Run, networks: Iterator[SampledNetwork], max_networks: int | None,
                           on_progress: Callable[[AdaptProgress], None] | None) -> list[dict[str, Any]]:
    """Measure chunks of networks, pass-major inside each chunk, until the budget or ``max_networks`` ends;
    returns every complete network (its median pass, every pass's median kept)."""
    done: list[SampledNetwork] = []

    def report(doing: str) -> None:
        if on_progress:
            on_progress(AdaptProgress(run.spent, run.budget_s, len(done), doing))

    for chunk in _chunks(run, networks, max_networks):
        stopped = False
        for p in range(run.passes):
            for net in chunk:
                if p not in run.missing(net):
                    continue
                if run.spent + run.estimate(net) > run.budget_s:
                    stopped = True
                    break
                report(f"network {net.index + 1}, pass {p + 1}/{run.passes}")
                run.measure(net, p)
            if stopped:
                break
        done += [net for net in chunk if run.complete(net)]
        report("")
        if stopped:
            break
    batch = run.profile.batch
    out = []
    for net in done:
        passes = sorted((run.log.rows[_key(net, p, batch)] for p in range(run.passes)), key=lambda r: r["median_ms"])
        middle = passes[(len(passes) - 1) // 2]
        out.append({**{k: middle[k] for k in ("structure", "space", "resolution", "num_classes", "median_ms",
                                               "p10_ms", "p90_ms", "spread", "noisy")},
                    "pass_medians_ms": [r["median_ms"] for r in passes]})
    return out


def adapted_table(source: LatencyTable, path: Path, profile: DeviceProfile, networks: list[dict[str, Any]],
                  adaptation: Adaptation, record: dict[str, Any]) -> LatencyTable:
    """The source's units and unit models, with this host's settings, networks and the adapted calibration;
    its ``adaptation`` metadata says how it was made, its ``validation`` the adaptation's leave-one-out error
    (what ``predict`` shows as the expected error until ``zenbench validate`` measures it)."""
    backend = get_backend(profile.backend)
    kept = {k: v for k, v in source.metadata.items() if k not in HOST_KEYS}
    src_device = source.metadata.get("device") or {}
    src_env = source.metadata.get("environment") or {}
    meta = {**new_metadata(profile.describe(), environment(profile.threads), backend.versions(),
                           kept.pop("grid")), **kept, "networks": networks,
            "validation": adaptation.expected_error(),
            "adaptation": {**record, **adaptation.as_dict(),
                           "source": {"path": str(path), "device": src_device.get("device"),
                                      "backend": src_device.get("backend"), "created": source.metadata.get("created"),
                                      "host": {k: src_env.get(k) for k in ("host", "cpu", "cpu_isa", "l2_cache_mib",
                                                                           "last_level_cache_mib", "cpu_count")},
                                      "calibration": source.calibration.as_dict() if source.calibration else None}}}
    return LatencyTable(source.rows, meta, dict(source.models), adaptation.calibration)


def refine_adaptation(table: LatencyTable, networks: list[dict[str, Any]], sums: list[NetworkSums],
                      adaptation: Adaptation, run: _Run, host_cache: float | None,
                      on_progress: Callable[[AdaptProgress], None] | None
                      ) -> tuple[LatencyTable, Adaptation, dict[str, Any]]:
    """Spend the budget left on the units of the kinds the adapted networks show to be most wrong; keep the
    refined table only if its adaptation's leave-one-out error is lower by ``LOO_TOLERANCE``. Returns the
    table and adaptation kept, and what the refinement did (``sums``: the networks' sums on ``table``)."""
    residuals = np.log([s.measured_ms / predict(adaptation.calibration, s) for s in sums])
    kinds, shares = kind_shares(table, networks)
    ranked = rank_kinds(kinds, shares, residuals)

    def say(doing: str) -> None:
        if on_progress:
            on_progress(AdaptProgress(run.spent, run.budget_s, len(networks), doing))

    spent_before = run.spent
    refined, curves = refine(table, ranked, run.profile, run.rules, run.log, lambda: run.budget_s - run.spent,
                             on_unit=say, clock=run.clock)
    if not curves:
        return table, adaptation, {"kinds": [], "kept": False, "ranked": ranked[:5], "seconds": 0.0}
    say("fitting the adaptation on the refined units")
    again = adapt_calibration(refined.calibration, network_sums(refined, networks), host_cache)
    before, after = adaptation.loo_mape[adaptation.form], again.loo_mape[again.form]
    kept = after < before - LOO_TOLERANCE
    record = {"kinds": [c.as_dict() for c in curves], "kept": kept, "loo_mape_before": before,
              "loo_mape_after": after, "ranked": ranked[:5], "seconds": run.spent - spent_before}
    return (refined, again, record) if kept else (table, adaptation, record)


def adapt_device(profile: DeviceProfile, *, minutes: float, source: Path | None = None, out: Path | None = None,
                 resume: bool = True, seed: int = 0, rules: TimingRules | None = None,
                 targets: list[SpaceTarget] | None = None, max_networks: int | None = None,
                 passes: int = NETWORK_PASSES, refine_units: bool = True,
                 on_progress: Callable[[AdaptProgress], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> tuple[LatencyTable, Path]:
    """Adapt ``source`` (default: the device's shipped table) to this host within ``minutes`` of measuring and
    write it to ``out`` (default ``./latency_tables/DEVICE.parquet``). ``targets`` overrides the source's
    spaces and resolutions, ``max_networks`` caps the networks measured (and turns the unit refinement off, as
    ``refine_units=False`` does), ``clock`` times the passes against the budget (a test's fake clock).
    Returns the table and its path.
    Raises :class:`AdaptSourceError` for a source of another kind, :class:`BudgetTooSmall` for a budget that
    cannot measure ``MIN_ADAPT_NETWORKS`` networks."""
    if not minutes > 0:
        raise BudgetTooSmall(f"--minutes is {minutes:g}; give a positive budget, e.g. --minutes 5")
    path = source_path(profile, source)
    table = LatencyTable.load(path)
    cross = check_source(table, path, profile, explicit=source is not None)
    backend = get_backend(profile.backend)
    backend.require(profile.settings)
    rules = rules or profile.timing
    out = out or default_table_path(profile.name)
    log_path = out.with_name(out.name + ".adapt.partial.jsonl")
    if not resume:
        log_path.unlink(missing_ok=True)
    log = ProgressLog(log_path)
    header = {"source": str(path), "device": profile.name, "seed": seed}
    started = [r["adapt"] for r in log.journal.records() if isinstance(r, dict) and "adapt" in r]
    if started and started[0] != header:
        if log.rows:
            raise ZenbenchError(f"{log_path} continues another adaptation ({started[0]}); start over with "
                                f"--restart or pass the same --from and --seed")
        log_path.unlink()  # nothing measured under the other header: nothing to lose
        log, started = ProgressLog(log_path), []
    run = _Run(log, table, profile, rules, minutes * 60, passes, clock)
    spaces = targets or source_targets(table)
    first = [net for net, _ in zip(sample_networks(spaces, seed), range(MIN_ADAPT_NETWORKS), strict=False)]
    if run.cost(first) > max(0.0, run.budget_s - run.spent):
        raise BudgetTooSmall(budget_message(minutes, first, run))
    if backend.shared_host:
        log.claim(profile.name)
    if not started:
        log.append({"adapt": header})
    refining = refine_units and max_networks is None
    cap = NETWORKS_BEFORE_REFINING if refining else max_networks
    networks = measure_for_adaptation(run, sample_networks(spaces, seed), cap, on_progress)
    if len(networks) < MIN_ADAPT_NETWORKS:
        raise BudgetTooSmall(f"{minutes:g} minutes finished {len(networks)} networks of the {MIN_ADAPT_NETWORKS} an "
                             f"adaptation needs (the host ran slower than estimated); run the same command with a "
                             f"larger --minutes to continue from {log_path}")
    if on_progress:
        on_progress(AdaptProgress(run.spent, run.budget_s, len(networks), "fitting the adaptation"))
    host_cache = environment(profile.threads).get("last_level_cache_mib")
    sums = network_sums(table, networks)
    adaptation = adapt_calibration(table.calibration, sums, host_cache)
    refinement: dict[str, Any] = {}
    if refining and len(networks) >= NETWORKS_BEFORE_REFINING and run.budget_s - run.spent >= MIN_REFINE_SECONDS:
        table, adaptation, refinement = refine_adaptation(table, networks, sums, adaptation, run, host_cache,
                                                               on_progress)
    record = {"cross_runtime": cross, "minutes": minutes, "seconds_measured": run.spent, "passes": passes,
              "seed": seed, "timing": rules.__dict__, "spaces": [t.__dict__ for t in spaces],
              "refined_units": refinement}
    result = adapted_table(table, path, profile, networks, adaptation, record)
    result.save(out)
    log_path.unlink(missing_ok=True)
    return result, out


__all__ = ["AdaptProgress", "adapt_device", "adapted_table", "budget_message", "measure_for_adaptation"]
