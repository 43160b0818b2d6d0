"""Outcomes by level of involvement and by mode x level, recorded each month.

A citizen took part at level l in the past year if they had an accepted episode at that
level in the last ``simulation.year_window`` months; at mode m and level l if one month's
episode had both (one episode a month, so the month's mode and level bits line up).

Every measure is built from integer counts (exact in any order), so the compiled counting
pass (:mod:`coprod_sim.outcomes.counting`) and :func:`level_counts` give the same numbers.
The concentration index of a level uses the integer SES ranks: with R = (rank + 1/2) / n,
C = 2 cov(y, R) / mean(y) = 2 mean(R | y) - 1. The area measures at a level are those of
:mod:`coprod_sim.outcomes.bias` over neighbourhoods' counts: participants at the level, and
the month's successful episodes at the level by mode, weighted by their output.
The columns, with their words, are declared in :data:`coprod_sim.names.OUTCOMES`.
"""

from __future__ import annotations

import numpy as np

from coprod_sim.names import LEVELS, MODES, N_MODES, N_QUINTILES, RESULT_SUCCESS
from coprod_sim.outcomes import bias as metrics
from coprod_sim.rules import equations as eq

N_LEVELS = len(LEVELS)


def level_counts(c, mask: int, rank: np.ndarray, n_half: int, n_hoods: int) -> tuple:
    """The counts by level of the past year and of this month, in NumPy, for citizens ``c``.

    Returns (by_level (3, 5), by_mode_level (3, 3, 5), rank_sums (3,), month (3,),
    by_hood_level (3, K), mode_level_rank_sums (3, 3), successes (K, 3, 3)), the integers the
    compiled month counts in its one recording pass
    (:func:`coprod_sim.outcomes.counting.count_levels`).
    """
    quintile, hood = c.quintile, c.neighbourhood
    by_level = np.zeros((3, 5), np.int64)
    by_mode_level = np.zeros((3, 3, 5), np.int64)
    rank_sums = np.zeros(3, np.int64)
    by_hood_level = np.zeros((3, n_hoods), np.int64)
    mode_rank_sums = np.zeros((3, 3), np.int64)
    for b in range(N_LEVELS):
        y = c.activity_by_level[b] & mask
        on = y != 0
        by_level[b] = np.bincount(quintile[on], minlength=5)
        rank_sums[b] = int(rank[on].sum())
        by_hood_level[b] = np.bincount(hood[on], minlength=n_hoods)
        for m in range(len(MODES)):
            both = (c.activity_by_mode[m] & y) != 0
            by_mode_level[m, b] = np.bincount(quintile[both], minlength=5)
            mode_rank_sums[m, b] = int(rank[both].sum())
    active = c.level >= 0
    high = c.level >= 1
    month = np.array([np.count_nonzero(active), np.count_nonzero(high),
                      np.count_nonzero(high & (rank >= n_half))], np.int64)
    won = (c.result == RESULT_SUCCESS) & (c.mode >= 0) & active
    cell = (hood[won].astype(np.int64) * N_MODES + c.mode[won]) * N_LEVELS + c.level[won]
    successes = np.bincount(cell, minlength=n_hoods * N_MODES * N_LEVELS).reshape(
        n_hoods, N_MODES, N_LEVELS)
    return by_level, by_mode_level, rank_sums, month, by_hood_level, mode_rank_sums, successes


def integer_ranks(ses_rank: np.ndarray) -> np.ndarray:
    """The integer SES rank of each citizen, from R = (rank + 1/2) / n (kept once per town)."""
    n = len(ses_rank)
    return np.rint(ses_rank * n - 0.5).astype(np.int64)


