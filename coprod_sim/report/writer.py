"""``coprod report DIR``: which policies raise participation, and what they do to the bias.

Reads a sweep's folder (manifest.json, runs.parquet, timeseries.parquet) and writes
``report.md``, ``effects.csv`` and figures (PNG and SVG) into ``DIR/figures``.

Statistics. Every outcome is a run's mean over the last quarter of its months. A policy's
level is averaged over the design points for each replication; its 95% confidence interval
is a Student t interval over replications. Its effect is the paired difference from the
baseline on the same replication and design point (the same random draws: common random
numbers), averaged over design points per replication, with a t interval over replications.
With a single replication the units are the design points instead. An effect is
"distinguishable from noise" when its 95% interval excludes zero.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from coprod_sim.names import (
    BASELINE_COLOUR,
    MODES,
    POLICY_COLOURS,
    QUINTILE_COLOURS,
    QUINTILE_COLUMNS,
    QUINTILE_LABELS,
)
from coprod_sim.params import ParameterError

PARTICIPATION = "participation_year"


@dataclass(frozen=True)
class Measure:
    column: str
    label: str
    reads: str  # how to read the value
    kind: str  # "share" (shown in %), "ratio", "index"
    neutral: float | None = None  # the value meaning "no bias"


MEASURES: tuple[Measure, ...] = (
    Measure(PARTICIPATION, "participation (active in the past year)", "share of citizens", "share"),
    Measure("top_bottom_ratio", "top/bottom SES quintile ratio", "1 = no bias", "ratio", 1.0),
    Measure("concentration_index", "concentration index over SES rank", "0 = equal, >0 favours the"
            " advantaged", "index", 0.0),
    Measure("advantage_correlation", "neighbourhood advantage vs participation", "correlation across"
            " neighbourhoods, 0 = none", "index", 0.0),
    Measure("advantaged_output_share", "output reaching the advantaged half", "50% = even", "share", 0.5),
)
BIAS = MEASURES[1:]
SOBOL_OUTCOMES = ("participation_year", "concentration_index", "top_bottom_ratio",
                  "advantage_correlation")
QUINTILES = list(QUINTILE_COLUMNS)
MODE_COLUMNS = [f"participation_year_{m}" for m in MODES]


class ReportError(ParameterError):
    """A folder that does not hold a finished sweep; exit code 2."""

    def __init__(self, message: str):
        super().__init__("DIR", message)


@dataclass
class ReportResult:
    report: Path
    figures_dir: Path
    figures: list[Path] = field(default_factory=list)
    headlines: list[str] = field(default_factory=list)


@dataclass
class Estimate:
    mean: float
    low: float
    high: float
    n: int

    @property
    def distinguishable(self) -> bool:
        return self.n >= 2 and math.isfinite(self.low) and (self.low > 0 or self.high < 0)


# ====================================================================== statistics
def t_interval(values: np.ndarray | pd.Series, level: float = 0.95) -> Estimate:
    """Mean and Student t confidence interval; nan bounds with fewer than two values."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    mean = float(v.mean())
    if n < 2:
        return Estimate(mean, math.nan, math.nan, n)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * v.std(ddof=1) / math.sqrt(n))
    return Estimate(mean, mean - half, mean + half, n)


def _units(df: pd.DataFrame, col: str, replications: int) -> pd.Series:
    """Independent units: per replication (mean over design points), else per design point."""
    d = df[["design_point", "replication", col]].dropna()
    if replications >= 2:
        return d.groupby("replication")[col].mean()
    return d.set_index(["design_point", "replication"])[col]


def level(runs: pd.DataFrame, policy: str, col: str, replications: int) -> Estimate:
    return t_interval(_units(runs[runs["policy"] == policy], col, replications))


def paired_difference(runs: pd.DataFrame, policy: str, baseline: str, col: str,
                      replications: int) -> Estimate:
    """Policy minus baseline on the same replication and design point (same random draws)."""
    keys = ["design_point", "replication"]
    a = runs[runs["policy"] == policy].set_index(keys)[col]
    b = runs[runs["policy"] == baseline].set_index(keys)[col]
    diff = (a - b).dropna().rename(col).reset_index()
    return t_interval(_units(diff, col, replications))


