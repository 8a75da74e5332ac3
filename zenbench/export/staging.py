"""An export's artifact and its manifest reach their folder as a pair, never one without the other's truth.

An export writes everything into a staging folder inside the output folder (same file system, so
a rename moves a file atomically): the artifact, then, once the parity check and any timing are
done, the manifest. A manifest in a staging folder therefore marks a finished export. Committing
moves the pair out in an order that keeps every manifest true at every instant:

1. the old manifest of that artifact is removed (it would describe a file about to be replaced);
2. the new artifact is renamed over the old one;
3. the new manifest is renamed into place.

An export killed before step 1 leaves the old pair untouched (and a staging folder that the next
export in that folder removes). One killed between steps 1 and 3 leaves an artifact without a
manifest, never a manifest beside a file it does not describe; :func:`recover` (run at the start
of every export into the folder) finishes such a commit from the staging folder, giving the new
pair. Commits and recovery hold the folder's lock (``fileio.FolderLock``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from zenbench.fileio import FolderLock

STAGING_PREFIX = ".zenbench-export-"
MANIFEST_SUFFIX = ".manifest.json"


def manifest_path(artifact: Path) -> Path:
    """Where the manifest of ``artifact`` lives: beside it, named after it."""
    return artifact.with_name(artifact.name + MANIFEST_SUFFIX)


def stage(out_dir: Path) -> Path:
    """A new, empty staging folder inside ``out_dir``, named after this process (see :func:`recover`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=out_dir))


def discard(staging: Path) -> None:
    """Remove a staging folder whose export did not finish."""
    shutil.rmtree(staging, ignore_errors=True)


def commit(staging: Path, out_dir: Path) -> list[Path]:
    """Move every finished artifact (one with its manifest) from ``staging`` into ``out_dir``, manifest last;
    returns the artifacts' new paths. The staging folder is removed afterwards."""
    with FolderLock(out_dir):
        return _commit(staging, out_dir)


def recover(out_dir: Path) -> list[Path]:
    """Finish the commits that killed exports left in ``out_dir`` and remove the staging folders of exports
    that died before finishing; returns the artifacts whose commit was finished."""
    if not out_dir.is_dir():
        return []
    finished: list[Path] = []
    with FolderLock(out_dir):
        for staging in sorted(out_dir.glob(STAGING_PREFIX + "*")):
            if not staging.is_dir():
                continue
            if any(staging.glob("*" + MANIFEST_SUFFIX)):
                finished += _commit(staging, out_dir)  # a finished export: its pair belongs in the folder
            elif not _owner_alive(staging):
                discard(staging)  # an export killed before its manifest: nothing of it may be shown
    return finished


def _commit(staging: Path, out_dir: Path) -> list[Path]:
    moved = []
    for manifest in sorted(staging.glob("*" + MANIFEST_SUFFIX)):
        name = manifest.name[: -len(MANIFEST_SUFFIX)]
        target = out_dir / name
        manifest_path(target).unlink(missing_ok=True)  # first: an old manifest never describes the new file
        _fsync_dir(out_dir)
        source = staging / name
        if source.exists():  # absent when a killed commit had already moved it
            _fsync_file(source)
            os.replace(source, target)
        _fsync_file(manifest)
        os.replace(manifest, manifest_path(target))
        _fsync_dir(out_dir)
        moved.append(target)
    discard(staging)
    return moved


def _owner_alive(staging: Path) -> bool:
    """Whether the process that made ``staging`` still runs (then its export may still be writing there)."""
    digits = staging.name[len(STAGING_PREFIX):].split("-", 1)[0]
    if not digits.isdigit():
        return False
    pid = int(digits)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_file(path: Path) -> None:
    """Flush a file a converter wrote (torch.onnx, ONNX Runtime, TensorRT) before it is renamed into place."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (a no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
