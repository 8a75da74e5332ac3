"""TEMPORARY SHIM: the latency tables moved to :mod:`zenbench.latency`; this re-exports the names other
areas still import from here (search, cli, tests outside the latency stage). Removed at merge."""

from zenbench.latency.meta import TableError, new_metadata
from zenbench.latency.table import LatencyTable
from zenbench.latency.units import (
    NO_PADDING,
    Padding,
    classifier_features,
    classifier_key,
    unit_features,
    unit_key,
    unit_kind,
    unit_mid,
)

__all__ = ["NO_PADDING", "LatencyTable", "Padding", "TableError", "classifier_features", "classifier_key",
           "new_metadata", "unit_features", "unit_key", "unit_kind", "unit_mid"]
