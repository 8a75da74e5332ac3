"""Atomic writes leave either the old file or the new one, with a new file's usual permissions."""

from __future__ import annotations

import os
import stat

import pytest

from zenbench.fileio import atomic_write_bytes, atomic_write_text


def test_atomic_write_replaces_and_takes_the_umask_permissions(tmp_path) -> None:
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "sub" / "table.json", "first")
        atomic_write_text(path, "second")
    finally:
        os.umask(old)
    assert path.read_text() == "second"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # mkstemp alone would leave 0600: unreadable to others
    assert [p.name for p in path.parent.iterdir()] == ["table.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path) -> None:
    path = atomic_write_text(tmp_path / "table.json", "kept")
    with pytest.raises(TypeError):
        atomic_write_bytes(path, object())  # type: ignore[arg-type]
    assert path.read_text() == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["table.json"]


# ---------------------------------------------------------------------------------------------- Journal


def test_journal_appends_reads_and_truncates(tmp_path) -> None:
    from zenbench.fileio import Journal

    journal = Journal(tmp_path / "run" / "history.jsonl")
    assert journal.records() == [] and len(journal) == 0
    journal.append({"i": 0, "x": None})
    journal.extend([{"i": 1}, {"i": 2, "s": "a b"}])
    assert journal.records() == [{"i": 0, "x": None}, {"i": 1}, {"i": 2, "s": "a b"}]
    assert len(journal) == 3
    # json.dumps' default separators: the bytes a resumed run must reproduce
    assert journal.path.read_text().splitlines()[0] == '{"i": 0, "x": null}'
    assert journal.truncate(2) == 2
    assert journal.records() == [{"i": 0, "x": None}, {"i": 1}]
    assert journal.truncate(10) == 2
    assert [p.name for p in journal.path.parent.iterdir()] == ["history.jsonl"]


def test_journal_skips_and_drops_a_line_cut_short_by_a_kill(tmp_path) -> None:
    from zenbench.fileio import Journal

    journal = Journal(tmp_path / "history.jsonl")
    journal.extend([{"i": 0}, {"i": 1}])
    with journal.path.open("a") as f:
        f.write('{"i": 2, "trunc')  # a writer killed mid-line
    assert journal.records() == [{"i": 0}, {"i": 1}] and len(journal) == 2
    journal.append({"i": 2})
    assert journal.path.read_text() == '{"i": 0}\n{"i": 1}\n{"i": 2}\n'


def test_journal_names_a_damaged_line(tmp_path) -> None:
    from zenbench.errors import ZenbenchError
    from zenbench.fileio import Journal

    path = tmp_path / "history.jsonl"
    path.write_text('{"i": 0}\nnot json\n{"i": 2}\n')
    with pytest.raises(ZenbenchError, match="line 2"):
        Journal(path).records()


# ---------------------------------------------------------------------------------------------- FolderLock

_HOLD = """
import sys, time
from zenbench.fileio import FolderLock
lock = FolderLock(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(600)
"""


def _holder(folder):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_holder_is_refused_with_the_pid_and_a_killed_holder_frees_the_folder(tmp_path) -> None:
    import signal

    from zenbench.errors import FolderBusy, ZenbenchError
    from zenbench.fileio import FolderLock

    proc = _holder(tmp_path / "out")
    try:
        with pytest.raises(FolderBusy) as caught:
            FolderLock(tmp_path / "out").acquire()
        assert isinstance(caught.value, ZenbenchError)
        assert caught.value.pid == proc.pid
        assert str(proc.pid) in str(caught.value)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert (tmp_path / "out" / ".zenbench.lock").exists()  # the stale file stays; it must not block
    with FolderLock(tmp_path / "out") as lock:
        assert lock.held
        assert (tmp_path / "out" / ".zenbench.lock").read_text().strip() == str(os.getpid())
    assert not lock.held


def test_a_lock_is_exclusive_within_one_process_and_released_on_exit(tmp_path) -> None:
    import pickle

    from zenbench.errors import FolderBusy
    from zenbench.fileio import FolderLock

    with FolderLock(tmp_path):
        with pytest.raises(FolderBusy, match=str(os.getpid())) as caught:
            FolderLock(tmp_path).acquire()
        assert pickle.loads(pickle.dumps(caught.value)).pid == os.getpid()
    with FolderLock(tmp_path):
        pass
