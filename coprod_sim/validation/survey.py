"""Checks read like surveys of the simulated town: who takes part, how often, in which mode.

F1, F2, F3, F4, F5 and F11 of docs/facts.md. Each check returns its conditions and the
numbers it found; the thresholds that are ours, not the sources', say so. "Organised" is
the group or the collective mode (docs/facts.md, mode groupings), everywhere.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from coprod_sim.names import MODES, N_QUINTILES, QUINTILE_LABELS
from coprod_sim.validation.conditions import (
    Context,
    above,
    bars,
    below,
    between,
    coefficient_table,
    coefplot,
    matched_effect,
    mean_ci,
    save,
)

MIN_GULF = 3.0
"""F1: individual at least 3x organised; the source says "a major gulf" (our reading)."""

SURVEY_SIZE = 1000
"""F3: Parrado et al. (2013) surveyed about 1,000 citizens per country."""

MIN_OVERALL_RATIO = 1.5
"""F5: "well above 1" for all modes (our reading; the sources give no number that matches)."""

SHARE_BAND = (0.17, 0.40)
MIN_REPEAT_SHARE = 0.5
"""F11: the yearly share in the band of the volunteering surveys; "most" are regulars."""


def _share(column: str):
    return lambda df: float(df[column].mean())


def mode_gulf(ctx: Context):
    """F1: share active in the past year in individual mode over the share in organised modes."""
    ind = ctx.per_citizens("baseline", _share("year_individual"))
    org = ctx.per_citizens("baseline", _share("year_organised"))
    ratio = mean_ci(ind / org)
    conds = [above("individual / organised (group or collective)", ratio, MIN_GULF)]
    shares = {m: mean_ci(ctx.summary("baseline", f"participation_year_{m}")) for m in MODES}
    shares["organised"] = mean_ci(org)
    if (path := ctx.figure_path()):
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 3.8), constrained_layout=True)
        bars(ax, list(shares), list(shares.values()), pct=True, colour="#4575b4")
        ax.set_ylabel("% of citizens active in the past year")
        ax.set_title(f"F1: participation by mode (individual/organised = {ratio.mean:.1f}x)")
        save(fig, path)
    return conds, {"shares": {m: e.mean for m, e in shares.items()}, "gulf": ratio.mean}


def efficacy_strongest(ctx: Context):
    """F2: the self-efficacy coefficient exceeds every other attribute's, in absolute value."""
    from coprod_sim.validation.conditions import STANDARDISED

    conds, details, tables = [], {}, {}
    for label, cov in (("current self-efficacy", STANDARDISED),
                       ("baseline self-efficacy", ["efficacy_baseline", *STANDARDISED[1:]])):
        coefs = coefficient_table(ctx, "year", cov)
        tables[label] = coefs
        eff = coefs.columns[0]
        others = coefs.drop(columns=eff).abs()
        margin = mean_ci(coefs[eff] - others.max(axis=1))
        runner_up = others.mean().idxmax()
        conds.append(above(f"{label}: beta_e - max|other| (next: {runner_up})", margin, 0.0))
        details[label] = {k: mean_ci(v).mean for k, v in coefs.items()}
    if (path := ctx.figure_path()):
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True, sharex=True)
        for ax, (label, coefs) in zip(axes, tables.items(), strict=True):
            coefplot(ax, coefs, highlight=coefs.columns[0])
            ax.set_title(f"regressor: {label}", fontsize=10)
        fig.suptitle("F2: logit of past-year participation on standardised attributes")
        save(fig, path)
    return conds, details


