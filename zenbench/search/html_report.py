"""``zenbench report RUN_DIR``: one self-contained HTML page of a search's results folder.

The page is read from what a run leaves behind (checkpoint.json, history.jsonl, report.md and any
export/*.manifest.json), so it works on a finished run, on one stopped by Ctrl-C or SIGKILL (from its
last checkpoint), and on a run searched without a latency table. Figures are inline SVG and there is
no script and no link, so the file opens offline, from a mail attachment as well as from disk.

The winner's per-block latency comes from the run's latency table: the device named by the run's
settings or report.md (or ``device``/``table`` given here). Without one the page says so and shows
each block's share of the MACs instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from zenbench.errors import ZenbenchError
from zenbench.fileio import Journal, atomic_write_text
from zenbench.search.engine import HISTORY, read_checkpoint
from zenbench.search.evolution import SearchSettings
from zenbench.search.html_page import render_page
from zenbench.search.html_run import BlockShare, RunReport, TableInfo

REPORT_HTML = "report.html"


def run_devices(folder: Path, settings: dict[str, Any]) -> tuple[str, ...]:
    """The devices whose tables the run predicted latency with: its settings' ``device(s)`` if it stored
    them, else the ``- device `NAME``` line(s) of its report.md; empty when neither names one."""
    named = settings.get("devices") or settings.get("device")
    if named:
        return tuple([named] if isinstance(named, str) else [str(d) for d in named])
    report = folder / "report.md"
    if not report.exists():
        return ()
    found: list[str] = []
    for line in report.read_text(encoding="utf-8", errors="replace").splitlines():
        if re.match(r"^\s*-\s*devices?\b", line):
            found += [name for name in re.findall(r"`([^`]+)`", line) if name not in found]
    return tuple(found)


def read_exports(folder: Path) -> tuple[dict[str, Any], ...]:
    """The manifests of the run's exports (``RUN_DIR/export/*.manifest.json``); unreadable ones are skipped."""
    manifests = []
    for path in sorted((folder / "export").glob("*.manifest.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            manifests.append(data)
    return tuple(manifests)


def _load_table(devices: tuple[str, ...], device: str | None, table: Path | None) -> tuple[Any, str | None, str]:
    """(LatencyTable or None, its device, a note saying where it came from or why there is none)."""
    from zenbench.latency import LatencyTable
    from zenbench.locate import find_table, load_device_table

    chosen = device or (devices[0] if devices else None)
    if table is not None:
        return LatencyTable.load(table), chosen, f"table {table}"
    if chosen is None:
        return None, None, ("no latency table: the run searched without one and none was named; pass --device "
                            "or --table to break the winner down by latency")
    try:
        _, loaded, _ = load_device_table(chosen)
    except ZenbenchError as error:
        if device is not None:  # a device the user named must exist; the run's own may have been removed since
            raise
        return None, chosen, f"the {chosen} table could not be loaded ({' '.join(str(error).split())})"
    return loaded, chosen, f"table {find_table(chosen)}"


def latency_blocks(spec: Any, table: Any, resolution: int, num_classes: int) -> tuple[list[BlockShare], Any]:
    """Each block's (and the classifier's) share of the table's unit sum, applied to the calibrated prediction."""
    from zenbench.latency.predictor import as_predictor

    predictor = as_predictor(table)
    prediction = predictor.predict(spec, resolution, num_classes, breakdown=True)
    per_block = [0.0] * len(spec.blocks)
    for cost in prediction.units:
        per_block[cost.block] += cost.ms
    inputs = _input_resolutions(spec, resolution)
    costs = list(per_block)
    labels = [str(b) for b in spec.blocks]
    if num_classes:
        costs.append(predictor.classifier_ms(spec.blocks[-1].out_channels, num_classes, inputs[-1]))
        labels.append(f"classifier ({spec.blocks[-1].out_channels}→{num_classes})")
    total = sum(costs) or 1.0
    shares = [BlockShare(i, label, inputs[i], prediction.value_ms * c / total, c / total)
              for i, (label, c) in enumerate(zip(labels, costs, strict=True))]
    return shares, prediction


def macs_blocks(spec: Any, resolution: int, num_classes: int) -> list[BlockShare]:
    """Each block's (and the classifier's) share of the winner's MACs: the breakdown without a table."""
    from zenbench.space.spec import unit_macs_params

    costs, labels, res = [], [], resolution
    inputs = _input_resolutions(spec, resolution)
    for block in spec.blocks:
        macs = 0.0
        for unit in block.units():
            (m, _), res = unit_macs_params(unit, res, residual=True, bn=False, se=False)
            macs += m
        costs.append(macs)
        labels.append(str(block))
    if num_classes:
        costs.append(float(spec.blocks[-1].out_channels * num_classes))
        labels.append(f"classifier ({spec.blocks[-1].out_channels}→{num_classes})")
    total = sum(costs) or 1.0
    return [BlockShare(i, label, inputs[i], c, c / total) for i, (label, c) in enumerate(zip(labels, costs, strict=True))]


def _input_resolutions(spec: Any, resolution: int) -> list[int]:
    """The input resolution of each block, then that of the classifier."""
    out, res = [], resolution
    for block in spec.blocks:
        out.append(res)
        for unit in block.units():
            res = unit.out_resolution(res)
    return [*out, res]


def read_run(folder: Path, *, device: str | None = None, table: Path | None = None) -> RunReport:
    """Everything the page of the search in ``folder`` shows, from its last checkpoint."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ZenbenchError(f"{folder} is not a folder; pass the results folder of `zenbench search --out`")
    saved = read_checkpoint(folder)
    if saved is None:
        hint = ("it was stopped before its first checkpoint: run the search again (a smaller --checkpoint-every "
                "saves sooner)") if (folder / HISTORY).exists() else "pass the folder given to `zenbench search --out`"
        raise ZenbenchError(f"{folder} holds no search checkpoint; {hint}")
    data, state = saved
    try:
        settings = SearchSettings.from_dict(data)
    except (KeyError, TypeError):
        raise ZenbenchError(f"{folder} holds another kind of search (an NB201 cell search?); `zenbench report` "
                            f"reads Zen-NAS searches, and that one's results are in its best.json") from None
    rows = tuple(Journal(folder / HISTORY).records()[:state.history_rows])
    devices = run_devices(folder, data)
    loaded, chosen, note = _load_table(devices, device, table)
    blocks: list[BlockShare] = []
    info, basis = None, "MACs"
    if state.best is not None:
        from zenbench.space.spec import NetworkSpec

        spec = NetworkSpec.parse(state.best.structure)
        if loaded is not None:
            blocks, prediction = latency_blocks(spec, loaded, settings.resolution, settings.num_classes)
            basis = "latency"
            info = TableInfo(chosen, note.removeprefix("table "), dict(loaded.metadata.get("device") or {}),
                             dict(loaded.metadata.get("validation") or {}), prediction.value_ms,
                             prediction.per_image)
        else:
            blocks = macs_blocks(spec, settings.resolution, settings.num_classes)
    return RunReport(folder, settings, state, rows, devices if chosen is None or chosen in devices else
                     (*devices, chosen), info, note, tuple(blocks), basis, read_exports(folder))


def write_html_report(folder: Path, out: Path | None = None, *, device: str | None = None,
                      table: Path | None = None) -> dict[str, Any]:
    """Write the page of the search in ``folder`` to ``out`` (default ``folder/report.html``), atomically;
    returns where it went and a summary of what it shows."""

    run = read_run(Path(folder), device=device, table=table)
    target = Path(out) if out is not None else run.folder / REPORT_HTML
    if target.is_dir():
        target = target / REPORT_HTML
    atomic_write_text(target, render_page(run))
    best = run.best
    return {"out": str(target), "folder": str(run.folder), "iterations": run.state.iteration,
            "of_iterations": run.settings.iterations, "interrupted": run.interrupted, "scored": len(run.scored),
            "best": None if best is None else {"structure": best.structure, "score": best.score,
                                               "latency_ms": best.latency_ms, "iteration": best.iteration},
            "devices": list(run.devices), "table": None if run.table is None else run.table.path,
            "expected_error": None if run.table is None else run.table.expected_error,
            "blocks_by": run.block_basis, "table_note": run.table_note, "exports": [m.get("file") for m in run.exports]}


__all__ = ["REPORT_HTML", "BlockShare", "RunReport", "TableInfo", "read_run", "run_devices", "write_html_report"]