def level_outcomes(state, params, per_quintile: np.ndarray, per_hood: np.ndarray, mask: int,
                   *, counts: tuple | None = None) -> dict[str, float]:
    """This month's columns by level, by mode x level, of high levels and of co-design seats.

    ``per_quintile`` and ``per_hood`` hold the citizens of each SES quintile and of each
    neighbourhood; ``counts`` the output of :func:`level_counts` if already counted (the
    compiled recording pass counts them with everything else).
    """
    c = state.citizens
    n = c.n
    if counts is None:
        counts = level_counts(c, mask, integer_ranks_of(c), n // 2, len(per_hood))
    by_level, by_mode_level, rank_sums, month, by_hood_level, mode_rank_sums, successes = counts
    residents = np.maximum(per_quintile, 1)
    row: dict[str, float] = {}
    for b, name in enumerate(LEVELS):
        row[f"participation_year_{name}"] = int(by_level[b].sum()) / n
    for b, name in enumerate(LEVELS):
        row[f"top_bottom_ratio_{name}"] = metrics.ratio_of_rates(by_level[b] / residents)
    for b, name in enumerate(LEVELS):
        row[f"concentration_index_{name}"] = rank_concentration(int(rank_sums[b]),
                                                                int(by_level[b].sum()), n)
    row.update(_area_rows(state, params, by_hood_level, per_hood, successes))
    for m, mode in enumerate(MODES):
        for b, name in enumerate(LEVELS):
            row[f"participation_year_{mode}_{name}"] = int(by_mode_level[m, b].sum()) / n
    for m, mode in enumerate(MODES):
        for b, name in enumerate(LEVELS):
            row[f"top_bottom_ratio_{mode}_{name}"] = metrics.ratio_of_rates(
                by_mode_level[m, b] / residents)
    for m, mode in enumerate(MODES):
        for b, name in enumerate(LEVELS):
            row[f"concentration_index_{mode}_{name}"] = rank_concentration(
                int(mode_rank_sums[m, b]), int(by_mode_level[m, b].sum()), n)
    episodes, high, advantaged = (int(x) for x in month)
    row["high_level_share"] = high / episodes if episodes else np.nan
    row["advantaged_high_level_share"] = advantaged / high if high else np.nan
    row.update(_seat_rows(state.seat_counts, state.seats_opened))
    return {k: float(v) for k, v in row.items()}


def rank_concentration(rank_sum: int, p: int, n: int) -> float:
    """Concentration index of ``p`` participants among ``n`` whose integer SES ranks sum to
    ``rank_sum``: C = 2 mean(R | participant) - 1, R = (rank + 1/2) / n (``nan`` if p = 0)."""
    return 2.0 * (rank_sum + 0.5 * p) / (n * p) - 1.0 if p else np.nan


def _area_rows(state, params, by_hood_level: np.ndarray, per_hood: np.ndarray,
               successes: np.ndarray) -> dict[str, float]:
    """The area bias at each level: the correlation of neighbourhoods' advantage with their
    participation at that level, and the share of the month's output of that level's episodes
    reaching the advantaged half of residents (a successful episode's output is w_m h_l)."""
    hoods = state.neighbourhoods
    rates = by_hood_level / np.maximum(per_hood, 1)
    output = (successes * output_weights(params)).sum(axis=1)  # (K, levels)
    row: dict[str, float] = {}
    for b, name in enumerate(LEVELS):
        row[f"advantage_correlation_{name}"] = metrics.rate_correlation(hoods.advantage, rates[b])
    for b, name in enumerate(LEVELS):
        row[f"advantaged_output_share_{name}"] = metrics.advantaged_output_share(
            output[:, b], hoods.advantage, hoods.size)
    return row


def output_weights(params) -> np.ndarray:
    """(modes, levels): the output of one successful episode in each mode at each level."""
    m, b = np.divmod(np.arange(N_MODES * N_LEVELS), N_LEVELS)
    return np.asarray(eq.episode_output(m, b, eq.coefficients(params)),
                      dtype=np.float64).reshape(N_MODES, N_LEVELS)


def _seat_rows(seats: np.ndarray | None, opened: np.ndarray | None) -> dict[str, float]:
    """Who held the past year's co-design seats, who accepted, by quintile, and the share of
    seats filled; ``seats`` (W, 2, 5) the residents asked and those who accepted in each of
    the window's months, ``opened`` (W,) the seats opened (None: no seats).

    Ratios of the window's sums, not means of monthly ratios: where asking stops at the first
    acceptance (sortition with redraws), a month's accepted/asked is 1/N for a geometric N,
    whose mean is well above the chance of accepting.
    """
    asked, accepted = (np.zeros(N_QUINTILES) if seats is None else seats[:, i].sum(axis=0)
                       for i in (0, 1))
    held = accepted.sum()
    total = 0 if opened is None else opened.sum()
    row: dict[str, float] = {}
    for q in range(N_QUINTILES):
        row[f"seat_share_q{q + 1}"] = accepted[q] / held if held else np.nan
    for q in range(N_QUINTILES):
        row[f"seat_acceptance_q{q + 1}"] = accepted[q] / asked[q] if asked[q] else np.nan
    row["seats_filled_share"] = held / total if total else np.nan
    return row


def integer_ranks_of(c) -> np.ndarray:
    """Integer SES ranks of ``c``, computed once per Citizens object."""
    cached = getattr(c, "_integer_ranks", None)
    if cached is None or cached[0] != id(c.ses_rank):
        cached = (id(c.ses_rank), integer_ranks(c.ses_rank))
        c._integer_ranks = cached  # an attribute of this object, not a dataclass field
    return cached[1]