def effects_table(runs: pd.DataFrame, policies: list[str], baseline: str, replications: int
                  ) -> pd.DataFrame:
    rows = []
    for m in (*MEASURES, *[Measure(q, f"participation, SES quintile {i}", "", "share")
                           for i, q in enumerate(QUINTILES, 1)],
              *[Measure(c, f"participation, {mode} mode", "", "share")
                for c, mode in zip(MODE_COLUMNS, MODES, strict=True)]):
        col = f"{m.column}_last_quarter"
        if col not in runs:
            continue
        for pol in policies:
            lv = level(runs, pol, col, replications)
            row = {"measure": m.column, "policy": pol, "mean": lv.mean, "ci_low": lv.low,
                   "ci_high": lv.high, "n": lv.n}
            if pol != baseline:
                d = paired_difference(runs, pol, baseline, col, replications)
                row.update(diff=d.mean, diff_ci_low=d.low, diff_ci_high=d.high, diff_n=d.n,
                           distinguishable=d.distinguishable)
            rows.append(row)
    return pd.DataFrame(rows)


# ====================================================================== loading
@dataclass
class Sweep:
    folder: Path
    manifest: dict[str, Any]
    runs: pd.DataFrame  # finished runs only
    all_runs: pd.DataFrame
    timeseries: pd.DataFrame | None

    @property
    def scenario(self) -> dict[str, Any]:
        return self.manifest["scenario"]

    @property
    def baseline(self) -> str:
        return self.scenario.get("baseline", "baseline")

    @property
    def policies(self) -> list[str]:
        names = [p["name"] for p in self.scenario["policies"]]
        return [n for n in names if n in set(self.runs["policy"])]

    @property
    def replications(self) -> int:
        return int(self.scenario["replications"])

    @property
    def design(self) -> dict[str, Any]:
        return self.scenario["design"]

    def description(self, policy: str) -> str:
        for p in self.scenario["policies"]:
            if p["name"] == policy:
                return p.get("description", "")
        return ""

    def changes(self, policy: str) -> dict[str, Any]:
        for p in self.scenario["policies"]:
            if p["name"] == policy:
                return p.get("changes", {})
        return {}


def load_sweep(folder: str | Path) -> Sweep:
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(f"{folder} is not a folder: give the --out folder of a sweep"
                          " (coprod sweep FILE --out DIR).")
    manifest_path, runs_path = folder / "manifest.json", folder / "runs.parquet"
    if not manifest_path.exists():
        raise ReportError(f"{folder} holds no manifest.json, so it is not a sweep's folder:"
                          " run coprod sweep FILE --out DIR first.")
    if not runs_path.exists():
        raise ReportError(f"{folder} has no runs.parquet yet: the sweep has not finished. Complete it"
                          " with coprod sweep FILE --out DIR --resume.")
    try:
        manifest = json.loads(manifest_path.read_text())
        all_runs = pd.read_parquet(runs_path)
    except (OSError, ValueError) as exc:
        raise ReportError(f"{folder}: cannot read the sweep ({exc}).") from None
    runs = all_runs[all_runs["status"] == "done"].copy()
    if runs.empty:
        raise ReportError(f"{folder}: no run finished (see the errors in manifest.json), nothing"
                          " to report.")
    ts_path = folder / "timeseries.parquet"
    ts = pd.read_parquet(ts_path) if ts_path.exists() else None
    return Sweep(folder, manifest, runs, all_runs, ts)


# ====================================================================== figures
def _colours(policies: list[str], baseline: str) -> dict[str, str]:
    out, k = {}, 0
    for p in policies:
        if p == baseline:
            out[p] = BASELINE_COLOUR
        else:
            out[p] = POLICY_COLOURS[k % len(POLICY_COLOURS)]
            k += 1
    return out


def _save(fig, figdir: Path, name: str, saved: list[Path]) -> None:
    for ext in ("png", "svg"):
        path = figdir / f"{name}.{ext}"
        fig.savefig(path, dpi=130 if ext == "png" else None, metadata={"Date": None}
                    if ext == "svg" else None)
        saved.append(path)
    plt.close(fig)


def _scale(m: Measure) -> float:
    return 100.0 if m.kind == "share" else 1.0


def _unit_label(m: Measure) -> str:
    return "%" if m.kind == "share" else ""


def _point_with_interval(ax, y: float, value: float, low: float, high: float, scale: float,
                         colour: str) -> None:
    """A dot at ``value`` with its interval [low, high] (none when undefined), scaled."""
    err = [[(value - low) * scale], [(high - value) * scale]] if math.isfinite(low) else None
    ax.errorbar(value * scale, y, xerr=err, fmt="o", color=colour, capsize=3, ms=6)


