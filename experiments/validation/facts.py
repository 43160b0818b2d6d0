"""The validation experiments: one scenario file per fact of docs/facts.md, and the check it runs.

A scenario file (``scenarios/F*.toml``) names the fact, its source and expectation, the
check function below (``check = "..."``) with its ``[settings]``, and the arms to simulate.
An arm's keys with a dot are parameters of the tree (``"administration.risk_aversion" = 0.8``);
keys without one are interventions on the town (see experiments.harness.INTERVENTIONS); a
``[base]`` table holds parameters common to every arm. An empty arm is the default model.
Arms never restate defaults, so a changed default flows into every experiment.

Every arm's replication ``r`` runs on the same seed (paired comparisons). Each check turns
the replications into estimates with 95% t-intervals and asserts the fact's direction only
when the interval clears the threshold, so run-to-run noise cannot pass a fact.
"""

from __future__ import annotations

import math
import tomllib
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm

from coprod_sim.names import MODES
from coprod_sim.params import Parameters
from coprod_sim.rules.registry import available
from experiments.harness import (
    INTERVENTIONS,
    Estimate,
    Job,
    format_estimate,
    lookup,
    make_job,
    mean_ci,
    run_jobs,
)

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
RESULTS = HERE / "results"


# ------------------------------------------------------------------------------ settings
@dataclass(frozen=True)
class Settings:
    """How hard to look: replications per arm, town size, seed, workers."""

    replications: int = 20
    n_citizens: int = 3000
    root_seed: int = 20_260
    workers: int = 2
    # Applied to every arm as if the defaults were changed (to test that a broken default fails).
    base_overrides: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        extra = f", defaults changed: {dict(self.base_overrides)}" if self.base_overrides else ""
        steps = Parameters(dict(self.base_overrides)).simulation.steps
        return (f"{self.replications} paired replications per arm, {self.n_citizens:,} citizens, "
                f"{steps} months, root seed {self.root_seed}{extra}")


FULL = Settings()
"""The validation of record (README command)."""

REDUCED = Settings(replications=8, n_citizens=2000)
"""What CI runs: fewer replications, smaller towns, the same checks."""


# ------------------------------------------------------------------------------ scenarios
@dataclass(frozen=True)
class Arm:
    name: str
    overrides: Mapping[str, Any]
    interventions: Mapping[str, float]


