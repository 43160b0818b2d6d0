"""Figures by level of involvement: levels by policy, at each design point, and co-design seats.

Each reads the rows of effects.csv (the numbers the text states) and keys every mark in the
figure itself; colours are the policies' (names.POLICY_COLOURS, the baseline grey).
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from coprod_sim.names import LEVELS, QUINTILE_LABELS
from coprod_sim.report.charts import Save, _range_axis, colours, dot_interval, footnote
from coprod_sim.report.designs import point_levers
from coprod_sim.report.load import Sweep
from coprod_sim.report.measures import (
    ADVANTAGED_HIGH,
    HIGH_LEVEL,
    LEVEL_AREA,
    LEVEL_CONCENTRATION,
    LEVEL_OUTPUT,
    LEVEL_PARTICIPATION,
    LEVEL_RATIO,
    MODE_MEASURES,
    SEAT_ACCEPTANCE,
    SEAT_SHARES,
    Measure,
)
from coprod_sim.report.seats import seat_policies


def _policy_table(table: pd.DataFrame, m: Measure) -> pd.DataFrame:
    t = table[(table["scope"] == "policy") & (table["measure"] == m.column)]
    return t.set_index("policy")


def _offset(k: int, count: int) -> float:
    """Vertical offset of the k-th policy within a level's band."""
    return 0.7 * (k - (count - 1) / 2) / max(count, 1)


def _axis_label(m: Measure) -> str:
    if m.percent:
        return "% of the level's output" if m in LEVEL_OUTPUT else "% of citizens"
    if m.scale == "correlation":
        return "correlation across neighbourhoods (0 = none)"
    return "ratio (log scale)" if m.scale == "ratio" else "index (0 = equal)"


def _level_panels(axes, table: pd.DataFrame, families, pols: list[str], col: dict[str, str],
                  not_recorded: tuple[str, ...] = ()) -> None:
    """One panel per family of measures by level: a band per level, a dot per policy."""
    ylev = np.arange(len(LEVELS))[::-1]
    for ax, family in zip(axes, families, strict=True):
        values, means = [], []
        for y, m in zip(ylev, family, strict=True):
            t = _policy_table(table, m)
            for k, pol in enumerate(pols):
                if pol in t.index and math.isfinite(t.loc[pol, "value"]):
                    r = t.loc[pol]
                    dot_interval(ax, y + _offset(len(pols) - 1 - k, len(pols)), r["value"], r["ci_low"],
                                 r["ci_high"], m.factor, col[pol])
                    values += [r["value"], r["ci_low"], r["ci_high"]]
                    means.append(r["value"])
        m0 = family[0]
        if not values:
            ax.text(0.5, 0.5, "no value: not recorded by the\ncoprod-sim that made this sweep"
                    if m0.column in not_recorded else "no value (no such episode)",
                    transform=ax.transAxes, ha="center", va="center", fontsize=8, color="dimgray",
                    bbox={"facecolor": "white", "edgecolor": "none"}, zorder=5)
        if m0.neutral is not None:
            ax.axvline(m0.neutral * m0.factor, color="black", lw=2, alpha=0.35)
        _range_axis(ax, m0, values, means)
        ax.set_title(m0.label.replace(", executor level", " at each level"), fontsize=9)
        ax.set_xlabel(_axis_label(m0), fontsize=8)
        ax.grid(alpha=0.3, axis="x")
    axes[0].set_yticks(ylev, LEVELS)
    axes[0].set_ylim(-0.6, len(LEVELS) - 0.4)


def figure_levels(sw: Sweep, table: pd.DataFrame, save: Save) -> None:
    """Top: participation, top/bottom ratio and concentration index at each level, per policy.
    Middle: the area bias at each level (neighbourhoods' advantage against participation, and
    the advantaged half's share of output). Bottom: the share of designer and initiator
    episodes, and the advantaged half's share of them."""
    if _policy_table(table, HIGH_LEVEL).empty:
        return
    pols = sw.policies
    col = colours(pols, sw.baseline)
    band = 1.5 + 0.3 * len(pols)
    fig = plt.figure(figsize=(12, 2 * band + 1.0 + 0.3 * len(pols) + 1.2), layout="constrained")
    top, middle, bottom = fig.subfigures(3, 1, height_ratios=[band, band, 1.0 + 0.3 * len(pols)])
    _level_panels(top.subplots(1, 3, sharey=True), table,
                  (LEVEL_PARTICIPATION, LEVEL_RATIO, LEVEL_CONCENTRATION), pols, col, sw.not_recorded)
    _level_panels(middle.subplots(1, 2, sharey=True), table, (LEVEL_AREA, LEVEL_OUTPUT), pols, col,
                  sw.not_recorded)
    axes2 = bottom.subplots(1, 2, sharey=True)
    ypol = np.arange(len(pols))[::-1]
    for ax, m in zip(axes2, (HIGH_LEVEL, ADVANTAGED_HIGH), strict=True):
        t = _policy_table(table, m)
        for y, pol in zip(ypol, pols, strict=True):
            if pol in t.index:
                r = t.loc[pol]
                dot_interval(ax, y, r["value"], r["ci_low"], r["ci_high"], m.factor, col[pol])
        if m.neutral is not None:
            ax.axvline(m.neutral * m.factor, color="black", lw=2, alpha=0.35)
        ax.set_xlim(0, 100)
        ax.set_title(m.label, fontsize=9)
        ax.set_xlabel("% of the month's episodes" if m is HIGH_LEVEL else
                      "% of designer and initiator episodes", fontsize=8)
        ax.grid(alpha=0.3, axis="x")
    axes2[0].set_yticks(ypol, pols)
    axes2[0].set_ylim(-0.6, len(pols) - 0.4)
    keys = [Line2D([], [], marker="o", color=col[p], label=p) for p in pols]
    keys.append(Line2D([], [], color="black", lw=2, alpha=0.35, label="no bias (reference value)"))
    bottom.legend(handles=keys, loc="outside lower center", ncols=min(len(keys), 5), frameon=False,
                  fontsize=8, title="dots: mean; bars: 95% CI over replications", title_fontsize=8)
    fig.suptitle("By level of involvement: who takes part as executor, designer and initiator"
                 " (each run's mean over its last quarter)", fontsize=10)
    save(fig, "levels")


