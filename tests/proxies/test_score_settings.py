"""score() refuses impossible settings and oversize networks before building anything; intervals are t-based."""

from __future__ import annotations

import math
import statistics

import pytest
from scipy import stats

import zenbench.proxies as proxies
from zenbench.errors import LimitError, SettingError, ZenbenchError
from zenbench.proxies import score, t_interval95
from zenbench.space.limits import Limits

SMALL = "SuperConvK3BNRELU(3,8,1,1)SuperResK3K3(8,16,2,8,1)SuperConvK1BNRELU(16,32,1,1)"


@pytest.fixture
def nothing_built(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("a module was built before the settings were checked")

    monkeypatch.setattr(proxies, "build_for_scoring", refuse)
    monkeypatch.setattr(proxies, "build_model", refuse)


@pytest.mark.parametrize("batch_size", [0, -1])
def test_a_batch_below_one_is_an_error_not_minus_infinity(nothing_built, batch_size: int) -> None:
    with pytest.raises(SettingError, match="batch_size") as error:
        score(SMALL, "zen", resolution=16, batch_size=batch_size)
    assert isinstance(error.value, ZenbenchError) and "--batch-size" in str(error.value)


def test_no_repeats_is_an_error(nothing_built) -> None:
    with pytest.raises(SettingError, match="repeat"):
        score(SMALL, "zen", resolution=16, batch_size=4, repeat=0)


def test_an_oversize_allocation_is_refused_before_anything_is_built(nothing_built) -> None:
    with pytest.raises(LimitError, match="max_activation_bytes"):
        score(SMALL, "zen", resolution=16, batch_size=4, limits=Limits(max_activation_bytes=10_000))
    with pytest.raises(LimitError, match="max_channels"):
        score(SMALL, "params", resolution=16, limits=Limits(max_channels=8))  # analytic proxies too
    with pytest.raises(ZenbenchError, match="resolution"):
        score(SMALL, "zen", resolution=0, batch_size=4)  # 0 is an error, not the default


def test_three_repeats_give_a_t_interval_twice_as_wide_as_the_normal_one() -> None:
    values = [1.0, 2.0, 4.0]
    normal = 1.96 * statistics.stdev(values) / math.sqrt(3)
    assert t_interval95(values) / normal == pytest.approx(stats.t.ppf(0.975, 2) / 1.96)
    assert 2.1 < t_interval95(values) / normal < 2.3
    low, high = stats.t.interval(0.95, 2, loc=statistics.fmean(values), scale=stats.sem(values))
    assert t_interval95(values) == pytest.approx((high - low) / 2)
    assert t_interval95([5.0]) == 0.0


def test_score_reports_the_t_interval_over_its_repeats() -> None:
    result = score(SMALL, "zen", resolution=16, batch_size=4, repeat=3)
    assert len(result.values) == 3 and result.ci95 > 0
    assert result.ci95 == pytest.approx(stats.t.ppf(0.975, 2) * statistics.stdev(result.values) / math.sqrt(3))
    assert result.std == pytest.approx(statistics.pstdev(result.values))  # the reported spread is unchanged
