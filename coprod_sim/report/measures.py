"""The measures a report states: label, how to read it, its range and its statistical scale.

Labels, descriptions and neutral values come from the outcome columns' one declaration
(:data:`coprod_sim.names.OUTCOMES`); the report adds, for its glossary, a fuller reading of
each measure and the scale its intervals are taken on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from coprod_sim.names import LEVELS, MODES, N_QUINTILES, OUTCOMES, QUINTILE_COLUMNS
from coprod_sim.stats import Scale

PARTICIPATION = "participation_year"


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
        return OUTCOMES[self.column].description if self.column in OUTCOMES else self.label

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
        if signed:
            return _signed(v * self.factor, self.digits)
        return f"{self.shown(v):.{self.digits}f}" + ("%" if self.percent else "")

    @property
    def unit_of_difference(self) -> str:
        return " points" if self.percent else ""


def _signed(x: float, digits: int) -> str:
    """A difference or an interval's end with its sign; one that is not zero never reads as zero.

    "+0.0" for -0.03 points would put an interval's end on the wrong side of zero (whether an
    interval excludes zero is what 'distinguishable from noise' means): up to three more
    decimals are shown, and beyond them the sign is kept ("-0.0000"). Zero itself is "+0.0".
    """
    if x == 0:
        return f"{0.0:+.{digits}f}"
    more = digits
    while round(x, more) == 0 and more < digits + 3:
        more += 1
    return f"{x:+.{more}f}"


def _measure(column: str, reads: str, kind: str, scale: Scale, bounds: tuple[float, float]) -> Measure:
    """A measure labelled as declared in coprod_sim.names, with the report's fuller reading."""
    o = OUTCOMES[column]
    return Measure(column, o.label, reads, kind, scale, bounds, o.neutral)


def _share(column: str, reads: str) -> Measure:
    return _measure(column, reads, "share", "mean", (0.0, 1.0))


PARTICIPATION_M = _share(PARTICIPATION, "share of citizens active at least once in"
                         " the past 12 months (any mode); higher = more citizens take part")
TOP_BOTTOM = _measure("top_bottom_ratio",
                      "participation of the richest fifth (by socio-economic status) divided by that of"
                     " the poorest fifth; 1 = no bias, above 1 = the richest take part more often",
                      "ratio", "ratio", (0.0, math.inf))
CONCENTRATION = _measure("concentration_index",
                         "how much participation concentrates among citizens of higher socio-economic"
                        " rank, from -1 to 1; 0 = equal, above 0 favours the advantaged",
                         "index", "mean", (-1.0, 1.0))
AREA = _measure("advantage_correlation",
                "correlation, across neighbourhoods, between a neighbourhood's advantage and its"
               " participation, from -1 to 1; 0 = none, above 0 = advantaged areas take part more",
                "index", "correlation", (-1.0, 1.0))
OUTPUT = _share("advantaged_output_share", "share of the coproduced output (the public service"
                " citizens help produce: repairs,"
                " care, clean-ups) that goes to the more advantaged half of the neighbourhoods;"
                " 50% = even")
SUCCESS = _share("success_rate", "share of the month's collaborations (accepted"
                 " episodes) that succeeded")

MEASURES: tuple[Measure, ...] = (PARTICIPATION_M, TOP_BOTTOM, CONCENTRATION, AREA, OUTPUT)
BIAS = MEASURES[1:]
QUINTILES = tuple(_share(c, "share of the quintile's citizens active in the past year")
                  for c in QUINTILE_COLUMNS)
MODE_MEASURES = tuple(_share(f"participation_year_{m}", f"share of citizens active in {m} mode in the"
                             " past year") for m in MODES)
MODE_RATIOS = tuple(_measure(c, "top/bottom ratio of participation " + w + "; 1 = no bias", "ratio",
                             "ratio", (0.0, math.inf))
                    for c, w in (("top_bottom_ratio_individual", "in individual mode"),
                                 ("top_bottom_ratio_organised", "in group and collective modes")))

# ------------------------------------------------------------------ levels of involvement
LEVEL_PARTICIPATION = tuple(_share(f"participation_year_{lv}", f"share of citizens active at the {lv}"
                                   " level in the past year") for lv in LEVELS)
