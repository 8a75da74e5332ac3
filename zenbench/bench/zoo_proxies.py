"""How each proxy ranks the ZenNet zoo against its published top-1 accuracy: Kendall τ per family and pooled.

The zoo is the only ground truth on the Zen-NAS structure space itself: 15 networks in four
families, each ranked by its own data set's accuracy (ImageNet latency family 6 networks, ImageNet
FLOPs family 3, CIFAR-10 3, CIFAR-100 3). Networks of different families are never compared (other
data sets, resolutions, SE), so the pooled τ counts only within-family pairs, 24 in all, and its
p-value is exact under independent random orders within each family.

How little this can prove: a perfect τ = 1 on 6 networks has a one-sided p of 1/720 = 0.0014; on 3
networks 1/6 = 0.17, which a coin toss reaches one time in six. The suite states this per row.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from zenbench.proxies import get_proxy, score
from zenbench.proxies.az_nas import rank_aggregate
from zenbench.zoo import get_zoo_model, list_models

#: the four families, networks in increasing published accuracy
FAMILIES: dict[str, tuple[str, ...]] = {
    "imagenet_latency": tuple(f"zennet_imagenet1k_latency{m}_res224"
                              for m in ("01ms", "02ms", "03ms", "05ms", "08ms", "12ms")),
    "imagenet_flops": tuple(f"zennet_imagenet1k_flops{m}_SE_res224" for m in ("400M", "600M", "900M")),
    "cifar10": tuple(f"zennet_cifar10_model_size{m}_res32" for m in ("05M", "1M", "2M")),
    "cifar100": tuple(f"zennet_cifar100_model_size{m}_res32" for m in ("05M", "1M", "2M")),
}
DEFAULT_PROXIES = ("zen", "az_nas", "meco", "swap", "zico", "ensemble", "synflow", "naswot", "params", "flops")
#: a proxy's own batch where it needs one: SWAP counts at most 2^batch patterns, and at its NB201 batch of
#: 16 the smallest zoo network (CIFAR, 0.5M) already shows all 65,536
PROTOCOL_BATCH = {"swap": 32}


@dataclass(frozen=True)
class Kendall:
    """Kendall τ of scores against accuracy, with the one-sided p-value of τ at least this large by chance."""

    tau: float
    p_one_sided: float
    n: int
    pairs: int

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def pair_sum(scores: Sequence[float], accuracy: Sequence[float]) -> int:
    """S = concordant − discordant pairs; a pair tied in either counts 0."""
    total = 0
    for i, j in itertools.combinations(range(len(scores)), 2):
        total += int(np.sign(scores[i] - scores[j]) * np.sign(accuracy[i] - accuracy[j]))
    return total


def null_distribution(accuracy: Sequence[float]) -> dict[int, int]:
    """How many of the n! orders of n distinct scores give each S against ``accuracy`` (exact, n ≤ 8)."""
    counts: dict[int, int] = {}
    for order in itertools.permutations(range(len(accuracy))):
        s = pair_sum(order, accuracy)
        counts[s] = counts.get(s, 0) + 1
    return counts


def family_kendall(scores: Sequence[float], accuracy: Sequence[float]) -> Kendall:
    """τ-b (scipy) and its exact one-sided p-value by enumerating every order of the scores."""
    scores = [s if math.isfinite(s) else -1e300 for s in scores]
    tau = float(stats.kendalltau(scores, accuracy).statistic)
    observed = pair_sum(scores, accuracy)
    null = null_distribution(accuracy)
    p = sum(c for s, c in null.items() if s >= observed) / sum(null.values())
    return Kendall(tau, p, len(scores), math.comb(len(scores), 2))


def pooled_kendall(families: Sequence[tuple[Sequence[float], Sequence[float]]]) -> Kendall:
    """τ over within-family pairs only: Σ S / Σ pairs, with the exact one-sided p-value of the sum under
    independent random orders in each family (the families' null distributions convolved)."""
    observed = 0
    pairs = 0
    total: dict[int, int] = {0: 1}
    for scores, accuracy in families:
        scores = [s if math.isfinite(s) else -1e300 for s in scores]
        observed += pair_sum(scores, accuracy)
        pairs += math.comb(len(scores), 2)
        merged: dict[int, int] = {}
        family_null = null_distribution(accuracy)
        for s1, c1 in total.items():
            for s2, c2 in family_null.items():
                merged[s1 + s2] = merged.get(s1 + s2, 0) + c1 * c2
        total = merged
    p = sum(c for s, c in total.items() if s >= observed) / sum(total.values())
    return Kendall(observed / pairs if pairs else math.nan, p, sum(len(f[0]) for f in families), pairs)


def published_top1(name: str) -> float:
    published = get_zoo_model(name).published
    return float(published.get("top1_imagenet", published.get("top1", math.nan)))


def proof_sentence(k: Kendall) -> str:
    """One plain sentence on what this τ can prove."""
    if k.n < 2:
        return "too few networks to rank"
    chance = 1 / math.factorial(k.n) if k.n <= 8 else math.nan
    return (f"tau {k.tau:+.2f} on {k.n} networks: p = {k.p_one_sided:.3f} one-sided; even a perfect order of "
            f"{k.n} networks has p = {chance:.4f}" + (", weaker than any usual threshold" if chance > 0.05 else ""))


def score_zoo(proxies: Sequence[str], batch_size: int, seed: int) -> dict[str, dict[str, dict[str, float]]]:
    """name -> proxy -> {score, seconds, components...} for every network of every family."""
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name in itertools.chain.from_iterable(FAMILIES.values()):
        results[name] = {}
        for proxy in proxies:
            r = score(name, proxy, batch_size=PROTOCOL_BATCH.get(proxy, batch_size), seed=seed)
            results[name][proxy] = {"score": r.mean, "seconds": r.seconds, **r.extras}
    return results


def rows(scored: dict[str, dict[str, dict[str, float]]], proxies: Sequence[str]) -> dict[str, dict[str, list[float]]]:
    """proxy row -> family -> scores: each proxy, ``swap.raw`` (unregularised), and ``<proxy>.set`` (components
    rank-aggregated within the family) for the proxies that have components."""
    table: dict[str, dict[str, list[float]]] = {}
    for proxy in proxies:
        for family, names in FAMILIES.items():
            table.setdefault(proxy, {})[family] = [scored[n][proxy]["score"] for n in names]
            if proxy == "swap":
                table.setdefault("swap.raw", {})[family] = [math.log(max(scored[n][proxy]["patterns"], 1.0))
                                                            for n in names]
            if get_proxy(proxy).components:  # a set score too: the components ranked within the family
                parts = {c: [scored[n][proxy][c] for n in names] for c in get_proxy(proxy).components}
                table.setdefault(f"{proxy}.set", {})[family] = list(map(float, rank_aggregate(parts)))
    return table


def run(*, runs: int = 1, proxies: Sequence[str] = DEFAULT_PROXIES, batch_size: int = 4, seed: int = 0) -> dict[str, Any]:
    """Score the 15 zoo networks once each (``runs`` is not used: one seeded draw per network) and report τ."""
    del runs
    started = time.perf_counter()
    scored = score_zoo(proxies, batch_size, seed)
    accuracy = {family: [published_top1(n) for n in names] for family, names in FAMILIES.items()}
    report = []
    for row, by_family in rows(scored, proxies).items():
        per_family = {f: family_kendall(by_family[f], accuracy[f]) for f in FAMILIES}
        pooled = pooled_kendall([(by_family[f], accuracy[f]) for f in FAMILIES])
        report.append({"proxy": row, "pooled": pooled.as_dict(), "pooled_sentence": proof_sentence(pooled),
                       "families": {f: {**k.as_dict(), "sentence": proof_sentence(k)} for f, k in per_family.items()}})
    return {"suite": "zoo_proxies", "batch_size": batch_size, "protocol_batch": PROTOCOL_BATCH, "seed": seed,
            "families": {f: list(n) for f, n in FAMILIES.items()}, "published_top1": accuracy,
            "zoo_models": list_models(), "scores": scored, "kendall": report,
            "seconds": time.perf_counter() - started}


def render(result: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    table = Table(title=f"ZenNet zoo: Kendall τ against published top-1 (batch {result['batch_size']})",
                  title_justify="left")
    for col in ("proxy", *FAMILIES, "pooled (24 pairs)", "pooled p"):
        table.add_column(col, justify="left" if col == "proxy" else "right")
    for r in result["kendall"]:
        fam = [f"{r['families'][f]['tau']:+.2f} (p {r['families'][f]['p_one_sided']:.2f})" for f in FAMILIES]
        table.add_row(r["proxy"], *fam, f"{r['pooled']['tau']:+.2f}", f"{r['pooled']['p_one_sided']:.3f}")
    console.print(table)
    console.print("A perfect order of 6 networks has p = 0.0014 one-sided; of 3 networks p = 0.17.")
