from __future__ import annotations

import json

from typer.testing import CliRunner

from zenbench.cli import app

runner = CliRunner()


def test_inspect_zoo_model_json_totals_match_library() -> None:
    from zenbench import get_zoo_model

    result = runner.invoke(app, ["inspect", "zennet_cifar10_model_size1M_res32", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    m = get_zoo_model("zennet_cifar10_model_size1M_res32")
    counts = m.spec.counts(32, 10)
    assert (data["macs"], data["params"], data["layers"]) == (counts.macs, counts.params, 18)
    assert len(data["blocks"]) == len(m.spec.blocks)
    assert data["blocks"][-1]["out_resolution"] == 4


def test_inspect_table_says_macs() -> None:
    result = runner.invoke(app, ["inspect", "SuperConvK3BNRELU(3,32,2,1)SuperResK3K3(32,64,2,32,1)"])
    assert result.exit_code == 0, result.output
    assert "multiply-accumulates" in result.stdout


def test_inspect_reads_a_file(tmp_path) -> None:
    path = tmp_path / "best_structure.txt"
    path.write_text("SuperConvK3BNRELU(3,32,2,1)SuperResK3K3(32,64,2,32,1)\n")
    result = runner.invoke(app, ["inspect", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["structure"].startswith("SuperConvK3BNRELU(3,32,2,1)")


def test_malformed_structure_is_one_clear_error() -> None:
    result = runner.invoke(app, ["inspect", "SuperConvK3BNRELU(3,32,3,1)"])
    assert result.exit_code == 2
    assert "offset 23" in result.stderr and "stride" in result.stderr
    assert "Traceback" not in result.output


def test_zoo_lists_all_models_with_published_and_computed() -> None:
    result = runner.invoke(app, ["zoo", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 15
    assert all(r["macs"] > 0 and r["published"]["params"] > 0 for r in rows)


def test_score_json_many_structures_from_a_file(tmp_path) -> None:
    path = tmp_path / "candidates.txt"
    path.write_text("# two candidates\nSuperConvK3BNRELU(3,16,1,1)SuperResK3K3(16,32,2,16,1)\n"
                    "SuperConvK3BNRELU(3,32,1,1)SuperResK3K3(32,64,2,32,1)\n")
    result = runner.invoke(app, ["score", str(path), "--proxy", "zen,params", "--resolution", "16",
                                 "--batch-size", "8", "--repeat", "2", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["proxy"] for r in rows] == ["zen", "params", "zen", "params"]
    assert rows[2]["mean"] > rows[0]["mean"]  # the wider network
    assert len(rows[0]["values"]) == 2 and rows[0]["ci95"] >= 0


def test_score_unknown_proxy_suggests() -> None:
    result = runner.invoke(app, ["score", "zennet_cifar10_model_size1M_res32", "--proxy", "synflo"])
    assert result.exit_code == 2
    assert "synflow" in result.stderr


def _all_command_paths() -> list[list[str]]:
    import typer.main

    paths: list[list[str]] = []

    def walk(command, path: list[str]) -> None:
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_every_command_help_renders_with_reflowed_paragraphs() -> None:
    paths = _all_command_paths()
    assert ["table", "recalibrate"] in paths and ["search"] in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, (path, result.output)
        assert "Usage: zenbench" in result.output
    # profile's docstring breaks its first paragraph after "the same"; at 200 columns the
    # paragraph must come out as one line, not with the source's line breaks.
    profile_help = runner.invoke(app, ["profile", "--help"], terminal_width=200).output
    assert any("the same factor for every workload" in line for line in profile_help.splitlines())
    search_help = runner.invoke(app, ["search", "--help"], terminal_width=200).output
    assert "*cifar10_*" in runner.invoke(app, ["zoo", "--help"], terminal_width=200).output
    assert "runs/search-BUDGET-sSEED" in search_help


def test_calibration_is_printed_as_its_formula_without_zeroed_terms() -> None:
    from zenbench.cli import calibration_text

    single = calibration_text({"a": 0.0357, "b": 1.027, "c": 7.6e-14, "n": 60, "form": "single",
                               "loo_mape": {"single": 0.0314}})
    assert single == "latency = 0.0357 ms + 1.03 x Σ unit ms (form single, fitted on 60 networks, leave-one-out 3.1%)"
    assert "units" not in single.split("(")[0]  # a per-unit term of 1e-13 ms is not shown
    groups = calibration_text({"a": -0.24, "b": {"conv": 1.01, "xxbl": 0.96}, "c": 0.01, "d": 0.087,
                               "cache_mib": 8.0, "n": 60, "form": "groups+weights@8MiB"})
    assert groups.startswith("latency = -0.24 ms + 1.01 x Σ conv ms + 0.96 x Σ xxbl ms - 0.01 ms x units "
                             "+ 0.087 ms x MiB of weights beyond 8 MiB")
    tied = calibration_text({"a": 0.006, "b": 1.01, "c": 0.006, "tied": True, "n": 60, "form": "single(a=c)"})
    assert tied.startswith("latency = 1.01 x Σ unit ms - 0.006 ms x (units - 1) (form single(a=c)")
    assert calibration_text({"a": 0.0, "b": 1.0, "c": 0.0, "n": 60, "form": "none"}).startswith(
        "latency = Σ unit ms (the plain sum")
    powered = calibration_text({"a": 0.0, "b": 1.0, "c": 0.0, "n": 60, "form": "none+power", "power": -0.0222,
                                "power_shift": 0.0582, "power_ref_ms": 22.34})
    assert powered.startswith("latency = L x 1.06 x (L / 22.3 ms)^-0.0222, L = Σ unit ms (form none+power")
