"""A search's results folder: best structure, top-k, history, report and plots.

Works on a finished run and on an interrupted one (Ctrl-C, or SIGKILL via :func:`report_folder`,
which reads the last checkpoint), so a stopped search can still be inspected and exported.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from zenbench.errors import ZenbenchError
from zenbench.fileio import FolderLock, Journal, atomic_write_bytes, atomic_write_text
from zenbench.search.engine import CHECKPOINT, STOP_MINUTES, read_checkpoint
from zenbench.search.evolution import HISTORY, SearchSettings, SearchState


def history_frame(out: Path, rows: int | None = None) -> pd.DataFrame:
    """The search's history: its first ``rows`` rows (those a checkpointed state counts), else every complete one."""
    records = Journal(out / HISTORY).records()[:rows]
    columns = ["iteration", "structure", "status", "score", "latency_ms", "macs", "params", "layers", "error"]
    if any("latency_ms_by_device" in r for r in records):  # a search on several devices: one column each
        devices = next(r["latency_ms_by_device"] for r in records if "latency_ms_by_device" in r)
        records = [{**r, **{f"latency_ms[{d}]": (r.get("latency_ms_by_device") or {}).get(d) for d in devices}}
                   for r in records]
        columns += [f"latency_ms[{d}]" for d in devices]
    return pd.DataFrame(records, columns=columns)


def pareto_front(frame: pd.DataFrame) -> pd.DataFrame:
    """Scored candidates no other candidate beats on both score (higher) and latency (lower)."""
    scored = frame[(frame.status == "scored") & frame.latency_ms.notna()].sort_values(["latency_ms", "score"],
                                                                                       ascending=[True, False])
    keep, best = [], -math.inf
    for row in scored.itertuples():
        if row.score > best:
            keep.append(row.Index)
            best = row.score
    return scored.loc[keep]


def report_folder(out: Path, *, top_k: int = 10, device: str | None = None) -> dict[str, Any]:
    """Write the report of the search in ``out`` from its last checkpoint (e.g. after the run was killed)."""
    saved = read_checkpoint(Path(out))
    if saved is None:
        raise ZenbenchError(f"{out} holds no search checkpoint; pass the folder given to `zenbench search --out`")
    data, state = saved
    try:
        settings = SearchSettings.from_dict(data)
    except (KeyError, TypeError):
        raise ZenbenchError(f"{out} holds another kind of search (an NB201 cell search?); its files are "
                            f"history.jsonl and best.json") from None
    stopped = json.loads((Path(out) / CHECKPOINT).read_text()).get("stopped")
    with FolderLock(out):  # not while a run writes there
        return write_report(Path(out), settings, state, top_k=top_k, device=device, stopped=stopped)


