"""Device profiles: which runtime, precision, batch and threads a named device means.

Profiles are YAML files in ``device_profiles/`` (the project's, or one in the working directory,
or any path given as the device name). ``NAME:VARIANT`` selects a variant that overrides some
keys, e.g. ``t4:fp16``. Validation names the file and the key that is wrong.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from zenbench.backends.base import BackendSettings, get_backend
from zenbench.errors import UnknownNameError, ZenbenchError
from zenbench.measure import TimingRules

PROJECT_PROFILES = Path(__file__).resolve().parent.parent / "device_profiles"
PRECISIONS = ("fp32", "fp16", "bf16", "int8")
SPACES = ("xxbl", "idw", "nb201")


class DeviceProfileError(ZenbenchError):
    """A device profile that does not validate."""


@dataclass(frozen=True)
class SpaceTarget:
    space: str
    resolution: int


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    description: str
    backend: str
    precision: str
    batch: int
    per_image: bool
    threads: int | None
    options: dict[str, Any] = field(default_factory=dict)
    spaces: tuple[SpaceTarget, ...] = ()
    timing: TimingRules = field(default_factory=TimingRules)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = ""

    @property
    def settings(self) -> BackendSettings:
        return BackendSettings(precision=self.precision, batch=self.batch, threads=self.threads, options=self.options)

    def availability(self) -> str | None:
        """None if this device can be used here, else why not (from the backend)."""
        return get_backend(self.backend).available(self.settings)

    def describe(self) -> dict[str, Any]:
        return {"device": self.name, "backend": self.backend, "precision": self.precision, "batch": self.batch,
                "per_image": self.per_image, "threads": self.threads, "options": self.options}


def profile_dirs() -> list[Path]:
    dirs = []
    if env := os.environ.get("ZENBENCH_DEVICE_PROFILES"):
        dirs.append(Path(env))
    dirs += [Path.cwd() / "device_profiles", PROJECT_PROFILES]
    seen: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in seen:
            seen.append(d.resolve())
    return seen


def profile_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in reversed(profile_dirs()):  # earlier directories win
        for path in sorted(d.glob("*.yaml")):
            found[path.stem] = path
    return found


def list_devices() -> list[str]:
    return sorted(profile_files())


def load_device(name: str) -> DeviceProfile:
    """A profile by name (``cpu``, ``t4:fp16``) or by path to a YAML file."""
    base, _, variant = name.partition(":")
    path = Path(base)
    if not (path.suffix in (".yaml", ".yml") and path.is_file()):
        files = profile_files()
        if base not in files:
            raise UnknownNameError("device", base, files) from None
        path = files[base]
    profile = parse_profile(path)
    if variant:
        if variant not in profile.variants:
            known = ", ".join(f"{profile.name}:{v}" for v in profile.variants) or "none"
            raise DeviceProfileError(f"device {profile.name!r} has no variant {variant!r} (variants: {known})")
        overrides = profile.variants[variant]
        profile = replace(profile, name=f"{profile.name}:{variant}", **_validated(overrides, path, partial=True))
    return profile


def parse_profile(path: Path) -> DeviceProfile:
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise DeviceProfileError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise DeviceProfileError(f"{path}: expected a mapping of keys (name, backend, precision, batch, …)")
    values = _validated(raw, path, partial=False)
    return DeviceProfile(source=str(path), **values)


_REQUIRED = ("name", "backend", "precision", "batch")
_KNOWN = {"name", "description", "backend", "precision", "batch", "per_image", "threads", "options", "spaces", "timing",
          "variants"}


def _validated(raw: dict[str, Any], path: Path, partial: bool) -> dict[str, Any]:
    def fail(key: str, problem: str) -> DeviceProfileError:
        return DeviceProfileError(f"{path}: key {key!r}: {problem}")

    unknown = set(raw) - _KNOWN
    if unknown:
        raise fail(sorted(unknown)[0], f"unknown key; known keys: {', '.join(sorted(_KNOWN))}")
    if not partial:
        for key in _REQUIRED:
            if key not in raw:
                raise fail(key, "missing")
    out: dict[str, Any] = {}
    if "name" in raw:
        if not isinstance(raw["name"], str) or not raw["name"]:
            raise fail("name", "must be a non-empty string")
        out["name"] = raw["name"]
    if "description" in raw or not partial:
        out["description"] = str(raw.get("description", ""))
    if "backend" in raw:
        import zenbench.backends  # noqa: F401
        from zenbench.backends.base import BACKENDS

        if raw["backend"] not in BACKENDS:
            raise fail("backend", f"{raw['backend']!r} is not a backend; known: {', '.join(BACKENDS.names())}")
        out["backend"] = raw["backend"]
    if "precision" in raw:
        if raw["precision"] not in PRECISIONS:
            raise fail("precision", f"{raw['precision']!r} is not one of {', '.join(PRECISIONS)}")
        out["precision"] = raw["precision"]
    if "batch" in raw:
        if not isinstance(raw["batch"], int) or isinstance(raw["batch"], bool) or raw["batch"] < 1:
            raise fail("batch", f"must be a positive integer, got {raw['batch']!r}")
        out["batch"] = raw["batch"]
    if "per_image" in raw or not partial:
        per_image = raw.get("per_image", False)
        if not isinstance(per_image, bool):
            raise fail("per_image", "must be true or false")
        out["per_image"] = per_image
    if "threads" in raw or not partial:
        threads = raw.get("threads")
        if threads == "auto":
            threads = os.cpu_count() or 1
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise fail("threads", f"must be a positive integer, 'auto' or null, got {threads!r}")
        out["threads"] = threads
    if "options" in raw or not partial:
        options = raw.get("options") or {}
        if not isinstance(options, dict):
            raise fail("options", "must be a mapping")
        out["options"] = options
    if "spaces" in raw or not partial:
        spaces = []
        for entry in raw.get("spaces") or []:
            if not isinstance(entry, dict) or entry.get("space") not in SPACES or not isinstance(entry.get("resolution"), int):
                raise fail("spaces", f"each entry needs space ({', '.join(SPACES)}) and an integer resolution, got {entry!r}")
            spaces.append(SpaceTarget(entry["space"], entry["resolution"]))
        out["spaces"] = tuple(spaces)
    if "timing" in raw or not partial:
        timing = raw.get("timing") or {}
        names = {f.name for f in fields(TimingRules)}
        if not isinstance(timing, dict) or set(timing) - names:
            raise fail("timing", f"must be a mapping with keys among {', '.join(sorted(names))}")
        out["timing"] = TimingRules(**timing)
    if "variants" in raw:
        if not isinstance(raw["variants"], dict):
            raise fail("variants", "must map a variant name to the keys it overrides")
        out["variants"] = raw["variants"]
    return out
