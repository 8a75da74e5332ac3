"""The HTML of a search's report page: headline figures, the plots, the winner's blocks, the budget, the exports.

One string, with its CSS and SVG figures inline and no script, so it opens offline. Every value
read from the run is escaped.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from html import escape
from typing import Any

from zenbench.search import html_figures as figures
from zenbench.search.html_run import RunReport

CSS = f"""
:root {{ --ink: {figures.INK}; --muted: {figures.MUTED}; --accent: {figures.ACCENT}; --line: {figures.GRID};
  --front: {figures.FRONT}; --bad: {figures.BUDGET}; --good: #2f9e44; }}
* {{ box-sizing: border-box; }}
body {{ margin: 0; background: #f5f7fa; color: var(--ink); font: 15px/1.5 system-ui, -apple-system, "Segoe UI",
  Roboto, "Helvetica Neue", Arial, sans-serif; }}
header {{ background: linear-gradient(120deg, #1f2933, #243b53); color: #fff; padding: 28px 0 24px; }}
.wrap {{ max-width: 1120px; margin: 0 auto; padding: 0 24px; }}
header h1 {{ margin: 0 0 4px; font-size: 26px; font-weight: 650; letter-spacing: -0.01em; }}
header p {{ margin: 0; color: #bcccdc; font-size: 14px; }}
.badge {{ display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 12px; font-weight: 600;
  vertical-align: middle; margin-left: 8px; }}
.done {{ background: #d3f9d8; color: #1b5e20; }} .stopped {{ background: #ffe8cc; color: #8a4b00; }}
.cards {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin: -18px 0 8px; }}
.card {{ background: #fff; border-radius: 10px; padding: 12px 16px; box-shadow: 0 1px 3px rgba(31,41,51,.12); }}
.card b {{ display: block; font-size: 22px; font-weight: 650; }}
.card span {{ color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }}
.card small {{ color: var(--muted); font-size: 12px; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 16px; }}
section {{ background: #fff; border-radius: 10px; padding: 18px 22px; margin: 16px 0;
  box-shadow: 0 1px 3px rgba(31,41,51,.12); }}
.grid section {{ margin: 0; }}
h2 {{ font-size: 18px; margin: 0 0 10px; font-weight: 650; }}
p.note {{ color: var(--muted); font-size: 13px; margin: 6px 0 0; }}
.warn {{ background: #fff4e6; border-left: 4px solid var(--front); padding: 10px 14px; border-radius: 6px;
  margin: 16px 0; }}
svg {{ width: 100%; height: auto; display: block; }}
code, .mono {{ font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }}
pre {{ background: #f0f4f8; padding: 10px 12px; border-radius: 6px; white-space: pre-wrap; word-break: break-all;
  margin: 0 0 12px; }}
table {{ border-collapse: collapse; width: 100%; font-size: 13.5px; }}
th, td {{ text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }}
th {{ color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }}
td.num, th.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.blocks td:last-child {{ width: 40%; }}
.bar {{ position: relative; height: 18px; }}
.bar i {{ display: block; background: var(--accent); height: 18px; border-radius: 3px; min-width: 2px; opacity: .85; }}
.bar.top i {{ background: var(--front); }}
.bar em {{ position: absolute; right: 0; top: 0; font-style: normal; font-size: 12px; line-height: 18px;
  font-variant-numeric: tabular-nums; color: var(--ink); }}
.ok {{ color: var(--good); font-weight: 600; }} .over {{ color: var(--bad); font-weight: 600; }}
dl {{ display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }}
dt {{ color: var(--muted); }} dd {{ margin: 0; }}
footer {{ color: var(--muted); font-size: 12px; padding: 8px 0 32px; }}
"""


def _num(value: Any, digits: int = 4) -> str:
    return "–" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.{digits}g}"


def _si(value: Any) -> str:
    """12754176 -> 12.8M."""
    if value is None:
        return "–"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def _pct(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def _card(label: str, value: str, note: str = "") -> str:
    return f'<div class="card"><span>{escape(label)}</span><b>{escape(value)}</b><small>{escape(note)}</small></div>'


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("zenbench")
    except PackageNotFoundError:
        from zenbench import __version__

        return __version__


def _table(head: list[str], rows: list[list[str]], numeric: frozenset[int] | set[int] = frozenset()) -> str:
    """An HTML table; cells are already-escaped HTML."""
    ths = "".join(f'<th class="num">{h}</th>' if i in numeric else f"<th>{h}</th>" for i, h in enumerate(head))
    trs = "".join("<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                   for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{ths}</tr></thead><tbody>{trs}</tbody></table>"


def pareto(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points no other beats on both cost (lower) and score (higher), by increasing cost."""
    front, best = [], -math.inf
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if y > best:
            front.append((x, y))
            best = y
    return front


def score_name(proxy: str) -> str:
    """How the page names the proxy's score: Zen-Score for ``zen``."""
    return "Zen-Score" if proxy == "zen" else f"{proxy} score"


def _winner_row(run: RunReport) -> dict[str, Any]:
    best = run.best
    for row in run.rows:
        if best is not None and row.get("iteration") == best.iteration and row.get("structure") == best.structure:
            return row
    return {}


def _cards(run: RunReport) -> str:
    best, c, state, row = run.best, run.settings.constraints, run.state, _winner_row(run)
    rejected = len(run.rows) - len(run.scored)
    cards = [_card("iterations", f"{state.iteration} / {run.settings.iterations}",
                   f"{state.seconds:.0f} s, {state.iteration / max(state.seconds, 1e-9):.1f}/s"),
             _card("scored", f"{len(run.scored)}", f"{rejected} rejected by a constraint")]
    if best is not None:
        cards.insert(0, _card(f"best {score_name(run.settings.proxy)}", f"{best.score:.4g}", f"found at iteration "
                                                                                         f"{best.iteration}"))
        latency = best.latency_ms if best.latency_ms is not None else (run.table.predicted_ms if run.table else None)
        budget = f"budget {c.latency_ms:g} ms ({latency / c.latency_ms:.0%})" if c.latency_ms and latency else \
            ("no latency budget" if latency is not None else "no latency table")
        cards.insert(1, _card("predicted latency", f"{_num(latency)} ms" if latency is not None else "–", budget))
        cards.insert(2, _card("MACs", _si(row.get("macs")), f"budget {_si(c.macs)}" if c.macs else "no MACs budget"))
        cards.insert(3, _card("params", _si(row.get("params")), f"budget {_si(c.params)}" if c.params else
                              "no params budget"))
    return f'<div class="cards">{"".join(cards)}</div>'


def _progress(run: RunReport) -> str:
    scored = [(r["iteration"], r["score"]) for r in run.scored]
    name = score_name(run.settings.proxy)
    svg = figures.best_score_svg(run.state.best_scores, scored, name, run.settings.iterations,
                                 run.state.iteration)
    gain = ""
    if len(run.state.best_scores) > 1:
        first, last = run.state.best_scores[0][1], run.state.best_scores[-1][1]
        gain = f" The best score rose from {first:.4g} to {last:.4g}."
    return (f'<section><h2>Best {escape(name)} against iteration</h2>{svg}<p class="note">The line is the best '
            f'{escape(name)} in the population after each iteration; dots are every scored candidate.{escape(gain)}'
            f'</p></section>')


def _cloud(run: RunReport) -> str:
    with_latency = [(r["latency_ms"], r["score"]) for r in run.scored if r.get("latency_ms") is not None]
    best, c = run.best, run.settings.constraints
    if with_latency:
        points, budget, label, title = with_latency, c.latency_ms, "predicted latency (ms)", "Latency and score"
        winner = (best.latency_ms, best.score) if best is not None and best.latency_ms is not None else None
        why = "Each dot is a scored candidate at its predicted latency."
    else:
        points = [(float(r["macs"]), r["score"]) for r in run.scored if r.get("macs")]
        budget, label, title = c.macs, "MACs", "MACs and score"
        row = _winner_row(run)
        winner = (float(row["macs"]), best.score) if best is not None and row.get("macs") else None
        why = "The run predicted no latency (it had no latency table), so candidates are placed by their MACs."
    front = pareto(points)
    spread = max((p[0] for p in points), default=1) / max(min((p[0] for p in points), default=1), 1e-12)
    svg = figures.cloud_svg(points, front, x_label=label, score=score_name(run.settings.proxy), budget=budget,
                            winner=winner, log_x=not with_latency and spread > 30)
    return (f'<section><h2>{title}</h2>{svg}<p class="note">{escape(why)} {len(front)} of {len(points)} lie on the '
            f'Pareto front (no other candidate is both cheaper and higher-scoring); the star is the winner.</p>'
            f'</section>')


def _blocks(run: RunReport) -> str:
    best = run.best
    if best is None:
        return '<section><h2>The winner\'s blocks</h2><p>No candidate met the constraints.</p></section>'
    by_latency = run.block_basis == "latency"
    unit = "ms" if by_latency else "MACs"
    top = max((b.share for b in run.blocks), default=0.0) or 1.0
    rows = [[str(b.index), f'<span class="mono">{escape(b.block)}</span>', f"{b.resolution}",
             f"{b.value:.4g}" if by_latency else _si(b.value),
             f'<div class="bar{" top" if b.share == top else ""}"><i style="width:{b.share / top * 82:.1f}%">'
             f'</i><em>{b.share:.1%}</em></div>'] for b in run.blocks]
    head = ["#", "block", "input res.", f"predicted {unit}" if by_latency else unit,
            "share of predicted latency" if by_latency else "share of MACs"]
    if by_latency and run.table is not None:
        note = (f"Predicted with the {escape(run.table.device or 'given')} table ({escape(run.table.path)}): each "
                f"block's share of the table's unit sum, applied to the calibrated total of "
                f"{run.table.predicted_ms:.4g} ms.")
    else:
        note = f"No latency table is known for this run ({escape(run.table_note)}); the shares are of MACs instead."
    return (f'<section><h2>The winner\'s blocks</h2><pre>{escape(best.structure)}</pre><div class="blocks">'
            f'{_table(head, rows, {0, 2, 3})}</div><p class="note">{note}</p></section>')


def _budget(run: RunReport) -> str:
    c, row, t = run.settings.constraints, _winner_row(run), run.table
    best = run.best
    items = []
    for name, limit, value, fmt in (("latency", c.latency_ms, best.latency_ms if best else None, lambda v: f"{v:.4g} ms"),
                                    ("MACs", c.macs, row.get("macs"), _si), ("params", c.params, row.get("params"), _si),
                                    ("layers", c.layers, row.get("layers"), lambda v: f"{v:g}")):
        if limit is None:
            items.append((name, "no budget"))
            continue
        used = f"winner {fmt(value)} ({value / limit:.0%})" if value is not None else "winner –"
        items.append((name, f"≤ {fmt(limit)}; {used}"))
    if c.latency_ms is not None:
        items.append(("guard band", f"{c.latency_guard:.1%}: a candidate passed when prediction × (1 + guard) ≤ budget"))
    items.append(("devices", ", ".join(run.devices) or "none named"))
    if t is not None:
        s = t.settings
        items.append(("table", t.path))
        items.append(("runtime", ", ".join(f"{k} {s[k]}" for k in ("backend", "precision", "batch", "threads")
                                           if s.get(k) is not None) or "–"))
        v = t.validation
        if t.expected_error is not None:
            low, high = t.predicted_ms * (1 - t.expected_error), t.predicted_ms * (1 + t.expected_error)
            items.append(("expected error", f"{_pct(t.expected_error)} mean, {_pct(v.get('p90_ape'))} at the 90th "
                                            f"percentile, over {v.get('n', '?')} networks measured end to end"))
            items.append(("winner", f"{t.predicted_ms:.4g} ms predicted now; expect {low:.3g}–{high:.3g} ms measured"
                                    f"{' (per image)' if t.per_image else ''}"))
        else:
            items.append(("expected error", "unknown: the table was never validated (`zenbench validate`)"))
        if best is not None and best.latency_ms is not None and abs(t.predicted_ms / best.latency_ms - 1) > 0.01:
            items.append(("note", f"the run predicted {best.latency_ms:.4g} ms; the table now predicts "
                                  f"{t.predicted_ms:.4g} ms (it was re-profiled or another table was given)"))
    else:
        items.append(("table", run.table_note))
    body = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in items)
    return f"<section><h2>Budget and latency table</h2><dl>{body}</dl></section>"


def _top(run: RunReport) -> str:
    members = sorted(run.state.population, key=lambda m: -m.score)[:10]
    if not members:
        return ""
    by_key = {(r.get("iteration"), r.get("structure")): r for r in run.rows}
    rows = []
    for i, m in enumerate(members):
        r = by_key.get((m.iteration, m.structure), {})
        rows.append([str(i), f"{m.score:.4g}", _num(m.latency_ms), _si(r.get("macs")), _si(r.get("params")),
                     str(r.get("layers", "–")), str(m.iteration)])
    rejected = Counter(str(r.get("status", "")).removeprefix("rejected: ") for r in run.rows
                       if str(r.get("status", "")).startswith("rejected"))
    why = ", ".join(f"{n} by {escape(k)}" for k, n in rejected.most_common()) or "none"
    head = ["#", "score", "latency ms", "MACs", "params", "layers", "found at"]
    return (f'<section><h2>Top candidates</h2>{_table(head, rows, set(range(7)))}'
            f'<p class="note">The final population, best first. Rejected candidates: {why}.</p></section>')


def _exports(run: RunReport) -> str:
    if not run.exports:
        return (f'<section><h2>Export</h2><p>Not exported yet: <code>zenbench export {escape(str(run.folder))} '
                f'--format onnx</code> writes the winner and a parity check to <code>export/</code>.</p></section>')
    rows = []
    for m in run.exports:
        p, lat = m.get("parity") or {}, m.get("latency") or {}
        ms = lat.get("ms") or {}
        parity = (f'<span class="{"ok" if p.get("passed") else "over"}">{"pass" if p.get("passed") else "fail"}</span> '
                  f'cos {p.get("cosine", math.nan):.6f}, rel. err {_num(p.get("relative_error"), 2)}, top-1 '
                  f'{_pct(p.get("top1_agreement"), 0)}') if p else "–"
        budget = "–"
        if lat.get("budget_ms") is not None:
            ok = lat.get("within_budget")
            budget = f'{lat["budget_ms"]:g} ms <span class="{"ok" if ok else "over"}">{"within" if ok else "over"}</span>'
        predicted = "–" if lat.get("predicted_ms") is None else \
            f'{lat["predicted_ms"]:.4g} ({lat.get("prediction_error", 0):+.1%})'
        rows.append([f'<span class="mono">{escape(str(m.get("file", "?")))}</span>', escape(str(m.get("format", "?"))),
                     escape(str(m.get("precision", "?"))), escape(str(m.get("runtime", "?"))),
                     f'{(m.get("bytes") or 0) / 1e6:.2f}', parity,
                     (f'{ms["median"]:.3f} ({ms.get("p10", 0):.3f}–{ms.get("p90", 0):.3f}) on '
                      f'{escape(str(lat.get("device", "?")))}') if ms.get("median") is not None else "not timed",
                     budget, predicted])
    head = ["file", "format", "precision", "runtime", "MB", "parity with torch", "measured ms (p10–p90)", "budget",
            "predicted ms"]
    return (f'<section><h2>Export</h2>{_table(head, rows, {4})}<p class="note">From '
            f'<code>{escape(str(run.folder / "export"))}</code>; <code>zenbench export … --device NAME</code> also '
            f'times an artifact against the budget.</p></section>')


def render_page(run: RunReport) -> str:
    """The whole page of ``run`` as one HTML string."""
    s = run.settings
    status = (f'<span class="badge stopped">stopped at {run.state.iteration} of {s.iterations}</span>' if
              run.interrupted else '<span class="badge done">finished</span>')
    warn = (f'<div class="warn"><b>Interrupted run.</b> This page shows its last checkpoint ({run.state.iteration} of '
            f'{s.iterations} iterations); the same <code>zenbench search</code> command with <code>--resume</code> '
            f'continues it.</div>') if run.interrupted else ""
    c = s.constraints
    budgets = ", ".join(f"{name} {value}" for name, value in (("latency", f"{c.latency_ms:g} ms" if c.latency_ms else None),
                        ("MACs", _si(c.macs) if c.macs else None), ("params", _si(c.params) if c.params else None),
                        ("layers", c.layers)) if value is not None) or "no budget"
    subtitle = (f"{escape(str(run.folder))} · space {escape(s.space)} · proxy {escape(s.proxy)} · {s.resolution}×"
                f"{s.resolution}, {s.num_classes} classes · {escape(budgets)}")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>zenbench search report · {escape(run.folder.name)}</title><style>{CSS}</style></head>
<body><header><div class="wrap"><h1>Zen-NAS search report{status}</h1><p>{subtitle}</p></div></header>
<main class="wrap">{_cards(run)}{warn}
<div class="grid">{_progress(run)}{_cloud(run)}</div>
{_blocks(run)}
<div class="grid">{_budget(run)}{_top(run)}</div>
{_exports(run)}
</main><footer class="wrap">Population {s.population}, proxy batch {s.batch_size}, seed {s.seed}, {s.workers}
worker(s). Written by zenbench {escape(_version())} on {stamp}; one self-contained file, no script and no network.
</footer></body></html>
"""
