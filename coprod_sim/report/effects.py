"""The numbers of a report: levels and paired differences, per policy and per design point.

Every outcome is a run's mean over the last quarter of its months. The independent units are
replications: runs of one replication share their random draws across policies and design
points (common random numbers), so differences are paired by replication (and design point).
A policy's overall level averages its design points within each replication first; with a
single replication the design points are the units instead. Intervals come from
:mod:`coprod_sim.stats`, on each measure's scale (t clipped to the range, log for ratios,
Fisher z for correlations).

Every row of the table is one number-bearing statement; ``effects.csv`` is this table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from coprod_sim import stats
from coprod_sim.report.load import Sweep
from coprod_sim.report.measures import EVERY, Measure, column

KEYS = ["design_point", "replication"]
NOT_RECORDED = "not recorded by the coprod-sim that made this sweep (an older version)"
"""effects.csv's note on a measure whose column the sweep's runs lack."""


@dataclass(frozen=True)
class Partial(stats.Estimate):
    """An estimate from a measure undefined in some units (no citizen of the poorest fifth in a
    cell: no top/bottom ratio). From half of the units or fewer it is withheld (n/a): two
    replications whose ratio happens to be 1.00 would read as a certain 'no bias'."""

    units: int = 0  # units with runs; ``n`` of them had a value
    unit: str = "replications"

    @property
    def withheld(self) -> bool:
        return 2 * self.n <= self.units

    def said(self) -> str:
        """The cell's words for a withheld value: 'n/a in 8 of 10 replications'."""
        return f"n/a in {self.units - self.n} of {self.units} {self.unit}"


def enough(e: stats.Estimate, units: int, by_replication: bool) -> stats.Estimate:
    """``e`` as it is when every unit had a value; else a Partial, withheld from half or fewer."""
    if e.n >= units or e.n == 0:  # none at all: n/a as it is (nobody in that cell)
        return e
    unit = "replications" if by_replication else "design points"
    p = Partial(e.mean, e.low, e.high, e.n, e.method, units, unit)
    return Partial(math.nan, math.nan, math.nan, e.n, e.method, units, unit) if p.withheld else p


def _partial_note(name: str, e: Partial) -> str:
    if e.withheld:
        return f"{name} {e.said()}: undefined there, too few to estimate"
    return f"{name} undefined in {e.units - e.n} of {e.units} {e.unit}: from the other {e.n}"


def _units(d: pd.DataFrame, col: str, by_replication: bool) -> pd.Series:
    """Independent units: per replication (mean over design points), else per design point."""
    d = d[[*KEYS, col]]
    if by_replication:
        return d.groupby("replication")[col].mean()
    return d.set_index(KEYS)[col]


def level(runs: pd.DataFrame, m: Measure, by_replication: bool = True) -> stats.Estimate:
    col = column(m)
    if col not in runs:
        return stats.NO_ESTIMATE
    units = _units(runs, col, by_replication)
    return enough(stats.interval(units, m.scale, bounds=m.bounds), len(units), by_replication)


def difference(runs: pd.DataFrame, base: pd.DataFrame, m: Measure, by_replication: bool = True
               ) -> stats.Estimate:
    """``runs`` minus ``base`` paired on design point and replication (pairs with both sides)."""
    col = column(m)
    if col not in runs or col not in base:
        return stats.NO_ESTIMATE
    both = runs[[*KEYS, col]].merge(base[[*KEYS, col]], on=KEYS, suffixes=("", "_base"))
    units = len(_units(both, col, by_replication))
    both = both.dropna()
    a = _units(both, col, by_replication)
    b = _units(both.rename(columns={col: "x", f"{col}_base": col}), col, by_replication)
    return enough(stats.paired_difference(a.to_numpy(), b.to_numpy(), m.scale, bounds=m.bounds), units,
                  by_replication)


def estimate_columns(e: stats.Estimate, prefix: str = "") -> dict[str, Any]:
    return {f"{prefix}value": e.mean, f"{prefix}ci_low": e.low, f"{prefix}ci_high": e.high,
            f"{prefix}n": e.n}


