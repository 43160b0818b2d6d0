"""The report's answer by level of involvement, by mode, and for co-design seats.

Levels (executor, designer, initiator; Voorberg, Bekkers & Tummers 2015) are recorded by
every run, so every report states them: per policy, the share of episodes at the designer and
initiator levels and the advantaged half's share of them, participation and the bias measures
at each level, and paired differences from the baseline; per design point the same, and the
swept parameters' main effects on them; by mode, participation and the top/bottom ratio (the
digital channel and the urban effect act on the individual mode). When some policy opens
co-design seats, who holds them and who declines (:mod:`coprod_sim.report.seats`). Every number
comes from a row of effects.csv.
"""

from __future__ import annotations

import math
from typing import Any

from coprod_sim import stats
from coprod_sim.names import LEVELS, MODES
from coprod_sim.report import effects, seats
from coprod_sim.report.load import Sweep
from coprod_sim.report.measures import (
    ADVANTAGED_HIGH,
    HIGH_LEVEL,
    LEVEL_AREA,
    LEVEL_CONCENTRATION,
    LEVEL_OUTPUT,
    LEVEL_PARTICIPATION,
    LEVEL_RATIO,
    MODE_LEVEL_CONCENTRATION,
    MODE_LEVEL_PARTICIPATION,
    MODE_LEVEL_RATIO,
    MODE_MEASURES,
    MODE_RATIOS,
    PARTICIPATION_M,
    Measure,
)
from coprod_sim.report.said import Said, cell, diff_text, level_text, md_table

LEVEL_GAP_MEASURES = (LEVEL_RATIO, LEVEL_CONCENTRATION, LEVEL_AREA, LEVEL_OUTPUT)
"""Bias measures compared between levels within a policy (is the gap steeper at higher levels?)."""
GAP_WORDS = ("top/bottom ratio", "concentration index", "correlation of neighbourhood advantage with"
             " participation", "advantaged half's share of output")
PARAMETER_MEASURES = (PARTICIPATION_M, HIGH_LEVEL, ADVANTAGED_HIGH, *MODE_MEASURES)
"""Measures whose policy effect is compared between a swept parameter's ends."""


# ============================================================================ numbers
def level_gap_rows(sw: Sweep) -> list[dict[str, Any]]:
    """Per policy: each higher level's bias minus the executor level's, paired by replication."""
    rows = []
    by_rep = sw.replications >= 2
    for family in LEVEL_GAP_MEASURES:
        base_m = family[0]
        for m in family[1:]:
            for pol in sw.policies:
                d = sw.runs[sw.runs["policy"] == pol]
                # the executor level's column renamed as this level's: a paired difference of columns
                other = d.drop(columns=[effects.column(m)]).rename(
                    columns={effects.column(base_m): effects.column(m)})
                e = effects.difference(d, other, m, by_rep)
                rows.append(effects.row("level gap", m, pol, diff=e, compared_with=base_m.column))
    return rows


def policy_by_parameter_rows(sw: Sweep) -> list[dict[str, Any]]:
    """Does a policy's effect depend on a swept parameter? Its paired effect at the parameter's
    highest value minus its effect at the lowest (a difference of differences, per replication)."""
    from coprod_sim.report.designs import main_effect_weights

    if sw.baseline not in sw.policies or sw.kind not in ("grid", "one_at_a_time"):
        return []
    out = []
    for key in sw.levers:
        found = main_effect_weights(sw, key)
        if found is None:
            continue
        w, lo, hi = found
        for m in PARAMETER_MEASURES:
            wide = {pol: sw.runs[sw.runs["policy"] == pol].pivot_table(
                index="replication", columns="design_point", values=effects.column(m), aggfunc="mean"
            ).reindex(columns=w.index) for pol in sw.policies}
            for pol in sw.others:
                both = (wide[pol] - wide[sw.baseline]).dropna()
                e = stats.t_interval(both.to_numpy() @ w.to_numpy()) if len(both) else stats.NO_ESTIMATE
                out.append(effects.row("policy x parameter", m, pol, diff=e, parameter=key,
                                       low_value=lo, high_value=hi))
    return out


def rows(sw: Sweep) -> list[dict[str, Any]]:
    """The level-specific rows of effects.csv (policy and point rows are computed with the rest)."""
    return level_gap_rows(sw) + seats.seat_rows(sw) + policy_by_parameter_rows(sw)