@dataclass(frozen=True)
class Scenario:
    id: str
    fact: str
    source: str
    expected: str
    check: str
    settings: Mapping[str, Any]
    arms: Mapping[str, Arm]
    path: Path
    requires_rule: str | None = None  # "stage:name" that must be registered

    @property
    def number(self) -> int:
        return int(self.id.lstrip("F"))

    def available(self) -> bool:
        if self.requires_rule is None:
            return True
        stage, _, name = self.requires_rule.partition(":")
        return name in available(stage)


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the key."""


def load_scenario(path: Path) -> Scenario:
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    for key in ("id", "fact", "source", "expected", "check"):
        if key not in doc:
            raise ScenarioError(f"{path}: missing key {key!r}")
    if doc["check"] not in CHECKS:
        raise ScenarioError(f"{path}: check = {doc['check']!r} is not one of {', '.join(CHECKS)}")
    base = doc.get("base", {})
    if any("." not in k for k in base):
        raise ScenarioError(f"{path}: [base] holds dotted parameter keys only")
    arms = {}
    for name, table in doc.get("arms", {"default": {}}).items():
        overrides = {**base, **{k: v for k, v in table.items() if "." in k}}
        interventions = {k: v for k, v in table.items() if "." not in k}
        for k in interventions:
            if k not in INTERVENTIONS:
                raise ScenarioError(f"{path}: arms.{name}.{k} is neither a dotted parameter key nor an"
                                    f" intervention ({', '.join(INTERVENTIONS)})")
        try:
            Parameters(overrides)
        except ValueError as exc:
            raise ScenarioError(f"{path}: arms.{name}: {exc}") from None
        arms[name] = Arm(name, overrides, interventions)
    return Scenario(doc["id"], doc["fact"], doc["source"], doc["expected"], doc["check"],
                    doc.get("settings", {}), arms, path, doc.get("requires_rule"))


def load_all(folder: Path = SCENARIOS) -> list[Scenario]:
    scenarios = [load_scenario(p) for p in sorted(folder.glob("F*.toml"))]
    return sorted(scenarios, key=lambda s: s.number)


# ------------------------------------------------------------------------------ results
@dataclass
class FactResult:
    id: str
    fact: str
    expected: str
    simulated: str
    passed: bool | None  # None: not run (e.g. its rule does not exist)
    details: dict[str, Any] = field(default_factory=dict)
    figure: Path | None = None

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "FAIL", None: "skipped"}[self.passed]


@dataclass
class Condition:
    """One asserted inequality on an estimate: its interval must clear the threshold."""

    label: str
    estimate: Estimate
    passed: bool
    text: str
    unit: str = ""  # '%' a share, 'pp' a difference of shares, '' a plain number

    def line(self) -> str:
        return f"{self.label} {format_estimate(self.estimate, unit=self.unit)} {self.text}"


def _threshold(value: float, unit: str) -> str:
    if unit in ("%", "pp"):
        return f"{100 * value:.3g}{'' if unit == '%' else ' '}{unit}"
    return f"{value:.3g}"


def above(label: str, e: Estimate, threshold: float, unit: str = "") -> Condition:
    return Condition(label, e, bool(e.low > threshold), f"> {_threshold(threshold, unit)}", unit)


def below(label: str, e: Estimate, threshold: float, unit: str = "") -> Condition:
    return Condition(label, e, bool(e.high < threshold), f"< {_threshold(threshold, unit)}", unit)


def between(label: str, e: Estimate, low: float, high: float, unit: str = "",
            whole_interval: bool = True) -> Condition:
    """The interval (or, if not ``whole_interval``, the mean) lies in [low, high]."""
    lo, hi = (e.low, e.high) if whole_interval else (e.mean, e.mean)
    what = "" if whole_interval else "mean "
    return Condition(label, e, bool(low <= lo and hi <= high),
                     f"{what}in [{_threshold(low, unit)}, {_threshold(high, unit)}]", unit)


class Context:
    """What a check reads: per-arm replications of the scenario, and where to draw."""

    def __init__(self, scenario: Scenario, settings: Settings, results: Mapping[Job, dict],
                 out: Path | None):
        self.scenario = scenario
        self.settings = settings
        self._results = results
        self.out = out

    def jobs(self, arm: str, citizens: bool = False) -> list[Job]:
        return arm_jobs(self.scenario.arms[arm], self.settings, citizens)

    def runs(self, arm: str) -> list[dict]:
        return [lookup(self._results, j) for j in self.jobs(arm)]

    def summary(self, arm: str, column: str) -> np.ndarray:
        return np.array([r["summary"][column] for r in self.runs(arm)])

    def citizens(self, arm: str) -> list[pd.DataFrame]:
        return [r["citizens"] for r in self.runs(arm)]

    def timeseries(self, arm: str, column: str) -> pd.DataFrame:
        """Months x replications."""
        return pd.concat([r["timeseries"].set_index("step")[column] for r in self.runs(arm)], axis=1)

    def params(self, arm: str) -> Parameters:
        return self.jobs(arm)[0].params

    def figure_path(self) -> Path | None:
        return None if self.out is None else self.out / f"{self.scenario.id}.png"


def arm_jobs(arm: Arm, settings: Settings, citizens: bool = False) -> list[Job]:
    overrides = {"population.n_citizens": settings.n_citizens, **settings.base_overrides, **arm.overrides}
    return [make_job(overrides, settings.root_seed, r, arm.interventions, citizens)
            for r in range(settings.replications)]


def scenario_jobs(s: Scenario, settings: Settings) -> list[Job]:
    citizens = CHECKS[s.check].citizens
    return [j for arm in s.arms.values() for j in arm_jobs(arm, settings, citizens)]


# ------------------------------------------------------------------------------ checks
@dataclass(frozen=True)
class Check:
    fn: Callable[[Context], tuple[list[Condition], dict[str, Any]]]
    citizens: bool = False  # needs the citizen-level table of its arms


CHECKS: dict[str, Check] = {}


def check(name: str, citizens: bool = False):
    def register(fn):
        CHECKS[name] = Check(fn, citizens)
        return fn
    return register


def paired(ctx: Context, column: str, arm: str, base: str = "default", relative: bool = False
           ) -> Estimate:
    """Mean (and CI) over replications of arm minus base, or of (arm - base) / base."""
    a, b = ctx.summary(arm, column), ctx.summary(base, column)
    return mean_ci((a - b) / b if relative else a - b)


@check("mode_ratio")
def mode_ratio(ctx: Context):
    """F1: share active (past year) in individual mode over the share in collective mode."""
    st = ctx.scenario.settings
    ratio = mean_ci(ctx.summary("default", "participation_year_individual")
                    / ctx.summary("default", "participation_year_collective"))
    conds = [above("individual / collective", ratio, st["min_ratio"])]
    shares = {m: mean_ci(ctx.summary("default", f"participation_year_{m}")) for m in MODES}
    if (path := ctx.figure_path()):
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(5.5, 3.8), constrained_layout=True)
        _bars(ax, list(MODES), [shares[m] for m in MODES], pct=True, colour="#4575b4")
        ax.set_ylabel("% of citizens active in the past year")
        ax.set_title(f"F1: participation by mode (individual/collective = {ratio.mean:.1f}x)")
        _save(fig, path)
    return conds, {"shares": {m: shares[m].mean for m in MODES}}


STANDARDISED = ["self_efficacy", "civic_competence", "spare_resources", "trust", "ses", "age",
                "female", "ties"]
"""Attributes regressed on (standardised), as a survey would measure them."""


def logit_fit(df: pd.DataFrame, outcome: str, covariates: Sequence[str] = STANDARDISED):
    """Logistic regression (statsmodels) of ``outcome`` on standardised covariates."""
    x = df[list(covariates)].astype(float)
    x = (x - x.mean()) / x.std(ddof=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on tiny test towns
        return sm.Logit(df[outcome].astype(float), sm.add_constant(x)).fit(disp=0, maxiter=100)


def coefficient_table(ctx: Context, outcome: str, covariates: Sequence[str] = STANDARDISED,
                      standard_errors: bool = False):
    """Replications x covariates: coefficients (and, if asked, their standard errors)."""
    fits = [logit_fit(df, outcome, covariates) for df in ctx.citizens("default")]
    coefs = pd.DataFrame([f.params.drop("const") for f in fits])
    if standard_errors:
        return coefs, pd.DataFrame([f.bse.drop("const") for f in fits])
    return coefs


@check("efficacy_strongest", citizens=True)
def efficacy_strongest(ctx: Context):
    """F2: the self-efficacy coefficient exceeds every other attribute's, in absolute value."""
    conds, details, tables = [], {}, {}
    for label, cov in (("current self-efficacy", STANDARDISED),
                       ("baseline self-efficacy", ["efficacy_baseline", *STANDARDISED[1:]])):
        coefs = coefficient_table(ctx, "year", cov)
        tables[label] = coefs
        eff = coefs.columns[0]
        others = coefs.drop(columns=eff).abs()
        margin = mean_ci(coefs[eff] - others.max(axis=1))
        runner_up = others.mean().idxmax()
        conds.append(above(f"{label}: beta_e - max|other| (next: {runner_up})", margin, 0.0))
        details[label] = {k: mean_ci(v).mean for k, v in coefs.items()}
    if (path := ctx.figure_path()):
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True, sharex=True)
        for ax, (label, coefs) in zip(axes, tables.items(), strict=True):
            _coefplot(ax, coefs, highlight=coefs.columns[0])
            ax.set_title(f"regressor: {label}", fontsize=10)
        fig.suptitle("F2: logit of past-year participation on standardised attributes")
        _save(fig, path)
    return conds, details


