"""Device profiles: which runtime, precision, batch and threads a named device means.

Profiles are YAML files in ``device_profiles/`` (the project's, or one in the working directory,
or any path given as the device name). ``NAME:VARIANT`` selects a variant that overrides some
keys, e.g. ``t4:fp16``. A profile is read as UTF-8 and validated whole on load, its variants
included: every key's type and range, a known backend, and a plain ``name`` (it becomes a file
name, ``latency_tables/{name}.parquet``, so it can hold no path separator). Every problem is a
:class:`~zenbench.errors.ProfileError` naming the file and the key.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from zenbench.backends.base import BackendSettings, get_backend
from zenbench.errors import ProfileError, UnknownNameError
from zenbench.measure import TimingRules
from zenbench.space.limits import DEFAULT_LIMITS

#: the device profiles shipped with the package (a working directory's ``device_profiles/`` wins)
PROJECT_PROFILES = Path(__file__).resolve().parent / "device_profiles"
PRECISIONS = ("fp32", "fp16", "bf16", "int8")
SPACES = ("xxbl", "idw", "nb201")


#: the earlier name of :class:`~zenbench.errors.ProfileError`, kept for existing imports
DeviceProfileError = ProfileError
#: a profile's or a variant's name: a plain file-name stem (no path separators, no leading dot)
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
VARIANT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MAX_NAME_LENGTH = 64
MAX_PROFILE_BYTES = 1 * 2**20
MAX_THREADS = 1024


@dataclass(frozen=True)
class SpaceTarget:
    space: str
    resolution: int


@dataclass(frozen=True)
class DeviceProfile:
    """A validated device profile (see :func:`parse_profile`); ``source`` is the file it came from."""

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
    if not (path.suffix in (".yaml", ".yml") and _is_file(path)):
        files = profile_files()
        if base not in files:
            raise UnknownNameError("device", base, files) from None
        path = files[base]
    profile = parse_profile(path)
    if variant:
        if variant not in profile.variants:
            known = ", ".join(f"{profile.name}:{v}" for v in profile.variants) or "none"
            raise ProfileError(f"device {profile.name!r} has no variant {variant!r} (variants: {known})")
        overrides = profile.variants[variant]
        values = _validated(overrides, path, partial=True, prefix=f"variants.{variant}.")
        profile = replace(profile, name=f"{profile.name}:{variant}", **values)
    return profile


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name the OS cannot look up (too long, NUL bytes)
        return False


def read_profile_text(path: Path) -> str:
    """The file's text, decoded as UTF-8; a :class:`ProfileError` naming the file otherwise."""
    try:
        if path.stat().st_size > MAX_PROFILE_BYTES:
            raise ProfileError(f"{path}: over {MAX_PROFILE_BYTES // 2**20} MiB; a device profile is a short YAML file")
        data = path.read_bytes()
    except OSError as error:
        raise ProfileError(f"{path}: cannot be read ({error.strerror or error})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ProfileError(f"{path}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
                           "save it as UTF-8") from None


def parse_profile(path: Path) -> DeviceProfile:
    """Read and validate one profile file, its variants included."""
    path = Path(path)
    text = read_profile_text(path)
    try:
        raw = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError, ValueError) as error:
        raise ProfileError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: expected a mapping of keys (name, backend, precision, batch, …)")
    values = _validated(raw, path, partial=False)
    for variant, overrides in values.get("variants", {}).items():
        _validated(overrides, path, partial=True, prefix=f"variants.{variant}.")
    return DeviceProfile(source=str(path), **values)


_REQUIRED = ("name", "backend", "precision", "batch")
_KNOWN = {"name", "description", "backend", "precision", "batch", "per_image", "threads", "options", "spaces", "timing",
          "variants"}
