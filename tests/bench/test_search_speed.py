"""The zoo comparison reads its milestones from one run, and a run in a folder resumes instead of restarting."""

from __future__ import annotations

import json

from zenbench.bench.search_speed import zoo_gap


def test_zoo_gap_milestones_and_resume(tmp_path) -> None:
    out = tmp_path / "run"
    first = zoo_gap("zennet_cifar100_model_size1M_res32", 24, batch=4, milestones=(12, 24), out=out)
    assert set(first["best_score_at"]) == {12, 24}
    assert first["best_score_at"][12] <= first["best_score_at"][24] == first["search_best_score"]
    assert first["search_best"]["params"] <= first["constraints"]["params"]
    assert json.loads((out / "checkpoint.json").read_text())["iteration"] == 24
    again = zoo_gap("zennet_cifar100_model_size1M_res32", 24, batch=4, milestones=(12, 24), out=out)
    assert again["best_score_at"] == first["best_score_at"] and again["search_best"] == first["search_best"]
