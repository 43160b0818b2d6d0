"""What a check asserts, and what it reads: conditions on estimates, and a fact's runs.

A condition is an inequality on an estimate over paired replications
(:mod:`coprod_sim.stats`): it holds only when the whole 95% interval clears the threshold,
so run-to-run noise cannot pass a fact.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coprod_sim import stats
from coprod_sim.names import N_QUINTILES
from coprod_sim.params import Parameters
from coprod_sim.scenario.plan import Scenario
from coprod_sim.stats import Estimate
from coprod_sim.validation.runs import Settings, point_label


@dataclass
class Condition:
    """One asserted inequality on an estimate."""

    label: str
    estimate: Estimate
    passed: bool
    text: str
    unit: str = ""  # '%' a share, 'pp' a difference of shares, '' a plain number

    def line(self) -> str:
        return f"{self.label} {format_estimate(self.estimate, unit=self.unit)} {self.text}"


def format_estimate(e: Estimate, unit: str = "", digits: int = 2) -> str:
    """``mean [low, high]``; unit '%' (a share) or 'pp' (a difference of shares) scales by 100."""
    if unit in ("%", "pp"):
        d = max(digits - 1, 1)
        sep = "" if unit == "%" else " "
        return f"{100 * e.mean:.{d}f}{sep}{unit} [{100 * e.low:.{d}f}, {100 * e.high:.{d}f}]"
    return f"{e.mean:.{digits}f} [{e.low:.{digits}f}, {e.high:.{digits}f}]"


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


def mean_ci(values: Sequence[float] | np.ndarray) -> Estimate:
    """Mean over independent replications with its t interval (the stats module's)."""
    return stats.t_interval(values)


class Context:
    """What a check reads: the replications of each point of its scenario, and where to draw."""

    def __init__(self, fact_id: str, scenario: Scenario, settings: Settings,
                 results: Mapping[tuple[str, str, int], dict], out: Path | None):
        self.id = fact_id
        self.scenario = scenario
        self.settings = settings
        self._results = results
        self.out = out

    @property
    def replications(self) -> int:
        return self.settings.replications or self.scenario.replications

    @property
    def arms(self) -> list[str]:
        """Labels of the scenario's points: policies (the baseline first), or policy@point."""
        return [point_label(self.scenario, p.index) for p in self.scenario.points()]

    def runs(self, arm: str) -> list[dict]:
        return [self._results[(self.scenario.name, arm, r)] for r in range(self.replications)]

    def summary(self, arm: str, column: str) -> np.ndarray:
        return np.array([r["summary"][column] for r in self.runs(arm)])

    def citizens(self, arm: str = "baseline") -> list[pd.DataFrame]:
        return [r["citizens"] for r in self.runs(arm)]

    def per_citizens(self, arm: str, fn) -> np.ndarray:
        """``fn(citizens table)`` for each replication of ``arm``."""
        return np.array([fn(df) for df in self.citizens(arm)], dtype=float)

    def timeseries(self, arm: str, column: str) -> pd.DataFrame:
        """Months x replications."""
        return pd.concat([r["timeseries"].set_index("step")[column] for r in self.runs(arm)], axis=1)

    def params(self, arm: str) -> Parameters:
        p = self.scenario.point(self.arms.index(arm))
        return Parameters(p.overrides)

    def paired(self, column: str, arm: str, base: str = "baseline", relative: bool = False) -> Estimate:
        """Mean (and interval) over replications of arm minus base, or of (arm - base) / base."""
        a, b = self.summary(arm, column), self.summary(base, column)
        return mean_ci((a - b) / b if relative else a - b)

    def figure_path(self) -> Path | None:
        return None if self.out is None else self.out / f"{self.id}.png"


# ------------------------------------------------------------------------ regressions
STANDARDISED = ["self_efficacy", "civic_competence", "spare_resources", "trust", "ses", "age",
                "female", "ties"]
"""Attributes regressed on (standardised), as a survey would measure them."""


def logit_fit(df: pd.DataFrame, outcome: str, covariates: Sequence[str] = STANDARDISED):
    """Logistic regression (statsmodels) of ``outcome`` on standardised covariates."""
    import statsmodels.api as sm

    x = df[list(covariates)].astype(float)
    x = (x - x.mean()) / x.std(ddof=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on tiny test towns
        return sm.Logit(df[outcome].astype(float), sm.add_constant(x)).fit(disp=0, maxiter=100)


def coefficient_table(ctx: Context, outcome: str, covariates: Sequence[str] = STANDARDISED,
                      standard_errors: bool = False):
    """Replications x covariates: coefficients (and, if asked, their standard errors)."""
    fits = [logit_fit(df, outcome, covariates) for df in ctx.citizens()]
    coefs = pd.DataFrame([f.params.drop("const") for f in fits])
    if standard_errors:
        return coefs, pd.DataFrame([f.bse.drop("const") for f in fits])
    return coefs


def matched_effect(df: pd.DataFrame, treated: np.ndarray, control: np.ndarray, bins: int = 10) -> float:
    """Average effect on the treated of the change in self-efficacy over the window.

    Citizens are matched exactly on strata of starting self-efficacy (deciles) x SES quintile:
    ATT = sum_s n_s^T (mean dE_s^T - mean dE_s^C) / sum_s n_s^T over strata holding both.
    """
    change = (df["self_efficacy"] - df["efficacy_start"]).to_numpy()
    edges = np.quantile(df["efficacy_start"], np.linspace(0, 1, bins + 1)[1:-1])
    stratum = np.searchsorted(edges, df["efficacy_start"]) * N_QUINTILES + df["quintile"].to_numpy()
    total, weight = 0.0, 0
    for s in np.unique(stratum[treated]):
        t, c = treated & (stratum == s), control & (stratum == s)
        if c.any():
            total += t.sum() * (change[t].mean() - change[c].mean())
            weight += t.sum()
    return total / weight if weight else float("nan")


# ------------------------------------------------------------------------ figures
def bars(ax: Any, labels: list[str], estimates: list[Estimate], pct: bool = False,
         colour: str = "#4575b4") -> None:
    k = 100 if pct else 1
    means = [k * e.mean for e in estimates]
    err = [[k * (e.mean - e.low) for e in estimates], [k * (e.high - e.mean) for e in estimates]]
    ax.bar(labels, means, yerr=err, color=colour, capsize=5, alpha=0.85)
    ax.grid(alpha=0.3, axis="y")


def coefplot(ax: Any, coefs: pd.DataFrame, highlight: str | None) -> None:
    est = {k: mean_ci(v) for k, v in coefs.items()}
    names = list(est)[::-1]
    y = np.arange(len(names))
    for yi, name in zip(y, names, strict=True):
        e = est[name]
        colour = "#d73027" if name == highlight else "#4575b4"
        ax.errorbar(e.mean, yi, xerr=[[e.mean - e.low], [e.high - e.mean]], fmt="o", color=colour, capsize=3)
    ax.set_yticks(y, [n.replace("_", " ") for n in names])
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("log-odds per standard deviation (95% CI)")
    ax.grid(alpha=0.3, axis="x")


def save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
