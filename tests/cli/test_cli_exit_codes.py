"""Exit codes and the shape of the CLI: --version, Ctrl-C is 130, every error one line, --json everywhere."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer.main
from typer.testing import CliRunner

from zenbench.cli import app
from zenbench.errors import ZenbenchError

runner = CliRunner()
NET = "SuperConvK3BNRELU(3,16,2,1)SuperResK3K3(16,32,2,16,1)SuperConvK1BNRELU(32,64,1,1)"


def _leaf_commands() -> list[tuple[list[str], object]]:
    leaves = []
    for name, command in typer.main.get_command(app).commands.items():
        subs = getattr(command, "commands", None)
        leaves += [([name, sub_name], sub) for sub_name, sub in subs.items()] if subs else [([name], command)]
    return leaves


def _stderr_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_version_is_the_installed_package_version() -> None:
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"zenbench {version('zenbench')}"


def test_python_dash_m_still_runs_the_cli() -> None:
    result = subprocess.run([sys.executable, "-m", "zenbench.cli", "inspect", NET, "--resolution", "0"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "'zenbench inspect --help'" in result.stderr


def test_every_command_that_prints_results_takes_json() -> None:
    missing = [" ".join(path) for path, command in _leaf_commands()
               if "--json" not in {opt for p in command.params for opt in p.opts}]
    assert not missing, f"commands without --json: {missing}"


def test_every_help_text_opens_with_one_line() -> None:
    for path, command in _leaf_commands():
        first, *rest = (command.help or "").strip().split("\n\n")
        assert first and "\n" not in first and len(first) <= 120, (path, first)
        assert len(rest) <= 1, (path, rest)  # at most one short note after it
        assert all(len(p.help or "") <= 140 for p in command.params if hasattr(p, "help")), path


def test_ctrl_c_exits_130_with_one_line(monkeypatch) -> None:
    import zenbench.models

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(zenbench.models, "resolve_network", interrupted)
    result = runner.invoke(app, ["inspect", NET])
    assert result.exit_code == 130
    assert _stderr_lines(result) == ["error: interrupted"]


def test_interrupted_search_exits_130_saying_where_the_state_is(monkeypatch, tmp_path) -> None:
    import zenbench.errors
    import zenbench.search

    interruption = getattr(zenbench.errors, "SearchInterrupted", None)
    if interruption is None:  # before the class moved to zenbench.errors
        interruption = pytest.importorskip("zenbench.search.evolution").SearchInterrupted

    def interrupted(settings, out, **kwargs):
        raise interruption(f"interrupted at iteration 3; state saved in {out}; "
                                          f"run the same command with --resume to continue")

    monkeypatch.setattr(zenbench.search, "run_search", interrupted)
    result = runner.invoke(app, ["search", "--flops", "400M", "--iterations", "5", "--out", str(tmp_path / "run")])
    assert result.exit_code == 130, result.output
    lines = _stderr_lines(result)
    assert len(lines) == 1 and f"state saved in {tmp_path / 'run'}" in lines[0] and "--resume" in lines[0]


def test_a_multi_line_library_error_is_printed_on_one_line(monkeypatch) -> None:
    import zenbench.models

    def damaged(*args, **kwargs):
        raise ZenbenchError("table x.parquet is damaged:\n  no median_ms column\nre-profile it")

    monkeypatch.setattr(zenbench.models, "resolve_network", damaged)
    result = runner.invoke(app, ["inspect", NET])
    assert result.exit_code == 2
    assert _stderr_lines(result) == ["error: table x.parquet is damaged: no median_ms column re-profile it"]


def test_a_missing_optional_package_names_the_extra(monkeypatch) -> None:
    import zenbench.export

    def no_tensorrt(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'tensorrt'", name="tensorrt")

    monkeypatch.setattr(zenbench.export, "export", no_tensorrt)
    result = runner.invoke(app, ["export", NET, "--format", "tensorrt"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = _stderr_lines(result)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "pip install 'zenbench[tensorrt]'" in lines[0]


def test_a_folder_given_as_a_table_is_one_line(tmp_path) -> None:
    folder = tmp_path / "a-folder.parquet"
    folder.mkdir()
    result = runner.invoke(app, ["table", "recalibrate", str(folder)])
    assert result.exit_code == 2 and len(_stderr_lines(result)) == 1


def test_an_unreadable_file_is_one_line_naming_it(monkeypatch) -> None:
    import zenbench.models

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/data/structure.txt")

    monkeypatch.setattr(zenbench.models, "resolve_network", denied)
    result = runner.invoke(app, ["inspect", "/data/structure.txt"])
    assert result.exit_code == 2
    assert _stderr_lines(result) == ["error: /data/structure.txt: Permission denied; check the path and its "
                                     "permissions"]


def test_demo_json_keeps_stdout_for_the_summary(monkeypatch, tmp_path) -> None:
    import zenbench.demo

    def fake_demo(out, *, latency_ms, iterations, say):
        say("1/5 profiling")
        return {"seconds": 1.0, "artifacts": {}, "best": {"structure": NET}, "predicted_ms": 1.0, "search": str(out),
                "latency_ms": latency_ms, "iterations": iterations}

    monkeypatch.setattr(zenbench.demo, "run_demo", fake_demo)
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--iterations", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["iterations"] == 3
    assert "1/5 profiling" in result.stderr
