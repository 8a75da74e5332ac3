"""The predictor side of the latency stage: tables, unit models, calibration, prediction, evaluation.

It imports no runtime (ONNX Runtime, LiteRT, TensorRT, Ray): a table measured on one device is
used where that device is absent, as nn-Meter's predictors are. Measuring is :mod:`zenbench.builder`.
"""

from zenbench.latency.calibration import Calibration, NetworkSums
from zenbench.latency.meta import TableError, TableMeta, new_metadata
from zenbench.latency.metrics import error_metrics, leave_one_out
from zenbench.latency.models import KindModel, ResidualSmoother
from zenbench.latency.predictor import Prediction, Predictor, UnitCost, calibrate_table, predict_latency
from zenbench.latency.table import LatencyTable
from zenbench.latency.units import NO_PADDING, Padding

__all__ = [
    "NO_PADDING",
    "Calibration",
    "KindModel",
    "LatencyTable",
    "NetworkSums",
    "Padding",
    "Prediction",
    "Predictor",
    "ResidualSmoother",
    "TableError",
    "TableMeta",
    "UnitCost",
    "calibrate_table",
    "error_metrics",
    "leave_one_out",
    "new_metadata",
    "predict_latency",
]
