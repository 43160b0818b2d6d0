"""The parameter tree: the one place where every default, bound, unit and description lives.

Everything else reads it: the scenario loader, ``coprod run --set``, the sweep keys, the
browser page's sliders and the documentation. Keys are dotted paths ``group.name``.

A step is one month. Attributes such as self-efficacy, competence, resources, trust, risk
aversion and service quality are scores on [0, 1]; weights marked "logit" act on the
log-odds of a probability.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from coprod_sim.names import MODES

OUTREACH_POLICIES: tuple[str, ...] = ("none", "universal", "targeted_efficacy", "targeted_area")
TRANSFER_TARGETS: tuple[str, ...] = ("disadvantaged", "universal")
SEAT_SELECTIONS: tuple[str, ...] = ("open_call", "sortition")
ADVANTAGE_DIRECTIONS: tuple[str, ...] = ("higher_is_advantaged", "higher_is_deprived")
ADVANTAGE_SCALES: tuple[str, ...] = ("rank", "population_rank", "linear")


class ParameterError(ValueError):
    """A parameter key or value the tree does not allow. The message names key, value, allowed."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Param:
    """One declared parameter: its default, type, bounds, unit and a one-line description."""

    default: Any
    description: str
    unit: str = "-"
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    kind: type = field(default=type(None))
    slider: bool = False  # shown as a control in the browser page

    def __post_init__(self) -> None:
        if self.kind is type(None):
            object.__setattr__(self, "kind", type(self.default))

    def allowed(self) -> str:
        """Human-readable statement of the allowed values."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind is bool:
            return "true or false"
        if self.kind is str:
            return "a string"
        kind = "an integer" if self.kind is int else "a number"
        fmt = (lambda v: f"{int(v)}") if self.kind is int else (lambda v: f"{v:g}")
        lo = "-inf" if self.low is None else fmt(self.low)
        hi = "inf" if self.high is None else fmt(self.high)
        return f"{kind} in [{lo}, {hi}]"

    def coerce(self, key: str, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type, or raise ParameterError."""
        if isinstance(value, str) and self.kind is not str:
            value = _parse_text(value)
        if self.kind is bool:
            if isinstance(value, bool):
                return value
        elif self.kind is int:
            if isinstance(value, bool):
                pass
            elif isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
                return self._check_range(key, int(value))
        elif self.kind is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if not math.isfinite(value):
                    raise ParameterError(key, f"{key} = {value!r} is not allowed: {self.allowed()}.")
                return self._check_range(key, float(value))
        elif self.kind is str:
            if isinstance(value, str):
                if self.choices is not None and value not in self.choices:
                    close = difflib.get_close_matches(value, self.choices, n=1)
                    hint = f" Did you mean {close[0]!r}?" if close else ""
                    raise ParameterError(
                        key, f"{key} = {value!r} is not allowed: {self.allowed()}.{hint}"
                    )
                return value
        raise ParameterError(
            key, f"{key} = {value!r} has the wrong type: expected {self.allowed()}."
        )

    def _check_range(self, key: str, value: float) -> float:
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            unit = "" if self.unit == "-" else f" ({self.unit})"
            raise ParameterError(
                key, f"{key} = {value!r} is out of bounds: allowed {self.allowed()}{unit}."
            )
        return value


def _parse_text(text: str) -> Any:
    """Parse a command-line value as TOML would: true/false, integer, float, else string."""
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    for cast in (int, float):
        try:
            return cast(t)
        except ValueError:
            pass
    return t.strip("'\"")


def _p(default: Any, description: str, unit: str = "-", low=None, high=None, **kw) -> Param:
    return Param(default, description, unit, low, high, **kw)