LEVEL_RATIO = tuple(_measure(f"top_bottom_ratio_{lv}", f"the top/bottom ratio among {lv}s", "ratio",
                             "ratio", (0.0, math.inf)) for lv in LEVELS)
LEVEL_CONCENTRATION = tuple(_measure(f"concentration_index_{lv}", f"the concentration index among"
                                     f" {lv}s", "index", "mean", (-1.0, 1.0)) for lv in LEVELS)
LEVEL_AREA = tuple(_measure(f"advantage_correlation_{lv}", "the correlation, across neighbourhoods, of"
                            f" advantage with participation at the {lv} level", "index", "correlation",
                            (-1.0, 1.0)) for lv in LEVELS)
LEVEL_OUTPUT = tuple(_share(f"advantaged_output_share_{lv}", f"share of the output of {lv} episodes that"
                            " goes to the more advantaged half of the neighbourhoods' residents; 50% = even")
                     for lv in LEVELS)
MODE_LEVEL_PARTICIPATION = tuple(_share(f"participation_year_{m}_{lv}", f"share of citizens active in {m}"
                                        f" mode at the {lv} level") for m in MODES for lv in LEVELS)
MODE_LEVEL_RATIO = tuple(_measure(f"top_bottom_ratio_{m}_{lv}", f"the top/bottom ratio in {m} mode at"
                                  f" the {lv} level", "ratio", "ratio", (0.0, math.inf))
                         for m in MODES for lv in LEVELS)
MODE_LEVEL_CONCENTRATION = tuple(_measure(f"concentration_index_{m}_{lv}", f"the concentration index in {m}"
                                          f" mode at the {lv} level", "index", "mean", (-1.0, 1.0))
                                 for m in MODES for lv in LEVELS)
HIGH_LEVEL = _share("high_level_share", "share of the month's episodes (accepted collaborations) in which"
                    " citizens design the service or initiate it rather than carry it out; higher ="
                    " more control shared with citizens")
ADVANTAGED_HIGH = _share("advantaged_high_level_share", "share of the month's designer and initiator"
                         " episodes taken by the advantaged half of the citizens (socio-economic rank at"
                         " or above the median); 50% = even, above = the advantaged take more of them")
SEAT_SHARES = tuple(_share(f"seat_share_q{q}", "share of the past year's co-design seats held by this"
                           " fifth; 20% each = a cross section") for q in range(1, N_QUINTILES + 1))
SEAT_ACCEPTANCE = tuple(_share(f"seat_acceptance_q{q}", "share of this fifth's residents asked for a"
                               " co-design seat in the past year who accepted; the rest declined")
                        for q in range(1, N_QUINTILES + 1))
SEATS_FILLED = _share("seats_filled_share", "share of the past year's co-design seats that found a"
                      " resident who accepted; the rest stayed empty")
LEVEL_MEASURES = (HIGH_LEVEL, ADVANTAGED_HIGH, *LEVEL_PARTICIPATION, *LEVEL_RATIO, *LEVEL_CONCENTRATION,
                  *LEVEL_AREA, *LEVEL_OUTPUT, *MODE_LEVEL_PARTICIPATION, *MODE_LEVEL_RATIO,
                  *MODE_LEVEL_CONCENTRATION, *SEAT_SHARES, *SEAT_ACCEPTANCE, SEATS_FILLED)
"""Outcomes by level of involvement (Voorberg, Bekkers & Tummers 2015) and of co-design seats."""
LEVEL_POINT_MEASURES = (HIGH_LEVEL, ADVANTAGED_HIGH, *LEVEL_PARTICIPATION, *LEVEL_RATIO,
                        *LEVEL_CONCENTRATION, *LEVEL_AREA, *LEVEL_OUTPUT, *MODE_MEASURES, *MODE_RATIOS)
"""What a design point states by level and by mode (point table, main effects)."""

FAMILIES = frozenset((*MODE_RATIOS, *LEVEL_MEASURES[2:]))
"""Measures the glossary explains as a family (by level, mode x level, quintile of seats)."""

EVERY = (*MEASURES, SUCCESS, *QUINTILES, *MODE_MEASURES, *MODE_RATIOS, *LEVEL_MEASURES)
BY_COLUMN = {m.column: m for m in EVERY}


def column(m: Measure) -> str:
    """The runs table's column of a measure: each run's mean over its last quarter."""
    return f"{m.column}_last_quarter"
