"""zenbench.quiet: the libraries' start-up notices are dropped, anything else on stderr still shows."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from zenbench.quiet import NOISE, QUIET_ENVIRONMENT, quiet_libraries

SCRIPT = """
import os, sys
from zenbench.quiet import captured_stderr
with captured_stderr() as dropped:
    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
    os.write(2, b"I0000 00:00:1796495134.396410   22472 port.cc:153] oneDNN custom operations are on.\\n")
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
    os.write(2, b"E0000 00:00:1.0   1 real.cc:1] a real error\\n")
    print("something the user must see", file=sys.stderr)
print(len(dropped))
"""


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True,
                          env={**os.environ, **env})


def test_noise_is_dropped_and_the_rest_is_written_back() -> None:
    done = _run({"ZENBENCH_VERBOSE": "0"})
    assert done.stdout.strip() == "3"
    assert "XNNPACK" not in done.stderr and "oneDNN" not in done.stderr and "absl" not in done.stderr
    assert "a real error" in done.stderr and "something the user must see" in done.stderr


def test_verbose_shows_everything() -> None:
    done = _run({"ZENBENCH_VERBOSE": "1"})
    assert done.stdout.strip() == "0" and "XNNPACK" in done.stderr


def test_the_lines_seen_in_an_export_are_noise() -> None:
    for line in ["W1205 18:25:36.336000 22472 torch/utils/_pytree.py:630] <enum 'KernelPreference'> is an Enum",
                 "I0000 00:00:1796495138.483546   22472 flatbuffer_export.cc:4410] Estimated count of arithmetic ops",
                 "Failed to load /x/site-packages/torchao/_C_mxfp8.cpython-310-x86_64-linux-gnu.so: Could not load",
                 "WARNING:root:Your model is converted in training mode. Please set the module in evaluation mode"]:
        assert NOISE.search(line), line
    assert not NOISE.search("error: the table is damaged")


def test_quiet_libraries_sets_switches_without_overriding_the_user(monkeypatch) -> None:
    monkeypatch.delenv("ZENBENCH_VERBOSE", raising=False)
    for name in QUIET_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    logger = logging.getLogger("torchao")
    monkeypatch.setattr(logger, "level", logging.NOTSET)
    quiet_libraries()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    assert all(os.environ[k] == v for k, v in QUIET_ENVIRONMENT.items() if k != "TF_CPP_MIN_LOG_LEVEL")
    assert logger.level == logging.ERROR
