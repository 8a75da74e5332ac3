"""How well each proxy ranks NAS-Bench-201 cells by their real test accuracy.

Scores a random sample of cells (or all 15,625) with each proxy and reports Spearman ρ and
Kendall τ against the benchmark's test accuracy, with a bootstrap 95 % interval, next to the
published figures. Per-cell scores are appended to a cache as they are computed, so an
interrupted run resumes where it stopped and a second run with more proxies or cells only
computes what is missing.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import stats

from zenbench.errors import ZenbenchError
from zenbench.fileio import atomic_write_text
from zenbench.proxies import az_nas, get_proxy, score
from zenbench.proxies.images import load_proxy_images
from zenbench.space.nb201 import DATASETS, NUM_CELLS, build_nb201, parse_cell

#: Spearman ρ over all 15,625 cells with real data, as published: zero-cost-nas (Abdelfattah et al., ICLR 2021)
#: for grad_norm, snip, synflow, jacov; NASWOT (Mellor et al., ICML 2021); params and FLOPs as both report them.
PUBLISHED = {
    "grad_norm": {"cifar10": 0.594, "cifar100": 0.637, "imagenet16": 0.578},
    "snip": {"cifar10": 0.596, "cifar100": 0.637, "imagenet16": 0.578},
    "synflow": {"cifar10": 0.737, "cifar100": 0.763, "imagenet16": 0.751},
    "jacov": {"cifar10": 0.731, "cifar100": 0.704, "imagenet16": 0.701},
    "naswot": {"cifar10": 0.79, "cifar100": 0.81, "imagenet16": 0.80},
    "params": {"cifar10": 0.74},
    "flops": {"cifar10": 0.71},
    # AZ-NAS (Lee & Ham, CVPR 2024): rank aggregate over all cells, random inputs (0.9127 in the authors' NB201
    # notebook; CIFAR-100 and ImageNet16-120 to two digits as paperswithcode-style leaderboards list Table 1)
    "az_nas": {"cifar10": 0.913, "cifar100": 0.90, "imagenet16": 0.89},
    # MeCo (Jiang et al., NeurIPS 2023): NATS-Bench-TSS CIFAR-10, "0.89" in the abstract (0.894 as issue #33 quotes it)
    "meco": {"cifar10": 0.894},
    # SWAP (Peng et al., ICLR 2024): regularised SWAP-Score, CIFAR-100, "0.90" in the abstract (real images)
    "swap": {"cifar100": 0.90},
    # ZiCo (Li et al., ICLR 2023): NATS-Bench-TSS, real images and labels (figures as issue #33's brief quotes them)
    "zico": {"cifar10": 0.80, "cifar100": 0.81, "imagenet16": 0.79},
}
#: Spearman ρ on the 9,445 live cells (below), 200-epoch test accuracy, mean of 5 runs: VKDNW (Tybl & Neumann,
#: CVPR 2025) Table 1, a subset its caption does not name (its notebooks filter on GRAF's valid-cell list)
PUBLISHED_LIVE = {
    "zen": {"cifar10": 0.103, "cifar100": 0.072, "imagenet16": 0.109},
    "az_nas": {"cifar10": 0.892, "cifar100": 0.880, "imagenet16": 0.859},
    "zico": {"cifar10": 0.802, "cifar100": 0.809, "imagenet16": 0.779},
    "jacov": {"cifar10": 0.800, "cifar100": 0.820, "imagenet16": 0.779},
    "naswot": {"cifar10": 0.762, "cifar100": 0.799, "imagenet16": 0.794},
    "synflow": {"cifar10": 0.758, "cifar100": 0.750, "imagenet16": 0.719},
    "flops": {"cifar10": 0.799, "cifar100": 0.763, "imagenet16": 0.718},
    "snip": {"cifar10": 0.591, "cifar100": 0.597, "imagenet16": 0.521},
    "grad_norm": {"cifar10": 0.438, "cifar100": 0.451, "imagenet16": 0.418},
}
#: which cells a sample is drawn from: all 15,625, or the 9,445 "live" ones whose every op lies on a path from
#: the cell's input to its output (no op computed and then discarded)
CELL_SETS = ("all", "live")
#: the batch a proxy's paper used, whatever --batch-size says (AZ-NAS: 64 random images; MeCo reads one;
#: SWAP: 16 inputs; ZiCo: two batches of 64)
PROTOCOL_BATCH = {"az_nas": 64, "swap": 16, "zico": 64}
ACCURACY_COLUMN = {"cifar10": "cifar10_test_acc", "cifar100": "cifar100_test_acc", "imagenet16": "imagenet16_120_test_acc"}
DEFAULT_PROXIES = ("zen", "az_nas", "meco", "swap", "zico", "ensemble", "synflow", "naswot", "grad_norm", "snip", "jacov",
                   "params", "flops", "entropy")
CACHE_COLUMNS = ("index", "proxy", "score", "seconds")


@dataclass(frozen=True)
class ProxyCorrelation:
    proxy: str
    n: int
    spearman: float
    spearman_low: float
    spearman_high: float
    kendall: float
    published: float | None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def accuracy_table() -> pd.DataFrame:
    from importlib import resources

    with resources.files("zenbench").joinpath("data/nb201/accuracy.csv.gz").open("rb") as f:
        return pd.read_csv(f, compression="gzip").set_index("index")


def live_cells() -> np.ndarray:
    """Indices of the cells whose every op is live (:meth:`~zenbench.space.nb201.Cell.live_edges`): 9,445 of
    15,625, the set GRAF publishes as NB201's valid networks and VKDNW's Table 1 ranks."""
    archs = accuracy_table()["arch"]
    return np.array([i for i, arch in archs.items()
                     if all(live or op == "none" for live, op in zip(*_liveness(arch), strict=True))])


def _liveness(arch: str) -> tuple[tuple[bool, ...], tuple[str, ...]]:
    cell = parse_cell(arch)
    return cell.live_edges(), cell.ops


def sample_indices(sample: int, seed: int, cells: str = "all") -> np.ndarray:
    """``sample`` distinct benchmark indices of the cell set ``cells`` drawn with ``seed`` (0 or at least the
    set's size: every cell of it)."""
    if cells not in CELL_SETS:
        raise ZenbenchError(f"unknown cell set {cells!r}; choose one of {', '.join(CELL_SETS)}")
    if cells == "live":
        pool = live_cells()
        if sample <= 0 or sample >= len(pool):
            return pool
        return np.sort(np.random.default_rng(seed).choice(pool, size=sample, replace=False))
    if sample <= 0 or sample >= NUM_CELLS:
        return np.arange(NUM_CELLS)
    return np.sort(np.random.default_rng(seed).choice(NUM_CELLS, size=sample, replace=False))


class ScoreCache:
    """Per-cell scores of one setting (data set, batch, seed, inputs), appended one row at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: dict[tuple[int, str], float] = {}
        if path.exists():
            # a row cut short by a crash cannot parse into numbers: skip it, it will be recomputed
            table = pd.read_csv(path, on_bad_lines="skip", dtype=str)
            for row in table.itertuples(index=False):
                try:
                    self.done[(int(row.index), str(row.proxy))] = float(row.score)
                except (TypeError, ValueError):
                    continue
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(",".join(CACHE_COLUMNS) + "\n")

    def add(self, index: int, proxy: str, value: float, seconds: float) -> None:
        with self.path.open("a") as f:
            f.write(f"{index},{proxy},{value!r},{seconds:.4f}\n")
            f.flush()
        self.done[(index, proxy)] = value


def settings_key(dataset: str, batch_size: int, seed: int, data: Path | None) -> str:
    inputs = "random" if data is None else hashlib.sha256(data.read_bytes()).hexdigest()[:12]
    return f"{dataset}-b{batch_size}-s{seed}-{inputs}"


def correlations(frame: pd.DataFrame, accuracy: pd.Series, proxies: list[str], dataset: str,
                 resamples: int = 1000, seed: int = 0,
                 published: dict[str, dict[str, float]] = PUBLISHED) -> list[ProxyCorrelation]:
    """Spearman ρ (bootstrap 95 % interval) and Kendall τ of each proxy's scores against accuracy."""
    rng = np.random.default_rng(seed)
    results = []
    for proxy in proxies:
        values = frame[proxy].to_numpy(dtype=float)
        acc = accuracy.loc[frame.index].to_numpy(dtype=float)
        keep = ~np.isnan(values)
        values, acc = values[keep], acc[keep]
        # -inf (a degenerate network) ranks last, as it does in a search
        values = np.where(np.isneginf(values), np.nanmin(values[np.isfinite(values)], initial=0) - 1, values)
        rho = stats.spearmanr(values, acc).statistic
        tau = stats.kendalltau(values, acc).statistic
        boot = []
        for _ in range(resamples):
            pick = rng.integers(0, len(values), len(values))
            boot.append(stats.spearmanr(values[pick], acc[pick]).statistic)
        low, high = np.nanpercentile(boot, [2.5, 97.5]) if boot else (math.nan, math.nan)
        results.append(ProxyCorrelation(proxy, len(values), float(rho), float(low), float(high), float(tau),
                                        published.get(proxy, {}).get(dataset)))
    return results


def score_cell(index: int, arch: str, proxies: tuple[str, ...], dataset: str, batch_size: int, seed: int,
               data: Path | None) -> list[tuple[str, float, float]]:
    """(proxy, score, seconds) of one cell; a top-level function so worker processes can run it."""
    resolution, classes = DATASETS[dataset]
    images = _images(data, resolution) if data is not None else None
    torch.manual_seed(seed * NUM_CELLS + index)  # PyTorch's default init of this cell, reproducibly
    model = build_nb201(parse_cell(arch), dataset)
    out = []
    for proxy in proxies:
        result = score(model, proxy, input_shape=(3, resolution, resolution), num_classes=classes,
                       batch_size=PROTOCOL_BATCH.get(proxy, batch_size), seed=seed * NUM_CELLS + index, data=images)
        # components first: the proxy's own row marks the cell done, so a crash between them recomputes both
        out.extend((f"{proxy}.{part}", result.extras[part], 0.0) for part in get_proxy(proxy).components)
        out.append((proxy, result.mean, result.seconds))
    return out


def aggregate_columns(frame: pd.DataFrame, cache: ScoreCache, indices: np.ndarray,
                      proxies: tuple[str, ...]) -> list[str]:
    """Replace each rank-aggregated proxy's column by its set score over ``indices``; add its components and its
    standalone single-network score as columns of their own; return the added column names."""
    added = []
    for proxy in proxies:
        parts = get_proxy(proxy).components
        if not parts:
            continue
        components = {part: [cache.done[(int(i), f"{proxy}.{part}")] for i in indices] for part in parts}
        frame[f"{proxy}.standalone"] = frame[proxy]
        frame[proxy] = az_nas.rank_aggregate(components)
        for part, values in components.items():
            frame[f"{proxy}.{part}"] = values
        added += [f"{proxy}.standalone", *(f"{proxy}.{part}" for part in parts)]
    return added


def _cached(cache: ScoreCache, index: int, proxy: str) -> bool:
    return all((index, name) in cache.done
               for name in (proxy, *(f"{proxy}.{part}" for part in get_proxy(proxy).components)))


_IMAGES: dict[tuple[Path, int], torch.Tensor] = {}


def _images(path: Path, resolution: int) -> torch.Tensor:
    key = (path, resolution)
    if key not in _IMAGES:
        _IMAGES[key] = load_proxy_images(path, resolution)
    return _IMAGES[key]


def _single_thread() -> None:
    torch.set_num_threads(1)


def run(*, dataset: str = "cifar10", sample: int = 1000, seed: int = 0, proxies: tuple[str, ...] = DEFAULT_PROXIES,
        batch_size: int = 16, data: Path | None = None, out_dir: Path = Path("runs/nb201-proxies"), workers: int = 1,
        on_progress: Callable[[int, int], None] | None = None, cells: str = "all") -> dict[str, Any]:
    """Score the sample (resuming from the cache), then write scores.csv, summary.json and one scatter PNG per proxy.

    ``workers > 1`` scores cells in that many single-threaded processes: NAS-Bench-201's layers are
    too small for intra-op threads to pay, so processes use the cores better. Results do not depend
    on the number of workers (every cell has its own seed). ``cells="live"`` samples the live cells only and
    compares with the figures published on them (``PUBLISHED_LIVE``).
    """
    if dataset not in DATASETS:
        raise ZenbenchError(f"unknown data set {dataset!r}; choose one of {', '.join(DATASETS)}")
    for proxy in proxies:
        get_proxy(proxy)
    if data is not None:
        load_proxy_images(data, DATASETS[dataset][0])  # fail early on a bad file
    table = accuracy_table()
    indices = sample_indices(sample, seed, cells)
    cache = ScoreCache(out_dir / "cache" / f"{settings_key(dataset, batch_size, seed, data)}.csv")
    todo = [(int(i), tuple(p for p in proxies if not _cached(cache, int(i), p))) for i in indices]
    todo = [(i, missing) for i, missing in todo if missing]
    started = time.perf_counter()
    total = len(indices)
    done = total - len(todo)
    if on_progress:
        on_progress(done, total)
    jobs = ((i, table.loc[i, "arch"], missing, dataset, batch_size, seed, data) for i, missing in todo)
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_single_thread) as pool:
            futures = {pool.submit(score_cell, *job): job[0] for job in jobs}
            from concurrent.futures import as_completed

            try:
                for future in as_completed(futures):
                    for proxy, value, seconds in future.result():
                        cache.add(futures[future], proxy, value, seconds)
                    done += 1
                    if on_progress:
                        on_progress(done, total)
            except BaseException:
                # fail now: without this the pool would score every remaining cell before the error surfaced
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    else:
        for job in jobs:
            for proxy, value, seconds in score_cell(*job):
                cache.add(job[0], proxy, value, seconds)
            done += 1
            if on_progress:
                on_progress(done, total)
    frame = pd.DataFrame(
        {p: [cache.done[(int(i), p)] for i in indices] for p in proxies}, index=pd.Index(indices, name="index"))
    extra = aggregate_columns(frame, cache, indices, proxies)
    accuracy = table[ACCURACY_COLUMN[dataset]]
    found = correlations(frame, accuracy, [*proxies, *extra], dataset, seed=seed,
                         published=PUBLISHED_LIVE if cells == "live" else PUBLISHED)
    frame.insert(0, "arch", table.loc[indices, "arch"].to_numpy())
    frame.insert(1, "accuracy", accuracy.loc[indices].to_numpy())
    atomic_write_text(out_dir / "scores.csv", frame.to_csv())
    plots = [str(scatter(frame, c, dataset, out_dir)) for c in found]
    summary = {
        "space": "nb201", "dataset": dataset, "cells": cells, "sample": len(indices), "seed": seed,
        "batch_size": batch_size,
        "inputs": "random" if data is None else str(data), "workers": workers, "seconds": time.perf_counter() - started,
        "protocol_batch": {p: PROTOCOL_BATCH[p] for p in proxies if p in PROTOCOL_BATCH},
        "seconds_per_network": seconds_per_network(cache, indices, proxies),
        "correlations": [c.as_dict() for c in found], "scores_csv": str(out_dir / "scores.csv"), "plots": plots,
    }
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2))
    return summary