def demography_by_mode(ctx: Context):
    """F3: older people and women do more individually; organised modes: age weakly negative,
    no gender difference.

    "No gender difference" is what surveys of the source's size found, so it is read as: the
    organised-mode gender coefficient is smaller than the smallest effect a survey of
    SURVEY_SIZE respondents would detect (1.96 standard errors, the simulated town's standard
    error scaled by sqrt(town / survey)), and clearly below the individual-mode one.
    """
    ind = coefficient_table(ctx, "year_individual")
    org, org_se = coefficient_table(ctx, "year_organised", standard_errors=True)
    e = {f"{m}_{a}": mean_ci(t[a]) for m, t in (("individual", ind), ("organised", org))
         for a in ("age", "female")}
    n_town = len(ctx.citizens()[0])
    detectable = float(1.96 * org_se["female"].mean() * math.sqrt(n_town / SURVEY_SIZE))
    gap = mean_ci(ind["female"] - org["female"])
    conds = [
        above("individual: age", e["individual_age"], 0.0),
        above("individual: female", e["individual_female"], 0.0),
        below("organised: age", e["organised_age"], 0.0),
        between(f"organised: female (survey of {SURVEY_SIZE} detects |b| > {detectable:.2f})",
                e["organised_female"], -detectable, detectable, whole_interval=False),
        above("female: individual - organised", gap, 0.0),
    ]
    if (path := ctx.figure_path()):
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 3.6), constrained_layout=True)
        ax.fill_betweenx([-0.35, 3.35], -detectable, detectable, color="#999999", alpha=0.3,
                         label=f"too small for a survey of {SURVEY_SIZE} to detect")
        rows = {"organised_female": "female, organised", "individual_female": "female, individual",
                "organised_age": "age, organised", "individual_age": "age, individual"}
        for y, key in enumerate(rows):
            est = e[key]
            colour = "#4575b4" if key.startswith("individual") else "#d73027"
            ax.errorbar(est.mean, y, xerr=[[est.mean - est.low], [est.high - est.mean]], fmt="o",
                        color=colour, capsize=4, ms=7)
        ax.set_yticks(range(len(rows)), list(rows.values()))
        ax.axvline(0, color="k", lw=0.8)
        ax.set_xlabel("logit coefficient per standard deviation (95% CI over replications)")
        ax.legend(frameon=False, fontsize=8, loc="upper left")
        ax.grid(alpha=0.3, axis="x")
        ax.set_title("F3: demography in the logit of past-year participation, by mode", fontsize=10)
        save(fig, path)
    return conds, {k: v.mean for k, v in e.items()} | {"survey_detectable_female": detectable}


def virtuous_cycle(ctx: Context):
    """F4: participants' self-efficacy rises against matched non-participants, failure lowers
    it (the individual cycle), and switching the feedback off lowers long-run participation
    (the aggregate cycle, a held-out pattern)."""
    groups: dict[str, list[float]] = {"took part": [], "succeeded every time": [], "failed every time": []}
    for df in ctx.citizens():
        episodes, succ = df["window_episodes"], df["window_successes"]
        control = ((episodes == 0) & (df["window_rejections"] == 0)).to_numpy()
        groups["took part"].append(matched_effect(df, (episodes > 0).to_numpy(), control))
        groups["succeeded every time"].append(
            matched_effect(df, ((episodes > 0) & (succ == episodes)).to_numpy(), control))
        groups["failed every time"].append(
            matched_effect(df, ((episodes > 0) & (succ == 0)).to_numpy(), control))
    att = {k: mean_ci(v) for k, v in groups.items()}
    off = ctx.paired("participation_year", "no_feedback")
    conds = [
        above("dE participants vs matched", att["took part"], 0.0),
        below("dE failed-only vs matched", att["failed every time"], 0.0),
        below("participation, feedback off - on", off, 0.0, unit="pp"),
    ]
    if (path := ctx.figure_path()):
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
        bars(axes[0], list(att), list(att.values()), colour="#1b7837")
        axes[0].axhline(0, color="k", lw=0.8)
        axes[0].set_ylabel("change in self-efficacy over a year,\nminus matched non-participants")
        axes[0].set_title("mastery and failure", fontsize=10)
        for arm, colour, label in (("baseline", "#1b7837", "feedback on (default)"),
                                   ("no_feedback", "#762a83", "feedback off")):
            ts = 100 * ctx.timeseries(arm, "participation_year")
            axes[1].plot(ts.index, ts.mean(axis=1), color=colour, lw=2, label=label)
            axes[1].fill_between(ts.index, ts.min(axis=1), ts.max(axis=1), color=colour, alpha=0.15)
        axes[1].set_xlabel("month")
        axes[1].set_ylabel("% active in the past year")
        axes[1].set_title("turning the virtuous cycle off (band: min-max of replications)", fontsize=10)
        axes[1].legend(frameon=False)
        axes[1].grid(alpha=0.3)
        fig.suptitle("F4: participation raises self-efficacy; failure lowers it")
        save(fig, path)
    return conds, {k: v.mean for k, v in att.items()} | {"feedback_off_minus_on": off.mean}


