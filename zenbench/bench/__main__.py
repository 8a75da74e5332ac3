"""``python -m zenbench.bench [SUITE ...] [--runs N] [--out DIR]``: run benchmark suites, print and save them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from zenbench.bench import (
    adapt,
    adapt_nb201,
    int8_search,
    int8_speedup,
    nb201_search,
    predict_speed,
    search_speed,
    zen_speed,
    zoo_proxies,
)
from zenbench.fileio import atomic_write_text

SUITES = {"zen_speed": zen_speed.run, "predict_speed": predict_speed.run, "search_speed": search_speed.run,
          "adapt": adapt.run, "adapt_nb201": adapt_nb201.run, "zoo_proxies": zoo_proxies.run,
          "int8_speedup": int8_speedup.run, "int8_search": int8_search.run, "nb201_search": nb201_search.run}


def render_zen_speed(result: dict, console: Console) -> None:
    env, mm = result["environment"], result["matmul_gflops"]
    console.print(f"[bold]Zen-Score speed[/] on {env['cpu']} ({env['torch_threads']} threads), torch {env['torch']}, "
                  f"onnxruntime {env['onnxruntime']}; fp32 matmul peak: torch {mm['torch']:.0f} GFLOP/s, "
                  f"ONNX Runtime {mm['onnxruntime']:.0f} GFLOP/s")
    table = Table(title_justify="left")
    for col in ("network", "res", "GFLOP/score", "zenbench s (p10-p90)", "GFLOP/s", "reference s (p10-p90)",
                "GFLOP/s ", "speed-up", "vs 2 forwards", "ref. vs 2 fwd", "max |Δscore|"):
        table.add_column(col, justify="left" if col == "network" else "right")
    for n in result["networks"]:
        z, r = n["zenbench"], n["reference"]
        table.add_row(n["network"], str(n["resolution"]), f"{n['gflop_per_score']:.0f}",
                      f"{z['median']:.3f} ({z['p10']:.3f}-{z['p90']:.3f})", f"{z['gflops']:.0f}",
                      f"{r['median']:.3f} ({r['p10']:.3f}-{r['p90']:.3f})", f"{r['gflops']:.0f}",
                      f"{n['speedup_vs_reference']:.2f}x", f"{n['ratio_to_two_forwards']:.2f}x",
                      f"{n['reference_ratio_to_two_forwards']:.2f}x", f"{n['max_abs_score_difference']:.1e}")
    console.print(table)


def render_search_speed(result: dict, console: Console) -> None:
    table = Table(title="search throughput", title_justify="left")
    for col in ("preset", "workers", "iterations", "proxy batch", "seconds", "iterations/s", "scored"):
        table.add_column(col)
    for r in result["throughput"]:
        table.add_row(r["preset"], str(r["workers"]), str(r["iterations"]), str(r["batch"]), f"{r['seconds']:.1f}",
                      f"{r['iterations_per_second']:.2f}", str(r["scored"]))
    console.print(table)
    for z in result["zoo"]:
        console.print(f"{z['zoo_model']}: search best Zen-Score {z['search_best_score']:.2f} after {z['iterations']} "
                      f"iterations ({z['seconds']:.0f} s) vs the zoo model's {z['zoo_score']:.2f} (batch {z['batch']})")


def render_predict_speed(result: dict, console: Console) -> None:
    console.print(f"latency predictions on one core: {result['warm_per_second']:,.0f}/s with the block cache warm, "
                  f"{result['cold_per_second']:,.0f}/s cold ({result['networks']} networks, "
                  f"{result['mean_blocks']:.1f} blocks on average)")


RENDER = {"zen_speed": render_zen_speed, "predict_speed": render_predict_speed, "search_speed": render_search_speed,
          "adapt": adapt.render, "adapt_nb201": adapt_nb201.render, "zoo_proxies": zoo_proxies.render,
          "int8_speedup": int8_speedup.render, "int8_search": int8_search.render, "nb201_search": nb201_search.render}


def adapt_options(args: argparse.Namespace) -> dict:
    """The adapt suite's options from the command line."""
    return {"devices": [d for d in args.devices.split(",") if d], "held_out": args.held_out,
            "budgets": [int(b) for b in args.budgets.split(",") if b], "passes": args.passes, "quick": args.quick,
            "resolution": args.resolution, "plan": args.plan}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("suites", nargs="*", help=f"suites to run (default: all of {', '.join(SUITES)})")
    parser.add_argument("--runs", type=int, default=10, help="timed runs per measurement (default 10)")
    parser.add_argument("--out", type=Path, default=Path("bench_results"), help="folder for the JSON results")
    adapting = parser.add_argument_group("adapt suite")
    adapting.add_argument("--devices", default="cpu,cpu-litert", help="devices to adapt to (default cpu,cpu-litert)")
    adapting.add_argument("--held-out", type=int, default=30, help="held-out networks per device (default 30)")
    adapting.add_argument("--budgets", default="10,20,40,80", help="adaptation networks per budget (default "
                                                                   "10,20,40,80; at least 8)")
    adapting.add_argument("--passes", type=int, default=3, help="round-robin passes per network (default 3)")
    adapting.add_argument("--quick", action="store_true", help="smoke-test timing rules: never for real figures")
    adapting.add_argument("--resolution", type=int, default=None, help="sample networks at this resolution "
                                                                       "(default: the tables')")
    adapting.add_argument("--plan", action="store_true", help="only estimate the measuring time")
    args = parser.parse_args()
    unknown = [s for s in args.suites if s not in SUITES]
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}")
    console = Console(width=200)
    for name in args.suites or list(SUITES):
        options = adapt_options(args) if name == "adapt" else {"out": args.out} if name == "int8_speedup" else {}
        result = SUITES[name](runs=args.runs, **options)
        RENDER[name](result, console)
        path = args.out / f"{name}.json"
        atomic_write_text(path, json.dumps(result, indent=2))
        console.print(f"saved {path}")


if __name__ == "__main__":
    main()
