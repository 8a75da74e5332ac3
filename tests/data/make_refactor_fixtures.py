"""Writes the fixtures that pin behaviour across refactors: predictions of the committed tables and a
seeded search's history. Run once from the repository root: python tests/data/make_refactor_fixtures.py"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from pathlib import Path

from zenbench.budget import Constraints
from zenbench.latency import LatencyTable, predict_latency
from zenbench.search import SearchSettings, search
from zenbench.search.presets import CIFAR_INIT
from zenbench.space.sampling import random_network
from zenbench.zoo import get_zoo_model, list_models

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent


def networks() -> list[dict]:
    rng = random.Random("prediction-fixture")
    nets = []
    for i in range(200):
        space = ("xxbl", "idw")[i % 2]
        resolution = (224, 192, 160, 256)[i % 4]
        nets.append({"name": f"random-{i}", "structure": str(random_network(space, resolution, rng)),
                     "resolution": resolution, "num_classes": 1000})
    for name in list_models("zennet_imagenet1k_*"):
        m = get_zoo_model(name)
        nets.append({"name": name, "structure": str(m.spec), "resolution": m.resolution,
                     "num_classes": m.num_classes})
    return nets


def main() -> None:
    nets = networks()
    out = {"networks": nets, "predictions": {}}
    for device in ("cpu", "cpu-litert"):
        table = LatencyTable.load(ROOT / "zenbench" / "latency_tables" / f"{device}.parquet")
        out["predictions"][device] = [
            predict_latency(__import__("zenbench").parse_structure(n["structure"]), table, n["resolution"],
                            n["num_classes"]).value_ms for n in nets]
    (OUT / "prediction_fixture.json").write_text(json.dumps(out, indent=1) + "\n")
    if "--search" in sys.argv:
        table = LatencyTable.load(ROOT / "zenbench" / "latency_tables" / "cpu.parquet")
        settings = SearchSettings(space="xxbl", init=CIFAR_INIT, resolution=32, num_classes=10, population=8,
                                  iterations=60, batch_size=4, checkpoint_every=5, proxy="params", seed=7,
                                  constraints=Constraints(latency_ms=0.3, resolution=32, num_classes=10))
        with tempfile.TemporaryDirectory() as tmp:
            search(settings, Path(tmp) / "run", table=table)
            rows = [json.loads(line) for line in (Path(tmp) / "run" / "history.jsonl").read_text().splitlines()]
        (OUT / "search_history_fixture.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
