"""The measures a report states: label, how to read it, its range and its statistical scale.

Descriptions come from the outcome columns' one declaration (``outcomes.record.DESCRIPTIONS``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from coprod_sim.outcomes.record import DESCRIPTIONS
from coprod_sim.params import MODES
from coprod_sim.stats import Scale

PARTICIPATION = "participation_year"
QUINTILE_LABELS = ["Q1 (poorest)", "Q2", "Q3", "Q4", "Q5 (richest)"]


@dataclass(frozen=True)
class Measure:
    column: str
    label: str
    reads: str  # how to read the value, in words
    kind: str  # "share" (shown in %), "ratio", "index"
    scale: Scale = "mean"
    bounds: tuple[float, float] | None = None
    neutral: float | None = None  # the value meaning "no bias"

    @property
    def description(self) -> str:
        return DESCRIPTIONS.get(self.column, self.label)

    @property
    def percent(self) -> bool:
        return self.kind == "share"

    @property
    def factor(self) -> float:
        """What a stored value is multiplied by to be shown (shares in percent)."""
        return 100.0 if self.percent else 1.0

    @property
    def digits(self) -> int:
        return 1 if self.percent else 2 if self.kind == "ratio" else 3

    def shown(self, v: float) -> float:
        """The value as printed, rounded (0.0 for a rounded zero, never -0.0)."""
        return round(v * self.factor, self.digits) + 0.0 if math.isfinite(v) else math.nan

    def fmt(self, v: float, signed: bool = False) -> str:
        if not math.isfinite(v):
            return "n/a"
        s = f"{self.shown(v):+.{self.digits}f}" if signed else f"{self.shown(v):.{self.digits}f}"
        return s + ("%" if self.percent and not signed else "")

    @property
    def unit_of_difference(self) -> str:
        return " points" if self.percent else ""


def _share(column: str, label: str, reads: str, neutral: float | None = None) -> Measure:
    return Measure(column, label, reads, "share", "mean", (0.0, 1.0), neutral)


PARTICIPATION_M = _share(PARTICIPATION, "participation", "share of citizens active at least once in"
                         " the past 12 months (any mode); higher = more citizens take part")
TOP_BOTTOM = Measure("top_bottom_ratio", "top/bottom quintile ratio",
                     "participation of the richest fifth (by socio-economic status) divided by that of"
                     " the poorest fifth; 1 = no bias, above 1 = the richest take part more often",
                     "ratio", "ratio", (0.0, math.inf), 1.0)
CONCENTRATION = Measure("concentration_index", "concentration index",
                        "how much participation concentrates among citizens of higher socio-economic"
                        " rank, from -1 to 1; 0 = equal, above 0 favours the advantaged",
                        "index", "mean", (-1.0, 1.0), 0.0)
AREA = Measure("advantage_correlation", "area correlation",
               "correlation, across neighbourhoods, between a neighbourhood's advantage and its"
               " participation, from -1 to 1; 0 = none, above 0 = advantaged areas take part more",
               "index", "correlation", (-1.0, 1.0), 0.0)
OUTPUT = _share("advantaged_output_share", "output to the advantaged half",
                "share of the coproduced output (the public service citizens help produce: repairs,"
                " care, clean-ups) that goes to the more advantaged half of the neighbourhoods;"
                " 50% = even", 0.5)
SUCCESS = _share("success_rate", "success rate", "share of the month's collaborations (accepted"
                 " episodes) that succeeded")

MEASURES: tuple[Measure, ...] = (PARTICIPATION_M, TOP_BOTTOM, CONCENTRATION, AREA, OUTPUT)
BIAS = MEASURES[1:]
QUINTILES = tuple(_share(f"participation_q{q}", f"participation, {lab}", "share of the quintile's"
                         " citizens active in the past year") for q, lab in enumerate(QUINTILE_LABELS, 1))
MODE_MEASURES = tuple(_share(f"participation_year_{m}", f"participation, {m} mode",
                             f"share of citizens active in {m} mode in the past year") for m in MODES)
EVERY = (*MEASURES, SUCCESS, *QUINTILES, *MODE_MEASURES)
BY_COLUMN = {m.column: m for m in EVERY}


def column(m: Measure) -> str:
    """The runs table's column of a measure: each run's mean over its last quarter."""
    return f"{m.column}_last_quarter"
