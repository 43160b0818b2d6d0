"""Figures of a design's answer: heat maps with their uncertainty, point-by-point differences,
response curves with bands, PRCC and Sobol' indices. Each reads the rows of effects.csv."""

from __future__ import annotations

from itertools import combinations

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from coprod_sim.report.charts import NOT_CLEAR, POLICY_COLOURS, Save, colours, dot_interval, footnote
from coprod_sim.report.designs import SENSITIVITY_MEASURES, point_levers
from coprod_sim.report.load import Sweep
from coprod_sim.report.measures import BY_COLUMN, CONCENTRATION, PARTICIPATION_M, SUCCESS

HEAT = (PARTICIPATION_M, CONCENTRATION)


def _point_table(table: pd.DataFrame, pol: str, m) -> pd.DataFrame:
    return table[(table["scope"] == "point") & (table["policy"] == pol)
                 & (table["measure"] == m.column)].set_index("design_point").sort_index()


def figure_heatmaps(sw: Sweep, table: pd.DataFrame, save: Save) -> list[str]:
    """Grid designs: the mean over each pair of parameters, each cell with its 95% CI half-width,
    and a companion panel of the half-widths (the uncertainty) beside every mean panel."""
    if sw.kind != "grid" or len(sw.levers) < 2:
        return []
    names = []
    pairs = list(combinations(sw.levers, 2))[:3]
    for a, b in pairs:
        # one row per policy and measure: its means, then their half-widths (readable when printed)
        fig, axes = plt.subplots(len(sw.policies) * len(HEAT), 2, squeeze=False, constrained_layout=True,
                                 figsize=(11, 3.9 * len(sw.policies) * len(HEAT) + 0.8))
        for i, pol in enumerate(sw.policies):
            for j, m in enumerate(HEAT):
                t = _point_table(table, pol, m)
                if t.empty:
                    continue
                t = t.assign(half=(t["ci_high"] - t["ci_low"]) / 2)
                mean = t.pivot_table(index=b, columns=a, values="value", aggfunc="mean") * m.factor
                half = (t.pivot_table(index=b, columns=a, values="half", aggfunc="mean", dropna=False)
                        .reindex(index=mean.index, columns=mean.columns) * m.factor)
                r = i * len(HEAT) + j
                _heat(axes[r, 0], mean, half, a, b, "viridis" if m.percent else "RdBu_r",
                      f"{m.label}{' (%)' if m.percent else ''} - {pol}", m.digits, m.neutral)
                _heat(axes[r, 1], half, None, a, b, "Greys", f"± 95% CI half-width - {pol}", m.digits)
        over = " and over the other swept parameters" if len(sw.levers) > 2 else ""
        footnote(fig, f"Each cell: mean over replications{over}, with ± its 95% CI half-width. Grey"
                 " panels: the half-widths alone, from 0 (white); darker = less certain. A difference"
                 " between two cells smaller than their half-widths may be noise. Participation is"
                 " coloured from 0; the concentration index around 0 (no bias; red = favours the"
                 " advantaged, blue = the disadvantaged).")
        fig.suptitle(f"Grid: outcomes over {a} and {b}", fontsize=10)
        name = "heatmap" if len(pairs) == 1 else f"heatmap_{sw.levers.index(a)}_{sw.levers.index(b)}"
        save(fig, name)
        names.append(name)
    return names


