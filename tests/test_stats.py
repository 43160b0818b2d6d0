"""coprod_sim.stats: intervals cover the truth as often as they claim, and stay in range."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps

from coprod_sim import stats

REPEATS = 2000
# 95% coverage over 2000 repeats: a binomial sd of 0.49 points; accept +- 4 sd
TOLERANCE = 4 * math.sqrt(0.95 * 0.05 / REPEATS)

shares = st.lists(st.floats(0, 1), min_size=1, max_size=25)
correlations = st.lists(st.floats(-1, 1), min_size=1, max_size=25)
ratios = st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=25)


def coverage(draw, truth, estimator) -> float:
    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(REPEATS):
        e = estimator(draw(rng))
        hits += e.low <= truth <= e.high
    return hits / REPEATS


# ====================================================================== the formulas
@given(st.lists(st.floats(-100, 100), min_size=2, max_size=30))
def test_t_interval_is_scipys_t_interval(values):
    est = stats.t_interval(values)
    assert est.n == len(values) and math.isclose(est.mean, float(np.mean(values)), abs_tol=1e-9)
    if np.std(values) > 1e-9:
        low, high = sps.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=sps.sem(values))
        assert math.isclose(est.low, low, rel_tol=1e-9, abs_tol=1e-9)
        assert math.isclose(est.high, high, rel_tol=1e-9, abs_tol=1e-9)


def test_one_value_has_no_interval_and_nothing_is_distinguishable():
    for scale in ("mean", "ratio", "correlation"):
        est = stats.interval([0.3], scale)
        assert math.isclose(est.mean, 0.3) and not est.has_interval and not est.distinguishable
    assert stats.interval([], "mean").n == 0
    assert stats.interval([math.nan, math.inf, 0.5]).n == 1


def test_wilson_interval_matches_its_formula():
    k, n, z = 3, 20, sps.norm.ppf(0.975)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    est = stats.proportion(k, n)
    assert math.isclose(est.low, centre - half, rel_tol=1e-9)
    assert math.isclose(est.high, centre + half, rel_tol=1e-9)
    assert stats.proportion(0, 5).low == 0 and stats.proportion(0, 0).n == 0


def test_bootstrap_is_reproducible_and_brackets_the_statistic():
    v = np.random.default_rng(1).exponential(size=30)
    a, b = stats.bootstrap(v, np.median), stats.bootstrap(v, np.median)
    assert a == b and a.low < np.median(v) < a.high
    assert not stats.bootstrap([1.0, 1.0, 1.0]).has_interval


# ====================================================================== coverage
@pytest.mark.parametrize("n", [3, 10])
def test_t_interval_covers_the_true_mean_95_percent_of_the_time(n):
    cov = coverage(lambda rng: rng.normal(0.3, 0.05, n), 0.3, stats.t_interval)
    assert abs(cov - 0.95) < TOLERANCE


@pytest.mark.parametrize("n", [3, 10])
def test_fisher_z_interval_covers_the_true_correlation(n):
    """Per-replication correlations whose z is normal around atanh(0.8)."""
    cov = coverage(lambda rng: np.tanh(rng.normal(math.atanh(0.8), 0.4, n)), 0.8,
                   lambda v: stats.interval(v, "correlation"))
    assert abs(cov - 0.95) < TOLERANCE


def test_log_scale_interval_covers_the_true_geometric_mean_of_a_ratio():
    cov = coverage(lambda rng: np.exp(rng.normal(math.log(1.6), 0.5, 5)), 1.6,
                   lambda v: stats.interval(v, "ratio"))
    assert abs(cov - 0.95) < TOLERANCE


@pytest.mark.parametrize("scale", ["mean", "ratio", "correlation"])
def test_paired_difference_of_equal_policies_is_called_distinguishable_5_percent_of_the_time(scale):
    """Two policies with the same effect, sharing each replication's noise (common random numbers)."""
    rng = np.random.default_rng(3)
    false = 0
    for _ in range(REPEATS):
        shared = rng.normal(0, 0.3, 6)
        a, b = (shared + rng.normal(0, 0.05, 6) for _ in range(2))
        if scale == "ratio":
            a, b = np.exp(a), np.exp(b)
        elif scale == "correlation":
            a, b = np.tanh(a + 0.5), np.tanh(b + 0.5)
        false += stats.paired_difference(a, b, scale).distinguishable
    assert abs(false / REPEATS - 0.05) < TOLERANCE


