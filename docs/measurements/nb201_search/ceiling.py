"""The ceiling of a proxy-guided NB201 search: each proxy's top cell over *every* cell within the budget.

A search sees a few hundred cells; this script scores every cell whose measured latency meets the
budget of either column (pixel2 13 ms, 2080ti_32 6.89 ms: the columns' 30th percentiles, 6,601 cells)
with AZ-NAS's four components and the ensemble's three (MeCo, SynFlow, params), as the search
scores them (batch 16, one thread, seed = the cell's index), then ranks the feasible set of each
column by the set score and reports the top cell's true CIFAR-10 accuracy against the oracle.

    python docs/measurements/nb201_search/ceiling.py score ceiling_scores.csv   # resumable, ~1 h on one core
    python docs/measurements/nb201_search/ceiling.py analyse ceiling_scores.csv > ceiling.json
    python docs/measurements/nb201_search/ceiling.py admitted ceiling_scores.csv > ceiling_admitted.json

``admitted`` asks the same with the search's own latency knowledge: the cells a fitted table (100
measured cells, seeds 0-2, as the searches use) predicts within the budget, or within a guard band
below it, ranked by the proxy; the top cell is judged by its measured latency and true accuracy.

Run from the repository root.
"""
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from zenbench.bench.nb201_proxies import accuracy_table
from zenbench.proxies import score
from zenbench.proxies.az_nas import rank_aggregate
from zenbench.space.nb201 import DATASETS, build_nb201, parse_cell

MEASUREMENTS = "zenbench/data/nb201/latency_ms.csv.gz"
COLUMNS = ("pixel2", "2080ti_32")
AZ = ("expressivity", "progressivity", "trainability", "complexity")
ENSEMBLE = ("meco", "synflow", "params")
#: the proxies compared: name -> the components their set score aggregates
COMBINATIONS = {
    "az_nas": AZ,
    "ensemble": ENSEMBLE,
    "az_nas+meco": (*AZ, "meco"),
    "az_nas+ensemble": (*AZ, *ENSEMBLE),
    "meco": ("meco",),
    "synflow": ("synflow",),
    "params": ("params",),
}


def budgets(latency: pd.DataFrame) -> dict[str, float]:
    return {column: float(latency[column].quantile(0.3)) for column in COLUMNS}


def feasible_cells(latency: pd.DataFrame) -> list[int]:
    limits = budgets(latency)
    mask = np.zeros(len(latency), dtype=bool)
    for column, limit in limits.items():
        mask |= (latency[column] <= limit).to_numpy()
    return latency.loc[mask, "index"].astype(int).tolist()


def score_all(out: Path) -> None:
    torch.set_num_threads(1)
    latency = pd.read_csv(MEASUREMENTS)
    archs = dict(zip(latency["index"].astype(int), latency["arch"], strict=True))
    done = set(pd.read_csv(out)["index"].astype(int)) if out.exists() else set()
    todo = [i for i in feasible_cells(latency) if i not in done]
    resolution, classes = DATASETS["cifar10"]
    started = time.perf_counter()
    with out.open("a") as stream:
        if not done:
            stream.write(",".join(("index", *AZ, *ENSEMBLE, "seconds")) + "\n")
        for n, index in enumerate(todo, 1):
            row = {}
            tic = time.perf_counter()
            for proxy, parts in (("az_nas", AZ), ("ensemble", ENSEMBLE)):
                torch.manual_seed(index)
                result = score(build_nb201(parse_cell(archs[index]), "cifar10"), proxy,
                               input_shape=(3, resolution, resolution), num_classes=classes, batch_size=16, seed=index)
                row.update({part: result.extras[part] for part in parts})
            seconds = time.perf_counter() - tic
            stream.write(",".join([str(index), *(repr(float(row[p])) for p in (*AZ, *ENSEMBLE)), f"{seconds:.3f}"]) + "\n")
            stream.flush()
            if n % 100 == 0:
                rate = (time.perf_counter() - started) / n
                print(f"{n}/{len(todo)} cells, {rate:.2f} s/cell, eta {rate * (len(todo) - n) / 60:.0f} min",
                      file=sys.stderr, flush=True)


def analyse(scores_path: Path) -> dict:
    latency = pd.read_csv(MEASUREMENTS)
    accuracy = accuracy_table()["cifar10_test_acc"]
    scores = pd.read_csv(scores_path).drop_duplicates("index").set_index("index")
    result = {"scored_cells": len(scores), "seconds_per_cell_median": float(scores["seconds"].median()), "columns": {}}
    for column, limit in budgets(latency).items():
        feasible = latency.loc[latency[column] <= limit, "index"].astype(int)
        feasible = feasible[feasible.isin(scores.index)].to_numpy()
        acc = accuracy.loc[feasible].to_numpy()
        oracle = float(acc.max())
        near = acc >= oracle - 0.5
        entry = {"budget_ms": limit, "feasible": int(len(feasible)), "oracle": oracle,
                 "cells_within_0.5": int(near.sum()), "proxies": {}}
        for name, parts in COMBINATIONS.items():
            set_score = rank_aggregate({p: scores.loc[feasible, p].to_numpy() for p in parts})
            order = np.argsort(-set_score, kind="stable")
            top = acc[order]
            entry["proxies"][name] = {
                "top1": float(top[0]), "gap": round(oracle - float(top[0]), 3),
                "top5_mean": float(top[:5].mean()), "top10_best": float(top[:10].max()),
                "first_within_0.5_at_rank": int(np.argmax(near[order])) + 1,
                "spearman_on_feasible": float(pd.Series(set_score).rank().corr(pd.Series(acc).rank())),
            }
        result["columns"][column] = entry
    return result


def admitted(scores_path: Path, guards: tuple[float, ...] = (1.0, 0.95, 0.9)) -> list[dict]:
    from zenbench.bench.nb201_search import oracle_comparison
    from zenbench.latency.nb201 import fit_table, predict_cells

    latency = pd.read_csv(MEASUREMENTS)
    archs = latency.set_index("index")["arch"]
    scores = pd.read_csv(scores_path).drop_duplicates("index").set_index("index")
    rows = []
    for column, limit in budgets(latency).items():
        for seed in (0, 1, 2):
            table, _ = fit_table(MEASUREMENTS, column, 100, seed)
            predicted = predict_cells(table, latency["arch"])
            for guard in guards:
                cells = latency.loc[predicted <= limit * guard, "index"].astype(int)
                covered = cells[cells.isin(scores.index)].to_numpy()
                for name in ("az_nas", "meco", "ensemble", "az_nas+meco"):
                    set_score = rank_aggregate({p: scores.loc[covered, p].to_numpy() for p in COMBINATIONS[name]})
                    best = int(covered[int(np.argmax(set_score))])
                    rows.append({"column": column, "table_seed": seed, "guard": guard, "admitted": int(len(cells)),
                                 "admitted_and_scored": int(len(covered)), "proxy": name, "arch": archs[best],
                                 **oracle_comparison(MEASUREMENTS, column, archs[best], limit)})
    return rows


if __name__ == "__main__":
    command, path = sys.argv[1], Path(sys.argv[2])
    if command == "score":
        score_all(path)
    elif command == "admitted":
        print(json.dumps(admitted(path), indent=1))
    else:
        print(json.dumps(analyse(path), indent=1, default=lambda v: None if isinstance(v, float) and math.isnan(v) else v))
