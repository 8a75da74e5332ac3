"""The demo command: the whole pipeline on this CPU in minutes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zenbench.cli.options import JsonOption, positive
from zenbench.cli.render import console, err_console, print_json, table


def demo(
    out: Annotated[Path, typer.Option(help="Where the demo writes everything.")] = Path("runs/demo"),
    latency_ms: Annotated[float, typer.Option(help="Latency budget on each CPU runtime (ms, batch 1, > 0).")] = 10.0,
    iterations: Annotated[int, typer.Option(min=1, help="Search iterations.")] = 200,
    json_out: JsonOption = False,
) -> None:
    """The whole pipeline on this CPU (ONNX Runtime and LiteRT), about 20-30 minutes on 2 cores (longer on a busy host)."""
    from zenbench.demo import run_demo

    positive(latency_ms, "--latency-ms")
    say = (lambda m: err_console.print(m, highlight=False)) if json_out else (lambda m: console.print(m))
    summary = run_demo(out, latency_ms=latency_ms, iterations=iterations, say=say)
    if json_out:
        print_json(summary)
        return
    out_table = table(f"zenbench demo: budget {latency_ms:g} ms on each runtime, done in {summary['seconds']:.0f} s",
                      ("artifact", "timed on", "parity", "predicted ms", "measured median ms", "budget"),
                      left=("artifact", "timed on", "parity", "budget"))
    for a in summary["artifacts"].values():
        p = a["parity"]
        out_table.add_row(a["file"], a["device"], f"{'pass' if p['passed'] else 'FAIL'} (cos {p['cosine']:.6f}, "
                                                  f"top-1 {p['top1_agreement']:.0%})",
                          f"{a['predicted_ms']:.2f}", "-" if a["measured_ms"] is None else f"{a['measured_ms']:.2f}",
                          a["note"])
    console.print(out_table)
    console.print(f"winner: {summary['best']['structure']}", soft_wrap=True, highlight=False)
    console.print(f"search report: {summary['report']} (open it in a browser); summary: {out}/summary.json")
