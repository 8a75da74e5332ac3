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
