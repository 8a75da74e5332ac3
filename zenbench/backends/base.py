"""The backend protocol: a runtime that can run a model and time it honestly.

A backend is registered under the name device profiles use. ``available()`` returns ``None`` or
the reason it cannot run here (what to install or connect); ``prepare`` turns a workload into
something runnable on the device; ``time`` measures it under the shared :class:`TimingRules`.
Workloads are ONNX graphs (every runtime here can take one, directly or through a converter) or
torch modules for the torch backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx

from zenbench.errors import BackendUnavailable
from zenbench.measure import Measurement, TimingRules
from zenbench.registry import Registry


@dataclass(frozen=True)
class BackendSettings:
    """What a device profile says about how to run: precision, batch, threads and runtime options."""

    precision: str = "fp32"
    batch: int = 1
    threads: int | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Workload:
    """A model to time, built on demand in the form a backend needs: an ONNX graph, or a torch module."""

    input_shape: tuple[int, ...]
    make_onnx: Callable[[], onnx.ModelProto]
    make_torch: Callable[[], Any] | None = None  # -> nn.Module in eval mode
    name: str = ""
    make_tflite: Callable[[], bytes] | None = None  # -> a .tflite flatbuffer (litert, adb)
    #: in int8, whether the workload's input / output is the integer tensor it has inside a network (a unit's
    #: input arrives quantized from the unit before, its output leaves quantized to the next one), so it is timed
    #: without the quantize / dequantize a stand-alone graph would add at that edge; a whole network has neither
    quantized_input: bool = False
    quantized_output: bool = False
    #: -> the int8 (full-integer) .tflite flatbuffer (litert), called with (quantized_input, quantized_output)
    make_tflite_int8: Callable[[bool, bool], bytes] | None = None


class Runnable:
    """A prepared model: call it to run one inference on fixed inputs."""

    def __init__(self, run: Callable[[], object], context: dict[str, Any], close: Callable[[], None] | None = None,
                 sync: Callable[[], object] | None = None, timer: Callable[[Callable[[], object]], float] | None = None):
        self.run = run
        self.context = context
        self.close = close or (lambda: None)
        self.sync = sync
        self.timer = timer

    def __call__(self) -> object:
        return self.run()


class Backend(ABC):
    """One runtime (ONNX Runtime, torch, LiteRT, TensorRT, a phone over adb)."""

    name: str
    #: what to install or connect, printed when unavailable
    install_hint: str = ""
    #: whether a profile should follow the device's speed with a reference network timed between units
    #: (``zenbench.hostspeed``): true for runtimes on this host, whose speed moves with its neighbours
    shared_host: bool = True

    @abstractmethod
    def available(self, settings: BackendSettings) -> str | None:
        """None when this backend can run here with these settings, else why not."""

    def require(self, settings: BackendSettings) -> None:
        reason = self.available(settings)
        if reason:
            raise BackendUnavailable(f"backend {self.name!r} is unavailable: {reason}")

    @abstractmethod
    def prepare(self, workload: Workload, settings: BackendSettings) -> Runnable:
        """Load the workload into the runtime, ready to run."""

    def time(self, runnable: Runnable, rules: TimingRules) -> Measurement:
        from zenbench.measure import measure

        return measure(runnable, rules, sync=runnable.sync, timer=runnable.timer, context=runnable.context,
                       watch_host=self.shared_host)

    def time_instances(self, workload: Workload, settings: BackendSettings, rules: TimingRules,
                       instances: int = 1) -> Measurement:
        """Build ``workload`` ``instances`` times, time each, and keep the median instance
        (``measure.median_instance``: where the weights land in memory moves the latency)."""
        from zenbench.measure import median_instance

        found = []
        for _ in range(max(1, instances)):
            runnable = self.prepare(workload, settings)
            try:
                found.append(self.time(runnable, rules))
            finally:
                runnable.close()
        return median_instance(found)

    def versions(self) -> dict[str, str]:
        return {}


def random_input(dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A fixed random input of ``dtype``: standard normal for floats, uniform over the whole range for integers
    (a quantised unit's input)."""
    rng = np.random.default_rng(0)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


BACKENDS: Registry[Backend] = Registry("backend")


def list_backends(pattern: str = "*") -> list[str]:
    """Registered runtimes whose name matches ``pattern`` (a glob)."""
    import zenbench.backends  # noqa: F401  (registers the built-in backends)

    return BACKENDS.names(pattern)


def get_backend(name: str) -> Backend:
    import zenbench.backends  # noqa: F401  (registers the built-in backends)

    return BACKENDS.get(name)
