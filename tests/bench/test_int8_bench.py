"""The int8 benchmark suites: the speed-up map's grouping and a real (small) timing run, the winners' description."""

from __future__ import annotations

import pytest

from zenbench.bench import int8_search, int8_speedup
from zenbench.latency.units import unit_mid


@pytest.mark.parametrize(("channels", "label"), [(8, "8-32"), (32, "8-32"), (40, "40-96"), (96, "40-96"),
                                                 (104, "104-256"), (256, "104-256"), (264, "264+"), (2048, "264+")])
def test_width_ranges_cover_every_width(channels: int, label: str) -> None:
    assert int8_speedup.width_range(channels) == label


def test_the_summary_is_the_median_speedup_per_kind_and_width() -> None:
    rows = [{"runtime": "cpu", "kind": "k", "width": "8-32", "speedup": s} for s in (1.0, 3.0, 2.0)]
    rows.append({"runtime": "cpu", "kind": "k", "width": "264+", "speedup": 0.5})
    summary = {(s["kind"], s["width"]): s for s in int8_speedup.summarise(rows)}
    assert summary[("k", "8-32")]["median_speedup"] == 2.0 and summary[("k", "8-32")]["units"] == 3
    assert summary[("k", "264+")]["min_speedup"] == 0.5


def test_the_sample_covers_every_kind_once_per_width_range() -> None:
    units = int8_speedup.sample_units(1, spaces=("xxbl",))
    cells = [(j.kind, int8_speedup.width_range(unit_mid(j.unit))) for j in units]
    assert len(cells) == len(set(cells)) > 10


def test_a_small_map_is_timed_in_both_precisions_and_plotted(tmp_path) -> None:
    result = int8_speedup.run(out=tmp_path, runtimes=["cpu"], limit=2)
    assert len(result["units"]) == 2
    for row in result["units"]:
        assert row["fp32_ms"] > 0 and row["int8_ms"] > 0
        assert row["speedup"] == pytest.approx(row["fp32_ms"] / row["int8_ms"])
    assert [p.endswith("int8_speedup_cpu.png") for p in result["plots"]] == [True]
    assert (tmp_path / "int8_speedup_cpu.png").stat().st_size > 1000


def test_a_winner_is_described_by_its_depth_size_and_blocks() -> None:
    d = int8_search.describe_structure("SuperConvK3BNRELU(3,16,2,1)SuperResK1K5K1(16,32,2,16,2)"
                                       "SuperConvK1BNRELU(32,128,1,1)")
    assert d["units"] == sum(d["block_types"].values()) == 6  # the stem, 4 residual units, the final 1x1
    assert d["final_width"] == d["max_width"] == 128 and d["block_types"]["SuperResK1K5K1"] == 4
    assert 0.1 < d["params_m"] < 0.2 and d["macs_g"] > 0


def test_a_budget_no_network_fits_is_reported_not_raised(tmp_path, monkeypatch) -> None:
    from zenbench.bench import int8_search
    from zenbench.errors import NoFeasibleCandidate

    def nothing_fits(*args, **kwargs):
        raise NoFeasibleCandidate("no candidate met the constraints in 3 iterations (rejected by: latency_ms 3)")

    monkeypatch.setattr("zenbench.api.search", nothing_fits)
    row = int8_search.compare_budget(0.5, 3, 0, tmp_path)
    assert row["winners"] == {} and row["no_candidate"]["device"] == "cpu" and "latency_ms" in row["no_candidate"]["error"]


def test_each_winner_records_whether_its_search_narrowed_the_start(tmp_path, monkeypatch) -> None:
    from zenbench.bench import int8_search
    from zenbench.proxies import ScoreResult

    structure = "SuperConvK3BNRELU(3,16,2,1)SuperResK1K5K1(16,32,2,16,2)SuperConvK1BNRELU(32,64,1,1)"

    def search(budget_ms, device, **kwargs):
        narrowed = {"init_width_factor": 0.64} if device == "cpu" else {}
        return {"best": {"structure": structure, "score": 1.0, "latency_ms": 1.0}, **narrowed}

    monkeypatch.setattr("zenbench.api.search", search)
    monkeypatch.setattr(int8_search, "_measure", lambda s: {d: [2.0] * len(s) for d in int8_search.DEVICES})
    monkeypatch.setattr("zenbench.proxies.score", lambda *a, **k: ScoreResult("zen", 1.0, 0.0, 0.0, (1.0,)))
    row = int8_search.compare_budget(5.0, 3, 0, tmp_path)
    assert row["winners"]["cpu"]["init_width_factor"] == 0.64 and row["winners"]["cpu:int8"]["init_width_factor"] == 1.0
