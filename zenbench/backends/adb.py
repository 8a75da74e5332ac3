"""An Android phone over adb: push the model, run the phone's own benchmark tool, parse what it prints.

TFLite's ``benchmark_model`` (or ONNX Runtime's ``onnxruntime_perf_test`` for ``.ort`` models)
runs on the phone with the profile's threads, pinned to a CPU mask with ``taskset``, and the
phone cools down between models. The parsers read every output format these tools have
printed since TFLite 1.12: the old ``Average inference timings in us: Warmup: …, no stats: …``
summary, the current ``Inference timings in us: Init: …, Inference (avg): …``, ``INFO:``/logcat
prefixes, scientific notation, and ``p5/median/p95`` on newer ``count=`` lines.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from zenbench.backends.base import BACKENDS, Backend, BackendSettings, Runnable, Workload
from zenbench.errors import BackendUnavailable, ZenbenchError
from zenbench.measure import Measurement, TimingRules

_NUMBER = r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_PREFIX = re.compile(r"^\s*(?:(?:INFO|VERBOSE|WARNING|ERROR):\s*|.*?\btflite\s*:\s*)?")
_PAIR = re.compile(rf"(\w+)=({_NUMBER})")
_SUMMARY_NEW = re.compile(rf"Inference timings in us:\s*Init:\s*({_NUMBER}),\s*First inference:\s*({_NUMBER}),"
                          rf"\s*Warmup \(avg\):\s*({_NUMBER}),\s*Inference \(avg\):\s*({_NUMBER})")
_SUMMARY_OLD = re.compile(rf"Average inference timings in us:\s*Warmup:\s*({_NUMBER}),\s*Init:\s*({_NUMBER}),"
                          rf"\s*(?:no stats|Inference):\s*({_NUMBER})")
_THREADS = re.compile(r"Num threads:\s*\[(\d+)\]")
_GRAPH = re.compile(r"Graph:\s*\[([^\]]*)\]")
_MEMORY = re.compile(rf"(?:Peak memory footprint|Memory footprint delta from the start of the tool) \(MB\):"
                     rf"\s*init=({_NUMBER})\s*overall=({_NUMBER})")


class AdbError(ZenbenchError):
    """The phone or its benchmark tool failed; carries the tool's last lines."""


@dataclass
class BenchmarkRun:
    """One benchmark_model run: the inference statistics in microseconds and what else it reported."""

    inference_avg_us: float
    stats: dict[str, float] = field(default_factory=dict)  # the count= line of the timed runs
    warmup_stats: dict[str, float] = field(default_factory=dict)
    init_us: float | None = None
    first_inference_us: float | None = None
    warmup_avg_us: float | None = None
    memory_mb: tuple[float, float] | None = None
    threads: int | None = None
    graph: str | None = None

    def measurement(self, context: dict | None = None) -> Measurement:
        s = self.stats
        reported = {"mean": self.inference_avg_us / 1e6}
        for ours, theirs in (("median", "median"), ("min", "min"), ("max", "max"), ("std", "std"), ("p5", "p5"),
                             ("p95", "p95")):
            if theirs in s:
                reported[ours] = s[theirs] / 1e6
        if "count" in s:
            reported["runs"] = s["count"]
        return Measurement((), {**(context or {}), "tool": "benchmark_model"}, reported)


def parse_benchmark_model(text: str) -> list[BenchmarkRun]:
    """Every completed run in a benchmark_model log (a log may hold several); raises if none completed."""
    runs: list[BenchmarkRun] = []
    counts: list[dict[str, float]] = []
    threads = graph = None
    for raw in text.splitlines():
        line = _PREFIX.sub("", raw, count=1).strip()
        if m := _THREADS.search(line):
            threads = int(m.group(1))
        if m := _GRAPH.search(line):
            graph = m.group(1)
        if line.startswith("count="):
            counts.append({k: float(v) for k, v in _PAIR.findall(line)})
            continue
        new, old = _SUMMARY_NEW.search(line), _SUMMARY_OLD.search(line)
        if new:
            init, first, warm, avg = (float(g) for g in new.groups())
            runs.append(BenchmarkRun(avg, counts[-1] if counts else {}, counts[-2] if len(counts) > 1 else {},
                                     init, first, warm, threads=threads, graph=graph))
            counts = []
        elif old:
            warm, init, avg = (float(g) for g in old.groups())
            runs.append(BenchmarkRun(avg, counts[-1] if counts else {}, counts[-2] if len(counts) > 1 else {},
                                     init, None, warm, threads=threads, graph=graph))
            counts = []
        elif (m := _MEMORY.search(line)) and runs:
            runs[-1].memory_mb = (float(m.group(1)), float(m.group(2)))
    if not runs:
        tail = "\n".join(text.strip().splitlines()[-8:])
        failed = "Benchmarking failed" in text
        raise AdbError(("benchmark_model reported a failure" if failed else "no benchmark result in the output")
                       + f"; last lines:\n{tail}")
    return runs


_ORT_AVG = re.compile(rf"Average (?:inference )?time cost(?: total)?\s*:\s*({_NUMBER})\s*ms")
_ORT_LATENCY = re.compile(rf"(Min|Max|P50|P90|P95|P99|P999) Latency(?: is|:)\s*({_NUMBER})\s*s")
_ORT_REQUESTS = re.compile(r"Total (?:inference requests|iterations)\s*:\s*(\d+)")


