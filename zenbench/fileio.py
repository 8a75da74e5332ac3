"""Files that are never left half-written, append-only journals, and locks on results folders.

Atomic writes go to a temporary file, fsync, rename over the target; a journal is appended row by
row and fsynced; a folder lock keeps two runs from writing one results folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file 0600; the result should carry the permissions any new file would
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


class Journal:
    """The append-only JSONL file every resumable job writes its rows to, one JSON object a line.

    Rows are appended and fsynced as they are made, so a job killed at any moment loses at most
    the line it was writing; that cut-short last line is ignored by :meth:`records` and dropped
    before the next append. A job resumes by :meth:`truncate`-ing the journal back to the number
    of rows its checkpoint counted, then appending again: the file's bytes are then exactly those
    of an uninterrupted run (rows are written with ``json.dumps``' default separators).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _complete_lines(self) -> list[str]:
        if not self.path.exists():
            return []
        lines = self.path.read_text().splitlines(keepends=True)
        return [line for line in lines if line.endswith("\n")]  # only the last line can lack its newline

    def records(self) -> list[dict[str, Any]]:
        """Every complete row, in order (a last line cut short by a kill is skipped)."""
        rows = []
        for number, line in enumerate(self._complete_lines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                from zenbench.errors import ZenbenchError

                raise ZenbenchError(f"{self.path} line {number} is not JSON ({error.msg}); the file was edited or "
                                    f"damaged: restore it or start the job in a new folder") from None
        return rows

    def __len__(self) -> int:
        return sum(1 for line in self._complete_lines() if line.strip())

    def append(self, record: dict[str, Any]) -> None:
        """Add one row, flushed and fsynced before returning."""
        self.extend([record])

    def extend(self, records: Iterable[dict[str, Any]]) -> None:
        """Add rows, one JSON line each, flushed and fsynced once before returning."""
        text = "".join(json.dumps(record) + "\n" for record in records)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_partial_tail()
        with self.path.open("a") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    def truncate(self, n: int) -> int:
        """Keep the first ``n`` complete rows (atomically); returns how many are kept (fewer if the file has fewer)."""
        lines = [line for line in self._complete_lines() if line.strip()][:n]
        atomic_write_text(self.path, "".join(lines))
        return len(lines)

    def _drop_partial_tail(self) -> None:
        """Cut a last line left without its newline by a killed writer, so the next row starts on its own line."""
        if not self.path.exists():
            return
        with self.path.open("rb+") as f:
            size = f.seek(0, os.SEEK_END)
            if size == 0:
                return
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return
            f.seek(0)
            data = f.read()
            f.truncate(data.rfind(b"\n") + 1)
            f.flush()
            os.fsync(f.fileno())

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"


LOCK_NAME = ".zenbench.lock"


class FolderLock:
    """An exclusive OS lock (``fcntl.flock``) on a results folder, held while a run writes there.

    Two runs writing one folder would interleave their journals and checkpoints; the second is
    refused with :class:`~zenbench.errors.FolderBusy` naming the holder's PID. The lock belongs
    to the open file, so the OS releases it when the holder exits or is killed: a lock file left
    by a SIGKILLed run never blocks a resume (the file stays; only the lock on it matters).
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        import fcntl

        from zenbench.errors import FolderBusy

        if self._fd is not None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            os.close(fd)
            raise FolderBusy(self.folder, int(holder) if holder.isdigit() else None) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        import fcntl

        if self._fd is None:
            return
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


#: the most bytes of images read from one ``.npy`` file (as float32), whatever the file holds
MAX_IMAGE_BYTES = 1 << 30


def read_npy_images(path: Path, *, option: str, expected: str, fits: Any, kinds: str, limit: int) -> Any:
    """The first ``limit`` images of a user's ``.npy`` file as a float32 array, read memory-mapped so that
    nothing beyond them is loaded. ``fits(shape)`` says whether the array's shape is acceptable (``expected``
    describes it in the error), ``kinds`` the accepted dtype kinds (numpy's ``dtype.kind``); every refusal
    is a :class:`~zenbench.errors.SettingError` that names ``option``, raised before the copy is allocated."""
    import numpy as np

    from zenbench.errors import SettingError

    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise SettingError(f"{option} {path}: not a readable .npy array ({error}); save the images with "
                           f"numpy.save as {expected}") from None
    if array.ndim != 4 or array.shape[0] < 1 or not fits(tuple(array.shape)):
        raise SettingError(f"{option} {path}: shape {tuple(array.shape)}; expected {expected}")
    if array.dtype.kind not in kinds:
        raise SettingError(f"{option} {path}: dtype {array.dtype}; expected {expected}")
    count = min(limit, array.shape[0])
    if count * int(np.prod(array.shape[1:])) * 4 > MAX_IMAGE_BYTES:
        raise SettingError(f"{option} {path}: {count} images of shape {tuple(array.shape[1:])} exceed "
                           f"{MAX_IMAGE_BYTES >> 20} MiB; pass fewer or smaller images")
    picked = np.array(array[:count], dtype=np.float32)  # a copy: the file stays untouched
    if not np.isfinite(picked).all():
        raise SettingError(f"{option} {path}: holds NaN or infinite values")
    return picked
