"""The figures of a search's HTML report, drawn by matplotlib as inline SVG strings.

SVG keeps the page one self-contained file that opens offline and stays sharp when zoomed; text is
kept as text (``svg.fonttype = none``) so the page's own font draws it, and a fixed hash salt makes
the same run give the same bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

#: the page's palette, shared with its CSS
INK, MUTED, ACCENT, FRONT, BUDGET, GRID = "#1f2933", "#7b8794", "#2f6fdd", "#e8710a", "#d64545", "#e4e7eb"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "svg.fonttype": "none", "svg.hashsalt": "zenbench", "font.size": 10, "axes.edgecolor": MUTED,
        "axes.labelcolor": INK, "xtick.color": MUTED, "ytick.color": MUTED, "axes.spines.top": False,
        "axes.spines.right": False, "axes.grid": True, "grid.color": GRID, "grid.linewidth": 0.8,
        "axes.axisbelow": True, "legend.frameon": False, "font.family": "sans-serif",
    })
    return plt


def _svg(fig: Any) -> str:
    """The figure as an ``<svg>`` element (no XML prologue), scaled by the page's CSS."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight", transparent=True)
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _legend(ax: Any) -> None:
    """One row of legend above the axes, where it hides no point (none when nothing is drawn)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=4, fontsize=9, handletextpad=0.4, columnspacing=1.2)


def best_score_svg(best_scores: Sequence[tuple[int, float]], scored: Sequence[tuple[int, float]], score: str,
                   iterations: int, done: int) -> str:
    """The best score so far against iteration, over every scored candidate as a faint dot."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.7))
    if scored:
        its, values = zip(*scored, strict=True)
        ax.scatter(its, values, s=14, color=MUTED, alpha=0.55, linewidths=0, label="scored candidate")
    if best_scores:
        its, values = zip(*best_scores, strict=True)
        ax.step(its, values, where="post", color=ACCENT, lw=2.2, label=f"best {score}")
        ax.scatter([its[-1]], [values[-1]], s=36, color=ACCENT, zorder=3)
    if done < iterations:
        ax.axvline(done, color=BUDGET, ls=":", lw=1.4, label=f"stopped at {done} of {iterations}")
    ax.set_xlim(0, max(iterations, 1))
    ax.set_xlabel("iteration")
    ax.set_ylabel(score)
    _legend(ax)
    return _svg(fig)


def cloud_svg(points: Sequence[tuple[float, float]], front: Sequence[tuple[float, float]], *, x_label: str,
              score: str, budget: float | None, winner: tuple[float, float] | None, log_x: bool = False) -> str:
    """Scored candidates by cost (latency or MACs) and score, the Pareto front, the budget and the winner."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.7))
    if points:
        xs, ys = zip(*points, strict=True)
        ax.scatter(xs, ys, s=16, color=ACCENT, alpha=0.45, linewidths=0, label="scored candidate")
    if front:
        fx, fy = zip(*front, strict=True)
        ax.step(fx, fy, where="post", color=FRONT, lw=1.8, label="Pareto front")
        ax.scatter(fx, fy, s=22, color=FRONT, zorder=3)
    if budget is not None and math.isfinite(budget):
        ax.axvline(budget, color=BUDGET, ls="--", lw=1.4, label="budget")
        ax.axvspan(budget, max([budget * 1.05, *(p[0] for p in points)]), color=BUDGET, alpha=0.06, lw=0)
    if winner is not None:
        ax.scatter([winner[0]], [winner[1]], s=140, marker="*", color=INK, zorder=4, label="winner")
    if log_x:
        ax.set_xscale("log")
    if x_label == "MACs":
        from matplotlib.ticker import EngFormatter

        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.set_xlabel(x_label)
    ax.set_ylabel(score)
    _legend(ax)
    return _svg(fig)