def row(scope: str, m: Measure | str, policy: str = "", est: stats.Estimate | None = None,
        diff: stats.Estimate | None = None, **extra: Any) -> dict[str, Any]:
    """One line of effects.csv. ``value`` in the measure's stored unit (shares as 0-1)."""
    name = m if isinstance(m, str) else m.column
    out: dict[str, Any] = {"scope": scope, "measure": name, "policy": policy}
    out.update(extra)
    if est is not None:
        out.update(estimate_columns(est))
        out["method"] = est.method
    if diff is not None:
        out.update(estimate_columns(diff, "diff_"))
        out["distinguishable"] = diff.distinguishable
    notes = [_partial_note(name, e) for name, e in (("value", est), ("difference", diff))
             if isinstance(e, Partial)]
    if isinstance(est, Partial) and est.withheld:
        out["shown"] = est.said()  # what the report's cell says instead of a number
    if notes:
        out["note"] = "; ".join(notes)
    return out


def policy_rows(sw: Sweep, measures: Iterable[Measure] = EVERY) -> list[dict[str, Any]]:
    """Each policy's level over all design points, and its paired difference from the baseline."""
    by_rep = sw.replications >= 2
    base = sw.runs[sw.runs["policy"] == sw.baseline]
    rows = []
    for m in measures:
        for pol in sw.policies:
            d = sw.runs[sw.runs["policy"] == pol]
            diff = difference(d, base, m, by_rep) if pol != sw.baseline and len(base) else None
            rows.append(row("policy", m, pol, level(d, m, by_rep), diff))
    return rows


def point_rows(sw: Sweep, measures: Iterable[Measure]) -> list[dict[str, Any]]:
    """At each design point, each policy's level over replications and its paired difference."""
    rows = []
    levers = sw.levers
    for dp, at in sw.runs.groupby("design_point", sort=True):
        where = {k: at[k].iloc[0] for k in levers if k in at}
        base = at[at["policy"] == sw.baseline]
        for m in measures:
            for pol in sw.policies:
                d = at[at["policy"] == pol]
                if d.empty:
                    continue
                diff = difference(d, base, m) if pol != sw.baseline and len(base) else None
                rows.append(row("point", m, pol, level(d, m), diff, design_point=int(dp), **where))
    return rows


def point_mean_rows(sw: Sweep, measures: Iterable[Measure]) -> list[dict[str, Any]]:
    """Sampled designs (Latin hypercube, Sobol): each point's mean over replications, no interval.

    Their answer is the indices over all points (PRCC, Sobol); a point is one draw of every
    parameter at once, so its own interval would answer no question.
    """
    rows = []
    levers = [k for k in sw.levers if k in sw.runs]
    for m in measures:
        col = column(m)
        if col not in sw.runs:
            continue
        g = sw.runs.groupby(["policy", "design_point"])
        means, counts, where = g[col].mean(), g[col].count(), g[levers].first()
        for (pol, dp), v in means.items():
            rows.append(row("point", m, str(pol), design_point=int(dp), value=float(v),
                            n=int(counts[(pol, dp)]), method="mean", **where.loc[(pol, dp)].to_dict()))
    return rows


def contrast(sw: Sweep, policy: str, m: Measure, weights: pd.Series) -> stats.Estimate:
    """A paired contrast over design points, sum_p w_p y_p, per replication, with its t interval.

    Runs of one replication share their draws, so a contrast within a replication cancels the
    noise they share (main effects: high minus low; interactions: a difference of differences).
    A main effect of a ratio or a correlation is taken on that measure's scale (log, Fisher z);
    an interaction is a plain difference of differences with a t interval.
    """
    col = column(m)
    d = sw.runs[(sw.runs["policy"] == policy) & sw.runs["design_point"].isin(weights.index)]
    wide = d.pivot_table(index="replication", columns="design_point", values=col, aggfunc="mean")
    units = d["replication"].nunique()  # those with runs, the measure defined or not
    wide = wide.reindex(columns=weights.index).dropna()
    if wide.empty:
        return stats.NO_ESTIMATE
    return enough(_contrast(wide, m, weights), units, True)


