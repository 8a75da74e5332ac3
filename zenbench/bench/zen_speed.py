"""How fast Zen-Score runs, against the machine's matmul peak and a straightforward official implementation.

For each network, at batch 64, in one process: seconds per score (median, p10, p90 over >= 10
runs) of zenbench's ``score(..., "zen")`` and of a straightforward implementation of the official
protocol (contiguous layout, two separate passes, module rebuilt with PyTorch's default init on
every call, as ``evolution_search.py`` does); achieved GFLOP/s; the cost of two plain eval-mode
forward passes of an already-built network; and the best fp32 matmul GFLOP/s of torch and ONNX
Runtime. Both implementations get the same seed, so their values must agree.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from zenbench.measure import Measurement, environment, time_calls
from zenbench.proxies import score
from zenbench.proxies.base import gaussian_init, seeded_generators
from zenbench.space.network import build_model
from zenbench.space.spec import NetworkSpec
from zenbench.zoo import get_zoo_model

NETWORKS = (
    "zennet_imagenet1k_latency01ms_res224",  # dense, 224
    "zennet_cifar10_model_size1M_res32",  # bottleneck, 32
    "zennet_imagenet1k_flops400M_SE_res224",  # depth-wise, 224
)
BATCH = 64
GAMMA = 1e-2


def reference_zen_score(spec: NetworkSpec, resolution: int, seed: int, batch: int = BATCH) -> float:
    """The official protocol written plainly: what zenbench's implementation is measured against."""
    weights, inputs = seeded_generators(seed)
    model = build_model(spec, 1000, residual=False, se=False)
    model.train()
    with torch.no_grad():
        gaussian_init(model, weights)
        x1 = torch.randn(batch, 3, resolution, resolution, generator=inputs)
        x2 = torch.randn(batch, 3, resolution, resolution, generator=inputs)
        f1 = model.forward_pre_gap(x1)
        f2 = model.forward_pre_gap(x1 + GAMMA * x2)
        delta = torch.sum(torch.abs(f1 - f2), dim=[1, 2, 3]).mean()
        log_bn = sum(math.log(math.sqrt(float(m.running_var.mean())))
                     for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    return math.log(float(delta)) + log_bn


def matmul_gflops(n: int = 2048, runs: int = 10) -> dict[str, float]:
    """Best-case fp32 throughput of the installed libraries: an n³ matrix product."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    flop = 2 * n**3
    ta = torch.from_numpy(a)
    torch_time = time_calls(lambda: ta @ ta, runs=runs, warmup=2).median
    graph = helper.make_graph([helper.make_node("MatMul", ["A", "B"], ["C"])], "mm",
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [n, n]) for x in "AB"],
                              [helper.make_tensor_value_info("C", TensorProto.FLOAT, [n, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    ort_time = time_calls(lambda: session.run(None, {"A": a, "B": a}), runs=runs, warmup=2).median
    return {"torch": flop / torch_time / 1e9, "onnxruntime": flop / ort_time / 1e9}


def bench_network(name: str, runs: int) -> dict[str, Any]:
    zoo = get_zoo_model(name)
    spec, res = zoo.spec, zoo.resolution
    # MACs of the scored network (no residual links, no classifier) for two passes of a batch
    flop = 2 * spec.counts(res, 0, residual=False).macs * BATCH * 2
    ours_values: list[float] = []
    ref_values: list[float] = []

    def ours() -> None:
        ours_values.append(score(spec, "zen", resolution=res, batch_size=BATCH, seed=len(ours_values)).mean)

    def reference() -> None:
        ref_values.append(reference_zen_score(spec, res, seed=len(ref_values)))

    ref = time_calls(reference, runs=runs, warmup=1)  # call i uses seed i in both implementations
    fast = time_calls(ours, runs=runs, warmup=1)
    model = build_model(spec, 1000, residual=False, se=False).eval()
    x = torch.randn(BATCH, 3, res, res)

    def two_forwards() -> None:
        with torch.inference_mode():
            model.forward_pre_gap(x)
            model.forward_pre_gap(x)

    plain = time_calls(two_forwards, runs=runs, warmup=1)
    agreement = max(abs(a - b) for a, b in zip(ours_values, ref_values, strict=True))
    return {
        "network": name,
        "resolution": res,
        "batch": BATCH,
        "gflop_per_score": flop / 1e9,
        "zenbench": _row(fast, flop),
        "reference": _row(ref, flop),
        "two_plain_forwards": _row(plain, flop),
        "speedup_vs_reference": ref.median / fast.median,
        "ratio_to_two_forwards": fast.median / plain.median,
        "reference_ratio_to_two_forwards": ref.median / plain.median,
        "max_abs_score_difference": agreement,
        "score_mean": float(np.mean(ours_values)),
    }


def _row(m: Measurement, flop: float) -> dict[str, float]:
    return {**m.summary(), "gflops": flop / m.median / 1e9}


def run(runs: int = 10) -> dict[str, Any]:
    return {
        "suite": "zen_speed",
        "environment": environment(),
        "matmul_gflops": matmul_gflops(),
        "networks": [bench_network(name, runs) for name in NETWORKS],
    }