# ============================================================================ words
def _gap_sentence(s: Said, pol: str) -> str:
    """Is the status gap steeper at the designer and initiator levels than among executors?"""
    parts = []
    for family, what in zip(LEVEL_GAP_MEASURES, GAP_WORDS, strict=True):
        if not s.recorded(family[0]):
            continue
        levels = ", ".join(f"{lv} {level_text(m, s.get('policy', m, pol))}"
                           for lv, m in zip(LEVELS, family, strict=True))
        gaps = []
        for lv, m in zip(LEVELS[1:], family[1:], strict=True):
            r = s.get("level gap", m, pol)
            if r is not None and math.isfinite(r.get("diff_value", math.nan)):
                steeper = ("steeper" if r["diff_value"] > 0 else "flatter") if r["distinguishable"] \
                    else "not distinguishable from the executors'"
                gaps.append(f"{lv}s minus executors {diff_text(m, r)}: {steeper}")
        parts.append(f"{what}: {levels}" + (f" ({'; '.join(gaps)})" if gaps else ""))
    return "The status gap by level, " + "; ".join(parts) + "."


def policy_level_lines(sw: Sweep, s: Said) -> list[str]:
    lines = []
    for pol in sw.policies:
        head = f"- **{pol}**: "
        if pol == sw.baseline:
            lines.append(head + f"{level_text(HIGH_LEVEL, s.get('policy', HIGH_LEVEL, pol))} of episodes"
                         " are at the designer or initiator level; the advantaged half takes"
                         f" {level_text(ADVANTAGED_HIGH, s.get('policy', ADVANTAGED_HIGH, pol))} of"
                         f" them. {_gap_sentence(s, pol)}")
            continue
        if sw.baseline not in sw.policies:
            continue
        words = [f"designer and initiator episodes {_from_to(HIGH_LEVEL, s, sw.baseline, pol)}",
                 f"the advantaged half's share of them {_from_to(ADVANTAGED_HIGH, s, sw.baseline, pol)}"]
        words += [f"participation at the {lv} level {diff_text(m, s.get('policy', m, pol))}"
                  for lv, m in zip(LEVELS, LEVEL_PARTICIPATION, strict=True)]
        words += [f"top/bottom ratio at the {lv} level {diff_text(m, s.get('policy', m, pol))}"
                  for lv, m in zip(LEVELS, LEVEL_RATIO, strict=True)]
        words += [f"concentration index at the {lv} level {diff_text(m, s.get('policy', m, pol))}"
                  for lv, m in zip(LEVELS, LEVEL_CONCENTRATION, strict=True)]
        lines.append(head + "; ".join(words) + ".")
    return lines


def _from_to(m: Measure, s: Said, base: str, pol: str) -> str:
    b, r = s.get("policy", m, base), s.get("policy", m, pol)
    if b is None or r is None or not (math.isfinite(b["value"]) and math.isfinite(r["value"])):
        return "cannot be compared"
    return f"from {m.fmt(b['value'])} to {m.fmt(r['value'])}, {diff_text(m, r)}"


def mode_lines(sw: Sweep, s: Said) -> list[str]:
    """Each policy's change by mode: participation and the top/bottom ratio (individual mode
    apart: the digital channel and the urban effect act there)."""
    if sw.baseline not in sw.policies:
        return []
    lines = []
    for pol in sw.others:
        words = [f"{mode} mode {diff_text(m, s.get('policy', m, pol))}"
                 for mode, m in zip(MODES, MODE_MEASURES, strict=True)]
        ratios = [f"{m.label} {_from_to(m, s, sw.baseline, pol)}" for m in MODE_RATIOS]
        lines.append(f"- **{pol}**, participation by mode: " + "; ".join(words) + ". "
                     + "; ".join(r[:1].upper() + r[1:] for r in ratios[:1]) + "; "
                     + "; ".join(ratios[1:]) + ".")
    return lines


def _by_parameter(table, scope: str):
    """(parameter, policy, rows by measure, low value, high value) of one scope's rows."""
    t = table[table["scope"] == scope]
    if t.empty:
        return
    for (key, pol), g in t.groupby(["parameter", "policy"], sort=False):
        yield (key, pol, {r["measure"]: r for r in g.to_dict("records")}, g["low_value"].iloc[0],
               g["high_value"].iloc[0])