@check("demography_by_mode", citizens=True)
def demography_by_mode(ctx: Context):
    """F3: older people and women do more individually; group/collective: age weakly negative,
    no gender difference.

    "No gender difference" is what surveys of the source's size found, so it is read as: the
    group+collective gender coefficient is smaller than the smallest effect a survey of
    ``survey_size`` respondents would detect (1.96 standard errors, the simulated town's
    standard error scaled by sqrt(town / survey)), and clearly below the individual-mode one.
    """
    st = ctx.scenario.settings
    ind = coefficient_table(ctx, "year_individual")
    col, col_se = coefficient_table(ctx, "year_group_collective", standard_errors=True)
    e = {f"{m}_{a}": mean_ci(t[a]) for m, t in (("individual", ind), ("collective", col))
         for a in ("age", "female")}
    n_town = len(ctx.citizens("default")[0])
    detectable = float(1.96 * col_se["female"].mean() * math.sqrt(n_town / st["survey_size"]))
    gap = mean_ci(ind["female"] - col["female"])
    conds = [
        above("individual: age", e["individual_age"], 0.0),
        above("individual: female", e["individual_female"], 0.0),
        below("group+collective: age", e["collective_age"], 0.0),
        between(f"group+collective: female (survey of {st['survey_size']} detects |b| > {detectable:.2f})",
                e["collective_female"], -detectable, detectable, whole_interval=False),
        above("female: individual - group+collective", gap, 0.0),
    ]
    if (path := ctx.figure_path()):
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 3.6), constrained_layout=True)
        ax.fill_betweenx([-0.35, 0.35], -detectable, detectable, color="#999999", alpha=0.3,
                         label=f"too small for a survey of {st['survey_size']} to detect")
        rows = {"collective_female": "female, group+collective", "individual_female": "female, individual",
                "collective_age": "age, group+collective", "individual_age": "age, individual"}
        for y, key in enumerate(rows):
            est = e[key]
            colour = "#4575b4" if key.startswith("individual") else "#d73027"
            ax.errorbar(est.mean, y, xerr=[[est.mean - est.low], [est.high - est.mean]], fmt="o",
                        color=colour, capsize=4, ms=7)
        ax.set_yticks(range(len(rows)), list(rows.values()))
        ax.axvline(0, color="k", lw=0.8)
        ax.set_xlabel("logit coefficient per standard deviation (95% CI over replications)")
        ax.legend(frameon=False, fontsize=8, loc="upper left")
        ax.grid(alpha=0.3, axis="x")
        ax.set_title("F3: demography in the logit of past-year participation, by mode", fontsize=10)
        _save(fig, path)
    return conds, {k: v.mean for k, v in e.items()} | {"survey_detectable_female": detectable}


