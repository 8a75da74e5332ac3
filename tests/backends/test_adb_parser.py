"""The benchmark_model / onnxruntime_perf_test parsers on real output of several tool versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from zenbench.backends.adb import AdbError, parse_benchmark_model, parse_ort_perf_test

SAMPLES = Path(__file__).parent.parent / "data" / "benchmark_model"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


@pytest.mark.parametrize(("name", "avg_us", "count", "init_us"), [
    ("tflite_1.12_1.txt", 137722, 50, 4452),            # 'Average inference timings … no stats:'
    ("tflite_2019_1.txt", 747733, 50, 21039),
    ("tflite_2.4_1.txt", 249684, 50, 16242),            # 'Inference timings in us: … Inference (avg):'
    ("tflite_2.8_1.txt", 2950340, 50, 17187),           # scientific notation in count= lines
    ("tflite_2.20_2.txt", 899641, 50, 614333),          # 'INFO: ' prefixes, p5/median/p95
])
def test_benchmark_model_formats(name: str, avg_us: float, count: int, init_us: float) -> None:
    run = parse_benchmark_model(sample(name))[-1]
    assert run.inference_avg_us == pytest.approx(avg_us)
    assert run.stats["count"] == count
    assert run.init_us == pytest.approx(init_us)
    assert run.measurement().mean == pytest.approx(avg_us / 1e6)


def test_newer_format_reports_median_and_memory() -> None:
    run = parse_benchmark_model(sample("tflite_2.20_2.txt"))[-1]
    assert run.stats["median"] == 899281 and run.memory_mb == (146.363, 150.141)
    assert run.measurement().median == pytest.approx(0.899281)


def test_timed_runs_are_the_count_line_before_the_summary_not_the_largest() -> None:
    """LiteRT prints the warm-up stats first; here 50 warm-ups and then only 24 timed runs."""
    runs = parse_benchmark_model(sample("tflite_unknown-recent_1.txt"))
    assert len(runs) == 3
    assert runs[-1].stats["count"] == 24 and runs[-1].warmup_stats["count"] == 50
    assert runs[-1].inference_avg_us == pytest.approx(42435.4)


def test_a_failed_run_is_an_error_with_the_tools_last_lines() -> None:
    with pytest.raises(AdbError, match="failure"):
        parse_benchmark_model(sample("tflite_2.4_2.txt"))


@pytest.mark.parametrize(("name", "mean_s", "median_s"), [
    ("ort_perf_test_1.txt", 0.0588053, 0.0587108),    # oldest: 'Average time cost', 'P50 Latency is …sec'
    ("ort_perf_test_2.txt", 0.734606, None),
    ("ort_perf_test_6.txt", 0.098961997, 0.0995086),  # newest: 'Average inference time cost total:'
])
def test_ort_perf_test_formats(name: str, mean_s: float, median_s: float | None) -> None:
    measurement = parse_ort_perf_test(sample(name))
    assert measurement.mean == pytest.approx(mean_s)
    if median_s is not None:
        assert measurement.median == pytest.approx(median_s)
