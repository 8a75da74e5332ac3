"""Narrow a search's initial structure until it meets the budgets, so a tight budget has somewhere to start.

The evolution only mutates networks that met the constraints, and while its population is small it
mutates the initial structure once per candidate. An initial structure far over the budget (the
paper's ImageNet init is 8–9 ms on a slow CPU; a 5 ms search there) therefore never produces a
feasible child, and the search used to spend all its iterations before saying so. Scaling every
block's width (output and bottleneck channels, multiples of 8) by the same factor keeps the init's
depth, strides and block types, which the mutations go on to change; the search then grows widths
back where the budget allows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from zenbench.space.blocks import round_channels
from zenbench.space.mutate import rechain
from zenbench.space.spec import NetworkSpec

#: each step narrows the widths to this share of the previous step's
STEP = 0.8
#: at most this many steps (0.8 ** 14 ≈ 0.044: a 2048-wide head becomes 88 wide)
MAX_STEPS = 14


@dataclass(frozen=True)
class FittedInit:
    """The initial structure a search starts from, and how it was narrowed to meet the budgets."""

    structure: str
    #: the width factor applied (1.0: the structure met the budgets as it was)
    factor: float
    #: the first device's predicted latency before and after narrowing (None without a latency budget)
    predicted_ms_before: float | None
    predicted_ms_after: float | None

    @property
    def narrowed(self) -> bool:
        return self.factor < 1.0

    def describe(self, budget_ms: float | None) -> str:
        """One line for the user: what was narrowed and why."""
        before = "" if self.predicted_ms_before is None else f" (predicted {self.predicted_ms_before:.3g} ms"
        after = "" if self.predicted_ms_after is None else f"; narrowed: {self.predicted_ms_after:.3g} ms)"
        budget = "" if budget_ms is None else f" of {budget_ms:g} ms"
        return (f"the initial structure broke the budget{budget}{before}{after if before else ''}; the search starts "
                f"from it with every width × {self.factor:.2f} (pass --init to choose another)")


def narrow(spec: NetworkSpec, factor: float) -> NetworkSpec:
    """``spec`` with every block's output and bottleneck widths × ``factor`` (multiples of 8, at least 8); the
    stem's input channels stay."""
    blocks = [replace(b, out_channels=round_channels(b.out_channels * factor),
                      bottleneck=None if b.bottleneck is None else round_channels(b.bottleneck * factor))
              for b in spec.blocks]
    return rechain(blocks)


def fit_init(init: str, constraints: Any, tables: Any) -> FittedInit:
    """``init`` as it is when it meets ``constraints`` (under ``tables``: one table, or each device's), else
    narrowed step by step until it does. When no narrowing meets them (a layer limit, or a budget below what
    the narrowest version runs in), ``init`` is returned unchanged and the search reports what broke."""
    spec = NetworkSpec.parse(init)
    verdict = constraints.check(spec, tables)
    before = verdict.latency.value_ms if verdict.latency is not None else None
    if verdict.ok or any(f.limit == "layers" for f in verdict.failures):
        return FittedInit(init, 1.0, before, before)
    factor = 1.0
    for _ in range(MAX_STEPS):
        factor *= STEP
        candidate = narrow(spec, factor)
        found = constraints.check(candidate, tables)
        if found.ok:
            after = found.latency.value_ms if found.latency is not None else None
            return FittedInit(str(candidate), factor, before, after)
    return FittedInit(init, 1.0, before, before)
