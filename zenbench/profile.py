"""TEMPORARY SHIM: the profile run moved to :mod:`zenbench.builder.profile` (grid in
:mod:`zenbench.builder.grid`); this re-exports the names cli.py and demo callers still import. Removed at merge."""

from zenbench.builder.grid import HEAVY_INSTANCES, HEAVY_WEIGHT_BYTES, UnitJob, grid
from zenbench.builder.profile import ProgressLog, default_table_path, profile_device

__all__ = ["HEAVY_INSTANCES", "HEAVY_WEIGHT_BYTES", "ProgressLog", "UnitJob", "default_table_path", "grid",
           "profile_device"]
