"""Figures comparing policies: levels, differences, quintiles and trajectories.

Every figure is drawn from the rows of effects.csv (the numbers the text states) and carries a
key to each of its marks in the figure itself. Shares are drawn from 0 so that a small effect
is seen against the size of the baseline.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from coprod_sim import stats
from coprod_sim.names import BASELINE_COLOUR, POLICY_COLOURS, QUINTILE_LABELS
from coprod_sim.report.load import Sweep
from coprod_sim.report.measures import MEASURES, PARTICIPATION, QUINTILES, Measure

LINE_STYLES = ["-", "--", "-.", ":"]
NOT_CLEAR = "#b0b0b0"

Save = Callable[[plt.Figure, str], None]


def colours(policies: list[str], baseline: str) -> dict[str, str]:
    out, k = {}, 0
    for p in policies:
        if p == baseline:
            out[p] = BASELINE_COLOUR
        else:
            out[p] = POLICY_COLOURS[k % len(POLICY_COLOURS)]
            k += 1
    return out


def footnote(fig: plt.Figure, text: str) -> None:
    """A key under the figure, so that it explains itself when seen alone (laid out with it)."""
    width = int(fig.get_figwidth() * 15)
    fig.supxlabel(textwrap.fill(text, width), fontsize=7.5, color="#333333")


def dot_interval(ax, y: float, value: float, low: float, high: float, factor: float, colour: str
                 ) -> None:
    """A dot at ``value`` with its interval [low, high] (none when undefined)."""
    err = ([[max(value - low, 0) * factor], [max(high - value, 0) * factor]]
           if math.isfinite(low) and math.isfinite(high) else None)
    ax.errorbar(value * factor, y, xerr=err, fmt="o", color=colour, capsize=3, ms=6)


def _range_axis(ax, m: Measure, values: list[float], means: list[float]) -> None:
    """Shares from 0 (the baseline's scale is seen); indices include their neutral value; ratios on
    a log axis (their intervals are taken on the log scale) around the means."""
    finite = [v * m.factor for v in values if math.isfinite(v)]
    if not finite:
        return
    hi, lo = max(finite), min(finite)
    if m.percent:
        ax.set_xlim(0, max(hi * 1.15, 1.0))
        return
    if m.scale == "ratio":
        centre = [v for v in means if math.isfinite(v) and v > 0] or [1.0]
        ax.set_xscale("log")
        left = max(min(v for v in finite if v > 0) if any(v > 0 for v in finite) else 0.1,
                   min(centre) / 10)
        right = min(hi, max(centre) * 10)
        ref = m.neutral or 1.0
        ax.set_xlim(min(left, ref) / 1.2, max(right, ref) * 1.2)
        ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)
                 if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        return
    ref = m.neutral if m.neutral is not None else lo
    lo, hi = min(lo, ref), max(hi, ref)
    pad = 0.1 * (hi - lo or 1.0)
    left, right = lo - pad, hi + pad
    if m.bounds:
        left, right = max(left, m.bounds[0]), min(right, m.bounds[1])
    ax.set_xlim(left, right)


def figure_levels(sw: Sweep, table: pd.DataFrame, save: Save) -> None:
    """Participation and each bias measure by policy, 95% intervals over replications."""
    pols = sw.policies
    col = colours(pols, sw.baseline)
    t = table[table["scope"] == "policy"]
    fig, axes = plt.subplots(1, len(MEASURES), figsize=(3.3 * len(MEASURES), 2.6 + 0.45 * len(pols)),
                             sharey=True, constrained_layout=True)
    ypos = np.arange(len(pols))[::-1]
    for ax, m in zip(axes, MEASURES, strict=True):
        tm = t[t["measure"] == m.column].set_index("policy")
        for y, pol in zip(ypos, pols, strict=True):
            if pol in tm.index:
                r = tm.loc[pol]
                dot_interval(ax, y, r["value"], r["ci_low"], r["ci_high"], m.factor, col[pol])
        if sw.baseline in tm.index:
            ax.axvline(tm.loc[sw.baseline, "value"] * m.factor, color=BASELINE_COLOUR, ls="--", lw=1)
        if m.neutral is not None:
            ax.axvline(m.neutral * m.factor, color="black", lw=2, alpha=0.35)
        _range_axis(ax, m, [*tm["ci_low"], *tm["ci_high"], *tm["value"]], list(tm["value"]))
        ax.set_title(m.label, fontsize=9)
        ax.set_xlabel("% of citizens" if m.percent else "ratio (log scale; bars may run off the"
                      " axis)" if m.scale == "ratio" else "value", fontsize=8)
        ax.grid(alpha=0.3, axis="x")
    axes[0].set_yticks(ypos, pols)
    axes[0].set_ylim(-0.7, len(pols) - 0.3)
    keys = [Line2D([], [], marker="o", color="black", ls="-", label="mean, with its 95% CI"),
            Line2D([], [], color=BASELINE_COLOUR, ls="--", label="the baseline's level"),
            Line2D([], [], color="black", lw=2, alpha=0.35, label="no bias (reference value)")]
    fig.legend(handles=keys, loc="outside lower center", ncols=3, frameon=False, fontsize=8)
    fig.suptitle("Participation and selection bias by policy (each run's mean over its last quarter;"
                 " 95% CI over replications)", fontsize=10)
    save(fig, "policy_levels")


def figure_differences(sw: Sweep, table: pd.DataFrame, save: Save) -> None:
    """Paired differences from the baseline, 95% intervals; grey where indistinguishable from 0."""
    others = sw.others
    if not others or sw.baseline not in sw.policies:
        return
    col = colours(sw.policies, sw.baseline)
    t = table[(table["scope"] == "policy") & table["policy"].isin(others)]
    fig, axes = plt.subplots(1, len(MEASURES), figsize=(3.3 * len(MEASURES), 2.6 + 0.45 * len(others)),
                             sharey=True, constrained_layout=True)
    ypos = np.arange(len(others))[::-1]
    for ax, m in zip(axes, MEASURES, strict=True):
        tm = t[t["measure"] == m.column].set_index("policy")
        for y, pol in zip(ypos, others, strict=True):
            if pol in tm.index:
                r = tm.loc[pol]
                c = col[pol] if r["distinguishable"] else NOT_CLEAR
                dot_interval(ax, y, r["diff_value"], r["diff_ci_low"], r["diff_ci_high"], m.factor, c)
        ax.axvline(0, color="black", lw=0.9)
        ax.set_title(m.label, fontsize=9)
        base = table[(table["scope"] == "policy") & (table["measure"] == m.column)
                     & (table["policy"] == sw.baseline)]["value"]
        unit = " (% points)" if m.percent else ""
        scale = f"\nthe baseline is at {m.fmt(base.iloc[0])}" if len(base) else ""
        # two lines: five panels side by side leave each label about a fifth of the width
        ax.set_xlabel(f"difference from the baseline{unit}{scale}", fontsize=8)
        ax.grid(alpha=0.3, axis="x")
        ax.margins(x=0.25)
    axes[0].set_yticks(ypos, others)
    axes[0].set_ylim(-0.7, len(others) - 0.3)
    keys = [Line2D([], [], marker="o", color=POLICY_COLOURS[0], label="paired difference, 95% CI"),
            Line2D([], [], marker="o", color=NOT_CLEAR, label="grey: not distinguishable from noise"),
            Line2D([], [], color="black", lw=0.9, label="0 = same as the baseline")]
    fig.legend(handles=keys, loc="outside lower center", ncols=3, frameon=False, fontsize=8)
    fig.suptitle(f"Effect of each policy against '{sw.baseline}' (paired on the same random draws)",
                 fontsize=10)
    save(fig, "policy_differences")


def figure_quintiles(sw: Sweep, table: pd.DataFrame, save: Save) -> None:
    """Participation by SES quintile, one group of bars per quintile, one bar per policy."""
    pols = sw.policies
    col = colours(pols, sw.baseline)
    fig, ax = plt.subplots(figsize=(max(7.0, 1.5 + 1.2 * len(pols)), 4.4), constrained_layout=True)
    width = 0.8 / len(pols)
    x = np.arange(len(QUINTILES))
    t = table[table["scope"] == "policy"]
    for k, pol in enumerate(pols):
        tq = t[(t["policy"] == pol)].set_index("measure").reindex([q.column for q in QUINTILES])
        means, lows, highs = (tq[c].to_numpy(dtype=float) * 100 for c in ("value", "ci_low", "ci_high"))
        err = np.vstack([means - lows, highs - means]) if np.all(np.isfinite(lows)) else None
        ax.bar(x - 0.4 + width * (k + 0.5), means, width * 0.92, yerr=err, capsize=2, color=col[pol],
               label=pol, edgecolor="white", linewidth=0.5, error_kw={"ecolor": "#404040",
                                                                      "elinewidth": 0.9})
    ax.set_xticks(x, QUINTILE_LABELS)
    ax.set_ylabel("% active in the past year")
    ax.set_xlabel("socio-economic quintile (fifths of the citizens by socio-economic status)")
    ax.set_title("Participation by socio-economic quintile and policy", fontsize=10)
    fig.legend(frameon=False, fontsize=8, ncols=min(len(pols), 5), loc="outside lower center",
               title="bars: mean; black whiskers: 95% CI over replications", title_fontsize=8)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3, axis="y")
    save(fig, "quintiles")


def _band(ax, per_rep: pd.DataFrame, factor: float, colour: str, ls: str, label: str) -> None:
    mean = per_rep.mean(axis=1) * factor
    ax.plot(mean.index, mean.values, color=colour, ls=ls, lw=1.8, label=label)
    if per_rep.shape[1] >= 2:
        ci = [stats.t_interval(r) for r in per_rep.to_numpy()]
        ax.fill_between(mean.index, [e.low * factor for e in ci], [e.high * factor for e in ci],
                        color=colour, alpha=0.15, lw=0)


def figure_trajectories(sw: Sweep, save: Save) -> None:
    """Participation and self-efficacy over the months by policy; one line style per policy."""
    ts = sw.timeseries
    if ts is None or ts.empty or PARTICIPATION not in ts:
        return
    pols = [p for p in sw.policies if p in set(ts["policy"])]
    col = colours(sw.policies, sw.baseline)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    for k, pol in enumerate(pols):
        d = ts[ts["policy"] == pol]
        ls = LINE_STYLES[k % len(LINE_STYLES)]
        _band(axes[0], d.groupby(["replication", "step"])[PARTICIPATION].mean().unstack("replication"),
              100.0, col[pol], ls, pol)
        for which, colour_shift in (("efficacy_participants", 1.0), ("efficacy_non_participants", 0.55)):
            if which in d:
                per_rep = d.groupby(["replication", "step"])[which].mean().unstack("replication")
                c = matplotlib.colors.to_rgb(col[pol])
                shade = tuple(1 - (1 - v) * colour_shift for v in c)
                _band(axes[1], per_rep, 1.0, shade, ls, f"{pol}: {which.split('_', 1)[1].replace('_', '-')}")
    axes[0].set_title("Participation over time")
    axes[0].set_ylabel("% active in the past year")
    axes[0].set_ylim(bottom=0)
    axes[1].set_title("Self-efficacy: participants (dark) and non-participants (light)")
    axes[1].set_ylabel("mean self-efficacy (0-1)")
    for ax in axes:
        ax.set_xlabel("month")
        ax.grid(alpha=0.3)
    axes[0].legend(frameon=False, fontsize=8, loc="lower right", title="policy (line style)",
                   title_fontsize=8)
    axes[1].legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    footnote(fig, "Lines: mean over replications (averaged over design points); shaded bands: 95% CI"
             " over replications. Policies that overlap have the same trajectory; line styles tell them"
             " apart.")
    save(fig, "trajectories")
