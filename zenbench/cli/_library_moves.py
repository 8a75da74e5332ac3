"""Library work the CLI used to do inline, kept callable from Python until it moves to its library module.

Each function's docstring names the module it belongs to; the lead moves them at merge and the CLI then
imports them from there. Nothing here prints.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zenbench.errors import ZenbenchError


def load_device_table(device: str, table: Path | None = None, force: bool = False) -> tuple[Any, Any, list[str]]:
    """Load ``device``'s profile and latency table (``table`` or the device's default), refusing a table
    measured under other settings unless ``force``; also return how the host the table was profiled on
    differs from this one (empty for a phone or remote device, whose table does not describe this host).

    Belongs in ``zenbench.latency`` (table loading for a device).
    """
    from zenbench.backends.base import get_backend
    from zenbench.devices import load_device
    from zenbench.measure import host_differences
    from zenbench.profile import default_table_path
    from zenbench.tables import LatencyTable

    profile = load_device(device)
    path = table if table is not None else default_table_path(profile.name)
    loaded = LatencyTable.load(path, expect=profile.describe(), force=force)
    differences: list[str] = []
    if get_backend(profile.backend).shared_host:
        differences = host_differences(loaded.metadata.get("environment") or {})
    return profile, loaded, differences


def choose_preset(preset: str | None, *, latency_ms: float | None, macs: float | None, params: float | None) -> Any:
    """The paper preset a search starts from: ``preset`` by name, else 'cifar-params1M' when only a
    parameter budget is given, else 'imagenet-latency'.

    Belongs in ``zenbench.search.presets``.
    """
    from zenbench.search.presets import get_preset

    if preset is not None:
        return get_preset(preset)
    only_params = params is not None and latency_ms is None and macs is None
    return get_preset("cifar-params1M" if only_params else "imagenet-latency")


def default_search_folder(latency_ms: float | None, flops: str | None, params: str | None, seed: int) -> Path:
    """``runs/search-BUDGET-sSEED``, BUDGET being the latency in ms, else the MACs or params text, else 'free'.

    Belongs in ``zenbench.search``.
    """
    budget = f"{latency_ms:g}ms" if latency_ms is not None else (flops or params or "free")
    return Path("runs") / f"search-{budget}-s{seed}"


def write_nb201_results(folder: Path, result: dict[str, Any]) -> None:
    """Write an NB201 search's ``best_cell.txt`` (when a cell met the budget) and ``history.json``, atomically.

    Belongs in ``zenbench.search.nb201`` (the NB201 search adapter).
    """
    from zenbench.fileio import atomic_write_text

    if result["best"]:
        atomic_write_text(folder / "best_cell.txt", result["best"]["arch"] + "\n")
    atomic_write_text(folder / "history.json", json.dumps(result["history"]))


@dataclass(frozen=True)
class SearchRun:
    """What export needs from a search's results folder: the winner's file and the run's settings."""

    structure_file: Path
    resolution: int | None
    num_classes: int | None
    latency_ms: float | None


def read_search_run(folder: Path) -> SearchRun | None:
    """The search run in ``folder`` (its best structure and checkpoint.json settings), or None when
    ``folder`` is not a search's results folder. A damaged checkpoint is a ZenbenchError.

    Belongs in ``zenbench.search`` (reading a run folder).
    """
    best = folder / "best_structure.txt"
    if not (folder.is_dir() and best.exists()):
        return None
    settings: dict[str, Any] = {}
    checkpoint = folder / "checkpoint.json"
    if checkpoint.exists():
        try:
            data = json.loads(checkpoint.read_text(encoding="utf-8"))
            settings = data["settings"]
            if not isinstance(settings, dict):
                raise TypeError("settings is not an object")
        except (ValueError, KeyError, TypeError) as error:
            raise ZenbenchError(f"{checkpoint} is damaged ({error}); pass --resolution and --num-classes, "
                                f"or export {best} directly") from None
    latency = (settings.get("constraints") or {}).get("latency_ms")
    return SearchRun(best, settings.get("resolution"), settings.get("num_classes"), latency)


def calibration_text(cal: dict[str, Any]) -> str:
    """A table's whole-network calibration as the formula a reader would write; terms the fit drove to
    zero are left out.

    Belongs in ``zenbench.latency.calibration`` as ``Calibration.__str__``.
    """
    form, n = cal.get("form", "?"), cal.get("n", "?")
    loo = (cal.get("loo_mape") or {}).get(form)
    fitted = (f"{'the plain sum' if form == 'none' else 'form ' + form}, fitted on {n} networks"
              + (f", leave-one-out {loo:.1%}" if loo is not None else ""))
    linear = "Σ unit ms" if form.split("+")[0] == "none" else _linear_text(cal)
    if cal.get("power") is None:
        return f"latency = {linear} ({fitted})"
    factor = math.exp(cal["power_shift"])
    return (f"latency = L x {factor:.3g} x (L / {cal['power_ref_ms']:.3g} ms)^{cal['power']:.3g}, L = {linear} "
            f"({fitted})")


def _linear_text(cal: dict[str, Any]) -> str:
    scale = cal["b"]
    tied = bool(cal.get("tied"))  # a = c: one call's cost per network, counted once per unit in the sum
    terms = [f"{cal['a']:.3g} ms"] if abs(cal["a"]) >= 5e-4 and not tied else []
    if isinstance(scale, dict):
        terms += [f"{b:.3g} x Σ {group} ms" for group, b in scale.items()]
    else:
        terms.append(f"{scale:.3g} x Σ unit ms")
    text = " + ".join(terms)
    if cal.get("c", 0.0) >= 5e-5:  # under 0.05 µs per unit: nothing a timer can see
        text += f" - {cal['c']:.3g} ms x (units - 1)" if tied else f" - {cal['c']:.3g} ms x units"
    if cal.get("d") and cal.get("weight_term") == "refetched":
        text += (f" + {cal['d']:.3g} ms x MiB of weights refetched (those of units within {cal['cache_mib']:g} MiB "
                 f"each, once the network's exceed {cal['cache_mib']:g} MiB)")
    elif cal.get("d"):
        text += f" + {cal['d']:.3g} ms x MiB of weights beyond {cal['cache_mib']:g} MiB"
    return text
