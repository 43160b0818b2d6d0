"""Shapley values of on/off channels: exact over all subsets, or over sampled orders.

Channels N = {0..k-1}; a subset S (the channels switched *on*) is a bitmask, bit i set when
channel i is on. ``values[S]`` holds v_r(S), the bias measure of the run with exactly S on, one
value per replication r (the same seeds for every S: common random numbers). Each channel's
Shapley value is its marginal contribution averaged over every order of switching channels on
(Shapley 1953, *Contributions to the Theory of Games* II, 307-317):

    phi_i,r = sum_{S subset N without i}  |S|! (k - |S| - 1)! / k!  [v_r(S + i) - v_r(S)]

With sampled orders pi_1..pi_M (Castro, Gomez & Tejada 2009, *Computers & Operations Research*
36(5)), phi_i,r = mean_m [v_r(Pre_i(pi_m) + i) - v_r(Pre_i(pi_m))]; each order and its reverse
are drawn together (antithetic pairs, lower variance). Both estimators are *efficient*: the
contributions add up to v_r(N) - v_r(empty) exactly, replication by replication.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import factorial

import numpy as np

Subset = int
"""A bitmask over channels: bit i set when channel i is switched on."""


def full(k: int) -> Subset:
    """The subset with every channel on."""
    return (1 << k) - 1


def all_subsets(k: int) -> np.ndarray:
    """Every subset of k channels, 0 .. 2**k - 1."""
    return np.arange(1 << k, dtype=np.int64)


def shapley_weights(k: int) -> np.ndarray:
    """w[s] = s! (k - s - 1)! / k!, the weight of a subset of size s not containing the channel."""
    return np.array([factorial(s) * factorial(k - s - 1) / factorial(k) for s in range(k)])


def _values(values: Mapping[Subset, np.ndarray], subset: Subset) -> np.ndarray:
    try:
        return np.asarray(values[subset], dtype=float)
    except KeyError:
        raise KeyError(f"no value for the subset with channels {members(subset)} on") from None


def members(subset: Subset) -> list[int]:
    """The channels (indices) on in ``subset``."""
    return [i for i in range(subset.bit_length()) if subset >> i & 1]


def shapley_exact(values: Mapping[Subset, np.ndarray], k: int) -> np.ndarray:
    """Exact Shapley values, shape (k, R): one row per channel, one column per replication."""
    w = shapley_weights(k)
    size = np.array([bin(s).count("1") for s in range(1 << k)])
    first = _values(values, 0)
    phi = np.zeros((k, *first.shape))
    for i in range(k):
        bit = 1 << i
        for s in range(1 << k):
            if not s & bit:
                phi[i] += w[size[s]] * (_values(values, s | bit) - _values(values, s))
    return phi


def permutation_orders(k: int, m: int, rng: np.random.Generator, antithetic: bool = True) -> np.ndarray:
    """``m`` orders of the k channels, shape (m, k); with ``antithetic`` each order then its reverse."""
    if m < 1:
        raise ValueError("at least one order is needed")
    orders = []
    while len(orders) < m:
        order = rng.permutation(k)
        orders.append(order)
        if antithetic and len(orders) < m:
            orders.append(order[::-1].copy())
    return np.array(orders, dtype=np.int64)


def subsets_for_orders(orders: np.ndarray) -> list[Subset]:
    """The subsets to simulate for these orders (each prefix of each order), sorted, no repeats."""
    needed = {0}
    for order in orders:
        s = 0
        for i in order:
            s |= 1 << int(i)
            needed.add(s)
    return sorted(needed)


def shapley_from_orders(values: Mapping[Subset, np.ndarray], orders: np.ndarray) -> np.ndarray:
    """Shapley values estimated from sampled orders, shape (k, R) like :func:`shapley_exact`."""
    k = orders.shape[1]
    first = _values(values, 0)
    phi = np.zeros((k, *first.shape))
    for order in orders:
        s, prev = 0, first
        for i in order:
            s |= 1 << int(i)
            cur = _values(values, s)
            phi[int(i)] += cur - prev
            prev = cur
    return phi / len(orders)


def plan_subsets(k: int, max_exact: int = 7, permutations: int | None = None,
                 seed: int = 0) -> tuple[list[Subset], np.ndarray | None]:
    """The subsets a decomposition needs, and the sampled orders (None when exact).

    Exact up to ``max_exact`` channels (2**k subsets); beyond, ``permutations`` orders (default:
    at least 64, and enough that orders x (k + 1) reaches 2**max_exact runs' worth).
    """
    if k <= max_exact and permutations is None:
        return list(range(1 << k)), None
    m = permutations or max(64, -(-(1 << max_exact) // (k + 1)))
    m += m % 2  # whole antithetic pairs
    orders = permutation_orders(k, m, np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,))))
    return subsets_for_orders(orders), orders


def decompose(values: Mapping[Subset, np.ndarray], k: int, orders: np.ndarray | None = None) -> np.ndarray:
    """Shapley values (k, R): exact when ``orders`` is None, else from the sampled orders."""
    return shapley_exact(values, k) if orders is None else shapley_from_orders(values, orders)