def matched_effect(df: pd.DataFrame, treated: np.ndarray, control: np.ndarray, bins: int = 10) -> float:
    """Average effect on the treated of the change in self-efficacy over the window.

    Citizens are matched exactly on strata of starting self-efficacy (deciles) x SES quintile:
    ATT = sum_s n_s^T (mean dE_s^T - mean dE_s^C) / sum_s n_s^T over strata holding both.
    """
    change = (df["self_efficacy"] - df["efficacy_start"]).to_numpy()
    edges = np.quantile(df["efficacy_start"], np.linspace(0, 1, bins + 1)[1:-1])
    stratum = np.searchsorted(edges, df["efficacy_start"]) * 5 + df["quintile"].to_numpy()
    total, weight = 0.0, 0
    for s in np.unique(stratum[treated]):
        t, c = treated & (stratum == s), control & (stratum == s)
        if c.any():
            total += t.sum() * (change[t].mean() - change[c].mean())
            weight += t.sum()
    return total / weight if weight else math.nan


@check("virtuous_cycle", citizens=True)
def virtuous_cycle(ctx: Context):
    """F4: participants' self-efficacy rises against matched non-participants, failure lowers
    it, and switching the feedback off lowers long-run participation."""
    groups = {"took part": [], "succeeded every time": [], "failed every time": []}
    for df in ctx.citizens("default"):
        episodes, succ = df["window_episodes"], df["window_successes"]
        control = ((episodes == 0) & (df["window_rejections"] == 0)).to_numpy()
        groups["took part"].append(matched_effect(df, (episodes > 0).to_numpy(), control))
        groups["succeeded every time"].append(
            matched_effect(df, ((episodes > 0) & (succ == episodes)).to_numpy(), control))
        groups["failed every time"].append(
            matched_effect(df, ((episodes > 0) & (succ == 0)).to_numpy(), control))
    att = {k: mean_ci(v) for k, v in groups.items()}
    off = paired(ctx, "participation_year", "no_feedback")
    conds = [
        above("dE participants vs matched", att["took part"], 0.0),
        below("dE failed-only vs matched", att["failed every time"], 0.0),
        below("participation, feedback off - on", off, 0.0, unit="pp"),
    ]
    if (path := ctx.figure_path()):
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
        _bars(axes[0], list(att), list(att.values()), colour="#1b7837")
        axes[0].axhline(0, color="k", lw=0.8)
        axes[0].set_ylabel("change in self-efficacy over a year,\nminus matched non-participants")
        axes[0].set_title("mastery and failure", fontsize=10)
        for arm, colour, label in (("default", "#1b7837", "feedback on (default)"),
                                   ("no_feedback", "#762a83", "feedback off")):
            ts = 100 * ctx.timeseries(arm, "participation_year")
            axes[1].plot(ts.index, ts.mean(axis=1), color=colour, lw=2, label=label)
            axes[1].fill_between(ts.index, ts.min(axis=1), ts.max(axis=1), color=colour, alpha=0.15)
        axes[1].set_xlabel("month")
        axes[1].set_ylabel("% active in the past year")
        axes[1].set_title("turning the virtuous cycle off (band: min-max of replications)", fontsize=10)
        axes[1].legend(frameon=False)
        axes[1].grid(alpha=0.3)
        fig.suptitle("F4: participation raises self-efficacy; failure lowers it")
        _save(fig, path)
    return conds, {k: v.mean for k, v in att.items()} | {"feedback_off_minus_on": off.mean}