# --------------------------------------------------------------------------------------
# The tree. Groups run from the world (population, network) to behaviour (citizens,
# administration) to what a policy maker controls (policy) and how a run is driven.
# --------------------------------------------------------------------------------------
TREE: dict[str, dict[str, Param]] = {
    "population": {
        "n_citizens": _p(1000, "Number of citizens in the town", "citizens", 10, 5_000_000),
        "n_neighbourhoods": _p(8, "Number of neighbourhoods, spread evenly on an advantage gradient", "neighbourhoods", 1, 10_000),
        "n_administrations": _p(2, "Number of administrations; neighbourhood k is served by administration k mod A", "administrations", 1, 100),
        "urban_share": _p(0.6, "Share of neighbourhoods that are urban (larger; urban residents differ only by citizens.urban_individual_effect)", "share", 0.0, 1.0),
        "urban_size_factor": _p(1.5, "Population of an urban neighbourhood relative to a rural one", "ratio", 0.1, 10.0),
        "ses_segregation": _p(0.6, "Correlation between a citizen's socio-economic status and their neighbourhood's advantage", "correlation", 0.0, 0.99),
        "efficacy_mean": _p(0.40, "Median self-efficacy of a citizen of average status", "score", 0.01, 0.99),
        "efficacy_spread": _p(1.28, "Spread of self-efficacy between citizens", "logit sd", 0.0, 5.0),
        "efficacy_ses_effect": _p(0.36, "How much higher self-efficacy is at the top of the status scale than at the bottom", "logit", 0.0, 10.0),
        "competence_mean": _p(0.45, "Median civic competence of a citizen of average status", "score", 0.01, 0.99),
        "competence_spread": _p(0.8, "Spread of civic competence between citizens", "logit sd", 0.0, 5.0),
        "competence_ses_effect": _p(1.6, "How much higher civic competence is at the top of the status scale than at the bottom", "logit", 0.0, 10.0),
        "resources_mean": _p(0.45, "Median spare time and resources of a citizen of average status", "score", 0.01, 0.99),
        "resources_spread": _p(0.8, "Spread of spare resources between citizens", "logit sd", 0.0, 5.0),
        "resources_ses_effect": _p(1.5, "How much more spare resources the top of the status scale has than the bottom", "logit", 0.0, 10.0),
        "trust_mean": _p(0.55, "Median trust in the administration", "score", 0.01, 0.99),
        "trust_spread": _p(0.6, "Spread of trust in the administration", "logit sd", 0.0, 5.0),
        "trust_ses_effect": _p(0.6, "How much more the top of the status scale trusts the administration", "logit", 0.0, 10.0),
        "age_mean": _p(46.0, "Mean adult age", "years", 18.0, 90.0),
        "age_spread": _p(17.0, "Standard deviation of adult age", "years", 0.0, 40.0),
        "female_share": _p(0.52, "Share of women among citizens", "share", 0.0, 1.0),
        "quality_mean": _p(0.5, "Starting local service quality of a neighbourhood of middle advantage (raise it to ask whether better services discourage coproduction, F10)", "score", 0.0, 1.0),
        "quality_advantage_effect": _p(0.3, "Starting gap in local service quality between the most and least advantaged neighbourhood", "score", 0.0, 1.0),
        # Digital access (internet use with basic skills), drawn once per citizen. Defaults give
        # ~15% without access overall, ~2% at 18-24 and ~60% at 75+, and a status gap like that
        # between former manual workers and managers (Legleye & Rolland 2019, Insee Premiere 1780;
        # Insee Premiere 1953, 2023).
        "digital_access_base": _p(2.0, "Log-odds of digital access (internet use with basic skills) at mean age and median status", "logit", -10.0, 10.0),
        "digital_access_age_effect": _p(-0.075, "Effect of each year of age above the mean on digital access (the old are offline more often)", "logit/year", -1.0, 1.0),
        "digital_access_ses_effect": _p(2.0, "How much more likely digital access is at the top of the status scale than at the bottom", "logit", 0.0, 10.0),
    },
    "network": {
        "mean_degree": _p(8.0, "Mean number of social ties per citizen", "ties", 0.0, 60.0),
        "degree_advantage_effect": _p(0.5, "Relative extra ties in the most advantaged neighbourhood versus the least (social capital)", "ratio", 0.0, 2.0),
        "rewiring": _p(0.25, "Share of local ties rewired at random within the neighbourhood (small-world; less clustering)", "share", 0.0, 1.0),
        "clustering_advantage_effect": _p(0.6, "How much less rewiring (so more clustering) the most advantaged neighbourhood has", "share", 0.0, 1.0),
        "bridging_share": _p(0.05, "Share of ties that bridge two neighbourhoods", "share", 0.0, 0.5),
        "homophily": _p(0.7, "Strength of status homophily: 0 ties ignore status, 1 ties join citizens of nearest status", "share", 0.0, 1.0),
    },
    # A town built from a table of real neighbourhoods (coprod_sim/town/table.py; docs/your-town.md).
    # Empty table: the synthetic town of the population group. Set once per scenario, never swept.
    "town": {
        "table": _p("", "Neighbourhood table (CSV, Parquet, GeoJSON or GeoPackage), relative to the scenario file; empty: the synthetic town", kind=str),
        "advantage": _p("advantage", "Column of the table holding the advantage measure (median income, a deprivation index, the share with a degree...)", kind=str),
        "advantage_direction": _p("higher_is_advantaged", "Whether a higher value of the advantage column means more advantaged or more deprived", choices=ADVANTAGE_DIRECTIONS),
        "advantage_scale": _p("rank", "How the advantage column maps to the model's advantage scale (0, 1): 'rank' evenly spaced ranks, 'population_rank' the population percentile, 'linear' min-max", choices=ADVANTAGE_SCALES),
        "scale": _p(1.0, "Share of each neighbourhood's population simulated (0.01: one citizen per 100 residents); sets population.n_citizens", "share", 1e-6, 1.0),
        "id_column": _p("id", "Column of the table holding each neighbourhood's unique identifier", kind=str),
        "name_column": _p("name", "Column holding each neighbourhood's name (optional: the identifier if absent)", kind=str),
        "population_column": _p("population", "Column holding each neighbourhood's population (residents)", kind=str),
        "urban_column": _p("urban", "Column holding an urban flag (1/0, true/false, yes/no, urban/rural); optional", kind=str),
        "density_column": _p("density", "Column holding the population density (residents per km2), used when there is no urban flag; optional", kind=str),
        "urban_density": _p(300.0, "Density from which a neighbourhood counts as urban (an urban cluster in the degree of urbanisation; Dijkstra & Poelman 2014)", "residents/km2", 0.0, 1e6),
        "administration_column": _p("administration", "Column naming the administration that serves each neighbourhood; optional", kind=str),
        "age_column": _p("age_mean", "Column holding the mean age of adult residents (years); optional", kind=str),
        "female_column": _p("female_share", "Column holding the share of women among adult residents; optional", kind=str),
        "adjacent_bridging": _p(0.7, "With geometry: share of bridging ties that join adjacent neighbourhoods (ties are likelier at short distance; Liben-Nowell et al. 2005); the rest join any two", "share", 0.0, 1.0),
    },
    "citizens": {
        "base_individual": _p(-5.08, "Baseline log-odds of coproducing individually in a month", "logit", -20.0, 10.0),
        "base_group": _p(-8.31, "Baseline log-odds of coproducing in a group in a month", "logit", -20.0, 10.0),
        "base_collective": _p(-8.66, "Baseline log-odds of coproducing collectively in a month", "logit", -20.0, 10.0),
        "efficacy_weight": _p(13.6, "Effect of self-efficacy on the propensity to take part (strongest predictor; Parrado et al. 2013)", "logit", 0.0, 20.0, slider=True),
        "competence_weight": _p(0.6, "Effect of civic competence on the propensity to take part", "logit", 0.0, 20.0),
        "peer_weight": _p(2.0, "Effect of the share of one's ties active last month (peer influence)", "logit", 0.0, 20.0),
        "recruitment_rate": _p(0.25, "Chance a month that an active tie asks one to take part (recruitment through people one knows; Verba, Schlozman & Brady 1995)", "share/tie/month", 0.0, 1.0),
        "recruitment_weight": _p(3.0, "Effect of being asked by someone one knows on the propensity to take part (twice an administration's invitation: personal requests are the more effective; Brady, Schlozman & Verba 1999)", "logit", 0.0, 20.0),
        "trust_weight": _p(0.5, "Effect of trust in the administration on the propensity to take part", "logit", 0.0, 20.0),
        "invitation_weight": _p(1.5, "Effect of being invited by outreach this month", "logit", 0.0, 20.0),
        "incentive_weight": _p(1.0, "Effect of staff incentives (a welcoming administration) on the propensity", "logit", 0.0, 20.0),
        "effort_weight": _p(2.6, "Cost of a mode's effort when spare resources are lacking", "logit", 0.0, 20.0),
        "quality_weight": _p(0.6, "Shortfall effect: lower propensity where local service quality is good (Parrado et al. 2013)", "logit", 0.0, 20.0),
        "age_individual_effect": _p(0.015, "Effect of each year of age above the mean on individual coproduction (older do more)", "logit/year", -1.0, 1.0),
        "age_collective_effect": _p(-0.005, "Effect of each year of age on group and collective coproduction (weakly negative)", "logit/year", -1.0, 1.0),
        "female_individual_effect": _p(0.4, "Effect of being a woman on individual coproduction (no effect in group or collective modes)", "logit", -5.0, 5.0),
        "urban_individual_effect": _p(0.15, "Urban-rural contrast in individual coproduction: half added for urban residents, half taken for rural ones (no effect in group or collective modes; Parrado et al. 2013)", "logit", -5.0, 5.0),
        "information_weight": _p(0.12, "Effect of a full-intensity information campaign (small: Andersen et al. 2020)", "logit", 0.0, 5.0),
        "feedback_strength": _p(1.0, "Multiplier of every self-efficacy feedback: 0 switches the virtuous cycle off", "x", 0.0, 3.0, slider=True),
        "mastery_gain": _p(0.35, "Share of the gap to full self-efficacy closed by a successful episode (mastery)", "share", 0.0, 1.0),
        "failure_loss": _p(0.15, "Share of self-efficacy lost after a failed episode", "share", 0.0, 1.0),
        "failure_buffering": _p(1.0, "How much strong self-efficacy buffers a failure: its loss is scaled by 1 - w + 2 w (1 - e), so that occasional failures matter little to those whose efficacy rests on repeated success (Bandura 1977)", "share", 0.0, 1.0),
        "rejection_loss": _p(0.06, "Share of self-efficacy lost after an offer is turned away", "share", 0.0, 1.0),
        "vicarious_gain": _p(0.05, "Gain in self-efficacy from seeing all one's ties succeed (vicarious learning)", "share", 0.0, 1.0),
        "efficacy_drift": _p(0.054, "Monthly pull of self-efficacy back toward the citizen's baseline", "share/month", 0.0, 1.0),
        "trust_gain": _p(0.05, "Share of the gap to full trust closed by a successful episode", "share", 0.0, 1.0),
        "trust_loss": _p(0.08, "Share of trust lost after a failure or a rejection", "share", 0.0, 1.0),
        "trust_drift": _p(0.02, "Monthly pull of trust back toward its starting value", "share/month", 0.0, 1.0),
        "success_base": _p(0.8, "Log-odds that an average episode succeeds", "logit", -10.0, 10.0),
        "success_competence_weight": _p(2.5, "Effect of civic competence on an episode's success", "logit", 0.0, 20.0),
        "success_collaboration_weight": _p(2.0, "Effect of the administration's collaboration quality (incentives minus risk aversion)", "logit", 0.0, 20.0),
        "success_coparticipant_weight": _p(2.0, "Effect of the share of one's ties taking part too, in group and collective modes", "logit", 0.0, 20.0),
        "difficulty_group": _p(0.5, "Extra difficulty of a group episode over an individual one", "logit", 0.0, 10.0),
        "difficulty_collective": _p(1.0, "Extra difficulty of a collective episode over an individual one", "logit", 0.0, 10.0),
    },
    "administration": {
        "risk_aversion": _p(0.5, "Mean initial risk aversion of administrations (scepticism of citizens' reliability)", "score", 0.0, 1.0, slider=True),
        "risk_aversion_spread": _p(0.2, "Difference in initial risk aversion between the most and least cautious administration", "score", 0.0, 1.0),
        "staff_incentives": _p(0.3, "Incentives staff have to work with citizens (targets, recognition, budget lines)", "score", 0.0, 1.0, slider=True),
        "capacity_individual": _p(138.0, "Individual collaborations an administration supports per month per 1,000 residents", "per 1000/month", 0.0, 1000.0),
        "capacity_group": _p(21.0, "Group collaborations supported per month per 1,000 residents", "per 1000/month", 0.0, 1000.0),
        "capacity_collective": _p(15.0, "Collective collaborations supported per month per 1,000 residents", "per 1000/month", 0.0, 1000.0),
        "screening_individual": _p(0.2, "How much of its risk aversion an administration applies to individual offers", "share", 0.0, 1.0),
        "screening_group": _p(0.6, "How much of its risk aversion an administration applies to group offers", "share", 0.0, 1.0),
        "screening_collective": _p(1.0, "How much of its risk aversion an administration applies to collective offers", "share", 0.0, 1.0),
        "incentive_screening_relief": _p(0.5, "Share of its risk aversion an administration sets aside in screening when staff incentives are full (calibration assumption: incentivised staff screen less)", "share", 0.0, 1.0),
        "reliability_ses_weight": _p(0.4, "Weight of status (versus competence) in how reliable a citizen looks to staff", "share", 0.0, 1.0),
        "learning_rate": _p(0.05, "Monthly pull of risk aversion toward the failure rate just observed", "share/month", 0.0, 1.0),
        "culture_anchor": _p(0.05, "Monthly pull of risk aversion back toward the administration's culture (its initial value)", "share/month", 0.0, 1.0),
        "risk_aversion_min": _p(0.02, "Lowest risk aversion learning can reach", "score", 0.0, 1.0),
        "risk_aversion_max": _p(0.98, "Highest risk aversion learning can reach", "score", 0.0, 1.0),
        "quality_rate": _p(0.1, "Monthly speed at which local service quality moves toward its new level", "share/month", 0.0, 1.0),
        "quality_gain": _p(2.0, "Quality gained per unit of coproduced output per resident", "score per output/resident", 0.0, 100.0),
        "output_individual": _p(1.0, "Coproduced output of a successful individual episode (the unit of output)", "output", 0.0, 100.0),
        "output_group": _p(2.0, "Coproduced output of a successful group episode: it serves more people than an individual one (Bovaird et al. 2015)", "output", 0.0, 100.0),
        "output_collective": _p(4.0, "Coproduced output of a successful collective episode: it serves the most people (Bovaird et al. 2015)", "output", 0.0, 100.0),
    },
    "policy": {
        "outreach": _p("none", "Who administrations invite to take part each month", choices=OUTREACH_POLICIES, slider=True),
        "outreach_rate": _p(0.03, "Invitations per month as a share of residents (the outreach budget)", "share/month", 0.0, 1.0, slider=True),
        "effort_individual": _p(0.15, "Effort an individual task asks (task design)", "score", 0.0, 1.0, slider=True),
        "effort_group": _p(0.45, "Effort a group task asks", "score", 0.0, 1.0, slider=True),
        "effort_collective": _p(0.75, "Effort a collective task asks", "score", 0.0, 1.0, slider=True),
        "capacity_scale": _p(1.0, "Budget multiplier on every administration's capacity (below 1: austerity)", "x", 0.0, 10.0),
        "resource_transfer": _p(0.0, "Spare resources given to each targeted citizen (time, skills, materials)", "score", 0.0, 1.0),
        "transfer_target": _p("disadvantaged", "Who receives the transfer; 'universal' spreads the same budget over everyone", choices=TRANSFER_TARGETS),
        "transfer_share": _p(0.2, "Share of citizens, lowest status first, targeted by a 'disadvantaged' transfer", "share", 0.01, 1.0),
        "information_campaign": _p(0.0, "Intensity of an information campaign about coproduction", "score", 0.0, 1.0),
        "community_organisers": _p(0.0, "Extra bridging ties per 1,000 citizens from community organisers, linking the least advantaged areas to others", "ties per 1000", 0.0, 1000.0),
        "codesign_openness": _p(0.0, "How much control administrations share: waives this share of the risk-averse screening of designer and initiator offers, and invites co-design", "share", 0.0, 1.0, slider=True),
        "initiative_support": _p(0.0, "Support for citizen initiatives (grants, facilitators): raises the appeal and the success of initiatives", "score", 0.0, 1.0, slider=True),
        "codesign_seats": _p(0.0, "Co-design seats (group mode, designer level) each administration fills per month", "per 1000/month", 0.0, 1000.0),
        "seat_selection": _p("open_call", "How co-design seats are filled: volunteers answering an open call, or residents drawn by stratified sortition", choices=SEAT_SELECTIONS),
        "seat_redraws": _p(5, "Sortition: how many times a declined seat is offered to another resident of the same stratum", "draws", 0, 100),
        "digital_share": _p(0.0, "Share of individual tasks that can be done online (reporting from a phone)", "share", 0.0, 1.0, slider=True),
        "digital_effort_saving": _p(0.5, "Share of an individual task's effort saved by doing it online", "share", 0.0, 1.0),
    },
    "levels": {
        "base_designer": _p(-3.0, "Log-odds of an offer at the designer level rather than the executor level, at average resources", "logit", -20.0, 10.0),
        "base_initiator": _p(-5.0, "Log-odds of an offer at the initiator level rather than the executor level, at average resources", "logit", -20.0, 10.0),
        "demand_designer": _p(2.0, "How much more the designer level asks of self-efficacy, civic skills and spare time (per unit of their summed index)", "logit", 0.0, 20.0),
        "demand_initiator": _p(3.5, "How much more the initiator level asks of self-efficacy, civic skills and spare time", "logit", 0.0, 20.0),
        "organising_weight": _p(2.0, "Initiator level: effect of the share of one's ties active last month (an initiative needs people to organise)", "logit", 0.0, 20.0),
        "openness_weight": _p(1.0, "Designer level: effect of an administration's openness to co-design on the appeal of designing", "logit", 0.0, 20.0),
        "support_weight": _p(1.0, "Initiator level: effect of full initiative support on the appeal and on the success log-odds of an initiative", "logit", 0.0, 20.0),
        "control_designer": _p(0.5, "How much of its risk aversion an administration applies to sharing design control", "share", 0.0, 1.0),
        "control_initiator": _p(0.8, "How much of its risk aversion an administration applies to backing a citizen initiative", "share", 0.0, 1.0),
        "difficulty_designer": _p(0.3, "Extra difficulty of a designer episode over an executor one", "logit", 0.0, 10.0),
        "difficulty_initiator": _p(0.6, "Extra difficulty of an initiator episode over an executor one", "logit", 0.0, 10.0),
        "gain_designer": _p(1.5, "Multiplier of the mastery gain of a successful designer episode", "x", 1.0, 5.0),
        "gain_initiator": _p(2.0, "Multiplier of the mastery gain of a successful initiator episode", "x", 1.0, 5.0),
        "output_designer": _p(1.5, "Multiplier of the coproduced output of a successful designer episode (design changes what the service is)", "x", 0.0, 10.0),
        "output_initiator": _p(2.0, "Multiplier of the coproduced output of a successful initiator episode", "x", 0.0, 10.0),
        "seat_acceptance_base": _p(-1.0, "Log-odds that a resident of average resources accepts a co-design seat offered to them", "logit", -20.0, 10.0),
    },
    "simulation": {
        "steps": _p(120, "Number of monthly steps in a run", "months", 1, 10_000),
        "seed": _p(0, "Root random seed of a run", "-", 0, 2**32 - 1),
        "year_window": _p(12, "Months over which a citizen counts as a participant", "months", 1, 16),
    },
    "rules": {
        "outreach": _p("outreach_by_policy", "Rule that decides whom administrations invite"),
        "participation": _p("logistic_choice", "Rule for each citizen's propensity to take part in each mode"),
        "screening": _p("risk_screening", "Rule by which administrations accept offers and rank them"),
        "outcome": _p("competence_collaboration", "Rule for the chance that an episode succeeds"),
        "efficacy_feedback": _p("mastery_vicarious", "Rule that updates self-efficacy and trust after each month"),
        "admin_learning": _p("anchored_learning", "Rule that updates administrations' risk aversion"),
        "service_quality": _p("coproduced_output", "Rule that updates local service quality"),
    },
    # The parameters of the built-in alternative rules (coprod_sim.rules.alternatives), declared
    # here so that the tree is whole on import; each rule names its group with @rule(params=...).
    "threshold": {
        "mean": Param(0.25, "Mean threshold of the threshold rule: share of one's ties that must be active"
                      " before one joins (Granovetter 1978)", "share", -1.0, 2.0),
        "spread": Param(0.1, "Spread (standard deviation) of thresholds between citizens in the threshold"
                        " rule; wide spread tips into a cascade (Granovetter 1978)", "share", 0.0, 2.0),
        "mode": Param("individual", "Mode in which citizens following the threshold rule take part",
                      choices=MODES),
    },
    "legitimacy": {
        "threshold": Param(0.1, "Net motive a citizen needs to act in the legitimacy rule (Epstein 2002:"
                           " 0.1)", "score", 0.0, 1.0),
        "deterrence": Param(2.3, "How fast the expected chance of being turned away rises with the"
                            " administration's risk aversion per active tie (Epstein's k = 2.3)", "-",
                            0.0, 20.0),
        "mode": Param("collective", "Mode in which citizens following the legitimacy rule take part",
                      choices=MODES),
    },
}

