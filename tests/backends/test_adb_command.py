"""The adb backend's phone command lines: a profile's values are single quoted words, never shell syntax."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from zenbench.backends.adb import AdbBackend, benchmark_command, shell_command
from zenbench.backends.base import BackendSettings, Runnable
from zenbench.measure import TimingRules

RULES = TimingRules(warmup_runs=2, warmup_seconds=0.5, min_runs=7, min_seconds=1.0)
HOSTILE_BINARY = "/data/local/tmp/benchmark_model; touch PWNED_BINARY #"
HOSTILE_MASK = "f0 && touch PWNED_MASK"
HOSTILE_MODEL = "/data/local/tmp/m $(touch PWNED_MODEL).tflite"
SAMPLE = Path(__file__).parent.parent / "data" / "benchmark_model" / "tflite_2.20_2.txt"


def hostile_settings() -> BackendSettings:
    return BackendSettings(threads=4, options={"benchmark_binary": HOSTILE_BINARY, "cpu_mask": HOSTILE_MASK,
                                               "xnnpack": False})


def test_hostile_profile_values_stay_single_words() -> None:
    command = benchmark_command(HOSTILE_MODEL, hostile_settings(), RULES)
    assert shlex.split(command) == [
        "taskset", HOSTILE_MASK, HOSTILE_BINARY, f"--graph={HOSTILE_MODEL}", "--num_threads=4", "--warmup_runs=2",
        "--warmup_min_secs=0.5", "--num_runs=7", "--min_secs=1.0", "--use_xnnpack=false"]


def test_without_a_mask_there_is_no_taskset() -> None:
    command = benchmark_command("/data/local/tmp/m.tflite", BackendSettings(threads=1), RULES)
    assert shlex.split(command)[:2] == ["/data/local/tmp/benchmark_model", "--graph=/data/local/tmp/m.tflite"]


def test_a_shell_runs_none_of_the_hostile_values(tmp_path: Path) -> None:
    """The phone runs the line with ``sh -c``; a POSIX shell here reads it the same way."""
    command = benchmark_command(HOSTILE_MODEL, hostile_settings(), RULES)
    subprocess.run(["sh", "-c", command], cwd=tmp_path, capture_output=True, timeout=60)
    subprocess.run(["sh", "-c", shell_command("rm", "-f", HOSTILE_MODEL)], cwd=tmp_path, capture_output=True,
                   timeout=60)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    unquoted = f"taskset {HOSTILE_MASK} {HOSTILE_BINARY}"  # what the backend used to send: the test can fail
    subprocess.run(["sh", "-c", unquoted], cwd=tmp_path, capture_output=True, timeout=60)
    assert any(p.name.startswith("PWNED") for p in tmp_path.iterdir())


def test_time_sends_the_quoted_line_to_the_phone(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = AdbBackend()
    sent: list[str] = []

    def fake_shell(settings: BackendSettings, command: str, timeout: float = 600) -> str:
        sent.append(command)
        return SAMPLE.read_text()

    monkeypatch.setattr(backend, "_shell", fake_shell)
    runnable = Runnable(lambda: None, {"remote_model": HOSTILE_MODEL, "threads": 4})
    m = backend.time(runnable, RULES, hostile_settings())
    assert sent == [benchmark_command(HOSTILE_MODEL, hostile_settings(), RULES)]
    assert m.median == pytest.approx(0.899281)