@check("selection_bias", citizens=True)
def selection_bias(ctx: Context):
    """F5: top/bottom SES quintile ratio well above 1, collective modes 3-5x, individual flatter,
    and participation rising with neighbourhood advantage."""
    st = ctx.scenario.settings
    overall = mean_ci(ctx.summary("default", "top_bottom_ratio"))
    coll = mean_ci(ctx.summary("default", "top_bottom_ratio_collective"))
    flatter = mean_ci(ctx.summary("default", "top_bottom_ratio_individual")
                      - ctx.summary("default", "top_bottom_ratio_collective"))
    ind = mean_ci(ctx.summary("default", "top_bottom_ratio_individual"))
    corr = mean_ci(ctx.summary("default", "advantage_correlation"))
    conds = [
        above("top/bottom, all modes", overall, st["min_overall_ratio"]),
        between("top/bottom, group+collective", coll, st["collective_ratio"][0], st["collective_ratio"][1],
                whole_interval=False),
        below("individual - group+collective ratio", flatter, 0.0),
        above("corr(advantage, participation)", corr, 0.0),
    ]
    if (path := ctx.figure_path()):
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
        for col, colour, label in (("year", "#333333", "all modes"),
                                   ("year_individual", "#4575b4", "individual"),
                                   ("year_group_collective", "#d73027", "group + collective")):
            rates = np.array([df.groupby("quintile")[col].mean().to_numpy()
                              for df in ctx.citizens("default")])
            rel = rates / rates[:, :1]
            axes[0].plot(range(1, 6), rel.mean(axis=0), "o-", color=colour, lw=2, label=label)
        axes[0].axhspan(*st["collective_ratio"], color="#d73027", alpha=0.08, label="F5: collective 3-5x")
        axes[0].set_xticks(range(1, 6), ["Q1\npoorest", "Q2", "Q3", "Q4", "Q5\nrichest"])
        axes[0].set_ylabel("participation relative to Q1")
        axes[0].set_title(f"by SES quintile (all {overall.mean:.1f}x, individual {ind.mean:.1f}x, "
                          f"collective {coll.mean:.1f}x)", fontsize=10)
        axes[0].legend(frameon=False, fontsize=8)
        axes[0].grid(alpha=0.3)
        df = pd.concat(ctx.citizens("default"))
        by_hood = df.groupby("advantage")["year"].mean()
        axes[1].plot(by_hood.index, 100 * by_hood.to_numpy(), "o-", color="#333333", lw=2)
        axes[1].set_xlabel("neighbourhood advantage")
        axes[1].set_ylabel("% active in the past year")
        axes[1].set_title(f"by neighbourhood (correlation {corr.mean:.2f})", fontsize=10)
        axes[1].grid(alpha=0.3)
        fig.suptitle("F5: selection bias toward the advantaged")
        _save(fig, path)
    return conds, {"overall": overall.mean, "individual": ind.mean, "collective": coll.mean,
                   "advantage_correlation": corr.mean}


