"""The whole-network calibration: a frozen :class:`Calibration` that turns a sum of unit latencies
into a network's latency, how it is fitted, and how its form is chosen.

A table stores the calibration in its metadata as a JSON object; :meth:`Calibration.from_dict`
reads and validates it (any damage is a ``ValueError`` naming the field, which the table loader
reports with the file), :meth:`Calibration.as_dict` writes it back key for key. The forms compete by
leave-one-out error on the networks the profile measured end to end (docs/latency-model.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from zenbench.latency.metrics import leave_one_out
from zenbench.latency.terms import (
    CACHE_CANDIDATES_MIB,
    LOO_TOLERANCE,
    REFETCH_CACHE_CANDIDATES_MIB,
    WEIGHT_TERMS,
    fit_linear,
    fit_power,
    power_corrected,
    weight_traffic_mib,
)

_NUMBER = (int, float)


@dataclass(frozen=True)
class NetworkSums:
    """What a calibration is fitted on, per network measured end to end: its units' latencies summed per
    group (batch ms), its unit count, its weights (MiB), each unit's weights (MiB), its measured latency."""

    raw_by_group: Mapping[str, float]
    units: int
    weight_mib: float
    unit_weight_mib: tuple[float, ...]
    measured_ms: float


@dataclass(frozen=True)
class Calibration:
    """``latency = a + Σ_g b_g·Σ_g − c·units [+ d·weight traffic] [then · e^shift·(L/ref)^power]``.

    ``b`` is one scale for every group or one per group; ``tied`` means a = c; ``d`` is None when the form has
    no weight term; ``power`` None when it has no size correction. ``form`` names the form that won and
    ``loo_mape`` every candidate's leave-one-out error, when chosen by :meth:`select`."""

    a: float
    b: float | Mapping[str, float]
    c: float
    n: int
    tied: bool = False
    d: float | None = None
    cache_mib: float | None = None
    weight_term: str = "spilled"
    power: float | None = None
    power_shift: float | None = None
    power_ref_ms: float | None = None
    form: str | None = None
    loo_mape: Mapping[str, float] | None = field(default=None, compare=False)

    # ------------------------------------------------------------------ stored form
    @staticmethod
    def from_dict(raw: Any) -> Calibration:
        """A calibration from a table's metadata; ``ValueError`` saying which field is wrong."""
        if not isinstance(raw, Mapping):
            raise ValueError(f"the calibration is a {type(raw).__name__}, not an object")
        unknown = set(raw) - set(Calibration.__dataclass_fields__)
        if unknown:
            raise ValueError(f"the calibration has unknown keys {sorted(unknown)}")
        for key in ("a", "b", "c", "n"):
            if key not in raw:
                raise ValueError(f"the calibration has no {key!r}")

        def number(key: str, optional: bool = False) -> float | None:
            value = raw.get(key)
            if value is None and optional:
                return None
            if isinstance(value, bool) or not isinstance(value, _NUMBER) or not math.isfinite(value):
                raise ValueError(f"the calibration's {key!r} is {value!r}, not a finite number")
            return float(value)

        b = raw["b"]
        if isinstance(b, Mapping):
            if not b or not all(isinstance(g, str) and isinstance(v, _NUMBER) and not isinstance(v, bool)
                                and math.isfinite(v) for g, v in b.items()):
                raise ValueError(f"the calibration's 'b' is {b!r}, not a number per group")
            b = {g: float(v) for g, v in b.items()}
        else:
            b = number("b")
        n = raw["n"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"the calibration's 'n' is {n!r}, not a count of networks")
        term = raw.get("weight_term", "spilled")
        if term not in WEIGHT_TERMS:
            raise ValueError(f"the calibration's 'weight_term' is {term!r}, not one of {WEIGHT_TERMS}")
        d, cache = number("d", True), number("cache_mib", True)
        if (d is None) != (cache is None):
            raise ValueError("the calibration has one of 'd' and 'cache_mib' without the other")
        power = [number(k, True) for k in ("power", "power_shift", "power_ref_ms")]
        if len({p is None for p in power}) > 1 or (power[2] is not None and power[2] <= 0):
            raise ValueError("the calibration's 'power', 'power_shift', 'power_ref_ms' must come together "
                             "(and power_ref_ms > 0)")
        form, loo = raw.get("form"), raw.get("loo_mape")
        if form is not None and not isinstance(form, str):
            raise ValueError(f"the calibration's 'form' is {form!r}, not a name")
        if loo is not None and not (isinstance(loo, Mapping) and all(
                isinstance(v, _NUMBER) and not isinstance(v, bool) for v in loo.values())):
            raise ValueError("the calibration's 'loo_mape' is not an error per form")
        tied = raw.get("tied", False)
        if not isinstance(tied, bool):
            raise ValueError(f"the calibration's 'tied' is {tied!r}, not true or false")
        return Calibration(number("a"), b, number("c"), n, tied, d, cache, term, *power, form,
                           dict(loo) if loo is not None else None)

    def as_dict(self) -> dict[str, Any]:
        """The JSON object a table stores, with only the keys this form uses."""
        out: dict[str, Any] = {"a": self.a, "b": dict(self.b) if isinstance(self.b, Mapping) else self.b,
                               "c": self.c, "n": self.n}
        if self.tied:
            out["tied"] = True
        if self.cache_mib is not None:
            out.update({"d": self.d, "cache_mib": self.cache_mib})
            if self.weight_term != "spilled":
                out["weight_term"] = self.weight_term
        if self.power is not None:
            out.update({"power": self.power, "power_shift": self.power_shift, "power_ref_ms": self.power_ref_ms})
        if self.form is not None:
            out["form"] = self.form
        if self.loo_mape is not None:
            out["loo_mape"] = dict(self.loo_mape)
        return out

    # ------------------------------------------------------------------ use
    @property
    def refetched(self) -> bool:
        return self.weight_term == "refetched" and bool(self.d)

    def apply(self, raw_by_group: Mapping[str, float], units: int, weight_mib: float = 0.0,
              fitting_mib: float = 0.0) -> float:
        """The calibrated latency from per-group sums of unit latencies (batch ms), the network's weights and
        those of its units that fit the cache alone (MiB; see ``weight_traffic_mib``)."""
        raw = sum(raw_by_group.values())
        scale = self.b
        if isinstance(scale, Mapping):
            scaled = 0.0
            for g, ms in raw_by_group.items():  # a loop, not sum() over a generator: a third of this call's cost
                scaled += scale.get(g, 1.0) * ms
        else:
            scaled = float(scale) * raw
        value = self.a + scaled - self.c * units
        if self.d:
            value += self.d * weight_traffic_mib(self.weight_term, self.cache_mib, weight_mib, fitting_mib)  # type: ignore[arg-type]
        value = max(value, 0.05 * raw)
        if self.power is not None:
            value = power_corrected(value, self.power, self.power_shift, self.power_ref_ms)  # type: ignore[arg-type]
        return value

    # ------------------------------------------------------------------ fitting
    @staticmethod
    def fit(raw_by_group: list[dict[str, float]], units: list[int], measured: list[float],
            groups: tuple[str, ...] | None = None, weight_mib: list[float] | None = None,
            cache_mib: float | None = None, *, fitting_mib: list[float] | None = None,
            weight_term: str = "spilled", tied: bool = False) -> Calibration:
        """The linear form fitted to measured networks (see :func:`~zenbench.latency.terms.fit_linear`)."""
        kwargs = {} if groups is None else {"groups": groups}
        return Calibration.from_dict(fit_linear(raw_by_group, units, measured, weight_mib=weight_mib,
                                                cache_mib=cache_mib, fitting_mib=fitting_mib,
                                                weight_term=weight_term, tied=tied, **kwargs))

    def with_power(self, linear: Sequence[float], measured: Sequence[float]) -> Calibration:
        """This linear form with the size correction fitted on its own predictions ``linear``."""
        return Calibration.from_dict({**self.as_dict(), **fit_power(np.array(linear), np.array(measured))})

    @staticmethod
    def select(samples: Sequence[NetworkSums], host_cache_mib: float | None = None) -> Calibration:
        """Let the forms compete by leave-one-out error and fit the winner on every network: none; one scale
        with the intercept tied and free, each without a weight term or with one of each kind at every
        candidate cache size; one scale per group without the term or with the best single-scale one; then
        the power correction on the plain sum and on the best of those. A form must beat a simpler one by
        ``LOO_TOLERANCE`` to be chosen."""
        groups = [dict(s.raw_by_group) for s in samples]
        units = [s.units for s in samples]
        weights = [s.weight_mib for s in samples]
        measured = [s.measured_ms for s in samples]
        everyone = list(range(len(samples)))

        def pooled(g: dict[str, float]) -> dict[str, float]:
            return {"all": sum(g.values())}

        # a view: how the groups are scaled, and whether the intercept is tied to the per-unit cost (a = c)
        views: dict[str, tuple[Callable[[dict[str, float]], dict[str, float]], bool]] = {
            "single(a=c)": (pooled, True), "single": (pooled, False), "groups(a=c)": (dict, True),
            "groups": (dict, False)}
        Term = tuple[str, float] | None  # (weight term, cache MiB)
        fitting_by_cache: dict[float, list[float]] = {}

        def fitting(j: int, term: Term) -> float:
            """Weights of network j's units that fit the term's cache alone, summed once per cache size."""
            if term is None:
                return 0.0
            if term[1] not in fitting_by_cache:
                fitting_by_cache[term[1]] = [sum(w for w in s.unit_weight_mib if w <= term[1]) for s in samples]
            return fitting_by_cache[term[1]][j]

        def fit(view: str, term: Term, keep: list[int]) -> Calibration:
            kind, cache = term or ("spilled", None)
            grouped, tied = views[view]
            return Calibration.fit([grouped(groups[j]) for j in keep], [units[j] for j in keep],
                                   [measured[j] for j in keep], groups=tuple(grouped(groups[0])),
                                   weight_mib=[weights[j] for j in keep], cache_mib=cache,
                                   fitting_mib=[fitting(j, term) for j in keep], weight_term=kind, tied=tied)

        def predict(view: str, term: Term, f: Calibration, i: int) -> float:
            return f.apply(views[view][0](groups[i]), units[i], weights[i], fitting(i, term))

        def loo_error(view: str, term: Term) -> float:
            return loo_mean(len(measured), lambda keep, i: abs(predict(view, term, fit(view, term, keep), i)
                                                                / measured[i] - 1))

        def name(view: str, term: Term) -> str:
            if term is None:
                return view
            return f"{view}+{'weights' if term[0] == 'spilled' else 'refetched'}@{term[1]:g}MiB"

        # in order of complexity
        loo = {"none": float(np.mean([abs(sum(g.values()) / m - 1) for g, m in zip(groups, measured, strict=True)]))}
        forms: dict[str, tuple[str, Term]] = {}
        terms: list[Term] = [None]
        terms += [("spilled", c) for c in sorted({*CACHE_CANDIDATES_MIB,
                                                  *([float(host_cache_mib)] if host_cache_mib else [])})]
        terms += [("refetched", c) for c in REFETCH_CACHE_CANDIDATES_MIB]
        for term in terms:
            for view in ("single(a=c)", "single"):
                forms[name(view, term)] = (view, term)
                loo[name(view, term)] = loo_error(view, term)
        best_term = forms[min((f for f in forms if forms[f][1] is not None), key=loo.get)][1]
        for term in (None, best_term):
            for view in ("groups(a=c)", "groups"):
                forms[name(view, term)] = (view, term)
                loo[name(view, term)] = loo_error(view, term)
        # the simplest form within LOO_TOLERANCE of the best: a term that buys nothing measurable is not kept
        best = next(f for f in loo if loo[f] <= min(loo.values()) + LOO_TOLERANCE)

        def linear_fit(form: str, keep: list[int]) -> Callable[[int], float]:
            """A linear form fitted on ``keep``, as a function of a network's index."""
            if form == "none":
                return lambda i: sum(groups[i].values())
            view, term = forms[form]
            f = fit(view, term, keep)
            return lambda i: predict(view, term, f, i)

        def powered_error(base: str, keep: list[int], i: int) -> float:
            linear = linear_fit(base, keep)
            c = fit_power(np.array([linear(j) for j in keep]), np.array([measured[j] for j in keep]))
            return abs(power_corrected(linear(i), c["power"], c["power_shift"], c["power_ref_ms"]) / measured[i] - 1)

        # a size-dependent correction, on the plain sum or on the chosen linear form, kept only when it also
        # earns its place out of sample
        for base in dict.fromkeys(("none", best)):
            loo[f"{base}+power"] = loo_mean(len(measured), lambda keep, i, base=base: powered_error(base, keep, i))
        powered = min(dict.fromkeys(("none", best)), key=lambda base: loo[f"{base}+power"])
        use_power = loo[f"{powered}+power"] < loo[best] - LOO_TOLERANCE
        base = powered if use_power else best
        if base == "none":
            calibration = Calibration(0.0, 1.0, 0.0, len(measured))
        else:
            view, term = forms[base]
            calibration = fit(view, term, everyone)
            if views[view][0] is pooled:
                calibration = replace(calibration, b=calibration.b["all"])  # type: ignore[index]
        if use_power:  # on the linear fit just made, not a second one
            term = forms[base][1] if base != "none" else None
            calibration = calibration.with_power(
                [calibration.apply(groups[j], units[j], weights[j], fitting(j, term)) for j in everyone], measured)
        return replace(calibration, form=f"{base}+power" if use_power else base, loo_mape=loo)

    # ------------------------------------------------------------------ reading
    def __str__(self) -> str:
        """The fitted formula as a reader would write it: terms the fit drove to zero are left out."""
        form, n = self.form or "?", self.n
        loo = (self.loo_mape or {}).get(form)
        fitted = (f"{'the plain sum' if form == 'none' else 'form ' + form}, fitted on {n} networks"
                  + (f", leave-one-out {loo:.1%}" if loo is not None else ""))
        linear = "Σ unit ms" if form.split("+")[0] == "none" else self._linear_text()
        if self.power is None:
            return f"latency = {linear} ({fitted})"
        factor = math.exp(self.power_shift)  # type: ignore[arg-type]
        return (f"latency = L x {factor:.3g} x (L / {self.power_ref_ms:.3g} ms)^{self.power:.3g}, L = {linear} "
                f"({fitted})")

    def _linear_text(self) -> str:
        terms = [f"{self.a:.3g} ms"] if abs(self.a) >= 5e-4 and not self.tied else []
        if isinstance(self.b, Mapping):
            terms += [f"{b:.3g} x Σ {group} ms" for group, b in self.b.items()]
        else:
            terms.append(f"{self.b:.3g} x Σ unit ms")
        text = " + ".join(terms)
        if self.c >= 5e-5:  # under 0.05 µs per unit: nothing a timer can see
            text += f" - {self.c:.3g} ms x (units - 1)" if self.tied else f" - {self.c:.3g} ms x units"
        if self.d and self.weight_term == "refetched":
            text += (f" + {self.d:.3g} ms x MiB of weights refetched (those of units within {self.cache_mib:g} MiB "
                     f"each, once the network's exceed {self.cache_mib:g} MiB)")
        elif self.d:
            text += f" + {self.d:.3g} ms x MiB of weights beyond {self.cache_mib:g} MiB"
        return text


def loo_mean(n: int, held_out: Callable[[list[int], int], float]) -> float:
    """Mean leave-one-out error over ``n`` networks."""
    return float(np.mean(leave_one_out(n, held_out)))