def seconds_per_network(cache_or_path: ScoreCache | Path, indices: np.ndarray,
                        proxies: tuple[str, ...]) -> dict[str, float]:
    """Median seconds one proxy took per cell of the sample, as recorded in the cache (the process's own clock)."""
    path = cache_or_path.path if isinstance(cache_or_path, ScoreCache) else cache_or_path
    table = pd.read_csv(path, on_bad_lines="skip", dtype=str)
    table = table[table["index"].isin({str(int(i)) for i in indices}) & table["proxy"].isin(set(proxies))]
    seconds = pd.to_numeric(table["seconds"], errors="coerce")
    return {str(p): float(v) for p, v in seconds.groupby(table["proxy"]).median().items()}


def scatter(frame: pd.DataFrame, correlation: ProxyCorrelation, dataset: str, out_dir: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = frame[correlation.proxy].to_numpy(dtype=float)
    finite = np.isfinite(values)
    fig, ax = plt.subplots(figsize=(5, 4), dpi=110)
    ax.scatter(values[finite], frame["accuracy"].to_numpy()[finite], s=4, alpha=0.5)
    ax.set_xlabel(correlation.proxy + (" (log scale)" if correlation.proxy in ("synflow", "snip", "grad_norm", "flops", "params") else ""))
    if correlation.proxy in ("synflow", "snip", "grad_norm", "flops", "params") and (values[finite] > 0).all():
        ax.set_xscale("log")
    ax.set_ylabel(f"{dataset} test accuracy (%)")
    published = f", published {correlation.published:.2f}" if correlation.published is not None else ""
    ax.set_title(f"NAS-Bench-201: {correlation.proxy}\nSpearman {correlation.spearman:.3f} "
                 f"[{correlation.spearman_low:.3f}, {correlation.spearman_high:.3f}]{published}, n={correlation.n}",
                 fontsize=9)
    fig.tight_layout()
    path = out_dir / f"scatter_{correlation.proxy}.png"
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path
