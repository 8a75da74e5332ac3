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
    # profile's docstring breaks its second paragraph after "(or --from) is"; at 200 columns the
    # paragraph must come out as one line, not with the source's line breaks.
    profile_help = runner.invoke(app, ["profile", "--help"], terminal_width=200).output
    assert any("(or --from) is adapted to this host" in line for line in profile_help.splitlines())
    search_help = runner.invoke(app, ["search", "--help"], terminal_width=200).output
    assert "*cifar10_*" in runner.invoke(app, ["zoo", "--help"], terminal_width=200).output
    assert "runs/search-BUDGET-sSEED" in search_help
