"""The demo judges each artifact against its own runtime's budget and says why one is over."""

from __future__ import annotations

from typer.testing import CliRunner

from zenbench.cli import app
from zenbench.demo import ARTIFACTS, EXPECTED_MINUTES, verdict_note


def test_each_artifact_is_timed_on_its_own_runtime() -> None:
    assert dict(ARTIFACTS) == {"onnx": "cpu", "tflite": "cpu-litert"}


def test_an_artifact_over_its_budget_always_has_a_reason() -> None:
    assert verdict_note(8.0, 10.0, 7.5, 0.05) == "within, 2.00 ms to spare"
    over = verdict_note(10.58, 10.0, 9.0, 0.05)
    assert "over by 0.58 ms" in over and "+18%" in over and "guard band" in over
    assert "slower" in verdict_note(10.2, 10.0, 9.9, 0.05)
    assert verdict_note(None, 10.0, 9.0, 0.05, "LiteRT is not installed") == "not timed: LiteRT is not installed"


def test_help_says_how_long_the_demo_takes() -> None:
    result = CliRunner().invoke(app, ["demo", "--help"])
    assert result.exit_code == 0 and f"{EXPECTED_MINUTES} minutes" in result.output


def test_progress_lines_for_a_log_are_spaced_out(monkeypatch) -> None:
    import zenbench.demo as demo

    clock = iter([0.0, 1.0, 20.0, 21.0, 50.0])
    monkeypatch.setattr(demo.time, "perf_counter", lambda: next(clock))
    lines: list[str] = []
    ticker = demo.Ticker(lines.append, "measured", every=15.0)
    for done in (10, 20, 30, 40):
        ticker(done, 100, "")
    assert lines == ["    measured 20/100 (20 s, about 80 s left)", "    measured 40/100 (50 s, about 75 s left)"]
