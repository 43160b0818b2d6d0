"""The model's names, declared once: modes, result codes, quintiles, stages, parameter groups,
outcome columns (with label, unit and how to read them) and the colours that stand for them.

The bottom layer: this module imports nothing from the package and no third-party library,
so every other module (the parameter tree included) may read it. The report, the command
line, the teaching page and the generated docs take their words and colours from here.
"""

from __future__ import annotations

from dataclasses import dataclass

# ------------------------------------------------------------------------------ modes
MODES: tuple[str, ...] = ("individual", "group", "collective")
"""Coproduction modes (Bovaird et al. 2015), from least to most effort. A mode's code in the
state arrays (``Citizens.mode``, ``offered``) is its index here."""

N_MODES = len(MODES)

NO_MODE = -1
"""Value of ``Citizens.mode`` / ``offered`` for a citizen not taking part this month."""

# ------------------------------------------------------------------------------ levels
LEVELS: tuple[str, ...] = ("executor", "designer", "initiator")
"""Levels of involvement (Voorberg, Bekkers & Tummers 2015), from least to most control
shared with citizens. A level's code in the state arrays is its index here."""

NO_LEVEL = -1
"""Level of a citizen with no episode this month."""

# ------------------------------------------------------------------------------ result codes
# Values of ``Citizens.result``: what happened to the citizen this month.
RESULT_NONE = 0  # made no offer
RESULT_SUCCESS = 1  # offer accepted, episode succeeded
RESULT_FAILURE = 2  # offer accepted, episode failed
RESULT_REJECTED = 3  # offer turned away by the administration

RESULTS: dict[int, str] = {
    RESULT_NONE: "no offer",
    RESULT_SUCCESS: "success",
    RESULT_FAILURE: "failure",
    RESULT_REJECTED: "rejected",
}
"""Each result code with its name."""

# ------------------------------------------------------------------------------ quintiles
N_QUINTILES = 5
"""Citizens are split into fifths by socio-economic status (SES); quintile 0 is the poorest."""

QUINTILE_COLUMNS: tuple[str, ...] = tuple(f"participation_q{q}" for q in range(1, N_QUINTILES + 1))
"""Outcome columns of participation over the past year, one per SES quintile, poorest first."""

QUINTILE_LABELS: tuple[str, ...] = ("Q1 (poorest)", "Q2", "Q3", "Q4", "Q5 (richest)")
"""Short labels of the quintiles, for tables and figures."""

QUINTILE_WORDS: tuple[str, ...] = (
    "poorest fifth", "2nd fifth", "middle fifth", "4th fifth", "richest fifth")
"""The quintiles in plain words, for the teaching page."""

# ------------------------------------------------------------------------------ stages
STAGES: dict[str, str] = {
    "outreach": "whom administrations invite: invitation probability per citizen, (n,)",
    "participation": "each citizen's probability of offering to take part in each mode, (n, 3)",
    "screening": "administrations accept offers (probability) and rank them for capacity",
    "outcome": "the chance that an accepted episode succeeds, (n,)",
    "efficacy_feedback": "new self-efficacy and trust after the month's outcomes",
    "admin_learning": "administrations' new risk aversion after the month's outcomes, (A,)",
    "service_quality": "new local service quality per neighbourhood, (K,)",
}
"""The stages of a month, in order, with what their rules return."""

# ------------------------------------------------------------------------------ parameter groups
PARAMETER_GROUPS: dict[str, str] = {
    "population": "The synthetic town: neighbourhoods on an advantage gradient and who lives there.",
    "network": "Social ties: small worlds inside neighbourhoods, a few bridges between them.",
    "town": "A town from a table of real neighbourhoods instead of the synthetic gradient (your-town.md).",
    "citizens": "How citizens decide to take part, how episodes succeed, and how experience feeds back.",
    "administration": "Administrations' screening, capacity, learning, and local service quality.",
    "policy": "Levers a scenario sweeps: outreach, task design, budget, transfers, information, organisers.",
    "levels": "Levels of involvement (executor, designer, initiator) and co-design seats.",
    "simulation": "How a run is driven.",
    "rules": "Which rule runs each stage of a month: a built-in name or `package.module:function`.",
}
"""The core groups of the parameter tree, in order (world, behaviour, policy, run). Rules may
declare groups of their own beside these."""

TOWN_GROUPS: tuple[str, ...] = ("population", "network", "town")
"""Groups that shape the town itself rather than behaviour."""


# ------------------------------------------------------------------------------ outcome columns
@dataclass(frozen=True)
class Outcome:
    """One recorded outcome column: its short label, unit, how to read it, and a description.

    ``unit`` is one of "share" (a proportion, shown in %), "ratio", "index", "correlation",
    "score" (on [0, 1]) or "months"; ``neutral`` is the value meaning "no bias", if any.
    """

    name: str
    label: str
    unit: str
    reads: str
    description: str
    neutral: float | None = None


