"""`zenbench report`: one self-contained HTML page of a search, for finished, interrupted and table-less runs,
and rendered by a real headless browser where one is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zenbench.budget import Constraints
from zenbench.cli.app import app
from zenbench.errors import SearchInterrupted, ZenbenchError
from zenbench.search import SearchSettings, search
from zenbench.search.evolution import plainnet_evolution
from zenbench.search.html_report import read_run, write_html_report
from zenbench.search.parallel import InlineScorer, ScoreJob
from zenbench.search.presets import CIFAR_INIT
from zenbench.space.spec import NetworkSpec

SMALL = dict(space="xxbl", init=CIFAR_INIT, resolution=16, num_classes=10, population=6, iterations=16,
             batch_size=2, checkpoint_every=4, proxy="params", seed=1,
             constraints=Constraints(params=3e5, resolution=16, num_classes=10))
HEADINGS = ("Best params score against iteration", "The winner's blocks", "Budget and latency table",
            "Top candidates", "Export")
BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome", "chrome") if shutil.which(b)), None)


@pytest.fixture(scope="module")
def free_run(tmp_path_factory) -> Path:
    """A finished search without a latency table, exported (a manifest as `zenbench export` writes it)."""
    out = tmp_path_factory.mktemp("free") / "run"
    search(SearchSettings(**SMALL), out)
    (out / "export").mkdir()
    manifest = {"file": "best.onnx", "format": "onnx", "precision": "fp32", "bytes": 561757, "runtime": "onnxruntime",
                "parity": {"cosine": 0.99999999, "relative_error": 1.9e-7, "top1_agreement": 1.0, "passed": True},
                "latency": {"device": "cpu", "ms": {"median": 0.41, "p10": 0.40, "p90": 0.44}, "budget_ms": 0.5,
                            "within_budget": True, "predicted_ms": 0.39, "prediction_error": -0.05}}
    (out / "export" / "best.onnx.manifest.json").write_text(json.dumps(manifest))
    return out


@pytest.fixture(scope="module")
def latency_run(tmp_path_factory) -> Path:
    """A finished search under a latency budget on the shipped cpu table."""
    from zenbench.locate import load_device_table

    _, table, _ = load_device_table("cpu")
    out = tmp_path_factory.mktemp("latency") / "run"
    constraints = Constraints(latency_ms=0.5, params=1e6, resolution=32, num_classes=10, latency_guard=0.05)
    search(SearchSettings(**{**SMALL, "resolution": 32, "constraints": constraints}), out, table=table, device="cpu")
    return out


class CtrlCAt:
    """A scorer that raises KeyboardInterrupt on its ``call``-th batch, as Ctrl-C would mid-scoring."""

    def __init__(self, inner, call: int) -> None:
        self.inner, self.call, self.calls = inner, call, 0

    def score(self, candidates, seeds):
        self.calls += 1
        if self.calls == self.call:
            raise KeyboardInterrupt
        return self.inner.score(candidates, seeds)


def test_a_run_without_a_table_shows_macs_and_says_so(free_run) -> None:
    summary = write_html_report(free_run)
    page = (free_run / "report.html").read_text()
    assert summary["out"] == str(free_run / "report.html") and summary["blocks_by"] == "MACs"
    assert summary["table"] is None and not summary["interrupted"] and summary["iterations"] == 16
    for heading in (*HEADINGS, "MACs and score"):
        assert heading in page
    assert "No latency table is known for this run" in page
    assert page.count("<svg") == 2 and "Pareto front" in page


def test_the_page_is_self_contained(free_run) -> None:
    page = (free_run / "report.html").read_text()
    assert "<script" not in page.lower()
    outside = re.findall(r'(?:src|href)\s*=\s*"(?!#)[^"]*"|url\((?!#)[^)]*\)|@import', page, flags=re.IGNORECASE)
    assert outside == []  # only the SVGs' own references (#id) remain
    assert "xlink:href=\"#" in page  # the check above can see references
    assert page.rstrip().endswith("</html>")


def test_export_results_are_shown(free_run) -> None:
    page = (free_run / "report.html").read_text()
    assert "best.onnx" in page and "0.410 (0.400–0.440) on cpu" in page and "within" in page
    assert "Not exported yet" not in page


def test_a_run_with_a_table_breaks_the_winner_down_by_latency(latency_run) -> None:
    run = read_run(latency_run)
    assert run.devices == ("cpu",) and run.block_basis == "latency" and run.table is not None
    assert sum(b.share for b in run.blocks) == pytest.approx(1.0)
    assert len(run.blocks) == len(NetworkSpec.parse(run.best.structure).blocks) + 1  # every block, the classifier
    assert sum(b.value for b in run.blocks) == pytest.approx(run.table.predicted_ms)
    assert run.table.predicted_ms == pytest.approx(run.best.latency_ms, rel=1e-6)
    summary = write_html_report(latency_run, latency_run / "page.html")
    page = Path(summary["out"]).read_text()
    assert summary["out"].endswith("page.html") and summary["expected_error"] == pytest.approx(run.table.expected_error)
    assert "Latency and score" in page and "share of predicted latency" in page and "expected error" in page
    assert f"{run.table.expected_error * 100:.1f}% mean" in page and "guard band" in page
    assert "Not exported yet" in page


def test_an_interrupted_run_is_reported_from_its_checkpoint(tmp_path) -> None:
    settings = SearchSettings(**SMALL)
    job = ScoreJob(settings.proxy, settings.resolution, settings.batch_size, settings.num_classes)
    with pytest.raises(SearchInterrupted):
        plainnet_evolution(settings, tmp_path, None, CtrlCAt(InlineScorer(job), 11)).run()
    checkpoint = json.loads((tmp_path / "checkpoint.json").read_text())
    with (tmp_path / "history.jsonl").open("a") as journal:  # a row of a batch the checkpoint does not count
        journal.write(json.dumps({"iteration": 99, "structure": "x", "status": "scored", "score": 1e9}) + "\n")
    summary = write_html_report(tmp_path)
    page = (tmp_path / "report.html").read_text()
    assert summary["interrupted"] and summary["iterations"] == checkpoint["iteration"] < settings.iterations
    assert f"stopped at {checkpoint['iteration']} of {settings.iterations}" in page and "--resume" in page
    assert summary["scored"] < checkpoint["history_rows"] + 1 and "1e+09" not in page


def test_folders_that_hold_no_search_are_refused(tmp_path) -> None:
    with pytest.raises(ZenbenchError, match="not a folder"):
        write_html_report(tmp_path / "missing")
    with pytest.raises(ZenbenchError, match="no search checkpoint"):
        write_html_report(tmp_path)
    (tmp_path / "checkpoint.json").write_text(json.dumps({"settings": {"arch": "nb201"}, "iteration": 1,
                                                          "population": [], "rng": [3, [1], None],
                                                          "history_rows": 0, "best_scores": []}))
    with pytest.raises(ZenbenchError, match="another kind of search"):
        write_html_report(tmp_path)


def test_cli_writes_the_page_and_prints_json(free_run, tmp_path) -> None:
    result = CliRunner().invoke(app, ["report", str(free_run), "--out", str(tmp_path / "r.html"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["out"] == str(tmp_path / "r.html") and (tmp_path / "r.html").exists()
    assert summary["exports"] == ["best.onnx"]
    missing = CliRunner().invoke(app, ["report", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "not a folder" in missing.output


@pytest.mark.browser
@pytest.mark.skipif(BROWSER is None, reason="needs a headless Chromium: apt-get install -y chromium")
def test_the_page_renders_in_a_headless_browser(latency_run, tmp_path) -> None:
    from PIL import Image

    page = Path(write_html_report(latency_run)["out"])
    flags = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2000"]
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, check=True).stdout
    for heading in (*HEADINGS, "Latency and score"):
        assert heading in dom, heading
    shot = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, check=True)
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 2000)
    top = image.crop((0, 0, 1280, 60)).getcolors(1 << 20)
    assert max(top)[1][0] < 80  # the dark header band was painted
    body = image.crop((0, 0, 1280, 1400)).resize((320, 350))
    colors = body.getcolors(1 << 20)
    assert len(colors) > 200  # plots, text and bars, not a blank page
    background = max(colors)[0] / (320 * 350)
    assert background < 0.8


def test_a_missing_device_table_is_noted_but_a_device_named_here_must_exist(free_run, tmp_path) -> None:
    run_dir = shutil.copytree(free_run, tmp_path / "run")
    (run_dir / "report.md").write_text("# zenbench search\n\n- device `no-such-device`\n")
    run = read_run(run_dir)
    assert run.devices == ("no-such-device",) and run.block_basis == "MACs"
    assert "no-such-device table could not be loaded" in run.table_note
    with pytest.raises(ZenbenchError, match="unknown device"):
        read_run(run_dir, device="no-such-device")


def test_a_run_in_which_no_candidate_passed_has_a_page(tmp_path) -> None:
    settings = SearchSettings(**{**SMALL, "iterations": 5, "constraints": Constraints(params=10, resolution=16,
                                                                                      num_classes=10)})
    with pytest.raises(ZenbenchError, match="no candidate met"):
        search(settings, tmp_path)
    summary = write_html_report(tmp_path)
    assert summary["best"] is None and summary["scored"] == 0
    assert "No candidate met the constraints." in (tmp_path / "report.html").read_text()
