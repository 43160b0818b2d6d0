"""Checks of the facts about levels of involvement and urban residents: F13-F15 of docs/facts.md.

F13 compares the status gradients of the three levels within the same runs (paired by
replication); F14 adds urban residence to the survey regression of F3; F15 moves the
administrations' risk aversion (see :func:`coprod_sim.validation.levers.lever_direction`).
"""

from __future__ import annotations

import math

import numpy as np

from coprod_sim.names import LEVELS
from coprod_sim.validation.conditions import (
    STANDARDISED,
    Context,
    above,
    below,
    between,
    coefficient_table,
    mean_ci,
    save,
)
from coprod_sim.validation.survey import SURVEY_SIZE


def level_gradient(ctx: Context):
    """F13: the more demanding the level, the steeper its status gradient.

    Concentration index of past-year participation over SES rank, designer minus executor
    and initiator minus designer, and the top/bottom quintile ratio, designer minus executor,
    each paired within runs. (The initiator ratio is left out: its bottom quintile is often
    empty in a town of a few thousand, which makes the ratio infinite.)
    """
    ci = {lv: ctx.summary("baseline", f"concentration_index_{lv}") for lv in LEVELS}
    ratio = {lv: ctx.summary("baseline", f"top_bottom_ratio_{lv}") for lv in LEVELS[:2]}
    steps = {
        "concentration index: designer - executor": mean_ci(ci["designer"] - ci["executor"]),
        "concentration index: initiator - designer": mean_ci(ci["initiator"] - ci["designer"]),
        "top/bottom ratio: designer - executor": mean_ci(ratio["designer"] - ratio["executor"]),
    }
    conds = [above(label, e, 0.0) for label, e in steps.items()]
    if (path := ctx.figure_path()):
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(5.5, 3.6), constrained_layout=True)
        est = [mean_ci(ci[lv]) for lv in LEVELS]
        ax.errorbar(range(len(LEVELS)), [e.mean for e in est],
                    yerr=[[e.mean - e.low for e in est], [e.high - e.mean for e in est]],
                    fmt="o-", color="#d73027", lw=2, capsize=4)
        ax.set_xticks(range(len(LEVELS)), LEVELS)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_ylabel("concentration index over SES rank")
        ax.set_title(f"{ctx.id}: status gradient by level (95% CI over replications)", fontsize=10)
        ax.grid(alpha=0.3)
        save(fig, path)
    return conds, {label: e.mean for label, e in steps.items()}


def urban_by_mode(ctx: Context):
    """F14: urban residents do more individual coproduction, with no difference in organised
    modes: the urban coefficient of the survey logit (F3's, plus urban residence) is positive
    for individual mode and, for organised modes, smaller than a survey of SURVEY_SIZE
    respondents would detect."""
    covariates = [*STANDARDISED, "urban"]
    ind = coefficient_table(ctx, "year_individual", covariates)
    org, org_se = coefficient_table(ctx, "year_organised", covariates, standard_errors=True)
    n_town = len(ctx.citizens()[0])
    detectable = float(1.96 * org_se["urban"].mean() * math.sqrt(n_town / SURVEY_SIZE))
    e_ind, e_org = mean_ci(ind["urban"]), mean_ci(org["urban"])
    conds = [
        above("individual: urban", e_ind, 0.0),
        between(f"organised: urban (survey of {SURVEY_SIZE} detects |b| > {detectable:.2f})",
                e_org, -detectable, detectable, whole_interval=False),
    ]
    if (path := ctx.figure_path()):
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6.5, 2.8), constrained_layout=True)
        ax.fill_betweenx([-0.35, 1.35], -detectable, detectable, color="#999999", alpha=0.3,
                         label=f"too small for a survey of {SURVEY_SIZE} to detect")
        for y, (est, colour) in enumerate(((e_org, "#d73027"), (e_ind, "#4575b4"))):
            ax.errorbar(est.mean, y, xerr=[[est.mean - est.low], [est.high - est.mean]], fmt="o",
                        color=colour, capsize=4, ms=7)
        ax.set_yticks([0, 1], ["urban, organised", "urban, individual"])
        ax.axvline(0, color="k", lw=0.8)
        ax.set_xlabel("logit coefficient per standard deviation (95% CI over replications)")
        ax.legend(frameon=False, fontsize=8, loc="upper left")
        ax.set_title(f"{ctx.id}: urban residence in the logit of past-year participation", fontsize=10)
        save(fig, path)
    return conds, {"individual_urban": e_ind.mean, "organised_urban": e_org.mean,
                   "survey_detectable_urban": detectable}


def executor_shift(ctx: Context, min_fall: float):
    """F15: raising administrations' risk aversion lowers the share of designer and initiator
    episodes among all episodes, by more than ``min_fall`` (paired, 'high' minus 'low')."""
    diff = ctx.paired("high_level_share", "high", "low")
    conds = [below("high-level share of episodes: high - low risk aversion", diff, -min_fall,
                   unit="pp")]
    if (path := ctx.figure_path()):
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(5, 3.4), constrained_layout=True)
        est = [mean_ci(ctx.summary(a, "high_level_share")) for a in ("low", "high")]
        ax.errorbar([0, 1], [100 * e.mean for e in est],
                    yerr=[[100 * (e.mean - e.low) for e in est], [100 * (e.high - e.mean) for e in est]],
                    fmt="o-", color="#4575b4", lw=2, capsize=4)
        ax.set_xticks([0, 1], ["low risk aversion", "high risk aversion"])
        ax.set_ylabel("% designer and initiator episodes")
        ax.set_title(f"{ctx.id}: levels of episodes (95% CI over replications)", fontsize=10)
        ax.grid(alpha=0.3)
        save(fig, path)
    return conds, {"high_level_share_change": diff.mean, "share_low": float(np.mean(
        ctx.summary("low", "high_level_share"))), "share_high": float(np.mean(
            ctx.summary("high", "high_level_share")))}
