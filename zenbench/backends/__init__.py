"""Runtimes, one file each, registered by the name device profiles use.

Importing this package registers every built-in backend; each defers its heavy imports
(tensorrt, LiteRT, CUDA) to the moment it is used, so a missing one only matters when chosen.
"""

from zenbench.backends import adb, litert, onnxruntime, tensorrt, torch  # noqa: F401
from zenbench.backends.base import BACKENDS, Backend, BackendSettings, Runnable, Workload, get_backend

__all__ = ["BACKENDS", "Backend", "BackendSettings", "Runnable", "Workload", "get_backend"]
