"""What is recorded each month: the outcomes of docs/ODD.md, aggregated over citizens.

The columns, with their labels and readings, are declared in :data:`coprod_sim.names.OUTCOMES`.

A citizen is a *participant* if they had an accepted episode in the last
``simulation.year_window`` months (12 by default): monthly activity is a few percent and
noisy, while surveys (F11) and the bias measures ask who takes part over a year.
"""

from __future__ import annotations

import numpy as np

from coprod_sim.names import (
    MODES,
    N_QUINTILES,
    NO_MODE,
    QUINTILE_COLUMNS,
    RESULT_FAILURE,
    RESULT_REJECTED,
    RESULT_SUCCESS,
)
from coprod_sim.outcomes import bias as metrics
from coprod_sim.outcomes.levels import integer_ranks_of, level_outcomes
from coprod_sim.params import Parameters
from coprod_sim.rules import jit
from coprod_sim.rules.base import State


def window_mask(params: Parameters) -> int:
    return (1 << params.simulation.year_window) - 1


def observe(state: State, params: Parameters, *, accelerate: bool | None = None
            ) -> dict[str, float]:
    """The month's outcomes as a flat dict of floats (one row of the time series).

    ``accelerate`` counts with the compiled pass of :mod:`coprod_sim.month.compiled` (default:
    when available); the counts are integers, so the result is the same either way.
    """
    return record(state, params, accelerate=accelerate, neighbourhoods=False)[0]


def neighbourhood_rows(state: State, params: Parameters, *, accelerate: bool | None = None
                       ) -> dict[str, np.ndarray]:
    """Per-neighbourhood outcomes this month: participation over the past year and quality."""
    return record(state, params, accelerate=accelerate)[1]


def record(state: State, params: Parameters, *, accelerate: bool | None = None,
           neighbourhoods: bool = True) -> tuple[dict[str, float], dict[str, np.ndarray] | None]:
    """``observe`` and ``neighbourhood_rows`` of one month, sharing one counting pass."""
    c, hoods = state.citizens, state.neighbourhoods
    n = c.n
    mask = window_mask(params)
    compiled = jit.enabled_by_default() if accelerate is None else accelerate and jit.AVAILABLE
    if compiled:
        from coprod_sim.outcomes.counting import year_summary

        work = _work(c)
        ints, by_q, by_hood, by_level = year_summary(
            c.mode, c.activity, c.activity_by_mode, mask, c.quintile, c.neighbourhood, len(hoods),
            c.offered, c.result, c.level, c.activity_by_level, integer_ranks_of(c),
            c.self_efficacy, c.efficacy_baseline, c.ses_rank, _mean(c.ses_rank), work)
    else:
        ints, by_q, by_hood = _counts(state, mask)
        by_level = None  # level_outcomes counts them
        year = (c.activity & mask) != 0
    per_quintile, per_hood = _residents(c, len(hoods))
    ints = ints.tolist()  # Python ints: exact, and int / int rounds as NumPy's division does
    row: dict[str, float] = {"step": float(state.step)}
    row["participation"] = sum(ints[:3]) / n
    for m, name in enumerate(MODES):
        row[f"participation_{name}"] = ints[m] / n
    n_year = ints[3]
    row["participation_year"] = n_year / n
    for m, name in enumerate(MODES):
        row[f"participation_year_{name}"] = ints[4 + m] / n
    rates = by_q / np.maximum(per_quintile, 1)  # (3, N_QUINTILES): all, individual, group or collective
    for col, rate in zip(QUINTILE_COLUMNS, rates[0].tolist(), strict=True):
        row[col] = rate
    row["repeat_share"] = ints[7] / max(n_year, 1)
    offers, rejected, succ, fail = ints[8:12]
    row["offer_rate"] = offers / n
    row["rejection_rate"] = rejected / max(offers, 1)
    row["success_rate"] = succ / (succ + fail) if succ + fail else np.nan
    row["top_bottom_ratio"] = metrics.ratio_of_rates(rates[0])
    row["top_bottom_ratio_individual"] = metrics.ratio_of_rates(rates[1])
    row["top_bottom_ratio_organised"] = metrics.ratio_of_rates(rates[2])
    if compiled:
        e_year, base_year, e_others = work[0, :n_year], work[1, :n_year], work[2, :n - n_year]
        # As metrics.concentration_index: C = 2 cov(y, R) / mean(y).
        row["concentration_index"] = 2.0 * _mean(work[3]) / (n_year / n) if n_year else np.nan
    else:
        e_year, base_year, e_others = c.self_efficacy[year], c.efficacy_baseline[year], \
            c.self_efficacy[~year]
        row["concentration_index"] = metrics.concentration_index(year, c.ses_rank)
    row["advantage_correlation"] = metrics.rate_correlation(
        hoods.advantage, by_hood / np.maximum(per_hood, 1))
    row["advantaged_output_share"] = metrics.advantaged_output_share(
        state.output_per_resident * hoods.size, hoods.advantage, hoods.size)
    row.update(_means(state, e_year, base_year, e_others))
    row.update(level_outcomes(state, params, per_quintile, per_hood, mask, counts=by_level))
    row = {k: float(v) for k, v in row.items()}
    if not neighbourhoods:
        return row, None
    k = len(hoods)
    return row, {
        "step": np.full(k, state.step),
        "neighbourhood": np.arange(k),
        "advantage": hoods.advantage,
        "urban": hoods.urban,
        "administration": hoods.administration,
        "participation_year": by_hood / np.maximum(hoods.size, 1),
        "service_quality": hoods.service_quality.copy(),
    }