def effect_by_status(ctx: Context):
    """F4b: the effect of taking part on self-efficacy, per participant, is larger in the
    poorest status fifth than in the richest (the heterogeneity Johnson, Carlson & Reynolds
    2023 report). The construct is theirs: participants against comparable non-participants,
    here the matched effect (:func:`matched_effect`) within each status quintile, over the
    last year; the number of episodes a participant had is part of the effect, as taking
    part in their study was."""
    per_quintile = np.array([[_effect_in_quintile(df, q) for q in range(N_QUINTILES)]
                             for df in ctx.citizens()])
    per_episode = np.array([[_effect_in_quintile(df, q, per_episode=True) for q in range(N_QUINTILES)]
                            for df in ctx.citizens()])
    gap = mean_ci(per_quintile[:, 0] - per_quintile[:, -1])
    gap_episode = mean_ci(per_episode[:, 0] - per_episode[:, -1])
    conds = [above("dE vs matched: poorest - richest fifth", gap, 0.0)]
    est = [mean_ci(per_quintile[:, q]) for q in range(N_QUINTILES)]
    if (path := ctx.figure_path()):
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)
        bars(ax, [q.replace(" ", "\n") for q in QUINTILE_LABELS], est, colour="#1b7837")
        ax.axhline(0, color="k", lw=0.8)
        ax.set_ylabel("change in self-efficacy over a year,\nparticipants minus matched others")
        ax.set_title("F4b: effect of taking part by status fifth (95% CI)", fontsize=10)
        save(fig, path)
    return conds, {"by_quintile": [e.mean for e in est], "poorest_minus_richest": gap.mean,
                   "per_episode_poorest_minus_richest": gap_episode.mean}


def _effect_in_quintile(df: pd.DataFrame, quintile: int, per_episode: bool = False) -> float:
    """Matched effect of taking part in the window for one status quintile (divided by the
    participants' mean number of episodes when ``per_episode``)."""
    episodes = df["window_episodes"]
    inside = (df["quintile"] == quintile).to_numpy()
    treated = (episodes > 0).to_numpy() & inside
    control = ((episodes == 0) & (df["window_rejections"] == 0)).to_numpy() & inside
    effect = matched_effect(df, treated, control)
    return effect / episodes[treated].mean() if per_episode and treated.any() else effect


def selection_bias(ctx: Context):
    """F5: top/bottom status quintile ratio well above 1, steeper in organised modes than in
    the individual one, and participation rising with neighbourhood advantage."""
    overall = mean_ci(ctx.summary("baseline", "top_bottom_ratio"))
    org = mean_ci(ctx.summary("baseline", "top_bottom_ratio_organised"))  # group or collective
    ind = mean_ci(ctx.summary("baseline", "top_bottom_ratio_individual"))
    flatter = mean_ci(ctx.summary("baseline", "top_bottom_ratio_individual")
                      - ctx.summary("baseline", "top_bottom_ratio_organised"))
    corr = mean_ci(ctx.summary("baseline", "advantage_correlation"))
    conds = [
        above("top/bottom, all modes", overall, MIN_OVERALL_RATIO),
        below("top/bottom: individual - organised", flatter, 0.0),
        above("corr(advantage, participation)", corr, 0.0),
    ]
    if (path := ctx.figure_path()):
        _selection_figure(ctx, path, overall.mean, ind.mean, org.mean, corr.mean)
    return conds, {"overall": overall.mean, "individual": ind.mean, "organised": org.mean,
                   "advantage_correlation": corr.mean}