def figure_levels(sw: Sweep, table: pd.DataFrame, figdir: Path, saved: list[Path]) -> None:
    """Participation and each bias measure by policy, 95% intervals over replications."""
    policies = sw.policies
    colours = _colours(policies, sw.baseline)
    fig, axes = plt.subplots(1, len(MEASURES), figsize=(3.3 * len(MEASURES), 0.9 + 0.45 * len(policies)
                                                        + 1.2), sharey=True, constrained_layout=True)
    ypos = np.arange(len(policies))[::-1]
    for ax, m in zip(axes, MEASURES, strict=True):
        t = table[table["measure"] == m.column].set_index("policy")
        sc = _scale(m)
        for y, pol in zip(ypos, policies, strict=True):
            if pol not in t.index:
                continue
            r = t.loc[pol]
            _point_with_interval(ax, y, r["mean"], r["ci_low"], r["ci_high"], sc, colours[pol])
        if sw.baseline in t.index:
            ax.axvline(t.loc[sw.baseline, "mean"] * sc, color=BASELINE_COLOUR, ls="--", lw=1)
        if m.neutral is not None:
            ax.axvline(m.neutral * sc, color="black", lw=0.8, alpha=0.5)
        ax.set_title(m.label, fontsize=9)
        ax.set_xlabel(f"{m.reads}" + (" (%)" if m.kind == "share" else ""), fontsize=8)
        ax.grid(alpha=0.3, axis="x")
        ax.margins(x=0.15)
    axes[0].set_yticks(ypos, policies)
    axes[0].set_ylim(-0.7, len(policies) - 0.3)
    fig.suptitle("Participation and selection bias by policy (mean of the last quarter, 95% CI over"
                 " replications; thin black line = no bias)", fontsize=10)
    _save(fig, figdir, "policy_levels", saved)


def figure_differences(sw: Sweep, table: pd.DataFrame, figdir: Path, saved: list[Path]) -> None:
    """Paired differences from the baseline, 95% intervals; grey where indistinguishable from 0."""
    others = [p for p in sw.policies if p != sw.baseline]
    if not others:
        return
    colours = _colours(sw.policies, sw.baseline)
    fig, axes = plt.subplots(1, len(MEASURES), figsize=(3.3 * len(MEASURES), 2.1 + 0.45 * len(others)),
                             sharey=True, constrained_layout=True)
    ypos = np.arange(len(others))[::-1]
    for ax, m in zip(axes, MEASURES, strict=True):
        t = table[table["measure"] == m.column].set_index("policy")
        sc = _scale(m)
        for y, pol in zip(ypos, others, strict=True):
            if pol not in t.index:
                continue
            r = t.loc[pol]
            colour = colours[pol] if r["distinguishable"] else "#b0b0b0"
            _point_with_interval(ax, y, r["diff"], r["diff_ci_low"], r["diff_ci_high"], sc, colour)
        ax.axvline(0, color="black", lw=0.9)
        ax.set_title(m.label, fontsize=9)
        ax.set_xlabel("difference from baseline" + (" (points)" if m.kind == "share" else ""),
                      fontsize=8)
        ax.grid(alpha=0.3, axis="x")
        ax.margins(x=0.2)
    axes[0].set_yticks(ypos, others)
    axes[0].set_ylim(-0.7, len(others) - 0.3)
    fig.suptitle(f"Effect of each policy against '{sw.baseline}' (paired on the same random draws,"
                 " 95% CI; grey = not distinguishable from noise)", fontsize=10)
    _save(fig, figdir, "policy_differences", saved)


def figure_quintiles(sw: Sweep, table: pd.DataFrame, figdir: Path, saved: list[Path]) -> None:
    """Participation by SES quintile, one group of bars per quintile, one bar per policy."""
    policies = sw.policies
    colours = _colours(policies, sw.baseline)
    fig, ax = plt.subplots(figsize=(max(6.5, 1.2 + 1.1 * len(policies) * 1.1), 4.2),
                           constrained_layout=True)
    width = 0.8 / len(policies)
    x = np.arange(5)
    for k, pol in enumerate(policies):
        t = table[(table["policy"] == pol) & table["measure"].isin(QUINTILES)].set_index("measure")
        if t.empty:
            continue
        means = np.array([t.loc[q, "mean"] for q in QUINTILES]) * 100
        lows = np.array([t.loc[q, "ci_low"] for q in QUINTILES]) * 100
        highs = np.array([t.loc[q, "ci_high"] for q in QUINTILES]) * 100
        err = None if not np.all(np.isfinite(lows)) else np.vstack([means - lows, highs - means])
        ax.bar(x - 0.4 + width * (k + 0.5), means, width * 0.92, yerr=err, capsize=2,
               color=colours[pol], label=pol, edgecolor="white", linewidth=0.5,
               error_kw={"ecolor": "#404040", "elinewidth": 0.9})
    ax.set_xticks(x, QUINTILE_LABELS)
    for tick, colour in zip(ax.get_xticklabels(), QUINTILE_COLOURS, strict=True):
        tick.set_color(colour if colour in (QUINTILE_COLOURS[0], QUINTILE_COLOURS[-1]) else "black")
    ax.set_ylabel("% active in the past year")
    ax.set_title("Participation by socio-economic quintile and policy\n(mean of the last quarter,"
                 " 95% CI over replications)", fontsize=10)
    ax.legend(frameon=False, fontsize=8, ncols=min(len(policies), 4))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3, axis="y")
    _save(fig, figdir, "quintiles", saved)


