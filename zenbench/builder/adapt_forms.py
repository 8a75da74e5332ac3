"""The forms that adapt a source table's calibration to a new host, fitted on whole networks measured there.

A table profiled on one machine keeps the order of networks on another and loses the scale (issue #30):
its unit latencies still say which network is slower, not by how much. Each form here keeps the source's
units and unit models and changes only the calibration that turns their sum into a network's latency, so
the adapted table is an ordinary table with an ordinary :class:`~zenbench.latency.Calibration`:

``source``        the source's calibration as it is (the baseline, nothing fitted);
``scale``         the source's prediction times one factor;
``elasticity``    ``s · P^α`` of the source's prediction P: a host whose speed-up depends on the work;
``group-scales``  the source's calibration with its scale of each unit group multiplied by a factor
                  (per-group, since ResNet-like and depth-wise units gain differently from a new ISA);
``recalibrated``  :meth:`Calibration.select` refitted from the unit sums to this host's networks.

They compete by leave-one-out error, as the calibration's own forms do, and the simplest within
``LOO_TOLERANCE`` of the best wins. ``recalibrated`` reports the leave-one-out error of the form
``select`` chose, which saw every network while choosing: slightly optimistic with few networks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from zenbench.latency.calibration import Calibration, NetworkSums
from zenbench.latency.metrics import leave_one_out
from zenbench.latency.terms import CALIBRATION_GROUPS, LOO_TOLERANCE

#: the forms in order of complexity: of two within LOO_TOLERANCE, the earlier wins
FORMS = ("source", "scale", "elasticity", "group-scales", "recalibrated")
#: the fewest networks a form is fitted on (leave-one-out keeps one out of them)
MIN_ADAPT_NETWORKS = 8


@dataclass(frozen=True)
class Adaptation:
    """The chosen form, its calibration fitted on every network, every form's leave-one-out error (mean
    absolute relative error), the chosen form's per-network errors, and the factors it fitted."""

    form: str
    calibration: Calibration
    loo_mape: Mapping[str, float]
    n: int
    factors: Mapping[str, float]
    chosen_errors: tuple[float, ...] = ()
    #: forms that could not be fitted on these networks, with why
    skipped: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"form": self.form, "loo_mape": dict(self.loo_mape), "chosen_loo_mape": self.loo_mape[self.form],
                "networks": self.n, "factors": dict(self.factors), "skipped_forms": dict(self.skipped)}

    def expected_error(self) -> dict[str, object]:
        """The chosen form's leave-one-out errors as a validation summary (MAPE, RMSPE, p90 where known)."""
        errors = np.array(self.chosen_errors)
        out: dict[str, object] = {"mape": self.loo_mape[self.form], "n": self.n,
                                  "method": f"leave-one-out of the adaptation ({self.form}) on its networks"}
        if len(errors) == self.n:
            out.update({"rmspe": float(np.sqrt(np.mean(errors**2))), "p90_ape": float(np.percentile(errors, 90)),
                        "within_10": float(np.mean(errors <= 0.10))})
        return out


def _power(source: Calibration) -> tuple[float, float, float]:
    """The source's size correction as (power, shift, ref), (0, 0, 1) for none: ``v·e^shift·(v/ref)^power``."""
    if source.power is None:
        return 0.0, 0.0, 1.0
    return float(source.power), float(source.power_shift), float(source.power_ref_ms)  # type: ignore[arg-type]


def with_elasticity(source: Calibration, log_scale: float, alpha: float) -> Calibration:
    """The source's calibration followed by ``P -> e^log_scale · P^alpha``, folded into its size correction:
    with the source's ``v·e^sh·(v/ref)^p``, ``s·(that)^α = v·e^sh'·(v/ref)^p'`` for ``1+p' = α(1+p)`` and
    ``sh' = ln s + α·sh + (α−1)·ln ref``. ``alpha = 1`` is one scale."""
    p, sh, ref = _power(source)
    new_p = alpha * (1 + p) - 1
    return replace(source, power=new_p, power_shift=log_scale + alpha * sh + (alpha - 1) * math.log(ref),
                   power_ref_ms=ref, form=None, loo_mape=None)


def with_group_scales(source: Calibration, factors: Mapping[str, float]) -> Calibration:
    """The source's calibration with each group's scale multiplied by its factor (a group without one: 1)."""
    b = source.b if isinstance(source.b, Mapping) else dict.fromkeys(CALIBRATION_GROUPS, float(source.b))
    return replace(source, b={g: float(v) * factors.get(g, 1.0) for g, v in b.items()}, form=None, loo_mape=None)


def _fitting_mib(sample: NetworkSums, calibration: Calibration) -> float:
    cache = calibration.cache_mib
    return 0.0 if cache is None else sum(w for w in sample.unit_weight_mib if w <= cache)


def predict(calibration: Calibration, sample: NetworkSums) -> float:
    """A network's latency (batch ms) under ``calibration``, as the predictor computes it."""
    return calibration.apply(sample.raw_by_group, sample.units, sample.weight_mib, _fitting_mib(sample, calibration))


