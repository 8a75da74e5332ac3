"""Spearman ρ of each cached proxy on a random sample of all cells, split into live cells and cells with dead ops.

A cell is live when every op it computes lies on a path from the cell's input to its output
(`zenbench.bench.nb201_proxies.live_cells`, 9,445 of 15,625). VKDNW's Table 1 ranks live cells only.

    zenbench benchmark proxies --cells all --sample 1000 --proxy zen --out runs/nb201-proxies
    python docs/measurements/nb201_new_proxies/live_split.py runs/nb201-proxies/cache/cifar10-b16-s0-random.csv

Run from the repository root; prints JSON.
"""
import json
import sys

import pandas as pd

from zenbench.bench.nb201_proxies import accuracy_table, correlations, live_cells, sample_indices


def split(cache_path: str, sample: int = 1000, seed: int = 0) -> dict:
    cache = pd.read_csv(cache_path)
    accuracy = accuracy_table()["cifar10_test_acc"]
    live = set(live_cells().tolist())
    indices = set(sample_indices(sample, seed).tolist())
    out = {"sample": sample, "seed": seed, "proxies": {}}
    for proxy, rows in cache.groupby("proxy"):
        if "." in proxy:
            continue
        scores = rows.drop_duplicates("index", keep="last").set_index("index")["score"]
        scores = scores[scores.index.isin(indices)]
        entry = {}
        for name, keep in (("all", list(scores.index)), ("live", [i for i in scores.index if i in live]),
                           ("dead_ops", [i for i in scores.index if i not in live])):
            if len(keep) < 3:
                entry[name] = {"n": len(keep)}
                continue
            frame = scores.loc[keep].to_frame(proxy)
            rho = correlations(frame, accuracy, [proxy], "cifar10")[0]
            entry[name] = {"n": rho.n, "spearman": rho.spearman, "low": rho.spearman_low, "high": rho.spearman_high,
                           "mean_accuracy": float(accuracy.loc[keep].mean())}
        out["proxies"][proxy] = entry
    return out


if __name__ == "__main__":
    print(json.dumps(split(sys.argv[1]), indent=1))
