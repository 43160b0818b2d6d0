"""The facts of docs/facts.md: each one's scenario file, check, class and controls; the driver.

Scenario files are the one loader's (``scenarios/facts/F*.toml``; F12 uses
``scenarios/threshold_spread.toml``): the baseline policy is the default model, the other
policies are the arms a check compares. They never restate defaults, so a changed default
flows into every check.

A *control* re-runs a fact with one coefficient removed. For a fact classed emergent, the
fact must still hold without its most direct coefficient (otherwise it is not emergent);
for a fact classed input, it must fail without its coefficient (that is what input means).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from coprod_sim.scenario.loader import load_scenario
from coprod_sim.scenario.plan import Scenario
from coprod_sim.validation import levels, levers, survey
from coprod_sim.validation.conditions import Condition, Context
from coprod_sim.validation.runs import Settings, execute, plan

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
RESULTS = ROOT / "experiments" / "validation" / "results"

INPUT, CALIBRATED, EMERGENT = "input", "calibrated", "emergent"
TARGET, HELD_OUT, VERIFICATION = "calibration target", "held out", "verification"


@dataclass(frozen=True)
class Fact:
    id: str
    title: str
    scenario: str  # path under scenarios/
    check: Callable[[Context], tuple[list[Condition], dict[str, Any]]]
    klass: str  # input | calibrated | emergent (docs/facts.md)
    split: str  # calibration target | held out | verification
    expected: str
    citizens: bool = False  # needs the citizens' table of its runs
    requires_rule: str | None = None  # "stage:name" that must be registered
    # Control: the coefficient removed, and whether the fact should then still hold.
    control: Mapping[str, Any] = field(default_factory=dict)
    control_why: str = ""
    known_gap: str = ""  # why the current rules miss it (docs/facts.md); shown in the table of record

    def load(self) -> Scenario:
        return load_scenario(SCENARIOS / self.scenario)

    def available(self) -> bool:
        if self.requires_rule is None:
            return True
        from coprod_sim.rules.registry import available

        stage, _, name = self.requires_rule.partition(":")
        return name in available(stage)


FACTS: tuple[Fact, ...] = (
    Fact("F1", "individual coproduction far more common than organised", "facts/F01_mode_gulf.toml",
         survey.mode_gulf, CALIBRATED, TARGET,
         "share active in individual mode >= 3x the share in organised (group or collective) modes",
         citizens=True),
    Fact("F2", "self-efficacy the strongest predictor", "facts/F02_efficacy_strongest.toml",
         survey.efficacy_strongest, INPUT, VERIFICATION,
         "largest coefficient in a logit of past-year participation on standardised attributes",
         citizens=True, control={"citizens.efficacy_weight": 0.0},
         control_why="without the efficacy weight the fact must fail"),
    Fact("F3", "older people and women more in individual mode", "facts/F03_demography_by_mode.toml",
         survey.demography_by_mode, INPUT, VERIFICATION,
         "individual: age > 0, female > 0; organised: age < 0, female gap too small for a survey to detect",
         citizens=True, control={"citizens.female_individual_effect": 0.0},
         control_why="without the gender term the individual gender gap must vanish"),
    Fact("F4", "participation raises self-efficacy; failure lowers it", "facts/F04_virtuous_cycle.toml",
         survey.virtuous_cycle, INPUT, HELD_OUT,
         "participants' efficacy rises vs matched non-participants, failures' falls; feedback off"
         " lowers participation", citizens=True, control={"citizens.mastery_gain": 0.0},
         control_why="without mastery the cycle can only hurt"),
    Fact("F4b", "taking part does more for low-status participants", "facts/F04_virtuous_cycle.toml",
         survey.effect_by_status, EMERGENT, HELD_OUT,
         "effect of taking part on self-efficacy (matched within status fifth) larger in the poorest"
         " fifth than in the richest", citizens=True,
         known_gap="not reproduced. In the model taking part raises self-efficacy through success, and"
                   " the poorest fifth's participants succeed less often (0.57 against 0.69) and take"
                   " part in fewer months (2.7 against 6.9 a year). Two mechanisms with a published"
                   " basis were tried and do not reverse it even at strengths beyond any basis: a larger"
                   " gain from a first success (novelty), and support that raises newcomers' success"
                   " (facilitation); nor does the effect on later participation. Numbers and reasons:"
                   " docs/facts.md, F4b; docs/ODD.md, \"What this model cannot tell you\"."),
    Fact("F4c", "a stronger feedback does not lower participation", "facts/F04c_feedback_strength.toml",
         functools.partial(levers.monotone_in_lever, lever="citizens.feedback_strength",
                           outcome="participation_year"), INPUT, HELD_OUT,
         "past-year participation does not fall as the feedback strength rises 0 -> 0.5 -> 1 -> 2",
         control={"citizens.failure_buffering": 0.0},
         control_why="without the buffering of failures by one's record, doubling the feedback lowers"
                     " participation"),
    Fact("F5", "selection bias toward the advantaged", "facts/F05_selection_bias.toml",
         survey.selection_bias, EMERGENT, HELD_OUT,
         "top/bottom status quintile ratio well above 1; organised steeper than individual;"
         " corr(advantage, participation) > 0", citizens=True,
         control={"administration.reliability_ses_weight": 0.0},
         control_why="no status term in screening: the bias must remain"),
    Fact("F6", "risk-averse administrations: fewer, less fruitful collaborations",
         "facts/F06_risk_aversion.toml",
         functools.partial(levers.lever_direction, lever="administration.risk_aversion", direction=-1,
                           outcomes=("participation_year", "success_rate")), INPUT, VERIFICATION,
         "participation and success rate fall as administration risk aversion rises"),
    Fact("F7", "staff incentives make collaborations succeed", "facts/F07_staff_incentives.toml",
         functools.partial(levers.lever_direction, lever="administration.staff_incentives", direction=1,
                           outcomes=("participation_year", "success_rate")), INPUT, VERIFICATION,
         "participation and success rate rise with staff incentives"),
    Fact("F8", "information-only nudges have small effects", "facts/F08_information_nudge.toml",
         functools.partial(levers.relative_effect, outcome="participation_year", direction=1,
                           max_relative=0.10, label="full-intensity information campaign"),
         INPUT, VERIFICATION,
         "a full information campaign raises past-year participation by a few percent (0 < change <= 10%)",
         control={"citizens.information_weight": 0.0},
         control_why="without the information weight the effect is exactly zero"),
    Fact("F9", "resources to the disadvantaged narrow the gap", "facts/F09_targeted_transfer.toml",
         levers.targeted_transfer, INPUT, VERIFICATION,
         "targeted transfer lowers the status concentration index vs no policy and vs the same budget"
         " spent universally"),
    Fact("F10", "coproduction is partly shortfall-driven", "facts/F10_shortfall.toml",
         functools.partial(levers.relative_effect, outcome="participation_year", direction=-1,
                           max_relative=0.25, label="service quality +0.2 everywhere"),
         INPUT, VERIFICATION,
         "raising local service quality by 0.2 everywhere lowers past-year participation a little",
         control={"citizens.quality_weight": 0.0},
         control_why="without the shortfall term better services change nothing"),
    Fact("F11", "how many take part, and how regularly", "facts/F11_share_and_regulars.toml",
         survey.share_and_regulars, CALIBRATED, TARGET,
         "17% <= share active over a year <= 40%; most participants are repeat participants",
         citizens=True),
    Fact("F12", "threshold spread matters more than its mean", "threshold_spread.toml",
         functools.partial(levers.threshold_tipping, spread_key="threshold.spread", outcome="participation",
                           min_total_rise=0.5, max_width=0.06, tipping_window=(0.08, 0.16)),
         EMERGENT, HELD_OUT,
         "with the threshold rule, participation tips from near none to most over a narrow range of"
         " threshold spread, near 0.10-0.12", requires_rule="participation:granovetter_threshold"),
    Fact("F13", "the more demanding the level, the steeper its status gradient",
         "facts/F13_level_gradient.toml", levels.level_gradient, EMERGENT, HELD_OUT,
         "concentration index over SES rank: designer > executor and initiator > designer;"
         " top/bottom ratio: designer > executor",
         control={"levels.demand_designer": 0.0, "levels.demand_initiator": 0.0},
         control_why="the gradients remain, about half as steep, without the levels' demand on"
                     " resources: frequent participants, who are advantaged, reach every level more"
                     " often (validation of record, 20 x 3,000 citizens)"),
    Fact("F14", "urban residents do more individual coproduction, not more organised",
         "facts/F14_urban_by_mode.toml", levels.urban_by_mode, INPUT, VERIFICATION,
         "urban coefficient > 0 for individual; organised: too small for a survey to detect",
         citizens=True, control={"citizens.urban_individual_effect": 0.0},
         control_why="without the urban term the individual urban coefficient must vanish"),
    Fact("F15", "risk-averse administrations keep citizens in executor roles",
         "facts/F15_executor_shift.toml",
         functools.partial(levels.executor_shift, min_fall=0.02), INPUT, HELD_OUT,
         "share of designer and initiator episodes falls by more than 2 points as risk aversion"
         " rises from 0.2 to 0.8",
         control={"levels.control_designer": 0.0, "levels.control_initiator": 0.0},
         control_why="without the control screen the share rises with risk aversion (+1.8 points in"
                     " the validation of record): the shift is the screen's"),
    Fact("F16", "social capital: recruitment through ties", "facts/F16_social_capital.toml",
         levers.social_capital, INPUT, VERIFICATION,
         "equalising ties and clustering across neighbourhoods lowers the status concentration of"
         " participation (by > 0.01); 12 ties raise participation over 8",
         control={"citizens.recruitment_weight": 0.0},
         control_why="without recruitment through ties the network's shape must not matter this much"),
)
"""F12's thresholds are ours: "sharp" is 10% -> 90% of the rise within 0.06 of spread; the
tipping window is Granovetter's 0.10-0.12 widened by 0.02 for a finite, networked crowd."""

