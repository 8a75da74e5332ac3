"""The report command: one self-contained HTML page of a search's results folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zenbench.cli.options import JsonOption, TableOption
from zenbench.cli.render import console, print_json


def report(
    run_dir: Annotated[Path, typer.Argument(help="A search's results folder (`zenbench search --out`).")],
    out: Annotated[Path | None, typer.Option(help="Where to write the page (default RUN_DIR/report.html).")] = None,
    device: Annotated[str | None, typer.Option(help="Break the winner down with this device's table (default: "
                                                    "the run's device).")] = None,
    table_path: TableOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write an HTML page of a search (finished or interrupted) that opens offline in any browser."""
    from zenbench.search.html_report import write_html_report

    summary = write_html_report(run_dir, out, device=device, table=table_path)
    if json_out:
        print_json(summary)
        return
    best = summary["best"]
    state = (f"stopped at {summary['iterations']} of {summary['of_iterations']} iterations" if summary["interrupted"]
             else f"{summary['iterations']} iterations")
    score = "" if best is None else f", best score {best['score']:.4g}"
    console.print(f"report of {summary['folder']} ({state}, {summary['scored']} scored{score}; blocks by "
                  f"{summary['blocks_by']}): {summary['out']}", highlight=False, soft_wrap=True)