def main_effect_lines(table) -> list[str]:
    """The swept parameters' main effects on the level and mode outcomes, in words."""
    lines = []
    for key, pol, by, lo, hi in _by_parameter(table, "main effect"):
        said = []
        for m in (HIGH_LEVEL, ADVANTAGED_HIGH, *MODE_MEASURES):
            r = by.get(m.column)
            if r is not None:  # a main effect's row holds the difference as its value
                r = {**r, "diff_value": r["value"], "diff_ci_low": r["ci_low"],
                     "diff_ci_high": r["ci_high"], "distinguishable": r["ci_low"] > 0 or r["ci_high"] < 0}
                said.append(f"{m.label} {diff_text(m, r)}")
        if said:
            lines.append(f"- Raising `{key}` from {lo:g} to {hi:g} under **{pol}**: " + "; ".join(said)
                         + ".")
    return lines


def dependence_lines(table) -> list[str]:
    """Does a policy's effect depend on a swept parameter (a difference of differences)?"""
    lines = []
    for key, pol, by, lo, hi in _by_parameter(table, "policy x parameter"):
        said = [f"on {m.label} {diff_text(m, by.get(m.column))}" for m in PARAMETER_MEASURES
                if m.column in by]
        lines.append(f"- **{pol}**'s effect (against the baseline) where `{key}` = {hi:g}, minus its"
                     f" effect where `{key}` = {lo:g}: " + "; ".join(said) + ".")
    return lines


def tables(sw: Sweep, s: Said) -> list[str]:
    diff = sw.baseline in sw.policies
    by_level = md_table(
        ["policy", "level", "participation", "top/bottom ratio", "concentration index",
         "area correlation", "output to the advantaged half"],
        [[p, lv, *[cell(m, s.get("policy", m, p), diff and p != sw.baseline) for m in ms]]
         for p in sw.policies
         for lv, *ms in zip(LEVELS, LEVEL_PARTICIPATION, *LEVEL_GAP_MEASURES, strict=True)])
    high = md_table(["policy", HIGH_LEVEL.label, ADVANTAGED_HIGH.label],
                  [[p, *[cell(m, s.get("policy", m, p), diff and p != sw.baseline)
                         for m in (HIGH_LEVEL, ADVANTAGED_HIGH)]] for p in sw.policies])
    cells = list(zip(MODE_LEVEL_PARTICIPATION, MODE_LEVEL_RATIO, MODE_LEVEL_CONCENTRATION, strict=True))
    where = [(mode, lv) for mode in MODES for lv in LEVELS]
    mode_level = md_table(
        ["policy", "mode", "level", "participation", "top/bottom ratio", "concentration index"],
        [[p, mode, lv, *[cell(m, s.get("policy", m, p)) for m in ms]]
         for p in sw.policies for (mode, lv), ms in zip(where, cells, strict=True)])
    return ["### By policy and level", "",
            "Each cell: the mean [95% CI]" + ("; below it, the paired difference from the baseline"
                                              " (bold: distinguishable from noise)." if diff else "."),
            "Area correlation: the correlation across neighbourhoods of advantage with participation at"
            " the level; output to the advantaged half: the share of the output of the level's episodes"
            " that goes to the more advantaged half of residents.",
            "", by_level, "", high, "", "![By level of involvement](figures/levels.png)", "",
            "### By mode and level", "",
            "Share of citizens active in each mode at each level in the past year, and the top/bottom"
            " ratio and concentration index among them (n/a: no citizen of the poorest fifth, or nobody,"
            " at that mode and level; n/a in k of N replications: undefined in half of them or more,"
            " too few to estimate).", "",
            mode_level, ""]


def point_lines(sw: Sweep, table) -> list[str]:
    """Grid and one-at-a-time designs: the level and mode outcomes at each design point."""
    if sw.n_points < 2 or sw.kind in ("latin_hypercube", "sobol") or sw.n_points > 60:
        return []
    t = table[table["scope"] == "point"]
    at = {(r["measure"], r["policy"], int(r["design_point"])): r for r in t.to_dict("records")}
    points = sw.runs.groupby("design_point")[[k for k in sw.levers if k in sw.runs]].first()
    shown = (HIGH_LEVEL, ADVANTAGED_HIGH, *MODE_MEASURES)
    lines = ["### At each design point", "",
             "Mean [95% CI over replications]" + ("; for other policies, the paired difference from the"
                                                  " baseline at the same point." if sw.others else "."),
             ""]
    for pol in sw.policies:
        body = [[*(f"{v:g}" if isinstance(v, float | int) else str(v) for v in vals),
                 *[cell(m, at.get((m.column, pol, int(dp))), pol != sw.baseline) for m in shown]]
                for dp, vals in points.iterrows()]
        lines += [f"**{pol}**", "", md_table([*(k.split(".")[-1] for k in points.columns),
                                            *(m.label for m in shown)], body), ""]
    return lines