def _outcomes(*items: Outcome) -> dict[str, Outcome]:
    return {o.name: o for o in items}


OUTCOMES: dict[str, Outcome] = _outcomes(
    Outcome("step", "month", "months", "months completed", "months completed"),
    Outcome("participation", "active this month", "share", "share of citizens",
            "share of citizens active this month (accepted episode, any mode)"),
    *[Outcome(f"participation_{m}", f"active this month, {m} mode", "share", "share of citizens",
              f"share of citizens active this month in {m} mode") for m in MODES],
    Outcome("participation_year", "participation (active in the past year)", "share",
            "share of citizens",
            "share of citizens active at least once in the past year (participants)"),
    *[Outcome(f"participation_year_{m}", f"participation, {m} mode", "share",
              "share of citizens; a citizen active in several modes counts in each",
              f"share of citizens active in {m} mode in the past year") for m in MODES],
    *[Outcome(col, f"participation, SES quintile {q}", "share", "share of the quintile's citizens",
              f"participation over the past year in SES quintile {q} (1 poorest)")
      for q, col in enumerate(QUINTILE_COLUMNS, 1)],
    Outcome("repeat_share", "repeat participants", "share", "of the year's participants",
            "share of the year's participants active in two months or more (regulars)"),
    Outcome("offer_rate", "offering this month", "share", "share of citizens",
            "share of citizens offering to take part this month"),
    Outcome("rejection_rate", "offers turned away", "share", "of this month's offers",
            "share of this month's offers turned away"),
    Outcome("success_rate", "success rate of episodes", "share", "of this month's episodes",
            "share of this month's episodes that succeeded"),
    Outcome("top_bottom_ratio", "top/bottom SES quintile ratio", "ratio", "1 = no bias",
            "participation of the richest SES quintile over the poorest (past year)", 1.0),
    Outcome("top_bottom_ratio_individual", "top/bottom ratio, individual mode", "ratio",
            "1 = no bias", "top/bottom quintile ratio for individual mode (past year)", 1.0),
    Outcome("top_bottom_ratio_organised", "top/bottom ratio, group and collective modes", "ratio",
            "1 = no bias",
            "top/bottom quintile ratio for group and collective modes (past year)", 1.0),
    Outcome("concentration_index", "concentration index over SES rank", "index",
            "0 = equal, >0 favours the advantaged",
            "concentration index of participation over SES rank (past year)", 0.0),
    Outcome("advantage_correlation", "neighbourhood advantage vs participation", "correlation",
            "correlation across neighbourhoods, 0 = none",
            "correlation of neighbourhood advantage with participation (past year)", 0.0),
    Outcome("advantaged_output_share", "output reaching the advantaged half", "share",
            "50% = even",
            "share of this month's coproduced output reaching the advantaged half", 0.5),
    Outcome("efficacy_mean", "self-efficacy, everyone", "score", "0-1", "mean self-efficacy"),
    Outcome("efficacy_participants", "self-efficacy, participants", "score", "0-1",
            "mean self-efficacy of the year's participants"),
    Outcome("efficacy_participants_baseline", "participants' starting self-efficacy", "score",
            "0-1", "mean baseline (starting) self-efficacy of the year's participants"),
    Outcome("efficacy_non_participants", "self-efficacy, non-participants", "score", "0-1",
            "mean self-efficacy of everyone else"),
    Outcome("efficacy_gap", "self-efficacy gap", "score", "participants minus the rest, 0 = none",
            "efficacy of participants minus non-participants", 0.0),
    Outcome("trust_mean", "trust in the administration", "score", "0-1",
            "mean trust in the administration"),
    Outcome("risk_aversion_mean", "administration risk aversion", "score", "0-1",
            "mean risk aversion of administrations"),
    Outcome("service_quality_mean", "local service quality", "score", "0-1",
            "resident-weighted mean local service quality"),
    Outcome("service_quality_gini", "inequality of service quality (Gini)", "index",
            "0 = equal across residents", "Gini of local service quality across residents", 0.0),
    *[Outcome(f"participation_year_{lv}", f"participation, {lv} level", "share",
              "share of citizens; a citizen active at several levels counts in each",
              f"share of citizens active at the {lv} level in the past year") for lv in LEVELS],
    *[Outcome(f"top_bottom_ratio_{lv}", f"top/bottom ratio, {lv} level", "ratio", "1 = no bias",
              f"top/bottom SES quintile ratio of participation at the {lv} level (past year)", 1.0)
      for lv in LEVELS],
    *[Outcome(f"concentration_index_{lv}", f"concentration index, {lv} level", "index",
              "0 = equal, >0 favours the advantaged",
              f"concentration index over SES rank of participation at the {lv} level (past year)",
              0.0) for lv in LEVELS],
    *[Outcome(f"advantage_correlation_{lv}", f"neighbourhood advantage vs participation, {lv} level",
              "correlation", "correlation across neighbourhoods, 0 = none",
              f"correlation of neighbourhood advantage with participation at the {lv} level"
              " (past year)", 0.0) for lv in LEVELS],
    *[Outcome(f"advantaged_output_share_{lv}", f"output reaching the advantaged half, {lv} level",
              "share", "50% = even",
              f"share of this month's coproduced output from {lv} episodes reaching the advantaged"
              " half of residents", 0.5) for lv in LEVELS],
    *[Outcome(f"participation_year_{m}_{lv}", f"participation, {m} mode, {lv} level", "share",
              "share of citizens",
              f"share of citizens active in {m} mode at the {lv} level in the past year")
      for m in MODES for lv in LEVELS],
    *[Outcome(f"top_bottom_ratio_{m}_{lv}", f"top/bottom ratio, {m} mode, {lv} level", "ratio",
              "1 = no bias",
              f"top/bottom SES quintile ratio in {m} mode at the {lv} level (past year)", 1.0)
      for m in MODES for lv in LEVELS],
    *[Outcome(f"concentration_index_{m}_{lv}", f"concentration index, {m} mode, {lv} level",
              "index", "0 = equal, >0 favours the advantaged",
              f"concentration index over SES rank of participation in {m} mode at the {lv} level"
              " (past year)", 0.0) for m in MODES for lv in LEVELS],
    Outcome("high_level_share", "designer and initiator episodes", "share",
            "of this month's episodes",
            "share of this month's episodes at the designer or initiator level"),
    Outcome("advantaged_high_level_share", "designer and initiator episodes of the advantaged half",
            "share", "50% = even",
            "share of this month's designer and initiator episodes taken by the advantaged half"
            " (SES rank >= 1/2)", 0.5),
    *[Outcome(f"seat_share_q{q}", f"co-design seats held, SES quintile {q}", "share",
              "of the past year's seats, 20% = even",
              f"share of the past year's co-design seats held by SES quintile {q} (1 poorest)", 0.2)
      for q in range(1, N_QUINTILES + 1)],
    *[Outcome(f"seat_acceptance_q{q}", f"co-design seats accepted, SES quintile {q}", "share",
              "of those asked",
              f"share of SES quintile {q}'s residents asked for a co-design seat in the past year"
              " who accepted") for q in range(1, N_QUINTILES + 1)],
    Outcome("seats_filled_share", "co-design seats filled", "share", "of the seats opened",
            "share of the past year's co-design seats that found a resident who accepted (the rest"
            " stayed empty)"),
)
"""Every time-series column a run records, in order, with its words."""