def test_pairing_removes_the_noise_both_policies_share():
    rng = np.random.default_rng(1)
    shared = rng.normal(0.3, 0.1, 8)
    d = stats.paired_difference(shared + 0.01, shared)
    assert math.isclose(d.mean, 0.01) and d.distinguishable and d.high - d.low < 1e-9
    a, b = stats.t_interval(shared + 0.01), stats.t_interval(shared)
    assert a.low < b.high  # unpaired, the two intervals overlap


# ====================================================================== ranges
@given(shares)
def test_a_share_interval_stays_in_0_1(v):
    e = stats.t_interval(v, bounds=(0, 1))
    assert 0 <= e.mean <= 1
    if e.has_interval:
        assert 0 <= e.low <= e.mean <= e.high <= 1


@given(correlations)
def test_a_correlation_interval_stays_in_minus_1_1(v):
    e = stats.interval(v, "correlation")
    assert -1 <= e.mean <= 1
    if e.has_interval:
        assert -1 <= e.low <= e.mean + 1e-12 and e.mean - 1e-12 <= e.high <= 1


@given(ratios)
def test_a_ratio_interval_stays_above_zero(v):
    e = stats.interval(v, "ratio")
    assert e.mean > 0
    if e.has_interval:
        assert 0 <= e.low <= e.mean * (1 + 1e-12) and e.high >= e.mean * (1 - 1e-12)


@given(st.lists(st.tuples(st.floats(-1, 1), st.floats(-1, 1)), min_size=1, max_size=20))
def test_a_paired_correlation_difference_is_the_difference_of_levels_and_stays_in_range(pairs):
    a, b = (np.array(x) for x in zip(*pairs, strict=True))
    d = stats.paired_difference(a, b, "correlation")
    la, lb = stats.interval(a, "correlation"), stats.interval(b, "correlation")
    assert math.isclose(d.mean, la.mean - lb.mean, abs_tol=1e-9)
    # the estimate is a difference of two correlations; with the interval, it stays in [-2, 2]
    assert -2 <= d.mean <= 2
    if d.has_interval:
        # mapped around b's level: the policy's own level stays in [-1, 1]
        assert -1 - 1e-9 <= lb.mean + d.low <= lb.mean + d.high <= 1 + 1e-9


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=20))
def test_a_paired_share_difference_stays_in_minus_1_1(pairs):
    a, b = (np.array(x) for x in zip(*pairs, strict=True))
    d = stats.paired_difference(a, b, bounds=(0, 1))
    assert -1 <= d.mean <= 1
    if d.has_interval:
        assert -1 <= d.low <= d.high <= 1


def test_pairs_with_a_missing_side_are_left_out():
    d = stats.paired_difference([1.5, 2.5, math.nan], [1.0, 2.0, 3.0])
    assert d.n == 2 and d.mean == 0.5
    with pytest.raises(ValueError, match="differ in length"):
        stats.paired_difference([1.0], [1.0, 2.0])


def test_partial_rank_correlation_finds_the_lever_that_matters_and_covers_zero_for_one_that_does_not():
    rng = np.random.default_rng(5)
    x = rng.uniform(size=(60, 2))
    y = np.exp(3 * x[:, 0]) + rng.normal(0, 0.5, 60)  # monotone in x0, independent of x1
    strong, none = stats.partial_rank_correlations(x, y)
    assert strong.low > 0.8 and none.low < 0 < none.high
    assert -1 <= strong.low <= strong.high <= 1


def test_a_correlation_interval_covers_the_true_correlation():
    rng = np.random.default_rng(9)
    cov = [[1, 0.6], [0.6, 1]]
    hits = 0
    for _ in range(REPEATS):
        xy = rng.multivariate_normal([0, 0], cov, 20)
        e = stats.correlation_interval(float(np.corrcoef(xy.T)[0, 1]), 20)
        hits += e.low <= 0.6 <= e.high
    assert abs(hits / REPEATS - 0.95) < TOLERANCE
