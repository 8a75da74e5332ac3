"""Time exported artifacts on a device's runtime, several side by side.

An artifact is timed as the profiler times a network (the device's rules for whole networks), in
``passes`` round-robin passes over all the artifacts given, keeping each one's median pass: the
host's speed drifts over tens of seconds, so an int8 artifact and its fp32 graph timed in
alternation see the same host, and their ratio (the speed-up) is not a comparison across regimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zenbench.errors import ZenbenchError
from zenbench.measure import Measurement, median_instance

PASSES = 3


@dataclass(frozen=True)
class TimedArtifact:
    """One artifact's latency on the device (ms per batch, or per image for a per-image device)."""

    stats: dict[str, float]
    noisy: bool
    busy: bool
    busy_reason: str | None
    device: str
    settings: dict[str, Any]
    environment: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        out = {"device": self.device, "settings": self.settings, "environment": self.environment, "ms": self.stats,
               "noisy": self.noisy, "busy": self.busy}
        if self.busy:
            out["busy_reason"] = self.busy_reason  # the CLI prints measure.busy_warning(...) under the figure
        return out


def _runnable(path: Path, fmt: str, profile: Any, backend: Any):
    from zenbench.backends.base import Runnable

    settings = profile.settings
    if fmt in ("onnx", "ort") and profile.backend == "onnxruntime":
        from zenbench.backends.onnxruntime import session_input

        session = backend.session(path.read_bytes(), settings)
        feed = session.get_inputs()[0]
        shape = tuple(d if isinstance(d, int) else profile.batch for d in feed.shape)
        x = session_input(feed.type, shape)
        return Runnable(lambda: session.run(None, {feed.name: x}), {"backend": backend.name})
    if fmt == "tflite" and profile.backend == "litert":
        return backend.runnable(backend.interpreter(path, settings), settings)  # as the profiler times
    raise ZenbenchError(f"a {fmt} artifact cannot be timed on device {profile.name} ({profile.backend}); "
                        f"onnx/ort time on an onnxruntime device, tflite on a litert device")


def time_artifacts(paths: list[Path], fmt: str, profile: Any, passes: int = PASSES) -> list[TimedArtifact]:
    """Each artifact's latency on ``profile``'s runtime, timed in alternating passes (see the module's note)."""
    from zenbench.backends.base import get_backend
    from zenbench.measure import environment

    backend = get_backend(profile.backend)
    runnables = [_runnable(path, fmt, profile, backend) for path in paths]
    rules = profile.timing.for_networks()
    found: list[list[Measurement]] = [[] for _ in paths]
    try:
        for _ in range(max(1, passes)):
            for i, runnable in enumerate(runnables):
                found[i].append(backend.time(runnable, rules))
    finally:
        for runnable in runnables:
            runnable.close()
    scale = 1000.0 / (profile.batch if profile.per_image else 1)
    env = environment(profile.threads)
    out = []
    for runs in found:
        chosen = median_instance(runs)
        stats = chosen.summary(scale)
        stats["pass_medians"] = [float(np.float64(m.median * scale)) for m in runs]
        out.append(TimedArtifact(stats, chosen.noisy, chosen.busy, chosen.busy_reason, profile.name,
                                 profile.describe(), env))
    return out