def parse_ort_perf_test(text: str) -> Measurement:
    """onnxruntime_perf_test's summary (average in ms; percentiles in seconds when printed)."""
    avg = _ORT_AVG.search(text)
    if not avg:
        tail = "\n".join(text.strip().splitlines()[-8:])
        raise AdbError(f"no 'Average inference time cost' in onnxruntime_perf_test output; last lines:\n{tail}")
    reported = {"mean": float(avg.group(1)) / 1000.0}
    names = {"Min": "min", "Max": "max", "P50": "median", "P90": "p90", "P95": "p95", "P99": "p99", "P999": "p99.9"}
    for name, value in _ORT_LATENCY.findall(text):
        reported[names[name]] = float(value)
    if m := _ORT_REQUESTS.search(text):
        reported["runs"] = float(m.group(1))
    return Measurement((), {"tool": "onnxruntime_perf_test"}, reported)


def shell_command(*words: object) -> str:
    """One command line for the phone's shell, every word quoted: a profile's values (a binary path, a CPU
    mask) reach ``sh -c`` on the phone as single arguments, never as shell syntax."""
    return " ".join(shlex.quote(str(word)) for word in words)


def benchmark_command(remote_model: str, settings: BackendSettings, rules: TimingRules) -> str:
    """The ``benchmark_model`` command line for a pushed model, pinned with ``taskset`` to the profile's
    ``cpu_mask`` when it names one."""
    options = settings.options
    mask = options.get("cpu_mask")
    words: list[object] = ["taskset", mask] if mask not in (None, "") else []
    words += [options.get("benchmark_binary", "/data/local/tmp/benchmark_model"), f"--graph={remote_model}",
              f"--num_threads={settings.threads or 1}", f"--warmup_runs={rules.warmup_runs}",
              f"--warmup_min_secs={rules.warmup_seconds}", f"--num_runs={rules.min_runs}",
              f"--min_secs={rules.min_seconds}", f"--use_xnnpack={'true' if options.get('xnnpack', True) else 'false'}"]
    return shell_command(*words)


class AdbBackend(Backend):
    name = "adb"
    install_hint = "install Android platform-tools (adb) and connect the phone with USB debugging on"
    #: a phone runs nothing else while it is benchmarked, and each run is a benchmark_model launch over USB:
    #: a reference run between units would double the profile for no information
    shared_host = False

    def _adb(self, settings: BackendSettings) -> list[str]:
        serial = settings.options.get("serial")
        return ["adb", *(["-s", serial] if serial else [])]

    def available(self, settings: BackendSettings) -> str | None:
        if shutil.which("adb") is None:
            return f"adb is not on PATH ({self.install_hint})"
        try:
            out = subprocess.run(["adb", "devices"], capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"`adb devices` failed: {error}"
        devices = [line.split()[0] for line in out.splitlines()[1:] if line.strip().endswith("device")]
        serial = settings.options.get("serial")
        if not devices:
            return "no phone connected (`adb devices` lists none); connect it with USB debugging on"
        if serial and serial not in devices:
            return f"phone {serial} is not connected (connected: {', '.join(devices)})"
        if not serial and len(devices) > 1:
            return f"several phones are connected ({', '.join(devices)}); set options.serial in the device profile"
        return None

    def _shell(self, settings: BackendSettings, command: str, timeout: float = 600) -> str:
        result = subprocess.run([*self._adb(settings), "shell", command], capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            raise AdbError(f"`adb shell {command}` failed ({result.returncode}): {result.stderr.strip()[-500:]}")
        return result.stdout + result.stderr

    def prepare(self, workload: Workload, settings: BackendSettings) -> Runnable:
        self.require(settings)
        if workload.make_tflite is None:
            raise BackendUnavailable(f"workload {workload.name!r} has no TFLite form; install zenbench[tflite]")
        data = workload.make_tflite()
        remote = f"/data/local/tmp/zenbench_{hashlib.sha256(data).hexdigest()[:16]}.tflite"
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "model.tflite"
            local.write_bytes(data)
            pushed = subprocess.run([*self._adb(settings), "push", str(local), remote], capture_output=True, text=True)
            if pushed.returncode != 0:
                raise AdbError(f"adb push failed: {pushed.stderr.strip()[-500:]}")
        context = {"backend": self.name, "precision": settings.precision, "batch": workload.input_shape[0],
                   "threads": settings.threads, "remote_model": remote}
        return Runnable(lambda: None, context, close=lambda: self._shell(settings, shell_command("rm", "-f", remote)))

    def time(self, runnable: Runnable, rules: TimingRules, settings: BackendSettings | None = None) -> Measurement:
        settings = settings or BackendSettings(threads=runnable.context.get("threads") or 1)
        command = benchmark_command(runnable.context["remote_model"], settings, rules)
        time.sleep(float(settings.options.get("cooldown_seconds", 0)))
        run = parse_benchmark_model(self._shell(settings, command))[-1]
        return run.measurement(runnable.context)


BACKENDS.add("adb", AdbBackend())
