"""One answer per kind of design: what the swept parameters do, in numbers and words.

- grid and one-at-a-time (listed values): every point with intervals, each parameter's main
  effect (its highest value minus its lowest, paired by replication) and, for a grid, each
  pair's interaction (a difference of differences at the corners, paired by replication);
- Latin hypercube: partial rank correlation of each outcome with each parameter (PRCC);
- Sobol: first-order and total indices (SALib) with their bootstrap intervals.
Every number comes back as rows of effects.csv; the words are built from the same rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from coprod_sim import stats
from coprod_sim.report.effects import contrast, row
from coprod_sim.report.load import Sweep
from coprod_sim.report.measures import (
    CONCENTRATION,
    HIGH_LEVEL,
    LEVEL_POINT_MEASURES,
    MEASURES,
    PARTICIPATION_M,
    SUCCESS,
    TOP_BOTTOM,
    Measure,
    column,
)

DESIGN_MEASURES = (*MEASURES, SUCCESS, *LEVEL_POINT_MEASURES)
SENSITIVITY_MEASURES = (PARTICIPATION_M, CONCENTRATION, TOP_BOTTOM, MEASURES[3], HIGH_LEVEL)
"""Outcomes whose PRCC or Sobol' indices a sampled design reports: participation, the bias
measures, and the share of designer and initiator episodes (how much control is shared)."""


@dataclass
class Answer:
    """A design's findings: effects.csv rows and the report's sentences built from them."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def point_levers(sw: Sweep) -> pd.DataFrame:
    """The value of each swept parameter at each design point (from the runs table)."""
    keys = [k for k in sw.levers if k in sw.runs]
    return sw.runs.groupby("design_point")[keys].first().sort_index()


def _vary_only(points: pd.DataFrame, key: str) -> pd.DataFrame:
    """One-at-a-time: the base point and the points where only ``key`` departs from it."""
    base = points.iloc[0]
    others = [k for k in points.columns if k != key]
    same = (points[others] == base[others]).all(axis=1) if others else pd.Series(True, points.index)
    return points[same]


def main_effect_weights(sw: Sweep, key: str) -> tuple[pd.Series, Any, Any] | None:
    """Weights of 'highest minus lowest value of ``key``' over design points (others averaged)."""
    points = point_levers(sw)
    if key not in points:
        return None
    pts = _vary_only(points, key) if sw.kind == "one_at_a_time" else points
    lo, hi = pts[key].min(), pts[key].max()
    if lo == hi:
        return None
    w = pd.Series(0.0, index=pts.index)
    w[pts[key] == hi] = 1.0 / (pts[key] == hi).sum()
    w[pts[key] == lo] = -1.0 / (pts[key] == lo).sum()
    return w[w != 0], lo, hi


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _say(m: Measure, e: stats.Estimate) -> str:
    """A change in words: rounded from the raw value, an exact zero is 'no change'."""
    if e.n == 0 or not math.isfinite(e.mean):
        return "cannot be estimated (missing runs)"
    if e.mean == 0 and (not e.has_interval or e.low == e.high == 0):
        return "no change (exactly the same runs)"
    ci = (f"95% CI {m.fmt(e.low, True)} to {m.fmt(e.high, True)}" if e.has_interval
          else "no interval: one replication")
    verdict = "distinguishable from noise" if e.distinguishable else "not distinguishable from noise"
    return f"{m.fmt(e.mean, True)}{m.unit_of_difference} ({ci}; {verdict})"


def main_effects(sw: Sweep) -> Answer:
    ans = Answer()
    for key in sw.levers:
        found = main_effect_weights(sw, key)
        if found is None:
            continue
        w, lo, hi = found
        for pol in sw.policies:
            said = []
            for m in DESIGN_MEASURES:
                e = contrast(sw, pol, m, w)
                ans.rows.append(row("main effect", m, pol, e, parameter=key, low_value=lo,
                                    high_value=hi))
                if m in (PARTICIPATION_M, CONCENTRATION, SUCCESS):
                    said.append(f"{m.label} {_say(m, e)}")
            over = " (averaged over the other parameters)" if sw.kind == "grid" and len(sw.levers) > 1 \
                else ""
            who = f" under **{pol}**" if len(sw.policies) > 1 else ""
            ans.lines.append(f"- Raising `{key}` from {lo:g} to {hi:g}{who}{over}: " + "; ".join(said)
                             + ".")
    return ans