def _contrast(wide: pd.DataFrame, m: Measure, weights: pd.Series) -> stats.Estimate:
    """The contrast over replications with a value at every weighted design point."""
    w = weights.to_numpy()
    if m.scale != "mean" and (w > 0).sum() and (w < 0).sum() and \
            np.isclose(w[w > 0].sum(), 1) and np.isclose(w[w < 0].sum(), -1):
        # high minus low of a ratio or a correlation: paired on its own scale (log, Fisher z)
        hi, lo = wide.to_numpy()[:, w > 0] @ w[w > 0], wide.to_numpy()[:, w < 0] @ -w[w < 0]
        return stats.paired_difference(hi, lo, m.scale)
    values = wide.to_numpy() @ w
    # identical runs (a parameter a policy ignores) give 0 up to rounding of the weights: say 0
    values[abs(values) < 1e-12] = 0.0
    # a contrast of shares whose weights sum to s+ and s- lies within the widest it can reach
    reach = float(weights.abs().sum()) * (m.bounds[1] - m.bounds[0]) / 2 if m.bounds and \
        math.isfinite(m.bounds[1] - m.bounds[0]) else None
    return stats.t_interval(values, bounds=(-reach, reach) if reach else None)


def run_facts(sw: Sweep) -> list[dict[str, Any]]:
    """What was run, as numbers the report's first section states."""
    sc = sw.scenario
    base = sc.get("base", {})
    from coprod_sim.params import spec

    def given(key: str) -> Any:
        return base.get(key, spec(key).default)

    steps = int(sc.get("steps", given("simulation.steps")))
    facts = {"citizens": given("population.n_citizens"),
             "neighbourhoods": given("population.n_neighbourhoods"),
             "months": steps, "months averaged (last quarter)": max(1, math.ceil(steps / 4)),
             "year window (months)": given("simulation.year_window"),
             "replications": sw.replications, "design points": sw.n_points,
             "policies": len(sw.policies_declared), "runs": len(sw.all_runs),
             "runs finished": len(sw.runs), "runs failed or missing": len(sw.all_runs) - len(sw.runs),
             "confidence level": stats.LEVEL}
    if sw.not_recorded:  # an older coprod-sim's sweep: the report's note says how many
        facts["measures not recorded"] = len(sw.not_recorded)
    for code, (n, gone) in sw.older_runs.items():  # versions mixed by a resume
        facts[f"runs of code {code}"] = n
        facts[f"measures the runs of code {code} have no value of"] = len(gone)
    return [row("run", k, value=float(v)) for k, v in facts.items()]


def setting_rows(sw: Sweep) -> list[dict[str, Any]]:
    """The numeric parameter values the report states: set by the scenario, by each policy, the
    baseline's values of what policies change, and every swept value or range."""
    from coprod_sim.params import spec

    out = []
    base = sw.scenario.get("base", {})

    def add(key: str, value: Any, policy: str = "") -> None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            out.append(row("setting", key, policy, value=float(value)))

    for key, value in base.items():
        add(key, value)
    for p in sw.policies_declared:
        if p.description:  # the words the report quotes, numbers in them included
            out.append(row("setting", "description", p.name, text=p.description))
        for key, value in p.changes.items():
            add(key, value, p.name)
            try:
                add(key, base.get(key, spec(key).default), sw.baseline)
            except Exception:  # a rule's parameter this version's tree does not declare
                pass
    for lv in sw.design.get("levers", []):
        for value in lv.get("values") or [lv.get("low"), lv.get("high")]:
            add(str(lv["key"]), value)
    return out


def note_not_recorded(sw: Sweep, table: pd.DataFrame) -> pd.DataFrame:
    """effects.csv's ``note`` on every row of a measure the sweep's runs did not record."""
    if sw.not_recorded:
        # a measure's reference value (its 'no bias' value) holds whatever the version
        gone = table["measure"].isin(sw.not_recorded) & (table["scope"] != "reference")
        table.loc[gone, "note"] = NOT_RECORDED
    return table


def reference_rows() -> list[dict[str, Any]]:
    """The reference value of each bias measure (its 'no bias' value) and its range."""
    out = []
    for m in EVERY:
        if m.neutral is not None:
            out.append(row("reference", m, value=m.neutral, ci_low=m.bounds[0] if m.bounds else np.nan,
                           ci_high=m.bounds[1] if m.bounds else np.nan))
    return out