def _selection_figure(ctx: Context, path, overall: float, ind: float, org: float, corr: float) -> None:
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    for col, colour, label in (("year", "#333333", "all modes"), ("year_individual", "#4575b4", "individual"),
                               ("year_organised", "#d73027", "organised (group or collective)")):
        rates = np.array([df.groupby("quintile")[col].mean().to_numpy() for df in ctx.citizens()])
        axes[0].plot(range(1, N_QUINTILES + 1), (rates / rates[:, :1]).mean(axis=0), "o-", color=colour, lw=2,
                     label=label)
    axes[0].set_xticks(range(1, N_QUINTILES + 1), [q.replace(" ", "\n") for q in QUINTILE_LABELS])
    axes[0].set_ylabel("participation relative to Q1")
    axes[0].set_title(f"by status quintile (all {overall:.1f}x, individual {ind:.1f}x, "
                      f"organised {org:.1f}x)", fontsize=10)
    axes[0].legend(frameon=False, fontsize=8)
    axes[0].grid(alpha=0.3)
    by_hood = pd.concat(ctx.citizens()).groupby("advantage")["year"].mean()
    axes[1].plot(by_hood.index, 100 * by_hood.to_numpy(), "o-", color="#333333", lw=2)
    axes[1].set_xlabel("neighbourhood advantage")
    axes[1].set_ylabel("% active in the past year")
    axes[1].set_title(f"by neighbourhood (correlation {corr:.2f})", fontsize=10)
    axes[1].grid(alpha=0.3)
    fig.suptitle("F5: selection bias toward the advantaged")
    save(fig, path)


def share_and_regulars(ctx: Context):
    """F11: 17-40% active over a year, most of them repeat participants."""
    share = mean_ci(ctx.summary("baseline", "participation_year"))
    regulars = mean_ci(ctx.summary("baseline", "repeat_share"))
    conds = [between("active in the past year", share, *SHARE_BAND, unit="%"),
             above("repeat participants", regulars, MIN_REPEAT_SHARE, unit="%")]
    if (path := ctx.figure_path()):
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
        ts = 100 * ctx.timeseries("baseline", "participation_year")
        axes[0].plot(ts.index, ts.mean(axis=1), color="#333333", lw=2, label="mean of replications")
        axes[0].fill_between(ts.index, ts.min(axis=1), ts.max(axis=1), color="#333333", alpha=0.15)
        axes[0].axhspan(100 * SHARE_BAND[0], 100 * SHARE_BAND[1], color="#1b7837", alpha=0.1,
                        label="F11: 17-40%")
        axes[0].set_xlabel("month")
        axes[0].set_ylabel("% active in the past year")
        axes[0].legend(frameon=False, fontsize=8)
        axes[0].grid(alpha=0.3)
        months = pd.concat(ctx.citizens())["months_active"]
        counts = months[months > 0].value_counts(normalize=True).sort_index()
        axes[1].bar(counts.index, 100 * counts.to_numpy(), color="#4575b4")
        axes[1].set_xlabel("months active in the past year (participants)")
        axes[1].set_ylabel("% of participants")
        axes[1].set_title(f"repeat participants: {100 * regulars.mean:.0f}%", fontsize=10)
        fig.suptitle("F11: share of the population taking part, and regulars")
        save(fig, path)
    return conds, {"participation_year": share.mean, "repeat_share": regulars.mean}