# A custom rule declares its parameters next to itself (@rule(..., params={...})); the rules
# registry adds them here with ``declare`` when the rule is selected, never on import, so that
# they are validated and documented like the tree's own.


def declare(group: str, params: Mapping[str, Param]) -> None:
    """Add the parameters of a selected custom rule to the tree (idempotent when identical)."""
    target = TREE.setdefault(group, {})
    for name, spec in params.items():
        if name in target and target[name] != spec:
            raise ValueError(f"parameter {group}.{name} is already declared differently")
        target[name] = spec


# The rules layer installs a hook here (this module must not import it) that finds the rule
# each ``rules.<stage>`` value names and declares its parameters. Selections are processed
# before any other key, so that parameters a custom rule declares are known when validated.
_RULE_HOOKS: list[Callable[[str, Any, bool, bool], None]] = []


def add_rule_hook(hook: Callable[[str, Any, bool, bool], None]) -> None:
    """Call ``hook(key, value, strict, trusted)`` for every ``rules.*`` value before validation."""
    if hook not in _RULE_HOOKS:
        _RULE_HOOKS.append(hook)


def select_rules(items: Mapping[str, Any] | Iterable[tuple[str, Any]], strict: bool = True,
                 trusted: bool = False) -> None:
    """Find the rules named by the ``rules.*`` keys among ``items`` (a list value: each one).

    Scenario loaders call this on a whole file before validating its other keys. With
    ``strict`` a rule that cannot be found raises its error (a ParameterError); without, it
    is left for the run to report. Only ``trusted`` values (typed on the command line) may
    name a module to import (``package.module:function``); values from files and from
    ``Parameters`` name registered rules only.
    """
    pairs = items.items() if isinstance(items, Mapping) else items
    for key, value in pairs:
        if isinstance(key, str) and key.startswith("rules."):
            for v in value if isinstance(value, (list, tuple)) else [value]:
                for hook in _RULE_HOOKS:
                    hook(key, v, strict, trusted)