@check("lever_direction")
def lever_direction(ctx: Context):
    """F6, F7: outcomes move in the stated direction from the 'low' arm to the 'high' arm."""
    st = ctx.scenario.settings
    lever, sign = st["lever"], st["direction"]
    conds, details = [], {}
    for column in st["outcomes"]:
        diff = paired(ctx, column, "high", "low")
        conds.append((above if sign > 0 else below)(f"{column}: high - low", diff, 0.0, unit="pp"))
        details[column] = diff.mean
    if (path := ctx.figure_path()):
        import matplotlib.pyplot as plt
        arms = sorted(ctx.scenario.arms, key=lambda a: ctx.params(a)[lever])
        x = [ctx.params(a)[lever] for a in arms]
        fig, axes = plt.subplots(1, len(st["outcomes"]), figsize=(5 * len(st["outcomes"]), 3.6),
                                 constrained_layout=True)
        for ax, column in zip(np.atleast_1d(axes), st["outcomes"], strict=True):
            est = [mean_ci(ctx.summary(a, column)) for a in arms]
            ax.errorbar(x, [100 * e.mean for e in est],
                        yerr=[[100 * (e.mean - e.low) for e in est], [100 * (e.high - e.mean) for e in est]],
                        fmt="o-", color="#4575b4", lw=2, capsize=4)
            ax.set_xlabel(lever)
            ax.set_ylabel(f"% {column.replace('_', ' ')}")
            ax.grid(alpha=0.3)
        fig.suptitle(f"{ctx.scenario.id}: outcomes as {lever} rises (95% CI over replications)")
        _save(fig, path)
    return conds, details


@check("relative_effect")
def relative_effect(ctx: Context):
    """F8, F10: the arm moves participation in the stated direction, by less than a bound."""
    st = ctx.scenario.settings
    column, sign, bound = st["outcome"], st["direction"], st["max_relative"]
    rel = paired(ctx, column, "treated", relative=True)
    conds = [(above if sign > 0 else below)(f"{column}: relative change", rel, 0.0, unit="%"),
             between(f"{column}: relative change", rel, -bound, bound, unit="%")]
    if (path := ctx.figure_path()):
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(5.5, 3.6), constrained_layout=True)
        _bars(ax, ["relative change"], [rel], pct=True, colour="#4575b4")
        ax.axhline(0, color="k", lw=0.8)
        for b in (-bound, bound):
            ax.axhline(100 * b, color="#999999", ls="--", lw=1)
        ax.set_ylabel(f"% change in {column.replace('_', ' ')}")
        ax.set_title(f"{ctx.scenario.id}: {st.get('label', 'effect')} (paired, 95% CI)", fontsize=10)
        _save(fig, path)
    return conds, {"relative_change": rel.mean}


