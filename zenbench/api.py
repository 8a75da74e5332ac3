"""The pipeline as plain Python calls: what the CLI does, with the same defaults, callable from a notebook.

``zenbench.predict_latency``, ``zenbench.search`` and ``zenbench.export`` are these functions; each takes
what a user types (a zoo name, a structure string or file, a device name) as well as library objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from zenbench.errors import ZenbenchError


def predict_latency(network: Any, device: str = "cpu", *, table: Any = None, resolution: int | None = None,
                    num_classes: int | None = None, force: bool = False, breakdown: bool = False) -> Any:
    """Predicted latency of ``network`` (zoo name, structure string or file, or ``NetworkSpec``) on ``device``.

    ``table`` is a ``LatencyTable``, a path, or None for the device's own (the working directory's
    ``latency_tables/`` first, then the one shipped with zenbench). Returns a ``Prediction``."""
    from zenbench.latency import LatencyTable
    from zenbench.latency import predict_latency as predict
    from zenbench.locate import load_device_table
    from zenbench.models import resolve_network

    net = resolve_network(network)
    loaded = table if isinstance(table, LatencyTable) else load_device_table(device, table, force)[1]
    return predict(net.spec, loaded, net.resolution if resolution is None else resolution,
                   net.num_classes if num_classes is None else num_classes, breakdown=breakdown)


@dataclass(frozen=True)
class SearchPlan:
    """A search's settings with the table it predicts latency from, resolved from a user's budgets."""

    settings: Any
    table: Any
    device: str | None
    folder: Path
    #: how the host the table was profiled on differs from this one (empty: the same CPU, or no table)
    host_differences: tuple[str, ...] = ()


def plan_search(latency_ms: float | None = None, *, device: str = "cpu", table: Path | None = None,
                macs: float | None = None, params: float | None = None, max_layers: int | None = None,
                preset: str | None = None, space: str | None = None, init: str | None = None,
                resolution: int | None = None, num_classes: int | None = None, population: int = 64,
                iterations: int = 1000, proxy: str = "zen", batch_size: int = 16, seed: int = 0,
                out: Path | None = None, workers: int = 1, pareto: bool = False, guard: float | None = None,
                checkpoint_every: int = 50, force: bool = False) -> SearchPlan:
    """Resolve budgets into ``SearchSettings``: a paper preset supplies the initial structure, resolution and
    any budget not given; a latency budget loads the device's table, and the guard band defaults to the
    table's validated error (``guard=None``)."""
    from zenbench.budget import Constraints, table_guard
    from zenbench.locate import load_device_table
    from zenbench.search.evolution import SearchSettings
    from zenbench.search.presets import choose_preset
    from zenbench.search.runs import default_search_folder

    if latency_ms is not None and latency_ms <= 0:
        raise ZenbenchError(f"the latency budget must be above 0 ms, got {latency_ms:g}")
    chosen = choose_preset(preset, latency_ms=latency_ms, macs=macs, params=params)
    latency = latency_ms if latency_ms is not None else (chosen.latency_ms if preset is not None else None)
    res = chosen.resolution if resolution is None else resolution
    classes = chosen.num_classes if num_classes is None else num_classes
    constraints = Constraints(latency_ms=latency, macs=chosen.macs if macs is None else macs,
                              params=chosen.params if params is None else params,
                              layers=chosen.max_layers if max_layers is None else max_layers, resolution=res,
                              num_classes=classes)
    loaded = profile_name = None
    differences: list[str] = []
    if latency is not None or pareto:
        profile, loaded, differences = load_device_table(device, table, force)
        profile_name = profile.name
        constraints = replace(constraints, latency_guard=(table_guard(loaded) if guard is None else guard) or 0.0)
    settings = SearchSettings(space=chosen.space if space is None else space,
                              init=chosen.init if init is None else init, resolution=res, num_classes=classes,
                              population=population, iterations=iterations, proxy=proxy, batch_size=batch_size,
                              seed=seed, workers=workers, checkpoint_every=checkpoint_every, constraints=constraints,
                              pareto=pareto)
    folder = out if out is not None else default_search_folder(latency, _label(macs), _label(params), seed)
    return SearchPlan(settings, loaded, profile_name, Path(folder), tuple(differences))


def _label(value: float | None) -> str | None:
    """400000000 -> '400M', the way budgets are typed, for a results folder's name."""
    if value is None:
        return None
    for threshold, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= threshold:
            return f"{value / threshold:g}{suffix}"
    return f"{value:g}"


def search(latency_ms: float | None = None, *, resume: bool = False, ray: str | None = None,
           on_progress: Callable[[Any, dict[str, Any]], None] | None = None, **budgets: Any) -> dict[str, Any]:
    """Run (or ``resume``) a Zen-NAS evolution under the budgets (see :func:`plan_search` for every keyword)
    into its results folder; returns the report's summary, with ``best`` and ``folder``."""
    from zenbench.search import run_search

    plan = plan_search(latency_ms, **budgets)
    result = run_search(plan.settings, plan.folder, table=plan.table, resume=resume, ray_address=ray,
                        device=plan.device, on_progress=on_progress)
    return {**result, "folder": str(plan.folder)}


@dataclass(frozen=True)
class ExportTarget:
    """What to export and where: the network, its input size, and the budget a search judged it by."""

    spec: Any
    name: str
    resolution: int
    num_classes: int
    se: bool
    folder: Path
    budget_ms: float | None


def export_target(network: Any, *, out: Path | None = None, resolution: int | None = None,
                  num_classes: int | None = None) -> ExportTarget:
    """A search's results folder (its best structure and settings), a zoo name, a structure string or file."""
    from zenbench.models import resolve_network
    from zenbench.search.runs import read_search_run

    run = read_search_run(Path(network)) if isinstance(network, (str, Path)) else None
    if run is not None:
        net = resolve_network(str(run.structure_file))
        res = resolution if resolution is not None else run.resolution if run.resolution is not None else 224
        classes = num_classes if num_classes is not None else run.num_classes if run.num_classes is not None else 1000
        return ExportTarget(net.spec, "best", res, classes, False, out if out is not None else Path(network) / "export",
                            run.latency_ms)
    net = resolve_network(network)
    name = net.name if net.source == "zoo" else "model"
    return ExportTarget(net.spec, name, net.resolution if resolution is None else resolution,
                        net.num_classes if num_classes is None else num_classes, net.use_se,
                        out if out is not None else Path("exports") / name, None)


def export(network: Any, format: str = "onnx", *, precision: str = "fp32", out: Path | None = None,
           device: str | None = None, resolution: int | None = None,
           num_classes: int | None = None) -> dict[str, Any]:
    """Export ``network`` (a search's results folder, zoo name, structure string or file) as ``format`` with a
    parity check against torch and a manifest; with ``device``, also time the artifact there and compare it
    with the budget and the table's prediction. Returns the manifest."""
    from zenbench.devices import load_device
    from zenbench.export import export as export_network

    target = export_target(network, out=out, resolution=resolution, num_classes=num_classes)
    profile = predicted = None
    if device is not None:
        profile = load_device(device)
        try:
            predicted = predict_latency(target.spec, device, resolution=target.resolution,
                                        num_classes=target.num_classes).value_ms
        except ZenbenchError:
            predicted = None  # a device without a table is still timed; there is just no prediction to compare
    return export_network(target.spec, format, precision=precision, out_dir=target.folder,
                          resolution=target.resolution, num_classes=target.num_classes, se=target.se,
                          name=target.name, measure_on=profile, budget_ms=target.budget_ms, predicted_ms=predicted)
