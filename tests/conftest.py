"""Shared fixtures; hardware markers skip with the reason when the hardware is absent."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import torch


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reasons = {}
    if not torch.cuda.is_available():
        reasons["gpu"] = "needs a CUDA GPU (none visible to torch)"
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        reasons["tensorrt"] = "needs TensorRT: pip install 'zenbench[tensorrt]' on a CUDA machine"
    if shutil.which("adb") is None:
        reasons["android"] = "needs adb and an Android phone connected"
    for item in items:
        for marker, reason in reasons.items():
            if marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


# ------------------------------------------------------------------ subprocesses on a loaded host
#: a child that neither uses CPU nor touches its watched files for this long is stuck, not slow
IDLE_SECONDS = 600.0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), 0 where it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _file_state(path: Path) -> tuple[int, int] | None:
    """Size and modification time of ``path``; None when it does not exist, or vanished while being read
    (a finishing profile removes its journal at any moment)."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_size, status.st_mtime_ns


def wait_while_progressing(process: subprocess.Popen, watch: tuple[Path, ...] = (),
                           idle_seconds: float = IDLE_SECONDS) -> int:
    """Wait for ``process`` as long as it makes progress (uses CPU or changes a watched file): on a loaded
    host a run takes as long as it takes, and only a child that has stopped moving fails the test."""
    last_seen, last_progress = None, time.monotonic()
    while (code := process.poll()) is None:
        state = (_cpu_seconds(process.pid), tuple(_file_state(p) for p in watch))
        if state != last_seen:
            last_seen, last_progress = state, time.monotonic()
        elif time.monotonic() - last_progress > idle_seconds:
            process.kill()
            process.wait()
            raise AssertionError(f"{process.args} made no progress for {idle_seconds:.0f} s")
        time.sleep(0.2)
    return code


def run_patiently(args: list[str], cwd: Path, watch: tuple[Path, ...] = ()) -> subprocess.CompletedProcess:
    """``subprocess.run(args, capture_output=True, text=True)`` without a wall-clock limit: output goes to
    temporary files (no pipe to fill) and the wait ends only on exit or on a stall (``wait_while_progressing``)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(args, stdout=out, stderr=err, cwd=cwd, text=True)
        code = wait_while_progressing(process, watch)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(args, code, out.read(), err.read())
