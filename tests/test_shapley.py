"""Shapley values over channels: efficiency (contributions add up) and a toy model recovered."""

from itertools import permutations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coprod_sim.analysis import shapley


def _random_game(k: int, reps: int, seed: int) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {s: rng.normal(0, 1, reps) for s in range(1 << k)}


@given(k=st.integers(1, 6), reps=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_exact_contributions_add_up_to_the_total(k, reps, seed):
    values = _random_game(k, reps, seed)
    phi = shapley.shapley_exact(values, k)
    assert phi.shape == (k, reps)
    np.testing.assert_allclose(phi.sum(axis=0), values[shapley.full(k)] - values[0], atol=1e-12)


@given(k=st.integers(1, 9), m=st.integers(1, 30), seed=st.integers(0, 2**32 - 1))
def test_sampled_contributions_add_up_to_the_total(k, m, seed):
    orders = shapley.permutation_orders(k, m, np.random.default_rng(seed))
    values = _random_game(k, 3, seed)
    phi = shapley.shapley_from_orders(values, orders)
    np.testing.assert_allclose(phi.sum(axis=0), values[shapley.full(k)] - values[0], atol=1e-12)
    assert set(shapley.subsets_for_orders(orders)) <= set(values)


def _toy(k: int, effects: np.ndarray, interaction: float, noise: np.ndarray):
    """Additive effects plus one interaction between channels 0 and 1 (shared equally)."""
    def v(s: int) -> np.ndarray:
        on = shapley.members(s)
        both = interaction if (s & 0b11) == 0b11 else 0.0
        return effects[on].sum() + both + noise * (1 + len(on))
    return {s: v(s) for s in range(1 << k)}


def test_toy_model_with_known_contributions_is_recovered():
    k = 7
    effects = np.array([0.05, 0.03, 0.02, 0.01, 0.0, 0.04, -0.02])
    noise = np.random.default_rng(0).normal(0, 0.005, 20)
    values = _toy(k, effects, 0.02, noise)
    expected = effects + np.r_[0.01, 0.01, np.zeros(5)]
    # the noise grows with the number of channels on: each channel's share of it is noise / 1
    phi = shapley.shapley_exact(values, k)
    np.testing.assert_allclose(phi, expected[:, None] + noise[None, :], atol=1e-12)
    orders = shapley.permutation_orders(k, 400, np.random.default_rng(1))
    sampled = shapley.shapley_from_orders(values, orders)
    np.testing.assert_allclose(sampled.mean(axis=1), phi.mean(axis=1), atol=0.004)


def test_every_order_gives_the_exact_value():
    k = 4
    values = _random_game(k, 2, 5)
    orders = np.array(list(permutations(range(k))))
    np.testing.assert_allclose(shapley.shapley_from_orders(values, orders),
                               shapley.shapley_exact(values, k), atol=1e-12)


def test_plan_is_exact_up_to_seven_channels_and_sampled_beyond():
    subsets, orders = shapley.plan_subsets(7)
    assert orders is None and subsets == list(range(128))
    subsets, orders = shapley.plan_subsets(9, seed=3)
    assert orders is not None and len(orders) % 2 == 0 and len(orders) >= 64
    assert len(subsets) < 512 and 0 in subsets and shapley.full(9) in subsets
    again, orders2 = shapley.plan_subsets(9, seed=3)
    assert again == subsets and np.array_equal(orders, orders2)


def test_missing_subset_is_named():
    with pytest.raises(KeyError, match=r"channels \[0, 1\] on"):
        shapley.shapley_exact({0: np.zeros(1), 1: np.zeros(1), 2: np.zeros(1)}, 2)
