"""The pipeline as plain Python calls: what the CLI does, with the same defaults, callable from a notebook.

``zenbench.predict_latency``, ``zenbench.search`` and ``zenbench.export`` are these functions; each takes
what a user types (a zoo name, a structure string or file, a device name) as well as library objects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
class DeviceTable:
    """One device a search budgets: its name, the table that predicts its latency, and how the host the
    table was profiled on differs from this one (empty: the same CPU)."""

    device: str
    table: Any
    host_differences: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchPlan:
    """A search's settings with the tables it predicts latency from, resolved from a user's budgets.

    ``table``, ``device`` and ``host_differences`` are the first device's; ``devices`` lists every one."""

    settings: Any
    table: Any
    device: str | None
    folder: Path
    #: how the host the table was profiled on differs from this one (empty: the same CPU, or no table)
    host_differences: tuple[str, ...] = ()
    devices: tuple[DeviceTable, ...] = ()
    #: the search's time budget in minutes (None: iterations alone)
    minutes: float | None = None
    #: the initial structure as the search starts from it (narrowed when it broke the budgets; None: not checked)
    init_fit: Any = None

    @property
    def search_tables(self) -> Any:
        """What ``run_search`` takes: the one table, or each device's table by name when there are several."""
        return {d.device: d.table for d in self.devices} if len(self.devices) > 1 else self.table


def plan_search(latency_ms: float | Sequence[float] | None = None, *, device: str | Sequence[str] = "cpu",
                table: Path | None = None, macs: float | None = None, params: float | None = None,
                max_layers: int | None = None, preset: str | None = None, space: str | None = None,
                init: str | None = None, resolution: int | None = None, num_classes: int | None = None,
                population: int = 64, iterations: int = 1000, proxy: str = "zen", batch_size: int = 16,
                seed: int = 0, out: Path | None = None, workers: int = 1, pareto: bool = False,
                guard: float | None = None, checkpoint_every: int = 50, force: bool = False,
                minutes: float | None = None) -> SearchPlan:
    """Resolve budgets into ``SearchSettings``: a paper preset supplies the initial structure, resolution and
    any budget not given; a latency budget loads the device's table, and the guard band defaults to the
    table's validated error (``guard=None``).

    ``device`` may name several devices (``["cpu", "cpu-litert"]``) with one ``latency_ms`` for all or one
    per device, in order: a candidate must meet every device's budget on that device's table. ``minutes``
    stops the search at a batch boundary once that much time has passed, if ``iterations`` are not done."""
    from zenbench.budget import Constraints, DeviceBudget, table_guard
    from zenbench.locate import load_device_table
    from zenbench.search.evolution import SearchSettings
    from zenbench.search.presets import choose_preset
    from zenbench.search.runs import default_search_folder

    devices = [device] if isinstance(device, str) else list(device)
    budgets = [] if latency_ms is None else [latency_ms] if isinstance(latency_ms, (int, float)) else list(latency_ms)
    _check_devices(devices, budgets, table, minutes)
    chosen = choose_preset(preset, latency_ms=budgets[0] if budgets else None, macs=macs, params=params)
    latency = budgets[0] if budgets else (chosen.latency_ms if preset is not None else None)
    res = chosen.resolution if resolution is None else resolution
    classes = chosen.num_classes if num_classes is None else num_classes
    constraints = Constraints(latency_ms=latency, macs=chosen.macs if macs is None else macs,
                              params=chosen.params if params is None else params,
                              layers=chosen.max_layers if max_layers is None else max_layers, resolution=res,
                              num_classes=classes)
    tables: list[DeviceTable] = []
    if latency is not None or pareto:
        for name in devices:
            profile, loaded, differences = load_device_table(name, table, force)
            tables.append(DeviceTable(profile.name, loaded, tuple(differences)))
        guards = [(table_guard(t.table) if guard is None else guard) or 0.0 for t in tables]
        constraints = replace(constraints, latency_guard=guards[0])
        if len(tables) > 1:
            per_device = budgets if len(budgets) > 1 else [latency] * len(tables)
            constraints = replace(constraints, devices=tuple(
                DeviceBudget(t.device, float(ms), g) for t, ms, g in zip(tables, per_device, guards, strict=True)))
    fitted = None
    start = chosen.init if init is None else init
    if tables or constraints.macs is not None or constraints.params is not None:
        from zenbench.search.init_fit import fit_init

        fitted = fit_init(start, constraints, {t.device: t.table for t in tables} if len(tables) > 1
                          else tables[0].table if tables else None)
        start = fitted.structure
    settings = SearchSettings(space=chosen.space if space is None else space,
                              init=start, resolution=res, num_classes=classes,
                              population=population, iterations=iterations, proxy=proxy, batch_size=batch_size,
                              seed=seed, workers=workers, checkpoint_every=checkpoint_every, constraints=constraints,
                              pareto=pareto)
    on = tuple((b.device, b.latency_ms) for b in constraints.devices)
    folder = out if out is not None else default_search_folder(latency, _label(macs), _label(params), seed, on)
    if not tables:
        return SearchPlan(settings, None, None, Path(folder), minutes=minutes, init_fit=fitted)
    return SearchPlan(settings, tables[0].table, tables[0].device, Path(folder), tables[0].host_differences,
                      tuple(tables), minutes, fitted)