BY_ID = {f.id: f for f in FACTS}


@dataclass
class FactResult:
    id: str
    title: str
    klass: str
    split: str
    expected: str
    simulated: str
    passed: bool | None  # None: not run (e.g. its rule does not exist)
    details: dict[str, Any] = field(default_factory=dict)
    figure: Path | None = None
    known_gap: str = ""

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "FAIL", None: "skipped"}[self.passed]


def validate(settings: Settings, facts: Sequence[str] | None = None, out: Path | None = None,
             progress: Callable[[int, int], None] | None = None) -> list[FactResult]:
    """Run the experiments of ``facts`` (all by default) and check each; figures into ``out``."""
    if out is not None:
        import matplotlib

        matplotlib.use("Agg")
    chosen = [f for f in FACTS if facts is None or f.id in facts]
    scenarios = {f.id: f.load() for f in chosen if f.available()}
    tasks = [t for f in chosen if f.id in scenarios for t in plan(scenarios[f.id], settings, f.citizens)]
    results = execute(tasks, settings.workers, progress)
    rows = []
    for f in chosen:
        if f.id not in scenarios:
            rows.append(FactResult(f.id, f.title, f.klass, f.split, f.expected,
                                   f"not run: rule {f.requires_rule!r} is not registered", None))
            continue
        ctx = Context(f.id, scenarios[f.id], settings, results, out)
        conds, details = f.check(ctx)
        conditions = [{"label": c.label, "mean": c.estimate.mean, "low": c.estimate.low,
                       "high": c.estimate.high, "passed": c.passed, "rule": c.text} for c in conds]
        rows.append(FactResult(f.id, f.title, f.klass, f.split, f.expected,
                               "; ".join(c.line() for c in conds), all(c.passed for c in conds),
                               {"conditions": conditions, **details}, ctx.figure_path(), f.known_gap))
    return rows


@dataclass
class ControlResult:
    id: str
    klass: str
    removed: dict[str, Any]
    why: str
    holds: bool | None  # does the fact still hold without the coefficient?
    simulated: str

    @property
    def consistent(self) -> bool | None:
        """Emergent facts must still hold; input facts must not."""
        if self.holds is None:
            return None
        return self.holds if self.klass == EMERGENT else not self.holds


def controls(settings: Settings, facts: Sequence[str] | None = None,
             progress: Callable[[int, int], None] | None = None) -> list[ControlResult]:
    """Each fact that has a control, re-run without its coefficient."""
    out = []
    for f in FACTS:
        if not f.control or (facts is not None and f.id not in facts):
            continue
        s = replace(settings, base_overrides={**settings.base_overrides, **f.control})
        (row,) = validate(s, [f.id], None, progress)
        out.append(ControlResult(f.id, f.klass, dict(f.control), f.control_why, row.passed, row.simulated))
    return out