_NOT_IN_VARIANTS = {"name", "variants"}
_SCALARS = (str, int, float, bool, type(None))
_AT_LEAST_ONE = {"min_runs", "max_runs", "rounds", "network_rounds", "network_min_runs"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validated(raw: dict[Any, Any], path: Path, partial: bool, prefix: str = "") -> dict[str, Any]:
    """The constructor arguments of a profile (all of them, or a variant's overrides if ``partial``)."""

    def fail(key: object, problem: str) -> ProfileError:
        return ProfileError(f"{path}: key {prefix + str(key)!r}: {problem}")

    for key in raw:
        if not isinstance(key, str) or key not in _KNOWN:
            raise fail(key, f"unknown key; known keys: {', '.join(sorted(_KNOWN))}")
        if partial and key in _NOT_IN_VARIANTS:
            raise fail(key, "a variant cannot change it")
    if not partial:
        for key in _REQUIRED:
            if key not in raw:
                raise fail(key, "missing")
    out: dict[str, Any] = {}
    if "name" in raw:
        name = raw["name"]
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
            raise fail("name", f"must be a plain name of at most {MAX_NAME_LENGTH} characters (letters, digits, "
                               f"'.', '_', ':', '-'; starting with a letter or digit), got {name!r}")
        out["name"] = name
    if "description" in raw or not partial:
        description = raw.get("description", "")
        if not isinstance(description, str):
            raise fail("description", f"must be a string, got {description!r}")
        out["description"] = description
    if "backend" in raw:
        out["backend"] = _backend(raw["backend"], fail)
    if "precision" in raw:
        if not isinstance(raw["precision"], str) or raw["precision"] not in PRECISIONS:
            raise fail("precision", f"{raw['precision']!r} is not one of {', '.join(PRECISIONS)}")
        out["precision"] = raw["precision"]
    if "batch" in raw:
        batch = raw["batch"]
        if not _is_int(batch) or not 1 <= batch <= DEFAULT_LIMITS.max_batch:
            raise fail("batch", f"must be a positive integer up to {DEFAULT_LIMITS.max_batch}, got {batch!r}")
        out["batch"] = batch
    if "per_image" in raw or not partial:
        per_image = raw.get("per_image", False)
        if not isinstance(per_image, bool):
            raise fail("per_image", "must be true or false")
        out["per_image"] = per_image
    if "threads" in raw or not partial:
        threads = raw.get("threads")
        if threads == "auto":
            threads = os.cpu_count() or 1
        if threads is not None and (not _is_int(threads) or not 1 <= threads <= MAX_THREADS):
            raise fail("threads", f"must be a positive integer up to {MAX_THREADS}, 'auto' or null, got {threads!r}")
        out["threads"] = threads
    if "options" in raw or not partial:
        out["options"] = _options(raw.get("options") or {}, fail)
    if "spaces" in raw or not partial:
        out["spaces"] = _spaces(raw.get("spaces") or [], fail)
    if "timing" in raw or not partial:
        out["timing"] = _timing(raw.get("timing") or {}, fail)
    if "variants" in raw:
        variants = raw["variants"]
        if not isinstance(variants, dict) or not all(
                isinstance(k, str) and VARIANT_PATTERN.fullmatch(k) and isinstance(v, dict) for k, v in variants.items()):
            raise fail("variants", "must map a plain variant name (letters, digits, '.', '_', '-') to the keys it "
                                   "overrides")
        out["variants"] = variants
    return out


def _backend(backend: Any, fail: Any) -> str:
    import zenbench.backends  # noqa: F401  (registers every backend)
    from zenbench.backends.base import BACKENDS

    if not isinstance(backend, str) or backend not in BACKENDS:
        raise fail("backend", f"{backend!r} is not a backend; known: {', '.join(BACKENDS.names())}")
    return backend


def _options(options: Any, fail: Any) -> dict[str, Any]:
    if not isinstance(options, dict):
        raise fail("options", "must be a mapping")
    for key, value in options.items():
        if not isinstance(key, str):
            raise fail("options", f"option names must be strings, got {key!r}")
        if key == "quantization":  # the one structured option: how an int8 device quantises its graphs
            from zenbench.backends.quantization import QuantizationSettings
            from zenbench.errors import SettingError

            try:
                QuantizationSettings.from_options(options)
            except (SettingError, TypeError) as error:
                raise fail("options.quantization", str(error)) from None
            continue
        if not isinstance(value, _SCALARS) or (isinstance(value, float) and not math.isfinite(value)):
            raise fail(f"options.{key}", f"must be a string, number, true/false or null, got {value!r}")
    return options


def _spaces(entries: Any, fail: Any) -> tuple[SpaceTarget, ...]:
    if not isinstance(entries, list):
        raise fail("spaces", "must be a list of {space, resolution} entries")
    spaces = []
    limit = DEFAULT_LIMITS.max_resolution
    for entry in entries:
        if (not isinstance(entry, dict) or set(entry) != {"space", "resolution"} or entry["space"] not in SPACES
                or not _is_int(entry["resolution"]) or not 1 <= entry["resolution"] <= limit):
            raise fail("spaces", f"each entry needs space ({', '.join(SPACES)}) and an integer resolution from 1 to "
                                 f"{limit}, got {entry!r}")
        spaces.append(SpaceTarget(entry["space"], entry["resolution"]))
    return tuple(spaces)


def _timing(timing: Any, fail: Any) -> TimingRules:
    defaults = {f.name: f.default for f in fields(TimingRules)}
    if not isinstance(timing, dict) or not all(isinstance(k, str) and k in defaults for k in timing):
        raise fail("timing", f"must be a mapping with keys among {', '.join(sorted(defaults))}")
    for key, value in timing.items():
        whole = _is_int(defaults[key])
        number = _is_int(value) or (not whole and isinstance(value, float) and math.isfinite(value))
        least = 1 if key in _AT_LEAST_ONE else 0
        if not number or value < least:
            kind = "an integer" if whole else "a number"
            raise fail(f"timing.{key}", f"must be {kind} of at least {least}, got {value!r}")
    return TimingRules(**timing)