def figure_levels_by_point(sw: Sweep, table: pd.DataFrame, save: Save) -> None:
    """Grid and one-at-a-time designs (2-40 points): level and mode outcomes at each point."""
    if sw.n_points < 2 or sw.n_points > 40 or sw.kind in ("latin_hypercube", "sobol"):
        return
    t = table[table["scope"] == "point"]
    shown = (HIGH_LEVEL, ADVANTAGED_HIGH, *MODE_MEASURES)
    if t[t["measure"] == HIGH_LEVEL.column].empty:
        return
    points = point_levers(sw)
    labels = [", ".join(f"{k.split('.')[-1]}={v:g}" if isinstance(v, float | int) else f"{k}={v}"
                        for k, v in points.loc[dp].items()) for dp in points.index]
    pols = sw.policies
    col = colours(pols, sw.baseline)
    fig, axes = plt.subplots(1, len(shown), figsize=(15, 2.4 + 0.3 * len(points) * len(pols)),
                             sharey=True, constrained_layout=True)
    for ax, m in zip(axes, shown, strict=True):
        tm = t[t["measure"] == m.column]
        reach = np.nanmax(tm[["value", "ci_high"]].to_numpy(dtype=float), initial=0.0) * m.factor
        for k, pol in enumerate(pols):
            tp = tm[tm["policy"] == pol].set_index("design_point")
            for y, dp in enumerate(points.index[::-1]):
                if dp in tp.index:
                    r = tp.loc[dp]
                    dot_interval(ax, y + _offset(len(pols) - 1 - k, len(pols)), r["value"], r["ci_low"],
                                 r["ci_high"], m.factor, col[pol])
        if m.neutral is not None:
            ax.axvline(m.neutral * m.factor, color="black", lw=2, alpha=0.35)
        ax.set_xlim(0, max(reach * 1.12, 1.0))
        ax.set_title(m.label.replace("designer and initiator episodes of the advantaged half",
                                     "their share taken by the advantaged half"), fontsize=9)
        ax.set_xlabel("%", fontsize=8)
        ax.grid(alpha=0.3, axis="x")
    axes[0].set_yticks(range(len(points)), labels[::-1], fontsize=7)
    keys = [Line2D([], [], marker="o", color=col[p], label=p) for p in pols]
    keys.append(Line2D([], [], color="black", lw=2, alpha=0.35, label="50% = even"))
    fig.legend(handles=keys, loc="outside lower center", ncols=min(len(keys), 5), frameon=False,
               fontsize=8, title="dots: mean; bars: 95% CI over replications", title_fontsize=8)
    fig.suptitle("Designer and initiator episodes, and participation by mode, at each design point",
                 fontsize=10)
    save(fig, "levels_by_point")


def figure_seats(sw: Sweep, table: pd.DataFrame, save: Save) -> None:
    """Who holds co-design seats and who accepts them, by SES quintile, per seat policy."""
    pols = seat_policies(sw)
    if not pols:
        return
    col = colours(sw.policies, sw.baseline)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), constrained_layout=True)
    x = np.arange(len(QUINTILE_LABELS))
    width = 0.8 / len(pols)
    for ax, family, title in ((axes[0], SEAT_SHARES, "Co-design seats held (% of seats)"),
                              (axes[1], SEAT_ACCEPTANCE, "Accepted, of those asked (%)")):
        for k, pol in enumerate(pols):
            rows = [_policy_table(table, m).reindex([pol]).iloc[0] for m in family]
            mean = np.array([r["value"] for r in rows], dtype=float) * 100
            low = np.array([r["ci_low"] for r in rows], dtype=float) * 100
            high = np.array([r["ci_high"] for r in rows], dtype=float) * 100
            err = np.vstack([mean - low, high - mean]) if np.all(np.isfinite(low)) else None
            ax.bar(x - 0.4 + width * (k + 0.5), mean, width * 0.92, yerr=err, capsize=2, color=col[pol],
                   label=pol, edgecolor="white", error_kw={"ecolor": "#404040", "elinewidth": 0.9})
        ax.set_xticks(x, QUINTILE_LABELS)
        ax.set_title(title, fontsize=10)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3, axis="y")
        ax.set_xlabel("socio-economic quintile")
    axes[0].axhline(100 / len(QUINTILE_LABELS), color="black", lw=2, alpha=0.35,
                    label="a cross section (20% each)")
    axes[0].legend(frameon=False, fontsize=8, title="bars: mean; whiskers: 95% CI", title_fontsize=8)
    footnote(fig, "Left: who sat on the past year's co-design seats. Right: of the residents asked for a seat"
             " (sortition) or reached by the call (open call), the share who took it; the rest declined.")
    save(fig, "seats")
