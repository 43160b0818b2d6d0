"""The words of the report's levels and seats sections: each number from a row of effects.csv.

A level is said with its 95% interval, a difference with its interval and whether it is
distinguishable from noise; table cells hold the same numbers.
"""

from __future__ import annotations

import math
from typing import Any

from coprod_sim.report.effects import NOT_RECORDED
from coprod_sim.report.measures import Measure


class Said:
    """Rows of effects.csv by (scope, measure, policy) for the sentences of this section."""

    def __init__(self, table):
        self.at: dict[tuple[str, str, str], dict[str, Any]] = {}
        notes = table["note"] if "note" in table else None
        # measures an older coprod-sim did not record: said nowhere (the report's top note names them)
        self.not_recorded = set(table.loc[notes == NOT_RECORDED, "measure"]) if notes is not None else set()
        for r in table.to_dict("records"):
            if r["scope"] in ("policy", "level gap", "seats"):
                self.at[(r["scope"], r["measure"], r["policy"])] = r

    def get(self, scope: str, m: Measure, pol: str) -> dict[str, Any] | None:
        return self.at.get((scope, m.column, pol))

    def recorded(self, m: Measure) -> bool:
        return m.column not in self.not_recorded


def _ci(m: Measure, low: float, high: float, signed: bool) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no interval"
    return f"95% CI {m.fmt(low, signed)} to {m.fmt(high, signed)}"


def level_text(m: Measure, r: dict[str, Any] | None) -> str:
    """'12.3% (95% CI 11.0% to 13.6%)'."""
    if r is None or not math.isfinite(r.get("value", math.nan)):
        return withheld(r) or "n/a (no such episode)"
    return f"{m.fmt(r['value'])} ({_ci(m, r['ci_low'], r['ci_high'], False)})"


def diff_text(m: Measure, r: dict[str, Any] | None) -> str:
    """'+1.2 points (95% CI +0.4 to +2.0; distinguishable from noise)', from the raw difference."""
    if r is None or not math.isfinite(r.get("diff_value", math.nan)):
        return "cannot be compared (no such episode on one side)"
    d = r["diff_value"]
    if d == 0 and not (r["diff_ci_low"] < 0 < r["diff_ci_high"]):
        return "no change (the runs are identical)"
    verdict = "distinguishable from noise" if r["distinguishable"] else "not distinguishable from noise"
    return (
        f"{m.fmt(d, True)}{m.unit_of_difference} ({_ci(m, r['diff_ci_low'], r['diff_ci_high'], True)};"
        f" {verdict})"
    )


def withheld(r: dict[str, Any] | None) -> str | None:
    """'n/a in 8 of 10 replications' for a value undefined in half of them or more, else None."""
    shown = (r or {}).get("shown")
    return shown if isinstance(shown, str) else None


def cell(m: Measure, r: dict[str, Any] | None, diff: bool = False) -> str:
    if r is None or not math.isfinite(r.get("value", math.nan)):
        return withheld(r) or "n/a"
    text = m.fmt(r["value"])
    if math.isfinite(r.get("ci_low", math.nan)):
        text += f" [{m.fmt(r['ci_low'])}, {m.fmt(r['ci_high'])}]"
    if diff and math.isfinite(r.get("diff_value", math.nan)):
        star = "**" if r["distinguishable"] else ""
        d = "no change" if r["diff_value"] == 0 else m.fmt(r["diff_value"], True)
        text += f"<br>{star}{d}{star} vs baseline"
    return text


def md_table(header: list[str], body: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(out)
