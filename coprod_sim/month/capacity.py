"""Capacity, compiled: which passed offers get a place (the kernel's ``within_capacity``).

Each administration supports at most ``capacity[a, m]`` collaborations a month in mode m;
when more offers pass its screening, those of highest priority get the places, ties to the
lower citizen index. Used by the compiled month (:mod:`coprod_sim.month.staged`); the same
offers as :func:`coprod_sim.month.kernel.within_capacity` (``tests/test_accelerated.py``).
"""

from __future__ import annotations

import numpy as np

from coprod_sim.rules.jit import jit


@jit
def admit(passed, priority, group, capacity, offered, mode, admitted):
    """The passed offers that get a place, as the kernel's ``within_capacity``.

    A group (administration x mode) within its capacity is admitted whole; otherwise its
    offers are ranked by priority, high first, ties to the lower index (a stable sort of
    -priority). Sets all of ``mode``; writes the admitted, ascending, to ``admitted``;
    returns how many.
    """
    n_modes = capacity.shape[1]
    n_groups = capacity.shape[0] * n_modes
    n_passed = passed.shape[0]
    size = np.zeros(n_groups, np.int64)
    for a in range(n_passed):
        size[group[a]] += 1
    keep = np.ones(n_passed, np.bool_)
    over = False
    for g in range(n_groups):
        over = over or size[g] > capacity[g // n_modes, g % n_modes]
    if over:
        ration(priority, group, capacity, size, keep)
    mode[:] = -1
    count = 0
    for a in range(n_passed):
        if keep[a]:
            i = passed[a]
            mode[i] = offered[i]
            admitted[count] = i
            count += 1
    return count


@jit
def ration(priority, group, capacity, size, keep):
    """keep = False for the offers beyond capacity in each group over it (``admit``).

    The offers are bucketed by group once (a counting sort: within a bucket they stay in
    citizen order), so each group's ranking reads its own offers only.
    """
    n_modes = capacity.shape[1]
    n_groups = size.shape[0]
    start = np.zeros(n_groups + 1, np.int64)
    for g in range(n_groups):
        start[g + 1] = start[g] + size[g]
    fill = start[:-1].copy()
    bucket = np.empty(group.shape[0], np.int64)
    for a in range(group.shape[0]):
        g = group[a]
        bucket[fill[g]] = a
        fill[g] += 1
    for g in range(n_groups):
        cap = capacity[g // n_modes, g % n_modes]
        if size[g] > cap:
            keep_first(bucket[start[g]:start[g + 1]], priority, cap, keep)


@jit
def keep_first(members, priority, cap, keep):
    """keep = False for all but the first ``cap`` of ``members`` (ascending) in a stable sort
    by priority, high first: those above the cap-th highest priority t, then those at t in
    citizen order. A selection (linear) rather than a sort: the same offers are kept."""
    if cap <= 0:
        for a in members:
            keep[a] = False
        return
    values = priority[members]
    t = np.partition(values, values.shape[0] - cap)[values.shape[0] - cap]
    ties = cap
    for j in range(values.shape[0]):
        if values[j] > t:
            ties -= 1
    for j in range(values.shape[0]):
        v = values[j]
        if v > t:
            continue
        if v == t and ties > 0:
            ties -= 1
            continue
        keep[members[j]] = False
