"""An export killed at any point leaves its folder's old artifact/manifest pair or the new one, and a
manifest never describes a file it did not write."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zenbench.export import export, staging
from zenbench.space.spec import NetworkSpec

SMALL = NetworkSpec.parse("SuperConvK3BNRELU(3,8,2,1)SuperResK1K3K1(8,16,2,8,1)SuperConvK1BNRELU(16,32,1,1)")
OTHER = NetworkSpec.parse("SuperConvK3BNRELU(3,8,2,1)SuperResK3K3(8,16,2,8,1)SuperConvK1BNRELU(16,32,1,1)")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pairs(folder: Path) -> dict[str, str]:
    """Every manifest in ``folder`` -> the structure it records, after checking that it describes its file."""
    found = {}
    for manifest in folder.glob("*" + staging.MANIFEST_SUFFIX):
        data = json.loads(manifest.read_text())
        artifact = folder / data["file"]
        assert artifact.exists(), f"{manifest.name} describes a missing file"
        assert sha(artifact) == data["sha256"], f"{manifest.name} describes a file it did not write"
        found[data["file"]] = data["structure"]
    return found


def test_an_export_interrupted_after_its_artifact_keeps_the_old_pair(monkeypatch, tmp_path) -> None:
    import zenbench.export as export_module

    export(SMALL, "onnx", out_dir=tmp_path, resolution=32, num_classes=10)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if not p.name.startswith(".")}
    written = []

    def interrupted(artifact, reference, precision):  # the artifact exists; the manifest is not yet written
        written.extend(p.name for p in tmp_path.glob(".zenbench-export-*/*.onnx"))
        raise KeyboardInterrupt

    monkeypatch.setattr(export_module, "compare", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export(OTHER, "onnx", out_dir=tmp_path, resolution=32, num_classes=10)
    assert written == ["model.onnx"]  # the interruption came after the new artifact was written
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if not p.name.startswith(".")}
    assert after == before and pairs(tmp_path) == {"model.onnx": str(SMALL)}
    assert not list(tmp_path.glob(staging.STAGING_PREFIX + "*"))


def staged(out_dir: Path, name: str, content: bytes, structure: str) -> Path:
    folder = staging.stage(out_dir)
    (folder / name).write_bytes(content)
    manifest = {"file": name, "sha256": hashlib.sha256(content).hexdigest(), "structure": structure}
    staging.manifest_path(folder / name).write_text(json.dumps(manifest))
    return folder


def test_a_commit_killed_between_artifact_and_manifest_is_finished_by_recover(monkeypatch, tmp_path) -> None:
    staging.commit(staged(tmp_path, "model.onnx", b"old", "old"), tmp_path)
    assert pairs(tmp_path) == {"model.onnx": "old"}
    folder = staged(tmp_path, "model.onnx", b"new", "new")
    real_replace = os.replace

    def killed_at_the_manifest(src, dst):
        if str(dst).endswith(staging.MANIFEST_SUFFIX):
            raise KeyboardInterrupt  # as if killed here: the new artifact is in place, its manifest is not
        real_replace(src, dst)

    monkeypatch.setattr(staging.os, "replace", killed_at_the_manifest)
    with pytest.raises(KeyboardInterrupt):
        staging.commit(folder, tmp_path)
    assert (tmp_path / "model.onnx").read_bytes() == b"new"
    assert pairs(tmp_path) == {}  # the old manifest went first: it does not describe the new file
    monkeypatch.setattr(staging.os, "replace", real_replace)
    assert staging.recover(tmp_path) == [tmp_path / "model.onnx"]
    assert pairs(tmp_path) == {"model.onnx": "new"} and not list(tmp_path.glob(staging.STAGING_PREFIX + "*"))


def test_recover_clears_dead_exports_and_leaves_live_ones(tmp_path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    unfinished = tmp_path / f"{staging.STAGING_PREFIX}{int(dead.stdout)}-x"
    unfinished.mkdir()
    (unfinished / "model.onnx").write_bytes(b"half")
    live = tmp_path / f"{staging.STAGING_PREFIX}{os.getppid()}-y"  # another process, still exporting
    live.mkdir()
    assert staging.recover(tmp_path) == []
    assert not unfinished.exists() and live.exists()
    assert not (tmp_path / "model.onnx").exists()


def test_an_oversize_export_is_refused_before_anything_is_built_or_written(tmp_path) -> None:
    from zenbench.errors import LimitError

    huge = NetworkSpec.parse("SuperConvK3BNRELU(3,8,2,1)SuperResK3K3(8,30000,1,30000,1)SuperConvK1BNRELU(30000,32,1,1)")
    with pytest.raises(LimitError):
        export(huge, "onnx", out_dir=tmp_path / "out", resolution=224, num_classes=10)
    assert not (tmp_path / "out").exists()