@check("targeted_transfer")
def targeted_transfer(ctx: Context):
    """F9: a transfer to the disadvantaged lowers the concentration of participation versus no
    policy and versus the same budget spread universally, and raises the poorest's participation."""
    ci = "concentration_index"
    vs_none = paired(ctx, ci, "targeted", "default")
    vs_universal = paired(ctx, ci, "targeted", "universal")
    q1 = paired(ctx, "participation_q1", "targeted", "default")
    conds = [below("concentration index: targeted - none", vs_none, 0.0),
             below("concentration index: targeted - universal", vs_universal, 0.0),
             above("Q1 participation: targeted - none", q1, 0.0, unit="pp")]
    if (path := ctx.figure_path()):
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
        arms = [("default", "no transfer", "#999999"), ("universal", "same budget, universal", "#4575b4"),
                ("targeted", "to the poorest fifth", "#d73027")]
        for arm, label, colour in arms:
            rates = [mean_ci(ctx.summary(arm, f"participation_q{q}")).mean for q in range(1, 6)]
            axes[0].plot(range(1, 6), 100 * np.array(rates), "o-", color=colour, lw=2, label=label)
        axes[0].set_xticks(range(1, 6), ["Q1\npoorest", "Q2", "Q3", "Q4", "Q5\nrichest"])
        axes[0].set_ylabel("% active in the past year")
        axes[0].legend(frameon=False, fontsize=8)
        axes[0].grid(alpha=0.3)
        _bars(axes[1], ["targeted - no transfer", "targeted - same budget universal"],
              [vs_none, vs_universal], colour="#555555")
        axes[1].axhline(0, color="k", lw=0.8)
        axes[1].set_ylabel("change in concentration index\n(paired by seed, 95% CI)")
        fig.suptitle("F9: resources to the disadvantaged narrow the gap")
        _save(fig, path)
    return conds, {"targeted_minus_none": vs_none.mean, "targeted_minus_universal": vs_universal.mean,
                   "q1_gain": q1.mean}


@check("share_and_regulars", citizens=True)
def share_and_regulars(ctx: Context):
    """F11: 17-40% active over a year, most of them repeat participants."""
    st = ctx.scenario.settings
    share = mean_ci(ctx.summary("default", "participation_year"))
    regulars = mean_ci(ctx.summary("default", "repeat_share"))
    conds = [between("active in the past year", share, *st["share"], unit="%"),
             above("repeat participants", regulars, st["min_repeat_share"], unit="%")]
    if (path := ctx.figure_path()):
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
        ts = 100 * ctx.timeseries("default", "participation_year")
        axes[0].plot(ts.index, ts.mean(axis=1), color="#333333", lw=2, label="mean of replications")
        axes[0].fill_between(ts.index, ts.min(axis=1), ts.max(axis=1), color="#333333", alpha=0.15)
        axes[0].axhspan(100 * st["share"][0], 100 * st["share"][1], color="#1b7837", alpha=0.1,
                        label="F11: 17-40%")
        axes[0].set_xlabel("month")
        axes[0].set_ylabel("% active in the past year")
        axes[0].legend(frameon=False, fontsize=8)
        axes[0].grid(alpha=0.3)
        months = pd.concat(ctx.citizens("default"))["months_active"]
        counts = months[months > 0].value_counts(normalize=True).sort_index()
        axes[1].bar(counts.index, 100 * counts.to_numpy(), color="#4575b4")
        axes[1].set_xlabel("months active in the past year (participants)")
        axes[1].set_ylabel("% of participants")
        axes[1].set_title(f"repeat participants: {100 * regulars.mean:.0f}%", fontsize=10)
        fig.suptitle("F11: share of the population taking part, and regulars")
        _save(fig, path)
    return conds, {"participation_year": share.mean, "repeat_share": regulars.mean}


def crossing(x: np.ndarray, r: np.ndarray, level: float) -> float:
    """First x at which the rising curve r(x) reaches ``level`` (linear interpolation)."""
    k = int(np.argmax(r >= level))
    if k == 0:
        return float(x[0])
    return float(x[k - 1] + (level - r[k - 1]) / (r[k] - r[k - 1]) * (x[k] - x[k - 1]))