def figure_trajectories(sw: Sweep, figdir: Path, saved: list[Path]) -> None:
    """Participation and self-efficacy over the months, by policy (band: 95% CI over replications)."""
    ts = sw.timeseries
    if ts is None or ts.empty:
        return
    policies = sw.policies
    colours = _colours(policies, sw.baseline)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), constrained_layout=True)
    for pol in policies:
        d = ts[ts["policy"] == pol]
        if d.empty:
            continue
        c = colours[pol]
        for ax, col, ls, label, scale in (
                (axes[0], PARTICIPATION, "-", pol, 100.0),
                (axes[1], "efficacy_participants", "-", f"{pol}: participants", 1.0),
                (axes[1], "efficacy_non_participants", "--", f"{pol}: non-participants", 1.0)):
            per_rep = d.groupby(["replication", "step"])[col].mean().unstack("replication")
            mean = per_rep.mean(axis=1) * scale
            ax.plot(mean.index, mean.values, color=c, ls=ls, lw=1.8, label=label)
            if per_rep.shape[1] >= 2:
                n = per_rep.notna().sum(axis=1).clip(lower=2)
                half = stats.t.ppf(0.975, n - 1) * per_rep.std(axis=1, ddof=1) / np.sqrt(n) * scale
                ax.fill_between(mean.index, mean - half, mean + half, color=c, alpha=0.15, lw=0)
    axes[0].set_title("Participation over time")
    axes[0].set_ylabel("% active in the past year")
    axes[0].set_ylim(bottom=0)
    axes[1].set_title("Self-efficacy: participants (solid) and non-participants (dashed)")
    axes[1].set_ylabel("mean self-efficacy (0-1)")
    for ax in axes:
        ax.set_xlabel("month")
        ax.grid(alpha=0.3)
    axes[0].legend(frameon=False, fontsize=8, loc="lower right")
    handles, labels = axes[1].get_legend_handles_labels()
    axes[1].legend(handles[::2], [lb.split(":")[0] for lb in labels[::2]], frameon=False, fontsize=8,
                   loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _save(fig, figdir, "trajectories", saved)


HEAT_OUTCOMES = (
    Measure(PARTICIPATION, "participation (%)", "", "share"),
    Measure("concentration_index", "concentration index", "", "index", 0.0),
    Measure("top_bottom_ratio", "top/bottom quintile ratio", "", "ratio", 1.0),
)


def figure_heatmaps(sw: Sweep, figdir: Path, saved: list[Path]) -> list[str]:
    """Grid designs: outcome over each pair of levers (mean over replications and other levers)."""
    design = sw.design
    levers = [lv["key"] for lv in design.get("levers", [])]
    if design.get("kind") != "grid" or len(levers) < 2:
        return []
    names = []
    pairs = list(combinations(levers, 2))[:3]
    policies = sw.policies
    for a, b in pairs:
        fig, axes = plt.subplots(len(policies), len(HEAT_OUTCOMES),
                                 figsize=(4.2 * len(HEAT_OUTCOMES), 3.4 * len(policies) + 0.6),
                                 squeeze=False, constrained_layout=True)
        for j, m in enumerate(HEAT_OUTCOMES):
            col = f"{m.column}_last_quarter"
            pivots = {pol: sw.runs[sw.runs["policy"] == pol].pivot_table(
                index=b, columns=a, values=col, aggfunc="mean") * _scale(m) for pol in policies}
            finite = np.concatenate([p.to_numpy().ravel() for p in pivots.values()])
            finite = finite[np.isfinite(finite)]
            vmin, vmax = (finite.min(), finite.max()) if len(finite) else (0, 1)
            cmap = "viridis" if m.column == PARTICIPATION else "OrRd"
            for i, pol in enumerate(policies):
                ax = axes[i, j]
                pv = pivots[pol]
                im = ax.imshow(pv.to_numpy(), origin="lower", aspect="auto", cmap=cmap, vmin=vmin,
                               vmax=vmax)
                ax.set_xticks(range(pv.shape[1]), [f"{v:g}" for v in pv.columns], fontsize=8)
                ax.set_yticks(range(pv.shape[0]), [f"{v:g}" for v in pv.index], fontsize=8)
                ax.set_xlabel(a, fontsize=8)
                ax.set_ylabel(b, fontsize=8)
                if pv.size <= 64:
                    mid = (vmin + vmax) / 2
                    for (yy, xx), v in np.ndenumerate(pv.to_numpy()):
                        if np.isfinite(v):
                            dark = v > mid if cmap == "OrRd" else v < mid
                            ax.text(xx, yy, f"{v:.1f}" if m.kind == "share" else f"{v:.2f}",
                                    ha="center", va="center", fontsize=7,
                                    color="white" if dark else "black")
                ax.set_title(f"{m.label}" + (f" - {pol}" if len(policies) > 1 else ""), fontsize=9)
            fig.colorbar(im, ax=axes[:, j], shrink=0.8)
        fig.suptitle(f"Grid sweep: outcomes over {a} and {b} (mean of the last quarter and of the"
                     " replications)", fontsize=10)
        name = "heatmap" if len(pairs) == 1 else f"heatmap_{levers.index(a)}_{levers.index(b)}"
        _save(fig, figdir, name, saved)
        names.append(name)
    return names


def sobol_indices(sw: Sweep, policy: str) -> dict[str, pd.DataFrame]:
    """First-order and total Sobol' indices of each outcome, per lever (SALib)."""
    from SALib.analyze import sobol

    levers = sw.design["levers"]
    problem = {"num_vars": len(levers), "names": [lv["key"] for lv in levers],
               "bounds": [[lv["low"], lv["high"]] for lv in levers]}
    n_points = int(sw.design["n_points"])
    d = sw.all_runs[sw.all_runs["policy"] == policy]
    out = {}
    for outcome in SOBOL_OUTCOMES:
        col = f"{outcome}_last_quarter"
        y = d.groupby("design_point")[col].mean().reindex(range(n_points)).to_numpy(dtype=float)
        missing = ~np.isfinite(y)
        if missing.all():
            continue
        if missing.any():  # a failed run or an undefined measure: fill with the mean (noted)
            y[missing] = np.nanmean(y)
        si = sobol.analyze(problem, y, calc_second_order=False, seed=0)
        out[outcome] = pd.DataFrame({"lever": problem["names"], "S1": si["S1"], "S1_conf": si["S1_conf"],
                                     "ST": si["ST"], "ST_conf": si["ST_conf"],
                                     "filled": int(missing.sum())})
    return out


def figure_sobol(sw: Sweep, figdir: Path, saved: list[Path]) -> dict[str, dict[str, pd.DataFrame]]:
    if sw.design.get("kind") != "sobol":
        return {}
    results = {}
    for pol in sw.policies:
        idx = sobol_indices(sw, pol)
        if not idx:
            continue
        results[pol] = idx
        fig, axes = plt.subplots(1, len(idx), figsize=(3.6 * len(idx) + 1.5, 3.2 +
                                 0.25 * len(sw.design["levers"])), sharey=True, constrained_layout=True)
        axes = np.atleast_1d(axes)
        for ax, (outcome, t) in zip(axes, idx.items(), strict=True):
            y = np.arange(len(t))[::-1]
            ax.barh(y + 0.18, t["S1"], 0.34, xerr=t["S1_conf"], color="#4575b4", label="first order",
                    capsize=2)
            ax.barh(y - 0.18, t["ST"], 0.34, xerr=t["ST_conf"], color="#fdae61", label="total",
                    capsize=2)
            ax.set_yticks(y, t["lever"], fontsize=8)
            ax.set_title(next((m.label for m in MEASURES if m.column == outcome), outcome), fontsize=9)
            ax.axvline(0, color="black", lw=0.7)
            ax.set_xlabel("share of variance")
            ax.grid(alpha=0.3, axis="x")
        axes[0].legend(frameon=False, fontsize=8)
        fig.suptitle(f"Sobol' sensitivity indices, policy '{pol}' (95% bootstrap intervals)",
                     fontsize=10)
        _save(fig, figdir, "sobol" if pol == sw.baseline else f"sobol_{pol}", saved)
    return results


def figure_response(sw: Sweep, figdir: Path, saved: list[Path]) -> bool:
    """One-at-a-time, Latin hypercube and one-lever grids: outcome against each lever."""
    design = sw.design
    levers = [lv["key"] for lv in design.get("levers", [])]
    kind = design.get("kind")
    if not levers or kind == "sobol" or (kind == "grid" and len(levers) >= 2):
        return False
    policies = sw.policies
    colours = _colours(policies, sw.baseline)
    shown = (HEAT_OUTCOMES[0], HEAT_OUTCOMES[1])
    fig, axes = plt.subplots(len(shown), len(levers), figsize=(max(7.0, 3.8 * len(levers) + 0.5), 6.4),
                             squeeze=False, constrained_layout=True)
    runs = sw.runs
    for j, key in enumerate(levers):
        for i, m in enumerate(shown):
            ax = axes[i, j]
            col = f"{m.column}_last_quarter"
            for pol in policies:
                d = runs[runs["policy"] == pol]
                if kind == "one_at_a_time":
                    # the lever's own points, plus the base point (design point 0)
                    base_vals = d[d["design_point"] == 0].iloc[:1]
                    own = d[_only_this_lever(d, key, levers, base_vals)]
                    g = own.groupby(key)[col].mean().sort_index() * _scale(m)
                    ax.plot(g.index, g.values, "o-", color=colours[pol], label=pol, ms=4)
                elif kind == "latin_hypercube":
                    ax.scatter(d[key], d[col] * _scale(m), s=8, alpha=0.6, color=colours[pol], label=pol)
                else:
                    g = d.groupby(key)[col].mean().sort_index() * _scale(m)
                    ax.plot(g.index, g.values, "o-", color=colours[pol], label=pol, ms=4)
            ax.set_xlabel(key, fontsize=8)
            ax.set_ylabel(m.label, fontsize=8)
            ax.grid(alpha=0.3)
    axes[0, 0].legend(frameon=False, fontsize=8)
    how = "each dot is a run" if kind == "latin_hypercube" else "mean over replications"
    fig.suptitle(f"Outcomes against each swept parameter\n({kind.replace('_', ' ')} design; mean of"
                 f" the last quarter; {how})", fontsize=10)
    _save(fig, figdir, "response", saved)
    return True


def _only_this_lever(d: pd.DataFrame, key: str, levers: list[str], base: pd.DataFrame) -> pd.Series:
    """Rows of a one-at-a-time design where only ``key`` departs from the base point."""
    if base.empty:
        return pd.Series(False, index=d.index)
    mask = pd.Series(True, index=d.index)
    for other in levers:
        if other != key:
            mask &= d[other] == base[other].iloc[0]
    return mask


# ====================================================================== words
def _fmt(m: Measure, v: float, signed: bool = False) -> str:
    if not math.isfinite(v):
        return "n/a"
    # round first, then add 0.0: no "-0.0" for a value that rounds to zero
    if m.kind == "share":
        v = round(100 * v, 1) + 0.0
        return f"{v:+.1f}" if signed else f"{v:.1f}%"
    v = round(v, 3) + 0.0
    return f"{v:+.3f}" if signed else f"{v:.3f}"


def _ci(m: Measure, low: float, high: float) -> str:
    if not math.isfinite(low):
        return "no interval: one replication"
    return f"95% CI {_fmt(m, low, True)} to {_fmt(m, high, True)}"


def _measure(col: str) -> Measure:
    return next(m for m in MEASURES if m.column == col)


def policy_sentence(sw: Sweep, table: pd.DataFrame, pol: str) -> str:
    t = table.set_index(["measure", "policy"])
    part = _measure(PARTICIPATION)
    if (PARTICIPATION, sw.baseline) not in t.index or t.loc[(PARTICIPATION, pol), "diff_n"] == 0:
        return (f"**{pol}**: no run of it finished beside the same run of the baseline, so it cannot"
                " be compared (see the failed runs in manifest.json).")
    r, b = t.loc[(PARTICIPATION, pol)], t.loc[(PARTICIPATION, sw.baseline)]
    unit = " points" if part.kind == "share" else ""
    direction = "raises" if r["diff"] > 0 else "lowers"
    verdict = ("distinguishable from noise" if r["distinguishable"] else
               "not distinguishable from noise")
    desc = sw.description(pol)
    changes = ", ".join(f"{k} = {v!r}" for k, v in sw.changes(pol).items())
    text = [f"**{pol}**" + (f" ({desc})" if desc else "") + (f" [{changes}]" if changes else "") + ":"]
    text.append(f"it {direction} participation from {_fmt(part, b['mean'])} to {_fmt(part, r['mean'])},"
                f" {_fmt(part, r['diff'], True)}{unit} ({_ci(part, r['diff_ci_low'], r['diff_ci_high'])}):"
                f" {verdict}.")
    for col, what in (("concentration_index", "between advantaged and disadvantaged citizens"
                       " (concentration index over SES rank"),
                      ("advantage_correlation", "between advantaged and disadvantaged areas"
                       " (correlation of neighbourhood advantage with participation")):
        if (col, pol) not in t.index:
            continue
        m = _measure(col)
        rr, bb = t.loc[(col, pol)], t.loc[(col, sw.baseline)]
        if not math.isfinite(rr["diff"]):
            text.append(f"The gap {what}) cannot be compared: undefined in too many runs.")
            continue
        if rr["distinguishable"]:
            change = "widens" if rr["diff"] > 0 else "narrows"
            verdict = f"the gap {what}) {change}"
        else:
            verdict = f"no change in the gap {what}) is distinguishable from noise"
        text.append(f"{verdict[0].upper()}{verdict[1:]}: {_fmt(m, bb['mean'])} to {_fmt(m, rr['mean'])},"
                    f" {_fmt(m, rr['diff'], True)} ({_ci(m, rr['diff_ci_low'], rr['diff_ci_high'])}).")
    return " ".join(text)


def headline(sw: Sweep, table: pd.DataFrame, pol: str) -> str:
    t = table.set_index(["measure", "policy"])
    r = t.loc[(PARTICIPATION, pol)]
    if not r.get("diff_n", 0):
        return f"{pol}: no comparison with the baseline (runs missing)"
    ci = t.loc[("concentration_index", pol)] if ("concentration_index", pol) in t.index else None
    part = (f"participation {_fmt(MEASURES[0], r['diff'], True)} points"
            + ("" if r["distinguishable"] else " (noise)"))
    bias = ""
    if ci is not None and math.isfinite(ci["diff"]):
        bias = (f", concentration index {ci['diff']:+.3f}" + ("" if ci["distinguishable"] else " (noise)"))
    return f"{pol}: {part}{bias}"


def _n(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else plural or word + 's'}"


# ====================================================================== the report
def write_report(folder: str | Path) -> ReportResult:
    """Write report.md, effects.csv and every figure that applies to this sweep."""
    sw = load_sweep(folder)
    figdir = sw.folder / "figures"
    figdir.mkdir(exist_ok=True)
    for old in list(figdir.glob("*.png")) + list(figdir.glob("*.svg")):
        old.unlink()  # figures of an earlier report of a different design must not linger
    saved: list[Path] = []
    table = effects_table(sw.runs, sw.policies, sw.baseline, sw.replications)
    table.to_csv(sw.folder / "effects.csv", index=False)
    figure_levels(sw, table, figdir, saved)
    figure_differences(sw, table, figdir, saved)
    figure_quintiles(sw, table, figdir, saved)
    figure_trajectories(sw, figdir, saved)
    heatmaps = figure_heatmaps(sw, figdir, saved)
    sobol = figure_sobol(sw, figdir, saved)
    response = figure_response(sw, figdir, saved)
    result = ReportResult(sw.folder / "report.md", figdir, saved)
    result.headlines = [headline(sw, table, p) for p in sw.policies if p != sw.baseline]
    text = _markdown(sw, table, heatmaps, sobol, response)
    result.report.write_text(text)
    return result


def _markdown(sw: Sweep, table: pd.DataFrame, heatmaps: list[str],
              sobol: dict[str, dict[str, pd.DataFrame]], response: bool) -> str:
    sc = sw.scenario
    design = sw.design
    n_all, n_done = len(sw.all_runs), len(sw.runs)
    lines = [f"# Sweep report: {sc['name']}", ""]
    if sc.get("description"):
        lines += [f"> {sc['description']}", ""]
    kind = design.get("kind", "none")
    levers = [lv["key"] for lv in design.get("levers", [])]
    lines += [
        f"Scenario file `{sc.get('file', '?')}`; coprod-sim {sw.manifest.get('version', '?')}.",
        f"{_n(len(sc['policies']), 'policy', 'policies')} x"
        f" {_n(int(design.get('n_points', 1)), 'design point')}"
        f" ({kind.replace('_', ' ')}{': ' + ', '.join(levers) if levers else ''}) x"
        f" {_n(sw.replications, 'replication')} = {_n(n_all, 'run')} of {sc.get('steps', '?')} months;"
        f" {n_done} finished" + (f", **{n_all - n_done} failed or missing** (see manifest.json)"
                                 if n_done < n_all else "") + ".",
        "",
        "Outcomes are each run's mean over the last quarter of its months. Intervals are 95%"
        " Student t intervals over replications"
        + (" (averaging over the design points)" if int(design.get("n_points", 1)) > 1 else "")
        + "; effects are paired differences from the baseline on the same random draws"
        " (a replication's seed is the same for every policy). An effect is *distinguishable from"
        " noise* when its interval excludes zero.",
        "",
    ]
    others = [p for p in sw.policies if p != sw.baseline]
    missing = [p["name"] for p in sc["policies"] if p["name"] not in sw.policies]
    lines += ["## What each policy does", ""]
    if missing:
        lines += [f"- **{p}**: none of its runs finished (see manifest.json); it is left out."
                  for p in missing]
    if sw.baseline not in sw.policies:
        lines += ["- The baseline has no finished run: no policy can be compared with it.", ""]
    elif others:
        for pol in others:
            lines += [f"- {policy_sentence(sw, table, pol)}"]
    elif sw.baseline in sw.policies:
        t = table.set_index(["measure", "policy"])
        b = sw.baseline
        part = t.loc[(PARTICIPATION, b)]
        ci = _ci(MEASURES[0], part["ci_low"], part["ci_high"]).replace("+", "")
        lines += [f"- Only the baseline was run: participation {_fmt(MEASURES[0], part['mean'])} ({ci});"
                  f" concentration index {t.loc[('concentration_index', b), 'mean']:.3f}, top/bottom"
                  f" quintile ratio {t.loc[('top_bottom_ratio', b), 'mean']:.2f}."]
    lines += ["", "## Participation and selection bias by policy", ""]
    header = "| policy | " + " | ".join(m.label for m in MEASURES) + " |"
    lines += [header, "|---" * (len(MEASURES) + 1) + "|"]
    t = table.set_index(["measure", "policy"])
    for pol in sw.policies:
        cells = []
        for m in MEASURES:
            if (m.column, pol) not in t.index:
                cells.append("n/a")
                continue
            r = t.loc[(m.column, pol)]
            cell = f"{_fmt(m, r['mean'])}"
            if math.isfinite(r["ci_low"]):
                cell += f" [{_fmt(m, r['ci_low'])}, {_fmt(m, r['ci_high'])}]"
            if pol != sw.baseline and math.isfinite(r.get("diff", math.nan)):
                star = "**" if r["distinguishable"] else ""
                cell += f"<br>{star}{_fmt(m, r['diff'], True)}{star} vs baseline"
            cells.append(cell)
        lines.append(f"| {pol} | " + " | ".join(cells) + " |")
    lines += ["", "Bold differences are distinguishable from noise. Reading the bias measures: "
              + "; ".join(f"{m.label}: {m.reads}" for m in BIAS) + ".", ""]
    lines += ["![Levels by policy](figures/policy_levels.png)", ""]
    if others:
        lines += ["![Differences from the baseline](figures/policy_differences.png)", ""]
    lines += ["## Participation by socio-economic quintile", "",
              "| policy | " + " | ".join(QUINTILE_LABELS) + " |", "|---" * 6 + "|"]
    for pol in sw.policies:
        cells = []
        for q in QUINTILES:
            if (q, pol) in t.index:
                r = t.loc[(q, pol)]
                cells.append(_fmt(MEASURES[0], r["mean"]))
            else:
                cells.append("n/a")
        lines.append(f"| {pol} | " + " | ".join(cells) + " |")
    lines += ["", "![Participation by quintile](figures/quintiles.png)", ""]
    lines += ["## Participation by mode", "", "Share of citizens active in each mode over the past"
              " year (individual: low effort, alone; group; collective: highest effort).", "",
              "| policy | " + " | ".join(MODES) + " |", "|---" * (len(MODES) + 1) + "|"]
    for pol in sw.policies:
        cells = [_fmt(MEASURES[0], t.loc[(c, pol), "mean"]) if (c, pol) in t.index else "n/a"
                 for c in MODE_COLUMNS]
        lines.append(f"| {pol} | " + " | ".join(cells) + " |")
    lines.append("")
    if sw.timeseries is not None:
        lines += ["## Participation and self-efficacy over time", "",
                  "Self-efficacy of the year's participants (solid) against everyone else (dashed):"
                  " the virtuous cycle, and who it leaves out.", "",
                  "![Trajectories](figures/trajectories.png)", ""]
    if heatmaps:
        lines += ["## Grid sweep", ""]
        lines += [f"![Heat map](figures/{name}.png)" for name in heatmaps] + [""]
    if response:
        lines += ["## Response to each swept parameter", "", "![Response](figures/response.png)", ""]
    if sobol:
        lines += ["## Sensitivity: Sobol' indices", "",
                  "First-order index: share of an outcome's variance due to the lever alone; total:"
                  " including its interactions (Saltelli sampling, SALib). Outcomes are averaged"
                  " over replications at each design point.", ""]
        for pol, idx in sobol.items():
            lines += [f"### Policy {pol}", "", "| outcome | lever | first order | total |",
                      "|---|---|---|---|"]
            for outcome, st in idx.items():
                for _, r in st.iterrows():
                    lines.append(f"| {outcome} | {r['lever']} | {r['S1']:.3f} ± {r['S1_conf']:.3f} |"
                                 f" {r['ST']:.3f} ± {r['ST_conf']:.3f} |")
                if st["filled"].iloc[0]:
                    lines.append(f"| {outcome} | ({int(st['filled'].iloc[0])} design points without a"
                                 " value were filled with the mean) | | |")
            name = "sobol" if pol == sw.baseline else f"sobol_{pol}"
            lines += ["", f"![Sobol indices, {pol}](figures/{name}.png)", ""]
    lines += ["Every number above is in `effects.csv`; every run in `runs.parquet`.", ""]
    return "\n".join(lines)
