"""Every bad value a user can type ends in one ``error:`` line on stderr and exit 2, never a traceback.

Driven in-process with CliRunner: every value here is refused before any work starts.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from zenbench.cli import app

runner = CliRunner()
NET = "SuperConvK3BNRELU(3,16,2,1)SuperResK3K3(16,32,2,16,1)SuperConvK1BNRELU(32,64,1,1)"
MISSING = "/nonexistent/zenbench/file.parquet"


def _bad_values(csv: str) -> list[tuple[str, list[str]]]:
    """(id, argv) for every command; ``csv`` is an existing file where a command needs one."""
    cases = {
        "inspect": [["--resolution", "0"], ["--resolution", "7"], ["--num-classes", "0"], ["--convention", "fast"],
                    ["--bogus"], ["SuperConvK3BNRELU(3,32,3,1)"], ["no_such_zoo_model"]],
        "zoo": [["--bogus"], ["*", "extra"]],
        "score": [["--batch-size", "0"], ["--repeat", "0"], ["--resolution", "0"], ["--protocol", "text"],
                  ["--dtype", "fp99"], ["--gamma", "0"], ["--gamma", "-1"], ["--seed", "-1"], ["--proxy", "synflo"],
                  ["--proxy", ","], ["--num-classes", "0"], ["--batch-size", "x"]],
        "proxies": [["extra"]],
        "devices": [["--bogus"]],
        "profile": [["--points", "0"], ["--resolution", "0"], ["--space", "resnet"], ["--networks", "-1"],
                    ["--grid-networks", "-1"], ["--device", "no-such-device"]],
        "predict": [["--table", MISSING], ["--resolution", "0"], ["--num-classes", "0"],
                    ["--device", "no-such-device"]],
        "measure": [["--instances", "0"], ["--resolution", "0"], ["--device", "no-such-device"]],
        "validate": [["--n", "0"], ["--passes", "0"], ["--space", "resnet"], ["--resolution", "4"],
                     ["--calibration-n", "-1"], ["--device", "no-such-device"]],
        "search": [["--workers", "0"], ["--population", "0"], ["--iterations", "0"], ["--batch-size", "0"],
                   ["--latency-ms", "-5"], ["--latency-ms", "0"], ["--flops", "0"], ["--flops", "abc"],
                   ["--params", "-1"], ["--guard", "2"], ["--guard", "wide"], ["--space", "resnet"],
                   ["--checkpoint-every", "0"], ["--max-layers", "0"], ["--preset", "imagenet-latencyy"],
                   ["--resolution", "0"], ["--table", MISSING], ["--seed", "-3"], ["--flops", "1e999"]],
        "report": [[MISSING], [MISSING, "--bogus"], [MISSING, "--table", MISSING],
                   [MISSING, "--device", "no-such-device"]],
        "export": [["--format", "caffe"], ["--format", ","], ["--precision", "fp8"], ["--resolution", "0"],
                   ["--num-classes", "0"], ["SuperConvK3BNRELU(3,32,3,1)"]],
        "demo": [["--iterations", "0"], ["--latency-ms", "0"], ["--latency-ms", "-1"]],
        "table fit": [["--measurements", csv, "--column", "x", "--samples", "0"],
                      ["--measurements", csv, "--column", "x", "--space", "xxbl"],
                      ["--measurements", MISSING, "--column", "x"], ["--measurements", csv]],
        "table recalibrate": [[MISSING], []],
        "benchmark proxies": [["--sample", "-1"], ["--batch-size", "0"], ["--workers", "0"], ["--dataset", "imagenet"],
                              ["--space", "xxbl"], ["--data", MISSING], ["--seed", "-1"]],
        "benchmark nb201-search": [["--measurements", csv, "--column", "x", "--iterations", "0"],
                                   ["--measurements", csv, "--column", "x", "--population", "0"],
                                   ["--measurements", csv, "--column", "x", "--samples", "0"],
                                   ["--measurements", csv, "--column", "x", "--latency-ms", "-1"],
                                   ["--measurements", MISSING, "--column", "x"]],
        "benchmark latency-fit": [["--measurements", csv, "--samples", "0"],
                                  ["--measurements", csv, "--space", "xxbl"]],
    }
    needs_network = {"inspect", "score", "predict", "measure", "export"}
    out = []
    for command, argvs in cases.items():
        for argv in argvs:
            positional = [NET] if command in needs_network and not any(a.startswith("Super") or a == "no_such_zoo_model"
                                                                         for a in argv) else []
            out.append((f"{command} {' '.join(argv)}", [*command.split(), *positional, *argv]))
    return out


CASES = _bad_values("MEASUREMENTS_CSV")


def test_every_command_has_bad_value_cases() -> None:
    import typer.main

    covered = {case_id.split(" --")[0].split(" /")[0] for case_id, _ in CASES}
    group = typer.main.get_command(app)
    leaves = []
    for name, command in group.commands.items():
        subs = getattr(command, "commands", None)
        leaves += [f"{name} {sub}" for sub in subs] if subs else [name]
    missing = [leaf for leaf in leaves if not any(c == leaf or c.startswith(leaf + " ") for c in covered)]
    assert not missing, f"commands without bad-value cases: {missing}"


@pytest.mark.parametrize(("case_id", "argv"), CASES, ids=[c for c, _ in CASES])
def test_bad_value_is_one_line_and_exit_2(case_id: str, argv: list[str], tmp_path) -> None:
    csv = tmp_path / "m.csv"
    csv.write_text("arch,x\n|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|skip_connect~1|"
                   "skip_connect~2|,1.0\n")
    argv = [str(csv) if a == "MEASUREMENTS_CSV" else a for a in argv]
    result = runner.invoke(app, argv)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, (argv, result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), (argv, result.stderr)
    assert result.stdout == "", (argv, result.stdout)


def test_non_utf8_structure_file_is_one_line(tmp_path) -> None:
    path = tmp_path / "structure.txt"
    path.write_bytes(b"SuperConvK3BNRELU(3,16,2,1)\xff\xfe\n")
    result = runner.invoke(app, ["inspect", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert [line for line in result.stderr.splitlines() if line.strip()][0].startswith("error: ")
    assert "UTF-8" in result.stderr


def test_non_utf8_device_profile_is_one_line(tmp_path) -> None:
    path = tmp_path / "device.yaml"
    path.write_bytes(b"name: x\ndescription: \xff\xfe\n")
    result = runner.invoke(app, ["measure", NET, "--device", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1


def test_values_at_the_bounds_are_used_not_replaced() -> None:
    """--resolution 8 stays 8 (it was `resolution or default`, which turned 0 into 224 silently)."""
    import json

    result = runner.invoke(app, ["inspect", NET, "--resolution", "8", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["resolution"] == 8