def _fit_elasticity(source: Calibration, samples: Sequence[NetworkSums], free_alpha: bool) -> tuple[float, float]:
    """``(ln s, α)`` of ``ln m = ln s + α ln P`` by least squares (α = 1 unless ``free_alpha``)."""
    p = np.log([predict(source, s) for s in samples])
    m = np.log([s.measured_ms for s in samples])
    if not free_alpha or len(samples) < 3 or float(np.ptp(p)) < 1e-9:
        return float(np.mean(m - p)), 1.0
    alpha, log_scale = np.polyfit(p, m, 1)
    return float(log_scale), float(alpha)


def _fit_group_scales(source: Calibration, samples: Sequence[NetworkSums]) -> dict[str, float]:
    """Per-group factors minimising the squared log error; a group no network has keeps factor 1."""
    from scipy.optimize import least_squares

    groups = [g for g in CALIBRATION_GROUPS if any(s.raw_by_group.get(g, 0.0) > 0 for s in samples)]
    measured = np.log([s.measured_ms for s in samples])

    def residuals(logs: np.ndarray) -> np.ndarray:
        cal = with_group_scales(source, dict(zip(groups, np.exp(logs), strict=True)))
        return np.log([max(predict(cal, s), 1e-9) for s in samples]) - measured

    start = np.full(len(groups), _fit_elasticity(source, samples, False)[0])
    fitted = least_squares(residuals, start, method="lm" if len(samples) > len(groups) else "trf")
    return {g: float(math.exp(v)) for g, v in zip(groups, fitted.x, strict=True)}


def fit_form(form: str, source: Calibration, samples: Sequence[NetworkSums],
             host_cache_mib: float | None = None) -> tuple[Calibration, dict[str, float]]:
    """One form fitted on ``samples``: its calibration and the factors it fitted."""
    if form == "source":
        return source, {}
    if form in ("scale", "elasticity"):
        log_scale, alpha = _fit_elasticity(source, samples, form == "elasticity")
        return with_elasticity(source, log_scale, alpha), {"scale": math.exp(log_scale), "alpha": alpha}
    if form == "group-scales":
        factors = _fit_group_scales(source, samples)
        return with_group_scales(source, factors), factors
    if form == "recalibrated":
        return Calibration.select(samples, host_cache_mib), {}
    raise ValueError(f"unknown adaptation form {form!r}; choose from {', '.join(FORMS)}")


def _ape(calibration: Calibration, sample: NetworkSums) -> float:
    return abs(predict(calibration, sample) / sample.measured_ms - 1)


def loo_errors(form: str, source: Calibration, samples: Sequence[NetworkSums],
               host_cache_mib: float | None = None) -> list[float]:
    """The form's leave-one-out absolute relative error per network (``source``: its error on each, nothing
    being fitted; ``recalibrated``: one number, the mean error ``select`` reports for the form it chose)."""
    if form == "source":
        return [_ape(source, s) for s in samples]
    if form == "recalibrated":
        chosen = Calibration.select(samples, host_cache_mib)
        return [float((chosen.loo_mape or {})[chosen.form])]  # type: ignore[index]

    def held_out(keep: list[int], i: int) -> float:
        return _ape(fit_form(form, source, [samples[j] for j in keep])[0], samples[i])

    return leave_one_out(len(samples), held_out)


def adapt_calibration(source: Calibration | None, samples: Sequence[NetworkSums],
                      host_cache_mib: float | None = None, forms: Sequence[str] = FORMS,
                      on_form: Callable[[str], None] | None = None) -> Adaptation:
    """Let the forms compete by leave-one-out error on this host's ``samples`` and fit the winner on all of them.
    A source without a calibration adapts its plain sum (``Calibration(0, 1, 0, 0)``)."""
    if len(samples) < MIN_ADAPT_NETWORKS:
        raise ValueError(f"{len(samples)} networks: adapting needs at least {MIN_ADAPT_NETWORKS}")
    base = source or Calibration(0.0, 1.0, 0.0, 0)
    errors: dict[str, list[float]] = {}
    skipped: dict[str, str] = {}
    for form in forms:
        if on_form:
            on_form(form)
        try:
            errors[form] = loo_errors(form, base, samples, host_cache_mib)
        except ValueError as error:  # a form that cannot be fitted on so few networks does not compete
            skipped[form] = str(error)
    loo = {f: float(np.mean(e)) for f, e in errors.items()}
    best = next(f for f in loo if loo[f] <= min(loo.values()) + LOO_TOLERANCE)
    calibration, factors = fit_form(best, base, samples, host_cache_mib)
    calibration = replace(calibration, n=len(samples),
                          form=calibration.form if best == "recalibrated" else f"adapted:{best}",
                          loo_mape={**(calibration.loo_mape or {}), **{f"adapted:{f}": v for f, v in loo.items()}})
    return Adaptation(best, calibration, loo, len(samples), factors, tuple(errors[best]), skipped)


__all__ = ["FORMS", "MIN_ADAPT_NETWORKS", "Adaptation", "adapt_calibration", "fit_form", "loo_errors", "predict",
           "with_elasticity", "with_group_scales"]
