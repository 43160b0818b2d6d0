"""Outcomes by level of involvement and by mode x level, recorded each month.

A citizen took part at level l in the past year if they had an accepted episode at that
level in the last ``simulation.year_window`` months; at mode m and level l if one month's
episode had both (one episode a month, so the month's mode and level bits line up).

Every measure is built from integer counts (exact in any order), so the compiled counting
pass (:mod:`coprod_sim.outcomes.counting`) and :func:`level_counts` give the same numbers.
The concentration index of a level uses the integer SES ranks: with R = (rank + 1/2) / n,
C = 2 cov(y, R) / mean(y) = 2 mean(R | y) - 1.
The columns, with their words, are declared in :data:`coprod_sim.names.OUTCOMES`.
"""

from __future__ import annotations

import numpy as np

from coprod_sim.names import LEVELS, MODES, N_QUINTILES
from coprod_sim.outcomes import bias as metrics

N_LEVELS = len(LEVELS)


def level_counts(level, activity_by_level, activity_by_mode, mask, quintile, rank, n_half):
    """The counts by level of the past year and of this month, in NumPy.

    Returns (by_level (3, 5), by_mode_level (3, 3, 5), rank_sums (3,), month (3,)), the
    integers the compiled month counts in its one recording pass
    (:func:`coprod_sim.outcomes.counting.count_levels`).
    """
    by_level = np.zeros((3, 5), np.int64)
    by_mode_level = np.zeros((3, 3, 5), np.int64)
    rank_sums = np.zeros(3, np.int64)
    for b in range(N_LEVELS):
        y = activity_by_level[b] & mask
        on = y != 0
        by_level[b] = np.bincount(quintile[on], minlength=5)
        rank_sums[b] = int(rank[on].sum())
        for m in range(len(MODES)):
            both = (activity_by_mode[m] & y) != 0
            by_mode_level[m, b] = np.bincount(quintile[both], minlength=5)
    active = level >= 0
    high = level >= 1
    month = np.array([np.count_nonzero(active), np.count_nonzero(high),
                      np.count_nonzero(high & (rank >= n_half))], np.int64)
    return by_level, by_mode_level, rank_sums, month


def integer_ranks(ses_rank: np.ndarray) -> np.ndarray:
    """The integer SES rank of each citizen, from R = (rank + 1/2) / n (kept once per town)."""
    n = len(ses_rank)
    return np.rint(ses_rank * n - 0.5).astype(np.int64)


def level_outcomes(citizens, per_quintile: np.ndarray, mask: int, seats: np.ndarray | None = None,
                   *, counts: tuple | None = None) -> dict[str, float]:
    """This month's columns by level, by mode x level, of high levels and of co-design seats.

    ``per_quintile`` holds the citizens of each SES quintile; ``seats`` (2, 5) the residents
    asked for a co-design seat and those who accepted, by quintile (None: no seats);
    ``counts`` the output of :func:`level_counts` if already counted (the compiled recording
    pass counts them with everything else).
    """
    c = citizens
    n = c.n
    if counts is None:
        counts = level_counts(c.level, c.activity_by_level, c.activity_by_mode, mask, c.quintile,
                              integer_ranks_of(c), n // 2)
    by_level, by_mode_level, rank_sums, month = counts
    residents = np.maximum(per_quintile, 1)
    row: dict[str, float] = {}
    for b, name in enumerate(LEVELS):
        row[f"participation_year_{name}"] = int(by_level[b].sum()) / n
    for b, name in enumerate(LEVELS):
        row[f"top_bottom_ratio_{name}"] = metrics.ratio_of_rates(by_level[b] / residents)
    for b, name in enumerate(LEVELS):
        p = int(by_level[b].sum())
        # C = 2 mean(R | participant) - 1, R = (rank + 1/2) / n.
        row[f"concentration_index_{name}"] = (
            2.0 * (int(rank_sums[b]) + 0.5 * p) / (n * p) - 1.0 if p else np.nan)
    for m, mode in enumerate(MODES):
        for b, name in enumerate(LEVELS):
            row[f"participation_year_{mode}_{name}"] = int(by_mode_level[m, b].sum()) / n
    for m, mode in enumerate(MODES):
        for b, name in enumerate(LEVELS):
            row[f"top_bottom_ratio_{mode}_{name}"] = metrics.ratio_of_rates(
                by_mode_level[m, b] / residents)
    episodes, high, advantaged = (int(x) for x in month)
    row["high_level_share"] = high / episodes if episodes else np.nan
    row["advantaged_high_level_share"] = advantaged / high if high else np.nan
    asked = np.zeros(N_QUINTILES) if seats is None else seats[0]
    accepted = np.zeros(N_QUINTILES) if seats is None else seats[1]
    held = accepted.sum()
    for q in range(N_QUINTILES):
        row[f"seat_share_q{q + 1}"] = accepted[q] / held if held else np.nan
    for q in range(N_QUINTILES):
        row[f"seat_acceptance_q{q + 1}"] = accepted[q] / asked[q] if asked[q] else np.nan
    return {k: float(v) for k, v in row.items()}


def integer_ranks_of(c) -> np.ndarray:
    """Integer SES ranks of ``c``, computed once per Citizens object."""
    cached = getattr(c, "_integer_ranks", None)
    if cached is None or cached[0] != id(c.ses_rank):
        cached = (id(c.ses_rank), integer_ranks(c.ses_rank))
        c._integer_ranks = cached  # an attribute of this object, not a dataclass field
    return cached[1]