def spec(key: str) -> Param:
    """The declaration of dotted ``key``; ParameterError with a suggestion if unknown."""
    group, _, name = key.partition(".")
    if group in TREE and name in TREE[group]:
        return TREE[group][name]
    close = difflib.get_close_matches(key, list(iter_keys()), n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    groups = ", ".join(TREE)
    raise ParameterError(
        key, f"Unknown parameter {key!r}.{hint} Keys are 'group.name' with group one of: {groups}."
    )


def iter_keys() -> Iterator[str]:
    for group, params in TREE.items():
        for name in params:
            yield f"{group}.{name}"


def defaults() -> dict[str, Any]:
    return {key: spec(key).default for key in iter_keys()}


class _Group:
    """Attribute access to one group's values: ``params.citizens.efficacy_weight``."""

    __slots__ = ("_group", "_values")

    def __init__(self, values: Mapping[str, Any], group: str):
        self._values = values
        self._group = group

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[f"{self._group}.{name}"]
        except KeyError:
            raise AttributeError(f"no parameter {self._group}.{name}") from None


class Parameters(Mapping[str, Any]):
    """An immutable, validated assignment of a value to every key of the tree.

    ``Parameters()`` gives the defaults; ``Parameters({"policy.outreach": "universal"})``
    or ``params.replace(...)`` give validated variants. Groups read as attributes.
    """

    def __init__(self, overrides: Mapping[str, Any] | None = None):
        select_rules(overrides or {})
        values = defaults()
        for key, value in (overrides or {}).items():
            values[key] = spec(key).coerce(key, value)
        _check_consistency(values)
        self._values = values

    def replace(self, overrides: Mapping[str, Any] | None = None, **kw: Any) -> Parameters:
        """A copy with some values changed (dotted keys, or ``group__name`` keywords)."""
        merged = {**self._values, **(overrides or {})}
        merged.update({k.replace("__", "."): v for k, v in kw.items()})
        return Parameters(merged)

    def changed(self) -> dict[str, Any]:
        """The values that differ from the defaults."""
        base = defaults()
        return {k: v for k, v in self._values.items() if base.get(k) != v}

    def __getattr__(self, group: str) -> _Group:
        if group.startswith("_") or group not in TREE:
            raise AttributeError(group)
        return _Group(self._values, group)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Parameters({self.changed()!r})"

    def __getstate__(self) -> dict[str, Any]:
        return self._values

    def __setstate__(self, state: dict[str, Any]) -> None:
        # In a worker process: find the selected rules and declare a custom rule's parameters
        # again (the sweep's task imports the modules of custom rules first); a rule that is
        # not found is reported by the run that uses it, not by unpickling.
        select_rules(state, strict=False)
        self._values = state


def _check_consistency(values: Mapping[str, Any]) -> None:
    """Constraints that tie two keys together."""
    lo, hi = values["administration.risk_aversion_min"], values["administration.risk_aversion_max"]
    if lo > hi:
        raise ParameterError(
            "administration.risk_aversion_min",
            f"administration.risk_aversion_min = {lo!r} is above administration.risk_aversion_max"
            f" = {hi!r}: the lower bound must not exceed the upper bound.",
        )


def parse_assignments(items: Iterable[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings (from ``--set``) into validated overrides."""
    pairs: list[tuple[str, str]] = []
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParameterError(
                item, f"--set {item!r} is not of the form dotted.key=value (e.g. policy.outreach=universal)."
            )
        pairs.append((key, value))
    # custom rules first (they may declare keys used by the others); typed by the user,
    # so a value may name the module of a rule to import (package.module:function)
    select_rules(pairs, trusted=True)
    return {key: spec(key).coerce(key, value) for key, value in pairs}


def describe() -> list[dict[str, Any]]:
    """Rows for documentation and help: key, default, unit, allowed, description."""
    rows = []
    for key in iter_keys():
        s = spec(key)
        rows.append(
            {
                "key": key,
                "default": s.default,
                "unit": s.unit,
                "allowed": s.allowed(),
                "description": s.description,
            }
        )
    return rows
