"""TEMPORARY SHIM: the NAS-Bench-201 cell model moved to :mod:`zenbench.latency.nb201`; this re-exports the
names cli.py and search/nb201.py still import from here. Removed at merge."""

from zenbench.latency.nb201 import CellPredictor, evaluate_fit, fit_table, predict_cells

__all__ = ["CellPredictor", "evaluate_fit", "fit_table", "predict_cells"]
