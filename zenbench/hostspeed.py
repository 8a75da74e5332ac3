"""TEMPORARY SHIM: the host-speed probe moved to :mod:`zenbench.builder.hostspeed`. Removed at merge."""

from zenbench.builder.hostspeed import (
    REFERENCE_STRUCTURE,
    HostSpeedProbe,
    ProbedTimer,
    fit_elasticity,
    normalise,
    profile_elasticity,
    speed_summary,
    typical_reference_ms,
)

__all__ = ["REFERENCE_STRUCTURE", "HostSpeedProbe", "ProbedTimer", "fit_elasticity", "normalise",
           "profile_elasticity", "speed_summary", "typical_reference_ms"]