def interactions(sw: Sweep) -> Answer:
    """Each pair of a grid's parameters: does one's effect depend on the other's value?"""
    ans = Answer()
    if sw.kind != "grid" or len(sw.levers) < 2:
        return ans
    points = point_levers(sw)
    for a, b in list(combinations(sw.levers, 2))[:6]:
        alo, ahi, blo, bhi = points[a].min(), points[a].max(), points[b].min(), points[b].max()
        w = pd.Series(0.0, index=points.index)
        for va, vb, sign in ((ahi, bhi, 1), (alo, bhi, -1), (ahi, blo, -1), (alo, blo, 1)):
            at = (points[a] == va) & (points[b] == vb)
            w[at] = sign / at.sum()
        w = w[w != 0]
        for pol in sw.policies:
            for m in (PARTICIPATION_M, CONCENTRATION):
                e = contrast(sw, pol, m, w)
                ans.rows.append(row("interaction", m, pol, e, parameter=a, parameter_2=b,
                                    low_value=alo, high_value=ahi, low_value_2=blo, high_value_2=bhi))
                if not math.isfinite(e.mean):
                    continue
                who = f" under **{pol}**" if len(sw.policies) > 1 else ""
                head = (f"- {_cap(m.label)}{who}: the effect of raising `{a}` ({alo:g} to {ahi:g}) where"
                        f" `{b}` = {bhi:g}, minus its effect where `{b}` = {blo:g}: ")
                if e.mean == 0 and (not e.has_interval or e.low == e.high == 0):
                    ans.lines.append(head + "no change (exactly the same runs): no interaction.")
                    continue
                more = "more" if e.mean > 0 else "less"
                named = (f"**an interaction**: raising `{a}` does {more} for {m.label} where `{b}` is"
                         f" {bhi:g}" if e.distinguishable else "no interaction distinguishable from noise")
                ans.lines.append(head + f"{m.fmt(e.mean, True)}{m.unit_of_difference} ({_ci(m, e)}):"
                                 f" {named}.")
    return ans


def _ci(m: Measure, e: stats.Estimate) -> str:
    if not e.has_interval:
        return "no interval: one replication"
    return f"95% CI {m.fmt(e.low, True)} to {m.fmt(e.high, True)}"


def point_means(sw: Sweep, pol: str, m: Measure) -> pd.Series:
    """A policy's outcome at each design point, averaged over replications."""
    d = sw.runs[sw.runs["policy"] == pol]
    return d.groupby("design_point")[column(m)].mean().sort_index()


def prcc(sw: Sweep) -> Answer:
    """Latin hypercube: partial rank correlation of each outcome with each parameter."""
    ans = Answer()
    points = point_levers(sw)
    if points.empty:
        return ans
    for pol in sw.policies:
        for m in SENSITIVITY_MEASURES:
            y = point_means(sw, pol, m).reindex(points.index).to_numpy(dtype=float)
            ests = stats.partial_rank_correlations(points.to_numpy(dtype=float), y)
            for key, e in zip(points.columns, ests, strict=True):
                ans.rows.append(row("prcc", m, pol, e, parameter=key))
            clear = sorted(((abs(e.mean), key, e) for key, e in zip(points.columns, ests, strict=True)
                            if e.distinguishable), reverse=True)
            who = f" under **{pol}**" if len(sw.policies) > 1 else ""
            if clear:
                parts = [f"`{k}` ({'rises' if e.mean > 0 else 'falls'} with it, PRCC {e.mean:.2f},"
                         f" 95% CI {e.low:.2f} to {e.high:.2f})" for _, k, e in clear]
                rest = ("; the other parameters' correlations are not distinguishable from 0"
                        if len(clear) < len(ests) else "")
                ans.lines.append(f"- {_cap(m.label)}{who} depends most on " + ", then ".join(parts)
                                 + rest + ".")
            else:
                ans.lines.append(f"- {_cap(m.label)}{who}: no parameter's partial rank correlation"
                                 " is distinguishable from 0 at this sample size.")
    return ans