def _heat(ax, grid: pd.DataFrame, half: pd.DataFrame | None, a: str, b: str, cmap: str, title: str,
          digits: int, neutral: float | None = None) -> None:
    """Colours on an honest scale: shares and half-widths from 0; a bias measure centred on its
    'no bias' value (blue below, red above), so that small differences do not look large."""
    values = grid.to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    vmin = vmax = None
    if cmap in ("Greys", "viridis"):
        vmin = 0
    elif neutral is not None and len(finite):
        reach = max(abs(finite - neutral).max(), 1e-9)
        vmin, vmax = neutral - reach, neutral + reach
    im = ax.imshow(values, origin="lower", aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks(range(grid.shape[1]), [f"{v:g}" for v in grid.columns], fontsize=7)
    ax.set_yticks(range(grid.shape[0]), [f"{v:g}" for v in grid.index], fontsize=7)
    ax.set_xlabel(a, fontsize=8)
    ax.set_ylabel(b, fontsize=8)
    ax.set_title(title, fontsize=8.5)
    plt.colorbar(im, ax=ax, shrink=0.85)
    if grid.size <= 64:
        for (y, x), v in np.ndenumerate(values):
            if not np.isfinite(v):
                continue
            text = f"{v:.{digits}f}"
            if half is not None and np.isfinite(half.to_numpy()[y, x]):
                text += f"\n±{half.to_numpy()[y, x]:.{digits}f}"
            r, g, b_, _ = im.cmap(im.norm(v))
            dark = 0.299 * r + 0.587 * g + 0.114 * b_ < 0.5
            ax.text(x, y, text, ha="center", va="center", fontsize=6.5, color="white" if dark else "black")


def _point_label(points: pd.DataFrame, dp: int) -> str:
    return ", ".join(f"{k.split('.')[-1]}={v:g}" for k, v in points.loc[dp].items())


def figure_point_differences(sw: Sweep, table: pd.DataFrame, save: Save) -> None:
    """Policies crossed with points: each policy's paired difference from the baseline, per point."""
    if (not sw.others or sw.n_points < 2 or sw.baseline not in sw.policies
            or sw.kind in ("latin_hypercube", "sobol") or sw.n_points > 40):
        return  # sampled points are answered by indices; beyond 40 points, see effects.csv
    points = point_levers(sw)
    col = colours(sw.policies, sw.baseline)
    fig, axes = plt.subplots(1, len(HEAT), figsize=(11, 2.0 + 0.28 * len(points) * len(sw.others)),
                             sharey=True, constrained_layout=True)
    labels = [_point_label(points, dp) for dp in points.index]
    for ax, m in zip(axes, HEAT, strict=True):
        for k, pol in enumerate(sw.others):
            t = _point_table(table, pol, m)
            for y, dp in enumerate(points.index[::-1]):
                if dp not in t.index:
                    continue
                r = t.loc[dp]
                c = col[pol] if r["distinguishable"] else NOT_CLEAR
                yy = y + 0.8 * (k - (len(sw.others) - 1) / 2) / max(len(sw.others), 1)
                dot_interval(ax, yy, r["diff_value"], r["diff_ci_low"], r["diff_ci_high"], m.factor, c)
        ax.axvline(0, color="black", lw=0.9)
        ax.set_title(f"{m.label}: difference from the baseline" + (" (% points)" if m.percent else ""),
                     fontsize=9)
        ax.grid(alpha=0.3, axis="x")
    axes[0].set_yticks(range(len(points)), labels[::-1], fontsize=7)
    keys = [Line2D([], [], marker="o", color=col[p], label=p) for p in sw.others]
    keys.append(Line2D([], [], marker="o", color=NOT_CLEAR, label="grey: not distinguishable from noise"))
    fig.legend(handles=keys, loc="outside lower center", ncols=min(len(keys), 4), frameon=False,
               fontsize=8)
    fig.suptitle("Each policy against the baseline at each design point (paired on the same random"
                 " draws; dots: mean difference, bars: 95% CI)", fontsize=10)
    save(fig, "point_differences")


def figure_response(sw: Sweep, table: pd.DataFrame, save: Save) -> bool:
    """One-at-a-time and one-parameter grids: each outcome against each parameter, with bands."""
    if sw.kind not in ("one_at_a_time", "grid") or not sw.levers:
        return False
    if sw.kind == "grid" and len(sw.levers) > 1:
        return False
    from coprod_sim.report.designs import _vary_only

    points = point_levers(sw)
    shown = (PARTICIPATION_M, CONCENTRATION, SUCCESS)
    col = colours(sw.policies, sw.baseline)
    fig, axes = plt.subplots(len(shown), len(sw.levers), squeeze=False, constrained_layout=True,
                             figsize=(max(6.5, 4.0 * len(sw.levers) + 0.5), 2.6 * len(shown) + 1.0))
    for j, key in enumerate(sw.levers):
        own = _vary_only(points, key) if sw.kind == "one_at_a_time" else points
        own = own.sort_values(key)
        for i, m in enumerate(shown):
            ax = axes[i, j]
            for pol in sw.policies:
                t = _point_table(table, pol, m).reindex(own.index)
                x = own[key].to_numpy(dtype=float)
                ax.plot(x, t["value"] * m.factor, "o-", color=col[pol], label=pol, ms=4)
                if t["ci_low"].notna().all():
                    ax.fill_between(x, t["ci_low"] * m.factor, t["ci_high"] * m.factor, color=col[pol],
                                    alpha=0.15, lw=0)
            if m.percent:
                ax.set_ylim(bottom=0)
            if m.neutral is not None:
                ax.axhline(m.neutral, color="black", lw=2, alpha=0.3)
            if sw.kind == "one_at_a_time":
                ax.axvline(points.iloc[0][key], color="#999999", ls=":", lw=1)
            ax.set_xlabel(key, fontsize=8)
            ax.set_ylabel(m.label + (" (%)" if m.percent else ""), fontsize=8)
            ax.grid(alpha=0.3)
    axes[0, 0].legend(frameon=False, fontsize=8)
    note = ("Dots and lines: mean over replications; shaded band: 95% CI over replications. "
            "Success rate: share of the month's accepted collaborations that succeeded.")
    if sw.kind == "one_at_a_time":
        note += " Dotted vertical line: the base value; only this parameter changes along each column."
    if any(m.neutral is not None for m in shown):
        note += " Thick grey line: the concentration index's 'no bias' value, 0."
    footnote(fig, note)
    fig.suptitle("Outcomes against each swept parameter", fontsize=10)
    save(fig, "response")
    return True


def figure_indices(sw: Sweep, table: pd.DataFrame, save: Save) -> list[str]:
    """Latin hypercube: PRCC bars; Sobol: first-order and total index bars; 95% intervals."""
    if sw.kind not in ("latin_hypercube", "sobol"):
        return []
    names = []
    for pol in sw.policies:
        scopes = ("prcc",) if sw.kind == "latin_hypercube" else ("sobol first order", "sobol total")
        t = table[(table["policy"] == pol) & table["scope"].isin(scopes)]
        shown = [m for m in SENSITIVITY_MEASURES if m.column in set(t["measure"])]
        if not shown:
            continue
        fig, axes = plt.subplots(1, len(shown), figsize=(3.6 * len(shown) + 1.5,
                                 2.6 + 0.3 * len(sw.levers)), sharey=True, constrained_layout=True)
        axes = np.atleast_1d(axes)
        for ax, m in zip(axes, shown, strict=True):
            for k, scope in enumerate(scopes):
                tm = t[(t["scope"] == scope) & (t["measure"] == m.column)].set_index("parameter")
                tm = tm.reindex(sw.levers)
                y = np.arange(len(sw.levers))[::-1] + (0.18 - 0.36 * k if len(scopes) == 2 else 0)
                err = np.vstack([tm["value"] - tm["ci_low"], tm["ci_high"] - tm["value"]]).clip(min=0)
                ax.barh(y, tm["value"], 0.34 if len(scopes) == 2 else 0.6, xerr=err, capsize=2,
                        color=POLICY_COLOURS[k] if len(scopes) == 2 else "#4575b4", label=scope)
            ax.set_yticks(np.arange(len(sw.levers))[::-1], sw.levers, fontsize=8)
            ax.set_title(BY_COLUMN[m.column].label, fontsize=9)
            ax.axvline(0, color="black", lw=0.7)
            ax.set_xlim(-1.05 if sw.kind == "latin_hypercube" else -0.05, 1.05)
            ax.grid(alpha=0.3, axis="x")
        if sw.kind == "sobol":
            keys = [Patch(color=POLICY_COLOURS[0], label="first order: the parameter alone"),
                    Patch(color=POLICY_COLOURS[1], label="total: with its interactions")]
            what = "Sobol' indices: share of each outcome's variance due to each parameter"
        else:
            keys = [Patch(color="#4575b4", label="partial rank correlation (-1 to 1; 0 = no"
                          " monotone effect)")]
            what = "Partial rank correlation of each outcome with each parameter"
        fig.legend(handles=keys, loc="outside lower center", ncols=2, frameon=False, fontsize=8,
                   title="whiskers: 95% CI", title_fontsize=8)
        fig.suptitle(f"{what} - {pol}", fontsize=10)
        name = ("sobol" if sw.kind == "sobol" else "prcc") + ("" if pol == sw.baseline else
                                                              f"_{len(names)}")
        save(fig, name)
        names.append(name)
    return names


def figure_scatter(sw: Sweep, table: pd.DataFrame, save: Save) -> bool:
    """Latin hypercube: participation at each design point against each parameter."""
    if sw.kind != "latin_hypercube" or not sw.levers:
        return False
    points = point_levers(sw)
    col = colours(sw.policies, sw.baseline)
    fig, axes = plt.subplots(1, len(sw.levers), squeeze=False, constrained_layout=True,
                             figsize=(max(6.5, 3.6 * len(sw.levers)), 3.8))
    m = PARTICIPATION_M
    for j, key in enumerate(sw.levers):
        ax = axes[0, j]
        for pol in sw.policies:
            t = _point_table(table, pol, m).reindex(points.index)
            ax.scatter(points[key], t["value"] * m.factor, s=14, alpha=0.7, color=col[pol], label=pol)
        ax.set_xlabel(key, fontsize=8)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("participation (%)", fontsize=8)
    axes[0, 0].legend(frameon=False, fontsize=8)
    footnote(fig, "Each dot: one design point (all parameters drawn together), mean over replications."
             " A trend along one panel is that parameter's effect; the scatter around it comes from the"
             " other parameters and from chance.")
    fig.suptitle("Latin hypercube: participation against each parameter", fontsize=10)
    save(fig, "scatter")
    return True
