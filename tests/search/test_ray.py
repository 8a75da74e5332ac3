"""Scoring on a Ray cluster gives the same search as scoring in this process (local cluster started here)."""

from __future__ import annotations

import pytest

from zenbench.budget import Constraints
from zenbench.search import SearchSettings, search
from zenbench.search.presets import CIFAR_INIT

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'zenbench[distributed]'")


def test_ray_search_matches_inline(tmp_path) -> None:
    settings = SearchSettings(space="xxbl", init=CIFAR_INIT, resolution=16, num_classes=10, population=6, iterations=12,
                              batch_size=4, seed=4, workers=2,
                              constraints=Constraints(params=3e5, resolution=16, num_classes=10))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = search(settings, tmp_path / "ray", ray_address="local")
    finally:
        ray.shutdown()
    local = search(settings, tmp_path / "local")
    assert on_ray["best"] == local["best"]
