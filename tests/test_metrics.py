"""Selection-bias measures against hand-computed cases and their defining properties."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coprod_sim.outcomes import bias as M


def test_quintile_rates_and_ratio():
    quintile = np.repeat(np.arange(5), 4)
    active = np.zeros(20)
    active[[0, 16, 17, 18]] = 1  # 1 of 4 in Q1, 3 of 4 in Q5
    assert M.quintile_rates(active, quintile).tolist() == [0.25, 0, 0, 0, 0.75]
    assert M.top_bottom_ratio(active, quintile) == pytest.approx(3.0)
    active[0] = 0
    assert np.isnan(M.top_bottom_ratio(active, quintile))


def test_concentration_index_extremes_and_equality():
    n = 1000
    rank = (np.arange(n) + 0.5) / n
    assert M.concentration_index(np.ones(n), rank) == pytest.approx(0.0)
    richest = (rank > 0.9).astype(float)
    poorest = (rank < 0.1).astype(float)
    # Only the top decile active: C = 2 cov / mean = 0.9 for a fractional rank.
    assert M.concentration_index(richest, rank) == pytest.approx(0.9, abs=1e-3)
    assert M.concentration_index(poorest, rank) == pytest.approx(-0.9, abs=1e-3)
    assert np.isnan(M.concentration_index(np.zeros(n), rank))


@given(st.lists(st.booleans(), min_size=5, max_size=300))
def test_concentration_index_is_bounded(active):
    y = np.array(active, dtype=float)
    rank = (np.arange(len(y)) + 0.5) / len(y)
    c = M.concentration_index(y, rank)
    assert np.isnan(c) or -1 <= c <= 1


def test_advantage_correlation():
    hood = np.repeat(np.arange(4), 10)
    advantage = np.array([0.1, 0.4, 0.6, 0.9])
    active = (np.arange(40) % 10 < np.repeat([1, 3, 5, 8], 10)).astype(float)
    assert M.advantage_correlation(active, hood, advantage) > 0.95
    assert M.advantage_correlation(active[::-1].copy(), hood, advantage) < -0.95
    assert np.isnan(M.advantage_correlation(np.ones(40), hood, advantage))
    assert np.isnan(M.advantage_correlation(active[:20], hood[:20], advantage[:2]))


def test_advantaged_output_share_splits_at_the_median_resident():
    advantage = np.array([0.1, 0.5, 0.9])
    size = np.array([100, 100, 100])
    # The middle neighbourhood straddles the median: half its output counts as advantaged.
    assert M.advantaged_output_share(np.array([0, 10, 0.0]), advantage, size) == pytest.approx(0.5)
    assert M.advantaged_output_share(np.array([0, 0, 10.0]), advantage, size) == pytest.approx(1.0)
    assert M.advantaged_output_share(np.array([1, 1, 1.0]), advantage, size) == pytest.approx(0.5)
    assert np.isnan(M.advantaged_output_share(np.zeros(3), advantage, size))


@given(st.lists(st.floats(0.01, 1.0), min_size=1, max_size=40), st.data())
def test_gini_matches_the_double_sum(values, data):
    x = np.array(values)
    w = np.array(data.draw(st.lists(st.integers(1, 50), min_size=len(x), max_size=len(x))), dtype=float)
    double_sum = (w[:, None] * w[None, :] * np.abs(x[:, None] - x[None, :])).sum()
    expected = double_sum / (2 * w.sum() ** 2 * np.average(x, weights=w))
    assert M.gini(x, w) == pytest.approx(expected, abs=1e-9)
    assert M.gini(np.full(5, 0.3)) == pytest.approx(0.0)
