"""The zoo suite's Kendall τ and its exact one-sided p-values, on made-up numbers."""

from __future__ import annotations

import math

import pytest

from zenbench.bench.zoo_proxies import FAMILIES, family_kendall, pooled_kendall, proof_sentence


def test_a_perfect_order_of_six_and_of_three_and_how_little_three_prove() -> None:
    six = family_kendall([1, 2, 3, 4, 5, 6], [77.8, 80.8, 81.5, 82.7, 83.0, 83.6])
    assert six.tau == pytest.approx(1.0) and six.p_one_sided == pytest.approx(1 / 720)
    three = family_kendall([0.1, 0.5, 0.9], [78.0, 79.1, 80.8])
    assert three.tau == pytest.approx(1.0) and three.p_one_sided == pytest.approx(1 / 6)
    assert "weaker than any usual threshold" in proof_sentence(three)
    assert "weaker" not in proof_sentence(six)


def test_a_reversed_order_has_tau_minus_one_and_p_one() -> None:
    result = family_kendall([6, 5, 4, 3, 2, 1], [1, 2, 3, 4, 5, 6])
    assert result.tau == pytest.approx(-1.0) and result.p_one_sided == pytest.approx(1.0)


def test_tied_accuracies_count_no_pair_and_the_p_value_enumerates_orders() -> None:
    # (96.2, 96.2, 97.5): only the two pairs with the 97.5 network count; S = 2 iff that network scores highest
    result = family_kendall([1.0, 2.0, 3.0], [96.2, 96.2, 97.5])
    assert result.p_one_sided == pytest.approx(1 / 3)


def test_pooled_tau_counts_within_family_pairs_only() -> None:
    perfect = pooled_kendall([([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]), ([3, 2, 1], [1, 2, 3])])
    # S = 15 - 3 over 18 pairs
    assert perfect.pairs == 18 and perfect.tau == pytest.approx(12 / 18)
    both = pooled_kendall([([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]), ([1, 2, 3], [1, 2, 3])])
    assert both.tau == pytest.approx(1.0) and both.p_one_sided == pytest.approx(1 / (720 * 6))


def test_a_non_finite_score_ranks_last() -> None:
    result = family_kendall([-math.inf, 1.0, 2.0], [1, 2, 3])
    assert result.tau == pytest.approx(1.0)


def test_the_four_families_hold_fifteen_networks() -> None:
    assert [len(n) for n in FAMILIES.values()] == [6, 3, 3, 3]
