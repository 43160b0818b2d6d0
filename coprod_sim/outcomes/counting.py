"""The integer counts and per-citizen values ``record`` needs each month, in compiled passes.

One pass counts everything (participation, by mode, quintile, neighbourhood, and by level of
involvement): each pass over a million citizens costs milliseconds of memory traffic.

Counts are integers (exact in any order) and the values are handed to NumPy to average, so
the recorded outcomes are the same with or without these (``tests/test_accelerated.py``).
"""

from __future__ import annotations

import numpy as np

from coprod_sim.names import N_QUINTILES, RESULT_FAILURE, RESULT_REJECTED, RESULT_SUCCESS
from coprod_sim.rules.jit import jit


@jit
def year_counts(mode, activity, activity_by_mode, mask, quintile, hood, n_hoods, offered, result,
                level, activity_by_level, rank):
    """The integer counts ``observe`` needs, in one pass (all exact, so order is free).

    Returns (ints, by_quintile, by_hood, by_level): ints = [active this month in mode 0..2,
    participants of the year, of the year in mode 0..2, regulars (active in >= 2 months of
    the year), offers, rejections, successes, failures]; by_quintile (3, N_QUINTILES) =
    participants, participants in individual mode, in group or collective mode; by_hood =
    participants; by_level the counts by level of involvement (:func:`count_levels`), with
    this month's successes by neighbourhood, mode and level.
    """
    ints = np.zeros(12, np.int64)
    by_q = np.zeros((3, N_QUINTILES), np.int64)
    by_hood = np.zeros(n_hoods, np.int64)
    by_level = level_arrays(n_hoods)
    successes = by_level[6]
    n_half = mode.shape[0] // 2
    for i in range(mode.shape[0]):
        m = mode[i]
        if m >= 0:
            ints[m] += 1
        if offered[i] >= 0:
            ints[8] += 1
        r = result[i]
        if r == RESULT_REJECTED:
            ints[9] += 1
        elif r == RESULT_SUCCESS:
            ints[10] += 1
            if m >= 0 and level[i] >= 0:  # (a negative index would wrap round silently)
                successes[hood[i], m, level[i]] += 1
        elif r == RESULT_FAILURE:
            ints[11] += 1
        recent = activity[i] & mask
        if recent == 0:  # no episode in the window (most citizens): nothing more to count
            continue
        q = quintile[i]
        ints[3] += 1
        by_q[0, q] += 1
        by_hood[hood[i]] += 1
        if recent & (recent - 1):
            ints[7] += 1
        y0 = activity_by_mode[0, i] & mask
        y1 = activity_by_mode[1, i] & mask
        y2 = activity_by_mode[2, i] & mask
        if y0:
            ints[4] += 1
            by_q[1, q] += 1
        if y1:
            ints[5] += 1
        if y2:
            ints[6] += 1
        if y1 or y2:
            by_q[2, q] += 1
        count_levels(i, q, hood[i], rank[i], n_half, level[i], y0, y1, y2, activity_by_level,
                     mask, by_level)
    return ints, by_q, by_hood, by_level


@jit
def level_arrays(n_hoods):
    """Zeroed counts by level, as :func:`count_levels` (and ``year_counts``) fill them:
    (by_level (3, 5), by_mode_level (3, 3, 5), rank_sums (3,), month (3,), by_hood_level
    (3, K), mode_level_rank_sums (3, 3), successes (K, 3, 3))."""
    return (np.zeros((3, N_QUINTILES), np.int64), np.zeros((3, 3, N_QUINTILES), np.int64),
            np.zeros(3, np.int64), np.zeros(3, np.int64), np.zeros((3, n_hoods), np.int64),
            np.zeros((3, 3), np.int64), np.zeros((n_hoods, 3, 3), np.int64))


@jit
def count_levels(i, q, h, r, n_half, lv, y0, y1, y2, activity_by_level, mask, counts):
    """Add citizen i, a participant of the year living in neighbourhood h, to the counts by
    level of involvement.

    counts = (by_level, by_mode_level, rank_sums, month, by_hood_level, mode_level_rank_sums,
    successes): participants at each level by quintile, at each mode and level by quintile,
    the sum of the integer SES ranks ``r`` of each level's participants, this month's episodes
    [all, designer or initiator, designer or initiator in the advantaged half (r >= n_half)],
    participants at each level by neighbourhood, the sum of the ranks at each mode and level;
    ``successes`` is counted by ``year_counts``. ``y0..y2`` are the citizen's mode histories
    within the window (one episode a month, so a month's mode and level bits line up).
    """
    by_level, by_mode_level, rank_sums, month, by_hood_level, mode_rank_sums, _ = counts
    # Branch-free counting (participants are scattered: branches would mispredict).
    high = 1 if lv >= 1 else 0
    month[0] += 1 if lv >= 0 else 0
    month[1] += high
    month[2] += high * (1 if r >= n_half else 0)
    for b in range(3):
        y = activity_by_level[b, i] & mask
        on = 1 if y != 0 else 0
        by_level[b, q] += on
        rank_sums[b] += on * r
        by_hood_level[b, h] += on
        on0 = 1 if (y0 & y) != 0 else 0
        on1 = 1 if (y1 & y) != 0 else 0
        on2 = 1 if (y2 & y) != 0 else 0
        by_mode_level[0, b, q] += on0
        by_mode_level[1, b, q] += on1
        by_mode_level[2, b, q] += on2
        mode_rank_sums[0, b] += on0 * r
        mode_rank_sums[1, b] += on1 * r
        mode_rank_sums[2, b] += on2 * r


@jit
def year_summary(mode, activity, activity_by_mode, mask, quintile, hood, n_hoods, offered,
                 result, level, activity_by_level, rank, efficacy, efficacy_baseline, ses_rank,
                 rank_mean, work):
    """``year_counts`` then ``year_values`` (which needs the count of participants)."""
    counts = year_counts(mode, activity, activity_by_mode, mask, quintile, hood, n_hoods,
                         offered, result, level, activity_by_level, rank)
    year_values(activity, mask, counts[0][3], efficacy, efficacy_baseline, ses_rank, rank_mean,
                work)
    return counts


@jit
def year_values(activity, mask, n_year, efficacy, efficacy_baseline, ses_rank, rank_mean, work):
    """Per-citizen values ``observe`` averages, compacted in citizen order.

    work[0, :P], work[1, :P]: self-efficacy and baseline of the P participants of the year;
    work[2, :n-P]: self-efficacy of the others; work[3]: (y - mean y)(R - mean R), y = 1 for a
    participant, R the SES rank, whose mean is the covariance of the concentration index.
    NumPy averages them, so the sums are NumPy's (the same as averaging e[year] etc.).
    """
    n = activity.shape[0]
    y_mean = n_year / n
    on, off = 1.0 - y_mean, 0.0 - y_mean
    p = 0
    q = 0
    # Branch-free compaction: every value is written to both lists and only the right
    # position advances (participants are scattered, so a branch would mispredict).
    for i in range(n):
        y = (activity[i] & mask) != 0
        e = efficacy[i]
        work[0, p] = e
        work[1, p] = efficacy_baseline[i]
        work[2, q] = e
        work[3, i] = (on if y else off) * (ses_rank[i] - rank_mean)
        p += y
        q += not y