def section(sw: Sweep, table, figures: set[str]) -> list[str]:
    """'Levels of involvement' and, when seats were opened, 'Co-design seats'."""
    s = Said(table)
    if s.get("policy", HIGH_LEVEL, sw.policies[0]) is None or not s.recorded(HIGH_LEVEL):
        return []  # runs of a version that did not record levels
    lines = ["## Levels of involvement: executors, designers, initiators", "",
             "Citizens take part as **executors** (carrying out a service the administration designed),"
             " **designers** (shaping what the service is) or **initiators** (starting it, then backed"
             " by the administration) (Voorberg, Bekkers & Tummers 2015). A citizen active at"
             " several levels in the year counts at each, so the levels add up to more than the total."
             " The higher levels ask more and share control, so the status gap there says who gets a"
             " say, not only who helps.", "", *policy_level_lines(sw, s), ""]
    effects_lines = main_effect_lines(table) + dependence_lines(table)
    if effects_lines:
        lines += ["**What the swept parameters do to levels and modes** (main effects: highest value"
                  " minus lowest, paired by replication; then whether each policy's effect depends on"
                  " the parameter: a difference of differences):", "", *effects_lines, ""]
    if "levels_by_point" in figures:
        lines += ["![Levels at each design point](figures/levels_by_point.png)", ""]
    modes = mode_lines(sw, s)
    if modes:
        lines += ["**By mode** (the digital channel and the urban effect act on the individual mode):",
                  "", *modes, ""]
    return [*lines, *tables(sw, s), *point_lines(sw, table), *seats.seat_lines(sw, s)]


def glossary() -> list[str]:
    """The glossary's entries for the measures by level, by mode and of co-design seats."""
    return [
        "- **levels of involvement**: **executor** (carries out a service the administration designed),"
        " **designer** (shapes what the service is), **initiator** (starts it, then backed by the"
        " administration). **Participation at a level** (`participation_year_executor`, ...): share of"
        " citizens active at that level in the past year. **Top/bottom ratio** and **concentration"
        " index at a level** (`top_bottom_ratio_designer`, `concentration_index_designer`, ...): the"
        " same measures as above among that level's participants. **Area correlation at a level**"
        " (`advantage_correlation_designer`, ...): the correlation across neighbourhoods of their"
        " advantage with their participation at that level; **output to the advantaged half at a"
        " level** (`advantaged_output_share_designer`, ...): the share of the month's output of that"
        " level's successful episodes that goes to the more advantaged half of residents (50% ="
        " even). **By mode and level** (`participation_year_group_designer`,"
        " `top_bottom_ratio_group_designer`, `concentration_index_group_designer`, ...): within one"
        " mode and one level. A top/bottom ratio is n/a where no citizen of the poorest fifth took"
        " part at that mode and level; the other measures are n/a where nobody did (or, for the"
        " output, nothing succeeded at that level).",
        "- **status gap by level** (scope 'level gap' in effects.csv): a higher level's top/bottom ratio,"
        " concentration index, area correlation or advantaged half's share of output minus the"
        " executors', paired by replication; above 0 = the gap is steeper where citizens share control.",
        f"- **by mode**: {MODE_RATIOS[0].label} (`{MODE_RATIOS[0].column}`) and {MODE_RATIOS[1].label}"
        f" (`{MODE_RATIOS[1].column}`): the top/bottom ratio within those modes.",
        "- **co-design seats** (`seat_share_q1` ... `q5`): share of the past year's seats held by each fifth"
        " by socio-economic status, a cross section gives each its fifth; **accepted, of those asked**"
        " (`seat_acceptance_q1` ... `q5`): the share of the residents offered a seat who took it (the"
        " rest declined). Under sortition, those drawn are asked in person; under an open call nobody"
        " is asked in person, and 'asked' counts the residents the call reached. A share of the year's"
        " sums: redrawing a declined seat asks more people but does not change anyone's chance of"
        " accepting; **seats filled** (`seats_filled_share`): the share of the year's seats that found"
        " a resident who accepted.",
    ]