@check("threshold_tipping")
def threshold_tipping(ctx: Context):
    """F12: with threshold decisions, participation tips over a narrow range of the threshold
    spread: per replication, the spread at which participation has made 10%, 50% and 90% of
    its total rise (linear interpolation over the swept spreads)."""
    st = ctx.scenario.settings
    key = st["spread_key"]
    arms = sorted(ctx.scenario.arms, key=lambda a: ctx.params(a)[key])
    x = np.array([ctx.params(a)[key] for a in arms])
    final = np.array([ctx.summary(a, st["outcome"]) for a in arms])  # arms x replications
    rise = final[-1] - final[0]
    width, middle = [], []
    for r in range(final.shape[1]):
        if rise[r] <= 0:
            width.append(math.nan)
            middle.append(math.nan)
            continue
        share = (final[:, r] - final[0, r]) / rise[r]
        width.append(crossing(x, share, 0.9) - crossing(x, share, 0.1))
        middle.append(crossing(x, share, 0.5))
    total, w, mid = mean_ci(rise), mean_ci(width), mean_ci(middle)
    conds = [above("final participation: widest - narrowest spread", total, st["min_total_rise"], unit="pp"),
             below("spread over which 10% -> 90% of the rise happens", w, st["max_width"]),
             between("spread at half the rise (tipping point)", mid, *st["tipping_window"])]
    if (path := ctx.figure_path()):
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)
        for r in range(final.shape[1]):
            ax.plot(x, 100 * final[:, r], color="#d73027", alpha=0.25, lw=1)
        est = [mean_ci(f) for f in final]
        ax.plot(x, [100 * e.mean for e in est], "o-", color="#d73027", lw=2, label="mean of replications")
        ax.axvspan(*st["tipping_window"], color="#999999", alpha=0.15, label="tipping window checked")
        ax.set_xlabel(key)
        ax.set_ylabel(f"% {st['outcome'].replace('_', ' ')} (last quarter)")
        ax.set_title(f"F12: threshold spread and tipping (Granovetter 1978); tipping at {mid.mean:.3f}",
                     fontsize=10)
        ax.legend(frameon=False, fontsize=8, loc="center right")
        ax.grid(alpha=0.3)
        _save(fig, path)
    return conds, {"total_rise": total.mean, "width": w.mean, "tipping_point": mid.mean}


# ------------------------------------------------------------------------------ figures
def _bars(ax, labels: list[str], estimates: list[Estimate], pct: bool = False, colour: str = "#4575b4"):
    k = 100 if pct else 1
    means = [k * e.mean for e in estimates]
    err = [[k * (e.mean - e.low) for e in estimates], [k * (e.high - e.mean) for e in estimates]]
    ax.bar(labels, means, yerr=err, color=colour, capsize=5, alpha=0.85)
    ax.grid(alpha=0.3, axis="y")


def _coefplot(ax, coefs: pd.DataFrame, highlight: str | None, marked: Sequence[str] = ()):
    est = {k: mean_ci(v) for k, v in coefs.items()}
    names = list(est)[::-1]
    y = np.arange(len(names))
    for yi, name in zip(y, names, strict=True):
        e = est[name]
        colour = "#d73027" if name == highlight or name in marked else "#4575b4"
        ax.errorbar(e.mean, yi, xerr=[[e.mean - e.low], [e.high - e.mean]], fmt="o", color=colour, capsize=3)
    ax.set_yticks(y, [n.replace("_", " ") for n in names])
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("log-odds per standard deviation (95% CI)")
    ax.grid(alpha=0.3, axis="x")


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------------ driver
def validate(settings: Settings = FULL, facts: Sequence[str] | None = None, out: Path | None = None,
             progress: Callable[[int, int], None] | None = None,
             scenarios: Sequence[Scenario] | None = None) -> list[FactResult]:
    """Run the experiments of ``facts`` (all by default) and check each; figures into ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    chosen = [s for s in (scenarios or load_all()) if facts is None or s.id in facts]
    runnable = [s for s in chosen if s.available()]
    jobs = [j for s in runnable for j in scenario_jobs(s, settings)]
    results = run_jobs(jobs, settings.workers, progress)
    rows = []
    for s in chosen:
        if not s.available():
            rows.append(FactResult(s.id, s.fact, s.expected, f"not run: rule {s.requires_rule!r} is not"
                                   " registered", None))
            continue
        ctx = Context(s, settings, results, out)
        conds, details = CHECKS[s.check].fn(ctx)
        conditions = [{"label": c.label, "mean": c.estimate.mean, "low": c.estimate.low,
                       "high": c.estimate.high, "passed": c.passed, "rule": c.text} for c in conds]
        rows.append(FactResult(s.id, s.fact, s.expected, "; ".join(c.line() for c in conds),
                               all(c.passed for c in conds), {"conditions": conditions, **details},
                               ctx.figure_path()))
    return rows
