"""Silence the converter and runtime libraries' own chatter, which tells a zenbench user nothing.

TensorFlow/LiteRT (absl and oneDNN start-up lines, the MLIR exporter's op count, the XNNPACK
delegate notice), torchao (its optional CUDA kernels failing to load on a CPU machine) and torch's
pytree deprecation notice all write to the process's stderr, some from C++ where Python's
``warnings`` and ``logging`` cannot reach. Two layers:

- :func:`quiet_libraries` sets the libraries' own switches (environment variables read by the C++
  loggers when they load, Python loggers' levels); call it before importing them.
- :func:`captured_stderr` redirects file descriptor 2 around one noisy call (a conversion, an
  interpreter's creation) and afterwards writes back every line that is not known noise, so a real
  error is still shown. ``ZENBENCH_VERBOSE=1`` turns both off, for debugging a converter.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator

#: environment switches read by the libraries' C++ loggers when they load (setdefault: a user's own win)
QUIET_ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow/LiteRT C++ INFO and WARNING (oneDNN notice, flatbuffer_export)
    "GLOG_minloglevel": "2",  # glog-based loggers
    "ABSL_MIN_LOG_LEVEL": "2",  # absl logging where it honours it
    "LITERT_TORCH_SHOW_PROGRESS": "n",  # litert-torch's conversion progress bar
}
#: Python loggers whose warnings are about the library itself, not the user's model
QUIET_LOGGERS = ("torchao", "torch.utils._pytree", "absl", "tensorflow", "jax._src.xla_bridge")
#: lines on stderr that are start-up or progress notices of the libraries (anything else is passed on)
NOISE = re.compile("|".join([
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called",
    r"^[IW]\d{4} [\d:.]+\s+\d+ ",  # absl/glog/torch-style prefixed log lines (I0000 00:00:..., W1205 ...)
    r"^INFO: Created TensorFlow Lite .*delegate",
    r"^INFO: Initialized TensorFlow Lite runtime",
    r"^Failed to load .*torchao",
    r"^WARNING:root:Your model .*is converted in training mode",
    r"^\s*$",
]))


def verbose() -> bool:
    """Whether the user asked to see the libraries' own output (``ZENBENCH_VERBOSE=1``)."""
    return os.environ.get("ZENBENCH_VERBOSE", "") not in ("", "0")


def quiet_libraries() -> None:
    """Set the libraries' logging switches; call before importing tensorflow, litert_torch, ai_edge_litert, torchao."""
    if verbose():
        return
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.ERROR)


@contextlib.contextmanager
def captured_stderr() -> Iterator[list[str]]:
    """Redirect fd 2 (C and Python alike) for the block; afterwards write back the lines that are not noise.

    Yields the list the dropped noise lines are appended to, for a caller that wants to count them. Does
    nothing (the list stays empty) with ``ZENBENCH_VERBOSE=1`` or when stderr has no file descriptor."""
    dropped: list[str] = []
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        fd = -1
    if verbose() or fd != 2:
        yield dropped
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield dropped
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            kept = []
            for line in sink.read().decode("utf-8", "replace").splitlines():
                (dropped if NOISE.search(line) else kept).append(line)
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()


__all__ = ["NOISE", "QUIET_ENVIRONMENT", "captured_stderr", "quiet_libraries", "verbose"]