def sobol(sw: Sweep) -> Answer:
    """Sobol' first-order and total indices with SALib's bootstrap intervals (clipped to [0, 1])."""
    from SALib.analyze import sobol as salib

    ans = Answer()
    levers = sw.design["levers"]
    problem = {"num_vars": len(levers), "names": [lv["key"] for lv in levers],
               "bounds": [[lv["low"], lv["high"]] for lv in levers]}
    for pol in sw.policies:
        for m in SENSITIVITY_MEASURES:
            y = point_means(sw, pol, m).reindex(range(sw.n_points)).to_numpy(dtype=float)
            missing = ~np.isfinite(y)
            if missing.all():
                continue
            if missing.any():  # a failed run or an undefined measure: filled with the mean (stated)
                y[missing] = np.nanmean(y)
            si = salib.analyze(problem, y, calc_second_order=False, seed=0)
            best = None
            for j, key in enumerate(problem["names"]):
                for order, s, conf in (("first order", si["S1"][j], si["S1_conf"][j]),
                                       ("total", si["ST"][j], si["ST_conf"][j])):
                    # an index is a share of variance: estimate and interval kept in [0, 1] (the
                    # raw estimate, which sampling noise can push outside, stays in raw_value)
                    e = stats.Estimate(min(max(float(s), 0.0), 1.0), max(0.0, s - conf),
                                       min(1.0, s + conf), sw.n_points, "SALib bootstrap")
                    ans.rows.append(row(f"sobol {order}", m, pol, e, parameter=key, raw_value=float(s),
                                        filled=int(missing.sum())))
                    if order == "total" and (best is None or s > best[1].mean):
                        best = (key, e, min(max(float(si["S1"][j]), 0.0), 1.0))
            if best:
                key, e, s1 = best
                who = f" under **{pol}**" if len(sw.policies) > 1 else ""
                ans.lines.append(
                    f"- {_cap(m.label)}{who}: `{key}` matters most; with its interactions it"
                    f" accounts for about {100 * e.mean:.0f}% of the variance (total index {e.mean:.2f},"
                    f" 95% CI {e.low:.2f} to {e.high:.2f}), alone for about {100 * s1:.0f}%"
                    f" (first-order {s1:.2f})."
                    + (" The interval is wide: more samples would sharpen it." if e.high - e.low > 0.5
                       else "")
                    + (f" {int(missing.sum())} design points without a value were filled with the mean."
                       if missing.any() else ""))
    return ans


def unused_levers(sw: Sweep) -> list[str]:
    """Policies whose results do not change at all with a swept parameter (same draws, same runs)."""
    out = []
    col = column(PARTICIPATION_M)
    for pol in sw.policies:
        d = sw.runs[sw.runs["policy"] == pol]
        for key in sw.levers:
            if key not in d or d[key].nunique() < 2:
                continue
            others = [k for k in sw.levers if k != key and k in d]
            if sw.kind in ("latin_hypercube", "sobol"):
                others = []  # every point moves every parameter: test "no parameter matters" only
            groups = d.groupby(["replication", *others])
            varied = [g for _, g in groups if g[key].nunique() >= 2]
            if varied and all(g[col].nunique(dropna=False) == 1 for g in varied):
                if others or sw.kind not in ("latin_hypercube", "sobol"):
                    out.append(f"**{pol}** does not depend on `{key}`: its runs are identical whatever"
                               f" the value of `{key}`, so its results at every point are the same runs"
                               " repeated (its average over points is not an average over that"
                               " parameter's effect).")
                else:
                    out.append(f"**{pol}** gives identical runs at every design point: none of the swept"
                               " parameters changes it.")
                    break
    return out


def answer(sw: Sweep) -> dict[str, Answer]:
    """The design's answer by part: main effects, interactions, PRCC or Sobol indices."""
    if sw.kind in ("grid", "one_at_a_time"):
        return {"main": main_effects(sw), "interaction": interactions(sw)}
    if sw.kind == "latin_hypercube":
        return {"prcc": prcc(sw)}
    if sw.kind == "sobol":
        return {"sobol": sobol(sw)}
    return {}