def _check_devices(devices: list[str], budgets: list[float], table: Path | None, minutes: float | None) -> None:
    """Refuse device and budget lists that do not pair up, with what to type instead."""
    from zenbench.errors import SettingError

    if any(b is None or b <= 0 for b in budgets):
        raise ZenbenchError(f"the latency budget must be above 0 ms, got {', '.join(f'{b:g}' for b in budgets)}")
    if not devices or len(set(devices)) < len(devices):
        raise SettingError(f"name each device once, got {devices}; e.g. --device cpu --device cpu-litert")
    if len(budgets) > 1 and len(budgets) != len(devices):
        raise SettingError(f"{len(budgets)} latency budgets for {len(devices)} devices; give one --latency-ms for "
                           f"all devices or one per --device, in the same order")
    if len(devices) > 1 and not budgets:
        raise SettingError("a search on several devices needs --latency-ms (one for all, or one per --device)")
    if len(devices) > 1 and table is not None:
        raise SettingError("--table gives one device's table; with several --device options each uses its own "
                           "(profile them with `zenbench profile --device NAME`)")
    if minutes is not None and not minutes > 0:
        raise SettingError(f"--minutes must be above 0, got {minutes:g}")


def _label(value: float | None) -> str | None:
    """400000000 -> '400M', the way budgets are typed, for a results folder's name."""
    if value is None:
        return None
    for threshold, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= threshold:
            return f"{value / threshold:g}{suffix}"
    return f"{value:g}"


def search(latency_ms: float | Sequence[float] | None = None, *, resume: bool = False, ray: str | None = None,
           on_progress: Callable[[Any, dict[str, Any]], None] | None = None, **budgets: Any) -> dict[str, Any]:
    """Run (or ``resume``) a Zen-NAS evolution under the budgets (see :func:`plan_search` for every keyword,
    ``device=[...]`` and ``minutes=`` among them) into its results folder; returns the report's summary, with
    ``best``, ``folder`` and ``stopped`` (``"iterations"`` or ``"minutes"``)."""
    from zenbench.search import run_search

    plan = plan_search(latency_ms, **budgets)
    result = run_search(plan.settings, plan.folder, table=plan.search_tables, resume=resume, ray_address=ray,
                        device=", ".join(d.device for d in plan.devices) or None, on_progress=on_progress,
                        minutes=plan.minutes)
    narrowed = {"init_width_factor": plan.init_fit.factor} if plan.init_fit is not None and plan.init_fit.narrowed else {}
    return {**result, "folder": str(plan.folder), **narrowed}


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
    #: a search on several devices: each device's budget (``budget_ms`` is then the first's)
    budgets: tuple[tuple[str, float], ...] = ()

    def budget_on(self, device: str | None) -> float | None:
        """The budget that applies on ``device``: its own in a several-device search (None if it was not one)."""
        if not self.budgets or device is None:
            return self.budget_ms
        return dict(self.budgets).get(device)


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
                            run.latency_ms, run.budgets)
    net = resolve_network(network)
    name = net.name if net.source == "zoo" else "model"
    return ExportTarget(net.spec, name, net.resolution if resolution is None else resolution,
                        net.num_classes if num_classes is None else num_classes, net.use_se,
                        out if out is not None else Path("exports") / name, None)


def export_device(device: str | None, precision: str, target: ExportTarget) -> tuple[Any, float | None]:
    """The device profile an artifact is timed on, and the latency its table predicts there (None without a table).

    An artifact of another precision than the device's is timed under the device's variant of that
    precision when it has one (``--device cpu`` for an int8 export means ``cpu:int8``), whose table predicts it."""
    from zenbench.devices import load_device

    if device is None:
        return None, None
    profile = load_device(device)
    if profile.precision != precision and precision in profile.variants:
        profile = load_device(f"{profile.name}:{precision}")
    try:
        predicted = predict_latency(target.spec, profile.name, resolution=target.resolution,
                                    num_classes=target.num_classes).value_ms
    except ZenbenchError:
        predicted = None  # a device without a table is still timed; there is just no prediction to compare
    return profile, predicted


def export(network: Any, format: str = "onnx", *, precision: str = "fp32", out: Path | None = None,
           device: str | None = None, resolution: int | None = None, num_classes: int | None = None,
           calibration_data: Path | None = None) -> dict[str, Any]:
    """Export ``network`` (a search's results folder, zoo name, structure string or file) as ``format`` with a
    parity check against torch and a manifest; with ``device``, also time the artifact there and compare it
    with the budget and the table's prediction (an int8 artifact also with its fp32 graph: the speed-up).
    Returns the manifest."""
    from zenbench.export import export as export_network

    target = export_target(network, out=out, resolution=resolution, num_classes=num_classes)
    profile, predicted = export_device(device, precision, target)
    return export_network(target.spec, format, precision=precision, out_dir=target.folder,
                          resolution=target.resolution, num_classes=target.num_classes, se=target.se,
                          name=target.name, measure_on=profile,
                          budget_ms=target.budget_on(None if profile is None else profile.name), predicted_ms=predicted,
                          calibration_data=calibration_data)
