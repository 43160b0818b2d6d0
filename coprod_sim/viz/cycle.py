"""What taking part does to a person, apart from who takes part: an event study on the
page's town.

Participants are more self-confident than everyone else mostly because confident people
are the ones who take part (selection). To show the cycle itself, each citizen who takes
part for the first time is paired with a citizen of the same income fifth who had not taken
part yet and whose self-efficacy, that month, was the nearest (nearest-neighbour matching
with replacement; Stuart 2010, *Statistical Science* 25(1)). Both are followed from then on:
the difference between their changes in self-efficacy is the effect of taking part, the
quantity an event study estimates (Angrist & Pischke 2009, *Mostly Harmless Econometrics*,
ch. 5). A pair is followed while the matched citizen still has not taken part
("not-yet-treated" comparison), so the comparison stays clean.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from coprod_sim.names import N_QUINTILES

if TYPE_CHECKING:
    from coprod_sim.town.population import Citizens

HORIZON = 36
"""Months after the first time that the plot follows."""


def match_nearest(treated_value: np.ndarray, pool: np.ndarray, pool_value: np.ndarray) -> np.ndarray:
    """For each treated value, the member of ``pool`` (indices) whose value is nearest
    (ties to the lower); ``pool`` must be non-empty."""
    order = np.argsort(pool_value, kind="stable")
    sorted_values = pool_value[order]
    pos = np.clip(np.searchsorted(sorted_values, treated_value), 1, len(order) - 1) if len(order) > 1 \
        else np.zeros(len(treated_value), dtype=int)
    if len(order) > 1:
        left_closer = (treated_value - sorted_values[pos - 1]) <= (sorted_values[pos] - treated_value)
        pos = np.where(left_closer, pos - 1, pos)
    return pool[order[pos]]


class CycleTracker:
    """First-timers and their matched citizens, followed month by month (see the module)."""

    def __init__(self, citizens: Citizens, horizon: int = HORIZON):
        self.horizon = horizon
        self.prev_efficacy = citizens.self_efficacy.copy()
        self.prev_episodes = citizens.episodes.copy()
        self.month = 0
        self.treated = np.empty(0, dtype=np.int64)
        self.control = np.empty(0, dtype=np.int64)
        self.start = np.empty(0, dtype=np.int64)
        self.start_treated = np.empty(0)
        self.start_control = np.empty(0)
        self.sum_treated = np.zeros(horizon + 1)
        self.sum_control = np.zeros(horizon + 1)
        self.n = np.zeros(horizon + 1, dtype=np.int64)

    def update(self, citizens: Citizens) -> None:
        """Record the month just simulated (call once after each step)."""
        self.month += 1
        eff, episodes = citizens.self_efficacy, citizens.episodes
        first = np.flatnonzero((episodes > 0) & (self.prev_episodes == 0))
        never = episodes == 0
        quintile = citizens.quintile
        for q in range(N_QUINTILES):
            treated = first[quintile[first] == q]
            pool = np.flatnonzero(never & (quintile == q))
            if len(treated) == 0 or len(pool) == 0:
                continue
            control = match_nearest(self.prev_efficacy[treated], pool, self.prev_efficacy[pool])
            self.treated = np.concatenate([self.treated, treated])
            self.control = np.concatenate([self.control, control])
            self.start = np.concatenate([self.start, np.full(len(treated), self.month)])
            self.start_treated = np.concatenate([self.start_treated, self.prev_efficacy[treated]])
            self.start_control = np.concatenate([self.start_control, self.prev_efficacy[control]])
        age = self.month - self.start
        follow = (age <= self.horizon) & (episodes[self.control] == 0)
        a = age[follow]
        np.add.at(self.sum_treated, a, eff[self.treated[follow]] - self.start_treated[follow])
        np.add.at(self.sum_control, a, eff[self.control[follow]] - self.start_control[follow])
        np.add.at(self.n, a, 1)
        self.prev_efficacy = eff.copy()
        self.prev_episodes = episodes.copy()

    def curves(self, min_pairs: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(months since the first time, mean change of first-timers, mean change of their
        matches), for the months with at least ``min_pairs`` pairs followed."""
        ok = self.n >= min_pairs
        months = np.flatnonzero(ok)
        return months, self.sum_treated[ok] / self.n[ok], self.sum_control[ok] / self.n[ok]

    def effect(self, months: int = 12, min_pairs: int = 10) -> tuple[int, float] | None:
        """(m, effect) at the latest month since the first time up to ``months`` with enough
        pairs: first-timers' change minus their matches' change; None before any."""
        m, treated, control = self.curves(min_pairs)
        m_ok = m[m <= months]
        if len(m_ok) == 0:
            return None
        i = len(m_ok) - 1
        return int(m_ok[i]), float(treated[i] - control[i])
