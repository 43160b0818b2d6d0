"""What is recorded each month: the outcomes of DESIGN.md, aggregated over citizens.

A citizen is a *participant* if they had an accepted episode in the last
``simulation.year_window`` months (12 by default): monthly activity is a few percent and
noisy, while surveys (F11) and the bias measures ask who takes part over a year.
"""

from __future__ import annotations

import numpy as np

from coprod_sim import metrics
from coprod_sim.params import MODES, Parameters
from coprod_sim.population import NO_MODE, RESULT_FAILURE, RESULT_REJECTED, RESULT_SUCCESS
from coprod_sim.rules.base import State

QUINTILE_COLUMNS = [f"participation_q{q}" for q in range(1, 6)]

DESCRIPTIONS: dict[str, str] = {
    "step": "months completed",
    "participation": "share of citizens active this month (accepted episode, any mode)",
    **{f"participation_{m}": f"share of citizens active this month in {m} mode" for m in MODES},
    "participation_year": "share of citizens active at least once in the past year (participants)",
    **{f"participation_year_{m}": f"share of citizens active in {m} mode in the past year" for m in MODES},
    **{col: f"participation over the past year in SES quintile {q} (1 poorest)"
       for q, col in enumerate(QUINTILE_COLUMNS, 1)},
    "repeat_share": "share of the year's participants active in two months or more (regulars)",
    "offer_rate": "share of citizens offering to take part this month",
    "rejection_rate": "share of this month's offers turned away",
    "success_rate": "share of this month's episodes that succeeded",
    "top_bottom_ratio": "participation of the richest SES quintile over the poorest (past year)",
    "top_bottom_ratio_individual": "top/bottom quintile ratio for individual mode (past year)",
    "top_bottom_ratio_collective": "top/bottom quintile ratio for group and collective modes (past year)",
    "concentration_index": "concentration index of participation over SES rank (past year)",
    "advantage_correlation": "correlation of neighbourhood advantage with participation (past year)",
    "advantaged_output_share": "share of this month's coproduced output reaching the advantaged half",
    "efficacy_mean": "mean self-efficacy",
    "efficacy_participants": "mean self-efficacy of the year's participants",
    "efficacy_participants_baseline": "mean baseline (starting) self-efficacy of the year's participants",
    "efficacy_non_participants": "mean self-efficacy of everyone else",
    "efficacy_gap": "efficacy of participants minus non-participants",
    "trust_mean": "mean trust in the administration",
    "risk_aversion_mean": "mean risk aversion of administrations",
    "service_quality_mean": "resident-weighted mean local service quality",
    "service_quality_gini": "Gini of local service quality across residents",
}
"""Every time-series column with a one-line description."""


def window_mask(params: Parameters) -> int:
    return (1 << params.simulation.year_window) - 1


def observe(state: State, params: Parameters) -> dict[str, float]:
    """The month's outcomes as a flat dict of floats (one row of the time series)."""
    c, hoods = state.citizens, state.neighbourhoods
    n = c.n
    mode = c.mode
    active = mode != NO_MODE
    year = (c.activity & window_mask(params)) != 0
    row: dict[str, float] = {"step": float(state.step)}
    row["participation"] = active.mean()
    counts = np.bincount(mode[active], minlength=len(MODES)) / n
    for m, name in enumerate(MODES):
        row[f"participation_{name}"] = counts[m]
    row["participation_year"] = year.mean()
    year_by_mode = (c.activity_by_mode & window_mask(params)) != 0
    for m, name in enumerate(MODES):
        row[f"participation_year_{name}"] = year_by_mode[m].mean()
    rates = metrics.quintile_rates(year, c.quintile)
    for col, rate in zip(QUINTILE_COLUMNS, rates, strict=True):
        row[col] = rate
    regulars = _popcount16(c.activity & window_mask(params)) >= 2
    row["repeat_share"] = regulars.sum() / max(year.sum(), 1)
    offers = c.offered != NO_MODE
    row["offer_rate"] = offers.mean()
    row["rejection_rate"] = (c.result == RESULT_REJECTED).sum() / max(offers.sum(), 1)
    succ, fail = (c.result == RESULT_SUCCESS).sum(), (c.result == RESULT_FAILURE).sum()
    row["success_rate"] = succ / (succ + fail) if succ + fail else np.nan
    row["top_bottom_ratio"] = metrics.top_bottom_ratio(year, c.quintile)
    row["top_bottom_ratio_individual"] = metrics.top_bottom_ratio(year_by_mode[0], c.quintile)
    row["top_bottom_ratio_collective"] = metrics.top_bottom_ratio(
        year_by_mode[1] | year_by_mode[2], c.quintile)
    row["concentration_index"] = metrics.concentration_index(year, c.ses_rank)
    row["advantage_correlation"] = metrics.advantage_correlation(year, c.neighbourhood, hoods.advantage)
    row["advantaged_output_share"] = metrics.advantaged_output_share(
        state.output_per_resident * hoods.size, hoods.advantage, hoods.size)
    e = c.self_efficacy
    row["efficacy_mean"] = e.mean()
    n_year = year.sum()
    row["efficacy_participants"] = e[year].mean() if n_year else np.nan
    row["efficacy_participants_baseline"] = c.efficacy_baseline[year].mean() if n_year else np.nan
    row["efficacy_non_participants"] = e[~year].mean() if n_year < n else np.nan
    row["efficacy_gap"] = row["efficacy_participants"] - row["efficacy_non_participants"]
    row["trust_mean"] = c.trust.mean()
    row["risk_aversion_mean"] = state.administrations.risk_aversion.mean()
    row["service_quality_mean"] = np.average(hoods.service_quality, weights=hoods.size)
    row["service_quality_gini"] = metrics.gini(hoods.service_quality, hoods.size)
    return {k: float(v) for k, v in row.items()}


def neighbourhood_rows(state: State, params: Parameters) -> dict[str, np.ndarray]:
    """Per-neighbourhood outcomes this month: participation over the past year and quality."""
    c, hoods = state.citizens, state.neighbourhoods
    year = (c.activity & window_mask(params)) != 0
    k = len(hoods)
    rate = np.bincount(c.neighbourhood, weights=year, minlength=k) / np.maximum(hoods.size, 1)
    return {
        "step": np.full(k, state.step),
        "neighbourhood": np.arange(k),
        "advantage": hoods.advantage,
        "urban": hoods.urban,
        "administration": hoods.administration,
        "participation_year": rate,
        "service_quality": hoods.service_quality.copy(),
    }


def _popcount16(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x)