RENAMED_OUTCOMES: dict[str, str] = {"top_bottom_ratio_collective": "top_bottom_ratio_organised"}
"""Former outcome names and their names now: a sweep folder written before a rename is read
under the new name (report, resume). A former name is never given to another outcome."""

# ------------------------------------------------------------------------------ colours
QUINTILE_COLOURS: tuple[str, ...] = ("#b2182b", "#ef8a62", "#bdbdbd", "#67a9cf", "#2166ac")
"""One colour per SES quintile, poorest (red) to richest (blue): a diverging palette that
reads in grey and for the common colour-vision deficiencies (ColorBrewer RdBu)."""

MODE_COLOURS: tuple[str, ...] = ("#2171b5", "#e6550d", "#a50f15")
"""One colour per mode: individual, group, collective."""

LEVEL_COLOURS: tuple[str, ...] = ("#dfc27d", "#a6611a", "#543005")
"""One colour per level of involvement, executor to initiator: darker as citizens share more
control (ColorBrewer BrBG browns, apart from the modes' and the participants' colours)."""

PARTICIPANT_COLOUR = "#1b7837"
NON_PARTICIPANT_COLOUR = "#762a83"
BASELINE_COLOUR = "#636363"
BIAS_COLOUR = QUINTILE_COLOURS[0]
"""A bias measure is drawn in the colour of the poorest quintile, the citizens it leaves out."""

POLICY_COLOURS: tuple[str, ...] = (
    "#1f77b4", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
    "#17becf", "#bcbd22")
"""Colours of policies other than the baseline, in the order the scenario lists them."""

ADMIN_COLOURS: tuple[str, ...] = (
    "#6a3d9a", "#b8860b", "#e7298a", "#1b9e77", "#666666", "#8c564b")
"""Colours of administrations on the teaching page's map (cycled beyond six)."""