def write_report(out: Path, settings: SearchSettings, state: SearchState, *, top_k: int = 10,
                 device: str | None = None, stopped: str | None = None, minutes: float | None = None
                 ) -> dict[str, Any]:
    """history.parquet, best_structure.txt, top_k.json, report.md and plots of ``state``; returns the summary.

    Only the history rows ``state`` counts are reported: an interrupted batch's rows are redone by a resume.
    ``stopped`` is why the run stopped (``engine.STOP_*``; None: unknown, e.g. read back after a kill)."""
    frame = history_frame(out, state.history_rows)
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    atomic_write_bytes(out / "history.parquet", sink.getvalue().to_pybytes())
    population = sorted(state.population, key=lambda m: -m.score)
    why = stop_line(settings, state, stopped, minutes)
    if not population:
        atomic_write_text(out / "report.md", f"# zenbench search\n\nNo candidate met the constraints.\n\n- {why}\n")
        return {"best": None, "out": str(out), "stopped": stopped, "stop_reason": why, "iterations": state.iteration}
    best = population[0]
    atomic_write_text(out / "best_structure.txt", best.structure + "\n")
    from zenbench.space.spec import NetworkSpec

    top = []
    for m in population[:top_k]:
        counts = NetworkSpec.parse(m.structure).counts(settings.resolution, settings.num_classes)
        top.append({"structure": m.structure, "score": m.score, "latency_ms": m.latency_ms, "macs": counts.macs,
                    "params": counts.params, "layers": counts.layers, "iteration": m.iteration,
                    **({"latency_ms_by_device": m.latency_by_device} if m.latency_by_device is not None else {})})
    atomic_write_text(out / "top_k.json", json.dumps(top, indent=2))
    front = pareto_front(frame)
    if settings.pareto:
        atomic_write_text(out / "pareto_front.json", json.dumps(front[["structure", "score", "latency_ms", "macs",
                                                                         "params"]].to_dict(orient="records"), indent=2))
    plots = _plots(out, frame, state, settings, front)
    scored = int((frame.status == "scored").sum())
    rejected = frame[frame.status.str.startswith("rejected")].status.value_counts().to_dict()
    c = settings.constraints
    lines = [
        "# zenbench search", "",
        f"- space `{settings.space}`, proxy `{settings.proxy}` (batch {settings.batch_size}), resolution "
        f"{settings.resolution}, {settings.num_classes} classes, seed {settings.seed}, workers {settings.workers}",
        f"- device `{device}`" if device else "- no latency table",
        f"- constraints: latency {_budgets(c)}, MACs {c.macs}, params {c.params}, layers {c.layers}",
        f"- {state.iteration} iterations in {state.seconds:.0f} s ({state.iteration / max(state.seconds, 1e-9):.1f}/s); "
        f"{scored} scored, rejected: {rejected or 'none'}",
        f"- {why}", "",
        "## Best", "", f"`{best.structure}`", "",
        f"score {best.score:.4f}; predicted latency {_best_latency(best)}; MACs {top[0]['macs']:,}; "
        f"params {top[0]['params']:,}; layers {top[0]['layers']}", "",
        "## Top candidates", "", "| # | score | latency ms | MACs | params | layers |", "|---|---|---|---|---|---|",
        *[f"| {i} | {t['score']:.4f} | {_fmt(t['latency_ms'])} | {t['macs'] / 1e6:.1f}M | {t['params'] / 1e6:.2f}M | "
          f"{t['layers']} |" for i, t in enumerate(top)], "",
        *[f"![{Path(p).stem}]({Path(p).name})" for p in plots], "",
    ]
    atomic_write_text(out / "report.md", "\n".join(lines))
    return {"best": top[0], "out": str(out), "plots": plots, "scored": scored, "pareto_front_size": len(front),
            "seconds": state.seconds, "iterations": state.iteration, "stopped": stopped, "stop_reason": why}


def stop_line(settings: SearchSettings, state: SearchState, stopped: str | None, minutes: float | None) -> str:
    """Why the run stopped where it did, and how to go on, in one line."""
    done, of = state.iteration, settings.iterations
    if stopped == STOP_MINUTES:
        budget = "" if minutes is None else f" ({minutes:g} min)"
        return (f"stopped by the time budget{budget} after {done} of {of} iterations; the same command "
                f"with --resume and a larger --minutes continues from iteration {done}")
    if done >= of:
        return f"finished all {of} iterations"
    return f"interrupted after {done} of {of} iterations; the same command with --resume continues"


def _budgets(c: Any) -> str:
    if c.devices:
        return ", ".join(f"{b.latency_ms:g} ms on {b.device} (guard {b.guard:.0%})" for b in c.devices)
    return f"{c.latency_ms} ms"


def _best_latency(best: Any) -> str:
    if best.latency_by_device:
        return ", ".join(f"{_fmt(ms)} ms on {d}" for d, ms in best.latency_by_device.items())
    return f"{_fmt(best.latency_ms)} ms"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _plots(out: Path, frame: pd.DataFrame, state: SearchState, settings: SearchSettings,
           front: pd.DataFrame) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    if state.best_scores:
        fig, ax = plt.subplots(figsize=(5.5, 3.5), dpi=110)
        its, scores = zip(*state.best_scores, strict=True)
        ax.plot(its, scores)
        ax.set_xlabel("iteration")
        ax.set_ylabel(f"best {settings.proxy} score")
        fig.tight_layout()
        paths.append(_save(fig, out / "best_score.png"))
    scored = frame[(frame.status == "scored") & frame.latency_ms.notna()]
    if len(scored):
        fig, ax = plt.subplots(figsize=(5.5, 4), dpi=110)
        ax.scatter(scored.latency_ms, scored.score, s=6, alpha=0.5, label="scored candidates")
        if len(front):
            ax.step(front.latency_ms, front.score, where="post", color="tab:orange", label="Pareto front")
        if settings.constraints.latency_ms is not None:
            first = settings.constraints.devices[0].device if settings.constraints.devices else None
            ax.axvline(settings.constraints.latency_ms, color="tab:red", ls="--",
                       label="budget" if first is None else f"budget on {first}")
        ax.set_xlabel("predicted latency (ms)")
        ax.set_ylabel(f"{settings.proxy} score")
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(_save(fig, out / "score_vs_latency.png"))
    plt.close("all")
    return paths


def _save(fig: Any, path: Path) -> str:
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp)
    tmp.replace(path)
    return str(path)
