"""The shared evolution engine: exact resume after Ctrl-C, no crash on an empty population, settings
refused when nonsensical, the best written at every checkpoint, and the results folder locked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from zenbench.budget import Constraints
from zenbench.errors import FolderBusy, NoFeasibleCandidate, SearchInterrupted, SettingError, ZenbenchError
from zenbench.search import SearchSettings, search
from zenbench.search.evolution import plainnet_evolution
from zenbench.search.parallel import InlineScorer, ScoreJob
from zenbench.search.presets import CIFAR_INIT
from zenbench.search.report import report_folder

ROOT = Path(__file__).resolve().parents[2]
SMALL = dict(space="xxbl", init=CIFAR_INIT, resolution=16, num_classes=10, population=8, iterations=30,
             batch_size=2, checkpoint_every=4, proxy="params", seed=3,
             constraints=Constraints(params=3e5, resolution=16, num_classes=10))


class CtrlCAt:
    """A scorer that raises KeyboardInterrupt on its ``call``-th batch, as Ctrl-C would mid-scoring."""

    def __init__(self, inner, call: int) -> None:
        self.inner, self.call, self.calls = inner, call, 0

    def score(self, candidates, seeds):
        self.calls += 1
        if self.calls == self.call:
            raise KeyboardInterrupt
        return self.inner.score(candidates, seeds)


def _interrupt(settings: SearchSettings, out: Path, call: int) -> None:
    job = ScoreJob(settings.proxy, settings.resolution, settings.batch_size, settings.num_classes)
    with pytest.raises(SearchInterrupted) as stopped:
        plainnet_evolution(settings, out, None, CtrlCAt(InlineScorer(job), call)).run()
    assert "--resume" in str(stopped.value)


@pytest.mark.parametrize(("workers", "call"), [(1, 3), (1, 11), (2, 6)])
def test_ctrl_c_then_resume_writes_the_same_bytes_as_an_uninterrupted_run(tmp_path, workers, call) -> None:
    settings = SearchSettings(**{**SMALL, "workers": workers})
    clean = search(settings, tmp_path / "clean")
    _interrupt(settings, tmp_path / "stopped", call)
    checkpoint = json.loads((tmp_path / "stopped" / "checkpoint.json").read_text())
    rows = (tmp_path / "stopped" / "history.jsonl").read_text().splitlines()
    assert checkpoint["history_rows"] == len(rows)  # the state saved is that of the last completed batch
    assert checkpoint["iteration"] == json.loads(rows[-1])["iteration"] + 1
    resumed = search(settings, tmp_path / "stopped", resume=True)
    assert (tmp_path / "stopped" / "history.jsonl").read_bytes() == (tmp_path / "clean" / "history.jsonl").read_bytes()
    assert resumed["best"] == clean["best"]
    assert (tmp_path / "stopped" / "best_structure.txt").read_text() == \
        (tmp_path / "clean" / "best_structure.txt").read_text()


def test_the_best_so_far_is_written_at_every_checkpoint_and_an_interrupted_run_reports(tmp_path) -> None:
    settings = SearchSettings(**SMALL)
    out = tmp_path / "run"
    _interrupt(settings, out, 13)
    checkpoint = json.loads((out / "checkpoint.json").read_text())
    best = max(checkpoint["population"], key=lambda m: m["score"])
    assert (out / "best_structure.txt").read_text() == best["structure"] + "\n"
    written = json.loads((out / "best.json").read_text())
    assert (written["structure"], written["score"]) == (best["structure"], best["score"])
    done = checkpoint["iteration"]  # 12 batches; a batch proposes until a child passes the constraints
    assert written["after_iterations"] == done and 12 <= done < 30
    result = report_folder(out)
    assert result["iterations"] == done and result["best"]["structure"] == best["structure"]
    assert f"interrupted after {done} of 30 iterations" in (out / "report.md").read_text()


def test_search_reports_on_ctrl_c(tmp_path, monkeypatch) -> None:
    from zenbench.search import parallel

    calls = []

    def score(self, candidates, seeds):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return [(float(len(str(c))), None) for c in candidates]

    monkeypatch.setattr(parallel.InlineScorer, "score", score)
    with pytest.raises(SearchInterrupted):
        search(SearchSettings(**SMALL), tmp_path)
    assert "interrupted after" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "best_structure.txt").exists()


def test_a_search_where_every_candidate_is_rejected_says_what_to_relax(tmp_path) -> None:
    from zenbench.latency import LatencyTable

    table = LatencyTable.load(ROOT / "zenbench" / "latency_tables" / "cpu.parquet")
    settings = SearchSettings(**{**SMALL, "iterations": 1, "resolution": 32,
                                 "constraints": Constraints(latency_ms=-5, resolution=32, num_classes=10)})
    with pytest.raises(NoFeasibleCandidate, match="no candidate met the constraints") as caught:
        search(settings, tmp_path, table=table)
    assert "--latency-ms" in str(caught.value) and "latency_ms 1" in str(caught.value)
    assert "No candidate met the constraints" in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize("name", ["population", "iterations", "batch_size", "workers", "checkpoint_every"])
@pytest.mark.parametrize("value", [0, -1])
def test_nonsensical_settings_are_refused(name, value) -> None:
    with pytest.raises(SettingError, match=name) as caught:
        SearchSettings(**{**SMALL, name: value})
    assert isinstance(caught.value, ZenbenchError) and "1 or more" in str(caught.value)


def test_resume_refuses_a_changed_setting_and_a_fresh_run_refuses_a_used_folder(tmp_path) -> None:
    settings = SearchSettings(**{**SMALL, "iterations": 6})
    search(settings, tmp_path)
    with pytest.raises(ZenbenchError, match="--resume"):
        search(settings, tmp_path)
    with pytest.raises(ZenbenchError, match="proxy"):
        search(SearchSettings(**{**SMALL, "iterations": 6, "proxy": "zen"}), tmp_path, resume=True)
    longer = search(SearchSettings(**{**SMALL, "iterations": 9}), tmp_path, resume=True)  # iterations may grow
    assert longer["iterations"] == 9


_HOLD = """
import sys, time
from zenbench.fileio import FolderLock
FolderLock(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(600)
"""


def test_a_folder_in_use_is_refused_with_the_holder_pid_and_freed_when_it_is_killed(tmp_path) -> None:
    settings = SearchSettings(**{**SMALL, "iterations": 6})
    out = tmp_path / "run"
    search(SearchSettings(**{**SMALL, "iterations": 3}), out)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(out)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(FolderBusy, match=str(holder.pid)):
            search(settings, out, resume=True)
        with pytest.raises(FolderBusy):
            report_folder(out)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (out / ".zenbench.lock").read_text().strip() == str(holder.pid)  # stale, but it does not block
    assert search(settings, out, resume=True)["iterations"] == 6
    assert os.getpid() != holder.pid