def _means(state: State, e_year: np.ndarray, base_year: np.ndarray, e_others: np.ndarray
           ) -> dict[str, float]:
    """Mean self-efficacy (all, the year's participants then and at baseline, the others),
    trust, risk aversion and service quality."""
    c, hoods = state.citizens, state.neighbourhoods
    row = {"efficacy_mean": _mean(c.self_efficacy),
           "efficacy_participants": _mean(e_year) if len(e_year) else np.nan,
           "efficacy_participants_baseline": _mean(base_year) if len(base_year) else np.nan,
           "efficacy_non_participants": _mean(e_others) if len(e_others) else np.nan}
    row["efficacy_gap"] = row["efficacy_participants"] - row["efficacy_non_participants"]
    row["trust_mean"] = _mean(c.trust)
    row["risk_aversion_mean"] = _mean(state.administrations.risk_aversion)
    row["service_quality_mean"] = metrics.weighted_mean(hoods.service_quality, hoods.size)
    row["service_quality_gini"] = metrics.gini(hoods.service_quality, hoods.size)
    return row


def _work(c) -> np.ndarray:
    """A (4, n) work array for ``year_summary``, kept with the citizens between months:
    a fresh one each month would cost the operating system its pages every time."""
    work = getattr(c, "_record_work", None)
    if work is None or work.shape[1] != c.n:
        work = np.empty((4, c.n))
        c._record_work = work  # an attribute of this Citizens object, not a dataclass field
    return work


def _counts(state: State, mask: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NumPy twin of :func:`coprod_sim.outcomes.counting.year_counts` (same integers)."""
    c = state.citizens
    k = len(state.neighbourhoods)
    active = c.mode != NO_MODE
    recent = c.activity & mask
    year = recent != 0
    by_mode = (c.activity_by_mode & mask) != 0
    ints = np.zeros(12, np.int64)
    ints[:3] = np.bincount(c.mode[active], minlength=len(MODES))[:3]
    ints[3] = np.count_nonzero(year)
    ints[4:7] = np.count_nonzero(by_mode, axis=1)
    ints[7] = np.count_nonzero(_popcount16(recent) >= 2)
    ints[8] = np.count_nonzero(c.offered != NO_MODE)
    ints[9:12] = [np.count_nonzero(c.result == r)
                  for r in (RESULT_REJECTED, RESULT_SUCCESS, RESULT_FAILURE)]
    q = c.quintile
    by_q = np.stack([np.bincount(q[year], minlength=N_QUINTILES),
                     np.bincount(q[by_mode[0]], minlength=N_QUINTILES),
                     np.bincount(q[by_mode[1] | by_mode[2]], minlength=N_QUINTILES)])
    return ints, by_q, np.bincount(c.neighbourhood[year], minlength=k)


def _mean(x: np.ndarray) -> float:
    """x.mean() of a 1-d float array without its overhead: the same sum, the same division."""
    return np.add.reduce(x) / len(x)


def _residents(c, n_hoods: int) -> tuple[np.ndarray, np.ndarray]:
    """Citizens per SES quintile and per neighbourhood (fixed at birth, so counted once)."""
    key = (id(c.quintile), id(c.neighbourhood), n_hoods)
    cached = getattr(c, "_residents", None)
    if cached is None or cached[0] != key:
        cached = (key, np.bincount(c.quintile, minlength=N_QUINTILES),
                  np.bincount(c.neighbourhood, minlength=n_hoods))
        c._residents = cached  # an attribute of this Citizens object, not a dataclass field
    return cached[1], cached[2]


def _popcount16(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x)
