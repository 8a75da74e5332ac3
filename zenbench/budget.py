"""The constraints a search enforces: layers, parameters, MACs, activation memory, predicted latency.

Latency comes from anything with a ``predict(spec, resolution, num_classes)`` method (the
:class:`LatencyPredictor` protocol): a :class:`~zenbench.latency.Predictor` over a unit table, or the
NAS-Bench-201 cell model. A :class:`~zenbench.latency.LatencyTable` is accepted too and wrapped in the
Predictor it shares with every caller.

One device: ``Constraints(latency_ms=.., latency_guard=..)`` and one predictor. Several devices:
``Constraints(devices=(DeviceBudget("cpu", 9.0, 0.1), DeviceBudget("cpu-litert", 12.0, 0.08)))`` and a
mapping of device name to predictor; a network must meet every device's budget with that device's
guard band. The budgets are plain data (stored with a search's checkpoint); the predictors are not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from zenbench.latency import LatencyTable, Prediction, Predictor
from zenbench.latency.predictor import as_predictor
from zenbench.space.spec import NetworkSpec


class LatencyPredictor(Protocol):
    """Anything that predicts a network's latency (ms) with the error it expects."""

    def predict(self, spec: Any, resolution: int = 224, num_classes: int = 1000) -> Prediction: ...


#: what ``Constraints.check`` takes: one predictor (or table), or a mapping of device name to one
Predictors = LatencyPredictor | LatencyTable | Mapping[str, LatencyPredictor | LatencyTable]


@dataclass(frozen=True)
class DeviceBudget:
    """One device's latency budget (ms) and the guard band its table's error calls for."""

    device: str
    latency_ms: float
    guard: float = 0.0


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
    """A broken limit; ``device`` names the device whose latency budget it is, when there are several."""

    limit: str
    value: float
    maximum: float
    device: str | None = None

    @property
    def key(self) -> str:
        """The limit as a history row's status names it: ``latency_ms@cpu-litert`` for one of several devices."""
        return self.limit if self.device is None else f"{self.limit}@{self.device}"

    @property
    def excess(self) -> float:
        """How far over, as a fraction of the limit (0.1 = 10 % over)."""
        return self.value / self.maximum - 1.0

    def __str__(self) -> str:
        return f"{self.key} {self.value:.4g} > {self.maximum:.4g} (+{self.excess:.1%})"


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check; ``latency`` is the (first) device's prediction, ``latencies`` every device's."""

    ok: bool
    failures: tuple[Failure, ...] = ()
    latency: Prediction | None = None
    latencies: tuple[tuple[str, Prediction], ...] = ()

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return "ok" if self.ok else "; ".join(map(str, self.failures))


@dataclass(frozen=True)
class Constraints:
    """Budgets a network must meet; ``None`` means unconstrained. MACs are multiply-accumulates.

    ``check`` runs the cheapest checks first (layers, params, MACs, activation memory are analytic;
    latency needs a predictor) and, with ``stop_at_first``, stops at the first failure as the
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
    #: several devices' budgets, each with its own guard (``latency_ms``/``latency_guard`` are then unused
    #: by ``check`` and set to the first device's by :meth:`for_devices`, for readers of one budget)
    devices: tuple[DeviceBudget, ...] = ()

    @classmethod
    def for_devices(cls, budgets: tuple[DeviceBudget, ...], **limits: Any) -> Constraints:
        """Constraints over several devices' latency budgets (and any other ``limits``)."""
        if not budgets:
            raise ValueError("for_devices needs at least one device budget")
        if len(budgets) == 1:
            return cls(latency_ms=budgets[0].latency_ms, latency_guard=budgets[0].guard, **limits)
        return cls(latency_ms=budgets[0].latency_ms, latency_guard=budgets[0].guard, devices=tuple(budgets), **limits)

    def as_dict(self) -> dict[str, Any]:
        """The constraints as stored; ``devices`` only when there are several (one device's stays as it was)."""
        from dataclasses import asdict

        data = asdict(self)
        if not self.devices:
            del data["devices"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Constraints:
        """The inverse of :meth:`as_dict`."""
        devices = tuple(DeviceBudget(**d) for d in data.get("devices") or ())
        return cls(**{**data, "devices": devices})

    def check(self, spec: NetworkSpec, predictor: Predictors | None = None, *,
              stop_at_first: bool = False) -> Verdict:
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
        if self.devices:
            return self._check_devices(spec, predictor, failures, stop_at_first)
        prediction = None
        if self.latency_ms is not None:
            if predictor is None:
                raise ValueError("a latency constraint needs a latency table or predictor")
            if isinstance(predictor, Mapping):
                raise ValueError("one latency budget takes one predictor; give several with Constraints.devices")
            prediction = _predictor(predictor).predict(spec, self.resolution, self.num_classes)
            over("latency_ms", prediction.value_ms * (1.0 + self.latency_guard), self.latency_ms)
        return Verdict(not failures, tuple(failures), prediction)

    def _check_devices(self, spec: NetworkSpec, predictors: Predictors | None, failures: list[Failure],
                       stop_at_first: bool) -> Verdict:
        """Every device's budget, in order; with ``stop_at_first`` the remaining devices are not predicted."""
        if not isinstance(predictors, Mapping) or any(b.device not in predictors for b in self.devices):
            raise ValueError(f"latency budgets on {', '.join(b.device for b in self.devices)} need a mapping of "
                             f"each device to its predictor")
        latencies: list[tuple[str, Prediction]] = []
        for budget in self.devices:
            prediction = _predictor(predictors[budget.device]).predict(spec, self.resolution, self.num_classes)
            latencies.append((budget.device, prediction))
            guarded = prediction.value_ms * (1.0 + budget.guard)
            if guarded > budget.latency_ms:
                failures.append(Failure("latency_ms", guarded, budget.latency_ms, budget.device))
                if stop_at_first:
                    break
        return Verdict(not failures, tuple(failures), latencies[0][1], tuple(latencies))


def _predictor(predictor: LatencyPredictor | LatencyTable) -> LatencyPredictor:
    return as_predictor(predictor) if isinstance(predictor, LatencyTable) else predictor


def table_guard(table: LatencyTable | Predictor) -> float:
    """A guard band from the table's own validation: its 90th-percentile error (else RMSPE, else MAPE; 0 if
    the table was never validated)."""
    if isinstance(table, Predictor):
        table = table.table
    validation = table.metadata.get("validation") or {}
    for key in ("p90_ape", "rmspe", "mape"):
        if validation.get(key) is not None:
            return float(validation[key])
    return 0.0


__all__ = ["Constraints", "DeviceBudget", "Failure", "LatencyPredictor", "Predictors", "Verdict", "peak_activation_bytes", "table_guard"]
