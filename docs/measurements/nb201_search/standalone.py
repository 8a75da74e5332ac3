"""A/B: the same NB201 searches with the set ranking switched off (each candidate's standalone value)."""
import json, sys
import pandas as pd
import torch
torch.set_num_threads(1)
from zenbench.bench.nb201_search import oracle_comparison
from zenbench.latency.nb201 import fit_table
from zenbench.search import nb201

M = "zenbench/data/nb201/latency_ms.csv.gz"  # run from the repository root
original = nb201.CellScorer.__init__
def standalone_init(self, proxy, dataset, batch_size):
    original(self, proxy, dataset, batch_size)
    self.components = ()
nb201.CellScorer.__init__ = standalone_init
rows = []
for column in ("pixel2", "2080ti_32"):
    fitted, model = fit_table(M, column, 100, 0)
    budget = float(pd.read_csv(M)[column].quantile(0.3))
    for proxy in ("ensemble", "az_nas"):
        result = nb201.search_nb201(fitted, latency_ms=budget, proxy=proxy, population=32, iterations=300, seed=0)
        rows.append({"column": column, "proxy": proxy + ".standalone", "budget_ms": budget, "scored": result["scored"],
                     "seconds": result["seconds"], **oracle_comparison(M, column, result["best"]["arch"], budget)})
        print(json.dumps(rows[-1]), flush=True)
json.dump(rows, open("standalone_300.json", "w"), indent=1)
