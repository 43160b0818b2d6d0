"""report.md: the analyst's text, built only from the rows of effects.csv.

Each section is one small function returning lines. Numbers are formatted by the measure
(:meth:`Measure.fmt`); a difference is rounded from its raw value, never from two rounded levels.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from coprod_sim.names import QUINTILE_LABELS
from coprod_sim.params import ParameterError, spec
from coprod_sim.report import levels
from coprod_sim.report.designs import Answer
from coprod_sim.report.load import Sweep
from coprod_sim.report.measures import (
    BIAS,
    BY_COLUMN,
    CONCENTRATION,
    EVERY,
    FAMILIES,
    HIGH_LEVEL,
    MEASURES,
    MODE_MEASURES,
    PARTICIPATION_M,
    QUINTILES,
    SEAT_ACCEPTANCE,
    SEATS_FILLED,
    Measure,
    column,
)
from coprod_sim.report.said import withheld


class Rows:
    """effects.csv looked up by (scope, measure, policy[, design_point])."""

    def __init__(self, table: pd.DataFrame):
        self.table = table
        pol = table[table["scope"] == "policy"]
        self.policy = {(r.measure, r.policy): r._asdict() for r in pol.itertuples(index=False)}
        pts = table[table["scope"] == "point"]
        self.point = {(r.measure, r.policy, int(r.design_point)): r._asdict()
                      for r in pts.itertuples(index=False)}
        run = table[table["scope"] == "run"]
        self.fact = dict(zip(run["measure"], run["value"], strict=True))


def _n(count: float, word: str, plural: str | None = None) -> str:
    count = int(count)
    return f"{count:,} {word if count == 1 else plural or word + 's'}"


def ci_text(m: Measure, low: float, high: float, signed: bool = True) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no interval: one replication"
    return f"95% CI {m.fmt(low, signed)} to {m.fmt(high, signed)}"


def change_text(m: Measure, r: dict[str, Any]) -> str:
    """'+0.9 points (95% CI ...)', or 'no change' for an exact zero."""
    d = r["diff_value"]
    if (d == 0 and r["diff_ci_low"] == r["diff_ci_high"] == 0) or (d == 0 and not r["diff_n"] > 1):
        return "no change (the runs are identical)"
    return f"{m.fmt(d, True)}{m.unit_of_difference} ({ci_text(m, r['diff_ci_low'], r['diff_ci_high'])})"


def setting_words(key: str, value: Any) -> str:
    """A parameter value in words: 'no outreach' for none/0, else the value with its meaning."""
    what = key.split(".")[-1].replace("_", " ")
    if value in ("none", 0, 0.0, False):
        return f"no {what} (`{key}` = {value})"
    try:
        desc = spec(key).description
    except Exception:  # a rule's parameter not in the tree of this version
        desc = ""
    return f"`{key}` = {value}" + (f" ({desc[0].lower() + desc[1:]})" if desc else "")


def _default(key: str) -> Any:
    """The tree's default of ``key``; None for a custom rule's parameter, which joins the tree
    only when its rule is selected (the report never imports a rule's module)."""
    try:
        return spec(key).default
    except ParameterError:
        return None


def what_was_run(sw: Sweep, rows: Rows) -> list[str]:
    f, sc = rows.fact, sw.scenario
    lines = ["## What was run", "",
             f"- **Town**: {_n(f['citizens'], 'citizen')} in {_n(f['neighbourhoods'], 'neighbourhood')},"
             f" simulated for {_n(f['months'], 'month')}. Every outcome is a run's average over its last"
             f" {_n(f['months averaged (last quarter)'], 'month')} (the last quarter); a citizen counts as"
             f" a participant if active at least once in the past {f['year window (months)']:.0f} months.",
             f"- **Runs**: {_n(f['policies'], 'policy', 'policies')}"
             f" x {_n(f['design points'], 'design point')}"
             f" x {_n(f['replications'], 'replication')} = {_n(f['runs'], 'run')};"
             f" {_n(f['runs finished'], 'run')} finished"
             + (f", **{int(f['runs failed or missing'])} failed or missing** (see manifest.json)"
                if f["runs failed or missing"] else "") + "."]
    changed = sorted({k for p in sw.policies_declared for k in p.changes})
    base = sw.policy(sw.baseline) if any(p.name == sw.baseline for p in sw.policies_declared) else None
    if base is not None:
        values = {k: sc.get("base", {}).get(k, _default(k)) for k in changed if k not in base.changes}
        said = [setting_words(k, v) for k, v in values.items() if v is not None]  # None: unused
        lines.append(f"- **The baseline** ('{sw.baseline}'): {base.description or 'the base values'}"
                     + (f" That is: {'; '.join(said)}." if said else ""))
    for p in sw.policies_declared:
        if p.name != sw.baseline:
            ch = "; ".join(setting_words(k, v) for k, v in p.changes.items()) or "no parameter changed"
            lines.append(f"- **{p.name}**" + (f": {p.description}." if p.description else ":")
                         + f" It differs from the baseline in: {ch}.")
    if sw.levers:
        lines.append(f"- **Swept** ({sw.kind.replace('_', ' ')} design): "
                     + "; ".join(_lever_text(lv) for lv in sw.design.get("levers", [])) + ".")
    set_here = {k: v for k, v in sc.get("base", {}).items() if not k.startswith("simulation.")}
    if set_here:
        lines.append("- **Set by the scenario for every run**: "
                     + "; ".join(f"`{k}` = {v}" for k, v in set_here.items()) + ".")
    lines += ["", "Same seed, same draws: replication r of every policy and design point uses the same"
              " random numbers, so differences between policies are paired (common random numbers).", ""]
    return lines


def older_version_note(sw: Sweep) -> list[str]:
    """One note for a sweep made by an older coprod-sim: the measures it did not record."""
    mixed = [f"**Note**: this sweep mixes runs of several versions of coprod-sim's code"
             f" (--allow-code-change): the {_n(n, 'run')} of code `{code}` have no value of"
             f" {_n(len(gone), 'measure')} the other runs have, estimated from the other runs only: "
             + ", ".join(f"`{k}`" for k in gone) + "." for code, (n, gone) in sw.older_runs.items()]
    if not sw.not_recorded:
        return [*mixed, ""] if mixed else []
    codes = ", ".join(str(c) for c in sw.manifest.get("codes") or [sw.manifest.get("code", "?")])
    gone = sw.not_recorded
    text = (f"**Note**: this sweep was made by an older coprod-sim (code `{codes}`):"
            f" {_n(len(gone), 'measure')} it did not record " + ("is" if len(gone) == 1 else "are")
            + " left out (n/a in the tables and figures; `note` in effects.csv): "
            + ", ".join(f"`{k}`" for k in gone) + ".")
    if SEATS_FILLED.column in gone and sw.runs[column(SEAT_ACCEPTANCE[0])].notna().any():
        # the same change that added seats filled made acceptance a ratio of the year's sums
        text += (" Its acceptance of co-design seats (`seat_acceptance_q1` ... `q5`) is the older mean"
                 " of monthly ratios, which redrawing declined seats inflates.")
    return [text + " To have them, rerun the sweep with this version: coprod sweep FILE --out DIR"
            " --overwrite.", ""]


def _lever_text(lv: dict[str, Any]) -> str:
    if "values" in lv:
        return f"`{lv['key']}` at " + ", ".join(f"{v:g}" if isinstance(v, float | int) else str(v)
                                                for v in lv["values"])
    return f"`{lv['key']}` from {lv.get('low'):g} to {lv.get('high'):g}"


def policy_sentence(sw: Sweep, rows: Rows, pol: str) -> str:
    r = rows.policy.get((PARTICIPATION_M.column, pol))
    b = rows.policy.get((PARTICIPATION_M.column, sw.baseline))
    if r is None or b is None or not r.get("diff_n"):
        return (f"**{pol}**: no run of it finished beside the same run of the baseline, so it cannot"
                " be compared (see the failed runs in manifest.json).")
    m = PARTICIPATION_M
    d = r["diff_value"]
    if d == 0:
        text = [f"**{pol}**: it leaves participation unchanged at {m.fmt(b['value'])}: the paired"
                " difference from the baseline is exactly zero (no change)."]
    elif r["distinguishable"]:
        text = [f"**{pol}**: it {'raises' if d > 0 else 'lowers'} participation from {m.fmt(b['value'])}"
                f" to {m.fmt(r['value'])}, {change_text(m, r)}: distinguishable from noise."]
    else:  # a direction not told apart from noise is not stated
        text = [f"**{pol}**: no change in participation is distinguishable from noise:"
                f" {m.fmt(b['value'])} to {m.fmt(r['value'])}, {change_text(m, r)}."]
    for mm, what in ((CONCENTRATION, "between advantaged and disadvantaged citizens (concentration"
                      " index)"), (MEASURES[3], "between advantaged and disadvantaged areas (area"
                                   " correlation)")):
        rr, bb = rows.policy.get((mm.column, pol)), rows.policy.get((mm.column, sw.baseline))
        if rr is None or bb is None or not math.isfinite(rr.get("diff_value", math.nan)):
            continue
        if rr["diff_value"] == 0:
            text.append(f"No change in the gap {what}: {mm.fmt(bb['value'])} in both.")
            continue
        gap = (f"the gap {what} {'widens' if rr['diff_value'] > 0 else 'narrows'}"
               if rr["distinguishable"] else f"no change in the gap {what} is distinguishable from noise")
        text.append(f"{gap[0].upper()}{gap[1:]}: {mm.fmt(bb['value'])} to {mm.fmt(rr['value'])},"
                    f" {change_text(mm, rr)}.")
    return " ".join(text)


def headline(sw: Sweep, rows: Rows, pol: str) -> str:
    """One line for the terminal; '(noise)' follows the number it qualifies."""
    parts = []
    for m in (PARTICIPATION_M, CONCENTRATION, HIGH_LEVEL):
        r = rows.policy.get((m.column, pol))
        if r and r.get("diff_n") and r["diff_value"] == 0:
            parts.append(f"{m.label} no change (paired difference exactly zero)")
        elif r and r.get("diff_n"):
            noise = "" if r["distinguishable"] else ", not distinguishable from noise"
            parts.append(f"{m.label} {m.fmt(r['diff_value'], True)}{m.unit_of_difference}{noise}")
    return f"{pol}: " + ("; ".join(parts) if parts else "no comparison with the baseline (runs missing)")


def findings(sw: Sweep, rows: Rows, warnings: list[str]) -> list[str]:
    lines = ["## What each policy does", ""]
    missing = [p.name for p in sw.policies_declared if p.name not in sw.policies]
    lines += [f"- **{p}**: none of its runs finished (see manifest.json); it is left out." for p in missing]
    if sw.baseline not in sw.policies:
        lines.append("- The baseline has no finished run: no policy can be compared with it.")
    elif sw.others:
        lines += [f"- {policy_sentence(sw, rows, p)}" for p in sw.others]
    else:
        r = rows.policy[(PARTICIPATION_M.column, sw.baseline)]
        if sw.n_points > 1:
            lines.append("- No policy besides the baseline: this sweep asks what the swept parameters do"
                         " (below). Averaged over all design points, participation is"
                         f" {PARTICIPATION_M.fmt(r['value'])}"
                         f" ({ci_text(PARTICIPATION_M, r['ci_low'], r['ci_high'], False)}).")
        else:
            lines.append(f"- Only the baseline was run: participation is {PARTICIPATION_M.fmt(r['value'])}"
                         f" ({ci_text(PARTICIPATION_M, r['ci_low'], r['ci_high'], False)}).")
    if warnings:
        lines += ["", "**Warning**:", ""] + [f"- {w}" for w in warnings]
    return [*lines, ""]


def cell(m: Measure, r: dict[str, Any] | None, baseline: bool) -> str:
    if r is None or not math.isfinite(r.get("value", math.nan)):
        return withheld(r) or "n/a"
    text = m.fmt(r["value"])
    if math.isfinite(r["ci_low"]):
        text += f" [{m.fmt(r['ci_low'])}, {m.fmt(r['ci_high'])}]"
    if not baseline and math.isfinite(r.get("diff_value", math.nan)):
        star = "**" if r["distinguishable"] else ""
        d = "no change" if r["diff_value"] == 0 else f"{m.fmt(r['diff_value'], True)}"
        text += f"<br>{star}{d}{star} vs baseline"
    return text


def level_table(sw: Sweep, rows: Rows) -> list[str]:
    lines = ["## Participation and selection bias by policy", "",
             "Each cell: the mean [95% CI]; below it, the paired difference from the baseline (bold:"
             " distinguishable from noise). Averaged over all design points.", "",
             "| policy | " + " | ".join(m.label for m in MEASURES) + " |", "|---" * (len(MEASURES) + 1) + "|"]
    for pol in sw.policies:
        cells = [cell(m, rows.policy.get((m.column, pol)), pol == sw.baseline) for m in MEASURES]
        lines.append(f"| {pol} | " + " | ".join(cells) + " |")
    lines += ["", "![Levels by policy](figures/policy_levels.png)", ""]
    if sw.others and sw.baseline in sw.policies:
        lines += ["![Differences from the baseline](figures/policy_differences.png)", ""]
    return lines


def point_table(sw: Sweep, rows: Rows, figures: set[str]) -> list[str]:
    """Per design point: participation and the bias measures, each policy, with intervals."""
    if sw.n_points < 2:
        return []
    points = sw.runs.groupby("design_point")[[k for k in sw.levers if k in sw.runs]].first()
    if sw.kind in ("latin_hypercube", "sobol"):
        return ["## Each design point", "", f"{len(points)} sampled design points, each a draw of every"
                " swept parameter at once: the indices above answer which parameters matter. Each"
                " point's mean outcomes are in `effects.csv` (scope 'point').", ""]
    if len(points) > 60:
        return ["## Each design point", "", f"{len(points)} design points: see `effects.csv` (scope"
                " 'point') for each point's outcomes with intervals.", ""]
    shown = (PARTICIPATION_M, CONCENTRATION, BIAS[0])
    lines = ["## Each design point", "", "Mean [95% CI over replications]"
             + ("; for other policies, the paired difference from the baseline at the same point" if
                sw.others else "") + ".", ""]
    for pol in sw.policies:
        lines += [f"### {pol}", "", "| " + " | ".join(k.split(".")[-1] for k in points.columns) + " | "
                  + " | ".join(m.label for m in shown) + " |", "|---" * (len(points.columns) + len(shown))
                  + "|"]
        for dp, vals in points.iterrows():
            cells = [cell(m, rows.point.get((m.column, pol, int(dp))), pol == sw.baseline) for m in shown]
            lines.append("| " + " | ".join(f"{v:g}" if isinstance(v, float | int) else str(v)
                                           for v in vals) + " | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [f"![{name}](figures/{name}.png)" for name in sorted(figures) if name.startswith("heatmap")]
    if "point_differences" in figures:
        lines.append("![Point by point](figures/point_differences.png)")
    return [*lines, ""]


def design_section(sw: Sweep, answers: dict[str, Answer], figures: set[str]) -> list[str]:
    lines: list[str] = []
    titles = {"main": "Main effect of each swept parameter (highest value minus lowest, paired by"
                      " replication)",
              "interaction": "Interactions (does one parameter's effect depend on another's value?)",
              "prcc": "Which parameters matter (Latin hypercube: partial rank correlations)",
              "sobol": "Which parameters matter (Sobol' indices)"}
    for key, ans in answers.items():
        if ans.lines:
            lines += [f"## {titles[key]}", "", *ans.lines, ""]
    for name in ("response", "scatter"):
        if name in figures:
            lines += [f"![{name}](figures/{name}.png)", ""]
    lines += [f"![{n}](figures/{n}.png)" for n in sorted(figures) if n.startswith(("prcc", "sobol"))]
    return [*lines, ""] if lines else []


def quintile_and_mode_tables(sw: Sweep, rows: Rows) -> list[str]:
    m = PARTICIPATION_M
    lines = ["## Participation by socio-economic quintile", "",
             "| policy | " + " | ".join(QUINTILE_LABELS) + " |", "|---" * 6 + "|"]
    for pol in sw.policies:
        lines.append(f"| {pol} | " + " | ".join(cell(q, rows.policy.get((q.column, pol)), True)
                                                 for q in QUINTILES) + " |")
    lines += ["", "![Participation by quintile](figures/quintiles.png)", "",
              "## Participation by mode", "",
              "Share of citizens active in each mode in the past year: individual (low effort, alone),"
              " group, collective (highest effort). **The modes add up to more than the total**: a"
              " citizen active in two modes during the year counts once in the total and once in each"
              " of their modes.", "",
              "| policy | total | " + " | ".join(mm.label.split(", ")[1] for mm in MODE_MEASURES) + " |",
              "|---" * (len(MODE_MEASURES) + 2) + "|"]
    for pol in sw.policies:
        cells = [cell(mm, rows.policy.get((mm.column, pol)), True) for mm in (m, *MODE_MEASURES)]
        lines.append(f"| {pol} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def glossary(sw: Sweep) -> list[str]:
    lines = ["## How to read the measures", ""]
    for m in EVERY:
        if m in QUINTILES or m in MODE_MEASURES or m in FAMILIES:
            continue
        lines.append(f"- **{m.label}** (`{m.column}`): {m.reads}.")
    lines += levels.glossary()
    lines += ["- **participation by quintile / by mode**: the same share within one fifth of the"
              " citizens by socio-economic status, or within one mode of taking part.",
              "- **95% CI** (95% confidence interval): a range built so that, in 95% of repeated"
              " experiments, it would contain the true average for this kind of town; it comes from the"
              " spread over independent replications (Student t; on the"
              " log scale for the top/bottom ratio, whose average is then a geometric mean; on Fisher's"
              " z scale for the area correlation; shares and indices are kept within their range).",
              "- **distinguishable from noise**: the difference's 95% CI excludes 0. Differences are"
              " paired: the policy and the baseline are run on the same random draws, and each"
              " difference is rounded from its own raw value.", ""]
    if sw.kind == "latin_hypercube":
        lines.insert(-1, "- **PRCC** (partial rank correlation coefficient): from -1 to 1, how steadily an"
                     " outcome rises (above 0) or falls (below 0) with a parameter when the other swept"
                     " parameters are held fixed; 0 = no steady effect. Its 95% CI is Fisher's z interval.")
    if sw.kind == "sobol":
        lines.insert(-1, "- **Sobol' indices**: the share of an outcome's variance across the design due to"
                     " a parameter alone (first order) or with its interactions with the others (total),"
                     " from 0 to 1; a total well above the first order means the parameter acts through"
                     " interactions. Intervals: SALib's bootstrap, clipped to [0, 1].")
    if sw.kind in ("grid", "one_at_a_time"):
        lines.insert(-1, "- **main effect**: the outcome at a parameter's highest value minus at its lowest,"
                     " paired by replication; **interaction**: how much that effect changes between the"
                     " lowest and highest value of a second parameter (a difference of differences).")
    return lines


def trajectories(sw: Sweep, figures: set[str]) -> list[str]:
    if "trajectories" not in figures:
        return []
    return ["## Participation and self-efficacy over time", "",
            "Self-efficacy of the year's participants against everyone else: the virtuous cycle, and"
            " who it leaves out.", "", "![Trajectories](figures/trajectories.png)", ""]


def markdown(sw: Sweep, table: pd.DataFrame, answers: dict[str, Answer], warnings: list[str],
             figures: set[str]) -> str:
    rows = Rows(table)
    sc = sw.scenario
    lines = [f"# Sweep report: {sc.get('name', sw.folder.name)}", ""]
    if sc.get("description"):
        lines += [f"> {' '.join(str(sc['description']).split())}", ""]
    lines += [f"Scenario file `{sc.get('file', '?')}`; coprod-sim `{sw.manifest.get('version', '?')}`.", ""]
    lines += older_version_note(sw)
    lines += what_was_run(sw, rows)
    lines += findings(sw, rows, warnings)
    lines += design_section(sw, answers, figures)
    lines += level_table(sw, rows)
    lines += point_table(sw, rows, figures)
    lines += quintile_and_mode_tables(sw, rows)
    lines += levels.section(sw, table, figures)
    lines += trajectories(sw, figures)
    lines += glossary(sw)
    return "\n".join(lines)


FOOTER = ("Every number of this report is in `effects.csv` (its `scope` column says which part of the"
          " report it belongs to); every run is in `runs.parquet`.\n")


__all__ = ["BY_COLUMN", "headline", "markdown"]
