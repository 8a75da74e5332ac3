"""TEMPORARY SHIM: measuring moved to :mod:`zenbench.builder.measuring`, scoring to
:mod:`zenbench.latency.evaluation`; this re-exports the names cli.py still imports. Removed at merge."""

from zenbench.builder.measuring import measure_network, measure_networks, validate_table
from zenbench.builder.workloads import network_workload
from zenbench.latency.evaluation import ValidationPoint, recalibrate, validation_dir

__all__ = ["ValidationPoint", "measure_network", "measure_networks", "network_workload", "recalibrate",
           "validate_table", "validation_dir"]
